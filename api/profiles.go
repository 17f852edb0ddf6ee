package api

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/wattson-csms/wattson/ocpp/v16"
	"github.com/wattson-csms/wattson/store"
)

// Charging profiles: set (SetChargingProfile), clear (ClearChargingProfile)
// and inspect them on any connector, and ask a connector for its composite
// schedule. OCPP 1.6 cannot read profiles back from a charger, so the
// profiles a charger accepted are recorded in the store, and the list is
// that record.

// Composite schedule durations.
const (
	defaultScheduleDuration = 24 * 60 * 60
	maxScheduleDuration     = 7 * 24 * 60 * 60
)

// sourceOperator is the source of profiles set through the API.
const sourceOperator = "operator"

// ChargingProfileJSON is a recorded charging profile.
type ChargingProfileJSON struct {
	ConnectorID       int    `json:"connectorId"`
	ChargingProfileID int    `json:"chargingProfileId"`
	StackLevel        int    `json:"stackLevel"`
	Purpose           string `json:"purpose"`
	// TransactionID is set for a TxProfile, else null.
	TransactionID *int64 `json:"transactionId"`
	// Source is who set it: "operator" (this API) or "smart-charging".
	Source string    `json:"source"`
	SetAt  time.Time `json:"setAt"`
	// Profile is the csChargingProfiles object as it was sent.
	Profile json.RawMessage `json:"profile"`
}

// purposeOrder sorts the list the way the charger stacks profiles: the
// charge point's maximum first, then defaults, then transaction profiles.
var purposeOrder = map[string]int{
	string(v16.ChargingProfilePurposeChargePointMaxProfile): 0,
	string(v16.ChargingProfilePurposeTxDefaultProfile):      1,
	string(v16.ChargingProfilePurposeTxProfile):             2,
}

// listChargingProfiles is GET /chargers/{id}/charging-profiles. Profiles
// the charger has dropped by itself are left out: those whose validTo has
// passed and TxProfiles whose transaction has stopped.
func (a *API) listChargingProfiles(w http.ResponseWriter, r *http.Request) error {
	c, err := a.charger(r)
	if err != nil {
		return err
	}
	recs, err := a.st.ListChargingProfiles(r.Context(), c.ID)
	if err != nil {
		return err
	}
	now := a.now()
	out := make([]ChargingProfileJSON, 0, len(recs))
	for _, p := range recs {
		ended, err := a.profileEnded(r.Context(), p, now)
		if err != nil {
			return err
		}
		if ended {
			continue
		}
		profile := p.Profile
		if !json.Valid(profile) {
			profile = json.RawMessage("null")
		}
		out = append(out, ChargingProfileJSON{
			ConnectorID: p.ConnectorID, ChargingProfileID: p.ProfileID, StackLevel: p.StackLevel,
			Purpose: p.Purpose, TransactionID: p.TransactionID, Source: p.Source, SetAt: p.SetAt.UTC(), Profile: profile,
		})
	}
	slices.SortFunc(out, func(x, y ChargingProfileJSON) int {
		return cmp.Or(cmp.Compare(x.ConnectorID, y.ConnectorID), cmp.Compare(purposeOrder[x.Purpose], purposeOrder[y.Purpose]),
			cmp.Compare(x.StackLevel, y.StackLevel), cmp.Compare(x.ChargingProfileID, y.ChargingProfileID))
	})
	return writeJSON(w, http.StatusOK, items(out))
}

// profileEnded reports whether the charger has dropped a recorded profile
// by itself: its validTo passed, or it is a TxProfile of a transaction that
// stopped.
func (a *API) profileEnded(ctx context.Context, p store.ChargingProfileRecord, now time.Time) (bool, error) {
	var prof struct {
		ValidTo *time.Time `json:"validTo"`
	}
	if json.Unmarshal(p.Profile, &prof) == nil && prof.ValidTo != nil && !now.Before(*prof.ValidTo) {
		return true, nil
	}
	if p.Purpose != string(v16.ChargingProfilePurposeTxProfile) || p.TransactionID == nil {
		return false, nil
	}
	tx, err := a.st.GetTransaction(ctx, *p.TransactionID)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return false, nil // started offline, not reported yet
	case err != nil:
		return false, err
	}
	return !tx.Active(), nil
}

// setChargingProfile is POST /chargers/{id}/charging-profiles: the body is a
// SetChargingProfile request, checked against the schema and the OCPP rules
// the schema cannot express before it is sent.
func (a *API) setChargingProfile(w http.ResponseWriter, r *http.Request) error {
	id, err := chargerID(r)
	if err != nil {
		return notFound("no charger %q", r.PathValue("id"))
	}
	body, err := readBody(w, r)
	if err != nil {
		return err
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return invalidBody("", "the body is empty; send a SetChargingProfile request {\"connectorId\":…,\"csChargingProfiles\":{…}}")
	}
	var req v16.SetChargingProfileRequest
	if err := req.UnmarshalOCPP(body); err != nil {
		return schemaError(err)
	}
	if err := checkProfile(req.ConnectorID, &req.CsChargingProfiles); err != nil {
		return err
	}
	p := &req.CsChargingProfiles
	if n := a.cfg.ReservedStackLevel; n != 0 && p.StackLevel == n {
		return &Error{Kind: KindConflict, Field: "csChargingProfiles.stackLevel", Detail: fmt.Sprintf("stack level %d is reserved for smart charging", n)}
	}
	if p.ChargingProfilePurpose == v16.ChargingProfilePurposeTxProfile {
		if err := a.profileTransaction(r.Context(), id, req.ConnectorID, p); err != nil {
			return err
		}
	}
	answer, err := a.call(r.Context(), id, "SetChargingProfile", req.AppendJSON(nil))
	if err != nil {
		return err
	}
	var res v16.SetChargingProfileResponse
	if err := res.UnmarshalOCPP(answer); err != nil {
		return err // csms validated it; cannot happen
	}
	if res.Status != v16.ChargingProfileStatusAccepted {
		return &Error{Kind: KindCommandRejected, Detail: fmt.Sprintf("the charger answered SetChargingProfile with %s", res.Status), Answer: answer}
	}
	rec := store.ChargingProfileRecord{
		ChargerID: id, ConnectorID: req.ConnectorID, ProfileID: p.ChargingProfileID, StackLevel: p.StackLevel,
		Purpose: string(p.ChargingProfilePurpose), Profile: p.AppendJSON(nil), Source: sourceOperator, SetAt: a.now(),
	}
	if p.TransactionID != nil {
		tx := int64(*p.TransactionID)
		rec.TransactionID = &tx
	}
	if err := a.st.PutChargingProfile(r.Context(), rec); err != nil {
		return fmt.Errorf("recording the charging profile %d the charger %q accepted: %w", p.ChargingProfileID, id, err)
	}
	return writeJSON(w, http.StatusOK, map[string]string{"status": string(res.Status)})
}

// checkProfile checks the OCPP 1.6 rules of a SetChargingProfile that its
// schema does not express. Fields are named as in the request body.
func checkProfile(connectorID int, p *v16.ChargingProfile) error {
	const f = "csChargingProfiles."
	switch {
	case connectorID < 0:
		return invalidBody("connectorId", "connectorId must be 0 (the whole charger) or more")
	case p.ChargingProfilePurpose == v16.ChargingProfilePurposeChargePointMaxProfile && connectorID != 0:
		return invalidBody("connectorId", "a ChargePointMaxProfile limits the whole charger: connectorId must be 0")
	case p.ChargingProfilePurpose == v16.ChargingProfilePurposeTxProfile && connectorID == 0:
		return invalidBody("connectorId", "a TxProfile applies to a connector's transaction: connectorId must be 1 or more")
	case p.TransactionID != nil && p.ChargingProfilePurpose != v16.ChargingProfilePurposeTxProfile:
		return invalidBody(f+"transactionId", "only a TxProfile names a transaction")
	case p.StackLevel < 0:
		return invalidBody(f+"stackLevel", "stackLevel must be 0 or more")
	case p.ChargingProfileKind == v16.ChargingProfileKindRecurring && p.RecurrencyKind == "":
		return invalidBody(f+"recurrencyKind", "a Recurring profile needs recurrencyKind (Daily or Weekly)")
	case p.ValidFrom != nil && p.ValidTo != nil && !p.ValidFrom.Before(*p.ValidTo):
		return invalidBody(f+"validTo", "validTo must be after validFrom")
	}
	s := &p.ChargingSchedule
	const fs = f + "chargingSchedule."
	switch {
	case s.Duration != nil && *s.Duration <= 0:
		return invalidBody(fs+"duration", "duration must be a positive number of seconds")
	case s.MinChargingRate != nil && *s.MinChargingRate < 0:
		return invalidBody(fs+"minChargingRate", "minChargingRate must not be negative")
	case len(s.ChargingSchedulePeriod) == 0:
		return invalidBody(fs+"chargingSchedulePeriod", "chargingSchedulePeriod needs at least one period")
	}
	for i, per := range s.ChargingSchedulePeriod {
		at := fmt.Sprintf("%schargingSchedulePeriod[%d].", fs, i)
		switch {
		case i == 0 && per.StartPeriod != 0:
			return invalidBody(at+"startPeriod", "the first period must start at 0")
		case i > 0 && per.StartPeriod <= s.ChargingSchedulePeriod[i-1].StartPeriod:
			return invalidBody(at+"startPeriod", "periods must start in increasing order")
		case per.Limit < 0:
			return invalidBody(at+"limit", "limit must not be negative")
		case per.NumberPhases != nil && (*per.NumberPhases < 1 || *per.NumberPhases > 3):
			return invalidBody(at+"numberPhases", "numberPhases must be 1, 2 or 3")
		}
	}
	return nil
}

// profileTransaction checks or fills the transaction of a TxProfile: the
// one the body names must be running on that connector; without one, the
// connector's running transaction is used.
func (a *API) profileTransaction(ctx context.Context, chargerID string, connectorID int, p *v16.ChargingProfile) error {
	const field = "csChargingProfiles.transactionId"
	if p.TransactionID == nil {
		txID, err := a.activeTransaction(ctx, chargerID, connectorID)
		if err != nil {
			return err
		}
		if txID > 1<<31-1 {
			return &Error{Kind: KindConflict, Field: field, Detail: fmt.Sprintf("transaction %d does not fit OCPP's transactionId", txID)}
		}
		n := int(txID)
		p.TransactionID = &n
		return nil
	}
	txID := int64(*p.TransactionID)
	tx, err := a.st.GetTransaction(ctx, txID)
	switch {
	case errors.Is(err, store.ErrNotFound):
		// The charger may know a transaction the store does not have yet
		// (started offline): it decides.
		return nil
	case err != nil:
		return err
	case tx.ChargerID != chargerID:
		return &Error{Kind: KindConflict, Field: field, Detail: fmt.Sprintf("transaction %d runs on charger %q, not %q", txID, tx.ChargerID, chargerID)}
	case !tx.Active():
		return &Error{Kind: KindNoActiveTransaction, Field: field, Detail: fmt.Sprintf("transaction %d is already stopped", txID)}
	case tx.ConnectorID != connectorID:
		return &Error{Kind: KindConflict, Field: field, Detail: fmt.Sprintf("transaction %d runs on connector %d, not %d", txID, tx.ConnectorID, connectorID)}
	}
	return nil
}

// ClearProfilesAnswer is the answer of DELETE
// /chargers/{id}/charging-profiles.
type ClearProfilesAnswer struct {
	Status string `json:"status"` // Accepted or Unknown
	// Cleared is how many recorded profiles the charger cleared; 0 when
	// it answered Unknown (records that matched were stale and are gone
	// too).
	Cleared int64 `json:"cleared"`
}

// clearChargingProfiles is DELETE /chargers/{id}/charging-profiles: a
// ClearChargingProfile with the query's filters; without any, every
// profile of the charger is cleared.
func (a *API) clearChargingProfiles(w http.ResponseWriter, r *http.Request) error {
	id, err := chargerID(r)
	if err != nil {
		return notFound("no charger %q", r.PathValue("id"))
	}
	q := newQuery(r)
	var (
		req v16.ClearChargingProfileRequest
		f   store.ProfileFilter
	)
	req.ID = intParam(q, "id", -(1 << 31), 1<<31-1)
	req.ConnectorID = intParam(q, "connectorId", 0, 1<<31-1)
	req.StackLevel = intParam(q, "stackLevel", 0, 1<<31-1)
	switch purpose := v16.ChargingProfilePurpose(q.str("purpose", 30)); {
	case purpose == "":
	case purpose.Valid():
		req.ChargingProfilePurpose = purpose
	default:
		q.fail("purpose", "purpose must be ChargePointMaxProfile, TxDefaultProfile or TxProfile")
	}
	if q.err != nil {
		return q.err
	}
	// A charger that gets an id clears that profile whatever the other
	// fields say; mixing them would make the record disagree with it.
	if req.ID != nil && (req.ConnectorID != nil || req.StackLevel != nil || req.ChargingProfilePurpose != "") {
		return invalidParam("id", "give id alone, or any of connectorId, purpose and stackLevel")
	}
	f.ProfileID, f.ConnectorID, f.StackLevel, f.Purpose = req.ID, req.ConnectorID, req.StackLevel, string(req.ChargingProfilePurpose)

	answer, err := a.call(r.Context(), id, "ClearChargingProfile", req.AppendJSON(nil))
	if err != nil {
		return err
	}
	var res v16.ClearChargingProfileResponse
	if err := res.UnmarshalOCPP(answer); err != nil {
		return err // csms validated it; cannot happen
	}
	n, err := a.st.ClearChargingProfiles(r.Context(), id, f)
	if err != nil {
		return fmt.Errorf("clearing the records of charger %q's charging profiles: %w", id, err)
	}
	if res.Status != v16.ClearChargingProfileStatusAccepted {
		n = 0
	}
	return writeJSON(w, http.StatusOK, ClearProfilesAnswer{Status: string(res.Status), Cleared: n})
}

// compositeSchedule is GET
// /chargers/{id}/connectors/{connectorId}/composite-schedule: what the
// charger will allow over the next duration seconds, all profiles combined.
func (a *API) compositeSchedule(w http.ResponseWriter, r *http.Request) error {
	id, err := chargerID(r)
	if err != nil {
		return notFound("no charger %q", r.PathValue("id"))
	}
	conn, err := intPath(r, "connectorId", 0, 1<<31-1)
	if err != nil {
		return err
	}
	q := newQuery(r)
	req := v16.GetCompositeScheduleRequest{ConnectorID: int(conn), Duration: defaultScheduleDuration}
	if d := intParam(q, "duration", 1, maxScheduleDuration); d != nil {
		req.Duration = *d
	}
	switch unit := v16.ChargingRateUnit(q.str("unit", 1)); unit {
	case "", v16.ChargingRateUnitA, v16.ChargingRateUnitW:
		req.ChargingRateUnit = unit
	default:
		q.fail("unit", "unit must be A or W")
	}
	if q.err != nil {
		return q.err
	}
	answer, err := a.call(r.Context(), id, "GetCompositeSchedule", req.AppendJSON(nil))
	if err != nil {
		return err
	}
	var res v16.GetCompositeScheduleResponse
	if err := res.UnmarshalOCPP(answer); err != nil {
		return err // csms validated it; cannot happen
	}
	if res.Status != v16.GenericStatusAccepted {
		return &Error{Kind: KindCommandRejected, Detail: fmt.Sprintf("the charger answered GetCompositeSchedule with %s", res.Status), Answer: answer}
	}
	if res.ConnectorID == nil {
		n := int(conn)
		res.ConnectorID = &n
	}
	return writeRaw(w, res.AppendJSON(nil))
}

// intParam returns an integer parameter in [min, max], nil when absent.
func intParam(q *query, name string, min, max int) *int {
	v := q.str(name, 12)
	if v == "" {
		return nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < min || n > max {
		q.fail(name, "%s must be an integer from %d to %d", name, min, max)
		return nil
	}
	return &n
}
