package rules

import (
	"encoding/json"
	"slices"
	"strings"
	"time"

	"github.com/wattson-csms/wattson/store"
)

// ConfigSnapshot checks a snapshot and returns its keys and unknown keys
// as JSON arrays (never null).
func ConfigSnapshot(s store.ConfigSnapshot) (keys, unknown []byte, err error) {
	if err := ChargerID(s.ChargerID); err != nil {
		return nil, nil, err
	}
	for _, k := range s.Keys {
		if k.Key == "" {
			return nil, nil, invalid("configuration key without a name")
		}
	}
	ks, us := s.Keys, s.UnknownKeys
	if ks == nil {
		ks = []store.ConfigKey{}
	}
	if us == nil {
		us = []string{}
	}
	if keys, err = json.Marshal(ks); err != nil {
		return nil, nil, err
	}
	if unknown, err = json.Marshal(us); err != nil {
		return nil, nil, err
	}
	return keys, unknown, nil
}

// DecodeConfigSnapshot fills the keys of a snapshot from their JSON.
func DecodeConfigSnapshot(s *store.ConfigSnapshot, keys, unknown []byte) error {
	s.Keys, s.UnknownKeys = []store.ConfigKey{}, []string{}
	if err := json.Unmarshal(keys, &s.Keys); err != nil {
		return err
	}
	if err := json.Unmarshal(unknown, &s.UnknownKeys); err != nil {
		return err
	}
	if s.Keys == nil {
		s.Keys = []store.ConfigKey{}
	}
	if s.UnknownKeys == nil {
		s.UnknownKeys = []string{}
	}
	return nil
}

// FoldKey is the form keys are compared in: OCPP keys are CiString50,
// case-insensitive. The stores compare snapshot keys with SQL lower(),
// which in SQLite folds ASCII only; configuration keys are ASCII in
// practice.
func FoldKey(key string) string { return strings.ToLower(key) }

// ConfigChange checks a change and returns it with its value dropped if
// the key is write-only, At set and PendingReboot as just answered.
func ConfigChange(c store.ConfigChange) (store.ConfigChange, error) {
	if err := ChargerID(c.ChargerID); err != nil {
		return c, err
	}
	if c.Key == "" {
		return c, invalid("configuration change without a key")
	}
	switch c.Status {
	case store.ConfigAccepted, store.ConfigRejected, store.ConfigRebootRequired, store.ConfigNotSupported:
	default:
		return c, invalid("configuration status %q", c.Status)
	}
	if store.WriteOnlyKey(c.Key) {
		c.Value = ""
	}
	c.At = OrNow(c.At)
	c.PendingReboot = c.Status == store.ConfigRebootRequired
	return c, nil
}

// ApplyConfigChange sets a change the charger took in a snapshot's keys
// (JSON as stored) and returns the new keys JSON and the key as the
// snapshot spells it. changed is false when nothing is to be written: the
// charger did not take the value, the key is write-only, or the snapshot
// is newer than the answer.
func ApplyConfigChange(keys []byte, takenAt time.Time, c store.ConfigChange) (out []byte, key string, changed bool, err error) {
	var ks []store.ConfigKey
	if err := json.Unmarshal(keys, &ks); err != nil {
		return nil, c.Key, false, err
	}
	key = c.Key
	i := slices.IndexFunc(ks, func(k store.ConfigKey) bool { return strings.EqualFold(k.Key, c.Key) })
	if i >= 0 {
		key = ks[i].Key
	}
	if !c.Status.Took() || store.WriteOnlyKey(c.Key) || takenAt.After(c.At) {
		return nil, key, false, nil
	}
	if i >= 0 {
		if ks[i].Value == c.Value {
			return nil, key, false, nil
		}
		ks[i].Value = c.Value
	} else {
		ks = append(ks, store.ConfigKey{Key: c.Key, Value: c.Value})
	}
	out, err = json.Marshal(ks)
	return out, key, err == nil, err
}

// PendingReboot reports whether a change waits for the charger to reboot:
// it answered RebootRequired and has not booted since (boot times are
// Wattson's clock, like the answer's).
func PendingReboot(c store.ConfigChange, lastBoot *time.Time) bool {
	return c.Status == store.ConfigRebootRequired && (lastBoot == nil || !lastBoot.After(c.At))
}

// MaxConfigKeyNames bounds ConfigKeyNames.
const MaxConfigKeyNames = 2000

// KeyName is one row of config_key_names.
type KeyName struct {
	Fold     string `json:"f"`
	Key      string `json:"k"`
	Readonly bool   `json:"r"`
}

// KeyNames returns a snapshot's distinct key names (first spelling wins)
// in folded order: concurrent inserts of the same names then lock rows in
// the same order.
func KeyNames(keys []store.ConfigKey) []KeyName {
	out := make([]KeyName, 0, len(keys))
	seen := make(map[string]bool, len(keys))
	for _, k := range keys {
		f := FoldKey(k.Key)
		if !seen[f] {
			seen[f] = true
			out = append(out, KeyName{Fold: f, Key: k.Key, Readonly: k.Readonly})
		}
	}
	slices.SortFunc(out, func(a, b KeyName) int { return strings.Compare(a.Fold, b.Fold) })
	return out
}

// DecodeKeyValue fills Found, Readonly and Value from a snapshot's JSON
// element of the key (nil: the snapshot does not list it).
func DecodeKeyValue(v *store.ConfigKeyValue, elem []byte) error {
	if len(elem) == 0 {
		return nil
	}
	var k store.ConfigKey
	if err := json.Unmarshal(elem, &k); err != nil {
		return err
	}
	v.Found, v.Readonly, v.Value = true, k.Readonly, k.Value
	return nil
}
