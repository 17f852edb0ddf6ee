package main

import (
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"net/http"
	"sync"

	"golang.org/x/crypto/bcrypt"

	"github.com/wattson-csms/wattson/store"
)

// chargerAuth checks HTTP Basic passwords of chargers (OCPP security
// profiles 1 and 2): a charger with a stored password hash must present it,
// with its id as the user name; one without connects freely.
//
// bcrypt is slow on purpose, which would make a reconnect storm of
// thousands of chargers cost minutes of CPU, so a verified password is
// remembered (as SHA-256, next to the hash it was checked against) until the
// stored hash changes.
type chargerAuth struct {
	st store.Store

	mu       sync.Mutex
	verified map[string]verifiedPassword
}

type verifiedPassword struct {
	hash string
	sum  [32]byte
}

func newChargerAuth(st store.Store) *chargerAuth {
	return &chargerAuth{st: st, verified: make(map[string]verifiedPassword)}
}

var errBadPassword = errors.New("wrong or missing password")

func (a *chargerAuth) authenticate(r *http.Request, id string) error {
	ch, err := a.st.GetCharger(r.Context(), id)
	if errors.Is(err, store.ErrNotFound) || (err == nil && ch.PasswordHash == "") {
		return nil
	}
	if err != nil {
		return err
	}
	user, pass, ok := r.BasicAuth()
	if !ok || user != id {
		return errBadPassword
	}
	sum := sha256.Sum256([]byte(pass))
	a.mu.Lock()
	v, seen := a.verified[id]
	a.mu.Unlock()
	if seen && v.hash == ch.PasswordHash && subtle.ConstantTimeCompare(v.sum[:], sum[:]) == 1 {
		return nil
	}
	if bcrypt.CompareHashAndPassword([]byte(ch.PasswordHash), []byte(pass)) != nil {
		return errBadPassword
	}
	a.mu.Lock()
	a.verified[id] = verifiedPassword{hash: ch.PasswordHash, sum: sum}
	a.mu.Unlock()
	return nil
}
