package manager_test

import (
	"context"
	"testing"
	"time"

	"github.com/wattson-csms/wattson/sim"
	"github.com/wattson-csms/wattson/smartcharging/manager"
	"github.com/wattson-csms/wattson/store"
)

func three(a float64) [3]float64 { return [3]float64{a, a, a} }

// watchLimit fails the test if the cars of stations ever draw more than
// limit on a phase, checked at every step of the simulation.
func (r *rig) watchLimit(limit [3]float64, stations ...*station) (stop func() float64) {
	done := make(chan struct{})
	worst := make(chan float64, 1)
	go func() {
		w := 0.0
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-done:
				worst <- w
				return
			case <-tick.C:
			}
			var sum [3]float64
			for _, s := range stations {
				a := s.amps()
				for p := range sum {
					sum[p] += a[p]
				}
			}
			for p := range sum {
				if over := sum[p] - limit[p]; over > w {
					w = over
				}
			}
		}
	}()
	return func() float64 { close(done); return <-worst }
}

// The case: two stations on one 32 A line; car 1 draws only 13 A,
// so car 2 gets the other 19 A.
func TestTwoStationsShareTheLine(t *testing.T) {
	r := newRig(t, rigOptions{})
	r.group(store.ChargingGroup{ID: "garage", Name: "Garage", LimitA: three(32)})
	a, b := r.station("wallbox-a", 3, 32), r.station("wallbox-b", 3, 32)
	r.setting(store.ConnectorSetting{ChargerID: a.id, GroupID: "garage"})
	r.setting(store.ConnectorSetting{ChargerID: b.id, GroupID: "garage"})
	// Idle connectors get 0 A first, so a car that arrives waits for its
	// share instead of drawing the charger's maximum.
	r.eventually("idle connectors at 0 A", 10*time.Second, func() bool {
		return a.cp.CurrentLimit(1) == 0 && b.cp.CurrentLimit(1) == 0
	})
	stop := r.watchLimit(three(32), a, b)
	a.arrive(sim.NewEV(60, 0.2, 13, 3))
	r.eventually("car 1 charging", 10*time.Second, func() bool { return near(a.amps()[0], 13) })
	b.arrive(sim.NewEV(60, 0.2, 32, 3))
	r.eventually("car 2 gets 19 A while car 1 draws 13 A", 20*time.Second, func() bool {
		return near(a.amps()[0], 13) && near(b.amps()[0], 19) && near(b.amps()[2], 19)
	})
	if over := stop(); over > 0.05 {
		t.Errorf("the line was exceeded by %.2f A", over)
	}
	st, _ := connStatus(r.mgr, b.id)
	if st.LimitA == nil || !near(*st.LimitA, 19) || !st.Confirmed || st.TransactionID == nil {
		t.Errorf("car 2's status: %+v", st)
	}
	// Car 1 leaves: car 2 may take the whole line.
	a.conn.PlugOut()
	r.eventually("car 2 gets 32 A alone", 20*time.Second, func() bool { return near(b.amps()[0], 32) })
	if got := a.cp.CurrentLimit(1); got != 0 {
		t.Errorf("the idle connector's limit is %v A, want 0", got)
	}
}

// Priorities: on a line with room for one car only, the car with the higher
// priority charges; the other waits and takes over when it leaves.
func TestPriority(t *testing.T) {
	r := newRig(t, rigOptions{})
	r.group(store.ChargingGroup{ID: "line", LimitA: three(10)})
	lo, hi := r.station("low", 3, 32), r.station("high", 3, 32)
	r.setting(store.ConnectorSetting{ChargerID: lo.id, GroupID: "line", Priority: 0})
	r.setting(store.ConnectorSetting{ChargerID: hi.id, GroupID: "line", Priority: 5})
	r.eventually("idle connectors at 0 A", 10*time.Second, func() bool {
		return lo.cp.CurrentLimit(1) == 0 && hi.cp.CurrentLimit(1) == 0
	})
	stop := r.watchLimit(three(10), lo, hi)
	lo.arrive(sim.NewEV(60, 0.2, 32, 3))
	r.eventually("the low-priority car charges alone", 10*time.Second, func() bool { return near(lo.amps()[0], 10) })
	hi.arrive(sim.NewEV(60, 0.2, 32, 3))
	r.eventually("the high-priority car takes the line", 20*time.Second, func() bool {
		return near(hi.amps()[0], 10) && lo.amps()[0] == 0
	})
	if s := lo.cp.Status(1); s != "SuspendedEVSE" {
		t.Errorf("the paused car's connector is %s, want SuspendedEVSE", s)
	}
	hi.conn.PlugOut()
	r.eventually("the low-priority car resumes", 20*time.Second, func() bool { return near(lo.amps()[0], 10) })
	if over := stop(); over > 0.05 {
		t.Errorf("the line was exceeded by %.2f A", over)
	}
}

// A one-phase car on a three-phase charger loads only L1: it is counted
// only there, so L2 and L3 of the group carry the other car alone.
func TestOnePhaseCar(t *testing.T) {
	r := newRig(t, rigOptions{})
	r.group(store.ChargingGroup{ID: "line", LimitA: [3]float64{32, 20, 20}})
	a, b := r.station("one-phase-car", 3, 32), r.station("three-phase-car", 3, 32)
	r.setting(store.ConnectorSetting{ChargerID: a.id, GroupID: "line"})
	r.setting(store.ConnectorSetting{ChargerID: b.id, GroupID: "line"})
	r.eventually("idle connectors at 0 A", 10*time.Second, func() bool {
		return a.cp.CurrentLimit(1) == 0 && b.cp.CurrentLimit(1) == 0
	})
	stop := r.watchLimit([3]float64{32, 20, 20}, a, b)
	a.arrive(sim.NewEV(60, 0.2, 32, 1))
	r.eventually("the one-phase car charges on L1", 10*time.Second, func() bool {
		x := a.amps()
		return x[0] > 6 && x[1] == 0 && x[2] == 0
	})
	b.arrive(sim.NewEV(60, 0.2, 32, 3))
	// Counted on all three phases, the one-phase car would hold the
	// three-phase one to 10 A (20 A on L2/L3 shared); counted on L1 only,
	// L1's 32 A are shared 16/16 and L2/L3 carry 16 A.
	r.eventually("16 A each", 30*time.Second, func() bool {
		return near(a.amps()[0], 16) && near(b.amps()[0], 16) && near(b.amps()[1], 16)
	})
	st, _ := connStatus(r.mgr, a.id)
	if st.Phases != "L1 (measured)" {
		t.Errorf("phases of the one-phase car: %q", st.Phases)
	}
	for _, g := range r.mgr.Status().Groups {
		if g.ID == "line" && (!near(g.AllocatedA[0], 32) || !near(g.AllocatedA[1], 16)) {
			t.Errorf("group allocation %v, want 32/16/16", g.AllocatedA)
		}
	}
	if over := stop(); over > 0.05 {
		t.Errorf("a phase was exceeded by %.2f A", over)
	}
}

// A charger that refuses charging profiles is unmanaged: its maximum is
// counted against the group, an alert says so, and the others share the
// rest. A connector that leaves its group gets its profiles cleared.
func TestUnmanagedChargerAndLeaving(t *testing.T) {
	r := newRig(t, rigOptions{})
	r.group(store.ChargingGroup{ID: "line", LimitA: three(32)})
	a := r.station("managed", 3, 32)
	b := r.stationCfg("refuses", 3, 16, map[string]string{
		"MeterValueSampleInterval":   "1",
		"ChargeProfileMaxStackLevel": "5", // below smart charging's 8: it answers Rejected
	})
	r.setting(store.ConnectorSetting{ChargerID: a.id, GroupID: "line"})
	r.setting(store.ConnectorSetting{ChargerID: b.id, GroupID: "line", MaxCurrent: 16})
	r.eventually("the refusing charger is unmanaged", 10*time.Second, func() bool {
		st, _ := connStatus(r.mgr, b.id)
		return st.Unmanaged
	})
	r.eventually("an unmanaged alert", 10*time.Second, func() bool {
		for _, al := range r.mgr.Status().Alerts {
			if al.Kind == "unmanaged" && al.Subject == b.id+"/1" {
				return true
			}
		}
		return false
	})
	stop := r.watchLimit(three(32), a, b)
	b.arrive(sim.NewEV(60, 0.2, 32, 3))
	a.arrive(sim.NewEV(60, 0.2, 32, 3))
	r.eventually("the managed car gets what the unmanaged one cannot take", 20*time.Second, func() bool {
		return near(a.amps()[0], 16) && near(b.amps()[0], 16)
	})
	if over := stop(); over > 0.05 {
		t.Errorf("the line was exceeded by %.2f A", over)
	}

	// The managed connector leaves the group: its profiles are cleared and
	// it charges at the charger's own maximum again.
	if err := r.central.Store.DeleteConnectorSetting(r.ctx, a.id, 1); err != nil {
		t.Fatal(err)
	}
	r.mgr.Reload()
	r.eventually("profiles cleared", 10*time.Second, func() bool { return a.cp.CurrentLimit(1) == 32 })
	r.eventually("profile records cleared", 10*time.Second, func() bool {
		profiles, err := r.central.Store.ListChargingProfiles(r.ctx, a.id)
		return err == nil && len(profiles) == 0
	})
}

// Two instances on one database: exactly one runs the allocator; when it
// stops, the other takes over.
func TestOneAllocatorPerDeployment(t *testing.T) {
	r := newRig(t, rigOptions{manager: func(c *manager.Config) { c.Holder = "node-1"; c.LeaseTTL = 300 * time.Millisecond }})
	r.eventually("the first is the leader", 5*time.Second, func() bool { return r.mgr.Status().Leader })
	second, err := manager.New(manager.Config{Store: r.central.Store, Commands: r.central.Service, Holder: "node-2",
		LeaseTTL: 300 * time.Millisecond, Interval: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { second.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()
	for range 5 {
		time.Sleep(100 * time.Millisecond)
		if second.Status().Leader {
			t.Fatal("both instances run the allocator")
		}
	}
	r.stop()
	r.eventually("the second takes over", 5*time.Second, func() bool { return second.Status().Leader })
}
