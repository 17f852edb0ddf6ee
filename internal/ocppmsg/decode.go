package ocppmsg

import (
	"math"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/wattson-csms/wattson/internal/jsonlex"
	"github.com/wattson-csms/wattson/ocpp"
)

// Decoder walks one payload for a generated decoder. Every method consumes
// exactly one value, also when the value violates the schema, so that the
// object decoder can go on: with duplicate member names the last one wins (as
// in encoding/json, which the reference validators use), so an early invalid
// occurrence must not decide the outcome. Syntax errors are sticky in the
// embedded jsonlex.Decoder and win over every schema error.
type Decoder struct {
	jsonlex.Decoder
	// src is the input as one string, made on the first string value so that
	// unescaped strings become substrings of a single allocation.
	src    string
	hasSrc bool
}

// Reset starts decoding b.
func (d *Decoder) Reset(b []byte) {
	d.Decoder.Reset(b)
	d.src, d.hasSrc = "", false
}

// Finish checks that only whitespace follows the payload and turns the
// outcome into the error UnmarshalOCPP returns: a syntax error if there is
// one, else err.
func (d *Decoder) Finish(err *Error) error {
	if d.Err() == nil {
		d.End()
	}
	if serr := d.Err(); serr != nil {
		return Syntax(serr).OCPP()
	}
	return err.OCPP()
}

// Object checks that an object starts here. If not, it consumes the value and
// returns the type error.
func (d *Decoder) Object() *Error {
	if k := d.Peek(); k != jsonlex.Object {
		return d.wrongType(k, "object")
	}
	return nil
}

// Array is Object for arrays.
func (d *Decoder) Array() *Error {
	if k := d.Peek(); k != jsonlex.Array {
		return d.wrongType(k, "array")
	}
	return nil
}

// wrongType consumes a value of the wrong type. For input that is not JSON
// at all it records a syntax error and returns nil: Finish reports that.
func (d *Decoder) wrongType(k jsonlex.Kind, want string) *Error {
	if k == jsonlex.Invalid {
		if d.Err() == nil {
			d.Fail("expected a value")
		}
		return nil
	}
	if _, ok := d.Skip(); !ok {
		return nil
	}
	return &Error{Code: ocpp.TypeConstraintViolation, Msg: "got " + kindName(k) + ", want " + want}
}

// Unknown consumes the value of a member the schema does not allow.
func (d *Decoder) Unknown(key []byte) *Error {
	e := &Error{Code: ocpp.FormationViolation, Path: string(key), Msg: "property is not allowed"}
	d.Skip()
	return e
}

// Extra consumes the value of a member that the schema allows without
// describing it (additionalProperties not false).
func (d *Decoder) Extra() {
	d.Skip()
}

// str reads a string value checked against maxLength (-1: none) and returns
// its bytes and where its raw form started.
func (d *Decoder) str(maxLen int) ([]byte, int, *Error) {
	k := d.Peek()
	if k != jsonlex.String {
		return nil, 0, d.wrongType(k, "string")
	}
	start := d.Pos()
	b, ok := d.Str()
	if !ok {
		return nil, 0, nil
	}
	// JSON Schema counts code points; invalid UTF-8 bytes count one each, as
	// they each become U+FFFD.
	if maxLen >= 0 && len(b) > maxLen && utf8.RuneCount(b) > maxLen {
		return b, start, &Error{Code: ocpp.PropertyConstraintViolation,
			Msg: "longer than maxLength " + strconv.Itoa(maxLen)}
	}
	return b, start, nil
}

// text turns the string just read into a Go string.
func (d *Decoder) text(b []byte, start int) string {
	if !utf8.Valid(b) {
		return sanitize(b)
	}
	// The raw form is two quotes longer than the value exactly when the
	// string had no escapes (every escape is longer than what it stands
	// for), and then b is a slice of the input.
	if d.Pos()-start-2 == len(b) {
		if !d.hasSrc {
			d.src, d.hasSrc = string(d.Input()), true
		}
		return d.src[start+1 : start+1+len(b)]
	}
	return string(b)
}

// sanitize replaces each invalid byte by U+FFFD, as encoding/json does, so
// that decoding and the reference validator see the same string.
func sanitize(b []byte) string {
	out := make([]byte, 0, len(b)+8)
	for len(b) > 0 {
		r, n := utf8.DecodeRune(b)
		if r == utf8.RuneError && n == 1 {
			out = utf8.AppendRune(out, utf8.RuneError)
		} else {
			out = append(out, b[:n]...)
		}
		b = b[n:]
	}
	return string(out)
}

// String reads a string with an optional maxLength (-1: none).
func (d *Decoder) String(dst *string, maxLen int) *Error {
	b, start, err := d.str(maxLen)
	if err != nil || d.Err() != nil {
		return err
	}
	*dst = d.text(b, start)
	return nil
}

// URI reads a string of format "uri".
func (d *Decoder) URI(dst *string, maxLen int) *Error {
	b, start, err := d.str(maxLen)
	if err != nil || d.Err() != nil {
		return err
	}
	s := d.text(b, start)
	if !ValidURI(s) {
		return &Error{Code: ocpp.PropertyConstraintViolation, Msg: quote(b) + " is not an absolute URI"}
	}
	*dst = s
	return nil
}

// EnumBytes reads the string of an enum; the generated code matches it.
// ok is false when there is nothing to match (a type or syntax error, in err
// or in d.Err()).
func (d *Decoder) EnumBytes() (b []byte, ok bool, err *Error) {
	b, _, err = d.str(-1)
	if err != nil || d.Err() != nil {
		return nil, false, err
	}
	return b, true, nil
}

// Time reads a date-time.
func (d *Decoder) Time(dst *time.Time) *Error {
	b, _, err := d.str(-1)
	if err != nil || d.Err() != nil {
		return err
	}
	t, ok := jsonlex.ParseDateTime(b)
	if !ok {
		return &Error{Code: ocpp.PropertyConstraintViolation, Msg: quote(b) + " is not an RFC 3339 date-time"}
	}
	*dst = t
	return nil
}

// TimePtr reads an optional date-time.
func (d *Decoder) TimePtr(dst **time.Time) *Error {
	var t time.Time
	if err := d.Time(&t); err != nil || d.Err() != nil {
		return err
	}
	*dst = &t
	return nil
}

// Int reads an integer in the JSON Schema sense (1.0 and 1e2 are integers).
func (d *Decoder) Int(dst *int) *Error {
	k := d.Peek()
	if k != jsonlex.Number {
		return d.wrongType(k, "integer")
	}
	v, res := d.Int64()
	switch res {
	case jsonlex.IntOK:
		if v < math.MinInt || v > math.MaxInt {
			return intRange()
		}
		*dst = int(v)
		return nil
	case jsonlex.IntFraction:
		return &Error{Code: ocpp.TypeConstraintViolation, Msg: "got a number with a fraction, want integer"}
	case jsonlex.IntRange:
		return intRange()
	}
	return nil
}

// intRange is a whole number Go cannot hold. JSON Schema has no bound, so
// this is stricter than the schema, on purpose: the value cannot be used.
func intRange() *Error {
	return &Error{Code: ocpp.TypeConstraintViolation, Msg: "integer out of range"}
}

// IntPtr reads an optional integer.
func (d *Decoder) IntPtr(dst **int) *Error {
	var v int
	if err := d.Int(&v); err != nil || d.Err() != nil {
		return err
	}
	*dst = &v
	return nil
}

// Float reads a number, checked against multipleOf when m is not nil.
func (d *Decoder) Float(dst *float64, m *Multiple) *Error {
	k := d.Peek()
	if k != jsonlex.Number {
		return d.wrongType(k, "number")
	}
	lit, ok := d.Num()
	if !ok {
		return nil
	}
	f, err := strconv.ParseFloat(unsafeString(lit), 64)
	if err != nil {
		// Only overflow is left after the grammar check. Like intRange,
		// stricter than JSON Schema, which has no bound.
		return &Error{Code: ocpp.TypeConstraintViolation, Msg: "number out of range"}
	}
	if m != nil && !m.Lit(lit) {
		return &Error{Code: ocpp.PropertyConstraintViolation,
			Msg: string(lit) + " is not a multiple of " + m.String()}
	}
	*dst = f
	return nil
}

// FloatPtr reads an optional number.
func (d *Decoder) FloatPtr(dst **float64, m *Multiple) *Error {
	var v float64
	if err := d.Float(&v, m); err != nil || d.Err() != nil {
		return err
	}
	*dst = &v
	return nil
}

// Bool reads a boolean.
func (d *Decoder) Bool(dst *bool) *Error {
	k := d.Peek()
	if k != jsonlex.Bool {
		return d.wrongType(k, "boolean")
	}
	v, ok := d.Decoder.Bool()
	if ok {
		*dst = v
	}
	return nil
}

// BoolPtr reads an optional boolean.
func (d *Decoder) BoolPtr(dst **bool) *Error {
	var v bool
	if err := d.Bool(&v); err != nil || d.Err() != nil {
		return err
	}
	*dst = &v
	return nil
}

// TooFew is an array shorter than minItems.
func TooFew(minItems int) *Error {
	return &Error{Code: ocpp.OccurenceConstraintViolation,
		Msg: "fewer than minItems " + strconv.Itoa(minItems) + " items"}
}

// Start begins decoding a whole payload. A payload that is not a JSON
// object is a FormationViolation (the frame is malformed), unlike a nested
// value of the wrong type, which is a TypeConstraintViolation.
func (d *Decoder) Start(data []byte) error {
	d.Reset(data)
	if k := d.Peek(); k != jsonlex.Object {
		if _, ok := d.Skip(); ok && d.End() {
			return Errf(ocpp.FormationViolation, "payload is "+kindName(k)+", not an object").OCPP()
		}
		return d.Finish(nil)
	}
	return nil
}
