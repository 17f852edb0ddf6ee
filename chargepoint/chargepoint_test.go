package chargepoint

import (
	"context"
	"testing"
	"time"

	"github.com/wattson-csms/wattson/csms"
	"github.com/wattson-csms/wattson/store"
)

func TestBootPendingThenAccepted(t *testing.T) {
	e := newEnv(t, func(c *csms.Config) { c.RetryInterval = time.Second })
	cp := e.start("CP1", cpOpt{noWait: true})
	waitFor(t, "pending", func() bool { return cp.Registration() == "Pending" })
	if n := len(e.history("CP1", 1)); n != 0 {
		t.Fatalf("statuses sent while pending: %d", n)
	}
	// The operator approves: the central system triggers a boot.
	e.accept("CP1")
	e.svc.SetRegistration("CP1", store.RegistrationAccepted)
	waitFor(t, "accepted", func() bool { return cp.Registration() == "Accepted" })
	for c := 0; c <= 2; c++ {
		waitFor(t, "status of every connector", func() bool { return contains(e.history("CP1", c), "Available") })
	}
	if v, _ := cp.Configuration("HeartbeatInterval"); v != "60" {
		t.Fatalf("HeartbeatInterval = %s, want the central system's 60", v)
	}
}

func TestRejectedRetries(t *testing.T) {
	e := newEnv(t, func(c *csms.Config) { c.RetryInterval = time.Second })
	if _, err := e.st.PutCharger(e.ctx, store.Charger{ID: "CP1", Registration: store.RegistrationRejected}); err != nil {
		t.Fatal(err)
	}
	cp := e.start("CP1", cpOpt{noWait: true})
	waitFor(t, "rejected", func() bool { return cp.Registration() == "Rejected" })
	waitFor(t, "a second boot after the interval", func() bool { return e.count("BootNotification") >= 2 })
	if e.count("StatusNotification")+e.count("Heartbeat") != 0 {
		t.Fatal("a rejected charge point sent more than BootNotification")
	}
}

func TestHeartbeats(t *testing.T) {
	e := newEnv(t, func(c *csms.Config) { c.HeartbeatInterval = time.Second })
	e.accept("CP1")
	cp := e.start("CP1", cpOpt{})
	if v, _ := cp.Configuration("HeartbeatInterval"); v != "1" {
		t.Fatalf("HeartbeatInterval = %s", v)
	}
	waitFor(t, "two heartbeats", func() bool { return e.count("Heartbeat") >= 2 })
}

func TestRFIDSession(t *testing.T) {
	e := newEnv(t, nil)
	e.accept("CP1")
	e.tag("TAG1", store.IDTagAccepted, "")
	cp := e.start("CP1", cpOpt{conf: map[string]string{"MeterValueSampleInterval": "1"}})
	hw := cp.hw[0]
	hw.setEnergy(1000)

	cp.Plug(1)
	cp.waitStatus(t, 1, "Preparing")
	cp.PresentTag(1, "TAG1")
	id := cp.waitTx(t, 1)
	cp.waitStatus(t, 1, "SuspendedEV")
	if !hw.isClosed() {
		t.Fatal("contactor open during the transaction")
	}
	cp.EVCharging(1, true)
	cp.waitStatus(t, 1, "Charging")
	hw.setEnergy(2200)
	waitFor(t, "periodic meter values", func() bool {
		mv, _ := e.st.TransactionMeterValues(e.ctx, int64(id))
		return len(mv) >= 10
	})
	hw.setEnergy(3500)
	cp.PresentTag(1, "TAG1")
	cp.waitStatus(t, 1, "Finishing")
	if hw.isClosed() {
		t.Fatal("contactor closed after the transaction")
	}
	cp.Unplug(1)
	cp.waitStatus(t, 1, "Available")
	cp.waitDelivered(t)
	waitFor(t, "the stop stored", func() bool { return !e.transaction(id).Active() })
	tx := e.transaction(id)
	if tx.MeterStart != 1000 || *tx.MeterStop != 3500 || tx.EnergyWh() != 2500 || tx.StopReason != "Local" || tx.IDTag != "TAG1" || tx.ConnectorID != 1 {
		t.Fatalf("stored transaction %+v", tx)
	}
	waitFor(t, "the full status history", func() bool {
		return contains(e.history("CP1", 1), "Available", "Preparing", "SuspendedEV", "Charging", "Finishing", "Available")
	})
	mv, err := e.st.TransactionMeterValues(e.ctx, int64(id))
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, s := range mv {
		seen[s.Measurand+"/"+s.Phase+"/"+s.Context] = true
	}
	for _, want := range []string{
		"Energy.Active.Import.Register//Sample.Periodic", "Current.Import/L1/Sample.Periodic", "Current.Import/L3/Sample.Periodic",
		"Voltage/L2-N/Sample.Periodic", "Power.Active.Import//Sample.Periodic", "Current.Offered//Sample.Periodic",
		"Energy.Active.Import.Register//Transaction.Begin", "Energy.Active.Import.Register//Transaction.End",
	} {
		if !seen[want] {
			t.Errorf("no sample %s; have %v", want, seen)
		}
	}
}

func TestParentTagStops(t *testing.T) {
	e := newEnv(t, nil)
	e.accept("CP1")
	e.tag("FLEET", store.IDTagAccepted, "")
	e.tag("CARD1", store.IDTagAccepted, "FLEET")
	e.tag("CARD2", store.IDTagAccepted, "FLEET")
	e.tag("OTHER", store.IDTagAccepted, "")
	cp := e.start("CP1", cpOpt{})
	cp.Plug(1)
	cp.PresentTag(1, "CARD1")
	id := cp.waitTx(t, 1)
	cp.PresentTag(1, "OTHER")
	cp.PresentTag(1, "CARD2")
	cp.waitStatus(t, 1, "Finishing")
	cp.waitDelivered(t)
	waitFor(t, "stopped", func() bool { return !e.transaction(id).Active() })
	if tx := e.transaction(id); tx.StopIDTag != "CARD2" || tx.StopReason != "Local" {
		t.Fatalf("%+v", tx)
	}
}

func TestRemoteSession(t *testing.T) {
	e := newEnv(t, nil)
	e.accept("CP1")
	e.tag("APP", store.IDTagAccepted, "")
	cp := e.start("CP1", cpOpt{})
	hw := cp.hw[1]
	hw.setEnergy(500)
	if s := e.status("CP1", "RemoteStartTransaction", map[string]any{"connectorId": 2, "idTag": "APP"}); s != "Accepted" {
		t.Fatalf("RemoteStart: %s", s)
	}
	cp.waitStatus(t, 2, "Preparing")
	cp.Plug(2)
	id := cp.waitTx(t, 2)
	cp.EVCharging(2, true)
	cp.waitStatus(t, 2, "Charging")
	hw.setEnergy(1700)
	if s := e.status("CP1", "RemoteStopTransaction", map[string]any{"transactionId": id + 1000}); s != "Rejected" {
		t.Fatalf("RemoteStop of an unknown transaction: %s", s)
	}
	if s := e.status("CP1", "RemoteStopTransaction", map[string]any{"transactionId": id}); s != "Accepted" {
		t.Fatalf("RemoteStop: %s", s)
	}
	cp.waitStatus(t, 2, "Finishing")
	cp.waitDelivered(t)
	waitFor(t, "stopped", func() bool { return !e.transaction(id).Active() })
	if tx := e.transaction(id); tx.EnergyWh() != 1200 || tx.StopReason != "Remote" || tx.ConnectorID != 2 {
		t.Fatalf("%+v", tx)
	}
	// Remote start without a connector picks the one with a cable in.
	e.status("CP1", "RemoteStartTransaction", map[string]any{"idTag": "APP"})
	id2 := cp.waitTx(t, 2)
	if id2 == id {
		t.Fatal("same transaction id")
	}
	cp.Unplug(2)
	cp.waitStatus(t, 2, "Available")
	cp.waitDelivered(t)
	waitFor(t, "stopped", func() bool { return !e.transaction(id2).Active() })
	if tx := e.transaction(id2); tx.StopReason != "EVDisconnected" {
		t.Fatalf("%+v", tx)
	}
}

func TestRemoteStartWithProfileAndAuthorization(t *testing.T) {
	e := newEnv(t, nil)
	e.accept("CP1")
	e.tag("GOOD", store.IDTagAccepted, "")
	cp := e.start("CP1", cpOpt{conf: map[string]string{"AuthorizeRemoteTxRequests": "true"}})
	// An unknown tag is accepted by the command, then refused by Authorize.
	if s := e.status("CP1", "RemoteStartTransaction", map[string]any{"connectorId": 1, "idTag": "BAD"}); s != "Accepted" {
		t.Fatal(s)
	}
	waitFor(t, "Authorize", func() bool { return e.count("Authorize") >= 1 })
	cp.Plug(1)
	time.Sleep(50 * time.Millisecond)
	if _, ok := cp.Transaction(1); ok {
		t.Fatal("a refused tag started a transaction")
	}
	profile := map[string]any{
		"chargingProfileId": 7, "stackLevel": 0, "chargingProfilePurpose": "TxProfile", "chargingProfileKind": "Relative",
		"chargingSchedule": map[string]any{"chargingRateUnit": "A", "chargingSchedulePeriod": []any{map[string]any{"startPeriod": 0, "limit": 13}}},
	}
	if s := e.status("CP1", "RemoteStartTransaction", map[string]any{"connectorId": 1, "idTag": "GOOD", "chargingProfile": profile}); s != "Accepted" {
		t.Fatal(s)
	}
	cp.waitTx(t, 1)
	waitFor(t, "the TxProfile limit", func() bool { l, _ := cp.hw[0].lastLimit(); return l == 13 })
	if cp.CurrentLimit(1) != 13 {
		t.Fatal(cp.CurrentLimit(1))
	}
	// A TxDefaultProfile is not a remote start's profile.
	profile["chargingProfilePurpose"] = "TxDefaultProfile"
	if s := e.status("CP1", "RemoteStartTransaction", map[string]any{"connectorId": 2, "idTag": "GOOD", "chargingProfile": profile}); s != "Rejected" {
		t.Fatal(s)
	}
	cp.Unplug(1)
	waitFor(t, "TxProfile gone with its transaction", func() bool { return cp.CurrentLimit(1) == 32 })
}

func TestOfflineQueue(t *testing.T) {
	e := newEnv(t, nil)
	e.accept("CP1")
	e.tag("TAG1", store.IDTagAccepted, "")
	cp := e.start("CP1", cpOpt{conf: map[string]string{"MeterValueSampleInterval": "1"}})
	hw := cp.hw[0]
	hw.setEnergy(100)
	cp.Plug(1)
	cp.PresentTag(1, "TAG1") // online: Authorize, cached
	id1 := cp.waitTx(t, 1)
	cp.EVCharging(1, true)

	e.goOffline("CP1", cp.ChargePoint)
	hw.setEnergy(900)
	waitFor(t, "meter values queued offline", func() bool { return cp.QueueLength() >= 2 })
	cp.PresentTag(1, "TAG1") // stops offline
	cp.Unplug(1)
	// A second session, started offline from the cache: a provisional id.
	cp.Plug(1)
	cp.PresentTag(1, "TAG1")
	waitFor(t, "an offline transaction", func() bool { id, ok := cp.Transaction(1); return ok && id < 0 })
	cp.EVCharging(1, true)
	hw.setEnergy(2000)
	waitFor(t, "meter values of the offline transaction", func() bool { return cp.QueueLength() >= 6 })
	cp.Unplug(1)
	time.Sleep(20 * time.Millisecond)

	e.goOnline()
	waitFor(t, "reconnected", func() bool { return cp.Connected() })
	cp.waitDelivered(t)
	txs := e.transactions("CP1")
	if len(txs) != 2 {
		t.Fatalf("%d transactions stored", len(txs))
	}
	first, second := e.transaction(id1), txs[0]
	if first.MeterStart != 100 || *first.MeterStop != 900 || first.StopReason != "Local" {
		t.Fatalf("first %+v", first)
	}
	if second.ID == first.ID || second.MeterStart != 900 || second.MeterStop == nil || *second.MeterStop != 2000 || second.StopReason != "EVDisconnected" {
		t.Fatalf("second %+v", second)
	}
	mv, err := e.st.TransactionMeterValues(e.ctx, second.ID)
	if err != nil || len(mv) == 0 {
		t.Fatalf("meter values of the offline transaction: %d, %v", len(mv), err)
	}
	for _, s := range mv {
		if s.TransactionID == nil || *s.TransactionID != second.ID || s.ConnectorID != 1 {
			t.Fatalf("sample %+v", s)
		}
	}
	waitFor(t, "offline statuses delivered", func() bool {
		return contains(e.history("CP1", 1), "Charging", "Finishing", "Available", "Preparing", "SuspendedEV", "Charging", "Available")
	})
}

func TestOfflineUnknownTagDeauthorized(t *testing.T) {
	e := newEnv(t, nil)
	e.accept("CP1")
	cp := e.start("CP1", cpOpt{conf: map[string]string{"AllowOfflineTxForUnknownId": "true"}})
	e.goOffline("CP1", cp.ChargePoint)
	cp.PresentTag(1, "STRANGER")
	cp.Plug(1)
	waitFor(t, "an offline transaction", func() bool { _, ok := cp.Transaction(1); return ok })
	e.goOnline()
	cp.waitStatus(t, 1, "Finishing")
	cp.waitDelivered(t)
	txs := e.transactions("CP1")
	if len(txs) != 1 || txs[0].StopReason != "DeAuthorized" || txs[0].IDTag != "STRANGER" {
		t.Fatalf("%+v", txs)
	}
}

func TestRestartInTransaction(t *testing.T) {
	e := newEnv(t, nil)
	e.accept("CP1")
	e.tag("TAG1", store.IDTagAccepted, "")
	dir := t.TempDir()
	hw := []*fakeHW{{energy: 5000}}
	cp := e.start("CP1", cpOpt{dir: dir, hw: hw, conf: map[string]string{"MeterValueSampleInterval": "1"}})
	cp.Plug(1)
	cp.PresentTag(1, "TAG1")
	id := cp.waitTx(t, 1)
	hw[0].setEnergy(5600)
	waitFor(t, "a meter value", func() bool {
		mv, _ := e.st.TransactionMeterValues(e.ctx, int64(id))
		return len(mv) > 5
	})
	// Power loss: the process ends in the middle of the transaction.
	cp.stop()
	hw[0].setEnergy(5800)

	cp2 := e.start("CP1", cpOpt{dir: dir, hw: hw})
	cp2.waitDelivered(t)
	waitFor(t, "stopped", func() bool { return !e.transaction(id).Active() })
	tx := e.transaction(id)
	if tx.StopReason != "PowerLoss" || *tx.MeterStop != 5800 || tx.MeterStart != 5000 {
		t.Fatalf("%+v", tx)
	}
	if _, ok := cp2.Transaction(1); ok {
		t.Fatal("a transaction survived the restart")
	}
	if got := len(e.transactions("CP1")); got != 1 {
		t.Fatalf("%d transactions", got)
	}
}

func TestRestartOfflineProvisional(t *testing.T) {
	e := newEnv(t, nil)
	e.accept("CP1")
	dir := t.TempDir()
	hw := []*fakeHW{{energy: 10}}
	cp := e.start("CP1", cpOpt{dir: dir, hw: hw, conf: map[string]string{"AllowOfflineTxForUnknownId": "true", "MeterValueSampleInterval": "1"}})
	e.tag("TAG1", store.IDTagAccepted, "")
	e.goOffline("CP1", cp.ChargePoint)
	cp.Plug(1)
	cp.PresentTag(1, "TAG1")
	waitFor(t, "offline transaction", func() bool { id, ok := cp.Transaction(1); return ok && id < 0 })
	hw[0].setEnergy(400)
	waitFor(t, "queued meter values", func() bool { return cp.QueueLength() >= 3 })
	cp.stop()

	e.goOnline()
	cp2 := e.start("CP1", cpOpt{dir: dir, hw: hw})
	cp2.waitDelivered(t)
	txs := e.transactions("CP1")
	if len(txs) != 1 || txs[0].MeterStart != 10 || txs[0].MeterStop == nil || *txs[0].MeterStop != 400 || txs[0].StopReason != "PowerLoss" {
		t.Fatalf("%+v", txs)
	}
	mv, _ := e.st.TransactionMeterValues(e.ctx, txs[0].ID)
	if len(mv) < 3 {
		t.Fatalf("%d meter values", len(mv))
	}
}

func TestRunEndsCleanly(t *testing.T) {
	e := newEnv(t, nil)
	e.accept("CP1")
	cp := e.start("CP1", cpOpt{})
	cp.stop()
	if cp.Connected() {
		t.Fatal("connected after Run returned")
	}
	// Events while not running are kept.
	cp.Plug(1)
	if cp.Status(1) != "Preparing" {
		t.Fatal(cp.Status(1))
	}
	// Run again on the same value.
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- cp.Run(ctx) }()
	waitFor(t, "accepted again", func() bool { return cp.Registration() == "Accepted" && cp.Connected() })
	waitFor(t, "status after reboot", func() bool { return contains(e.history("CP1", 1), "Preparing") })
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
