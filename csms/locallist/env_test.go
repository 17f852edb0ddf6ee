package locallist_test

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/wattson-csms/wattson/chargepoint"
	"github.com/wattson-csms/wattson/csms"
	"github.com/wattson-csms/wattson/csms/csmstest"
	"github.com/wattson-csms/wattson/csms/locallist"
	"github.com/wattson-csms/wattson/ocpp/v16"
	"github.com/wattson-csms/wattson/store"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// call is a command the syncer sent, with the charger's answer.
type call struct {
	Charger, Action string
	Payload         []byte
	Answer          []byte
	Err             error
}

// recorder is the central system as the syncer's commander, recording
// every command it sends.
type recorder struct {
	*csms.Service
	mu    sync.Mutex
	calls []call
}

func (r *recorder) Call(ctx context.Context, id, action string, payload []byte) ([]byte, error) {
	answer, err := r.Service.Call(ctx, id, action, payload)
	r.mu.Lock()
	r.calls = append(r.calls, call{id, action, append([]byte(nil), payload...), answer, err})
	r.mu.Unlock()
	return answer, err
}

// sent returns the requests of action sent to a charger, from index from on.
func (r *recorder) sent(id, action string) []call {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []call
	for _, c := range r.calls {
		if c.Charger == id && c.Action == action {
			out = append(out, c)
		}
	}
	return out
}

func (r *recorder) count(id string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, c := range r.calls {
		if c.Charger == id {
			n++
		}
	}
	return n
}

// env is the real central system on loopback with a syncer running.
type env struct {
	t   *testing.T
	c   *csmstest.Central
	st  store.Store
	rec *recorder
	s   *locallist.Syncer
}

func newEnv(t *testing.T) *env {
	t.Helper()
	c := csmstest.New(t, nil, csmstest.AcceptUnknown)
	rec := &recorder{Service: c.Service}
	s, err := locallist.New(locallist.Config{
		Store: c.Store, Events: c.Service.Events(), Commands: rec, Parallel: 4,
		SweepEvery: time.Hour, Debounce: time.Millisecond, CallTimeout: 5 * time.Second,
		RetryMin: time.Hour, RetryMax: 2 * time.Hour,
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { s.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return &env{t: t, c: c, st: c.Store, rec: rec, s: s}
}

// hw is a connector that does nothing.
type hw struct{}

func (hw) SetContactor(bool) error         { return nil }
func (hw) SetCurrentLimit(float64) error   { return nil }
func (hw) Unlock() error                   { return nil }
func (hw) Meter() chargepoint.MeterReading { return chargepoint.MeterReading{} }

// cp is a running charge point.
type cp struct {
	*chargepoint.ChargePoint
	stop func()
}

// chargePoint registers and starts a charge point keeping its data in dir
// ("" for a new directory) and waits until it is accepted.
func (e *env) chargePoint(id, dir string, conf map[string]string) *cp {
	e.t.Helper()
	if _, err := e.st.PutCharger(context.Background(), store.Charger{ID: id, Registration: store.RegistrationAccepted}); err != nil {
		e.t.Fatal(err)
	}
	if dir == "" {
		dir = e.t.TempDir()
	}
	c, err := chargepoint.New(chargepoint.Config{
		URL: e.c.URL, ID: id, Model: "LocalList", FirmwareVersion: "1.0", DataDir: dir,
		Connectors: []chargepoint.ConnectorHardware{hw{}}, Configuration: conf,
		MinBackoff: 10 * time.Millisecond, MaxBackoff: 100 * time.Millisecond, CallTimeout: 5 * time.Second,
	})
	if err != nil {
		e.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = c.Run(ctx); close(done) }()
	var once sync.Once
	stop := func() { once.Do(func() { cancel(); <-done }) }
	e.t.Cleanup(stop)
	eventually(e.t, id+" accepted", func() bool { return e.c.Service.IsConnected(id) && c.Registration() == "Accepted" })
	return &cp{c, stop}
}

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func (e *env) tags(status store.IDTagStatus, tags ...string) {
	e.t.Helper()
	for _, tag := range tags {
		if _, err := e.st.PutIDTag(context.Background(), store.IDTag{IDTag: tag, Status: status}); err != nil {
			e.t.Fatal(err)
		}
	}
}

func (e *env) list(name string, members ...string) int64 {
	e.t.Helper()
	l, err := e.st.CreateLocalList(context.Background(), store.LocalList{Name: name})
	if err != nil {
		e.t.Fatal(err)
	}
	e.members(l.ID, members, nil)
	return l.ID
}

func (e *env) members(list int64, add, remove []string) {
	e.t.Helper()
	if err := e.st.ChangeLocalListMembers(context.Background(), list, add, remove); err != nil {
		e.t.Fatal(err)
	}
	e.s.Changed()
}

func (e *env) assign(id string, list int64) {
	e.t.Helper()
	if _, err := e.st.AssignLocalList(context.Background(), id, list); err != nil {
		e.t.Fatal(err)
	}
	e.s.Changed()
}

func (e *env) state(id string) store.LocalListSync {
	e.t.Helper()
	s, err := e.st.GetLocalListSync(context.Background(), id)
	if err != nil {
		e.t.Fatal(err)
	}
	return s
}

// waitInSync waits until the charger's state is in sync (or none, for an
// unassigned charger) and the syncer is idle.
func (e *env) waitState(id, want string) store.LocalListSync {
	e.t.Helper()
	var s store.LocalListSync
	eventually(e.t, id+" "+want, func() bool {
		s = e.state(id)
		return s.State() == want && e.s.Idle()
	})
	return s
}

// holds reports whether the charge point's list is exactly tags (with
// status Accepted unless given in statuses), and returns its version.
func holds(c *cp, statuses map[string]v16.AuthorizationStatus, tags ...string) (int, bool) {
	v, entries := c.LocalList()
	if len(entries) != len(tags) {
		return v, false
	}
	for _, tag := range tags {
		e, ok := entries[tag]
		want := v16.AuthorizationStatusAccepted
		if s, ok := statuses[tag]; ok {
			want = s
		}
		if !ok || e.Status != want {
			return v, false
		}
	}
	return v, true
}

// sendLocalList decodes a recorded SendLocalList.
func sendLocalList(t *testing.T, c call) v16.SendLocalListRequest {
	t.Helper()
	var req v16.SendLocalListRequest
	if err := req.UnmarshalOCPP(c.Payload); err != nil {
		t.Fatal(err)
	}
	return req
}

func answerStatus(t *testing.T, c call) string {
	t.Helper()
	var a struct {
		Status string `json:"status"`
	}
	if err := json.Unmarshal(c.Answer, &a); err != nil {
		t.Fatalf("answer %s: %v", c.Answer, err)
	}
	return a.Status
}

func tagNames(prefix string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("%s%03d", prefix, i)
	}
	return out
}
