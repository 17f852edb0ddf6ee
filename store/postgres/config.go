package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/wattson-csms/wattson/store"
	"github.com/wattson-csms/wattson/store/internal/rules"
)

// PutConfigSnapshot implements store.Store.
func (db *DB) PutConfigSnapshot(ctx context.Context, s store.ConfigSnapshot) error {
	keys, unknown, err := rules.ConfigSnapshot(s)
	if err != nil {
		return err
	}
	names, err := json.Marshal(rules.KeyNames(s.Keys))
	if err != nil {
		return err
	}
	err = pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `INSERT INTO config_snapshots (charger_id, keys, unknown_keys, taken_at)
			VALUES ($1, $2::jsonb, $3::jsonb, $4)
			ON CONFLICT (charger_id) DO UPDATE SET keys = excluded.keys, unknown_keys = excluded.unknown_keys,
				taken_at = excluded.taken_at`,
			s.ChargerID, string(keys), string(unknown), rules.OrNow(s.TakenAt))
		if err != nil {
			return err
		}
		// Names are never updated (the read-only flag is as first seen):
		// DO NOTHING takes no row lock, so snapshots of many chargers
		// arriving at once do not queue behind each other here.
		_, err = tx.Exec(ctx, `INSERT INTO config_key_names (key_ci, key, readonly)
			SELECT f, k, r FROM jsonb_to_recordset($1::jsonb) AS x(f text, k text, r boolean)
			ON CONFLICT (key_ci) DO NOTHING`, string(names))
		return err
	})
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

// RecordConfigChange implements store.Store. The snapshot's row lock
// (FOR UPDATE) makes the changes of one charger one at a time; without a
// snapshot the upsert's condition keeps the later answer.
func (db *DB) RecordConfigChange(ctx context.Context, c store.ConfigChange) (store.ConfigChange, error) {
	c, err := rules.ConfigChange(c)
	if err != nil {
		return store.ConfigChange{}, err
	}
	fold := rules.FoldKey(c.Key)
	err = pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
		var keys string
		var taken time.Time
		snap := true
		err := tx.QueryRow(ctx, `SELECT keys::text, taken_at FROM config_snapshots WHERE charger_id = $1 FOR UPDATE`,
			c.ChargerID).Scan(&keys, &taken)
		if errors.Is(err, pgx.ErrNoRows) {
			snap, err = false, nil
		}
		if err != nil {
			return err
		}
		var prev time.Time
		err = tx.QueryRow(ctx, `SELECT changed_at FROM config_changes WHERE charger_id = $1 AND key_ci = $2`,
			c.ChargerID, fold).Scan(&prev)
		switch {
		case err == nil && prev.After(c.At):
			return nil // a later answer is kept already
		case err != nil && !errors.Is(err, pgx.ErrNoRows):
			return err
		}
		if snap {
			out, key, changed, err := rules.ApplyConfigChange([]byte(keys), taken, c)
			if err != nil {
				return err
			}
			c.Key = key
			if changed {
				if _, err := tx.Exec(ctx, `UPDATE config_snapshots SET keys = $2::jsonb WHERE charger_id = $1`, c.ChargerID, string(out)); err != nil {
					return err
				}
			}
		}
		_, err = tx.Exec(ctx, `INSERT INTO config_changes (charger_id, key_ci, key, value, status, changed_at)
			VALUES ($1, $2, $3, $4, $5, $6)
			ON CONFLICT (charger_id, key_ci) DO UPDATE SET key = excluded.key, value = excluded.value,
				status = excluded.status, changed_at = excluded.changed_at
			WHERE config_changes.changed_at <= excluded.changed_at`,
			c.ChargerID, fold, c.Key, c.Value, string(c.Status), c.At)
		return err
	})
	if err != nil {
		return store.ConfigChange{}, fmt.Errorf("postgres: record configuration change of %q on %q: %w", c.Key, c.ChargerID, err)
	}
	return c, nil
}

// ListConfigChanges implements store.Store.
func (db *DB) ListConfigChanges(ctx context.Context, chargerID string) ([]store.ConfigChange, error) {
	rows, err := db.pool.Query(ctx, `SELECT k.key, k.value, k.status, k.changed_at, c.last_boot_at
		FROM config_changes k LEFT JOIN chargers c ON c.id = k.charger_id
		WHERE k.charger_id = $1 ORDER BY k.key_ci`, chargerID)
	if err != nil {
		return nil, fmt.Errorf("postgres: configuration changes of %q: %w", chargerID, err)
	}
	defer rows.Close()
	out := []store.ConfigChange{}
	for rows.Next() {
		ch := store.ConfigChange{ChargerID: chargerID}
		var boot *time.Time
		if err := rows.Scan(&ch.Key, &ch.Value, &ch.Status, &ch.At, &boot); err != nil {
			return nil, fmt.Errorf("postgres: configuration changes of %q: %w", chargerID, err)
		}
		utc(&ch.At)
		ch.PendingReboot = rules.PendingReboot(ch, boot)
		out = append(out, ch)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("postgres: configuration changes of %q: %w", chargerID, err)
	}
	return out, nil
}

// ConfigKeyAcross implements store.Store: one query for the page. The key
// is looked up in each listed snapshot's JSON, so the cost is the page's,
// not the fleet's.
func (db *DB) ConfigKeyAcross(ctx context.Context, f store.ConfigKeyFilter) ([]store.ConfigKeyValue, error) {
	if f.Key == "" {
		return nil, fmt.Errorf("postgres: configuration key across chargers: %w: no key", store.ErrInvalid)
	}
	// Each side is cut to a page first and joined from there, and the
	// charger's boot time is looked up per row: a page costs a page, however
	// big the fleet (joining the whole tables lets the planner hash them).
	// The first page of the union only holds ids from the first page of
	// each side.
	rows, err := db.pool.Query(ctx, `WITH
		snap AS (SELECT charger_id, taken_at, keys FROM config_snapshots
			WHERE charger_id > $1 ORDER BY charger_id LIMIT $3),
		chg AS (SELECT charger_id, key, value, status, changed_at FROM config_changes
			WHERE key_ci = $2 AND charger_id > $1 ORDER BY charger_id LIMIT $3),
		ids AS (SELECT charger_id FROM snap UNION SELECT charger_id FROM chg ORDER BY charger_id LIMIT $3)
		SELECT ids.charger_id, s.taken_at,
			(SELECT e::text FROM jsonb_array_elements(s.keys) AS e WHERE lower(e->>'key') = $2 LIMIT 1),
			k.key, k.value, k.status, k.changed_at,
			(SELECT c.last_boot_at FROM chargers c WHERE c.id = ids.charger_id)
		FROM ids
		LEFT JOIN snap s ON s.charger_id = ids.charger_id
		LEFT JOIN chg k ON k.charger_id = ids.charger_id
		ORDER BY ids.charger_id`, f.After, rules.FoldKey(f.Key), rules.Limit(f.Limit))
	if err != nil {
		return nil, fmt.Errorf("postgres: configuration key %q across chargers: %w", f.Key, err)
	}
	defer rows.Close()
	out := []store.ConfigKeyValue{}
	for rows.Next() {
		var v store.ConfigKeyValue
		var elem, key, value, status *string
		var changedAt, boot *time.Time
		if err := rows.Scan(&v.ChargerID, &v.TakenAt, &elem, &key, &value, &status, &changedAt, &boot); err != nil {
			return nil, fmt.Errorf("postgres: configuration key %q across chargers: %w", f.Key, err)
		}
		v.TakenAt = utcPtr(v.TakenAt)
		if elem != nil {
			if err := rules.DecodeKeyValue(&v, []byte(*elem)); err != nil {
				return nil, fmt.Errorf("postgres: configuration key %q of %q: %w", f.Key, v.ChargerID, err)
			}
		}
		if key != nil {
			ch := store.ConfigChange{ChargerID: v.ChargerID, Key: *key, Value: *value,
				Status: store.ConfigStatus(*status), At: changedAt.UTC()}
			ch.PendingReboot = rules.PendingReboot(ch, boot)
			v.Change = &ch
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("postgres: configuration key %q across chargers: %w", f.Key, err)
	}
	return out, nil
}

// ConfigKeyNames implements store.Store.
func (db *DB) ConfigKeyNames(ctx context.Context) ([]store.ConfigKeyName, error) {
	rows, err := db.pool.Query(ctx, `SELECT key, readonly FROM config_key_names ORDER BY key_ci LIMIT $1`, rules.MaxConfigKeyNames)
	if err != nil {
		return nil, fmt.Errorf("postgres: configuration key names: %w", err)
	}
	defer rows.Close()
	out := []store.ConfigKeyName{}
	for rows.Next() {
		var n store.ConfigKeyName
		if err := rows.Scan(&n.Key, &n.Readonly); err != nil {
			return nil, fmt.Errorf("postgres: configuration key names: %w", err)
		}
		out = append(out, n)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("postgres: configuration key names: %w", err)
	}
	return out, nil
}
