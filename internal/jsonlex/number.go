package jsonlex

// exactInt decides from the decimal literal itself, not from a float64
// approximation, whether a JSON number is whole: JSON Schema validators
// compare exactly, so 1.0000000000000000001 is not an integer even though it
// rounds to 1.0. lit must already match the JSON number grammar.
func exactInt(lit []byte) (int64, IntResult) {
	i := 0
	neg := false
	if i < len(lit) && lit[i] == '-' {
		neg = true
		i++
	}
	intStart := i
	for i < len(lit) && lit[i] >= '0' && lit[i] <= '9' {
		i++
	}
	intDigits := lit[intStart:i]
	var frac []byte
	if i < len(lit) && lit[i] == '.' {
		i++
		s := i
		for i < len(lit) && lit[i] >= '0' && lit[i] <= '9' {
			i++
		}
		frac = lit[s:i]
	}
	exp := 0
	if i < len(lit) && (lit[i] == 'e' || lit[i] == 'E') {
		i++
		eneg := false
		if i < len(lit) && (lit[i] == '+' || lit[i] == '-') {
			eneg = lit[i] == '-'
			i++
		}
		for ; i < len(lit); i++ {
			// Clamp: beyond a billion the answer no longer depends on it,
			// and the clamp keeps the arithmetic from overflowing.
			if exp < 1e9 {
				exp = exp*10 + int(lit[i]-'0')
			}
		}
		if eneg {
			exp = -exp
		}
	}
	// The significant digits are intDigits followed by frac; the decimal
	// point sits after point of them.
	point := len(intDigits) + exp
	digit := func(k int) byte {
		if k < len(intDigits) {
			return intDigits[k]
		}
		return frac[k-len(intDigits)]
	}
	n := len(intDigits) + len(frac)
	lo, hi := 0, n
	for lo < hi && digit(lo) == '0' {
		lo++
		point--
	}
	for hi > lo && digit(hi-1) == '0' {
		hi--
	}
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
			d = uint64(digit(lo+k) - '0')
		}
		v = v*10 + d
	}
	// point <= 19 keeps v below 10^19 < 2^64, so only the int64 bound remains.
	if neg {
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
