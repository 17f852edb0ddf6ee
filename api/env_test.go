package api_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/wattson-csms/wattson/api"
	"github.com/wattson-csms/wattson/csms"
	"github.com/wattson-csms/wattson/csms/csmstest"
	"github.com/wattson-csms/wattson/ocpp"
	"github.com/wattson-csms/wattson/ocpp/ocpptest"
	v16 "github.com/wattson-csms/wattson/ocpp/v16"
	"github.com/wattson-csms/wattson/store"
)

// Every test must leave no goroutine behind: event streams end with their
// clients, the central system's loops end with Run.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

const adminToken = "test-admin-token-0123456789"

// env is a whole central system on loopback: a SQLite store in a temporary
// file, the csms.Service, the OCPP websocket server and the API over HTTP.
type env struct {
	t       testing.TB
	st      store.Store
	svc     *csms.Service
	api     *api.API
	base    string // http://127.0.0.1:port/api/v1
	ocppURL string
}

func newEnv(t testing.TB, mod func(*api.Config)) *env {
	t.Helper()
	c := csmstest.New(t, nil, func(cfg *csms.Config) {
		cfg.MessageLogKeep, cfg.SeenFlushInterval = 100, 20*time.Millisecond
	})
	st, svc, ocppURL := c.Store, c.Service, c.URL
	cfg := api.Config{CSMS: svc, Store: st, AdminToken: adminToken, CommandTimeout: 5 * time.Second}
	if mod != nil {
		mod(&cfg)
	}
	a, err := api.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(a)
	t.Cleanup(hs.Close)
	return &env{t: t, st: st, svc: svc, api: a, base: hs.URL + api.Prefix, ocppURL: ocppURL}
}

// response is an answer of the API.
type response struct {
	Status int
	Header http.Header
	Body   []byte
}

func (r response) decode(t testing.TB, v any) {
	t.Helper()
	if err := json.Unmarshal(r.Body, v); err != nil {
		t.Fatalf("decoding %s: %v", r.Body, err)
	}
}

func (r response) object(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	r.decode(t, &m)
	return m
}

// do sends a request with a bearer token (none if empty) and a raw body.
func (e *env) do(method, path, token, body string) response {
	e.t.Helper()
	return e.doHeader(method, path, token, body, nil)
}

func (e *env) doHeader(method, path, token, body string, h http.Header) response {
	e.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, e.base+path, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range h {
		req.Header[k] = v
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	return response{Status: res.StatusCode, Header: res.Header, Body: b}
}

// admin sends a request with the admin token.
func (e *env) admin(method, path, body string) response {
	e.t.Helper()
	return e.do(method, path, adminToken, body)
}

// ok sends a request as admin and fails unless the status is want.
func (e *env) ok(want int, method, path, body string) response {
	e.t.Helper()
	r := e.admin(method, path, body)
	if r.Status != want {
		e.t.Fatalf("%s %s: status %d, want %d: %s", method, path, r.Status, want, r.Body)
	}
	return r
}

// wantProblem checks that r is a problem of the kind with the status and,
// if field is not "-", the field.
func wantProblem(t *testing.T, r response, status int, kind api.Kind, field string) map[string]any {
	t.Helper()
	if r.Status != status {
		t.Fatalf("status %d, want %d: %s", r.Status, status, r.Body)
	}
	if ct := r.Header.Get("Content-Type"); ct != "application/problem+json" {
		t.Errorf("Content-Type %q", ct)
	}
	p := r.object(t)
	if p["type"] != api.ProblemBase+string(kind) {
		t.Errorf("type %v, want %s: %s", p["type"], kind, r.Body)
	}
	if p["status"] != float64(status) || p["title"] == "" {
		t.Errorf("problem %s", r.Body)
	}
	if field != "-" {
		got, _ := p["field"].(string)
		if got != field {
			t.Errorf("field %q, want %q: %s", got, field, r.Body)
		}
	}
	return p
}

// charger is a test charger: an OCPP client whose answers to the central
// system's calls come from handle, and which records the calls it got.
type charger struct {
	t    testing.TB
	id   string
	conn *ocpp.Conn

	mu    sync.Mutex
	calls []call
}

type call struct {
	Action  string
	Payload []byte
}

// answers maps actions to what the test charger does with them: a payload
// to answer with, an *ocpp.Error, or block (never answer).
type answers map[string]any

var block = new(struct{})

// register pre-registers a charger as accepted, through the API.
func (e *env) register(id string) {
	e.t.Helper()
	r := e.admin("PUT", "/chargers/"+id, `{"registration":"Accepted"}`)
	if r.Status != http.StatusCreated && r.Status != http.StatusOK {
		e.t.Fatalf("registering %s: %d %s", id, r.Status, r.Body)
	}
}

// connect registers a charger, connects it and sends BootNotification.
func (e *env) connect(id string, ans answers) *charger {
	e.t.Helper()
	e.register(id)
	c := &charger{t: e.t, id: id}
	h := ocpp.HandlerFunc(func(ctx context.Context, req *ocpp.Request) (ocpp.Payload, error) {
		c.mu.Lock()
		c.calls = append(c.calls, call{req.Action, append([]byte(nil), req.Payload...)})
		c.mu.Unlock()
		switch a := ans[req.Action].(type) {
		case string:
			return ocpp.RawJSON(a), nil
		case *ocpp.Error:
			return nil, a
		case nil:
			return nil, ocpp.Errorf(ocpp.NotSupported, "test charger: %s not supported", req.Action)
		default:
			<-ctx.Done()
			return nil, ctx.Err()
		}
	})
	c.conn = ocpptest.Dial(e.t, e.ocppURL, id, h, ocpp.Options{})
	res, err := v16.CallBootNotification(context.Background(), c.conn, &v16.BootNotificationRequest{
		ChargePointVendor: "Wattson", ChargePointModel: "Test1", FirmwareVersion: "1.2.3", ChargePointSerialNumber: "SN-" + id,
	})
	if err != nil || res.Status != v16.RegistrationStatusAccepted {
		e.t.Fatalf("boot %s: %+v %v", id, res, err)
	}
	return c
}

func (c *charger) callsOf(action string) []call {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []call
	for _, x := range c.calls {
		if x.Action == action {
			out = append(out, x)
		}
	}
	return out
}

func (c *charger) status(connector int, status v16.ChargePointStatus) {
	c.t.Helper()
	if _, err := v16.CallStatusNotification(context.Background(), c.conn, &v16.StatusNotificationRequest{
		ConnectorID: connector, ErrorCode: v16.ChargePointErrorCodeNoError, Status: status,
	}); err != nil {
		c.t.Fatalf("StatusNotification: %v", err)
	}
}

// eventually retries cond until it holds or a few seconds pass.
func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
