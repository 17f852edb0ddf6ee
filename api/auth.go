package api

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/wattson-csms/wattson/store"
)

// TokenPrefix starts every token the API issues, so that a leaked one is
// recognisable (secret scanners) and other strings are refused without a
// store read.
const TokenPrefix = "wat_"

// touchEvery is how often a token's last use is written at most.
const touchEvery = time.Minute

// principal is who made a request: a bearer token or a logged-in user.
type principal struct {
	level   level
	tokenID int64 // 0 for the configured admin token and for users
	// user and session are set for requests with a session cookie.
	user    *store.User
	session []byte // the session's hash
}

func (p principal) String() string {
	if p.user != nil {
		return "user " + p.user.Username + " has " + p.level.String()
	}
	return "this token has " + p.level.String()
}

// authenticate reads the bearer token of a request or, without an
// Authorization header, its session cookie. A cookie-authenticated request
// other than GET or HEAD must carry X-Wattson-CSRF: 1: a browser sends
// that header cross-site only after a CORS preflight, which Wattson never
// grants, so a forged form or fetch from another site fails.
func (a *API) authenticate(w http.ResponseWriter, r *http.Request) (principal, error) {
	h := r.Header.Get("Authorization")
	if h == "" {
		if c, err := r.Cookie(SessionCookie); err == nil {
			if err := checkCSRF(r); err != nil {
				return principal{}, err
			}
			return a.sessionPrincipal(w, r, c.Value)
		}
	}
	scheme, secret, ok := strings.Cut(h, " ")
	if h == "" {
		return principal{}, &Error{Kind: KindUnauthorized, Detail: "send Authorization: Bearer <token>, or log in (POST " + Prefix + "/session)"}
	}
	secret = strings.TrimSpace(secret)
	if !ok || !strings.EqualFold(scheme, "Bearer") || secret == "" {
		return principal{}, &Error{Kind: KindUnauthorized, Detail: "the Authorization header is not a bearer token"}
	}
	if a.cfg.AdminToken != "" && subtle.ConstantTimeCompare([]byte(secret), []byte(a.cfg.AdminToken)) == 1 {
		return principal{level: admin}, nil
	}
	bad := &Error{Kind: KindUnauthorized, Detail: "the token is not valid"}
	if !strings.HasPrefix(secret, TokenPrefix) || len(secret) > 256 {
		return principal{}, bad
	}
	// Looking the token up by its hash needs no constant-time compare: the
	// hash of a guess says nothing about the secret.
	sum := sha256.Sum256([]byte(secret))
	tok, err := a.st.TokenByHash(r.Context(), sum[:])
	if errors.Is(err, store.ErrNotFound) {
		return principal{}, bad
	}
	if err != nil {
		return principal{}, err
	}
	lv := levelOf(tok.Role)
	if lv == public {
		return principal{}, bad
	}
	a.touch(r, tok)
	return principal{level: lv, tokenID: tok.ID}, nil
}

// CSRFHeader must be "1" on cookie-authenticated requests that change
// something.
const CSRFHeader = "X-Wattson-CSRF"

func checkCSRF(r *http.Request) error {
	if r.Method == http.MethodGet || r.Method == http.MethodHead {
		return nil
	}
	if r.Header.Get(CSRFHeader) != "1" {
		return &Error{Kind: KindCSRF, Detail: "a request authenticated by the session cookie must send the header " + CSRFHeader + ": 1"}
	}
	return nil
}

// touch records a token's use at most once a minute per token.
func (a *API) touch(r *http.Request, tok store.Token) {
	now := a.now()
	a.touchMu.Lock()
	last, ok := a.touched[tok.ID]
	if !ok && tok.LastUsedAt != nil {
		last, ok = *tok.LastUsedAt, true
	}
	if ok && now.Sub(last) < touchEvery && !now.Before(last) {
		a.touchMu.Unlock()
		return
	}
	a.touched[tok.ID] = now
	a.touchMu.Unlock()
	if err := a.st.TouchToken(r.Context(), tok.ID, now); err != nil && !errors.Is(err, store.ErrNotFound) {
		a.log.Warn("recording a token's last use", "token", tok.ID, "err", err)
	}
}

func (a *API) forgetToken(id int64) {
	a.touchMu.Lock()
	delete(a.touched, id)
	a.touchMu.Unlock()
}

// newSecret returns a new token secret and its SHA-256 hash.
func newSecret() (string, []byte, error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", nil, err
	}
	secret := TokenPrefix + base64.RawURLEncoding.EncodeToString(b[:])
	sum := sha256.Sum256([]byte(secret))
	return secret, sum[:], nil
}
