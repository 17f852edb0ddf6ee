package sim

import (
	"math"
	"sync"
	"testing"
	"time"
)

// events records what a connector tells the charge point.
type events struct {
	mu  sync.Mutex
	got []string
}

func (e *events) add(s string) { e.mu.Lock(); e.got = append(e.got, s); e.mu.Unlock() }
func (e *events) Plug(n int)   { e.add("plug") }
func (e *events) Unplug(n int) { e.add("unplug") }
func (e *events) EVCharging(n int, charging bool) {
	if charging {
		e.add("charging")
	} else {
		e.add("suspended")
	}
}
func (e *events) list() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]string(nil), e.got...)
}

func TestConnectorEnergyIsIntegralOfPower(t *testing.T) {
	clk := NewManualClock(t0)
	c := NewConnector(clk, ConnectorConfig{Number: 1, MaxCurrent: 32, Seed: 7, EnergyWh: 1000})
	ev := NewEV(60, 0.2, 16, 3)
	c.PlugIn(ev)
	c.SetCurrentLimit(32)
	c.SetContactor(true)

	var integral float64
	prev := c.Meter()
	if prev.PowerW < 3*225*16 || prev.PowerW > 3*235*16 {
		t.Fatalf("power %v W for 3 × 16 A", prev.PowerW)
	}
	for i := range 600 {
		clk.Advance(7 * time.Second)
		c.Step(clk.Now())
		if i == 300 {
			c.SetCurrentLimit(10) // load management steps in
		}
		r := c.Meter()
		integral += prev.PowerW * (7 * time.Second).Hours()
		if r.EnergyWh < prev.EnergyWh {
			t.Fatalf("register went back: %v → %v", prev.EnergyWh, r.EnergyWh)
		}
		prev = r
	}
	got := prev.EnergyWh - 1000
	if math.Abs(got-integral) > 1e-6*integral {
		t.Errorf("register rose %v Wh, ∫P dt = %v Wh", got, integral)
	}
	state, _ := c.EV()
	if math.Abs(state.EnergyWh-(0.2*60000+got)) > 1e-6 {
		t.Errorf("battery holds %v Wh, want %v", state.EnergyWh, 0.2*60000+got)
	}
	if prev.Current[0] != 10 || prev.OfferedA != 10 || *prev.SoC <= 20 {
		t.Errorf("reading %+v", prev)
	}
}

func TestConnectorOnePhaseEV(t *testing.T) {
	clk := NewManualClock(t0)
	c := NewConnector(clk, ConnectorConfig{Number: 2, Seed: 1})
	c.PlugIn(NewEV(40, 0.5, 32, 1))
	c.SetCurrentLimit(16)
	c.SetContactor(true)
	r := c.Meter()
	if r.Current != [3]float64{16, 0, 0} {
		t.Errorf("currents %v", r.Current)
	}
	if r.Voltage[1] < 225 || r.Voltage[2] > 235 {
		t.Errorf("voltages %v", r.Voltage)
	}
	if math.Abs(r.PowerW-r.Voltage[0]*16) > 1e-9 {
		t.Errorf("power %v for %v V × 16 A", r.PowerW, r.Voltage[0])
	}
	// One-phase installation: no voltage on L2 and L3.
	c1 := NewConnector(clk, ConnectorConfig{Number: 1, Phases: 1})
	if r := c1.Meter(); r.Voltage[1] != 0 || r.Voltage[0] == 0 {
		t.Errorf("one-phase voltages %v", r.Voltage)
	}
}

func TestConnectorNoDrawBelowMinimum(t *testing.T) {
	clk := NewManualClock(t0)
	c := NewConnector(clk, ConnectorConfig{Number: 1})
	c.PlugIn(NewEV(60, 0.5, 16, 3))
	c.SetContactor(true)
	for _, amps := range []float64{0, 5} {
		c.SetCurrentLimit(amps)
		clk.Advance(time.Hour)
		if r := c.Meter(); r.PowerW != 0 || r.EnergyWh != 0 {
			t.Errorf("offered %v A: %+v", amps, r)
		}
	}
	c.SetCurrentLimit(100) // capped at the connector's 32 A
	if r := c.Meter(); r.OfferedA != 32 || r.Current[0] != 16 {
		t.Errorf("reading %+v", r)
	}
	c.SetContactor(false)
	if r := c.Meter(); r.PowerW != 0 {
		t.Errorf("contactor open: %+v", r)
	}
}

func TestConnectorTellsChargePoint(t *testing.T) {
	clk := NewManualClock(t0)
	c := NewConnector(clk, ConnectorConfig{Number: 1})
	var ev events
	c.SetEvents(&ev)
	c.PlugIn(NewEV(10, 0.95, 16, 3))
	if !c.Locked() {
		t.Error("cable not locked")
	}
	c.Step(clk.Now())
	c.SetCurrentLimit(32)
	c.SetContactor(true)
	for range 120 {
		clk.Advance(time.Minute)
		c.Step(clk.Now())
	}
	state, _ := c.EV()
	if !state.Full() {
		t.Fatalf("not full after two hours: %+v", state)
	}
	if r := c.Meter(); r.PowerW != 0 || math.Abs(r.EnergyWh-500) > 1e-6 {
		t.Errorf("full car: %+v", r)
	}
	c.Unlock()
	if c.Locked() {
		t.Error("still locked")
	}
	if c.PlugOut() == nil || c.PlugOut() != nil {
		t.Error("PlugOut")
	}
	want := []string{"plug", "charging", "suspended", "unplug"}
	if got := ev.list(); len(got) != len(want) || got[0] != want[0] || got[1] != want[1] || got[2] != want[2] || got[3] != want[3] {
		t.Errorf("events %v, want %v", got, want)
	}
}

func TestConnectorConcurrent(t *testing.T) {
	clk := NewScaledClock(t0, 3600)
	c := NewConnector(clk, ConnectorConfig{Number: 1})
	c.SetEvents(&events{})
	c.PlugIn(NewEV(60, 0.1, 16, 3))
	var wg sync.WaitGroup
	stop := make(chan struct{})
	wg.Go(func() {
		for {
			select {
			case <-stop:
				return
			default:
				c.Step(clk.Now())
			}
		}
	})
	for i := range 4 {
		wg.Go(func() {
			for j := range 2000 {
				switch (i + j) % 4 {
				case 0:
					c.SetContactor(j%3 != 0)
				case 1:
					c.SetCurrentLimit(float64(j % 33))
				case 2:
					c.Meter()
				case 3:
					c.Unlock()
				}
			}
		})
	}
	time.Sleep(20 * time.Millisecond)
	close(stop)
	wg.Wait()
}
