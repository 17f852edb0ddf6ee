package locallist

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/wattson-csms/wattson/ocpp"
	"github.com/wattson-csms/wattson/ocpp/v16"
	"github.com/wattson-csms/wattson/store"
)

// limits are a charger's local list limits; 0 is not known (no limit is
// assumed).
type limits struct {
	maxList, maxSend int
	unsupported      bool // SupportedFeatureProfiles lacks LocalAuthListManagement
}

// Configuration keys the limits come from.
const (
	keyMaxList  = "LocalAuthListMaxLength"
	keyMaxSend  = "SendLocalListMaxLength"
	keyProfiles = "SupportedFeatureProfiles"
	profileName = "LocalAuthListManagement"
)

// run is one synchronisation of one charger in progress.
type run struct {
	st      store.LocalListSync
	held    map[string]store.LocalListEntry // nil: not known
	version int
}

func (r *run) heldSlice() []store.LocalListEntry {
	if r.held == nil {
		return nil
	}
	out := make([]store.LocalListEntry, 0, len(r.held))
	for _, e := range r.held {
		out = append(out, e)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].IDTag < out[j].IDTag })
	return out
}

// syncCharger brings one charger up to date, if it has a list state, is
// connected and accepted.
func (s *Syncer) syncCharger(ctx context.Context, id string, j job) {
	st, err := s.st.GetLocalListSync(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return
	}
	if err != nil {
		s.log.Error("local lists: reading a charger's state", "charger", id, "err", err)
		return
	}
	if !s.cmd.IsConnected(id) {
		return
	}
	if ch, err := s.st.GetCharger(ctx, id); err != nil || ch.Registration != store.RegistrationAccepted {
		return // a pending charger takes no commands; it syncs once accepted and booted
	}
	if st.Result == store.LocalListNotSupported && !j.reconcile && !j.full {
		return
	}
	if !st.Pending && !j.reconcile && !j.full {
		return
	}
	r := &run{st: st, version: st.Version}
	if st.HeldKnown {
		r.held = make(map[string]store.LocalListEntry, len(st.Held))
		for _, e := range st.Held {
			r.held[e.IDTag] = e
		}
	}
	changed := false // what Wattson knows of the charger changed
	if j.reconcile || j.full {
		v, err := s.listVersion(ctx, id)
		if err != nil {
			s.finish(ctx, r, failure(err), err)
			return
		}
		if v < 0 {
			s.finish(ctx, r, store.LocalListNotSupported, errors.New("the charger answered GetLocalListVersion with -1: it has no local authorization list"))
			return
		}
		// A charger may report 0 for any empty list, as OCPP says it should.
		emptySame := v == 0 && r.held != nil && len(r.held) == 0
		if v != r.version && !emptySame {
			s.log.Info("local lists: the charger's list version is not the one it acknowledged; sending the whole list",
				"charger", id, "version", v, "acknowledged", r.version)
			r.held = nil
			r.version = v
			changed = true
		}
	}
	if j.full && r.held != nil {
		r.held = nil
		changed = true
	}
	lim, err := s.chargerLimits(ctx, id)
	if err != nil {
		s.finish(ctx, r, store.LocalListFailed, fmt.Errorf("reading the charger's local list limits: %w", err))
		return
	}
	if lim.unsupported {
		s.finish(ctx, r, store.LocalListNotSupported, errors.New("the charger's SupportedFeatureProfiles lacks LocalAuthListManagement"))
		return
	}
	desired := []store.LocalListEntry{}
	if st.ListID != 0 {
		if desired, err = s.st.LocalListEntries(ctx, st.ListID); err != nil {
			s.log.Error("local lists: reading a list", "list", st.ListID, "err", err)
			return
		}
	}
	var tooLong error
	if lim.maxList > 0 && len(desired) > lim.maxList {
		tooLong = fmt.Errorf("the list has %d entries, the charger holds at most %d (LocalAuthListMaxLength): new members were not sent", len(desired), lim.maxList)
		if r.held == nil {
			s.finish(ctx, r, store.LocalListFailed, fmt.Errorf("the list has %d entries, the charger holds at most %d (LocalAuthListMaxLength)", len(desired), lim.maxList))
			return
		}
		// Keep what the charger has up to date (a blocked card must still
		// reach it), without adding.
		kept := desired[:0:0]
		for _, e := range desired {
			if _, ok := r.held[e.IDTag]; ok {
				kept = append(kept, e)
			}
		}
		desired = kept
	}

	triedFull := r.held == nil
	updates := plan(desired, r.held, r.version, lim.maxSend)
	if len(updates) == 0 && !changed && tooLong == nil && !st.Pending && st.Result == store.LocalListAccepted {
		return // nothing new: no write
	}
	for i := 0; i < len(updates); i++ {
		u := updates[i]
		status, err := s.send(ctx, id, u)
		if err != nil {
			// The charger may or may not have applied it.
			r.held = nil
			if u.version > r.version {
				r.version = u.version
			}
			s.finish(ctx, r, failure(err), err)
			return
		}
		switch status {
		case v16.UpdateStatusAccepted:
			r.apply(u)
			continue
		case v16.UpdateStatusVersionMismatch:
			if !triedFull {
				// OCPP: after a refused differential update, send the
				// full list.
				triedFull = true
				r.held = nil
				updates = plan(desired, nil, max(r.version, u.version), lim.maxSend)
				i = -1
				continue
			}
			s.finish(ctx, r, store.LocalListVersionMismatch, fmt.Errorf("the charger refused list version %d (%s) with VersionMismatch", u.version, u.kind))
		case v16.UpdateStatusNotSupported:
			s.finish(ctx, r, store.LocalListNotSupported, errors.New("the charger answered SendLocalList with NotSupported"))
		default:
			s.finish(ctx, r, store.LocalListFailed, fmt.Errorf("the charger answered SendLocalList (%s, version %d, %d entries) with Failed", u.kind, u.version, len(u.entries)))
		}
		return
	}
	if tooLong != nil {
		s.finish(ctx, r, store.LocalListFailed, tooLong)
		return
	}
	s.finish(ctx, r, store.LocalListAccepted, nil)
}

// failure is the result of a call that got no usable answer: a charger
// that does not implement the action does not support it.
func failure(err error) string {
	var oe *ocpp.Error
	if errors.As(err, &oe) && (oe.Code == ocpp.NotImplemented || oe.Code == ocpp.NotSupported) {
		return store.LocalListNotSupported
	}
	return store.LocalListFailed
}

// finish records the outcome of a run and publishes the new state.
func (s *Syncer) finish(ctx context.Context, r *run, result string, cause error) {
	o := store.LocalListOutcome{
		ChargerID: r.st.ChargerID, At: s.now(), Result: result, Error: errText(cause),
		Version: r.version, Held: r.heldSlice(),
		Synced:  result == store.LocalListAccepted,
		ListGen: r.st.ListGen, WantGen: r.st.WantGen,
	}
	if o.Held == nil && result == store.LocalListAccepted {
		o.Held = []store.LocalListEntry{} // cannot happen: an accepted run knows what it sent
	}
	if result == store.LocalListFailed || result == store.LocalListVersionMismatch {
		next := s.now().Add(s.backoff(r.st.Attempts + 1))
		o.NextAttemptAt = &next
	}
	if cause != nil {
		s.log.Info("local lists: sync not completed", "charger", r.st.ChargerID, "result", result, "err", cause)
	}
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if err := s.st.RecordLocalListSync(wctx, o); err != nil {
		if !errors.Is(err, store.ErrNotFound) { // the charger was deleted meanwhile
			s.log.Error("local lists: recording a sync", "charger", r.st.ChargerID, "err", err)
		}
		return
	}
	if st, err := s.st.GetLocalListSync(wctx, r.st.ChargerID); err == nil {
		s.cfg.Events.Publish(EventSync, st.ChargerID, StateOf(st))
	}
}

// update is one SendLocalList.
type update struct {
	kind    v16.UpdateType
	version int
	entries []v16.AuthorizationData
}

// plan returns the SendLocalLists that bring a charger holding held (nil:
// not known) at version to desired, each with at most maxSend entries (0:
// no limit). A list not known goes Full: its first part as a Full update,
// the rest as Differential ones. A known one gets the difference:
// removals and entries that restrict first, so that a blocked card reaches
// the charger before new cards do. Versions count up from version + 1.
func plan(desired []store.LocalListEntry, held map[string]store.LocalListEntry, version, maxSend int) []update {
	var changes []v16.AuthorizationData
	full := held == nil
	if full {
		for _, e := range desired {
			changes = append(changes, authData(e))
		}
	} else {
		want := make(map[string]bool, len(desired))
		var restrict, grant []v16.AuthorizationData
		for _, e := range desired {
			want[e.IDTag] = true
			if h, ok := held[e.IDTag]; ok && sameEntry(h, e) {
				continue
			}
			if e.Status == store.IDTagAccepted {
				grant = append(grant, authData(e))
			} else {
				restrict = append(restrict, authData(e))
			}
		}
		var removed []string
		for tag := range held {
			if !want[tag] {
				removed = append(removed, tag)
			}
		}
		sort.Strings(removed)
		for _, tag := range removed {
			changes = append(changes, v16.AuthorizationData{IDTag: tag})
		}
		changes = append(changes, restrict...)
		changes = append(changes, grant...)
		if len(changes) == 0 {
			return nil
		}
	}
	size := maxSend
	if size <= 0 {
		size = max(len(changes), 1)
	}
	var out []update
	for start := 0; start == 0 || start < len(changes); start += size {
		end := min(start+size, len(changes))
		kind := v16.UpdateTypeDifferential
		if full && start == 0 {
			kind = v16.UpdateTypeFull
		}
		version++
		out = append(out, update{kind: kind, version: version, entries: changes[start:end]})
	}
	return out
}

func authData(e store.LocalListEntry) v16.AuthorizationData {
	return v16.AuthorizationData{IDTag: e.IDTag, IDTagInfo: &v16.IDTagInfo{
		Status: v16.AuthorizationStatus(e.Status), ExpiryDate: e.ExpiryDate, ParentIDTag: e.ParentIDTag,
	}}
}

func sameEntry(a, b store.LocalListEntry) bool {
	if a.Status != b.Status || a.ParentIDTag != b.ParentIDTag || (a.ExpiryDate == nil) != (b.ExpiryDate == nil) {
		return false
	}
	return a.ExpiryDate == nil || a.ExpiryDate.Equal(*b.ExpiryDate)
}

// apply changes what the run knows the charger holds by an accepted update.
func (r *run) apply(u update) {
	if u.kind == v16.UpdateTypeFull || r.held == nil {
		r.held = make(map[string]store.LocalListEntry, len(u.entries))
	}
	for _, d := range u.entries {
		if d.IDTagInfo == nil {
			delete(r.held, d.IDTag)
			continue
		}
		r.held[d.IDTag] = store.LocalListEntry{IDTag: d.IDTag, Status: store.IDTagStatus(d.IDTagInfo.Status),
			ExpiryDate: d.IDTagInfo.ExpiryDate, ParentIDTag: d.IDTagInfo.ParentIDTag}
	}
	r.version = u.version
}

// send sends one SendLocalList and returns the charger's status.
func (s *Syncer) send(ctx context.Context, id string, u update) (v16.UpdateStatus, error) {
	req := &v16.SendLocalListRequest{ListVersion: u.version, UpdateType: u.kind, LocalAuthorizationList: u.entries}
	if req.LocalAuthorizationList == nil {
		req.LocalAuthorizationList = []v16.AuthorizationData{}
	}
	cctx, cancel := s.callCtx(ctx)
	defer cancel()
	answer, err := s.cmd.Call(cctx, id, "SendLocalList", req.AppendJSON(nil))
	if err != nil {
		return "", err
	}
	var res v16.SendLocalListResponse
	if err := res.UnmarshalOCPP(answer); err != nil {
		return "", err
	}
	return res.Status, nil
}

func (s *Syncer) listVersion(ctx context.Context, id string) (int, error) {
	cctx, cancel := s.callCtx(ctx)
	defer cancel()
	answer, err := s.cmd.Call(cctx, id, "GetLocalListVersion", []byte("{}"))
	if err != nil {
		return 0, err
	}
	var res v16.GetLocalListVersionResponse
	if err := res.UnmarshalOCPP(answer); err != nil {
		return 0, err
	}
	return res.ListVersion, nil
}

// chargerLimits reads a charger's limits from its configuration snapshot,
// or asks it once per connection.
func (s *Syncer) chargerLimits(ctx context.Context, id string) (limits, error) {
	snap, err := s.st.GetConfigSnapshot(ctx, id)
	if err == nil {
		return limitsOf(snap.Keys), nil
	}
	if !errors.Is(err, store.ErrNotFound) {
		return limits{}, err
	}
	s.mu.Lock()
	l, ok := s.limits[id]
	s.mu.Unlock()
	if ok {
		return l, nil
	}
	cctx, cancel := s.callCtx(ctx)
	defer cancel()
	req := &v16.GetConfigurationRequest{Key: []string{keyMaxList, keyMaxSend, keyProfiles}}
	answer, err := s.cmd.Call(cctx, id, "GetConfiguration", req.AppendJSON(nil))
	var oe *ocpp.Error
	switch {
	case errors.As(err, &oe):
		// A charger that will not tell its configuration may still take
		// lists: assume no limits.
		l = limits{}
	case err != nil:
		return limits{}, err
	default:
		var res v16.GetConfigurationResponse
		if err := res.UnmarshalOCPP(answer); err != nil {
			return limits{}, err
		}
		keys := make([]store.ConfigKey, 0, len(res.ConfigurationKey))
		for _, k := range res.ConfigurationKey {
			keys = append(keys, store.ConfigKey{Key: k.Key, Value: k.Value})
		}
		l = limitsOf(keys)
	}
	s.mu.Lock()
	if s.cmd.IsConnected(id) {
		s.limits[id] = l
	}
	s.mu.Unlock()
	return l, nil
}

func limitsOf(keys []store.ConfigKey) limits {
	var l limits
	for _, k := range keys {
		switch {
		case strings.EqualFold(k.Key, keyMaxList):
			l.maxList = positive(k.Value)
		case strings.EqualFold(k.Key, keyMaxSend):
			l.maxSend = positive(k.Value)
		case strings.EqualFold(k.Key, keyProfiles):
			l.unsupported = !hasProfile(k.Value, profileName)
		}
	}
	return l
}

func positive(v string) int {
	n, err := strconv.Atoi(strings.TrimSpace(v))
	if err != nil || n < 0 {
		return 0
	}
	return n
}

// hasProfile reads a CSL of feature profiles; an empty one says nothing.
func hasProfile(csl, name string) bool {
	if strings.TrimSpace(csl) == "" {
		return true
	}
	for _, p := range strings.Split(csl, ",") {
		if strings.EqualFold(strings.TrimSpace(p), name) {
			return true
		}
	}
	return false
}
