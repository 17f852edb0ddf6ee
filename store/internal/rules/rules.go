// Package rules holds the behaviour both store implementations share and
// that is not SQL: input validation, list limits, the meter reading a stale
// transaction is closed with and how the latest meter values are keyed. One
// copy keeps SQLite and PostgreSQL from drifting apart where the conformance
// suite cannot see every corner.
package rules

import (
	"fmt"
	"sort"
	"time"

	"github.com/wattson-csms/wattson/store"
)

// List limits: a list without a limit returns a page, never a table.
const (
	DefaultLimit = 100
	MaxLimit     = 1000
)

// Limit maps a requested limit onto (0, MaxLimit].
func Limit(n int) int {
	switch {
	case n <= 0:
		return DefaultLimit
	case n > MaxLimit:
		return MaxLimit
	}
	return n
}

// DefaultMeasurand is what OCPP means by a sample without a measurand.
const DefaultMeasurand = "Energy.Active.Import.Register"

// Measurand names the measurand of s, so that a sample sent without one and a
// sample sent with the default name count as the same series.
func Measurand(s store.MeterSample) string {
	if s.Measurand == "" {
		return DefaultMeasurand
	}
	return s.Measurand
}

// StaleMeterStop is the meter reading a transaction that was still open
// when next started on its connector is closed with. The new start's reading
// comes from the same meter, so it is the best estimate of where the old
// session ended, unless it is below the old start (a replaced or reset meter):
// then the old session is closed without energy rather than with a negative
// or invented amount.
func StaleMeterStop(oldStart, newStart int64) int64 {
	if newStart >= oldStart {
		return newStart
	}
	return oldStart
}

// StopReason is the reason stored for a stop; OCPP defines a missing one
// as Local.
func StopReason(r string) string {
	if r == "" {
		return "Local"
	}
	return r
}

// Now is the time a store stamps its own records with, in UTC at the
// precision both databases keep (microseconds).
func Now() time.Time { return time.Now().UTC().Truncate(time.Microsecond) }

// OrNow returns t, or Now when t is zero (the caller did not say when a
// message was received).
func OrNow(t time.Time) time.Time {
	if t.IsZero() {
		return Now()
	}
	return t
}

func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{store.ErrInvalid}, args...)...)
}

// Registration checks a registration state.
func Registration(r store.Registration) error {
	switch r {
	case store.RegistrationPending, store.RegistrationAccepted, store.RegistrationRejected:
		return nil
	}
	return invalid("registration %q", r)
}

// ChargerID checks a charger id: OCPP's chargeBoxIdentity is at most 48
// characters, but ids from the URL path are kept as given; only empty is
// refused.
func ChargerID(id string) error {
	if id == "" {
		return invalid("empty charger id")
	}
	return nil
}

// IDTag checks an id tag as stored.
func IDTag(t store.IDTag) error {
	if t.IDTag == "" {
		return invalid("empty id tag")
	}
	switch t.Status {
	case store.IDTagAccepted, store.IDTagBlocked, store.IDTagExpired, store.IDTagInvalid:
		return nil
	}
	return invalid("id tag status %q", t.Status)
}

// Connector checks a status notification.
func Connector(c store.Connector) error {
	if err := ChargerID(c.ChargerID); err != nil {
		return err
	}
	if c.ConnectorID < 0 {
		return invalid("connector id %d", c.ConnectorID)
	}
	if c.Status == "" {
		return invalid("empty connector status")
	}
	return nil
}

// StartTx checks a StartTransaction.
func StartTx(s store.StartTx) error {
	if err := ChargerID(s.ChargerID); err != nil {
		return err
	}
	if s.ConnectorID < 1 {
		return invalid("transaction on connector %d", s.ConnectorID)
	}
	if s.IDTag == "" {
		return invalid("start without id tag")
	}
	if s.Timestamp.IsZero() {
		return invalid("start without timestamp")
	}
	return nil
}

// StopTx checks a StopTransaction.
func StopTx(s store.StopTx) error {
	if err := ChargerID(s.ChargerID); err != nil {
		return err
	}
	if s.Timestamp.IsZero() {
		return invalid("stop without timestamp")
	}
	return nil
}

// MeterSamples checks a batch of samples.
func MeterSamples(samples []store.MeterSample) error {
	for i, s := range samples {
		if err := ChargerID(s.ChargerID); err != nil {
			return fmt.Errorf("sample %d: %w", i, err)
		}
		if s.ConnectorID < 0 {
			return invalid("sample %d: connector id %d", i, s.ConnectorID)
		}
		if s.Timestamp.IsZero() {
			return invalid("sample %d: no timestamp", i)
		}
	}
	return nil
}

// LatestKey identifies one series of LatestMeterValues.
type LatestKey struct {
	ChargerID   string
	ConnectorID int
	Measurand   string
	Phase       string
}

// Newest returns, per series, the newest sample of a batch (the later one in
// the batch on equal timestamps, as a charger lists them in order), sorted
// by series. The database keeps the newer of this and what it has; the
// fixed order makes concurrent batches lock rows in the same order, so they
// cannot deadlock.
func Newest(samples []store.MeterSample) []store.MeterSample {
	idx := make(map[LatestKey]int, 8)
	var keys []LatestKey
	var out []store.MeterSample
	for _, s := range samples {
		k := LatestKey{s.ChargerID, s.ConnectorID, Measurand(s), s.Phase}
		i, ok := idx[k]
		if !ok {
			idx[k] = len(out)
			keys = append(keys, k)
			out = append(out, s)
			continue
		}
		if !s.Timestamp.Before(out[i].Timestamp) {
			out[i] = s
		}
	}
	order := make([]int, len(out))
	for i := range order {
		order[i] = i
	}
	sort.Slice(order, func(a, b int) bool { return keys[order[a]].less(keys[order[b]]) })
	sorted := make([]store.MeterSample, len(out))
	for i, j := range order {
		sorted[i] = out[j]
	}
	return sorted
}

func (k LatestKey) less(o LatestKey) bool {
	if k.ChargerID != o.ChargerID {
		return k.ChargerID < o.ChargerID
	}
	if k.ConnectorID != o.ConnectorID {
		return k.ConnectorID < o.ConnectorID
	}
	if k.Measurand != o.Measurand {
		return k.Measurand < o.Measurand
	}
	return k.Phase < o.Phase
}

// ChargerEvent checks a charger event.
func ChargerEvent(e store.ChargerEvent) error {
	if err := ChargerID(e.ChargerID); err != nil {
		return err
	}
	if e.Kind == "" {
		return invalid("charger event without kind")
	}
	return nil
}

// LogEntries checks a message log append.
func LogEntries(entries []store.LogEntry, keep int) error {
	if keep <= 0 {
		return invalid("message log keep %d", keep)
	}
	for i, e := range entries {
		if err := ChargerID(e.ChargerID); err != nil {
			return fmt.Errorf("log entry %d: %w", i, err)
		}
	}
	return nil
}

// Token checks a token to create.
func Token(t store.Token) error {
	if t.Name == "" {
		return invalid("token without name")
	}
	if len(t.Hash) == 0 {
		return invalid("token without hash")
	}
	switch t.Role {
	case store.RoleAdmin, store.RoleOperator, store.RoleViewer:
		return nil
	}
	return invalid("token role %q", t.Role)
}

// User checks a user to create.
func User(u store.User) error {
	if !store.ValidUsername(u.Username) {
		return invalid("username %q", u.Username)
	}
	if u.PasswordHash == "" {
		return invalid("user %q without password hash", u.Username)
	}
	if !store.ValidRole(u.Role) {
		return invalid("user role %q", u.Role)
	}
	return nil
}

// UserUpdate checks a change to a user.
func UserUpdate(up store.UserUpdate) error {
	if up.Role != nil && !store.ValidRole(*up.Role) {
		return invalid("user role %q", *up.Role)
	}
	if up.PasswordHash != nil && *up.PasswordHash == "" {
		return invalid("empty password hash")
	}
	return nil
}

// Session checks a session to create.
func Session(s store.Session) error {
	if len(s.Hash) == 0 {
		return invalid("session without hash")
	}
	if s.Username == "" {
		return invalid("session without user")
	}
	if s.ExpiresAt.IsZero() {
		return invalid("session without expiry")
	}
	return nil
}

// Bulk checks the ids of a bulk read.
func Bulk(ids []string) error {
	if len(ids) > store.MaxBulk {
		return invalid("%d ids in one read; at most %d", len(ids), store.MaxBulk)
	}
	return nil
}
