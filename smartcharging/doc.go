// Package smartcharging owns the load-sharing decision: given a tree of
// circuits and what every connector wants and draws, it decides the current
// limit each connector should get and which limits to send now. It does no
// I/O; the central system feeds it on every relevant event and on a timer,
// sends the limits it asks for (SetChargingProfile) and hands the Result back
// as prev next round.
//
// Why it works the way it does:
//
// Fuses trip per phase, so every group is checked per phase, and a car is
// counted only on the phases it loads: a one-phase car on L1 leaves L2 and L3
// of every group above it to others. An unknown car counts on all three,
// because counting too much is safe and too little is not.
//
// A car below about 6 A does not charge at all (IEC 61851), so sharing starts
// by giving each ready car its minimum or nothing, in priority order: sharing
// 10 A between three cars would stop all three. Among equal priority a car
// already running keeps its place (no flapping), then the one waiting longest
// goes first. What is left is shared by water filling, one priority level at
// a time: all rising cars get the same current until a group on their path
// is full or a car reaches its maximum; that is max-min fair, and it is exact
// across nested groups without iterating to a fixed point.
//
// A car often takes less than it is offered (a small on-board charger, a
// battery nearly full). Offered current it does not take is wasted for
// others, so a car that has drawn well below its limit for SteadyFor is
// capped at its draw plus Headroom. By default there is no headroom, so all
// it leaves goes to others (car 1 draws 13 A of 32, car 2 gets 19 A); a
// probe every ProbeEvery gives it its fair share again in case it can take
// more. With a headroom it can show that sooner: when it draws close to its
// cap it gets its fair share back at once.
//
// Chargers are slow and unreliable: a lowered limit may take seconds to apply
// or never be confirmed. So the allocator tracks each connector's exposure,
// the most it may be running on, and sends a raise only if it fits next to
// everyone's exposure: decreases go first, and the raises they make room for
// are deferred until the charger confirms or ConfirmDelay passes. Hysteresis
// and a minimum interval keep chargers from being flooded, but never at the
// expense of a limit: a held-back decrease is sent as soon as the plan would
// not fit without it. Unmanaged chargers cannot be steered, so their worst
// case is reserved.
//
// Solar connectors share the site's surplus as the meter sees it, plus what
// they draw already (the meter counts that as consumption); the grid limits
// still apply on top. Low-cost connectors charge only when the caller says
// now is cheap; PlanCheapest and PlanBelow choose those slots from a price
// schedule.
package smartcharging
