package csms_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wattson-csms/wattson/csms"
	"github.com/wattson-csms/wattson/csms/csmstest"
	"github.com/wattson-csms/wattson/events"
	"github.com/wattson-csms/wattson/ocpp"
	"github.com/wattson-csms/wattson/ocpp/ocpptest"
	v16 "github.com/wattson-csms/wattson/ocpp/v16"
	"github.com/wattson-csms/wattson/store"
	"github.com/wattson-csms/wattson/store/postgres"
	"github.com/wattson-csms/wattson/store/postgres/pgtest"
)

// env is a central system on a real SQLite file and a real OCPP server on
// loopback.
type env struct {
	t   *testing.T
	st  store.Store
	svc *csms.Service
	srv *ocpp.Server
	url string
	bus *events.Bus
	ctx context.Context
}

// opener opens a fresh, empty store for a test.
type opener func(t testing.TB) store.Store

func openPostgres(t testing.TB) store.Store {
	st, err := postgres.Open(context.Background(), pgtest.SchemaURL(t))
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// forEachStore runs fn on SQLite and, when the test server is configured,
// on PostgreSQL.
func forEachStore(t *testing.T, fn func(t *testing.T, open opener)) {
	t.Run("sqlite", func(t *testing.T) { fn(t, csmstest.SQLite) })
	t.Run("postgres", func(t *testing.T) {
		pgtest.BaseURL(t)
		fn(t, openPostgres)
	})
}

func newEnv(t *testing.T, mod func(*csms.Config)) *env {
	return newEnvOn(t, csmstest.SQLite, mod)
}

// newEnvOn is a central system on the store open returns, with short
// intervals and an event bus the test can watch.
func newEnvOn(t *testing.T, open opener, mod func(*csms.Config)) *env {
	t.Helper()
	bus := &events.Bus{}
	c := csmstest.New(t, open, func(cfg *csms.Config) {
		cfg.Events, cfg.HeartbeatInterval, cfg.RetryInterval, cfg.SeenFlushInterval = bus, time.Minute, 30*time.Second, 50*time.Millisecond
		if mod != nil {
			mod(cfg)
		}
	})
	return &env{t: t, st: c.Store, svc: c.Service, srv: c.Server, url: c.URL, bus: bus, ctx: context.Background()}
}

// charger dials as id with a handler for the central system's calls.
func (e *env) charger(id string, r *v16.Router) *ocpp.Conn {
	e.t.Helper()
	var h ocpp.Handler
	if r != nil {
		h = r
	}
	c := ocpptest.Dial(e.t, e.url, id, h, ocpp.Options{})
	e.waitFor("registered "+id, func() bool { return e.svc.IsConnected(id) })
	return c
}

func (e *env) waitFor(what string, cond func() bool) {
	e.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			e.t.Fatalf("gave up waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func (e *env) accepted(id string) *ocpp.Conn {
	e.t.Helper()
	if _, err := e.st.PutCharger(e.ctx, store.Charger{ID: id, Registration: store.RegistrationAccepted}); err != nil {
		e.t.Fatal(err)
	}
	c := e.charger(id, nil)
	boot(e.t, c)
	return c
}

func boot(t *testing.T, c *ocpp.Conn) *v16.BootNotificationResponse {
	t.Helper()
	resp, err := v16.CallBootNotification(context.Background(), c, &v16.BootNotificationRequest{ChargePointVendor: "Wattson", ChargePointModel: "Test", FirmwareVersion: "1.0"})
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

func code(err error) ocpp.ErrorCode {
	if e, ok := ocpp.AsError(err); ok {
		return e.Code
	}
	return ""
}

func TestRegistrationPolicies(t *testing.T) {
	t.Run("pending until approved", func(t *testing.T) {
		e := newEnv(t, nil)
		c := e.charger("CP1", nil)
		resp := boot(t, c)
		if resp.Status != v16.RegistrationStatusPending || resp.Interval != 30 {
			t.Fatalf("first boot: %+v", resp)
		}
		ch, err := e.st.GetCharger(e.ctx, "CP1")
		if err != nil || ch.Registration != store.RegistrationPending || ch.Vendor != "Wattson" || ch.FirmwareVersion != "1.0" {
			t.Fatalf("stored: %+v, %v", ch, err)
		}
		if _, err := v16.CallHeartbeat(e.ctx, c, &v16.HeartbeatRequest{}); err != nil {
			t.Fatalf("heartbeat while pending: %v", err)
		}
		_, err = v16.CallStatusNotification(e.ctx, c, &v16.StatusNotificationRequest{ConnectorID: 1, ErrorCode: v16.ChargePointErrorCodeNoError, Status: v16.ChargePointStatusAvailable})
		if code(err) != ocpp.SecurityError {
			t.Fatalf("status while pending: %v", err)
		}
		// The operator approves.
		if _, err := e.st.PutCharger(e.ctx, store.Charger{ID: "CP1", Registration: store.RegistrationAccepted}); err != nil {
			t.Fatal(err)
		}
		e.svc.SetRegistration("CP1", store.RegistrationAccepted)
		if resp := boot(t, c); resp.Status != v16.RegistrationStatusAccepted || resp.Interval != 60 {
			t.Fatalf("boot after approval: %+v", resp)
		}
		if _, err := v16.CallStatusNotification(e.ctx, c, &v16.StatusNotificationRequest{ConnectorID: 1, ErrorCode: v16.ChargePointErrorCodeNoError, Status: v16.ChargePointStatusAvailable}); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("approval of a connected charger asks it to boot", func(t *testing.T) {
		e := newEnv(t, nil)
		triggered := make(chan v16.MessageTrigger, 1)
		r := &v16.Router{}
		r.HandleTriggerMessage(func(ctx context.Context, c *ocpp.Conn, req *v16.TriggerMessageRequest) (*v16.TriggerMessageResponse, error) {
			triggered <- req.RequestedMessage
			return &v16.TriggerMessageResponse{Status: v16.TriggerMessageStatusAccepted}, nil
		})
		c := e.charger("CP1", r)
		if resp := boot(t, c); resp.Status != v16.RegistrationStatusPending {
			t.Fatalf("%+v", resp)
		}
		e.svc.SetRegistration("CP1", store.RegistrationAccepted)
		select {
		case m := <-triggered:
			if m != v16.MessageTriggerBootNotification {
				t.Fatalf("triggered %s", m)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("approval did not trigger a boot")
		}
	})
	t.Run("accept", func(t *testing.T) {
		e := newEnv(t, func(c *csms.Config) { c.UnknownChargers = store.RegistrationAccepted })
		if resp := boot(t, e.charger("CP1", nil)); resp.Status != v16.RegistrationStatusAccepted {
			t.Fatalf("%+v", resp)
		}
	})
	t.Run("reject", func(t *testing.T) {
		e := newEnv(t, func(c *csms.Config) { c.UnknownChargers = store.RegistrationRejected })
		c := e.charger("CP1", nil)
		if resp := boot(t, c); resp.Status != v16.RegistrationStatusRejected {
			t.Fatalf("%+v", resp)
		}
		if _, err := v16.CallHeartbeat(e.ctx, c, &v16.HeartbeatRequest{}); code(err) != ocpp.SecurityError {
			t.Fatalf("heartbeat when rejected: %v", err)
		}
	})
	t.Run("unknown charger that does not boot is asked to", func(t *testing.T) {
		e := newEnv(t, nil)
		triggered := make(chan v16.MessageTrigger, 1)
		r := &v16.Router{}
		r.HandleTriggerMessage(func(ctx context.Context, c *ocpp.Conn, req *v16.TriggerMessageRequest) (*v16.TriggerMessageResponse, error) {
			triggered <- req.RequestedMessage
			return &v16.TriggerMessageResponse{Status: v16.TriggerMessageStatusAccepted}, nil
		})
		c := e.charger("CP1", r)
		if _, err := v16.CallHeartbeat(e.ctx, c, &v16.HeartbeatRequest{}); code(err) != ocpp.SecurityError {
			t.Fatalf("heartbeat from an unknown charger: %v", err)
		}
		select {
		case m := <-triggered:
			if m != v16.MessageTriggerBootNotification {
				t.Fatalf("triggered %s", m)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("no TriggerMessage(BootNotification)")
		}
	})
}

func TestAuthorize(t *testing.T) { forEachStore(t, testAuthorize) }

func testAuthorize(t *testing.T, open opener) {
	now := time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)
	e := newEnvOn(t, open, func(c *csms.Config) { c.Now = func() time.Time { return now } })
	past, future := now.Add(-time.Hour), now.Add(time.Hour)
	for _, tag := range []store.IDTag{
		{IDTag: "OK", Status: store.IDTagAccepted, ExpiryDate: &future, ParentIDTag: "FLEET"},
		{IDTag: "BLOCKED", Status: store.IDTagBlocked},
		{IDTag: "OLD", Status: store.IDTagAccepted, ExpiryDate: &past},
		{IDTag: "MARKED-EXPIRED", Status: store.IDTagExpired},
		{IDTag: "BUSY", Status: store.IDTagAccepted},
	} {
		if _, err := e.st.PutIDTag(e.ctx, tag); err != nil {
			t.Fatal(err)
		}
	}
	c := e.accepted("CP1")
	if _, err := v16.CallStartTransaction(e.ctx, c, &v16.StartTransactionRequest{ConnectorID: 2, IDTag: "BUSY", MeterStart: 0, Timestamp: now}); err != nil {
		t.Fatal(err)
	}
	for tag, want := range map[string]v16.AuthorizationStatus{
		"OK":             v16.AuthorizationStatusAccepted,
		"BLOCKED":        v16.AuthorizationStatusBlocked,
		"OLD":            v16.AuthorizationStatusExpired,
		"MARKED-EXPIRED": v16.AuthorizationStatusExpired,
		"NOBODY":         v16.AuthorizationStatusInvalid,
		"BUSY":           v16.AuthorizationStatusConcurrentTx,
	} {
		resp, err := v16.CallAuthorize(e.ctx, c, &v16.AuthorizeRequest{IDTag: tag})
		if err != nil {
			t.Fatal(err)
		}
		if resp.IDTagInfo.Status != want {
			t.Errorf("%s: %s, want %s", tag, resp.IDTagInfo.Status, want)
		}
		if tag == "OK" && (resp.IDTagInfo.ParentIDTag != "FLEET" || resp.IDTagInfo.ExpiryDate == nil || !resp.IDTagInfo.ExpiryDate.Equal(future)) {
			t.Errorf("OK: info %+v", resp.IDTagInfo)
		}
	}
}

func TestTransactionsAreIdempotent(t *testing.T) { forEachStore(t, testTransactionsAreIdempotent) }

func testTransactionsAreIdempotent(t *testing.T, open opener) {
	e := newEnvOn(t, open, nil)
	if _, err := e.st.PutIDTag(e.ctx, store.IDTag{IDTag: "CARD", Status: store.IDTagAccepted}); err != nil {
		t.Fatal(err)
	}
	c := e.accepted("CP1")
	ts := time.Date(2026, 11, 22, 8, 0, 0, 0, time.UTC)
	start := &v16.StartTransactionRequest{ConnectorID: 1, IDTag: "CARD", MeterStart: 1000, Timestamp: ts}
	first, err := v16.CallStartTransaction(e.ctx, c, start)
	if err != nil || first.IDTagInfo.Status != v16.AuthorizationStatusAccepted {
		t.Fatalf("start: %+v %v", first, err)
	}
	// The charger did not get the answer and retries, also after a reconnect.
	_ = c.Close()
	c = e.charger("CP1", nil)
	boot(t, c)
	again, err := v16.CallStartTransaction(e.ctx, c, start)
	if err != nil || again.TransactionID != first.TransactionID || again.IDTagInfo.Status != v16.AuthorizationStatusAccepted {
		t.Fatalf("retried start: %+v %v (first id %d)", again, err, first.TransactionID)
	}
	txID := first.TransactionID
	mv := &v16.MeterValuesRequest{ConnectorID: 1, TransactionID: &txID, MeterValue: []v16.MeterValue{{
		Timestamp: ts.Add(time.Minute),
		SampledValue: []v16.SampledValue{
			{Value: "1500", Measurand: v16.MeasurandEnergyActiveImportRegister, Unit: v16.UnitOfMeasureWh},
			{Value: "16.1", Measurand: v16.MeasurandCurrentImport, Phase: v16.PhaseL1, Unit: v16.UnitOfMeasureA},
		},
	}}}
	if _, err := v16.CallMeterValues(e.ctx, c, mv); err != nil {
		t.Fatal(err)
	}
	stop := &v16.StopTransactionRequest{TransactionID: txID, IDTag: "CARD", MeterStop: 3500, Timestamp: ts.Add(time.Hour), Reason: v16.ReasonEVDisconnected,
		TransactionData: []v16.MeterValue{{Timestamp: ts.Add(time.Hour), SampledValue: []v16.SampledValue{{Value: "3500", Context: v16.ReadingContextTransactionEnd}}}}}
	for i := 0; i < 2; i++ { // the second is a retry
		resp, err := v16.CallStopTransaction(e.ctx, c, stop)
		if err != nil || resp.IDTagInfo == nil || resp.IDTagInfo.Status != v16.AuthorizationStatusAccepted {
			t.Fatalf("stop %d: %+v %v", i, resp, err)
		}
	}
	tx, err := e.st.GetTransaction(e.ctx, int64(txID))
	if err != nil {
		t.Fatal(err)
	}
	if tx.EnergyWh() != 2500 || tx.StopReason != "EVDisconnected" || tx.Active() {
		t.Fatalf("stored: %+v", tx)
	}
	samples, err := e.st.TransactionMeterValues(e.ctx, int64(txID))
	if err != nil {
		t.Fatal(err)
	}
	if len(samples) != 3 {
		t.Fatalf("%d samples stored, want 3 (2 MeterValues + 1 transactionData, not repeated)", len(samples))
	}
	// A stop for a transaction nobody knows is still answered.
	if _, err := v16.CallStopTransaction(e.ctx, c, &v16.StopTransactionRequest{TransactionID: 987654, MeterStop: 1, Timestamp: ts}); err != nil {
		t.Fatalf("unknown stop: %v", err)
	}
	// A start on a connector with a transaction still open closes it.
	openTx, err := v16.CallStartTransaction(e.ctx, c, &v16.StartTransactionRequest{ConnectorID: 2, IDTag: "CARD", MeterStart: 0, Timestamp: ts.Add(2 * time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	next, err := v16.CallStartTransaction(e.ctx, c, &v16.StartTransactionRequest{ConnectorID: 2, IDTag: "CARD", MeterStart: 50, Timestamp: ts.Add(3 * time.Hour)})
	if err != nil || next.IDTagInfo.Status != v16.AuthorizationStatusAccepted {
		t.Fatalf("start over a stale one: %+v %v", next, err)
	}
	stale, err := e.st.GetTransaction(e.ctx, int64(openTx.TransactionID))
	if err != nil || stale.Active() || stale.StopReason != store.StaleStopReason {
		t.Fatalf("stale transaction: %+v %v", stale, err)
	}
}

func TestNotificationsAndDataTransfer(t *testing.T) {
	forEachStore(t, testNotificationsAndDataTransfer)
}

func testNotificationsAndDataTransfer(t *testing.T, open opener) {
	e := newEnvOn(t, open, func(c *csms.Config) {
		c.DataTransfer = map[string]csms.DataTransferHandler{
			"com.example": func(ctx context.Context, id string, req *v16.DataTransferRequest) (*v16.DataTransferResponse, error) {
				if req.MessageID != "ping" {
					return &v16.DataTransferResponse{Status: v16.DataTransferStatusUnknownMessageId}, nil
				}
				return &v16.DataTransferResponse{Status: v16.DataTransferStatusAccepted, Data: "pong:" + req.Data}, nil
			},
		}
	})
	c := e.accepted("CP1")
	for vendor, want := range map[string]v16.DataTransferStatus{"com.example": v16.DataTransferStatusAccepted, "org.other": v16.DataTransferStatusUnknownVendorId} {
		resp, err := v16.CallDataTransfer(e.ctx, c, &v16.DataTransferRequest{VendorID: vendor, MessageID: "ping", Data: "1"})
		if err != nil || resp.Status != want {
			t.Errorf("%s: %+v %v", vendor, resp, err)
		}
	}
	if _, err := v16.CallFirmwareStatusNotification(e.ctx, c, &v16.FirmwareStatusNotificationRequest{Status: v16.FirmwareStatusDownloading}); err != nil {
		t.Fatal(err)
	}
	if _, err := v16.CallDiagnosticsStatusNotification(e.ctx, c, &v16.DiagnosticsStatusNotificationRequest{Status: v16.DiagnosticsStatusUploaded}); err != nil {
		t.Fatal(err)
	}
	if _, err := v16.CallSecurityEventNotification(e.ctx, c, &v16.SecurityEventNotificationRequest{Type: "FirmwareUpdated", Timestamp: time.Now()}); err != nil {
		t.Fatal(err)
	}
	resp, err := v16.CallSignCertificate(e.ctx, c, &v16.SignCertificateRequest{CSR: "-----BEGIN CERTIFICATE REQUEST-----"})
	if err != nil || resp.Status != v16.GenericStatusRejected {
		t.Fatalf("SignCertificate: %+v %v", resp, err)
	}
	evs, err := e.st.ListChargerEvents(e.ctx, "CP1", "", 100)
	if err != nil {
		t.Fatal(err)
	}
	kinds := map[string]bool{}
	for _, ev := range evs {
		kinds[ev.Kind+":"+ev.Status] = true
	}
	for _, want := range []string{"DataTransfer:com.example", "FirmwareStatusNotification:Downloading", "DiagnosticsStatusNotification:Uploaded", "SecurityEventNotification:FirmwareUpdated", "SignCertificate:Rejected"} {
		if !kinds[want] {
			t.Errorf("event %s not stored; have %v", want, kinds)
		}
	}
	// The message log has the frames, both ways.
	e.waitFor("message log", func() bool {
		log, err := e.st.ListLog(e.ctx, "CP1", 0, 100)
		return err == nil && len(log) >= 10
	})
	log, _ := e.st.ListLog(e.ctx, "CP1", 0, 100)
	var in, out bool
	for _, l := range log {
		in = in || (l.Incoming && strings.Contains(string(l.Frame), "SignCertificate"))
		out = out || (!l.Incoming && strings.Contains(string(l.Frame), "Rejected"))
	}
	if !in || !out {
		t.Errorf("message log lacks frames: in %v out %v", in, out)
	}
}

func TestCommands(t *testing.T) {
	e := newEnv(t, nil)
	r := &v16.Router{}
	r.HandleReset(func(ctx context.Context, c *ocpp.Conn, req *v16.ResetRequest) (*v16.ResetResponse, error) {
		return &v16.ResetResponse{Status: v16.GenericStatusAccepted}, nil
	})
	r.HandleClearCache(func(ctx context.Context, c *ocpp.Conn, req *v16.ClearCacheRequest) (*v16.ClearCacheResponse, error) {
		return nil, &ocpp.Error{Code: ocpp.GenericError, Description: "cache is read-only", Details: []byte(`{"reason":"flash"}`)}
	})
	if _, err := e.st.PutCharger(e.ctx, store.Charger{ID: "CP1", Registration: store.RegistrationAccepted}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.st.PutCharger(e.ctx, store.Charger{ID: "OFF", Registration: store.RegistrationAccepted}); err != nil {
		t.Fatal(err)
	}
	boot(t, e.charger("CP1", r))

	got, err := e.svc.Call(e.ctx, "CP1", "Reset", []byte(`{"type":"Hard"}`))
	if err != nil || string(got) != `{"status":"Accepted"}` {
		t.Fatalf("Reset: %s %v", got, err)
	}
	var re *csms.RequestError
	for _, tc := range []struct{ action, payload string }{
		{"Reset", `{"type":"Gentle"}`},
		{"Reset", `{}`},
		{"BootNotification", `{}`},
		{"Explode", `{}`},
	} {
		if _, err := e.svc.Call(e.ctx, "CP1", tc.action, []byte(tc.payload)); !errors.As(err, &re) {
			t.Errorf("%s %s: want RequestError, got %v", tc.action, tc.payload, err)
		}
	}
	if _, err := e.svc.Call(e.ctx, "CP1", "Reset", []byte(`{"type":"Gentle"}`)); !strings.Contains(err.Error(), "type") {
		t.Errorf("invalid payload error does not name the field: %v", err)
	}
	if _, err := e.svc.Call(e.ctx, "NOPE", "Reset", []byte(`{"type":"Soft"}`)); !errors.Is(err, csms.ErrUnknownCharger) {
		t.Errorf("unknown charger: %v", err)
	}
	if _, err := e.svc.Call(e.ctx, "OFF", "Reset", []byte(`{"type":"Soft"}`)); !errors.Is(err, csms.ErrNotConnected) {
		t.Errorf("offline charger: %v", err)
	}
	_, err = e.svc.Call(e.ctx, "CP1", "ClearCache", nil)
	if oe, ok := ocpp.AsError(err); !ok || oe.Code != ocpp.GenericError || string(oe.Details) != `{"reason":"flash"}` {
		t.Errorf("CALLERROR: %v", err)
	}
	// An action the test charger does not handle: NotSupported from its router.
	if _, err := e.svc.Call(e.ctx, "CP1", "UnlockConnector", []byte(`{"connectorId":1}`)); code(err) != ocpp.NotSupported {
		t.Errorf("unhandled on the charger: %v", err)
	}
}

func TestEventsPublished(t *testing.T) {
	e := newEnv(t, func(c *csms.Config) { c.UnknownChargers = store.RegistrationAccepted })
	sub := e.bus.Subscribe("CP1", 64)
	defer sub.Close()
	c := e.charger("CP1", nil)
	boot(t, c)
	if _, err := v16.CallStatusNotification(e.ctx, c, &v16.StatusNotificationRequest{ConnectorID: 1, ErrorCode: v16.ChargePointErrorCodeNoError, Status: v16.ChargePointStatusCharging}); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	seen := map[string]bool{}
	deadline := time.After(10 * time.Second)
	for !(seen[events.ChargerConnected] && seen[events.ChargerBooted] && seen[events.ConnectorStatus]) {
		select {
		case ev := <-sub.C:
			mu.Lock()
			seen[ev.Type] = true
			mu.Unlock()
		case <-deadline:
			t.Fatalf("events seen: %v", seen)
		}
	}
}
