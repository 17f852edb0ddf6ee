package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"unicode/utf8"

	"github.com/wattson-csms/wattson/ocpp"
	"github.com/wattson-csms/wattson/ocpp/v16"
	"github.com/wattson-csms/wattson/store"
)

// call sends an OCPP action to a charger through the central system,
// waiting at most CommandTimeout for the answer.
func (a *API) call(ctx context.Context, chargerID, action string, payload []byte) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, a.cfg.CommandTimeout)
	defer cancel()
	return a.svc.Call(ctx, chargerID, action, payload)
}

// ocppCall is POST /chargers/{id}/ocpp/{action}: the body is the OCPP
// payload, the answer is the charger's CALLRESULT payload.
func (a *API) ocppCall(w http.ResponseWriter, r *http.Request) error {
	id, err := chargerID(r)
	if err != nil {
		return notFound("no charger %q", r.PathValue("id"))
	}
	action := r.PathValue("action")
	info, ok := v16.Lookup(action)
	if !ok {
		return &Error{Kind: KindUnknownAction, Detail: fmt.Sprintf("%q is not an OCPP 1.6 action (names are case-sensitive, e.g. RemoteStartTransaction)", action)}
	}
	if !info.Initiator.SentBy(v16.CentralSystem) {
		return &Error{Kind: KindUnknownAction, Detail: fmt.Sprintf("%s is sent by chargers, not to them", action)}
	}
	body, err := readBody(w, r)
	if err != nil {
		return err
	}
	if len(bytes.TrimSpace(body)) == 0 {
		body = []byte("{}")
	}
	answer, err := a.call(r.Context(), id, action, body)
	if err != nil {
		return err
	}
	if action == "ChangeConfiguration" {
		a.recordRawChange(r.Context(), id, body, answer)
	}
	return writeRaw(w, answer)
}

func writeRaw(w http.ResponseWriter, b []byte) error {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(append(b, '\n'))
	return nil
}

// StartRequest is the body of POST /chargers/{id}/start.
type StartRequest struct {
	ConnectorID *int   `json:"connectorId"`
	IDTag       string `json:"idTag"`
	// ChargingProfile is an OCPP 1.6 ChargingProfile with purpose
	// TxProfile, sent as is.
	ChargingProfile json.RawMessage `json:"chargingProfile"`
}

// startPayload is the RemoteStartTransaction payload built from a
// StartRequest; the field names are OCPP's, so validation errors name the
// same fields as the API's body.
type startPayload struct {
	ConnectorID     *int            `json:"connectorId,omitempty"`
	IDTag           string          `json:"idTag"`
	ChargingProfile json.RawMessage `json:"chargingProfile,omitempty"`
}

func (a *API) start(w http.ResponseWriter, r *http.Request) error {
	id, err := chargerID(r)
	if err != nil {
		return notFound("no charger %q", r.PathValue("id"))
	}
	var body StartRequest
	if err := decodeBody(w, r, &body); err != nil {
		return err
	}
	switch {
	case body.IDTag == "":
		return invalidBody("idTag", "idTag is required")
	case utf8.RuneCountInString(body.IDTag) > maxIDTag:
		return invalidBody("idTag", "idTag must be at most %d characters", maxIDTag)
	case body.ConnectorID != nil && *body.ConnectorID < 1:
		return invalidBody("connectorId", "connectorId must be 1 or more")
	}
	if bytes.Equal(bytes.TrimSpace(body.ChargingProfile), []byte("null")) {
		body.ChargingProfile = nil
	}
	payload, err := json.Marshal(startPayload(body))
	if err != nil {
		return err
	}
	// Decode as the charger will, to check what OCPP asks beyond the
	// schema: a remote start's profile is a TxProfile without a
	// transaction (there is none yet).
	var req v16.RemoteStartTransactionRequest
	if err := req.UnmarshalOCPP(payload); err != nil {
		return schemaError(err)
	}
	if p := req.ChargingProfile; p != nil {
		if p.ChargingProfilePurpose != v16.ChargingProfilePurposeTxProfile {
			return invalidBody("chargingProfile.chargingProfilePurpose", "a remote start's charging profile must have the purpose TxProfile")
		}
		if p.TransactionID != nil {
			return invalidBody("chargingProfile.transactionId", "a remote start's charging profile cannot name a transaction")
		}
	}
	answer, err := a.call(r.Context(), id, "RemoteStartTransaction", payload)
	if err != nil {
		return err
	}
	return commandAnswer(w, "RemoteStartTransaction", answer)
}

// commandAnswer returns a charger's {"status": …} answer, as a 409 when it
// said Rejected.
func commandAnswer(w http.ResponseWriter, action string, answer []byte) error {
	var res struct {
		Status string `json:"status"`
	}
	if err := json.Unmarshal(answer, &res); err != nil {
		return err // csms validated it; cannot happen
	}
	if res.Status != string(v16.GenericStatusAccepted) {
		return &Error{Kind: KindCommandRejected, Detail: fmt.Sprintf("the charger answered %s with %s", action, res.Status), Answer: answer}
	}
	return writeRaw(w, answer)
}

// StopRequest is the body of POST /chargers/{id}/stop: a transaction, or a
// connector whose active transaction is stopped.
type StopRequest struct {
	TransactionID *int64 `json:"transactionId"`
	ConnectorID   *int   `json:"connectorId"`
}

func (a *API) stop(w http.ResponseWriter, r *http.Request) error {
	id, err := chargerID(r)
	if err != nil {
		return notFound("no charger %q", r.PathValue("id"))
	}
	var body StopRequest
	if err := decodeBody(w, r, &body); err != nil {
		return err
	}
	var txID int64
	switch {
	case body.TransactionID != nil && body.ConnectorID != nil:
		return invalidBody("connectorId", "give transactionId or connectorId, not both")
	case body.TransactionID != nil:
		txID = *body.TransactionID
		if txID < 1 || txID > 1<<31-1 {
			return invalidBody("transactionId", "transactionId must be a positive 32-bit integer")
		}
		// The charger may know a transaction the store does not have yet
		// (started offline), so an unknown one is still sent.
		tx, err := a.st.GetTransaction(r.Context(), txID)
		switch {
		case errors.Is(err, store.ErrNotFound):
		case err != nil:
			return err
		case tx.ChargerID != id:
			return &Error{Kind: KindConflict, Field: "transactionId", Detail: fmt.Sprintf("transaction %d runs on charger %q, not %q", txID, tx.ChargerID, id)}
		case !tx.Active():
			return &Error{Kind: KindNoActiveTransaction, Field: "transactionId", Detail: fmt.Sprintf("transaction %d is already stopped", txID)}
		}
	case body.ConnectorID != nil:
		if *body.ConnectorID < 1 {
			return invalidBody("connectorId", "connectorId must be 1 or more")
		}
		txID, err = a.activeTransaction(r.Context(), id, *body.ConnectorID)
		if err != nil {
			return err
		}
	default:
		return invalidBody("transactionId", "give transactionId or connectorId")
	}
	payload := fmt.Appendf(nil, `{"transactionId":%d}`, txID)
	answer, err := a.call(r.Context(), id, "RemoteStopTransaction", payload)
	if err != nil {
		return err
	}
	return commandAnswer(w, "RemoteStopTransaction", answer)
}

// activeTransaction finds the running transaction on a connector.
func (a *API) activeTransaction(ctx context.Context, chargerID string, connectorID int) (int64, error) {
	if _, err := a.st.GetCharger(ctx, chargerID); errors.Is(err, store.ErrNotFound) {
		return 0, notFound("no charger %q", chargerID)
	} else if err != nil {
		return 0, err
	}
	active := true
	f := store.TxFilter{ChargerID: chargerID, Active: &active, Limit: maxLimit}
	for {
		txs, err := a.st.ListTransactions(ctx, f)
		if err != nil {
			return 0, err
		}
		for _, tx := range txs {
			if tx.ConnectorID == connectorID {
				return tx.ID, nil // newest first
			}
		}
		if len(txs) < f.Limit {
			return 0, &Error{Kind: KindNoActiveTransaction, Field: "connectorId", Detail: fmt.Sprintf("no transaction is running on connector %d of %q", connectorID, chargerID)}
		}
		f.Before = txs[len(txs)-1].ID
	}
}

// schemaError is a 400 for a payload that breaks an OCPP schema; the field
// comes from the violation's path.
func schemaError(err error) *Error {
	e := &Error{Kind: KindInvalidPayload, Detail: err.Error(), Err: err}
	if oe, ok := ocpp.AsError(err); ok {
		e.Detail, e.Field = oe.Description, fieldOf(oe)
	}
	return e
}
