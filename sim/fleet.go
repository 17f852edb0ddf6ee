package sim

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/wattson-csms/wattson/chargepoint"
)

// ChargerID returns the id of charger n (from 1): prefix and n with at
// least four digits, SIM0001.
func ChargerID(prefix string, n int) string { return fmt.Sprintf("%s%04d", prefix, n) }

// FleetConfig configures a Fleet.
type FleetConfig struct {
	// URL is the central system's OCPP endpoint without the charger id,
	// e.g. ws://127.0.0.1:8180/ocpp/.
	URL string
	// Chargers and Connectors per charger.
	Chargers, Connectors int
	// Prefix and IDOffset name the chargers: charger n (from 1) is
	// ChargerID(Prefix, IDOffset+n).
	Prefix   string
	IDOffset int
	// Scenario of the drivers; default Random.
	Scenario Scenario
	// FaultsPerDay is the expected number of faults per charger and day
	// of the clock's time (reboots, faulted connectors); 0 means none.
	FaultsPerDay float64
	// Seed makes the drivers and faults repeatable.
	Seed uint64
	// Clock is the charge points' time; nil means the wall clock. A
	// ScaledClock runs days in minutes.
	Clock chargepoint.Clock
	// DataDir, if set, gets a directory per charger for what the charge
	// point keeps across reboots; empty keeps everything in memory.
	DataDir string
	// Tag returns the RFID tag of the drivers of a connector; default
	// "<charger id>-<connector>". For sessions to start, the central
	// system must accept these tags.
	Tag func(chargerID string, connector int) string
	// MaxCurrent (A per phase, default 32) and Phases (default 3) of each
	// charger.
	MaxCurrent float64
	Phases     int
	// SourceAddrs, if not empty, are local addresses the chargers connect
	// from, in turn.
	SourceAddrs []netip.Addr
	// StepInterval is how often, in real time, the models move on and the
	// drivers act; default 250 ms.
	StepInterval time.Duration
	// Ramp is charge points started per second; 0 starts them all at once.
	Ramp float64
	// Out receives a summary line every SummaryInterval (default 5 s);
	// nil prints nothing.
	Out             io.Writer
	SummaryInterval time.Duration
	// Logger for the charge points; nil logs nothing (warnings and errors
	// are still counted).
	Logger *slog.Logger
	// FailFirmware, if set, makes the installation of a firmware image
	// fail on the chargers it returns true for (a roll-out's failures).
	FailFirmware func(chargerID string) bool
}

// Fleet runs many charge points from the chargepoint package on simulated
// hardware against a central system. One goroutine moves all models and
// drivers; each charge point runs its own.
type Fleet struct {
	cfg      FleetConfig
	clock    chargepoint.Clock
	chargers []*charger
	log      *slog.Logger
	warns    atomic.Uint64
	errs     atomic.Uint64
	plugs    atomic.Uint64
	unplugs  atomic.Uint64
	reboots  atomic.Uint64
	faults   atomic.Uint64
	runCtx   context.Context
	started  sync.WaitGroup // charge point runs
	rebootWG sync.WaitGroup // reboots in progress
}

// charger is one simulated charge point and what stands around it.
type charger struct {
	f       *Fleet
	n       int
	id      string
	conns   []*Connector
	drivers []*driver
	faults  *FaultPlanner
	fault   Fault
	hasF    bool
	// faultEnd[i] is when connector i+1's fault clears; zero if none.
	faultEnd []time.Time

	mu     sync.Mutex
	cp     *chargepoint.ChargePoint
	cancel context.CancelFunc
	done   chan struct{}
	down   bool   // rebooting
	fw     string // the firmware version installed, "" for sim-1
}

// driver is whoever uses one connector.
type driver struct {
	planner       *Planner
	sess          Session
	has           bool
	plugged       bool
	tagPending    bool
	stopPresented bool
}

// NewFleet checks cfg and builds the models; Run starts the charge points.
func NewFleet(cfg FleetConfig) (*Fleet, error) {
	switch {
	case cfg.URL == "":
		return nil, errors.New("sim: no central system URL")
	case cfg.Chargers < 1:
		return nil, errors.New("sim: need at least one charger")
	case cfg.FaultsPerDay < 0 || cfg.Ramp < 0:
		return nil, errors.New("sim: faults per day and ramp must not be negative")
	}
	if cfg.Connectors < 1 {
		cfg.Connectors = 2
	}
	if cfg.Scenario == "" {
		cfg.Scenario = Random
	}
	if _, err := ParseScenario(string(cfg.Scenario)); err != nil {
		return nil, err
	}
	if cfg.Clock == nil {
		cfg.Clock = chargepoint.RealClock
	}
	if cfg.Tag == nil {
		cfg.Tag = func(id string, connector int) string { return fmt.Sprintf("%s-%d", id, connector) }
	}
	if cfg.MaxCurrent <= 0 {
		cfg.MaxCurrent = 32
	}
	if cfg.Phases != 1 {
		cfg.Phases = 3
	}
	if cfg.StepInterval <= 0 {
		cfg.StepInterval = 250 * time.Millisecond
	}
	if cfg.SummaryInterval <= 0 {
		cfg.SummaryInterval = 5 * time.Second
	}
	f := &Fleet{cfg: cfg, clock: cfg.Clock}
	var h slog.Handler = slog.DiscardHandler
	if cfg.Logger != nil {
		h = cfg.Logger.Handler()
	}
	f.log = slog.New(&countingHandler{next: h, warns: &f.warns, errs: &f.errs})
	for i := range cfg.Chargers {
		n := cfg.IDOffset + i + 1
		c := &charger{f: f, n: n, id: ChargerID(cfg.Prefix, n), faultEnd: make([]time.Time, cfg.Connectors)}
		for k := 1; k <= cfg.Connectors; k++ {
			c.conns = append(c.conns, NewConnector(f.clock, ConnectorConfig{
				Number: k, MaxCurrent: cfg.MaxCurrent, Phases: cfg.Phases, Seed: cfg.Seed ^ uint64(n)<<8,
			}))
			c.drivers = append(c.drivers, &driver{planner: NewPlanner(cfg.Scenario, cfg.Seed, n, k, cfg.Tag(c.id, k))})
		}
		if cfg.Scenario != Idle {
			c.faults = NewFaultPlanner(cfg.Seed, n, cfg.Connectors, cfg.FaultsPerDay)
		}
		f.chargers = append(f.chargers, c)
	}
	return f, nil
}

// Connector returns connector k (from 1) of the i-th charger (from 0),
// for tests and tools that look at the hardware.
func (f *Fleet) Connector(i, k int) *Connector { return f.chargers[i].conns[k-1] }

// ChargePoint returns the i-th charger's (from 0) current charge point;
// nil while it reboots.
func (f *Fleet) ChargePoint(i int) *chargepoint.ChargePoint {
	c := f.chargers[i]
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.down {
		return nil
	}
	return c.cp
}

// IDs returns the chargers' ids in order.
func (f *Fleet) IDs() []string {
	ids := make([]string, len(f.chargers))
	for i, c := range f.chargers {
		ids[i] = c.id
	}
	return ids
}

// Run starts the charge points, moves models and drivers until ctx ends,
// then stops every charge point and returns. It returns an error only if
// a charge point could not be created.
func (f *Fleet) Run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	f.runCtx = ctx
	defer func() {
		cancel()
		f.rebootWG.Wait()
		for _, c := range f.chargers {
			c.stop()
		}
		f.started.Wait()
	}()

	var bg sync.WaitGroup
	defer bg.Wait()
	defer cancel()
	bg.Go(func() { f.steps(ctx) })
	if f.cfg.Out != nil {
		bg.Go(func() { f.summaries(ctx) })
	}

	start := time.Now()
	pace := time.NewTimer(0)
	defer pace.Stop()
	for i, c := range f.chargers {
		if f.cfg.Ramp > 0 {
			if d := time.Until(start.Add(time.Duration(float64(i) / f.cfg.Ramp * float64(time.Second)))); d > 0 {
				pace.Reset(d)
				select {
				case <-pace.C:
				case <-ctx.Done():
					return nil
				}
			}
		}
		if err := c.start(ctx); err != nil {
			return err
		}
	}
	<-ctx.Done()
	return nil
}

// newChargePoint builds c's charge point.
func (c *charger) newChargePoint() (*chargepoint.ChargePoint, error) {
	f := c.f
	hw := make([]chargepoint.ConnectorHardware, len(c.conns))
	for i, k := range c.conns {
		hw[i] = k
	}
	dir := ""
	if f.cfg.DataDir != "" {
		dir = filepath.Join(f.cfg.DataDir, c.id)
	}
	var local string
	if len(f.cfg.SourceAddrs) > 0 {
		local = f.cfg.SourceAddrs[c.n%len(f.cfg.SourceAddrs)].String()
	}
	return chargepoint.New(chargepoint.Config{
		URL:             f.cfg.URL,
		LocalAddr:       local,
		ID:              c.id,
		Vendor:          "Wattson",
		Model:           "Sim",
		SerialNumber:    c.id,
		FirmwareVersion: c.firmware(),
		Connectors:      hw,
		MaxCurrent:      f.cfg.MaxCurrent,
		Phases:          f.cfg.Phases,
		DataDir:         dir,
		Clock:           f.clock,
		Logger:          f.log.With("charger", c.id),
		InstallFirmware: c.installFirmware,
		DiagnosticsFile: func(start, stop *time.Time) (string, []byte, error) {
			return c.id + "-diagnostics.txt", fmt.Appendf(nil, "simulated charger %s, %d connectors\n", c.id, len(c.conns)), nil
		},
	})
}

// SimFirmwareMagic starts the first line of a firmware image the
// simulator installs; the rest of the line is the version it then boots
// with. Any other file fails to install, as a real charger refuses an
// image for another model.
const SimFirmwareMagic = "WATTSON-SIM-FIRMWARE "

// installFirmware checks a downloaded image like a charger's bootloader
// would and takes its version.
func (c *charger) installFirmware(ctx context.Context, file string) error {
	f, err := os.Open(file)
	if err != nil {
		return err
	}
	defer f.Close()
	line, _ := bufio.NewReader(io.LimitReader(f, 256)).ReadString('\n')
	version, ok := strings.CutPrefix(strings.TrimRight(line, "\r\n"), SimFirmwareMagic)
	if !ok || version == "" || len(version) > 50 {
		return fmt.Errorf("sim: %s is not a firmware image for this charger", filepath.Base(file))
	}
	if c.f.cfg.FailFirmware != nil && c.f.cfg.FailFirmware(c.id) {
		return fmt.Errorf("sim: installing %s failed (simulated)", version)
	}
	c.mu.Lock()
	cp := c.cp
	c.fw = version
	c.mu.Unlock()
	if cp != nil {
		cp.SetFirmwareVersion(version)
	}
	return nil
}

// firmware is the version the charger runs.
func (c *charger) firmware() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.fw == "" {
		return "sim-1"
	}
	return c.fw
}

// start creates and runs c's charge point.
func (c *charger) start(ctx context.Context) error {
	cp, err := c.newChargePoint()
	if err != nil {
		return fmt.Errorf("sim: charger %s: %w", c.id, err)
	}
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	c.mu.Lock()
	c.cp, c.cancel, c.done, c.down = cp, cancel, done, false
	c.mu.Unlock()
	for _, k := range c.conns {
		k.SetEvents(cp)
	}
	c.f.started.Go(func() {
		defer close(done)
		if err := cp.Run(runCtx); err != nil && runCtx.Err() == nil {
			c.f.log.Error("charge point stopped", "charger", c.id, "err", err)
		}
	})
	return nil
}

// stop ends c's charge point and waits for it; the hardware falls back to
// its resting state, as when power is lost.
func (c *charger) stop() {
	c.mu.Lock()
	cancel, done := c.cancel, c.done
	c.cancel, c.done = nil, nil
	c.mu.Unlock()
	if cancel == nil {
		return
	}
	cancel()
	<-done
	for _, k := range c.conns {
		k.SetEvents(nil)
		_ = k.SetContactor(false)
		_ = k.SetCurrentLimit(0)
	}
}

// reboot stops c's charge point and starts a new one after off.
func (c *charger) reboot(off time.Duration) {
	c.mu.Lock()
	if c.down || c.cancel == nil {
		c.mu.Unlock()
		return
	}
	c.down = true
	c.mu.Unlock()
	c.f.reboots.Add(1)
	c.f.rebootWG.Go(func() {
		c.stop()
		t := c.f.clock.NewTimer(off)
		defer t.Stop()
		select {
		case <-t.C():
		case <-c.f.runCtx.Done():
			return
		}
		if err := c.start(c.f.runCtx); err != nil {
			c.f.log.Error("reboot failed", "charger", c.id, "err", err)
		}
	})
}

// steps moves every model and driver on every StepInterval.
func (f *Fleet) steps(ctx context.Context) {
	tk := time.NewTicker(f.cfg.StepInterval)
	defer tk.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tk.C:
		}
		now := f.clock.Now()
		for _, c := range f.chargers {
			c.tick(now)
		}
	}
}

func (c *charger) tick(now time.Time) {
	for _, k := range c.conns {
		k.Step(now)
	}
	c.mu.Lock()
	cp, down := c.cp, c.down
	c.mu.Unlock()
	if cp == nil || down {
		return
	}
	c.applyFaults(now, cp)
	for i, d := range c.drivers {
		d.tick(now, c.f, cp, i+1, c.conns[i])
	}
}

func (c *charger) applyFaults(now time.Time, cp *chargepoint.ChargePoint) {
	for i, end := range c.faultEnd {
		if !end.IsZero() && !now.Before(end) {
			cp.Fault(i+1, "NoError", "")
			c.faultEnd[i] = time.Time{}
		}
	}
	if c.faults == nil {
		return
	}
	if !c.hasF {
		c.fault, c.hasF = c.faults.Next(now)
	}
	if !c.hasF || now.Before(c.fault.At) {
		return
	}
	f := c.fault
	c.fault, c.hasF = c.faults.Next(now.Add(f.For))
	switch f.Kind {
	case FaultReboot:
		c.reboot(f.For)
	case FaultConnector:
		c.f.faults.Add(1)
		cp.Fault(f.Connector, "GroundFailure", "simulated fault")
		c.faultEnd[f.Connector-1] = now.Add(f.For)
	default:
		c.f.faults.Add(1)
		cp.DropConnection()
	}
}

func (d *driver) tick(now time.Time, f *Fleet, cp *chargepoint.ChargePoint, n int, k *Connector) {
	if !d.has {
		if d.sess, d.has = d.planner.Next(now); !d.has {
			return
		}
	}
	if !d.plugged {
		if !now.Before(d.sess.Arrive) {
			k.PlugIn(d.sess.EV.NewEV())
			d.plugged, d.tagPending, d.stopPresented = true, d.sess.Tag != "", false
			f.plugs.Add(1)
		}
		return
	}
	if d.tagPending {
		cp.PresentTag(n, d.sess.Tag)
		d.tagPending = false
		return
	}
	leave := !now.Before(d.sess.Depart)
	if !leave && d.sess.LeaveWhenFull {
		ev, ok := k.EV()
		leave = ok && ev.Full()
	}
	if !leave {
		return
	}
	// A driver with a card ends the session with it, then unplugs; others
	// just unplug.
	if d.sess.Tag != "" && !d.stopPresented {
		if _, ok := cp.Transaction(n); ok {
			cp.PresentTag(n, d.sess.Tag)
			d.stopPresented = true
			return
		}
	}
	k.PlugOut()
	f.unplugs.Add(1)
	d.plugged = false
	d.sess, d.has = d.planner.Next(now)
}

// Summary is a snapshot of the fleet.
type Summary struct {
	Time                                 time.Time // the clock's
	Chargers, Connected, Booted          int
	Charging, Faulted                    int // connectors
	PowerKW, EnergyKWh                   float64
	Plugs, Unplugs, Reboots, FaultsShown uint64
	Warnings, Errors                     uint64
}

// Summary counts what the fleet is doing now.
func (f *Fleet) Summary() Summary {
	s := Summary{Time: f.clock.Now(), Chargers: len(f.chargers)}
	for _, c := range f.chargers {
		c.mu.Lock()
		cp := c.cp
		if c.down {
			cp = nil
		}
		c.mu.Unlock()
		for i, k := range c.conns {
			r := k.Meter()
			s.PowerKW += r.PowerW / 1000
			s.EnergyKWh += r.EnergyWh / 1000
			if cp == nil {
				continue
			}
			switch cp.Status(i + 1) {
			case "Charging":
				s.Charging++
			case "Faulted":
				s.Faulted++
			}
		}
		if cp == nil {
			continue
		}
		if cp.Connected() {
			s.Connected++
		}
		if cp.Registration() == "Accepted" {
			s.Booted++
		}
	}
	s.Plugs, s.Unplugs, s.Reboots, s.FaultsShown = f.plugs.Load(), f.unplugs.Load(), f.reboots.Load(), f.faults.Load()
	s.Warnings, s.Errors = f.warns.Load(), f.errs.Load()
	return s
}

func (s Summary) String() string {
	return fmt.Sprintf("%s  connected %d/%d  booted %d  charging %d  faulted %d  %.1f kW  %.1f kWh  plugs %d  unplugs %d  reboots %d  warnings %d  errors %d",
		s.Time.Format("Mon 15:04"), s.Connected, s.Chargers, s.Booted, s.Charging, s.Faulted,
		math.Round(s.PowerKW*10)/10, s.EnergyKWh, s.Plugs, s.Unplugs, s.Reboots, s.Warnings, s.Errors)
}

func (f *Fleet) summaries(ctx context.Context) {
	tk := time.NewTicker(f.cfg.SummaryInterval)
	defer tk.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tk.C:
			fmt.Fprintln(f.cfg.Out, f.Summary())
		}
	}
}

// countingHandler counts warnings and errors on their way to next.
type countingHandler struct {
	next        slog.Handler
	warns, errs *atomic.Uint64
}

func (h *countingHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= slog.LevelWarn || h.next.Enabled(ctx, l)
}

func (h *countingHandler) Handle(ctx context.Context, r slog.Record) error {
	switch {
	case r.Level >= slog.LevelError:
		h.errs.Add(1)
	case r.Level >= slog.LevelWarn:
		h.warns.Add(1)
	}
	if !h.next.Enabled(ctx, r.Level) {
		return nil
	}
	return h.next.Handle(ctx, r)
}

func (h *countingHandler) WithAttrs(a []slog.Attr) slog.Handler {
	return &countingHandler{next: h.next.WithAttrs(a), warns: h.warns, errs: h.errs}
}

func (h *countingHandler) WithGroup(name string) slog.Handler {
	return &countingHandler{next: h.next.WithGroup(name), warns: h.warns, errs: h.errs}
}
