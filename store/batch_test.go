package store_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/wattson-csms/wattson/store"
	"github.com/wattson-csms/wattson/store/sqlite"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// spy is a real SQLite store that records the batches written and can
// hold writes back, so a test decides what accumulates behind a write.
type spy struct {
	store.Store
	mu      sync.Mutex
	calls   [][]store.MeterSample
	gate    chan struct{} // while non-nil, writes wait for it to close
	entered chan struct{} // receives when a write starts
}

func (s *spy) AddMeterValues(ctx context.Context, samples []store.MeterSample) error {
	s.mu.Lock()
	s.calls = append(s.calls, samples)
	gate := s.gate
	s.mu.Unlock()
	if s.entered != nil {
		s.entered <- struct{}{}
	}
	if gate != nil {
		<-gate
	}
	return s.Store.AddMeterValues(ctx, samples)
}

func (s *spy) batches() [][]store.MeterSample {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([][]store.MeterSample(nil), s.calls...)
}

func newSpy(t *testing.T) *spy {
	db, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "w.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return &spy{Store: db}
}

var t0 = time.Date(2025, 3, 1, 10, 0, 0, 0, time.UTC)

// samples returns n samples of transaction tx, valued from first on.
func samples(tx int64, first, n int) []store.MeterSample {
	out := make([]store.MeterSample, n)
	for i := range out {
		out[i] = store.MeterSample{ChargerID: "cp", ConnectorID: 1, TransactionID: &tx,
			Timestamp: t0.Add(time.Duration(first+i) * time.Second), ReceivedAt: t0, Value: fmt.Sprint(first + i)}
	}
	return out
}

func count(t *testing.T, s store.Store, tx int64) int {
	t.Helper()
	got, err := s.TransactionMeterValues(context.Background(), tx)
	if err != nil {
		t.Fatal(err)
	}
	return len(got)
}

func TestMeterBatcherIdleWritesAtOnce(t *testing.T) {
	s := newSpy(t)
	b := store.NewMeterBatcher(s, 100, time.Hour) // a delay would show as a hang
	defer b.Close()
	for i := range 3 {
		if err := b.Add(t.Context(), samples(1, i*10, 10)); err != nil {
			t.Fatal(err)
		}
	}
	if got := s.batches(); len(got) != 3 {
		t.Fatalf("%d writes for 3 sequential adds, want 3", len(got))
	}
	if n := count(t, s, 1); n != 30 {
		t.Fatalf("%d samples stored, want 30", n)
	}
}

// TestMeterBatcherGroupsBehindRunningWrite holds the first write back while
// nine more Adds arrive: they become exactly one more write.
func TestMeterBatcherGroupsBehindRunningWrite(t *testing.T) {
	s := newSpy(t)
	s.gate, s.entered = make(chan struct{}), make(chan struct{}, 100)
	b := store.NewMeterBatcher(s, 1000, time.Hour)
	defer b.Close()

	var wg sync.WaitGroup
	errs := make(chan error, 10)
	wg.Go(func() { errs <- b.Add(t.Context(), samples(1, 0, 10)) })
	<-s.entered
	for i := 1; i < 10; i++ {
		wg.Go(func() { errs <- b.Add(t.Context(), samples(1, i*10, 10)) })
	}
	waitPending(t, b, s, 1)
	close(s.gate)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	got := s.batches()
	if len(got) != 2 || len(got[0]) != 10 || len(got[1]) != 90 {
		t.Fatalf("writes of %v samples, want [10 90]", sizes(got))
	}
	if n := count(t, s, 1); n != 100 {
		t.Fatalf("%d samples stored, want 100", n)
	}
}

// waitPending gives the goroutines of a test time to queue up: there is
// no way to observe that from outside, so wait a little and check that
// nothing was written meanwhile.
func waitPending(t *testing.T, b *store.MeterBatcher, s *spy, writes int) {
	t.Helper()
	time.Sleep(50 * time.Millisecond)
	if got := len(s.batches()); got != writes {
		t.Fatalf("%d writes started, want %d", got, writes)
	}
}

func sizes(batches [][]store.MeterSample) []int {
	out := make([]int, len(batches))
	for i, b := range batches {
		out[i] = len(b)
	}
	return out
}

func TestMeterBatcherFlushTriggers(t *testing.T) {
	tests := []struct {
		name     string
		maxBatch int
		maxDelay time.Duration
		adds     []int // sample counts added while the first write is held
	}{
		{"maxBatch pending", 20, time.Hour, []int{10, 10}},
		{"maxDelay passed", 1000, 20 * time.Millisecond, []int{5}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := newSpy(t)
			s.gate, s.entered = make(chan struct{}), make(chan struct{}, 100)
			b := store.NewMeterBatcher(s, tc.maxBatch, tc.maxDelay)
			defer b.Close()
			var wg sync.WaitGroup
			wg.Go(func() { b.Add(t.Context(), samples(1, 0, 1)) })
			<-s.entered
			first := 1
			for _, n := range tc.adds {
				from := first
				wg.Go(func() { b.Add(t.Context(), samples(1, from, n)) })
				first += n
			}
			// A second write starts although the first is still held.
			select {
			case <-s.entered:
			case <-time.After(5 * time.Second):
				t.Fatal("no second write while the first was running")
			}
			close(s.gate)
			wg.Wait()
			if n := count(t, s, 1); n != first {
				t.Fatalf("%d samples stored, want %d", n, first)
			}
		})
	}
}

// TestMeterBatcherIsolatesBadRequest: a bad sample fails its own Add, not
// the others written in the same batch.
func TestMeterBatcherIsolatesBadRequest(t *testing.T) {
	s := newSpy(t)
	s.gate, s.entered = make(chan struct{}), make(chan struct{}, 100)
	b := store.NewMeterBatcher(s, 1000, time.Hour)
	defer b.Close()
	var wg sync.WaitGroup
	wg.Go(func() { b.Add(t.Context(), samples(1, 0, 1)) })
	<-s.entered
	var good, bad error
	wg.Go(func() { good = b.Add(t.Context(), samples(1, 1, 5)) })
	wg.Go(func() { bad = b.Add(t.Context(), []store.MeterSample{{ChargerID: "", Timestamp: t0}}) })
	waitPending(t, b, s, 1)
	close(s.gate)
	wg.Wait()
	if good != nil || !errors.Is(bad, store.ErrInvalid) {
		t.Fatalf("good: %v, bad: %v", good, bad)
	}
	if n := count(t, s, 1); n != 6 {
		t.Fatalf("%d samples stored, want 6", n)
	}
}

func TestMeterBatcherContextAndClose(t *testing.T) {
	s := newSpy(t)
	s.gate, s.entered = make(chan struct{}), make(chan struct{}, 100)
	b := store.NewMeterBatcher(s, 1000, time.Hour)
	var wg sync.WaitGroup
	wg.Go(func() { b.Add(t.Context(), samples(1, 0, 1)) })
	<-s.entered

	// A caller that gives up gets its context's error.
	ctx, cancel := context.WithCancel(t.Context())
	var err error
	wg.Go(func() { err = b.Add(ctx, samples(1, 1, 1)) })
	waitPending(t, b, s, 1)
	cancel()
	time.Sleep(10 * time.Millisecond)

	// Close writes what is pending, including the abandoned samples.
	closed := make(chan struct{})
	go func() { b.Close(); close(closed) }()
	close(s.gate)
	<-closed
	wg.Wait()
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled Add = %v", err)
	}
	if n := count(t, s, 1); n != 2 {
		t.Fatalf("%d samples stored, want 2", n)
	}
	if err := b.Add(t.Context(), samples(1, 2, 1)); !errors.Is(err, store.ErrBatcherClosed) {
		t.Fatalf("Add after Close = %v", err)
	}
}

// TestMeterBatcherConcurrent: 64 chargers adding at once lose nothing and
// share writes.
func TestMeterBatcherConcurrent(t *testing.T) {
	s := newSpy(t)
	b := store.NewMeterBatcher(s, 512, 5*time.Millisecond)
	defer b.Close()
	const writers, adds, per = 64, 20, 10
	var wg sync.WaitGroup
	var failed atomic.Int32
	for w := range writers {
		wg.Go(func() {
			for i := range adds {
				if err := b.Add(t.Context(), samples(int64(w), i*per, per)); err != nil {
					t.Error(err)
					failed.Add(1)
					return
				}
			}
		})
	}
	wg.Wait()
	if failed.Load() > 0 {
		return
	}
	for w := range writers {
		if n := count(t, s, int64(w)); n != adds*per {
			t.Fatalf("writer %d: %d samples stored, want %d", w, n, adds*per)
		}
	}
	if got := len(s.batches()); got >= writers*adds/2 {
		t.Fatalf("%d writes for %d adds: not batching", got, writers*adds)
	}
	t.Logf("%d adds in %d writes", writers*adds, len(s.batches()))
}

// With every writer busy the batcher waits for one to finish rather than
// waking up to find none free: under load the store, not a spinning timer,
// must be what takes the CPU.
func TestMeterBatcherDoesNotSpinWhileWritersAreBusy(t *testing.T) {
	s := newSpy(t)
	s.gate, s.entered = make(chan struct{}), make(chan struct{}, 100)
	b := store.NewMeterBatcher(s, 1000, time.Millisecond)
	defer b.Close()
	var wg sync.WaitGroup
	errs := make(chan error, 10)
	for i := range 4 {
		wg.Go(func() { errs <- b.Add(t.Context(), samples(1, i*10, 10)) })
		<-s.entered
	}
	wg.Go(func() { errs <- b.Add(t.Context(), samples(1, 40, 10)) })
	// The fifth waits for a writer; give a spinning timer time to show.
	time.Sleep(100 * time.Millisecond)
	woke := b.Wakeups()
	close(s.gate)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if woke > 10 {
		t.Errorf("the timer fired %d times while every writer was busy", woke)
	}
	if n := count(t, s, 1); n != 50 {
		t.Fatalf("%d samples stored, want 50", n)
	}
}
