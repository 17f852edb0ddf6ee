// Package csmstest runs the real central system in-process for tests:
// csms.Service on a real store behind an ocpp.Server on loopback. The
// central system's own tests, the charge point's, the simulator's and the
// benchmarks share it.
package csmstest

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/wattson-csms/wattson/csms"
	"github.com/wattson-csms/wattson/ocpp"
	"github.com/wattson-csms/wattson/ocpp/ocpptest"
	"github.com/wattson-csms/wattson/store"
	"github.com/wattson-csms/wattson/store/sqlite"
)

// Central is a running central system.
type Central struct {
	URL     string // ws://127.0.0.1:port/ocpp/
	Store   store.Store
	Service *csms.Service
	Server  *ocpp.Server
}

// SQLite opens a store in a fresh file in the test's temporary directory.
func SQLite(t testing.TB) store.Store {
	t.Helper()
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "wattson.db"))
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// AcceptUnknown lets every charger in, for tests that are not about
// registration.
func AcceptUnknown(c *csms.Config) { c.UnknownChargers = store.RegistrationAccepted }

// New starts a central system on the store open returns (nil: SQLite)
// with the configuration mod adjusts, and stops it when the test ends:
// connections first, then the service, then the store.
func New(t testing.TB, open func(testing.TB) store.Store, mod func(*csms.Config)) *Central {
	t.Helper()
	if open == nil {
		open = SQLite
	}
	st := open(t)
	cfg := csms.Config{Store: st}
	if mod != nil {
		mod(&cfg)
	}
	svc, err := csms.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	srv := &ocpp.Server{
		Subprotocols: []ocpp.Subprotocol{{Name: "ocpp1.6", Handler: svc.Router()}},
		OnConnect:    svc.Connected,
		OnDisconnect: svc.Disconnected,
		Options:      ocpp.Options{OnFrame: svc.Frame},
	}
	svc.SetConns(srv)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { svc.Run(ctx); close(done) }()
	t.Cleanup(func() {
		cancel()
		<-done
		st.Close()
	})
	// Registered after the cleanup above, so it runs before it.
	url := ocpptest.NewServer(t, srv)
	return &Central{URL: url, Store: st, Service: svc, Server: srv}
}

// Eventually waits up to d for cond, checking every 20 ms, and fails the
// test naming what it waited for. Tests wait for conditions, never for
// fixed times.
func Eventually(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
