package diagnostics_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/wattson-csms/wattson/chargepoint"
	"github.com/wattson-csms/wattson/csms"
	"github.com/wattson-csms/wattson/csms/csmstest"
	"github.com/wattson-csms/wattson/diagnostics"
	"github.com/wattson-csms/wattson/files"
	"github.com/wattson-csms/wattson/sim"
	"github.com/wattson-csms/wattson/store"
)

type env struct {
	c   *csmstest.Central
	m   *diagnostics.Manager
	url string
}

// newEnv wires the central system, the file links and the manager as
// `wattson serve` does; base, if not empty, replaces the file server's
// URL in the links (an address where nothing listens).
func newEnv(t *testing.T, base string) *env {
	t.Helper()
	c := csmstest.New(t, nil, csmstest.AcceptUnknown)
	e := &env{c: c}
	var m *diagnostics.Manager
	fs, err := files.New(files.Config{Store: c.Store, BaseURL: func(string) (string, bool) { return e.url, true },
		Uploaded: func(ctx context.Context, id int64, f store.File) { m.Received(ctx, id, f) }})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(fs)
	t.Cleanup(srv.Close)
	e.url = srv.URL
	if base != "" {
		e.url = base
	}
	m, err = diagnostics.New(diagnostics.Config{Store: c.Store, CSMS: c.Service, Links: fs})
	if err != nil {
		t.Fatal(err)
	}
	e.m = m
	return e
}

type window struct{ start, stop *time.Time }

// charger runs a charge point whose diagnostics file is content (none if
// empty), recording the time windows it is asked for.
func (e *env) charger(t *testing.T, id string, content []byte) *[]window {
	t.Helper()
	var mu sync.Mutex
	var asked []window
	cp, err := chargepoint.New(chargepoint.Config{URL: e.c.URL, ID: id, Connectors: []chargepoint.ConnectorHardware{sim.NewConnector(chargepoint.RealClock, sim.ConnectorConfig{Number: 1})},
		DiagnosticsFile: func(start, stop *time.Time) (string, []byte, error) {
			mu.Lock()
			asked = append(asked, window{start, stop})
			mu.Unlock()
			if content == nil {
				return "", nil, nil
			}
			return id + "-diag.log", content, nil
		}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = cp.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	waitFor(t, "the charger to connect", func() bool { return e.c.Service.IsConnected(id) })
	return &asked
}

func waitFor(t *testing.T, what string, ok func() bool) {
	t.Helper()
	csmstest.Eventually(t, time.Minute, what, ok)
}

func (e *env) status(t *testing.T, id int64) store.DiagnosticsRequest {
	t.Helper()
	d, err := e.c.Store.GetDiagnosticsRequest(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// The charger uploads its file to Wattson: the request goes to Received
// with the file, whose content is what the charger sent, and the time
// window reached the charger.
func TestDiagnosticsUploaded(t *testing.T) {
	e := newEnv(t, "")
	content := bytes.Repeat([]byte("2026-12-02T10:00:00Z relay stuck on connector 1\n"), 20000) // ~1 MB, several chunks
	asked := e.charger(t, "DIAG1", content)
	start, stop := time.Now().Add(-2*time.Hour).UTC().Truncate(time.Second), time.Now().UTC().Truncate(time.Second)
	d, err := e.m.Request(context.Background(), "DIAG1", diagnostics.Options{StartTime: &start, StopTime: &stop, Retries: ptr(2), RetryInterval: ptr(1), By: "tester"})
	if err != nil {
		t.Fatal(err)
	}
	if d.FileName != "DIAG1-diag.log" || d.RequestedBy != "tester" {
		t.Fatalf("request %+v", d)
	}
	waitFor(t, "the file", func() bool { return e.status(t, d.ID).Status == store.DiagReceived })
	got := e.status(t, d.ID)
	f, err := e.c.Store.GetFile(context.Background(), *got.FileID)
	if err != nil {
		t.Fatal(err)
	}
	b, err := files.Content(context.Background(), e.c.Store, f)
	if err != nil || !bytes.Equal(b, content) {
		t.Fatalf("stored %d bytes (%v), the charger sent %d", len(b), err, len(content))
	}
	if f.Kind != store.FileDiagnostics || f.ChargerID != "DIAG1" || f.Name != "DIAG1-diag.log" {
		t.Errorf("file %+v", f)
	}
	if len(*asked) != 1 || !(*asked)[0].start.Equal(start) || !(*asked)[0].stop.Equal(stop) {
		t.Errorf("the charger was asked for %v", *asked)
	}
	// The charger's Uploaded notification does not undo Received.
	time.Sleep(200 * time.Millisecond)
	if s := e.status(t, d.ID).Status; s != store.DiagReceived {
		t.Errorf("status %s after the notifications", s)
	}
}

// A charger with nothing to upload, an offline one, an unknown one.
func TestDiagnosticsNothingOrNobody(t *testing.T) {
	e := newEnv(t, "")
	e.charger(t, "EMPTY", nil)
	d, err := e.m.Request(context.Background(), "EMPTY", diagnostics.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if d.Status != store.DiagNoFile {
		t.Errorf("status %s", d.Status)
	}
	if _, err := e.c.Store.PutCharger(context.Background(), store.Charger{ID: "AWAY", Registration: store.RegistrationAccepted}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.m.Request(context.Background(), "AWAY", diagnostics.Options{}); !errors.Is(err, csms.ErrNotConnected) {
		t.Errorf("offline: %v", err)
	}
	if _, err := e.m.Request(context.Background(), "NOBODY", diagnostics.Options{}); !errors.Is(err, csms.ErrUnknownCharger) {
		t.Errorf("unknown: %v", err)
	}
	// Offline and unknown chargers leave no requests behind.
	ds, err := e.c.Store.ListDiagnosticsRequests(context.Background(), "", 0, 0)
	if err != nil || len(ds) != 1 {
		t.Fatalf("%d requests, %v", len(ds), err)
	}
}

// When the upload cannot reach Wattson the charger retries, then says
// UploadFailed, and so does the request.
func TestDiagnosticsUploadFails(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := fmt.Sprintf("http://%s", ln.Addr())
	ln.Close() // nothing listens there now
	e := newEnv(t, dead)
	e.charger(t, "DIAG2", []byte("log"))
	d, err := e.m.Request(context.Background(), "DIAG2", diagnostics.Options{Retries: ptr(2), RetryInterval: ptr(0)})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "UploadFailed", func() bool { return e.status(t, d.ID).Status == store.DiagUploadFailed })
}

func ptr[T any](v T) *T { return &v }
