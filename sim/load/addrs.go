package load

import (
	"fmt"
	"net/netip"
	"strings"
)

// ParseAddrs reads source addresses: a range of IPv4 addresses
// "127.0.0.2-127.0.0.9" (at most 256) or a comma-separated list. An empty
// string gives none.
func ParseAddrs(s string) ([]netip.Addr, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, nil
	}
	if lo, hi, ok := strings.Cut(s, "-"); ok && !strings.Contains(s, ",") {
		a, err := netip.ParseAddr(strings.TrimSpace(lo))
		if err != nil {
			return nil, err
		}
		b, err := netip.ParseAddr(strings.TrimSpace(hi))
		if err != nil {
			return nil, err
		}
		if !a.Is4() || !b.Is4() || b.Less(a) {
			return nil, fmt.Errorf("%q: want a range of IPv4 addresses, low-high", s)
		}
		var out []netip.Addr
		for x := a; x.Compare(b) <= 0; x = x.Next() {
			if len(out) == 256 {
				return nil, fmt.Errorf("%q: more than 256 addresses", s)
			}
			out = append(out, x)
		}
		return out, nil
	}
	var out []netip.Addr
	for part := range strings.SplitSeq(s, ",") {
		a, err := netip.ParseAddr(strings.TrimSpace(part))
		if err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	return out, nil
}
