package csms

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/wattson-csms/wattson/events"
	"github.com/wattson-csms/wattson/ocpp"
	"github.com/wattson-csms/wattson/ocpp/v16"
	"github.com/wattson-csms/wattson/store"
)

// Reservations: ReserveNow and CancelReservation sent for an operator,
// the reservation a StartTransaction uses marked Used, and a sweep that
// marks reservations past their expiry Expired. The charger enforces a
// reservation by its own clock; Wattson keeps the record and shows it.

// Defaults of the reservation settings in Config.
const (
	DefaultMaxReservation           = 24 * time.Hour
	DefaultReservationSweepInterval = time.Minute
	// reservationSweepGap is the least time between two sweeps, so that
	// many reservations expiring close together cost one sweep, not one
	// each.
	reservationSweepGap = time.Second
	// reservationWriteTimeout bounds the store write that records the
	// outcome of a ReserveNow after the caller's context has ended (its
	// deadline is what made the call time out).
	reservationWriteTimeout = 10 * time.Second
)

// ReservationJSON is a reservation as events and the API show it. Status
// is as of when it was made: an active reservation past its expiry is
// Expired.
type ReservationJSON struct {
	ID            int       `json:"id"`
	ChargerID     string    `json:"chargerId"`
	ConnectorID   int       `json:"connectorId"`
	IDTag         string    `json:"idTag"`
	ParentIDTag   string    `json:"parentIdTag,omitempty"`
	ExpiryDate    time.Time `json:"expiryDate"`
	Status        string    `json:"status"`
	Active        bool      `json:"active"`
	TransactionID *int64    `json:"transactionId,omitempty"`
	Reason        string    `json:"reason,omitempty"`
	CreatedBy     string    `json:"createdBy"`
	CreatedAt     time.Time `json:"createdAt"`
	UpdatedAt     time.Time `json:"updatedAt"`
}

// ReservationToJSON converts a stored reservation as of now.
func ReservationToJSON(r store.Reservation, now time.Time) ReservationJSON {
	st := r.StatusAt(now)
	return ReservationJSON{
		ID: r.ID, ChargerID: r.ChargerID, ConnectorID: r.ConnectorID, IDTag: r.IDTag, ParentIDTag: r.ParentIDTag,
		ExpiryDate: r.ExpiresAt, Status: string(st), Active: st.Active(), TransactionID: r.TransactionID,
		Reason: r.Reason, CreatedBy: r.CreatedBy, CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt,
	}
}

func (s *Service) publishReservation(r store.Reservation) {
	s.cfg.Events.Publish(events.ReservationUpdated, r.ChargerID, ReservationToJSON(r, s.now()))
}

// ReservationError is a reservation that cannot be made or cancelled as
// asked, found before anything was sent. Conflict: because of the state
// of things (a 409), else because of the request (a 400). Field names the
// request field it is about, if one.
type ReservationError struct {
	Field    string
	Conflict bool
	Msg      string
}

func (e *ReservationError) Error() string { return e.Msg }

func badReservation(field, format string, args ...any) *ReservationError {
	return &ReservationError{Field: field, Msg: fmt.Sprintf(format, args...)}
}

func reservationConflict(field, format string, args ...any) *ReservationError {
	return &ReservationError{Field: field, Conflict: true, Msg: fmt.Sprintf(format, args...)}
}

// ReservationRefused is a ReserveNow the charger answered with something
// other than Accepted; Reservation is the record, with that status.
type ReservationRefused struct {
	Reservation store.Reservation
	Status      v16.ReservationStatus
}

func (e *ReservationRefused) Error() string {
	return fmt.Sprintf("the charger refused reservation %d: %s", e.Reservation.ID, e.Status)
}

// ReserveRequest asks for a reservation.
type ReserveRequest struct {
	ChargerID   string
	ConnectorID int // 0: any connector
	IDTag       string
	ExpiresAt   time.Time
	CreatedBy   string
}

// Reserve checks a reservation against what Wattson knows of the charger
// and the id tag, stores it as Pending, sends ReserveNow and records the
// answer. Errors: ErrUnknownCharger, ErrNotConnected, *ReservationError
// (nothing stored), *ReservationRefused (stored with the charger's
// status), and the errors of Call (stored as Failed; the charger may
// still hold the reservation if it took it but its answer was lost).
func (s *Service) Reserve(ctx context.Context, req ReserveRequest) (store.Reservation, error) {
	now := s.now()
	switch {
	case req.ConnectorID < 0:
		return store.Reservation{}, badReservation("connectorId", "connectorId must be 0 (any connector) or more")
	case !req.ExpiresAt.After(now):
		return store.Reservation{}, badReservation("expiryDate", "the expiry %s is not in the future", req.ExpiresAt.UTC().Format(time.RFC3339))
	case req.ExpiresAt.Sub(now) > s.cfg.MaxReservation:
		return store.Reservation{}, badReservation("expiryDate", "a reservation may last at most %s", s.cfg.MaxReservation)
	}
	ch, err := s.st.GetCharger(ctx, req.ChargerID)
	if errors.Is(err, store.ErrNotFound) {
		return store.Reservation{}, fmt.Errorf("%w: %s", ErrUnknownCharger, req.ChargerID)
	}
	if err != nil {
		return store.Reservation{}, err
	}
	if ch.Registration != store.RegistrationAccepted {
		return store.Reservation{}, reservationConflict("chargerId", "charger %q is not accepted (registration %s)", ch.ID, ch.Registration)
	}
	if !s.IsConnected(ch.ID) {
		return store.Reservation{}, fmt.Errorf("%w: %s", ErrNotConnected, ch.ID)
	}
	caps, err := s.reservationCaps(ctx, ch.ID)
	if err != nil {
		return store.Reservation{}, err
	}
	switch {
	case caps.profileMissing:
		return store.Reservation{}, reservationConflict("chargerId", "charger %q does not support reservations (its SupportedFeatureProfiles lack Reservation)", ch.ID)
	case caps.connectors > 0 && req.ConnectorID > caps.connectors:
		return store.Reservation{}, badReservation("connectorId", "charger %q has connectors 1 to %d; connector %d does not exist", ch.ID, caps.connectors, req.ConnectorID)
	case req.ConnectorID == 0 && caps.zeroUnsupported:
		return store.Reservation{}, reservationConflict("connectorId", "charger %q does not take reservations of any connector (ReserveConnectorZeroSupported is false); reserve a connector", ch.ID)
	}
	tag, err := s.st.GetIDTag(ctx, req.IDTag)
	if errors.Is(err, store.ErrNotFound) {
		return store.Reservation{}, badReservation("idTag", "id tag %q is unknown", req.IDTag)
	}
	if err != nil {
		return store.Reservation{}, err
	}
	if tag.Status != store.IDTagAccepted {
		return store.Reservation{}, badReservation("idTag", "id tag %q is %s", req.IDTag, tag.Status)
	}
	if tag.ExpiryDate != nil && !tag.ExpiryDate.After(now) {
		return store.Reservation{}, badReservation("idTag", "id tag %q expired at %s", req.IDTag, tag.ExpiryDate.UTC().Format(time.RFC3339))
	}

	// Reservations of this charger that ran out make room, and say so.
	s.expire(ctx, now, ch.ID)
	r, err := s.st.CreateReservation(ctx, store.Reservation{
		ChargerID: ch.ID, ConnectorID: req.ConnectorID, IDTag: tag.IDTag, ParentIDTag: tag.ParentIDTag,
		ExpiresAt: req.ExpiresAt.UTC(), Status: store.ReservationPending, CreatedBy: req.CreatedBy, CreatedAt: now,
	})
	if errors.Is(err, store.ErrConflict) {
		what := fmt.Sprintf("connector %d", req.ConnectorID)
		if req.ConnectorID == 0 {
			what = "a reservation of any connector"
		}
		return store.Reservation{}, reservationConflict("connectorId", "charger %q already has an active reservation for %s", ch.ID, what)
	}
	if err != nil {
		return store.Reservation{}, err
	}
	s.publishReservation(r)
	s.wakeSweep()

	payload := (&v16.ReserveNowRequest{
		ConnectorID: r.ConnectorID, ExpiryDate: r.ExpiresAt, IDTag: r.IDTag, ParentIDTag: r.ParentIDTag, ReservationID: r.ID,
	}).AppendJSON(nil)
	answer, callErr := s.Call(ctx, ch.ID, "ReserveNow", payload)
	var res v16.ReserveNowResponse
	if callErr == nil {
		callErr = res.UnmarshalOCPP(answer) // Call validated it; cannot fail
	}
	up := store.ReservationUpdate{ID: r.ID, From: []store.ReservationStatus{store.ReservationPending}}
	switch {
	case callErr != nil:
		up.Status, up.Reason = store.ReservationFailed, failedReason(callErr)
	case res.Status == v16.ReservationStatusAccepted:
		up.Status = store.ReservationAccepted
	default:
		up.Status, up.Reason = store.ReservationStatus(res.Status), "refused by the charger: "+string(res.Status)
		if res.Status == v16.ReservationStatusRejected && r.ConnectorID == 0 {
			up.Reason += " (it may not take reservations of any connector: reserve a connector)"
		}
	}
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), reservationWriteTimeout)
	defer cancel()
	got, err := s.st.UpdateReservation(wctx, up)
	switch {
	case errors.Is(err, store.ErrConflict):
		// Cancelled or used while the ReserveNow was on its way: that
		// later word stands.
		s.log.Info("a reservation changed while its ReserveNow was answered", "reservation", r.ID, "status", got.Status, "answer", up.Status)
		return got, callErr
	case err != nil:
		return r, err
	}
	s.publishReservation(got)
	s.log.Info("reservation", "reservation", got.ID, "charger", got.ChargerID, "connector", got.ConnectorID,
		"idTag", got.IDTag, "expires", got.ExpiresAt, "status", got.Status)
	if callErr != nil {
		return got, callErr
	}
	if got.Status != store.ReservationAccepted {
		return got, &ReservationRefused{Reservation: got, Status: res.Status}
	}
	return got, nil
}

func failedReason(err error) string {
	var resErr *ResponseError
	switch {
	case errors.As(err, &resErr):
		return "the charger's answer broke OCPP 1.6; it may hold the reservation until it expires"
	case errors.Is(err, ocpp.ErrTimeout), errors.Is(err, context.DeadlineExceeded):
		return "the charger did not answer in time; it may hold the reservation until it expires"
	case errors.Is(err, ocpp.ErrClosed):
		return "the connection closed before the charger answered; it may hold the reservation until it expires"
	case errors.Is(err, ErrNotConnected):
		return "the charger went offline before the ReserveNow was sent"
	}
	if oe, ok := ocpp.AsError(err); ok {
		return fmt.Sprintf("the charger answered with an error: %s %s", oe.Code, oe.Description)
	}
	return "sending ReserveNow failed: " + err.Error()
}

// reservationCaps is what a charger's last configuration snapshot and its
// connectors tell about reservations; zero values mean unknown.
type reservationCaps struct {
	connectors      int  // the highest connector id
	zeroUnsupported bool // ReserveConnectorZeroSupported is false
	profileMissing  bool // SupportedFeatureProfiles lacks Reservation
}

func (s *Service) reservationCaps(ctx context.Context, chargerID string) (reservationCaps, error) {
	var c reservationCaps
	snap, err := s.st.GetConfigSnapshot(ctx, chargerID)
	switch {
	case err == nil:
		for _, k := range snap.Keys {
			v := strings.TrimSpace(k.Value)
			switch k.Key {
			case "NumberOfConnectors":
				if n, err := strconv.Atoi(v); err == nil && n > 0 {
					c.connectors = n
				}
			case "ReserveConnectorZeroSupported":
				c.zeroUnsupported = strings.EqualFold(v, "false")
			case "SupportedFeatureProfiles":
				c.profileMissing = !containsFold(strings.Split(v, ","), "Reservation")
			}
		}
	case !errors.Is(err, store.ErrNotFound):
		return c, err
	}
	if c.connectors == 0 {
		conns, err := s.st.ListConnectors(ctx, chargerID)
		if err != nil {
			return c, err
		}
		for _, k := range conns {
			c.connectors = max(c.connectors, k.ConnectorID)
		}
	}
	return c, nil
}

func containsFold(list []string, s string) bool {
	for _, v := range list {
		if strings.EqualFold(strings.TrimSpace(v), s) {
			return true
		}
	}
	return false
}

// CancelReservation sends CancelReservation for an active reservation and
// records it Cancelled; by says who asked. A charger that answers Rejected
// does not hold the reservation (any more): it is recorded Cancelled too.
// An offline charger is ErrNotConnected and nothing changes: the charger
// would keep the reservation until its expiry whatever Wattson recorded.
// Errors besides those of Call: store.ErrNotFound, *ReservationError (it
// is not active).
func (s *Service) CancelReservation(ctx context.Context, id int, by string) (store.Reservation, error) {
	r, err := s.st.GetReservation(ctx, id)
	if err != nil {
		return store.Reservation{}, err
	}
	now := s.now()
	if st := r.StatusAt(now); !st.Active() {
		if st != r.Status {
			s.expire(ctx, now, r.ChargerID)
		}
		return r, reservationConflict("", "reservation %d is %s, not active", id, st)
	}
	if !s.IsConnected(r.ChargerID) {
		return r, fmt.Errorf("%w: %s", ErrNotConnected, r.ChargerID)
	}
	answer, err := s.Call(ctx, r.ChargerID, "CancelReservation", (&v16.CancelReservationRequest{ReservationID: id}).AppendJSON(nil))
	if err != nil {
		return r, err
	}
	var res v16.CancelReservationResponse
	if err := res.UnmarshalOCPP(answer); err != nil {
		return r, err // Call validated it; cannot happen
	}
	reason := "cancelled"
	if by != "" {
		reason += " by " + by
	}
	if res.Status != v16.GenericStatusAccepted {
		reason += "; the charger did not hold it any more"
	}
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), reservationWriteTimeout)
	defer cancel()
	got, err := s.st.UpdateReservation(wctx, store.ReservationUpdate{
		ID: id, From: []store.ReservationStatus{store.ReservationPending, store.ReservationAccepted},
		Status: store.ReservationCancelled, Reason: reason,
	})
	if errors.Is(err, store.ErrConflict) {
		return got, reservationConflict("", "reservation %d became %s meanwhile", id, got.Status)
	}
	if err != nil {
		return r, err
	}
	s.publishReservation(got)
	s.log.Info("reservation cancelled", "reservation", id, "charger", got.ChargerID, "by", by, "answer", res.Status)
	return got, nil
}

// useReservation records that a transaction started with a reservation:
// the one StartTransaction named, or else an active one of this connector
// (or of any connector) for the same tag, as chargers that omit the
// reservationId still end the reservation. Nothing here fails the start:
// the charger has decided, so a reservation that does not fit is logged.
func (s *Service) useReservation(ctx context.Context, chargerID string, reservationID *int, tx store.Transaction, parent string) {
	matches := func(r store.Reservation) bool {
		return r.IDTag == tx.IDTag || (r.ParentIDTag != "" && r.ParentIDTag == parent)
	}
	var r store.Reservation
	if reservationID != nil {
		var err error
		r, err = s.st.GetReservation(ctx, *reservationID)
		switch {
		case errors.Is(err, store.ErrNotFound):
			s.log.Warn("StartTransaction names an unknown reservation", "charger", chargerID, "reservation", *reservationID, "transaction", tx.ID)
			return
		case err != nil:
			s.log.Error("reading the reservation of a start", "charger", chargerID, "reservation", *reservationID, "err", err)
			return
		case r.ChargerID != chargerID:
			s.log.Warn("StartTransaction names a reservation of another charger", "charger", chargerID, "reservation", r.ID, "reservedAt", r.ChargerID, "transaction", tx.ID)
			return
		case !matches(r):
			s.log.Warn("StartTransaction names a reservation of another id tag", "charger", chargerID, "reservation", r.ID, "reservedFor", r.IDTag, "idTag", tx.IDTag, "transaction", tx.ID)
			return
		}
		if r.ConnectorID != 0 && r.ConnectorID != tx.ConnectorID {
			s.log.Warn("a reservation was used on another connector", "charger", chargerID, "reservation", r.ID, "reserved", r.ConnectorID, "connector", tx.ConnectorID)
		}
	} else {
		active := true
		rs, err := s.st.ListReservations(ctx, store.ReservationFilter{ChargerID: chargerID, Active: &active, Now: tx.StartRecvAt, Limit: 50})
		if err != nil {
			s.log.Error("reading the reservations of a start", "charger", chargerID, "err", err)
			return
		}
		found := false
		// The connector's own reservation first, then one of any connector.
		for _, want := range []int{tx.ConnectorID, 0} {
			for _, c := range rs {
				if !found && c.ConnectorID == want && matches(c) {
					r, found = c, true
				}
			}
		}
		if !found {
			return
		}
	}
	if r.Status == store.ReservationUsed {
		if r.TransactionID == nil || *r.TransactionID != tx.ID {
			s.log.Warn("StartTransaction names a reservation another transaction used", "charger", chargerID, "reservation", r.ID, "usedBy", r.TransactionID, "transaction", tx.ID)
		}
		return
	}
	reason := fmt.Sprintf("used by transaction %d", tx.ID)
	if reservationID == nil {
		reason += " (the charger did not name the reservation)"
	}
	id := tx.ID
	got, err := s.st.UpdateReservation(ctx, store.ReservationUpdate{
		ID: r.ID, Status: store.ReservationUsed, TransactionID: &id, Reason: reason, At: s.now(),
		From: []store.ReservationStatus{store.ReservationPending, store.ReservationAccepted, store.ReservationExpired,
			store.ReservationCancelled, store.ReservationFailed, store.ReservationOccupied, store.ReservationFaulted,
			store.ReservationUnavailable, store.ReservationRejected},
	})
	if err != nil {
		if !errors.Is(err, store.ErrConflict) || got.TransactionID == nil || *got.TransactionID != tx.ID {
			s.log.Warn("marking a reservation used", "charger", chargerID, "reservation", r.ID, "transaction", tx.ID, "err", err)
		}
		return
	}
	s.log.Info("reservation used", "charger", chargerID, "reservation", got.ID, "transaction", tx.ID)
	s.publishReservation(got)
}

// wakeSweep makes the sweep look at the next expiry again (a new
// reservation may expire before the one it waits for).
func (s *Service) wakeSweep() {
	select {
	case s.sweepWake <- struct{}{}:
	default:
	}
}

// sweepReservations marks reservations Expired as their expiry passes,
// until ctx ends. It sleeps until the earliest expiry (at least
// reservationSweepGap, at most the sweep interval, which catches what
// other nodes created), so it costs a query per wake-up, not per
// reservation or charger.
func (s *Service) sweepReservations(ctx context.Context) {
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-s.sweepWake:
		}
		now := s.now()
		s.expire(ctx, now, "")
		wait := s.cfg.ReservationSweepInterval
		next, err := s.st.NextReservationExpiry(ctx)
		if err != nil {
			if ctx.Err() == nil {
				s.log.Error("reading the next reservation expiry", "err", err)
			}
		} else if next != nil {
			wait = min(wait, max(next.Sub(now), reservationSweepGap))
		}
		t.Reset(wait)
	}
}

// expire marks the reservations of one charger (or all, for "") that are
// due Expired and publishes them, a page at a time.
func (s *Service) expire(ctx context.Context, now time.Time, chargerID string) {
	const page = 1000
	for ctx.Err() == nil {
		rs, err := s.st.ExpireReservations(ctx, now, chargerID, page)
		if err != nil {
			if ctx.Err() == nil {
				s.log.Error("expiring reservations", "charger", chargerID, "err", err)
			}
			return
		}
		for _, r := range rs {
			s.log.Info("reservation expired", "reservation", r.ID, "charger", r.ChargerID, "connector", r.ConnectorID)
			s.publishReservation(r)
		}
		if len(rs) < page {
			return
		}
	}
}
