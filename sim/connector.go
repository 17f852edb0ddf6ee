package sim

import (
	"math"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/wattson-csms/wattson/chargepoint"
)

// NominalVoltage is the phase-to-neutral voltage the meter reads around.
const NominalVoltage = 230.0

// EVEvents is what a Connector tells the charge point about the car:
// *chargepoint.ChargePoint implements it.
type EVEvents interface {
	Plug(connector int)
	Unplug(connector int)
	// EVCharging reports whether the EV asks for energy (IEC 61851
	// state C) or not (state B: connected, e.g. because it is full).
	EVCharging(connector int, charging bool)
}

// Connector is one simulated outlet: contactor, pilot signal, cable lock,
// meter and, when plugged, an EV. It implements
// chargepoint.ConnectorHardware. Energy is integrated over the clock's time:
// every method that changes what flows first accounts for the time since
// the last change at the power that was flowing, so the register is exact
// for the piecewise constant power the model draws; Step, called
// periodically, moves the battery along its curve and tells the charge
// point when the EV starts or stops asking for energy.
//
// All methods are safe for concurrent use. Callbacks into EVEvents are
// made without holding the lock the hardware methods take, so the charge
// point may call back into the hardware from them.
type Connector struct {
	clock      chargepoint.Clock
	number     int
	maxCurrent float64
	phases     int

	// nmu orders the callbacks into the charge point: Plug before
	// EVCharging before Unplug, as a real car does them.
	nmu    sync.Mutex
	events EVEvents
	asking bool // what the charge point was last told

	mu        sync.Mutex
	rng       *rand.Rand
	last      time.Time
	contactor bool
	limit     float64
	locked    bool
	ev        *EV
	energyWh  float64
	volts     [3]float64
	amps      [3]float64
	powerW    float64
}

// ConnectorConfig describes a connector's hardware.
type ConnectorConfig struct {
	Number     int     // connector id on the charge point, from 1
	MaxCurrent float64 // per phase, A; default 32
	Phases     int     // of the installation: 1 or 3 (default)
	Seed       uint64  // for the meter's noise
	EnergyWh   float64 // initial register reading
}

// NewConnector returns an unplugged connector with its contactor open and
// no current offered.
func NewConnector(clock chargepoint.Clock, cfg ConnectorConfig) *Connector {
	if cfg.MaxCurrent <= 0 {
		cfg.MaxCurrent = 32
	}
	if cfg.Phases != 1 {
		cfg.Phases = 3
	}
	c := &Connector{
		clock:      clock,
		number:     cfg.Number,
		maxCurrent: cfg.MaxCurrent,
		phases:     cfg.Phases,
		rng:        rand.New(rand.NewPCG(cfg.Seed, uint64(cfg.Number))),
		last:       clock.Now(),
		energyWh:   cfg.EnergyWh,
	}
	c.refresh()
	return c
}

// SetEvents sets whom the connector tells about the car (the charge point
// on connector number Number); nil tells nobody. A charge point set while
// an EV is plugged in (after a reboot) is told of the plug at once and of
// the EV's state at the next Step.
func (c *Connector) SetEvents(ev EVEvents) {
	c.nmu.Lock()
	defer c.nmu.Unlock()
	c.events = ev
	c.asking = false
	c.mu.Lock()
	plugged := c.ev != nil
	c.mu.Unlock()
	if plugged && ev != nil {
		ev.Plug(c.number)
	}
}

// SetContactor implements chargepoint.ConnectorHardware.
func (c *Connector) SetContactor(closed bool) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.advance(c.clock.Now())
	c.contactor = closed
	c.refresh()
	return nil
}

// SetCurrentLimit implements chargepoint.ConnectorHardware; the offer is
// capped at the connector's maximum.
func (c *Connector) SetCurrentLimit(amps float64) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.advance(c.clock.Now())
	c.limit = math.Max(0, math.Min(amps, c.maxCurrent))
	c.refresh()
	return nil
}

// Unlock implements chargepoint.ConnectorHardware.
func (c *Connector) Unlock() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.locked = false
	return nil
}

// Meter implements chargepoint.ConnectorHardware.
func (c *Connector) Meter() chargepoint.MeterReading {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.advance(c.clock.Now())
	r := chargepoint.MeterReading{
		EnergyWh: c.energyWh,
		Voltage:  c.volts,
		Current:  c.amps,
		PowerW:   c.powerW,
		OfferedA: c.limit,
	}
	if c.ev != nil {
		soc := math.Round(c.ev.SoC()*1000) / 10
		r.SoC = &soc
	}
	return r
}

// Locked reports whether the cable lock is closed.
func (c *Connector) Locked() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.locked
}

// Contactor reports whether the contactor is closed.
func (c *Connector) Contactor() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.contactor
}

// EV returns a copy of the plugged EV's state, or false.
func (c *Connector) EV() (EV, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.advance(c.clock.Now())
	if c.ev == nil {
		return EV{}, false
	}
	return *c.ev, true
}

// PlugIn connects ev (which the connector owns from now on), locks the
// cable and tells the charge point. The EV asks for energy from the next
// Step.
func (c *Connector) PlugIn(ev *EV) {
	c.nmu.Lock()
	defer c.nmu.Unlock()
	c.mu.Lock()
	c.advance(c.clock.Now())
	c.ev = ev
	c.locked = true
	c.refresh()
	c.mu.Unlock()
	c.asking = false
	if c.events != nil {
		c.events.Plug(c.number)
	}
}

// PlugOut disconnects the EV and tells the charge point; it returns the
// EV (nil if none was plugged).
func (c *Connector) PlugOut() *EV {
	c.nmu.Lock()
	defer c.nmu.Unlock()
	c.mu.Lock()
	c.advance(c.clock.Now())
	ev := c.ev
	c.ev = nil
	c.locked = false
	c.refresh()
	c.mu.Unlock()
	c.asking = false
	if ev != nil && c.events != nil {
		c.events.Unplug(c.number)
	}
	return ev
}

// Step integrates up to now, moves the EV along its charging curve and
// tells the charge point when the EV starts or stops asking for energy.
// Call it periodically (the Fleet does) from one goroutine; the finer the
// steps, the closer the curve is followed.
func (c *Connector) Step(now time.Time) {
	c.nmu.Lock()
	defer c.nmu.Unlock()
	c.mu.Lock()
	c.advance(now)
	c.refresh()
	asking := c.ev != nil && !c.ev.Full()
	c.mu.Unlock()
	if asking != c.asking {
		c.asking = asking
		if c.events != nil {
			c.events.EVCharging(c.number, asking)
		}
	}
}

// advance accounts for the energy that flowed since the last change at
// the power that was flowing then. c.mu is held.
func (c *Connector) advance(now time.Time) {
	dt := now.Sub(c.last)
	if dt <= 0 {
		return
	}
	c.last = now
	wh := c.powerW * dt.Hours()
	if c.ev != nil {
		wh = math.Min(wh, c.ev.CapacityWh-c.ev.EnergyWh)
		c.ev.Charge(wh)
	}
	if wh > 0 {
		c.energyWh += wh
	}
}

// refresh recomputes voltages (with a little noise), currents and power
// for what is plugged and offered now. c.mu is held.
func (c *Connector) refresh() {
	for i := range c.volts {
		if i >= c.phases {
			c.volts[i] = 0
			continue
		}
		c.volts[i] = math.Round((NominalVoltage+c.rng.NormFloat64()*0.8)*10) / 10
	}
	c.amps = [3]float64{}
	c.powerW = 0
	if c.ev == nil {
		return
	}
	draw := c.ev.Draw(c.limit, c.contactor)
	n := min(c.ev.Phases, c.phases)
	for i := range n {
		c.amps[i] = draw
		c.powerW += c.volts[i] * draw
	}
}

var _ chargepoint.ConnectorHardware = (*Connector)(nil)
