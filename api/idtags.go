package api

import (
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/wattson-csms/wattson/store"
)

// maxIDTag is the length of OCPP 1.6's IdToken (CiString20Type).
const maxIDTag = 20

// Limits of the free-text fields of an id tag.
const (
	maxOwner = 200
	maxNote  = 2000
)

// IDTagJSON is an id tag as the API shows it.
type IDTagJSON struct {
	IDTag       string     `json:"idTag"`
	Status      string     `json:"status"`
	ExpiryDate  *time.Time `json:"expiryDate"`
	ParentIDTag string     `json:"parentIdTag"`
	Owner       string     `json:"owner"`
	Note        string     `json:"note"`
	CreatedAt   time.Time  `json:"createdAt"`
	UpdatedAt   time.Time  `json:"updatedAt"`
}

func idTagJSON(t store.IDTag) IDTagJSON {
	return IDTagJSON{
		IDTag: t.IDTag, Status: string(t.Status), ExpiryDate: t.ExpiryDate, ParentIDTag: t.ParentIDTag,
		Owner: t.Owner, Note: t.Note, CreatedAt: t.CreatedAt, UpdatedAt: t.UpdatedAt,
	}
}

// IDTagPut is the body of PUT /id-tags/{idTag}.
type IDTagPut struct {
	Status      string  `json:"status"`
	ExpiryDate  *string `json:"expiryDate"` // RFC 3339 or null
	ParentIDTag string  `json:"parentIdTag"`
	Owner       string  `json:"owner"`
	Note        string  `json:"note"`
}

// checkIDTag reports why s is not an OCPP IdToken, or "".
func checkIDTag(s string) string {
	switch {
	case s == "":
		return "must not be empty"
	case !utf8.ValidString(s):
		return "must be valid UTF-8"
	case utf8.RuneCountInString(s) > maxIDTag:
		return "must be at most 20 characters (OCPP IdToken)"
	case strings.IndexFunc(s, unicode.IsControl) >= 0:
		return "must not contain control characters"
	}
	return ""
}

func idTagPath(r *http.Request) (string, error) {
	tag := r.PathValue("idTag")
	if why := checkIDTag(tag); why != "" {
		return "", invalidParam("idTag", "idTag %s", why)
	}
	return tag, nil
}

func text(field, s string, max int) error {
	if !utf8.ValidString(s) || utf8.RuneCountInString(s) > max {
		return invalidBody(field, "%s must be at most %d characters of UTF-8 text", field, max)
	}
	return nil
}

func (a *API) listIDTags(w http.ResponseWriter, r *http.Request) error {
	q := newQuery(r)
	f := store.IDTagFilter{Search: q.str("search", 100), After: q.str("after", 100), Limit: q.limit()}
	if q.err != nil {
		return q.err
	}
	limit := f.Limit
	f.Limit = fetchLimit(limit)
	ts, err := a.st.ListIDTags(r.Context(), f)
	if err != nil {
		return err
	}
	out := make([]IDTagJSON, len(ts))
	for i, t := range ts {
		out[i] = idTagJSON(t)
	}
	return writeJSON(w, http.StatusOK, page(out, limit, func(t IDTagJSON) string { return t.IDTag }))
}

func (a *API) getIDTag(w http.ResponseWriter, r *http.Request) error {
	tag, err := idTagPath(r)
	if err != nil {
		return err
	}
	t, err := a.st.GetIDTag(r.Context(), tag)
	if errors.Is(err, store.ErrNotFound) {
		return notFound("no id tag %q", tag)
	}
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, idTagJSON(t))
}

func (a *API) putIDTag(w http.ResponseWriter, r *http.Request) error {
	tag, err := idTagPath(r)
	if err != nil {
		return err
	}
	var body IDTagPut
	if err := decodeBody(w, r, &body); err != nil {
		return err
	}
	t := store.IDTag{IDTag: tag, Status: store.IDTagStatus(body.Status), ParentIDTag: body.ParentIDTag, Owner: body.Owner, Note: body.Note}
	switch t.Status {
	case store.IDTagAccepted, store.IDTagBlocked, store.IDTagExpired, store.IDTagInvalid:
	default:
		return invalidBody("status", "status must be Accepted, Blocked, Expired or Invalid")
	}
	if body.ExpiryDate != nil {
		d, err := time.Parse(time.RFC3339Nano, *body.ExpiryDate)
		if err != nil {
			return invalidBody("expiryDate", "expiryDate must be an RFC 3339 date-time such as 2030-01-01T00:00:00Z, or null")
		}
		d = d.UTC()
		t.ExpiryDate = &d
	}
	if t.ParentIDTag != "" {
		if why := checkIDTag(t.ParentIDTag); why != "" {
			return invalidBody("parentIdTag", "parentIdTag %s", why)
		}
		// Parents may be created later, but a tag is not its own parent;
		// OCPP compares id tags case-insensitively.
		if strings.EqualFold(t.ParentIDTag, tag) {
			return invalidBody("parentIdTag", "an id tag cannot be its own parent")
		}
	}
	if err := text("owner", t.Owner, maxOwner); err != nil {
		return err
	}
	if err := text("note", t.Note, maxNote); err != nil {
		return err
	}
	_, err = a.st.GetIDTag(r.Context(), tag)
	created := errors.Is(err, store.ErrNotFound)
	if err != nil && !created {
		return err
	}
	saved, err := a.st.PutIDTag(r.Context(), t)
	if err != nil {
		return err
	}
	a.idTagChanged(tag)
	status := http.StatusOK
	if created {
		status = http.StatusCreated
		w.Header().Set("Location", Prefix+"/id-tags/"+url.PathEscape(tag))
	}
	return writeJSON(w, status, idTagJSON(saved))
}

func (a *API) deleteIDTag(w http.ResponseWriter, r *http.Request) error {
	tag, err := idTagPath(r)
	if err != nil {
		return err
	}
	if err := a.st.DeleteIDTag(r.Context(), tag); errors.Is(err, store.ErrNotFound) {
		return notFound("no id tag %q", tag)
	} else if err != nil {
		return err
	}
	a.idTagChanged(tag)
	w.WriteHeader(http.StatusNoContent)
	return nil
}
