package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/wattson-csms/wattson/files"
	"github.com/wattson-csms/wattson/sim"
	"github.com/wattson-csms/wattson/store"
)

// demoTimeFactor runs the demo's simulated time 60 times faster than the
// wall clock: an hour of charging in a minute.
const demoTimeFactor = 60

// demoSite is one simulated site of the demo.
type demoSite struct {
	prefix     string
	chargers   int
	connectors int
	scenario   sim.Scenario
	maxCurrent float64
	// start is the site's simulated time of day when the demo starts,
	// chosen so that drivers arrive within the first minutes.
	start func(now time.Time) time.Time
}

var demoSites = []demoSite{
	// Two wallboxes of a home, evening: cars come home.
	{prefix: "HOME-", chargers: 2, connectors: 1, scenario: sim.Home, maxCurrent: 16, start: func(now time.Time) time.Time {
		return atHour(lastWednesday(now), 18, 15)
	}},
	// A small office: eight chargers, a weekday morning.
	{prefix: "OFFICE-", chargers: 8, connectors: 1, scenario: sim.Office, maxCurrent: 32, start: func(now time.Time) time.Time {
		return atHour(lastWednesday(now), 8, 10)
	}},
}

// lastWednesday is the most recent Wednesday (today if it is one). The
// demo always plays the same weekday, so its seeded drivers do the same
// thing whatever day it is started: cars arrive within the first minutes.
func lastWednesday(now time.Time) time.Time {
	return now.AddDate(0, 0, -((int(now.Weekday()) - int(time.Wednesday) + 7) % 7))
}

func atHour(now time.Time, h, m int) time.Time {
	y, mo, d := now.Date()
	return time.Date(y, mo, d, h, m, 0, 0, now.Location())
}

// newDemoToken returns a random admin token for a demo started without one.
func newDemoToken() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return "demo_" + hex.EncodeToString(b[:])
}

// runDemo registers the demo's id tags and runs its simulated fleets
// against the central system at ocppURL until ctx ends.
func runDemo(ctx context.Context, st store.Store, ocppURL string, reload func(), log *slog.Logger) {
	now := time.Now()
	if err := demoSmartCharging(ctx, st, now); err != nil {
		log.Error("demo smart charging", "err", err)
	} else if reload != nil {
		reload()
	}
	if err := demoFirmware(ctx, st); err != nil {
		log.Error("demo firmware", "err", err)
	}
	done := make(chan struct{}, len(demoSites))
	for i, site := range demoSites {
		fleet, err := sim.NewFleet(sim.FleetConfig{
			URL:        ocppURL,
			Chargers:   site.chargers,
			Connectors: site.connectors,
			Prefix:     site.prefix,
			Scenario:   site.scenario,
			Seed:       uint64(i + 1),
			Clock:      sim.NewScaledClock(site.start(now), demoTimeFactor),
			MaxCurrent: site.maxCurrent,
			Logger:     log.With("demo", site.prefix),
		})
		if err != nil {
			log.Error("demo fleet", "err", err)
			continue
		}
		for _, id := range fleet.IDs() {
			for c := 1; c <= site.connectors; c++ {
				tag := fmt.Sprintf("%s-%d", id, c)
				if _, err := st.PutIDTag(ctx, store.IDTag{IDTag: tag, Status: store.IDTagAccepted, Owner: "demo driver", Note: "created by wattson serve -demo"}); err != nil {
					log.Error("demo id tag", "tag", tag, "err", err)
				}
			}
		}
		go func() {
			defer func() { done <- struct{}{} }()
			if err := fleet.Run(ctx); err != nil {
				log.Error("demo fleet stopped", "site", site.prefix, "err", err)
			}
		}()
	}
	<-ctx.Done()
	for range demoSites {
		<-done
	}
}

// demoFirmware stores, once, a firmware image the simulated chargers
// install, so the Firmware page has something to roll out.
func demoFirmware(ctx context.Context, st store.Store) error {
	fs, err := st.ListFiles(ctx, store.FileFilter{Kind: store.FileFirmware, Limit: 1})
	if err != nil || len(fs) > 0 {
		return err
	}
	image := sim.SimFirmwareMagic + "sim-2\nA firmware image for Wattson's simulated chargers (wattson serve -demo).\n"
	_, err = files.Save(ctx, st, store.File{Kind: store.FileFirmware, Name: "wattson-sim-2.bin", ContentType: "application/octet-stream",
		Version: "sim-2", Note: "demo image: the simulated chargers install it", CreatedBy: "demo"}, strings.NewReader(image), 1<<20)
	return err
}

// demoSmartCharging puts the demo's chargers on circuits, once: the home's
// two 16 A wallboxes share a 3×20 A garage circuit under a 3×35 A main
// fuse (the first wallbox goes first), the office's eight chargers a
// 3×63 A feed. It also stores an example hourly price curve for today and
// tomorrow (cheap at night and midday, dear at the morning and evening
// peaks) so Low-cost mode has something to plan with.
func demoSmartCharging(ctx context.Context, st store.Store, now time.Time) error {
	groups, err := st.ListGroups(ctx)
	if err != nil || len(groups) > 0 {
		return err
	}
	for _, g := range []store.ChargingGroup{
		{ID: "home", Name: "Home main fuse", LimitA: [3]float64{35, 35, 35}},
		{ID: "garage", Name: "Garage circuit", ParentID: "home", LimitA: [3]float64{20, 20, 20}},
		{ID: "office", Name: "Office feed", LimitA: [3]float64{63, 63, 63}, PowerLimitW: 40000},
	} {
		if _, err := st.PutGroup(ctx, g); err != nil {
			return err
		}
	}
	settings := []store.ConnectorSetting{
		{ChargerID: sim.ChargerID("HOME-", 1), GroupID: "garage", Priority: 1},
		{ChargerID: sim.ChargerID("HOME-", 2), GroupID: "garage"},
	}
	for i := 1; i <= 8; i++ {
		settings = append(settings, store.ConnectorSetting{ChargerID: sim.ChargerID("OFFICE-", i), GroupID: "office"})
	}
	for _, s := range settings {
		s.ConnectorID, s.Mode = 1, store.ModeOn
		if _, err := st.PutConnectorSetting(ctx, s); err != nil {
			return err
		}
	}
	day := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, now.Location())
	curve := []float64{ // per kWh, by hour of day
		0.18, 0.16, 0.15, 0.15, 0.16, 0.19, 0.26, 0.33, 0.35, 0.30, 0.24, 0.19,
		0.16, 0.15, 0.17, 0.21, 0.27, 0.34, 0.38, 0.36, 0.30, 0.25, 0.22, 0.20,
	}
	var slots []store.PriceSlot
	for h := range 48 {
		start := day.Add(time.Duration(h) * time.Hour)
		slots = append(slots, store.PriceSlot{Start: start.UTC(), End: start.Add(time.Hour).UTC(), Price: curve[h%24] + float64(h/24)*0.01})
	}
	return st.PutPrices(ctx, slots[0].Start, slots[len(slots)-1].End, slots)
}
