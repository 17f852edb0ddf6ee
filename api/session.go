package api

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"net"
	"net/http"
	"sync"
	"time"
	"unicode/utf8"

	"golang.org/x/crypto/bcrypt"

	"github.com/wattson-csms/wattson/store"
)

// SessionCookie is the name of the dashboard's session cookie.
const SessionCookie = "wattson_session"

// DefaultSessionTTL is how long a session lives after its last use.
const DefaultSessionTTL = 7 * 24 * time.Hour

// sessionTouchEvery is how often a session's last use (and so its expiry)
// is written at most.
const sessionTouchEvery = time.Minute

// User password lengths: bcrypt reads at most 72 bytes.
const (
	minUserPassword = 8
	maxUserPassword = 72
)

// principalKey keys the request's principal in its context.
type principalKey struct{}

func principalOf(r *http.Request) principal {
	p, _ := r.Context().Value(principalKey{}).(principal)
	return p
}

// UserRef is who is logged in.
type UserRef struct {
	Username string `json:"username"`
	Role     string `json:"role"`
}

// SessionJSON is the answer of POST and GET /session.
type SessionJSON struct {
	User UserRef `json:"user"`
}

// SessionCreate is the body of POST /session.
type SessionCreate struct {
	Username string `json:"username"`
	Password string `json:"password"`
}

// PasswordChange is the body of PUT /session/password.
type PasswordChange struct {
	Current string `json:"current"`
	New     string `json:"new"`
}

// newSessionToken returns a session cookie value (32 random bytes,
// base64url) and its SHA-256 hash.
func newSessionToken() (string, []byte, error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", nil, err
	}
	tok := base64.RawURLEncoding.EncodeToString(b[:])
	sum := sha256.Sum256([]byte(tok))
	return tok, sum[:], nil
}

// sessionTokenLen is the length of a session cookie value.
var sessionTokenLen = base64.RawURLEncoding.EncodedLen(32)

func (a *API) setSessionCookie(w http.ResponseWriter, r *http.Request, token string) {
	http.SetCookie(w, &http.Cookie{
		Name: SessionCookie, Value: token, Path: "/", MaxAge: int(a.cfg.SessionTTL / time.Second),
		HttpOnly: true, Secure: r.TLS != nil, SameSite: http.SameSiteStrictMode,
	})
}

func clearSessionCookie(w http.ResponseWriter, r *http.Request) {
	http.SetCookie(w, &http.Cookie{
		Name: SessionCookie, Value: "", Path: "/", MaxAge: -1,
		HttpOnly: true, Secure: r.TLS != nil, SameSite: http.SameSiteStrictMode,
	})
}

// sessionPrincipal authenticates a session cookie: the session must exist
// and not have expired; the role is the user's current one. It slides the
// expiry, writing at most once a minute per session.
func (a *API) sessionPrincipal(w http.ResponseWriter, r *http.Request, token string) (principal, error) {
	bad := &Error{Kind: KindUnauthorized, Detail: "the session has expired or was ended; log in again"}
	if len(token) != sessionTokenLen {
		return principal{}, bad
	}
	sum := sha256.Sum256([]byte(token))
	s, u, err := a.st.SessionByHash(r.Context(), sum[:])
	if errors.Is(err, store.ErrNotFound) {
		return principal{}, bad
	}
	if err != nil {
		return principal{}, err
	}
	now := a.now()
	if !now.Before(s.ExpiresAt) {
		if err := a.st.DeleteSession(r.Context(), s.Hash); err != nil && !errors.Is(err, store.ErrNotFound) {
			a.log.Warn("deleting an expired session", "user", u.Username, "err", err)
		}
		return principal{}, bad
	}
	lv := levelOf(u.Role)
	if lv == public {
		return principal{}, bad
	}
	if now.Sub(s.LastSeenAt) >= sessionTouchEvery {
		if err := a.st.TouchSession(r.Context(), s.Hash, now, now.Add(a.cfg.SessionTTL)); err != nil {
			a.log.Warn("recording a session's use", "user", u.Username, "err", err)
		} else {
			a.setSessionCookie(w, r, token)
		}
	}
	return principal{level: lv, user: &u, session: s.Hash}, nil
}

// login is POST /session.
func (a *API) login(w http.ResponseWriter, r *http.Request) error {
	var body SessionCreate
	if err := decodeBody(w, r, &body); err != nil {
		return err
	}
	if body.Username == "" || len(body.Username) > 256 || !utf8.ValidString(body.Username) {
		return invalidBody("username", "username must be 1 to 64 characters")
	}
	key := body.Username + "\x00" + clientIP(r)
	if wait := a.logins.blocked(key, a.now()); wait > 0 {
		return &Error{Kind: KindTooManyRequests, Detail: "too many failed logins; try again later", RetryAfter: wait}
	}
	u, ok, err := a.checkPassword(r, body.Username, body.Password)
	if err != nil {
		return err
	}
	if !ok {
		a.logins.fail(key, a.now())
		a.log.Info("failed login", "user", body.Username, "remote", clientIP(r))
		return &Error{Kind: KindUnauthorized, Detail: "wrong username or password"}
	}
	a.logins.reset(key)
	token, hash, err := newSessionToken()
	if err != nil {
		return err
	}
	now := a.now()
	if err := a.st.CreateSession(r.Context(), store.Session{Hash: hash, Username: u.Username, CreatedAt: now, ExpiresAt: now.Add(a.cfg.SessionTTL), LastSeenAt: now}); err != nil {
		return err
	}
	// Housekeeping: logins are rare, so each one clears expired sessions.
	if _, err := a.st.DeleteExpiredSessions(r.Context(), now); err != nil {
		a.log.Warn("deleting expired sessions", "err", err)
	}
	a.setSessionCookie(w, r, token)
	return writeJSON(w, http.StatusOK, SessionJSON{User: UserRef{Username: u.Username, Role: string(u.Role)}})
}

// checkPassword verifies a user's password. An unknown user costs a
// bcrypt comparison too, against a dummy hash, so the answer's timing does
// not tell which usernames exist.
func (a *API) checkPassword(r *http.Request, username, password string) (store.User, bool, error) {
	u, err := a.st.GetUser(r.Context(), username)
	if errors.Is(err, store.ErrNotFound) || (err == nil && len(password) > maxUserPassword) {
		_ = bcrypt.CompareHashAndPassword(a.dummyHash, []byte("not the password"))
		return store.User{}, false, nil
	}
	if err != nil {
		return store.User{}, false, err
	}
	if bcrypt.CompareHashAndPassword([]byte(u.PasswordHash), []byte(password)) != nil {
		return store.User{}, false, nil
	}
	return u, true, nil
}

// getSession is GET /session: who the session cookie belongs to.
func (a *API) getSession(w http.ResponseWriter, r *http.Request) error {
	p := principalOf(r)
	if p.user == nil {
		return &Error{Kind: KindUnauthorized, Detail: "no session: bearer tokens are not users; log in with POST " + Prefix + "/session"}
	}
	return writeJSON(w, http.StatusOK, SessionJSON{User: UserRef{Username: p.user.Username, Role: string(p.user.Role)}})
}

// logout is DELETE /session: it ends the session of the cookie, if any,
// and clears the cookie. It is public, so that a browser with an expired
// session can still clear its cookie.
func (a *API) logout(w http.ResponseWriter, r *http.Request) error {
	if c, err := r.Cookie(SessionCookie); err == nil {
		if err := checkCSRF(r); err != nil {
			return err
		}
		if len(c.Value) == sessionTokenLen {
			sum := sha256.Sum256([]byte(c.Value))
			if err := a.st.DeleteSession(r.Context(), sum[:]); err != nil && !errors.Is(err, store.ErrNotFound) {
				return err
			}
		}
	}
	clearSessionCookie(w, r)
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// changeOwnPassword is PUT /session/password. The user's other sessions
// end; this one stays.
func (a *API) changeOwnPassword(w http.ResponseWriter, r *http.Request) error {
	p := principalOf(r)
	if p.user == nil {
		return &Error{Kind: KindUnauthorized, Detail: "no session: log in with POST " + Prefix + "/session to change your password"}
	}
	var body PasswordChange
	if err := decodeBody(w, r, &body); err != nil {
		return err
	}
	if err := validPassword("new", body.New); err != nil {
		return err
	}
	key := p.user.Username + "\x00" + clientIP(r)
	if wait := a.logins.blocked(key, a.now()); wait > 0 {
		return &Error{Kind: KindTooManyRequests, Detail: "too many wrong passwords; try again later", RetryAfter: wait}
	}
	if _, ok, err := a.checkPassword(r, p.user.Username, body.Current); err != nil {
		return err
	} else if !ok {
		a.logins.fail(key, a.now())
		return &Error{Kind: KindForbidden, Detail: "the current password is wrong"}
	}
	a.logins.reset(key)
	if err := a.setPassword(r, p.user.Username, body.New, p.session); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// setPassword hashes and stores a new password and ends the user's
// sessions except keep.
func (a *API) setPassword(r *http.Request, username, password string, keep []byte) error {
	h, err := bcrypt.GenerateFromPassword([]byte(password), a.cfg.PasswordCost)
	if err != nil {
		return err
	}
	hs := string(h)
	if _, err := a.st.UpdateUser(r.Context(), username, store.UserUpdate{PasswordHash: &hs}); err != nil {
		return err
	}
	if _, err := a.st.DeleteUserSessions(r.Context(), username, keep); err != nil {
		return err
	}
	return nil
}

func validPassword(field, pw string) error {
	if len(pw) < minUserPassword || len(pw) > maxUserPassword || !utf8.ValidString(pw) || utf8.RuneCountInString(pw) < minUserPassword {
		return invalidBody(field, "%s must be at least %d characters and at most %d bytes of UTF-8 text", field, minUserPassword, maxUserPassword)
	}
	return nil
}

// clientIP is the address the request came from. Headers such as
// X-Forwarded-For are not trusted: behind a reverse proxy, every login
// counts against the proxy's address.
func clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// loginLimiter counts failed logins per key (username and address) in a
// fixed window: after max failures, the key is blocked until the window
// that began with its first failure ends.
type loginLimiter struct {
	max    int
	window time.Duration

	mu   sync.Mutex
	keys map[string]*failures
}

type failures struct {
	first time.Time
	n     int
}

// maxLimiterKeys bounds the limiter's memory; beyond it, expired keys go
// and, if that is not enough, all of them (a flood of distinct keys must
// not take the node down).
const maxLimiterKeys = 100_000

func newLoginLimiter(max int, window time.Duration) *loginLimiter {
	return &loginLimiter{max: max, window: window, keys: make(map[string]*failures)}
}

// blocked returns how long key must still wait, or 0.
func (l *loginLimiter) blocked(key string, now time.Time) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	f := l.keys[key]
	if f == nil {
		return 0
	}
	end := f.first.Add(l.window)
	if !now.Before(end) {
		delete(l.keys, key)
		return 0
	}
	if f.n < l.max {
		return 0
	}
	return end.Sub(now)
}

func (l *loginLimiter) fail(key string, now time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	f := l.keys[key]
	if f == nil || !now.Before(f.first.Add(l.window)) {
		if len(l.keys) >= maxLimiterKeys {
			for k, v := range l.keys {
				if !now.Before(v.first.Add(l.window)) {
					delete(l.keys, k)
				}
			}
			if len(l.keys) >= maxLimiterKeys {
				clear(l.keys)
			}
		}
		f = &failures{first: now}
		l.keys[key] = f
	}
	f.n++
}

func (l *loginLimiter) reset(key string) {
	l.mu.Lock()
	delete(l.keys, key)
	l.mu.Unlock()
}
