package sim

import (
	"sync"
	"time"

	"github.com/wattson-csms/wattson/chargepoint"
)

// ScaledClock is a chargepoint.Clock whose time runs Factor times faster
// than the wall clock from a chosen start: with Factor 60 an hour passes
// in a minute. Timers fire after d/Factor of real time and deliver the
// scaled time. A factor of 1 is the wall clock shifted to start.
type ScaledClock struct {
	factor    float64
	start     time.Time // scaled time at realStart
	realStart time.Time // carries the monotonic reading
}

// NewScaledClock returns a clock that reads start now and runs factor
// times faster than the wall clock. A factor below or equal to 0 is taken
// as 1.
func NewScaledClock(start time.Time, factor float64) *ScaledClock {
	if factor <= 0 {
		factor = 1
	}
	return &ScaledClock{factor: factor, start: start, realStart: time.Now()}
}

// Factor is how many times faster than the wall clock this clock runs.
func (c *ScaledClock) Factor() float64 { return c.factor }

// Now returns the scaled time.
func (c *ScaledClock) Now() time.Time {
	return c.start.Add(c.Scaled(time.Since(c.realStart)))
}

// Scaled converts a wall-clock duration into this clock's time.
func (c *ScaledClock) Scaled(real time.Duration) time.Duration {
	return time.Duration(float64(real) * c.factor)
}

// Real converts a duration of this clock's time into wall-clock time.
func (c *ScaledClock) Real(d time.Duration) time.Duration {
	if d <= 0 {
		return 0
	}
	return time.Duration(float64(d) / c.factor)
}

// NewTimer returns a timer that fires once after d of this clock's time.
func (c *ScaledClock) NewTimer(d time.Duration) chargepoint.Timer {
	t := &scaledTimer{clock: c, ch: make(chan time.Time, 1)}
	t.mu.Lock()
	gen := t.gen
	t.t = time.AfterFunc(c.Real(d), func() { t.fire(gen) })
	t.mu.Unlock()
	return t
}

// scaledTimer behaves like a Go 1.23 timer: after Stop or Reset returns,
// no value from the earlier schedule is received.
type scaledTimer struct {
	clock *ScaledClock
	ch    chan time.Time

	mu  sync.Mutex
	t   *time.Timer
	gen uint64 // bumped by Stop and Reset, so a firing of an old schedule is dropped
}

func (t *scaledTimer) fire(gen uint64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if gen != t.gen {
		return
	}
	select {
	case t.ch <- t.clock.Now():
	default:
	}
}

func (t *scaledTimer) C() <-chan time.Time { return t.ch }

// Stop prevents the timer from firing; it reports whether it was active.
func (t *scaledTimer) Stop() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.gen++
	active := t.t.Stop()
	t.drain()
	return active
}

// Reset makes the timer fire after d of the clock's time; it reports
// whether it was active.
func (t *scaledTimer) Reset(d time.Duration) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.gen++
	active := t.t.Stop()
	t.drain()
	gen := t.gen
	t.t = time.AfterFunc(t.clock.Real(d), func() { t.fire(gen) })
	return active
}

func (t *scaledTimer) drain() {
	select {
	case <-t.ch:
	default:
	}
}

var _ chargepoint.Clock = (*ScaledClock)(nil)

// ManualClock is a chargepoint.Clock that moves only when Advance is
// called, for tests and for runs that must not depend on the machine's
// speed.
type ManualClock struct {
	mu     sync.Mutex
	now    time.Time
	timers []*manualTimer
}

// NewManualClock returns a clock that reads start until advanced.
func NewManualClock(start time.Time) *ManualClock { return &ManualClock{now: start} }

// Now returns the clock's time.
func (c *ManualClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Advance moves the clock on by d and fires the timers that are due.
func (c *ManualClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	kept := c.timers[:0]
	for _, t := range c.timers {
		if !t.at.After(c.now) {
			select {
			case t.ch <- c.now:
			default:
			}
			continue
		}
		kept = append(kept, t)
	}
	clear(c.timers[len(kept):])
	c.timers = kept
}

// NewTimer returns a timer that fires when the clock has been advanced by d.
func (c *ManualClock) NewTimer(d time.Duration) chargepoint.Timer {
	t := &manualTimer{c: c, ch: make(chan time.Time, 1)}
	t.Reset(d)
	return t
}

type manualTimer struct {
	c  *ManualClock
	ch chan time.Time
	at time.Time
}

func (t *manualTimer) C() <-chan time.Time { return t.ch }

func (t *manualTimer) Stop() bool {
	t.c.mu.Lock()
	defer t.c.mu.Unlock()
	active := t.remove()
	select {
	case <-t.ch:
	default:
	}
	return active
}

func (t *manualTimer) Reset(d time.Duration) bool {
	t.c.mu.Lock()
	defer t.c.mu.Unlock()
	active := t.remove()
	select {
	case <-t.ch:
	default:
	}
	t.at = t.c.now.Add(d)
	if d <= 0 {
		t.ch <- t.c.now
		return active
	}
	t.c.timers = append(t.c.timers, t)
	return active
}

// remove takes t off the clock's list; c.mu is held.
func (t *manualTimer) remove() bool {
	for i, x := range t.c.timers {
		if x == t {
			t.c.timers = append(t.c.timers[:i], t.c.timers[i+1:]...)
			return true
		}
	}
	return false
}

var _ chargepoint.Clock = (*ManualClock)(nil)
