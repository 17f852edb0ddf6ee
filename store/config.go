package store

import (
	"context"
	"strings"
	"time"
)

// ConfigKey is one configuration key as a charger reported it in a
// GetConfiguration answer.
type ConfigKey struct {
	Key      string `json:"key"`
	Readonly bool   `json:"readonly"`
	Value    string `json:"value"`
}

// ConfigSnapshot is a charger's configuration as its last GetConfiguration
// answer gave it, and when that was.
type ConfigSnapshot struct {
	ChargerID   string
	Keys        []ConfigKey
	UnknownKeys []string
	TakenAt     time.Time
}

// ConfigStore keeps the latest configuration snapshot of each charger;
// Store includes it.
type ConfigStore interface {
	// PutConfigSnapshot replaces the charger's snapshot; a zero TakenAt is
	// now. A snapshot references no charger row.
	PutConfigSnapshot(ctx context.Context, s ConfigSnapshot) error
	// GetConfigSnapshot returns the charger's snapshot, ErrNotFound if
	// there is none. Keys and UnknownKeys are non-nil.
	GetConfigSnapshot(ctx context.Context, chargerID string) (ConfigSnapshot, error)

	ConfigHistory
}

// ConfigStatus is a charger's answer to ChangeConfiguration.
type ConfigStatus string

// The four answers OCPP 1.6 allows.
const (
	ConfigAccepted       ConfigStatus = "Accepted"
	ConfigRejected       ConfigStatus = "Rejected"
	ConfigRebootRequired ConfigStatus = "RebootRequired"
	ConfigNotSupported   ConfigStatus = "NotSupported"
)

// Took reports whether the charger took the value (now or at its next
// reboot).
func (s ConfigStatus) Took() bool { return s == ConfigAccepted || s == ConfigRebootRequired }

// ConfigChange is the last ChangeConfiguration of one key on one charger
// and the charger's answer.
type ConfigChange struct {
	ChargerID string
	// Key as the snapshot spells it if it lists the key, else as sent:
	// keys are case-insensitive (CiString50).
	Key string
	// Value is what was sent; empty for write-only keys (AuthorizationKey),
	// which are never kept.
	Value  string
	Status ConfigStatus
	// At is when the charger answered.
	At time.Time
	// PendingReboot is set on reads: the answer was RebootRequired and the
	// charger has not booted since.
	PendingReboot bool
}

// ConfigKeyValue is one charger's view of one key, from its snapshot and
// its last change of the key.
type ConfigKeyValue struct {
	ChargerID string
	// TakenAt is the snapshot's time; nil when the charger has no snapshot
	// (it is listed for a change of the key only).
	TakenAt *time.Time
	// Found: the snapshot lists the key (then Readonly and Value are its).
	Found    bool
	Readonly bool
	Value    string
	// Change is the last change of the key, if any.
	Change *ConfigChange
}

// ConfigKeyFilter selects the chargers of a fleet view of one key, ordered
// by charger id: those with a snapshot or a change of the key.
type ConfigKeyFilter struct {
	Key   string // required
	After string // charger id to continue after
	Limit int    // 0 means 100, at most 1,000
}

// ConfigKeyName is a key seen in some snapshot.
type ConfigKeyName struct {
	Key      string
	Readonly bool // as first seen
}

// ConfigHistory adds the results of ChangeConfiguration and fleet views
// to ConfigStore.
type ConfigHistory interface {
	// RecordConfigChange keeps a charger's answer to a change of a key,
	// replacing the key's earlier one, and when the charger took the value
	// sets it in the charger's snapshot (adding the key if the snapshot
	// does not list it) — in one atomic step, so changes of several keys
	// racing on one charger all stay. A change answered before the one
	// kept, or before the snapshot was taken, changes neither: it is
	// older news. A zero At is now. It returns the change as kept: the
	// key as the snapshot spells it, the value dropped for a write-only
	// key, PendingReboot set for RebootRequired.
	RecordConfigChange(ctx context.Context, c ConfigChange) (ConfigChange, error)
	// ListConfigChanges returns the charger's last change of each key,
	// ordered by key, with PendingReboot set.
	ListConfigChanges(ctx context.Context, chargerID string) ([]ConfigChange, error)
	// ConfigKeyAcross returns one key on many chargers (see
	// ConfigKeyFilter), with PendingReboot set, in a bounded number of
	// queries.
	ConfigKeyAcross(ctx context.Context, f ConfigKeyFilter) ([]ConfigKeyValue, error)
	// ConfigKeyNames returns the keys seen in any snapshot, ordered by
	// name case-insensitively, at most 2,000.
	ConfigKeyNames(ctx context.Context) ([]ConfigKeyName, error)
}

// WriteOnlyKey reports whether a key's value is never kept:
// AuthorizationKey is the charger's Basic-auth password, write-only in
// OCPP 1.6.
func WriteOnlyKey(key string) bool { return strings.EqualFold(key, "AuthorizationKey") }
