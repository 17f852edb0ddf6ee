package manager

import (
	"fmt"
	"time"

	"github.com/wattson-csms/wattson/smartcharging"
	"github.com/wattson-csms/wattson/store"
)

// DefaultCheapestHours is how many of the day's cheapest hours a Low-cost
// connector charges in when its setting names neither a price nor an
// energy target.
const DefaultCheapestHours = 4

// planInfo is a Low-cost connector's plan, for the API.
type planInfo struct {
	Plan     smartcharging.Plan
	CheapNow bool
	Enough   bool   // the plan delivers the energy asked for
	Note     string // why it charges as it does
}

// cheapLocked decides whether now is a cheap hour for a Low-cost
// connector, and keeps its plan for the API.
func (m *Manager) cheapLocked(id smartcharging.ConnectorID, s store.ConnectorSetting, lv *live, c smartcharging.Connector, now time.Time) bool {
	info := m.planLocked(s, lv, c, now)
	m.plans[id] = info
	return info.CheapNow
}

func (m *Manager) planLocked(s store.ConnectorSetting, lv *live, c smartcharging.Connector, now time.Time) planInfo {
	loc := m.cfg.Location
	local := now.In(loc)
	dayStart := time.Date(local.Year(), local.Month(), local.Day(), 0, 0, 0, 0, loc)
	dayEnd := dayStart.AddDate(0, 0, 1)
	covered := false
	for _, p := range m.prices {
		if !now.Before(p.Start) && now.Before(p.End) {
			covered = true
			break
		}
	}
	if !covered {
		// Without a price a car would wait for ever: charge, and say so.
		return planInfo{CheapNow: true, Enough: true, Note: "no price for the current hour: charging as in mode On"}
	}
	switch {
	case s.PriceBelow != nil:
		plan := smartcharging.PlanBelow(m.prices, dayStart, dayEnd, *s.PriceBelow)
		return planInfo{Plan: plan, CheapNow: plan.Contains(now), Enough: true,
			Note: fmt.Sprintf("charging when the price is at or below %g", *s.PriceBelow)}
	case s.EnergyKWh > 0:
		deadline := readyBy(s.ReadyBy, local, loc)
		phases := c.Phases
		if phases == (smartcharging.Phases{}) {
			phases = smartcharging.AllPhases
		}
		n := 0
		for _, p := range phases {
			if p {
				n++
			}
		}
		voltage := m.alloc.Voltage
		if voltage == 0 {
			voltage = 230
		}
		powerKW := c.MaxCurrent * voltage * float64(n) / 1000
		need := s.EnergyKWh
		if lv.tx != 0 {
			need -= max(lv.registerWh-lv.meterStart, 0) / 1000
		}
		if need <= 0 {
			return planInfo{CheapNow: false, Enough: true, Note: fmt.Sprintf("%g kWh delivered", s.EnergyKWh)}
		}
		// Plan from the start of the current slot, so the hour that has
		// begun counts whole and the decision does not flip within it.
		from := now
		for _, p := range m.prices {
			if !now.Before(p.Start) && now.Before(p.End) {
				from = p.Start
			}
		}
		plan, enough := smartcharging.PlanCheapest(m.prices, from, deadline, need, powerKW)
		note := fmt.Sprintf("%.1f kWh still needed by %s", need, deadline.In(loc).Format("Mon 15:04"))
		if !enough {
			note += ": not enough cheap hours, charging in every hour left"
		}
		return planInfo{Plan: plan, CheapNow: plan.Contains(now), Enough: enough, Note: note}
	default:
		hours := s.CheapestHours
		if hours <= 0 {
			hours = DefaultCheapestHours
		}
		plan, _ := smartcharging.PlanCheapest(m.prices, dayStart, dayEnd, float64(hours), 1)
		return planInfo{Plan: plan, CheapNow: plan.Contains(now), Enough: true,
			Note: fmt.Sprintf("charging in the day's %d cheapest hours", hours)}
	}
}

// readyBy is the next time of day hh:mm after now (default 07:00).
func readyBy(s string, now time.Time, loc *time.Location) time.Time {
	h, mi := 7, 0
	if t, err := time.Parse("15:04", s); err == nil {
		h, mi = t.Hour(), t.Minute()
	}
	d := time.Date(now.Year(), now.Month(), now.Day(), h, mi, 0, 0, loc)
	if !d.After(now) {
		d = d.AddDate(0, 0, 1)
	}
	return d
}
