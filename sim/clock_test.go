package sim

import (
	"testing"
	"time"
)

var t0 = time.Date(2026, 11, 23, 17, 0, 0, 0, time.UTC) // a Monday

func TestScaledClockNow(t *testing.T) {
	c := NewScaledClock(t0, 3600) // an hour per second
	if c.Now().Before(t0) || c.Now().Sub(t0) > time.Hour {
		t.Fatalf("Now %v right after start", c.Now())
	}
	realStart := time.Now()
	time.Sleep(20 * time.Millisecond)
	simElapsed := c.Now().Sub(t0)
	realElapsed := time.Since(realStart)
	// At least 20 ms × 3600 = 72 s have passed on the clock, and not more
	// than the real time since start, scaled.
	if simElapsed < 72*time.Second || simElapsed > c.Scaled(realElapsed)+c.Scaled(time.Millisecond) {
		t.Errorf("after %v real, %v scaled", realElapsed, simElapsed)
	}
	if c.Real(time.Hour) != time.Second || c.Scaled(time.Second) != time.Hour || c.Factor() != 3600 {
		t.Errorf("conversions: %v %v", c.Real(time.Hour), c.Scaled(time.Second))
	}
	if NewScaledClock(t0, 0).Factor() != 1 {
		t.Error("factor 0 not taken as 1")
	}
}

func TestScaledTimer(t *testing.T) {
	c := NewScaledClock(t0, 600)
	start := time.Now()
	tm := c.NewTimer(30 * time.Second) // 50 ms real
	at := <-tm.C()
	if real := time.Since(start); real < 50*time.Millisecond {
		t.Errorf("fired after %v real, want ≥ 50 ms", real)
	}
	if at.Sub(t0) < 30*time.Second {
		t.Errorf("fired at clock time %v, want ≥ start + 30 s", at)
	}
	if tm.Stop() {
		t.Error("Stop of a fired timer reported active")
	}

	// Stop prevents firing; Reset re-arms.
	tm = c.NewTimer(time.Hour)
	if !tm.Stop() {
		t.Error("Stop of a pending timer reported inactive")
	}
	if tm.Reset(6 * time.Second) { // 10 ms
		t.Error("Reset of a stopped timer reported active")
	}
	select {
	case <-tm.C():
	case <-time.After(5 * time.Second):
		t.Fatal("reset timer did not fire")
	}
	// A Reset after firing drops the old value.
	tm.Reset(time.Millisecond * 600) // 1 ms
	time.Sleep(20 * time.Millisecond)
	tm.Reset(time.Hour)
	select {
	case v := <-tm.C():
		t.Fatalf("stale value %v after Reset", v)
	case <-time.After(30 * time.Millisecond):
	}
	tm.Stop()
}

func TestManualClock(t *testing.T) {
	c := NewManualClock(t0)
	a := c.NewTimer(time.Minute)
	b := c.NewTimer(time.Hour)
	c.Advance(59 * time.Second)
	select {
	case <-a.C():
		t.Fatal("fired early")
	default:
	}
	c.Advance(time.Second)
	if v := <-a.C(); !v.Equal(t0.Add(time.Minute)) {
		t.Errorf("fired with %v", v)
	}
	if !b.Stop() || b.Stop() {
		t.Error("Stop results")
	}
	c.Advance(2 * time.Hour)
	select {
	case <-b.C():
		t.Fatal("stopped timer fired")
	default:
	}
	b.Reset(0)
	<-b.C()
	if !c.Now().Equal(t0.Add(2*time.Hour + time.Minute)) {
		t.Errorf("Now %v", c.Now())
	}
}
