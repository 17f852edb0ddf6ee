// Package sim simulates what stands around a charge point: electric
// vehicles that charge along a tapering curve, the meter that measures
// them, the contactor, pilot signal and cable lock (together a
// chargepoint.ConnectorHardware), a clock that runs faster than the wall
// clock, drivers who arrive and leave by a daily pattern, and faults. A
// Fleet runs many charge points from the chargepoint package on these
// models against a central system.
//
// The load generator, which holds tens of thousands of lightweight
// connections instead of full charge points, is in sim/load.
package sim
