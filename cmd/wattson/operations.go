package main

import (
	"context"
	"log/slog"
	"net"
	"strconv"
	"time"

	"github.com/wattson-csms/wattson/csms"
	"github.com/wattson-csms/wattson/diagnostics"
	"github.com/wattson-csms/wattson/files"
	"github.com/wattson-csms/wattson/firmware"
	"github.com/wattson-csms/wattson/store"
)

// operations are the file transfers with chargers, firmware roll-outs and
// diagnostics requests, running until stop.
type operations struct {
	files       *files.Service
	firmware    *firmware.Manager
	diagnostics *diagnostics.Manager
	stop        func()
}

func startOperations(ctx context.Context, cfg serveConfig, st store.Store, svc *csms.Service, log *slog.Logger) (*operations, error) {
	scheme := "http"
	if cfg.tlsCert != "" {
		scheme = "https"
	}
	var diag *diagnostics.Manager
	fs, err := files.New(files.Config{
		Store:     st,
		Logger:    log,
		PublicURL: cfg.publicURL,
		// Without -public-url, a charger gets links at the address it
		// connected to: that one it can reach.
		BaseURL: func(id string) (string, bool) {
			addr, ok := svc.LocalAddr(id)
			if !ok {
				return "", false
			}
			if tcp, ok := addr.(*net.TCPAddr); ok {
				return scheme + "://" + net.JoinHostPort(tcp.IP.String(), strconv.Itoa(tcp.Port)), true
			}
			return scheme + "://" + addr.String(), true
		},
		MaxUpload: cfg.maxDiagnostics,
		Uploaded:  func(ctx context.Context, id int64, f store.File) { diag.Received(ctx, id, f) },
	})
	if err != nil {
		return nil, err
	}
	fw, err := firmware.New(firmware.Config{Store: st, CSMS: svc, Links: fs, Logger: log})
	if err != nil {
		return nil, err
	}
	diag, err = diagnostics.New(diagnostics.Config{Store: st, CSMS: svc, Links: fs, Logger: log})
	if err != nil {
		return nil, err
	}
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	done := make(chan struct{}, 2)
	go func() { fs.Run(runCtx, time.Hour); done <- struct{}{} }()
	go func() { fw.Run(runCtx); done <- struct{}{} }()
	return &operations{files: fs, firmware: fw, diagnostics: diag, stop: func() { cancel(); <-done; <-done }}, nil
}
