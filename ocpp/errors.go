package ocpp

import (
	"errors"
	"fmt"
)

// ErrorCode is the errorCode of a CALLERROR.
type ErrorCode string

// The CALLERROR codes of OCPP-J 1.6. OccurenceConstraintViolation is spelled
// as in the specification.
const (
	NotImplemented                ErrorCode = "NotImplemented"
	NotSupported                  ErrorCode = "NotSupported"
	InternalError                 ErrorCode = "InternalError"
	ProtocolError                 ErrorCode = "ProtocolError"
	SecurityError                 ErrorCode = "SecurityError"
	FormationViolation            ErrorCode = "FormationViolation"
	PropertyConstraintViolation   ErrorCode = "PropertyConstraintViolation"
	OccurenceConstraintViolation  ErrorCode = "OccurenceConstraintViolation"
	TypeConstraintViolation       ErrorCode = "TypeConstraintViolation"
	GenericError                  ErrorCode = "GenericError"
	occurrenceConstraintViolation ErrorCode = "OccurrenceConstraintViolation" // 2.0.1 spelling, accepted on input
)

// Valid reports whether c is a 1.6 error code.
func (c ErrorCode) Valid() bool {
	switch c {
	case NotImplemented, NotSupported, InternalError, ProtocolError, SecurityError, FormationViolation,
		PropertyConstraintViolation, OccurenceConstraintViolation, TypeConstraintViolation, GenericError,
		occurrenceConstraintViolation:
		return true
	}
	return false
}

// Error is an OCPP CALLERROR: what a handler returns to refuse a CALL, and
// what Conn.Call returns when the peer answered with one.
type Error struct {
	Code        ErrorCode
	Description string
	// Details is a JSON object, or nil for {}.
	Details []byte
}

func (e *Error) Error() string {
	if e.Description == "" {
		return "ocpp: " + string(e.Code)
	}
	return "ocpp: " + string(e.Code) + ": " + e.Description
}

// Errorf returns an *Error with a formatted description.
func Errorf(code ErrorCode, format string, args ...any) *Error {
	return &Error{Code: code, Description: fmt.Sprintf(format, args...)}
}

// AsError returns err as an *Error if it is or wraps one.
func AsError(err error) (*Error, bool) {
	var e *Error
	if errors.As(err, &e) {
		return e, true
	}
	return nil, false
}

// Errors that Conn.Call returns for calls that got no answer.
var (
	// ErrClosed: the connection closed before or while the call was made.
	ErrClosed = errors.New("ocpp: connection closed")
	// ErrTimeout: the peer did not answer in time. It wraps
	// context.DeadlineExceeded when the caller's context expired.
	ErrTimeout = errors.New("ocpp: call timed out")
)
