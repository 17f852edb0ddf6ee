package storetest

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wattson-csms/wattson/store"
)

func groupIDs(gs []store.ChargingGroup) []string {
	return ids(gs, func(g store.ChargingGroup) string { return g.ID })
}

func settingKeys(ss []store.ConnectorSetting) []string {
	return ids(ss, func(s store.ConnectorSetting) string { return fmt.Sprintf("%s/%d", s.ChargerID, s.ConnectorID) })
}

func testGroups(t *testing.T, s store.Store) {
	ctx := t.Context()
	eq(t, "no groups", len(must(s.ListGroups(ctx))(t)), 0)
	_, err := s.GetGroup(ctx, "site")
	wantErr(t, err, store.ErrNotFound)

	site := must(s.PutGroup(ctx, store.ChargingGroup{ID: "site", Name: "Site", LimitA: [3]float64{63, 63, 50.5},
		PowerLimitW: 22000, SiteMeter: true, CreatedAt: at(0), UpdatedAt: at(0)}))(t)
	recent(t, "CreatedAt", site.CreatedAt)
	eq(t, "created", site, store.ChargingGroup{ID: "site", Name: "Site", LimitA: [3]float64{63, 63, 50.5},
		PowerLimitW: 22000, SiteMeter: true, CreatedAt: site.CreatedAt, UpdatedAt: site.CreatedAt})
	eq(t, "get", must(s.GetGroup(ctx, "site"))(t), site)

	garage := must(s.PutGroup(ctx, store.ChargingGroup{ID: "garage", ParentID: "site", LimitA: [3]float64{32, 32, 32}}))(t)
	eq(t, "parent", garage.ParentID, "site")
	left := must(s.PutGroup(ctx, store.ChargingGroup{ID: "garage/left", ParentID: "garage", LimitA: [3]float64{16, 16, 16}}))(t)
	eq(t, "get child", must(s.GetGroup(ctx, "garage/left"))(t), left)

	// An unknown parent is not found, and nothing is stored.
	_, err = s.PutGroup(ctx, store.ChargingGroup{ID: "x", ParentID: "nowhere"})
	wantErr(t, err, store.ErrNotFound)
	_, err = s.GetGroup(ctx, "x")
	wantErr(t, err, store.ErrNotFound)

	// Update: CreatedAt stays, everything else is replaced.
	up := must(s.PutGroup(ctx, store.ChargingGroup{ID: "site", Name: "Home", LimitA: [3]float64{40, 40, 40}}))(t)
	eq(t, "updated", up, store.ChargingGroup{ID: "site", Name: "Home", LimitA: [3]float64{40, 40, 40},
		CreatedAt: site.CreatedAt, UpdatedAt: up.UpdatedAt})
	if up.UpdatedAt.Before(site.UpdatedAt) {
		t.Fatalf("UpdatedAt went back from %v to %v", site.UpdatedAt, up.UpdatedAt)
	}
	recent(t, "UpdatedAt", up.UpdatedAt)

	// No group may become its own ancestor; a refused update changes
	// nothing.
	for _, bad := range []store.ChargingGroup{
		{ID: "site", ParentID: "garage/left"},
		{ID: "site", ParentID: "garage"},
		{ID: "garage", ParentID: "garage/left"},
		{ID: "garage", ParentID: "garage"},
	} {
		_, err := s.PutGroup(ctx, bad)
		wantErr(t, err, store.ErrInvalid)
	}
	eq(t, "site after cycles", must(s.GetGroup(ctx, "site"))(t), up)
	eq(t, "garage after cycles", must(s.GetGroup(ctx, "garage"))(t), garage)

	for _, bad := range []store.ChargingGroup{
		{ID: ""},
		{ID: "g", LimitA: [3]float64{16, -1, 16}},
		{ID: "g", LimitA: [3]float64{math.NaN(), 16, 16}},
		{ID: "g", LimitA: [3]float64{math.Inf(1), 16, 16}},
		{ID: "g", PowerLimitW: -1},
		{ID: "g", PowerLimitW: math.Inf(1)},
	} {
		_, err := s.PutGroup(ctx, bad)
		wantErr(t, err, store.ErrInvalid)
	}

	// Moving a group elsewhere in the tree is fine.
	left = must(s.PutGroup(ctx, store.ChargingGroup{ID: "garage/left", ParentID: "site", LimitA: [3]float64{16, 16, 16}}))(t)
	eq(t, "moved", left.ParentID, "site")
	eq(t, "list", groupIDs(must(s.ListGroups(ctx))(t)), []string{"garage", "garage/left", "site"})

	// A group with children stays; one without goes with its settings.
	wantErr(t, s.DeleteGroup(ctx, "site"), store.ErrConflict)
	wantErr(t, s.DeleteGroup(ctx, "nowhere"), store.ErrNotFound)
	for i, g := range []string{"garage", "garage", "garage/left"} {
		must(s.PutConnectorSetting(ctx, store.ConnectorSetting{ChargerID: "cp", ConnectorID: i + 1, GroupID: g, Mode: store.ModeOn}))(t)
	}
	noErr(t, s.DeleteGroup(ctx, "garage"))
	wantErr(t, s.DeleteGroup(ctx, "garage"), store.ErrNotFound)
	_, err = s.GetGroup(ctx, "garage")
	wantErr(t, err, store.ErrNotFound)
	eq(t, "settings left", settingKeys(must(s.ListConnectorSettings(ctx))(t)), []string{"cp/3"})
	// Without children the parent may go too.
	noErr(t, s.DeleteGroup(ctx, "garage/left"))
	noErr(t, s.DeleteGroup(ctx, "site"))
	eq(t, "groups left", len(must(s.ListGroups(ctx))(t)), 0)
	eq(t, "no settings left", len(must(s.ListConnectorSettings(ctx))(t)), 0)
}

// testGroupCycleRace: two groups made each other's parent at once; one
// wins, the other would close a cycle.
func testGroupCycleRace(t *testing.T, s store.Store) {
	ctx := t.Context()
	for round := range 8 {
		a, b := fmt.Sprint("a", round), fmt.Sprint("b", round)
		must(s.PutGroup(ctx, store.ChargingGroup{ID: a}))(t)
		must(s.PutGroup(ctx, store.ChargingGroup{ID: b}))(t)
		errs := make(chan error, 2)
		go func() { _, err := s.PutGroup(ctx, store.ChargingGroup{ID: a, ParentID: b}); errs <- err }()
		go func() { _, err := s.PutGroup(ctx, store.ChargingGroup{ID: b, ParentID: a}); errs <- err }()
		ok := 0
		for range 2 {
			err := <-errs
			if err == nil {
				ok++
				continue
			}
			wantErr(t, err, store.ErrInvalid)
		}
		eq(t, fmt.Sprintf("round %d: successful puts", round), ok, 1)
	}
}

func testConnectorSettings(t *testing.T, s store.Store) {
	ctx := t.Context()
	eq(t, "no settings", len(must(s.ListConnectorSettings(ctx))(t)), 0)
	must(s.PutGroup(ctx, store.ChargingGroup{ID: "g", LimitA: [3]float64{32, 32, 32}}))(t)
	must(s.PutGroup(ctx, store.ChargingGroup{ID: "h", LimitA: [3]float64{16, 16, 16}}))(t)

	in := store.ConnectorSetting{ChargerID: "cp1", ConnectorID: 2, GroupID: "g", Priority: 3, Mode: store.ModeLowCost,
		MinCurrent: 6, MaxCurrent: 16, Phases: "L1L2L3", PriceBelow: ptr(0.25), CheapestHours: 5,
		EnergyKWh: 20.5, ReadyBy: "07:30", UpdatedAt: at(0)}
	a := must(s.PutConnectorSetting(ctx, in))(t)
	recent(t, "UpdatedAt", a.UpdatedAt)
	in.UpdatedAt = a.UpdatedAt
	eq(t, "put", a, in)
	eq(t, "list", must(s.ListConnectorSettings(ctx))(t), []store.ConnectorSetting{a})

	_, err := s.PutConnectorSetting(ctx, store.ConnectorSetting{ChargerID: "cp1", ConnectorID: 1, GroupID: "nowhere", Mode: store.ModeOn})
	wantErr(t, err, store.ErrNotFound)

	ok := store.ConnectorSetting{ChargerID: "cp1", ConnectorID: 1, GroupID: "g", Mode: store.ModeOn}
	for name, change := range map[string]func(*store.ConnectorSetting){
		"no charger":        func(c *store.ConnectorSetting) { c.ChargerID = "" },
		"connector 0":       func(c *store.ConnectorSetting) { c.ConnectorID = 0 },
		"no group":          func(c *store.ConnectorSetting) { c.GroupID = "" },
		"no mode":           func(c *store.ConnectorSetting) { c.Mode = "" },
		"unknown mode":      func(c *store.ConnectorSetting) { c.Mode = "fast" },
		"negative min":      func(c *store.ConnectorSetting) { c.MinCurrent = -6 },
		"negative max":      func(c *store.ConnectorSetting) { c.MaxCurrent = -1 },
		"NaN max":           func(c *store.ConnectorSetting) { c.MaxCurrent = math.NaN() },
		"negative solar":    func(c *store.ConnectorSetting) { c.SolarMinCurrent = -1 },
		"min above max":     func(c *store.ConnectorSetting) { c.MinCurrent, c.MaxCurrent = 16, 10 },
		"bad phases":        func(c *store.ConnectorSetting) { c.Phases = "L3L1" },
		"NaN price":         func(c *store.ConnectorSetting) { c.PriceBelow = ptr(math.NaN()) },
		"negative hours":    func(c *store.ConnectorSetting) { c.CheapestHours = -1 },
		"negative energy":   func(c *store.ConnectorSetting) { c.EnergyKWh = -1 },
		"ready by bad time": func(c *store.ConnectorSetting) { c.ReadyBy = "25:00" },
		"ready by no colon": func(c *store.ConnectorSetting) { c.ReadyBy = "0730" },
	} {
		bad := ok
		change(&bad)
		_, err := s.PutConnectorSetting(ctx, bad)
		if !errors.Is(err, store.ErrInvalid) {
			t.Errorf("%s: error = %v, want ErrInvalid", name, err)
		}
	}
	eq(t, "after invalid", must(s.ListConnectorSettings(ctx))(t), []store.ConnectorSetting{a})

	// Replacing keeps nothing of the old setting; a negative price is a
	// price.
	b := must(s.PutConnectorSetting(ctx, store.ConnectorSetting{ChargerID: "cp1", ConnectorID: 2, GroupID: "h",
		Mode: store.ModeSolar, SolarMinCurrent: 6, Phases: "L2"}))(t)
	eq(t, "replaced", b, store.ConnectorSetting{ChargerID: "cp1", ConnectorID: 2, GroupID: "h",
		Mode: store.ModeSolar, SolarMinCurrent: 6, Phases: "L2", UpdatedAt: b.UpdatedAt})
	c := must(s.PutConnectorSetting(ctx, store.ConnectorSetting{ChargerID: "cp1", ConnectorID: 1, GroupID: "g",
		Mode: store.ModeLowCost, PriceBelow: ptr(-0.05), Priority: -1}))(t)
	d := must(s.PutConnectorSetting(ctx, store.ConnectorSetting{ChargerID: "cp0", ConnectorID: 3, GroupID: "g", Mode: store.ModeOff}))(t)
	eq(t, "list", must(s.ListConnectorSettings(ctx))(t), []store.ConnectorSetting{d, c, b})
	eq(t, "negative price", *c.PriceBelow, -0.05)

	noErr(t, s.DeleteConnectorSetting(ctx, "cp1", 2))
	wantErr(t, s.DeleteConnectorSetting(ctx, "cp1", 2), store.ErrNotFound)
	wantErr(t, s.DeleteConnectorSetting(ctx, "cp9", 1), store.ErrNotFound)
	eq(t, "after delete", must(s.ListConnectorSettings(ctx))(t), []store.ConnectorSetting{d, c})
}

func testConnectorLimits(t *testing.T, s store.Store) {
	ctx := t.Context()
	eq(t, "no limits", len(must(s.ListConnectorLimits(ctx))(t)), 0)
	noErr(t, s.SaveConnectorLimits(ctx, nil))
	batch := []store.ConnectorLimit{
		{ChargerID: "cp2", ConnectorID: 1, LimitA: 16, SentAt: at(0), Confirmed: true},
		{ChargerID: "cp1", ConnectorID: 2, LimitA: 6.5, SentAt: at(time.Second)},
		{ChargerID: "cp1", ConnectorID: 1, LimitA: 32, SentAt: at(2 * time.Second), Unmanaged: true, Reason: "profile rejected"},
	}
	noErr(t, s.SaveConnectorLimits(ctx, batch))
	eq(t, "saved", must(s.ListConnectorLimits(ctx))(t), []store.ConnectorLimit{batch[2], batch[1], batch[0]})

	// Upserts: an update, a new connector 0 stamped now, and a key twice
	// in one batch (the later one wins).
	noErr(t, s.SaveConnectorLimits(ctx, []store.ConnectorLimit{
		{ChargerID: "cp1", ConnectorID: 1, LimitA: 10, SentAt: at(time.Minute), Confirmed: true},
		{ChargerID: "cp3", ConnectorID: 0, LimitA: 0},
		{ChargerID: "cp2", ConnectorID: 1, LimitA: 8, SentAt: at(time.Minute)},
		{ChargerID: "cp2", ConnectorID: 1, LimitA: 9, SentAt: at(2 * time.Minute)},
	}))
	got := must(s.ListConnectorLimits(ctx))(t)
	eq(t, "count", len(got), 4)
	recent(t, "zero SentAt", got[3].SentAt)
	eq(t, "upserted", got, []store.ConnectorLimit{
		{ChargerID: "cp1", ConnectorID: 1, LimitA: 10, SentAt: at(time.Minute), Confirmed: true},
		batch[1],
		{ChargerID: "cp2", ConnectorID: 1, LimitA: 9, SentAt: at(2 * time.Minute)},
		{ChargerID: "cp3", ConnectorID: 0, LimitA: 0, SentAt: got[3].SentAt},
	})

	// One invalid limit refuses the whole batch.
	for _, bad := range [][]store.ConnectorLimit{
		{{ChargerID: "cp1", ConnectorID: 1, LimitA: 1}, {ChargerID: "cp1", ConnectorID: 2, LimitA: -1}},
		{{ChargerID: "cp1", ConnectorID: 1, LimitA: 1}, {ChargerID: "", ConnectorID: 2, LimitA: 1}},
		{{ChargerID: "cp1", ConnectorID: -1, LimitA: 1}},
		{{ChargerID: "cp1", ConnectorID: 1, LimitA: math.NaN()}},
	} {
		wantErr(t, s.SaveConnectorLimits(ctx, bad), store.ErrInvalid)
	}
	eq(t, "after invalid", must(s.ListConnectorLimits(ctx))(t), got)

	noErr(t, s.DeleteConnectorLimit(ctx, "cp2", 1))
	wantErr(t, s.DeleteConnectorLimit(ctx, "cp2", 1), store.ErrNotFound)
	eq(t, "after delete", len(must(s.ListConnectorLimits(ctx))(t)), 3)
}

// hourly returns n slots of d from start, priced 0.10, 0.11, ...
func hourly(start time.Time, n int, d time.Duration, price0 float64) []store.PriceSlot {
	out := make([]store.PriceSlot, n)
	for i := range out {
		st := start.Add(time.Duration(i) * d)
		out[i] = store.PriceSlot{Start: st, End: st.Add(d), Price: price0 + float64(i)/100}
	}
	return out
}

func slotStarts(ps []store.PriceSlot, day time.Time) []time.Duration {
	out := make([]time.Duration, len(ps))
	for i, p := range ps {
		out[i] = p.Start.Sub(day)
	}
	return out
}

func testPrices(t *testing.T, s store.Store) {
	ctx := t.Context()
	h := time.Hour
	day := time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC)
	eq(t, "no prices", len(must(s.ListPrices(ctx, day, day.Add(24*h)))(t)), 0)

	// Given out of order and in another zone; listed by start in UTC.
	slots := hourly(day, 24, h, 0.10)
	zone := time.FixedZone("CET", 60*60)
	in := append([]store.PriceSlot(nil), slots...)
	in[0], in[23] = in[23], in[0]
	in[5].Start, in[5].End = in[5].Start.In(zone), in[5].End.In(zone)
	noErr(t, s.PutPrices(ctx, day.In(zone), day.Add(24*h), in))
	eq(t, "day", must(s.ListPrices(ctx, day, day.Add(24*h)))(t), slots)

	// Overlap: slots that end after from and start before to.
	eq(t, "inside one slot", must(s.ListPrices(ctx, day.Add(90*time.Minute), day.Add(100*time.Minute)))(t), slots[1:2])
	eq(t, "from a boundary", must(s.ListPrices(ctx, day.Add(2*h), day.Add(3*h)))(t), slots[2:3])
	eq(t, "across", must(s.ListPrices(ctx, day.Add(150*time.Minute), day.Add(3*h+time.Microsecond)))(t), slots[2:4])
	eq(t, "before", len(must(s.ListPrices(ctx, day.Add(-h), day))(t)), 0)
	eq(t, "after", len(must(s.ListPrices(ctx, day.Add(24*h), day.Add(25*h)))(t)), 0)

	// Replacing a window: what starts in it goes, the rest stays.
	half := hourly(day.Add(6*h), 12, 30*time.Minute, 0.50)
	noErr(t, s.PutPrices(ctx, day.Add(6*h), day.Add(12*h), half))
	got := must(s.ListPrices(ctx, day, day.Add(24*h)))(t)
	want := append(append(append([]store.PriceSlot(nil), slots[:6]...), half...), slots[12:]...)
	eq(t, "replaced", got, want)

	// Invalid puts change nothing.
	w0, w1 := day.Add(20*h), day.Add(24*h)
	for name, bad := range map[string][]store.PriceSlot{
		"starts before":  {{Start: w0.Add(-h), End: w0.Add(h), Price: 1}},
		"ends after":     {{Start: w1.Add(-h), End: w1.Add(h), Price: 1}},
		"starts at to":   {{Start: w1, End: w1.Add(h), Price: 1}},
		"empty":          {{Start: w0, End: w0, Price: 1}},
		"backwards":      {{Start: w0.Add(h), End: w0, Price: 1}},
		"NaN":            {{Start: w0, End: w0.Add(h), Price: math.NaN()}},
		"Inf":            {{Start: w0, End: w0.Add(h), Price: math.Inf(-1)}},
		"overlapping":    {{Start: w0, End: w0.Add(2 * h), Price: 1}, {Start: w0.Add(h), End: w0.Add(3 * h), Price: 1}},
		"the same start": {{Start: w0, End: w0.Add(h), Price: 1}, {Start: w0, End: w0.Add(h), Price: 2}},
		"one bad of two": {{Start: w0, End: w0.Add(h), Price: 1}, {Start: w0.Add(h), End: w0.Add(2 * h), Price: math.NaN()}},
	} {
		if err := s.PutPrices(ctx, w0, w1, bad); !errors.Is(err, store.ErrInvalid) {
			t.Errorf("%s: error = %v, want ErrInvalid", name, err)
		}
	}
	wantErr(t, s.PutPrices(ctx, w1, w0, nil), store.ErrInvalid)
	wantErr(t, s.PutPrices(ctx, w0, w0, nil), store.ErrInvalid)
	eq(t, "after invalid", must(s.ListPrices(ctx, day, day.Add(24*h)))(t), want)

	// No slots clears the window; negative prices are prices.
	noErr(t, s.PutPrices(ctx, w0, w1, nil))
	noErr(t, s.PutPrices(ctx, w0, w1, []store.PriceSlot{{Start: w0.Add(h), End: w0.Add(2 * h), Price: -0.02}}))
	got = must(s.ListPrices(ctx, day, day.Add(48*h)))(t)
	eq(t, "cleared", slotStarts(got[len(got)-3:], day), []time.Duration{18 * h, 19 * h, 21 * h})
	eq(t, "negative", got[len(got)-1].Price, -0.02)
	eq(t, "count", len(got), 6+12+8+1)
}

func profile(cp string, conn, id, stack int, purpose string) store.ChargingProfileRecord {
	return store.ChargingProfileRecord{
		ChargerID: cp, ConnectorID: conn, ProfileID: id, StackLevel: stack, Purpose: purpose,
		Profile: json.RawMessage(fmt.Sprintf(`{"chargingProfileId":%d, "stackLevel":%d}`, id, stack)),
		Source:  "smart-charging", SetAt: at(time.Duration(id) * time.Second),
	}
}

func profileIDs(ps []store.ChargingProfileRecord) []int {
	out := make([]int, len(ps))
	for i, p := range ps {
		out[i] = p.ProfileID
	}
	return out
}

func testChargingProfiles(t *testing.T, s store.Store) {
	ctx := t.Context()
	const maxP, txDef, tx = "ChargePointMaxProfile", "TxDefaultProfile", "TxProfile"
	eq(t, "none", len(must(s.ListChargingProfiles(ctx, "cp"))(t)), 0)

	a := profile("cp", 1, 1, 0, txDef)
	b := profile("cp", 1, 2, 1, txDef)
	c := profile("cp", 2, 3, 0, txDef)
	d := profile("cp", 0, 4, 0, maxP)
	d.Source = "operator"
	e := profile("cp", 1, 5, 0, tx)
	e.TransactionID = ptr(int64(42))
	other := profile("cp2", 1, 1, 0, txDef)
	for _, p := range []store.ChargingProfileRecord{a, b, c, d, e, other} {
		noErr(t, s.PutChargingProfile(ctx, p))
	}
	// By connector, purpose (as text) and stack level.
	eq(t, "list", must(s.ListChargingProfiles(ctx, "cp"))(t), []store.ChargingProfileRecord{d, a, b, e, c})

	// The same id replaces, wherever the new one is.
	a2 := profile("cp", 2, 1, 5, txDef)
	noErr(t, s.PutChargingProfile(ctx, a2))
	eq(t, "by id", profileIDs(must(s.ListChargingProfiles(ctx, "cp"))(t)), []int{4, 2, 5, 3, 1})
	// The same connector, purpose and stack level replaces.
	b2 := profile("cp", 1, 10, 1, txDef)
	noErr(t, s.PutChargingProfile(ctx, b2))
	eq(t, "by stack", profileIDs(must(s.ListChargingProfiles(ctx, "cp"))(t)), []int{4, 10, 5, 3, 1})
	// Both at once: id 3 and the slot of 10.
	c2 := profile("cp", 1, 3, 1, txDef)
	c2.SetAt = time.Time{}
	noErr(t, s.PutChargingProfile(ctx, c2))
	got := must(s.ListChargingProfiles(ctx, "cp"))(t)
	eq(t, "by both", profileIDs(got), []int{4, 3, 5, 1})
	recent(t, "zero SetAt", got[1].SetAt)
	// A different purpose or stack level on the same connector does not.
	noErr(t, s.PutChargingProfile(ctx, profile("cp", 1, 11, 1, tx)))
	noErr(t, s.PutChargingProfile(ctx, profile("cp", 1, 12, 2, txDef)))
	eq(t, "kept", profileIDs(must(s.ListChargingProfiles(ctx, "cp"))(t)), []int{4, 3, 12, 5, 11, 1})
	eq(t, "other charger", must(s.ListChargingProfiles(ctx, "cp2"))(t), []store.ChargingProfileRecord{other})

	for name, bad := range map[string]func(*store.ChargingProfileRecord){
		"no charger":         func(p *store.ChargingProfileRecord) { p.ChargerID = "" },
		"negative connector": func(p *store.ChargingProfileRecord) { p.ConnectorID = -1 },
		"negative stack":     func(p *store.ChargingProfileRecord) { p.StackLevel = -1 },
		"unknown purpose":    func(p *store.ChargingProfileRecord) { p.Purpose = "TxMaxProfile" },
		"no profile":         func(p *store.ChargingProfileRecord) { p.Profile = nil },
		"not JSON":           func(p *store.ChargingProfileRecord) { p.Profile = json.RawMessage(`{"a":`) },
	} {
		p := profile("cp", 1, 99, 9, txDef)
		bad(&p)
		if err := s.PutChargingProfile(ctx, p); !errors.Is(err, store.ErrInvalid) {
			t.Errorf("%s: error = %v, want ErrInvalid", name, err)
		}
	}
	eq(t, "after invalid", len(must(s.ListChargingProfiles(ctx, "cp"))(t)), 6)

	// Clearing: every set field must match.
	clear := func(f store.ProfileFilter) int64 { return must(s.ClearChargingProfiles(ctx, "cp", f))(t) }
	eq(t, "no match", clear(store.ProfileFilter{ProfileID: ptr(3), ConnectorID: ptr(2)}), int64(0))
	eq(t, "by id", clear(store.ProfileFilter{ProfileID: ptr(3)}), int64(1))
	eq(t, "by purpose and stack", clear(store.ProfileFilter{Purpose: tx, StackLevel: ptr(1)}), int64(1))
	eq(t, "left", profileIDs(must(s.ListChargingProfiles(ctx, "cp"))(t)), []int{4, 12, 5, 1})
	eq(t, "by connector", clear(store.ProfileFilter{ConnectorID: ptr(1)}), int64(2))
	eq(t, "by purpose", clear(store.ProfileFilter{Purpose: maxP}), int64(1))
	noErr(t, s.PutChargingProfile(ctx, profile("cp", 1, 20, 0, txDef)))
	eq(t, "everything", clear(store.ProfileFilter{}), int64(2))
	eq(t, "none left", len(must(s.ListChargingProfiles(ctx, "cp"))(t)), 0)
	eq(t, "unknown charger", must(s.ClearChargingProfiles(ctx, "nobody", store.ProfileFilter{}))(t), int64(0))
	eq(t, "other charger kept", must(s.ListChargingProfiles(ctx, "cp2"))(t), []store.ChargingProfileRecord{other})
}

func testLeases(t *testing.T, s store.Store) {
	ctx := t.Context()
	ttl := 10 * time.Second
	try := func(name, holder string, d time.Duration) bool {
		t.Helper()
		return must(s.TryLease(ctx, name, holder, at(d), ttl))(t)
	}
	eq(t, "take free", try("alloc", "a", 0), true)
	eq(t, "other holder", try("alloc", "b", 5*time.Second), false)
	eq(t, "renew", try("alloc", "a", 5*time.Second), true) // now until 15 s
	eq(t, "before expiry", try("alloc", "b", 15*time.Second-time.Millisecond), false)
	eq(t, "at expiry", try("alloc", "b", 15*time.Second), true)
	eq(t, "taken over", try("alloc", "a", 16*time.Second), false)
	eq(t, "another lease", try("other", "a", 16*time.Second), true)

	// Only the holder releases.
	noErr(t, s.ReleaseLease(ctx, "alloc", "a"))
	eq(t, "not released by another", try("alloc", "a", 17*time.Second), false)
	noErr(t, s.ReleaseLease(ctx, "alloc", "b"))
	eq(t, "released", try("alloc", "a", 17*time.Second), true)
	noErr(t, s.ReleaseLease(ctx, "nothing", "a"))
	eq(t, "other lease kept", try("other", "b", 17*time.Second), false)

	for _, bad := range []struct {
		name, holder string
		ttl          time.Duration
	}{{"", "a", ttl}, {"x", "", ttl}, {"x", "a", 0}, {"x", "a", -time.Second}} {
		_, err := s.TryLease(ctx, bad.name, bad.holder, at(0), bad.ttl)
		wantErr(t, err, store.ErrInvalid)
	}
}

// testLeaseRace: holders race for an expired lease; exactly one gets it
// each round.
func testLeaseRace(t *testing.T, s store.Store) {
	ctx := t.Context()
	const holders, rounds = 8, 12
	ttl := 30 * time.Second
	for round := range rounds {
		now := at(time.Duration(round) * time.Minute)
		var wins atomic.Int32
		var winner atomic.Value
		var wg sync.WaitGroup
		errs := make(chan error, holders)
		for h := range holders {
			holder := fmt.Sprint("node", h)
			wg.Go(func() {
				ok, err := s.TryLease(ctx, "allocator", holder, now, ttl)
				if err != nil {
					errs <- err
					return
				}
				if ok {
					wins.Add(1)
					winner.Store(holder)
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			noErr(t, err)
		}
		if n := wins.Load(); n != 1 {
			t.Fatalf("round %d: %d holders got the lease, want 1", round, n)
		}
		w := winner.Load().(string)
		eq(t, "winner renews", must(s.TryLease(ctx, "allocator", w, now.Add(time.Second), ttl))(t), true)
		loser := "node0"
		if w == loser {
			loser = "node1"
		}
		eq(t, "loser refused", must(s.TryLease(ctx, "allocator", loser, now.Add(time.Second), ttl))(t), false)
	}
}
