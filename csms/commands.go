package csms

import (
	"context"
	"errors"
	"fmt"

	"github.com/wattson-csms/wattson/ocpp"
	"github.com/wattson-csms/wattson/ocpp/v16"
	"github.com/wattson-csms/wattson/store"
)

// Errors of Call, besides *ocpp.Error (the charger answered with a
// CALLERROR), ocpp.ErrTimeout and ocpp.ErrClosed.
var (
	ErrUnknownCharger = errors.New("unknown charger")
	ErrNotConnected   = errors.New("charger is not connected")
)

// RequestError is a command refused before anything was sent: an unknown
// action, one the charger side initiates, or a payload that breaks the
// schema (Err names the field).
type RequestError struct {
	Action string
	Err    error
}

func (e *RequestError) Error() string { return fmt.Sprintf("%s: %v", e.Action, e.Err) }
func (e *RequestError) Unwrap() error { return e.Err }

// ResponseError is a CALLRESULT from the charger that breaks the schema.
type ResponseError struct {
	Action  string
	Payload []byte
	Err     error
}

func (e *ResponseError) Error() string {
	return fmt.Sprintf("the charger's answer to %s is invalid: %v", e.Action, e.Err)
}
func (e *ResponseError) Unwrap() error { return e.Err }

// Call sends a central-system-initiated OCPP 1.6 action with a raw JSON
// payload to a charger and returns the charger's CALLRESULT payload. The
// payload is validated first; nothing is sent if it is invalid.
func (s *Service) Call(ctx context.Context, chargerID, action string, payload []byte) ([]byte, error) {
	info, ok := v16.Lookup(action)
	if !ok {
		return nil, &RequestError{Action: action, Err: fmt.Errorf("%q is not an OCPP 1.6 action", action)}
	}
	if !info.Initiator.SentBy(v16.CentralSystem) {
		return nil, &RequestError{Action: action, Err: fmt.Errorf("%s is sent by chargers, not to them", action)}
	}
	if len(payload) == 0 {
		payload = []byte("{}")
	}
	req := info.NewRequest()
	if err := req.UnmarshalOCPP(payload); err != nil {
		return nil, &RequestError{Action: action, Err: err}
	}
	conn, err := s.conn(ctx, chargerID)
	if err != nil {
		return nil, err
	}
	// Re-encode the validated value: what goes out is exactly what passed.
	answer, err := conn.Call(ctx, action, req)
	if err != nil {
		return nil, err
	}
	if err := info.NewResponse().UnmarshalOCPP(answer); err != nil {
		return answer, &ResponseError{Action: action, Payload: answer, Err: err}
	}
	return answer, nil
}

// Caller returns an ocpp.Caller for a connected charger, for the typed
// v16.Call<Action> functions.
func (s *Service) Caller(ctx context.Context, chargerID string) (ocpp.Caller, error) {
	return s.conn(ctx, chargerID)
}

func (s *Service) conn(ctx context.Context, chargerID string) (*ocpp.Conn, error) {
	s.mu.Lock()
	ses := s.sessions[chargerID]
	s.mu.Unlock()
	if ses != nil {
		return ses.conn, nil
	}
	if _, err := s.st.GetCharger(ctx, chargerID); errors.Is(err, store.ErrNotFound) {
		return nil, fmt.Errorf("%w: %s", ErrUnknownCharger, chargerID)
	} else if err != nil {
		return nil, err
	}
	return nil, fmt.Errorf("%w: %s", ErrNotConnected, chargerID)
}
