package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/wattson-csms/wattson/ocpp"
	"github.com/wattson-csms/wattson/ocpp/v16"
	"github.com/wattson-csms/wattson/store"
)

// Charger configuration: read it all with GetConfiguration and keep the
// answer as the charger's snapshot; change one key on many chargers at
// once with ChangeConfiguration.

// Limits of POST /configuration/apply.
const (
	maxApplyChargers    = 1000
	applyConcurrency    = 16
	maxConfigKeyLength  = 50
	maxConfigValueChars = 500
)

// ConfigKeyJSON is one configuration key.
type ConfigKeyJSON struct {
	Key      string `json:"key"`
	Readonly bool   `json:"readonly"`
	Value    string `json:"value"`
	// LastChange is the last ChangeConfiguration of the key, if any.
	LastChange *ConfigChangeJSON `json:"lastChange,omitempty"`
}

// ConfigChangeJSON is the last ChangeConfiguration of a key on a charger
// and the charger's answer.
type ConfigChangeJSON struct {
	ChargerID string `json:"chargerId"`
	Key       string `json:"key"`
	// Value is what was sent; empty for AuthorizationKey, never kept.
	Value  string    `json:"value"`
	Status string    `json:"status"`
	At     time.Time `json:"at"`
	// PendingReboot: the charger answered RebootRequired and has not
	// booted since.
	PendingReboot bool `json:"pendingReboot"`
}

func changeJSON(c store.ConfigChange) *ConfigChangeJSON {
	return &ConfigChangeJSON{ChargerID: c.ChargerID, Key: c.Key, Value: c.Value, Status: string(c.Status),
		At: c.At.UTC(), PendingReboot: c.PendingReboot}
}

// ConfigSnapshotJSON is a charger's configuration as its last
// GetConfiguration answer gave it, with the changes made since, and the
// last change of each key.
type ConfigSnapshotJSON struct {
	ChargerID   string          `json:"chargerId"`
	TakenAt     time.Time       `json:"takenAt"`
	Keys        []ConfigKeyJSON `json:"keys"`
	UnknownKeys []string        `json:"unknownKeys"`
	// Changes are the last change of every key changed, also of keys the
	// snapshot does not list (NotSupported ones).
	Changes []ConfigChangeJSON `json:"changes"`
	// PendingReboot: some change waits for the charger to reboot.
	PendingReboot bool `json:"pendingReboot"`
}

func snapshotJSON(s store.ConfigSnapshot, changes []store.ConfigChange) ConfigSnapshotJSON {
	out := ConfigSnapshotJSON{ChargerID: s.ChargerID, TakenAt: s.TakenAt.UTC(), Keys: make([]ConfigKeyJSON, 0, len(s.Keys)),
		UnknownKeys: s.UnknownKeys, Changes: make([]ConfigChangeJSON, 0, len(changes))}
	byKey := make(map[string]*ConfigChangeJSON, len(changes))
	for _, c := range changes {
		cj := changeJSON(c)
		out.Changes = append(out.Changes, *cj)
		byKey[strings.ToLower(c.Key)] = cj
		out.PendingReboot = out.PendingReboot || c.PendingReboot
	}
	for _, k := range s.Keys {
		out.Keys = append(out.Keys, ConfigKeyJSON{Key: k.Key, Readonly: k.Readonly, Value: k.Value, LastChange: byKey[strings.ToLower(k.Key)]})
	}
	if out.UnknownKeys == nil {
		out.UnknownKeys = []string{}
	}
	return out
}

// refreshConfiguration is POST /chargers/{id}/configuration/refresh: a
// GetConfiguration of all keys, kept as the charger's snapshot.
func (a *API) refreshConfiguration(w http.ResponseWriter, r *http.Request) error {
	id, err := chargerID(r)
	if err != nil {
		return notFound("no charger %q", r.PathValue("id"))
	}
	snap, err := a.refreshOne(r.Context(), id)
	if err != nil {
		return err
	}
	changes, err := a.st.ListConfigChanges(r.Context(), id)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, snapshotJSON(snap, changes))
}

// refreshOne asks a charger for all its keys and keeps the answer as its
// snapshot.
func (a *API) refreshOne(ctx context.Context, id string) (store.ConfigSnapshot, error) {
	answer, err := a.call(ctx, id, "GetConfiguration", []byte("{}"))
	if err != nil {
		return store.ConfigSnapshot{}, err
	}
	var res v16.GetConfigurationResponse
	if err := res.UnmarshalOCPP(answer); err != nil {
		return store.ConfigSnapshot{}, err // csms validated it; cannot happen
	}
	snap := store.ConfigSnapshot{ChargerID: id, Keys: make([]store.ConfigKey, 0, len(res.ConfigurationKey)),
		UnknownKeys: res.UnknownKey, TakenAt: a.now().UTC().Truncate(time.Microsecond)}
	for _, kv := range res.ConfigurationKey {
		snap.Keys = append(snap.Keys, store.ConfigKey{Key: kv.Key, Readonly: kv.Readonly, Value: kv.Value})
	}
	if snap.UnknownKeys == nil {
		snap.UnknownKeys = []string{}
	}
	if err := a.st.PutConfigSnapshot(ctx, snap); err != nil {
		return store.ConfigSnapshot{}, fmt.Errorf("keeping the configuration of charger %q: %w", id, err)
	}
	return snap, nil
}

// getConfiguration is GET /chargers/{id}/configuration: the last snapshot.
func (a *API) getConfiguration(w http.ResponseWriter, r *http.Request) error {
	id, err := chargerID(r)
	if err != nil {
		return notFound("no charger %q", r.PathValue("id"))
	}
	snap, err := a.st.GetConfigSnapshot(r.Context(), id)
	if errors.Is(err, store.ErrNotFound) {
		return notFound("no configuration snapshot of charger %q; refresh it first", id)
	}
	if err != nil {
		return err
	}
	changes, err := a.st.ListConfigChanges(r.Context(), id)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, snapshotJSON(snap, changes))
}

// ApplyConfigRequest is the body of POST /configuration/apply.
type ApplyConfigRequest struct {
	Key      string   `json:"key"`
	Value    *string  `json:"value"`
	Chargers []string `json:"chargers"`
}

// ApplyConfigResult is one charger's outcome: its status, or an error.
type ApplyConfigResult struct {
	ChargerID string `json:"chargerId"`
	Status    string `json:"status,omitempty"`
	Error     string `json:"error,omitempty"`
	ErrorKind Kind   `json:"errorKind,omitempty"`
}

// keyProblem says what is wrong with a configuration key or value as
// ChangeConfiguration takes them (CiString50, CiString500); "" if nothing.
func keyProblem(key string) string {
	switch n := utf8.RuneCountInString(key); {
	case n == 0:
		return "key is required"
	case n > maxConfigKeyLength:
		return fmt.Sprintf("key must be at most %d characters", maxConfigKeyLength)
	}
	return ""
}

func checkValue(value *string) error {
	switch {
	case value == nil:
		return invalidBody("value", "value is required")
	case utf8.RuneCountInString(*value) > maxConfigValueChars:
		return invalidBody("value", "value must be at most %d characters", maxConfigValueChars)
	}
	return nil
}

// checkChargers validates the charger list of a fleet-wide operation.
func checkChargers(ids []string) error {
	switch {
	case len(ids) == 0:
		return invalidBody("chargers", "chargers needs at least one charger id")
	case len(ids) > maxApplyChargers:
		return invalidBody("chargers", "chargers must name at most %d chargers", maxApplyChargers)
	}
	seen := make(map[string]bool, len(ids))
	for i, id := range ids {
		field := fmt.Sprintf("chargers[%d]", i)
		if err := ocpp.ValidateChargerID(id); err != nil {
			return invalidBody(field, "%v", err)
		}
		if seen[id] {
			return invalidBody(field, "charger %q is named twice", id)
		}
		seen[id] = true
	}
	return nil
}

// fanOut runs fn for each charger, applyConcurrency at a time, and returns
// when all are done. A charger that does not answer holds its place for
// up to the command timeout; offline ones fail at once.
func fanOut(ids []string, fn func(i int, id string)) {
	sem := make(chan struct{}, applyConcurrency)
	var wg sync.WaitGroup
	for i, id := range ids {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			fn(i, id)
		}()
	}
	wg.Wait()
}

// errorResult fills a result's error from a failed call.
func errorResult(err error) (detail string, kind Kind) {
	p := problemOf(err)
	detail, kind = p.Detail, Kind(strings.TrimPrefix(p.Type, ProblemBase))
	if detail == "" {
		detail = p.Title
	}
	return detail, kind
}

// applyConfiguration is POST /configuration/apply: a ChangeConfiguration
// to each charger, some at a time, with a result per charger in the order
// given.
func (a *API) applyConfiguration(w http.ResponseWriter, r *http.Request) error {
	var body ApplyConfigRequest
	if err := decodeBody(w, r, &body); err != nil {
		return err
	}
	if p := keyProblem(body.Key); p != "" {
		return invalidBody("key", "%s", p)
	}
	if err := checkValue(body.Value); err != nil {
		return err
	}
	if err := checkChargers(body.Chargers); err != nil {
		return err
	}
	results := make([]ApplyConfigResult, len(body.Chargers))
	fanOut(body.Chargers, func(i int, id string) {
		results[i] = ApplyConfigResult{ChargerID: id}
		c, err := a.changeOne(r.Context(), id, body.Key, *body.Value)
		if err != nil {
			results[i].Error, results[i].ErrorKind = errorResult(err)
			return
		}
		results[i].Status = string(c.Status)
	})
	return writeJSON(w, http.StatusOK, map[string]any{"results": results})
}

// changeOne sends a ChangeConfiguration to one charger and records its
// answer; when the charger took the value the store also sets it in the
// charger's snapshot, in the same step.
func (a *API) changeOne(ctx context.Context, id, key, value string) (store.ConfigChange, error) {
	payload := (&v16.ChangeConfigurationRequest{Key: key, Value: value}).AppendJSON(nil)
	answer, err := a.call(ctx, id, "ChangeConfiguration", payload)
	if err != nil {
		return store.ConfigChange{}, err
	}
	var res v16.ChangeConfigurationResponse
	if err := res.UnmarshalOCPP(answer); err != nil {
		return store.ConfigChange{}, &Error{Kind: KindInvalidResponse, Err: err} // csms validated it; cannot happen
	}
	return a.recordChange(ctx, id, key, value, res.Status), nil
}

// recordChange keeps a charger's answer to ChangeConfiguration and
// returns it as kept. A failure to keep it is logged, not returned: the
// charger did change.
func (a *API) recordChange(ctx context.Context, id, key, value string, status v16.ConfigurationStatus) store.ConfigChange {
	c := store.ConfigChange{ChargerID: id, Key: key, Value: value, Status: store.ConfigStatus(status),
		At: a.now().Truncate(time.Microsecond), PendingReboot: status == v16.ConfigurationStatusRebootRequired}
	kept, err := a.st.RecordConfigChange(context.WithoutCancel(ctx), c)
	if err != nil {
		a.log.Error("recording a configuration change", "charger", id, "key", key, "err", err)
		if store.WriteOnlyKey(key) {
			c.Value = ""
		}
		return c
	}
	return kept
}

// ChangeKeyRequest is the body of PUT /chargers/{id}/configuration/{key}.
type ChangeKeyRequest struct {
	Value *string `json:"value"`
}

// changeKey is PUT /chargers/{id}/configuration/{key}: one key on one
// charger. Every answer of the charger is a 200 with its status (the
// answer is kept, Rejected included); failures to reach it are problems.
func (a *API) changeKey(w http.ResponseWriter, r *http.Request) error {
	id, err := chargerID(r)
	if err != nil {
		return notFound("no charger %q", r.PathValue("id"))
	}
	key := r.PathValue("key")
	if p := keyProblem(key); p != "" {
		return invalidParam("key", "%s", p)
	}
	var body ChangeKeyRequest
	if err := decodeBody(w, r, &body); err != nil {
		return err
	}
	if err := checkValue(body.Value); err != nil {
		return err
	}
	c, err := a.changeOne(r.Context(), id, key, *body.Value)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, changeJSON(c))
}

// RefreshConfigRequest is the body of POST /configuration/refresh.
type RefreshConfigRequest struct {
	Chargers []string `json:"chargers"`
}

// RefreshConfigResult is one charger's outcome: its new snapshot's time
// and size, or an error.
type RefreshConfigResult struct {
	ChargerID   string     `json:"chargerId"`
	TakenAt     *time.Time `json:"takenAt,omitempty"`
	Keys        int        `json:"keys"`
	UnknownKeys int        `json:"unknownKeys"`
	Error       string     `json:"error,omitempty"`
	ErrorKind   Kind       `json:"errorKind,omitempty"`
}

// refreshConfigurations is POST /configuration/refresh: a new snapshot of
// each charger, some at a time.
func (a *API) refreshConfigurations(w http.ResponseWriter, r *http.Request) error {
	var body RefreshConfigRequest
	if err := decodeBody(w, r, &body); err != nil {
		return err
	}
	if err := checkChargers(body.Chargers); err != nil {
		return err
	}
	results := make([]RefreshConfigResult, len(body.Chargers))
	fanOut(body.Chargers, func(i int, id string) {
		results[i] = RefreshConfigResult{ChargerID: id}
		snap, err := a.refreshOne(r.Context(), id)
		if err != nil {
			results[i].Error, results[i].ErrorKind = errorResult(err)
			return
		}
		results[i].TakenAt, results[i].Keys, results[i].UnknownKeys = &snap.TakenAt, len(snap.Keys), len(snap.UnknownKeys)
	})
	return writeJSON(w, http.StatusOK, map[string]any{"results": results})
}

// ConfigKeyValueJSON is one charger's value of a key in the fleet view.
type ConfigKeyValueJSON struct {
	ChargerID string `json:"chargerId"`
	Connected bool   `json:"connected"`
	// TakenAt is the snapshot's time, null when the charger has none (it
	// is listed for a change of the key).
	TakenAt *time.Time `json:"takenAt"`
	// Found: the snapshot lists the key; Value and Readonly are its.
	Found      bool              `json:"found"`
	Readonly   bool              `json:"readonly"`
	Value      string            `json:"value"`
	LastChange *ConfigChangeJSON `json:"lastChange,omitempty"`
}

// configKeyAcross is GET /configuration?key=K: one key on every charger
// with a snapshot or a change of it, a page at a time in charger id order.
func (a *API) configKeyAcross(w http.ResponseWriter, r *http.Request) error {
	q := newQuery(r)
	f := store.ConfigKeyFilter{Key: q.str("key", maxConfigKeyLength), After: q.str("after", 100), Limit: q.limit()}
	if q.err == nil && f.Key == "" {
		q.fail("key", "key is required, e.g. key=HeartbeatInterval")
	}
	if q.err != nil {
		return q.err
	}
	limit := f.Limit
	f.Limit = fetchLimit(limit)
	vs, err := a.st.ConfigKeyAcross(r.Context(), f)
	if err != nil {
		return err
	}
	out := make([]ConfigKeyValueJSON, 0, len(vs))
	for _, v := range vs {
		j := ConfigKeyValueJSON{ChargerID: v.ChargerID, Connected: a.svc.IsConnected(v.ChargerID), TakenAt: v.TakenAt,
			Found: v.Found, Readonly: v.Readonly, Value: v.Value}
		if v.Change != nil {
			j.LastChange = changeJSON(*v.Change)
		}
		out = append(out, j)
	}
	l := page(out, limit, func(v ConfigKeyValueJSON) string { return v.ChargerID })
	return writeJSON(w, http.StatusOK, map[string]any{"key": f.Key, "items": l.Items, "next": l.Next})
}

// recordRawChange keeps the answer to a ChangeConfiguration sent through
// POST /chargers/{id}/ocpp/ChangeConfiguration like one of the typed
// endpoints: the snapshot and the key's last change stay true whichever
// way a change was made.
func (a *API) recordRawChange(ctx context.Context, id string, payload, answer []byte) {
	var req v16.ChangeConfigurationRequest
	var res v16.ChangeConfigurationResponse
	if req.UnmarshalOCPP(payload) != nil || res.UnmarshalOCPP(answer) != nil {
		return // csms validated both; cannot happen
	}
	a.recordChange(ctx, id, req.Key, req.Value, res.Status)
}
