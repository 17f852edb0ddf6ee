// Package ocpptest runs OCPP-J servers and clients over real websockets on
// loopback for tests, plus a raw websocket client that can send anything,
// for feeding a server broken frames.
package ocpptest

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"

	"github.com/wattson-csms/wattson/ocpp"
)

// NewServer starts srv on a loopback HTTP server under /ocpp/ and returns
// the base URL of its endpoint, ws://127.0.0.1:port/ocpp/. Connections are
// closed when the test ends.
func NewServer(t testing.TB, srv *ocpp.Server) string {
	t.Helper()
	// No ServeMux: it would redirect /ocpp//CP1, which chargers configured
	// with a trailing slash send.
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasPrefix(r.URL.Path, "/ocpp/") {
			http.NotFound(w, r)
			return
		}
		srv.ServeHTTP(w, r)
	}))
	t.Cleanup(func() {
		srv.CloseAll()
		hs.Close()
	})
	return "ws" + strings.TrimPrefix(hs.URL, "http") + "/ocpp/"
}

// Dial connects as charger id to a URL from NewServer, speaking ocpp1.6
// with handler h (which may be nil). The connection is closed when the test
// ends.
func Dial(t testing.TB, baseURL, id string, h ocpp.Handler, opts ocpp.Options) *ocpp.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := ocpp.Dial(ctx, baseURL+id, ocpp.DialOptions{
		Subprotocols: []ocpp.Subprotocol{{Name: "ocpp1.6", Handler: h}},
		Options:      opts,
	})
	if err != nil {
		t.Fatalf("dial %s: %v", id, err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// Raw is a websocket client that sends and reads text messages as they are,
// with no OCPP logic, to test a server against broken or hostile peers.
type Raw struct {
	t    testing.TB
	Conn net.Conn
}

// DialRaw opens a raw websocket to url offering the given subprotocols.
func DialRaw(t testing.TB, url string, protocols ...string) *Raw {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	nc, _, _, err := ws.Dialer{Protocols: protocols}.Dial(ctx, url)
	if err != nil {
		t.Fatalf("raw dial %s: %v", url, err)
	}
	t.Cleanup(func() { _ = nc.Close() })
	return &Raw{t: t, Conn: nc}
}

// Send writes one text message.
func (r *Raw) Send(msg string) {
	r.t.Helper()
	if err := wsutil.WriteClientText(r.Conn, []byte(msg)); err != nil {
		r.t.Fatalf("raw send: %v", err)
	}
}

// Read returns the next text message, answering pings on the way, or fails
// the test after timeout.
func (r *Raw) Read(timeout time.Duration) string {
	r.t.Helper()
	msg, err := r.TryRead(timeout)
	if err != nil {
		r.t.Fatalf("raw read: %v", err)
	}
	return msg
}

// TryRead is Read that returns the error instead of failing.
func (r *Raw) TryRead(timeout time.Duration) (string, error) {
	_ = r.Conn.SetReadDeadline(time.Now().Add(timeout))
	defer func() { _ = r.Conn.SetReadDeadline(time.Time{}) }()
	for {
		b, op, err := wsutil.ReadServerData(r.Conn)
		if err != nil {
			return "", err
		}
		if op == ws.OpText || op == ws.OpBinary {
			return string(b), nil
		}
	}
}

// WriteFrame writes one masked websocket frame: fragments, control frames
// or broken ones.
func (r *Raw) WriteFrame(fin bool, op byte, payload []byte) {
	r.t.Helper()
	f := ws.MaskFrameInPlace(ws.NewFrame(ws.OpCode(op), fin, append([]byte(nil), payload...)))
	if err := ws.WriteFrame(r.Conn, f); err != nil {
		r.t.Fatalf("raw write frame: %v", err)
	}
}

// NewSilentServer starts a websocket server that accepts ocpp1.6
// connections and then neither reads nor writes until hang is closed: a
// dead central system. It returns the base URL like NewServer.
func NewSilentServer(t testing.TB, hang <-chan struct{}) string {
	t.Helper()
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		up := ws.HTTPUpgrader{Protocol: func(p string) bool { return p == "ocpp1.6" }}
		nc, _, _, err := up.Upgrade(r, w)
		if err != nil {
			return
		}
		<-hang
		_ = nc.Close()
	}))
	t.Cleanup(hs.Close)
	return "ws" + strings.TrimPrefix(hs.URL, "http") + "/ocpp/"
}
