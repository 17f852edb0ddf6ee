package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/wattson-csms/wattson/csms"
	"github.com/wattson-csms/wattson/ocpp"
	"github.com/wattson-csms/wattson/store"
)

// Kind is a class of error; each is one problem type with one status.
type Kind string

// Problem kinds. Their type URIs (ProblemBase + kind) are stable: clients
// may switch on them.
const (
	KindInvalidRequest       Kind = "invalid-request" // a bad path or query parameter
	KindInvalidPayload       Kind = "invalid-payload" // a bad request body
	KindUnsupportedMediaType Kind = "unsupported-media-type"
	KindPayloadTooLarge      Kind = "payload-too-large"
	KindUnauthorized         Kind = "unauthorized"
	KindForbidden            Kind = "forbidden"
	KindCSRF                 Kind = "csrf" // a cookie-authenticated change without X-Wattson-CSRF: 1
	KindTooManyRequests      Kind = "too-many-requests"
	KindNotFound             Kind = "not-found"
	KindUnknownAction        Kind = "unknown-action"
	KindMethodNotAllowed     Kind = "method-not-allowed"
	KindConflict             Kind = "conflict"
	KindNotConnected         Kind = "charger-not-connected"
	KindNoActiveTransaction  Kind = "no-active-transaction"
	KindCommandRejected      Kind = "command-rejected"
	KindChargerError         Kind = "charger-error"            // the charger answered with a CALLERROR
	KindInvalidResponse      Kind = "invalid-charger-response" // its CALLRESULT broke the schema
	KindConnectionClosed     Kind = "connection-closed"
	KindChargerTimeout       Kind = "charger-timeout"
	KindInternal             Kind = "internal"
)

// ProblemBase prefixes a kind to make a problem's type.
const ProblemBase = "https://wattson.dev/problems/"

// kinds is the one table of statuses and titles.
var kinds = map[Kind]struct {
	status int
	title  string
}{
	KindInvalidRequest:       {http.StatusBadRequest, "Invalid request"},
	KindInvalidPayload:       {http.StatusBadRequest, "Invalid payload"},
	KindUnsupportedMediaType: {http.StatusUnsupportedMediaType, "Unsupported media type"},
	KindPayloadTooLarge:      {http.StatusRequestEntityTooLarge, "Payload too large"},
	KindUnauthorized:         {http.StatusUnauthorized, "Unauthorized"},
	KindForbidden:            {http.StatusForbidden, "Forbidden"},
	KindCSRF:                 {http.StatusForbidden, "Missing CSRF header"},
	KindTooManyRequests:      {http.StatusTooManyRequests, "Too many requests"},
	KindNotFound:             {http.StatusNotFound, "Not found"},
	KindUnknownAction:        {http.StatusNotFound, "Unknown action"},
	KindMethodNotAllowed:     {http.StatusMethodNotAllowed, "Method not allowed"},
	KindConflict:             {http.StatusConflict, "Conflict"},
	KindNotConnected:         {http.StatusConflict, "Charger not connected"},
	KindNoActiveTransaction:  {http.StatusConflict, "No active transaction"},
	KindCommandRejected:      {http.StatusConflict, "Command rejected"},
	KindChargerError:         {http.StatusBadGateway, "Charger answered with an error"},
	KindInvalidResponse:      {http.StatusBadGateway, "Invalid answer from the charger"},
	KindConnectionClosed:     {http.StatusServiceUnavailable, "Charger connection closed"},
	KindChargerTimeout:       {http.StatusGatewayTimeout, "Charger did not answer in time"},
	KindInternal:             {http.StatusInternalServerError, "Internal server error"},
}

// Error is an error the API reports as a problem of its kind.
type Error struct {
	Kind   Kind
	Detail string
	Field  string // the offending field or parameter, for 400s
	Err    error  // the cause, logged, never sent
	// Answer is the charger's answer to a rejected command, shown in the
	// problem.
	Answer json.RawMessage
	// RetryAfter, when positive, is sent as Retry-After (whole seconds,
	// rounded up).
	RetryAfter time.Duration
}

func (e *Error) Error() string {
	s := string(e.Kind)
	if e.Field != "" {
		s += " (" + e.Field + ")"
	}
	if e.Detail != "" {
		s += ": " + e.Detail
	}
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

func (e *Error) Unwrap() error { return e.Err }

func invalidParam(field, format string, args ...any) *Error {
	return &Error{Kind: KindInvalidRequest, Field: field, Detail: fmt.Sprintf(format, args...)}
}

func invalidBody(field, format string, args ...any) *Error {
	return &Error{Kind: KindInvalidPayload, Field: field, Detail: fmt.Sprintf(format, args...)}
}

func notFound(format string, args ...any) *Error {
	return &Error{Kind: KindNotFound, Detail: fmt.Sprintf(format, args...)}
}

// Problem is an RFC 9457 problem document.
type Problem struct {
	Type   string `json:"type"`
	Title  string `json:"title"`
	Status int    `json:"status"`
	Detail string `json:"detail,omitempty"`
	// Instance is the request path.
	Instance string `json:"instance,omitempty"`
	Field    string `json:"field,omitempty"`
	// The charger's CALLERROR.
	ErrorCode        string          `json:"errorCode,omitempty"`
	ErrorDescription *string         `json:"errorDescription,omitempty"`
	ErrorDetails     json.RawMessage `json:"errorDetails,omitempty"`
	// Answer is the charger's CALLRESULT payload, when it said no or broke
	// the schema.
	Answer json.RawMessage `json:"answer,omitempty"`
}

// problemOf maps any error to its problem. It is the only place that
// decides statuses.
func problemOf(err error) Problem {
	var (
		kind   = KindInternal
		detail string
		p      Problem
		apiErr *Error
		reqErr *csms.RequestError
		resErr *csms.ResponseError
	)
	switch {
	case errors.As(err, &apiErr):
		kind, detail, p.Field, p.Answer = apiErr.Kind, apiErr.Detail, apiErr.Field, apiErr.Answer
	// RequestError and ResponseError wrap an *ocpp.Error describing the
	// schema violation, so they come before the CALLERROR case.
	case errors.As(err, &reqErr):
		se := schemaError(reqErr.Err)
		kind, detail, p.Field = se.Kind, se.Detail, se.Field
	case errors.As(err, &resErr):
		kind, detail, p.Answer = KindInvalidResponse, resErr.Error(), jsonOrNil(resErr.Payload)
	case errors.Is(err, csms.ErrUnknownCharger):
		kind, detail = KindNotFound, err.Error()
	case errors.Is(err, csms.ErrNotConnected):
		kind, detail = KindNotConnected, err.Error()
	case errors.Is(err, ocpp.ErrTimeout), errors.Is(err, context.DeadlineExceeded):
		kind, detail = KindChargerTimeout, "the charger did not answer in time"
	case errors.Is(err, ocpp.ErrClosed):
		kind, detail = KindConnectionClosed, "the charger's connection closed before it answered"
	case errors.Is(err, store.ErrNotFound):
		kind, detail = KindNotFound, err.Error()
	case errors.Is(err, store.ErrConflict):
		kind, detail = KindConflict, err.Error()
	case errors.Is(err, store.ErrInvalid):
		kind, detail = KindInvalidPayload, err.Error()
	default:
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			kind, detail = KindPayloadTooLarge, fmt.Sprintf("the body is larger than %d bytes", tooBig.Limit)
			break
		}
		if oe, ok := ocpp.AsError(err); ok {
			kind, detail = KindChargerError, oe.Error()
			desc := oe.Description
			p.ErrorCode, p.ErrorDescription = string(oe.Code), &desc
			p.ErrorDetails = json.RawMessage("{}")
			if len(oe.Details) > 0 && json.Valid(oe.Details) {
				p.ErrorDetails = oe.Details
			}
		}
	}
	k := kinds[kind]
	p.Type, p.Title, p.Status, p.Detail = ProblemBase+string(kind), k.title, k.status, detail
	if kind == KindInternal {
		p.Detail = "" // never leak internals; the log has them
	}
	return p
}

func jsonOrNil(b []byte) json.RawMessage {
	if len(b) == 0 || !json.Valid(b) {
		return nil
	}
	return b
}

// ocppPath matches the JSON path a schema violation starts with, as
// internal/ocppmsg formats it: "chargingProfile.chargingSchedule[0].limit: …".
var ocppPath = regexp.MustCompile(`^([A-Za-z_][A-Za-z0-9_]*|\[[0-9]+\])(\.[A-Za-z_][A-Za-z0-9_]*|\[[0-9]+\])*: `)

// fieldOf names the field of a schema violation, or "" for the payload as a
// whole (a syntax error).
func fieldOf(e *ocpp.Error) string {
	m := ocppPath.FindString(e.Description)
	return strings.TrimSuffix(m, ": ")
}

// writeError answers with the problem for err and logs it by severity.
func (a *API) writeError(w http.ResponseWriter, r *http.Request, err error) {
	if errors.Is(err, context.Canceled) && r.Context().Err() != nil {
		a.log.Debug("api request abandoned by the client", "method", r.Method, "path", r.URL.Path)
		return
	}
	p := problemOf(err)
	p.Instance = r.URL.Path
	level := slog.LevelDebug
	switch {
	case p.Status >= 500 && p.Status != http.StatusBadGateway && p.Status != http.StatusGatewayTimeout && p.Status != http.StatusServiceUnavailable:
		level = slog.LevelError
	case p.Status >= 500:
		level = slog.LevelWarn
	}
	a.log.Log(r.Context(), level, "api request failed", "method", r.Method, "path", r.URL.Path, "status", p.Status, "err", err)
	if p.Status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="wattson"`)
	}
	var apiErr *Error
	if errors.As(err, &apiErr) && apiErr.RetryAfter > 0 {
		w.Header().Set("Retry-After", strconv.FormatInt(int64((apiErr.RetryAfter+time.Second-1)/time.Second), 10))
	}
	body, mErr := json.Marshal(p)
	if mErr != nil {
		body = []byte(`{"type":"` + ProblemBase + `internal","title":"Internal server error","status":500}`)
		p.Status = http.StatusInternalServerError
	}
	w.Header().Set("Content-Type", "application/problem+json")
	w.WriteHeader(p.Status)
	_, _ = w.Write(append(body, '\n'))
}
