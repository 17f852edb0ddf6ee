package locallist_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/wattson-csms/wattson/ocpp"
	"github.com/wattson-csms/wattson/ocpp/ocpptest"
	"github.com/wattson-csms/wattson/ocpp/v16"
	"github.com/wattson-csms/wattson/store"
)

// TestAssignAddBlockDelete: a charger given a list holds exactly its tags;
// a new member arrives as a Differential update with a higher version; a
// blocked tag becomes Blocked on the charger; a deleted one goes.
func TestAssignAddBlockDelete(t *testing.T) {
	e := newEnv(t)
	c := e.chargePoint("CP1", "", nil)
	e.tags(store.IDTagAccepted, "A", "B", "C")
	e.tags(store.IDTagBlocked, "X")
	list := e.list("Depot", "A", "B", "X")
	e.assign("CP1", list)

	st := e.waitState("CP1", store.LocalListInSync)
	v1, ok := holds(c, map[string]v16.AuthorizationStatus{"X": v16.AuthorizationStatusBlocked}, "A", "B", "X")
	if !ok || v1 < 1 || st.Version != v1 || st.HeldCount != 3 || st.Result != store.LocalListAccepted {
		_, got := c.LocalList()
		t.Fatalf("after assigning: charger holds %v (version %d), state %+v", got, v1, st)
	}
	sends := e.rec.sent("CP1", "SendLocalList")
	if len(sends) != 1 || sendLocalList(t, sends[0]).UpdateType != v16.UpdateTypeFull {
		t.Fatalf("first sync sent %d SendLocalList, want one Full", len(sends))
	}

	// A new member: Differential with only the new tag, a higher version.
	e.members(list, []string{"C"}, nil)
	eventually(t, "C on the charger", func() bool {
		_, ok := holds(c, map[string]v16.AuthorizationStatus{"X": v16.AuthorizationStatusBlocked}, "A", "B", "C", "X")
		return ok
	})
	st = e.waitState("CP1", store.LocalListInSync)
	sends = e.rec.sent("CP1", "SendLocalList")
	d := sendLocalList(t, sends[len(sends)-1])
	if d.UpdateType != v16.UpdateTypeDifferential || d.ListVersion <= v1 || len(d.LocalAuthorizationList) != 1 ||
		d.LocalAuthorizationList[0].IDTag != "C" || st.Version != d.ListVersion {
		t.Fatalf("adding a member sent %+v; state %+v", d, st)
	}
	v2 := d.ListVersion

	// Blocking a tag (as PUT /id-tags does: the store, then the hook).
	if _, err := e.st.PutIDTag(context.Background(), store.IDTag{IDTag: "A", Status: store.IDTagBlocked, Owner: "lost"}); err != nil {
		t.Fatal(err)
	}
	e.s.IDTagChanged("A")
	eventually(t, "A blocked on the charger", func() bool {
		_, es := c.LocalList()
		return es["A"].Status == v16.AuthorizationStatusBlocked
	})
	e.waitState("CP1", store.LocalListInSync)
	sends = e.rec.sent("CP1", "SendLocalList")
	d = sendLocalList(t, sends[len(sends)-1])
	if d.UpdateType != v16.UpdateTypeDifferential || d.ListVersion <= v2 || len(d.LocalAuthorizationList) != 1 ||
		d.LocalAuthorizationList[0].IDTagInfo == nil || d.LocalAuthorizationList[0].IDTagInfo.Status != v16.AuthorizationStatusBlocked {
		t.Fatalf("blocking sent %+v", d)
	}

	// An expiry: the charger gets it.
	exp := time.Now().Add(48 * time.Hour).UTC().Truncate(time.Second)
	if _, err := e.st.PutIDTag(context.Background(), store.IDTag{IDTag: "B", Status: store.IDTagAccepted, ExpiryDate: &exp}); err != nil {
		t.Fatal(err)
	}
	e.s.IDTagChanged("B")
	eventually(t, "B's expiry on the charger", func() bool {
		_, es := c.LocalList()
		return es["B"].ExpiryDate != nil && es["B"].ExpiryDate.Equal(exp)
	})

	// Deleting an id tag removes it from the charger.
	if err := e.st.DeleteIDTag(context.Background(), "C"); err != nil {
		t.Fatal(err)
	}
	e.s.IDTagChanged("C")
	eventually(t, "C gone from the charger", func() bool {
		_, es := c.LocalList()
		_, there := es["C"]
		return !there && len(es) == 3
	})
	e.waitState("CP1", store.LocalListInSync)
	sends = e.rec.sent("CP1", "SendLocalList")
	d = sendLocalList(t, sends[len(sends)-1])
	if d.UpdateType != v16.UpdateTypeDifferential || len(d.LocalAuthorizationList) != 1 || d.LocalAuthorizationList[0].IDTagInfo != nil {
		t.Fatalf("deleting sent %+v", d)
	}

	// Offline, the charger decides from its list: A is blocked.
	c.DropConnection()
	for _, s := range sends {
		if answerStatus(t, s) != "Accepted" {
			t.Errorf("a SendLocalList was answered %s", s.Answer)
		}
	}

	// Unassigning clears the charger's list.
	eventually(t, "CP1 back", func() bool { return e.c.Service.IsConnected("CP1") && c.Connected() })
	e.waitState("CP1", store.LocalListInSync)
	e.assign("CP1", 0)
	eventually(t, "an empty list on the charger", func() bool { _, es := c.LocalList(); return len(es) == 0 })
	st = e.waitState("CP1", store.LocalListNotAssigned)
	if !st.HeldKnown || st.HeldCount != 0 {
		t.Errorf("after unassigning: %+v", st)
	}
}

// TestOfflineChargerSyncedOnReconnect: a change made while a charger is
// offline reaches it when it comes back, as a Differential update.
func TestOfflineChargerSyncedOnReconnect(t *testing.T) {
	e := newEnv(t)
	dir := t.TempDir()
	c := e.chargePoint("CP2", dir, nil)
	e.tags(store.IDTagAccepted, "A", "B")
	list := e.list("Office", "A")
	e.assign("CP2", list)
	e.waitState("CP2", store.LocalListInSync)
	v1, _ := c.LocalList()

	c.stop()
	eventually(t, "CP2 gone", func() bool { return !e.c.Service.IsConnected("CP2") })
	e.members(list, []string{"B"}, []string{"A"})
	e.s.SweepNow(context.Background())
	eventually(t, "idle", e.s.Idle)
	if st := e.state("CP2"); st.State() != store.LocalListPending {
		t.Fatalf("offline after a change: %+v", st)
	}
	before := len(e.rec.sent("CP2", "SendLocalList"))
	checked := len(e.rec.sent("CP2", "GetLocalListVersion"))

	c = e.chargePoint("CP2", dir, nil) // the same charger, with the list it kept
	eventually(t, "B on the charger", func() bool { _, ok := holds(c, nil, "B"); return ok })
	st := e.waitState("CP2", store.LocalListInSync)
	sends := e.rec.sent("CP2", "SendLocalList")[before:]
	if len(sends) != 1 {
		t.Fatalf("%d SendLocalList after the reconnect, want 1", len(sends))
	}
	d := sendLocalList(t, sends[0])
	if d.UpdateType != v16.UpdateTypeDifferential || d.ListVersion != v1+1 || st.Version != v1+1 || len(d.LocalAuthorizationList) != 2 {
		t.Fatalf("after the reconnect: sent %+v, state %+v", d, st)
	}
	// The reconnect's version check may come after a sweep already sent
	// the change (both are queued when the charger connects); it comes.
	eventually(t, "the version checked after the reconnect", func() bool {
		return len(e.rec.sent("CP2", "GetLocalListVersion")) > checked
	})
	if sends := e.rec.sent("CP2", "SendLocalList")[before:]; len(sends) != 1 {
		t.Errorf("%d SendLocalList after the version check, want still 1", len(sends))
	}
}

// TestReconcileAfterChangeBehindOurBack: a charger whose list was changed
// by someone else gets the whole list again when it reconnects.
func TestReconcileAfterChangeBehindOurBack(t *testing.T) {
	e := newEnv(t)
	c := e.chargePoint("CP3", "", nil)
	e.tags(store.IDTagAccepted, "A", "B")
	e.assign("CP3", e.list("L", "A", "B"))
	e.waitState("CP3", store.LocalListInSync)
	v1, _ := c.LocalList()

	// Someone clears the list (version 0) with a raw command.
	if _, err := e.c.Service.Call(context.Background(), "CP3", "SendLocalList", []byte(`{"listVersion":0,"updateType":"Full"}`)); err != nil {
		t.Fatal(err)
	}
	if _, ok := holds(c, nil); !ok {
		t.Fatal("the raw command did not clear the list")
	}
	before := len(e.rec.sent("CP3", "SendLocalList"))
	c.DropConnection()
	eventually(t, "the list back on the charger", func() bool { _, ok := holds(c, nil, "A", "B"); return ok })
	st := e.waitState("CP3", store.LocalListInSync)
	sends := e.rec.sent("CP3", "SendLocalList")[before:]
	if len(sends) != 1 {
		t.Fatalf("%d SendLocalList after the reconnect", len(sends))
	}
	if d := sendLocalList(t, sends[0]); d.UpdateType != v16.UpdateTypeFull || len(d.LocalAuthorizationList) != 2 || d.ListVersion != 1 || st.Version != 1 {
		t.Fatalf("reconciliation sent %+v (version before %d), state %+v", d, v1, st)
	}

	// A reconnect with nothing changed sends no list.
	before = len(e.rec.sent("CP3", "SendLocalList"))
	versions := len(e.rec.sent("CP3", "GetLocalListVersion"))
	c.DropConnection()
	eventually(t, "the version checked again", func() bool { return len(e.rec.sent("CP3", "GetLocalListVersion")) > versions })
	eventually(t, "idle", e.s.Idle)
	if n := len(e.rec.sent("CP3", "SendLocalList")); n != before {
		t.Errorf("%d SendLocalList after a reconnect with nothing changed", n-before)
	}

	// Sync now with full resends everything.
	if err := e.s.SyncNow(context.Background(), []string{"CP3"}, true); err != nil {
		t.Fatal(err)
	}
	eventually(t, "a full resend", func() bool { return len(e.rec.sent("CP3", "SendLocalList")) > before })
	e.waitState("CP3", store.LocalListInSync)
	sends = e.rec.sent("CP3", "SendLocalList")
	if d := sendLocalList(t, sends[len(sends)-1]); d.UpdateType != v16.UpdateTypeFull || len(d.LocalAuthorizationList) != 2 {
		t.Errorf("sync now (full) sent %+v", d)
	}
}

// TestSplitAndMaxLength: a list larger than SendLocalListMaxLength (100 on
// the simulator) goes in parts with consecutive versions; one larger than
// LocalAuthListMaxLength is refused, but what the charger holds is still
// kept up to date.
func TestSplitAndMaxLength(t *testing.T) {
	e := newEnv(t)
	c := e.chargePoint("CP4", "", map[string]string{"LocalAuthListMaxLength": "260"})
	tags := tagNames("T", 250)
	e.tags(store.IDTagAccepted, tags...)
	list := e.list("Big", tags...)
	e.assign("CP4", list)
	st := e.waitState("CP4", store.LocalListInSync)
	v, ok := holds(c, nil, tags...)
	sends := e.rec.sent("CP4", "SendLocalList")
	if !ok || len(sends) != 3 || st.Version != v || st.HeldCount != 250 {
		t.Fatalf("charger holds the list: %v, version %d, %d sends, state %+v", ok, v, len(sends), st)
	}
	for i, want := range []struct {
		kind v16.UpdateType
		n    int
	}{{v16.UpdateTypeFull, 100}, {v16.UpdateTypeDifferential, 100}, {v16.UpdateTypeDifferential, 50}} {
		d := sendLocalList(t, sends[i])
		if d.UpdateType != want.kind || len(d.LocalAuthorizationList) != want.n || d.ListVersion != v-2+i {
			t.Errorf("part %d: %s version %d with %d entries", i, d.UpdateType, d.ListVersion, len(d.LocalAuthorizationList))
		}
	}

	// 20 more make 270 > 260: not sent, but blocking T000 still is.
	more := tagNames("U", 20)
	e.tags(store.IDTagAccepted, more...)
	if _, err := e.st.PutIDTag(context.Background(), store.IDTag{IDTag: "T000", Status: store.IDTagBlocked}); err != nil {
		t.Fatal(err)
	}
	e.members(list, more, nil)
	st = e.waitState("CP4", store.LocalListSyncFailed)
	if !strings.Contains(st.Error, "LocalAuthListMaxLength") || st.NextAttemptAt == nil {
		t.Errorf("too long: %+v", st)
	}
	_, es := c.LocalList()
	if es["T000"].Status != v16.AuthorizationStatusBlocked || len(es) != 250 {
		t.Errorf("the charger holds %d entries, T000 %s", len(es), es["T000"].Status)
	}
	// Back within the limit: in sync.
	e.members(list, nil, more[:15])
	e.s.SyncNow(context.Background(), []string{"CP4"}, false)
	e.waitState("CP4", store.LocalListInSync)
	if _, es := c.LocalList(); len(es) != 255 {
		t.Errorf("the charger holds %d entries, want 255", len(es))
	}
}

// TestNotSupported: chargers without local lists are recorded as such and
// not retried in a loop.
func TestNotSupported(t *testing.T) {
	e := newEnv(t)
	// The list switched off: GetLocalListVersion answers -1.
	off := e.chargePoint("OFF", "", map[string]string{"LocalAuthListEnabled": "false"})
	// The feature profile missing from SupportedFeatureProfiles.
	e.chargePoint("NOPROFILE", "", map[string]string{"SupportedFeatureProfiles": "Core,RemoteTrigger"})
	e.tags(store.IDTagAccepted, "A")
	list := e.list("L", "A")
	e.assign("OFF", list)
	e.assign("NOPROFILE", list)
	for _, id := range []string{"OFF", "NOPROFILE"} {
		st := e.waitState(id, store.LocalListUnsupported)
		if st.Result != store.LocalListNotSupported || st.Error == "" {
			t.Errorf("%s: %+v", id, st)
		}
	}
	// OFF answered the list with NotSupported; NOPROFILE was not sent one.
	if sends := e.rec.sent("OFF", "SendLocalList"); len(sends) != 1 || answerStatus(t, sends[0]) != "NotSupported" {
		t.Errorf("OFF got %d SendLocalList", len(sends))
	}
	if n := len(e.rec.sent("NOPROFILE", "SendLocalList")); n != 0 {
		t.Errorf("NOPROFILE got %d SendLocalList", n)
	}
	// Sync now asks for the version: -1 says the same.
	if err := e.s.SyncNow(context.Background(), []string{"OFF"}, false); err != nil {
		t.Fatal(err)
	}
	eventually(t, "OFF's version asked", func() bool { return len(e.rec.sent("OFF", "GetLocalListVersion")) > 0 })
	st := e.waitState("OFF", store.LocalListUnsupported)
	if !strings.Contains(st.Error, "-1") || len(e.rec.sent("OFF", "SendLocalList")) != 1 {
		t.Errorf("OFF after sync now: %+v", st)
	}
	if _, es := off.LocalList(); len(es) != 0 {
		t.Errorf("OFF holds %v", es)
	}
	// A charger that does not implement SendLocalList at all (a CALLERROR).
	if _, err := e.st.PutCharger(context.Background(), store.Charger{ID: "RAW", Registration: store.RegistrationAccepted}); err != nil {
		t.Fatal(err)
	}
	raw := ocpptest.Dial(t, e.c.URL, "RAW", ocpp.HandlerFunc(func(ctx context.Context, req *ocpp.Request) (ocpp.Payload, error) {
		return nil, ocpp.Errorf(ocpp.NotImplemented, "%s is not implemented here", req.Action)
	}), ocpp.Options{})
	if _, err := v16.CallBootNotification(context.Background(), raw, &v16.BootNotificationRequest{ChargePointVendor: "Raw", ChargePointModel: "R1"}); err != nil {
		t.Fatal(err)
	}
	e.assign("RAW", list)
	if st := e.waitState("RAW", store.LocalListUnsupported); !strings.Contains(st.Error, "NotImplemented") {
		t.Errorf("RAW: %+v", st)
	}

	// A change and a sweep send them nothing.
	calls := e.rec.count("OFF") + e.rec.count("NOPROFILE") + e.rec.count("RAW")
	e.tags(store.IDTagAccepted, "B")
	e.members(list, []string{"B"}, nil)
	e.s.SweepNow(context.Background())
	eventually(t, "idle", e.s.Idle)
	if n := e.rec.count("OFF") + e.rec.count("NOPROFILE") + e.rec.count("RAW"); n != calls {
		t.Errorf("%d commands to NotSupported chargers after a change", n-calls)
	}
}

// TestClearCache: a result per charger, offline and unknown ones included.
func TestClearCache(t *testing.T) {
	e := newEnv(t)
	e.chargePoint("CC1", "", nil)
	e.chargePoint("CC2", "", nil)
	if _, err := e.st.PutCharger(context.Background(), store.Charger{ID: "CCOFF", Registration: store.RegistrationAccepted}); err != nil {
		t.Fatal(err)
	}
	res := e.s.ClearCache(context.Background(), []string{"CC1", "CCOFF", "CC2", "NOSUCH"})
	if len(res) != 4 {
		t.Fatalf("results %+v", res)
	}
	for i, want := range []string{"CC1", "CCOFF", "CC2", "NOSUCH"} {
		if res[i].ChargerID != want {
			t.Errorf("result %d is %s", i, res[i].ChargerID)
		}
	}
	if res[0].Status != "Accepted" || res[2].Status != "Accepted" || res[0].Err != nil {
		t.Errorf("connected: %+v %+v", res[0], res[2])
	}
	if res[1].Err == nil || res[3].Err == nil || res[1].Status != "" {
		t.Errorf("offline and unknown: %+v %+v", res[1], res[3])
	}
	if n := len(e.rec.sent("CC1", "ClearCache")); n != 1 {
		t.Errorf("CC1 got %d ClearCache", n)
	}
}
