package chargepoint

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/wattson-csms/wattson/csms"
	"github.com/wattson-csms/wattson/ocpp"
	"github.com/wattson-csms/wattson/store"
	"github.com/wattson-csms/wattson/store/sqlite"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// fakeHW is a connector's hardware: it records what the charge point asks
// of it and reads a settable meter.
type fakeHW struct {
	mu        sync.Mutex
	energy    float64
	contactor bool
	limits    []float64
	unlocks   int
	noLock    bool
	contacts  []bool
}

func (h *fakeHW) SetContactor(closed bool) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.contactor = closed
	h.contacts = append(h.contacts, closed)
	return nil
}

func (h *fakeHW) SetCurrentLimit(a float64) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.limits = append(h.limits, a)
	return nil
}

func (h *fakeHW) Unlock() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.noLock {
		return ErrNoLock
	}
	h.unlocks++
	return nil
}

func (h *fakeHW) Meter() MeterReading {
	h.mu.Lock()
	defer h.mu.Unlock()
	r := MeterReading{EnergyWh: h.energy, Voltage: [3]float64{230, 231, 229}, OfferedA: 16}
	if h.contactor {
		r.Current = [3]float64{16, 16, 16}
		r.PowerW = 11040
	}
	return r
}

func (h *fakeHW) setEnergy(wh float64) {
	h.mu.Lock()
	h.energy = wh
	h.mu.Unlock()
}

func (h *fakeHW) lastLimit() (float64, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.limits) == 0 {
		return 0, false
	}
	return h.limits[len(h.limits)-1], true
}

func (h *fakeHW) sawLimit(a float64) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, l := range h.limits {
		if l == a {
			return true
		}
	}
	return false
}

func (h *fakeHW) isClosed() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.contactor
}

// env is the real central system on SQLite and a real OCPP server on
// loopback, with a switch that makes it unreachable.
type env struct {
	t       *testing.T
	st      store.Store
	svc     *csms.Service
	srv     *ocpp.Server
	url     string
	ctx     context.Context
	offline atomic.Bool

	mu      sync.Mutex
	actions map[string]int // CALLs received, by action
}

func newEnv(t *testing.T, mod func(*csms.Config)) *env {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "wattson.db"))
	if err != nil {
		t.Fatal(err)
	}
	cfg := csms.Config{Store: st, HeartbeatInterval: time.Minute, RetryInterval: 30 * time.Second, SeenFlushInterval: 50 * time.Millisecond}
	if mod != nil {
		mod(&cfg)
	}
	svc, err := csms.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, st: st, svc: svc, ctx: context.Background(), actions: map[string]int{}}
	e.srv = &ocpp.Server{
		Subprotocols: []ocpp.Subprotocol{{Name: "ocpp1.6", Handler: svc.Router()}},
		OnConnect:    svc.Connected,
		OnDisconnect: svc.Disconnected,
		Options: ocpp.Options{OnFrame: func(c *ocpp.Conn, in bool, frame []byte) {
			svc.Frame(c, in, frame)
			if in && bytes.HasPrefix(frame, []byte("[2,")) {
				var f []json.RawMessage
				if json.Unmarshal(frame, &f) == nil && len(f) > 2 {
					var action string
					_ = json.Unmarshal(f[2], &action)
					e.mu.Lock()
					e.actions[action]++
					e.mu.Unlock()
				}
			}
		}},
	}
	svc.SetConns(e.srv)
	done := make(chan struct{})
	go func() { svc.Run(ctx); close(done) }()
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if e.offline.Load() {
			http.Error(w, "unreachable", http.StatusServiceUnavailable)
			return
		}
		if !strings.HasPrefix(r.URL.Path, "/ocpp/") {
			http.NotFound(w, r)
			return
		}
		e.srv.ServeHTTP(w, r)
	}))
	e.url = "ws" + strings.TrimPrefix(hs.URL, "http") + "/ocpp/"
	t.Cleanup(func() {
		e.srv.CloseAll()
		hs.Close()
		cancel()
		<-done
		st.Close()
	})
	return e
}

func (e *env) count(action string) int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.actions[action]
}

func (e *env) accept(id string) {
	e.t.Helper()
	if _, err := e.st.PutCharger(e.ctx, store.Charger{ID: id, Registration: store.RegistrationAccepted}); err != nil {
		e.t.Fatal(err)
	}
}

func (e *env) tag(id string, status store.IDTagStatus, parent string) {
	e.t.Helper()
	if _, err := e.st.PutIDTag(e.ctx, store.IDTag{IDTag: id, Status: status, ParentIDTag: parent}); err != nil {
		e.t.Fatal(err)
	}
}

// goOffline makes the central system unreachable and drops the charger's
// connection.
func (e *env) goOffline(id string, cp *ChargePoint) {
	e.t.Helper()
	e.offline.Store(true)
	e.svc.Disconnect(id)
	waitFor(e.t, "disconnected", func() bool { return !cp.Connected() })
}

func (e *env) goOnline() { e.offline.Store(false) }

// call sends a command from the central system and decodes the answer.
func (e *env) call(id, action string, payload any) map[string]any {
	e.t.Helper()
	raw, err := json.Marshal(payload)
	if err != nil {
		e.t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(e.ctx, 10*time.Second)
	defer cancel()
	answer, err := e.svc.Call(ctx, id, action, raw)
	if err != nil {
		e.t.Fatalf("%s: %v", action, err)
	}
	var out map[string]any
	if err := json.Unmarshal(answer, &out); err != nil {
		e.t.Fatal(err)
	}
	return out
}

func (e *env) status(id, action string, payload any) string {
	e.t.Helper()
	s, _ := e.call(id, action, payload)["status"].(string)
	return s
}

// history returns a connector's stored statuses, oldest first.
func (e *env) history(id string, connector int) []string {
	e.t.Helper()
	h, err := e.st.StatusHistory(e.ctx, id, connector, 200)
	if err != nil {
		e.t.Fatal(err)
	}
	out := make([]string, len(h))
	for i, c := range h {
		out[len(h)-1-i] = c.Status
	}
	return out
}

func (e *env) transactions(id string) []store.Transaction {
	e.t.Helper()
	txs, err := e.st.ListTransactions(e.ctx, store.TxFilter{ChargerID: id, Limit: 100})
	if err != nil {
		e.t.Fatal(err)
	}
	return txs
}

func (e *env) transaction(id int) store.Transaction {
	e.t.Helper()
	tx, err := e.st.GetTransaction(e.ctx, int64(id))
	if err != nil {
		e.t.Fatalf("transaction %d: %v", id, err)
	}
	return tx
}

func (e *env) events(id, kind string) []string {
	e.t.Helper()
	evs, err := e.st.ListChargerEvents(e.ctx, id, kind, 100)
	if err != nil {
		e.t.Fatal(err)
	}
	out := make([]string, len(evs))
	for i, ev := range evs {
		out[len(evs)-1-i] = ev.Status
	}
	return out
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// running is a charge point whose Run goroutine the test owns.
type running struct {
	*ChargePoint
	hw   []*fakeHW
	stop func()
}

type cpOpt struct {
	dir    string
	conf   map[string]string
	hw     []*fakeHW
	mod    func(*Config)
	noWait bool // do not wait for Accepted
}

func (e *env) start(id string, o cpOpt) *running {
	e.t.Helper()
	if o.hw == nil {
		o.hw = []*fakeHW{{}, {}}
	}
	hws := make([]ConnectorHardware, len(o.hw))
	for i, h := range o.hw {
		hws[i] = h
	}
	conf := map[string]string{"MeterValueSampleInterval": "0"}
	for k, v := range o.conf {
		conf[k] = v
	}
	cfg := Config{
		URL: e.url, ID: id, Vendor: "Wattson", Model: "Test", FirmwareVersion: "1.0",
		Connectors: hws, DataDir: o.dir, Configuration: conf,
		MinBackoff: 10 * time.Millisecond, MaxBackoff: 100 * time.Millisecond, CallTimeout: 5 * time.Second,
	}
	if o.mod != nil {
		o.mod(&cfg)
	}
	cp, err := New(cfg)
	if err != nil {
		e.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- cp.Run(ctx) }()
	var once sync.Once
	r := &running{ChargePoint: cp, hw: o.hw}
	r.stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				e.t.Errorf("Run: %v", err)
			}
		})
	}
	e.t.Cleanup(r.stop)
	if !o.noWait {
		waitFor(e.t, id+" accepted", func() bool { return cp.Registration() == "Accepted" && cp.Connected() })
		waitFor(e.t, id+" statuses sent", func() bool { return len(e.history(id, len(hws))) > 0 })
	}
	return r
}

func (r *running) waitStatus(t *testing.T, connector int, status string) {
	t.Helper()
	waitFor(t, "status "+status, func() bool { return r.Status(connector) == status })
}

func (r *running) waitTx(t *testing.T, connector int) int {
	t.Helper()
	var id int
	waitFor(t, "a transaction id from the central system", func() bool {
		var ok bool
		id, ok = r.Transaction(connector)
		return ok && id > 0
	})
	return id
}

func (r *running) waitDelivered(t *testing.T) {
	t.Helper()
	waitFor(t, "the queue delivered", func() bool { return r.QueueLength() == 0 })
}

func contains(list []string, want ...string) bool {
	i := 0
	for _, s := range list {
		if i < len(want) && s == want[i] {
			i++
		}
	}
	return i == len(want)
}
