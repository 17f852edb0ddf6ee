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
	"net/netip"
	"strconv"
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
	// ReconnectDelay: a charger whose connection drops dials again after
	// a random delay of up to ReconnectDelay (default 1 s), and while
	// dialling or booting fails, after exponential backoff with full
	// jitter (up to MaxBackoff, default 30 s), as real chargers do so
	// that a fleet does not come back in lockstep. Negative: a dropped
	// charger stays offline.
	ReconnectDelay time.Duration
	MaxBackoff     time.Duration
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
	Reconnected   int           // boots accepted again after a drop
	BootsPending  int           // BootNotifications answered Pending (booted again after the interval)
	TxResent      int           // Start/StopTransactions sent again after a drop left them unanswered
	TxPending     int           // Start/StopTransactions still unanswered at the end
	Starts, Stops int           // StartTransactions and StopTransactions the central system answered
	Triggered     int           // TriggerMessage requests accepted (and the message sent)

	Sent, Answered, Errors, Timeouts uint64
	Skipped                          uint64        // messages not sent: their charger was offline
	Elapsed                          time.Duration // of the load phase, until the last answer
	Scheduled                        time.Duration // of the load phase, as scheduled
	Latency                          *Histogram
	PerKind                          [numKinds]*Histogram
	SentKind                         [numKinds]uint64
	FirstErrors                      []string
}

// Print writes the result for people.
func (r *Result) Print(w io.Writer) {
	fmt.Fprintf(w, "chargers %d: connected %d, booted %d, failed %d, in %s (%.0f boots/s); dropped during the run %d, booted again %d\n",
		r.Chargers, r.Connected, r.Booted, r.ConnectErrors, r.BootTime.Round(time.Millisecond),
		float64(r.Booted)/max(r.BootTime.Seconds(), 1e-9), r.Dropped, r.Reconnected)
	if r.BootsPending > 0 || r.TxResent > 0 || r.TxPending > 0 || r.Triggered > 0 {
		fmt.Fprintf(w, "boots answered Pending %d; transaction messages sent again %d, unanswered at the end %d; triggered messages %d\n",
			r.BootsPending, r.TxResent, r.TxPending, r.Triggered)
	}
	if r.Sent == 0 {
		return
	}
	fmt.Fprintf(w, "messages: sent %d, answered %d, errors %d, timeouts %d, skipped (charger offline) %d in %s: %.0f msgs/s answered\n",
		r.Sent, r.Answered, r.Errors, r.Timeouts, r.Skipped, r.Elapsed.Round(time.Millisecond),
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
	if c.ReconnectDelay == 0 {
		c.ReconnectDelay = time.Second
	}
	if c.MaxBackoff <= 0 {
		c.MaxBackoff = 30 * time.Second
	}
	if c.SummaryInterval <= 0 {
		c.SummaryInterval = 5 * time.Second
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return nil
}

// Run connects cfg.Chargers clients, boots them, sends the load and
// returns what it measured. It returns early, with what was measured so
// far, when ctx ends. Every connection is closed before it returns.
func Run(ctx context.Context, cfg Config) (*Result, error) {
	f, err := Start(ctx, cfg)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	stopSummary := f.summarize(ctx)
	defer stopSummary()
	f.WaitConnected(ctx)
	res := &Result{}
	if ctx.Err() == nil {
		if f.cfg.Rate > 0 {
			res = f.Send(ctx, f.cfg.Rate, f.cfg.Duration, f.cfg.Mix)
		} else {
			hold(ctx, f.cfg.Duration)
		}
	}
	f.fill(res)
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
