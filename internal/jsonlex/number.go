package jsonlex

// Decimal is a JSON number literal taken apart, for exact decisions that a
// float64 approximation would get wrong. Int and Frac alias the literal.
type Decimal struct {
	Neg       bool
	Int, Frac []byte
	// Exp is the exponent, clamped to ±1e9: beyond that no answer depends
	// on it, and the clamp keeps arithmetic from overflowing.
	Exp int
}

// ParseDecimal splits a number literal: optional '-', digits, optional
// '.' and digits, optional exponent. ok is false for anything else.
func ParseDecimal(lit []byte) (x Decimal, ok bool) {
	i := 0
	if i < len(lit) && lit[i] == '-' {
		x.Neg = true
		i++
	}
	digits := func() []byte {
		s := i
		for i < len(lit) && lit[i] >= '0' && lit[i] <= '9' {
			i++
		}
		return lit[s:i]
	}
	if x.Int = digits(); len(x.Int) == 0 {
		return x, false
	}
	if i < len(lit) && lit[i] == '.' {
		i++
		if x.Frac = digits(); len(x.Frac) == 0 {
			return x, false
		}
	}
	if i < len(lit) && (lit[i] == 'e' || lit[i] == 'E') {
		i++
		neg := false
		if i < len(lit) && (lit[i] == '+' || lit[i] == '-') {
			neg = lit[i] == '-'
			i++
		}
		e := digits()
		if len(e) == 0 {
			return x, false
		}
		for _, c := range e {
			if x.Exp < 1e9 {
				x.Exp = x.Exp*10 + int(c-'0')
			}
		}
		if neg {
			x.Exp = -x.Exp
		}
	}
	return x, i == len(lit)
}

// Digit returns the k-th digit of Int followed by Frac.
func (x Decimal) Digit(k int) byte {
	if k < len(x.Int) {
		return x.Int[k]
	}
	return x.Frac[k-len(x.Int)]
}

// Significant returns the span [lo, hi) of the significant digits within
// Int followed by Frac (no leading or trailing zeros; lo == hi for zero)
// and where the decimal point sits: the value is 0.d[lo:hi] × 10^point.
func (x Decimal) Significant() (lo, hi, point int) {
	hi = len(x.Int) + len(x.Frac)
	point = len(x.Int) + x.Exp
	for lo < hi && x.Digit(lo) == '0' {
		lo++
		point--
	}
	for hi > lo && x.Digit(hi-1) == '0' {
		hi--
	}
	return lo, hi, point
}

// exactInt decides from the decimal literal itself, not from a float64
// approximation, whether a JSON number is whole: JSON Schema validators
// compare exactly, so 1.0000000000000000001 is not an integer even though it
// rounds to 1.0. lit must already match the JSON number grammar.
func exactInt(lit []byte) (int64, IntResult) {
	x, ok := ParseDecimal(lit)
	if !ok {
		return 0, IntFraction
	}
	lo, hi, point := x.Significant()
	if lo == hi {
		return 0, IntOK // zero, however written
	}
	sig := hi - lo
	if sig > point {
		return 0, IntFraction
	}
	if point > 19 {
		return 0, IntRange
	}
	var v uint64
	for k := 0; k < point; k++ {
		d := uint64(0)
		if k < sig {
			d = uint64(x.Digit(lo+k) - '0')
		}
		v = v*10 + d
	}
	// point <= 19 keeps v below 10^19 < 2^64, so only the int64 bound remains.
	if x.Neg {
		if v > 1<<63 {
			return 0, IntRange
		}
		return int64(-v), IntOK
	}
	if v > 1<<63-1 {
		return 0, IntRange
	}
	return int64(v), IntOK
}
