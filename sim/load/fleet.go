package load

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/wattson-csms/wattson/ocpp"
	v16 "github.com/wattson-csms/wattson/ocpp/v16"
)

// Fleet is a running set of load clients. Start connects and boots them;
// a client whose connection drops dials again and boots again by itself
// (Config.ReconnectDelay), sends again a StartTransaction or
// StopTransaction the drop left unanswered, and answers TriggerMessage.
// Send runs a load phase; Drop cuts every connection at once; Close ends
// it all.
type Fleet struct {
	cfg     Config
	ctx     context.Context // ends with Close
	cancel  context.CancelFunc
	metrics ocpp.Metrics
	clients []*client
	byID    map[string]*client
	router  v16.Router

	connectDone chan struct{}
	bootTime    atomic.Int64 // ns from the first dial to the last first boot, once connectDone is closed

	mu      sync.Mutex // guards closing and adding to reconnects
	closing bool
	recon   sync.WaitGroup

	connected, failed, dropped, online      atomic.Int64
	boots, reconnected, bootsPending        atomic.Int64
	txResent, starts, stops, triggered      atomic.Int64
	reconnectErrs                           atomic.Int64
	cur                                     atomic.Pointer[phase]
	sendMu                                  sync.Mutex // one Send at a time
	errMu                                   sync.Mutex
	firstErrs                               []string
	pendingBootMax, pendingBootMin, backMin time.Duration
}

// Start checks cfg and starts connecting the clients in the background:
// WaitConnected waits for the last of them. It returns an error only for a
// bad cfg.
func Start(ctx context.Context, cfg Config) (*Fleet, error) {
	if err := cfg.check(); err != nil {
		return nil, err
	}
	f := &Fleet{cfg: cfg, connectDone: make(chan struct{}), byID: make(map[string]*client, cfg.Chargers),
		pendingBootMin: time.Second, pendingBootMax: 5 * time.Minute, backMin: time.Second}
	f.ctx, f.cancel = context.WithCancel(ctx)
	f.clients = make([]*client, cfg.Chargers)
	for i := range f.clients {
		c := &client{f: f, n: i, id: ID(cfg.Prefix, cfg.IDOffset+i+1)}
		f.clients[i] = c
		f.byID[c.id] = c
	}
	f.router.HandleTriggerMessage(f.trigger)
	go func() {
		defer close(f.connectDone)
		start := time.Now()
		last := f.connectAll()
		f.bootTime.Store(int64(last.Sub(start)))
	}()
	return f, nil
}

// WaitConnected waits until every client has connected and booted or
// given up, or ctx ends.
func (f *Fleet) WaitConnected(ctx context.Context) {
	select {
	case <-f.connectDone:
	case <-ctx.Done():
	}
}

// connectAll connects and boots every client, paced by Ramp, and returns
// when the last boot was answered.
func (f *Fleet) connectAll() time.Time {
	var (
		wg       sync.WaitGroup
		lastMu   sync.Mutex
		lastBoot = time.Now()
	)
	ctx := f.ctx
	sem := make(chan struct{}, f.cfg.MaxDialing)
	start := time.Now()
	pace := time.NewTimer(0)
	defer pace.Stop()
	for i, c := range f.clients {
		if f.cfg.Ramp > 0 {
			at := start.Add(time.Duration(float64(i) / f.cfg.Ramp * float64(time.Second)))
			if d := time.Until(at); d > 0 {
				pace.Reset(d)
				select {
				case <-pace.C:
				case <-ctx.Done():
				}
			}
		}
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
		wg.Go(func() {
			defer func() { <-sem }()
			if c.connect(ctx) {
				lastMu.Lock()
				lastBoot = time.Now()
				lastMu.Unlock()
			}
		})
	}
	wg.Wait()
	return lastBoot
}

// FleetStatus is a snapshot of the fleet's connections.
type FleetStatus struct {
	Chargers    int   `json:"chargers"`
	Connected   int64 `json:"connected"` // connections opened, ever
	Online      int64 `json:"online"`    // connected and booted now
	Failed      int64 `json:"failed"`    // gave up on the first connection
	Dropped     int64 `json:"dropped"`
	Boots       int64 `json:"boots"` // accepted, ever
	Reconnected int64 `json:"reconnected"`
	// ReconnectErrors counts failed attempts to reconnect (refused,
	// handshake or boot failed), each followed by a backoff.
	ReconnectErrors int64 `json:"reconnectErrors"`
	BootsPending    int64 `json:"bootsPending"`
	TxResent        int64 `json:"txResent"`
	Starts          int64 `json:"starts"`
	Stops           int64 `json:"stops"`
	Triggered       int64 `json:"triggered"`
	FramesIn        int64 `json:"framesIn"`
	FramesOut       int64 `json:"framesOut"`
}

// Status returns the counters now.
func (f *Fleet) Status() FleetStatus {
	return FleetStatus{
		Chargers: len(f.clients), Connected: f.connected.Load(), Online: f.online.Load(), Failed: f.failed.Load(),
		Dropped: f.dropped.Load(), Boots: f.boots.Load(), Reconnected: f.reconnected.Load(), ReconnectErrors: f.reconnectErrs.Load(), BootsPending: f.bootsPending.Load(),
		TxResent: f.txResent.Load(), Starts: f.starts.Load(), Stops: f.stops.Load(), Triggered: f.triggered.Load(),
		FramesIn: int64(f.metrics.FramesIn.Load()), FramesOut: int64(f.metrics.FramesOut.Load()),
	}
}

// Drop cuts every open connection at once, without a close handshake, as
// a lost network would; the clients then reconnect by themselves. It
// returns the time just before the first was cut, for FirstBootsAfter.
func (f *Fleet) Drop() time.Time {
	at := time.Now()
	for _, c := range f.clients {
		c.mu.Lock()
		conn := c.conn
		c.mu.Unlock()
		if conn != nil {
			conn.Abort()
		}
	}
	return at
}

// FirstBootsAfter returns, for each client, how long after t its first
// accepted boot at or after t came, or -1 if it has not booted since.
func (f *Fleet) FirstBootsAfter(t time.Time) []time.Duration {
	out := make([]time.Duration, len(f.clients))
	mark := t.UnixNano()
	for i, c := range f.clients {
		out[i] = -1
		c.mu.Lock()
		for _, b := range c.bootTimes {
			if b >= mark {
				out[i] = time.Duration(b - mark)
				break
			}
		}
		c.mu.Unlock()
	}
	return out
}

// TxPending counts clients with a Start/StopTransaction not yet answered.
func (f *Fleet) TxPending() int {
	n := 0
	for _, c := range f.clients {
		if c.hasPending.Load() {
			n++
		}
	}
	return n
}

// Close stops reconnecting, closes every connection and waits for them.
func (f *Fleet) Close() {
	f.mu.Lock()
	f.closing = true
	f.mu.Unlock()
	f.cancel()
	<-f.connectDone
	f.recon.Wait()
	var conns []*ocpp.Conn
	for _, c := range f.clients {
		c.mu.Lock()
		if c.conn != nil {
			conns = append(conns, c.conn)
		}
		c.mu.Unlock()
	}
	for _, conn := range conns {
		_ = conn.Close()
	}
	for _, conn := range conns {
		<-conn.Done()
	}
}

// fill copies the fleet's counters into res.
func (f *Fleet) fill(res *Result) {
	s := f.Status()
	res.Chargers = s.Chargers
	res.Connected = int(s.Connected)
	res.Booted = int(s.Boots - s.Reconnected)
	res.ConnectErrors = int(s.Failed)
	res.BootTime = time.Duration(f.bootTime.Load())
	res.Dropped = int(s.Dropped)
	res.Reconnected = int(s.Reconnected)
	res.BootsPending = int(s.BootsPending)
	res.TxResent = int(s.TxResent)
	res.TxPending = f.TxPending()
	res.Starts, res.Stops, res.Triggered = int(s.Starts), int(s.Stops), int(s.Triggered)
	if res.Latency == nil {
		res.Latency = &Histogram{}
	}
	res.FirstErrors = append(res.FirstErrors, f.errors()...)
}

func (f *Fleet) noteErr(err error) {
	f.errMu.Lock()
	defer f.errMu.Unlock()
	if len(f.firstErrs) < 5 {
		f.firstErrs = append(f.firstErrs, err.Error())
	}
}

// phase is one Send's measurements.
type phase struct {
	ctx                            context.Context
	sent, answered, errs, timeouts atomic.Uint64
	skipped                        atomic.Uint64
	sentKind                       [numKinds]atomic.Uint64
	lastAnswer                     atomic.Int64 // unix ns
	inflight                       sync.WaitGroup
	latency                        Histogram
	perKind                        [numKinds]Histogram
	errMu                          sync.Mutex
	firstErrs                      []string
}

func (p *phase) noteErr(err error) {
	p.errMu.Lock()
	defer p.errMu.Unlock()
	if len(p.firstErrs) < 5 {
		p.firstErrs = append(p.firstErrs, err.Error())
	}
}

// Send sends messages of mix at rate per second, open-loop, to clients
// picked at random among those that have booted, for d (or until ctx
// ends), waits for the answers and returns what it measured. Messages
// for a client that is offline at their time are skipped and counted.
// The fleet's counters are filled in too.
func (f *Fleet) Send(ctx context.Context, rate float64, d time.Duration, mix Mix) *Result {
	f.sendMu.Lock()
	defer f.sendMu.Unlock()
	if mix.total() == 0 {
		mix = DefaultMix
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stop := context.AfterFunc(f.ctx, cancel)
	defer stop()
	p := &phase{ctx: ctx}
	f.cur.Store(p)
	res := &Result{Latency: &p.latency}
	for k := range p.perKind {
		res.PerKind[k] = &p.perKind[k]
	}
	start := time.Now()
	if rate > 0 {
		f.send(p, start, rate, d, mix)
	}
	p.inflight.Wait()
	res.Scheduled = time.Since(start)
	if last := p.lastAnswer.Load(); last > 0 {
		res.Elapsed = time.Unix(0, last).Sub(start)
	}
	res.Sent, res.Answered, res.Errors, res.Timeouts = p.sent.Load(), p.answered.Load(), p.errs.Load(), p.timeouts.Load()
	res.Skipped = p.skipped.Load()
	for k := range res.SentKind {
		res.SentKind[k] = p.sentKind[k].Load()
	}
	p.errMu.Lock()
	res.FirstErrors = append([]string(nil), p.firstErrs...)
	p.errMu.Unlock()
	f.fill(res)
	return res
}

func (f *Fleet) send(p *phase, start time.Time, rate float64, d time.Duration, mix Mix) {
	var ready []*client
	for _, c := range f.clients {
		if c.bootedOnce.Load() {
			ready = append(ready, c)
		}
	}
	if len(ready) == 0 {
		p.noteErr(errors.New("no charger booted: nothing to send"))
		return
	}
	rng := rand.New(rand.NewPCG(f.cfg.Seed, 0x10ad))
	total := mix.total()
	step := float64(time.Second) / rate
	t := time.NewTimer(0)
	defer t.Stop()
	<-t.C
	for n := 0; ; n++ {
		off := time.Duration(float64(n) * step)
		if d > 0 && off >= d {
			return
		}
		at := start.Add(off)
		if wait := time.Until(at); wait > 0 {
			t.Reset(wait)
			select {
			case <-t.C:
			case <-p.ctx.Done():
				return
			}
		} else if p.ctx.Err() != nil {
			return
		}
		c := ready[rng.IntN(len(ready))]
		c.enqueue(job{kind: mix.pick(rng.IntN(total)), at: at, ph: p})
	}
}

// summarize prints a line every SummaryInterval until the returned
// function is called.
func (f *Fleet) summarize(ctx context.Context) (stop func()) {
	if f.cfg.Out == nil {
		return func() {}
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		tk := time.NewTicker(f.cfg.SummaryInterval)
		defer tk.Stop()
		start := time.Now()
		var lastSent, lastAnswered uint64
		var lastPhase *phase
		last := start
		for {
			select {
			case <-done:
				return
			case <-ctx.Done():
				return
			case now := <-tk.C:
				var sent, ans, errs, timeouts uint64
				p := f.cur.Load()
				if p != lastPhase {
					lastSent, lastAnswered, lastPhase = 0, 0, p
				}
				if p != nil {
					sent, ans, errs, timeouts = p.sent.Load(), p.answered.Load(), p.errs.Load(), p.timeouts.Load()
				}
				secs := now.Sub(last).Seconds()
				fmt.Fprintf(f.cfg.Out, "%6.0fs  online %d/%d  booted %d  failed %d  dropped %d  sent %d (%.0f/s)  answered %d (%.0f/s)  errors %d  timeouts %d  frames in %d out %d\n",
					now.Sub(start).Seconds(), f.online.Load(), len(f.clients), f.boots.Load(), f.failed.Load(), f.dropped.Load(),
					sent, float64(sent-lastSent)/secs, ans, float64(ans-lastAnswered)/secs,
					errs, timeouts, f.metrics.FramesIn.Load(), f.metrics.FramesOut.Load())
				lastSent, lastAnswered, last = sent, ans, now
			}
		}
	})
	return func() { close(done); wg.Wait() }
}

// trigger answers TriggerMessage: the messages the load generator can
// send are Accepted and queued (unmeasured); the others are Rejected.
func (f *Fleet) trigger(ctx context.Context, conn *ocpp.Conn, req *v16.TriggerMessageRequest) (*v16.TriggerMessageResponse, error) {
	c := f.byID[conn.ID()]
	var k Kind
	switch req.RequestedMessage {
	case v16.MessageTriggerHeartbeat:
		k = Heartbeat
	case v16.MessageTriggerStatusNotification:
		k = Status
	case v16.MessageTriggerMeterValues:
		k = Meter
	default:
		return &v16.TriggerMessageResponse{Status: v16.TriggerMessageStatusRejected}, nil
	}
	if c == nil {
		return &v16.TriggerMessageResponse{Status: v16.TriggerMessageStatusRejected}, nil
	}
	f.triggered.Add(1)
	c.enqueue(job{kind: k, at: time.Now()})
	return &v16.TriggerMessageResponse{Status: v16.TriggerMessageStatusAccepted}, nil
}

// client is one lightweight charger. Its messages are queued and sent one
// at a time (OCPP allows one outstanding CALL) by a goroutine that exists
// only while the queue is not empty.
type client struct {
	f  *Fleet
	n  int
	id string

	mu        sync.Mutex
	conn      *ocpp.Conn // the current connection, nil while there is none
	ready     bool       // booted on conn
	dialing   bool       // a connect or reconnect loop owns the connection
	queue     []job
	running   bool
	bootTimes []int64 // unix ns of each accepted boot

	bootedOnce atomic.Bool
	hasPending atomic.Bool

	// Owned by the goroutine that drains the queue.
	txID, txConnector int
	energyWh          int
	statusStep        int
	pending           *txMsg
}

// txMsg is a StartTransaction or StopTransaction sent but not answered:
// OCPP has a charger send it again until it is, and the central system
// must take the repeat as the same message.
type txMsg struct {
	start *v16.StartTransactionRequest
	stop  *v16.StopTransactionRequest
}

type job struct {
	kind   Kind
	at     time.Time // intended send time
	ph     *phase    // nil: not measured (triggered, or a repeat)
	resend bool      // send the unanswered transaction message, if any
}

// connect dials and boots, trying three times; it reports whether the
// charger was accepted.
func (c *client) connect(ctx context.Context) bool {
	c.mu.Lock()
	c.dialing = true
	c.mu.Unlock()
	var err error
	for attempt := range 3 {
		if attempt > 0 {
			hold(ctx, time.Duration(attempt)*time.Second)
		}
		if ctx.Err() != nil {
			break
		}
		var connected bool
		if connected, err = c.dialAndBoot(ctx); err == nil {
			return true
		}
		if connected && !errors.Is(err, ocpp.ErrClosed) {
			break // connected but not accepted: trying again changes nothing
		}
	}
	c.mu.Lock()
	c.dialing = false
	c.mu.Unlock()
	c.f.failed.Add(1)
	if ctx.Err() == nil {
		c.f.noteErr(fmt.Errorf("%s: %w", c.id, err))
		c.f.cfg.Logger.Warn("charger failed to connect", "charger", c.id, "err", err)
	}
	return false
}

// dialAndBoot opens a connection and boots on it, again after the interval
// while the central system answers Pending. On failure the connection is
// closed; connected tells whether the websocket opened.
func (c *client) dialAndBoot(ctx context.Context) (connected bool, err error) {
	f := c.f
	cfg := &f.cfg
	var conn *ocpp.Conn
	o := ocpp.DialOptions{
		Subprotocols:     []ocpp.Subprotocol{{Name: "ocpp1.6", Handler: &f.router}},
		HandshakeTimeout: cfg.CallTimeout,
		Options: ocpp.Options{
			PingInterval: -1,
			CallTimeout:  cfg.CallTimeout,
			Metrics:      &f.metrics,
			Logger:       cfg.Logger,
		},
		OnClose: c.closed,
	}
	if len(cfg.SourceAddrs) > 0 {
		o.LocalAddr = cfg.SourceAddrs[c.n%len(cfg.SourceAddrs)].String()
	}
	conn, err = ocpp.Dial(ctx, cfg.URL+c.id, o)
	if err != nil {
		return false, err
	}
	c.mu.Lock()
	c.conn = conn
	c.mu.Unlock()
	f.connected.Add(1)
	for {
		resp, err := v16.CallBootNotification(ctx, conn, &v16.BootNotificationRequest{
			ChargePointVendor:       "Wattson",
			ChargePointModel:        "SimLoad",
			ChargePointSerialNumber: c.id,
			FirmwareVersion:         "sim-load",
		})
		switch {
		case err != nil:
			err = fmt.Errorf("boot: %w", err)
		case resp.Status == v16.RegistrationStatusPending:
			f.bootsPending.Add(1)
			wait := min(max(time.Duration(resp.Interval)*time.Second, f.pendingBootMin), f.pendingBootMax)
			select {
			case <-time.After(wait):
				continue
			case <-conn.Done():
				err = fmt.Errorf("boot: pending, then %w", conn.Err())
			case <-ctx.Done():
				err = ctx.Err()
			}
		case resp.Status != v16.RegistrationStatusAccepted:
			err = fmt.Errorf("boot: %s (start the central system with -unknown-chargers accept)", resp.Status)
		}
		if err != nil {
			_ = conn.Close()
			return true, err
		}
		break
	}
	now := time.Now().UnixNano()
	c.mu.Lock()
	ok := c.conn == conn // closed sets it to nil first if conn has closed
	if ok {
		c.ready, c.dialing = true, false
		c.bootTimes = append(c.bootTimes, now)
	}
	c.mu.Unlock()
	if !ok {
		return true, fmt.Errorf("boot: %w", ocpp.ErrClosed)
	}
	c.bootedOnce.Store(true)
	f.online.Add(1)
	f.boots.Add(1)
	return true, nil
}

// closed is the connection's OnClose: a client that was online starts
// reconnecting, unless the fleet is closing.
func (c *client) closed(conn *ocpp.Conn, err error) {
	f := c.f
	c.mu.Lock()
	if c.conn != conn {
		c.mu.Unlock()
		return
	}
	wasReady := c.ready
	c.conn, c.ready = nil, false
	restart := !c.dialing && wasReady
	if restart {
		c.dialing = true
	}
	c.mu.Unlock()
	if wasReady {
		f.online.Add(-1)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closing {
		return
	}
	f.dropped.Add(1)
	if restart && f.cfg.ReconnectDelay > 0 {
		f.recon.Add(1)
		go c.reconnect()
	} else if restart {
		c.mu.Lock()
		c.dialing = false
		c.mu.Unlock()
	}
}

// reconnect dials again after a random delay, then with exponential
// backoff while that fails, until the client is booted or the fleet
// closes.
func (c *client) reconnect() {
	f := c.f
	defer f.recon.Done()
	delay := rand.N(f.cfg.ReconnectDelay + 1)
	backoff := f.backMin
	for {
		t := time.NewTimer(delay)
		select {
		case <-t.C:
		case <-f.ctx.Done():
			t.Stop()
			return
		}
		_, err := c.dialAndBoot(f.ctx)
		if err == nil {
			f.reconnected.Add(1)
			if c.hasPending.Load() {
				c.enqueue(job{resend: true, at: time.Now()})
			}
			return
		}
		if f.ctx.Err() != nil {
			return
		}
		if f.reconnectErrs.Add(1) <= 3 {
			f.noteErr(fmt.Errorf("%s: reconnecting: %w", c.id, err))
		}
		// Equal jitter: half the backoff, plus up to as much again.
		delay = backoff/2 + rand.N(backoff/2+1)
		backoff = min(2*backoff, f.cfg.MaxBackoff)
	}
}

// current returns the connection if the client is booted on it.
func (c *client) current() *ocpp.Conn {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.ready {
		return nil
	}
	return c.conn
}

func (c *client) enqueue(j job) {
	if j.ph != nil {
		j.ph.inflight.Add(1)
	}
	c.mu.Lock()
	c.queue = append(c.queue, j)
	start := !c.running
	c.running = true
	c.mu.Unlock()
	if start {
		go c.drain()
	}
}

func (c *client) drain() {
	for {
		c.mu.Lock()
		if len(c.queue) == 0 {
			c.running = false
			c.queue = c.queue[:0]
			c.mu.Unlock()
			return
		}
		j := c.queue[0]
		c.queue = c.queue[1:]
		c.mu.Unlock()
		c.do(j)
		if j.ph != nil {
			j.ph.inflight.Done()
		}
	}
}

// do sends one message and, for a measured one, records its latency from
// the intended time.
func (c *client) do(j job) {
	f := c.f
	p := j.ph
	if f.ctx.Err() != nil || (p != nil && p.ctx.Err() != nil) {
		return
	}
	conn := c.current()
	if conn == nil {
		if p != nil {
			p.skipped.Add(1)
		}
		return
	}
	// A call sent is not cancelled with the run: it is answered or times
	// out, so that sent = answered + errors + timeouts.
	ctx := context.Background()
	if j.resend {
		if c.pending != nil {
			f.txResent.Add(1)
			if err := c.sendPending(ctx, conn); err != nil {
				f.noteErr(fmt.Errorf("%s: sending a transaction message again: %w", c.id, err))
			}
		}
		return
	}
	if p != nil {
		p.sent.Add(1)
		p.sentKind[j.kind].Add(1)
	}
	var err error
	switch j.kind {
	case Heartbeat:
		_, err = v16.CallHeartbeat(ctx, conn, &v16.HeartbeatRequest{})
	case Status:
		err = c.status(ctx, conn)
	case Meter:
		err = c.meter(ctx, conn)
	case Tx:
		err = c.tx(ctx, conn)
	}
	if p == nil {
		return
	}
	now := time.Now()
	switch {
	case err == nil:
		p.answered.Add(1)
		lat := now.Sub(j.at)
		p.latency.Record(lat)
		p.perKind[j.kind].Record(lat)
		for {
			l := p.lastAnswer.Load()
			if now.UnixNano() <= l || p.lastAnswer.CompareAndSwap(l, now.UnixNano()) {
				break
			}
		}
	case errors.Is(err, ocpp.ErrTimeout):
		p.timeouts.Add(1)
		p.noteErr(fmt.Errorf("%s %s: %w", c.id, j.kind, err))
	default:
		p.errs.Add(1)
		p.noteErr(fmt.Errorf("%s %s: %w", c.id, j.kind, err))
	}
}

var statusCycle = []v16.ChargePointStatus{
	v16.ChargePointStatusPreparing, v16.ChargePointStatusCharging, v16.ChargePointStatusSuspendedEV,
	v16.ChargePointStatusFinishing, v16.ChargePointStatusAvailable,
}

func (c *client) status(ctx context.Context, conn *ocpp.Conn) error {
	s := c.statusStep
	c.statusStep++
	now := time.Now().UTC()
	_, err := v16.CallStatusNotification(ctx, conn, &v16.StatusNotificationRequest{
		ConnectorID: 1 + s/len(statusCycle)%c.f.cfg.Connectors,
		ErrorCode:   v16.ChargePointErrorCodeNoError,
		Status:      statusCycle[s%len(statusCycle)],
		Timestamp:   &now,
	})
	return err
}

func (c *client) meter(ctx context.Context, conn *ocpp.Conn) error {
	c.energyWh += 183 // a minute at 11 kW
	req := &v16.MeterValuesRequest{ConnectorID: 1, MeterValue: MeterValue(time.Now().UTC(), c.energyWh, c.statusStep)}
	if c.txID != 0 {
		id := c.txID
		req.ConnectorID, req.TransactionID = c.txConnector, &id
	}
	_, err := v16.CallMeterValues(ctx, conn, req)
	return err
}

// tx starts a transaction or stops the open one; a transaction message
// still unanswered from before a drop goes first, in its place.
func (c *client) tx(ctx context.Context, conn *ocpp.Conn) error {
	if c.pending != nil {
		c.f.txResent.Add(1)
		return c.sendPending(ctx, conn)
	}
	tag := c.id
	if len(tag) > 20 {
		tag = tag[len(tag)-20:]
	}
	if c.txID == 0 {
		c.pending = &txMsg{start: &v16.StartTransactionRequest{
			ConnectorID: 1 + c.statusStep%c.f.cfg.Connectors, IDTag: tag, MeterStart: c.energyWh, Timestamp: time.Now().UTC(),
		}}
	} else {
		c.pending = &txMsg{stop: &v16.StopTransactionRequest{
			TransactionID: c.txID, IDTag: tag, MeterStop: c.energyWh, Timestamp: time.Now().UTC(), Reason: v16.ReasonLocal,
		}}
	}
	c.hasPending.Store(true)
	return c.sendPending(ctx, conn)
}

// sendPending sends c.pending. It stays pending when the answer did not
// come (the connection dropped or the call timed out) and is forgotten
// when it came, whatever it said, or when the central system refused it
// with a CALLERROR (sending it again would change nothing).
func (c *client) sendPending(ctx context.Context, conn *ocpp.Conn) error {
	p := c.pending
	var err error
	if p.start != nil {
		var resp *v16.StartTransactionResponse
		if resp, err = v16.CallStartTransaction(ctx, conn, p.start); err == nil {
			c.txID, c.txConnector = resp.TransactionID, p.start.ConnectorID
			c.f.starts.Add(1)
		}
	} else {
		if _, err = v16.CallStopTransaction(ctx, conn, p.stop); err == nil {
			c.f.stops.Add(1)
		}
		if err == nil || !retryable(err) {
			c.txID = 0
		}
	}
	if err == nil || !retryable(err) {
		c.pending = nil
		c.hasPending.Store(false)
	}
	return err
}

// retryable reports whether a call's error leaves it unknown whether the
// central system got it: no answer, rather than a CALLERROR.
func retryable(err error) bool {
	var e *ocpp.Error
	return !errors.As(err, &e)
}
