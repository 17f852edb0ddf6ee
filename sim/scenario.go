package sim

import (
	"fmt"
	"math"
	"math/rand/v2"
	"time"
)

// Scenario is a pattern of how drivers use a charger over a day.
type Scenario string

// Scenarios.
const (
	// Home: one car arrives in the evening and leaves the next morning; a
	// second connector sees a second car now and then.
	Home Scenario = "home"
	// Office: cars arrive in the morning and leave in the afternoon, on
	// weekdays.
	Office Scenario = "office"
	// Random: sessions at any hour with random gaps and lengths; some
	// drivers leave as soon as the car is full.
	Random Scenario = "random"
	// Idle: nobody comes; the chargers only boot and send heartbeats.
	Idle Scenario = "idle"
)

// ParseScenario checks a scenario name.
func ParseScenario(s string) (Scenario, error) {
	switch sc := Scenario(s); sc {
	case Home, Office, Random, Idle:
		return sc, nil
	}
	return "", fmt.Errorf("unknown scenario %q: want home, office, random or idle", s)
}

// EVSpec describes the car of a session.
type EVSpec struct {
	CapacityKWh float64
	SoC         float64 // at arrival, 0..1
	MaxCurrent  float64 // A per phase
	Phases      int
}

// NewEV returns the car.
func (s EVSpec) NewEV() *EV { return NewEV(s.CapacityKWh, s.SoC, s.MaxCurrent, s.Phases) }

// evModels are the cars drivers come with: a small one-phase car, a
// mid-size and a large three-phase one.
var evModels = []EVSpec{
	{CapacityKWh: 40, MaxCurrent: 32, Phases: 1},
	{CapacityKWh: 60, MaxCurrent: 16, Phases: 3},
	{CapacityKWh: 82, MaxCurrent: 16, Phases: 3},
	{CapacityKWh: 95, MaxCurrent: 32, Phases: 3},
}

// Session is one visit of a driver to a connector.
type Session struct {
	Arrive, Depart time.Time
	EV             EVSpec
	// Tag is the RFID tag the driver presents after plugging in; empty
	// means the session is started remotely (by an app), so the charger
	// side only plugs in and waits.
	Tag string
	// LeaveWhenFull: the driver unplugs as soon as the car stops taking
	// energy, even before Depart.
	LeaveWhenFull bool
}

// Planner draws the sessions of one connector, one after another. The
// same scenario, seed, charger and connector give the same sessions.
type Planner struct {
	scenario Scenario
	rng      *rand.Rand
	tag      string
	second   bool // a connector other than the first
}

// NewPlanner returns the planner of connector (from 1) of charger n. tag
// is the RFID tag its drivers carry.
func NewPlanner(sc Scenario, seed uint64, charger, connector int, tag string) *Planner {
	return &Planner{
		scenario: sc,
		rng:      rand.New(rand.NewPCG(seed, uint64(charger)<<8|uint64(connector))),
		tag:      tag,
		second:   connector > 1,
	}
}

// Next returns the first session that starts after after; false for the
// idle scenario.
func (p *Planner) Next(after time.Time) (Session, bool) {
	r := p.rng
	var s Session
	switch p.scenario {
	case Home:
		day := midnight(after)
		for {
			// A second car comes on about one evening in three.
			if !p.second || r.IntN(3) == 0 {
				s.Arrive = day.Add(clampedNormal(r, 18.5, 1.2, 16, 22.5))
				if s.Arrive.After(after) {
					break
				}
			}
			day = day.AddDate(0, 0, 1)
		}
		s.Depart = midnight(s.Arrive).AddDate(0, 0, 1).Add(clampedNormal(r, 7.25, 0.6, 5.5, 9))
		s.EV = p.ev(0.15, 0.6)
		if r.IntN(2) == 0 {
			s.Tag = p.tag
		}
	case Office:
		day := midnight(after)
		for {
			wd := day.Weekday()
			if wd != time.Saturday && wd != time.Sunday && r.IntN(10) < 9 {
				s.Arrive = day.Add(clampedNormal(r, 8.5, 0.6, 7, 10.5))
				if s.Arrive.After(after) {
					break
				}
			}
			day = day.AddDate(0, 0, 1)
		}
		s.Depart = midnight(s.Arrive).Add(clampedNormal(r, 17, 0.7, 15, 19.5))
		s.EV = p.ev(0.3, 0.7)
		s.Tag = p.tag
	case Random:
		gap := time.Duration(r.ExpFloat64() * float64(3*time.Hour))
		s.Arrive = after.Add(time.Minute + gap).Truncate(time.Second)
		s.Depart = s.Arrive.Add(30*time.Minute + time.Duration(r.Float64()*float64(4*time.Hour))).Truncate(time.Second)
		s.EV = p.ev(0.1, 0.8)
		s.LeaveWhenFull = r.IntN(2) == 0
		if r.IntN(4) != 0 {
			s.Tag = p.tag
		}
	default:
		return Session{}, false
	}
	return s, true
}

// ev draws a car with a state of charge between lo and hi.
func (p *Planner) ev(lo, hi float64) EVSpec {
	e := evModels[p.rng.IntN(len(evModels))]
	e.SoC = math.Round((lo+p.rng.Float64()*(hi-lo))*1000) / 1000
	return e
}

// clampedNormal returns a time of day, hours from midnight, normally
// distributed and clamped, truncated to the second.
func clampedNormal(r *rand.Rand, mean, sd, lo, hi float64) time.Duration {
	h := math.Min(math.Max(mean+r.NormFloat64()*sd, lo), hi)
	return time.Duration(h * float64(time.Hour)).Truncate(time.Second)
}

func midnight(t time.Time) time.Time {
	y, m, d := t.Date()
	return time.Date(y, m, d, 0, 0, 0, 0, t.Location())
}

// FaultKind is what goes wrong.
type FaultKind string

// Faults.
const (
	// FaultReboot: the charge point restarts (its process ends and starts
	// again after For, keeping only what it keeps on disk).
	FaultReboot FaultKind = "reboot"
	// FaultConnector: a connector reports an error (Faulted) for For.
	FaultConnector FaultKind = "connector"
	// FaultConnection: the network drops the connection and lets none
	// through for For.
	FaultConnection FaultKind = "connection"
)

// Fault is one fault of a charger.
type Fault struct {
	At        time.Time
	Kind      FaultKind
	Connector int // for FaultConnector
	For       time.Duration
}

// FaultPlanner draws a charger's faults, in time order. The same seed and
// charger give the same faults.
type FaultPlanner struct {
	rng        *rand.Rand
	connectors int
	perDay     float64 // expected faults per charger per day
	enabled    bool
}

// NewFaultPlanner returns the fault planner of charger n with connectors
// connectors; perDay is the expected number of faults a day (0: none).
func NewFaultPlanner(seed uint64, charger, connectors int, perDay float64) *FaultPlanner {
	return &FaultPlanner{
		rng:        rand.New(rand.NewPCG(seed^0xfa017, uint64(charger))),
		connectors: max(connectors, 1),
		perDay:     perDay,
		enabled:    perDay > 0,
	}
}

// Next returns the first fault after after; false when there are none.
func (p *FaultPlanner) Next(after time.Time) (Fault, bool) {
	if !p.enabled {
		return Fault{}, false
	}
	r := p.rng
	f := Fault{At: after.Add(time.Duration(r.ExpFloat64() * float64(24*time.Hour) / p.perDay)).Truncate(time.Second)}
	switch r.IntN(3) {
	case 0:
		f.Kind = FaultReboot
		f.For = time.Duration(20+r.IntN(100)) * time.Second
	case 1:
		f.Kind = FaultConnector
		f.Connector = 1 + r.IntN(p.connectors)
		f.For = time.Duration(5+r.IntN(55)) * time.Minute
	default:
		f.Kind = FaultConnection
		f.For = time.Duration(1+r.IntN(15)) * time.Minute
	}
	return f, true
}
