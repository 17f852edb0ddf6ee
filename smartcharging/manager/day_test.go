package manager_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strconv"
	"testing"
	"time"

	"github.com/wattson-csms/wattson/sim"
	"github.com/wattson-csms/wattson/smartcharging"
	"github.com/wattson-csms/wattson/smartcharging/manager"
	"github.com/wattson-csms/wattson/store"
)

// Low-cost mode charges only in the day's cheapest hours.
func TestLowCostChargesInCheapHours(t *testing.T) {
	r := newRig(t, rigOptions{manager: func(c *manager.Config) { c.Location = time.UTC }})
	now := time.Now().UTC()
	day := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, time.UTC)
	hour := now.Truncate(time.Hour)
	prices := func(current float64) {
		var slots []store.PriceSlot
		for h := range 24 {
			start := day.Add(time.Duration(h) * time.Hour)
			p := 0.20 + float64(h)/100 // every hour a different price
			if start.Equal(hour) {
				p = current
			}
			slots = append(slots, store.PriceSlot{Start: start, End: start.Add(time.Hour), Price: p})
		}
		if err := r.central.Store.PutPrices(r.ctx, day, day.Add(24*time.Hour), slots); err != nil {
			t.Fatal(err)
		}
		r.mgr.Reload()
	}
	prices(0.90) // the dearest hour of the day
	r.group(store.ChargingGroup{ID: "home", LimitA: three(32)})
	s := r.station("lowcost", 3, 32)
	r.setting(store.ConnectorSetting{ChargerID: s.id, GroupID: "home", Mode: store.ModeLowCost, CheapestHours: 3})
	r.eventually("idle at 0 A", 10*time.Second, func() bool { return s.cp.CurrentLimit(1) == 0 })
	s.arrive(sim.NewEV(60, 0.2, 32, 3))
	r.eventually("transaction started", 10*time.Second, func() bool { _, ok := s.cp.Transaction(1); return ok })
	// Several rounds pass; the car must not get current in a dear hour.
	time.Sleep(time.Second)
	if a := s.amps(); a[0] != 0 {
		t.Fatalf("charging %v A in the dearest hour", a[0])
	}
	st, _ := connStatus(r.mgr, s.id)
	if st.CheapNow == nil || *st.CheapNow || len(st.Plan) != 3 || st.Reason != string(smartcharging.ReasonNotCheap) {
		t.Fatalf("status in a dear hour: %+v", st)
	}
	for _, p := range st.Plan {
		if p.Price > 0.23 {
			t.Errorf("planned a slot at %v, not among the three cheapest", p.Price)
		}
	}
	prices(0.05) // now the cheapest hour
	r.eventually("charging in the cheapest hour", 10*time.Second, func() bool { return near(s.amps()[0], 32) })
	st, _ = connStatus(r.mgr, s.id)
	if st.CheapNow == nil || !*st.CheapNow || !st.Plan[0].Start.Equal(hour) && !st.Plan[1].Start.Equal(hour) && !st.Plan[2].Start.Equal(hour) {
		t.Errorf("status in the cheapest hour: %+v", st)
	}
}

// A day at 1,440 times real speed: cars come and go at five stations on a
// tree of two circuits, and no circuit is exceeded on any phase — neither
// in what the simulated meters measure at every step nor in any
// clock-aligned meter sample the chargers report.
func TestSimulatedDayStaysWithinLimits(t *testing.T) {
	if testing.Short() {
		t.Skip("a simulated day takes a minute")
	}
	start := time.Date(2026, 11, 18, 0, 0, 0, 0, time.UTC)
	clock := sim.NewScaledClock(start, 1440)
	r := newRig(t, rigOptions{clock: clock, manager: func(c *manager.Config) {
		c.Interval, c.Debounce = 50*time.Millisecond, 5*time.Millisecond
		// Times of the allocator run on the simulated clock: a minute is
		// 42 ms here, so give chargers simulated minutes to answer.
		c.Alloc = smartcharging.Config{SteadyFor: 10 * time.Minute, ProbeEvery: time.Hour, MinInterval: time.Minute,
			ConfirmDelay: 30 * time.Minute, Hysteresis: 1}
		c.CallTimeout = 10 * time.Second
		c.HistoryEvery = 5 * time.Minute
	}})
	limits := map[string][3]float64{"main": three(40), "garage": three(25)}
	r.group(store.ChargingGroup{ID: "main", Name: "House", LimitA: limits["main"]})
	r.group(store.ChargingGroup{ID: "garage", Name: "Garage", ParentID: "main", LimitA: limits["garage"]})
	members := map[string][]*station{}
	var all []*station
	for i, g := range []string{"garage", "garage", "main", "main", "main"} {
		s := r.stationCfg(fmt.Sprintf("day-%d", i), 3, 32, map[string]string{
			"MeterValueSampleInterval": "120",
			"ClockAlignedDataInterval": "300",
			"MeterValuesAlignedData":   "Current.Import",
		})
		r.setting(store.ConnectorSetting{ChargerID: s.id, GroupID: g, Priority: i % 2})
		members[g] = append(members[g], s)
		members["main"] = appendIf(members["main"], s, g == "garage")
		all = append(all, s)
	}
	r.eventually("idle connectors at 0 A", 20*time.Second, func() bool {
		for _, s := range all {
			if s.cp.CurrentLimit(1) != 0 {
				return false
			}
		}
		return true
	})

	// Two visits per station, at seeded random times.
	type visit struct {
		s             *station
		arrive, leave time.Time
		ev            *sim.EV
	}
	rng := rand.New(rand.NewPCG(7, 11))
	var plan []*visit
	for _, s := range all {
		at := start.Add(time.Duration(6+rng.IntN(3)) * time.Hour).Add(time.Duration(rng.IntN(60)) * time.Minute)
		for range 2 {
			stay := time.Duration(2+rng.IntN(4)) * time.Hour
			phases := 3
			if rng.IntN(3) == 0 {
				phases = 1
			}
			maxA := []float64{16, 32, 13}[rng.IntN(3)]
			plan = append(plan, &visit{s: s, arrive: at, leave: at.Add(stay), ev: sim.NewEV(40+rng.Float64()*40, 0.1+rng.Float64()*0.4, maxA, phases)})
			at = at.Add(stay + time.Duration(1+rng.IntN(4))*time.Hour)
		}
	}

	stopWatch := map[string]func() float64{}
	for g, ss := range members {
		stopWatch[g] = r.watchLimit(limits[g], ss...)
	}
	end := start.Add(24 * time.Hour)
	for clock.Now().Before(end) {
		now := clock.Now()
		for _, v := range plan {
			switch {
			case v.ev != nil && !now.Before(v.arrive) && now.Before(v.leave) && !v.s.plugged():
				v.s.arrive(v.ev)
				v.ev = nil
			case v.ev == nil && !now.Before(v.leave) && v.s.plugged():
				v.s.conn.PlugOut()
				v.leave = end.Add(time.Hour)
			}
		}
		time.Sleep(5 * time.Millisecond)
	}
	for g, stop := range stopWatch {
		if over := stop(); over > 0.05 {
			t.Errorf("group %s exceeded by %.2f A in the simulated meters", g, over)
		}
	}

	// Every clock-aligned sample the chargers sent, summed per group at
	// each instant.
	ctx := context.Background()
	txs, err := r.central.Store.ListTransactions(ctx, store.TxFilter{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	if len(txs) < 8 {
		t.Fatalf("only %d transactions in the simulated day", len(txs))
	}
	groupOf := map[string][]string{}
	for g, ss := range members {
		for _, s := range ss {
			groupOf[s.id] = append(groupOf[s.id], g)
		}
	}
	sums := map[string]map[time.Time]*[3]float64{"main": {}, "garage": {}}
	samples, energy := 0, int64(0)
	for _, tx := range txs {
		energy += tx.EnergyWh()
		mvs, err := r.central.Store.TransactionMeterValues(ctx, tx.ID)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range mvs {
			if m.Context != "Sample.Clock" || m.Measurand != "Current.Import" {
				continue
			}
			p := map[string]int{"L1": 0, "L2": 1, "L3": 2}[m.Phase]
			v, err := strconv.ParseFloat(m.Value, 64)
			if err != nil {
				t.Fatal(err)
			}
			samples++
			for _, g := range groupOf[tx.ChargerID] {
				sum := sums[g][m.Timestamp]
				if sum == nil {
					sum = &[3]float64{}
					sums[g][m.Timestamp] = sum
				}
				sum[p] += v
			}
		}
	}
	if samples < 100 {
		t.Fatalf("only %d clock-aligned current samples", samples)
	}
	for g, byTime := range sums {
		for at, sum := range byTime {
			for p := range sum {
				if sum[p] > limits[g][p]+0.05 {
					t.Errorf("group %s at %s: L%d %.1f A over its %.0f A limit", g, at.Format(time.TimeOnly), p+1, sum[p], limits[g][p])
				}
			}
		}
	}
	if energy < 50_000 {
		t.Errorf("only %d Wh delivered in the day: the cars hardly charged", energy)
	}
	t.Logf("%d transactions, %.1f kWh, %d aligned samples checked", len(txs), float64(energy)/1000, samples)
}

func appendIf(list []*station, s *station, ok bool) []*station {
	if ok {
		return append(list, s)
	}
	return list
}
