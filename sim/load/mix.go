package load

import (
	"fmt"
	"strconv"
	"strings"
)

// Kind is a kind of message the load generator sends.
type Kind int

// The kinds of message in a Mix.
const (
	Heartbeat Kind = iota
	Status         // StatusNotification
	Meter          // MeterValues, ~1 KB, three phases
	Tx             // StartTransaction or, when one is open, its StopTransaction
	numKinds
)

var kindNames = [numKinds]string{"heartbeat", "status", "meter", "tx"}

func (k Kind) String() string {
	if k < 0 || k >= numKinds {
		return "Kind(" + strconv.Itoa(int(k)) + ")"
	}
	return kindNames[k]
}

// Mix is the relative weight of each kind of message.
type Mix [numKinds]int

// DefaultMix is heartbeat=1,status=2,meter=8,tx=1: close to what chargers
// that send a MeterValues a minute during sessions produce.
var DefaultMix = Mix{Heartbeat: 1, Status: 2, Meter: 8, Tx: 1}

// ParseMix reads "heartbeat=1,status=2,meter=8,tx=1". Kinds left out weigh
// 0; at least one must weigh more.
func ParseMix(s string) (Mix, error) {
	var m Mix
	total := 0
	for part := range strings.SplitSeq(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		name, val, ok := strings.Cut(part, "=")
		if !ok {
			return m, fmt.Errorf("mix %q: want kind=weight, e.g. meter=8", part)
		}
		k := Kind(-1)
		for i, n := range kindNames {
			if strings.EqualFold(strings.TrimSpace(name), n) {
				k = Kind(i)
			}
		}
		if k < 0 {
			return m, fmt.Errorf("mix %q: unknown kind %q (want heartbeat, status, meter or tx)", part, name)
		}
		w, err := strconv.Atoi(strings.TrimSpace(val))
		if err != nil || w < 0 {
			return m, fmt.Errorf("mix %q: weight must be a whole number ≥ 0", part)
		}
		m[k] = w
		total += w
	}
	if total == 0 {
		return m, fmt.Errorf("mix %q: no kind has a weight above 0", s)
	}
	return m, nil
}

func (m Mix) String() string {
	var b strings.Builder
	for k, w := range m {
		if b.Len() > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, "%s=%d", Kind(k), w)
	}
	return b.String()
}

// pick maps r in [0, total) to a kind by weight.
func (m Mix) pick(r int) Kind {
	for k, w := range m {
		if r < w {
			return Kind(k)
		}
		r -= w
	}
	return Heartbeat
}

func (m Mix) total() int {
	t := 0
	for _, w := range m {
		t += w
	}
	return t
}
