package load

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"testing"
	"time"

	"github.com/wattson-csms/wattson/csms/csmstest"
	v16 "github.com/wattson-csms/wattson/ocpp/v16"
	"github.com/wattson-csms/wattson/store"
)

// TestDropReconnectResend cuts every connection in the middle of a burst
// of transactions: every charger boots again by itself, the transaction
// messages the drop left unanswered are sent again, and the central
// system stores exactly the transactions it answered — none lost, none
// twice.
func TestDropReconnectResend(t *testing.T) {
	c := csmstest.New(t, nil, csmstest.AcceptUnknown)
	ctx := context.Background()
	const n = 30
	f, err := Start(ctx, Config{URL: c.URL, Chargers: n, Prefix: "DROP", ReconnectDelay: 300 * time.Millisecond, MaxBackoff: time.Second, Seed: 7})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	f.WaitConnected(ctx)
	if s := f.Status(); s.Online != n || s.Boots != n {
		t.Fatalf("after connecting: %+v", s)
	}
	done := make(chan *Result, 1)
	go func() { done <- f.Send(ctx, 150, 3*time.Second, Mix{Tx: 3, Meter: 1}) }()
	csmstest.Eventually(t, 30*time.Second, "transactions under way", func() bool { return f.starts.Load() >= 20 })
	mark := f.Drop()
	res := <-done
	t.Logf("send ended %v after the drop", time.Since(mark))
	csmstest.Eventually(t, 30*time.Second, "every charger to boot again", func() bool {
		for _, d := range f.FirstBootsAfter(mark) {
			if d < 0 {
				return false
			}
		}
		return true
	})
	var slowest time.Duration
	for _, d := range f.FirstBootsAfter(mark) {
		slowest = max(slowest, d)
	}
	t.Logf("the last charger booted again %v after the drop", slowest)
	csmstest.Eventually(t, 30*time.Second, "unanswered transaction messages to be sent again", func() bool { return f.TxPending() == 0 })
	s := f.Status()
	t.Logf("phase: sent %d, answered %d, errors %d, skipped %d; fleet %+v", res.Sent, res.Answered, res.Errors, res.Skipped, s)
	if s.Dropped != n || s.Reconnected != n || s.Online != n {
		t.Errorf("dropped %d, reconnected %d, online %d; want %d each", s.Dropped, s.Reconnected, s.Online, n)
	}
	if res.Answered+res.Errors+res.Timeouts != res.Sent || res.Skipped == 0 {
		t.Errorf("sent %d, answered %d, errors %d, timeouts %d, skipped %d", res.Sent, res.Answered, res.Errors, res.Timeouts, res.Skipped)
	}
	txs, err := c.Store.ListTransactions(ctx, store.TxFilter{Limit: 100000})
	if err != nil {
		t.Fatal(err)
	}
	stopped := 0
	for _, tx := range txs {
		if !tx.Active() {
			stopped++
		}
	}
	if int64(len(txs)) != s.Starts || int64(stopped) != s.Stops {
		t.Errorf("stored %d transactions (%d stopped); the chargers had %d starts and %d stops answered (%d sent again)",
			len(txs), stopped, s.Starts, s.Stops, s.TxResent)
	}
}

// TestTriggerMessage: the load clients accept TriggerMessage for what they
// can send, send it, and reject the rest.
func TestTriggerMessage(t *testing.T) {
	c := csmstest.New(t, nil, csmstest.AcceptUnknown)
	ctx := context.Background()
	f, err := Start(ctx, Config{URL: c.URL, Chargers: 2, Prefix: "TRIG"})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	f.WaitConnected(ctx)
	conn := c.Server.Conn("TRIG0001")
	if conn == nil {
		t.Fatal("TRIG0001 is not connected")
	}
	for msg, want := range map[v16.MessageTrigger]v16.TriggerMessageStatus{
		v16.MessageTriggerStatusNotification:         v16.TriggerMessageStatusAccepted,
		v16.MessageTriggerHeartbeat:                  v16.TriggerMessageStatusAccepted,
		v16.MessageTriggerFirmwareStatusNotification: v16.TriggerMessageStatusRejected,
	} {
		resp, err := v16.CallTriggerMessage(ctx, conn, &v16.TriggerMessageRequest{RequestedMessage: msg})
		if err != nil || resp.Status != want {
			t.Errorf("TriggerMessage %s: %+v, %v; want %s", msg, resp, err, want)
		}
	}
	csmstest.Eventually(t, 30*time.Second, "the triggered StatusNotification", func() bool {
		cs, err := c.Store.ListConnectors(ctx, "TRIG0001")
		return err == nil && len(cs) > 0
	})
	if got := f.Status().Triggered; got != 2 {
		t.Errorf("triggered %d, want 2", got)
	}
}

// TestControl drives a fleet through the JSON line protocol.
func TestControl(t *testing.T) {
	c := csmstest.New(t, nil, csmstest.AcceptUnknown)
	inR, inW := io.Pipe()
	outR, outW := io.Pipe()
	errc := make(chan error, 1)
	go func() {
		errc <- Control(context.Background(), Config{URL: c.URL, Chargers: 5, Prefix: "CTL", ReconnectDelay: 100 * time.Millisecond}, inR, outW)
		outW.Close()
	}()
	sc := bufio.NewScanner(outR)
	next := func() Reply {
		t.Helper()
		if !sc.Scan() {
			t.Fatalf("no reply: %v", sc.Err())
		}
		var r Reply
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("reply %s: %v", sc.Bytes(), err)
		}
		return r
	}
	send := func(line string) {
		t.Helper()
		if _, err := fmt.Fprintln(inW, line); err != nil {
			t.Fatal(err)
		}
	}
	if r := next(); r.Event != "connected" || r.Status.Online != 5 {
		t.Fatalf("first line %+v", r)
	}
	send(`{"id":1,"cmd":"send","rate":200,"durationMs":500,"mix":"heartbeat=1,meter=1"}`)
	r := next()
	if r.ID != 1 || r.Result == nil || r.Result.Sent != 100 || r.Result.Answered != 100 || r.Result.Latency.Count() != 100 {
		t.Fatalf("send: %+v", r)
	}
	send(`{"id":2,"cmd":"drop"}`)
	r = next()
	if r.ID != 2 || r.MarkNs == 0 {
		t.Fatalf("drop: %+v", r)
	}
	mark := r.MarkNs
	deadline := time.Now().Add(30 * time.Second)
	for {
		send(fmt.Sprintf(`{"id":3,"cmd":"boots","markNs":%d}`, mark))
		r = next()
		missing := 0
		for _, d := range r.BootsAfter {
			if d < 0 {
				missing++
			}
		}
		if len(r.BootsAfter) == 5 && missing == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("boots after the drop: %+v", r)
		}
		time.Sleep(50 * time.Millisecond)
	}
	send(`{"id":4,"cmd":"nonsense"}`)
	if r = next(); r.ID != 4 || r.Error == "" {
		t.Errorf("unknown command: %+v", r)
	}
	send(`not json`)
	if r = next(); r.Error == "" {
		t.Errorf("bad line: %+v", r)
	}
	send(`{"id":5,"cmd":"quit"}`)
	if r = next(); r.Event != "closed" || r.Status.Reconnected != 5 {
		t.Errorf("last line %+v", r)
	}
	inW.Close()
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
}

func TestHistogramJSON(t *testing.T) {
	var h Histogram
	for i := 1; i <= 1000; i++ {
		h.Record(time.Duration(i) * time.Millisecond)
	}
	b, err := json.Marshal(&h)
	if err != nil {
		t.Fatal(err)
	}
	var a, m Histogram
	if err := json.Unmarshal(b, &a); err != nil {
		t.Fatal(err)
	}
	if a.Count() != 1000 || a.Percentile(99) != h.Percentile(99) || a.Max() != h.Max() || a.Mean() != h.Mean() {
		t.Errorf("round trip: count %d p99 %v max %v, want %d %v %v", a.Count(), a.Percentile(99), a.Max(), h.Count(), h.Percentile(99), h.Max())
	}
	// Unmarshalling adds: two processes' histograms merge.
	_ = json.Unmarshal(b, &m)
	_ = json.Unmarshal(b, &m)
	if m.Count() != 2000 || m.Percentile(50) != h.Percentile(50) {
		t.Errorf("merged count %d p50 %v", m.Count(), m.Percentile(50))
	}
	if err := json.Unmarshal([]byte(`{"buckets":[[99999999,1]]}`), &m); err == nil {
		t.Error("a bucket out of range was taken")
	}
}
