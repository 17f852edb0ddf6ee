package ocpp_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wattson-csms/wattson/ocpp"
	"github.com/wattson-csms/wattson/ocpp/ocpptest"
)

// echo answers every CALL with {"action":..., "payload":...}.
var echo = ocpp.HandlerFunc(func(ctx context.Context, req *ocpp.Request) (ocpp.Payload, error) {
	return ocpp.RawJSON(fmt.Sprintf(`{"action":%q,"payload":%s}`, req.Action, req.Payload)), nil
})

func newServer(t *testing.T, h ocpp.Handler, mod func(*ocpp.Server)) (*ocpp.Server, string) {
	t.Helper()
	srv := &ocpp.Server{Subprotocols: []ocpp.Subprotocol{{Name: "ocpp1.6", Handler: h}}}
	if mod != nil {
		mod(srv)
	}
	return srv, ocpptest.NewServer(t, srv)
}

// waitFor polls cond; it bounds the wait but asserts no timing.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestCallBothDirections(t *testing.T) {
	srv, url := newServer(t, echo, nil)
	cl := ocpptest.Dial(t, url, "CP1", echo, ocpp.Options{})

	got, err := cl.Call(context.Background(), "Heartbeat", ocpp.RawJSON(`{}`))
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != `{"action":"Heartbeat","payload":{}}` {
		t.Fatalf("client call: got %s", got)
	}

	waitFor(t, "server to register CP1", func() bool { return srv.Conn("CP1") != nil })
	sc := srv.Conn("CP1")
	if sc.Subprotocol() != "ocpp1.6" || sc.ID() != "CP1" {
		t.Fatalf("server side conn: id %q proto %q", sc.ID(), sc.Subprotocol())
	}
	got, err = sc.Call(context.Background(), "Reset", ocpp.RawJSON(`{"type":"Soft","note":"é\"\\"}`))
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != `{"action":"Reset","payload":{"type":"Soft","note":"é\"\\"}}` {
		t.Fatalf("server call: got %s", got)
	}
}

func TestHandlerErrorsBecomeCallErrors(t *testing.T) {
	h := ocpp.HandlerFunc(func(ctx context.Context, req *ocpp.Request) (ocpp.Payload, error) {
		switch req.Action {
		case "Refuse":
			return nil, &ocpp.Error{Code: ocpp.PropertyConstraintViolation, Description: "connectorId: must be ≥ 0", Details: []byte(`{"field":"connectorId"}`)}
		case "Plain":
			return nil, errors.New("database on fire")
		case "Panic":
			panic("boom")
		case "Nil":
			return nil, nil
		}
		return nil, &ocpp.Error{Code: ocpp.NotImplemented, Description: "unknown action " + req.Action}
	})
	_, url := newServer(t, h, nil)
	cl := ocpptest.Dial(t, url, "CP1", nil, ocpp.Options{})
	ctx := context.Background()

	cases := []struct {
		action      string
		code        ocpp.ErrorCode
		details     string
		descHasNot  string
		payloadWant string
	}{
		{action: "Refuse", code: ocpp.PropertyConstraintViolation, details: `{"field":"connectorId"}`},
		{action: "Plain", code: ocpp.InternalError, descHasNot: "fire"},
		{action: "Panic", code: ocpp.InternalError},
		{action: "Whatever", code: ocpp.NotImplemented},
		{action: "Nil", payloadWant: "{}"},
	}
	for _, tc := range cases {
		got, err := cl.Call(ctx, tc.action, nil)
		if tc.payloadWant != "" {
			if err != nil || string(got) != tc.payloadWant {
				t.Errorf("%s: got %s, %v", tc.action, got, err)
			}
			continue
		}
		e, ok := ocpp.AsError(err)
		if !ok {
			t.Errorf("%s: want CALLERROR, got %s, %v", tc.action, got, err)
			continue
		}
		if e.Code != tc.code {
			t.Errorf("%s: code %s, want %s", tc.action, e.Code, tc.code)
		}
		if tc.details != "" && string(e.Details) != tc.details {
			t.Errorf("%s: details %s, want %s", tc.action, e.Details, tc.details)
		}
		if tc.descHasNot != "" && strings.Contains(e.Description, tc.descHasNot) {
			t.Errorf("%s: description leaks the internal error: %q", tc.action, e.Description)
		}
	}
	// The connection survived the panic.
	if _, err := cl.Call(ctx, "Nil", nil); err != nil {
		t.Fatalf("after panic: %v", err)
	}
}

// TestOneOutstandingCall sends many concurrent calls from one side and
// checks that the other never sees two at once and that every call gets
// its own answer. (Waiting callers are served in the order they blocked,
// as a Go channel queues blocked senders; the order in which goroutines
// reach the queue is the scheduler's, so it is not asserted here.)
func TestOneOutstandingCall(t *testing.T) {
	var inFlight, maxInFlight atomic.Int32
	var mu sync.Mutex
	var seen []string
	h := ocpp.HandlerFunc(func(ctx context.Context, req *ocpp.Request) (ocpp.Payload, error) {
		n := inFlight.Add(1)
		defer inFlight.Add(-1)
		if n > maxInFlight.Load() {
			maxInFlight.Store(n)
		}
		mu.Lock()
		seen = append(seen, string(req.Payload))
		mu.Unlock()
		time.Sleep(time.Millisecond)
		return ocpp.RawJSON(req.Payload), nil
	})
	srv, url := newServer(t, nil, nil)
	ocpptest.Dial(t, url, "CP1", h, ocpp.Options{})
	waitFor(t, "CP1", func() bool { return srv.Conn("CP1") != nil })
	sc := srv.Conn("CP1")

	const n = 20
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			p := fmt.Sprintf(`{"i":%d}`, i)
			got, err := sc.Call(context.Background(), "DataTransfer", ocpp.RawJSON(p))
			if err != nil || string(got) != p {
				t.Errorf("call %d: %s, %v", i, got, err)
			}
		}(i)
	}
	wg.Wait()
	if m := maxInFlight.Load(); m != 1 {
		t.Fatalf("peer saw %d calls in flight at once", m)
	}
	if len(seen) != n {
		t.Fatalf("peer saw %d calls, want %d", len(seen), n)
	}
	distinct := map[string]bool{}
	for _, p := range seen {
		distinct[p] = true
	}
	if len(distinct) != n {
		t.Fatalf("peer saw %d distinct calls of %d: a call was sent twice", len(distinct), n)
	}
}

func TestCallTimeoutThenNextCallWorks(t *testing.T) {
	release := make(chan struct{})
	h := ocpp.HandlerFunc(func(ctx context.Context, req *ocpp.Request) (ocpp.Payload, error) {
		if req.Action == "Slow" {
			<-release
		}
		return ocpp.RawJSON(`{"ok":true}`), nil
	})
	_, url := newServer(t, h, nil)
	cl := ocpptest.Dial(t, url, "CP1", nil, ocpp.Options{})

	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	_, err := cl.Call(ctx, "Slow", nil)
	cancel()
	if !errors.Is(err, ocpp.ErrTimeout) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("want ErrTimeout wrapping DeadlineExceeded, got %v", err)
	}
	close(release) // the late answer arrives and must be dropped
	got, err := cl.Call(context.Background(), "Fast", nil)
	if err != nil || string(got) != `{"ok":true}` {
		t.Fatalf("next call: %s, %v", got, err)
	}
}

func TestCallOnClosedConnection(t *testing.T) {
	block := make(chan struct{})
	defer close(block)
	h := ocpp.HandlerFunc(func(ctx context.Context, req *ocpp.Request) (ocpp.Payload, error) {
		select {
		case <-block:
		case <-ctx.Done():
		}
		return nil, nil
	})
	srv, url := newServer(t, h, nil)
	cl := ocpptest.Dial(t, url, "CP1", nil, ocpp.Options{})
	waitFor(t, "CP1", func() bool { return srv.Conn("CP1") != nil })

	errc := make(chan error, 2)
	for i := 0; i < 2; i++ { // one outstanding, one waiting for the slot
		go func() {
			_, err := cl.Call(context.Background(), "Block", nil)
			errc <- err
		}()
	}
	time.Sleep(20 * time.Millisecond)
	srv.Conn("CP1").Close()
	for i := 0; i < 2; i++ {
		if err := <-errc; !errors.Is(err, ocpp.ErrClosed) {
			t.Fatalf("call %d: want ErrClosed, got %v", i, err)
		}
	}
	<-cl.Done()
	if _, err := cl.Call(context.Background(), "After", nil); !errors.Is(err, ocpp.ErrClosed) {
		t.Fatalf("call after close: %v", err)
	}
}

func TestReconnectReplacesOldConnection(t *testing.T) {
	var mu sync.Mutex
	var disconnects []error
	srv, url := newServer(t, echo, func(s *ocpp.Server) {
		s.OnDisconnect = func(c *ocpp.Conn, err error) {
			mu.Lock()
			disconnects = append(disconnects, err)
			mu.Unlock()
		}
	})
	first := ocpptest.Dial(t, url, "CP1", nil, ocpp.Options{})
	waitFor(t, "first", func() bool { return srv.Conn("CP1") != nil })
	old := srv.Conn("CP1")
	second := ocpptest.Dial(t, url, "CP1", nil, ocpp.Options{})
	waitFor(t, "replacement", func() bool { c := srv.Conn("CP1"); return c != nil && c != old })
	<-first.Done()
	<-old.Done()
	if !errors.Is(old.Err(), ocpp.ErrReplaced) {
		t.Fatalf("old server conn closed with %v, want ErrReplaced", old.Err())
	}
	if srv.Len() != 1 {
		t.Fatalf("registry holds %d connections, want 1", srv.Len())
	}
	if _, err := second.Call(context.Background(), "Heartbeat", nil); err != nil {
		t.Fatalf("new connection: %v", err)
	}
	waitFor(t, "OnDisconnect", func() bool { mu.Lock(); defer mu.Unlock(); return len(disconnects) == 1 })
	if got := srv.Metrics().Replaced.Load(); got != 1 {
		t.Fatalf("Replaced = %d", got)
	}
}

func TestBadFramesAreAnsweredOrCounted(t *testing.T) {
	srv, url := newServer(t, echo, func(s *ocpp.Server) { s.Options.MaxMessageSize = 1024 })
	raw := ocpptest.DialRaw(t, url+"CP1", "ocpp1.6")
	big := `[2,"a8","Heartbeat",{"pad":"` + strings.Repeat("x", 2000) + `"}]`
	cases := []struct {
		send, want string // want "" means no answer
	}{
		{`not json at all`, ""},
		{`{"a":1}`, ""},
		{`[]`, ""},
		{`[2]`, ""},
		{`[2,17,"Heartbeat",{}]`, ""},
		{`[3,"nobody-asked",{}]`, ""},
		{`[2,"a1","Heartbeat"]`, `[4,"a1","FormationViolation",`},
		{`[2,"a2","Heartbeat",[]]`, `[4,"a2","FormationViolation",`},
		{`[2,"a3","Heartbeat",{"x":}]`, `[4,"a3","FormationViolation",`},
		{`[2,"a4","Heartbeat",{},{}]`, `[4,"a4","FormationViolation",`},
		{`[2,"a5","Heartbeat",{}] trailing`, `[4,"a5","FormationViolation",`},
		{`[9,"a6","Heartbeat",{}]`, `[4,"a6","ProtocolError",`},
		{`[2,"a\"7",42,{}]`, `[4,"a\"7","FormationViolation",`},
		{big, fmt.Sprintf(`[4,"a8","FormationViolation","message of %d bytes exceeds the limit of 1024 bytes"`, len(big))},
		{`[2,"ok","Heartbeat",{}]`, `[3,"ok",{"action":"Heartbeat","payload":{}}]`},
	}
	for _, tc := range cases {
		raw.Send(tc.send)
		if tc.want == "" {
			continue
		}
		got := raw.Read(5 * time.Second)
		if !strings.HasPrefix(got, tc.want) {
			t.Errorf("sent %.60s\n got %s\nwant %s…", tc.send, got, tc.want)
		}
	}
	m := srv.Metrics()
	if got := m.BadFrames.Load(); got != 12 {
		t.Errorf("BadFrames = %d, want 12", got)
	}
	if got := m.Oversized.Load(); got != 1 {
		t.Errorf("Oversized = %d, want 1", got)
	}
	if got := m.LateAnswers.Load(); got != 1 {
		t.Errorf("LateAnswers = %d, want 1", got)
	}
	if srv.Conn("CP1") == nil {
		t.Fatal("connection was dropped by bad frames")
	}
}

func TestFragmentedMessage(t *testing.T) {
	_, url := newServer(t, echo, nil)
	raw := ocpptest.DialRaw(t, url+"CP1", "ocpp1.6")
	frames := []struct {
		fin  bool
		op   byte
		data string
	}{{false, 0x1, `[2,"f1","Data`}, {false, 0x0, `Transfer",{"vendorId":`}, {true, 0x0, `"x"}]`}}
	for _, f := range frames {
		raw.WriteFrame(f.fin, f.op, []byte(f.data))
	}
	if got, want := raw.Read(5*time.Second), `[3,"f1",{"action":"DataTransfer","payload":{"vendorId":"x"}}]`; got != want {
		t.Fatalf("got %s, want %s", got, want)
	}
}

func TestSubprotocolNegotiation(t *testing.T) {
	_, url := newServer(t, echo, nil)
	for _, tc := range []struct {
		offer  []string
		status int
	}{
		{[]string{"ocpp1.6"}, http.StatusSwitchingProtocols},
		{[]string{"ocpp2.0.1", "ocpp1.6"}, http.StatusSwitchingProtocols},
		{nil, http.StatusSwitchingProtocols},
		{[]string{"ocpp2.0.1"}, http.StatusBadRequest},
	} {
		if got := upgradeStatus(t, url+"CP9", tc.offer); got != tc.status {
			t.Errorf("offer %v: status %d, want %d", tc.offer, got, tc.status)
		}
	}
	_, strict := newServer(t, echo, func(s *ocpp.Server) { s.RequireSubprotocol = true })
	if got := upgradeStatus(t, strict+"CP9", nil); got != http.StatusBadRequest {
		t.Errorf("strict server without offer: %d", got)
	}
}

func TestChargerIDFromPath(t *testing.T) {
	for _, tc := range []struct {
		path, id string
		ok       bool
	}{
		{"/ocpp/CP1", "CP1", true},
		{"/ocpp/CP%2D1", "CP-1", true},
		{"/ocpp/W%C3%A4llbox", "Wällbox", true},
		{"/some/prefix/ocpp/CP1", "CP1", true},
		{"/ocpp/", "", false},
		{"/ocpp/CP%201", "", false},
		{"/ocpp/CP%2F1", "", false},
		{"/ocpp/CP%00", "", false},
		{"/ocpp/%ZZ", "", false},
		{"/ocpp/%FF", "", false},
		{"/ocpp/" + strings.Repeat("x", 49), "", false},
		{"/ocpp/" + strings.Repeat("ä", 48), strings.Repeat("ä", 48), true},
	} {
		id, err := ocpp.ChargerIDFromPath(tc.path)
		if (err == nil) != tc.ok || (tc.ok && id != tc.id) {
			t.Errorf("%s: got %q, %v", tc.path, id, err)
		}
	}
}

func TestUpgradeRefusals(t *testing.T) {
	_, url := newServer(t, echo, func(s *ocpp.Server) {
		s.Authenticate = func(r *http.Request, id string) error {
			if id == "Intruder" {
				return errors.New("unknown charger")
			}
			return nil
		}
	})
	httpURL := "http" + strings.TrimPrefix(url, "ws")
	resp, err := http.Get(httpURL + "CP1")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUpgradeRequired {
		t.Errorf("plain GET: %d", resp.StatusCode)
	}
	if got := upgradeStatus(t, url+"Intruder", []string{"ocpp1.6"}); got != http.StatusUnauthorized {
		t.Errorf("failed auth: %d", got)
	}
	if got := upgradeStatus(t, url+"bad%20id", []string{"ocpp1.6"}); got != http.StatusBadRequest {
		t.Errorf("bad id: %d", got)
	}
}

func TestMaxConnections(t *testing.T) {
	srv, url := newServer(t, echo, func(s *ocpp.Server) { s.MaxConnections = 1 })
	ocpptest.Dial(t, url, "CP1", nil, ocpp.Options{})
	waitFor(t, "CP1", func() bool { return srv.Conn("CP1") != nil })
	if got := upgradeStatus(t, url+"CP2", []string{"ocpp1.6"}); got != http.StatusServiceUnavailable {
		t.Fatalf("over the limit: %d", got)
	}
}

func TestKeepaliveClosesSilentPeer(t *testing.T) {
	srv, url := newServer(t, echo, func(s *ocpp.Server) {
		s.Options.PingInterval = 30 * time.Millisecond
		s.Options.PongWait = 30 * time.Millisecond
	})
	// A raw client that never reads never answers pings: a dead peer.
	ocpptest.DialRaw(t, url+"Silent", "ocpp1.6")
	// A real client answers pings and stays.
	alive := ocpptest.Dial(t, url, "Alive", nil, ocpp.Options{PingInterval: -1})
	waitFor(t, "both registered", func() bool { return srv.Conn("Alive") != nil })
	waitFor(t, "silent peer closed", func() bool { return srv.Metrics().PingTimeouts.Load() >= 1 && srv.Conn("Silent") == nil })
	time.Sleep(150 * time.Millisecond) // several ping rounds
	if srv.Conn("Alive") == nil {
		t.Fatal("a peer that answers pings was closed")
	}
	if _, err := alive.Call(context.Background(), "Heartbeat", nil); err != nil {
		t.Fatal(err)
	}
}

func TestClientDetectsDeadServer(t *testing.T) {
	// A server that accepts the websocket and then never reads.
	hang := make(chan struct{})
	defer close(hang)
	hs := ocpptest.NewSilentServer(t, hang)
	var closed atomic.Bool
	c, err := ocpp.Dial(context.Background(), hs+"CP1", ocpp.DialOptions{
		Subprotocols: []ocpp.Subprotocol{{Name: "ocpp1.6"}},
		Options:      ocpp.Options{PingInterval: 20 * time.Millisecond, PongWait: 20 * time.Millisecond},
		OnClose:      func(*ocpp.Conn, error) { closed.Store(true) },
	})
	if err != nil {
		t.Fatal(err)
	}
	<-c.Done()
	if !closed.Load() {
		t.Fatal("OnClose not called")
	}
}

// upgradeStatus sends a websocket upgrade request and returns the status.
func upgradeStatus(t *testing.T, wsURL string, protocols []string) int {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, "http"+strings.TrimPrefix(wsURL, "ws"), nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Connection", "Upgrade")
	req.Header.Set("Upgrade", "websocket")
	req.Header.Set("Sec-WebSocket-Version", "13")
	req.Header.Set("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==")
	if len(protocols) > 0 {
		req.Header.Set("Sec-WebSocket-Protocol", strings.Join(protocols, ", "))
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func TestDialFromLocalAddr(t *testing.T) {
	srv, url := newServer(t, echo, nil)
	c, err := ocpp.Dial(context.Background(), url+"SRC", ocpp.DialOptions{
		Subprotocols: []ocpp.Subprotocol{{Name: "ocpp1.6"}},
		LocalAddr:    "127.0.0.7",
	})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	waitFor(t, "SRC", func() bool { return srv.Conn("SRC") != nil })
	if got := srv.Conn("SRC").RemoteAddr().String(); !strings.HasPrefix(got, "127.0.0.7:") {
		t.Fatalf("server sees the charger at %s, want 127.0.0.7", got)
	}
	if _, err := ocpp.Dial(context.Background(), url+"SRC2", ocpp.DialOptions{Subprotocols: []ocpp.Subprotocol{{Name: "ocpp1.6"}}, LocalAddr: "nope"}); err == nil {
		t.Fatal("a bad local address was accepted")
	}
}
