package api_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wattson-csms/wattson/api"
	"github.com/wattson-csms/wattson/chargepoint"
)

// Configuration end to end: our own charge points over real websockets,
// the central system and the API on loopback, a SQLite file.

type configChange struct {
	ChargerID     string    `json:"chargerId"`
	Key           string    `json:"key"`
	Value         string    `json:"value"`
	Status        string    `json:"status"`
	At            time.Time `json:"at"`
	PendingReboot bool      `json:"pendingReboot"`
}

type configView struct {
	ChargerID string    `json:"chargerId"`
	TakenAt   time.Time `json:"takenAt"`
	Keys      []struct {
		Key        string        `json:"key"`
		Readonly   bool          `json:"readonly"`
		Value      string        `json:"value"`
		LastChange *configChange `json:"lastChange"`
	} `json:"keys"`
	UnknownKeys   []string       `json:"unknownKeys"`
	Changes       []configChange `json:"changes"`
	PendingReboot bool           `json:"pendingReboot"`
}

// key returns a key of the snapshot by its exact name.
func (v configView) key(t *testing.T, name string) (value string, last *configChange) {
	t.Helper()
	for _, k := range v.Keys {
		if k.Key == name {
			return k.Value, k.LastChange
		}
	}
	t.Fatalf("key %s not in the snapshot", name)
	return "", nil
}

func (v configView) change(name string) *configChange {
	for i := range v.Changes {
		if v.Changes[i].Key == name {
			return &v.Changes[i]
		}
	}
	return nil
}

type fleetItem struct {
	ChargerID  string        `json:"chargerId"`
	Connected  bool          `json:"connected"`
	TakenAt    *time.Time    `json:"takenAt"`
	Found      bool          `json:"found"`
	Readonly   bool          `json:"readonly"`
	Value      string        `json:"value"`
	LastChange *configChange `json:"lastChange"`
}

type fleetPage struct {
	Key   string      `json:"key"`
	Items []fleetItem `json:"items"`
	Next  string      `json:"next"`
}

type applyResults struct {
	Results []struct {
		ChargerID   string     `json:"chargerId"`
		Status      string     `json:"status"`
		TakenAt     *time.Time `json:"takenAt"`
		Keys        int        `json:"keys"`
		UnknownKeys int        `json:"unknownKeys"`
		Error       string     `json:"error"`
		ErrorKind   string     `json:"errorKind"`
	} `json:"results"`
}

// stoppableChargePoint is chargePoint with a way to switch it off before
// the test ends.
func (e *env) stoppableChargePoint(id string) (*chargepoint.ChargePoint, func()) {
	e.t.Helper()
	e.register(id)
	cp, err := chargepoint.New(chargepoint.Config{
		URL: e.ocppURL, ID: id, Model: "Config", FirmwareVersion: "1.0",
		Connectors:    []chargepoint.ConnectorHardware{&profileHW{}, &profileHW{}},
		Configuration: map[string]string{"MeterValueSampleInterval": "0"},
		MinBackoff:    10 * time.Millisecond, MaxBackoff: 100 * time.Millisecond, CallTimeout: 5 * time.Second,
	})
	if err != nil {
		e.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = cp.Run(ctx); close(done) }()
	var once sync.Once
	stop := func() { once.Do(func() { cancel(); <-done }) }
	e.t.Cleanup(stop)
	eventually(e.t, id+" accepted", func() bool { return e.svc.IsConnected(id) && cp.Registration() == "Accepted" })
	return cp, stop
}

func (e *env) changeKey(id, key, value string) configChange {
	e.t.Helper()
	var c configChange
	e.ok(200, "PUT", "/chargers/"+id+"/configuration/"+key, fmt.Sprintf(`{"value":%q}`, value)).decode(e.t, &c)
	return c
}

func (e *env) configuration(id string) configView {
	e.t.Helper()
	var v configView
	e.ok(200, "GET", "/chargers/"+id+"/configuration", "").decode(e.t, &v)
	return v
}

// TestConfigurationOneCharger changes keys of one real charge point with
// the typed endpoint: each of the four answers is kept, the charger really
// changes, the snapshot follows, and a RebootRequired change stays pending
// until the charger has rebooted.
func TestConfigurationOneCharger(t *testing.T) {
	e := newEnv(t, nil)
	cp := e.chargePoint("CK1")
	e.register("CKOFF")

	// A change before any snapshot is kept all the same.
	before := time.Now().Add(-time.Second)
	c := e.changeKey("CK1", "HeartbeatInterval", "120")
	if c.Status != "Accepted" || c.Key != "HeartbeatInterval" || c.Value != "120" || c.PendingReboot || c.At.Before(before) || c.ChargerID != "CK1" {
		t.Errorf("HeartbeatInterval: %+v", c)
	}
	if v, _ := cp.Configuration("HeartbeatInterval"); v != "120" {
		t.Errorf("the charger has HeartbeatInterval %q", v)
	}
	wantProblem(t, e.admin("GET", "/chargers/CK1/configuration", ""), 404, api.KindNotFound, "")

	var snap configView
	e.ok(200, "POST", "/chargers/CK1/configuration/refresh", "").decode(t, &snap)
	if v, last := snap.key(t, "HeartbeatInterval"); v != "120" || last == nil || last.Status != "Accepted" || !last.At.Equal(c.At) {
		t.Errorf("refreshed HeartbeatInterval %q, last change %+v", v, last)
	}
	if snap.ChargerID != "CK1" || len(snap.Changes) != 1 || snap.PendingReboot {
		t.Errorf("refreshed snapshot: %+v", snap)
	}

	// Keys are case-insensitive; the answer spells the key as the charger.
	c = e.changeKey("CK1", "meterVALUEsampleinterval", "30")
	if c.Status != "Accepted" || c.Key != "MeterValueSampleInterval" {
		t.Errorf("MeterValueSampleInterval: %+v", c)
	}
	got := e.configuration("CK1")
	if v, _ := got.key(t, "MeterValueSampleInterval"); v != "30" || !got.TakenAt.Equal(snap.TakenAt) {
		t.Errorf("snapshot MeterValueSampleInterval %q taken %v", v, got.TakenAt)
	}

	// Rejected: read-only, and a value the charger refuses. The snapshot
	// keeps what the charger has.
	for _, tc := range []struct{ key, value, want string }{
		{"NumberOfConnectors", "5", "2"},
		{"HeartbeatInterval", "often", "120"},
	} {
		c = e.changeKey("CK1", tc.key, tc.value)
		if c.Status != "Rejected" {
			t.Errorf("%s=%s: %+v", tc.key, tc.value, c)
		}
		got = e.configuration("CK1")
		if v, last := got.key(t, tc.key); v != tc.want || last == nil || last.Status != "Rejected" || last.Value != tc.value {
			t.Errorf("%s after Rejected: %q, last change %+v", tc.key, v, last)
		}
	}
	if v, _ := cp.Configuration("HeartbeatInterval"); v != "120" {
		t.Errorf("the charger has HeartbeatInterval %q", v)
	}

	// NotSupported: kept among the changes, not added to the keys.
	c = e.changeKey("CK1", "VendorThing", "1")
	if c.Status != "NotSupported" {
		t.Errorf("VendorThing: %+v", c)
	}
	// AuthorizationKey is write-only: sent, never kept.
	c = e.changeKey("CK1", "AuthorizationKey", "0123456789abcdef0123")
	if c.Value != "" {
		t.Errorf("AuthorizationKey answered with its value: %+v", c)
	}
	r := e.admin("GET", "/chargers/CK1/configuration", "")
	if strings.Contains(string(r.Body), "0123456789abcdef0123") {
		t.Errorf("the snapshot shows the AuthorizationKey: %s", r.Body)
	}
	got = e.configuration("CK1")
	if ch := got.change("VendorThing"); ch == nil || ch.Status != "NotSupported" {
		t.Errorf("VendorThing change %+v", ch)
	}
	for _, k := range got.Keys {
		if k.Key == "VendorThing" {
			t.Error("a NotSupported key was added to the snapshot")
		}
	}

	// RebootRequired: the value is the charger's now, in effect after a
	// reboot; pending until the charger boots again.
	c = e.changeKey("CK1", "WebSocketPingInterval", "10")
	if c.Status != "RebootRequired" || !c.PendingReboot {
		t.Errorf("WebSocketPingInterval: %+v", c)
	}
	got = e.configuration("CK1")
	if v, last := got.key(t, "WebSocketPingInterval"); v != "10" || last == nil || !last.PendingReboot || !got.PendingReboot {
		t.Errorf("WebSocketPingInterval %q, last change %+v, snapshot pending %v", v, last, got.PendingReboot)
	}
	var fleet fleetPage
	e.ok(200, "GET", "/configuration?key=websocketpinginterval", "").decode(t, &fleet)
	if len(fleet.Items) != 1 || fleet.Items[0].LastChange == nil || !fleet.Items[0].LastChange.PendingReboot || fleet.Items[0].Value != "10" {
		t.Errorf("fleet view: %+v", fleet)
	}
	var reset map[string]string
	e.ok(200, "POST", "/chargers/CK1/ocpp/Reset", `{"type":"Soft"}`).decode(t, &reset)
	if reset["status"] != "Accepted" {
		t.Fatalf("Reset: %v", reset)
	}
	eventually(t, "the reboot to clear the pending change", func() bool {
		v := e.configuration("CK1")
		_, last := v.key(t, "WebSocketPingInterval")
		return !v.PendingReboot && last != nil && !last.PendingReboot && last.Status == "RebootRequired"
	})
	if v, _ := cp.Configuration("WebSocketPingInterval"); v != "10" {
		t.Errorf("after the reboot the charger has WebSocketPingInterval %q", v)
	}

	// A change through the raw OCPP endpoint is kept too.
	eventually(t, "CK1 back", func() bool { return e.svc.IsConnected("CK1") && cp.Registration() == "Accepted" })
	e.ok(200, "POST", "/chargers/CK1/ocpp/ChangeConfiguration", `{"key":"HeartbeatInterval","value":"240"}`)
	got = e.configuration("CK1")
	if v, last := got.key(t, "HeartbeatInterval"); v != "240" || last == nil || last.Status != "Accepted" || last.Value != "240" {
		t.Errorf("after the raw change: %q, %+v", v, last)
	}

	// Failures to reach the charger are problems, and nothing is kept.
	wantProblem(t, e.admin("PUT", "/chargers/CKOFF/configuration/HeartbeatInterval", `{"value":"1"}`), 409, api.KindNotConnected, "")
	wantProblem(t, e.admin("PUT", "/chargers/NOSUCH/configuration/HeartbeatInterval", `{"value":"1"}`), 404, api.KindNotFound, "")
	var fleetOff fleetPage
	e.ok(200, "GET", "/configuration?key=HeartbeatInterval", "").decode(t, &fleetOff)
	if len(fleetOff.Items) != 1 || fleetOff.Items[0].ChargerID != "CK1" {
		t.Errorf("a failed change was kept: %+v", fleetOff.Items)
	}

	// Validation.
	long := strings.Repeat("k", 51)
	wantProblem(t, e.admin("PUT", "/chargers/CK1/configuration/"+long, `{"value":"1"}`), 400, api.KindInvalidRequest, "key")
	wantProblem(t, e.admin("PUT", "/chargers/CK1/configuration/HeartbeatInterval", `{}`), 400, api.KindInvalidPayload, "value")
	wantProblem(t, e.admin("PUT", "/chargers/CK1/configuration/HeartbeatInterval", `{"value":5}`), 400, api.KindInvalidPayload, "value")
	wantProblem(t, e.admin("PUT", "/chargers/CK1/configuration/HeartbeatInterval", fmt.Sprintf(`{"value":%q}`, strings.Repeat("1", 501))), 400, api.KindInvalidPayload, "value")
	wantProblem(t, e.admin("PUT", "/chargers/CK1/configuration/HeartbeatInterval", `{"value":"1","key":"x"}`), 400, api.KindInvalidPayload, "key")
	wantProblem(t, e.admin("PUT", "/chargers/CK1/configuration/HeartbeatInterval", ``), 400, api.KindInvalidPayload, "")
	if v, _ := cp.Configuration("HeartbeatInterval"); v != "240" {
		t.Errorf("a rejected request reached the charger: HeartbeatInterval %q", v)
	}
}

// TestConfigurationFleet refreshes and changes many real charge points at
// once, some offline, and reads one key across them.
func TestConfigurationFleet(t *testing.T) {
	e := newEnv(t, nil)
	const online = 20
	var ids []string
	cps := map[string]*chargepoint.ChargePoint{}
	stops := map[string]func(){}
	for i := range online {
		id := fmt.Sprintf("FL%02d", i)
		cps[id], stops[id] = e.stoppableChargePoint(id)
		ids = append(ids, id)
	}
	e.register("FLOFF1")
	e.register("FLOFF2")
	all := append([]string{"FLOFF1"}, ids...)
	all = append(all, "FLOFF2", "NOSUCH")
	body := func(extra string) string {
		q := make([]string, len(all))
		for i, id := range all {
			q[i] = fmt.Sprintf("%q", id)
		}
		return fmt.Sprintf(`{%s"chargers":[%s]}`, extra, strings.Join(q, ","))
	}
	checkOrder := func(res applyResults) {
		t.Helper()
		if len(res.Results) != len(all) {
			t.Fatalf("%d results for %d chargers", len(res.Results), len(all))
		}
		for i, id := range all {
			r := res.Results[i]
			if r.ChargerID != id {
				t.Fatalf("result %d is %s, want %s", i, r.ChargerID, id)
			}
			want := "charger-not-connected"
			if id == "NOSUCH" {
				want = "not-found"
			}
			if _, on := cps[id]; !on && (r.Status != "" || r.TakenAt != nil || r.ErrorKind != want || r.Error == "") {
				t.Errorf("offline %s: %+v", id, r)
			}
		}
	}

	// Refresh them all: a snapshot of each one online.
	before := time.Now().Add(-time.Second)
	var res applyResults
	e.ok(200, "POST", "/configuration/refresh", body("")).decode(t, &res)
	checkOrder(res)
	for _, r := range res.Results {
		if _, on := cps[r.ChargerID]; on && (r.TakenAt == nil || r.TakenAt.Before(before) || r.Keys < 30 || r.Error != "") {
			t.Errorf("refresh %s: %+v", r.ChargerID, r)
		}
	}

	// One key to all of them.
	e.ok(200, "POST", "/configuration/apply", body(`"key":"HeartbeatInterval","value":"77",`)).decode(t, &res)
	checkOrder(res)
	for _, r := range res.Results {
		if cp, on := cps[r.ChargerID]; on {
			if r.Status != "Accepted" {
				t.Errorf("apply %s: %+v", r.ChargerID, r)
			}
			if v, _ := cp.Configuration("HeartbeatInterval"); v != "77" {
				t.Errorf("%s has HeartbeatInterval %q", r.ChargerID, v)
			}
		}
	}

	// The fleet view: every charger with a snapshot, the value the apply
	// set, in pages. A charger switched off keeps its values, offline.
	stops["FL03"]()
	eventually(t, "FL03 offline", func() bool { return !e.svc.IsConnected("FL03") })
	var items []fleetItem
	after := ""
	pages := 0
	for {
		var p fleetPage
		e.ok(200, "GET", "/configuration?key=HEARTBEATINTERVAL&limit=7&after="+after, "").decode(t, &p)
		pages++
		if p.Key != "HEARTBEATINTERVAL" {
			t.Errorf("key %q", p.Key)
		}
		items = append(items, p.Items...)
		if p.Next == "" {
			break
		}
		after = p.Next
	}
	if pages != 3 || len(items) != online {
		t.Fatalf("%d pages, %d items: %+v", pages, len(items), items)
	}
	for i, it := range items {
		if it.ChargerID != ids[i] || !it.Found || it.Value != "77" || it.Readonly || it.TakenAt == nil ||
			it.LastChange == nil || it.LastChange.Status != "Accepted" || it.Connected != (it.ChargerID != "FL03") {
			t.Errorf("item %d: %+v", i, it)
		}
	}

	// A reboot-only key: pending on all of them.
	e.ok(200, "POST", "/configuration/apply", body(`"key":"WebSocketPingInterval","value":"15",`)).decode(t, &res)
	var p fleetPage
	e.ok(200, "GET", "/configuration?key=WebSocketPingInterval&limit=1000", "").decode(t, &p)
	pending := 0
	for _, it := range p.Items {
		if it.LastChange != nil && it.LastChange.PendingReboot && it.Value == "15" {
			pending++
		}
	}
	if pending != online-1 { // FL03 is off
		t.Errorf("%d pending reboots, want %d: %+v", pending, online-1, p.Items)
	}

	// Validation of the fleet operations.
	wantProblem(t, e.admin("GET", "/configuration", ""), 400, api.KindInvalidRequest, "key")
	wantProblem(t, e.admin("GET", "/configuration?key=K&limit=0", ""), 400, api.KindInvalidRequest, "limit")
	wantProblem(t, e.admin("GET", "/configuration?key="+strings.Repeat("k", 51), ""), 400, api.KindInvalidRequest, "key")
	wantProblem(t, e.admin("POST", "/configuration/refresh", `{"chargers":[]}`), 400, api.KindInvalidPayload, "chargers")
	wantProblem(t, e.admin("POST", "/configuration/refresh", `{"chargers":["A","A"]}`), 400, api.KindInvalidPayload, "chargers[1]")
	wantProblem(t, e.admin("POST", "/configuration/refresh", `{"chargers":["A"],"key":"x"}`), 400, api.KindInvalidPayload, "key")
}

// TestConfigurationKeys lists the keys to suggest: the standard ones and
// those chargers reported, a vendor's own key included.
func TestConfigurationKeys(t *testing.T) {
	e := newEnv(t, nil)
	e.connect("VEND1", answers{"GetConfiguration": `{"configurationKey":[` +
		`{"key":"HeartbeatInterval","readonly":true,"value":"60"},{"key":"AcmeLedColour","readonly":false,"value":"green"}]}`})
	type name struct {
		Key      string `json:"key"`
		Readonly bool   `json:"readonly"`
		Standard bool   `json:"standard"`
		Seen     bool   `json:"seen"`
		Type     string `json:"type"`
		Unit     string `json:"unit"`
	}
	read := func() map[string]name {
		var out struct {
			Keys []name `json:"keys"`
		}
		e.ok(200, "GET", "/configuration/keys", "").decode(t, &out)
		m := map[string]name{}
		prev := ""
		for _, k := range out.Keys {
			if strings.ToLower(k.Key) < prev {
				t.Errorf("%s listed after %s", k.Key, prev)
			}
			prev = strings.ToLower(k.Key)
			m[k.Key] = k
		}
		return m
	}
	keys := read()
	if k := keys["HeartbeatInterval"]; !k.Standard || k.Seen || k.Readonly || k.Type != "integer" || k.Unit != "seconds" {
		t.Errorf("HeartbeatInterval before a snapshot: %+v", k)
	}
	if k := keys["NumberOfConnectors"]; !k.Standard || !k.Readonly {
		t.Errorf("NumberOfConnectors: %+v", k)
	}
	if _, ok := keys["AcmeLedColour"]; ok {
		t.Error("a vendor key before any snapshot")
	}
	e.ok(200, "POST", "/chargers/VEND1/configuration/refresh", "")
	keys = read()
	if k := keys["HeartbeatInterval"]; !k.Standard || !k.Seen || !k.Readonly {
		t.Errorf("HeartbeatInterval as the charger reported it: %+v", k)
	}
	if k := keys["AcmeLedColour"]; k.Standard || !k.Seen || k.Readonly {
		t.Errorf("AcmeLedColour: %+v", k)
	}
	// The fleet view finds the vendor's key in the snapshot.
	var p fleetPage
	e.ok(200, "GET", "/configuration?key=acmeledcolour", "").decode(t, &p)
	if len(p.Items) != 1 || !p.Items[0].Found || p.Items[0].Value != "green" || !p.Items[0].Connected {
		t.Errorf("fleet view of AcmeLedColour: %+v", p)
	}
}

// TestConfigurationConcurrentChanges changes different keys of one
// charger at the same time: every value stays in the snapshot (the
// snapshot is updated in one store step, not read, changed and written
// back by the API).
func TestConfigurationConcurrentChanges(t *testing.T) {
	e := newEnv(t, nil)
	cp := e.chargePoint("RACE1")
	e.ok(200, "POST", "/chargers/RACE1/configuration/refresh", "")
	changes := map[string]string{
		"HeartbeatInterval": "101", "MeterValueSampleInterval": "102", "ClockAlignedDataInterval": "103",
		"ConnectionTimeOut": "104", "BlinkRepeat": "5", "LightIntensity": "50", "MinimumStatusDuration": "7",
		"ResetRetries": "2", "TransactionMessageAttempts": "4", "TransactionMessageRetryInterval": "33",
	}
	var wg sync.WaitGroup
	errs := make(chan string, len(changes)*2)
	for key, value := range changes {
		wg.Add(2)
		go func() { // the typed endpoint
			defer wg.Done()
			r := e.admin("PUT", "/chargers/RACE1/configuration/"+key, fmt.Sprintf(`{"value":%q}`, value))
			if r.Status != http.StatusOK || !strings.Contains(string(r.Body), `"Accepted"`) {
				errs <- fmt.Sprintf("%s: %d %s", key, r.Status, r.Body)
			}
		}()
		go func() { // and the fleet endpoint, the same value
			defer wg.Done()
			r := e.admin("POST", "/configuration/apply", fmt.Sprintf(`{"key":%q,"value":%q,"chargers":["RACE1"]}`, key, value))
			if r.Status != http.StatusOK || !strings.Contains(string(r.Body), `"Accepted"`) {
				errs <- fmt.Sprintf("apply %s: %d %s", key, r.Status, r.Body)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for msg := range errs {
		t.Error(msg)
	}
	got := e.configuration("RACE1")
	for key, want := range changes {
		if v, last := got.key(t, key); v != want || last == nil || last.Value != want {
			t.Errorf("%s = %q in the snapshot (last change %+v), want %q", key, v, last, want)
		}
		if v, _ := cp.Configuration(key); v != want {
			t.Errorf("the charger has %s = %q, want %q", key, v, want)
		}
	}
}

// TestConfigurationRoles: every configuration endpoint is for operators
// and admins (values and changes may hold secrets).
func TestConfigurationRoles(t *testing.T) {
	e := newEnv(t, nil)
	e.chargePoint("ROLE1")
	e.ok(200, "POST", "/chargers/ROLE1/configuration/refresh", "")
	token := func(role string) string {
		var tok struct {
			Token string `json:"token"`
		}
		e.ok(http.StatusCreated, "POST", "/tokens", fmt.Sprintf(`{"name":%q,"role":%q}`, role, role)).decode(t, &tok)
		return tok.Token
	}
	viewer, operator := token("viewer"), token("operator")
	for _, rq := range []struct{ method, path, body string }{
		{"PUT", "/chargers/ROLE1/configuration/HeartbeatInterval", `{"value":"60"}`},
		{"POST", "/configuration/refresh", `{"chargers":["ROLE1"]}`},
		{"GET", "/configuration?key=HeartbeatInterval", ""},
		{"GET", "/configuration/keys", ""},
	} {
		if r := e.do(rq.method, rq.path, viewer, rq.body); r.Status != 403 {
			t.Errorf("viewer %s %s: %d", rq.method, rq.path, r.Status)
		}
		if r := e.do(rq.method, rq.path, operator, rq.body); r.Status != 200 {
			t.Errorf("operator %s %s: %d %s", rq.method, rq.path, r.Status, r.Body)
		}
		if r := e.do(rq.method, rq.path, "", rq.body); r.Status != 401 {
			t.Errorf("anonymous %s %s: %d", rq.method, rq.path, r.Status)
		}
	}
}

// TestTriggerMessage asks a real charge point for messages through the API,
// as the dashboard's Commands section does, and sees them arrive.
func TestTriggerMessage(t *testing.T) {
	e := newEnv(t, nil)
	e.chargePoint("TRIG1")
	trigger := func(body, want string) {
		t.Helper()
		var res map[string]string
		e.ok(200, "POST", "/chargers/TRIG1/ocpp/TriggerMessage", body).decode(t, &res)
		if res["status"] != want {
			t.Fatalf("TriggerMessage %s: %v, want %s", body, res, want)
		}
	}
	type entry struct {
		ID        int64           `json:"id"`
		Direction string          `json:"direction"`
		Frame     json.RawMessage `json:"frame"`
	}
	// arrived reports whether the charger sent action after the last
	// TriggerMessage the log holds.
	arrived := func(action string) bool {
		var log struct {
			Items []entry `json:"items"`
		}
		e.ok(200, "GET", "/chargers/TRIG1/log?limit=100", "").decode(t, &log)
		var asked, came int64
		for _, it := range log.Items {
			var f []json.RawMessage
			if json.Unmarshal(it.Frame, &f) != nil || len(f) < 3 || string(f[0]) != "2" {
				continue
			}
			switch {
			case it.Direction == "out" && string(f[2]) == `"TriggerMessage"`:
				asked = max(asked, it.ID)
			case it.Direction == "in" && string(f[2]) == fmt.Sprintf("%q", action):
				came = max(came, it.ID)
			}
		}
		return asked > 0 && came > asked
	}
	history := func() int {
		var h struct {
			Items []json.RawMessage `json:"items"`
		}
		e.ok(200, "GET", "/chargers/TRIG1/connectors/1/history", "").decode(t, &h)
		return len(h.Items)
	}

	trigger(`{"requestedMessage":"Heartbeat"}`, "Accepted")
	eventually(t, "the triggered Heartbeat", func() bool { return arrived("Heartbeat") })

	before := history()
	trigger(`{"requestedMessage":"StatusNotification","connectorId":1}`, "Accepted")
	eventually(t, "the triggered StatusNotification", func() bool { return arrived("StatusNotification") && history() > before })

	trigger(`{"requestedMessage":"MeterValues","connectorId":1}`, "Accepted")
	eventually(t, "the triggered MeterValues", func() bool { return arrived("MeterValues") })

	// A connector the charger does not have.
	trigger(`{"requestedMessage":"StatusNotification","connectorId":5}`, "Rejected")
	// Not a message one may ask for: the schema says so before anything is sent.
	wantProblem(t, e.admin("POST", "/chargers/TRIG1/ocpp/TriggerMessage", `{"requestedMessage":"StartTransaction"}`), 400, api.KindInvalidPayload, "requestedMessage")
}
