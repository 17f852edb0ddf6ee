package ocppmsg

import (
	"math"
	"math/big"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/wattson-csms/wattson/internal/jsonlex"
	"github.com/wattson-csms/wattson/ocpp"
)

// The Check functions validate values built in Go before they are sent, with
// the same codes as decoding.

// CheckString checks maxLength (-1: none) in code points.
func CheckString(s string, maxLen int) *Error {
	if maxLen >= 0 && len(s) > maxLen && utf8.RuneCountInString(s) > maxLen {
		return &Error{Code: ocpp.PropertyConstraintViolation, Msg: "longer than maxLength " + strconv.Itoa(maxLen)}
	}
	return nil
}

// CheckURI checks a string of format "uri".
func CheckURI(s string, maxLen int) *Error {
	if err := CheckString(s, maxLen); err != nil {
		return err
	}
	if !ValidURI(s) {
		return &Error{Code: ocpp.PropertyConstraintViolation, Msg: quote([]byte(s)) + " is not an absolute URI"}
	}
	return nil
}

// CheckEnum reports a value outside an enum; "" counts as missing for a
// required enum (the zero value means it was never set).
func CheckEnum(s string, valid, required bool) *Error {
	switch {
	case valid:
		return nil
	case s == "" && required:
		return &Error{Code: ocpp.OccurenceConstraintViolation, Msg: "required property is missing"}
	case s == "":
		return nil
	}
	return NotAllowed([]byte(s))
}

// CheckTime checks that t can be written as an RFC 3339 date-time. A zero
// required time was never set: sending 0001-01-01 would be schema-valid but
// is always a bug.
func CheckTime(t time.Time, required bool) *Error {
	if required && t.IsZero() {
		return &Error{Code: ocpp.OccurenceConstraintViolation, Msg: "required property is missing"}
	}
	if y := t.UTC().Year(); y < 0 || y > 9999 {
		return &Error{Code: ocpp.PropertyConstraintViolation, Msg: "year " + strconv.Itoa(y) + " cannot be written as a date-time"}
	}
	return nil
}

// CheckFloat rejects what JSON cannot carry and checks multipleOf on the
// literal that AppendJSON will write, so that what passes here passes at the
// peer.
func CheckFloat(f float64, m *Multiple) *Error {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return &Error{Code: ocpp.TypeConstraintViolation, Msg: "NaN and infinity are not JSON numbers"}
	}
	if m != nil {
		var buf [32]byte
		lit := jsonlex.AppendFloat(buf[:0], f)
		if !m.Lit(lit) {
			return &Error{Code: ocpp.PropertyConstraintViolation, Msg: string(lit) + " is not a multiple of " + m.String()}
		}
	}
	return nil
}

// CheckItems checks a slice against required and minItems.
func CheckItems(n int, isNil, required bool, minItems int) *Error {
	if isNil {
		if required {
			return &Error{Code: ocpp.OccurenceConstraintViolation, Msg: "required property is missing"}
		}
		return nil
	}
	if n < minItems {
		return &Error{Code: ocpp.OccurenceConstraintViolation, Msg: "fewer than minItems " + strconv.Itoa(minItems) + " items"}
	}
	return nil
}

// ValidURI applies format "uri" the way the reference validator
// (santhosh-tekuri/jsonschema) does: it parses with net/url, requires a
// scheme, and checks a bracketed IPv6 host. Agreeing with it matters more
// than RFC 3986 to the letter: the conformance tests compare the two.
func ValidURI(s string) bool {
	u, err := url.Parse(s)
	if err != nil || !u.IsAbs() {
		return false
	}
	if host := u.Hostname(); strings.Contains(host, ":") {
		if !strings.Contains(u.Host, "[") || !strings.Contains(u.Host, "]") {
			return false
		}
		a, err := netip.ParseAddr(host)
		if err != nil || a.Zone() != "" {
			return false
		}
	}
	return true
}

// Multiple is a multipleOf constraint, decided exactly on decimal literals:
// with float division 16.3/0.1 is 162.99999999999997 and would fail.
type Multiple struct {
	lit string
	// scale is k when the divisor is 10^-k (0.1, 0.01, 1): then a literal
	// is a multiple when it has at most k decimals, a digit count.
	scale int
	rat   *big.Rat // other divisors
}

// NewMultiple parses a divisor literal from a schema; it panics on a bad
// one, as that is a generator bug.
func NewMultiple(lit string) *Multiple {
	m := &Multiple{lit: lit, scale: -1}
	if sig, point, neg, ok := decimal([]byte(lit)); ok && !neg && sig == "1" {
		m.scale = 1 - point
		if m.scale >= 0 {
			return m
		}
	}
	r, ok := new(big.Rat).SetString(lit)
	if !ok || r.Sign() <= 0 {
		panic("ocppmsg: bad multipleOf " + lit)
	}
	m.scale, m.rat = -1, r
	return m
}

func (m *Multiple) String() string { return m.lit }

// maxExp bounds exponents handed to math/big: a literal like 1e999999999
// would otherwise cost gigabytes. Numbers beyond it are refused, which is
// stricter than the schema only for absurd inputs.
const maxExp = 10000

// Lit reports whether a JSON number literal is a multiple of m.
func (m *Multiple) Lit(lit []byte) bool {
	sig, point, _, ok := decimal(lit)
	if !ok {
		return false
	}
	if sig == "" {
		return true // zero
	}
	if m.scale >= 0 {
		// Decimals after the point: significant digits past it.
		return len(sig)-point <= m.scale
	}
	if point > maxExp || point < -maxExp {
		return false
	}
	r, ok := new(big.Rat).SetString(string(lit))
	if !ok {
		return false
	}
	return r.Quo(r, m.rat).IsInt()
}

// decimal returns the significant digits of a JSON number literal (no
// leading or trailing zeros; "" for zero) and the position of the decimal
// point relative to them: the value is 0.sig × 10^point.
func decimal(lit []byte) (sig string, point int, neg, ok bool) {
	x, ok := jsonlex.ParseDecimal(lit)
	if !ok {
		return "", 0, false, false
	}
	lo, hi, point := x.Significant()
	b := make([]byte, 0, hi-lo)
	for k := lo; k < hi; k++ {
		b = append(b, x.Digit(k))
	}
	return string(b), point, x.Neg, true
}
