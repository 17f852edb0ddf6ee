// Package chargepoint is an OCPP 1.6J charge point: connection with
// reconnect and backoff, boot, heartbeats, the connector state machine,
// transactions with an offline queue on disk, configuration keys, local
// authorization, smart charging profiles, reservations, firmware updates,
// diagnostics, and every central-system-initiated action. It runs on the
// same ocpp package as the central system.
//
// Hardware sits behind the small interfaces in this file, so the simulator
// (sim/) and a real self-built charger (relays on GPIO) share all of it.
package chargepoint

import "time"

// ConnectorHardware is what the charge point drives on one connector.
// Implementations: the simulator's EV and meter models, or GPIO relays and a
// real meter. Methods must be safe for concurrent use and must not block
// for long.
type ConnectorHardware interface {
	// SetContactor closes (true) or opens the relay that powers the outlet.
	SetContactor(closed bool) error
	// SetCurrentLimit offers the EV at most amps per phase through the
	// pilot signal; 0 pauses charging. The charge point calls it with the
	// limit of the charging profiles in force, capped at the hardware's
	// maximum.
	SetCurrentLimit(amps float64) error
	// Unlock releases the cable lock (UnlockConnector).
	Unlock() error
	// Meter reads the connector's meter.
	Meter() MeterReading
}

// MeterReading is one reading of a connector's meter. Phases L1..L3 are
// indexes 0..2; an unused phase reads 0.
type MeterReading struct {
	EnergyWh    float64    // import register
	Voltage     [3]float64 // V, phase to neutral
	Current     [3]float64 // A
	PowerW      float64    // active import power
	OfferedA    float64    // current offered to the EV (Current.Offered)
	SoC         *float64   // percent, when the EV tells
	Temperature *float64   // °C, when there is a sensor
}

// Clock is the charge point's time. The simulator runs a day in minutes
// with a faster one; everything else uses RealClock.
type Clock interface {
	Now() time.Time
	// NewTimer fires once after d of this clock's time.
	NewTimer(d time.Duration) Timer
}

// Timer is a Clock's timer.
type Timer interface {
	C() <-chan time.Time
	Stop() bool
	Reset(d time.Duration) bool
}

// RealClock is the wall clock.
var RealClock Clock = realClock{}

type realClock struct{}

func (realClock) Now() time.Time { return time.Now() }
func (realClock) NewTimer(d time.Duration) Timer {
	return realTimer{time.NewTimer(d)}
}

type realTimer struct{ t *time.Timer }

func (t realTimer) C() <-chan time.Time        { return t.t.C }
func (t realTimer) Stop() bool                 { return t.t.Stop() }
func (t realTimer) Reset(d time.Duration) bool { return t.t.Reset(d) }
