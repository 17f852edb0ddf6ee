package manager

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/wattson-csms/wattson/smartcharging"
	"github.com/wattson-csms/wattson/store"
)

// BenchmarkRound is the manager's share of a round for n managed connectors
// (building the allocator's input from live state, then allocating), with
// a tenth of them in Low-cost mode planning from two days of prices. Sends
// are not included: they happen only for the limits that change.
func BenchmarkRound(b *testing.B) {
	for _, n := range []int{1000, 10000} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			m, err := New(Config{Store: nopStore{}, Commands: nopCommander{}})
			if err != nil {
				b.Fatal(err)
			}
			now := time.Date(2026, 11, 18, 12, 30, 0, 0, time.UTC)
			var groups []smartcharging.Group
			groups = append(groups, smartcharging.Group{ID: "site", Limit: [3]float64{4000, 4000, 4000}})
			for g := range n / 20 {
				groups = append(groups, smartcharging.Group{ID: fmt.Sprint("g", g), Parent: "site", Limit: [3]float64{100, 100, 100}})
				m.groups = append(m.groups, store.ChargingGroup{ID: fmt.Sprint("g", g), LimitA: [3]float64{100, 100, 100}})
			}
			m.tree, err = smartcharging.NewTree(groups)
			if err != nil {
				b.Fatal(err)
			}
			for h := range 48 {
				s := now.Truncate(24 * time.Hour).Add(time.Duration(h) * time.Hour)
				m.prices = append(m.prices, smartcharging.PriceSlot{Start: s, End: s.Add(time.Hour), Price: float64((h * 7) % 24)})
			}
			for i := range n {
				id := smartcharging.ConnectorID{Charger: fmt.Sprintf("CP%06d", i), Connector: 1}
				mode := store.ModeOn
				if i%10 == 0 {
					mode = store.ModeLowCost
				}
				m.settings[id] = store.ConnectorSetting{ChargerID: id.Charger, ConnectorID: 1, GroupID: fmt.Sprint("g", i/20), Mode: mode, Priority: i % 3}
				lv := m.liveLocked(id)
				lv.status, lv.tx = "Charging", int64(i+1)
				lv.measured = smartcharging.PerPhase{10, 10, 10}
				lv.def = &sent{limit: 16, at: now.Add(-time.Hour), confirmed: true}
			}
			var prev *smartcharging.Result
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				cs := m.inputsLocked(now)
				prev = m.alloc.Allocate(m.tree, cs, now, prev)
			}
		})
	}
}

type nopCommander struct{}

func (nopCommander) Call(context.Context, string, string, []byte) ([]byte, error) {
	return nil, nil
}

type nopStore struct{ store.Store }
