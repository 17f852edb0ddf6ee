// Package storetest is the conformance suite every store.Store
// implementation runs: the doc comments of package store are the contract,
// and this suite is how both the SQLite and the PostgreSQL store prove they
// keep it, with the same tests against real databases.
package storetest

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/wattson-csms/wattson/store"
)

// Run runs the conformance suite. open returns a new, empty store for one
// test and arranges for it to be closed (and dropped) when the test ends;
// the tests run in parallel, each on its own store.
func Run(t *testing.T, open func(t *testing.T) store.Store) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s store.Store)
	}{
		{"RecordBoot", testRecordBoot},
		{"PutCharger", testPutCharger},
		{"ListChargers", testListChargers},
		{"ListChargersLimits", testListChargersLimits},
		{"DeleteCharger", testDeleteCharger},
		{"TouchChargers", testTouchChargers},
		{"Status", testStatus},
		{"IDTags", testIDTags},
		{"ListIDTags", testListIDTags},
		{"StartTransaction", testStartTransaction},
		{"StaleTransaction", testStaleTransaction},
		{"StopTransaction", testStopTransaction},
		{"ListTransactions", testListTransactions},
		{"MeterValues", testMeterValues},
		{"LatestMeterValues", testLatestMeterValues},
		{"ChargerEvents", testChargerEvents},
		{"MessageLog", testMessageLog},
		{"Tokens", testTokens},
		{"Users", testUsers},
		{"LastAdminRace", testLastAdminRace},
		{"Sessions", testSessions},
		{"BulkReads", testBulkReads},
		{"EnergySince", testEnergySince},
		{"Times", testTimes},
		{"Invalid", testInvalid},
		{"Concurrency", testConcurrency},
		{"ConcurrentStarts", testConcurrentStarts},
		{"Groups", testGroups},
		{"GroupCycleRace", testGroupCycleRace},
		{"ConnectorSettings", testConnectorSettings},
		{"ConnectorLimits", testConnectorLimits},
		{"Prices", testPrices},
		{"ChargingProfiles", testChargingProfiles},
		{"Leases", testLeases},
		{"LeaseRace", testLeaseRace},
		{"ConfigSnapshots", testConfigSnapshots},
		{"Files", testFiles},
		{"FileLinks", testFileLinks},
		{"DiagnosticsRequests", testDiagnosticsRequests},
		{"Rollouts", testRollouts},
		{"RolloutRace", testRolloutRace},
		{"Reservations", testReservations},
		{"ReservationSweepLimit", testReservationSweepLimit},
		{"ReservationRaces", testReservationRaces},
		{"ConfigChanges", testConfigChanges},
		{"ConfigKeyAcross", testConfigKeyAcross},
		{"ConfigChangeRace", testConfigChangeRace},
		{"LocalLists", testLocalLists},
		{"LocalListMembers", testLocalListMembers},
		{"LocalListSync", testLocalListSync},
		{"LocalListMemberRace", testLocalListMemberRace},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.fn(t, open(t))
		})
	}
}

// base is the suite's clock: millisecond precision in UTC, so values
// compare equal after a round trip through either database.
var base = time.Date(2025, 3, 1, 10, 0, 0, 123_000_000, time.UTC)

func at(d time.Duration) time.Time { return base.Add(d) }

func ptr[T any](v T) *T { return &v }

// must returns v, failing the test on err; must(f())(t) keeps the call
// sites short.
func must[T any](v T, err error) func(t *testing.T) T {
	return func(t *testing.T) T {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
}

func noErr(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func wantErr(t *testing.T, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Fatalf("error = %v, want one that is %v", err, want)
	}
}

func eq[T any](t *testing.T, what string, got, want T) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("%s:\n got %+v\nwant %+v", what, got, want)
	}
}

// recent reports whether a time the store stamped itself is plausible.
func recent(t *testing.T, what string, v time.Time) {
	t.Helper()
	if v.Location() != time.UTC || time.Since(v) > time.Minute || time.Until(v) > time.Minute {
		t.Fatalf("%s = %v, want about now in UTC", what, v)
	}
}

func boot(id string, d time.Duration) store.Boot {
	return store.Boot{
		ChargerID: id, Vendor: "Acme", Model: "Wallbox " + id, SerialNumber: "SN-" + id,
		ChargeBoxSerial: "CB-" + id, FirmwareVersion: "1.0", ICCID: "8931", IMSI: "2620",
		MeterType: "DZG", MeterSerialNumber: "M-" + id, ReceivedAt: at(d),
	}
}

func ids[T any](items []T, id func(T) string) []string {
	out := make([]string, len(items))
	for i, v := range items {
		out[i] = id(v)
	}
	return out
}

func chargerIDs(cs []store.Charger) []string {
	return ids(cs, func(c store.Charger) string { return c.ID })
}

func testRecordBoot(t *testing.T, s store.Store) {
	ctx := t.Context()
	c := must(s.RecordBoot(ctx, boot("cp1", 0), store.RegistrationPending))(t)
	want := store.Charger{
		ID: "cp1", Registration: store.RegistrationPending, Vendor: "Acme", Model: "Wallbox cp1",
		SerialNumber: "SN-cp1", ChargeBoxSerial: "CB-cp1", FirmwareVersion: "1.0", ICCID: "8931",
		IMSI: "2620", MeterType: "DZG", MeterSerialNumber: "M-cp1",
		LastBootAt: ptr(at(0)), LastSeenAt: ptr(at(0)), CreatedAt: c.CreatedAt, UpdatedAt: c.UpdatedAt,
	}
	eq(t, "created", c, want)
	recent(t, "CreatedAt", c.CreatedAt)
	eq(t, "get", must(s.GetCharger(ctx, "cp1"))(t), c)

	// Approve, then boot again with new details and another default: the
	// details change, the registration does not.
	must(s.PutCharger(ctx, store.Charger{ID: "cp1", Registration: store.RegistrationAccepted, PasswordHash: "h"}))(t)
	b := boot("cp1", time.Hour)
	b.FirmwareVersion, b.ICCID = "2.0", ""
	c2 := must(s.RecordBoot(ctx, b, store.RegistrationRejected))(t)
	want.Registration, want.PasswordHash = store.RegistrationAccepted, "h"
	want.FirmwareVersion, want.ICCID = "2.0", ""
	want.LastBootAt, want.LastSeenAt = ptr(at(time.Hour)), ptr(at(time.Hour))
	want.UpdatedAt = c2.UpdatedAt
	eq(t, "after second boot", c2, want)
	if !c2.CreatedAt.Equal(c.CreatedAt) || c2.UpdatedAt.Before(c.UpdatedAt) {
		t.Errorf("CreatedAt %v -> %v, UpdatedAt %v -> %v", c.CreatedAt, c2.CreatedAt, c.UpdatedAt, c2.UpdatedAt)
	}
	eq(t, "get", must(s.GetCharger(ctx, "cp1"))(t), c2)

	// An unknown charger gets the default given.
	c3 := must(s.RecordBoot(ctx, boot("cp2", 0), store.RegistrationAccepted))(t)
	eq(t, "registration", c3.Registration, store.RegistrationAccepted)

	_, err := s.GetCharger(ctx, "nope")
	wantErr(t, err, store.ErrNotFound)
}

func testPutCharger(t *testing.T, s store.Store) {
	ctx := t.Context()
	// Pre-registration: a charger that never booted.
	c := must(s.PutCharger(ctx, store.Charger{ID: "pre", Registration: store.RegistrationAccepted, PasswordHash: "$2a$hash", Vendor: "ignored"}))(t)
	eq(t, "pre-registered", c, store.Charger{ID: "pre", Registration: store.RegistrationAccepted, PasswordHash: "$2a$hash", CreatedAt: c.CreatedAt, UpdatedAt: c.UpdatedAt})
	recent(t, "CreatedAt", c.CreatedAt)

	// Its first boot keeps registration and password.
	b := must(s.RecordBoot(ctx, boot("pre", 0), store.RegistrationPending))(t)
	eq(t, "registration after boot", b.Registration, store.RegistrationAccepted)
	eq(t, "password after boot", b.PasswordHash, "$2a$hash")

	// Rejecting it and clearing the password keeps the boot details.
	c = must(s.PutCharger(ctx, store.Charger{ID: "pre", Registration: store.RegistrationRejected}))(t)
	want := b
	want.Registration, want.PasswordHash, want.UpdatedAt = store.RegistrationRejected, "", c.UpdatedAt
	eq(t, "after put", c, want)
	eq(t, "get", must(s.GetCharger(ctx, "pre"))(t), c)
}

func testListChargers(t *testing.T, s store.Store) {
	ctx := t.Context()
	for _, c := range []struct {
		id, vendor, model string
		reg               store.Registration
	}{
		{"A-1", "ABB", "Terra AC", store.RegistrationAccepted},
		{"a-2", "Alfen", "Eve Single", store.RegistrationPending},
		{"B-1", "Zaptec", "Go", store.RegistrationAccepted},
		{"home", "DIY", "openWB terra", store.RegistrationRejected},
		{"z9", "Easee", "Home", store.RegistrationPending},
	} {
		b := boot(c.id, 0)
		b.Vendor, b.Model = c.vendor, c.model
		must(s.RecordBoot(ctx, b, c.reg))(t)
	}
	tests := []struct {
		name string
		f    store.ChargerFilter
		want []string
	}{
		{"all by id", store.ChargerFilter{}, []string{"A-1", "B-1", "a-2", "home", "z9"}},
		{"registration", store.ChargerFilter{Registration: store.RegistrationPending}, []string{"a-2", "z9"}},
		{"search id any case", store.ChargerFilter{Search: "a-"}, []string{"A-1", "a-2"}},
		{"search vendor", store.ChargerFilter{Search: "zAPt"}, []string{"B-1"}},
		{"search model", store.ChargerFilter{Search: "TERRA"}, []string{"A-1", "home"}},
		{"search and registration", store.ChargerFilter{Search: "terra", Registration: store.RegistrationRejected}, []string{"home"}},
		{"search nothing", store.ChargerFilter{Search: "%"}, nil},
		{"after", store.ChargerFilter{After: "a-2"}, []string{"home", "z9"}},
		{"limit", store.ChargerFilter{Limit: 2}, []string{"A-1", "B-1"}},
		{"after and limit", store.ChargerFilter{After: "A-1", Limit: 2}, []string{"B-1", "a-2"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := chargerIDs(must(s.ListChargers(ctx, tc.f))(t))
			if len(got) == 0 && len(tc.want) == 0 {
				return
			}
			eq(t, "ids", got, tc.want)
		})
	}

	// Paging with After visits every charger once.
	var all []string
	for after := ""; ; {
		page := must(s.ListChargers(ctx, store.ChargerFilter{After: after, Limit: 2}))(t)
		if len(page) == 0 {
			break
		}
		all = append(all, chargerIDs(page)...)
		after = page[len(page)-1].ID
	}
	eq(t, "paged", all, []string{"A-1", "B-1", "a-2", "home", "z9"})
}

func testListChargersLimits(t *testing.T, s store.Store) {
	if testing.Short() {
		t.Skip("creates 1001 chargers")
	}
	ctx := t.Context()
	for i := range 1001 {
		must(s.PutCharger(ctx, store.Charger{ID: fmt.Sprintf("cp%04d", i), Registration: store.RegistrationAccepted}))(t)
	}
	for _, tc := range []struct{ limit, want int }{{0, 100}, {-1, 100}, {5, 5}, {1000, 1000}, {5000, 1000}} {
		got := must(s.ListChargers(ctx, store.ChargerFilter{Limit: tc.limit}))(t)
		if len(got) != tc.want {
			t.Errorf("Limit %d: got %d chargers, want %d", tc.limit, len(got), tc.want)
		}
	}
}

func testDeleteCharger(t *testing.T, s store.Store) {
	ctx := t.Context()
	must(s.RecordBoot(ctx, boot("gone", 0), store.RegistrationAccepted))(t)
	must(s.RecordBoot(ctx, boot("stays", 0), store.RegistrationAccepted))(t)
	noErr(t, s.RecordStatus(ctx, store.Connector{ChargerID: "gone", ConnectorID: 1, Status: "Available", UpdatedAt: at(0)}))
	must(s.AddChargerEvent(ctx, store.ChargerEvent{ChargerID: "gone", Kind: "DataTransfer", ReceivedAt: at(0), Payload: []byte(`{}`)}))(t)
	noErr(t, s.AppendLog(ctx, []store.LogEntry{{ChargerID: "gone", At: at(0), Frame: []byte(`[2]`)}}, 10))
	tx := must(s.StartTransaction(ctx, store.StartTx{ChargerID: "gone", ConnectorID: 1, IDTag: "tag", Timestamp: at(0), ReceivedAt: at(0)}))(t)
	noErr(t, s.AddMeterValues(ctx, []store.MeterSample{{ChargerID: "gone", ConnectorID: 1, TransactionID: &tx.Transaction.ID, Timestamp: at(time.Minute), Value: "10"}}))

	noErr(t, s.DeleteCharger(ctx, "gone"))
	_, err := s.GetCharger(ctx, "gone")
	wantErr(t, err, store.ErrNotFound)
	wantErr(t, s.DeleteCharger(ctx, "gone"), store.ErrNotFound)
	wantErr(t, s.DeleteCharger(ctx, "never"), store.ErrNotFound)
	eq(t, "connectors", len(must(s.ListConnectors(ctx, "gone"))(t)), 0)
	eq(t, "events", len(must(s.ListChargerEvents(ctx, "gone", "", 0))(t)), 0)
	eq(t, "log", len(must(s.ListLog(ctx, "gone", 0, 0))(t)), 0)
	// A charger of the same id later starts a log of its own, bounded
	// from its first entry (nothing of the old one is counted).
	var again []store.LogEntry
	for i := range 3 {
		again = append(again, store.LogEntry{ChargerID: "gone", At: at(time.Duration(i) * time.Second), Frame: []byte(fmt.Sprint(i))})
	}
	noErr(t, s.AppendLog(ctx, again, 3))
	eq(t, "log again", len(must(s.ListLog(ctx, "gone", 0, 0))(t)), 3)
	eq(t, "latest meter values", len(must(s.LatestMeterValues(ctx, "gone"))(t)), 0)
	// What was delivered is a record that outlives the charger.
	eq(t, "transaction kept", must(s.GetTransaction(ctx, tx.Transaction.ID))(t), tx.Transaction)
	eq(t, "meter values kept", len(must(s.TransactionMeterValues(ctx, tx.Transaction.ID))(t)), 1)
	eq(t, "other charger", must(s.GetCharger(ctx, "stays"))(t).ID, "stays")
}

func testTouchChargers(t *testing.T, s store.Store) {
	ctx := t.Context()
	for _, id := range []string{"a", "b", "c"} {
		must(s.PutCharger(ctx, store.Charger{ID: id, Registration: store.RegistrationAccepted}))(t)
	}
	noErr(t, s.TouchChargers(ctx, nil))
	noErr(t, s.TouchChargers(ctx, map[string]time.Time{"a": at(time.Minute), "b": at(2 * time.Minute), "unknown": at(0)}))
	noErr(t, s.TouchChargers(ctx, map[string]time.Time{"a": at(0), "b": at(3 * time.Minute)})) // a: older, ignored
	for id, want := range map[string]*time.Time{"a": ptr(at(time.Minute)), "b": ptr(at(3 * time.Minute)), "c": nil} {
		eq(t, "LastSeenAt of "+id, must(s.GetCharger(ctx, id))(t).LastSeenAt, want)
	}
	_, err := s.GetCharger(ctx, "unknown")
	wantErr(t, err, store.ErrNotFound)
}

func testStatus(t *testing.T, s store.Store) {
	ctx := t.Context()
	must(s.RecordBoot(ctx, boot("cp", 0), store.RegistrationAccepted))(t)
	must(s.RecordBoot(ctx, boot("other", 0), store.RegistrationAccepted))(t)
	notes := []store.Connector{
		{ChargerID: "cp", ConnectorID: 2, Status: "Available", UpdatedAt: at(1 * time.Second)},
		{ChargerID: "cp", ConnectorID: 0, Status: "Available", UpdatedAt: at(2 * time.Second), ChargerTimestamp: ptr(at(-time.Hour))},
		{ChargerID: "cp", ConnectorID: 1, Status: "Preparing", UpdatedAt: at(3 * time.Second)},
		{ChargerID: "cp", ConnectorID: 1, Status: "Faulted", ErrorCode: "GroundFailure", Info: "RCD", VendorID: "acme", VendorErrorCode: "E42", UpdatedAt: at(4 * time.Second), ChargerTimestamp: ptr(at(4 * time.Second))},
		{ChargerID: "cp", ConnectorID: 1, Status: "Available", ErrorCode: "NoError", UpdatedAt: at(5 * time.Second)},
		{ChargerID: "other", ConnectorID: 1, Status: "Charging", UpdatedAt: at(6 * time.Second)},
	}
	for _, n := range notes {
		noErr(t, s.RecordStatus(ctx, n))
	}
	eq(t, "connectors", must(s.ListConnectors(ctx, "cp"))(t), []store.Connector{notes[1], notes[4], notes[0]})
	eq(t, "history", must(s.StatusHistory(ctx, "cp", 1, 0))(t), []store.Connector{notes[4], notes[3], notes[2]})
	eq(t, "history limit", must(s.StatusHistory(ctx, "cp", 1, 2))(t), []store.Connector{notes[4], notes[3]})
	eq(t, "history connector 0", must(s.StatusHistory(ctx, "cp", 0, 0))(t), []store.Connector{notes[1]})
	eq(t, "no history", len(must(s.StatusHistory(ctx, "cp", 7, 0))(t)), 0)
	eq(t, "unknown charger", len(must(s.ListConnectors(ctx, "nope"))(t)), 0)

	err := s.RecordStatus(ctx, store.Connector{ChargerID: "nope", ConnectorID: 1, Status: "Available", UpdatedAt: at(0)})
	wantErr(t, err, store.ErrNotFound)
}

func testIDTags(t *testing.T, s store.Store) {
	ctx := t.Context()
	_, err := s.GetIDTag(ctx, "CARD1")
	wantErr(t, err, store.ErrNotFound)

	tag := must(s.PutIDTag(ctx, store.IDTag{IDTag: "CARD1", Status: store.IDTagAccepted}))(t)
	want := store.IDTag{IDTag: "CARD1", Status: store.IDTagAccepted, CreatedAt: tag.CreatedAt, UpdatedAt: tag.UpdatedAt}
	eq(t, "created", tag, want)
	recent(t, "CreatedAt", tag.CreatedAt)
	eq(t, "get", must(s.GetIDTag(ctx, "CARD1"))(t), tag)

	upd := must(s.PutIDTag(ctx, store.IDTag{IDTag: "CARD1", Status: store.IDTagBlocked, ExpiryDate: ptr(at(24 * time.Hour)),
		ParentIDTag: "FLEET", Owner: "Ada", Note: "lost", CreatedAt: at(-time.Hour)}))(t)
	want = store.IDTag{IDTag: "CARD1", Status: store.IDTagBlocked, ExpiryDate: ptr(at(24 * time.Hour)), ParentIDTag: "FLEET",
		Owner: "Ada", Note: "lost", CreatedAt: tag.CreatedAt, UpdatedAt: upd.UpdatedAt}
	eq(t, "updated", upd, want)
	eq(t, "get", must(s.GetIDTag(ctx, "CARD1"))(t), upd)

	// Clearing optional fields stores them empty again.
	cleared := must(s.PutIDTag(ctx, store.IDTag{IDTag: "CARD1", Status: store.IDTagAccepted}))(t)
	if cleared.ExpiryDate != nil || cleared.ParentIDTag != "" || cleared.Owner != "" || cleared.Note != "" {
		t.Fatalf("cleared = %+v", cleared)
	}

	noErr(t, s.DeleteIDTag(ctx, "CARD1"))
	_, err = s.GetIDTag(ctx, "CARD1")
	wantErr(t, err, store.ErrNotFound)
	wantErr(t, s.DeleteIDTag(ctx, "CARD1"), store.ErrNotFound)
}

func testListIDTags(t *testing.T, s store.Store) {
	ctx := t.Context()
	for _, tag := range []store.IDTag{
		{IDTag: "04A1", Status: store.IDTagAccepted, Owner: "Ada Lovelace"},
		{IDTag: "04B2", Status: store.IDTagBlocked, Owner: "Grace"},
		{IDTag: "AA00", Status: store.IDTagAccepted},
		{IDTag: "ab01", Status: store.IDTagExpired, Owner: "ada's fleet"},
	} {
		must(s.PutIDTag(ctx, tag))(t)
	}
	tagIDs := func(ts []store.IDTag) []string { return ids(ts, func(t store.IDTag) string { return t.IDTag }) }
	tests := []struct {
		name string
		f    store.IDTagFilter
		want []string
	}{
		{"all", store.IDTagFilter{}, []string{"04A1", "04B2", "AA00", "ab01"}},
		{"search tag", store.IDTagFilter{Search: "4b"}, []string{"04B2"}},
		{"search owner", store.IDTagFilter{Search: "ADA"}, []string{"04A1", "ab01"}},
		{"after", store.IDTagFilter{After: "04B2"}, []string{"AA00", "ab01"}},
		{"limit", store.IDTagFilter{Limit: 1}, []string{"04A1"}},
		{"after limit search", store.IDTagFilter{Search: "ada", After: "04A1", Limit: 1}, []string{"ab01"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			eq(t, "tags", tagIDs(must(s.ListIDTags(ctx, tc.f))(t)), tc.want)
		})
	}
}

func start(cp string, conn int, tag string, meter int64, d time.Duration) store.StartTx {
	return store.StartTx{ChargerID: cp, ConnectorID: conn, IDTag: tag, MeterStart: meter, Timestamp: at(d), ReceivedAt: at(d + time.Second)}
}

func testStartTransaction(t *testing.T, s store.Store) {
	ctx := t.Context()
	st := start("cp", 1, "TAG", 1000, 0)
	st.ReservationID = ptr(7)
	r := must(s.StartTransaction(ctx, st))(t)
	if r.Duplicate || len(r.ClosedStale) != 0 || r.Transaction.ID <= 0 {
		t.Fatalf("first start = %+v", r)
	}
	want := store.Transaction{ID: r.Transaction.ID, ChargerID: "cp", ConnectorID: 1, IDTag: "TAG", MeterStart: 1000,
		StartedAt: at(0), StartRecvAt: at(time.Second), ReservationID: ptr(7)}
	eq(t, "started", r.Transaction, want)
	if !r.Transaction.Active() || r.Transaction.EnergyWh() != 0 {
		t.Fatalf("Active %v EnergyWh %d", r.Transaction.Active(), r.Transaction.EnergyWh())
	}
	eq(t, "get", must(s.GetTransaction(ctx, want.ID))(t), want)

	// The charger retries (other receive time): the same transaction, nothing closed.
	retry := st
	retry.ReceivedAt = at(time.Minute)
	r2 := must(s.StartTransaction(ctx, retry))(t)
	eq(t, "retry", r2, store.StartResult{Transaction: want, Duplicate: true})

	// Another connector and another charger are independent; ids grow.
	prev := want.ID
	for _, st := range []store.StartTx{start("cp", 2, "TAG", 0, 0), start("cp2", 1, "TAG", 1000, 0)} {
		r := must(s.StartTransaction(ctx, st))(t)
		if r.Duplicate || len(r.ClosedStale) != 0 || r.Transaction.ID <= prev {
			t.Fatalf("start %+v = %+v, want a new id above %d", st, r, prev)
		}
		prev = r.Transaction.ID
	}
	// Nothing changed the first one.
	eq(t, "still running", must(s.GetTransaction(ctx, want.ID))(t), want)

	_, err := s.GetTransaction(ctx, prev+1000)
	wantErr(t, err, store.ErrNotFound)
}

func testStaleTransaction(t *testing.T, s store.Store) {
	ctx := t.Context()
	tests := []struct {
		name                 string
		oldStart, newStart   int64
		wantStop, wantEnergy int64
	}{
		{"meter advanced", 1000, 1500, 1500, 500},
		{"meter equal", 1000, 1000, 1000, 0},
		{"meter went back", 1000, 10, 1000, 0}, // replaced meter: no invented energy
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cp := fmt.Sprintf("cp%d", i)
			old := must(s.StartTransaction(ctx, start(cp, 1, "OLD", tc.oldStart, 0)))(t)
			other := must(s.StartTransaction(ctx, start(cp, 2, "OTHER", 0, 0)))(t)
			r := must(s.StartTransaction(ctx, start(cp, 1, "NEW", tc.newStart, time.Hour)))(t)
			if r.Duplicate || r.Transaction.ID <= other.Transaction.ID {
				t.Fatalf("new start = %+v", r)
			}
			eq(t, "ClosedStale", r.ClosedStale, []int64{old.Transaction.ID})

			want := old.Transaction
			want.MeterStop, want.StoppedAt, want.StopReason = ptr(tc.wantStop), ptr(at(time.Hour)), store.StaleStopReason
			want.StopRecvAt = ptr(at(time.Hour + time.Second))
			got := must(s.GetTransaction(ctx, old.Transaction.ID))(t)
			eq(t, "stale", got, want)
			eq(t, "energy", got.EnergyWh(), tc.wantEnergy)
			eq(t, "other connector", must(s.GetTransaction(ctx, other.Transaction.ID))(t), other.Transaction)
			eq(t, "new", must(s.GetTransaction(ctx, r.Transaction.ID))(t), r.Transaction)

			// A retry of the new start closes nothing more.
			r2 := must(s.StartTransaction(ctx, start(cp, 1, "NEW", tc.newStart, time.Hour)))(t)
			eq(t, "retry", r2, store.StartResult{Transaction: r.Transaction, Duplicate: true})
			// The old one's late stop finds it stopped.
			_, outcome := must2(t)(s.StopTransaction(ctx, store.StopTx{TransactionID: old.Transaction.ID, ChargerID: cp, MeterStop: 1200, Timestamp: at(time.Minute)}))
			eq(t, "late stop", outcome, store.AlreadyStopped)
			eq(t, "unchanged", must(s.GetTransaction(ctx, old.Transaction.ID))(t), want)
		})
	}
}

// must2 is must for the two results of StopTransaction.
func must2(t *testing.T) func(store.Transaction, store.StopOutcome, error) (store.Transaction, store.StopOutcome) {
	return func(tx store.Transaction, o store.StopOutcome, err error) (store.Transaction, store.StopOutcome) {
		t.Helper()
		noErr(t, err)
		return tx, o
	}
}

func testStopTransaction(t *testing.T, s store.Store) {
	ctx := t.Context()
	r := must(s.StartTransaction(ctx, start("cp", 1, "TAG", 1000, 0)))(t)
	id := r.Transaction.ID

	// Another charger cannot stop it.
	got, outcome := must2(t)(s.StopTransaction(ctx, store.StopTx{TransactionID: id, ChargerID: "intruder", MeterStop: 9999, Timestamp: at(time.Hour)}))
	eq(t, "foreign stop", outcome, store.UnknownTransaction)
	eq(t, "foreign stop tx", got, store.Transaction{})
	eq(t, "still running", must(s.GetTransaction(ctx, id))(t), r.Transaction)

	stop := store.StopTx{TransactionID: id, ChargerID: "cp", MeterStop: 8500, Timestamp: at(time.Hour), ReceivedAt: at(time.Hour + time.Second)}
	got, outcome = must2(t)(s.StopTransaction(ctx, stop))
	want := r.Transaction
	want.MeterStop, want.StoppedAt, want.StopRecvAt = ptr(int64(8500)), ptr(at(time.Hour)), ptr(at(time.Hour+time.Second))
	want.StopReason = "Local"
	eq(t, "outcome", outcome, store.Stopped)
	eq(t, "stopped", got, want)
	eq(t, "energy", got.EnergyWh(), 7500)
	eq(t, "get", must(s.GetTransaction(ctx, id))(t), want)

	// A retry, even with other values, changes nothing.
	again := stop
	again.MeterStop, again.Reason, again.IDTag, again.ReceivedAt = 9000, "Remote", "OTHER", at(2*time.Hour)
	got, outcome = must2(t)(s.StopTransaction(ctx, again))
	eq(t, "repeat outcome", outcome, store.AlreadyStopped)
	eq(t, "repeat", got, want)
	eq(t, "get", must(s.GetTransaction(ctx, id))(t), want)

	got, outcome = must2(t)(s.StopTransaction(ctx, store.StopTx{TransactionID: id + 1000, ChargerID: "cp", MeterStop: 1, Timestamp: at(time.Hour)}))
	eq(t, "unknown outcome", outcome, store.UnknownTransaction)
	eq(t, "unknown tx", got, store.Transaction{})

	// Reason and stop id tag are stored as given.
	r2 := must(s.StartTransaction(ctx, start("cp", 1, "TAG", 9000, 2*time.Hour)))(t)
	got, outcome = must2(t)(s.StopTransaction(ctx, store.StopTx{TransactionID: r2.Transaction.ID, ChargerID: "cp", IDTag: "TAG2",
		MeterStop: 9100, Timestamp: at(3 * time.Hour), Reason: "EVDisconnected", ReceivedAt: at(3 * time.Hour)}))
	eq(t, "outcome", outcome, store.Stopped)
	if got.StopReason != "EVDisconnected" || got.StopIDTag != "TAG2" || got.EnergyWh() != 100 {
		t.Fatalf("stopped = %+v", got)
	}
}

func testListTransactions(t *testing.T, s store.Store) {
	ctx := t.Context()
	// Six transactions: started an hour apart; the odd ones stopped.
	var txs []store.Transaction
	for i, st := range []store.StartTx{
		start("cp1", 1, "A", 0, 0),
		start("cp1", 2, "B", 0, time.Hour),
		start("cp2", 1, "A", 0, 2*time.Hour),
		start("cp2", 2, "C", 0, 3*time.Hour),
		start("cp1", 3, "A", 0, 4*time.Hour),
		start("cp3", 1, "B", 0, 5*time.Hour),
	} {
		tx := must(s.StartTransaction(ctx, st))(t).Transaction
		if i%2 == 1 {
			tx, _ = must2(t)(s.StopTransaction(ctx, store.StopTx{TransactionID: tx.ID, ChargerID: tx.ChargerID, MeterStop: 10, Timestamp: at(6 * time.Hour)}))
		}
		txs = append(txs, tx)
	}
	pick := func(idx ...int) []store.Transaction {
		out := make([]store.Transaction, len(idx))
		for i, j := range idx {
			out[i] = txs[j]
		}
		return out
	}
	tests := []struct {
		name string
		f    store.TxFilter
		want []store.Transaction
	}{
		{"all newest first", store.TxFilter{}, pick(5, 4, 3, 2, 1, 0)},
		{"charger", store.TxFilter{ChargerID: "cp1"}, pick(4, 1, 0)},
		{"id tag", store.TxFilter{IDTag: "A"}, pick(4, 2, 0)},
		{"active", store.TxFilter{Active: ptr(true)}, pick(4, 2, 0)},
		{"stopped", store.TxFilter{Active: ptr(false)}, pick(5, 3, 1)},
		{"from (inclusive)", store.TxFilter{From: ptr(at(3 * time.Hour))}, pick(5, 4, 3)},
		{"to (exclusive)", store.TxFilter{To: ptr(at(2 * time.Hour))}, pick(1, 0)},
		{"from to", store.TxFilter{From: ptr(at(time.Hour)), To: ptr(at(3*time.Hour + time.Minute))}, pick(3, 2, 1)},
		{"before", store.TxFilter{Before: txs[3].ID}, pick(2, 1, 0)},
		{"limit", store.TxFilter{Limit: 2}, pick(5, 4)},
		{"before limit", store.TxFilter{Before: txs[4].ID, Limit: 2}, pick(3, 2)},
		{"combined", store.TxFilter{ChargerID: "cp1", IDTag: "A", Active: ptr(true), Before: txs[4].ID}, pick(0)},
		{"none", store.TxFilter{ChargerID: "cp9"}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := must(s.ListTransactions(ctx, tc.f))(t)
			if len(got) == 0 && len(tc.want) == 0 {
				return
			}
			eq(t, "transactions", got, tc.want)
		})
	}

	for tag, want := range map[string]bool{"A": true, "B": false, "C": false, "nobody": false} {
		if got := must(s.HasActiveTransaction(ctx, tag))(t); got != want {
			t.Errorf("HasActiveTransaction(%q) = %v, want %v", tag, got, want)
		}
	}
}

func sample(cp string, conn int, tx *int64, d time.Duration, value, measurand, phase string) store.MeterSample {
	return store.MeterSample{ChargerID: cp, ConnectorID: conn, TransactionID: tx, Timestamp: at(d), ReceivedAt: at(d + time.Second),
		Value: value, Measurand: measurand, Phase: phase, Unit: "Wh", Location: "Outlet", Context: "Sample.Periodic", Format: "Raw"}
}

func testMeterValues(t *testing.T, s store.Store) {
	ctx := t.Context()
	tx := must(s.StartTransaction(ctx, start("cp", 1, "TAG", 0, 0)))(t).Transaction.ID
	other := must(s.StartTransaction(ctx, start("cp", 2, "TAG", 0, 0)))(t).Transaction.ID

	noErr(t, s.AddMeterValues(ctx, nil))

	// One MeterValues as a charger sends it after reconnecting: hundreds of
	// samples, not in time order, several with the same timestamp.
	var batch, want []store.MeterSample
	for i := range 300 {
		d := time.Duration(299-i) * time.Second // newest first
		m := sample("cp", 1, &tx, d, fmt.Sprint(i), "Energy.Active.Import.Register", "")
		p := sample("cp", 1, &tx, d, fmt.Sprintf("%d.5", i), "Power.Active.Import", "L1")
		p.Unit, p.Location, p.Context, p.Format = "W", "", "", "" // empty stays empty
		batch = append(batch, m, p)
	}
	batch = append(batch, sample("cp", 2, &other, 0, "1", "", ""), sample("cp", 0, nil, 0, "230", "Voltage", "L1-N"))
	noErr(t, s.AddMeterValues(ctx, batch))
	for i := 299; i >= 0; i-- { // by timestamp, then as inserted
		want = append(want, batch[2*i], batch[2*i+1])
	}
	eq(t, "transaction meter values", must(s.TransactionMeterValues(ctx, tx))(t), want)
	eq(t, "other transaction", must(s.TransactionMeterValues(ctx, other))(t), []store.MeterSample{batch[600]})
	eq(t, "unknown transaction", len(must(s.TransactionMeterValues(ctx, other+1000))(t)), 0)

	// A second batch adds to the first.
	more := []store.MeterSample{sample("cp", 1, &tx, 10*time.Minute, "999", "", "")}
	more[0].ReceivedAt = time.Time{} // stamped by the store
	noErr(t, s.AddMeterValues(ctx, more))
	got := must(s.TransactionMeterValues(ctx, tx))(t)
	eq(t, "count", len(got), 601)
	recent(t, "ReceivedAt", got[600].ReceivedAt)

	// A batch with an invalid sample writes nothing.
	bad := []store.MeterSample{sample("cp", 1, &tx, time.Hour, "1", "", ""), {ChargerID: "", Timestamp: at(0)}}
	wantErr(t, s.AddMeterValues(ctx, bad), store.ErrInvalid)
	eq(t, "count after invalid", len(must(s.TransactionMeterValues(ctx, tx))(t)), 601)
}

func testLatestMeterValues(t *testing.T, s store.Store) {
	ctx := t.Context()
	tx := ptr(int64(42)) // meter values are accepted for any transaction id
	noErr(t, s.AddMeterValues(ctx, []store.MeterSample{
		sample("cp", 1, tx, 0, "100", "", ""),
		sample("cp", 1, tx, time.Minute, "200", "Energy.Active.Import.Register", ""), // same series as ""
		sample("cp", 1, tx, time.Minute, "7000", "Power.Active.Import", "L1"),
		sample("cp", 1, tx, time.Minute, "7100", "Power.Active.Import", "L2"),
		sample("cp", 1, tx, 0, "6000", "Power.Active.Import", "L2"), // older, later in the batch
		sample("cp", 0, nil, time.Minute, "231", "Voltage", ""),
		sample("other", 1, nil, time.Hour, "5", "", ""),
	}))
	// A resent old sample does not replace a newer one; a newer one does,
	// and so does an equal timestamp sent later.
	noErr(t, s.AddMeterValues(ctx, []store.MeterSample{
		sample("cp", 1, tx, 30*time.Second, "150", "", ""),
		sample("cp", 0, nil, 2*time.Minute, "229", "Voltage", ""),
		sample("cp", 1, tx, time.Minute, "7050", "Power.Active.Import", "L1"),
	}))
	energy := sample("cp", 1, tx, time.Minute, "200", "Energy.Active.Import.Register", "")
	want := []store.MeterSample{
		sample("cp", 0, nil, 2*time.Minute, "229", "Voltage", ""),
		energy,
		sample("cp", 1, tx, time.Minute, "7050", "Power.Active.Import", "L1"),
		sample("cp", 1, tx, time.Minute, "7100", "Power.Active.Import", "L2"),
	}
	eq(t, "latest", must(s.LatestMeterValues(ctx, "cp"))(t), want)
	eq(t, "other", len(must(s.LatestMeterValues(ctx, "other"))(t)), 1)
	eq(t, "unknown", len(must(s.LatestMeterValues(ctx, "nope"))(t)), 0)

	// A sample without a measurand is reported under the default name.
	noErr(t, s.AddMeterValues(ctx, []store.MeterSample{sample("cp", 1, tx, time.Hour, "300", "", "")}))
	got := must(s.LatestMeterValues(ctx, "cp"))(t)
	energy = sample("cp", 1, tx, time.Hour, "300", "Energy.Active.Import.Register", "")
	eq(t, "normalised", got[1], energy)
}

func testChargerEvents(t *testing.T, s store.Store) {
	ctx := t.Context()
	must(s.RecordBoot(ctx, boot("cp", 0), store.RegistrationAccepted))(t)
	in := []store.ChargerEvent{
		{ChargerID: "cp", Kind: "FirmwareStatusNotification", Status: "Downloading", ReceivedAt: at(1 * time.Second), Payload: []byte(`{"status":"Downloading"}`)},
		{ChargerID: "cp", Kind: "SecurityEventNotification", Status: "TamperDetectionActivated", Timestamp: ptr(at(-time.Hour)), ReceivedAt: at(2 * time.Second), Payload: []byte(`{"type":"TamperDetectionActivated"}`)},
		{ChargerID: "cp", Kind: "FirmwareStatusNotification", Status: "Installed", ReceivedAt: at(3 * time.Second), Payload: []byte(`{"status":"Installed"}`)},
		{ChargerID: "cp", Kind: "DataTransfer", ReceivedAt: at(4 * time.Second), Payload: []byte("{\"vendorId\":\"x\",\n \"data\":\"\u00e9\"}")},
	}
	var stored []store.ChargerEvent
	for _, e := range in {
		got := must(s.AddChargerEvent(ctx, e))(t)
		if got.ID <= 0 || len(stored) > 0 && got.ID <= stored[len(stored)-1].ID {
			t.Fatalf("event id %d after %v", got.ID, stored)
		}
		e.ID = got.ID
		eq(t, "stored", got, e)
		stored = append(stored, got)
	}
	eq(t, "all", must(s.ListChargerEvents(ctx, "cp", "", 0))(t), []store.ChargerEvent{stored[3], stored[2], stored[1], stored[0]})
	eq(t, "kind", must(s.ListChargerEvents(ctx, "cp", "FirmwareStatusNotification", 0))(t), []store.ChargerEvent{stored[2], stored[0]})
	eq(t, "limit", must(s.ListChargerEvents(ctx, "cp", "", 1))(t), []store.ChargerEvent{stored[3]})
	eq(t, "other charger", len(must(s.ListChargerEvents(ctx, "other", "", 0))(t)), 0)

	_, err := s.AddChargerEvent(ctx, store.ChargerEvent{ChargerID: "nope", Kind: "DataTransfer", ReceivedAt: at(0), Payload: []byte(`{}`)})
	wantErr(t, err, store.ErrNotFound)
}

func testMessageLog(t *testing.T, s store.Store) {
	ctx := t.Context()
	entry := func(cp string, i int) store.LogEntry {
		return store.LogEntry{ChargerID: cp, At: at(time.Duration(i) * time.Second), Incoming: i%2 == 0, Frame: []byte(fmt.Sprintf(`[2,"%d","Heartbeat",{}]`, i))}
	}
	// Two appends of mixed chargers, keep 5 per charger.
	var first, second []store.LogEntry
	for i := range 4 {
		first = append(first, entry("a", i), entry("b", i))
	}
	for i := 4; i < 8; i++ {
		second = append(second, entry("a", i))
	}
	noErr(t, s.AppendLog(ctx, first, 5))
	noErr(t, s.AppendLog(ctx, second, 5))
	noErr(t, s.AppendLog(ctx, nil, 5))

	got := must(s.ListLog(ctx, "a", 0, 0))(t)
	eq(t, "kept", len(got), 5)
	for i, e := range got {
		want := entry("a", 7-i) // newest first: 7, 6, 5, 4, 3
		want.ID = e.ID
		eq(t, "entry", e, want)
		if i > 0 && e.ID >= got[i-1].ID {
			t.Fatalf("ids not descending: %d after %d", e.ID, got[i-1].ID)
		}
	}
	// The other charger's log is bounded on its own.
	eq(t, "b", len(must(s.ListLog(ctx, "b", 0, 0))(t)), 4)

	// Paging with before.
	page := must(s.ListLog(ctx, "a", got[1].ID, 2))(t)
	eq(t, "page", page, got[2:4])
	eq(t, "last page", must(s.ListLog(ctx, "a", got[3].ID, 10))(t), got[4:])

	// Appending one more drops exactly the oldest.
	noErr(t, s.AppendLog(ctx, []store.LogEntry{entry("a", 8)}, 5))
	got2 := must(s.ListLog(ctx, "a", 0, 0))(t)
	eq(t, "after one more", got2[1:], got[:4])
	// A smaller keep trims further.
	noErr(t, s.AppendLog(ctx, []store.LogEntry{entry("a", 9)}, 2))
	eq(t, "keep 2", len(must(s.ListLog(ctx, "a", 0, 0))(t)), 2)
	// A larger keep lets the log grow again, one flush at a time, and
	// the newest stay.
	for i := 10; i < 16; i++ {
		noErr(t, s.AppendLog(ctx, []store.LogEntry{entry("a", i)}, 6))
	}
	grown := must(s.ListLog(ctx, "a", 0, 0))(t)
	eq(t, "keep 6", len(grown), 6)
	eq(t, "newest", string(grown[0].Frame), string(entry("a", 15).Frame))
	eq(t, "oldest kept", string(grown[5].Frame), string(entry("a", 10).Frame))
	// One flush bringing more than keep for a charger keeps its newest.
	var many []store.LogEntry
	for i := 20; i < 30; i++ {
		many = append(many, entry("c", i), entry("b", i))
	}
	noErr(t, s.AppendLog(ctx, many, 3))
	for _, cp := range []string{"b", "c"} {
		got := must(s.ListLog(ctx, cp, 0, 0))(t)
		eq(t, cp+" kept", len(got), 3)
		eq(t, cp+" newest", string(got[0].Frame), string(entry(cp, 29).Frame))
		eq(t, cp+" oldest", string(got[2].Frame), string(entry(cp, 27).Frame))
	}
	// And the next flush trims from there.
	noErr(t, s.AppendLog(ctx, []store.LogEntry{entry("c", 30)}, 3))
	got = must(s.ListLog(ctx, "c", 0, 0))(t)
	eq(t, "c after one more", len(got), 3)
	eq(t, "c oldest now", string(got[2].Frame), string(entry("c", 28).Frame))
}

func testTokens(t *testing.T, s store.Store) {
	ctx := t.Context()
	a := must(s.CreateToken(ctx, store.Token{Name: "ci", Hash: []byte{1, 2, 3}, Role: store.RoleAdmin}))(t)
	if a.ID <= 0 || a.LastUsedAt != nil {
		t.Fatalf("created %+v", a)
	}
	recent(t, "CreatedAt", a.CreatedAt)
	eq(t, "token", a, store.Token{ID: a.ID, Name: "ci", Hash: []byte{1, 2, 3}, Role: store.RoleAdmin, CreatedAt: a.CreatedAt})
	b := must(s.CreateToken(ctx, store.Token{Name: "grafana", Hash: []byte{4}, Role: store.RoleViewer, CreatedAt: at(0)}))(t)
	eq(t, "given CreatedAt", b.CreatedAt, at(0))

	_, err := s.CreateToken(ctx, store.Token{Name: "ci", Hash: []byte{9}, Role: store.RoleViewer})
	wantErr(t, err, store.ErrConflict)
	_, err = s.CreateToken(ctx, store.Token{Name: "other", Hash: []byte{1, 2, 3}, Role: store.RoleViewer})
	wantErr(t, err, store.ErrConflict)

	eq(t, "by hash", must(s.TokenByHash(ctx, []byte{1, 2, 3}))(t), a)
	_, err = s.TokenByHash(ctx, []byte{1, 2})
	wantErr(t, err, store.ErrNotFound)
	eq(t, "list", must(s.ListTokens(ctx))(t), []store.Token{a, b})

	noErr(t, s.TouchToken(ctx, a.ID, at(time.Hour)))
	noErr(t, s.TouchToken(ctx, a.ID, at(time.Minute))) // older: ignored
	eq(t, "last used", must(s.TokenByHash(ctx, a.Hash))(t).LastUsedAt, ptr(at(time.Hour)))
	wantErr(t, s.TouchToken(ctx, 1e9, at(0)), store.ErrNotFound)

	noErr(t, s.DeleteToken(ctx, a.ID))
	wantErr(t, s.DeleteToken(ctx, a.ID), store.ErrNotFound)
	_, err = s.TokenByHash(ctx, a.Hash)
	wantErr(t, err, store.ErrNotFound)
	eq(t, "list after delete", must(s.ListTokens(ctx))(t), []store.Token{b})
	// The name is free again.
	must(s.CreateToken(ctx, store.Token{Name: "ci", Hash: []byte{5}, Role: store.RoleOperator}))(t)
}

func testTimes(t *testing.T, s store.Store) {
	ctx := t.Context()
	// Sub-millisecond digits and a non-UTC zone: the instant survives to at
	// least the millisecond and comes back in UTC.
	zone := time.FixedZone("CEST", 2*60*60)
	fine := time.Date(2025, 6, 30, 23, 59, 59, 987_654_321, zone)
	r := must(s.StartTransaction(ctx, store.StartTx{ChargerID: "cp", ConnectorID: 1, IDTag: "T", Timestamp: fine, ReceivedAt: fine}))(t)
	got := must(s.GetTransaction(ctx, r.Transaction.ID))(t)
	for name, v := range map[string]time.Time{"returned": r.Transaction.StartedAt, "read": got.StartedAt, "recv": got.StartRecvAt} {
		if v.Location() != time.UTC || v.Truncate(time.Millisecond) != fine.UTC().Truncate(time.Millisecond) {
			t.Errorf("%s = %v, want %v in UTC", name, v, fine.UTC())
		}
	}
	// The same fine timestamp is recognised as a retry.
	r2 := must(s.StartTransaction(ctx, store.StartTx{ChargerID: "cp", ConnectorID: 1, IDTag: "T", Timestamp: fine, ReceivedAt: fine}))(t)
	if !r2.Duplicate || r2.Transaction.ID != r.Transaction.ID {
		t.Errorf("retry with sub-millisecond timestamp = %+v", r2)
	}
	// Before 1970 and far ahead.
	for _, v := range []time.Time{time.Date(1969, 12, 31, 23, 0, 0, 1_000_000, time.UTC), time.Date(2200, 1, 1, 0, 0, 0, 0, time.UTC)} {
		tag := must(s.PutIDTag(ctx, store.IDTag{IDTag: "T" + v.Format("2006"), Status: store.IDTagAccepted, ExpiryDate: &v}))(t)
		eq(t, "expiry", tag.ExpiryDate, &v)
		eq(t, "expiry read", must(s.GetIDTag(ctx, tag.IDTag))(t).ExpiryDate, &v)
	}
}

func testInvalid(t *testing.T, s store.Store) {
	ctx := t.Context()
	must(s.RecordBoot(ctx, boot("cp", 0), store.RegistrationAccepted))(t)
	tests := []struct {
		name string
		call func() error
	}{
		{"boot without id", func() error { _, err := s.RecordBoot(ctx, store.Boot{}, store.RegistrationPending); return err }},
		{"boot with bad default", func() error { _, err := s.RecordBoot(ctx, boot("x", 0), "Maybe"); return err }},
		{"put without registration", func() error { _, err := s.PutCharger(ctx, store.Charger{ID: "x"}); return err }},
		{"put without id", func() error {
			_, err := s.PutCharger(ctx, store.Charger{Registration: store.RegistrationAccepted})
			return err
		}},
		{"status without status", func() error { return s.RecordStatus(ctx, store.Connector{ChargerID: "cp", ConnectorID: 1}) }},
		{"status on negative connector", func() error {
			return s.RecordStatus(ctx, store.Connector{ChargerID: "cp", ConnectorID: -1, Status: "Available"})
		}},
		{"id tag with bad status", func() error { _, err := s.PutIDTag(ctx, store.IDTag{IDTag: "x", Status: "Maybe"}); return err }},
		{"empty id tag", func() error { _, err := s.PutIDTag(ctx, store.IDTag{Status: store.IDTagAccepted}); return err }},
		{"start on connector 0", func() error { _, err := s.StartTransaction(ctx, start("cp", 0, "T", 0, 0)); return err }},
		{"start without tag", func() error { _, err := s.StartTransaction(ctx, start("cp", 1, "", 0, 0)); return err }},
		{"start without time", func() error {
			_, err := s.StartTransaction(ctx, store.StartTx{ChargerID: "cp", ConnectorID: 1, IDTag: "T"})
			return err
		}},
		{"stop without charger", func() error {
			_, _, err := s.StopTransaction(ctx, store.StopTx{TransactionID: 1, Timestamp: at(0)})
			return err
		}},
		{"sample without time", func() error {
			return s.AddMeterValues(ctx, []store.MeterSample{{ChargerID: "cp", ConnectorID: 1, Value: "1"}})
		}},
		{"event without kind", func() error { _, err := s.AddChargerEvent(ctx, store.ChargerEvent{ChargerID: "cp"}); return err }},
		{"log keep 0", func() error { return s.AppendLog(ctx, []store.LogEntry{{ChargerID: "cp", Frame: []byte("[]")}}, 0) }},
		{"log without charger", func() error { return s.AppendLog(ctx, []store.LogEntry{{Frame: []byte("[]")}}, 10) }},
		{"token without name", func() error {
			_, err := s.CreateToken(ctx, store.Token{Hash: []byte{1}, Role: store.RoleAdmin})
			return err
		}},
		{"token without hash", func() error { _, err := s.CreateToken(ctx, store.Token{Name: "n", Role: store.RoleAdmin}); return err }},
		{"token with bad role", func() error {
			_, err := s.CreateToken(ctx, store.Token{Name: "n", Hash: []byte{1}, Role: "root"})
			return err
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { wantErr(t, tc.call(), store.ErrInvalid) })
	}
	// Nothing of the above was stored.
	eq(t, "chargers", chargerIDs(must(s.ListChargers(ctx, store.ChargerFilter{}))(t)), []string{"cp"})
	eq(t, "transactions", len(must(s.ListTransactions(ctx, store.TxFilter{}))(t)), 0)
	eq(t, "tokens", len(must(s.ListTokens(ctx))(t)), 0)
}

// testConcurrency runs what a busy node does at once: chargers starting,
// metering and stopping transactions while others read. Nothing may be
// lost, duplicated or fail with a locking error.
func testConcurrency(t *testing.T, s store.Store) {
	ctx := t.Context()
	const chargers, sessions, samples = 8, 10, 10
	errs := make(chan error, chargers*2)
	stopped := make(chan store.Transaction, chargers*sessions)
	for c := range chargers {
		cp := fmt.Sprintf("cp%d", c)
		go func() { errs <- runSessions(ctx, s, cp, sessions, samples, stopped) }()
		go func() { // a reader polling the charger all the while
			for range sessions * 2 {
				if _, err := s.ListTransactions(ctx, store.TxFilter{ChargerID: cp}); err != nil {
					errs <- err
					return
				}
				if _, err := s.LatestMeterValues(ctx, cp); err != nil {
					errs <- err
					return
				}
			}
			errs <- nil
		}()
	}
	for range chargers * 2 {
		noErr(t, <-errs)
	}
	close(stopped)
	seen := make(map[int64]bool)
	for tx := range stopped {
		if seen[tx.ID] {
			t.Fatalf("transaction id %d handed out twice", tx.ID)
		}
		seen[tx.ID] = true
		got := must(s.GetTransaction(ctx, tx.ID))(t)
		if got.Active() || got.StopReason != "Local" || got.EnergyWh() != samples {
			t.Fatalf("transaction %+v", got)
		}
		eq(t, "samples", len(must(s.TransactionMeterValues(ctx, tx.ID))(t)), samples)
	}
	eq(t, "transactions", len(seen), chargers*sessions)
	all := must(s.ListTransactions(ctx, store.TxFilter{Limit: 1000}))(t)
	eq(t, "listed", len(all), chargers*sessions)
}

func runSessions(ctx context.Context, s store.Store, cp string, sessions, samples int, stopped chan<- store.Transaction) error {
	meter := int64(0)
	for i := range sessions {
		conn := 1 + i%2
		st := store.StartTx{ChargerID: cp, ConnectorID: conn, IDTag: "T-" + cp, MeterStart: meter, Timestamp: at(time.Duration(i) * time.Hour)}
		r, err := s.StartTransaction(ctx, st)
		if err != nil {
			return err
		}
		if r.Duplicate || len(r.ClosedStale) > 0 {
			return fmt.Errorf("%s: start %d: %+v", cp, i, r)
		}
		id := r.Transaction.ID
		for j := range samples {
			meter++
			m := sample(cp, conn, &id, time.Duration(i)*time.Hour+time.Duration(j)*time.Second, fmt.Sprint(meter), "", "")
			if err := s.AddMeterValues(ctx, []store.MeterSample{m}); err != nil {
				return err
			}
		}
		tx, outcome, err := s.StopTransaction(ctx, store.StopTx{TransactionID: id, ChargerID: cp, MeterStop: meter, Timestamp: at(time.Duration(i)*time.Hour + time.Minute)})
		if err != nil {
			return err
		}
		if outcome != store.Stopped {
			return fmt.Errorf("%s: stop %d: outcome %d", cp, id, outcome)
		}
		stopped <- tx
	}
	return nil
}

// testConcurrentStarts races retries of one start, and different starts on
// one connector: there is one transaction per start, and one open
// transaction per connector afterwards.
func testConcurrentStarts(t *testing.T, s store.Store) {
	ctx := t.Context()
	const n = 16
	type result struct {
		r   store.StartResult
		err error
	}
	results := make(chan result, n)
	for range n {
		go func() {
			r, err := s.StartTransaction(ctx, start("cp", 1, "T", 100, 0))
			results <- result{r, err}
		}()
	}
	var id int64
	dups := 0
	for range n {
		res := <-results
		noErr(t, res.err)
		if id == 0 {
			id = res.r.Transaction.ID
		}
		if res.r.Transaction.ID != id {
			t.Fatalf("retries got ids %d and %d", id, res.r.Transaction.ID)
		}
		if res.r.Duplicate {
			dups++
		}
	}
	eq(t, "duplicates", dups, n-1)

	for i := range n {
		go func() {
			r, err := s.StartTransaction(ctx, start("cp", 2, fmt.Sprint("T", i), int64(i), time.Duration(i)*time.Second))
			results <- result{r, err}
		}()
	}
	closed := 0
	for range n {
		res := <-results
		noErr(t, res.err)
		closed += len(res.r.ClosedStale)
	}
	open := must(s.ListTransactions(ctx, store.TxFilter{ChargerID: "cp", Active: ptr(true)}))(t)
	eq(t, "open transactions", len(open), 2) // one per connector
	eq(t, "closed stale", closed, n-1)
}
