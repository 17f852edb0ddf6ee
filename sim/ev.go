package sim

import "math"

// MinPilotCurrent is the smallest current an EVSE may offer through the
// pilot signal (IEC 61851-1); below it an EV does not charge.
const MinPilotCurrent = 6.0

// EV is a simulated electric vehicle's battery and on-board charger. It is
// plain data: the Connector it is plugged into owns it and guards it.
type EV struct {
	// CapacityWh is the usable battery capacity.
	CapacityWh float64
	// EnergyWh is what the battery holds now, 0..CapacityWh.
	EnergyWh float64
	// MaxCurrent is the on-board charger's limit per phase, in A.
	MaxCurrent float64
	// Phases the on-board charger uses: 1 (L1 only) or 3.
	Phases int
	// TaperSoC is the state of charge (0..1) from which the current falls
	// linearly, reaching TaperEndCurrent at 100 %. Zero means 0.8.
	TaperSoC float64
	// TaperEndCurrent is the current per phase at 100 %; zero means 1 A.
	TaperEndCurrent float64
}

// NewEV returns an EV with capacity kWh charged to soc (0..1) that draws
// at most maxCurrent A on phases phases.
func NewEV(capacityKWh, soc, maxCurrent float64, phases int) *EV {
	if phases != 1 {
		phases = 3
	}
	soc = math.Min(math.Max(soc, 0), 1)
	return &EV{CapacityWh: capacityKWh * 1000, EnergyWh: soc * capacityKWh * 1000, MaxCurrent: maxCurrent, Phases: phases}
}

// SoC is the state of charge, 0..1.
func (ev *EV) SoC() float64 {
	if ev.CapacityWh <= 0 {
		return 1
	}
	return math.Min(ev.EnergyWh/ev.CapacityWh, 1)
}

// Full reports whether the battery takes no more energy.
func (ev *EV) Full() bool { return ev.SoC() >= 1 }

// CurveCurrent is the current per phase the battery accepts at state of
// charge soc: MaxCurrent up to TaperSoC, then falling linearly to
// TaperEndCurrent at 100 %, and 0 when full.
func (ev *EV) CurveCurrent(soc float64) float64 {
	taper := ev.TaperSoC
	if taper <= 0 || taper >= 1 {
		taper = 0.8
	}
	end := ev.TaperEndCurrent
	if end <= 0 {
		end = 1
	}
	end = math.Min(end, ev.MaxCurrent)
	switch {
	case soc >= 1:
		return 0
	case soc <= taper:
		return ev.MaxCurrent
	default:
		return ev.MaxCurrent - (ev.MaxCurrent-end)*(soc-taper)/(1-taper)
	}
}

// Draw is the current per phase the EV takes when offered amps through
// the pilot with the contactor closed or open: the smallest of its own
// limit, the offer and the charging curve, or nothing when the offer is
// below MinPilotCurrent, the contactor is open or the battery is full.
func (ev *EV) Draw(offered float64, contactorClosed bool) float64 {
	if !contactorClosed || offered < MinPilotCurrent {
		return 0
	}
	return math.Min(offered, ev.CurveCurrent(ev.SoC()))
}

// Charge adds wh to the battery, up to its capacity.
func (ev *EV) Charge(wh float64) {
	ev.EnergyWh = math.Min(ev.EnergyWh+wh, ev.CapacityWh)
}
