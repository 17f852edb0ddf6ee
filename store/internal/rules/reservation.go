package rules

import (
	"math"
	"sort"

	"github.com/wattson-csms/wattson/store"
)

// MaxReservationID is the largest reservationId OCPP's integer carries.
const MaxReservationID = math.MaxInt32

// ActiveReservationSQL is the SQL list of the statuses that hold a
// connector, for both databases' queries and partial indexes.
const ActiveReservationSQL = `('Pending', 'Accepted')`

// Reservation checks a reservation to create and fills its defaults.
func Reservation(r *store.Reservation) error {
	if err := ChargerID(r.ChargerID); err != nil {
		return err
	}
	if r.ConnectorID < 0 {
		return invalid("reservation of connector %d", r.ConnectorID)
	}
	if r.IDTag == "" {
		return invalid("reservation without id tag")
	}
	if r.ExpiresAt.IsZero() {
		return invalid("reservation without expiry")
	}
	if r.Status == "" {
		r.Status = store.ReservationPending
	}
	if !r.Status.Valid() {
		return invalid("reservation status %q", r.Status)
	}
	r.CreatedAt = OrNow(r.CreatedAt)
	return nil
}

// ReservationUpdate checks an update and returns its time.
func ReservationUpdate(u store.ReservationUpdate) error {
	if u.ID < 1 {
		return invalid("reservation id %d", u.ID)
	}
	if !u.Status.Valid() {
		return invalid("reservation status %q", u.Status)
	}
	for _, s := range u.From {
		if !s.Valid() {
			return invalid("reservation status %q", s)
		}
	}
	return nil
}

// StatusesOf returns the statuses as strings, for a query parameter.
func StatusesOf(ss []store.ReservationStatus) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = string(s)
	}
	return out
}

// AllowedFrom reports whether status s is in from (empty allows any).
func AllowedFrom(s store.ReservationStatus, from []store.ReservationStatus) bool {
	if len(from) == 0 {
		return true
	}
	for _, f := range from {
		if s == f {
			return true
		}
	}
	return false
}

// SortByExpiry orders reservations by expiry, then id: RETURNING gives
// rows in no particular order.
func SortByExpiry(rs []store.Reservation) {
	sort.Slice(rs, func(i, j int) bool {
		if !rs[i].ExpiresAt.Equal(rs[j].ExpiresAt) {
			return rs[i].ExpiresAt.Before(rs[j].ExpiresAt)
		}
		return rs[i].ID < rs[j].ID
	})
}
