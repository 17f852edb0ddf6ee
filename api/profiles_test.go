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
	"github.com/wattson-csms/wattson/ocpp"
	"github.com/wattson-csms/wattson/store"
)

// profileHW is a connector's hardware for the charge points of these
// tests: a relay, a pilot limit and a meter that stands still.
type profileHW struct {
	mu     sync.Mutex
	closed bool
	limit  float64
}

func (h *profileHW) SetContactor(closed bool) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.closed = closed
	return nil
}

func (h *profileHW) SetCurrentLimit(a float64) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.limit = a
	return nil
}

func (h *profileHW) Unlock() error { return nil }

func (h *profileHW) Meter() chargepoint.MeterReading {
	h.mu.Lock()
	defer h.mu.Unlock()
	return chargepoint.MeterReading{EnergyWh: 1000, Voltage: [3]float64{230, 230, 230}, OfferedA: h.limit}
}

// chargePoint registers a charger and runs our own charge point (two
// connectors) as it until the test ends; it returns once the charger is
// accepted.
func (e *env) chargePoint(id string) *chargepoint.ChargePoint {
	e.t.Helper()
	e.register(id)
	cp, err := chargepoint.New(chargepoint.Config{
		URL: e.ocppURL, ID: id, Model: "Profiles", FirmwareVersion: "1.0",
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
	e.t.Cleanup(func() { cancel(); <-done })
	eventually(e.t, id+" accepted", func() bool { return e.svc.IsConnected(id) && cp.Registration() == "Accepted" })
	return cp
}

// profileBody is a SetChargingProfile request with one period.
func profileBody(connector, id int, purpose, kind string, level int, limit float64, unit string) string {
	extra := ""
	switch kind {
	case "Absolute":
		extra = fmt.Sprintf(`"startSchedule":%q,`, time.Now().Add(-time.Minute).UTC().Format(time.RFC3339))
	case "Recurring":
		extra = fmt.Sprintf(`"startSchedule":%q,`, time.Now().UTC().Truncate(24*time.Hour).Format(time.RFC3339))
		kind += `","recurrencyKind":"Daily`
	}
	return fmt.Sprintf(`{"connectorId":%d,"csChargingProfiles":{"chargingProfileId":%d,"stackLevel":%d,"chargingProfilePurpose":%q,"chargingProfileKind":"%s",`+
		`"chargingSchedule":{%s"chargingRateUnit":%q,"chargingSchedulePeriod":[{"startPeriod":0,"limit":%g}]}}}`,
		connector, id, level, purpose, kind, extra, unit, limit)
}

type profileList struct {
	Profiles []struct {
		ConnectorID       int             `json:"connectorId"`
		ChargingProfileID int             `json:"chargingProfileId"`
		StackLevel        int             `json:"stackLevel"`
		Purpose           string          `json:"purpose"`
		TransactionID     *int64          `json:"transactionId"`
		Source            string          `json:"source"`
		SetAt             time.Time       `json:"setAt"`
		Profile           json.RawMessage `json:"profile"`
	} `json:"items"`
}

func (e *env) profiles(id string) profileList {
	e.t.Helper()
	var l profileList
	e.ok(200, "GET", "/chargers/"+id+"/charging-profiles", "").decode(e.t, &l)
	return l
}

func (l profileList) ids() string {
	var s []string
	for _, p := range l.Profiles {
		s = append(s, fmt.Sprint(p.ChargingProfileID))
	}
	return strings.Join(s, ",")
}

type composite struct {
	Status           string    `json:"status"`
	ConnectorID      int       `json:"connectorId"`
	ScheduleStart    time.Time `json:"scheduleStart"`
	ChargingSchedule struct {
		ChargingRateUnit       string `json:"chargingRateUnit"`
		ChargingSchedulePeriod []struct {
			StartPeriod int     `json:"startPeriod"`
			Limit       float64 `json:"limit"`
		} `json:"chargingSchedulePeriod"`
	} `json:"chargingSchedule"`
}

// limitAt is the limit in force sec seconds after the schedule's start
// (the last period that started by then), -1 for none.
func (c composite) limitAt(sec int) float64 {
	l := -1.0
	for _, p := range c.ChargingSchedule.ChargingSchedulePeriod {
		if p.StartPeriod <= sec {
			l = p.Limit
		}
	}
	return l
}

func (e *env) composite(path string) composite {
	e.t.Helper()
	var c composite
	e.ok(200, "GET", path, "").decode(e.t, &c)
	return c
}

// TestChargingProfiles sets, lists, inspects and clears profiles on our
// own charge point over a real websocket.
func TestChargingProfiles(t *testing.T) {
	e := newEnv(t, nil)
	e.chargePoint("CP1")

	if l := e.profiles("CP1"); len(l.Profiles) != 0 {
		t.Fatalf("profiles before any were set: %+v", l)
	}
	// Without profiles the charge point allows its hardware maximum.
	if c := e.composite("/chargers/CP1/connectors/1/composite-schedule"); c.Status != "Accepted" || len(c.ChargingSchedule.ChargingSchedulePeriod) == 0 ||
		c.ChargingSchedule.ChargingSchedulePeriod[0].Limit != 32 {
		t.Fatalf("composite schedule without profiles %+v", c)
	}

	// A default of 10 A on connector 1.
	before := time.Now().UTC().Add(-time.Second)
	r := e.ok(200, "POST", "/chargers/CP1/charging-profiles", profileBody(1, 1, "TxDefaultProfile", "Absolute", 0, 10, "A"))
	if strings.TrimSpace(string(r.Body)) != `{"status":"Accepted"}` {
		t.Errorf("set answer %s", r.Body)
	}
	l := e.profiles("CP1")
	if len(l.Profiles) != 1 {
		t.Fatalf("profiles %+v", l)
	}
	p := l.Profiles[0]
	if p.ConnectorID != 1 || p.ChargingProfileID != 1 || p.StackLevel != 0 || p.Purpose != "TxDefaultProfile" || p.TransactionID != nil ||
		p.Source != "operator" || p.SetAt.Before(before) || p.SetAt.After(time.Now().Add(time.Second)) {
		t.Errorf("recorded profile %+v", p)
	}
	var prof map[string]any
	if err := json.Unmarshal(p.Profile, &prof); err != nil || prof["chargingProfileKind"] != "Absolute" ||
		prof["chargingSchedule"].(map[string]any)["chargingSchedulePeriod"].([]any)[0].(map[string]any)["limit"] != float64(10) {
		t.Errorf("profile as sent %s", p.Profile)
	}
	// The viewer-readable raw JSON carries transactionId as null.
	if !strings.Contains(string(e.admin("GET", "/chargers/CP1/charging-profiles", "").Body), `"transactionId":null`) {
		t.Error("transactionId is not null for a TxDefaultProfile")
	}

	// The composite schedule shows the limit; connector 2 is not limited.
	c := e.composite("/chargers/CP1/connectors/1/composite-schedule?duration=3600&unit=A")
	if c.Status != "Accepted" || c.ConnectorID != 1 || c.ScheduleStart.IsZero() || c.ChargingSchedule.ChargingRateUnit != "A" ||
		len(c.ChargingSchedule.ChargingSchedulePeriod) != 1 || c.ChargingSchedule.ChargingSchedulePeriod[0].Limit != 10 {
		t.Errorf("composite schedule %+v", c)
	}
	if c := e.composite("/chargers/CP1/connectors/2/composite-schedule"); c.ChargingSchedule.ChargingSchedulePeriod[0].Limit != 32 {
		t.Errorf("connector 2's composite schedule %+v", c)
	}
	// In watts: 10 A on 3 phases of 230 V.
	if c := e.composite("/chargers/CP1/connectors/1/composite-schedule?unit=W"); c.ChargingSchedule.ChargingRateUnit != "W" ||
		c.ChargingSchedule.ChargingSchedulePeriod[0].Limit < 6000 {
		t.Errorf("composite schedule in W %+v", c)
	}

	// More profiles, of each purpose and kind.
	e.ok(200, "POST", "/chargers/CP1/charging-profiles", profileBody(0, 2, "ChargePointMaxProfile", "Absolute", 0, 22000, "W"))
	e.ok(200, "POST", "/chargers/CP1/charging-profiles", profileBody(2, 3, "TxDefaultProfile", "Recurring", 1, 16, "A"))
	e.ok(200, "POST", "/chargers/CP1/charging-profiles", profileBody(1, 4, "TxDefaultProfile", "Absolute", 2, 8, "A"))
	if got := e.profiles("CP1").ids(); got != "2,1,4,3" {
		t.Errorf("profiles %s, want 2,1,4,3 (by connector, purpose, stack level)", got)
	}
	// The same connector, purpose and stack level replace a profile, as
	// on the charger.
	e.ok(200, "POST", "/chargers/CP1/charging-profiles", profileBody(1, 5, "TxDefaultProfile", "Absolute", 2, 6, "A"))
	if got := e.profiles("CP1").ids(); got != "2,1,5,3" {
		t.Errorf("profiles after a replacement %s", got)
	}
	if c := e.composite("/chargers/CP1/connectors/1/composite-schedule"); c.ChargingSchedule.ChargingSchedulePeriod[0].Limit != 6 {
		t.Errorf("composite schedule with stack level 2 at 6 A %+v", c)
	}

	// Refused by the charger (stack level above its
	// ChargeProfileMaxStackLevel): nothing recorded.
	p2 := wantProblem(t, e.admin("POST", "/chargers/CP1/charging-profiles", profileBody(1, 9, "TxDefaultProfile", "Relative", 11, 6, "A")), 409, api.KindCommandRejected, "-")
	if a, _ := p2["answer"].(map[string]any); a["status"] != "Rejected" || !strings.Contains(p2["detail"].(string), "Rejected") {
		t.Errorf("problem %v", p2)
	}
	if got := e.profiles("CP1").ids(); got != "2,1,5,3" {
		t.Errorf("profiles after a rejection %s", got)
	}

	// Clear by id.
	var clr api.ClearProfilesAnswer
	e.ok(200, "DELETE", "/chargers/CP1/charging-profiles?id=5", "").decode(t, &clr)
	if clr.Status != "Accepted" || clr.Cleared != 1 {
		t.Errorf("clear by id %+v", clr)
	}
	if got := e.profiles("CP1").ids(); got != "2,1,3" {
		t.Errorf("profiles after clearing 5: %s", got)
	}
	// Clear by purpose (and connector).
	e.ok(200, "DELETE", "/chargers/CP1/charging-profiles?purpose=TxDefaultProfile&connectorId=1", "").decode(t, &clr)
	if clr.Status != "Accepted" || clr.Cleared != 1 {
		t.Errorf("clear by purpose and connector %+v", clr)
	}
	e.ok(200, "DELETE", "/chargers/CP1/charging-profiles?purpose=TxDefaultProfile", "").decode(t, &clr)
	if clr.Status != "Accepted" || clr.Cleared != 1 {
		t.Errorf("clear by purpose %+v", clr)
	}
	if got := e.profiles("CP1").ids(); got != "2" {
		t.Errorf("profiles after clearing the defaults: %s", got)
	}
	if c := e.composite("/chargers/CP1/connectors/1/composite-schedule"); c.ChargingSchedule.ChargingSchedulePeriod[0].Limit != 31.8 {
		// 22 kW on 3 × 230 V is 31.88 A, rounded down to 0.1.
		t.Errorf("composite schedule under the 22 kW maximum %+v", c)
	}
	// The charger has none matching: Unknown, and a stale record that
	// matched goes too.
	if err := e.st.PutChargingProfile(context.Background(), store.ChargingProfileRecord{
		ChargerID: "CP1", ConnectorID: 1, ProfileID: 77, Purpose: "TxDefaultProfile", StackLevel: 3,
		Profile: json.RawMessage(`{}`), Source: "operator", SetAt: time.Now(),
	}); err != nil {
		t.Fatal(err)
	}
	e.ok(200, "DELETE", "/chargers/CP1/charging-profiles?id=77", "").decode(t, &clr)
	if clr.Status != "Unknown" || clr.Cleared != 0 {
		t.Errorf("clear of a profile the charger does not have %+v", clr)
	}
	if got := e.profiles("CP1").ids(); got != "2" {
		t.Errorf("profiles after clearing a stale one: %s", got)
	}
	// Without filters, everything.
	e.ok(200, "DELETE", "/chargers/CP1/charging-profiles", "").decode(t, &clr)
	if clr.Status != "Accepted" || clr.Cleared != 1 || len(e.profiles("CP1").Profiles) != 0 {
		t.Errorf("clear all %+v", clr)
	}

	// The charger rejects a composite schedule for a connector it lacks.
	p2 = wantProblem(t, e.admin("GET", "/chargers/CP1/connectors/9/composite-schedule", ""), 409, api.KindCommandRejected, "-")
	if a, _ := p2["answer"].(map[string]any); a["status"] != "Rejected" {
		t.Errorf("problem %v", p2)
	}
}

// TestTxProfile sets a TxProfile on a running transaction, with the
// transaction filled in or named.
func TestTxProfile(t *testing.T) {
	e := newEnv(t, nil)
	e.ok(201, "PUT", "/id-tags/DRIVER-1", `{"status":"Accepted"}`)
	cp := e.chargePoint("CP1")

	// No transaction yet.
	wantProblem(t, e.admin("POST", "/chargers/CP1/charging-profiles", profileBody(1, 1, "TxProfile", "Relative", 0, 6, "A")), 409, api.KindNoActiveTransaction, "connectorId")
	if l := e.profiles("CP1"); len(l.Profiles) != 0 {
		t.Fatalf("profiles %+v", l)
	}

	cp.Plug(1)
	cp.PresentTag(1, "DRIVER-1")
	var txID int64
	eventually(t, "the transaction", func() bool {
		active := true
		txs, err := e.st.ListTransactions(context.Background(), store.TxFilter{ChargerID: "CP1", Active: &active, Limit: 10})
		if err != nil || len(txs) == 0 {
			return false
		}
		txID = txs[0].ID
		// The store has it before the charger has read the answer.
		id, ok := cp.Transaction(1)
		return ok && int64(id) == txID
	})
	e.ok(200, "POST", "/chargers/CP1/charging-profiles", profileBody(1, 1, "TxProfile", "Relative", 0, 6, "A"))
	l := e.profiles("CP1")
	if len(l.Profiles) != 1 || l.Profiles[0].TransactionID == nil || *l.Profiles[0].TransactionID != txID ||
		!strings.Contains(string(l.Profiles[0].Profile), fmt.Sprintf(`"transactionId":%d`, txID)) {
		t.Fatalf("TxProfile %+v, want transaction %d", l, txID)
	}
	if c := e.composite("/chargers/CP1/connectors/1/composite-schedule"); c.limitAt(1) != 6 {
		t.Errorf("composite schedule %+v", c)
	}
	// Named: it must run on that connector.
	withTx := func(connector, tx int) string {
		return strings.Replace(profileBody(connector, 2, "TxProfile", "Relative", 1, 7, "A"), `"stackLevel"`, fmt.Sprintf(`"transactionId":%d,"stackLevel"`, tx), 1)
	}
	wantProblem(t, e.admin("POST", "/chargers/CP1/charging-profiles", withTx(2, int(txID))), 409, api.KindConflict, "csChargingProfiles.transactionId")
	e.ok(200, "POST", "/chargers/CP1/charging-profiles", withTx(1, int(txID)))
	if got := e.profiles("CP1").ids(); got != "1,2" {
		t.Errorf("profiles %s", got)
	}

	// When the transaction ends the charger drops its TxProfiles, and
	// the list leaves them out.
	cp.PresentTag(1, "DRIVER-1")
	eventually(t, "the transaction to stop", func() bool {
		tx, err := e.st.GetTransaction(context.Background(), txID)
		return err == nil && !tx.Active()
	})
	if l := e.profiles("CP1"); len(l.Profiles) != 0 {
		t.Errorf("TxProfiles of a stopped transaction are listed: %+v", l)
	}
	wantProblem(t, e.admin("POST", "/chargers/CP1/charging-profiles", withTx(1, int(txID))), 409, api.KindNoActiveTransaction, "csChargingProfiles.transactionId")
}

// TestChargingProfileErrors: invalid requests are refused before anything
// is sent, and the charger's refusals, errors and silence map as for the
// other commands.
func TestChargingProfileErrors(t *testing.T) {
	e := newEnv(t, func(c *api.Config) { c.CommandTimeout = 300 * time.Millisecond; c.ReservedStackLevel = 5 })
	ch := e.connect("CP1", answers{
		"SetChargingProfile":   `{"status":"Accepted"}`,
		"ClearChargingProfile": `{"status":"Accepted"}`,
		"GetCompositeSchedule": `{"status":"Accepted","connectorId":1,"scheduleStart":"2030-01-01T00:00:00Z","chargingSchedule":{"chargingRateUnit":"A","chargingSchedulePeriod":[]}}`,
	})
	valid := profileBody(1, 1, "TxDefaultProfile", "Relative", 0, 10, "A")
	for _, b := range []struct{ body, field string }{
		{``, ""},
		{`{`, ""},
		{`[]`, ""},
		{`{"connectorId":1}`, "csChargingProfiles"},
		{strings.Replace(valid, `"connectorId":1,`, ``, 1), "connectorId"},
		{strings.Replace(valid, `"limit":10`, `"limit":"10"`, 1), "csChargingProfiles.chargingSchedule.chargingSchedulePeriod[0].limit"},
		{strings.Replace(valid, `"limit":10`, `"limit":10.05`, 1), "csChargingProfiles.chargingSchedule.chargingSchedulePeriod[0].limit"},
		{strings.Replace(valid, `"TxDefaultProfile"`, `"TxDefault"`, 1), "csChargingProfiles.chargingProfilePurpose"},
		{strings.Replace(valid, `"Relative"`, `"Sometimes"`, 1), "csChargingProfiles.chargingProfileKind"},
		{strings.Replace(valid, `"connectorId":1,`, `"connectorId":1,"evse":1,`, 1), "evse"},
		{strings.Replace(valid, `"connectorId":1`, `"connectorId":-1`, 1), "connectorId"},
		{profileBody(1, 1, "ChargePointMaxProfile", "Relative", 0, 10, "A"), "connectorId"},
		{profileBody(0, 1, "TxProfile", "Relative", 0, 10, "A"), "connectorId"},
		{strings.Replace(valid, `"stackLevel"`, `"transactionId":3,"stackLevel"`, 1), "csChargingProfiles.transactionId"},
		{strings.Replace(valid, `"stackLevel":0`, `"stackLevel":-1`, 1), "csChargingProfiles.stackLevel"},
		{strings.Replace(profileBody(1, 1, "TxDefaultProfile", "Recurring", 0, 10, "A"), `,"recurrencyKind":"Daily"`, ``, 1), "csChargingProfiles.recurrencyKind"},
		{strings.Replace(valid, `"startPeriod":0`, `"startPeriod":60`, 1), "csChargingProfiles.chargingSchedule.chargingSchedulePeriod[0].startPeriod"},
		{strings.Replace(valid, `{"startPeriod":0,"limit":10}`, `{"startPeriod":0,"limit":10},{"startPeriod":0,"limit":8}`, 1),
			"csChargingProfiles.chargingSchedule.chargingSchedulePeriod[1].startPeriod"},
		{strings.Replace(valid, `"limit":10`, `"limit":-10`, 1), "csChargingProfiles.chargingSchedule.chargingSchedulePeriod[0].limit"},
		{strings.Replace(valid, `"limit":10`, `"limit":10,"numberPhases":4`, 1), "csChargingProfiles.chargingSchedule.chargingSchedulePeriod[0].numberPhases"},
		{strings.Replace(valid, `"chargingSchedulePeriod":[{"startPeriod":0,"limit":10}]`, `"chargingSchedulePeriod":[]`, 1), "csChargingProfiles.chargingSchedule.chargingSchedulePeriod"},
		{strings.Replace(valid, `"chargingRateUnit"`, `"duration":0,"chargingRateUnit"`, 1), "csChargingProfiles.chargingSchedule.duration"},
		{strings.Replace(valid, `"stackLevel"`, `"validFrom":"2030-01-02T00:00:00Z","validTo":"2030-01-01T00:00:00Z","stackLevel"`, 1), "csChargingProfiles.validTo"},
	} {
		wantProblem(t, e.admin("POST", "/chargers/CP1/charging-profiles", b.body), 400, api.KindInvalidPayload, b.field)
	}
	// The stack level smart charging keeps.
	p := wantProblem(t, e.admin("POST", "/chargers/CP1/charging-profiles", profileBody(1, 1, "TxDefaultProfile", "Relative", 5, 10, "A")),
		409, api.KindConflict, "csChargingProfiles.stackLevel")
	if p["detail"] != "stack level 5 is reserved for smart charging" {
		t.Errorf("problem %v", p)
	}
	// A TxProfile without a running transaction.
	wantProblem(t, e.admin("POST", "/chargers/CP1/charging-profiles", profileBody(1, 1, "TxProfile", "Relative", 0, 10, "A")), 409, api.KindNoActiveTransaction, "connectorId")
	if n := len(ch.callsOf("SetChargingProfile")); n != 0 {
		t.Fatalf("the charger got %d SetChargingProfile calls for invalid requests", n)
	}

	// Bad query values of DELETE and the composite schedule.
	for _, q := range []struct{ query, field string }{
		{"id=x", "id"}, {"id=1&id=2", "id"}, {"id=9999999999", "id"}, {"connectorId=-1", "connectorId"}, {"stackLevel=-1", "stackLevel"},
		{"purpose=Foo", "purpose"}, {"id=1&purpose=TxProfile", "id"}, {"id=1&connectorId=1", "id"},
	} {
		wantProblem(t, e.admin("DELETE", "/chargers/CP1/charging-profiles?"+q.query, ""), 400, api.KindInvalidRequest, q.field)
	}
	for _, q := range []struct{ path, field string }{
		{"/chargers/CP1/connectors/1/composite-schedule?duration=0", "duration"},
		{"/chargers/CP1/connectors/1/composite-schedule?duration=604801", "duration"},
		{"/chargers/CP1/connectors/1/composite-schedule?duration=1h", "duration"},
		{"/chargers/CP1/connectors/1/composite-schedule?unit=kW", "unit"},
		{"/chargers/CP1/connectors/-1/composite-schedule", "connectorId"},
		{"/chargers/CP1/connectors/x/composite-schedule", "connectorId"},
	} {
		wantProblem(t, e.admin("GET", q.path, ""), 400, api.KindInvalidRequest, q.field)
	}
	if n := len(ch.callsOf("ClearChargingProfile")) + len(ch.callsOf("GetCompositeSchedule")); n != 0 {
		t.Fatalf("the charger got %d calls for invalid requests", n)
	}

	// What is sent.
	e.ok(200, "POST", "/chargers/CP1/charging-profiles", valid)
	e.ok(200, "DELETE", "/chargers/CP1/charging-profiles?connectorId=1&purpose=TxDefaultProfile&stackLevel=0", "")
	e.ok(200, "GET", "/chargers/CP1/connectors/1/composite-schedule", "")
	e.ok(200, "GET", "/chargers/CP1/connectors/0/composite-schedule?duration=604800&unit=W", "")
	sets, clears, comps := ch.callsOf("SetChargingProfile"), ch.callsOf("ClearChargingProfile"), ch.callsOf("GetCompositeSchedule")
	if len(sets) != 1 || len(clears) != 1 || len(comps) != 2 {
		t.Fatalf("calls: %d set, %d clear, %d composite", len(sets), len(clears), len(comps))
	}
	var sent, want any
	_ = json.Unmarshal(sets[0].Payload, &sent)
	_ = json.Unmarshal([]byte(valid), &want)
	if fmt.Sprint(sent) != fmt.Sprint(want) {
		t.Errorf("SetChargingProfile sent %s, want %s", sets[0].Payload, valid)
	}
	if got := string(clears[0].Payload); got != `{"connectorId":1,"chargingProfilePurpose":"TxDefaultProfile","stackLevel":0}` {
		t.Errorf("ClearChargingProfile sent %s", got)
	}
	if got := string(comps[0].Payload); got != `{"connectorId":1,"duration":86400}` {
		t.Errorf("GetCompositeSchedule sent %s", got)
	}
	if got := string(comps[1].Payload); got != `{"connectorId":0,"duration":604800,"chargingRateUnit":"W"}` {
		t.Errorf("GetCompositeSchedule sent %s", got)
	}
	// A composite schedule without periods passes through as is: no
	// profile limits the connector.
	if body := strings.TrimSpace(string(e.ok(200, "GET", "/chargers/CP1/connectors/1/composite-schedule", "").Body)); body !=
		`{"status":"Accepted","connectorId":1,"scheduleStart":"2030-01-01T00:00:00Z","chargingSchedule":{"chargingRateUnit":"A","chargingSchedulePeriod":[]}}` {
		t.Errorf("composite schedule %s", body)
	}

	// The charger says no in other ways.
	e.connect("NOPE", answers{
		"SetChargingProfile":   `{"status":"NotSupported"}`,
		"ClearChargingProfile": &ocpp.Error{Code: ocpp.NotSupported, Description: "no smart charging"},
		"GetCompositeSchedule": `{"status":"Rejected"}`,
	})
	p = wantProblem(t, e.admin("POST", "/chargers/NOPE/charging-profiles", valid), 409, api.KindCommandRejected, "-")
	if a, _ := p["answer"].(map[string]any); a["status"] != "NotSupported" || !strings.Contains(p["detail"].(string), "NotSupported") {
		t.Errorf("problem %v", p)
	}
	if l := e.profiles("NOPE"); len(l.Profiles) != 0 {
		t.Errorf("a refused profile was recorded: %+v", l)
	}
	p = wantProblem(t, e.admin("DELETE", "/chargers/NOPE/charging-profiles", ""), 502, api.KindChargerError, "-")
	if p["errorCode"] != "NotSupported" {
		t.Errorf("problem %v", p)
	}
	wantProblem(t, e.admin("GET", "/chargers/NOPE/connectors/1/composite-schedule", ""), 409, api.KindCommandRejected, "-")

	e.connect("SLOW", answers{"SetChargingProfile": block, "ClearChargingProfile": block, "GetCompositeSchedule": block})
	wantProblem(t, e.admin("POST", "/chargers/SLOW/charging-profiles", valid), 504, api.KindChargerTimeout, "-")
	wantProblem(t, e.admin("DELETE", "/chargers/SLOW/charging-profiles?id=1", ""), 504, api.KindChargerTimeout, "-")
	wantProblem(t, e.admin("GET", "/chargers/SLOW/connectors/1/composite-schedule", ""), 504, api.KindChargerTimeout, "-")
	if l := e.profiles("SLOW"); len(l.Profiles) != 0 {
		t.Errorf("an unanswered profile was recorded: %+v", l)
	}

	e.register("OFF")
	wantProblem(t, e.admin("POST", "/chargers/OFF/charging-profiles", valid), 409, api.KindNotConnected, "-")
	wantProblem(t, e.admin("DELETE", "/chargers/OFF/charging-profiles", ""), 409, api.KindNotConnected, "-")
	wantProblem(t, e.admin("GET", "/chargers/OFF/connectors/1/composite-schedule", ""), 409, api.KindNotConnected, "-")
	for _, rq := range [][2]string{{"GET", "/chargers/GONE/charging-profiles"}, {"POST", "/chargers/GONE/charging-profiles"},
		{"DELETE", "/chargers/GONE/charging-profiles"}, {"GET", "/chargers/GONE/connectors/1/composite-schedule"}} {
		body := ""
		if rq[0] == "POST" {
			body = valid
		}
		wantProblem(t, e.admin(rq[0], rq[1], body), 404, api.KindNotFound, "-")
	}
}

// TestChargingProfileRoles: viewers read, operators change.
func TestChargingProfileRoles(t *testing.T) {
	e := newEnv(t, nil)
	e.chargePoint("CP1")
	token := func(role string) string {
		var tok struct {
			Token string `json:"token"`
		}
		e.ok(http.StatusCreated, "POST", "/tokens", fmt.Sprintf(`{"name":%q,"role":%q}`, role, role)).decode(t, &tok)
		return tok.Token
	}
	viewer, operator := token("viewer"), token("operator")
	body := profileBody(1, 1, "TxDefaultProfile", "Absolute", 0, 10, "A")

	wantProblem(t, e.do("POST", "/chargers/CP1/charging-profiles", viewer, body), 403, api.KindForbidden, "-")
	wantProblem(t, e.do("DELETE", "/chargers/CP1/charging-profiles", viewer, ""), 403, api.KindForbidden, "-")
	wantProblem(t, e.do("GET", "/chargers/CP1/charging-profiles", "", ""), 401, api.KindUnauthorized, "-")
	if l := e.profiles("CP1"); len(l.Profiles) != 0 {
		t.Fatalf("a viewer's profile was set: %+v", l)
	}
	if r := e.do("POST", "/chargers/CP1/charging-profiles", operator, body); r.Status != 200 {
		t.Fatalf("operator set: %d %s", r.Status, r.Body)
	}
	if r := e.do("GET", "/chargers/CP1/charging-profiles", viewer, ""); r.Status != 200 || !strings.Contains(string(r.Body), `"chargingProfileId":1`) {
		t.Errorf("viewer list: %d %s", r.Status, r.Body)
	}
	if r := e.do("GET", "/chargers/CP1/connectors/1/composite-schedule", viewer, ""); r.Status != 200 || !strings.Contains(string(r.Body), `"limit":10`) {
		t.Errorf("viewer composite schedule: %d %s", r.Status, r.Body)
	}
	if r := e.do("DELETE", "/chargers/CP1/charging-profiles?id=1", operator, ""); r.Status != 200 || !strings.Contains(string(r.Body), `"cleared":1`) {
		t.Errorf("operator clear: %d %s", r.Status, r.Body)
	}
}
