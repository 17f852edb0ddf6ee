package postgres

import (
	"context"
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
	_, err = db.pool.Exec(ctx, `INSERT INTO config_snapshots (charger_id, keys, unknown_keys, taken_at)
		VALUES ($1, $2::jsonb, $3::jsonb, $4)
		ON CONFLICT (charger_id) DO UPDATE SET keys = excluded.keys, unknown_keys = excluded.unknown_keys,
			taken_at = excluded.taken_at`,
		s.ChargerID, string(keys), string(unknown), rules.OrNow(s.TakenAt))
	if err != nil {
		return fmt.Errorf("postgres: put configuration snapshot of %q: %w", s.ChargerID, err)
	}
	return nil
}

// GetConfigSnapshot implements store.Store.
func (db *DB) GetConfigSnapshot(ctx context.Context, chargerID string) (store.ConfigSnapshot, error) {
	s := store.ConfigSnapshot{ChargerID: chargerID}
	var keys, unknown string
	err := notFoundIfNoRows(db.pool.QueryRow(ctx, `SELECT keys::text, unknown_keys::text, taken_at
		FROM config_snapshots WHERE charger_id = $1`, chargerID).Scan(&keys, &unknown, &s.TakenAt))
	if err == nil {
		utc(&s.TakenAt)
		err = rules.DecodeConfigSnapshot(&s, []byte(keys), []byte(unknown))
	}
	if err != nil {
		return store.ConfigSnapshot{}, fmt.Errorf("postgres: configuration snapshot of %q: %w", chargerID, err)
	}
	return s, nil
}
