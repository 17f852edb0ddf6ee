package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"time"

	"github.com/wattson-csms/wattson/csms"
	"github.com/wattson-csms/wattson/ocpp"
	"github.com/wattson-csms/wattson/store"
)

// Reservations: a connector, or any connector of a charger, kept for one id
// tag until an expiry (ReserveNow), cancelled with CancelReservation. What
// is checked and sent is csms.Service.Reserve's; here are the HTTP shapes
// and the statuses.

// ReservationRequest is the body of POST /reservations: the expiry as a
// time or as a duration from now, one of the two.
type ReservationRequest struct {
	ChargerID   string  `json:"chargerId"`
	ConnectorID *int    `json:"connectorId"`
	IDTag       string  `json:"idTag"`
	ExpiryDate  *string `json:"expiryDate"`
	Duration    *int64  `json:"duration"` // seconds
}

func (a *API) listReservations(w http.ResponseWriter, r *http.Request) error {
	q := newQuery(r)
	f := store.ReservationFilter{
		ChargerID: q.str("chargerId", 48),
		IDTag:     q.str("idTag", maxIDTag),
		Status:    store.ReservationStatus(q.str("status", 20)),
		Active:    q.boolean("active"),
		Now:       a.now(),
		Limit:     q.limit(),
	}
	if b := q.id("before"); b > 0 {
		f.Before = int(min(b, math.MaxInt32+1))
	}
	if q.err == nil && f.Status != "" && !f.Status.Valid() {
		q.fail("status", "status must be one of %v", store.ReservationStatuses)
	}
	if q.err != nil {
		return q.err
	}
	limit := f.Limit
	f.Limit = fetchLimit(limit)
	rs, err := a.st.ListReservations(r.Context(), f)
	if err != nil {
		return err
	}
	out := make([]csms.ReservationJSON, len(rs))
	for i, res := range rs {
		out[i] = csms.ReservationToJSON(res, f.Now)
	}
	return writeJSON(w, http.StatusOK, page(out, limit, func(v csms.ReservationJSON) string { return strconv.Itoa(v.ID) }))
}

func reservationID(r *http.Request) (int, error) {
	id, err := intPath(r, "id", 1, math.MaxInt32)
	return int(id), err
}

func (a *API) getReservation(w http.ResponseWriter, r *http.Request) error {
	id, err := reservationID(r)
	if err != nil {
		return err
	}
	res, err := a.st.GetReservation(r.Context(), id)
	if errors.Is(err, store.ErrNotFound) {
		return notFound("no reservation %d", id)
	}
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, csms.ReservationToJSON(res, a.now()))
}

// createReservation is POST /reservations: 201 once the charger accepted
// the ReserveNow; 409 with the charger's status when it refused (the
// reservation is kept with that status).
func (a *API) createReservation(w http.ResponseWriter, r *http.Request) error {
	var body ReservationRequest
	if err := decodeBody(w, r, &body); err != nil {
		return err
	}
	if err := ocpp.ValidateChargerID(body.ChargerID); err != nil {
		return invalidBody("chargerId", "chargerId: %v", err)
	}
	switch {
	case body.ConnectorID == nil:
		return invalidBody("connectorId", "connectorId is required (0 reserves any connector of the charger)")
	case *body.ConnectorID < 0 || *body.ConnectorID > math.MaxInt32:
		return invalidBody("connectorId", "connectorId must be 0 (any connector) or a connector number")
	}
	if why := checkIDTag(body.IDTag); why != "" {
		return invalidBody("idTag", "idTag %s", why)
	}
	now := a.now()
	var expires time.Time
	switch {
	case body.ExpiryDate != nil && body.Duration != nil:
		return invalidBody("duration", "give expiryDate or duration, not both")
	case body.ExpiryDate != nil:
		t, err := time.Parse(time.RFC3339Nano, *body.ExpiryDate)
		if err != nil {
			return invalidBody("expiryDate", "expiryDate must be an RFC 3339 date-time such as 2024-05-01T12:00:00Z")
		}
		expires = t.UTC()
	case body.Duration != nil:
		if *body.Duration < 1 || *body.Duration > int64(math.MaxInt32) {
			return invalidBody("duration", "duration must be a positive number of seconds")
		}
		expires = now.Add(time.Duration(*body.Duration) * time.Second)
	default:
		return invalidBody("expiryDate", "give expiryDate (RFC 3339) or duration (seconds)")
	}
	// OCPP's dateTime has no use for more than a second's precision, and
	// the charger compares it with its own clock.
	expires = expires.Truncate(time.Second)

	ctx, cancel := a.commandContext(r)
	defer cancel()
	res, err := a.svc.Reserve(ctx, csms.ReserveRequest{
		ChargerID: body.ChargerID, ConnectorID: *body.ConnectorID, IDTag: body.IDTag, ExpiresAt: expires,
		CreatedBy: createdBy(principalOf(r)),
	})
	if err != nil {
		return reservationError(err)
	}
	w.Header().Set("Location", fmt.Sprintf("%s/reservations/%d", Prefix, res.ID))
	return writeJSON(w, http.StatusCreated, csms.ReservationToJSON(res, a.now()))
}

// cancelReservation is DELETE /reservations/{id}: CancelReservation to the
// charger, then the reservation as it is now (Cancelled).
func (a *API) cancelReservation(w http.ResponseWriter, r *http.Request) error {
	id, err := reservationID(r)
	if err != nil {
		return err
	}
	ctx, cancel := a.commandContext(r)
	defer cancel()
	res, err := a.svc.CancelReservation(ctx, id, createdBy(principalOf(r)))
	if errors.Is(err, store.ErrNotFound) {
		return notFound("no reservation %d", id)
	}
	if err != nil {
		return reservationError(err)
	}
	return writeJSON(w, http.StatusOK, csms.ReservationToJSON(res, a.now()))
}

// commandContext bounds the wait for the charger's answer, as a.call does.
func (a *API) commandContext(r *http.Request) (context.Context, context.CancelFunc) {
	return context.WithTimeout(r.Context(), a.cfg.CommandTimeout)
}

// reservationError maps the errors of Reserve and CancelReservation that
// problemOf does not know.
func reservationError(err error) error {
	var (
		re      *csms.ReservationError
		refused *csms.ReservationRefused
	)
	switch {
	case errors.As(err, &re):
		kind := KindInvalidPayload
		if re.Conflict {
			kind = KindConflict
		}
		return &Error{Kind: kind, Field: re.Field, Detail: re.Msg, Err: err}
	case errors.As(err, &refused):
		answer, _ := json.Marshal(map[string]any{"status": refused.Status})
		return &Error{Kind: KindCommandRejected, Detail: fmt.Sprintf("the charger refused reservation %d: %s", refused.Reservation.ID, refused.Status),
			Answer: answer, Err: err}
	}
	return err
}

// createdBy names who made a request, for the record.
func createdBy(p principal) string {
	switch {
	case p.user != nil:
		return p.user.Username
	case p.tokenID != 0:
		return fmt.Sprintf("token #%d", p.tokenID)
	}
	return "admin token"
}
