package firmware_test

import (
	"context"
	"errors"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wattson-csms/wattson/chargepoint"
	"github.com/wattson-csms/wattson/csms/csmstest"
	"github.com/wattson-csms/wattson/files"
	"github.com/wattson-csms/wattson/firmware"
	"github.com/wattson-csms/wattson/sim"
	"github.com/wattson-csms/wattson/store"
)

// env is the central system with file links and the roll-out manager, as
// `wattson serve` wires them, on a real SQLite file and loopback.
type env struct {
	c   *csmstest.Central
	fs  *files.Service
	m   *firmware.Manager
	url string // of the file server
}

func newEnv(t *testing.T) *env {
	t.Helper()
	c := csmstest.New(t, nil, csmstest.AcceptUnknown)
	e := &env{c: c}
	fs, err := files.New(files.Config{Store: c.Store, BaseURL: func(string) (string, bool) { return e.url, true }})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(fs)
	t.Cleanup(srv.Close)
	e.url, e.fs = srv.URL, fs
	m, err := firmware.New(firmware.Config{Store: c.Store, CSMS: c.Service, Links: fs, Interval: 50 * time.Millisecond, CallTimeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	e.m = m
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { m.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return e
}

// fleet runs n simulated chargers until the test ends; fail picks the
// ones whose installation fails.
func (e *env) fleet(t *testing.T, prefix string, n int, fail func(string) bool) *sim.Fleet {
	t.Helper()
	f, err := sim.NewFleet(sim.FleetConfig{URL: e.c.URL, Chargers: n, Connectors: 1, Prefix: prefix, Scenario: sim.Idle, FailFirmware: fail})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = f.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	waitFor(t, 30*time.Second, "the chargers to connect", func() bool {
		for _, id := range f.IDs() {
			if !e.c.Service.IsConnected(id) {
				return false
			}
		}
		return true
	})
	return f
}

func (e *env) image(t *testing.T, content string) store.File {
	t.Helper()
	f, err := files.Save(context.Background(), e.c.Store, store.File{Kind: store.FileFirmware, Name: "wattson-sim.bin"}, strings.NewReader(content), 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func waitFor(t *testing.T, d time.Duration, what string, ok func() bool) {
	t.Helper()
	csmstest.Eventually(t, d, what, ok)
}

func (e *env) rollout(t *testing.T, id int64) store.Rollout {
	t.Helper()
	r, err := e.c.Store.GetRollout(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func (e *env) targets(t *testing.T, id int64) map[string]store.RolloutTarget {
	t.Helper()
	ts, err := e.c.Store.ListRolloutTargets(context.Background(), store.TargetFilter{RolloutID: id, Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	out := make(map[string]store.RolloutTarget, len(ts))
	for _, x := range ts {
		out[x.ChargerID] = x
	}
	return out
}

// watchConcurrency samples the chargers in flight until the test ends
// and returns the largest number seen.
func (e *env) watchConcurrency(t *testing.T, id int64) func() int {
	var peak atomic.Int64
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for ctx.Err() == nil {
			ts, err := e.c.Store.ListRolloutTargets(ctx, store.TargetFilter{RolloutID: id, Status: store.InFlightTargets, Limit: 1000})
			if err == nil && int64(len(ts)) > peak.Load() {
				peak.Store(int64(len(ts)))
			}
			time.Sleep(5 * time.Millisecond)
		}
	}()
	t.Cleanup(func() { cancel(); wg.Wait() })
	return func() int { return int(peak.Load()) }
}

// A roll-out to 50 chargers, 10 at a time, three of which fail to
// install: it completes with 47 chargers on the new firmware (their
// reboot reports it) and three failed with the reason, never more than 10
// updating at once, and the failure rate (6%) stays under its limit.
func TestRolloutTo50WithFailures(t *testing.T) {
	e := newEnv(t)
	failing := map[string]bool{"RO0007": true, "RO0019": true, "RO0033": true}
	fleet := e.fleet(t, "RO", 50, func(id string) bool { return failing[id] })
	img := e.image(t, sim.SimFirmwareMagic+"2.0\n"+strings.Repeat("x", 300_000))

	r, err := e.m.Create(context.Background(), store.Rollout{FileID: img.ID, MaxConcurrent: 10, MaxFailurePercent: 20, MinFinished: 10,
		Retries: ptr(2), RetryInterval: ptr(1), Timeout: time.Minute, CreatedBy: "test"}, fleet.IDs())
	if err != nil {
		t.Fatal(err)
	}
	peak := e.watchConcurrency(t, r.ID)
	waitFor(t, 2*time.Minute, "the roll-out to complete", func() bool { return e.rollout(t, r.ID).Status.Final() })
	done := e.rollout(t, r.ID)
	if done.Status != store.RolloutCompleted {
		t.Fatalf("roll-out %s: %s", done.Status, done.Detail)
	}
	if done.Counts[store.TargetInstalled] != 47 || done.Counts[store.TargetFailed] != 3 || done.Detail != "47 installed, 3 failed" {
		t.Fatalf("counts %v, detail %q", done.Counts, done.Detail)
	}
	if p := peak(); p > 10 {
		t.Errorf("%d chargers updated at once; the limit is 10", p)
	}
	for id, x := range e.targets(t, r.ID) {
		switch {
		case failing[id] && (x.Status != store.TargetFailed || !strings.Contains(x.Detail, "could not install")):
			t.Errorf("%s: %s %q, want Failed to install", id, x.Status, x.Detail)
		case !failing[id] && x.Status != store.TargetInstalled:
			t.Errorf("%s: %s %q", id, x.Status, x.Detail)
		}
	}
	// The chargers reboot into the new firmware and say so at boot.
	waitFor(t, time.Minute, "the chargers to boot the new firmware", func() bool {
		for _, id := range fleet.IDs() {
			ch, err := e.c.Store.GetCharger(context.Background(), id)
			if err != nil {
				return false
			}
			want := "2.0"
			if failing[id] {
				want = "sim-1"
			}
			if ch.FirmwareVersion != want {
				return false
			}
		}
		return true
	})
	// Each charger's notifications are kept.
	evs, err := e.c.Store.ListChargerEvents(context.Background(), "RO0001", "FirmwareStatusNotification", 10)
	if err != nil || len(evs) < 4 {
		t.Fatalf("RO0001 firmware events: %d, %v", len(evs), err)
	}
	if evs[0].Status != "Installed" {
		t.Errorf("RO0001's last firmware status %s", evs[0].Status)
	}
}

// An image the chargers cannot install halts the roll-out once more than
// half of at least four finished chargers failed: the rest are never
// sent it. Resuming counts failures afresh; cancelling drops the queue.
func TestBadImageHalts(t *testing.T) {
	e := newEnv(t)
	fleet := e.fleet(t, "BAD", 12, nil)
	img := e.image(t, "this is not a firmware image\n")
	r, err := e.m.Create(context.Background(), store.Rollout{FileID: img.ID, MaxConcurrent: 2, MaxFailurePercent: 50, MinFinished: 4,
		Timeout: time.Minute}, fleet.IDs())
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, time.Minute, "the roll-out to halt", func() bool { return e.rollout(t, r.ID).Status == store.RolloutHalted })
	halted := e.rollout(t, r.ID)
	if !strings.Contains(halted.Detail, "failed") {
		t.Errorf("detail %q", halted.Detail)
	}
	// Halting waits for the chargers in flight; none are sent the update.
	waitFor(t, time.Minute, "the chargers in flight to finish", func() bool {
		c := e.rollout(t, r.ID).Counts
		return c[store.TargetSent]+c[store.TargetDownloading]+c[store.TargetDownloaded]+c[store.TargetInstalling] == 0
	})
	c := e.rollout(t, r.ID).Counts
	// At most the four or five that finished when it halted plus the
	// two that were updating then.
	if c[store.TargetFailed] < 4 || c[store.TargetFailed] > 7 || c[store.TargetQueued] != 12-c[store.TargetFailed] {
		t.Fatalf("after halting: %v", c)
	}
	failedBefore := c[store.TargetFailed]

	// Resumed, it sends to more chargers and halts again at four more
	// failures.
	if ok, err := e.m.Resume(context.Background(), r.ID, "tester"); !ok || err != nil {
		t.Fatalf("resume: %v %v", ok, err)
	}
	waitFor(t, time.Minute, "the roll-out to halt again", func() bool {
		r := e.rollout(t, r.ID)
		return r.Status == store.RolloutHalted && r.Counts[store.TargetFailed] >= failedBefore+4
	})
	if ok, err := e.m.Cancel(context.Background(), r.ID, "tester"); !ok || err != nil {
		t.Fatalf("cancel: %v %v", ok, err)
	}
	waitFor(t, time.Minute, "the chargers in flight to finish", func() bool {
		c := e.rollout(t, r.ID).Counts
		return c[store.TargetSent]+c[store.TargetDownloading]+c[store.TargetDownloaded]+c[store.TargetInstalling] == 0
	})
	done := e.rollout(t, r.ID)
	if done.Status != store.RolloutCancelled || done.Counts[store.TargetQueued] != 0 || done.Counts[store.TargetCancelled] == 0 ||
		done.Counts[store.TargetInstalled] != 0 {
		t.Fatalf("cancelled: %s %v", done.Status, done.Counts)
	}
	// Once it is over, its chargers may join another roll-out.
	if _, err := e.m.Create(context.Background(), store.Rollout{FileID: img.ID, MaxFailurePercent: 100}, fleet.IDs()[:1]); err != nil {
		t.Fatal(err)
	}
}

// A charger that is offline waits in the queue and is updated when it
// connects; a charger in a live roll-out cannot join another one.
func TestOfflineChargerWaits(t *testing.T) {
	e := newEnv(t)
	img := e.image(t, sim.SimFirmwareMagic+"3.1\n")
	r, err := e.m.Create(context.Background(), store.Rollout{FileID: img.ID, MaxConcurrent: 5, MaxFailurePercent: 100}, []string{"LATE0001"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.m.Create(context.Background(), store.Rollout{FileID: img.ID}, []string{"LATE0001"}); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("second roll-out: %v", err)
	}
	time.Sleep(300 * time.Millisecond) // several rounds
	if got := e.rollout(t, r.ID); got.Status != store.RolloutRunning || got.Counts[store.TargetQueued] != 1 {
		t.Fatalf("with the charger offline: %s %v", got.Status, got.Counts)
	}
	e.fleet(t, "LATE", 1, nil)
	waitFor(t, time.Minute, "the roll-out to complete", func() bool { return e.rollout(t, r.ID).Status == store.RolloutCompleted })
	if c := e.rollout(t, r.ID).Counts; c[store.TargetInstalled] != 1 {
		t.Fatalf("counts %v", c)
	}
}

// A charger that takes the update and then goes quiet fails at the
// timeout; the retries it was allowed extend it.
func TestQuietChargerTimesOut(t *testing.T) {
	e := newEnv(t)
	installing := make(chan struct{})
	var once sync.Once
	cp, err := chargepoint.New(chargepoint.Config{URL: e.c.URL, ID: "QUIET", Connectors: []chargepoint.ConnectorHardware{sim.NewConnector(chargepoint.RealClock, sim.ConnectorConfig{Number: 1})},
		InstallFirmware: func(ctx context.Context, file string) error {
			once.Do(func() { close(installing) })
			<-ctx.Done() // never finishes
			return ctx.Err()
		}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = cp.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	waitFor(t, 10*time.Second, "the charger to connect", func() bool { return e.c.Service.IsConnected("QUIET") })

	img := e.image(t, "firmware")
	r, err := e.m.Create(context.Background(), store.Rollout{FileID: img.ID, MaxFailurePercent: 100, Timeout: time.Second,
		Retries: ptr(1), RetryInterval: ptr(1)}, []string{"QUIET"})
	if err != nil {
		t.Fatal(err)
	}
	<-installing
	waitFor(t, 30*time.Second, "the roll-out to complete", func() bool { return e.rollout(t, r.ID).Status == store.RolloutCompleted })
	x := e.targets(t, r.ID)["QUIET"]
	if x.Status != store.TargetFailed || !strings.Contains(x.Detail, "last status Installing") {
		t.Fatalf("target %s %q", x.Status, x.Detail)
	}
	if x.SentAt == nil || x.UpdatedAt.Sub(*x.SentAt) < 2*time.Second {
		t.Errorf("failed %v after it was sent; the timeout and one retry allow 2 s", x.UpdatedAt.Sub(*x.SentAt))
	}
}

func ptr[T any](v T) *T { return &v }
