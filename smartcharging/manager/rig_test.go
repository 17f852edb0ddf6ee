package manager_test

import (
	"context"
	"fmt"
	"math"
	"sync"
	"testing"
	"time"

	"github.com/wattson-csms/wattson/chargepoint"
	"github.com/wattson-csms/wattson/csms"
	"github.com/wattson-csms/wattson/csms/csmstest"
	"github.com/wattson-csms/wattson/events"
	"github.com/wattson-csms/wattson/sim"
	"github.com/wattson-csms/wattson/smartcharging"
	"github.com/wattson-csms/wattson/smartcharging/manager"
	"github.com/wattson-csms/wattson/store"
)

// rig is a real central system on SQLite with the manager, and real
// charge points (package chargepoint) with simulated connectors and cars
// (package sim) connected over loopback websockets.
type rig struct {
	t       *testing.T
	ctx     context.Context
	clock   chargepoint.Clock
	central *csmstest.Central
	mgr     *manager.Manager

	stop func() // stops the manager

	mu       sync.Mutex
	stations []*station
}

type station struct {
	id   string
	cp   *chargepoint.ChargePoint
	conn *sim.Connector
}

type rigOptions struct {
	clock   chargepoint.Clock // nil: real time
	manager func(*manager.Config)
}

func newRig(t *testing.T, o rigOptions) *rig {
	t.Helper()
	clock := o.clock
	if clock == nil {
		clock = chargepoint.RealClock
	}
	bus := &events.Bus{}
	central := csmstest.New(t, nil, func(c *csms.Config) {
		csmstest.AcceptUnknown(c)
		c.Events = bus
		c.Now = clock.Now
	})
	cfg := manager.Config{
		Store: central.Store, Events: bus, Commands: central.Service, Now: clock.Now,
		Interval: 200 * time.Millisecond, Debounce: 20 * time.Millisecond, CallTimeout: 5 * time.Second,
		Alloc: smartcharging.Config{SteadyFor: 3 * time.Second, MinInterval: -1, ConfirmDelay: 2 * time.Second, Hysteresis: 0.5},
	}
	if o.manager != nil {
		o.manager(&cfg)
	}
	mgr, err := manager.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { mgr.Run(ctx); close(done) }()
	var once sync.Once
	r := &rig{t: t, ctx: ctx, clock: clock, central: central, mgr: mgr,
		stop: func() { once.Do(func() { cancel(); <-done }) }}
	go r.step(ctx)
	t.Cleanup(r.stop)
	return r
}

// step moves the simulated cars along.
func (r *rig) step(ctx context.Context) {
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		now := r.clock.Now()
		r.mu.Lock()
		for _, s := range r.stations {
			s.conn.Step(now)
		}
		r.mu.Unlock()
	}
}

// station connects a one-connector charge point of the given installation
// phases (1 or 3) and maximum current.
func (r *rig) station(id string, phases int, maxCurrent float64) *station {
	r.t.Helper()
	return r.stationCfg(id, phases, maxCurrent, map[string]string{
		"MeterValueSampleInterval": "1",
		"MeterValuesSampledData":   "Current.Import,Energy.Active.Import.Register",
	})
}

// stationCfg is station with the given configuration keys.
func (r *rig) stationCfg(id string, phases int, maxCurrent float64, conf map[string]string) *station {
	r.t.Helper()
	if _, err := r.central.Store.PutIDTag(r.ctx, store.IDTag{IDTag: tagOf(id), Status: store.IDTagAccepted}); err != nil {
		r.t.Fatal(err)
	}
	conn := sim.NewConnector(r.clock, sim.ConnectorConfig{Number: 1, MaxCurrent: maxCurrent, Phases: phases, Seed: uint64(len(id))})
	cp, err := chargepoint.New(chargepoint.Config{
		URL: r.central.URL, ID: id, Vendor: "Wattson", Model: "SimBox",
		Connectors: []chargepoint.ConnectorHardware{conn}, MaxCurrent: maxCurrent, Phases: phases,
		Clock: r.clock, MinBackoff: 50 * time.Millisecond, MaxBackoff: time.Second,
		Configuration: conf,
	})
	if err != nil {
		r.t.Fatal(err)
	}
	conn.SetEvents(cp)
	ctx, cancel := context.WithCancel(r.ctx)
	done := make(chan struct{})
	go func() { _ = cp.Run(ctx); close(done) }()
	r.t.Cleanup(func() { cancel(); <-done })
	s := &station{id: id, cp: cp, conn: conn}
	r.mu.Lock()
	r.stations = append(r.stations, s)
	r.mu.Unlock()
	r.eventually(fmt.Sprintf("%s connected and booted", id), 10*time.Second, func() bool {
		return cp.Connected() && cp.Registration() == "Accepted" && cp.Status(1) == "Available"
	})
	return s
}

// arrive plugs a car in and presents the card.
func (s *station) arrive(ev *sim.EV) {
	s.conn.PlugIn(ev)
	s.cp.PresentTag(1, tagOf(s.id))
}

// tagOf is a station's driver's card (one card may run one transaction).
func tagOf(station string) string {
	if len(station) > 15 {
		station = station[:15]
	}
	return "C-" + station
}

// plugged reports whether a car is plugged in.
func (s *station) plugged() bool { _, ok := s.conn.EV(); return ok }

// amps is what the car draws now, per phase.
func (s *station) amps() [3]float64 { return s.conn.Meter().Current }

func (r *rig) group(g store.ChargingGroup) {
	r.t.Helper()
	if _, err := r.central.Store.PutGroup(r.ctx, g); err != nil {
		r.t.Fatal(err)
	}
	r.mgr.Reload()
}

func (r *rig) setting(s store.ConnectorSetting) {
	r.t.Helper()
	if s.ConnectorID == 0 {
		s.ConnectorID = 1
	}
	if s.Mode == "" {
		s.Mode = store.ModeOn
	}
	if _, err := r.central.Store.PutConnectorSetting(r.ctx, s); err != nil {
		r.t.Fatal(err)
	}
	r.mgr.Reload()
}

func (r *rig) eventually(what string, within time.Duration, ok func() bool) {
	r.t.Helper()
	deadline := time.Now().Add(within)
	for !ok() {
		if time.Now().After(deadline) {
			r.t.Fatalf("%s: not within %v; manager status: %+v", what, within, r.mgr.Status())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// near reports whether a is within 0.3 A of want (the meter is exact for
// current; the allocator rounds to 0.1 A).
func near(a, want float64) bool { return math.Abs(a-want) <= 0.3 }

func connStatus(m *manager.Manager, charger string) (manager.ConnectorStatus, bool) {
	for _, c := range m.Status().Connectors {
		if c.ChargerID == charger && c.ConnectorID == 1 {
			return c, true
		}
	}
	return manager.ConnectorStatus{}, false
}
