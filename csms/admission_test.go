package csms_test

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/wattson-csms/wattson/csms"
	"github.com/wattson-csms/wattson/csms/csmstest"
	"github.com/wattson-csms/wattson/ocpp"
	v16 "github.com/wattson-csms/wattson/ocpp/v16"
	"github.com/wattson-csms/wattson/store"
)

// holdBoots is a real SQLite store whose RecordBoot waits until the test
// lets boots go, so the test decides how many boots are being written.
type holdBoots struct {
	store.Store
	entered chan string   // the charger id, when a RecordBoot starts
	release chan struct{} // closed: boots go on
	once    sync.Once
	mu      sync.Mutex
	calls   []string
}

func newHoldBoots() *holdBoots {
	return &holdBoots{entered: make(chan string, 64), release: make(chan struct{})}
}

func (h *holdBoots) open(t testing.TB) store.Store {
	h.Store = csmstest.SQLite(t)
	return h
}

func (h *holdBoots) letGo() { h.once.Do(func() { close(h.release) }) }

func (h *holdBoots) RecordBoot(ctx context.Context, b store.Boot, def store.Registration) (store.Charger, error) {
	h.mu.Lock()
	h.calls = append(h.calls, b.ChargerID)
	h.mu.Unlock()
	h.entered <- b.ChargerID
	select {
	case <-h.release:
	case <-ctx.Done():
		return store.Charger{}, ctx.Err()
	}
	return h.Store.RecordBoot(ctx, b, def)
}

func (h *holdBoots) recorded() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.calls)
}

// waitEntered waits for the next RecordBoot to start and returns its
// charger id.
func (h *holdBoots) waitEntered(t *testing.T) string {
	t.Helper()
	select {
	case id := <-h.entered:
		return id
	case <-time.After(10 * time.Second):
		t.Fatal("no RecordBoot started")
		return ""
	}
}

// newHeldEnv is a central system on a holdBoots store. The boots are let
// go before the central system stops, so none is left waiting.
func newHeldEnv(t *testing.T, mod func(*csms.Config)) (*env, *holdBoots) {
	h := newHoldBoots()
	e := newEnvOn(t, h.open, mod)
	t.Cleanup(h.letGo) // registered after the env's: runs first
	return e, h
}

// bootAsync sends a BootNotification whose answer arrives on the channel.
func bootAsync(c *ocpp.Conn) <-chan *v16.BootNotificationResponse {
	out := make(chan *v16.BootNotificationResponse, 1)
	go func() {
		resp, err := v16.CallBootNotification(context.Background(), c, &v16.BootNotificationRequest{ChargePointVendor: "Wattson", ChargePointModel: "Test", FirmwareVersion: "1.0"})
		if err != nil {
			resp = nil
		}
		out <- resp
	}()
	return out
}

func answer(t *testing.T, ch <-chan *v16.BootNotificationResponse) *v16.BootNotificationResponse {
	t.Helper()
	select {
	case resp := <-ch:
		if resp == nil {
			t.Fatal("boot failed")
		}
		return resp
	case <-time.After(10 * time.Second):
		t.Fatal("boot not answered")
		return nil
	}
}

func heldRetryRange(c *csms.Config) {
	c.MaxBootsInFlight = 1
	c.BootWaitTarget = time.Nanosecond // beyond the one place, every boot waits too long
	c.DeferredBootRetryMin, c.DeferredBootRetryMax = 20*time.Second, 40*time.Second
}

func TestBootAdmission(t *testing.T) {
	t.Run("a boot beyond the limit is deferred and not written", func(t *testing.T) {
		e, h := newHeldEnv(t, heldRetryRange)
		for _, id := range []string{"HELD", "KNOWN"} {
			if _, err := e.st.PutCharger(e.ctx, store.Charger{ID: id, Registration: store.RegistrationAccepted}); err != nil {
				t.Fatal(err)
			}
		}
		held := bootAsync(e.charger("HELD", nil))
		if id := h.waitEntered(t); id != "HELD" {
			t.Fatalf("RecordBoot of %s", id)
		}
		// The one place is taken: a known accepted charger is deferred.
		known := e.charger("KNOWN", nil)
		resp := boot(t, known)
		if resp.Status != v16.RegistrationStatusPending || resp.Interval < 20 || resp.Interval > 40 || time.Since(resp.CurrentTime).Abs() > time.Hour {
			t.Fatalf("deferred boot: %+v", resp)
		}
		ch, err := e.st.GetCharger(e.ctx, "KNOWN")
		if err != nil || ch.Registration != store.RegistrationAccepted || ch.LastBootAt != nil || ch.Vendor != "" {
			t.Fatalf("deferred boot changed the stored charger: %+v %v", ch, err)
		}
		// It is still accepted (the store says so) and may talk.
		if _, err := v16.CallStatusNotification(e.ctx, known, &v16.StatusNotificationRequest{ConnectorID: 1, ErrorCode: v16.ChargePointErrorCodeNoError, Status: v16.ChargePointStatusAvailable}); err != nil {
			t.Fatalf("status from a deferred accepted charger: %v", err)
		}
		// A charger nobody knows is deferred too, and stays unknown.
		triggered := make(chan v16.MessageTrigger, 4)
		r := &v16.Router{}
		r.HandleTriggerMessage(func(ctx context.Context, c *ocpp.Conn, req *v16.TriggerMessageRequest) (*v16.TriggerMessageResponse, error) {
			triggered <- req.RequestedMessage
			return &v16.TriggerMessageResponse{Status: v16.TriggerMessageStatusAccepted}, nil
		})
		fresh := e.charger("NEW", r)
		if resp := boot(t, fresh); resp.Status != v16.RegistrationStatusPending || resp.Interval < 20 || resp.Interval > 40 {
			t.Fatalf("deferred boot of an unknown charger: %+v", resp)
		}
		if _, err := e.st.GetCharger(e.ctx, "NEW"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("deferred unknown charger stored: %v", err)
		}
		// Unknown with the default policy (pending): refused until it
		// boots, and not asked to boot at once: it was told when.
		if _, err := v16.CallHeartbeat(e.ctx, fresh, &v16.HeartbeatRequest{}); code(err) != ocpp.SecurityError {
			t.Fatalf("heartbeat from a deferred unknown charger: %v", err)
		}
		// The interval is drawn from the range, not fixed.
		intervals := map[int]bool{}
		for range 40 {
			resp := boot(t, known)
			if resp.Status != v16.RegistrationStatusPending || resp.Interval < 20 || resp.Interval > 40 {
				t.Fatalf("deferred boot: %+v", resp)
			}
			intervals[resp.Interval] = true
		}
		if len(intervals) < 2 {
			t.Errorf("40 deferred boots all got the same interval: %v", intervals)
		}
		m := e.svc.Metrics()
		if d, f, r := m.BootsDeferred.Load(), m.BootsInFlight.Load(), m.BootsRecorded.Load(); d != 42 || f != 1 || r != 0 {
			t.Errorf("metrics: deferred %d, in flight %d, recorded %d; want 42, 1, 0", d, f, r)
		}
		if got := h.recorded(); !slices.Equal(got, []string{"HELD"}) {
			t.Fatalf("RecordBoot called for %v, want only HELD", got)
		}

		// The write finishes: boots are admitted again.
		h.letGo()
		if resp := answer(t, held); resp.Status != v16.RegistrationStatusAccepted {
			t.Fatalf("held boot: %+v", resp)
		}
		if resp := boot(t, known); resp.Status != v16.RegistrationStatusAccepted || resp.Interval != 60 {
			t.Fatalf("boot after the storm: %+v", resp)
		}
		ch, err = e.st.GetCharger(e.ctx, "KNOWN")
		if err != nil || ch.Registration != store.RegistrationAccepted || ch.LastBootAt == nil || ch.Vendor != "Wattson" {
			t.Fatalf("boot after the storm not recorded: %+v %v", ch, err)
		}
		if resp := boot(t, fresh); resp.Status != v16.RegistrationStatusPending || resp.Interval != 30 {
			t.Fatalf("unknown charger's boot after the storm: %+v", resp)
		}
		if ch, err := e.st.GetCharger(e.ctx, "NEW"); err != nil || ch.Registration != store.RegistrationPending {
			t.Fatalf("unknown charger after the storm: %+v %v", ch, err)
		}
		if d, f, r := m.BootsDeferred.Load(), m.BootsInFlight.Load(), m.BootsRecorded.Load(); d != 42 || f != 0 || r != 3 {
			t.Errorf("metrics: deferred %d, in flight %d, recorded %d; want 42, 0, 3", d, f, r)
		}
		// This can catch a TriggerMessage sent after the refused heartbeat
		// (it had many round trips to arrive), not prove there was none.
		select {
		case m := <-triggered:
			t.Errorf("a deferred charger was asked to boot (%s)", m)
		default:
		}
	})

	t.Run("a deferred unknown charger that talks is let in by the accept policy", func(t *testing.T) {
		e, h := newHeldEnv(t, func(c *csms.Config) {
			heldRetryRange(c)
			csmstest.AcceptUnknown(c)
		})
		held := bootAsync(e.charger("HELD", nil))
		h.waitEntered(t)
		c := e.charger("NEW", nil)
		if resp := boot(t, c); resp.Status != v16.RegistrationStatusPending {
			t.Fatalf("deferred boot: %+v", resp)
		}
		if _, err := e.st.GetCharger(e.ctx, "NEW"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("deferred unknown charger stored: %v", err)
		}
		// As for any unknown charger that talks without booting.
		if _, err := v16.CallStatusNotification(e.ctx, c, &v16.StatusNotificationRequest{ConnectorID: 1, ErrorCode: v16.ChargePointErrorCodeNoError, Status: v16.ChargePointStatusAvailable}); err != nil {
			t.Fatalf("status: %v", err)
		}
		if ch, err := e.st.GetCharger(e.ctx, "NEW"); err != nil || ch.Registration != store.RegistrationAccepted || ch.Vendor != "" {
			t.Fatalf("after talking: %+v %v", ch, err)
		}
		h.letGo()
		if resp := answer(t, held); resp.Status != v16.RegistrationStatusAccepted {
			t.Fatalf("held boot: %+v", resp)
		}
		if resp := boot(t, c); resp.Status != v16.RegistrationStatusAccepted {
			t.Fatalf("boot after the storm: %+v", resp)
		}
		if ch, err := e.st.GetCharger(e.ctx, "NEW"); err != nil || ch.Vendor != "Wattson" || ch.LastBootAt == nil {
			t.Fatalf("boot after the storm not recorded: %+v %v", ch, err)
		}
	})

	t.Run("beyond the limit boots queue while their estimated wait is under the target", func(t *testing.T) {
		// Before any boot was written the time per boot is taken as
		// DefaultBootEvery (d): with 1, 2 in flight the next waits d, 2d
		// (< 2.5d) and is admitted; with 3 in flight it would wait 3d and
		// is deferred.
		e, h := newHeldEnv(t, func(c *csms.Config) {
			c.MaxBootsInFlight = 1
			c.BootWaitTarget = csms.DefaultBootEvery * 5 / 2
			csmstest.AcceptUnknown(c)
		})
		var answers []<-chan *v16.BootNotificationResponse
		for _, id := range []string{"Q1", "Q2", "Q3"} {
			answers = append(answers, bootAsync(e.charger(id, nil)))
			h.waitEntered(t)
		}
		if resp := boot(t, e.charger("Q4", nil)); resp.Status != v16.RegistrationStatusPending {
			t.Fatalf("fourth boot: %+v", resp)
		}
		if f, d := e.svc.Metrics().BootsInFlight.Load(), e.svc.Metrics().BootsDeferred.Load(); f != 3 || d != 1 {
			t.Errorf("%d in flight, %d deferred; want 3 and 1", f, d)
		}
		h.letGo()
		for _, a := range answers {
			if resp := answer(t, a); resp.Status != v16.RegistrationStatusAccepted {
				t.Fatalf("queued boot: %+v", resp)
			}
		}
	})

	t.Run("a negative limit admits every boot", func(t *testing.T) {
		e, h := newHeldEnv(t, func(c *csms.Config) {
			c.MaxBootsInFlight = -1
			csmstest.AcceptUnknown(c)
		})
		var answers []<-chan *v16.BootNotificationResponse
		for _, id := range []string{"CP1", "CP2", "CP3"} {
			answers = append(answers, bootAsync(e.charger(id, nil)))
		}
		for range answers {
			h.waitEntered(t)
		}
		if f := e.svc.Metrics().BootsInFlight.Load(); f != 3 {
			t.Errorf("%d boots in flight, want 3", f)
		}
		h.letGo()
		for _, a := range answers {
			if resp := answer(t, a); resp.Status != v16.RegistrationStatusAccepted {
				t.Fatalf("boot: %+v", resp)
			}
		}
		if d := e.svc.Metrics().BootsDeferred.Load(); d != 0 {
			t.Errorf("%d boots deferred", d)
		}
	})
}

func TestBootAdmissionConfig(t *testing.T) {
	for _, tc := range []struct {
		name     string
		min, max time.Duration
		ok       bool
	}{
		{"defaults", 0, 0, true},
		{"one value", 30 * time.Second, 30 * time.Second, true},
		{"below a second", 500 * time.Millisecond, 0, false},
		{"max below min", 30 * time.Second, 20 * time.Second, false},
		{"min above the default max", 90 * time.Second, 0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := csmstest.SQLite(t)
			t.Cleanup(func() { st.Close() })
			// No message log: a Service that is never Run starts nothing.
			_, err := csms.New(csms.Config{Store: st, MessageLogKeep: -1, DeferredBootRetryMin: tc.min, DeferredBootRetryMax: tc.max})
			if (err == nil) != tc.ok {
				t.Fatalf("New: %v, want ok %v", err, tc.ok)
			}
		})
	}
}
