package manager_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/wattson-csms/wattson/sim"
	"github.com/wattson-csms/wattson/smartcharging/feeds"
	"github.com/wattson-csms/wattson/store"
)

// Solar mode follows the surplus a site meter publishes on the machine's
// Mosquitto broker. The test plays the site: it publishes what a meter at
// the grid connection would see, the solar production less what the car
// draws, so the car must settle where it uses the production.
func TestSolarFollowsSurplusOverMQTT(t *testing.T) {
	r := newRig(t, rigOptions{})
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	topic := "wattson-test/" + hex.EncodeToString(b) + "/meter"
	meter := feeds.NewSiteMeter(feeds.SiteMeterConfig{Broker: "tcp://127.0.0.1:1883", Topic: topic, Field: "surplusW"},
		func(w float64, at time.Time) { r.mgr.SetSiteMeter(w, at, "mqtt") }, nil)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- meter.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })

	opts := mqtt.NewClientOptions().AddBroker("tcp://127.0.0.1:1883").SetClientID("wattson-test-site-" + hex.EncodeToString(b))
	pub := mqtt.NewClient(opts)
	if tok := pub.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("connecting to Mosquitto on 127.0.0.1:1883: %v", tok.Error())
	}
	defer pub.Disconnect(100)

	r.group(store.ChargingGroup{ID: "site", LimitA: three(32), SiteMeter: true})
	s := r.station("solar", 3, 32)
	r.setting(store.ConnectorSetting{ChargerID: s.id, GroupID: "site", Mode: store.ModeSolar})
	r.eventually("idle at 0 A", 10*time.Second, func() bool { return s.cp.CurrentLimit(1) == 0 })

	solarW := make(chan float64, 1)
	go func() { // the site meter
		production := 0.0
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case production = <-solarW:
			case <-tick.C:
			}
			a := s.amps()
			export := production - (a[0]+a[1]+a[2])*230
			pub.Publish(topic, 0, false, fmt.Sprintf(`{"surplusW":%.0f}`, export))
		}
	}()
	solarW <- 6900 // 10 A on three phases
	s.arrive(sim.NewEV(60, 0.2, 32, 3))
	r.eventually("charging from 6.9 kW of sun", 20*time.Second, func() bool { return near(s.amps()[0], 10) })
	solarW <- 9660 // 14 A
	r.eventually("following the sun up", 20*time.Second, func() bool { return near(s.amps()[0], 14) })
	solarW <- 2000 // below the 6 A minimum on three phases (4.1 kW)
	r.eventually("paused without enough sun", 20*time.Second, func() bool { return s.amps()[0] == 0 })
	st, _ := connStatus(r.mgr, s.id)
	if st.Reason != "solar: surplus below minimum" {
		t.Errorf("reason while paused: %q", st.Reason)
	}
	if sm := r.mgr.SiteMeter(); sm == nil || sm.Source != "mqtt" {
		t.Errorf("site meter reading: %+v", sm)
	}
}
