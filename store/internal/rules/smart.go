package rules

import (
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"time"

	"github.com/wattson-csms/wattson/store"
)

// amount checks a current, power or energy: finite and not negative.
func amount(what string, v float64) error {
	if math.IsNaN(v) || math.IsInf(v, 0) || v < 0 {
		return invalid("%s %v", what, v)
	}
	return nil
}

// Group checks a charging group. Whether its parent exists and whether it
// would become its own ancestor is for the store to check, in the
// transaction that writes it.
func Group(g store.ChargingGroup) error {
	if g.ID == "" {
		return invalid("empty group id")
	}
	if g.ParentID == g.ID {
		return invalid("group %q as its own parent", g.ID)
	}
	for i, a := range g.LimitA {
		if err := amount(fmt.Sprintf("group %q limit L%d", g.ID, i+1), a); err != nil {
			return err
		}
	}
	return amount(fmt.Sprintf("group %q power limit", g.ID), g.PowerLimitW)
}

// Mode checks a connector mode.
func Mode(m string) error {
	switch m {
	case store.ModeOn, store.ModeOff, store.ModeLowCost, store.ModeSolar:
		return nil
	}
	return invalid("connector mode %q", m)
}

// Phases checks the phases of a connector: "" (unknown) or L1, L2 and L3
// in order, each at most once ("L1", "L2L3", "L1L2L3").
func Phases(p string) error {
	next := byte('1')
	for i := 0; i < len(p); i += 2 {
		if i+1 >= len(p) || p[i] != 'L' || p[i+1] < next || p[i+1] > '3' {
			return invalid("phases %q", p)
		}
		next = p[i+1] + 1
	}
	return nil
}

// ReadyBy checks a "HH:MM" time of day; "" is none.
func ReadyBy(s string) error {
	if s == "" {
		return nil
	}
	if len(s) != 5 || s[2] != ':' {
		return invalid("ready-by %q: want HH:MM", s)
	}
	if _, err := time.Parse("15:04", s); err != nil {
		return invalid("ready-by %q: want HH:MM", s)
	}
	return nil
}

// ConnectorSetting checks a connector setting; whether its group exists is
// for the store to check.
func ConnectorSetting(s store.ConnectorSetting) error {
	if err := ChargerID(s.ChargerID); err != nil {
		return err
	}
	if s.ConnectorID < 1 {
		return invalid("setting of connector %d", s.ConnectorID)
	}
	if s.GroupID == "" {
		return invalid("setting of %s/%d without group", s.ChargerID, s.ConnectorID)
	}
	if err := Mode(s.Mode); err != nil {
		return err
	}
	for _, a := range []struct {
		what string
		v    float64
	}{{"min current", s.MinCurrent}, {"max current", s.MaxCurrent}, {"solar min current", s.SolarMinCurrent}, {"energy", s.EnergyKWh}} {
		if err := amount(a.what, a.v); err != nil {
			return err
		}
	}
	if s.MinCurrent > 0 && s.MaxCurrent > 0 && s.MinCurrent > s.MaxCurrent {
		return invalid("min current %v above max current %v", s.MinCurrent, s.MaxCurrent)
	}
	if err := Phases(s.Phases); err != nil {
		return err
	}
	if s.PriceBelow != nil && (math.IsNaN(*s.PriceBelow) || math.IsInf(*s.PriceBelow, 0)) {
		return invalid("price below %v", *s.PriceBelow)
	}
	if s.CheapestHours < 0 || s.CheapestHours > 24 {
		return invalid("cheapest hours %d", s.CheapestHours)
	}
	return ReadyBy(s.ReadyBy)
}

// ConnectorLimits checks a batch of limits.
func ConnectorLimits(ls []store.ConnectorLimit) error {
	for i, l := range ls {
		if err := ChargerID(l.ChargerID); err != nil {
			return fmt.Errorf("limit %d: %w", i, err)
		}
		if l.ConnectorID < 0 {
			return invalid("limit %d: connector id %d", i, l.ConnectorID)
		}
		if err := amount(fmt.Sprintf("limit %d: current", i), l.LimitA); err != nil {
			return err
		}
	}
	return nil
}

// SortedLimits returns the limits ordered by charger and connector, keeping
// the batch order of equal keys (the last one wins). The fixed order makes
// concurrent batches lock rows in the same order.
func SortedLimits(ls []store.ConnectorLimit) []store.ConnectorLimit {
	out := append([]store.ConnectorLimit(nil), ls...)
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].ChargerID != out[j].ChargerID {
			return out[i].ChargerID < out[j].ChargerID
		}
		return out[i].ConnectorID < out[j].ConnectorID
	})
	return out
}

// Prices checks a PutPrices: from before to, and every slot non-empty,
// inside [from, to), with a finite price and overlapping no other. It
// returns the slots ordered by start.
func Prices(from, to time.Time, slots []store.PriceSlot) ([]store.PriceSlot, error) {
	if !from.Before(to) {
		return nil, invalid("price window %v to %v", from, to)
	}
	out := append([]store.PriceSlot(nil), slots...)
	sort.SliceStable(out, func(i, j int) bool { return out[i].Start.Before(out[j].Start) })
	for i, s := range out {
		if !s.Start.Before(s.End) {
			return nil, invalid("price slot %v to %v", s.Start, s.End)
		}
		if s.Start.Before(from) || s.End.After(to) {
			return nil, invalid("price slot %v to %v outside %v to %v", s.Start, s.End, from, to)
		}
		if math.IsNaN(s.Price) || math.IsInf(s.Price, 0) {
			return nil, invalid("price %v at %v", s.Price, s.Start)
		}
		if i > 0 && s.Start.Before(out[i-1].End) {
			return nil, invalid("price slots at %v and %v overlap", out[i-1].Start, s.Start)
		}
	}
	return out, nil
}

// Profile purposes.
const (
	PurposeChargePointMax = "ChargePointMaxProfile"
	PurposeTxDefault      = "TxDefaultProfile"
	PurposeTx             = "TxProfile"
)

// ChargingProfile checks a charging profile record.
func ChargingProfile(p store.ChargingProfileRecord) error {
	if err := ChargerID(p.ChargerID); err != nil {
		return err
	}
	if p.ConnectorID < 0 {
		return invalid("profile on connector %d", p.ConnectorID)
	}
	if p.StackLevel < 0 {
		return invalid("profile stack level %d", p.StackLevel)
	}
	switch p.Purpose {
	case PurposeChargePointMax, PurposeTxDefault, PurposeTx:
	default:
		return invalid("profile purpose %q", p.Purpose)
	}
	if !json.Valid(p.Profile) {
		return invalid("profile %d is not JSON", p.ProfileID)
	}
	return nil
}

// Lease checks a TryLease.
func Lease(name, holder string, ttl time.Duration) error {
	if name == "" {
		return invalid("empty lease name")
	}
	if holder == "" {
		return invalid("lease %q without holder", name)
	}
	if ttl <= 0 {
		return invalid("lease %q for %v", name, ttl)
	}
	return nil
}
