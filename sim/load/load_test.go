package load

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/wattson-csms/wattson/csms/csmstest"
	"github.com/wattson-csms/wattson/store"
)

func TestParseMix(t *testing.T) {
	tests := []struct {
		in      string
		want    Mix
		wantErr string
	}{
		{in: "heartbeat=1,status=2,meter=8,tx=1", want: Mix{1, 2, 8, 1}},
		{in: " meter=3 , tx=1", want: Mix{Meter: 3, Tx: 1}},
		{in: "Heartbeat=5", want: Mix{Heartbeat: 5}},
		{in: "meter", wantErr: "kind=weight"},
		{in: "boot=1", wantErr: "unknown kind"},
		{in: "meter=-1", wantErr: "whole number"},
		{in: "meter=x", wantErr: "whole number"},
		{in: "meter=0", wantErr: "no kind"},
		{in: "", wantErr: "no kind"},
	}
	for _, tt := range tests {
		got, err := ParseMix(tt.in)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("ParseMix(%q) error %v, want %q", tt.in, err, tt.wantErr)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("ParseMix(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
		}
	}
	m := Mix{1, 2, 8, 1}
	counts := Mix{}
	for r := range m.total() {
		counts[m.pick(r)]++
	}
	if counts != m {
		t.Errorf("pick spreads %v, want %v", counts, m)
	}
}

func TestMeterValueSize(t *testing.T) {
	mv := MeterValue(time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC), 123456, 7)
	n := len(mv[0].AppendJSON(nil))
	if n < 900 || n > 1400 {
		t.Errorf("MeterValue encodes to %d bytes, want about 1 KB", n)
	}
}

func TestRunAgainstCentralSystem(t *testing.T) {
	c := csmstest.New(t, nil, csmstest.AcceptUnknown)
	var out strings.Builder
	res, err := Run(context.Background(), Config{
		URL:             c.URL,
		Chargers:        20,
		Connectors:      2,
		Prefix:          "LOAD",
		IDOffset:        100,
		Rate:            400,
		Mix:             Mix{Heartbeat: 1, Status: 2, Meter: 8, Tx: 2},
		Duration:        2 * time.Second,
		Ramp:            200,
		Seed:            1,
		Out:             &out,
		SummaryInterval: 500 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	var p strings.Builder
	res.Print(&p)
	t.Log("\n" + out.String() + p.String())
	if res.Booted != 20 || res.ConnectErrors != 0 {
		t.Errorf("booted %d, failed %d", res.Booted, res.ConnectErrors)
	}
	if res.Sent != 800 {
		t.Errorf("sent %d, want 400/s × 2 s", res.Sent)
	}
	if res.Answered != res.Sent || res.Errors != 0 || res.Timeouts != 0 {
		t.Errorf("sent %d, answered %d, errors %d, timeouts %d: %v", res.Sent, res.Answered, res.Errors, res.Timeouts, res.FirstErrors)
	}
	if res.Latency.Count() != res.Answered {
		t.Errorf("histogram holds %d, answered %d", res.Latency.Count(), res.Answered)
	}
	// What was sent is stored.
	ch, err := c.Store.GetCharger(context.Background(), "LOAD0101")
	if err != nil || ch.Registration != store.RegistrationAccepted {
		t.Errorf("charger LOAD0101: %+v, %v", ch, err)
	}
	txs, err := c.Store.ListTransactions(context.Background(), store.TxFilter{Limit: 10000})
	if err != nil {
		t.Fatal(err)
	}
	if len(txs) == 0 || uint64(len(txs)) > res.SentKind[Tx] {
		t.Errorf("%d transactions stored for %d tx messages", len(txs), res.SentKind[Tx])
	}
}

func TestRunIdle(t *testing.T) {
	c := csmstest.New(t, nil, csmstest.AcceptUnknown)
	start := time.Now()
	res, err := Run(context.Background(), Config{URL: c.URL, Chargers: 5, Prefix: "IDLE", Duration: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if res.Booted != 5 || res.Sent != 0 || time.Since(start) < 200*time.Millisecond {
		t.Errorf("booted %d, sent %d", res.Booted, res.Sent)
	}
}

func TestRunCancelled(t *testing.T) {
	c := csmstest.New(t, nil, csmstest.AcceptUnknown)
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(300*time.Millisecond, cancel)
	// Without the cancel, this would run for an hour.
	res, err := Run(ctx, Config{URL: c.URL, Chargers: 50, Prefix: "CANCEL", Ramp: 100, Rate: 100, Duration: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if res.Answered+res.Errors+res.Timeouts != res.Sent {
		t.Errorf("sent %d, answered %d, errors %d, timeouts %d", res.Sent, res.Answered, res.Errors, res.Timeouts)
	}
}

func TestConfigErrors(t *testing.T) {
	for _, cfg := range []Config{
		{Chargers: 1},
		{URL: "ws://x/ocpp/"},
		{URL: "ws://x/ocpp/", Chargers: 1, Rate: -1},
	} {
		if _, err := Run(context.Background(), cfg); err == nil {
			t.Errorf("Run(%+v) did not fail", cfg)
		}
	}
}

func TestParseAddrs(t *testing.T) {
	tests := []struct {
		in      string
		want    []string
		wantErr bool
	}{
		{in: "", want: nil},
		{in: "127.0.0.2-127.0.0.4", want: []string{"127.0.0.2", "127.0.0.3", "127.0.0.4"}},
		{in: "127.0.0.9-127.0.0.9", want: []string{"127.0.0.9"}},
		{in: "127.0.0.2, ::1", want: []string{"127.0.0.2", "::1"}},
		{in: "127.0.0.4-127.0.0.2", wantErr: true},
		{in: "10.0.0.0-10.0.2.0", wantErr: true},
		{in: "localhost", wantErr: true},
		{in: "127.0.0.1-x", wantErr: true},
	}
	for _, tt := range tests {
		got, err := ParseAddrs(tt.in)
		if tt.wantErr {
			if err == nil {
				t.Errorf("ParseAddrs(%q) = %v, want an error", tt.in, got)
			}
			continue
		}
		var s []string
		for _, a := range got {
			s = append(s, a.String())
		}
		if err != nil || strings.Join(s, " ") != strings.Join(tt.want, " ") {
			t.Errorf("ParseAddrs(%q) = %v, %v; want %v", tt.in, s, err, tt.want)
		}
	}
}

// TestSourceAddrs spreads connections over two loopback source addresses.
func TestSourceAddrs(t *testing.T) {
	c := csmstest.New(t, nil, csmstest.AcceptUnknown)
	addrs, _ := ParseAddrs("127.0.0.2-127.0.0.3")
	res, err := Run(context.Background(), Config{URL: c.URL, Chargers: 4, Prefix: "SRC", SourceAddrs: addrs, Duration: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if res.Booted != 4 {
		t.Fatalf("booted %d: %v", res.Booted, res.FirstErrors)
	}
}
