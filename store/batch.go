package store

import (
	"context"
	"errors"
	"sync"
	"time"
)

// ErrBatcherClosed is returned by MeterBatcher.Add after Close.
var ErrBatcherClosed = errors.New("store: meter batcher closed")

// maxBatchWrites bounds the AddMeterValues calls a MeterBatcher has running
// at once, so a slow database gets bigger batches instead of more load.
const maxBatchWrites = 4

// MeterBatcher is group commit for meter values. Chargers send MeterValues
// all the time, each waiting for a durable write before it is answered;
// written one by one, every message pays for a commit (an fsync on SQLite).
// The batcher writes concurrent Adds together in one AddMeterValues call.
//
// It adds no latency without contention: when no write is running, an Add
// writes at once. While a write runs, further Adds accumulate and are written
// together as soon as it ends, or alongside it when maxBatch samples are
// pending or the oldest has waited maxDelay.
type MeterBatcher struct {
	s        Store
	maxBatch int
	maxDelay time.Duration

	mu       sync.Mutex
	pending  []*meterReq
	npending int // samples in pending
	running  int // writes under way
	timer    *time.Timer
	wakeups  int // timer callbacks run, for tests
	closed   bool
	wg       sync.WaitGroup // writes, so Close can wait for them
}

type meterReq struct {
	samples []MeterSample
	since   time.Time
	done    chan error // buffered: the writer never blocks on a caller that left
}

// NewMeterBatcher returns a batcher writing to s. maxBatch (default 512)
// caps the samples of one write, unless a single Add brings more; maxDelay
// (default 5ms) is how long samples wait for a running write before they
// get one of their own.
func NewMeterBatcher(s Store, maxBatch int, maxDelay time.Duration) *MeterBatcher {
	if maxBatch <= 0 {
		maxBatch = 512
	}
	if maxDelay <= 0 {
		maxDelay = 5 * time.Millisecond
	}
	return &MeterBatcher{s: s, maxBatch: maxBatch, maxDelay: maxDelay}
}

// Add writes samples and returns once the batch holding them is durably
// stored, or with that write's error. If ctx ends first, Add returns its
// error; the samples may still be written.
func (b *MeterBatcher) Add(ctx context.Context, samples []MeterSample) error {
	if len(samples) == 0 {
		return nil
	}
	r := &meterReq{samples: samples, since: time.Now(), done: make(chan error, 1)}
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return ErrBatcherClosed
	}
	b.pending = append(b.pending, r)
	b.npending += len(samples)
	if b.running == 0 {
		// Idle: this caller writes at once, in its own goroutine, without
		// handing over to another one.
		batch := b.takeLocked()
		b.mu.Unlock()
		b.write(batch)
	} else {
		b.scheduleLocked()
		b.mu.Unlock()
	}
	select {
	case err := <-r.done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Close writes what is pending, waits for all writes to finish and stops
// the batcher; later Adds fail with ErrBatcherClosed.
func (b *MeterBatcher) Close() {
	b.mu.Lock()
	b.closed = true
	if b.timer != nil {
		b.timer.Stop()
		b.timer = nil
	}
	for len(b.pending) > 0 {
		go b.write(b.takeLocked())
	}
	b.mu.Unlock()
	b.wg.Wait()
}

// takeLocked removes the next batch from pending: whole requests from the
// oldest, up to maxBatch samples, at least one request. It counts the write
// as running.
func (b *MeterBatcher) takeLocked() []*meterReq {
	n, i := 0, 0
	for i < len(b.pending) && (i == 0 || n+len(b.pending[i].samples) <= b.maxBatch) {
		n += len(b.pending[i].samples)
		i++
	}
	batch := b.pending[:i:i]
	b.pending = b.pending[i:]
	b.npending -= n
	if len(b.pending) == 0 {
		b.pending = nil // let the old array go
	}
	b.running++
	b.wg.Add(1)
	return batch
}

// scheduleLocked starts writes that are due and arms the timer for the
// oldest pending request otherwise.
func (b *MeterBatcher) scheduleLocked() {
	for len(b.pending) > 0 && b.running < maxBatchWrites &&
		(b.running == 0 || b.npending >= b.maxBatch || time.Since(b.pending[0].since) >= b.maxDelay) {
		go b.write(b.takeLocked())
	}
	// With every writer busy, the next write starts when one finishes
	// (write calls back here): a timer would only fire, find no writer
	// free and arm itself again, spinning a CPU while the store is the
	// bottleneck.
	if len(b.pending) == 0 || b.timer != nil || b.closed || b.running >= maxBatchWrites {
		return
	}
	wait := b.maxDelay - time.Since(b.pending[0].since)
	b.timer = time.AfterFunc(max(wait, 0), func() {
		b.mu.Lock()
		defer b.mu.Unlock()
		b.timer = nil
		b.wakeups++
		if !b.closed {
			b.scheduleLocked()
		}
	})
}

// write stores one batch and answers its requests. If the combined write
// fails, each request is retried on its own, so one charger's bad sample
// does not fail the others' messages.
func (b *MeterBatcher) write(batch []*meterReq) {
	defer b.wg.Done()
	// The batch holds other callers' samples: no caller's context may
	// abort it.
	ctx := context.Background()
	var err error
	if len(batch) == 1 {
		err = b.s.AddMeterValues(ctx, batch[0].samples)
		batch[0].done <- err
	} else {
		n := 0
		for _, r := range batch {
			n += len(r.samples)
		}
		all := make([]MeterSample, 0, n)
		for _, r := range batch {
			all = append(all, r.samples...)
		}
		if err = b.s.AddMeterValues(ctx, all); err == nil {
			for _, r := range batch {
				r.done <- nil
			}
		} else {
			for _, r := range batch {
				r.done <- b.s.AddMeterValues(ctx, r.samples)
			}
		}
	}
	b.mu.Lock()
	b.running--
	if !b.closed {
		b.scheduleLocked()
	}
	b.mu.Unlock()
}
