// Package diagnostics asks chargers for their diagnostics files
// (GetDiagnostics) with an upload URL of Wattson's, and follows each
// request through the charger's answer, its DiagnosticsStatusNotifications
// and the arrival of the file, which is kept in the store for operators to
// download.
package diagnostics

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/wattson-csms/wattson/csms"
	"github.com/wattson-csms/wattson/events"
	"github.com/wattson-csms/wattson/ocpp/v16"
	"github.com/wattson-csms/wattson/store"
)

// EventUpdated is published when a request changes (data: the request's
// id, charger and status).
const EventUpdated = "diagnostics.updated"

// Links issues upload URLs (files.Service).
type Links interface {
	UploadLink(ctx context.Context, diagnosticsID int64, chargerID string, ttl time.Duration) (string, error)
}

// Config configures a Manager.
type Config struct {
	Store store.Store
	CSMS  *csms.Service
	Links Links
	// Events; nil means CSMS's bus.
	Events *events.Bus
	Logger *slog.Logger
	Now    func() time.Time
	// LinkTTL is how long a charger may upload after the request, plus
	// the retries it was allowed; default 24 h.
	LinkTTL time.Duration
}

// Manager sends and follows diagnostics requests.
type Manager struct {
	cfg Config
	st  store.Store
	log *slog.Logger
	now func() time.Time
	bus *events.Bus
	// mu orders the changes to requests: the charger's answer, its
	// notifications and the upload may arrive in any order.
	mu sync.Mutex
}

// New returns a Manager registered for the chargers' diagnostics
// notifications.
func New(cfg Config) (*Manager, error) {
	if cfg.Store == nil || cfg.CSMS == nil || cfg.Links == nil {
		return nil, errors.New("diagnostics: a store, the central system and a link issuer are required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Events == nil {
		cfg.Events = cfg.CSMS.Events()
	}
	if cfg.LinkTTL <= 0 {
		cfg.LinkTTL = 24 * time.Hour
	}
	m := &Manager{cfg: cfg, st: cfg.Store, log: cfg.Logger, bus: cfg.Events,
		now: func() time.Time { return cfg.Now().UTC().Truncate(time.Microsecond) }}
	cfg.CSMS.OnNotification(m.observe)
	return m, nil
}

// Options of a request; all optional, passed on to the charger.
type Options struct {
	StartTime, StopTime *time.Time
	Retries             *int
	RetryInterval       *int // seconds
	By                  string
}

// Request asks a connected charger for its diagnostics. The request is
// stored before it is sent, so the upload has somewhere to go; a failed
// command leaves it Failed with the reason and returns the error
// (csms.ErrNotConnected and the ocpp errors, as csms.Service.Call).
func (m *Manager) Request(ctx context.Context, chargerID string, o Options) (store.DiagnosticsRequest, error) {
	caller, err := m.cfg.CSMS.Caller(ctx, chargerID)
	if err != nil {
		return store.DiagnosticsRequest{}, err
	}
	d, err := m.st.CreateDiagnosticsRequest(ctx, store.DiagnosticsRequest{ChargerID: chargerID, StartTime: o.StartTime, StopTime: o.StopTime,
		Retries: o.Retries, RetryInterval: o.RetryInterval, Status: store.DiagRequested, RequestedBy: o.By, RequestedAt: m.now()})
	if err != nil {
		return store.DiagnosticsRequest{}, err
	}
	ttl := m.cfg.LinkTTL
	if o.Retries != nil && o.RetryInterval != nil {
		ttl += time.Duration(*o.Retries) * time.Duration(*o.RetryInterval) * time.Second
	}
	loc, err := m.cfg.Links.UploadLink(ctx, d.ID, chargerID, ttl)
	if err != nil {
		return m.failed(ctx, d, err)
	}
	req := &v16.GetDiagnosticsRequest{Location: loc, StartTime: o.StartTime, StopTime: o.StopTime, Retries: o.Retries, RetryInterval: o.RetryInterval}
	res, err := v16.CallGetDiagnostics(ctx, caller, req)
	if err != nil {
		return m.failed(ctx, d, err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	cur, err := m.st.GetDiagnosticsRequest(ctx, d.ID)
	if err != nil {
		return store.DiagnosticsRequest{}, err
	}
	cur.FileName = res.FileName
	if cur.Status == store.DiagRequested {
		// Not overtaken by a notification or the upload itself.
		cur.Status = store.DiagAccepted
		if res.FileName == "" {
			cur.Status, cur.Detail = store.DiagNoFile, "the charger has no diagnostics to upload"
		}
	}
	m.log.Info("diagnostics requested", "charger", chargerID, "request", d.ID, "file", res.FileName)
	return m.update(ctx, cur)
}

func (m *Manager) failed(ctx context.Context, d store.DiagnosticsRequest, cause error) (store.DiagnosticsRequest, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	d.Status, d.Detail = store.DiagFailed, cause.Error()
	if _, err := m.update(context.WithoutCancel(ctx), d); err != nil {
		return store.DiagnosticsRequest{}, errors.Join(cause, err)
	}
	return store.DiagnosticsRequest{}, cause
}

// update stores a change and publishes it; m.mu is held.
func (m *Manager) update(ctx context.Context, d store.DiagnosticsRequest) (store.DiagnosticsRequest, error) {
	d.UpdatedAt = m.now()
	out, err := m.st.UpdateDiagnosticsRequest(ctx, d)
	if err != nil {
		return store.DiagnosticsRequest{}, err
	}
	m.bus.Publish(EventUpdated, out.ChargerID, map[string]any{"id": out.ID, "chargerId": out.ChargerID, "status": out.Status, "fileName": out.FileName})
	return out, nil
}

// Received records the file a charger uploaded for a request (the
// files.Config Uploaded hook). A second upload for the same request
// replaces the first.
func (m *Manager) Received(ctx context.Context, id int64, f store.File) {
	m.mu.Lock()
	defer m.mu.Unlock()
	d, err := m.st.GetDiagnosticsRequest(ctx, id)
	if err != nil {
		m.log.Error("diagnostics: the request of an upload", "request", id, "err", err)
		return
	}
	old := d.FileID
	d.Status, d.FileID, d.Detail = store.DiagReceived, &f.ID, fmt.Sprintf("%s, %d bytes", f.Name, f.Size)
	if d.FileName == "" {
		d.FileName = f.Name
	}
	if _, err := m.update(ctx, d); err != nil {
		m.log.Error("diagnostics: recording an upload", "request", id, "err", err)
		return
	}
	if old != nil && *old != f.ID {
		if err := m.st.DeleteFile(ctx, *old); err != nil && !errors.Is(err, store.ErrNotFound) {
			m.log.Warn("diagnostics: deleting the file an upload replaced", "file", *old, "err", err)
		}
	}
}

// observe follows DiagnosticsStatusNotification in the charger's newest
// request.
func (m *Manager) observe(ctx context.Context, e store.ChargerEvent) {
	if e.Kind != "DiagnosticsStatusNotification" {
		return
	}
	var to store.DiagnosticsStatus
	switch v16.DiagnosticsStatus(e.Status) {
	case v16.DiagnosticsStatusUploading:
		to = store.DiagUploading
	case v16.DiagnosticsStatusUploaded:
		to = store.DiagUploaded
	case v16.DiagnosticsStatusUploadFailed:
		to = store.DiagUploadFailed
	default:
		return // Idle: nothing in progress
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	ds, err := m.st.ListDiagnosticsRequests(ctx, e.ChargerID, 0, 1)
	if err != nil {
		m.log.Error("diagnostics: the request of a notification", "charger", e.ChargerID, "err", err)
		return
	}
	if len(ds) == 0 {
		return
	}
	d := ds[0]
	switch d.Status {
	case store.DiagRequested, store.DiagAccepted, store.DiagUploading, store.DiagUploadFailed:
	case store.DiagUploaded:
		if to == store.DiagUploading {
			return
		}
	default:
		return // Received (the file is here, whatever it says), NoFile, Failed
	}
	d.Status = to
	if to == store.DiagUploadFailed {
		d.Detail = "the charger could not upload the file"
	}
	if _, err := m.update(ctx, d); err != nil {
		m.log.Error("diagnostics: recording a notification", "charger", e.ChargerID, "err", err)
	}
}
