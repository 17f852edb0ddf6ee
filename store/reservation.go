package store

import (
	"context"
	"time"
)

// ReservationStatus is where a reservation is in its life.
type ReservationStatus string

// Reservation states. Pending and Accepted are active: they hold their
// connector. Occupied, Faulted, Unavailable and Rejected are the charger's
// refusals of the ReserveNow, as OCPP's ReservationStatus names them.
const (
	// ReservationPending: the ReserveNow is on its way, no answer yet.
	ReservationPending ReservationStatus = "Pending"
	// ReservationAccepted: the charger holds the reservation.
	ReservationAccepted    ReservationStatus = "Accepted"
	ReservationOccupied    ReservationStatus = "Occupied"
	ReservationFaulted     ReservationStatus = "Faulted"
	ReservationUnavailable ReservationStatus = "Unavailable"
	ReservationRejected    ReservationStatus = "Rejected"
	// ReservationFailed: the ReserveNow got no answer that says whether
	// the charger took it (a timeout, a CALLERROR, a closed connection).
	ReservationFailed    ReservationStatus = "Failed"
	ReservationCancelled ReservationStatus = "Cancelled"
	ReservationExpired   ReservationStatus = "Expired"
	// ReservationUsed: a transaction started with it (TransactionID).
	ReservationUsed ReservationStatus = "Used"
)

// ReservationStatuses lists every status.
var ReservationStatuses = []ReservationStatus{
	ReservationPending, ReservationAccepted, ReservationOccupied, ReservationFaulted, ReservationUnavailable,
	ReservationRejected, ReservationFailed, ReservationCancelled, ReservationExpired, ReservationUsed,
}

// Valid reports whether s is one of ReservationStatuses.
func (s ReservationStatus) Valid() bool {
	for _, v := range ReservationStatuses {
		if s == v {
			return true
		}
	}
	return false
}

// Active reports whether s holds a connector: Pending or Accepted.
func (s ReservationStatus) Active() bool {
	return s == ReservationPending || s == ReservationAccepted
}

// Reservation is a connector (or any connector of a charger) kept for one
// id tag until an expiry: OCPP's ReserveNow. Reservations reference no
// charger row: they are records, kept when a charger is deleted.
type Reservation struct {
	// ID is the OCPP reservationId; the store allocates it (1 to 2^31-1)
	// and never hands it out again.
	ID          int
	ChargerID   string
	ConnectorID int // 0: any connector of the charger
	IDTag       string
	// ParentIDTag is the id tag's parent when it was reserved (ReserveNow
	// carries it so a tag of the same group may use the reservation).
	ParentIDTag string
	ExpiresAt   time.Time
	// Status is as stored; StatusAt tells it as of a time.
	Status ReservationStatus
	// TransactionID is the transaction that used it (Status Used).
	TransactionID *int64
	// Reason says, for people, why it ended as it did; "" while active.
	Reason    string
	CreatedBy string // who asked for it: a user, a token
	CreatedAt time.Time
	UpdatedAt time.Time
}

// StatusAt is the status as of now: an active reservation whose expiry has
// passed is Expired, also before the periodic sweep has written that.
func (r Reservation) StatusAt(now time.Time) ReservationStatus {
	if r.Status.Active() && !r.ExpiresAt.After(now) {
		return ReservationExpired
	}
	return r.Status
}

// ReservationFilter selects reservations, newest first; Before continues
// (an ID). Status and Active are judged as of Now, as StatusAt does: an
// Accepted reservation past its expiry matches Status Expired and Active
// false. Zero fields do not filter.
type ReservationFilter struct {
	ChargerID string
	IDTag     string
	Status    ReservationStatus
	Active    *bool
	Now       time.Time // zero: now
	Before    int
	Limit     int
}

// ReservationUpdate moves a reservation to another status.
type ReservationUpdate struct {
	ID int
	// From lists the statuses the reservation may be in for the update to
	// apply (as stored, not StatusAt); empty allows any. Otherwise
	// UpdateReservation returns ErrConflict with the reservation as it is.
	From   []ReservationStatus
	Status ReservationStatus
	// TransactionID, when not nil, is set (for Used).
	TransactionID *int64
	// Reason replaces the stored reason.
	Reason string
	At     time.Time // zero: now
}

// ReservationStore keeps reservations; Store includes it.
type ReservationStore interface {
	// CreateReservation stores a new reservation with a new ID; an empty
	// Status is Pending, a zero CreatedAt is now. While a reservation is
	// active (Pending or Accepted, and not expired) no other active one may
	// hold the same charger and connector: that is ErrConflict. Active
	// ones of that connector whose expiry has passed are marked Expired
	// first.
	CreateReservation(ctx context.Context, r Reservation) (Reservation, error)
	GetReservation(ctx context.Context, id int) (Reservation, error)
	ListReservations(ctx context.Context, f ReservationFilter) ([]Reservation, error)
	// UpdateReservation applies u and returns the reservation as stored
	// then. ErrNotFound for an unknown ID; ErrConflict, with the
	// reservation as it is, when its status is not in u.From or when the
	// update would make a second active reservation on its connector.
	UpdateReservation(ctx context.Context, u ReservationUpdate) (Reservation, error)
	// ExpireReservations marks the active reservations whose expiry is at
	// or before now Expired — of one charger, or of all when chargerID is
	// "" — at most limit of them (0: 1000), and returns them. Of two
	// nodes sweeping at once, each reservation is returned to one.
	ExpireReservations(ctx context.Context, now time.Time, chargerID string, limit int) ([]Reservation, error)
	// NextReservationExpiry returns the earliest expiry of the active
	// reservations, nil when there are none.
	NextReservationExpiry(ctx context.Context) (*time.Time, error)
}
