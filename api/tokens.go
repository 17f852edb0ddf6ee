package api

import (
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/wattson-csms/wattson/store"
)

// TokenJSON is an API token as listed; the secret is shown only once, when
// it is created.
type TokenJSON struct {
	ID         int64      `json:"id"`
	Name       string     `json:"name"`
	Role       string     `json:"role"`
	CreatedAt  time.Time  `json:"createdAt"`
	LastUsedAt *time.Time `json:"lastUsedAt"`
}

// NewTokenJSON is a created token with its secret.
type NewTokenJSON struct {
	TokenJSON
	Token string `json:"token"`
}

// TokenCreate is the body of POST /tokens.
type TokenCreate struct {
	Name string `json:"name"`
	Role string `json:"role"`
}

func tokenJSON(t store.Token) TokenJSON {
	return TokenJSON{ID: t.ID, Name: t.Name, Role: string(t.Role), CreatedAt: t.CreatedAt, LastUsedAt: t.LastUsedAt}
}

func (a *API) createToken(w http.ResponseWriter, r *http.Request) error {
	var body TokenCreate
	if err := decodeBody(w, r, &body); err != nil {
		return err
	}
	name := strings.TrimSpace(body.Name)
	if name == "" || !utf8.ValidString(name) || utf8.RuneCountInString(name) > 100 || strings.IndexFunc(name, unicode.IsControl) >= 0 {
		return invalidBody("name", "name must be 1 to 100 characters of text")
	}
	role := store.Role(body.Role)
	if levelOf(role) == public {
		return invalidBody("role", "role must be admin, operator or viewer")
	}
	secret, hash, err := newSecret()
	if err != nil {
		return err
	}
	t, err := a.st.CreateToken(r.Context(), store.Token{Name: name, Hash: hash, Role: role, CreatedAt: a.now()})
	if err != nil {
		return err
	}
	w.Header().Set("Location", Prefix+"/tokens/"+strconv.FormatInt(t.ID, 10))
	return writeJSON(w, http.StatusCreated, NewTokenJSON{TokenJSON: tokenJSON(t), Token: secret})
}

func (a *API) listTokens(w http.ResponseWriter, r *http.Request) error {
	ts, err := a.st.ListTokens(r.Context())
	if err != nil {
		return err
	}
	out := make([]TokenJSON, len(ts))
	for i, t := range ts {
		out[i] = tokenJSON(t)
	}
	return writeJSON(w, http.StatusOK, items(out))
}

func (a *API) deleteToken(w http.ResponseWriter, r *http.Request) error {
	id, err := intPath(r, "id", 1, 1<<63-1)
	if err != nil {
		return err
	}
	if err := a.st.DeleteToken(r.Context(), id); errors.Is(err, store.ErrNotFound) {
		return notFound("no token %d", id)
	} else if err != nil {
		return err
	}
	a.forgetToken(id)
	w.WriteHeader(http.StatusNoContent)
	return nil
}
