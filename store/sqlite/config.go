package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
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
	err = db.tx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO config_snapshots (charger_id, keys, unknown_keys, taken_at)
			VALUES (?, ?, ?, ?)
			ON CONFLICT (charger_id) DO UPDATE SET keys = excluded.keys, unknown_keys = excluded.unknown_keys,
				taken_at = excluded.taken_at`,
			s.ChargerID, keys, unknown, toMicros(rules.OrNow(s.TakenAt)))
		if err != nil {
			return err
		}
		return putKeyNames(ctx, tx, s.Keys)
	})
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

// putKeyNames remembers a snapshot's key names. Names are never updated
// (the read-only flag is as first seen): a refresh of the fleet then
// writes nothing here once the names are known.
func putKeyNames(ctx context.Context, tx *sql.Tx, keys []store.ConfigKey) error {
	names, err := json.Marshal(rules.KeyNames(keys))
	if err != nil {
		return err
	}
	_, err = tx.ExecContext(ctx, `INSERT INTO config_key_names (key_ci, key, readonly)
		SELECT json_extract(j.value, '$.f'), json_extract(j.value, '$.k'), json_extract(j.value, '$.r')
		FROM json_each(?) AS j WHERE true
		ON CONFLICT (key_ci) DO NOTHING`, string(names))
	return err
}

// RecordConfigChange implements store.Store. The single writer connection
// and BEGIN IMMEDIATE make the read of the snapshot and its rewrite one
// step.
func (db *DB) RecordConfigChange(ctx context.Context, c store.ConfigChange) (store.ConfigChange, error) {
	c, err := rules.ConfigChange(c)
	if err != nil {
		return store.ConfigChange{}, err
	}
	fold := rules.FoldKey(c.Key)
	err = db.tx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		var keys []byte
		var taken int64
		snap := true
		err := tx.QueryRowContext(ctx, `SELECT keys, taken_at FROM config_snapshots WHERE charger_id = ?`, c.ChargerID).Scan(&keys, &taken)
		if errors.Is(err, sql.ErrNoRows) {
			snap, err = false, nil
		}
		if err != nil {
			return err
		}
		var prev int64
		err = tx.QueryRowContext(ctx, `SELECT changed_at FROM config_changes WHERE charger_id = ? AND key_ci = ?`,
			c.ChargerID, fold).Scan(&prev)
		switch {
		case err == nil && fromMicros(prev).After(c.At):
			return nil // a later answer is kept already
		case err != nil && !errors.Is(err, sql.ErrNoRows):
			return err
		}
		if snap {
			out, key, changed, err := rules.ApplyConfigChange(keys, fromMicros(taken), c)
			if err != nil {
				return err
			}
			c.Key = key
			if changed {
				if _, err := tx.ExecContext(ctx, `UPDATE config_snapshots SET keys = ? WHERE charger_id = ?`, out, c.ChargerID); err != nil {
					return err
				}
			}
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO config_changes (charger_id, key_ci, key, value, status, changed_at)
			VALUES (?, ?, ?, ?, ?, ?)
			ON CONFLICT (charger_id, key_ci) DO UPDATE SET key = excluded.key, value = excluded.value,
				status = excluded.status, changed_at = excluded.changed_at`,
			c.ChargerID, fold, c.Key, c.Value, string(c.Status), toMicros(c.At))
		return err
	})
	if err != nil {
		return store.ConfigChange{}, fmt.Errorf("sqlite: record configuration change of %q on %q: %w", c.Key, c.ChargerID, err)
	}
	return c, nil
}

// ListConfigChanges implements store.Store.
func (db *DB) ListConfigChanges(ctx context.Context, chargerID string) ([]store.ConfigChange, error) {
	rows, err := db.r.QueryContext(ctx, `SELECT k.key, k.value, k.status, k.changed_at, c.last_boot_at
		FROM config_changes k LEFT JOIN chargers c ON c.id = k.charger_id
		WHERE k.charger_id = ? ORDER BY k.key_ci`, chargerID)
	if err != nil {
		return nil, fmt.Errorf("sqlite: configuration changes of %q: %w", chargerID, err)
	}
	defer rows.Close()
	out := []store.ConfigChange{}
	for rows.Next() {
		ch := store.ConfigChange{ChargerID: chargerID}
		var at int64
		var boot sql.NullInt64
		if err := rows.Scan(&ch.Key, &ch.Value, &ch.Status, &at, &boot); err != nil {
			return nil, fmt.Errorf("sqlite: configuration changes of %q: %w", chargerID, err)
		}
		ch.At = fromMicros(at)
		ch.PendingReboot = rules.PendingReboot(ch, timePtr(boot))
		out = append(out, ch)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: configuration changes of %q: %w", chargerID, err)
	}
	return out, nil
}

// ConfigKeyAcross implements store.Store: one query for the page. The key
// is looked up in each listed snapshot's JSON, so the cost is the page's,
// not the fleet's.
func (db *DB) ConfigKeyAcross(ctx context.Context, f store.ConfigKeyFilter) ([]store.ConfigKeyValue, error) {
	if f.Key == "" {
		return nil, fmt.Errorf("sqlite: configuration key across chargers: %w: no key", store.ErrInvalid)
	}
	fold := rules.FoldKey(f.Key)
	// SQLite merges the two ordered sides of the union and stops at the
	// limit: a page reads about a page of ids, however big the fleet.
	rows, err := db.r.QueryContext(ctx, `WITH ids AS (
			SELECT charger_id FROM config_snapshots WHERE charger_id > ?1
			UNION
			SELECT charger_id FROM config_changes WHERE key_ci = ?2 AND charger_id > ?1
			ORDER BY charger_id LIMIT ?3)
		SELECT ids.charger_id, s.taken_at,
			(SELECT j.value FROM json_each(CAST(s.keys AS TEXT)) AS j WHERE lower(json_extract(j.value, '$.key')) = ?2 LIMIT 1),
			k.key, k.value, k.status, k.changed_at, c.last_boot_at
		FROM ids
		LEFT JOIN config_snapshots s ON s.charger_id = ids.charger_id
		LEFT JOIN config_changes k ON k.charger_id = ids.charger_id AND k.key_ci = ?2
		LEFT JOIN chargers c ON c.id = ids.charger_id
		ORDER BY ids.charger_id`, f.After, fold, rules.Limit(f.Limit))
	if err != nil {
		return nil, fmt.Errorf("sqlite: configuration key %q across chargers: %w", f.Key, err)
	}
	defer rows.Close()
	out := []store.ConfigKeyValue{}
	for rows.Next() {
		var v store.ConfigKeyValue
		var taken, changedAt, boot sql.NullInt64
		var elem []byte
		var key, value, status sql.NullString
		if err := rows.Scan(&v.ChargerID, &taken, &elem, &key, &value, &status, &changedAt, &boot); err != nil {
			return nil, fmt.Errorf("sqlite: configuration key %q across chargers: %w", f.Key, err)
		}
		v.TakenAt = timePtr(taken)
		if err := rules.DecodeKeyValue(&v, elem); err != nil {
			return nil, fmt.Errorf("sqlite: configuration key %q of %q: %w", f.Key, v.ChargerID, err)
		}
		if key.Valid {
			ch := store.ConfigChange{ChargerID: v.ChargerID, Key: key.String, Value: value.String,
				Status: store.ConfigStatus(status.String), At: fromMicros(changedAt.Int64)}
			ch.PendingReboot = rules.PendingReboot(ch, timePtr(boot))
			v.Change = &ch
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: configuration key %q across chargers: %w", f.Key, err)
	}
	return out, nil
}

// ConfigKeyNames implements store.Store.
func (db *DB) ConfigKeyNames(ctx context.Context) ([]store.ConfigKeyName, error) {
	rows, err := db.r.QueryContext(ctx, `SELECT key, readonly FROM config_key_names ORDER BY key_ci LIMIT ?`, rules.MaxConfigKeyNames)
	if err != nil {
		return nil, fmt.Errorf("sqlite: configuration key names: %w", err)
	}
	defer rows.Close()
	out := []store.ConfigKeyName{}
	for rows.Next() {
		var n store.ConfigKeyName
		if err := rows.Scan(&n.Key, &n.Readonly); err != nil {
			return nil, fmt.Errorf("sqlite: configuration key names: %w", err)
		}
		out = append(out, n)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: configuration key names: %w", err)
	}
	return out, nil
}
