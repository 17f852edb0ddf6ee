// Package schedule owns the arithmetic of OCPP 1.6 charging profiles on the
// charge point's side: which period of a profile is in force at a moment
// (Absolute, Recurring Daily/Weekly, Relative to the transaction start,
// validFrom/validTo, duration), which profile wins within a purpose (the
// highest stack level that is in force), the composite limit of
// ChargePointMaxProfile and TxProfile/TxDefaultProfile in amps, when that
// limit changes next, and the composite schedule GetCompositeSchedule
// reports. It has no state and no clock of its own.
package schedule

import (
	"math"
	"slices"
	"time"

	v16 "github.com/wattson-csms/wattson/ocpp/v16"
)

// Profile is an installed charging profile.
type Profile struct {
	// ConnectorID is the connector it was set for; 0 is the whole charge
	// point.
	ConnectorID int
	// Installed is when the charge point received it: the start of an
	// Absolute or Recurring schedule that has no startSchedule.
	Installed time.Time
	v16.ChargingProfile
}

// Period is what one profile says at a moment.
type Period struct {
	Limit  float64
	Unit   v16.ChargingRateUnit
	Phases int // 0 when the period does not say
}

// At evaluates p at t. txStart is the start of the transaction the profile
// applies to, nil when none runs (a Relative profile is then not in force).
// ok reports whether the profile is in force at t; next is the first moment
// after t at which what it says may change (the zero time when never).
func At(p *Profile, t time.Time, txStart *time.Time) (per Period, ok bool, next time.Time) {
	cp := &p.ChargingProfile
	if cp.ValidTo != nil && !t.Before(*cp.ValidTo) {
		return Period{}, false, time.Time{}
	}
	clip := func(n time.Time) time.Time {
		if cp.ValidTo != nil && (n.IsZero() || cp.ValidTo.Before(n)) {
			return *cp.ValidTo
		}
		return n
	}
	if cp.ValidFrom != nil && t.Before(*cp.ValidFrom) {
		return Period{}, false, clip(*cp.ValidFrom)
	}
	sch := &cp.ChargingSchedule
	if len(sch.ChargingSchedulePeriod) == 0 {
		return Period{}, false, clip(time.Time{})
	}
	var start time.Time
	var cycle time.Duration // length of a recurrence, 0 when none
	switch cp.ChargingProfileKind {
	case v16.ChargingProfileKindRelative:
		if txStart == nil {
			return Period{}, false, clip(time.Time{})
		}
		start = *txStart
	case v16.ChargingProfileKindRecurring:
		start = p.Installed
		if sch.StartSchedule != nil {
			start = *sch.StartSchedule
		}
		switch cp.RecurrencyKind {
		case v16.RecurrencyKindWeekly:
			cycle = 7 * 24 * time.Hour
		default:
			cycle = 24 * time.Hour
		}
		// The recurrence runs in both directions from startSchedule: the
		// cycle containing t starts at the latest start+k*cycle <= t.
		k := math.Floor(float64(t.Sub(start)) / float64(cycle))
		start = start.Add(time.Duration(k) * cycle)
		if start.After(t) { // float rounding
			start = start.Add(-cycle)
		} else if !t.Before(start.Add(cycle)) {
			start = start.Add(cycle)
		}
	default: // Absolute
		start = p.Installed
		if sch.StartSchedule != nil {
			start = *sch.StartSchedule
		}
	}
	elapsed := t.Sub(start)
	if elapsed < 0 {
		return Period{}, false, clip(start)
	}
	end := time.Time{} // end of this run of the schedule
	if sch.Duration != nil {
		end = start.Add(time.Duration(*sch.Duration) * time.Second)
	}
	if cycle > 0 {
		cycleEnd := start.Add(cycle)
		if end.IsZero() || cycleEnd.Before(end) {
			end = cycleEnd
		}
	}
	periods := sortedPeriods(sch.ChargingSchedulePeriod)
	if !end.IsZero() && !t.Before(end) {
		// Only a recurring schedule comes back: at its next cycle.
		if cycle > 0 {
			return Period{}, false, clip(start.Add(cycle).Add(time.Duration(periods[0].StartPeriod) * time.Second))
		}
		return Period{}, false, clip(time.Time{})
	}
	idx := -1
	for i, sp := range periods {
		if time.Duration(sp.StartPeriod)*time.Second <= elapsed {
			idx = i
		}
	}
	nextChange := end
	if idx+1 < len(periods) {
		n := start.Add(time.Duration(periods[idx+1].StartPeriod) * time.Second)
		if end.IsZero() || n.Before(end) {
			nextChange = n
		}
	}
	if idx < 0 {
		return Period{}, false, clip(nextChange)
	}
	sp := periods[idx]
	per = Period{Limit: sp.Limit, Unit: sch.ChargingRateUnit}
	if sp.NumberPhases != nil {
		per.Phases = *sp.NumberPhases
	}
	return per, true, clip(nextChange)
}

func sortedPeriods(ps []v16.ChargingSchedulePeriod) []v16.ChargingSchedulePeriod {
	if slices.IsSortedFunc(ps, func(a, b v16.ChargingSchedulePeriod) int { return a.StartPeriod - b.StartPeriod }) {
		return ps
	}
	out := slices.Clone(ps)
	slices.SortStableFunc(out, func(a, b v16.ChargingSchedulePeriod) int { return a.StartPeriod - b.StartPeriod })
	return out
}

// Electrical converts between watts and amps per phase.
type Electrical struct {
	Phases  int     // phases the charge point uses; default 3
	Voltage float64 // phase to neutral; default 230
}

func (e Electrical) norm() Electrical {
	if e.Phases <= 0 {
		e.Phases = 3
	}
	if e.Voltage <= 0 {
		e.Voltage = 230
	}
	return e
}

// Amps returns the limit of a period in amps per phase. A period in watts
// is divided over the phases it names (all of the charge point's when it
// names none), never more than the charge point has.
func (e Electrical) Amps(p Period) float64 {
	if p.Unit != v16.ChargingRateUnitW {
		return p.Limit
	}
	e = e.norm()
	ph := e.Phases
	if p.Phases > 0 && p.Phases < ph {
		ph = p.Phases
	}
	return p.Limit / (e.Voltage * float64(ph))
}

// Watts converts amps per phase on all the charge point's phases to watts.
func (e Electrical) Watts(amps float64) float64 {
	e = e.norm()
	return amps * e.Voltage * float64(e.Phases)
}

// Stack picks, among profiles of one purpose, the one in force at t: the
// highest stack level that is in force; at equal levels a profile for the
// connector itself beats one for connector 0. It returns the amps and
// whether any profile was in force, and the first moment after t at which
// the answer may change.
func Stack(profiles []*Profile, e Electrical, t time.Time, txStart *time.Time) (amps float64, ok bool, next time.Time) {
	ordered := slices.Clone(profiles)
	slices.SortStableFunc(ordered, func(a, b *Profile) int {
		if a.StackLevel != b.StackLevel {
			return b.StackLevel - a.StackLevel
		}
		// Connector-specific first.
		ai, bi := 0, 0
		if a.ConnectorID == 0 {
			ai = 1
		}
		if b.ConnectorID == 0 {
			bi = 1
		}
		return ai - bi
	})
	for _, p := range ordered {
		per, in, n := At(p, t, txStart)
		next = Earliest(next, n)
		if in && !ok {
			amps, ok = e.Amps(per), true
		}
	}
	return amps, ok, next
}

// Earliest returns the earlier of two times, a zero time meaning "none".
func Earliest(a, b time.Time) time.Time {
	switch {
	case a.IsZero():
		return b
	case b.IsZero():
		return a
	case b.Before(a):
		return b
	}
	return a
}

// Set is every profile that applies to one connector.
type Set struct {
	ChargePointMax []*Profile // purpose ChargePointMaxProfile
	TxDefault      []*Profile // purpose TxDefaultProfile, for the connector and for connector 0
	Tx             []*Profile // purpose TxProfile, for the running transaction
	TxStart        *time.Time // start of the running transaction, nil when none
}

// Limit returns the composite limit at t in amps: the smaller of the
// ChargePointMaxProfile in force and the TxProfile in force (or, without
// one, the TxDefaultProfile in force). ok is false when no profile limits
// the connector at t. next is when the limit may change next (zero:
// never).
func (s Set) Limit(e Electrical, t time.Time) (amps float64, ok bool, next time.Time) {
	maxA, maxOK, n1 := Stack(s.ChargePointMax, e, t, s.TxStart)
	txA, txOK, n2 := Stack(s.Tx, e, t, s.TxStart)
	defA, defOK, n3 := Stack(s.TxDefault, e, t, s.TxStart)
	next = Earliest(Earliest(n1, n2), n3)
	if !txOK && defOK {
		txA, txOK = defA, true
	}
	switch {
	case maxOK && txOK:
		return math.Min(maxA, txA), true, next
	case maxOK:
		return maxA, true, next
	case txOK:
		return txA, true, next
	}
	return 0, false, next
}

// maxSteps bounds the periods of a composite schedule, so that odd input
// (a recurring profile with thousands of periods) cannot make it huge.
const maxSteps = 1000

// Composite returns the schedule of the composite limit from start for
// duration, in unit (amps when empty), with consecutive equal limits
// merged. Where no profile limits the connector the limit is def amps.
// Limits are rounded down to 0.1, as the schema requires.
func (s Set) Composite(e Electrical, start time.Time, duration time.Duration, unit v16.ChargingRateUnit, def float64) v16.ChargingSchedule {
	if unit == "" {
		unit = v16.ChargingRateUnitA
	}
	secs := int(duration / time.Second)
	st := start
	out := v16.ChargingSchedule{Duration: &secs, StartSchedule: &st, ChargingRateUnit: unit}
	end := start.Add(duration)
	t := start
	for i := 0; i < maxSteps && (t.Before(end) || i == 0); i++ {
		amps, ok, next := s.Limit(e, t)
		if !ok {
			amps = def
		}
		v := amps
		if unit == v16.ChargingRateUnitW {
			v = e.Watts(amps)
		}
		v = math.Floor(v*10+1e-6) / 10
		if v < 0 {
			v = 0
		}
		n := len(out.ChargingSchedulePeriod)
		if n == 0 || out.ChargingSchedulePeriod[n-1].Limit != v {
			out.ChargingSchedulePeriod = append(out.ChargingSchedulePeriod, v16.ChargingSchedulePeriod{
				StartPeriod: int(t.Sub(start) / time.Second), Limit: v,
			})
		}
		if next.IsZero() || !next.After(t) {
			break
		}
		t = next
	}
	return out
}
