package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/wattson-csms/wattson/store"
	"github.com/wattson-csms/wattson/store/internal/rules"
)

// PutConfigSnapshot implements store.Store.
func (db *DB) PutConfigSnapshot(ctx context.Context, s store.ConfigSnapshot) error {
	keys, unknown, err := rules.ConfigSnapshot(s)
	if err != nil {
		return err
	}
	_, err = db.w.ExecContext(ctx, `INSERT INTO config_snapshots (charger_id, keys, unknown_keys, taken_at)
		VALUES (?, ?, ?, ?)
		ON CONFLICT (charger_id) DO UPDATE SET keys = excluded.keys, unknown_keys = excluded.unknown_keys,
			taken_at = excluded.taken_at`,
		s.ChargerID, keys, unknown, toMicros(rules.OrNow(s.TakenAt)))
	if err != nil {
		return fmt.Errorf("sqlite: put configuration snapshot of %q: %w", s.ChargerID, err)
	}
	return nil
}

// GetConfigSnapshot implements store.Store.
func (db *DB) GetConfigSnapshot(ctx context.Context, chargerID string) (store.ConfigSnapshot, error) {
	s := store.ConfigSnapshot{ChargerID: chargerID}
	var keys, unknown []byte
	var taken int64
	err := db.r.QueryRowContext(ctx, `SELECT keys, unknown_keys, taken_at FROM config_snapshots WHERE charger_id = ?`,
		chargerID).Scan(&keys, &unknown, &taken)
	if errors.Is(err, sql.ErrNoRows) {
		err = store.ErrNotFound
	}
	if err == nil {
		s.TakenAt = fromMicros(taken)
		err = rules.DecodeConfigSnapshot(&s, keys, unknown)
	}
	if err != nil {
		return store.ConfigSnapshot{}, fmt.Errorf("sqlite: configuration snapshot of %q: %w", chargerID, err)
	}
	return s, nil
}
