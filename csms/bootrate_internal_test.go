package csms

import (
	"testing"
	"time"
)

// A moment's stall of the store among many quick boots barely moves the
// time per boot, so it does not turn a normal queue into deferred boots.
func TestBootRateShrugsOffAStall(t *testing.T) {
	var s Service
	s.metrics.BootsInFlight.Store(bootWindow + 10)
	for i := range bootWindow + 1 {
		if i == bootWindow/2 {
			time.Sleep(50 * time.Millisecond)
		}
		s.doneBoot()
	}
	every := time.Duration(s.bootEvery.Load())
	if every <= 0 || every > 2*time.Millisecond {
		t.Errorf("time per boot %v after one 50 ms stall among %d quick boots, want about 0.2 ms", every, bootWindow)
	}
	// With 10 boots still in flight and this time per boot, the next is
	// admitted however full the fixed part is.
	s.cfg.MaxBootsInFlight, s.cfg.BootWaitTarget = 1, time.Second
	if !s.admitBoot() {
		t.Error("a boot with a short estimated wait was deferred")
	}
}

func TestRetryRange(t *testing.T) {
	for _, tc := range []struct {
		backlog, min, max time.Duration
		lo, hi            int
	}{
		{0, 10 * time.Second, 60 * time.Second, 10, 20},                // no queue: soon, spread a little
		{13 * time.Second, 10 * time.Second, 60 * time.Second, 13, 26}, // as the queue empties
		{40 * time.Second, 10 * time.Second, 60 * time.Second, 40, 60}, // capped at max
		{90 * time.Second, 10 * time.Second, 60 * time.Second, 10, 60}, // past max: the whole range
		{1500 * time.Millisecond, time.Second, 2 * time.Second, 1, 2},  // rounded up to 2 s, which is max: the whole range
		{0, 30 * time.Second, 30 * time.Second, 30, 30},                // one value
	} {
		lo, hi := retryRange(tc.backlog, tc.min, tc.max)
		if lo != tc.lo || hi != tc.hi {
			t.Errorf("retryRange(%v, %v, %v) = %d, %d; want %d, %d", tc.backlog, tc.min, tc.max, lo, hi, tc.lo, tc.hi)
		}
	}
}

// The estimate is the best recent window's: one slow window (a storm's
// handshakes taking the CPU) does not make boots look slow.
func TestBootRateBestOfRecentWindows(t *testing.T) {
	var s Service
	r := &s.bootRate
	r.recent = [8]int64{int64(300 * time.Microsecond), int64(280 * time.Microsecond)}
	r.next = 2
	r.start = time.Now().Add(-2 * time.Second)
	r.last = time.Now().Add(-5 * time.Millisecond)
	r.busy, r.n = 5*time.Second, 999 // a slow window: 5 ms a boot
	s.metrics.BootsInFlight.Store(2)
	s.doneBoot()
	if got := time.Duration(s.bootEvery.Load()); got != 280*time.Microsecond {
		t.Errorf("time per boot %v, want the best recent window's 280µs", got)
	}
}

// The first windows of a process do not make boots look slower than
// DefaultBootEvery (a restart's handshakes take the CPU then); from
// trustAfterWindows on, a slow store is believed.
func TestBootRateFirstWindowIsWarmUp(t *testing.T) {
	var s Service
	r := &s.bootRate
	slowWindow := func() {
		r.start = time.Now().Add(-time.Second) // closes by time
		r.last = time.Now().Add(-14 * time.Millisecond)
		r.busy, r.n = 72*14*time.Millisecond, 72 // 14 ms a boot, as after a restart
		s.metrics.BootsInFlight.Store(2)
		s.doneBoot()
	}
	for i := 1; i < trustAfterWindows; i++ {
		slowWindow()
		if got := time.Duration(s.bootEvery.Load()); got != DefaultBootEvery {
			t.Errorf("after %d slow windows the time per boot is %v, want DefaultBootEvery %v", i, got, DefaultBootEvery)
		}
	}
	slowWindow()
	if got := time.Duration(s.bootEvery.Load()); got < 10*time.Millisecond {
		t.Errorf("after %d slow windows the time per boot is %v, want the measured 14 ms", trustAfterWindows, got)
	}
}
