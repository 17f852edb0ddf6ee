package smartcharging

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"
)

// randomSite builds a random forest and connectors; rounds then replay the
// caller with random confirmations, draws and state changes.
func randomSite(rng *rand.Rand) ([]Group, []Connector) {
	var groups []Group
	nroots := 1 + rng.IntN(3)
	for r := range nroots {
		groups = append(groups, randomGroup(rng, fmt.Sprintf("r%d", r), ""))
	}
	for i := 0; i < rng.IntN(12); i++ {
		parent := groups[rng.IntN(len(groups))].ID
		groups = append(groups, randomGroup(rng, fmt.Sprintf("g%d", i), parent))
	}
	n := rng.IntN(25)
	cs := make([]Connector, 0, n)
	for range n {
		c := Connector{
			ID:       ConnectorID{Charger: fmt.Sprintf("cp%d", rng.IntN(n+1)), Connector: 1 + rng.IntN(2)},
			Group:    groups[rng.IntN(len(groups))].ID,
			Priority: rng.IntN(3),
			Mode:     Mode(rng.IntN(4)),
			State:    State(rng.IntN(4)),
			CheapNow: rng.IntN(2) == 0,
		}
		c.MaxCurrent = []float64{6, 10, 13, 16, 20, 32, 32, 63, 5.5}[rng.IntN(9)]
		if rng.IntN(4) == 0 {
			c.MinCurrent = []float64{6, 8, 10.05}[rng.IntN(3)]
		}
		switch rng.IntN(4) {
		case 0:
			c.Phases = Phases{rng.IntN(2) == 0, rng.IntN(2) == 0, rng.IntN(2) == 0}
		case 1:
			c.Phases = Phases{false, false, false}
			c.Phases[rng.IntN(3)] = true
		}
		if rng.IntN(8) == 0 {
			c.Unmanaged = true
		}
		if rng.IntN(5) == 0 {
			c.SolarMinCurrent = 6
		}
		if rng.IntN(20) == 0 {
			c.Group = "nowhere"
		}
		if rng.IntN(3) > 0 {
			c.Sent = &Sent{Limit: float64(rng.IntN(330)) / 10, At: t0.Add(-time.Duration(rng.IntN(120)) * time.Second), Confirmed: rng.IntN(3) > 0}
		}
		cs = append(cs, c)
	}
	return groups, cs
}

func randomGroup(rng *rand.Rand, id, parent string) Group {
	g := Group{ID: id, Parent: parent}
	base := []float64{0, 6, 10, 16, 20, 25, 32, 35, 63, 100}[rng.IntN(10)]
	g.Limit = three(base)
	if rng.IntN(4) == 0 {
		g.Limit[rng.IntN(3)] = float64(rng.IntN(40))
	}
	if rng.IntN(4) == 0 {
		g.PowerLimit = float64(1000 + rng.IntN(40000))
	}
	if rng.IntN(3) == 0 {
		g.HasSurplus, g.SurplusW = true, float64(rng.IntN(20000)-5000)
	}
	return g
}

func TestPropertyInvariants(t *testing.T) {
	cases := 5000
	if testing.Short() {
		cases = 500
	}
	rng := rand.New(rand.NewPCG(2026, 6))
	for n := range cases {
		groups, cs := randomSite(rng)
		tr, err := NewTree(groups)
		if err != nil {
			t.Fatalf("case %d: %v", n, err)
		}
		cfg := Config{}
		if rng.IntN(2) == 0 {
			cfg = Config{Hysteresis: -1, MinInterval: -1, SteadyFor: -1, ConfirmDelay: -1}
		}
		var r *Result
		now := t0
		for round := range 6 {
			for i := range cs {
				c := &cs[i]
				// Cars draw at most their limit, sometimes less,
				// on the phases they use; the meter is sometimes stale.
				lim := c.MaxCurrent
				if c.Sent != nil && !c.Unmanaged {
					lim = c.Sent.Limit
				}
				for p, used := range c.Phases.known() {
					c.Measured[p] = 0
					if used && c.State == StateCharging {
						c.Measured[p] = lim * rng.Float64() * 1.05
					}
				}
				if rng.IntN(6) == 0 {
					c.State = State(rng.IntN(4))
				}
			}
			r = cfg.Allocate(tr, cs, now, r)
			func() {
				t.Helper()
				defer func() {
					if t.Failed() {
						t.Fatalf("case %d round %d\ngroups %+v\nconnectors %+v", n, round, groups, cs)
					}
				}()
				checkInvariants(t, cfg, tr, cs, r)
			}()
			apply(cs, r, now, rng.IntN(3) > 0)
			now = now.Add(time.Duration(1+rng.IntN(40)) * time.Second)
		}
	}
}

// TestPropertyConverges: with confirmations, targets are eventually all
// sent: deferral does not starve anyone.
func TestPropertyConverges(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 7))
	for n := range 1000 {
		groups, cs := randomSite(rng)
		tr, err := NewTree(groups)
		if err != nil {
			t.Fatal(err)
		}
		cfg := Config{Hysteresis: -1, MinInterval: -1}
		for i := range cs {
			if cs[i].Sent != nil {
				cs[i].Sent.Confirmed = true // what was pending has been answered
			}
		}
		var r *Result
		now := t0
		for range 5 {
			r = cfg.Allocate(tr, cs, now, r)
			apply(cs, r, now, true)
			now = now.Add(time.Second)
		}
		for _, cr := range r.Connectors {
			if cr.Send || cr.Deferred {
				t.Fatalf("case %d: %s not settled after 5 confirmed rounds: %+v", n, cr.ID, cr)
			}
		}
	}
}
