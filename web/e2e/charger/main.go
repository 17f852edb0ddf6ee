// Command charger runs one simulated charger for the dashboard's browser
// tests. `wattson sim --scenario idle` never plugs a car in, and a remote
// start needs one to reach Charging; this helper runs the same simulated
// charge point (sim.Fleet, idle drivers) and plugs an EV into one connector
// as soon as the central system has accepted the charger.
//
//	go run ./web/e2e/charger -csms ws://127.0.0.1:8180/ocpp/ -prefix E2E
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/wattson-csms/wattson/sim"
)

func main() {
	csms := flag.String("csms", "", "the central system's OCPP endpoint, e.g. ws://127.0.0.1:8180/ocpp/")
	prefix := flag.String("prefix", "E2E", "charger id prefix: the charger is PREFIX0001")
	connectors := flag.Int("connectors", 2, "connectors")
	plug := flag.Int("plug", 1, "connector to plug an EV into once accepted; 0 for none")
	factor := flag.Float64("time-factor", 60, "simulated time runs this many times faster (meter values every 60 simulated seconds)")
	flag.Parse()
	if *csms == "" {
		fmt.Fprintln(os.Stderr, "charger: -csms is required")
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	fleet, err := sim.NewFleet(sim.FleetConfig{
		URL: *csms, Chargers: 1, Connectors: *connectors, Prefix: *prefix,
		Scenario: sim.Idle, Clock: sim.NewScaledClock(time.Now(), *factor), Logger: log,
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, "charger:", err)
		os.Exit(2)
	}
	if *plug > 0 {
		go func() {
			// Plug in only once accepted: a pending charger may not start
			// sessions, and the test approves it first.
			for ctx.Err() == nil {
				if cp := fleet.ChargePoint(0); cp != nil && cp.Registration() == "Accepted" {
					// A large battery at 20 %: it charges at full current for
					// the whole test.
					fleet.Connector(0, *plug).PlugIn(sim.NewEV(100, 0.2, 16, 3))
					fmt.Printf("charger %s: EV plugged into connector %d\n", fleet.IDs()[0], *plug)
					return
				}
				time.Sleep(100 * time.Millisecond)
			}
		}()
	}
	fmt.Printf("charger %s connecting to %s\n", fleet.IDs()[0], *csms)
	if err := fleet.Run(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "charger:", err)
		os.Exit(1)
	}
}
