package manager

import (
	"context"
	"errors"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/wattson-csms/wattson/csms"
	"github.com/wattson-csms/wattson/ocpp"
	"github.com/wattson-csms/wattson/ocpp/v16"
	"github.com/wattson-csms/wattson/smartcharging"
	"github.com/wattson-csms/wattson/store"
)

// job is one profile to send (or, with clear, to remove).
type job struct {
	id    smartcharging.ConnectorID
	limit float64
	tx    int64 // TxProfile for this transaction; 0: TxDefaultProfile
	prev  *sent // what was in force before, to fall back to
	clear bool
}

// round runs the allocator once and sends what it decided.
func (m *Manager) round(ctx context.Context) {
	now := m.now()
	m.mu.Lock()
	if m.tree == nil {
		m.mu.Unlock()
		return
	}
	cs := m.inputsLocked(now)
	tree, siteAlert := m.treeWithSurplusLocked(now)
	res := m.alloc.Allocate(tree, cs, now, m.prev)
	if siteAlert != nil {
		res.Alerts = append(res.Alerts, *siteAlert)
	}
	m.prev, m.lastRun = res, now
	var jobs []job
	for _, r := range res.Connectors {
		if !r.Send {
			continue
		}
		lv := m.live[r.ID]
		if lv == nil || lv.inflight || lv.unmanaged {
			continue
		}
		j := job{id: r.ID, limit: r.Limit, tx: lv.tx, prev: lv.effective()}
		if lv.noTxProfile {
			j.tx = 0 // its TxDefaultProfile steers the transaction too
		}
		s := &sent{limit: r.Limit, at: now, tx: j.tx}
		if j.tx != 0 {
			lv.txp = s
		} else {
			lv.def = s
		}
		lv.inflight = true
		jobs = append(jobs, j)
	}
	for id := range m.leaving {
		lv := m.live[id]
		if lv != nil && lv.inflight {
			continue
		}
		if lv == nil {
			lv = m.liveLocked(id)
		}
		lv.inflight = true
		jobs = append(jobs, job{id: id, clear: true})
		delete(m.leaving, id)
	}
	m.recordLocked(res)
	newAlerts := m.alertsLocked(res.Alerts)
	m.mu.Unlock()

	for _, a := range newAlerts {
		m.publishAlert(a)
	}
	groups := make([]map[string]any, len(res.Groups))
	for i, g := range res.Groups {
		groups[i] = map[string]any{"id": g.ID, "limitA": g.Limit, "allocatedA": round1(g.Allocated), "drawnA": round1(g.Drawn)}
	}
	m.cfg.Events.Publish(EventRound, "", map[string]any{"at": now, "groups": groups})
	for _, j := range jobs {
		m.sending.Add(1)
		select {
		case m.sem <- struct{}{}:
		case <-ctx.Done():
			m.sending.Done()
			m.mu.Lock()
			m.undo(j)
			if lv := m.live[j.id]; lv != nil {
				lv.inflight = false
			}
			m.mu.Unlock()
			continue
		}
		go func() {
			defer m.sending.Done()
			defer func() { <-m.sem }()
			if j.clear {
				m.clear(ctx, j)
			} else {
				m.send(ctx, j)
			}
		}()
	}
}

// treeWithSurplusLocked is the tree with the site meter's reading on the
// groups it measures. A missing or stale reading counts as no surplus.
func (m *Manager) treeWithSurplusLocked(now time.Time) (*smartcharging.Tree, *smartcharging.Alert) {
	var alert *smartcharging.Alert
	if !slices.ContainsFunc(m.groups, func(g store.ChargingGroup) bool { return g.SiteMeter }) {
		return m.tree, nil
	}
	groups := m.tree.Groups()
	surplus := 0.0
	switch r := m.site; {
	case r == nil:
		alert = &smartcharging.Alert{Kind: smartcharging.AlertSolar, Subject: "site-meter", Message: "no site meter reading yet: solar connectors get no surplus"}
	case now.Sub(r.At) > m.cfg.SiteMeterMaxAge:
		alert = &smartcharging.Alert{Kind: smartcharging.AlertSolar, Subject: "site-meter", Message: "the site meter reading is older than " + m.cfg.SiteMeterMaxAge.String() + ": solar connectors get no surplus"}
	default:
		surplus = r.SurplusW
	}
	for i := range groups {
		if groups[i].HasSurplus {
			groups[i].SurplusW = surplus
		}
	}
	t, err := smartcharging.NewTree(groups)
	if err != nil { // cannot happen: the same groups made m.tree
		return m.tree, alert
	}
	return t, alert
}

func round1(v smartcharging.PerPhase) [3]float64 {
	for i := range v {
		v[i] = math.Round(v[i]*10) / 10
	}
	return v
}

// inputsLocked builds the allocator's connectors.
func (m *Manager) inputsLocked(now time.Time) []smartcharging.Connector {
	cs := make([]smartcharging.Connector, 0, len(m.settings))
	groupMin := map[string]float64{}
	for _, g := range m.groups {
		groupMin[g.ID] = min(g.LimitA[0], g.LimitA[1], g.LimitA[2])
	}
	for id, s := range m.settings {
		lv := m.liveLocked(id)
		c := smartcharging.Connector{
			ID: id, Group: s.GroupID, Priority: s.Priority, Mode: modeOf(s.Mode),
			MinCurrent: s.MinCurrent, MaxCurrent: s.MaxCurrent, SolarMinCurrent: s.SolarMinCurrent,
			Phases: phasesOf(s.Phases), Measured: lv.measured, Unmanaged: lv.unmanaged,
		}
		if c.MaxCurrent == 0 {
			c.MaxCurrent = groupMin[s.GroupID]
			if c.MaxCurrent == 0 {
				c.MaxCurrent = 32
			}
		}
		if c.Phases == (smartcharging.Phases{}) && lv.tx != 0 && lv.seenPhase != (smartcharging.Phases{}) {
			c.Phases = lv.seenPhase
		}
		c.State = stateOf(lv)
		if e := lv.effective(); e != nil {
			c.Sent = &smartcharging.Sent{Limit: e.limit, At: e.at, Confirmed: e.confirmed}
		}
		if c.Mode == smartcharging.ModeLowCost {
			c.CheapNow = m.cheapLocked(id, s, lv, c, now)
		}
		cs = append(cs, c)
	}
	return cs
}

func modeOf(s string) smartcharging.Mode {
	switch s {
	case store.ModeOff:
		return smartcharging.ModeOff
	case store.ModeLowCost:
		return smartcharging.ModeLowCost
	case store.ModeSolar:
		return smartcharging.ModeSolar
	}
	return smartcharging.ModeOn
}

func phasesOf(s string) smartcharging.Phases {
	var p smartcharging.Phases
	for i, name := range []string{"L1", "L2", "L3"} {
		p[i] = strings.Contains(s, name)
	}
	return p
}

// stateOf maps the OCPP status to what the allocator needs to know.
func stateOf(lv *live) smartcharging.State {
	switch lv.status {
	case "Charging":
		return smartcharging.StateCharging
	case "SuspendedEVSE":
		return smartcharging.StateWaiting
	case "SuspendedEV":
		return smartcharging.StateSuspendedEV
	case "Preparing":
		// Plugged in, or authorized: only a started transaction can draw.
		if lv.tx != 0 {
			return smartcharging.StateWaiting
		}
	}
	return smartcharging.StateIdle
}

// recordLocked keeps the chart history of every group.
func (m *Manager) recordLocked(res *smartcharging.Result) {
	for _, g := range res.Groups {
		p := Point{At: res.At, LimitA: g.Limit, AllocatedA: round1(g.Allocated), DrawnA: round1(g.Drawn)}
		h := m.history[g.ID]
		if n := len(h); n > 0 && p.At.Sub(h[n-1].At) < m.cfg.HistoryEvery {
			// Within one step: keep the worst of the step.
			last := &h[n-1]
			for i := range 3 {
				last.AllocatedA[i] = max(last.AllocatedA[i], p.AllocatedA[i])
				last.DrawnA[i] = max(last.DrawnA[i], p.DrawnA[i])
			}
			last.LimitA = p.LimitA
			continue
		}
		if len(h) >= m.cfg.HistoryLen {
			h = append(h[:0], h[len(h)-m.cfg.HistoryLen+1:]...)
		}
		m.history[g.ID] = append(h, p)
	}
}

// alertsLocked returns the alerts that were not there last round.
func (m *Manager) alertsLocked(list []smartcharging.Alert) []smartcharging.Alert {
	next := make(map[string]smartcharging.Alert, len(list))
	var fresh []smartcharging.Alert
	for _, a := range list {
		k := string(a.Kind) + "\x00" + a.Subject
		if _, ok := m.alerts[k]; !ok {
			fresh = append(fresh, a)
		}
		next[k] = a
	}
	m.alerts = next
	return fresh
}

// undo forgets a job that was not sent (inflight is the caller's).
func (m *Manager) undo(j job) {
	lv := m.live[j.id]
	if lv == nil {
		return
	}
	if j.clear {
		return
	}
	if j.tx != 0 {
		if lv.txp != nil && lv.txp.tx == j.tx {
			lv.txp = nil
			if j.prev != nil && j.prev.tx == j.tx {
				lv.txp = j.prev
			}
		}
	} else {
		lv.def = j.prev
	}
}

// send sends one limit and records the charger's answer.
func (m *Manager) send(ctx context.Context, j job) {
	req := &v16.SetChargingProfileRequest{
		ConnectorID: j.id.Connector,
		CsChargingProfiles: v16.ChargingProfile{
			ChargingProfileID:      m.profileID(j.id.Connector, j.tx != 0),
			StackLevel:             m.cfg.StackLevel,
			ChargingProfilePurpose: v16.ChargingProfilePurposeTxDefaultProfile,
			ChargingProfileKind:    v16.ChargingProfileKindAbsolute,
			ChargingSchedule: v16.ChargingSchedule{
				ChargingRateUnit:       v16.ChargingRateUnitA,
				ChargingSchedulePeriod: []v16.ChargingSchedulePeriod{{StartPeriod: 0, Limit: j.limit}},
			},
		},
	}
	if j.tx != 0 {
		tx := int(j.tx)
		req.CsChargingProfiles.ChargingProfilePurpose = v16.ChargingProfilePurposeTxProfile
		req.CsChargingProfiles.TransactionID = &tx
	}
	payload := req.AppendJSON(nil)
	cctx, cancel := context.WithTimeout(ctx, m.cfg.CallTimeout)
	answer, err := m.cfg.Commands.Call(cctx, j.id.Charger, "SetChargingProfile", payload)
	cancel()
	var resp v16.SetChargingProfileResponse
	if err == nil {
		err = resp.UnmarshalOCPP(answer)
	}
	now := m.now()
	refused := ""
	var oerr *ocpp.Error
	switch {
	case err == nil && resp.Status == v16.ChargingProfileStatusAccepted:
	case err == nil:
		refused = "the charger answered " + string(resp.Status) + " to SetChargingProfile"
	case errors.As(err, &oerr) && (oerr.Code == ocpp.NotSupported || oerr.Code == ocpp.NotImplemented):
		refused = "the charger does not support SetChargingProfile (" + string(oerr.Code) + ")"
	}

	m.mu.Lock()
	lv := m.live[j.id]
	if lv == nil {
		m.mu.Unlock()
		return
	}
	// inflight stays set until the records below are written, so a clear
	// of this connector cannot run between them.
	defer func() {
		m.mu.Lock()
		if lv := m.live[j.id]; lv != nil {
			lv.inflight = false
		}
		m.mu.Unlock()
	}()
	var save *store.ConnectorLimit
	switch {
	case err == nil && refused == "":
		s := lv.def
		if j.tx != 0 {
			s = lv.txp
		}
		if s != nil && s.limit == j.limit {
			s.confirmed = true
		}
		save = &store.ConnectorLimit{ChargerID: j.id.Charger, ConnectorID: j.id.Connector, LimitA: j.limit, SentAt: now, Confirmed: true}
	case refused != "" && j.tx != 0:
		// A TxProfile refused: the transaction may have just ended, or
		// the charger takes only TxDefaultProfiles. Use those from now on
		// (until it boots); only a refused TxDefaultProfile makes it
		// unmanaged.
		m.undo(j)
		lv.noTxProfile = true
	case refused != "":
		m.undo(j)
		lv.unmanaged, lv.reason = true, refused
		save = &store.ConnectorLimit{ChargerID: j.id.Charger, ConnectorID: j.id.Connector, SentAt: now, Unmanaged: true, Reason: refused}
		if e := lv.effective(); e != nil {
			save.LimitA, save.Confirmed = e.limit, e.confirmed
		}
	case errors.Is(err, csms.ErrNotConnected) || errors.Is(err, ocpp.ErrClosed) || errors.Is(err, csms.ErrUnknownCharger):
		// Not sent: what was in force still is.
		m.undo(j)
	default:
		// Timed out or failed: it may or may not have been applied.
		// Count the higher of the two until the charger says more.
		if j.prev != nil && j.prev.limit > j.limit {
			m.undo(j)
		}
	}
	m.mu.Unlock()

	if save != nil {
		if err := m.st.SaveConnectorLimits(ctx, []store.ConnectorLimit{*save}); err != nil && ctx.Err() == nil {
			m.log.Error("smart charging: saving a limit", "err", err, "connector", j.id)
		}
	}
	switch {
	case err == nil && refused == "":
		purpose := string(req.CsChargingProfiles.ChargingProfilePurpose)
		var txID *int64
		if j.tx != 0 {
			txID = &j.tx
		}
		if err := m.st.PutChargingProfile(ctx, store.ChargingProfileRecord{
			ChargerID: j.id.Charger, ConnectorID: j.id.Connector, ProfileID: req.CsChargingProfiles.ChargingProfileID,
			StackLevel: m.cfg.StackLevel, Purpose: purpose, TransactionID: txID,
			Profile: req.CsChargingProfiles.AppendJSON(nil), Source: "smart-charging", SetAt: now,
		}); err != nil && ctx.Err() == nil {
			m.log.Error("smart charging: recording a profile", "err", err, "connector", j.id)
		}
		m.cfg.Events.Publish(EventLimit, j.id.Charger, map[string]any{
			"connectorId": j.id.Connector, "limitA": j.limit, "purpose": purpose,
		})
		m.Wake() // a confirmed decrease may make room for a raise
	case refused != "" && j.tx != 0:
		m.log.Info("smart charging: a TxProfile was refused; the connector gets TxDefaultProfiles instead", "connector", j.id, "answer", refused)
		m.Wake()
	case refused != "":
		m.publishAlert(smartcharging.Alert{Kind: smartcharging.AlertUnmanaged, Subject: j.id.String(),
			Message: "connector " + j.id.String() + " unmanaged: " + refused + "; its maximum is counted against its group"})
		m.Wake()
	default:
		if ctx.Err() == nil {
			m.log.Info("smart charging: a limit was not applied; it is sent again", "connector", j.id, "limit", j.limit, "err", err)
		}
	}
}

// clear removes smart charging's profiles from a connector that left its
// group.
func (m *Manager) clear(ctx context.Context, j job) {
	var failed error
	for _, tx := range []bool{false, true} {
		id := m.profileID(j.id.Connector, tx)
		req := &v16.ClearChargingProfileRequest{ID: &id}
		cctx, cancel := context.WithTimeout(ctx, m.cfg.CallTimeout)
		_, err := m.cfg.Commands.Call(cctx, j.id.Charger, "ClearChargingProfile", req.AppendJSON(nil))
		cancel()
		var oerr *ocpp.Error
		if err != nil && failed == nil && !errors.As(err, &oerr) {
			failed = err // a CALLERROR is an answer; anything else is retried
		}
		pid := id
		if _, err := m.st.ClearChargingProfiles(ctx, j.id.Charger, store.ProfileFilter{ProfileID: &pid}); err != nil && ctx.Err() == nil {
			m.log.Error("smart charging: clearing profile records", "err", err)
		}
	}
	if err := m.st.DeleteConnectorLimit(ctx, j.id.Charger, j.id.Connector); err != nil && !errors.Is(err, store.ErrNotFound) && ctx.Err() == nil {
		m.log.Error("smart charging: deleting a limit", "err", err)
	}
	m.mu.Lock()
	_, back := m.settings[j.id]
	switch {
	case back:
		if lv := m.live[j.id]; lv != nil {
			lv.inflight = false
		}
	case failed != nil && ctx.Err() == nil:
		// Offline or not answering: try again, or the charger would
		// keep the last limit for good.
		if lv := m.live[j.id]; lv != nil {
			lv.inflight = false
		}
		m.leaving[j.id] = true
	default:
		delete(m.live, j.id)
		delete(m.plans, j.id)
	}
	m.mu.Unlock()
	if failed != nil && ctx.Err() == nil {
		m.log.Warn("smart charging: could not clear the profiles of a connector that left its group", "connector", j.id, "err", failed)
	}
}
