package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"net/url"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/wattson-csms/wattson/sim"
	"github.com/wattson-csms/wattson/sim/load"
)

type simConfig struct {
	csms            string
	chargers        int
	connectors      int
	prefix          string
	idOffset        int
	scenario        sim.Scenario
	timeFactor      float64
	faultsPerDay    float64
	seed            uint64
	dataDir         string
	sourceIPs       []netip.Addr
	summaryInterval time.Duration
	duration        time.Duration
	load            bool
	rate            float64
	mix             load.Mix
	ramp            float64
	callTimeout     time.Duration
	control         bool
	reconnectDelay  time.Duration
	maxBackoff      time.Duration
	logLevel        slog.Level
	firmwareFail    map[string]bool
}

const simUsage = `Usage: wattson sim --csms ws://HOST:PORT/ocpp/ [flags]

Runs simulated chargers against a central system: full OCPP 1.6J charge
points with EVs, drivers and faults (default), or, with --load, lightweight
clients that send a message mix at a fixed rate and report latencies.

Flags:
`

func parseSimFlags(args []string, stderr io.Writer) (simConfig, error) {
	var cfg simConfig
	fs := flag.NewFlagSet("sim", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, simUsage)
		fs.PrintDefaults()
	}
	fs.StringVar(&cfg.csms, "csms", "", "the central system's OCPP endpoint, e.g. ws://127.0.0.1:8180/ocpp/ (required); the charger id is appended")
	fs.IntVar(&cfg.chargers, "chargers", 10, "number of chargers")
	fs.IntVar(&cfg.connectors, "connectors", 2, "connectors per charger")
	fs.StringVar(&cfg.prefix, "prefix", "SIM", "charger id prefix: chargers are PREFIX0001, PREFIX0002, …")
	fs.IntVar(&cfg.idOffset, "id-offset", 0, "number the chargers from OFFSET+1, so several simulators do not collide")
	scenario := fs.String("scenario", "random", "drivers: home (evening to morning), office (weekday days), random, or idle (no one comes)")
	fs.Float64Var(&cfg.timeFactor, "time-factor", 60, "the chargers' clock runs this many times faster than real time (60: an hour a minute)")
	fs.Float64Var(&cfg.faultsPerDay, "faults-per-day", 0.5, "expected faults (reboots, faulted connectors) per charger per simulated day; 0 for none")
	fs.Uint64Var(&cfg.seed, "seed", 1, "random seed: the same seed gives the same drivers, cars and faults")
	fs.StringVar(&cfg.dataDir, "data-dir", "", "keep each charger's state in a directory of its own under this one (default: memory only)")
	sourceIPs := fs.String("source-ips", "", "spread connections over these local addresses, e.g. 127.0.0.2-127.0.0.9 or 127.0.0.2,127.0.0.3 (needed beyond ~28,000 connections to one server address)")
	firmwareFail := fs.String("firmware-fail", "", "comma-separated charger ids whose firmware installations fail (to try a roll-out's failure handling)")
	fs.DurationVar(&cfg.summaryInterval, "summary-interval", 5*time.Second, "print a summary line this often")
	fs.DurationVar(&cfg.duration, "duration", 0, "stop after this long (with --load: of sending, after all have booted); 0 runs until interrupted")
	fs.BoolVar(&cfg.load, "load", false, "load mode: lightweight clients that boot once and then send --mix at --rate")
	fs.Float64Var(&cfg.rate, "rate", 0, "with --load: total messages per second over all chargers; 0 only holds the connections")
	mix := fs.String("mix", load.DefaultMix.String(), "with --load: relative weights of heartbeat, status, meter (~1 KB three-phase MeterValues) and tx (StartTransaction, then its StopTransaction)")
	fs.Float64Var(&cfg.ramp, "ramp", 500, "chargers connected per second; 0 for as fast as possible")
	fs.DurationVar(&cfg.callTimeout, "call-timeout", 30*time.Second, "with --load: a message not answered in this time counts as a timeout")
	fs.BoolVar(&cfg.control, "control", false, "with --load: take commands as JSON lines on stdin and answer on stdout (status, send, drop, boots, quit), for an orchestrator such as internal/cmd/scalebench")
	fs.DurationVar(&cfg.reconnectDelay, "reconnect-delay", time.Second, "with --load: a dropped charger dials again after a random delay up to this, then with exponential backoff; 0 leaves it offline")
	fs.DurationVar(&cfg.maxBackoff, "max-backoff", 30*time.Second, "with --load: the longest wait between two failed reconnects")
	level := fs.String("log-level", "warn", "log level of the charge points: debug, info, warn, error")
	if err := fs.Parse(args); err != nil {
		return cfg, err
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if fs.NArg() > 0 {
		return cfg, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if cfg.csms == "" {
		return cfg, errors.New("--csms is required, e.g. --csms ws://127.0.0.1:8180/ocpp/")
	}
	u, err := url.Parse(cfg.csms)
	if err != nil || (u.Scheme != "ws" && u.Scheme != "wss") || u.Host == "" {
		return cfg, fmt.Errorf("--csms %q: want ws://host:port/path/ or wss://…", cfg.csms)
	}
	if !strings.HasSuffix(cfg.csms, "/") {
		cfg.csms += "/"
	}
	switch {
	case cfg.chargers < 1:
		return cfg, errors.New("--chargers must be at least 1")
	case cfg.connectors < 1 || cfg.connectors > 10:
		return cfg, errors.New("--connectors must be between 1 and 10")
	case cfg.idOffset < 0:
		return cfg, errors.New("--id-offset must not be negative")
	case len(sim.ChargerID(cfg.prefix, cfg.idOffset+cfg.chargers)) > 48:
		return cfg, errors.New("--prefix too long: charger ids have at most 48 characters")
	case strings.ContainsAny(cfg.prefix, "/ \t?#%"):
		return cfg, fmt.Errorf("--prefix %q: no '/', '?', '#', '%%' or whitespace", cfg.prefix)
	case cfg.timeFactor <= 0:
		return cfg, errors.New("--time-factor must be positive")
	case cfg.faultsPerDay < 0:
		return cfg, errors.New("--faults-per-day must not be negative")
	case cfg.summaryInterval <= 0:
		return cfg, errors.New("--summary-interval must be positive")
	case cfg.duration < 0:
		return cfg, errors.New("--duration must not be negative")
	case cfg.rate < 0:
		return cfg, errors.New("--rate must not be negative")
	case cfg.ramp < 0:
		return cfg, errors.New("--ramp must not be negative")
	case cfg.callTimeout <= 0:
		return cfg, errors.New("--call-timeout must be positive")
	case cfg.reconnectDelay < 0:
		return cfg, errors.New("--reconnect-delay must not be negative")
	case cfg.maxBackoff <= 0:
		return cfg, errors.New("--max-backoff must be positive")
	}
	for _, id := range strings.Split(*firmwareFail, ",") {
		if id = strings.TrimSpace(id); id != "" {
			if cfg.firmwareFail == nil {
				cfg.firmwareFail = map[string]bool{}
			}
			cfg.firmwareFail[id] = true
		}
	}
	if cfg.scenario, err = sim.ParseScenario(*scenario); err != nil {
		return cfg, fmt.Errorf("--scenario: %w", err)
	}
	if cfg.mix, err = load.ParseMix(*mix); err != nil {
		return cfg, fmt.Errorf("--mix: %w", err)
	}
	if cfg.sourceIPs, err = load.ParseAddrs(*sourceIPs); err != nil {
		return cfg, fmt.Errorf("--source-ips: %w", err)
	}
	if err := cfg.logLevel.UnmarshalText([]byte(*level)); err != nil {
		return cfg, fmt.Errorf("--log-level %q: want debug, info, warn or error", *level)
	}
	if !cfg.load {
		for _, name := range []string{"rate", "mix", "call-timeout", "control", "reconnect-delay", "max-backoff"} {
			if set[name] {
				return cfg, fmt.Errorf("--%s needs --load", name)
			}
		}
	} else {
		for _, name := range []string{"scenario", "time-factor", "faults-per-day", "data-dir"} {
			if set[name] {
				return cfg, fmt.Errorf("--%s has no meaning with --load", name)
			}
		}
	}
	return cfg, nil
}

// runSim is the sim subcommand.
func runSim(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	cfg, err := parseSimFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintln(stderr, "wattson sim:", err)
		return 2
	}
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: cfg.logLevel}))
	if cfg.load {
		return runLoad(ctx, cfg, stdout, stderr, log)
	}
	if cfg.duration > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, cfg.duration)
		defer cancel()
	}
	clock := sim.NewScaledClock(time.Now(), cfg.timeFactor)
	fleet, err := sim.NewFleet(sim.FleetConfig{
		URL:             cfg.csms,
		Chargers:        cfg.chargers,
		Connectors:      cfg.connectors,
		Prefix:          cfg.prefix,
		IDOffset:        cfg.idOffset,
		Scenario:        cfg.scenario,
		FaultsPerDay:    cfg.faultsPerDay,
		Seed:            cfg.seed,
		Clock:           clock,
		DataDir:         cfg.dataDir,
		SourceAddrs:     cfg.sourceIPs,
		Ramp:            cfg.ramp,
		Out:             stdout,
		SummaryInterval: cfg.summaryInterval,
		Logger:          log,
		FailFirmware:    func(id string) bool { return cfg.firmwareFail[id] },
	})
	if err != nil {
		fmt.Fprintln(stderr, "wattson sim:", err)
		return 2
	}
	fmt.Fprintf(stdout, "wattson sim: %d chargers × %d connectors (%s…%s), scenario %s, time ×%g, seed %d; RFID tags are <charger id>-<connector>\n",
		cfg.chargers, cfg.connectors, sim.ChargerID(cfg.prefix, cfg.idOffset+1), sim.ChargerID(cfg.prefix, cfg.idOffset+cfg.chargers),
		cfg.scenario, cfg.timeFactor, cfg.seed)
	if err := fleet.Run(ctx); err != nil {
		fmt.Fprintln(stderr, "wattson sim:", err)
		return 1
	}
	fmt.Fprintln(stdout, fleet.Summary())
	return 0
}

func runLoad(ctx context.Context, cfg simConfig, stdout, stderr io.Writer, log *slog.Logger) int {
	reconnect := cfg.reconnectDelay
	if reconnect == 0 {
		reconnect = -1 // load.Config: negative leaves dropped chargers offline
	}
	lc := load.Config{
		URL:             cfg.csms,
		Chargers:        cfg.chargers,
		Connectors:      cfg.connectors,
		Prefix:          cfg.prefix,
		IDOffset:        cfg.idOffset,
		Rate:            cfg.rate,
		Mix:             cfg.mix,
		Duration:        cfg.duration,
		Ramp:            cfg.ramp,
		Seed:            cfg.seed,
		CallTimeout:     cfg.callTimeout,
		ReconnectDelay:  reconnect,
		MaxBackoff:      cfg.maxBackoff,
		SourceAddrs:     cfg.sourceIPs,
		Out:             stdout,
		SummaryInterval: cfg.summaryInterval,
		Logger:          log,
	}
	if cfg.control {
		if err := load.Control(ctx, lc, os.Stdin, stdout); err != nil {
			fmt.Fprintln(stderr, "wattson sim:", err)
			return 1
		}
		return 0
	}
	fmt.Fprintf(stdout, "wattson sim --load: %d chargers (%s…%s) at %g connections/s, then %g msgs/s of %s for %s\n",
		cfg.chargers, sim.ChargerID(cfg.prefix, cfg.idOffset+1), sim.ChargerID(cfg.prefix, cfg.idOffset+cfg.chargers),
		cfg.ramp, cfg.rate, cfg.mix, durationOrForever(cfg.duration))
	res, err := load.Run(ctx, lc)
	if err != nil {
		fmt.Fprintln(stderr, "wattson sim:", err)
		return 1
	}
	res.Print(stdout)
	if res.Booted == 0 {
		return 1
	}
	return 0
}

func durationOrForever(d time.Duration) string {
	if d == 0 {
		return "until interrupted"
	}
	return d.String()
}
