package api

import (
	"errors"
	"net/http"
	"net/url"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/wattson-csms/wattson/store"
)

// UserJSON is a dashboard user as listed; the password hash is never
// shown.
type UserJSON struct {
	Username    string     `json:"username"`
	Role        string     `json:"role"`
	CreatedAt   time.Time  `json:"createdAt"`
	LastLoginAt *time.Time `json:"lastLoginAt"`
}

// UserCreate is the body of POST /users.
type UserCreate struct {
	Username string `json:"username"`
	Password string `json:"password"`
	Role     string `json:"role"`
}

// UserPut is the body of PUT /users/{username}; absent fields are kept.
type UserPut struct {
	Role     *string `json:"role"`
	Password *string `json:"password"`
}

func userJSON(u store.User) UserJSON {
	return UserJSON{Username: u.Username, Role: string(u.Role), CreatedAt: u.CreatedAt, LastLoginAt: u.LastLoginAt}
}

func lastAdminError() error {
	return &Error{Kind: KindConflict, Detail: "this is the last admin user; make another user admin first"}
}

func (a *API) listUsers(w http.ResponseWriter, r *http.Request) error {
	us, err := a.st.ListUsers(r.Context())
	if err != nil {
		return err
	}
	out := make([]UserJSON, len(us))
	for i, u := range us {
		out[i] = userJSON(u)
	}
	return writeJSON(w, http.StatusOK, items(out))
}

func (a *API) createUser(w http.ResponseWriter, r *http.Request) error {
	var body UserCreate
	if err := decodeBody(w, r, &body); err != nil {
		return err
	}
	if !store.ValidUsername(body.Username) {
		return invalidBody("username", "username must be 1 to 64 characters of A-Z, a-z, 0-9, '.', '_', '@' and '-'")
	}
	if err := validPassword("password", body.Password); err != nil {
		return err
	}
	role := store.Role(body.Role)
	if !store.ValidRole(role) {
		return invalidBody("role", "role must be admin, operator or viewer")
	}
	h, err := bcrypt.GenerateFromPassword([]byte(body.Password), a.cfg.PasswordCost)
	if err != nil {
		return err
	}
	u, err := a.st.CreateUser(r.Context(), store.User{Username: body.Username, PasswordHash: string(h), Role: role, CreatedAt: a.now()})
	if errors.Is(err, store.ErrConflict) {
		return &Error{Kind: KindConflict, Detail: "a user " + body.Username + " exists already"}
	}
	if err != nil {
		return err
	}
	w.Header().Set("Location", Prefix+"/users/"+url.PathEscape(u.Username))
	return writeJSON(w, http.StatusCreated, userJSON(u))
}

// putUser changes a user's role or password. A new password ends the
// user's sessions (but not the session of the admin making the change).
func (a *API) putUser(w http.ResponseWriter, r *http.Request) error {
	name := r.PathValue("username")
	var body UserPut
	if err := decodeBody(w, r, &body); err != nil {
		return err
	}
	if body.Role == nil && body.Password == nil {
		return invalidBody("", "send role, password or both")
	}
	var up store.UserUpdate
	if body.Role != nil {
		role := store.Role(*body.Role)
		if !store.ValidRole(role) {
			return invalidBody("role", "role must be admin, operator or viewer")
		}
		up.Role = &role
	}
	if body.Password != nil {
		if err := validPassword("password", *body.Password); err != nil {
			return err
		}
		h, err := bcrypt.GenerateFromPassword([]byte(*body.Password), a.cfg.PasswordCost)
		if err != nil {
			return err
		}
		hs := string(h)
		up.PasswordHash = &hs
	}
	u, err := a.st.UpdateUser(r.Context(), name, up)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return notFound("no user %q", name)
	case errors.Is(err, store.ErrLastAdmin):
		return lastAdminError()
	case err != nil:
		return err
	}
	if up.PasswordHash != nil {
		if _, err := a.st.DeleteUserSessions(r.Context(), name, principalOf(r).session); err != nil {
			return err
		}
	}
	return writeJSON(w, http.StatusOK, userJSON(u))
}

func (a *API) deleteUser(w http.ResponseWriter, r *http.Request) error {
	name := r.PathValue("username")
	err := a.st.DeleteUser(r.Context(), name)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return notFound("no user %q", name)
	case errors.Is(err, store.ErrLastAdmin):
		return lastAdminError()
	case err != nil:
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
