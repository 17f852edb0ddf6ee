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
