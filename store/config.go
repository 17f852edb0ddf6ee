package store

import (
	"context"
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
}
