package smartcharging

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"
)

// fleet is 10 sites × 10 circuits × 10 connectors: a 200 A site fuse over
// 32 A circuits, every connector busy, some one-phase, some drawing less
// than their limit, so that minimums, water filling and trimming all work.
func fleet(tb testing.TB, maxDraw float64) (*Tree, []Connector) {
	rng := rand.New(rand.NewPCG(1, 2))
	var groups []Group
	var cs []Connector
	for s := range 10 {
		site := fmt.Sprintf("site%d", s)
		groups = append(groups, Group{ID: site, Limit: three(200), PowerLimit: 120000, HasSurplus: true, SurplusW: 8000})
		for c := range 10 {
			circ := fmt.Sprintf("%s/c%d", site, c)
			groups = append(groups, Group{ID: circ, Parent: site, Limit: three(32)})
			for k := range 10 {
				x := Connector{
					ID:         ConnectorID{Charger: fmt.Sprintf("%s/cp%d", circ, k), Connector: 1},
					Group:      circ,
					Priority:   rng.IntN(3),
					MaxCurrent: 32,
					State:      StateCharging,
					Sent:       sentAt(16, t0.Add(-time.Hour)),
				}
				if k%4 == 0 {
					x.Phases = Phases{false, false, false}
					x.Phases[k%3] = true
				}
				if k == 9 {
					x.Mode = ModeSolar
				}
				draw := maxDraw * rng.Float64()
				for p, u := range x.Phases.known() {
					if u {
						x.Measured[p] = draw
					}
				}
				cs = append(cs, x)
			}
		}
	}
	return mustTree(tb, groups...), cs
}

// BenchmarkAllocate1000 runs one round for 1,000 connectors. "idle-meters":
// no draw measured yet, so all compete for their full share; "drawing":
// cars draw 0–20 A, most are trimmed to their draw, and the circuits, which
// are oversubscribed, raise over-limit alerts.
func BenchmarkAllocate1000(b *testing.B) {
	for _, bc := range []struct {
		name    string
		maxDraw float64
	}{{"idle-meters", 0}, {"drawing", 20}} {
		b.Run(bc.name, func(b *testing.B) {
			tr, cs := fleet(b, bc.maxDraw)
			cfg := Config{SteadyFor: -1}
			prev := cfg.Allocate(tr, cs, t0, nil)
			checkInvariants(b, cfg, tr, cs, prev)
			now := t0.Add(time.Minute)
			b.ReportAllocs()
			for b.Loop() {
				cfg.Allocate(tr, cs, now, prev)
			}
		})
	}
}
