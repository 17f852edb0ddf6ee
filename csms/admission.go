package csms

import (
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/wattson-csms/wattson/ocpp"
	"github.com/wattson-csms/wattson/ocpp/v16"
)

// Admission control for BootNotification. After an outage a whole fleet
// reconnects and boots within seconds, and every boot is a durable write.
// Queued behind the store's writer, those writes would take longer than the
// chargers wait for an answer, the chargers would time out and boot again,
// and the queue would only grow. Instead, while MaxBootsInFlight boots are
// being written and the boots waiting would take longer than
// BootWaitTarget to write, a further boot is answered at once with Pending
// and a random interval: the charger boots again later, and the storm is spread
// over the retry range instead of piling up.
//
// A deferred boot changes nothing stored and nothing the guard knows: the
// charger's registration stays what the store says.
//   - A known Accepted charger may go on talking (the guard reads its
//     registration from the store, as for any charger that did not boot on
//     its connection); its boot details are updated when it boots again.
//   - A known Pending charger may send Heartbeat, as always; anything else is
//     refused, but it is not sent TriggerMessage(BootNotification), which
//     would bring its boot back at once: it was told when to boot.
//   - An unknown charger is still unknown. With UnknownChargers Pending or
//     Rejected its other messages are refused until it boots again. With
//     UnknownChargers Accepted its first other message creates it as
//     Accepted (one write, without boot details), exactly as for an unknown
//     charger that talks without booting; its next boot fills the details.

const (
	// DefaultMaxBootsInFlight bounds the boots being written at once.
	// SQLite has one writer: boots beyond the one being written wait in
	// line, so past a point more in flight adds only latency. One node on
	// 2 vCPUs records 1,600–1,950 boots/s (docs/performance.md), so 256 in
	// line are ≈150 ms of waiting: a healthy node never defers. On slow
	// storage (an SD card at ~50 writes/s) 256 are ≈5 s, still well inside
	// the 30 s a charger (and ocpp.DefaultCallTimeout) gives a CALL.
	// PostgreSQL's pool runs far fewer than 256 queries at once, so the
	// limit does not cap its throughput either.
	DefaultMaxBootsInFlight = 256
	// DefaultBootWaitTarget is the longest a boot should wait behind the
	// others before it is written: a third of the 30 s a charger
	// typically waits for an answer. On this machine it lets ~17,000
	// boots queue on SQLite before any is deferred.
	DefaultBootWaitTarget = 10 * time.Second
	// DefaultDeferredBootRetryMin and DefaultDeferredBootRetryMax are the
	// range a deferred boot's retry interval is drawn from. 50,000
	// deferred chargers come back at ~1,000 boots/s spread over the 50 s,
	// within what one node records.
	DefaultDeferredBootRetryMin = 10 * time.Second
	DefaultDeferredBootRetryMax = 60 * time.Second
)

// Metrics counts what the central system does with boots. All fields are
// safe for concurrent use; read them with Load.
type Metrics struct {
	BootsInFlight atomic.Int64  // boots being written to the store now
	BootsRecorded atomic.Uint64 // boots written to the store
	BootsDeferred atomic.Uint64 // boots answered Pending without a write: the queue of boots was full
}

// Metrics returns the service's counters.
func (s *Service) Metrics() *Metrics { return &s.metrics }

// admitBoot takes a place for a boot to be written, or reports that it
// should be deferred: up to MaxBootsInFlight boots are always admitted;
// beyond that, a boot is admitted while the wait it would have behind
// those in flight — their number times the recent time per boot written —
// stays under BootWaitTarget. The caller gives the place back with
// doneBoot.
func (s *Service) admitBoot() bool {
	limit := int64(s.cfg.MaxBootsInFlight)
	for {
		n := s.metrics.BootsInFlight.Load()
		if limit >= 0 && n >= limit {
			per := s.bootEvery.Load()
			if per <= 0 {
				per = int64(DefaultBootEvery)
			}
			if time.Duration(n*per) >= s.cfg.BootWaitTarget {
				return false
			}
		}
		if s.metrics.BootsInFlight.CompareAndSwap(n, n+1) {
			return true
		}
	}
}

// DefaultBootEvery is the time per boot written assumed before one was
// measured (the first window closes after 256 boots or a second): about
// what both stores take on a 2-vCPU machine (0.28 ms with SQLite). A
// slower guess defers much of the storm that follows a restart, which is
// the storm the measurement has not seen yet.
const DefaultBootEvery = 250 * time.Microsecond

// doneBoot gives back an admitted boot's place and measures the time per
// boot written: when other boots were waiting, the time since the previous
// boot was done is time the store spent on boots (and whatever else it
// writes meanwhile). The sum over a window of at least bootWindow boots
// or a second, divided by their number, is a window's time per boot;
// admitBoot uses the shortest of the last eight windows: a stall of the
// store for a moment (a checkpoint, a collection) moves a window by
// little, and a store that has become slower for good is seen as such
// once eight windows have passed.
func (s *Service) doneBoot() {
	waiting := s.metrics.BootsInFlight.Add(-1) > 0
	now := time.Now()
	r := &s.bootRate
	r.mu.Lock()
	defer r.mu.Unlock()
	if waiting && !r.last.IsZero() {
		r.busy += now.Sub(r.last)
		r.n++
	}
	r.last = now
	if r.start.IsZero() {
		r.start = now
	}
	if r.n >= bootWindow || r.n > 0 && now.Sub(r.start) >= time.Second {
		// The estimate is the best of the recent windows: what the store
		// does when it is busy with boots. In the first second of a storm
		// the CPU goes to tens of thousands of handshakes and a window is
		// slow for that alone; judged by it, most of a storm that the
		// store writes in a few seconds would be sent away.
		r.recent[r.next%len(r.recent)] = int64(r.busy) / int64(r.n)
		r.next++
		best := int64(0)
		for _, v := range r.recent {
			if v > 0 && (best == 0 || v < best) {
				best = v
			}
		}
		if r.next < trustAfterWindows {
			// The first windows of a process are also its warm-up, and
			// after a restart they are when the whole fleet's handshakes
			// arrive at once and take the CPU: seen after a kill, 73 boots
			// in the first second (13.9 ms a boot), then 3.1 ms, then
			// 0.5 ms; in another run 3.4 ms, 2.9 ms, then 0.24 ms — for a
			// store that wrote all 19,000 in 6 s. Judged by those windows,
			// thousands of boots were sent away for half a minute. Until
			// then they can only lower the assumed time; a store that is
			// really slow is believed from the third window on (at most
			// three seconds, as windows close after a second).
			best = min(best, int64(DefaultBootEvery))
		}
		s.bootEvery.Store(best)
		r.busy, r.n, r.start = 0, 0, now
	}
}

// bootWindow is the fewest boots whose average time closes a window early.
const bootWindow = 256

// trustAfterWindows is how many windows must have closed before a
// measured time per boot longer than DefaultBootEvery is believed.
const trustAfterWindows = 3

// bootRate is doneBoot's window.
type bootRate struct {
	mu    sync.Mutex
	last  time.Time     // when the previous boot was done
	start time.Time     // of the window
	busy  time.Duration // summed over the window
	n     int64

	recent [8]int64 // ns per boot of the last windows
	next   int
}

// deferBoot answers a boot that was not admitted: Pending, to boot again
// after a random interval in the configured range.
func (s *Service) deferBoot(c *ocpp.Conn, now time.Time) *v16.BootNotificationResponse {
	s.metrics.BootsDeferred.Add(1)
	s.deferredSinceLog.Add(1)
	s.mu.Lock()
	if ses := s.sessions[c.ID()]; ses != nil && ses.conn == c {
		ses.deferred = true
	}
	s.mu.Unlock()
	lo, hi := retryRange(s.bootBacklog(), s.cfg.DeferredBootRetryMin, s.cfg.DeferredBootRetryMax)
	return &v16.BootNotificationResponse{
		Status:      v16.RegistrationStatusPending,
		CurrentTime: now,
		Interval:    lo + rand.IntN(hi-lo+1),
	}
}

// bootBacklog is how long the boots in flight take to be written, as
// admitBoot estimates it.
func (s *Service) bootBacklog() time.Duration {
	per := s.bootEvery.Load()
	if per <= 0 {
		per = int64(DefaultBootEvery)
	}
	return time.Duration(s.metrics.BootsInFlight.Load() * per)
}

// retryRange is the range of whole seconds a deferred boot's interval is
// drawn from: from when the boots already waiting will have been written
// to twice that, so the deferred come back as the queue empties and
// spread over as long again, within [min, max]; once the backlog is past
// max, the whole range.
func retryRange(backlog, shortest, longest time.Duration) (lo, hi int) {
	lo = max(seconds(shortest), int((backlog+time.Second-1)/time.Second))
	hi = seconds(longest)
	if lo >= hi {
		return seconds(shortest), hi
	}
	return lo, min(2*lo, hi)
}

// logDeferredBoots writes one line for the boots deferred since the last
// call, if any: under a storm that is one line per flush interval, not one
// per charger.
func (s *Service) logDeferredBoots() {
	n := s.deferredSinceLog.Swap(0)
	if n == 0 {
		return
	}
	s.log.Warn("boots deferred: too many being recorded at once; those chargers were answered Pending and boot again later",
		"deferred", n, "deferredTotal", s.metrics.BootsDeferred.Load(), "maxBootsInFlight", s.cfg.MaxBootsInFlight,
		"retryMin", s.cfg.DeferredBootRetryMin, "retryMax", s.cfg.DeferredBootRetryMax)
}
