package smartcharging

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"time"
)

// eps absorbs floating-point noise in comparisons of currents (A) and
// powers (W); it is far below the 0.1 A resolution of a limit.
const eps = 1e-9

// Allocate runs one round with DefaultConfig.
func Allocate(t *Tree, cs []Connector, now time.Time, prev *Result) *Result {
	return DefaultConfig().Allocate(t, cs, now, prev)
}

// conn is the allocator's working copy of one connector.
type conn struct {
	c       *Connector
	g       int32 // group index, -1 if unknown
	ph      Phases
	w       float64 // W per A over the phases it uses
	maxC    float64
	min     float64
	cap     float64 // most it may get this round
	drawn   float64 // max measured over all phases
	exp     float64 // the most the charger may be running on now
	cur     float64 // last limit sent
	hasCur  bool
	settled bool
	managed bool // steered by us (counted as a variable load)
	fixed   bool // counted at exp, not steered (unmanaged)
	skip    bool // duplicate: left out of the result
	want    bool
	tier    uint8 // 0: ready to charge, 1: suspended by the car
	val     float64
	fill    uint8 // water-filling: 0 not joined, 1 rising, 2 stopped
	optDec  bool  // a decrease held back by hysteresis or interval
	raise   bool  // a raise that passed hysteresis and interval
	res     ConnectorResult
	prev    *ConnectorResult
}

type alloc struct {
	cfg Config
	t   *Tree
	now time.Time
	cs  []conn
	// Per constraint k of group g at [4*g+k]: k<3 is a phase in A, k=3
	// the power limit in W (+Inf when none).
	limit, slack, rate, base []float64
	// CSR lists of the managed connectors below each group.
	subOff  []int32
	sub     []int32
	planUse []float64
	alerts  []Alert
}

// Allocate runs one round: it decides a target for every connector and which
// limits to send now. prev is the previous round's result, or nil; it carries
// what the allocator remembers (exposure of unconfirmed limits, how long a car
// has been drawing below its limit, how long one has been waiting).
// Allocate is deterministic and does no I/O.
func (cfg Config) Allocate(t *Tree, cs []Connector, now time.Time, prev *Result) *Result {
	cfg = cfg.withDefaults()
	a := &alloc{cfg: cfg, t: t, now: now, cs: make([]conn, len(cs))}
	for i := range cs {
		a.cs[i].c = &cs[i]
	}
	slices.SortStableFunc(a.cs, func(x, y conn) int {
		if x.c.ID.less(y.c.ID) {
			return -1
		}
		if y.c.ID.less(x.c.ID) {
			return 1
		}
		return 0
	})
	prevOf := prevLookup(prev)
	for i := range a.cs {
		x := &a.cs[i]
		if i > 0 && a.cs[i-1].c.ID == x.c.ID {
			x.skip = true
			a.alert(AlertInvalid, x.c.ID.String(), "connector %s listed twice: the second entry is ignored", x.c.ID)
			continue
		}
		a.prepare(x, prevOf(x.c.ID))
	}
	a.solar()
	a.initConstraints()
	a.minimums()
	a.share()
	a.commit()
	return a.result()
}

func prevLookup(prev *Result) func(ConnectorID) *ConnectorResult {
	if prev == nil || len(prev.Connectors) == 0 {
		return func(ConnectorID) *ConnectorResult { return nil }
	}
	idx := prev.index
	if idx == nil { // a Result rebuilt by the caller, e.g. from storage
		idx = make(map[ConnectorID]int32, len(prev.Connectors))
		for i, r := range prev.Connectors {
			idx[r.ID] = int32(i)
		}
	}
	return func(id ConnectorID) *ConnectorResult {
		if i, ok := idx[id]; ok {
			return &prev.Connectors[i]
		}
		return nil
	}
}

func (a *alloc) alert(kind AlertKind, subject, format string, args ...any) {
	a.alerts = append(a.alerts, Alert{Kind: kind, Subject: subject, Message: fmt.Sprintf(format, args...)})
}

func clean(f float64) float64 {
	if f >= 0 && !math.IsInf(f, 1) {
		return f
	}
	return 0
}

// prepare works out what a connector wants and what it may draw already.
func (a *alloc) prepare(x *conn, prev *ConnectorResult) {
	c, cfg := x.c, &a.cfg
	x.prev = prev
	x.res = ConnectorResult{ID: c.ID, Group: c.Group}
	g, ok := a.t.index[c.Group]
	if !ok {
		x.g = -1
		x.res.Reason = ReasonUnknownGroup
		a.alert(AlertInvalid, c.ID.String(), "connector %s: group %q unknown: not steered", c.ID, c.Group)
		return
	}
	x.g = g
	x.ph = c.Phases.known()
	x.w = cfg.Voltage * float64(x.ph.count())
	for p := range c.Measured {
		x.drawn = max(x.drawn, clean(c.Measured[p]))
	}
	valid := true
	if err := c.checkCurrents(); err != nil {
		valid = false
		a.alert(AlertInvalid, c.ID.String(), "connector %s: %v: paused", c.ID, err)
	} else {
		x.maxC = c.MaxCurrent
	}

	// Exposure: what the charger may be running on right now. A limit
	// not yet confirmed may not have replaced the one before it.
	x.exp = x.maxC
	if c.Sent != nil {
		x.hasCur, x.cur = true, clean(c.Sent.Limit)
		x.settled = c.Sent.Confirmed || a.now.Sub(c.Sent.At) >= cfg.ConfirmDelay
		x.exp = x.cur
		if !x.settled {
			before := x.maxC
			if prev != nil {
				before = prev.Exposure
			}
			x.exp = max(x.cur, before, x.drawn)
		}
	}
	x.res.Exposure = x.exp

	if c.Unmanaged {
		x.fixed = true
		x.exp = max(x.maxC, x.drawn)
		x.res.Target, x.res.Limit, x.res.Exposure = x.exp, x.exp, x.exp
		x.res.Reason = ReasonUnmanaged
		a.alert(AlertUnmanaged, c.ID.String(), "charger %s unmanaged: counting %.1f A worst case against group %s", c.ID, x.exp, c.Group)
		return
	}
	x.managed = true
	if !valid {
		x.res.Reason = ReasonInvalid
		return
	}
	x.min = math.Ceil(cmp.Or(c.MinCurrent, cfg.MinCurrent)*10-1e-6) / 10
	x.cap = x.maxC
	switch {
	case c.Mode == ModeOff: // first: it says why a car that comes will not charge
		x.res.Reason = ReasonOff
	case c.State == StateIdle:
		x.res.Reason = ReasonIdle
	case c.Mode == ModeLowCost && !c.CheapNow:
		x.res.Reason = ReasonNotCheap
	case x.min > x.maxC+eps:
		x.res.Reason = ReasonMaxBelowMin
	case c.State == StateSuspendedEV:
		// Keep the minimum so the car can resume, but only from current
		// nobody ready to charge needs, and never more.
		x.want, x.tier, x.cap = true, 1, x.min
		x.res.Reason = ReasonSuspendedEV
	default:
		x.want = true
		x.res.Reason = ReasonCharging
		a.trim(x)
	}
	if x.want && prev != nil && prev.Target == 0 && !prev.WaitingSince.IsZero() {
		x.res.WaitingSince = prev.WaitingSince
	}
}

// trim caps a car that has drawn well below its limit for a while at its
// draw plus headroom, so what it leaves goes to others; it gets its share
// back as soon as it draws close to the cap, or at the next probe.
func (a *alloc) trim(x *conn) {
	c, cfg, prev := x.c, &a.cfg, x.prev
	if c.State != StateCharging || !x.hasCur || x.cur <= 0 {
		return
	}
	drawn := 0.0
	for p, used := range x.ph {
		if used {
			drawn = max(drawn, clean(c.Measured[p]))
		}
	}
	h := cfg.Headroom
	capAt := max(x.min, drawn+h)
	if prev != nil && prev.Trimmed {
		release := h > 0 && drawn >= x.cur-h/2
		probe := cfg.ProbeEvery > 0 && a.now.Sub(prev.TrimmedAt) >= cfg.ProbeEvery
		if !release && !probe {
			x.res.Trimmed, x.res.TrimmedAt = true, prev.TrimmedAt
			x.cap = min(x.cap, capAt)
		}
		return
	}
	if drawn >= x.cur-h-eps {
		return
	}
	since := a.now
	if prev != nil && !prev.BelowSince.IsZero() {
		since = prev.BelowSince
	}
	x.res.BelowSince = since
	if a.now.Sub(since) >= cfg.SteadyFor {
		x.res.Trimmed, x.res.TrimmedAt = true, a.now
		x.cap = min(x.cap, capAt)
	}
}

// solar caps each Solar connector at its share of its site's surplus.
func (a *alloc) solar() {
	var site map[int32][]int32 // surplus group -> solar connectors below
	var budget map[int32]float64
	for i := range a.cs {
		x := &a.cs[i]
		if x.skip || x.g < 0 || x.c.Mode != ModeSolar || !x.managed {
			continue
		}
		s := int32(-1)
		for _, g := range a.t.anc[x.g] {
			if a.t.groups[g].HasSurplus {
				s = g
				break
			}
		}
		if site == nil {
			site, budget = map[int32][]int32{}, map[int32]float64{}
		}
		if s < 0 {
			if x.want {
				a.alert(AlertSolar, x.c.ID.String(), "connector %s in solar mode but no group above it has a site meter", x.c.ID)
				a.solarCap(x, 0)
			}
			continue
		}
		if _, ok := budget[s]; !ok {
			budget[s] = a.t.groups[s].SurplusW
		}
		// The site meter sees the solar cars' own draw as consumption:
		// that power is theirs to keep.
		for p := range x.c.Measured {
			budget[s] += clean(x.c.Measured[p]) * a.cfg.Voltage
		}
		if x.want && x.managed {
			site[s] = append(site[s], int32(i))
		}
	}
	for s, list := range site {
		a.shareSurplus(list, budget[s])
	}
}

func (a *alloc) shareSurplus(list []int32, budget float64) {
	slices.SortFunc(list, func(i, j int32) int {
		if d := cmp.Compare(a.cs[j].c.Priority, a.cs[i].c.Priority); d != 0 {
			return d
		}
		return cmp.Compare(i, j)
	})
	share := make([]float64, len(list))
	var in []int32
	need, top := 0.0, 0.0
	for k, i := range list {
		x := &a.cs[i]
		if need+x.min*x.w <= budget+eps {
			need += x.min * x.w
			in = append(in, int32(k))
			top = max(top, x.cap)
		}
	}
	if len(in) > 0 {
		use := func(level float64) float64 {
			s := 0.0
			for _, k := range in {
				x := &a.cs[list[k]]
				s += x.w * min(max(level, x.min), x.cap)
			}
			return s
		}
		level := top
		if use(top) > budget {
			lo, hi := 0.0, top
			for range 60 {
				mid := (lo + hi) / 2
				if use(mid) <= budget {
					lo = mid
				} else {
					hi = mid
				}
			}
			level = lo
		}
		for _, k := range in {
			x := &a.cs[list[k]]
			share[k] = min(max(level, x.min), x.cap)
		}
	}
	for k, i := range list {
		a.solarCap(&a.cs[i], share[k])
	}
}

func (a *alloc) solarCap(x *conn, share float64) {
	if m := x.c.SolarMinCurrent; m > 0 {
		share = max(share, min(x.cap, max(m, x.min)))
	}
	if share < x.min-eps {
		x.want = false
		x.res.Reason = ReasonNoSurplus
		return
	}
	x.cap = min(x.cap, share)
}

// initConstraints sets each group's room: its limits less the worst case of
// the unmanaged chargers below it.
func (a *alloc) initConstraints() {
	n := len(a.t.groups)
	a.limit = make([]float64, 4*n)
	a.slack = make([]float64, 4*n)
	a.rate = make([]float64, 4*n)
	a.base = make([]float64, 4*n)
	for g, gr := range a.t.groups {
		copy(a.limit[4*g:], gr.Limit[:])
		a.limit[4*g+3] = math.Inf(1)
		if gr.PowerLimit > 0 {
			a.limit[4*g+3] = gr.PowerLimit
		}
	}
	copy(a.slack, a.limit)
	count := make([]int32, n+1)
	for i := range a.cs {
		x := &a.cs[i]
		if x.skip || x.g < 0 {
			continue
		}
		if x.fixed {
			a.add(a.slack, x, -x.exp)
		}
		if x.managed {
			for _, g := range a.t.anc[x.g] {
				count[g+1]++
			}
		}
	}
	for g := range n {
		count[g+1] += count[g]
	}
	a.subOff = count
	a.sub = make([]int32, count[n])
	fill := slices.Clone(count[:n])
	for i := range a.cs {
		x := &a.cs[i]
		if x.managed && !x.skip {
			for _, g := range a.t.anc[x.g] {
				a.sub[fill[g]] = int32(i)
				fill[g]++
			}
		}
	}
}

// add adds amps on x's phases (and the matching power) to every group above x.
func (a *alloc) add(v []float64, x *conn, amps float64) {
	for _, g := range a.t.anc[x.g] {
		o := 4 * g
		for p, used := range x.ph {
			if used {
				v[o+int32(p)] += amps
			}
		}
		v[o+3] += amps * x.w
	}
}

// fits reports whether amps more on x's phases fit every group above x.
func (a *alloc) fits(v []float64, x *conn, amps float64) bool {
	for _, g := range a.t.anc[x.g] {
		o := 4 * g
		for p, used := range x.ph {
			if used && v[o+int32(p)] < amps-eps {
				return false
			}
		}
		if v[o+3] < amps*x.w-eps*x.w {
			return false
		}
	}
	return true
}

// minimums gives each connector that wants energy its minimum, or pauses it,
// in order: ready before suspended-by-car, higher priority, already
// running (no flapping), waiting longest, id.
func (a *alloc) minimums() {
	order := make([]int32, 0, len(a.cs))
	for i := range a.cs {
		if a.cs[i].want {
			order = append(order, int32(i))
		}
	}
	slices.SortFunc(order, func(i, j int32) int {
		x, y := &a.cs[i], &a.cs[j]
		if d := cmp.Compare(x.tier, y.tier); d != 0 {
			return d
		}
		if d := cmp.Compare(y.c.Priority, x.c.Priority); d != 0 {
			return d
		}
		xr, yr := x.hasCur && x.cur > 0, y.hasCur && y.cur > 0
		if xr != yr {
			if xr {
				return -1
			}
			return 1
		}
		if d := compareWaiting(x.res.WaitingSince, y.res.WaitingSince); d != 0 {
			return d
		}
		return cmp.Compare(i, j)
	})
	for _, i := range order {
		x := &a.cs[i]
		if a.fits(a.slack, x, x.min) {
			a.add(a.slack, x, -x.min)
			x.val = x.min
			continue
		}
		x.res.Reason = ReasonPaused
		if x.res.WaitingSince.IsZero() {
			x.res.WaitingSince = a.now
		}
	}
}

// compareWaiting puts the longest waiting first; zero (not waiting) last.
func compareWaiting(x, y time.Time) int {
	switch {
	case x.Equal(y):
		return 0
	case x.IsZero():
		return 1
	case y.IsZero():
		return -1
	case x.Before(y):
		return -1
	}
	return 1
}

// share hands out what is left, one priority level at a time, by water
// filling: every rising connector gets the same current until a group runs
// full (its connectors stop) or a connector reaches its cap.
func (a *alloc) share() {
	var risers []int32
	for i := range a.cs {
		x := &a.cs[i]
		if x.want && x.val > 0 && x.cap > x.val+eps {
			risers = append(risers, int32(i))
		}
	}
	slices.SortFunc(risers, func(i, j int32) int {
		if d := cmp.Compare(a.cs[j].c.Priority, a.cs[i].c.Priority); d != 0 {
			return d
		}
		return cmp.Compare(i, j)
	})
	for len(risers) > 0 {
		n := 1
		for n < len(risers) && a.cs[risers[n]].c.Priority == a.cs[risers[0]].c.Priority {
			n++
		}
		a.waterFill(risers[:n])
		risers = risers[n:]
	}
}

func (a *alloc) waterFill(level []int32) {
	joins := slices.Clone(level)
	slices.SortStableFunc(joins, func(i, j int32) int { return cmp.Compare(a.cs[i].val, a.cs[j].val) })
	caps := slices.Clone(level)
	slices.SortStableFunc(caps, func(i, j int32) int { return cmp.Compare(a.cs[i].cap, a.cs[j].cap) })
	L := a.cs[joins[0]].val
	for k := range a.base {
		a.base[k] = L
	}
	ji, ci, rising := 0, 0, 0
	for {
		for ji < len(joins) && a.cs[joins[ji]].val <= L+eps {
			x := &a.cs[joins[ji]]
			x.fill = 1
			rising++
			a.setRate(x, L, 1)
			ji++
		}
		for ci < len(caps) {
			x := &a.cs[caps[ci]]
			if x.fill == 2 {
				ci++
				continue
			}
			if x.fill == 1 && x.cap <= L+eps {
				a.stop(x, x.cap, L)
				rising--
				ci++
				continue
			}
			break
		}
		// Stop everyone below a group that has run full.
		for k, r := range a.rate {
			if r > 0 && a.base[k]+a.slack[k]/r <= L+eps {
				rising -= a.freeze(int32(k), L)
			}
		}
		if rising == 0 && ji == len(joins) {
			return
		}
		next := math.Inf(1)
		if ji < len(joins) {
			next = a.cs[joins[ji]].val
		}
		if rising > 0 {
			if ci < len(caps) {
				next = min(next, a.cs[caps[ci]].cap)
			}
			for k, r := range a.rate {
				if r > 0 {
					next = min(next, a.base[k]+a.slack[k]/r)
				}
			}
		}
		if math.IsInf(next, 1) { // cannot happen: every riser has a finite cap
			return
		}
		L = max(L, next)
	}
}

// setRate changes how fast x's groups fill as the level rises: sign is +1
// when x starts rising at level L, -1 when it stops there.
func (a *alloc) setRate(x *conn, L, sign float64) {
	for _, g := range a.t.anc[x.g] {
		o := 4 * g
		for p, used := range x.ph {
			if used {
				a.move(o+int32(p), L, sign)
			}
		}
		a.move(o+3, L, sign*x.w)
	}
}

func (a *alloc) move(k int32, L, dr float64) {
	if math.IsInf(a.slack[k], 1) {
		return
	}
	a.slack[k] -= (L - a.base[k]) * a.rate[k]
	a.base[k] = L
	a.rate[k] += dr
	if a.rate[k] < eps { // keep exact zero: rates are sums of small integers and w
		a.rate[k] = 0
	}
}

func (a *alloc) stop(x *conn, val, L float64) {
	x.val = val
	x.fill = 2
	a.setRate(x, L, -1)
}

// freeze stops the rising connectors below the group of constraint k that
// load it, and returns how many it stopped.
func (a *alloc) freeze(k int32, L float64) int {
	g, p := k/4, k%4
	n := 0
	for _, i := range a.sub[a.subOff[g]:a.subOff[g+1]] {
		x := &a.cs[i]
		if x.fill == 1 && (p == 3 || x.ph[p]) {
			a.stop(x, L, L)
			n++
		}
	}
	return n
}
