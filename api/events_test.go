package api_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/wattson-csms/wattson/api"
	"github.com/wattson-csms/wattson/events"
	"github.com/wattson-csms/wattson/ocpp/v16"
)

func TestEventStream(t *testing.T) {
	e := newEnv(t, func(c *api.Config) { c.EventPingInterval = 50 * time.Millisecond })
	ch := e.connect("CP1", nil)

	s := e.events(t, "CP1")
	all := e.events(t, "")
	// Another charger's event does not reach the filtered stream.
	e.svc.Events().Publish(events.ChargerUpdated, "CP2", map[string]any{"registration": "Accepted"})
	ch.status(1, v16.ChargePointStatusCharging)
	m := s.want(t, "connector.status", `"status":"Charging"`)
	if m["chargerId"] != "CP1" {
		t.Errorf("event %v", m)
	}
	if d, _ := m["data"].(map[string]any); d["connectorId"] != float64(1) || d["errorCode"] != "NoError" {
		t.Errorf("event data %v", m["data"])
	}
	all.want(t, "charger.updated", `"registration":"Accepted"`)
	all.want(t, "connector.status", `"status":"Charging"`)
	s.want(t, "ping", "")
	for {
		select {
		case ev := <-s.events:
			if ev[1] != "" && ev[0] == "charger.updated" {
				t.Errorf("the CP1 stream got %v", ev)
			}
			continue
		default:
		}
		break
	}
	// Closing the client ends the handler and its subscription; goleak
	// checks the rest.
	s.close()
	all.close()

	// Close ends the streams that are open (graceful shutdown).
	s = e.events(t, "")
	e.api.Close()
	timeout := time.After(5 * time.Second)
	for open := true; open; {
		select {
		case _, open = <-s.events:
		case <-timeout:
			t.Fatal("the stream did not end at Close")
		}
	}

	wantProblem(t, e.admin("GET", "/events?chargerId=a&chargerId=b", ""), http.StatusBadRequest, api.KindInvalidRequest, "chargerId")
}
