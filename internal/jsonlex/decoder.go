// Package jsonlex is a small, allocation-free JSON reader and writer for the
// OCPP hot path. OCPP-J frames and the generated message decoders walk a byte
// slice once with it, instead of building a generic tree and validating it
// afterwards.
//
// A Decoder is positioned before a value. The caller looks at the kind of the
// next value with Peek and then consumes it with the matching method. Syntax
// errors are sticky: after the first one every method reports failure and Err
// returns it. Type mismatches are the caller's business (Peek first).
package jsonlex

import (
	"errors"
	"fmt"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
)

// Kind is the kind of the next JSON value.
type Kind uint8

// The kinds of JSON values. Invalid means the next byte cannot start a value
// (or the input is exhausted).
const (
	Invalid Kind = iota
	Null
	Bool
	Number
	String
	Array
	Object
)

var kindNames = [...]string{"invalid", "null", "boolean", "number", "string", "array", "object"}

func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return "kind(" + strconv.Itoa(int(k)) + ")"
}

// SyntaxError is malformed JSON at a byte offset.
type SyntaxError struct {
	Offset int
	Msg    string
}

func (e *SyntaxError) Error() string {
	return fmt.Sprintf("invalid JSON at offset %d: %s", e.Offset, e.Msg)
}

// ErrSyntax matches every *SyntaxError with errors.Is.
var ErrSyntax = errors.New("invalid JSON")

// Is reports whether target is ErrSyntax.
func (e *SyntaxError) Is(target error) bool { return target == ErrSyntax }

// plain marks the bytes that need no attention inside a string: not a
// quote, not a backslash, not a control character.
var plain = func() (t [256]bool) {
	for c := 0x20; c < 256; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// maxDepth bounds nesting in Skip so hostile input cannot exhaust the stack.
const maxDepth = 64

// Decoder reads JSON values from a byte slice. The zero value reads nothing;
// call Reset. Byte slices it returns alias the input or an internal scratch
// buffer and are valid until the next call.
type Decoder struct {
	buf     []byte
	pos     int
	err     error
	scratch []byte
}

// NewDecoder returns a decoder over b.
func NewDecoder(b []byte) *Decoder {
	d := &Decoder{}
	d.Reset(b)
	return d
}

// Reset makes d read b from its start, clearing any error.
func (d *Decoder) Reset(b []byte) {
	d.buf, d.pos, d.err = b, 0, nil
}

// Err returns the first syntax error, or nil.
func (d *Decoder) Err() error { return d.err }

// Pos returns the offset of the next unread byte.
func (d *Decoder) Pos() int { return d.pos }

// Input returns the slice being decoded.
func (d *Decoder) Input() []byte { return d.buf }

func (d *Decoder) fail(msg string) {
	if d.err == nil {
		d.err = &SyntaxError{Offset: d.pos, Msg: msg}
	}
}

// Fail records a syntax error at the current offset, for callers that find
// the structure (not the types) broken.
func (d *Decoder) Fail(msg string) { d.fail(msg) }

func (d *Decoder) skipWS() {
	// Compact JSON, the common case, has no whitespace at all.
	if d.pos < len(d.buf) && d.buf[d.pos] > ' ' {
		return
	}
	for d.pos < len(d.buf) {
		switch d.buf[d.pos] {
		case ' ', '\t', '\n', '\r':
			d.pos++
		default:
			return
		}
	}
}

// Peek returns the kind of the next value without consuming it.
func (d *Decoder) Peek() Kind {
	if d.err != nil {
		return Invalid
	}
	d.skipWS()
	if d.pos >= len(d.buf) {
		return Invalid
	}
	switch c := d.buf[d.pos]; c {
	case '{':
		return Object
	case '[':
		return Array
	case '"':
		return String
	case 't', 'f':
		return Bool
	case 'n':
		return Null
	default:
		if c == '-' || (c >= '0' && c <= '9') {
			return Number
		}
		return Invalid
	}
}

// Key reads the next member name of an object. Call it where an object
// starts ('{'), and again after each member's value: it consumes '{' or ','
// and the following name and ':', and returns ok=false once it consumed the
// closing '}' (or on a syntax error, see Err).
func (d *Decoder) Key() (key []byte, ok bool) {
	if d.err != nil {
		return nil, false
	}
	d.skipWS()
	if d.pos >= len(d.buf) {
		d.fail("unexpected end of input in object")
		return nil, false
	}
	switch d.buf[d.pos] {
	case '{':
		if !d.atValueStart() {
			d.fail("expected ',' or '}' in object")
			return nil, false
		}
		d.pos++
		d.skipWS()
		if d.pos < len(d.buf) && d.buf[d.pos] == '}' {
			d.pos++
			return nil, false
		}
	case ',':
		d.pos++
		d.skipWS()
	case '}':
		d.pos++
		return nil, false
	default:
		d.fail("expected ',' or '}' in object")
		return nil, false
	}
	if d.pos >= len(d.buf) || d.buf[d.pos] != '"' {
		d.fail("expected a member name")
		return nil, false
	}
	key, ok = d.str()
	if !ok {
		return nil, false
	}
	d.skipWS()
	if d.pos >= len(d.buf) || d.buf[d.pos] != ':' {
		d.fail("expected ':' after a member name")
		return nil, false
	}
	d.pos++
	return key, true
}

// atValueStart reports whether the byte at d.pos can begin a value, judged
// by the token before it. Key and Elem are called both at the opening bracket
// and after each member, so without this check a value followed directly by
// a new object or array ({"a":1{"b":2}, [1[2]) would pass as a separator.
func (d *Decoder) atValueStart() bool {
	for i := d.pos - 1; i >= 0; i-- {
		switch d.buf[i] {
		case ' ', '\t', '\n', '\r':
			continue
		case ':', ',', '[':
			return true
		default:
			return false
		}
	}
	return true
}

// Elem advances to the next element of an array. Call it where an array
// starts ('['), and again after each element: it consumes '[' or ',' and
// returns ok=false once it consumed the closing ']' (or on a syntax error).
func (d *Decoder) Elem() bool {
	if d.err != nil {
		return false
	}
	d.skipWS()
	if d.pos >= len(d.buf) {
		d.fail("unexpected end of input in array")
		return false
	}
	switch d.buf[d.pos] {
	case '[':
		if !d.atValueStart() {
			d.fail("expected ',' or ']' in array")
			return false
		}
		d.pos++
		d.skipWS()
		if d.pos < len(d.buf) && d.buf[d.pos] == ']' {
			d.pos++
			return false
		}
		return true
	case ',':
		d.pos++
		return true
	case ']':
		d.pos++
		return false
	default:
		d.fail("expected ',' or ']' in array")
		return false
	}
}

// Str reads a string and returns its unescaped bytes. They alias the input
// or scratch space and are valid until the next call.
func (d *Decoder) Str() ([]byte, bool) {
	if d.Peek() != String {
		d.fail("expected a string")
		return nil, false
	}
	return d.str()
}

// String reads a string into a new Go string.
func (d *Decoder) String() (string, bool) {
	b, ok := d.Str()
	if !ok {
		return "", false
	}
	return string(b), true
}

// str reads the string at d.pos, which holds '"'.
func (d *Decoder) str() ([]byte, bool) {
	start := d.pos + 1
	i := start
	for i < len(d.buf) {
		c := d.buf[i]
		if plain[c] {
			i++
			continue
		}
		switch {
		case c == '"':
			d.pos = i + 1
			return d.buf[start:i], true
		case c == '\\':
			return d.strEscaped(start, i)
		case c < 0x20:
			d.pos = i
			d.fail("control character in string")
			return nil, false
		}
		i++
	}
	d.pos = i
	d.fail("unterminated string")
	return nil, false
}

// strEscaped continues a string from the first backslash at i, unescaping
// into the scratch buffer.
func (d *Decoder) strEscaped(start, i int) ([]byte, bool) {
	out := append(d.scratch[:0], d.buf[start:i]...)
	for i < len(d.buf) {
		c := d.buf[i]
		switch {
		case c == '"':
			d.pos = i + 1
			d.scratch = out
			return out, true
		case c < 0x20:
			d.pos = i
			d.fail("control character in string")
			return nil, false
		case c != '\\':
			out = append(out, c)
			i++
			continue
		}
		// Backslash.
		if i+1 >= len(d.buf) {
			break
		}
		e := d.buf[i+1]
		i += 2
		switch e {
		case '"', '\\', '/':
			out = append(out, e)
		case 'b':
			out = append(out, '\b')
		case 'f':
			out = append(out, '\f')
		case 'n':
			out = append(out, '\n')
		case 'r':
			out = append(out, '\r')
		case 't':
			out = append(out, '\t')
		case 'u':
			r, ok := hex4(d.buf, i)
			if !ok {
				d.pos = i
				d.fail("invalid \\u escape")
				return nil, false
			}
			i += 4
			if utf16.IsSurrogate(r) {
				// A high surrogate followed by a low one is one code point;
				// anything else becomes U+FFFD, as encoding/json does.
				if i+6 <= len(d.buf) && d.buf[i] == '\\' && d.buf[i+1] == 'u' {
					if r2, ok := hex4(d.buf, i+2); ok {
						if dec := utf16.DecodeRune(r, r2); dec != utf8.RuneError {
							i += 6
							out = utf8.AppendRune(out, dec)
							continue
						}
					}
				}
				r = utf8.RuneError
			}
			out = utf8.AppendRune(out, r)
		default:
			d.pos = i - 1
			d.fail("invalid escape character")
			return nil, false
		}
	}
	d.pos = i
	d.fail("unterminated string")
	return nil, false
}

func hex4(b []byte, i int) (rune, bool) {
	if i+4 > len(b) {
		return 0, false
	}
	var r rune
	for _, c := range b[i : i+4] {
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c = c - 'a' + 10
		case c >= 'A' && c <= 'F':
			c = c - 'A' + 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	return r, true
}

// Num reads a number and returns its literal, checked against the JSON
// grammar.
func (d *Decoder) Num() ([]byte, bool) {
	if d.Peek() != Number {
		d.fail("expected a number")
		return nil, false
	}
	return d.num()
}

func (d *Decoder) num() ([]byte, bool) {
	b, start := d.buf, d.pos
	i := start
	if i < len(b) && b[i] == '-' {
		i++
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case i < len(b) && b[i] >= '1' && b[i] <= '9':
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
	default:
		d.pos = i
		d.fail("invalid number")
		return nil, false
	}
	if i < len(b) && b[i] == '.' {
		i++
		j := i
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
		if i == j {
			d.pos = i
			d.fail("invalid number: no digits after '.'")
			return nil, false
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		j := i
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
		if i == j {
			d.pos = i
			d.fail("invalid number: no digits in exponent")
			return nil, false
		}
	}
	d.pos = i
	return b[start:i], true
}

// Float64 reads a number as a float64.
func (d *Decoder) Float64() (float64, bool) {
	lit, ok := d.Num()
	if !ok {
		return 0, false
	}
	f, err := strconv.ParseFloat(unsafeString(lit), 64)
	if err != nil {
		// Only a range error is possible after the grammar check.
		d.fail("number out of range")
		return 0, false
	}
	return f, true
}

// IntResult says what Int64 found.
type IntResult uint8

// Outcomes of Int64.
const (
	IntOK       IntResult = iota
	IntSyntax             // not a number at all: see Err
	IntFraction           // a number, but not a whole one (JSON Schema "integer" fails)
	IntRange              // a whole number outside int64
)

// Int64 reads a number that must be whole. As in JSON Schema, 1.0 and 1e2
// are whole numbers.
func (d *Decoder) Int64() (int64, IntResult) {
	lit, ok := d.Num()
	if !ok {
		return 0, IntSyntax
	}
	if v, ok := parsePlainInt(lit); ok {
		return v, IntOK
	}
	return exactInt(lit)
}

// parsePlainInt parses an optional '-' and up to 18 digits.
func parsePlainInt(b []byte) (int64, bool) {
	neg := false
	if len(b) > 0 && b[0] == '-' {
		neg, b = true, b[1:]
	}
	if len(b) == 0 || len(b) > 18 {
		return 0, false
	}
	var v int64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		v = v*10 + int64(c-'0')
	}
	if neg {
		v = -v
	}
	return v, true
}

// Bool reads true or false.
func (d *Decoder) Bool() (v, ok bool) {
	if d.Peek() != Bool {
		d.fail("expected a boolean")
		return false, false
	}
	switch {
	case hasLit(d.buf[d.pos:], "true"):
		d.pos += 4
		return true, true
	case hasLit(d.buf[d.pos:], "false"):
		d.pos += 5
		return false, true
	}
	d.fail("invalid literal")
	return false, false
}

// Null reads null.
func (d *Decoder) Null() bool {
	if d.Peek() != Null || !hasLit(d.buf[d.pos:], "null") {
		d.fail("expected null")
		return false
	}
	d.pos += 4
	return true
}

func hasLit(b []byte, lit string) bool {
	return len(b) >= len(lit) && string(b[:len(lit)]) == lit
}

// Skip reads any value, checking its syntax, and returns its raw bytes.
func (d *Decoder) Skip() ([]byte, bool) {
	d.skipWS()
	start := d.pos
	if !d.skip(0) {
		return nil, false
	}
	return d.buf[start:d.pos], true
}

func (d *Decoder) skip(depth int) bool {
	if depth > maxDepth {
		d.fail("nesting too deep")
		return false
	}
	switch d.Peek() {
	case Object:
		for {
			if _, ok := d.Key(); !ok {
				return d.err == nil
			}
			if !d.skip(depth + 1) {
				return false
			}
		}
	case Array:
		for d.Elem() {
			if !d.skip(depth + 1) {
				return false
			}
		}
		return d.err == nil
	case String:
		_, ok := d.scanStr()
		return ok
	case Number:
		_, ok := d.num()
		return ok
	case Bool:
		_, ok := d.Bool()
		return ok
	case Null:
		return d.Null()
	default:
		if d.err == nil {
			if d.pos >= len(d.buf) {
				d.fail("unexpected end of input")
			} else {
				d.fail("unexpected character")
			}
		}
		return false
	}
}

// scanStr checks a string and returns its raw bytes, quotes included.
func (d *Decoder) scanStr() ([]byte, bool) {
	start := d.pos
	if _, ok := d.str(); !ok {
		return nil, false
	}
	return d.buf[start:d.pos], true
}

// End reports whether only whitespace remains; otherwise it records a
// syntax error.
func (d *Decoder) End() bool {
	if d.err != nil {
		return false
	}
	d.skipWS()
	if d.pos != len(d.buf) {
		d.fail("unexpected data after the value")
		return false
	}
	return true
}
