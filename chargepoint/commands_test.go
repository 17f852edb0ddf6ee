package chargepoint

import (
	"context"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wattson-csms/wattson/store"
)

func TestConfigurationKeys(t *testing.T) {
	e := newEnv(t, nil)
	e.accept("CP1")
	dir := t.TempDir()
	cp := e.start("CP1", cpOpt{dir: dir})

	all := e.call("CP1", "GetConfiguration", map[string]any{})
	keys := map[string]map[string]any{}
	for _, kv := range all["configurationKey"].([]any) {
		m := kv.(map[string]any)
		keys[m["key"].(string)] = m
	}
	for _, k := range []string{"HeartbeatInterval", "MeterValuesSampledData", "NumberOfConnectors", "LocalAuthListEnabled", "ChargeProfileMaxStackLevel", "ReserveConnectorZeroSupported", "WebSocketPingInterval", "StopTxnSampledData", "TransactionMessageAttempts"} {
		if keys[k] == nil {
			t.Errorf("GetConfiguration lacks %s", k)
		}
	}
	if keys["NumberOfConnectors"]["value"] != "2" || keys["NumberOfConnectors"]["readonly"] != true || keys["HeartbeatInterval"]["readonly"] != false {
		t.Fatalf("%v %v", keys["NumberOfConnectors"], keys["HeartbeatInterval"])
	}
	if keys["MeterValuesSampledData"]["value"] != "Energy.Active.Import.Register,Current.Import,Voltage,Power.Active.Import,Current.Offered,SoC" {
		t.Fatalf("%v", keys["MeterValuesSampledData"])
	}
	some := e.call("CP1", "GetConfiguration", map[string]any{"key": []string{"ConnectionTimeOut", "NoSuchKey"}})
	if len(some["configurationKey"].([]any)) != 1 || some["unknownKey"].([]any)[0] != "NoSuchKey" {
		t.Fatalf("%v", some)
	}

	cases := []struct{ key, value, want string }{
		{"NoSuchKey", "1", "NotSupported"},
		{"NumberOfConnectors", "5", "Rejected"},
		{"MeterValueSampleInterval", "often", "Rejected"},
		{"MeterValueSampleInterval", "-1", "Rejected"},
		{"LocalPreAuthorize", "maybe", "Rejected"},
		{"MeterValuesSampledData", "Energy.Active.Import.Register,RPM", "Rejected"},
		{"MeterValuesSampledData", "Energy.Active.Import.Register,Voltage", "Accepted"},
		{"MeterValueSampleInterval", "15", "Accepted"},
		{"LocalPreAuthorize", "TRUE", "Accepted"},
		{"WebSocketPingInterval", "20", "RebootRequired"},
	}
	for _, c := range cases {
		if got := e.status("CP1", "ChangeConfiguration", map[string]any{"key": c.key, "value": c.value}); got != c.want {
			t.Errorf("ChangeConfiguration %s=%s: %s, want %s", c.key, c.value, got, c.want)
		}
	}
	if v, _ := cp.Configuration("LocalPreAuthorize"); v != "true" {
		t.Fatal(v)
	}
	cp.stop()
	// Persisted across a restart.
	cp2 := e.start("CP1", cpOpt{dir: dir})
	if v, _ := cp2.Configuration("MeterValueSampleInterval"); v != "15" {
		t.Fatalf("after restart: %s", v)
	}
	if v, _ := cp2.Configuration("MeterValuesSampledData"); v != "Energy.Active.Import.Register,Voltage" {
		t.Fatalf("after restart: %s", v)
	}
}

func TestChangeAvailability(t *testing.T) {
	e := newEnv(t, nil)
	e.accept("CP1")
	e.tag("TAG1", store.IDTagAccepted, "")
	cp := e.start("CP1", cpOpt{})
	if s := e.status("CP1", "ChangeAvailability", map[string]any{"connectorId": 9, "type": "Inoperative"}); s != "Rejected" {
		t.Fatal(s)
	}
	if s := e.status("CP1", "ChangeAvailability", map[string]any{"connectorId": 2, "type": "Inoperative"}); s != "Accepted" {
		t.Fatal(s)
	}
	cp.waitStatus(t, 2, "Unavailable")
	cp.PresentTag(2, "TAG1")
	cp.Plug(2)
	time.Sleep(50 * time.Millisecond)
	if _, ok := cp.Transaction(2); ok {
		t.Fatal("a transaction on an unavailable connector")
	}
	cp.Unplug(2)
	if s := e.status("CP1", "ChangeAvailability", map[string]any{"connectorId": 2, "type": "Operative"}); s != "Accepted" {
		t.Fatal(s)
	}
	cp.waitStatus(t, 2, "Available")

	cp.Plug(1)
	cp.PresentTag(1, "TAG1")
	id := cp.waitTx(t, 1)
	if s := e.status("CP1", "ChangeAvailability", map[string]any{"connectorId": 0, "type": "Inoperative"}); s != "Scheduled" {
		t.Fatal(s)
	}
	cp.waitStatus(t, 0, "Unavailable")
	cp.waitStatus(t, 2, "Unavailable")
	if cp.Status(1) != "SuspendedEV" {
		t.Fatal(cp.Status(1))
	}
	e.status("CP1", "RemoteStopTransaction", map[string]any{"transactionId": id})
	cp.waitStatus(t, 1, "Unavailable")
	waitFor(t, "history", func() bool { return contains(e.history("CP1", 0), "Available", "Unavailable") })
	e.status("CP1", "ChangeAvailability", map[string]any{"connectorId": 0, "type": "Operative"})
	cp.waitStatus(t, 0, "Available")
	cp.waitStatus(t, 1, "Finishing")
}

func TestFaults(t *testing.T) {
	e := newEnv(t, nil)
	e.accept("CP1")
	cp := e.start("CP1", cpOpt{})
	cp.Fault(1, "GroundFailure", "RCD tripped")
	cp.waitStatus(t, 1, "Faulted")
	waitFor(t, "stored fault", func() bool {
		cs, _ := e.st.ListConnectors(e.ctx, "CP1")
		for _, c := range cs {
			if c.ConnectorID == 1 && c.Status == "Faulted" && c.ErrorCode == "GroundFailure" && c.Info == "RCD tripped" {
				return true
			}
		}
		return false
	})
	if s := e.status("CP1", "ReserveNow", map[string]any{"connectorId": 1, "expiryDate": time.Now().Add(time.Hour).UTC().Format(time.RFC3339), "idTag": "X", "reservationId": 1}); s != "Faulted" {
		t.Fatal(s)
	}
	cp.Fault(1, "", "")
	cp.waitStatus(t, 1, "Available")
	cp.Fault(0, "PowerMeterFailure", "")
	cp.waitStatus(t, 2, "Faulted")
	cp.Fault(0, "", "")
	cp.waitStatus(t, 2, "Available")
}

func TestReservations(t *testing.T) {
	e := newEnv(t, nil)
	e.accept("CP1")
	e.tag("MINE", store.IDTagAccepted, "")
	e.tag("YOURS", store.IDTagAccepted, "")
	cp := e.start("CP1", cpOpt{})
	in := func(d time.Duration) string { return time.Now().Add(d).UTC().Format(time.RFC3339Nano) }
	if s := e.status("CP1", "ReserveNow", map[string]any{"connectorId": 7, "expiryDate": in(time.Hour), "idTag": "MINE", "reservationId": 1}); s != "Rejected" {
		t.Fatal(s)
	}
	if s := e.status("CP1", "ReserveNow", map[string]any{"connectorId": 1, "expiryDate": in(time.Hour), "idTag": "MINE", "reservationId": 1}); s != "Accepted" {
		t.Fatal(s)
	}
	cp.waitStatus(t, 1, "Reserved")
	if s := e.status("CP1", "ReserveNow", map[string]any{"connectorId": 1, "expiryDate": in(time.Hour), "idTag": "YOURS", "reservationId": 2}); s != "Occupied" {
		t.Fatal(s)
	}
	// Another tag cannot use it.
	cp.PresentTag(1, "YOURS")
	cp.Plug(1)
	time.Sleep(100 * time.Millisecond)
	if _, ok := cp.Transaction(1); ok {
		t.Fatal("someone else used the reservation")
	}
	cp.PresentTag(1, "MINE")
	id := cp.waitTx(t, 1)
	if tx := e.transaction(id); tx.ReservationID == nil || *tx.ReservationID != 1 {
		t.Fatalf("%+v", tx)
	}
	cp.Unplug(1)
	cp.waitStatus(t, 1, "Available")

	// Cancel and expiry.
	e.status("CP1", "ReserveNow", map[string]any{"connectorId": 2, "expiryDate": in(time.Hour), "idTag": "MINE", "reservationId": 3})
	cp.waitStatus(t, 2, "Reserved")
	if s := e.status("CP1", "CancelReservation", map[string]any{"reservationId": 99}); s != "Rejected" {
		t.Fatal(s)
	}
	if s := e.status("CP1", "CancelReservation", map[string]any{"reservationId": 3}); s != "Accepted" {
		t.Fatal(s)
	}
	cp.waitStatus(t, 2, "Available")
	e.status("CP1", "ReserveNow", map[string]any{"connectorId": 2, "expiryDate": in(300 * time.Millisecond), "idTag": "MINE", "reservationId": 4})
	waitFor(t, "expiry", func() bool { return contains(e.history("CP1", 2), "Reserved", "Available", "Reserved", "Available") })

	// Connector 0: any connector, but one must stay free.
	if s := e.status("CP1", "ReserveNow", map[string]any{"connectorId": 0, "expiryDate": in(time.Hour), "idTag": "MINE", "reservationId": 5}); s != "Accepted" {
		t.Fatal(s)
	}
	cp.Plug(1)
	cp.PresentTag(1, "YOURS") // connector 2 stays free: allowed
	cp.waitTx(t, 1)
	cp.Plug(2)
	cp.PresentTag(2, "YOURS") // would take the last free connector
	time.Sleep(100 * time.Millisecond)
	if _, ok := cp.Transaction(2); ok {
		t.Fatal("the connector-0 reservation was not kept")
	}
	cp.PresentTag(2, "MINE")
	id2 := cp.waitTx(t, 2)
	if tx := e.transaction(id2); tx.ReservationID == nil || *tx.ReservationID != 5 {
		t.Fatalf("%+v", tx)
	}
}

func TestLocalListAndCache(t *testing.T) {
	e := newEnv(t, nil)
	e.accept("CP1")
	cp := e.start("CP1", cpOpt{})
	if v := e.call("CP1", "GetLocalListVersion", map[string]any{})["listVersion"]; v != float64(0) {
		t.Fatal(v)
	}
	full := map[string]any{"listVersion": 3, "updateType": "Full", "localAuthorizationList": []any{
		map[string]any{"idTag": "LOCAL1", "idTagInfo": map[string]any{"status": "Accepted"}},
		map[string]any{"idTag": "LOCAL2", "idTagInfo": map[string]any{"status": "Blocked"}},
	}}
	if s := e.status("CP1", "SendLocalList", full); s != "Accepted" {
		t.Fatal(s)
	}
	if v := e.call("CP1", "GetLocalListVersion", map[string]any{})["listVersion"]; v != float64(3) {
		t.Fatal(v)
	}
	if s := e.status("CP1", "SendLocalList", map[string]any{"listVersion": 3, "updateType": "Differential"}); s != "VersionMismatch" {
		t.Fatal(s)
	}
	diff := map[string]any{"listVersion": 4, "updateType": "Differential", "localAuthorizationList": []any{
		map[string]any{"idTag": "LOCAL2"},
		map[string]any{"idTag": "LOCAL3", "idTagInfo": map[string]any{"status": "Accepted"}},
	}}
	if s := e.status("CP1", "SendLocalList", diff); s != "Accepted" {
		t.Fatal(s)
	}
	if s := e.status("CP1", "ClearCache", map[string]any{}); s != "Accepted" {
		t.Fatal(s)
	}
	// Offline, the local list decides (LocalAuthorizeOffline).
	e.goOffline("CP1", cp.ChargePoint)
	cp.Plug(1)
	cp.PresentTag(1, "NOBODY")
	time.Sleep(50 * time.Millisecond)
	if _, ok := cp.Transaction(1); ok {
		t.Fatal("unknown tag started offline")
	}
	cp.PresentTag(1, "LOCAL3")
	waitFor(t, "offline start from the local list", func() bool { _, ok := cp.Transaction(1); return ok })
	cp.Unplug(1)
	e.goOnline()
	cp.waitDelivered(t)
	if txs := e.transactions("CP1"); len(txs) != 1 || txs[0].IDTag != "LOCAL3" {
		t.Fatalf("%+v", txs)
	}
	if s := e.status("CP1", "ChangeConfiguration", map[string]any{"key": "LocalAuthListEnabled", "value": "false"}); s != "Accepted" {
		t.Fatal(s)
	}
	if v := e.call("CP1", "GetLocalListVersion", map[string]any{})["listVersion"]; v != float64(-1) {
		t.Fatal(v)
	}
	if s := e.status("CP1", "SendLocalList", full); s != "NotSupported" {
		t.Fatal(s)
	}
}

func TestUnlockConnector(t *testing.T) {
	e := newEnv(t, nil)
	e.accept("CP1")
	e.tag("TAG1", store.IDTagAccepted, "")
	cp := e.start("CP1", cpOpt{hw: []*fakeHW{{}, {noLock: true}}})
	cp.Plug(1)
	cp.PresentTag(1, "TAG1")
	id := cp.waitTx(t, 1)
	if s := e.status("CP1", "UnlockConnector", map[string]any{"connectorId": 1}); s != "Unlocked" {
		t.Fatal(s)
	}
	cp.waitDelivered(t)
	waitFor(t, "stopped", func() bool { return !e.transaction(id).Active() })
	if tx := e.transaction(id); tx.StopReason != "UnlockCommand" {
		t.Fatalf("%+v", tx)
	}
	if cp.hw[0].unlocks == 0 {
		t.Fatal("hardware not unlocked")
	}
	if s := e.status("CP1", "UnlockConnector", map[string]any{"connectorId": 2}); s != "NotSupported" {
		t.Fatal(s)
	}
	if s := e.status("CP1", "UnlockConnector", map[string]any{"connectorId": 3}); s != "NotSupported" {
		t.Fatal(s)
	}
}

func TestReset(t *testing.T) {
	for _, typ := range []string{"Soft", "Hard"} {
		t.Run(typ, func(t *testing.T) {
			e := newEnv(t, nil)
			e.accept("CP1")
			e.tag("TAG1", store.IDTagAccepted, "")
			cp := e.start("CP1", cpOpt{})
			cp.Plug(1)
			cp.PresentTag(1, "TAG1")
			id := cp.waitTx(t, 1)
			boots := e.count("BootNotification")
			if s := e.status("CP1", "Reset", map[string]any{"type": typ}); s != "Accepted" {
				t.Fatal(s)
			}
			waitFor(t, "boot again", func() bool { return e.count("BootNotification") > boots && cp.Registration() == "Accepted" })
			cp.waitDelivered(t)
			waitFor(t, "stopped", func() bool { return !e.transaction(id).Active() })
			if tx := e.transaction(id); tx.StopReason != typ+"Reset" {
				t.Fatalf("%+v", tx)
			}
			waitFor(t, "statuses after the reboot", func() bool { return contains(e.history("CP1", 2), "Available", "Available") })
		})
	}
}

func TestTriggerMessage(t *testing.T) {
	e := newEnv(t, nil)
	e.accept("CP1")
	cp := e.start("CP1", cpOpt{})
	for _, m := range []string{"BootNotification", "Heartbeat", "StatusNotification", "MeterValues", "FirmwareStatusNotification", "DiagnosticsStatusNotification"} {
		before := e.count(m)
		if s := e.status("CP1", "TriggerMessage", map[string]any{"requestedMessage": m}); s != "Accepted" {
			t.Fatalf("%s: %s", m, s)
		}
		waitFor(t, "triggered "+m, func() bool { return e.count(m) > before })
	}
	if s := e.status("CP1", "TriggerMessage", map[string]any{"requestedMessage": "StatusNotification", "connectorId": 5}); s != "Rejected" {
		t.Fatal(s)
	}
	waitFor(t, "firmware status stored", func() bool { return contains(e.events("CP1", "FirmwareStatusNotification"), "Idle") })
	if cp.Registration() != "Accepted" {
		t.Fatal(cp.Registration())
	}
}

func TestChargingProfiles(t *testing.T) {
	e := newEnv(t, nil)
	e.accept("CP1")
	e.tag("TAG1", store.IDTagAccepted, "")
	cp := e.start("CP1", cpOpt{})
	hw := cp.hw[0]
	profile := func(id int, purpose, unit string, limit float64, level int) map[string]any {
		return map[string]any{
			"chargingProfileId": id, "stackLevel": level, "chargingProfilePurpose": purpose, "chargingProfileKind": "Absolute",
			"chargingSchedule": map[string]any{
				"startSchedule": time.Now().Add(-time.Minute).UTC().Format(time.RFC3339), "chargingRateUnit": unit,
				"chargingSchedulePeriod": []any{map[string]any{"startPeriod": 0, "limit": limit}},
			},
		}
	}
	waitFor(t, "initial limit", func() bool { l, ok := hw.lastLimit(); return ok && l == 32 })
	if s := e.status("CP1", "SetChargingProfile", map[string]any{"connectorId": 1, "csChargingProfiles": profile(1, "TxDefaultProfile", "A", 10, 0)}); s != "Accepted" {
		t.Fatal(s)
	}
	waitFor(t, "SetCurrentLimit(10)", func() bool { l, _ := hw.lastLimit(); return l == 10 })
	if cp.CurrentLimit(1) != 10 || cp.CurrentLimit(2) != 32 {
		t.Fatal(cp.CurrentLimit(1), cp.CurrentLimit(2))
	}
	comp := e.call("CP1", "GetCompositeSchedule", map[string]any{"connectorId": 1, "duration": 3600})
	sch := comp["chargingSchedule"].(map[string]any)
	if comp["status"] != "Accepted" || sch["chargingSchedulePeriod"].([]any)[0].(map[string]any)["limit"] != float64(10) {
		t.Fatalf("%v", comp)
	}
	// A ChargePointMaxProfile in watts caps everything: 4140 W on 3
	// phases is 6 A.
	if s := e.status("CP1", "SetChargingProfile", map[string]any{"connectorId": 1, "csChargingProfiles": profile(2, "ChargePointMaxProfile", "W", 4140, 0)}); s != "Rejected" {
		t.Fatal("ChargePointMaxProfile on a connector:", s)
	}
	if s := e.status("CP1", "SetChargingProfile", map[string]any{"connectorId": 0, "csChargingProfiles": profile(2, "ChargePointMaxProfile", "W", 4140, 0)}); s != "Accepted" {
		t.Fatal(s)
	}
	waitFor(t, "6 A", func() bool { return cp.CurrentLimit(1) == 6 && cp.CurrentLimit(2) == 6 })
	if l, _ := cp.hw[1].lastLimit(); l != 6 {
		t.Fatal(l)
	}
	// TxProfile needs a transaction.
	if s := e.status("CP1", "SetChargingProfile", map[string]any{"connectorId": 1, "csChargingProfiles": profile(3, "TxProfile", "A", 0, 0)}); s != "Rejected" {
		t.Fatal(s)
	}
	cp.Plug(1)
	cp.PresentTag(1, "TAG1")
	cp.waitTx(t, 1)
	cp.EVCharging(1, true)
	cp.waitStatus(t, 1, "Charging")
	if s := e.status("CP1", "SetChargingProfile", map[string]any{"connectorId": 1, "csChargingProfiles": profile(3, "TxProfile", "A", 0, 0)}); s != "Accepted" {
		t.Fatal(s)
	}
	cp.waitStatus(t, 1, "SuspendedEVSE")
	if l, _ := hw.lastLimit(); l != 0 {
		t.Fatal(l)
	}
	if s := e.status("CP1", "ClearChargingProfile", map[string]any{"id": 3}); s != "Accepted" {
		t.Fatal(s)
	}
	cp.waitStatus(t, 1, "Charging")
	if s := e.status("CP1", "ClearChargingProfile", map[string]any{"id": 3}); s != "Unknown" {
		t.Fatal(s)
	}
	if s := e.status("CP1", "ClearChargingProfile", map[string]any{}); s != "Accepted" {
		t.Fatal(s)
	}
	waitFor(t, "back to the maximum", func() bool { return cp.CurrentLimit(1) == 32 })
	// Period boundaries apply by themselves.
	p := profile(4, "TxDefaultProfile", "A", 8, 1)
	p["chargingSchedule"].(map[string]any)["startSchedule"] = time.Now().UTC().Format(time.RFC3339Nano)
	p["chargingSchedule"].(map[string]any)["chargingSchedulePeriod"] = []any{
		map[string]any{"startPeriod": 0, "limit": 8}, map[string]any{"startPeriod": 1, "limit": 12},
	}
	if s := e.status("CP1", "SetChargingProfile", map[string]any{"connectorId": 0, "csChargingProfiles": p}); s != "Accepted" {
		t.Fatal(s)
	}
	waitFor(t, "the second period", func() bool { l, _ := hw.lastLimit(); return l == 12 })
	if !hw.sawLimit(8) {
		t.Fatal("the first period was not applied")
	}
	if s := e.status("CP1", "GetCompositeSchedule", map[string]any{"connectorId": 9, "duration": 60}); s != "Rejected" {
		t.Fatal(s)
	}
	if s := e.status("CP1", "SetChargingProfile", map[string]any{"connectorId": 9, "csChargingProfiles": profile(5, "TxDefaultProfile", "A", 8, 0)}); s != "Rejected" {
		t.Fatal(s)
	}
	if s := e.status("CP1", "SetChargingProfile", map[string]any{"connectorId": 0, "csChargingProfiles": profile(5, "TxDefaultProfile", "A", 8, 99)}); s != "Rejected" {
		t.Fatal(s)
	}
}

func TestFirmwareUpdate(t *testing.T) {
	e := newEnv(t, nil)
	e.accept("CP1")
	var mu sync.Mutex
	installed := ""
	files := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/fw-2.0.bin" {
			http.NotFound(w, r)
			return
		}
		_, _ = io.WriteString(w, "FIRMWARE 2.0")
	}))
	defer files.Close()
	cp := e.start("CP1", cpOpt{dir: t.TempDir(), mod: func(c *Config) {
		c.InstallFirmware = func(ctx context.Context, file string) error {
			b, err := os.ReadFile(file)
			mu.Lock()
			installed = string(b)
			mu.Unlock()
			return err
		}
	}})
	_ = cp
	boots := e.count("BootNotification")
	now := time.Now().UTC().Format(time.RFC3339)
	e.call("CP1", "UpdateFirmware", map[string]any{"location": files.URL + "/fw-2.0.bin", "retrieveDate": now})
	waitFor(t, "firmware statuses", func() bool {
		return contains(e.events("CP1", "FirmwareStatusNotification"), "Downloading", "Downloaded", "Installing", "Installed")
	})
	mu.Lock()
	if installed != "FIRMWARE 2.0" {
		t.Fatalf("installed %q", installed)
	}
	mu.Unlock()
	waitFor(t, "reboot", func() bool { return e.count("BootNotification") > boots && cp.Registration() == "Accepted" })

	e.call("CP1", "UpdateFirmware", map[string]any{"location": files.URL + "/missing.bin", "retrieveDate": now, "retries": 2, "retryInterval": 0})
	waitFor(t, "download failure", func() bool {
		return contains(e.events("CP1", "FirmwareStatusNotification"), "Installed", "Downloading", "DownloadFailed")
	})
}

func TestDiagnostics(t *testing.T) {
	e := newEnv(t, nil)
	e.accept("CP1")
	var mu sync.Mutex
	got := map[string]string{}
	uploads := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		switch {
		case r.Method == http.MethodPut && strings.HasPrefix(r.URL.Path, "/put/"):
			b, _ := io.ReadAll(r.Body)
			got[r.URL.Path] = string(b)
		case r.Method == http.MethodPost && r.URL.Path == "/post":
			_, params, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
			mr := multipart.NewReader(r.Body, params["boundary"])
			part, err := mr.NextPart()
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			b, _ := io.ReadAll(part)
			got["post:"+part.FileName()] = string(b)
		default:
			http.Error(w, "no", http.StatusMethodNotAllowed)
		}
	}))
	defer uploads.Close()
	cp := e.start("CP1", cpOpt{})
	cp.Plug(1)
	cp.waitStatus(t, 1, "Preparing")
	name, _ := e.call("CP1", "GetDiagnostics", map[string]any{"location": uploads.URL + "/put/"})["fileName"].(string)
	if !strings.HasPrefix(name, "CP1-diagnostics-") {
		t.Fatalf("fileName %q", name)
	}
	waitFor(t, "uploaded", func() bool {
		return contains(e.events("CP1", "DiagnosticsStatusNotification"), "Uploading", "Uploaded")
	})
	mu.Lock()
	content := got["/put/"+name]
	mu.Unlock()
	if !strings.Contains(content, "id: CP1") || !strings.Contains(content, "connector 1 plugged") || !strings.Contains(content, "connector 1: Preparing") {
		t.Fatalf("content:\n%s", content)
	}
	// A server that refuses PUT gets a multipart POST.
	name2, _ := e.call("CP1", "GetDiagnostics", map[string]any{"location": uploads.URL + "/post"})["fileName"].(string)
	waitFor(t, "posted", func() bool { mu.Lock(); defer mu.Unlock(); return got["post:"+name2] != "" })
	// Nothing listening: UploadFailed after the retries.
	e.call("CP1", "GetDiagnostics", map[string]any{"location": "http://127.0.0.1:1/x/", "retries": 2, "retryInterval": 0})
	waitFor(t, "upload failure", func() bool {
		return contains(e.events("CP1", "DiagnosticsStatusNotification"), "Uploaded", "Uploading", "Uploaded", "Uploading", "UploadFailed")
	})
}

func TestOddInput(t *testing.T) {
	e := newEnv(t, nil)
	e.accept("CP1")
	cp := e.start("CP1", cpOpt{})
	if s := e.status("CP1", "DataTransfer", map[string]any{"vendorId": "acme"}); s != "UnknownVendorId" {
		t.Fatal(s)
	}
	if s := e.status("CP1", "RemoteStartTransaction", map[string]any{"connectorId": 3, "idTag": "X"}); s != "Rejected" {
		t.Fatal(s)
	}
	if s := e.status("CP1", "RemoteStartTransaction", map[string]any{"connectorId": -1, "idTag": "X"}); s != "Rejected" {
		t.Fatal(s)
	}
	if s := e.status("CP1", "ReserveNow", map[string]any{"connectorId": 1, "expiryDate": "2000-01-01T00:00:00Z", "idTag": "X", "reservationId": 1}); s != "Rejected" {
		t.Fatal(s)
	}
	if s := e.status("CP1", "ClearChargingProfile", map[string]any{"connectorId": 42}); s != "Unknown" {
		t.Fatal(s)
	}
	cp.Plug(0)
	cp.Plug(17)
	cp.PresentTag(-3, "X")
	cp.EVCharging(9, true)
	cp.Fault(9, "GroundFailure", "")
	cp.Fault(1, "NotACode", "")
	cp.waitStatus(t, 1, "Faulted")
	if cp.Status(5) != "" {
		t.Fatal(cp.Status(5))
	}
}
