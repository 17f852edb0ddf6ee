// Package simtest runs the real central system in-process for the
// simulator's tests: csms.Service on SQLite in the test's temporary
// directory behind an ocpp.Server on loopback, unknown chargers accepted.
package simtest

import (
	"context"
	"path/filepath"
	"testing"

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

// NewCentral starts a central system that stops when the test ends:
// connections first, then the service, then the store.
func NewCentral(t testing.TB, mod func(*csms.Config)) *Central {
	t.Helper()
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "wattson.db"))
	if err != nil {
		t.Fatal(err)
	}
	cfg := csms.Config{Store: st, UnknownChargers: store.RegistrationAccepted}
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
