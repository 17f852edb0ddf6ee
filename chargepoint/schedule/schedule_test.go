package schedule

import (
	"testing"
	"time"

	"github.com/wattson-csms/wattson/ocpp/v16"
)

var t0 = time.Date(2025, 3, 10, 0, 0, 0, 0, time.UTC) // a Monday

func ptr[T any](v T) *T { return &v }

func periods(kv ...float64) []v16.ChargingSchedulePeriod {
	var out []v16.ChargingSchedulePeriod
	for i := 0; i+1 < len(kv); i += 2 {
		out = append(out, v16.ChargingSchedulePeriod{StartPeriod: int(kv[i]), Limit: kv[i+1]})
	}
	return out
}

func prof(kind v16.ChargingProfileKind, start *time.Time, dur *int, ps []v16.ChargingSchedulePeriod) *Profile {
	return &Profile{Installed: t0, ChargingProfile: v16.ChargingProfile{
		ChargingProfileID: 1, ChargingProfilePurpose: v16.ChargingProfilePurposeTxDefaultProfile,
		ChargingProfileKind: kind,
		ChargingSchedule:    v16.ChargingSchedule{ChargingRateUnit: v16.ChargingRateUnitA, StartSchedule: start, Duration: dur, ChargingSchedulePeriod: ps},
	}}
}

func TestAt(t *testing.T) {
	h := time.Hour
	daily := prof(v16.ChargingProfileKindRecurring, ptr(t0.Add(-48*h)), nil, periods(0, 16, 7*3600, 32, 22*3600, 10))
	daily.RecurrencyKind = v16.RecurrencyKindDaily
	weekly := prof(v16.ChargingProfileKindRecurring, ptr(t0), ptr(3*24*3600), periods(0, 8))
	weekly.RecurrencyKind = v16.RecurrencyKindWeekly
	valid := prof(v16.ChargingProfileKindAbsolute, ptr(t0), nil, periods(0, 20))
	valid.ValidFrom, valid.ValidTo = ptr(t0.Add(h)), ptr(t0.Add(2*h))
	txStart := t0.Add(10 * h)
	cases := []struct {
		name     string
		p        *Profile
		at       time.Time
		tx       *time.Time
		ok       bool
		limit    float64
		wantNext time.Time
	}{
		{"absolute first period", prof(v16.ChargingProfileKindAbsolute, ptr(t0), nil, periods(0, 10, 3600, 20)), t0.Add(30 * time.Minute), nil, true, 10, t0.Add(h)},
		{"absolute second period", prof(v16.ChargingProfileKindAbsolute, ptr(t0), nil, periods(0, 10, 3600, 20)), t0.Add(2 * h), nil, true, 20, time.Time{}},
		{"absolute before start", prof(v16.ChargingProfileKindAbsolute, ptr(t0.Add(h)), nil, periods(0, 10)), t0, nil, false, 0, t0.Add(h)},
		{"absolute after duration", prof(v16.ChargingProfileKindAbsolute, ptr(t0), ptr(3600), periods(0, 10)), t0.Add(2 * h), nil, false, 0, time.Time{}},
		{"absolute ends at duration", prof(v16.ChargingProfileKindAbsolute, ptr(t0), ptr(3600), periods(0, 10)), t0, nil, true, 10, t0.Add(h)},
		{"absolute without start uses installation", prof(v16.ChargingProfileKindAbsolute, nil, nil, periods(0, 6, 60, 12)), t0.Add(90 * time.Second), nil, true, 12, time.Time{}},
		{"daily morning", daily, t0.Add(3 * h), nil, true, 16, t0.Add(7 * h)},
		{"daily day", daily, t0.Add(12 * h), nil, true, 32, t0.Add(22 * h)},
		{"daily night wraps to the next cycle", daily, t0.Add(23 * h), nil, true, 10, t0.Add(24 * h)},
		{"daily before startSchedule recurs backwards", prof(v16.ChargingProfileKindRecurring, ptr(t0.Add(24*h)), nil, periods(0, 5, 3600, 7)), t0.Add(2 * h), nil, true, 7, t0.Add(24 * h)},
		{"weekly inside duration", weekly, t0.Add(7*24*h + 2*h), nil, true, 8, t0.Add(7*24*h + 3*24*h)},
		{"weekly outside duration waits for next week", weekly, t0.Add(4 * 24 * h), nil, false, 0, t0.Add(7 * 24 * h)},
		{"relative without transaction", prof(v16.ChargingProfileKindRelative, nil, nil, periods(0, 6)), t0, nil, false, 0, time.Time{}},
		{"relative first period", prof(v16.ChargingProfileKindRelative, ptr(t0), nil, periods(0, 6, 1800, 16)), txStart.Add(10 * time.Minute), &txStart, true, 6, txStart.Add(30 * time.Minute)},
		{"relative ignores startSchedule", prof(v16.ChargingProfileKindRelative, ptr(t0), nil, periods(0, 6, 1800, 16)), txStart.Add(time.Hour), &txStart, true, 16, time.Time{}},
		{"relative duration", prof(v16.ChargingProfileKindRelative, nil, ptr(600), periods(0, 6)), txStart.Add(11 * time.Minute), &txStart, false, 0, time.Time{}},
		{"before validFrom", valid, t0.Add(30 * time.Minute), nil, false, 0, t0.Add(h)},
		{"inside validity ends at validTo", valid, t0.Add(90 * time.Minute), nil, true, 20, t0.Add(2 * h)},
		{"after validTo", valid, t0.Add(3 * h), nil, false, 0, time.Time{}},
		{"unsorted periods", prof(v16.ChargingProfileKindAbsolute, ptr(t0), nil, periods(600, 9, 0, 3)), t0.Add(time.Minute), nil, true, 3, t0.Add(10 * time.Minute)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			per, ok, next := At(c.p, c.at, c.tx)
			if ok != c.ok || (ok && per.Limit != c.limit) || !next.Equal(c.wantNext) {
				t.Fatalf("At = %+v, %v, next %v; want ok %v limit %v next %v", per, ok, next, c.ok, c.limit, c.wantNext)
			}
		})
	}
}

func TestAmps(t *testing.T) {
	cases := []struct {
		e    Electrical
		p    Period
		want float64
	}{
		{Electrical{}, Period{Limit: 16, Unit: v16.ChargingRateUnitA}, 16},
		{Electrical{Phases: 3}, Period{Limit: 6900, Unit: v16.ChargingRateUnitW}, 10},
		{Electrical{Phases: 1}, Period{Limit: 2300, Unit: v16.ChargingRateUnitW}, 10},
		{Electrical{Phases: 3}, Period{Limit: 2300, Unit: v16.ChargingRateUnitW, Phases: 1}, 10},
		{Electrical{Phases: 1}, Period{Limit: 2300, Unit: v16.ChargingRateUnitW, Phases: 3}, 10},
	}
	for _, c := range cases {
		if got := c.e.Amps(c.p); got != c.want {
			t.Errorf("%+v.Amps(%+v) = %v, want %v", c.e, c.p, got, c.want)
		}
	}
}

func TestSetLimit(t *testing.T) {
	h := time.Hour
	withLevel := func(p *Profile, level, conn int, purpose v16.ChargingProfilePurpose) *Profile {
		p.StackLevel, p.ConnectorID, p.ChargingProfilePurpose = level, conn, purpose
		return p
	}
	abs := func(ps ...float64) *Profile {
		return prof(v16.ChargingProfileKindAbsolute, ptr(t0), nil, periods(ps...))
	}
	txStart := t0.Add(h)
	cases := []struct {
		name  string
		set   Set
		at    time.Time
		ok    bool
		amps  float64
		next  time.Time
		watts bool
	}{
		{"nothing", Set{}, t0, false, 0, time.Time{}, false},
		{"tx default", Set{TxDefault: []*Profile{withLevel(abs(0, 16), 0, 0, v16.ChargingProfilePurposeTxDefaultProfile)}}, t0, true, 16, time.Time{}, false},
		{"higher stack level wins", Set{TxDefault: []*Profile{
			withLevel(abs(0, 16), 0, 0, v16.ChargingProfilePurposeTxDefaultProfile),
			withLevel(prof(v16.ChargingProfileKindAbsolute, ptr(t0), ptr(3600), periods(0, 8)), 1, 0, v16.ChargingProfilePurposeTxDefaultProfile),
		}}, t0.Add(time.Minute), true, 8, t0.Add(h), false},
		{"lower level after the higher one ends", Set{TxDefault: []*Profile{
			withLevel(abs(0, 16), 0, 0, v16.ChargingProfilePurposeTxDefaultProfile),
			withLevel(prof(v16.ChargingProfileKindAbsolute, ptr(t0), ptr(3600), periods(0, 8)), 1, 0, v16.ChargingProfilePurposeTxDefaultProfile),
		}}, t0.Add(2 * h), true, 16, time.Time{}, false},
		{"connector profile beats connector 0 at the same level", Set{TxDefault: []*Profile{
			withLevel(abs(0, 16), 2, 0, v16.ChargingProfilePurposeTxDefaultProfile),
			withLevel(abs(0, 12), 2, 1, v16.ChargingProfilePurposeTxDefaultProfile),
		}}, t0, true, 12, time.Time{}, false},
		{"tx profile overrides tx default", Set{
			TxDefault: []*Profile{withLevel(abs(0, 6), 0, 0, v16.ChargingProfilePurposeTxDefaultProfile)},
			Tx:        []*Profile{withLevel(prof(v16.ChargingProfileKindRelative, nil, nil, periods(0, 20, 600, 25)), 0, 1, v16.ChargingProfilePurposeTxProfile)},
			TxStart:   &txStart,
		}, txStart.Add(time.Minute), true, 20, txStart.Add(10 * time.Minute), false},
		{"charge point max caps", Set{
			ChargePointMax: []*Profile{withLevel(abs(0, 10), 0, 0, v16.ChargingProfilePurposeChargePointMaxProfile)},
			TxDefault:      []*Profile{withLevel(abs(0, 16), 0, 0, v16.ChargingProfilePurposeTxDefaultProfile)},
		}, t0, true, 10, time.Time{}, false},
		{"watts", Set{TxDefault: []*Profile{withLevel(func() *Profile {
			p := abs(0, 11040)
			p.ChargingSchedule.ChargingRateUnit = v16.ChargingRateUnitW
			return p
		}(), 0, 0, v16.ChargingProfilePurposeTxDefaultProfile)}}, t0, true, 16, time.Time{}, true},
		{"zero pauses", Set{TxDefault: []*Profile{withLevel(abs(0, 0), 0, 0, v16.ChargingProfilePurposeTxDefaultProfile)}}, t0, true, 0, time.Time{}, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			amps, ok, next := c.set.Limit(Electrical{Phases: 3, Voltage: 230}, c.at)
			if ok != c.ok || amps != c.amps || !next.Equal(c.next) {
				t.Fatalf("Limit = %v, %v, next %v; want %v, %v, next %v", amps, ok, next, c.amps, c.ok, c.next)
			}
		})
	}
}

func TestComposite(t *testing.T) {
	h := time.Hour
	daily := prof(v16.ChargingProfileKindRecurring, ptr(t0), nil, periods(0, 16, 7*3600, 32))
	daily.RecurrencyKind = v16.RecurrencyKindDaily
	capP := prof(v16.ChargingProfileKindAbsolute, ptr(t0.Add(8*h)), ptr(3600), periods(0, 20))
	capP.ChargingProfilePurpose = v16.ChargingProfilePurposeChargePointMaxProfile
	set := Set{TxDefault: []*Profile{daily}, ChargePointMax: []*Profile{capP}}
	e := Electrical{Phases: 3, Voltage: 230}
	got := set.Composite(e, t0.Add(6*h), 4*h, v16.ChargingRateUnitA, 32)
	want := []v16.ChargingSchedulePeriod{{StartPeriod: 0, Limit: 16}, {StartPeriod: 3600, Limit: 32}, {StartPeriod: 7200, Limit: 20}, {StartPeriod: 10800, Limit: 32}}
	if len(got.ChargingSchedulePeriod) != len(want) {
		t.Fatalf("periods %+v, want %+v", got.ChargingSchedulePeriod, want)
	}
	for i := range want {
		if got.ChargingSchedulePeriod[i].StartPeriod != want[i].StartPeriod || got.ChargingSchedulePeriod[i].Limit != want[i].Limit {
			t.Fatalf("periods %+v, want %+v", got.ChargingSchedulePeriod, want)
		}
	}
	if *got.Duration != 4*3600 || !got.StartSchedule.Equal(t0.Add(6*h)) {
		t.Fatalf("schedule %+v", got)
	}
	w := set.Composite(e, t0.Add(6*h), h, v16.ChargingRateUnitW, 32)
	if w.ChargingSchedulePeriod[0].Limit != 11040 {
		t.Fatalf("watts %+v", w.ChargingSchedulePeriod)
	}
	if err := (&v16.GetCompositeScheduleResponse{Status: v16.GenericStatusAccepted, ChargingSchedule: &got}).Validate(); err != nil {
		t.Fatal(err)
	}
	none := Set{}.Composite(e, t0, h, "", 32)
	if len(none.ChargingSchedulePeriod) != 1 || none.ChargingSchedulePeriod[0].Limit != 32 {
		t.Fatalf("no profiles: %+v", none.ChargingSchedulePeriod)
	}
}
