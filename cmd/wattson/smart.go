package main

import (
	"context"
	"flag"
	"log/slog"
	"os"
	"time"

	"github.com/wattson-csms/wattson/csms"
	"github.com/wattson-csms/wattson/smartcharging"
	"github.com/wattson-csms/wattson/smartcharging/feeds"
	"github.com/wattson-csms/wattson/smartcharging/manager"
	"github.com/wattson-csms/wattson/store"
)

// smartConfig is how serve runs smart charging.
type smartConfig struct {
	enabled     bool
	stackLevel  int
	headroom    float64
	prices      string
	pricesEvery time.Duration
	meter       feeds.SiteMeterConfig
}

func addSmartFlags(fs *flag.FlagSet, c *smartConfig) {
	fs.BoolVar(&c.enabled, "smart-charging", true, "run the smart-charging allocator (load sharing, priorities, Low-cost and Solar modes) for the connectors put in groups")
	fs.IntVar(&c.stackLevel, "smart-stack-level", 8, "charging profile stack level reserved for smart charging's profiles")
	fs.Float64Var(&c.headroom, "smart-headroom", 0, "A added to a car's draw when its share is trimmed to what it takes, so it can show it wants more at once")
	fs.StringVar(&c.prices, "prices", os.Getenv("WATTSON_PRICES"), "hourly energy prices for Low-cost mode: an http(s) URL or a file, JSON or CSV")
	fs.DurationVar(&c.pricesEvery, "prices-every", time.Hour, "how often -prices is read again")
	fs.StringVar(&c.meter.Broker, "site-meter-mqtt", "", "MQTT broker of the site meter for Solar mode, e.g. tcp://127.0.0.1:1883")
	fs.StringVar(&c.meter.Topic, "site-meter-topic", "wattson/site-meter", "MQTT topic the site meter publishes JSON readings on")
	fs.StringVar(&c.meter.Field, "site-meter-field", "surplusW", `JSON field (dot path) with the power the site exports in W; "" if the payload is a bare number`)
	fs.BoolVar(&c.meter.Negate, "site-meter-negate", false, "the meter reports grid import as positive: negate it to get the surplus")
	c.meter.Username = os.Getenv("WATTSON_MQTT_USERNAME")
	c.meter.Password = os.Getenv("WATTSON_MQTT_PASSWORD")
}

// startSmart starts the smart-charging manager and its feeds; stop waits
// for them. A nil manager means smart charging is off.
func startSmart(ctx context.Context, c smartConfig, st store.Store, svc *csms.Service, log *slog.Logger) (*manager.Manager, func(), error) {
	if !c.enabled {
		log.Info("smart charging is off (-smart-charging=false)")
		return nil, func() {}, nil
	}
	headroom := c.headroom
	if headroom == 0 {
		headroom = -1 // the allocator's "none"
	}
	m, err := manager.New(manager.Config{
		Store: st, Events: svc.Events(), Commands: svc, Logger: log.With("part", "smart-charging"),
		StackLevel: c.stackLevel, Alloc: smartcharging.Config{Headroom: headroom},
	})
	if err != nil {
		return nil, nil, err
	}
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	var running []chan struct{}
	start := func(f func(context.Context)) {
		done := make(chan struct{})
		running = append(running, done)
		go func() { defer close(done); f(runCtx) }()
	}
	start(m.Run)
	if c.prices != "" {
		feed := &feeds.PriceFeed{
			Source: feeds.PriceSource{Location: c.prices},
			Every:  c.pricesEvery,
			Logger: log.With("part", "prices"),
			Apply: func(ctx context.Context, slots []smartcharging.PriceSlot) error {
				if len(slots) == 0 {
					return nil
				}
				out := make([]store.PriceSlot, len(slots))
				for i, s := range slots {
					out[i] = store.PriceSlot{Start: s.Start, End: s.End, Price: s.Price}
				}
				if err := st.PutPrices(ctx, slots[0].Start, slots[len(slots)-1].End, out); err != nil {
					return err
				}
				m.Reload()
				return nil
			},
		}
		start(feed.Run)
	}
	if c.meter.Broker != "" {
		sm := feeds.NewSiteMeter(c.meter, func(w float64, at time.Time) { m.SetSiteMeter(w, at, "mqtt") }, log.With("part", "site-meter"))
		start(func(ctx context.Context) {
			if err := sm.Run(ctx); err != nil && ctx.Err() == nil {
				log.Error("site meter stopped", "err", err)
			}
		})
	}
	return m, func() {
		cancel()
		for _, d := range running {
			<-d
		}
	}, nil
}
