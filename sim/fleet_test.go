package sim

import (
	"context"
	"fmt"
	"math"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wattson-csms/wattson/csms/csmstest"
	"github.com/wattson-csms/wattson/store"
)

// syncBuffer is a strings.Builder safe for the fleet's summary goroutine.
type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// runFleet runs f until the test ends.
func runFleet(t *testing.T, f *Fleet) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- f.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("fleet: %v", err)
		}
	})
}

func waitFor(t *testing.T, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func acceptTags(t *testing.T, c *csmstest.Central, f *Fleet, connectors int) {
	t.Helper()
	for _, id := range f.IDs() {
		for k := 1; k <= connectors; k++ {
			if _, err := c.Store.PutIDTag(context.Background(), store.IDTag{IDTag: f.cfg.Tag(id, k), Status: store.IDTagAccepted}); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// TestFleetRFIDSession boots five chargers with two connectors each and
// runs one RFID session by hand: the stored transaction's energy is what
// the simulated EV took.
func TestFleetRFIDSession(t *testing.T) {
	c := csmstest.New(t, nil, csmstest.AcceptUnknown)
	out := &syncBuffer{}
	f, err := NewFleet(FleetConfig{
		URL: c.URL, Chargers: 5, Connectors: 2, Prefix: "FLEET", Scenario: Idle,
		Clock: NewScaledClock(time.Date(2026, 11, 23, 8, 0, 0, 0, time.UTC), 120), StepInterval: 20 * time.Millisecond,
		Out: out, SummaryInterval: 100 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	acceptTags(t, c, f, 2)
	runFleet(t, f)
	waitFor(t, "five chargers booted", 20*time.Second, func() bool { s := f.Summary(); return s.Booted == 5 && s.Connected == 5 })
	for _, id := range f.IDs() {
		waitFor(t, id+" connectors stored", 10*time.Second, func() bool {
			conns, err := c.Store.ListConnectors(context.Background(), id)
			return err == nil && len(conns) >= 2
		})
	}

	k := f.Connector(2, 1)
	k.PlugIn(NewEV(60, 0.5, 16, 3))
	tag := f.cfg.Tag("FLEET0003", 1)
	cp := f.ChargePoint(2)
	cp.PresentTag(1, tag)
	waitFor(t, "the transaction to start", 20*time.Second, func() bool {
		_, ok := cp.Transaction(1)
		return ok
	})
	startEV, _ := k.EV()
	waitFor(t, "the EV to charge 500 Wh", 30*time.Second, func() bool {
		ev, _ := k.EV()
		return ev.EnergyWh-startEV.EnergyWh > 500
	})
	cp.PresentTag(1, tag)
	var tx store.Transaction
	waitFor(t, "the transaction to be stored as stopped", 20*time.Second, func() bool {
		txs, err := c.Store.ListTransactions(context.Background(), store.TxFilter{ChargerID: "FLEET0003", Limit: 10})
		if err != nil || len(txs) != 1 {
			return false
		}
		tx = txs[0]
		return !tx.Active()
	})
	endEV, _ := k.EV()
	took := endEV.EnergyWh - (0.5 * 60000)
	if tx.ChargerID != "FLEET0003" || tx.ConnectorID != 1 || tx.IDTag != tag {
		t.Errorf("stored transaction %+v", tx)
	}
	// The register counts in Wh; what flowed between reading it and the
	// contactor opening is at most a step's worth.
	if math.Abs(float64(tx.EnergyWh())-took) > 2+took*0.01 {
		t.Errorf("stored energy %d Wh, the EV took %.1f Wh", tx.EnergyWh(), took)
	}
	k.PlugOut()
	if !strings.Contains(out.String(), "booted 5") {
		t.Errorf("summary lines:\n%s", out.String())
	}
}

// TestFleetScenario runs the random scenario fast, with faults, until
// sessions have been stored as started and stopped.
func TestFleetScenario(t *testing.T) {
	c := csmstest.New(t, nil, csmstest.AcceptUnknown)
	f, err := NewFleet(FleetConfig{
		URL: c.URL, Chargers: 3, Connectors: 2, Prefix: "SCEN", Scenario: Random, Seed: 7, FaultsPerDay: 4,
		Clock: NewScaledClock(time.Date(2026, 11, 23, 8, 0, 0, 0, time.UTC), 1800), StepInterval: 10 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	acceptTags(t, c, f, 2)
	runFleet(t, f)
	waitFor(t, "stopped transactions", 60*time.Second, func() bool {
		active := false
		txs, err := c.Store.ListTransactions(context.Background(), store.TxFilter{Active: &active, Limit: 10})
		return err == nil && len(txs) >= 2
	})
	if s := f.Summary(); s.Plugs == 0 || s.Errors != 0 {
		t.Errorf("summary %v", s)
	}
}

func TestNewFleetErrors(t *testing.T) {
	for _, cfg := range []FleetConfig{
		{Chargers: 1},
		{URL: "ws://x/ocpp/"},
		{URL: "ws://x/ocpp/", Chargers: 1, Scenario: "beach"},
		{URL: "ws://x/ocpp/", Chargers: 1, FaultsPerDay: -1},
	} {
		if _, err := NewFleet(cfg); err == nil {
			t.Errorf("NewFleet(%+v) did not fail", cfg)
		}
	}
}

// TestChargingProfileLowersEVCurrent sends SetChargingProfile from the
// central system during a session: the charge point applies it to the
// pilot signal and the simulated EV draws less.
func TestChargingProfileLowersEVCurrent(t *testing.T) {
	c := csmstest.New(t, nil, csmstest.AcceptUnknown)
	f, err := NewFleet(FleetConfig{
		URL: c.URL, Chargers: 1, Connectors: 1, Prefix: "PROF", Scenario: Idle,
		Clock: NewScaledClock(time.Date(2026, 11, 23, 8, 0, 0, 0, time.UTC), 60), StepInterval: 20 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	acceptTags(t, c, f, 1)
	runFleet(t, f)
	waitFor(t, "the charger to boot", 20*time.Second, func() bool { return f.Summary().Booted == 1 })
	k, cp := f.Connector(0, 1), f.ChargePoint(0)
	k.PlugIn(NewEV(60, 0.2, 32, 3))
	cp.PresentTag(1, f.cfg.Tag("PROF0001", 1))
	waitFor(t, "the EV to draw 32 A", 20*time.Second, func() bool { return k.Meter().Current[0] > 31 })
	txID, _ := cp.Transaction(1)
	profile := fmt.Sprintf(`{"connectorId":1,"csChargingProfiles":{"chargingProfileId":7,"transactionId":%d,"stackLevel":1,
		"chargingProfilePurpose":"TxProfile","chargingProfileKind":"Relative",
		"chargingSchedule":{"chargingRateUnit":"A","chargingSchedulePeriod":[{"startPeriod":0,"limit":10}]}}}`, txID)
	answer, err := c.Service.Call(context.Background(), "PROF0001", "SetChargingProfile", []byte(profile))
	if err != nil || !strings.Contains(string(answer), "Accepted") {
		t.Fatalf("SetChargingProfile: %s %v", answer, err)
	}
	waitFor(t, "the EV to draw 10 A", 20*time.Second, func() bool {
		m := k.Meter()
		return m.Current[0] > 9 && m.Current[0] <= 10.01 && m.OfferedA == 10
	})
	if got := cp.CurrentLimit(1); got != 10 {
		t.Fatalf("charge point limit %g, want 10", got)
	}
}
