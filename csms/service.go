// Package csms is the central system: it answers every CALL a charger
// sends with the semantics OCPP 1.6 gives it, keeps what chargers report in
// the store, sends commands to chargers, and publishes live events.
//
// It depends on the store interface and the OCPP packages, never on a
// database driver or on HTTP; cmd/wattson wires it together.
package csms

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/wattson-csms/wattson/events"
	"github.com/wattson-csms/wattson/ocpp"
	"github.com/wattson-csms/wattson/ocpp/v16"
	"github.com/wattson-csms/wattson/store"
)

// DataTransferHandler answers a DataTransfer for one vendorId.
type DataTransferHandler func(ctx context.Context, chargerID string, req *v16.DataTransferRequest) (*v16.DataTransferResponse, error)

// Config configures a Service.
type Config struct {
	Store  store.Store
	Events *events.Bus // nil: events are not published
	Logger *slog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// UnknownChargers is the registration an unknown charger gets at its
	// first boot: Pending (the default) waits for approval.
	UnknownChargers store.Registration
	// HeartbeatInterval is given to accepted chargers; default 5 minutes.
	HeartbeatInterval time.Duration
	// RetryInterval is given to pending and rejected chargers as the time
	// before they boot again; default 60 s.
	RetryInterval time.Duration
	// MaxBootsInFlight bounds the boots being written to the store at
	// once; a boot beyond it is deferred: answered Pending without a write,
	// to boot again after a random interval between DeferredBootRetryMin
	// and DeferredBootRetryMax (whole seconds). 0 means
	// DefaultMaxBootsInFlight, negative no limit. See admission.go.
	MaxBootsInFlight int
	// BootWaitTarget: beyond MaxBootsInFlight, a boot is still admitted
	// while the boots in flight would be written within this time (their
	// number times the measured time per boot). Default
	// DefaultBootWaitTarget.
	BootWaitTarget time.Duration
	// DeferredBootRetryMin and DeferredBootRetryMax: defaults 10 s and
	// 60 s; the minimum is at least 1 s and the maximum not below it.
	DeferredBootRetryMin time.Duration
	DeferredBootRetryMax time.Duration
	// AllowConcurrentTx lets one id tag run several transactions at once;
	// by default a second one is answered ConcurrentTx.
	AllowConcurrentTx bool
	// DataTransfer handlers by vendorId.
	DataTransfer map[string]DataTransferHandler
	// MeterBatchSize and MeterBatchDelay tune group commit of meter
	// values; defaults 512 samples and 5 ms.
	MeterBatchSize  int
	MeterBatchDelay time.Duration
	// SeenFlushInterval is how often last-seen times are written; default
	// 10 s. Heartbeats only touch memory.
	SeenFlushInterval time.Duration
	// MessageLogKeep bounds the OCPP message log per charger; default 1000,
	// negative disables the log.
	MessageLogKeep int
	// MaxReservation is the longest a reservation may last; default
	// DefaultMaxReservation (24 h).
	MaxReservation time.Duration
	// ReservationSweepInterval is the longest the expiry sweep sleeps
	// (it also wakes at the next expiry it knows); default 1 minute.
	ReservationSweepInterval time.Duration
}

// Service is the central system. Create it with New, serve its Router on
// an ocpp.Server with Connected and Disconnected as hooks and Frame as
// OnFrame, and run Run in the background.
type Service struct {
	cfg    Config
	st     store.Store
	log    *slog.Logger
	now    func() time.Time
	meters *store.MeterBatcher
	mlog   *messageLog
	router *v16.Router

	metrics          Metrics
	deferredSinceLog atomic.Uint64 // boots deferred since the last summary line
	bootRate         bootRate      // measures bootEvery
	bootEvery        atomic.Int64  // ns per boot written while others waited, over the last window

	obsMu     sync.RWMutex
	observers []func(context.Context, store.ChargerEvent)

	mu       sync.Mutex
	sessions map[string]*session // by charger id, for connected chargers
	seen     map[string]time.Time
	conns    connLookup

	sweepWake chan struct{} // a new reservation: look at the next expiry again
}

// connLookup finds the live connection of a charger (the ocpp.Server).
type connLookup interface {
	Conn(id string) *ocpp.Conn
}

// session is what the service remembers of a connected charger, so that
// most messages need no read from the store.
type session struct {
	conn         *ocpp.Conn
	registration store.Registration // "" until known
	booted       bool               // sent BootNotification on this connection
	triggered    bool               // we asked it to boot
	deferred     bool               // its boot was deferred: it was told when to boot again
}

// New returns a Service.
func New(cfg Config) (*Service, error) {
	if cfg.Store == nil {
		return nil, errors.New("csms: a store is required")
	}
	switch cfg.UnknownChargers {
	case "":
		cfg.UnknownChargers = store.RegistrationPending
	case store.RegistrationPending, store.RegistrationAccepted, store.RegistrationRejected:
	default:
		return nil, fmt.Errorf("csms: unknown-chargers policy %q: want Accepted, Pending or Rejected", cfg.UnknownChargers)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.HeartbeatInterval <= 0 {
		cfg.HeartbeatInterval = 5 * time.Minute
	}
	if cfg.RetryInterval <= 0 {
		cfg.RetryInterval = time.Minute
	}
	if cfg.MaxBootsInFlight == 0 {
		cfg.MaxBootsInFlight = DefaultMaxBootsInFlight
	}
	if cfg.BootWaitTarget <= 0 {
		cfg.BootWaitTarget = DefaultBootWaitTarget
	}
	if cfg.DeferredBootRetryMin <= 0 {
		cfg.DeferredBootRetryMin = DefaultDeferredBootRetryMin
	}
	if cfg.DeferredBootRetryMax <= 0 {
		cfg.DeferredBootRetryMax = DefaultDeferredBootRetryMax
	}
	if cfg.DeferredBootRetryMin < time.Second {
		return nil, fmt.Errorf("csms: deferred boot retry minimum %v: want at least 1s", cfg.DeferredBootRetryMin)
	}
	if seconds(cfg.DeferredBootRetryMax) < seconds(cfg.DeferredBootRetryMin) {
		return nil, fmt.Errorf("csms: deferred boot retry maximum %v is below the minimum %v", cfg.DeferredBootRetryMax, cfg.DeferredBootRetryMin)
	}
	if cfg.MeterBatchSize <= 0 {
		cfg.MeterBatchSize = 512
	}
	if cfg.MeterBatchDelay <= 0 {
		cfg.MeterBatchDelay = 5 * time.Millisecond
	}
	if cfg.SeenFlushInterval <= 0 {
		cfg.SeenFlushInterval = 10 * time.Second
	}
	if cfg.MessageLogKeep == 0 {
		cfg.MessageLogKeep = 1000
	}
	if cfg.Events == nil {
		cfg.Events = &events.Bus{}
	}
	if cfg.MaxReservation <= 0 {
		cfg.MaxReservation = DefaultMaxReservation
	}
	if cfg.ReservationSweepInterval <= 0 {
		cfg.ReservationSweepInterval = DefaultReservationSweepInterval
	}
	s := &Service{
		cfg:      cfg,
		st:       cfg.Store,
		log:      cfg.Logger,
		now:      func() time.Time { return cfg.Now().UTC() },
		meters:   store.NewMeterBatcher(cfg.Store, cfg.MeterBatchSize, cfg.MeterBatchDelay),
		sessions: make(map[string]*session),
		seen:     make(map[string]time.Time),

		sweepWake: make(chan struct{}, 1),
	}
	if cfg.MessageLogKeep > 0 {
		s.mlog = newMessageLog(cfg.Store, cfg.MessageLogKeep, cfg.Logger)
	}
	s.router = s.newRouter()
	return s, nil
}

// Router returns the OCPP 1.6 handler.
func (s *Service) Router() ocpp.Handler { return s.guard(s.router) }

// OnNotification registers fn to be called with every notification a
// charger sends (FirmwareStatusNotification, DiagnosticsStatusNotification
// and the other kinds of store.ChargerEvent) once it is stored and before
// the charger is answered: unlike the event bus, it loses nothing. fn
// runs on the charger's connection and must be quick.
func (s *Service) OnNotification(fn func(ctx context.Context, e store.ChargerEvent)) {
	s.obsMu.Lock()
	s.observers = append(s.observers, fn)
	s.obsMu.Unlock()
}

// Events returns the event bus.
func (s *Service) Events() *events.Bus { return s.cfg.Events }

// Store returns the store.
func (s *Service) Store() store.Store { return s.st }

// SetConns tells the service where to find live connections (the
// ocpp.Server), for commands.
func (s *Service) SetConns(c connLookup) { s.conns = c }

// Run flushes last-seen times and the message log, logs a summary of
// deferred boots and sweeps expired reservations until ctx ends, then
// flushes once more and stops the meter batcher.
func (s *Service) Run(ctx context.Context) {
	swept := make(chan struct{})
	go func() { s.sweepReservations(ctx); close(swept) }()
	defer func() { <-swept }()
	t := time.NewTicker(s.cfg.SeenFlushInterval)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			s.flushSeen(ctx)
			s.logDeferredBoots()
		case <-ctx.Done():
			bg := context.WithoutCancel(ctx)
			s.flushSeen(bg)
			s.logDeferredBoots()
			if s.mlog != nil {
				s.mlog.close()
			}
			s.meters.Close()
			return
		}
	}
}

func (s *Service) flushSeen(ctx context.Context) {
	s.mu.Lock()
	if len(s.seen) == 0 {
		s.mu.Unlock()
		return
	}
	seen := s.seen
	s.seen = make(map[string]time.Time, len(seen))
	s.mu.Unlock()
	if err := s.st.TouchChargers(ctx, seen); err != nil {
		s.log.Error("writing last-seen times", "err", err, "chargers", len(seen))
	}
}

func (s *Service) touch(id string) {
	s.mu.Lock()
	s.seen[id] = s.now()
	s.mu.Unlock()
}

// Connected is the ocpp.Server's OnConnect hook.
func (s *Service) Connected(c *ocpp.Conn) {
	s.mu.Lock()
	s.sessions[c.ID()] = &session{conn: c}
	s.seen[c.ID()] = s.now()
	s.mu.Unlock()
	s.log.Info("charger connected", "charger", c.ID(), "remote", c.RemoteAddr().String(), "subprotocol", c.Subprotocol())
	s.cfg.Events.Publish(events.ChargerConnected, c.ID(), map[string]string{"remote": c.RemoteAddr().String()})
}

// Disconnected is the ocpp.Server's OnDisconnect hook. A connection that
// a newer one replaced leaves the charger connected.
func (s *Service) Disconnected(c *ocpp.Conn, err error) {
	s.mu.Lock()
	if ses := s.sessions[c.ID()]; ses != nil && ses.conn == c {
		delete(s.sessions, c.ID())
	}
	s.seen[c.ID()] = s.now()
	s.mu.Unlock()
	if errors.Is(err, ocpp.ErrReplaced) {
		return
	}
	s.log.Info("charger disconnected", "charger", c.ID(), "reason", err)
	s.cfg.Events.Publish(events.ChargerDisconnected, c.ID(), nil)
}

// Frame is the ocpp.Options OnFrame hook: it feeds the message log.
func (s *Service) Frame(c *ocpp.Conn, in bool, frame []byte) {
	if s.mlog != nil {
		s.mlog.add(store.LogEntry{ChargerID: c.ID(), At: s.now(), Incoming: in, Frame: frame})
	}
}

// LocalAddr returns the address a connected charger reached us at.
func (s *Service) LocalAddr(id string) (net.Addr, bool) {
	s.mu.Lock()
	ses := s.sessions[id]
	s.mu.Unlock()
	if ses == nil {
		return nil, false
	}
	return ses.conn.LocalAddr(), true
}

// IsConnected reports whether a charger has a live connection.
func (s *Service) IsConnected(id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sessions[id] != nil
}

// ConnectedIDs returns the ids of the connected chargers.
func (s *Service) ConnectedIDs() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	ids := make([]string, 0, len(s.sessions))
	for id := range s.sessions {
		ids = append(ids, id)
	}
	return ids
}

// SetRegistration records a registration decision (approval, rejection)
// for a connected charger's session, so that its next message sees it. A
// charger that is approved while connected is asked to boot again at once,
// instead of at the end of its retry interval.
func (s *Service) SetRegistration(id string, r store.Registration) {
	s.mu.Lock()
	ses := s.sessions[id]
	var approved *ocpp.Conn
	if ses != nil {
		if r == store.RegistrationAccepted && ses.registration != "" && ses.registration != store.RegistrationAccepted {
			approved = ses.conn
			ses.triggered = false
			ses.booted = false
			ses.deferred = false
		}
		ses.registration = r
	}
	s.mu.Unlock()
	if approved != nil {
		s.askToBoot(approved)
	}
}

// Disconnect closes a charger's connection, if it has one (for example
// after the charger was deleted).
func (s *Service) Disconnect(id string) {
	s.mu.Lock()
	ses := s.sessions[id]
	s.mu.Unlock()
	if ses != nil {
		_ = ses.conn.Close()
	}
}

// registration returns the charger's registration, from the session or,
// once per connection, from the store. An unknown charger is "".
func (s *Service) registration(ctx context.Context, id string) (store.Registration, error) {
	s.mu.Lock()
	ses := s.sessions[id]
	if ses != nil && ses.registration != "" {
		r := ses.registration
		s.mu.Unlock()
		return r, nil
	}
	s.mu.Unlock()
	ch, err := s.st.GetCharger(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	s.SetRegistration(id, ch.Registration)
	return ch.Registration, nil
}

// guard refuses every action but BootNotification from a charger that is
// not accepted: OCPP 1.6 lets a pending or rejected charger talk only to
// boot. Heartbeat is allowed while pending, to keep the connection alive.
func (s *Service) guard(next ocpp.Handler) ocpp.Handler {
	return ocpp.HandlerFunc(func(ctx context.Context, req *ocpp.Request) (ocpp.Payload, error) {
		id := req.Conn.ID()
		if req.Action != "BootNotification" {
			r, err := s.registration(ctx, id)
			if err != nil {
				return nil, err
			}
			switch {
			case r == store.RegistrationAccepted:
			case r == store.RegistrationPending && req.Action == "Heartbeat":
			case r == "" && s.cfg.UnknownChargers == store.RegistrationAccepted:
				// An unknown charger that did not boot on this connection
				// (it booted before we knew it) is let in by the policy.
				if _, err := s.st.PutCharger(ctx, store.Charger{ID: id, Registration: store.RegistrationAccepted}); err != nil {
					return nil, err
				}
				s.SetRegistration(id, store.RegistrationAccepted)
			default:
				s.askToBoot(req.Conn)
				state := string(r)
				if state == "" {
					state = "unknown"
				}
				return nil, ocpp.Errorf(ocpp.SecurityError, "charger %s is not accepted (registration %s): send BootNotification and wait for approval", id, state)
			}
		}
		return next.ServeCall(ctx, req)
	})
}

// askToBoot sends TriggerMessage(BootNotification), once per connection, to
// a charger that talks without having booted on it: after a restart of the
// central system chargers do not boot again by themselves. A charger whose
// boot was deferred is not asked: it was told when to boot, and asking
// would bring the storm the deferral spreads back at once.
func (s *Service) askToBoot(c *ocpp.Conn) {
	s.mu.Lock()
	ses := s.sessions[c.ID()]
	if ses == nil || ses.conn != c || ses.booted || ses.triggered || ses.deferred {
		s.mu.Unlock()
		return
	}
	ses.triggered = true
	s.mu.Unlock()
	go func() {
		ctx, cancel := context.WithTimeout(c.Context(), time.Minute)
		defer cancel()
		_, err := v16.CallTriggerMessage(ctx, c, &v16.TriggerMessageRequest{RequestedMessage: v16.MessageTriggerBootNotification})
		if err != nil {
			s.log.Info("asking a charger to boot failed", "charger", c.ID(), "err", err)
		}
	}()
}
