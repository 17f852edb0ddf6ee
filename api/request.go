package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/wattson-csms/wattson/ocpp"
)

// MaxBodySize bounds request bodies.
const MaxBodySize = 1 << 20

// List limits.
const (
	defaultLimit = 100
	maxLimit     = 1000
)

// writeJSON answers with v as JSON.
func writeJSON(w http.ResponseWriter, status int, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encoding the response: %w", err)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
	return nil
}

// list is the envelope of every list; Next, when present, is the cursor
// for the next page (empty on the last).
type list[T any] struct {
	Items []T     `json:"items"`
	Next  *string `json:"next,omitempty"`
}

func items[T any](v []T) list[T] {
	if v == nil {
		v = []T{}
	}
	return list[T]{Items: v}
}

// page trims a result fetched with limit+1 rows to limit and sets the
// cursor from the last item kept. The store caps a page at maxLimit, so a
// full page of maxLimit may have more after it.
func page[T any](v []T, limit int, cursor func(T) string) list[T] {
	next := ""
	if len(v) > limit {
		v = v[:limit]
		next = cursor(v[limit-1])
	} else if len(v) == maxLimit && limit == maxLimit {
		next = cursor(v[len(v)-1])
	}
	l := items(v)
	l.Next = &next
	return l
}

// fetchLimit is what to ask the store for to learn whether more follow.
func fetchLimit(limit int) int { return min(limit+1, maxLimit) }

// readBody reads a request body of at most MaxBodySize bytes that is JSON,
// if it says what it is.
func readBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || (mt != "application/json" && !strings.HasSuffix(mt, "+json")) {
			return nil, &Error{Kind: KindUnsupportedMediaType, Detail: fmt.Sprintf("the body must be application/json, not %q", ct)}
		}
	}
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBodySize))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return nil, err
		}
		return nil, &Error{Kind: KindInvalidPayload, Detail: "reading the body failed", Err: err}
	}
	return b, nil
}

// decodeBody decodes a JSON object body into v, refusing unknown fields
// and anything after the object.
func decodeBody(w http.ResponseWriter, r *http.Request, v any) error {
	b, err := readBody(w, r)
	if err != nil {
		return err
	}
	if len(bytes.TrimSpace(b)) == 0 {
		return invalidBody("", "the body is empty; send a JSON object")
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return jsonError(err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return invalidBody("", "the body has more after the JSON object")
	}
	return nil
}

// jsonError turns an encoding/json error into a 400 naming the field.
func jsonError(err error) error {
	var (
		syn *json.SyntaxError
		typ *json.UnmarshalTypeError
	)
	switch {
	case errors.As(err, &syn):
		return invalidBody("", "the body is not valid JSON at offset %d: %v", syn.Offset, syn)
	case errors.Is(err, io.ErrUnexpectedEOF):
		return invalidBody("", "the body ends in the middle of the JSON")
	case errors.As(err, &typ):
		if typ.Field == "" {
			return invalidBody("", "the body must be a JSON object, not %s", typ.Value)
		}
		return invalidBody(typ.Field, "%s must be %s, not %s", typ.Field, jsonType(typ.Type.String()), typ.Value)
	}
	msg := err.Error()
	if i := strings.Index(msg, "unknown field "); i >= 0 {
		name, uerr := strconv.Unquote(strings.TrimSpace(msg[i+len("unknown field "):]))
		if uerr != nil {
			name = ""
		}
		return invalidBody(name, "unknown field %q", name)
	}
	return invalidBody("", "invalid JSON: %v", err)
}

func jsonType(goType string) string {
	switch {
	case strings.HasPrefix(goType, "int"), strings.HasPrefix(goType, "*int"), strings.HasPrefix(goType, "uint"):
		return "an integer"
	case strings.Contains(goType, "string"):
		return "a string"
	case strings.Contains(goType, "bool"):
		return "a boolean"
	case strings.HasPrefix(goType, "[]"):
		return "an array"
	}
	return "an object"
}

// query reads and validates query parameters; the first error wins.
type query struct {
	r   *http.Request
	err error
}

func newQuery(r *http.Request) *query { return &query{r: r} }

func (q *query) fail(field, format string, args ...any) {
	if q.err == nil {
		q.err = invalidParam(field, format, args...)
	}
}

// str returns a parameter given at most once, of at most max characters.
func (q *query) str(name string, max int) string {
	vs := q.r.URL.Query()[name]
	switch {
	case len(vs) == 0:
		return ""
	case len(vs) > 1:
		q.fail(name, "%s is given %d times", name, len(vs))
		return ""
	}
	v := vs[0]
	if !utf8.ValidString(v) || utf8.RuneCountInString(v) > max || strings.IndexFunc(v, unicode.IsControl) >= 0 {
		q.fail(name, "%s must be at most %d characters of text", name, max)
		return ""
	}
	return v
}

// limit returns the limit parameter: 1 to 1000, default 100.
func (q *query) limit() int {
	v := q.str("limit", 10)
	if v == "" {
		return defaultLimit
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > maxLimit {
		q.fail("limit", "limit must be an integer from 1 to %d", maxLimit)
		return defaultLimit
	}
	return n
}

// id returns a positive integer parameter, 0 when absent.
func (q *query) id(name string) int64 {
	v := q.str(name, 20)
	if v == "" {
		return 0
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 1 {
		q.fail(name, "%s must be a positive integer", name)
		return 0
	}
	return n
}

func (q *query) boolean(name string) *bool {
	switch q.str(name, 5) {
	case "":
		return nil
	case "true":
		t := true
		return &t
	case "false":
		f := false
		return &f
	}
	q.fail(name, "%s must be true or false", name)
	return nil
}

func (q *query) time(name string) *time.Time {
	v := q.str(name, 40)
	if v == "" {
		return nil
	}
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		q.fail(name, "%s must be an RFC 3339 date-time such as 2024-05-01T12:00:00Z", name)
		return nil
	}
	t = t.UTC()
	return &t
}

// chargerID returns the {id} path value of charger routes.
func chargerID(r *http.Request) (string, error) {
	id := r.PathValue("id")
	if err := ocpp.ValidateChargerID(id); err != nil {
		return "", invalidParam("id", "%v", err)
	}
	return id, nil
}

// intPath returns an integer path value in [min, max].
func intPath(r *http.Request, name string, min, max int64) (int64, error) {
	n, err := strconv.ParseInt(r.PathValue(name), 10, 64)
	if err != nil || n < min || n > max {
		return 0, invalidParam(name, "%s must be an integer from %d to %d", name, min, max)
	}
	return n, nil
}
