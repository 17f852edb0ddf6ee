package smartcharging

import (
	"cmp"
	"math"
	"slices"
	"time"
)

// commit turns targets into limits to send, so that no group is exceeded by
// what the chargers are told (the plan) nor by what they may still be running
// on (the exposure). Decreases go out at once unless hysteresis or the
// minimum interval hold them and the plan fits without them; a raise goes out
// only if it fits next to everyone's exposure, which keeps it back until the
// decreases that make room for it are confirmed or ConfirmDelay has passed.
func (a *alloc) commit() {
	cfg := &a.cfg
	plan := make([]float64, len(a.limit))
	expo := make([]float64, len(a.limit))
	var raises []int32
	for i := range a.cs {
		x := &a.cs[i]
		if x.skip || x.g < 0 {
			continue
		}
		if x.fixed {
			a.add(plan, x, x.exp)
			a.add(expo, x, x.exp)
			continue
		}
		t := 0.0
		if x.want && x.val > 0 {
			t = math.Floor(x.val*10+1e-6) / 10
		}
		x.res.Target = t
		lim := t
		if x.hasCur {
			lim = x.cur
			quiet := a.now.Sub(x.c.Sent.At) < cfg.MinInterval
			small := math.Abs(t-x.cur) < cfg.Hysteresis-eps
			switch {
			case t < x.cur-eps:
				// Pausing is never held: it is what the user or the
				// car asked for, or what safety needs.
				if t == 0 || (!quiet && !small) {
					lim = t
				} else {
					x.optDec = true
				}
			case t > x.cur+eps:
				if !quiet && !small {
					x.raise = true
					raises = append(raises, int32(i))
				}
			}
		}
		x.res.Limit = lim
		a.add(plan, x, lim)
		a.add(expo, x, max(x.exp, lim))
	}
	for k := range plan {
		if plan[k] > a.limit[k]+limitTol {
			a.force(int32(k), plan)
		}
	}
	slices.SortFunc(raises, func(i, j int32) int {
		if d := cmp.Compare(a.cs[j].c.Priority, a.cs[i].c.Priority); d != 0 {
			return d
		}
		return cmp.Compare(i, j)
	})
	for _, i := range raises {
		x := &a.cs[i]
		d := x.res.Target - x.res.Limit
		dExp := max(x.exp, x.res.Target) - max(x.exp, x.res.Limit)
		planOK := a.room(plan, x, d, true)
		if planOK && a.room(expo, x, dExp, false) {
			a.add(plan, x, d)
			a.add(expo, x, dExp)
			x.res.Limit = x.res.Target
			continue
		}
		x.res.Deferred = true
		if !planOK {
			a.room(plan, x, d, true) // force what blocks it: it goes out now, the raise later
		}
	}
	for i := range a.cs {
		x := &a.cs[i]
		if x.managed && !x.skip {
			x.res.Send = !x.hasCur || math.Abs(x.res.Limit-x.cur) > eps
		}
	}
	a.planUse = plan
}

// limitTol is the slack allowed when checking a sum against a limit: float
// noise only.
const limitTol = 1e-6

// room reports whether d more amps for x fit every group above x in v. With
// force set, it sends the held decreases below each group that does not fit.
func (a *alloc) room(v []float64, x *conn, d float64, force bool) bool {
	ok := true
	for _, g := range a.t.anc[x.g] {
		o := 4 * g
		for p, used := range x.ph {
			if used && v[o+int32(p)]+d > a.limit[o+int32(p)]+limitTol {
				ok = false
				if force {
					a.force(o+int32(p), v)
				}
			}
		}
		if v[o+3]+d*x.w > a.limit[o+3]+limitTol {
			ok = false
			if force {
				a.force(o+3, v)
			}
		}
	}
	return ok
}

// force sends the held decreases below the group of constraint k that load it.
func (a *alloc) force(k int32, plan []float64) {
	g, p := k/4, k%4
	for _, i := range a.sub[a.subOff[g]:a.subOff[g+1]] {
		x := &a.cs[i]
		if x.optDec && (p == 3 || x.ph[p]) {
			x.optDec = false
			a.add(plan, x, x.res.Target-x.res.Limit)
			x.res.Limit = x.res.Target
		}
	}
}

func (a *alloc) result() *Result {
	r := &Result{At: a.now, Alerts: a.alerts}
	r.Connectors = make([]ConnectorResult, 0, len(a.cs))
	r.index = make(map[ConnectorID]int32, len(a.cs))
	for i := range a.cs {
		x := &a.cs[i]
		if x.skip {
			continue
		}
		if x.want && x.res.Target > 0 {
			x.res.WaitingSince = time.Time{}
			if x.res.Trimmed && x.res.Target < x.maxC {
				x.res.Reason = ReasonTrimmed
			}
		}
		r.index[x.c.ID] = int32(len(r.Connectors))
		r.Connectors = append(r.Connectors, x.res)
	}
	drawn := make([]float64, len(a.limit))
	for i := range a.cs {
		x := &a.cs[i]
		if x.skip || x.g < 0 {
			continue
		}
		for _, g := range a.t.anc[x.g] {
			for p := range 3 {
				drawn[4*g+int32(p)] += clean(x.c.Measured[p])
			}
		}
	}
	r.Groups = make([]GroupResult, len(a.t.groups))
	for g, gr := range a.t.groups {
		res := GroupResult{ID: gr.ID, Limit: gr.Limit, PowerLimit: gr.PowerLimit}
		copy(res.Allocated[:], a.planUse[4*g:4*g+3])
		copy(res.Drawn[:], drawn[4*g:4*g+3])
		for p := range 3 {
			if over := res.Allocated[p] - gr.Limit[p]; over > limitTol {
				a.alert(AlertOverLimit, gr.ID, "group %s: worst case of unmanaged chargers exceeds its L%d limit by %.1f A", gr.ID, p+1, over)
			}
			if over := res.Drawn[p] - gr.Limit[p]; over > a.cfg.OverTolerance {
				a.alert(AlertOverLimit, gr.ID, "group %s over its limit on L%d by %.1f A measured", gr.ID, p+1, over)
			}
		}
		if gr.PowerLimit > 0 {
			w := (res.Drawn[0] + res.Drawn[1] + res.Drawn[2]) * a.cfg.Voltage
			if over := w - gr.PowerLimit; over > a.cfg.OverTolerance*a.cfg.Voltage {
				a.alert(AlertOverLimit, gr.ID, "group %s over its power limit by %.0f W measured", gr.ID, over)
			}
		}
		r.Groups[g] = res
	}
	r.Alerts = a.alerts
	return r
}
