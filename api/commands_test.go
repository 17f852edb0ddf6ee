package api_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/wattson-csms/wattson/api"
	"github.com/wattson-csms/wattson/ocpp"
	"github.com/wattson-csms/wattson/ocpp/v16"
)

func TestOCPPCommand(t *testing.T) {
	e := newEnv(t, func(c *api.Config) { c.CommandTimeout = 300 * time.Millisecond })
	e.connect("CP1", answers{
		"Reset":              `{"status":"Accepted"}`,
		"ChangeAvailability": &ocpp.Error{Code: ocpp.GenericError, Description: "busy charging", Details: []byte(`{"retryAfter":60}`)},
		"UnlockConnector":    `{"status":"Maybe"}`,
		"ClearCache":         &ocpp.Error{Code: ocpp.NotSupported, Description: "no cache"},
	})
	e.connect("SLOW", answers{"Reset": block})
	e.register("OFF")

	r := e.ok(200, "POST", "/chargers/CP1/ocpp/Reset", `{"type":"Soft"}`)
	if strings.TrimSpace(string(r.Body)) != `{"status":"Accepted"}` || r.Header.Get("Content-Type") != "application/json" {
		t.Errorf("Reset answer %q %q", r.Body, r.Header.Get("Content-Type"))
	}

	// Refused before anything is sent.
	wantProblem(t, e.admin("POST", "/chargers/CP1/ocpp/Reset", `{"type":"Medium"}`), 400, api.KindInvalidPayload, "type")
	wantProblem(t, e.admin("POST", "/chargers/CP1/ocpp/Reset", `{}`), 400, api.KindInvalidPayload, "type")
	wantProblem(t, e.admin("POST", "/chargers/CP1/ocpp/Reset", `{"type":"Soft","when":"now"}`), 400, api.KindInvalidPayload, "when")
	wantProblem(t, e.admin("POST", "/chargers/CP1/ocpp/Reset", `{"type":`), 400, api.KindInvalidPayload, "")
	wantProblem(t, e.admin("POST", "/chargers/CP1/ocpp/ChangeConfiguration", `{"key":"HeartbeatInterval","value":`+fmt.Sprintf("%q", strings.Repeat("9", 501))+`}`),
		400, api.KindInvalidPayload, "value")
	wantProblem(t, e.admin("POST", "/chargers/CP1/ocpp/SendLocalList", `{"listVersion":1,"updateType":"Full","localAuthorizationList":[{"idTag":"A","idTagInfo":{"status":"Nope"}}]}`),
		400, api.KindInvalidPayload, "localAuthorizationList[0].idTagInfo.status")
	if n := len(e.svc.ConnectedIDs()); n != 2 {
		t.Errorf("%d connected", n)
	}
	wantProblem(t, e.admin("POST", "/chargers/CP1/ocpp/Frobnicate", `{}`), 404, api.KindUnknownAction, "-")
	wantProblem(t, e.admin("POST", "/chargers/CP1/ocpp/reset", `{"type":"Soft"}`), 404, api.KindUnknownAction, "-")
	wantProblem(t, e.admin("POST", "/chargers/CP1/ocpp/BootNotification", `{}`), 404, api.KindUnknownAction, "-")
	wantProblem(t, e.admin("POST", "/chargers/NOPE/ocpp/Reset", `{"type":"Soft"}`), 404, api.KindNotFound, "-")

	start := time.Now()
	wantProblem(t, e.admin("POST", "/chargers/OFF/ocpp/Reset", `{"type":"Soft"}`), 409, api.KindNotConnected, "-")
	if d := time.Since(start); d > 250*time.Millisecond {
		t.Errorf("not connected took %v", d)
	}

	// The charger's CALLERROR.
	p := wantProblem(t, e.admin("POST", "/chargers/CP1/ocpp/ChangeAvailability", `{"connectorId":1,"type":"Inoperative"}`), 502, api.KindChargerError, "-")
	if p["errorCode"] != "GenericError" || p["errorDescription"] != "busy charging" {
		t.Errorf("problem %v", p)
	}
	if d, _ := p["errorDetails"].(map[string]any); d["retryAfter"] != float64(60) {
		t.Errorf("errorDetails %v", p["errorDetails"])
	}
	p = wantProblem(t, e.admin("POST", "/chargers/CP1/ocpp/ClearCache", ``), 502, api.KindChargerError, "-")
	if p["errorCode"] != "NotSupported" || p["errorDetails"] == nil {
		t.Errorf("problem %v", p)
	}
	// An answer that breaks the schema.
	p = wantProblem(t, e.admin("POST", "/chargers/CP1/ocpp/UnlockConnector", `{"connectorId":1}`), 502, api.KindInvalidResponse, "-")
	if a, _ := p["answer"].(map[string]any); a["status"] != "Maybe" {
		t.Errorf("problem %v", p)
	}
	// No answer in time.
	start = time.Now()
	wantProblem(t, e.admin("POST", "/chargers/SLOW/ocpp/Reset", `{"type":"Hard"}`), 504, api.KindChargerTimeout, "-")
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("timeout took %v", d)
	}
}

const txProfile = `{"chargingProfileId":1,"stackLevel":1,"chargingProfilePurpose":"TxProfile","chargingProfileKind":"Relative","chargingSchedule":{"chargingRateUnit":"A","chargingSchedulePeriod":[{"startPeriod":0,"limit":16}]}}`

func TestStartStopErrors(t *testing.T) {
	e := newEnv(t, nil)
	ch := e.connect("CP1", answers{
		"RemoteStartTransaction": `{"status":"Rejected"}`,
		"RemoteStopTransaction":  `{"status":"Rejected"}`,
	})
	for _, b := range []struct{ body, field string }{
		{`{}`, "idTag"},
		{`{"idTag":"` + strings.Repeat("x", 21) + `"}`, "idTag"},
		{`{"idTag":"A","connectorId":0}`, "connectorId"},
		{`{"idTag":"A","connectorId":"1"}`, "connectorId"},
		{`{"idTag":"A","chargingProfile":` + strings.Replace(txProfile, `"TxProfile"`, `"TxDefaultProfile"`, 1) + `}`, "chargingProfile.chargingProfilePurpose"},
		{`{"idTag":"A","chargingProfile":` + strings.Replace(txProfile, `"stackLevel":1,`, ``, 1) + `}`, "chargingProfile.stackLevel"},
		{`{"idTag":"A","chargingProfile":` + strings.Replace(txProfile, `"limit":16`, `"limit":"16"`, 1) + `}`, "chargingProfile.chargingSchedule.chargingSchedulePeriod[0].limit"},
		{`{"idTag":"A","chargingProfile":[]}`, "chargingProfile"},
		{`{"idTag":"A","evse":1}`, "evse"},
	} {
		wantProblem(t, e.admin("POST", "/chargers/CP1/start", b.body), 400, api.KindInvalidPayload, b.field)
	}
	p := wantProblem(t, e.admin("POST", "/chargers/CP1/start", `{"idTag":"A","connectorId":1}`), 409, api.KindCommandRejected, "-")
	if a, _ := p["answer"].(map[string]any); a["status"] != "Rejected" {
		t.Errorf("problem %v", p)
	}

	for _, b := range []struct{ body, field string }{
		{`{}`, "transactionId"},
		{`{"transactionId":1,"connectorId":1}`, "connectorId"},
		{`{"transactionId":0}`, "transactionId"},
		{`{"transactionId":4294967296}`, "transactionId"},
		{`{"connectorId":0}`, "connectorId"},
	} {
		wantProblem(t, e.admin("POST", "/chargers/CP1/stop", b.body), 400, api.KindInvalidPayload, b.field)
	}
	wantProblem(t, e.admin("POST", "/chargers/CP1/stop", `{"connectorId":1}`), 409, api.KindNoActiveTransaction, "connectorId")
	wantProblem(t, e.admin("POST", "/chargers/NOPE/stop", `{"connectorId":1}`), 404, api.KindNotFound, "-")
	// A transaction the store does not know is still sent: the charger
	// may have started it offline.
	wantProblem(t, e.admin("POST", "/chargers/CP1/stop", `{"transactionId":77}`), 409, api.KindCommandRejected, "-")
	if n := len(ch.callsOf("RemoteStartTransaction")) + len(ch.callsOf("RemoteStopTransaction")); n != 2 {
		t.Errorf("the charger got %d calls, want 2 (one start, one stop)", n)
	}
	e.register("OFF")
	wantProblem(t, e.admin("POST", "/chargers/OFF/start", `{"idTag":"A"}`), 409, api.KindNotConnected, "-")
}

// TestFullSession runs a whole remote session: the API starts it with a
// charging profile, the charger reports it like a real one, the API stops
// it, and the transaction list shows the energy and the reason.
func TestFullSession(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	e.ok(201, "PUT", "/id-tags/DRIVER-1", `{"status":"Accepted"}`)
	ch := e.connect("CP1", answers{
		"RemoteStartTransaction": `{"status":"Accepted"}`,
		"RemoteStopTransaction":  `{"status":"Accepted"}`,
	})
	ch.status(1, v16.ChargePointStatusAvailable)

	// Live events for the charger, to see the session happen.
	stream := e.events(t, "CP1")

	r := e.ok(200, "POST", "/chargers/CP1/start", `{"connectorId":1,"idTag":"DRIVER-1","chargingProfile":`+txProfile+`}`)
	if strings.TrimSpace(string(r.Body)) != `{"status":"Accepted"}` {
		t.Errorf("start answer %s", r.Body)
	}
	starts := ch.callsOf("RemoteStartTransaction")
	if len(starts) != 1 {
		t.Fatalf("RemoteStartTransaction calls %d", len(starts))
	}
	var got v16.RemoteStartTransactionRequest
	if err := got.UnmarshalOCPP(starts[0].Payload); err != nil {
		t.Fatal(err)
	}
	if got.IDTag != "DRIVER-1" || got.ConnectorID == nil || *got.ConnectorID != 1 || got.ChargingProfile == nil ||
		got.ChargingProfile.ChargingProfilePurpose != v16.ChargingProfilePurposeTxProfile ||
		len(got.ChargingProfile.ChargingSchedule.ChargingSchedulePeriod) != 1 || got.ChargingProfile.ChargingSchedule.ChargingSchedulePeriod[0].Limit != 16 {
		t.Errorf("the charger got %s", starts[0].Payload)
	}

	// The charger does what a real one does.
	t0 := time.Now().UTC().Truncate(time.Second)
	ch.status(1, v16.ChargePointStatusPreparing)
	st, err := v16.CallStartTransaction(ctx, ch.conn, &v16.StartTransactionRequest{ConnectorID: 1, IDTag: "DRIVER-1", MeterStart: 10000, Timestamp: t0})
	if err != nil || st.IDTagInfo.Status != v16.AuthorizationStatusAccepted {
		t.Fatalf("StartTransaction: %+v %v", st, err)
	}
	ch.status(1, v16.ChargePointStatusCharging)
	txID := st.TransactionID
	for i, wh := range []string{"10500", "11200"} {
		if _, err := v16.CallMeterValues(ctx, ch.conn, &v16.MeterValuesRequest{ConnectorID: 1, TransactionID: &txID, MeterValue: []v16.MeterValue{{
			Timestamp: t0.Add(time.Duration(i+1) * time.Minute),
			SampledValue: []v16.SampledValue{
				{Value: wh, Measurand: v16.MeasurandEnergyActiveImportRegister, Unit: v16.UnitOfMeasureWh},
				{Value: "16.0", Measurand: "Current.Import", Unit: "A", Phase: "L1"},
			},
		}}}); err != nil {
			t.Fatal(err)
		}
	}
	stream.want(t, "connector.status", `"status":"Charging"`)
	stream.want(t, "meter.values", `"value":"11200"`)

	var tx struct {
		Items []map[string]any `json:"items"`
	}
	e.ok(200, "GET", "/transactions?chargerId=CP1&active=true", "").decode(t, &tx)
	if len(tx.Items) != 1 || tx.Items[0]["id"] != float64(txID) || tx.Items[0]["stoppedAt"] != nil {
		t.Fatalf("active transactions %+v", tx)
	}

	// Stop by connector: the API finds the transaction.
	r = e.ok(200, "POST", "/chargers/CP1/stop", `{"connectorId":1}`)
	if strings.TrimSpace(string(r.Body)) != `{"status":"Accepted"}` {
		t.Errorf("stop answer %s", r.Body)
	}
	stops := ch.callsOf("RemoteStopTransaction")
	if len(stops) != 1 || string(stops[0].Payload) != fmt.Sprintf(`{"transactionId":%d}`, txID) {
		t.Fatalf("RemoteStopTransaction calls %+v", stops)
	}
	if _, err := v16.CallStopTransaction(ctx, ch.conn, &v16.StopTransactionRequest{TransactionID: txID, IDTag: "DRIVER-1", MeterStop: 11600,
		Timestamp: t0.Add(3 * time.Minute), Reason: v16.ReasonRemote}); err != nil {
		t.Fatal(err)
	}
	ch.status(1, v16.ChargePointStatusFinishing)
	ch.status(1, v16.ChargePointStatusAvailable)
	stream.want(t, "transaction.stopped", `"stopReason":"Remote"`)
	stream.want(t, "connector.status", `"status":"Available"`)

	e.ok(200, "GET", "/transactions?chargerId=CP1", "").decode(t, &tx)
	if len(tx.Items) != 1 {
		t.Fatalf("transactions %+v", tx)
	}
	got2 := tx.Items[0]
	for k, want := range map[string]any{"id": float64(txID), "chargerId": "CP1", "connectorId": float64(1), "idTag": "DRIVER-1",
		"meterStart": float64(10000), "meterStop": float64(11600), "energy": float64(1600), "stopReason": "Remote",
		"startedAt": t0.Format(time.RFC3339), "stoppedAt": t0.Add(3 * time.Minute).Format(time.RFC3339)} {
		if got2[k] != want {
			t.Errorf("transaction %s = %v, want %v", k, got2[k], want)
		}
	}
	var detail api.TransactionDetailJSON
	e.ok(200, "GET", fmt.Sprintf("/transactions/%d", txID), "").decode(t, &detail)
	if len(detail.MeterValues) != 4 || detail.Energy != 1600 {
		t.Errorf("transaction detail %+v", detail)
	}
	var conns struct {
		Items []map[string]any `json:"items"`
	}
	e.ok(200, "GET", "/chargers/CP1/connectors/1/history", "").decode(t, &conns)
	var seq []string
	for i := len(conns.Items) - 1; i >= 0; i-- {
		seq = append(seq, conns.Items[i]["status"].(string))
	}
	if strings.Join(seq, ",") != "Available,Preparing,Charging,Finishing,Available" {
		t.Errorf("status history %v", seq)
	}
	// Stopping again: the transaction is over.
	wantProblem(t, e.admin("POST", "/chargers/CP1/stop", fmt.Sprintf(`{"transactionId":%d}`, txID)), 409, api.KindNoActiveTransaction, "transactionId")
	stream.close()
}

// eventStream reads an SSE response line by line.
type eventStream struct {
	cancel context.CancelFunc
	res    *http.Response
	events chan [2]string // event, data
	done   chan struct{}
}

// events opens GET /events for a charger ("" for all) and waits until the
// subscription is live.
func (e *env) events(t *testing.T, chargerID string) *eventStream {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, err := http.NewRequestWithContext(ctx, "GET", e.base+"/events?chargerId="+chargerID, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+adminToken)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	if res.StatusCode != 200 || res.Header.Get("Content-Type") != "text/event-stream" {
		cancel()
		res.Body.Close()
		t.Fatalf("events: %d %s", res.StatusCode, res.Header.Get("Content-Type"))
	}
	s := &eventStream{cancel: cancel, res: res, events: make(chan [2]string, 100), done: make(chan struct{})}
	ready := make(chan struct{})
	go func() {
		defer close(s.done)
		defer close(s.events)
		sc := bufio.NewScanner(res.Body)
		var ev, data string
		for sc.Scan() {
			line := sc.Text()
			switch {
			case line == ": subscribed":
				close(ready)
			case line == ": ping":
				s.events <- [2]string{"ping", ""}
			case strings.HasPrefix(line, "event: "):
				ev = strings.TrimPrefix(line, "event: ")
			case strings.HasPrefix(line, "data: "):
				data = strings.TrimPrefix(line, "data: ")
			case line == "" && ev != "":
				s.events <- [2]string{ev, data}
				ev, data = "", ""
			}
		}
	}()
	t.Cleanup(s.close)
	select {
	case <-ready:
	case <-time.After(5 * time.Second):
		t.Fatal("the event stream did not start")
	}
	return s
}

// want reads events until one of the type whose data contains substr.
func (s *eventStream) want(t *testing.T, typ, substr string) map[string]any {
	t.Helper()
	timeout := time.After(5 * time.Second)
	for {
		select {
		case ev, ok := <-s.events:
			if !ok {
				t.Fatalf("the stream ended before %s %s", typ, substr)
			}
			if ev[0] != typ || !strings.Contains(ev[1], substr) {
				continue
			}
			if typ == "ping" {
				return nil
			}
			var m map[string]any
			if err := json.Unmarshal([]byte(ev[1]), &m); err != nil {
				t.Fatalf("event data %q: %v", ev[1], err)
			}
			if m["type"] != typ {
				t.Errorf("event %q has type %v", typ, m["type"])
			}
			return m
		case <-timeout:
			t.Fatalf("no %s event with %s", typ, substr)
		}
	}
}

func (s *eventStream) close() {
	s.cancel()
	<-s.done
	s.res.Body.Close()
}
