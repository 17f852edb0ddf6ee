package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/wattson-csms/wattson/ocpp"
	v16 "github.com/wattson-csms/wattson/ocpp/v16"
	"github.com/wattson-csms/wattson/store"
	"github.com/wattson-csms/wattson/store/postgres"
	"github.com/wattson-csms/wattson/store/postgres/pgtest"
	"github.com/wattson-csms/wattson/store/sqlite"
)

// The test binary doubles as the server process for the crash test: with
// WATTSON_TEST_SERVE set it runs `wattson serve` with those arguments.
func TestMain(m *testing.M) {
	if args := os.Getenv("WATTSON_TEST_SERVE"); args != "" {
		os.Exit(run(context.Background(), strings.Fields(args), os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

// server is a `wattson serve` child process.
type server struct {
	cmd  *exec.Cmd
	addr string
	logs *syncBuffer
}

func startChild(t *testing.T, db string) *server {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	logs := &syncBuffer{}
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "WATTSON_TEST_SERVE=serve -listen "+addr+" -db "+db+" -unknown-chargers accept -log-level warn")
	cmd.Stderr = logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	s := &server{cmd: cmd, addr: addr, logs: logs}
	t.Cleanup(func() { s.kill() })
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := http.Get("http://" + addr + "/healthz")
		if err == nil {
			resp.Body.Close()
			return s
		}
		if time.Now().After(deadline) {
			t.Fatalf("server did not come up: %v\n%s", err, logs.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (s *server) kill() {
	if s.cmd.ProcessState == nil {
		_ = s.cmd.Process.Signal(syscall.SIGKILL)
		_ = s.cmd.Wait()
	}
}

type ackedStart struct {
	id                     int
	charger                string
	connector, meterStart  int
	stopped                bool
	meterStop              int
	startedAt, stoppedTime time.Time
}

// TestCrashLosesNoAcknowledgedTransaction kills the server with SIGKILL
// while chargers start and stop transactions, then checks that every
// StartTransaction and StopTransaction that was answered is in the
// database, and that a retried start after the restart gets the same id.
func TestCrashLosesNoAcknowledgedTransaction(t *testing.T) {
	if testing.Short() {
		t.Skip("skipped in -short mode: starts and kills server processes")
	}
	dbs := map[string]string{"sqlite": "sqlite:" + filepath.Join(t.TempDir(), "crash.db")}
	if os.Getenv(pgtest.EnvVar) != "" {
		dbs["postgres"] = pgtest.SchemaURL(t)
	}
	for name, db := range dbs {
		t.Run(name, func(t *testing.T) { crashOnce(t, db) })
	}
}

func crashOnce(t *testing.T, db string) {
	srv := startChild(t, db)
	ctx := context.Background()

	const chargers = 16
	var mu sync.Mutex
	var acked []*ackedStart
	stop := make(chan struct{})
	var wg, booted sync.WaitGroup
	for i := 0; i < chargers; i++ {
		wg.Add(1)
		booted.Add(1)
		go func(i int) {
			defer wg.Done()
			bootDone := sync.OnceFunc(booted.Done)
			defer bootDone()
			id := fmt.Sprintf("KILL-%02d", i)
			c, err := ocpp.Dial(ctx, "ws://"+srv.addr+"/ocpp/"+id, ocpp.DialOptions{Subprotocols: []ocpp.Subprotocol{{Name: "ocpp1.6"}}})
			if err != nil {
				t.Errorf("dial %s: %v", id, err)
				return
			}
			defer c.Close()
			if _, err := v16.CallBootNotification(ctx, c, &v16.BootNotificationRequest{ChargePointVendor: "Crash", ChargePointModel: "Test"}); err != nil {
				t.Errorf("boot %s: %v", id, err)
				return
			}
			bootDone()
			meter := 0
			for n := 0; ; n++ {
				select {
				case <-stop:
					return
				default:
				}
				ts := time.Now().UTC().Truncate(time.Millisecond)
				start := &v16.StartTransactionRequest{ConnectorID: 1 + n%2, IDTag: "TAG", MeterStart: meter, Timestamp: ts}
				resp, err := v16.CallStartTransaction(ctx, c, start)
				if err != nil {
					return // the server died
				}
				a := &ackedStart{id: resp.TransactionID, charger: id, connector: start.ConnectorID, meterStart: meter, startedAt: ts}
				mu.Lock()
				acked = append(acked, a)
				mu.Unlock()
				meter += 1000
				stopTS := ts.Add(time.Second)
				if _, err := v16.CallStopTransaction(ctx, c, &v16.StopTransactionRequest{TransactionID: resp.TransactionID, MeterStop: meter, Timestamp: stopTS, Reason: v16.ReasonLocal}); err != nil {
					return
				}
				mu.Lock()
				a.stopped, a.meterStop, a.stoppedTime = true, meter, stopTS
				mu.Unlock()
			}
		}(i)
	}
	// Kill once every charger booted and the load has run a while (on a
	// busy machine booting alone can take longer than any fixed delay).
	booted.Wait()
	deadline := time.Now().Add(30 * time.Second)
	for {
		mu.Lock()
		n := len(acked)
		mu.Unlock()
		if n >= 4*chargers || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	srv.kill() // SIGKILL in the middle of the load
	close(stop)
	wg.Wait()

	mu.Lock()
	defer mu.Unlock()
	if len(acked) < chargers {
		t.Fatalf("only %d transactions were acknowledged before the kill: the load did not run", len(acked))
	}
	st := openStore(t, db)
	stops := 0
	for _, a := range acked {
		tx, err := st.GetTransaction(ctx, int64(a.id))
		if err != nil {
			t.Errorf("acknowledged transaction %d of %s is missing: %v", a.id, a.charger, err)
			continue
		}
		if tx.ChargerID != a.charger || tx.ConnectorID != a.connector || tx.MeterStart != int64(a.meterStart) || !tx.StartedAt.Equal(a.startedAt) {
			t.Errorf("transaction %d stored as %+v, acknowledged as %+v", a.id, tx, a)
		}
		if a.stopped {
			stops++
			if tx.Active() || tx.MeterStop == nil || *tx.MeterStop != int64(a.meterStop) {
				t.Errorf("acknowledged stop of transaction %d is missing: %+v", a.id, tx)
			}
		}
	}
	st.Close()
	t.Logf("%d starts and %d stops acknowledged before SIGKILL; all found after it", len(acked), stops)

	// After a restart, a charger that did not get the answer to its last
	// start retries it and gets the same transaction id.
	srv2 := startChild(t, db)
	last := acked[len(acked)-1]
	c, err := ocpp.Dial(ctx, "ws://"+srv2.addr+"/ocpp/"+last.charger, ocpp.DialOptions{Subprotocols: []ocpp.Subprotocol{{Name: "ocpp1.6"}}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	resp, err := v16.CallStartTransaction(ctx, c, &v16.StartTransactionRequest{ConnectorID: last.connector, IDTag: "TAG", MeterStart: last.meterStart, Timestamp: last.startedAt})
	if err != nil {
		t.Fatalf("retried start after restart: %v\n%s", err, srv2.logs.String())
	}
	if resp.TransactionID != last.id {
		t.Fatalf("retried start got transaction %d, want %d", resp.TransactionID, last.id)
	}
}

func openStore(t *testing.T, db string) store.Store {
	t.Helper()
	var st store.Store
	var err error
	if strings.HasPrefix(db, "postgres") {
		st, err = postgres.Open(context.Background(), db)
	} else {
		st, err = sqlite.Open(context.Background(), strings.TrimPrefix(db, "sqlite:"))
	}
	if err != nil {
		t.Fatal(err)
	}
	return st
}
