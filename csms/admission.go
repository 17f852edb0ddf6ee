package csms

import (
	"math/rand/v2"
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
				per = int64(defaultBootEvery)
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

// defaultBootEvery is the time per boot written assumed before one was
// measured: a millisecond, slower than both stores on a small machine.
const defaultBootEvery = time.Millisecond

// doneBoot gives back an admitted boot's place and, when other boots were
// waiting behind it, folds the time since the previous boot was done into
// the moving average of the time per boot written (1/16 weight).
func (s *Service) doneBoot() {
	now := time.Now().UnixNano()
	prev := s.lastBootDone.Swap(now)
	if busy := s.metrics.BootsInFlight.Add(-1) > 0; busy && prev > 0 && now > prev {
		gap := now - prev
		for {
			old := s.bootEvery.Load()
			next := gap
			if old > 0 {
				next = old + (gap-old)/16
			}
			if s.bootEvery.CompareAndSwap(old, next) {
				break
			}
		}
	}
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
	lo, hi := seconds(s.cfg.DeferredBootRetryMin), seconds(s.cfg.DeferredBootRetryMax)
	return &v16.BootNotificationResponse{
		Status:      v16.RegistrationStatusPending,
		CurrentTime: now,
		Interval:    lo + rand.IntN(hi-lo+1),
	}
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
