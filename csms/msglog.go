package csms

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/wattson-csms/wattson/store"
)

// messageLog writes OCPP frames to the store in batches, off the hot path.
// The log is for people looking at a charger, not a record of truth: when
// the queue is full, entries are dropped and counted instead of slowing the
// chargers down.
type messageLog struct {
	st      store.Store
	keep    int
	log     *slog.Logger
	q       chan store.LogEntry
	done    chan struct{}
	mu      sync.RWMutex // guards closing q against late adds
	closed  bool
	Dropped atomic.Uint64
}

func newMessageLog(st store.Store, keep int, log *slog.Logger) *messageLog {
	m := &messageLog{st: st, keep: keep, log: log, q: make(chan store.LogEntry, 8192), done: make(chan struct{})}
	go m.run()
	return m
}

// add queues a frame; it copies the bytes, which are valid only during the
// OnFrame call.
func (m *messageLog) add(e store.LogEntry) {
	e.Frame = append([]byte(nil), e.Frame...)
	m.mu.RLock()
	defer m.mu.RUnlock()
	if m.closed {
		return
	}
	select {
	case m.q <- e:
	default:
		m.Dropped.Add(1)
	}
}

func (m *messageLog) run() {
	defer close(m.done)
	// Small flushes: each is a write in the store's one transaction
	// stream (SQLite has one writer), and a flush of 512 frames held it
	// for 20–60 ms under load, delaying every answer queued behind it.
	batch := make([]store.LogEntry, 0, 64)
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	flush := func() {
		if len(batch) == 0 {
			return
		}
		if err := m.st.AppendLog(context.Background(), batch, m.keep); err != nil {
			m.log.Error("writing the OCPP message log", "err", err, "entries", len(batch))
		}
		batch = batch[:0]
	}
	for {
		select {
		case e, ok := <-m.q:
			if !ok {
				flush()
				return
			}
			batch = append(batch, e)
			if len(batch) == cap(batch) {
				flush()
			}
		case <-tick.C:
			flush()
		}
	}
}

// close flushes what is queued and stops; later adds are ignored.
func (m *messageLog) close() {
	m.mu.Lock()
	if !m.closed {
		m.closed = true
		close(m.q)
	}
	m.mu.Unlock()
	<-m.done
}
