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

// principal is who made a request.
type principal struct {
	level   level
	tokenID int64 // 0 for the configured admin token
}

// authenticate reads the bearer token of a request.
func (a *API) authenticate(r *http.Request) (principal, error) {
	h := r.Header.Get("Authorization")
	scheme, secret, ok := strings.Cut(h, " ")
	if h == "" {
		return principal{}, &Error{Kind: KindUnauthorized, Detail: "send Authorization: Bearer <token>"}
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
