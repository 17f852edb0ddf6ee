// Package v16 owns the messages of OCPP 1.6J and its security extension:
// a Go type per request and response payload, generated from the official
// JSON schemas by internal/cmd/ocppgen, with decoding that validates exactly
// what the schemas say, encoding, the table of actions with who initiates
// them, a Router that dispatches incoming CALLs to typed handlers, and typed
// Call functions for outgoing CALLs.
//
// Validation follows the schemas, not more: a payload this package accepts
// is accepted by a strict peer that checks the same schemas (formats
// included). The tests compare both on every action.
package v16

import (
	"context"
	"fmt"

	"github.com/wattson-csms/wattson/internal/ocppmsg"
	"github.com/wattson-csms/wattson/ocpp"
)

// Message is a generated payload type.
type Message interface {
	ocpp.Payload
	// UnmarshalOCPP decodes and validates a payload; errors are *ocpp.Error.
	UnmarshalOCPP(data []byte) error
	// Validate checks a value built in Go before it is sent.
	Validate() error
}

// Request is the payload of a CALL.
type Request interface {
	Message
	Action() string
}

// Initiator is the side that sends an action's CALL.
type Initiator uint8

// The initiators.
const (
	ChargePoint Initiator = iota + 1
	CentralSystem
	Both
)

func (i Initiator) String() string {
	switch i {
	case ChargePoint:
		return "ChargePoint"
	case CentralSystem:
		return "CentralSystem"
	case Both:
		return "Both"
	}
	return fmt.Sprintf("Initiator(%d)", uint8(i))
}

// SentBy reports whether a CALL of this initiator may come from side s
// (ChargePoint or CentralSystem).
func (i Initiator) SentBy(s Initiator) bool { return i == Both || i == s }

// ActionInfo describes one action.
type ActionInfo struct {
	Name      string
	Initiator Initiator
	// NewRequest and NewResponse return a new zero payload of the action.
	NewRequest  func() Request
	NewResponse func() Message
}

// Actions returns every OCPP 1.6 action, in name order.
func Actions() []ActionInfo {
	out := make([]ActionInfo, len(actionTable))
	copy(out, actionTable[:])
	return out
}

// Lookup returns the action with the given name.
func Lookup(action string) (ActionInfo, bool) {
	i := actionIndex(action)
	if i < 0 {
		return ActionInfo{}, false
	}
	return actionTable[i], true
}

func unknownAction(action string) error {
	return ocpp.Errorf(ocpp.NotImplemented, "unknown action %q", action)
}

// Router is an ocpp.Handler that decodes each CALL into its request type,
// calls the handler registered for the action and validates the response.
// Register handlers before the Router serves; registration is not safe
// concurrently with ServeCall.
type Router struct {
	handlers [numActions]func(ctx context.Context, c *ocpp.Conn, payload []byte) (ocpp.Payload, error)
}

// ServeCall dispatches a CALL. An action that OCPP 1.6 does not define is
// NotImplemented; a 1.6 action without a handler is NotSupported; a payload
// that fails validation is answered with the code of its violation. Handler
// errors pass through unchanged. A missing or invalid response is the
// central system's bug and becomes InternalError rather than a frame that a
// strict peer would reject.
func (r *Router) ServeCall(ctx context.Context, req *ocpp.Request) (ocpp.Payload, error) {
	i := actionIndex(req.Action)
	if i < 0 {
		return nil, unknownAction(req.Action)
	}
	h := r.handlers[i]
	if h == nil {
		return nil, ocpp.Errorf(ocpp.NotSupported, "action %s is not supported", req.Action)
	}
	return h(ctx, req.Conn, req.Payload)
}

// Handles reports whether a handler is registered for an action.
func (r *Router) Handles(action string) bool {
	i := actionIndex(action)
	return i >= 0 && r.handlers[i] != nil
}

func nilResponse(action string) error {
	return ocpp.Errorf(ocpp.InternalError, "the %s handler returned no response", action)
}

func invalidResponse(action string, err *ocppmsg.Error) error {
	return ocpp.Errorf(ocpp.InternalError, "the %s handler returned an invalid response: %s", action, err.Error())
}

// call validates req, sends it and decodes the peer's answer into resp.
func call(ctx context.Context, c ocpp.Caller, req Request, resp Message) error {
	if err := req.Validate(); err != nil {
		return err
	}
	payload, err := c.Call(ctx, req.Action(), req)
	if err != nil {
		return err
	}
	if err := resp.UnmarshalOCPP(payload); err != nil {
		// Wrapping keeps the *ocpp.Error (and its code) reachable with
		// ocpp.AsError, while saying it was the peer that broke the schema.
		return fmt.Errorf("ocpp: %s: the peer's response is invalid: %w", req.Action(), err)
	}
	return nil
}
