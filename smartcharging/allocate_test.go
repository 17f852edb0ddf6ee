package smartcharging

import (
	"errors"
	"math"
	"strings"
	"testing"
	"time"
)

func TestNewTreeErrors(t *testing.T) {
	tests := []struct {
		name   string
		groups []Group
		err    error
		id     string
	}{
		{"empty id", []Group{{ID: ""}}, ErrEmptyID, "#0"},
		{"duplicate", []Group{{ID: "a"}, {ID: "a"}}, ErrDuplicateID, `"a"`},
		{"unknown parent", []Group{{ID: "a", Parent: "x"}}, ErrUnknownParent, `"a"`},
		{"cycle", []Group{{ID: "a", Parent: "b"}, {ID: "b", Parent: "a"}}, ErrCycle, `"a"`},
		{"self cycle", []Group{{ID: "a", Parent: "a"}}, ErrCycle, `"a"`},
		{"negative limit", []Group{{ID: "a", Limit: PerPhase{32, -1, 32}}}, ErrBadLimit, "L2"},
		{"NaN limit", []Group{{ID: "a", Limit: PerPhase{math.NaN(), 0, 0}}}, ErrBadLimit, "L1"},
		{"infinite power", []Group{{ID: "a", PowerLimit: math.Inf(1)}}, ErrBadLimit, "power"},
		{"NaN surplus", []Group{{ID: "a", HasSurplus: true, SurplusW: math.NaN()}}, ErrBadLimit, "surplus"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := NewTree(tc.groups)
			if !errors.Is(err, tc.err) {
				t.Fatalf("err = %v, want %v", err, tc.err)
			}
			if !strings.Contains(err.Error(), tc.id) {
				t.Errorf("error %q does not name %s", err, tc.id)
			}
		})
	}
	tr, err := NewTree([]Group{{ID: "house", Limit: three(35)}, {ID: "garage", Parent: "house", Limit: three(32)}})
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(tr.Ancestors("garage"), ","); got != "garage,house" {
		t.Errorf("Ancestors = %s", got)
	}
}

func TestValidateConnectors(t *testing.T) {
	tr := mustTree(t, Group{ID: "g", Limit: three(32)})
	tests := []struct {
		name string
		cs   []Connector
		err  error
	}{
		{"ok", []Connector{car("a", "g"), car("b", "g")}, nil},
		{"duplicate", []Connector{car("a", "g"), car("a", "g")}, ErrDuplicateID},
		{"unknown group", []Connector{car("a", "x")}, ErrUnknownGroup},
		{"no charger", []Connector{{Group: "g", MaxCurrent: 16}}, ErrEmptyID},
		{"zero max", []Connector{{ID: id("a"), Group: "g"}}, ErrBadCurrent},
		{"NaN min", []Connector{{ID: id("a"), Group: "g", MaxCurrent: 16, MinCurrent: math.NaN()}}, ErrBadCurrent},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := tr.Validate(tc.cs); !errors.Is(err, tc.err) {
				t.Fatalf("err = %v, want %v", err, tc.err)
			}
		})
	}
}

// TestSingleRound covers the static rules: one round, no history, every
// connector idle at 0 A confirmed so all are raises from 0.
func TestSingleRound(t *testing.T) {
	one := func(c Connector, p Phases) Connector { c.Phases = p; return c }
	with := func(c Connector, f func(*Connector)) Connector { f(&c); return c }
	L1, L2, L3 := Phases{true, false, false}, Phases{false, true, false}, Phases{false, false, true}
	g32 := []Group{{ID: "g", Limit: three(32)}}
	tests := []struct {
		name   string
		groups []Group
		cs     []Connector
		want   map[string]float64
		reason map[string]Reason
		alert  string
	}{
		{
			name: "two cars share 32 A", groups: g32,
			cs:   []Connector{car("a", "g"), car("b", "g")},
			want: map[string]float64{"a": 16, "b": 16},
		},
		{
			name: "fair share among three equals, rounded down", groups: g32,
			cs:   []Connector{car("a", "g"), car("b", "g"), car("c", "g")},
			want: map[string]float64{"a": 10.6, "b": 10.6, "c": 10.6},
		},
		{
			name: "fair share respects a small max", groups: g32,
			cs:   []Connector{with(car("a", "g"), func(c *Connector) { c.MaxCurrent = 10 }), car("b", "g")},
			want: map[string]float64{"a": 10, "b": 22},
		},
		{
			name: "priority: lowest paused when minimums do not fit, rest to the highest", groups: []Group{{ID: "g", Limit: three(16)}},
			cs: []Connector{
				with(car("hi", "g"), func(c *Connector) { c.Priority = 2 }),
				with(car("mid", "g"), func(c *Connector) { c.Priority = 1 }),
				car("lo", "g"),
			},
			want:   map[string]float64{"hi": 10, "mid": 6, "lo": 0},
			reason: map[string]Reason{"lo": ReasonPaused},
		},
		{
			name: "equal priority: minimums by id when not all fit", groups: []Group{{ID: "g", Limit: three(13)}},
			cs:   []Connector{car("a", "g"), car("b", "g"), car("c", "g")},
			want: map[string]float64{"a": 6.5, "b": 6.5, "c": 0},
		},
		{
			name: "higher minimum", groups: []Group{{ID: "g", Limit: three(16)}},
			cs:   []Connector{with(car("a", "g"), func(c *Connector) { c.MinCurrent = 10 }), car("b", "g")},
			want: map[string]float64{"a": 10, "b": 6},
		},
		{
			name: "one-phase cars on different phases do not share", groups: []Group{{ID: "g", Limit: three(20)}},
			cs: []Connector{
				one(with(car("a", "g"), func(c *Connector) { c.MaxCurrent = 16 }), L1),
				one(with(car("b", "g"), func(c *Connector) { c.MaxCurrent = 16 }), L2),
				one(with(car("c", "g"), func(c *Connector) { c.MaxCurrent = 16 }), L3),
			},
			want: map[string]float64{"a": 16, "b": 16, "c": 16},
		},
		{
			name: "one-phase car on L1 next to a three-phase car", groups: []Group{{ID: "g", Limit: PerPhase{20, 32, 32}}},
			cs: []Connector{
				one(car("a", "g"), L1),
				car("b", "g"),
				one(car("c", "g"), L2),
			},
			// L1 fills at 10 + 10; c on L2 goes on to 32 - 10.
			want: map[string]float64{"a": 10, "b": 10, "c": 22},
		},
		{
			name: "nested: house 35 A over garage 32 A and a 16 A circuit",
			groups: []Group{
				{ID: "house", Limit: three(35)},
				{ID: "garage", Parent: "house", Limit: three(32)},
				{ID: "shed", Parent: "house", Limit: three(16)},
			},
			cs:   []Connector{car("w1", "garage"), car("w2", "garage"), car("w3", "shed")},
			want: map[string]float64{"w1": 11.6, "w2": 11.6, "w3": 11.6},
		},
		{
			name: "nested: small circuit leaves the house to the garage",
			groups: []Group{
				{ID: "house", Limit: three(35)},
				{ID: "garage", Parent: "house", Limit: three(32)},
				{ID: "shed", Parent: "house", Limit: three(8)},
			},
			cs:   []Connector{car("w1", "garage"), car("w2", "garage"), car("w3", "shed")},
			want: map[string]float64{"w1": 13.5, "w2": 13.5, "w3": 8},
		},
		{
			name: "nested: garage full before the house",
			groups: []Group{
				{ID: "house", Limit: three(63)},
				{ID: "garage", Parent: "house", Limit: three(20)},
				{ID: "shed", Parent: "house", Limit: three(32)},
			},
			cs:   []Connector{car("w1", "garage"), car("w2", "garage"), car("w3", "shed")},
			want: map[string]float64{"w1": 10, "w2": 10, "w3": 32},
		},
		{
			name: "power limit 11 kW on a 32 A line", groups: []Group{{ID: "g", Limit: three(32), PowerLimit: 11000}},
			cs:   []Connector{car("a", "g"), car("b", "g")},
			want: map[string]float64{"a": 7.9, "b": 7.9},
		},
		{
			name: "power limit counts a one-phase car once", groups: []Group{{ID: "g", Limit: three(32), PowerLimit: 7360}},
			cs:   []Connector{one(car("a", "g"), L1), one(car("b", "g"), L2)},
			want: map[string]float64{"a": 16, "b": 16},
		},
		{
			name: "modes: off, low-cost outside and inside cheap hours", groups: g32,
			cs: []Connector{
				with(car("off", "g"), func(c *Connector) { c.Mode = ModeOff }),
				with(car("dear", "g"), func(c *Connector) { c.Mode = ModeLowCost }),
				with(car("cheap", "g"), func(c *Connector) { c.Mode = ModeLowCost; c.CheapNow = true }),
			},
			want:   map[string]float64{"off": 0, "dear": 0, "cheap": 32},
			reason: map[string]Reason{"off": ReasonOff, "dear": ReasonNotCheap},
		},
		{
			name: "idle and suspended-by-car connectors", groups: []Group{{ID: "g", Limit: three(20)}},
			cs: []Connector{
				with(car("idle", "g"), func(c *Connector) { c.State = StateIdle }),
				with(car("full", "g"), func(c *Connector) { c.State = StateSuspendedEV }),
				car("a", "g"),
			},
			// The full car keeps its minimum from what a needs not.
			want:   map[string]float64{"idle": 0, "full": 6, "a": 14},
			reason: map[string]Reason{"idle": ReasonIdle, "full": ReasonSuspendedEV},
		},
		{
			name: "suspended car yields its minimum to a ready one", groups: []Group{{ID: "g", Limit: three(10)}},
			cs: []Connector{
				with(car("a", "g"), func(c *Connector) { c.State = StateSuspendedEV; c.Priority = 5 }),
				car("b", "g"),
			},
			want: map[string]float64{"a": 0, "b": 10},
		},
		{
			name:   "solar: 4.2 kW surplus runs a three-phase car at its minimum",
			groups: []Group{{ID: "g", Limit: three(32), HasSurplus: true, SurplusW: 4200}},
			cs:     []Connector{with(car("a", "g"), func(c *Connector) { c.Mode = ModeSolar })},
			want:   map[string]float64{"a": 6},
		},
		{
			name:   "solar: 2 kW is below a three-phase minimum but feeds a one-phase car",
			groups: []Group{{ID: "g", Limit: three(32), HasSurplus: true, SurplusW: 2000}},
			cs: []Connector{
				with(car("a", "g"), func(c *Connector) { c.Mode = ModeSolar; c.Priority = 1 }),
				one(with(car("b", "g"), func(c *Connector) { c.Mode = ModeSolar }), L2),
			},
			want:   map[string]float64{"a": 0, "b": 8.6},
			reason: map[string]Reason{"a": ReasonNoSurplus},
		},
		{
			name:   "solar: what the car draws now is part of the surplus",
			groups: []Group{{ID: "g", Limit: three(32), HasSurplus: true, SurplusW: 690}},
			cs: []Connector{with(car("a", "g"), func(c *Connector) {
				c.Mode, c.State, c.Measured = ModeSolar, StateCharging, three(10)
				c.Sent = sentAt(10, t0.Add(-time.Hour))
			})},
			want: map[string]float64{"a": 11},
		},
		{
			name:   "solar: negative surplus stops the car, unless it has a solar minimum",
			groups: []Group{{ID: "site", Limit: three(63)}, {ID: "g", Parent: "site", Limit: three(32), HasSurplus: true, SurplusW: -1500}},
			cs: []Connector{
				with(car("a", "g"), func(c *Connector) { c.Mode = ModeSolar }),
				with(car("b", "g"), func(c *Connector) { c.Mode = ModeSolar; c.SolarMinCurrent = 8 }),
				car("c", "g"),
			},
			want: map[string]float64{"a": 0, "b": 8, "c": 24},
		},
		{
			name:   "solar: surplus shared fairly",
			groups: []Group{{ID: "g", Limit: three(32), HasSurplus: true, SurplusW: 11040}},
			cs: []Connector{
				with(car("a", "g"), func(c *Connector) { c.Mode = ModeSolar }),
				with(car("b", "g"), func(c *Connector) { c.Mode = ModeSolar }),
			},
			want: map[string]float64{"a": 8, "b": 8},
		},
		{
			name: "solar without a site meter", groups: g32,
			cs:    []Connector{with(car("a", "g"), func(c *Connector) { c.Mode = ModeSolar })},
			want:  map[string]float64{"a": 0},
			alert: "no group above it has a site meter",
		},
		{
			name: "unmanaged charger counted at its worst case", groups: g32,
			cs: []Connector{
				with(car("u", "g"), func(c *Connector) { c.Unmanaged = true; c.MaxCurrent = 16 }),
				car("a", "g"),
			},
			want:  map[string]float64{"u": 16, "a": 16},
			alert: "charger u/1 unmanaged: counting 16.0 A worst case",
		},
		{
			name: "unmanaged worst case above the limit pauses the rest", groups: []Group{{ID: "g", Limit: three(16)}},
			cs: []Connector{
				with(car("u", "g"), func(c *Connector) { c.Unmanaged = true; c.MaxCurrent = 20 }),
				car("a", "g"),
			},
			want:  map[string]float64{"u": 20, "a": 0},
			alert: "worst case of unmanaged chargers exceeds its L1 limit by 4.0 A",
		},
		{
			name: "measured draw above a limit raises an alert", groups: []Group{{ID: "g", Limit: three(16)}},
			cs: []Connector{with(car("a", "g"), func(c *Connector) {
				c.State, c.Measured, c.Sent = StateCharging, PerPhase{18, 16, 16}, sentAt(16, t0.Add(-time.Hour))
			})},
			want:  map[string]float64{"a": 16},
			alert: "group g over its limit on L1 by 2.0 A measured",
		},
		{
			name: "invalid and unknown-group connectors", groups: g32,
			cs: []Connector{
				{ID: id("bad"), Group: "g", MaxCurrent: math.NaN(), State: StateWaiting},
				car("lost", "nowhere"),
				car("a", "g"),
			},
			want:   map[string]float64{"bad": 0, "lost": 0, "a": 32},
			reason: map[string]Reason{"bad": ReasonInvalid, "lost": ReasonUnknownGroup},
			alert:  `group "nowhere" unknown`,
		},
		{
			name: "max below min", groups: g32,
			cs:     []Connector{with(car("a", "g"), func(c *Connector) { c.MaxCurrent = 5 })},
			want:   map[string]float64{"a": 0},
			reason: map[string]Reason{"a": ReasonMaxBelowMin},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tr := mustTree(t, tc.groups...)
			for i := range tc.cs {
				if tc.cs[i].Sent == nil {
					tc.cs[i].Sent = sentAt(0, t0.Add(-time.Hour))
				}
			}
			r := Allocate(tr, tc.cs, t0, nil)
			checkInvariants(t, Config{}, tr, tc.cs, r)
			for name, want := range tc.want {
				if got := target(t, r, name); math.Abs(got-want) > 1e-9 {
					t.Errorf("%s: target %v, want %v", name, got, want)
				}
			}
			for name, want := range tc.reason {
				if got := limitOf(t, r, name).Reason; got != want {
					t.Errorf("%s: reason %q, want %q", name, got, want)
				}
			}
			if tc.alert != "" && !hasAlert(r, tc.alert) {
				t.Errorf("no alert containing %q in %v", tc.alert, r.Alerts)
			}
		})
	}
}

func hasAlert(r *Result, s string) bool {
	for _, a := range r.Alerts {
		if strings.Contains(a.Message, s) {
			return true
		}
	}
	return false
}

// TestUnusedCurrentMovesOn is the case: two stations on one 32 A
// line; car 1 draws only 13 A, so car 2 may take what car 1 leaves.
func TestUnusedCurrentMovesOn(t *testing.T) {
	for _, tc := range []struct {
		headroom float64
		car1     float64 // cap of car 1 once trimmed
		car2     float64
	}{
		{headroom: 0, car1: 13, car2: 19}, // default, no headroom: exactly the 19 A
		{headroom: 1, car1: 14, car2: 18}, // 1 A headroom to show it wants more
	} {
		cfg := Config{Headroom: tc.headroom, SteadyFor: time.Minute, MinInterval: -1}
		tr := mustTree(t, Group{ID: "line", Limit: three(32)})
		cs := []Connector{car("car1", "line"), car("car2", "line")}
		for i := range cs {
			cs[i].State = StateCharging
			cs[i].Sent = sentAt(0, t0.Add(-time.Hour))
		}
		var r *Result
		now := t0
		step := func(draw1, draw2 float64) {
			cs[0].Measured, cs[1].Measured = three(draw1), three(draw2)
			r = cfg.Allocate(tr, cs, now, r)
			checkInvariants(t, cfg, tr, cs, r)
			apply(cs, r, now, true)
			now = now.Add(30 * time.Second)
		}
		step(0, 0)
		if a, b := target(t, r, "car1"), target(t, r, "car2"); a != 16 || b != 16 {
			t.Fatalf("start: %v/%v, want 16/16", a, b)
		}
		step(13, 16) // below since now
		step(13, 16) // 30 s
		if a := target(t, r, "car1"); a != 16 {
			t.Fatalf("trimmed too early: %v", a)
		}
		step(13, 16) // 60 s: steady
		if a, b := target(t, r, "car1"), target(t, r, "car2"); a != tc.car1 || b != tc.car2 {
			t.Fatalf("headroom %v: car1 %v car2 %v, want %v/%v", tc.headroom, a, b, tc.car1, tc.car2)
		}
		if !limitOf(t, r, "car1").Trimmed || limitOf(t, r, "car1").Reason != ReasonTrimmed {
			t.Errorf("car1 not marked trimmed: %+v", limitOf(t, r, "car1"))
		}
		step(13, tc.car2)
		if a, b := target(t, r, "car1"), target(t, r, "car2"); a != tc.car1 || b != tc.car2 {
			t.Fatalf("steady: car1 %v car2 %v", a, b)
		}
		if tc.headroom > 0 {
			// Car 1 wants more again: it draws up to its cap and gets its
			// fair share back.
			step(tc.car1, tc.car2)
			if a := target(t, r, "car1"); a != 16 {
				t.Fatalf("not released: car1 %v", a)
			}
		}
	}
}

func TestProbeReleasesTrim(t *testing.T) {
	cfg := Config{Headroom: -1, SteadyFor: -1, MinInterval: -1, ProbeEvery: 10 * time.Minute}
	tr := mustTree(t, Group{ID: "line", Limit: three(32)})
	cs := []Connector{car("a", "line"), car("b", "line")}
	for i := range cs {
		cs[i].State, cs[i].Measured, cs[i].Sent = StateCharging, three(16), sentAt(16, t0.Add(-time.Hour))
	}
	cs[0].Measured = three(10)
	r := cfg.Allocate(tr, cs, t0, nil)
	if got := target(t, r, "a"); got != 10 {
		t.Fatalf("a = %v, want trimmed to 10", got)
	}
	apply(cs, r, t0, true)
	r = cfg.Allocate(tr, cs, t0.Add(5*time.Minute), r)
	if got := target(t, r, "a"); got != 10 {
		t.Fatalf("a = %v, want still 10", got)
	}
	r = cfg.Allocate(tr, cs, t0.Add(10*time.Minute), r)
	if got := target(t, r, "a"); got != 16 {
		t.Fatalf("a = %v, want probed back to 16", got)
	}
}

func TestHysteresisAndInterval(t *testing.T) {
	tr := mustTree(t, Group{ID: "g", Limit: three(32)})
	tests := []struct {
		name     string
		sent     *Sent
		cars     int
		mode     Mode
		send     bool
		limit    float64
		deferred bool
	}{
		{name: "raise below hysteresis held", sent: sentAt(31.5, t0.Add(-time.Hour)), cars: 1, send: false, limit: 31.5},
		{name: "raise above hysteresis sent", sent: sentAt(20, t0.Add(-time.Hour)), cars: 1, send: true, limit: 32},
		{name: "raise within min interval held", sent: sentAt(20, t0.Add(-10*time.Second)), cars: 1, send: false, limit: 20},
		{name: "same limit not sent again", sent: sentAt(32, t0.Add(-time.Hour)), cars: 1, send: false, limit: 32},
		{name: "small lowering held while it fits", sent: sentAt(16.5, t0.Add(-time.Hour)), cars: 2, send: false, limit: 16.5},
		{name: "pause within min interval sent", sent: sentAt(20, t0.Add(-time.Second)), cars: 1, mode: ModeOff, send: true, limit: 0},
		{name: "never sent: sent at once", sent: nil, cars: 1, send: true, limit: 32},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a := car("a", "g")
			a.Sent, a.Mode = tc.sent, tc.mode
			cs := []Connector{a}
			if tc.cars == 2 {
				b := car("b", "g")
				b.Sent, b.MaxCurrent = sentAt(15.5, t0.Add(-time.Hour)), 15.5
				cs = append(cs, b)
			}
			r := Allocate(tr, cs, t0, nil)
			checkInvariants(t, Config{}, tr, cs, r)
			cr := limitOf(t, r, "a")
			if cr.Send != tc.send || cr.Limit != tc.limit || cr.Deferred != tc.deferred {
				t.Errorf("got send=%v limit=%v deferred=%v (target %v), want %v/%v/%v",
					cr.Send, cr.Limit, cr.Deferred, cr.Target, tc.send, tc.limit, tc.deferred)
			}
		})
	}
}

// TestSmallLoweringForcedForSafety: a lowering below hysteresis is held only
// while the plan fits; when another connector's limit needs the room, it goes
// out at once and the other's raise waits for its confirmation.
func TestSmallLoweringForcedForSafety(t *testing.T) {
	tr := mustTree(t, Group{ID: "g", Limit: three(32)})
	a, b := car("a", "g"), car("b", "g")
	a.Sent = sentAt(16.5, t0.Add(-time.Hour))
	b.Sent = sentAt(15.5, t0.Add(-time.Hour))
	a.MaxCurrent = 15 // a goes to 15 (a 1.5 A step), b to 17
	cs := []Connector{a, b}
	r := Allocate(tr, cs, t0, nil)
	checkInvariants(t, Config{}, tr, cs, r)
	ra, rb := limitOf(t, r, "a"), limitOf(t, r, "b")
	if !ra.Send || ra.Limit != 15 || rb.Send || !rb.Deferred {
		t.Fatalf("a %+v\nb %+v", ra, rb)
	}
	// A 0.5 A lowering under hysteresis is forced when the raise needs it.
	a.Sent = sentAt(16.5, t0.Add(-time.Hour))
	b.Sent = sentAt(14, t0.Add(-time.Hour))
	a.MaxCurrent = 16
	cs = []Connector{a, b}
	r = Allocate(tr, cs, t0, nil)
	checkInvariants(t, Config{}, tr, cs, r)
	ra, rb = limitOf(t, r, "a"), limitOf(t, r, "b")
	if !ra.Send || ra.Limit != 16 || !rb.Deferred || rb.Limit != 14 {
		t.Fatalf("a %+v\nb %+v", ra, rb)
	}
	apply(cs, r, t0, true)
	r = Allocate(tr, cs, t0.Add(time.Second), r)
	if rb = limitOf(t, r, "b"); !rb.Send || rb.Limit != 16 {
		t.Fatalf("b after a confirmed: %+v", rb)
	}
}

// TestLowerFirstRaiseLater plays successive rounds: car a charges alone at
// 32 A; car b arrives. a must be lowered before b is raised, and b waits
// until a confirms, or until the confirm delay has passed.
func TestLowerFirstRaiseLater(t *testing.T) {
	for _, confirm := range []bool{true, false} {
		name := "confirmed"
		if !confirm {
			name = "never confirmed, delay passes"
		}
		t.Run(name, func(t *testing.T) {
			cfg := Config{ConfirmDelay: 20 * time.Second}
			tr := mustTree(t, Group{ID: "g", Limit: three(32)})
			a, b := car("a", "g"), car("b", "g")
			a.State, a.Measured, a.Sent = StateCharging, three(31), sentAt(32, t0.Add(-time.Hour))
			b.Sent = sentAt(0, t0.Add(-time.Hour))
			cs := []Connector{a, b}
			var r *Result
			round := func(now time.Time, confirm bool) (ConnectorResult, ConnectorResult) {
				r = cfg.Allocate(tr, cs, now, r)
				checkInvariants(t, cfg, tr, cs, r)
				apply(cs, r, now, confirm)
				return limitOf(t, r, "a"), limitOf(t, r, "b")
			}
			ra, rb := round(t0, false)
			if !ra.Send || ra.Limit != 16 || rb.Send || !rb.Deferred || rb.Target != 16 {
				t.Fatalf("round 1:\na %+v\nb %+v", ra, rb)
			}
			// 5 s later: a has not confirmed yet; b still waits.
			ra, rb = round(t0.Add(5*time.Second), false)
			if ra.Send || rb.Send || !rb.Deferred {
				t.Fatalf("round 2:\na %+v\nb %+v", ra, rb)
			}
			if ra.Exposure != 32 {
				t.Errorf("a exposure %v, want 32 until confirmed", ra.Exposure)
			}
			next := t0.Add(25 * time.Second) // past the confirm delay
			if confirm {
				cs[0].Sent.Confirmed = true
				next = t0.Add(10 * time.Second)
			}
			cs[0].Measured = three(16)
			ra, rb = round(next, true)
			if ra.Send || !rb.Send || rb.Limit != 16 || rb.Deferred {
				t.Fatalf("round 3:\na %+v\nb %+v", ra, rb)
			}
		})
	}
}

// TestUnconfirmedDrawCounts: a connector that was lowered but still draws
// more than its new limit keeps others' raises back.
func TestUnconfirmedDrawCounts(t *testing.T) {
	tr := mustTree(t, Group{ID: "g", Limit: three(32)})
	a, b := car("a", "g"), car("b", "g")
	a.State, a.Measured = StateCharging, three(30)
	a.Sent = &Sent{Limit: 16, At: t0.Add(-2 * time.Second)} // not confirmed
	b.Sent = sentAt(0, t0.Add(-time.Hour))
	cs := []Connector{a, b}
	prev := &Result{Connectors: []ConnectorResult{{ID: a.ID, Exposure: 16}}} // e.g. rebuilt from storage
	r := Allocate(tr, cs, t0, prev)
	if rb := limitOf(t, r, "b"); rb.Send || !rb.Deferred {
		t.Fatalf("b raised while a still draws 30 A: %+v", rb)
	}
}

func TestDeterministic(t *testing.T) {
	tr := mustTree(t, Group{ID: "g", Limit: three(20)}, Group{ID: "h", Parent: "g", Limit: three(16)})
	cs := []Connector{car("c", "h"), car("a", "g"), car("b", "h"), car("d", "g")}
	r1 := Allocate(tr, cs, t0, nil)
	rev := []Connector{cs[3], cs[2], cs[1], cs[0]}
	r2 := Allocate(tr, rev, t0, nil)
	for i := range r1.Connectors {
		if r1.Connectors[i] != r2.Connectors[i] {
			t.Fatalf("order changes the result:\n%+v\n%+v", r1.Connectors[i], r2.Connectors[i])
		}
	}
	// Equal priority and nothing else to go by: the minimums go by id.
	for name, want := range map[string]float64{"a": 6.6, "b": 6.6, "c": 6.6, "d": 0} {
		if got := target(t, r1, name); got != want {
			t.Errorf("%s = %v, want %v", name, got, want)
		}
	}
}

func TestWaitingLongestGoesFirst(t *testing.T) {
	tr := mustTree(t, Group{ID: "g", Limit: three(8)})
	cs := []Connector{car("a", "g"), car("b", "g")}
	for i := range cs {
		cs[i].Sent = sentAt(0, t0.Add(-time.Hour))
	}
	prev := &Result{Connectors: []ConnectorResult{
		{ID: id("a"), WaitingSince: t0.Add(-time.Minute)},
		{ID: id("b"), WaitingSince: t0.Add(-time.Hour)},
	}}
	r := Allocate(tr, cs, t0, prev)
	if target(t, r, "b") != 8 || target(t, r, "a") != 0 {
		t.Fatalf("b waited longer: %+v", r.Connectors)
	}
	if got := limitOf(t, r, "a").WaitingSince; !got.Equal(t0.Add(-time.Minute)) {
		t.Errorf("a WaitingSince %v", got)
	}
	// A running car is not paused for a waiting one of equal priority.
	cs[0].Sent = sentAt(8, t0.Add(-time.Hour))
	r = Allocate(tr, cs, t0, prev)
	if target(t, r, "a") != 8 || target(t, r, "b") != 0 {
		t.Fatalf("running car paused: %+v", r.Connectors)
	}
}

func TestGroupResult(t *testing.T) {
	tr := mustTree(t, Group{ID: "g", Limit: three(32)})
	a := car("a", "g")
	a.Phases = Phases{true, false, false}
	a.State, a.Measured, a.Sent = StateCharging, PerPhase{12, 0, 0}, sentAt(0, t0.Add(-time.Hour))
	u := car("u", "g")
	u.Unmanaged, u.MaxCurrent = true, 10
	r := Allocate(tr, []Connector{a, u}, t0, nil)
	g := r.Groups[0]
	if g.Allocated != (PerPhase{32, 10, 10}) || g.Drawn != (PerPhase{12, 0, 0}) || g.Limit != three(32) {
		t.Fatalf("%+v", g)
	}
}

func TestDuplicateConnector(t *testing.T) {
	tr := mustTree(t, Group{ID: "g", Limit: three(32)})
	cs := []Connector{car("a", "g"), car("a", "g")}
	r := Allocate(tr, cs, t0, nil)
	if len(r.Connectors) != 1 || !hasAlert(r, "listed twice") {
		t.Fatalf("%+v %v", r.Connectors, r.Alerts)
	}
}
