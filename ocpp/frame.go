package ocpp

import (
	"strconv"
	"sync"
	"unsafe"

	"github.com/wattson-csms/wattson/internal/jsonlex"
)

// MessageType is the first element of an OCPP-J frame.
type MessageType int

// The OCPP-J message types.
const (
	TypeCall       MessageType = 2
	TypeCallResult MessageType = 3
	TypeCallError  MessageType = 4
)

// Frame is one parsed OCPP-J message. Its byte slices alias the input.
type Frame struct {
	Type MessageType
	// ID is the message id (unescaped). HasID says whether it could be read
	// at all: only then can a broken CALL be answered.
	ID    []byte
	HasID bool
	// Action is set for a CALL.
	Action []byte
	// Payload is the raw JSON payload of a CALL or CALLRESULT.
	Payload []byte
	// ErrorCode, ErrorDescription and ErrorDetails are set for a CALLERROR.
	ErrorCode        []byte
	ErrorDescription []byte
	ErrorDetails     []byte
}

// FrameError says why a frame could not be used, and whether (with
// Frame.HasID) it can still be answered.
type FrameError struct {
	Code ErrorCode
	Msg  string
}

func (e *FrameError) Error() string { return "ocpp frame: " + e.Msg }

// ParseFrame parses an OCPP-J message into f. On error, f holds what could
// be read: when f.HasID is set and f.Type is TypeCall, the caller answers
// with a CALLERROR of the error's Code.
//
// The message id and description are unescaped into f's own storage (they
// may hold escapes), so f must not be shared between goroutines.
func ParseFrame(data []byte, f *Frame) error {
	*f = Frame{ID: f.ID[:0], ErrorDescription: f.ErrorDescription[:0]}
	var d jsonlex.Decoder
	d.Reset(data)
	bad := func(code ErrorCode, msg string) error {
		if err := d.Err(); err != nil {
			msg += ": " + err.Error()
		}
		return &FrameError{Code: code, Msg: msg}
	}
	if d.Peek() != jsonlex.Array {
		return bad(FormationViolation, "not a JSON array")
	}
	if !d.Elem() {
		return bad(FormationViolation, "empty array")
	}
	if d.Peek() != jsonlex.Number {
		return bad(FormationViolation, "message type is not a number")
	}
	typ, r := d.Int64()
	if r != jsonlex.IntOK {
		return bad(FormationViolation, "message type is not an integer")
	}
	f.Type = MessageType(typ)
	if !d.Elem() || d.Peek() != jsonlex.String {
		return bad(FormationViolation, "message id is missing or not a string")
	}
	id, ok := d.Str()
	if !ok {
		return bad(FormationViolation, "message id is not a valid string")
	}
	f.ID = append(f.ID, id...)
	f.HasID = true

	switch f.Type {
	case TypeCall:
		if !d.Elem() || d.Peek() != jsonlex.String {
			return bad(FormationViolation, "action is missing or not a string")
		}
		if f.Action, ok = d.Str(); !ok {
			return bad(FormationViolation, "action is not a valid string")
		}
		if isEscaped(data, f.Action) {
			// Rare: an action with escapes lives in the decoder's scratch
			// space, which the next string would overwrite.
			f.Action = append([]byte(nil), f.Action...)
		}
		if !d.Elem() {
			return bad(FormationViolation, "payload is missing")
		}
		if d.Peek() != jsonlex.Object {
			return bad(FormationViolation, "payload is not a JSON object")
		}
		if f.Payload, ok = d.Skip(); !ok {
			return bad(FormationViolation, "payload is not valid JSON")
		}
	case TypeCallResult:
		if !d.Elem() {
			return bad(FormationViolation, "payload is missing")
		}
		if d.Peek() != jsonlex.Object {
			return bad(FormationViolation, "payload is not a JSON object")
		}
		if f.Payload, ok = d.Skip(); !ok {
			return bad(FormationViolation, "payload is not valid JSON")
		}
	case TypeCallError:
		if !d.Elem() || d.Peek() != jsonlex.String {
			return bad(FormationViolation, "error code is missing or not a string")
		}
		code, ok := d.Str()
		if !ok {
			return bad(FormationViolation, "error code is not a valid string")
		}
		f.ErrorCode = code
		if isEscaped(data, code) {
			f.ErrorCode = append([]byte(nil), code...)
		}
		// Description and details are required by the specification, but a
		// CALLERROR without them still answers the call: accept it.
		if !d.Elem() {
			if d.Err() != nil {
				return bad(FormationViolation, "malformed frame")
			}
			return endFrame(&d)
		}
		if d.Peek() != jsonlex.String {
			return bad(FormationViolation, "error description is not a string")
		}
		desc, ok := d.Str()
		if !ok {
			return bad(FormationViolation, "error description is not a valid string")
		}
		f.ErrorDescription = append(f.ErrorDescription, desc...)
		if !d.Elem() {
			if d.Err() != nil {
				return bad(FormationViolation, "malformed frame")
			}
			return endFrame(&d)
		}
		if f.ErrorDetails, ok = d.Skip(); !ok {
			return bad(FormationViolation, "error details are not valid JSON")
		}
	default:
		return &FrameError{Code: ProtocolError, Msg: "unknown message type " + strconv.FormatInt(typ, 10)}
	}
	if d.Elem() {
		return bad(FormationViolation, "too many elements in the frame")
	}
	if d.Err() != nil {
		return bad(FormationViolation, "malformed frame")
	}
	return endFrame(&d)
}

func endFrame(d *jsonlex.Decoder) error {
	if !d.End() {
		return &FrameError{Code: FormationViolation, Msg: "data after the frame: " + d.Err().Error()}
	}
	return nil
}

// isEscaped reports whether s does not point into data: the decoder
// unescaped it into scratch space that the next string overwrites.
func isEscaped(data, s []byte) bool {
	if len(s) == 0 {
		return false
	}
	p := uintptr(unsafe.Pointer(&s[0]))
	base := uintptr(unsafe.Pointer(unsafe.SliceData(data)))
	return p < base || p >= base+uintptr(len(data))
}

// AppendCall appends the frame [2,"id","action",payload].
func AppendCall(dst []byte, id, action string, p Payload) []byte {
	dst = append(dst, `[2,`...)
	dst = jsonlex.AppendString(dst, id)
	dst = append(dst, ',')
	dst = jsonlex.AppendString(dst, action)
	dst = append(dst, ',')
	dst = appendPayload(dst, p)
	return append(dst, ']')
}

// AppendCallResult appends the frame [3,"id",payload].
func AppendCallResult(dst []byte, id []byte, p Payload) []byte {
	dst = append(dst, `[3,`...)
	dst = jsonlex.AppendString(dst, unsafeString(id))
	dst = append(dst, ',')
	dst = appendPayload(dst, p)
	return append(dst, ']')
}

// AppendCallError appends the frame [4,"id","code","description",details].
func AppendCallError(dst []byte, id []byte, e *Error) []byte {
	dst = append(dst, `[4,`...)
	dst = jsonlex.AppendString(dst, unsafeString(id))
	dst = append(dst, ',')
	code := e.Code
	if !code.Valid() {
		code = GenericError
	}
	dst = jsonlex.AppendString(dst, string(code))
	dst = append(dst, ',')
	dst = jsonlex.AppendString(dst, e.Description)
	dst = append(dst, ',')
	if len(e.Details) == 0 {
		dst = append(dst, '{', '}')
	} else {
		dst = append(dst, e.Details...)
	}
	return append(dst, ']')
}

func appendPayload(dst []byte, p Payload) []byte {
	if p == nil {
		return append(dst, '{', '}')
	}
	return p.AppendJSON(dst)
}

func unsafeString(b []byte) string {
	return unsafe.String(unsafe.SliceData(b), len(b))
}

// Action names are interned so that handing one to a handler as a string
// costs no allocation. The table is bounded: a peer sending random action
// names cannot grow it without limit.
var actions = struct {
	sync.RWMutex
	m map[string]string
}{m: make(map[string]string)}

const maxInterned = 512

func internAction(b []byte) string {
	actions.RLock()
	s, ok := actions.m[string(b)]
	actions.RUnlock()
	if ok {
		return s
	}
	s = string(b)
	actions.Lock()
	if len(actions.m) < maxInterned {
		actions.m[s] = s
	}
	actions.Unlock()
	return s
}
