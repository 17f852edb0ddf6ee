package smartcharging

import "time"

// Config tunes the allocator. A zero field takes the default shown; to turn
// hysteresis, the interval or the delays off, set them negative.
type Config struct {
	Voltage    float64 // per phase, for power limits and solar; 230
	MinCurrent float64 // default minimum per connector; 6 A
	// Headroom is added to what a car draws when its allocation is trimmed
	// to its draw, so that it can show it wants more at once; 0 A: the
	// issue's "car 1 draws 13 A of 32, car 2 takes 19 A" exactly, and a
	// trimmed car gets its share back at the next probe (ProbeEvery) or
	// when its state changes. 1 A makes it quicker at that cost.
	Headroom float64
	// SteadyFor is how long a car must draw below its limit before its
	// allocation is trimmed to its draw; 1 min.
	SteadyFor time.Duration
	// ProbeEvery gives a trimmed car its full share again now and then, in
	// case it can take more than its draw suggests; 15 min.
	ProbeEvery time.Duration
	// Hysteresis: a change smaller than this is not sent unless safety
	// needs it; 1 A.
	Hysteresis float64
	// MinInterval between two limits sent to one connector, unless safety
	// needs it; 30 s.
	MinInterval time.Duration
	// ConfirmDelay: after this a lowered limit counts as applied even
	// without the charger's confirmation; 15 s.
	ConfirmDelay time.Duration
	// OverTolerance: measured current above a group limit by more than this
	// raises an alert; 0.5 A.
	OverTolerance float64
}

// DefaultConfig returns the defaults.
func DefaultConfig() Config { return Config{}.withDefaults() }

func (c Config) withDefaults() Config {
	setF := func(p *float64, d float64) {
		if *p == 0 {
			*p = d
		} else if *p < 0 {
			*p = 0
		}
	}
	setD := func(p *time.Duration, d time.Duration) {
		if *p == 0 {
			*p = d
		} else if *p < 0 {
			*p = 0
		}
	}
	setF(&c.Voltage, 230)
	setF(&c.MinCurrent, 6)
	setF(&c.Headroom, 0)
	setD(&c.SteadyFor, time.Minute)
	setD(&c.ProbeEvery, 15*time.Minute)
	setF(&c.Hysteresis, 1)
	setD(&c.MinInterval, 30*time.Second)
	setD(&c.ConfirmDelay, 15*time.Second)
	setF(&c.OverTolerance, 0.5)
	return c
}

// Reason says in a few words why a connector got its target.
type Reason string

const (
	ReasonCharging     Reason = "charging"
	ReasonTrimmed      Reason = "capped at its draw plus headroom"
	ReasonPaused       Reason = "paused: not enough current for its minimum"
	ReasonIdle         Reason = "idle"
	ReasonOff          Reason = "mode off"
	ReasonNotCheap     Reason = "low-cost: not a cheap hour"
	ReasonNoSurplus    Reason = "solar: surplus below minimum"
	ReasonSuspendedEV  Reason = "suspended by the car"
	ReasonUnmanaged    Reason = "unmanaged: worst case counted"
	ReasonInvalid      Reason = "invalid input"
	ReasonUnknownGroup Reason = "not in any known group"
	ReasonMaxBelowMin  Reason = "max current below minimum"
)

// ConnectorResult is the decision for one connector.
type ConnectorResult struct {
	ID    ConnectorID
	Group string
	// Target is what the connector should get, in A, a multiple of 0.1.
	Target float64
	// Limit is the limit in force once the caller has sent what Send says:
	// Target if Send, else the last limit sent. For an unmanaged connector
	// it is the worst case counted, MaxCurrent.
	Limit float64
	// Send: send Limit to the charger now.
	Send bool
	// Deferred: Target is a raise held back until a lowered connector has
	// confirmed or ConfirmDelay passed; Allocate will send it in a later round.
	Deferred bool
	Reason   Reason

	// State carried to the next round through prev. Callers may show it
	// but need not touch it.
	Exposure     float64   // the most the charger may be running on before this round's sends
	BelowSince   time.Time // drawing well below its limit since
	Trimmed      bool      // allocation capped at draw + headroom
	TrimmedAt    time.Time
	WaitingSince time.Time // wants energy but gets none since
}

// GroupResult is the picture of one group, for the dashboard's chart.
type GroupResult struct {
	ID         string
	Limit      PerPhase
	PowerLimit float64
	Allocated  PerPhase // sum of limits in force below, unmanaged worst case included
	Drawn      PerPhase // sum of measured currents below
}

// AlertKind classifies alerts so callers can route them.
type AlertKind string

const (
	AlertUnmanaged AlertKind = "unmanaged"
	AlertOverLimit AlertKind = "over-limit"
	AlertInvalid   AlertKind = "invalid"
	AlertSolar     AlertKind = "solar"
)

// Alert is something an operator should see.
type Alert struct {
	Kind    AlertKind
	Subject string // connector or group id
	Message string
}

// Result is one round of allocation. Pass it back as prev next round.
type Result struct {
	At         time.Time
	Connectors []ConnectorResult // by connector id
	Groups     []GroupResult     // in tree order
	Alerts     []Alert
	index      map[ConnectorID]int32
}

// Connector returns the result for id.
func (r *Result) Connector(id ConnectorID) (ConnectorResult, bool) {
	if r == nil {
		return ConnectorResult{}, false
	}
	i, ok := r.index[id]
	if !ok {
		return ConnectorResult{}, false
	}
	return r.Connectors[i], true
}
