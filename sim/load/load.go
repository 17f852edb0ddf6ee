// Package load is the load generator: thousands of lightweight OCPP 1.6
// clients (an ocpp.Conn each, not a full charge point) that connect at a
// set pace, boot once and then send a mix of messages at a set total rate.
//
// Sending is open-loop: the n-th message has an intended send time
// start + n/rate whether or not earlier answers have come back, and its
// latency is measured from that intended time to the answer. A central
// system that stalls therefore shows the stall in every message that
// should have gone out meanwhile, instead of hiding it by slowing the
// generator down (coordinated omission).
package load

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/netip"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/wattson-csms/wattson/ocpp"
	v16 "github.com/wattson-csms/wattson/ocpp/v16"
)

// Config configures a load run.
type Config struct {
	// URL is the central system's OCPP endpoint without the charger id,
	// e.g. ws://127.0.0.1:8180/ocpp/.
	URL string
	// Chargers is the number of connections.
	Chargers int
	// Connectors per charger, for StatusNotification; default 2.
	Connectors int
	// Prefix and IDOffset name the chargers Prefix0001…: charger n (from
	// 1) is Prefix + %04d of IDOffset+n, so processes with different
	// offsets do not collide.
	Prefix   string
	IDOffset int
	// Rate is the total messages per second after all chargers have
	// booted; 0 only holds the connections (an idle fleet).
	Rate float64
	// Mix weighs the kinds of message; zero means DefaultMix.
	Mix Mix
	// Duration of the load phase (after booting); 0 runs until ctx ends.
	Duration time.Duration
	// Ramp is connections started per second; 0 does not pace them
	// (MaxDialing still bounds them).
	Ramp float64
	// MaxDialing bounds handshakes and boots in progress; default 256.
	MaxDialing int
	// Seed makes the choice of chargers and kinds repeatable.
	Seed uint64
	// CallTimeout for each message; default 30 s.
	CallTimeout time.Duration
	// SourceAddrs, if not empty, are local addresses the connections are
	// spread over, round robin (e.g. 127.0.0.2–127.0.0.9): one source
	// address has ~28,000 ephemeral ports towards one server address.
	SourceAddrs []netip.Addr
	// Out receives a summary line every SummaryInterval (default 5 s);
	// nil prints nothing.
	Out             io.Writer
	SummaryInterval time.Duration
	Logger          *slog.Logger
}

// ID returns the charger id of charger n (from 1) with prefix.
func ID(prefix string, n int) string { return fmt.Sprintf("%s%04d", prefix, n) }

// Result is what a run measured.
type Result struct {
	Chargers      int
	Connected     int           // connections opened
	Booted        int           // chargers whose BootNotification was Accepted
	ConnectErrors int           // chargers that could not connect or boot
	BootTime      time.Duration // from the first dial to the last accepted boot
	Dropped       int           // connections that closed during the run

	Sent, Answered, Errors, Timeouts uint64
	Elapsed                          time.Duration // of the load phase, until the last answer
	Scheduled                        time.Duration // of the load phase, as scheduled
	Latency                          *Histogram
	PerKind                          [numKinds]*Histogram
	SentKind                         [numKinds]uint64
	FirstErrors                      []string
}

// Print writes the result for people.
func (r *Result) Print(w io.Writer) {
	fmt.Fprintf(w, "chargers %d: connected %d, booted %d, failed %d, in %s (%.0f boots/s); dropped during the run %d\n",
		r.Chargers, r.Connected, r.Booted, r.ConnectErrors, r.BootTime.Round(time.Millisecond),
		float64(r.Booted)/max(r.BootTime.Seconds(), 1e-9), r.Dropped)
	if r.Sent == 0 {
		return
	}
	fmt.Fprintf(w, "messages: sent %d, answered %d, errors %d, timeouts %d in %s: %.0f msgs/s answered\n",
		r.Sent, r.Answered, r.Errors, r.Timeouts, r.Elapsed.Round(time.Millisecond),
		float64(r.Answered)/max(r.Elapsed.Seconds(), 1e-9))
	fmt.Fprintln(w, "latency (answer − intended send time):")
	r.Latency.Print(w)
	for k, h := range r.PerKind {
		if r.SentKind[k] == 0 {
			continue
		}
		fmt.Fprintf(w, "  %-9s sent %7d  p50 %s  p99 %s  max %s\n", Kind(k), r.SentKind[k],
			fmtDur(h.Percentile(50)), fmtDur(h.Percentile(99)), fmtDur(h.Max()))
	}
	for _, e := range r.FirstErrors {
		fmt.Fprintln(w, "error:", e)
	}
}

func (c *Config) check() error {
	switch {
	case c.URL == "":
		return errors.New("load: no URL")
	case c.Chargers < 1:
		return errors.New("load: need at least one charger")
	case c.Rate < 0 || c.Ramp < 0 || c.Duration < 0:
		return errors.New("load: rate, ramp and duration must not be negative")
	}
	if c.Connectors <= 0 {
		c.Connectors = 2
	}
	if c.Mix.total() == 0 {
		c.Mix = DefaultMix
	}
	if c.MaxDialing <= 0 {
		c.MaxDialing = 256
	}
	if c.CallTimeout <= 0 {
		c.CallTimeout = ocpp.DefaultCallTimeout
	}
	if c.SummaryInterval <= 0 {
		c.SummaryInterval = 5 * time.Second
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return nil
}

// runner is one run's shared state.
type runner struct {
	ctx     context.Context // the run's: once it ends, queued messages are dropped
	cfg     Config
	metrics ocpp.Metrics
	clients []*client

	connected, booted, failed, dropped atomic.Int64
	sent, answered, errs, timeouts     atomic.Uint64
	sentKind                           [numKinds]atomic.Uint64
	lastAnswer                         atomic.Int64 // unix ns
	inflight                           sync.WaitGroup
	latency                            Histogram
	perKind                            [numKinds]Histogram

	errMu     sync.Mutex
	firstErrs []string
}

// Run connects cfg.Chargers clients, boots them, sends the load and
// returns what it measured. It returns early, with what was measured so
// far, when ctx ends. Every connection is closed before it returns.
func Run(ctx context.Context, cfg Config) (*Result, error) {
	if err := cfg.check(); err != nil {
		return nil, err
	}
	r := &runner{ctx: ctx, cfg: cfg}
	r.clients = make([]*client, cfg.Chargers)
	for i := range r.clients {
		n := cfg.IDOffset + i + 1
		r.clients[i] = &client{r: r, n: i, id: ID(cfg.Prefix, n)}
	}
	defer r.closeAll()

	stopSummary := r.summarize(ctx)
	defer stopSummary()

	res := &Result{Chargers: cfg.Chargers, Latency: &r.latency}
	for k := range r.perKind {
		res.PerKind[k] = &r.perKind[k]
	}
	bootStart := time.Now()
	lastBoot := r.connectAll(ctx)
	res.BootTime = lastBoot.Sub(bootStart)
	res.Connected = int(r.connected.Load())
	res.Booted = int(r.booted.Load())
	res.ConnectErrors = int(r.failed.Load())

	if ctx.Err() == nil {
		start := time.Now()
		if cfg.Rate > 0 {
			r.send(ctx, start)
			r.inflight.Wait()
			res.Scheduled = time.Since(start)
			if last := r.lastAnswer.Load(); last > 0 {
				res.Elapsed = time.Unix(0, last).Sub(start)
			}
		} else {
			hold(ctx, cfg.Duration)
		}
	}
	r.inflight.Wait()
	res.Dropped = int(r.dropped.Load())
	res.Sent, res.Answered, res.Errors, res.Timeouts = r.sent.Load(), r.answered.Load(), r.errs.Load(), r.timeouts.Load()
	for k := range res.SentKind {
		res.SentKind[k] = r.sentKind[k].Load()
	}
	r.errMu.Lock()
	res.FirstErrors = append([]string(nil), r.firstErrs...)
	r.errMu.Unlock()
	return res, nil
}

// hold waits for d, or until ctx ends when d is 0.
func hold(ctx context.Context, d time.Duration) {
	if d <= 0 {
		<-ctx.Done()
		return
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}

// connectAll connects and boots every client, paced by Ramp, and returns
// when the last boot was answered.
func (r *runner) connectAll(ctx context.Context) time.Time {
	var (
		wg       sync.WaitGroup
		lastMu   sync.Mutex
		lastBoot = time.Now()
	)
	sem := make(chan struct{}, r.cfg.MaxDialing)
	start := time.Now()
	pace := time.NewTimer(0)
	defer pace.Stop()
	for i, c := range r.clients {
		if r.cfg.Ramp > 0 {
			at := start.Add(time.Duration(float64(i) / r.cfg.Ramp * float64(time.Second)))
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

// send schedules the messages open-loop until Duration has passed or ctx
// ends.
func (r *runner) send(ctx context.Context, start time.Time) {
	var ready []*client
	for _, c := range r.clients {
		if c.conn != nil && c.bootOK {
			ready = append(ready, c)
		}
	}
	if len(ready) == 0 {
		r.noteErr(errors.New("no charger booted: nothing to send"))
		return
	}
	rng := rand.New(rand.NewPCG(r.cfg.Seed, 0x10ad))
	total := r.cfg.Mix.total()
	step := float64(time.Second) / r.cfg.Rate
	t := time.NewTimer(0)
	defer t.Stop()
	<-t.C
	for n := 0; ; n++ {
		off := time.Duration(float64(n) * step)
		if r.cfg.Duration > 0 && off >= r.cfg.Duration {
			return
		}
		at := start.Add(off)
		if d := time.Until(at); d > 0 {
			t.Reset(d)
			select {
			case <-t.C:
			case <-ctx.Done():
				return
			}
		} else if ctx.Err() != nil {
			return
		}
		c := ready[rng.IntN(len(ready))]
		c.enqueue(job{kind: r.cfg.Mix.pick(rng.IntN(total)), at: at})
	}
}

func (r *runner) noteErr(err error) {
	r.errMu.Lock()
	defer r.errMu.Unlock()
	if len(r.firstErrs) < 5 {
		r.firstErrs = append(r.firstErrs, err.Error())
	}
}

// summarize prints a line every SummaryInterval until the returned
// function is called.
func (r *runner) summarize(ctx context.Context) (stop func()) {
	if r.cfg.Out == nil {
		return func() {}
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		tk := time.NewTicker(r.cfg.SummaryInterval)
		defer tk.Stop()
		start := time.Now()
		var lastSent, lastAnswered uint64
		last := start
		for {
			select {
			case <-done:
				return
			case <-ctx.Done():
				return
			case now := <-tk.C:
				sent, ans := r.sent.Load(), r.answered.Load()
				secs := now.Sub(last).Seconds()
				fmt.Fprintf(r.cfg.Out, "%6.0fs  connected %d/%d  booted %d  failed %d  dropped %d  sent %d (%.0f/s)  answered %d (%.0f/s)  errors %d  timeouts %d  frames in %d out %d\n",
					now.Sub(start).Seconds(), r.connected.Load()-r.dropped.Load(), len(r.clients), r.booted.Load(), r.failed.Load(), r.dropped.Load(),
					sent, float64(sent-lastSent)/secs, ans, float64(ans-lastAnswered)/secs,
					r.errs.Load(), r.timeouts.Load(), r.metrics.FramesIn.Load(), r.metrics.FramesOut.Load())
				lastSent, lastAnswered, last = sent, ans, now
			}
		}
	})
	return func() { close(done); wg.Wait() }
}

func (r *runner) closeAll() {
	for _, c := range r.clients {
		if c.conn != nil {
			_ = c.conn.Close()
		}
	}
	for _, c := range r.clients {
		if c.conn != nil {
			<-c.conn.Done()
		}
	}
}

// client is one lightweight charger. Its messages are queued and sent one
// at a time (OCPP allows one outstanding CALL) by a goroutine that exists
// only while the queue is not empty.
type client struct {
	r      *runner
	n      int
	id     string
	conn   *ocpp.Conn
	bootOK bool

	mu      sync.Mutex
	queue   []job
	running bool

	// Owned by the goroutine that drains the queue.
	txID, txConnector int
	energyWh          int
	statusStep        int
}

type job struct {
	kind Kind
	at   time.Time // intended send time
}

// refuse answers every CALL from the central system: the load generator
// implements none.
var refuse = ocpp.HandlerFunc(func(ctx context.Context, req *ocpp.Request) (ocpp.Payload, error) {
	return nil, ocpp.Errorf(ocpp.NotSupported, "load generator: %s not supported", req.Action)
})

// connect dials and boots, trying three times; it reports whether the
// charger was accepted.
func (c *client) connect(ctx context.Context) bool {
	cfg := &c.r.cfg
	var err error
	for attempt := range 3 {
		if attempt > 0 {
			hold(ctx, time.Duration(attempt)*time.Second)
		}
		if ctx.Err() != nil {
			break
		}
		if err = c.dialAndBoot(ctx); err == nil {
			return true
		}
		if c.conn != nil {
			break // connected but not accepted: trying again changes nothing
		}
	}
	c.r.failed.Add(1)
	if ctx.Err() == nil {
		c.r.noteErr(fmt.Errorf("%s: %w", c.id, err))
		cfg.Logger.Warn("charger failed to connect", "charger", c.id, "err", err)
	}
	return false
}

func (c *client) dialAndBoot(ctx context.Context) error {
	cfg := &c.r.cfg
	o := ocpp.DialOptions{
		Subprotocols:     []ocpp.Subprotocol{{Name: "ocpp1.6", Handler: refuse}},
		HandshakeTimeout: cfg.CallTimeout,
		Options: ocpp.Options{
			PingInterval: -1,
			CallTimeout:  cfg.CallTimeout,
			Metrics:      &c.r.metrics,
			Logger:       cfg.Logger,
		},
		OnClose: func(*ocpp.Conn, error) { c.r.dropped.Add(1) },
	}
	if len(cfg.SourceAddrs) > 0 {
		o.LocalAddr = cfg.SourceAddrs[c.n%len(cfg.SourceAddrs)].String()
	}
	conn, err := ocpp.Dial(ctx, cfg.URL+c.id, o)
	if err != nil {
		return err
	}
	c.conn = conn
	c.r.connected.Add(1)
	resp, err := v16.CallBootNotification(ctx, conn, &v16.BootNotificationRequest{
		ChargePointVendor:       "Wattson",
		ChargePointModel:        "SimLoad",
		ChargePointSerialNumber: c.id,
		FirmwareVersion:         "sim-load",
	})
	if err != nil {
		return fmt.Errorf("boot: %w", err)
	}
	if resp.Status != v16.RegistrationStatusAccepted {
		return fmt.Errorf("boot: %s (start the central system with -unknown-chargers accept)", resp.Status)
	}
	c.bootOK = true
	c.r.booted.Add(1)
	return nil
}

func (c *client) enqueue(j job) {
	c.r.inflight.Add(1)
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
		c.r.inflight.Done()
	}
}

// do sends one message and records its latency from the intended time.
func (c *client) do(j job) {
	r := c.r
	if r.ctx.Err() != nil {
		return
	}
	r.sent.Add(1)
	r.sentKind[j.kind].Add(1)
	// A call sent is not cancelled with the run: it is answered or times
	// out, so that sent = answered + errors + timeouts.
	ctx := context.Background()
	var err error
	switch j.kind {
	case Heartbeat:
		_, err = v16.CallHeartbeat(ctx, c.conn, &v16.HeartbeatRequest{})
	case Status:
		err = c.status(ctx)
	case Meter:
		err = c.meter(ctx)
	case Tx:
		err = c.tx(ctx)
	}
	now := time.Now()
	switch {
	case err == nil:
		r.answered.Add(1)
		lat := now.Sub(j.at)
		r.latency.Record(lat)
		r.perKind[j.kind].Record(lat)
		for {
			l := r.lastAnswer.Load()
			if now.UnixNano() <= l || r.lastAnswer.CompareAndSwap(l, now.UnixNano()) {
				break
			}
		}
	case errors.Is(err, ocpp.ErrTimeout):
		r.timeouts.Add(1)
		r.noteErr(fmt.Errorf("%s %s: %w", c.id, j.kind, err))
	default:
		r.errs.Add(1)
		r.noteErr(fmt.Errorf("%s %s: %w", c.id, j.kind, err))
	}
}

var statusCycle = []v16.ChargePointStatus{
	v16.ChargePointStatusPreparing, v16.ChargePointStatusCharging, v16.ChargePointStatusSuspendedEV,
	v16.ChargePointStatusFinishing, v16.ChargePointStatusAvailable,
}

func (c *client) status(ctx context.Context) error {
	s := c.statusStep
	c.statusStep++
	now := time.Now().UTC()
	_, err := v16.CallStatusNotification(ctx, c.conn, &v16.StatusNotificationRequest{
		ConnectorID: 1 + s/len(statusCycle)%c.r.cfg.Connectors,
		ErrorCode:   v16.ChargePointErrorCodeNoError,
		Status:      statusCycle[s%len(statusCycle)],
		Timestamp:   &now,
	})
	return err
}

func (c *client) meter(ctx context.Context) error {
	c.energyWh += 183 // a minute at 11 kW
	req := &v16.MeterValuesRequest{ConnectorID: 1, MeterValue: MeterValue(time.Now().UTC(), c.energyWh, c.statusStep)}
	if c.txID != 0 {
		id := c.txID
		req.ConnectorID, req.TransactionID = c.txConnector, &id
	}
	_, err := v16.CallMeterValues(ctx, c.conn, req)
	return err
}

func (c *client) tx(ctx context.Context) error {
	tag := c.id
	if len(tag) > 20 {
		tag = tag[len(tag)-20:]
	}
	if c.txID == 0 {
		conn := 1 + c.statusStep%c.r.cfg.Connectors
		resp, err := v16.CallStartTransaction(ctx, c.conn, &v16.StartTransactionRequest{
			ConnectorID: conn, IDTag: tag, MeterStart: c.energyWh, Timestamp: time.Now().UTC(),
		})
		if err != nil {
			return err
		}
		c.txID, c.txConnector = resp.TransactionID, conn
		return nil
	}
	_, err := v16.CallStopTransaction(ctx, c.conn, &v16.StopTransactionRequest{
		TransactionID: c.txID, IDTag: tag, MeterStop: c.energyWh, Timestamp: time.Now().UTC(), Reason: v16.ReasonLocal,
	})
	// Stopped or not, the next tx is a new start: a stop the central
	// system did not answer is not retried by the load generator.
	c.txID = 0
	return err
}

// MeterValue is a ~1 KB three-phase periodic reading: voltage, current and
// active power per phase plus the energy register (10 sampled values).
// vary shifts the figures a little.
func MeterValue(ts time.Time, energyWh, vary int) []v16.MeterValue {
	phases := [3][2]v16.Phase{{v16.PhaseL1N, v16.PhaseL1}, {v16.PhaseL2N, v16.PhaseL2}, {v16.PhaseL3N, v16.PhaseL3}}
	sv := make([]v16.SampledValue, 0, 10)
	for i, ph := range phases {
		v := 229.0 + float64((vary+3*i)%21)/10
		a := 15.5 + float64((vary+7*i)%11)/10
		sv = append(sv,
			v16.SampledValue{Value: strconv.FormatFloat(v, 'f', 1, 64), Context: v16.ReadingContextSamplePeriodic, Measurand: v16.MeasurandVoltage, Phase: ph[0], Location: v16.LocationOutlet, Unit: v16.UnitOfMeasureV},
			v16.SampledValue{Value: strconv.FormatFloat(a, 'f', 2, 64), Context: v16.ReadingContextSamplePeriodic, Measurand: v16.MeasurandCurrentImport, Phase: ph[1], Location: v16.LocationOutlet, Unit: v16.UnitOfMeasureA},
			v16.SampledValue{Value: strconv.FormatFloat(v*a, 'f', 0, 64), Context: v16.ReadingContextSamplePeriodic, Measurand: v16.MeasurandPowerActiveImport, Phase: ph[1], Location: v16.LocationOutlet, Unit: v16.UnitOfMeasureW},
		)
	}
	sv = append(sv, v16.SampledValue{Value: strconv.Itoa(energyWh), Context: v16.ReadingContextSamplePeriodic, Measurand: v16.MeasurandEnergyActiveImportRegister, Location: v16.LocationOutlet, Unit: v16.UnitOfMeasureWh})
	return []v16.MeterValue{{Timestamp: ts, SampledValue: sv}}
}
