package main

import (
	"os"
	"strings"
	"testing"
	"time"
)

// TestMain lets the test binary serve as the echo server, as the command
// does for itself.
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == "echo-server" {
		if err := echoServer(os.Args[2:]); err != nil {
			os.Exit(1)
		}
		return
	}
	os.Exit(m.Run())
}

// TestSmallRun runs every phase at a small scale against real processes
// (wattson serve on SQLite, two load processes, the echo server) and checks
// that each produced its figure, with nothing lost and every charger back.
func TestSmallRun(t *testing.T) {
	if testing.Short() {
		t.Skip("builds wattson and runs processes")
	}
	o := options{
		chargers: 40, perWorker: 20, rates: []float64{50}, echoRates: []float64{100}, step: 2 * time.Second,
		heartbeat: time.Second, triggerCalls: 20, triggerPar: 2, stormLoad: 20,
		// What is checked is that every step is answered and stored, not
		// how fast: the test shares the machine with the others.
		maxP99: time.Minute,
		phases: map[string]bool{"connect": true, "rate": true, "trigger": true, "drop": true, "kill": true, "echo": true},
	}
	if url := os.Getenv("WATTSON_TEST_POSTGRES_URL"); url != "" {
		o.pg = url
	}
	out := t.TempDir() + "/table.md"
	o.out = out
	if err := run(o); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	table := string(b)
	t.Log("\n" + table)
	want := []string{"connections (SQLite)", "memory per charger (SQLite)", "throughput (SQLite, 40 connected) | **50 msgs/s**",
		"TriggerMessage API round trip", "20 of 20 Accepted, 0 failed", "all connections cut at once", "server killed",
		"bare echo server (40 connected) | **100 msgs/s**", "as a fraction of the echo server | **50 %**"}
	if o.pg != "" {
		want = append(want, "throughput (PostgreSQL, 40 connected) | **50 msgs/s**")
	}
	for _, w := range want {
		if !strings.Contains(table, w) {
			t.Errorf("the table has no %q", w)
		}
	}
	for _, bad := range []string{"LOST", "not reached", "below"} {
		if strings.Contains(table, bad) {
			t.Errorf("the table says %q", bad)
		}
	}
	if n := strings.Count(table, "(40 of 40)"); n != 2 {
		t.Errorf("%d storms with every charger back, want 2", n)
	}
}
