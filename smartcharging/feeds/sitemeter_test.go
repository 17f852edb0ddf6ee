package feeds

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"math"
	"net"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
	"go.uber.org/goleak"
)

func TestParseReading(t *testing.T) {
	ok := []struct {
		name    string
		payload string
		field   string
		negate  bool
		want    float64
	}{
		{"bare number", "1500", "", false, 1500},
		{"bare negative with spaces", " -230.5\n", "", false, -230.5},
		{"bare numeric string", `"42"`, "", false, 42},
		{"field", `{"power":-800,"voltage":230}`, "power", false, -800},
		{"negated", `{"power":-800}`, "power", true, 800},
		{"negated zero is zero", `{"power":0}`, "power", true, 0},
		{"nested", `{"grid":{"power_w":1234.5,"energy":9}}`, "grid.power_w", false, 1234.5},
		{"numeric string", `{"grid":{"power_w":" 12.5 "}}`, "grid.power_w", true, -12.5},
		{"array element", `{"phases":[{"p":100},{"p":200}]}`, "phases.1.p", false, 200},
		{"Tasmota SENSOR", `{"Time":"2026-03-01T18:00:00","SML":{"Total_in":12345.6,"Power_curr":-1520}}`, "SML.Power_curr", true, 1520},
		{"exponent", `{"p":1e3}`, "p", false, 1000},
		{"at the limit", `{"p":-1e7}`, "p", false, -1e7},
	}
	for _, tc := range ok {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseReading([]byte(tc.payload), tc.field, tc.negate)
			if err != nil {
				t.Fatalf("ParseReading: %v", err)
			}
			if got != tc.want || math.Signbit(got) != math.Signbit(tc.want) {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
		})
	}

	bad := []struct {
		name, payload, field, want string
	}{
		{"empty", "", "", "empty payload"},
		{"not JSON", "1500 W", "", "not JSON"},
		{"garbage", "\x00\xff", "power", "not JSON"},
		{"two values", "1 2", "", "data after"},
		{"object without field", `{"power":1}`, "", "configure the field"},
		{"missing field", `{"power":1}`, "grid.power_w", "grid.power_w: not found"},
		{"through a number", `{"grid":5}`, "grid.power_w", "grid.power_w: grid is a number, not an object"},
		{"bare number with field", `5`, "power", "power: payload is a number, not an object"},
		{"bad index", `{"a":[1]}`, "a.3", `a.3: no element "3" in an array of 1`},
		{"empty path element", `{"a":{"b":1}}`, "a..b", "empty name"},
		{"null", `{"power":null}`, "power", "power: want a number, got null"},
		{"boolean", `{"power":true}`, "power", "power: want a number, got a boolean"},
		{"object", `{"power":{"w":1}}`, "power", "power: want a number, got an object"},
		{"text", `{"power":"unavailable"}`, "power", `power: not a number: "unavailable"`},
		{"NaN string", `{"power":"NaN"}`, "power", "power: not finite"},
		{"Inf string", `"+Inf"`, "", "payload: not finite"},
		{"overflow", `1e400`, "", "payload: not finite"},
		{"beyond 10 MW", `{"power":10000001}`, "power", "power: 1.0000001e+07 W is beyond ±10 MW"},
		{"too large", "[" + strings.Repeat("0,", 40000) + "0]", "", "over the limit"},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseReading([]byte(tc.payload), tc.field, false)
			if err == nil {
				t.Fatalf("no error; got %v", got)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %q, want it to contain %q", err, tc.want)
			}
		})
	}
}

func TestBrokerURL(t *testing.T) {
	for in, want := range map[string]string{
		"tcp://127.0.0.1:1883":   "tcp://127.0.0.1:1883",
		"mqtt://broker.lan":      "mqtt://broker.lan:1883",
		"ssl://broker.lan":       "ssl://broker.lan:8883",
		"127.0.0.1":              "tcp://127.0.0.1:1883",
		"localhost:1884":         "tcp://localhost:1884",
		"[::1]":                  "tcp://[::1]:1883",
		"ws://broker.lan:9001/x": "ws://broker.lan:9001/x",
	} {
		got, err := brokerURL(in)
		if err != nil || got != want {
			t.Errorf("brokerURL(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, in := range []string{"", "http://broker.lan", "tcp://", "tcp://:1883"} {
		if got, err := brokerURL(in); err == nil {
			t.Errorf("brokerURL(%q) = %q, want an error", in, got)
		}
	}
}

func TestSiteMeterBadConfig(t *testing.T) {
	for _, cfg := range []SiteMeterConfig{
		{Broker: "http://127.0.0.1", Topic: "t"},
		{Broker: "tcp://127.0.0.1:1883", Topic: ""},
		{Broker: "tcp://127.0.0.1:1883", Topic: "t", Field: "a..b"},
	} {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		err := NewSiteMeter(cfg, nil, nil).Run(ctx)
		if err == nil || ctx.Err() != nil {
			t.Errorf("%+v: Run = %v, want a configuration error at once", cfg, err)
		}
		cancel()
	}
}

const testBroker = "127.0.0.1:1883"

// needBroker fails the test unless the machine's MQTT broker answers;
// WATTSON_TEST_NO_MQTT set skips it instead.
func needBroker(t *testing.T) {
	t.Helper()
	if os.Getenv("WATTSON_TEST_NO_MQTT") != "" {
		t.Skip("WATTSON_TEST_NO_MQTT is set")
	}
	c, err := net.DialTimeout("tcp", testBroker, 2*time.Second)
	if err != nil {
		t.Fatalf("the MQTT broker (Mosquitto) is not reachable at %s: %v; start it, or set WATTSON_TEST_NO_MQTT=1 to skip this test", testBroker, err)
	}
	c.Close()
}

func randomHex(t *testing.T) string {
	var b [6]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b[:])
}

// testClient connects a paho client to the test broker.
func testClient(t *testing.T, id string) mqtt.Client {
	t.Helper()
	opts := mqtt.NewClientOptions().AddBroker("tcp://" + testBroker).SetClientID(id).
		SetAutoReconnect(false).SetConnectTimeout(5 * time.Second)
	c := mqtt.NewClient(opts)
	if tok := c.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("test client %s: cannot connect to %s: %v", id, testBroker, tok.Error())
	}
	return c
}

type reading struct {
	w  float64
	at time.Time
}

func TestSiteMeter(t *testing.T) {
	needBroker(t)
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	id := randomHex(t)
	topic := "wattson-test/" + id + "/site/meter"
	meterID := "wattson-test-" + id

	got := make(chan reading, 1000)
	var logs logBuffer
	meter := NewSiteMeter(SiteMeterConfig{
		Broker:   "tcp://" + testBroker,
		Topic:    topic,
		Field:    "grid.power_w",
		Negate:   true, // the meter reports import as positive
		ClientID: meterID,
	}, func(w float64, at time.Time) { got <- reading{w, at} }, logs.logger())

	pub := testClient(t, "wattson-test-pub-"+id)
	defer pub.Disconnect(100)
	publish := func(payload string, retained bool) {
		t.Helper()
		tok := pub.Publish(topic, 1, retained, payload)
		if !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
			t.Fatalf("publish %q: %v", payload, tok.Error())
		}
	}
	// A retained reading is of unknown age: the meter gets it on every
	// subscription and must skip it.
	publish(`{"grid":{"power_w":-777}}`, true)
	defer publish("", true) // clears it

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- meter.Run(ctx) }()
	stopped := false
	stop := func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run = %v, want nil when ctx ends", err)
			}
		case <-time.After(10 * time.Second):
			t.Error("Run did not return after ctx ended")
		}
	}
	defer stop()

	// awaitSubscribed publishes a marker until the meter has it: then it
	// is subscribed, and readings after it arrive in order.
	awaitSubscribed := func(marker float64, what string) {
		t.Helper()
		deadline := time.After(20 * time.Second)
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for {
			publish(`{"grid":{"power_w":`+formatW(-marker)+`}}`, false)
			for {
				select {
				case r := <-got:
					if r.w == 777 {
						t.Fatalf("%s: the retained reading was applied", what)
					}
					if r.w == marker {
						drain(got, 200*time.Millisecond)
						return
					}
					continue
				case <-tick.C:
				case <-deadline:
					t.Fatalf("%s: no reading applied; log:\n%s", what, logs.String())
				}
				break
			}
		}
	}
	awaitSubscribed(1, "first connection")
	if !strings.Contains(logs.String(), "retained reading skipped") {
		t.Fatalf("the retained reading did not arrive or was not skipped:\n%s", logs.String())
	}

	before := time.Now()
	publish(`{"grid":{"power_w":"unavailable"}}`, false) // skipped
	publish(`{"grid":{"power_w":-2500}}`, false)         // exporting 2.5 kW
	publish(`{"grid":{"power_w":600}}`, false)           // importing 600 W
	publish(`{"grid":{"power_w":1e9}}`, false)           // skipped
	publish(`{"grid":{"power_w":-42}}`, false)
	want := []float64{2500, -600, 42}
	for i, w := range want {
		select {
		case r := <-got:
			if r.w != w {
				t.Fatalf("reading %d = %v, want %v", i, r.w, w)
			}
			if r.at.Before(before) || r.at.After(time.Now()) {
				t.Fatalf("reading %d at %v, want the time it arrived", i, r.at)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("reading %d (%v) not applied; log:\n%s", i, w, logs.String())
		}
	}
	log := logs.String()
	if !strings.Contains(log, "invalid reading skipped") || !strings.Contains(log, `grid.power_w: not a number: \"unavailable\"`) {
		t.Fatalf("the invalid reading is not logged with its error:\n%s", log)
	}
	if strings.Count(log, "invalid reading skipped") != 1 {
		t.Fatalf("invalid readings logged more than once a minute:\n%s", log)
	}

	// A client with the meter's id takes its session over: the broker
	// drops the meter, which reconnects and subscribes again.
	thief := testClient(t, meterID)
	thief.Disconnect(100)
	eventually(t, 10*time.Second, "the connection loss is not logged", func() bool {
		return strings.Contains(logs.String(), "connection lost")
	})
	awaitSubscribed(2, "after reconnecting")
	if n := strings.Count(logs.String(), "site meter: subscribed"); n < 2 {
		t.Fatalf("subscribed %d times, want again after reconnecting:\n%s", n, logs.String())
	}

	stop()
	// Disconnected: the broker lets a new client take the id without
	// the meter coming back.
	publish(`{"grid":{"power_w":-9}}`, false)
	select {
	case r := <-got:
		t.Fatalf("reading %v applied after Run returned", r.w)
	case <-time.After(300 * time.Millisecond):
	}
}

func TestSiteMeterRetriesConnecting(t *testing.T) {
	// Nothing listens on this port: the meter keeps trying and logs it,
	// and still stops when told.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()

	var logs logBuffer
	meter := NewSiteMeter(SiteMeterConfig{Broker: "tcp://" + addr, Topic: "x"}, nil, logs.logger())
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- meter.Run(ctx) }()
	eventually(t, 10*time.Second, "connection failures not logged", func() bool {
		return strings.Count(logs.String(), "site meter: cannot connect") >= 2
	})
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run = %v, want nil", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return after ctx ended")
	}
}

func formatW(w float64) string { return strconv.FormatFloat(w, 'g', -1, 64) }

func drain[T any](ch <-chan T, quiet time.Duration) {
	for {
		select {
		case <-ch:
		case <-time.After(quiet):
			return
		}
	}
}
