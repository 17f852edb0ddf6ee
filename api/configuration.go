package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
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
}

// ConfigSnapshotJSON is a charger's configuration as its last
// GetConfiguration answer gave it.
type ConfigSnapshotJSON struct {
	TakenAt     time.Time       `json:"takenAt"`
	Keys        []ConfigKeyJSON `json:"keys"`
	UnknownKeys []string        `json:"unknownKeys"`
}

func snapshotJSON(s store.ConfigSnapshot) ConfigSnapshotJSON {
	out := ConfigSnapshotJSON{TakenAt: s.TakenAt.UTC(), Keys: make([]ConfigKeyJSON, 0, len(s.Keys)), UnknownKeys: s.UnknownKeys}
	for _, k := range s.Keys {
		out.Keys = append(out.Keys, ConfigKeyJSON(k))
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
	answer, err := a.call(r.Context(), id, "GetConfiguration", []byte("{}"))
	if err != nil {
		return err
	}
	var res v16.GetConfigurationResponse
	if err := res.UnmarshalOCPP(answer); err != nil {
		return err // csms validated it; cannot happen
	}
	snap := store.ConfigSnapshot{ChargerID: id, Keys: make([]store.ConfigKey, 0, len(res.ConfigurationKey)),
		UnknownKeys: res.UnknownKey, TakenAt: a.now().UTC().Truncate(time.Microsecond)}
	for _, kv := range res.ConfigurationKey {
		snap.Keys = append(snap.Keys, store.ConfigKey{Key: kv.Key, Readonly: kv.Readonly, Value: kv.Value})
	}
	if err := a.st.PutConfigSnapshot(r.Context(), snap); err != nil {
		return fmt.Errorf("keeping the configuration of charger %q: %w", id, err)
	}
	return writeJSON(w, http.StatusOK, snapshotJSON(snap))
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
	return writeJSON(w, http.StatusOK, snapshotJSON(snap))
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

// applyConfiguration is POST /configuration/apply: a ChangeConfiguration
// to each charger, some at a time, with a result per charger in the order
// given.
func (a *API) applyConfiguration(w http.ResponseWriter, r *http.Request) error {
	var body ApplyConfigRequest
	if err := decodeBody(w, r, &body); err != nil {
		return err
	}
	switch n := utf8.RuneCountInString(body.Key); {
	case n == 0:
		return invalidBody("key", "key is required")
	case n > maxConfigKeyLength:
		return invalidBody("key", "key must be at most %d characters", maxConfigKeyLength)
	case body.Value == nil:
		return invalidBody("value", "value is required")
	case utf8.RuneCountInString(*body.Value) > maxConfigValueChars:
		return invalidBody("value", "value must be at most %d characters", maxConfigValueChars)
	case len(body.Chargers) == 0:
		return invalidBody("chargers", "chargers needs at least one charger id")
	case len(body.Chargers) > maxApplyChargers:
		return invalidBody("chargers", "chargers must name at most %d chargers", maxApplyChargers)
	}
	seen := make(map[string]bool, len(body.Chargers))
	for i, id := range body.Chargers {
		field := fmt.Sprintf("chargers[%d]", i)
		if err := ocpp.ValidateChargerID(id); err != nil {
			return invalidBody(field, "%v", err)
		}
		if seen[id] {
			return invalidBody(field, "charger %q is named twice", id)
		}
		seen[id] = true
	}
	payload := (&v16.ChangeConfigurationRequest{Key: body.Key, Value: *body.Value}).AppendJSON(nil)

	results := make([]ApplyConfigResult, len(body.Chargers))
	sem := make(chan struct{}, applyConcurrency)
	var wg sync.WaitGroup
	for i, id := range body.Chargers {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			results[i] = a.applyOne(r.Context(), id, body.Key, *body.Value, payload)
		}()
	}
	wg.Wait()
	return writeJSON(w, http.StatusOK, map[string]any{"results": results})
}

// applyOne sends the change to one charger and, when it took it, updates
// the key in the charger's snapshot, if there is one.
func (a *API) applyOne(ctx context.Context, id, key, value string, payload []byte) ApplyConfigResult {
	out := ApplyConfigResult{ChargerID: id}
	answer, err := a.call(ctx, id, "ChangeConfiguration", payload)
	if err != nil {
		p := problemOf(err)
		out.Error, out.ErrorKind = p.Detail, Kind(p.Type[len(ProblemBase):])
		if out.Error == "" {
			out.Error = p.Title
		}
		return out
	}
	var res v16.ChangeConfigurationResponse
	if err := res.UnmarshalOCPP(answer); err != nil {
		out.Error, out.ErrorKind = err.Error(), KindInvalidResponse // csms validated it; cannot happen
		return out
	}
	out.Status = string(res.Status)
	if res.Status == v16.ConfigurationStatusAccepted || res.Status == v16.ConfigurationStatusRebootRequired {
		if err := a.updateSnapshot(ctx, id, key, value); err != nil {
			a.log.Error("updating a configuration snapshot", "charger", id, "key", key, "err", err)
		}
	}
	return out
}

// updateSnapshot sets a key's value in a charger's snapshot, if it has one
// and the snapshot lists the key.
func (a *API) updateSnapshot(ctx context.Context, id, key, value string) error {
	snap, err := a.st.GetConfigSnapshot(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	for i := range snap.Keys {
		if snap.Keys[i].Key == key {
			snap.Keys[i].Value = value
			return a.st.PutConfigSnapshot(ctx, snap)
		}
	}
	return nil
}
