// Package firmware rolls firmware out to chargers: it sends UpdateFirmware
// to the chargers of a roll-out a few at a time, follows each charger
// through its FirmwareStatusNotifications (Downloading … Installed, or a
// failure), fails chargers that go quiet, and halts a roll-out whose
// failure rate passes its limit, so that a bad image does not reach the
// whole fleet.
//
// All state is in the store: a restarted server carries on where it
// stopped, and in a cluster one node (the holder of a lease) sends the
// updates while any node records what chargers report.
package firmware

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/wattson-csms/wattson/csms"
	"github.com/wattson-csms/wattson/events"
	"github.com/wattson-csms/wattson/ocpp"
	"github.com/wattson-csms/wattson/ocpp/v16"
	"github.com/wattson-csms/wattson/store"
)

// LeaseName is the store lease of the node that sends the updates.
const LeaseName = "firmware-rollouts"

// Event types published on the bus.
const (
	// EventRollout: a roll-out's status or counts changed (data: the
	// roll-out's id and status).
	EventRollout = "firmware.rollout"
	// EventTarget: a charger of a roll-out moved (data: roll-out id,
	// charger, status, detail).
	EventTarget = "firmware.target"
)

// Limits.
const (
	MaxConcurrentLimit = 1000
	DefaultTimeout     = 2 * time.Hour
)

// Links issues the download URLs chargers get (files.Service).
type Links interface {
	DownloadLink(ctx context.Context, f store.File, chargerID string, ttl time.Duration) (string, error)
}

// Config configures a Manager.
type Config struct {
	Store store.Store
	CSMS  *csms.Service
	Links Links
	// Events receives EventRollout and EventTarget; nil means CSMS's bus.
	Events *events.Bus
	Logger *slog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Interval between rounds when nothing wakes the manager; default 5 s.
	Interval time.Duration
	// CallTimeout bounds the wait for UpdateFirmware's answer; default
	// 30 s.
	CallTimeout time.Duration
	// Holder names this node for the lease; default host:pid.
	Holder   string
	LeaseTTL time.Duration // default 30 s
}

// Manager runs roll-outs. Create it with New, run Run in the background.
type Manager struct {
	cfg  Config
	st   store.Store
	log  *slog.Logger
	now  func() time.Time
	bus  *events.Bus
	wake chan struct{}

	sends  sync.WaitGroup
	leader bool // Run's goroutine only
}

// New returns a Manager and registers it for the chargers' firmware
// notifications.
func New(cfg Config) (*Manager, error) {
	if cfg.Store == nil || cfg.CSMS == nil || cfg.Links == nil {
		return nil, errors.New("firmware: a store, the central system and a link issuer are required")
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
	if cfg.Interval <= 0 {
		cfg.Interval = 5 * time.Second
	}
	if cfg.CallTimeout <= 0 {
		cfg.CallTimeout = 30 * time.Second
	}
	if cfg.LeaseTTL <= 0 {
		cfg.LeaseTTL = 30 * time.Second
	}
	if cfg.Holder == "" {
		host, _ := os.Hostname()
		cfg.Holder = host + ":" + strconv.Itoa(os.Getpid())
	}
	m := &Manager{
		cfg:  cfg,
		st:   cfg.Store,
		log:  cfg.Logger,
		now:  func() time.Time { return cfg.Now().UTC().Truncate(time.Microsecond) },
		bus:  cfg.Events,
		wake: make(chan struct{}, 1),
	}
	cfg.CSMS.OnNotification(m.observe)
	return m, nil
}

// Wake makes the manager run a round soon (a roll-out was created or
// resumed, a charger finished).
func (m *Manager) Wake() {
	select {
	case m.wake <- struct{}{}:
	default:
	}
}

// Run runs rounds until ctx ends, then waits for the updates it is
// sending.
func (m *Manager) Run(ctx context.Context) {
	t := time.NewTicker(m.cfg.Interval)
	defer t.Stop()
	defer m.sends.Wait()
	defer func() {
		if m.leader {
			_ = m.st.ReleaseLease(context.WithoutCancel(ctx), LeaseName, m.cfg.Holder)
		}
	}()
	for {
		m.Round(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-m.wake:
		}
	}
}

// Round does one round: time out quiet chargers, halt or complete
// roll-outs, and send the update to as many queued chargers as each
// roll-out has free slots. Only the lease holder does anything.
func (m *Manager) Round(ctx context.Context) {
	ok, err := m.st.TryLease(ctx, LeaseName, m.cfg.Holder, m.now(), m.cfg.LeaseTTL)
	if err != nil {
		if ctx.Err() == nil {
			m.log.Error("firmware: taking the roll-out lease", "err", err)
		}
		return
	}
	if ok != m.leader {
		m.leader = ok
		if ok {
			m.log.Info("firmware: this node runs the roll-outs", "holder", m.cfg.Holder)
		}
	}
	if !ok {
		return
	}
	rs, err := m.st.ActiveRollouts(ctx)
	if err != nil {
		if ctx.Err() == nil {
			m.log.Error("firmware: reading roll-outs", "err", err)
		}
		return
	}
	for _, r := range rs {
		if err := m.round(ctx, r); err != nil && ctx.Err() == nil {
			m.log.Error("firmware: roll-out round", "rollout", r.ID, "err", err)
		}
	}
}

func (m *Manager) round(ctx context.Context, r store.Rollout) error {
	now := m.now()
	inFlight, err := m.st.ListRolloutTargets(ctx, store.TargetFilter{RolloutID: r.ID, Status: store.InFlightTargets, Limit: MaxConcurrentLimit * 2})
	if err != nil {
		return err
	}
	busy := 0
	for _, t := range inFlight {
		if deadline := m.deadline(r, t); now.After(deadline) {
			detail := fmt.Sprintf("no Installed by %s (last status %s)", deadline.Format(time.RFC3339), t.Status)
			m.finishTarget(ctx, t, store.TargetFailed, detail, store.InFlightTargets)
			r.Counts[t.Status]--
			r.Counts[store.TargetFailed]++
			continue
		}
		busy++
	}
	if r.Status != store.RolloutRunning {
		return nil
	}
	finished := r.Counts[store.TargetInstalled] + r.Counts[store.TargetFailed] - r.BaseFinished
	failed := r.Counts[store.TargetFailed] - r.BaseFailed
	if finished >= max(r.MinFinished, 1) && float64(failed)*100 > r.MaxFailurePercent*float64(finished) {
		detail := fmt.Sprintf("halted: %d of %d chargers failed (%.0f%%, limit %g%%)", failed, finished, float64(failed)*100/float64(finished), r.MaxFailurePercent)
		return m.setStatus(ctx, r, []store.RolloutStatus{store.RolloutRunning}, store.RolloutHalted, detail)
	}
	if r.Counts[store.TargetQueued] == 0 && busy == 0 {
		// The counts came before the in-flight list: read them again, so
		// the last charger to finish is counted in the tally.
		fresh, err := m.st.GetRollout(ctx, r.ID)
		if err != nil {
			return err
		}
		if fresh.Counts[store.TargetQueued] > 0 || inFlightCount(fresh) > 0 {
			return nil
		}
		detail := fmt.Sprintf("%d installed, %d failed", fresh.Counts[store.TargetInstalled], fresh.Counts[store.TargetFailed])
		return m.setStatus(ctx, fresh, []store.RolloutStatus{store.RolloutRunning}, store.RolloutCompleted, detail)
	}
	free := r.MaxConcurrent - busy
	if free <= 0 || r.Counts[store.TargetQueued] == 0 {
		return nil
	}
	f, err := m.st.GetFile(ctx, r.FileID)
	if err != nil {
		return err
	}
	// Queued chargers in order; those offline wait for a later round.
	after := 0
	for free > 0 {
		queued, err := m.st.ListRolloutTargets(ctx, store.TargetFilter{RolloutID: r.ID, Status: []store.TargetStatus{store.TargetQueued}, After: after, Limit: 500})
		if err != nil {
			return err
		}
		for _, t := range queued {
			after = t.Seq
			if free == 0 {
				break
			}
			if !m.cfg.CSMS.IsConnected(t.ChargerID) {
				continue
			}
			sent := t
			sent.Status, sent.Detail, sent.SentAt, sent.UpdatedAt = store.TargetSent, "", &now, now
			ok, err := m.st.UpdateRolloutTarget(ctx, sent, []store.TargetStatus{store.TargetQueued})
			if err != nil {
				return err
			}
			if !ok {
				continue
			}
			free--
			m.sends.Add(1)
			go func() {
				defer m.sends.Done()
				m.send(ctx, r, f, sent)
			}()
		}
		if len(queued) < 500 {
			break
		}
	}
	return nil
}

func inFlightCount(r store.Rollout) int {
	n := 0
	for _, s := range store.InFlightTargets {
		n += r.Counts[s]
	}
	return n
}

// deadline is when a charger that has not reported Installed fails: the
// timeout after its download could start, plus the retries it was allowed.
func (m *Manager) deadline(r store.Rollout, t store.RolloutTarget) time.Time {
	start := t.UpdatedAt
	if t.SentAt != nil {
		start = *t.SentAt
	}
	if r.RetrieveDate != nil && r.RetrieveDate.After(start) {
		start = *r.RetrieveDate
	}
	d := r.Timeout
	if r.Retries != nil && r.RetryInterval != nil {
		d += time.Duration(*r.Retries) * time.Duration(*r.RetryInterval) * time.Second
	}
	return start.Add(d)
}

// send sends UpdateFirmware to one charger whose target is marked Sent.
func (m *Manager) send(ctx context.Context, r store.Rollout, f store.File, t store.RolloutTarget) {
	now := m.now()
	retrieve := now
	if r.RetrieveDate != nil && r.RetrieveDate.After(now) {
		retrieve = *r.RetrieveDate
	}
	// The link lives as long as the charger may need it.
	ttl := m.deadline(r, t).Sub(now) + time.Hour
	loc, err := m.cfg.Links.DownloadLink(ctx, f, t.ChargerID, ttl)
	if err != nil {
		m.finishTarget(ctx, t, store.TargetFailed, "no download URL: "+err.Error(), []store.TargetStatus{store.TargetSent})
		return
	}
	req := &v16.UpdateFirmwareRequest{Location: loc, RetrieveDate: retrieve, Retries: r.Retries, RetryInterval: r.RetryInterval}
	cctx, cancel := context.WithTimeout(ctx, m.cfg.CallTimeout)
	defer cancel()
	caller, err := m.cfg.CSMS.Caller(cctx, t.ChargerID)
	if err == nil {
		_, err = v16.CallUpdateFirmware(cctx, caller, req)
	}
	var oe *ocpp.Error
	switch {
	case err == nil:
		m.log.Info("firmware: update sent", "rollout", r.ID, "charger", t.ChargerID, "file", f.Name, "retrieveDate", retrieve)
		m.publishTarget(t, store.TargetSent, "")
	case ctx.Err() != nil:
		// Shutting down: the charger goes back in the queue.
		m.finishTarget(context.WithoutCancel(ctx), t, store.TargetQueued, "", []store.TargetStatus{store.TargetSent})
	case errors.Is(err, csms.ErrNotConnected), errors.Is(err, ocpp.ErrClosed):
		// Gone before we could send: try again when it is back.
		m.finishTarget(ctx, t, store.TargetQueued, "offline: waiting for it to connect", []store.TargetStatus{store.TargetSent})
	case errors.As(err, &oe):
		m.finishTarget(ctx, t, store.TargetFailed, fmt.Sprintf("the charger answered UpdateFirmware with %s: %s", oe.Code, oe.Description), []store.TargetStatus{store.TargetSent})
	default:
		m.finishTarget(ctx, t, store.TargetFailed, "UpdateFirmware: "+err.Error(), []store.TargetStatus{store.TargetSent})
	}
}

// finishTarget moves a target (if in one of from) and tells the
// dashboard.
func (m *Manager) finishTarget(ctx context.Context, t store.RolloutTarget, to store.TargetStatus, detail string, from []store.TargetStatus) {
	next := t
	next.Status, next.Detail, next.UpdatedAt = to, detail, m.now()
	if to == store.TargetQueued {
		next.SentAt = nil
	}
	ok, err := m.st.UpdateRolloutTarget(ctx, next, from)
	if err != nil {
		m.log.Error("firmware: updating a roll-out target", "rollout", t.RolloutID, "charger", t.ChargerID, "err", err)
		return
	}
	if !ok {
		return
	}
	if to == store.TargetFailed {
		m.log.Warn("firmware: update failed", "rollout", t.RolloutID, "charger", t.ChargerID, "detail", detail)
	}
	m.publishTarget(t, to, detail)
	if to.Final() || to == store.TargetQueued {
		m.Wake()
	}
}

func (m *Manager) publishTarget(t store.RolloutTarget, status store.TargetStatus, detail string) {
	m.bus.Publish(EventTarget, t.ChargerID, map[string]any{"rolloutId": t.RolloutID, "chargerId": t.ChargerID, "status": status, "detail": detail})
}

func (m *Manager) setStatus(ctx context.Context, r store.Rollout, from []store.RolloutStatus, to store.RolloutStatus, detail string) error {
	ok, err := m.st.SetRolloutStatus(ctx, r.ID, from, to, detail, m.now())
	if err != nil || !ok {
		return err
	}
	m.log.Info("firmware: roll-out "+string(to), "rollout", r.ID, "detail", detail)
	m.bus.Publish(EventRollout, "", map[string]any{"rolloutId": r.ID, "status": to, "detail": detail})
	return nil
}

// observe follows a charger's FirmwareStatusNotification in the roll-out
// it is updating in.
func (m *Manager) observe(ctx context.Context, e store.ChargerEvent) {
	if e.Kind != "FirmwareStatusNotification" {
		return
	}
	var to store.TargetStatus
	detail := ""
	switch v16.FirmwareStatus(e.Status) {
	case v16.FirmwareStatusDownloading:
		to = store.TargetDownloading
	case v16.FirmwareStatusDownloaded:
		to = store.TargetDownloaded
	case v16.FirmwareStatusInstalling:
		to = store.TargetInstalling
	case v16.FirmwareStatusInstalled:
		to = store.TargetInstalled
	case v16.FirmwareStatusDownloadFailed:
		to, detail = store.TargetFailed, "the charger could not download the firmware"
	case v16.FirmwareStatusInstallationFailed:
		to, detail = store.TargetFailed, "the charger could not install the firmware"
	default:
		return // Idle: nothing in progress (an answer to TriggerMessage)
	}
	t, err := m.st.CurrentTarget(ctx, e.ChargerID)
	if errors.Is(err, store.ErrNotFound) {
		return // not updating in a roll-out (a command sent by hand)
	}
	if err != nil {
		m.log.Error("firmware: finding the roll-out of a charger", "charger", e.ChargerID, "err", err)
		return
	}
	m.finishTarget(ctx, t, to, detail, store.InFlightTargets)
}

// Errors of Create, Pause, Resume and Cancel; check with errors.Is.
var (
	ErrInvalid  = errors.New("invalid roll-out")
	ErrConflict = store.ErrConflict
)

// Create stores a roll-out of file f to the chargers, in that order, and
// starts it. Zero MaxConcurrent is 1; zero Timeout is DefaultTimeout.
func (m *Manager) Create(ctx context.Context, r store.Rollout, chargers []string) (store.Rollout, error) {
	if r.MaxConcurrent == 0 {
		r.MaxConcurrent = 1
	}
	if r.Timeout == 0 {
		r.Timeout = DefaultTimeout
	}
	if r.MaxConcurrent < 1 || r.MaxConcurrent > MaxConcurrentLimit {
		return store.Rollout{}, fmt.Errorf("%w: maxConcurrent must be 1 to %d", ErrInvalid, MaxConcurrentLimit)
	}
	r.Status = store.RolloutRunning
	out, err := m.st.CreateRollout(ctx, r, chargers)
	if err != nil {
		return store.Rollout{}, err
	}
	m.log.Info("firmware: roll-out created", "rollout", out.ID, "file", r.FileID, "chargers", len(chargers), "maxConcurrent", r.MaxConcurrent, "by", r.CreatedBy)
	m.bus.Publish(EventRollout, "", map[string]any{"rolloutId": out.ID, "status": out.Status})
	m.Wake()
	return out, nil
}

// Pause stops sending new updates; chargers already updating go on.
func (m *Manager) Pause(ctx context.Context, id int64, by string) (bool, error) {
	return m.change(ctx, id, []store.RolloutStatus{store.RolloutRunning}, store.RolloutPaused, "paused by "+by)
}

// Resume carries on a paused or halted roll-out; the failure rate counts
// from here.
func (m *Manager) Resume(ctx context.Context, id int64, by string) (bool, error) {
	ok, err := m.change(ctx, id, []store.RolloutStatus{store.RolloutPaused, store.RolloutHalted}, store.RolloutRunning, "resumed by "+by)
	if ok {
		m.Wake()
	}
	return ok, err
}

// Cancel ends a roll-out: queued chargers are not sent the update
// (chargers already updating cannot be stopped).
func (m *Manager) Cancel(ctx context.Context, id int64, by string) (bool, error) {
	return m.change(ctx, id, []store.RolloutStatus{store.RolloutRunning, store.RolloutPaused, store.RolloutHalted}, store.RolloutCancelled, "cancelled by "+by)
}

func (m *Manager) change(ctx context.Context, id int64, from []store.RolloutStatus, to store.RolloutStatus, detail string) (bool, error) {
	ok, err := m.st.SetRolloutStatus(ctx, id, from, to, detail, m.now())
	if err != nil {
		return false, err
	}
	if ok {
		m.log.Info("firmware: roll-out "+string(to), "rollout", id, "detail", detail)
		m.bus.Publish(EventRollout, "", map[string]any{"rolloutId": id, "status": to, "detail": detail})
	}
	return ok, nil
}
