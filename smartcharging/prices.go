package smartcharging

import (
	"cmp"
	"slices"
	"time"
)

// PriceSlot is the energy price over [Start, End): an hour, or a quarter
// hour where markets trade those.
type PriceSlot struct {
	Start, End time.Time
	Price      float64 // per kWh, any currency
}

// Plan is a set of chosen slots, by start time.
type Plan []PriceSlot

// Contains reports whether t falls in a chosen slot: the caller's CheapNow.
func (p Plan) Contains(t time.Time) bool {
	i, found := slices.BinarySearchFunc(p, t, func(s PriceSlot, t time.Time) int { return s.Start.Compare(t) })
	if found {
		return true
	}
	return i > 0 && t.Before(p[i-1].End)
}

// window clips the slots to [from, deadline) and drops empty ones.
func window(slots []PriceSlot, from, deadline time.Time) []PriceSlot {
	out := make([]PriceSlot, 0, len(slots))
	for _, s := range slots {
		if s.Start.Before(from) {
			s.Start = from
		}
		if !deadline.IsZero() && s.End.After(deadline) {
			s.End = deadline
		}
		if s.End.After(s.Start) {
			out = append(out, s)
		}
	}
	return out
}

func byStart(p Plan) Plan {
	slices.SortFunc(p, func(x, y PriceSlot) int { return x.Start.Compare(y.Start) })
	return p
}

// PlanCheapest chooses the cheapest slots between from and deadline that
// together deliver energyKWh at powerKW, cheapest first, earlier first among
// equal prices (the car is then more likely full in time). enough is false
// when even every slot in the window is not enough; the plan then holds them
// all.
func PlanCheapest(slots []PriceSlot, from, deadline time.Time, energyKWh, powerKW float64) (plan Plan, enough bool) {
	if energyKWh <= 0 {
		return nil, true
	}
	if powerKW <= 0 {
		return nil, false
	}
	cand := window(slots, from, deadline)
	slices.SortStableFunc(cand, func(x, y PriceSlot) int {
		if d := cmp.Compare(x.Price, y.Price); d != 0 {
			return d
		}
		return x.Start.Compare(y.Start)
	})
	got := 0.0
	for _, s := range cand {
		if got >= energyKWh {
			break
		}
		plan = append(plan, s)
		got += powerKW * s.End.Sub(s.Start).Hours()
	}
	return byStart(plan), got >= energyKWh-1e-9
}

// PlanBelow chooses every slot between from and deadline (zero: no deadline)
// priced at or below threshold.
func PlanBelow(slots []PriceSlot, from, deadline time.Time, threshold float64) Plan {
	var plan Plan
	for _, s := range window(slots, from, deadline) {
		if s.Price <= threshold {
			plan = append(plan, s)
		}
	}
	return byStart(plan)
}
