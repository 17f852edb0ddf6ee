// Package ocppmsg is the runtime of the generated OCPP message packages
// (ocpp/v16, later ocpp/v201): the decoding steps and schema checks that every
// generated type shares, and the validation error that carries a JSON path
// until it becomes an *ocpp.Error. It exists so that the generated code stays
// short and the subtle rules (exact integers and multipleOf, code points for
// maxLength, RFC 3339 date-times, URIs) are written and tested once.
package ocppmsg

import (
	"strconv"

	"github.com/wattson-csms/wattson/internal/jsonlex"
	"github.com/wattson-csms/wattson/ocpp"
)

// Error is a schema violation at a JSON path. Paths are built from the inside
// out while the error travels up, so nothing is formatted unless a payload is
// actually invalid.
type Error struct {
	Code ocpp.ErrorCode
	Path string // e.g. meterValue[0].sampledValue[2].measurand; "" for the payload itself
	Msg  string
}

func (e *Error) Error() string {
	if e.Path == "" {
		return e.Msg
	}
	return e.Path + ": " + e.Msg
}

// In prefixes the path with a property name. It returns nil for nil.
func (e *Error) In(name string) *Error {
	if e == nil {
		return nil
	}
	switch {
	case e.Path == "":
		e.Path = name
	case e.Path[0] == '[':
		e.Path = name + e.Path
	default:
		e.Path = name + "." + e.Path
	}
	return e
}

// At prefixes the path with an array index. It returns nil for nil.
func (e *Error) At(i int) *Error {
	if e == nil {
		return nil
	}
	idx := "[" + strconv.Itoa(i) + "]"
	if e.Path == "" || e.Path[0] == '[' {
		e.Path = idx + e.Path
	} else {
		e.Path = idx + "." + e.Path
	}
	return e
}

// OCPP converts e to the CALLERROR the peer sees. nil stays a nil error, not
// a nil *ocpp.Error inside an interface.
func (e *Error) OCPP() error {
	if e == nil {
		return nil
	}
	return &ocpp.Error{Code: e.Code, Description: e.Error()}
}

// Errf returns an *Error without a path.
func Errf(code ocpp.ErrorCode, msg string) *Error { return &Error{Code: code, Msg: msg} }

// Missing is a required property that is absent.
func Missing(name string) *Error {
	return &Error{Code: ocpp.OccurenceConstraintViolation, Path: name, Msg: "required property is missing"}
}

// Syntax wraps malformed JSON.
func Syntax(err error) *Error {
	return &Error{Code: ocpp.FormationViolation, Msg: err.Error()}
}

func notAllowed(b []byte) *Error {
	return &Error{Code: ocpp.PropertyConstraintViolation, Msg: quote(b) + " is not an allowed value"}
}

// NotAllowed is a string outside an enum.
func NotAllowed(b []byte) *Error { return notAllowed(b) }

// quote renders a value for an error message, bounded so that a hostile
// payload cannot make the error itself large.
func quote(b []byte) string {
	const max = 64
	if len(b) > max {
		return strconv.Quote(string(b[:max])) + "..."
	}
	return strconv.Quote(string(b))
}

// kindName names a JSON type as JSON Schema does.
func kindName(k jsonlex.Kind) string {
	return k.String()
}
