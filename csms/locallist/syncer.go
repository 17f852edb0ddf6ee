// Package locallist keeps chargers' local authorization lists in step with
// the local lists in the store: it sends SendLocalList — Full when what a
// charger holds is not known, Differential with the difference otherwise —
// split to the charger's SendLocalListMaxLength and within its
// LocalAuthListMaxLength; it checks a charger's list version with
// GetLocalListVersion whenever it connects or boots and resends the whole
// list when the version is not the one it acknowledged; and it clears
// authorization caches on many chargers at once.
//
// The store is the source of truth: a change (a member, an id tag, an
// assignment) moves a generation there, and the Syncer brings every
// connected charger whose state is behind up to date. A fixed pool of
// workers does the sending, so a fleet-wide change costs no goroutine per
// charger; a charger that is offline is brought up to date when it comes
// back. In a cluster each node syncs the chargers connected to it.
package locallist

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/wattson-csms/wattson/events"
	"github.com/wattson-csms/wattson/store"
)

// Commander sends an OCPP 1.6 action to a charger and returns its answer
// (csms.Service).
type Commander interface {
	Call(ctx context.Context, chargerID, action string, payload []byte) ([]byte, error)
	IsConnected(id string) bool
}

// EventSync is the event published whenever a charger's local list state
// changed; its data is a State.
const EventSync = "localList.sync"

// Config configures a Syncer.
type Config struct {
	Store    store.Store
	Events   *events.Bus
	Commands Commander
	Logger   *slog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Parallel bounds the chargers synced at once; default 16.
	Parallel int
	// SweepEvery is how often the store is searched for chargers that are
	// behind (changes made on other nodes, retries that became due);
	// default 30 s. Changes made through Changed are picked up at once.
	SweepEvery time.Duration
	// Debounce is the least time between two sweeps, so a burst of
	// changes costs one; default 200 ms.
	Debounce time.Duration
	// CallTimeout bounds each call to a charger; default 30 s.
	CallTimeout time.Duration
	// RetryMin and RetryMax bound the wait after a failed attempt, which
	// doubles with each failure in a row; defaults 1 minute and 1 hour.
	RetryMin, RetryMax time.Duration
}

// Syncer synchronises local lists. Create it with New and run Run.
type Syncer struct {
	cfg Config
	st  store.Store
	cmd Commander
	log *slog.Logger
	now func() time.Time

	changed chan struct{}
	signal  chan struct{}

	mu     sync.Mutex
	queue  []string
	queued map[string]job // waiting in queue
	busy   map[string]*job
	limits map[string]limits // what connected chargers told about their limits
}

// job is what to do for a charger; jobs for one charger merge.
type job struct {
	reconcile bool // ask the charger's version first
	full      bool // send the whole list whatever the charger holds
}

func (j job) merge(o job) job {
	return job{reconcile: j.reconcile || o.reconcile, full: j.full || o.full}
}

// New returns a Syncer.
func New(cfg Config) (*Syncer, error) {
	if cfg.Store == nil || cfg.Commands == nil {
		return nil, errors.New("local lists: a store and a commander are required")
	}
	if cfg.Events == nil {
		cfg.Events = &events.Bus{}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Parallel <= 0 {
		cfg.Parallel = 16
	}
	setD := func(p *time.Duration, d time.Duration) {
		if *p <= 0 {
			*p = d
		}
	}
	setD(&cfg.SweepEvery, 30*time.Second)
	setD(&cfg.Debounce, 200*time.Millisecond)
	setD(&cfg.CallTimeout, 30*time.Second)
	setD(&cfg.RetryMin, time.Minute)
	setD(&cfg.RetryMax, time.Hour)
	return &Syncer{
		cfg:     cfg,
		st:      cfg.Store,
		cmd:     cfg.Commands,
		log:     cfg.Logger,
		now:     func() time.Time { return cfg.Now().UTC() },
		changed: make(chan struct{}, 1),
		signal:  make(chan struct{}, 1),
		queued:  map[string]job{},
		busy:    map[string]*job{},
		limits:  map[string]limits{},
	}, nil
}

// Changed says that local lists, their members, id tags or assignments
// changed: the chargers that are behind are synced soon.
func (s *Syncer) Changed() {
	select {
	case s.changed <- struct{}{}:
	default:
	}
}

// IDTagChanged says that an id tag was changed or deleted. The store has
// already marked the lists holding it; their chargers get a Differential
// update soon.
func (s *Syncer) IDTagChanged(idTag string) { s.Changed() }

// SyncNow marks chargers (at most store.MaxBulk) to be synced at once,
// also those that answered NotSupported or wait for a retry; with full
// they get the whole list. Connected chargers have their version checked
// first; others are synced when they connect.
func (s *Syncer) SyncNow(ctx context.Context, chargerIDs []string, full bool) error {
	if err := s.st.RequestLocalListSync(ctx, chargerIDs, full); err != nil {
		return err
	}
	for _, id := range chargerIDs {
		if s.cmd.IsConnected(id) {
			s.enqueue(id, job{reconcile: true, full: full})
		}
	}
	return nil
}

// Run syncs until ctx ends: it follows connections and boots, sweeps the
// store for chargers that are behind, and runs the workers. It returns
// once the workers have stopped.
func (s *Syncer) Run(ctx context.Context) {
	sub := s.cfg.Events.Subscribe("", 1<<16)
	defer sub.Close()
	var wg sync.WaitGroup
	for range s.cfg.Parallel {
		wg.Add(1)
		go func() { defer wg.Done(); s.worker(ctx) }()
	}
	defer wg.Wait()

	tick := time.NewTicker(s.cfg.SweepEvery)
	defer tick.Stop()
	var debounce <-chan time.Time
	last := time.Time{}
	s.sweep(ctx)
	for {
		select {
		case <-ctx.Done():
			return
		case e, ok := <-sub.C:
			if !ok {
				return
			}
			s.observe(e)
		case <-s.changed:
			if debounce == nil {
				debounce = time.After(max(s.cfg.Debounce-time.Since(last), 0))
			}
		case <-debounce:
			debounce = nil
			last = time.Now()
			s.sweep(ctx)
		case <-tick.C:
			last = time.Now()
			s.sweep(ctx)
		}
	}
}

// observe follows the events that matter: a charger that connects or boots
// has its version checked (its list may have been changed or lost while
// Wattson did not look); limits it told are forgotten when it goes.
func (s *Syncer) observe(e events.Event) {
	switch e.Type {
	case events.ChargerConnected, events.ChargerBooted:
		s.mu.Lock()
		delete(s.limits, e.ChargerID)
		s.mu.Unlock()
		s.enqueue(e.ChargerID, job{reconcile: true})
	case events.ChargerDisconnected:
		s.mu.Lock()
		delete(s.limits, e.ChargerID)
		s.mu.Unlock()
	}
}

// sweep queues every connected charger that is behind and due.
func (s *Syncer) sweep(ctx context.Context) {
	const page = 1000
	after := ""
	for ctx.Err() == nil {
		states, err := s.st.ListLocalListSyncs(ctx, store.LocalListSyncFilter{Pending: true, Due: s.now(), After: after, Limit: page})
		if err != nil {
			if ctx.Err() == nil {
				s.log.Error("local lists: reading the chargers that are behind", "err", err)
			}
			return
		}
		for _, st := range states {
			if s.cmd.IsConnected(st.ChargerID) {
				s.enqueue(st.ChargerID, job{})
			}
		}
		if len(states) < page {
			return
		}
		after = states[len(states)-1].ChargerID
	}
}

func (s *Syncer) enqueue(id string, j job) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if b, ok := s.busy[id]; ok {
		// Running: run again when done, with what was asked now.
		if b == nil {
			b = &job{}
		}
		m := b.merge(j)
		s.busy[id] = &m
		return
	}
	if old, ok := s.queued[id]; ok {
		s.queued[id] = old.merge(j)
		return
	}
	s.queued[id] = j
	s.queue = append(s.queue, id)
	select {
	case s.signal <- struct{}{}:
	default:
	}
}

func (s *Syncer) pop() (string, job, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.queue) == 0 {
		return "", job{}, false
	}
	id := s.queue[0]
	s.queue[0] = ""
	s.queue = s.queue[1:]
	if len(s.queue) == 0 {
		s.queue = nil // let the backing array go after a burst
	}
	j := s.queued[id]
	delete(s.queued, id)
	s.busy[id] = nil
	if len(s.queue) > 0 {
		select {
		case s.signal <- struct{}{}:
		default:
		}
	}
	return id, j, true
}

func (s *Syncer) done(id string) {
	s.mu.Lock()
	again := s.busy[id]
	delete(s.busy, id)
	s.mu.Unlock()
	if again != nil {
		s.enqueue(id, *again)
	}
}

func (s *Syncer) worker(ctx context.Context) {
	for {
		id, j, ok := s.pop()
		if !ok {
			select {
			case <-ctx.Done():
				return
			case <-s.signal:
				continue
			}
		}
		if ctx.Err() != nil {
			s.done(id)
			return
		}
		s.syncCharger(ctx, id, j)
		s.done(id)
	}
}

// Idle reports whether nothing is queued or running (for tests).
func (s *Syncer) Idle() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.queue) == 0 && len(s.busy) == 0
}

// callCtx bounds one call to a charger.
func (s *Syncer) callCtx(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, s.cfg.CallTimeout)
}

// backoff is the wait after the n-th failure in a row.
func (s *Syncer) backoff(n int) time.Duration {
	d := s.cfg.RetryMin
	for i := 1; i < n && d < s.cfg.RetryMax; i++ {
		d *= 2
	}
	return min(d, s.cfg.RetryMax)
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return fmt.Sprint(err)
}
