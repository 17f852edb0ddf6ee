package smartcharging

import (
	"math"
	"testing"
	"time"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func three(a float64) PerPhase { return PerPhase{a, a, a} }

func mustTree(tb testing.TB, groups ...Group) *Tree {
	tb.Helper()
	t, err := NewTree(groups)
	if err != nil {
		tb.Fatal(err)
	}
	return t
}

func id(c string) ConnectorID { return ConnectorID{Charger: c, Connector: 1} }

// car is a three-phase car, ready to charge, on a 32 A connector.
func car(name, group string) Connector {
	return Connector{ID: id(name), Group: group, MaxCurrent: 32, State: StateWaiting}
}

func sentAt(limit float64, at time.Time) *Sent { return &Sent{Limit: limit, At: at, Confirmed: true} }

// apply plays the caller: it sends what the result says, confirmed or not.
func apply(cs []Connector, r *Result, now time.Time, confirm bool) {
	for i := range cs {
		cr, ok := r.Connector(cs[i].ID)
		if ok && cr.Send {
			cs[i].Sent = &Sent{Limit: cr.Limit, At: now, Confirmed: confirm}
		}
	}
}

func target(tb testing.TB, r *Result, name string) float64 {
	tb.Helper()
	cr, ok := r.Connector(id(name))
	if !ok {
		tb.Fatalf("no result for %s", name)
	}
	return cr.Target
}

func limitOf(tb testing.TB, r *Result, name string) ConnectorResult {
	tb.Helper()
	cr, ok := r.Connector(id(name))
	if !ok {
		tb.Fatalf("no result for %s", name)
	}
	return cr
}

// checkInvariants asserts what must hold after every round, whatever the
// input: no group is exceeded on any phase or in power by the targets nor by
// the limits in force (unless unmanaged chargers alone exceed it, and then
// nothing managed is added on that phase); every target is 0 or between the
// minimum and the maximum, in steps of 0.1 A.
func checkInvariants(tb testing.TB, cfg Config, tr *Tree, cs []Connector, r *Result) {
	tb.Helper()
	cfg = cfg.withDefaults()
	n := len(tr.groups)
	tgt := make([]float64, 4*n)
	lim := make([]float64, 4*n)
	fix := make([]float64, 4*n)
	seen := map[ConnectorID]bool{}
	for i := range cs {
		c := &cs[i]
		if seen[c.ID] {
			continue
		}
		seen[c.ID] = true
		g, ok := tr.index[c.Group]
		cr, found := r.Connector(c.ID)
		if !found {
			tb.Fatalf("no result for %s", c.ID)
		}
		if !ok {
			if cr.Send {
				tb.Errorf("%s: unknown group but a limit is sent", c.ID)
			}
			continue
		}
		ph := c.Phases.known()
		w := cfg.Voltage * float64(ph.count())
		addTo := func(v []float64, amps float64) {
			for _, a := range tr.anc[g] {
				for p, u := range ph {
					if u {
						v[4*a+int32(p)] += amps
					}
				}
				v[4*a+3] += amps * w
			}
		}
		if c.Unmanaged {
			if cr.Send {
				tb.Errorf("%s: unmanaged but a limit is sent", c.ID)
			}
			addTo(fix, cr.Limit)
			continue
		}
		t := cr.Target
		if math.Abs(t*10-math.Round(t*10)) > 1e-6 {
			tb.Errorf("%s: target %v not a multiple of 0.1 A", c.ID, t)
		}
		if t != 0 {
			minC := c.MinCurrent
			if minC == 0 {
				minC = cfg.MinCurrent
			}
			if t < minC-1e-9 {
				tb.Errorf("%s: target %v below minimum %v", c.ID, t, minC)
			}
			if t > c.MaxCurrent+1e-9 {
				tb.Errorf("%s: target %v above maximum %v", c.ID, t, c.MaxCurrent)
			}
		}
		if cr.Send && c.MaxCurrent > 0 && cr.Limit > c.MaxCurrent+1e-9 {
			tb.Errorf("%s: sends %v above maximum %v", c.ID, cr.Limit, c.MaxCurrent)
		}
		addTo(tgt, t)
		addTo(lim, cr.Limit)
	}
	for g, gr := range tr.groups {
		limits := [4]float64{gr.Limit[0], gr.Limit[1], gr.Limit[2], math.Inf(1)}
		if gr.PowerLimit > 0 {
			limits[3] = gr.PowerLimit
		}
		for k := range 4 {
			i := 4*g + k
			room := limits[k] - fix[i]
			if room < 0 {
				room = 0
			}
			slack := 1e-6
			if k == 3 {
				slack = 1e-3
			}
			if tgt[i] > room+slack {
				tb.Errorf("group %s constraint %d: targets %v exceed room %v", gr.ID, k, tgt[i], room)
			}
			if lim[i] > room+slack {
				tb.Errorf("group %s constraint %d: limits in force %v exceed room %v", gr.ID, k, lim[i], room)
			}
		}
	}
}
