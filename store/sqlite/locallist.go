package sqlite

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/wattson-csms/wattson/store"
	"github.com/wattson-csms/wattson/store/internal/rules"
)

// listCols reads a list with its counts; pendingExpr is true for a sync
// row s (joined with its list l) that does not hold what it should.
const (
	pendingExpr = `(s.synced_want_gen < s.want_gen OR s.synced_list_gen <> coalesce(l.gen, 0))`
	listCols    = `l.id, l.name, l.description, l.gen, l.created_at, l.updated_at,
	(SELECT count(*) FROM local_list_members m WHERE m.list_id = l.id),
	(SELECT count(*) FROM local_list_sync s WHERE s.list_id = l.id),
	(SELECT count(*) FROM local_list_sync s WHERE s.list_id = l.id AND ` + pendingExpr + `),
	(SELECT count(*) FROM local_list_sync s WHERE s.list_id = l.id AND ` + pendingExpr + `
		AND s.result IN ('Failed', 'VersionMismatch'))`
	syncCols = `s.charger_id, coalesce(s.list_id, 0), coalesce(l.name, ''), s.version, s.held_hash IS NOT NULL,
	s.held_count, ` + pendingExpr + `, coalesce(l.gen, 0), s.want_gen, s.result, s.error, s.attempts,
	s.attempt_at, s.synced_at, s.next_at, s.updated_at`
	syncFrom = ` FROM local_list_sync s LEFT JOIN local_lists l ON l.id = s.list_id`
)

func scanLocalList(s scanner) (store.LocalList, error) {
	var l store.LocalList
	var created, updated int64
	err := s.Scan(&l.ID, &l.Name, &l.Description, &l.Gen, &created, &updated, &l.Members, &l.Chargers, &l.Pending, &l.Failed)
	l.CreatedAt, l.UpdatedAt = fromMicros(created), fromMicros(updated)
	return l, err
}

func scanSync(sc scanner) (store.LocalListSync, error) {
	var s store.LocalListSync
	var attempt, synced, next sql.NullInt64
	var updated int64
	err := sc.Scan(&s.ChargerID, &s.ListID, &s.ListName, &s.Version, &s.HeldKnown, &s.HeldCount, &s.Pending,
		&s.ListGen, &s.WantGen, &s.Result, &s.Error, &s.Attempts, &attempt, &synced, &next, &updated)
	s.AttemptAt, s.SyncedAt, s.NextAttemptAt = timePtr(attempt), timePtr(synced), timePtr(next)
	s.UpdatedAt = fromMicros(updated)
	return s, err
}

// CreateLocalList implements store.Store.
func (db *DB) CreateLocalList(ctx context.Context, l store.LocalList) (store.LocalList, error) {
	if err := rules.LocalList(l); err != nil {
		return store.LocalList{}, err
	}
	now := toMicros(rules.Now())
	var id int64
	err := db.w.QueryRowContext(ctx, `INSERT INTO local_lists (name, description, created_at, updated_at)
		VALUES (?, ?, ?, ?) RETURNING id`, l.Name, l.Description, now, now).Scan(&id)
	if isUnique(err) {
		err = fmt.Errorf("%w: a local list named %q exists", store.ErrConflict, l.Name)
	}
	if err != nil {
		return store.LocalList{}, fmt.Errorf("sqlite: create local list %q: %w", l.Name, err)
	}
	return db.getLocalList(ctx, db.w, id)
}

type queryRower interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

func (db *DB) getLocalList(ctx context.Context, q queryRower, id int64) (store.LocalList, error) {
	l, err := scanLocalList(q.QueryRowContext(ctx, `SELECT `+listCols+` FROM local_lists l WHERE l.id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		err = store.ErrNotFound
	}
	if err != nil {
		return store.LocalList{}, fmt.Errorf("sqlite: local list %d: %w", id, err)
	}
	return l, nil
}

// GetLocalList implements store.Store.
func (db *DB) GetLocalList(ctx context.Context, id int64) (store.LocalList, error) {
	return db.getLocalList(ctx, db.r, id)
}

// ListLocalLists implements store.Store.
func (db *DB) ListLocalLists(ctx context.Context) ([]store.LocalList, error) {
	rows, err := db.r.QueryContext(ctx, `SELECT `+listCols+` FROM local_lists l ORDER BY l.name, l.id`)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list local lists: %w", err)
	}
	out, err := collect(rows, scanLocalList)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list local lists: %w", err)
	}
	return out, nil
}

// UpdateLocalList implements store.Store.
func (db *DB) UpdateLocalList(ctx context.Context, l store.LocalList) (store.LocalList, error) {
	if err := rules.LocalList(l); err != nil {
		return store.LocalList{}, err
	}
	res, err := db.w.ExecContext(ctx, `UPDATE local_lists SET name = ?, description = ?, updated_at = ? WHERE id = ?`,
		l.Name, l.Description, toMicros(rules.Now()), l.ID)
	if isUnique(err) {
		err = fmt.Errorf("%w: a local list named %q exists", store.ErrConflict, l.Name)
	}
	if err == nil {
		err = mustAffect(res)
	}
	if err != nil {
		return store.LocalList{}, fmt.Errorf("sqlite: update local list %d: %w", l.ID, err)
	}
	return db.getLocalList(ctx, db.w, l.ID)
}

// DeleteLocalList implements store.Store.
func (db *DB) DeleteLocalList(ctx context.Context, id int64) error {
	err := db.tx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `UPDATE local_list_sync SET list_id = NULL, want_gen = want_gen + 1,
			updated_at = ? WHERE list_id = ?`, toMicros(rules.Now()), id); err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, `DELETE FROM local_lists WHERE id = ?`, id)
		if err != nil {
			return err
		}
		return mustAffect(res)
	})
	if err != nil {
		return fmt.Errorf("sqlite: delete local list %d: %w", id, err)
	}
	return nil
}

// ChangeLocalListMembers implements store.Store.
func (db *DB) ChangeLocalListMembers(ctx context.Context, listID int64, add, remove []string) error {
	if err := rules.LocalListMembers(add, remove); err != nil {
		return err
	}
	err := db.tx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		var one int
		if err := tx.QueryRowContext(ctx, `SELECT 1 FROM local_lists WHERE id = ?`, listID).Scan(&one); errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("local list %d: %w", listID, store.ErrNotFound)
		} else if err != nil {
			return err
		}
		changed := int64(0)
		for _, tag := range add {
			res, err := tx.ExecContext(ctx, `INSERT INTO local_list_members (list_id, id_tag) VALUES (?, ?)
				ON CONFLICT DO NOTHING`, listID, tag)
			if isForeignKey(err) {
				return fmt.Errorf("id tag %q: %w", tag, store.ErrNotFound)
			}
			if err != nil {
				return err
			}
			n, _ := res.RowsAffected()
			changed += n
		}
		for _, tag := range remove {
			res, err := tx.ExecContext(ctx, `DELETE FROM local_list_members WHERE list_id = ? AND id_tag = ?`, listID, tag)
			if err != nil {
				return err
			}
			n, _ := res.RowsAffected()
			changed += n
		}
		if changed == 0 {
			return nil
		}
		_, err := tx.ExecContext(ctx, `UPDATE local_lists SET gen = gen + 1, updated_at = ? WHERE id = ?`,
			toMicros(rules.Now()), listID)
		return err
	})
	if err != nil {
		return fmt.Errorf("sqlite: change members of local list %d: %w", listID, err)
	}
	return nil
}

// ListLocalListMembers implements store.Store.
func (db *DB) ListLocalListMembers(ctx context.Context, listID int64, after string, limit int) ([]store.IDTag, error) {
	if _, err := db.GetLocalList(ctx, listID); err != nil {
		return nil, err
	}
	rows, err := db.r.QueryContext(ctx, `SELECT t.id_tag, t.status, t.expiry_date, t.parent_id_tag, t.owner, t.note,
			t.created_at, t.updated_at
		FROM local_list_members m JOIN id_tags t ON t.id_tag = m.id_tag
		WHERE m.list_id = ? AND m.id_tag > ? ORDER BY m.id_tag LIMIT ?`, listID, after, rules.Limit(limit))
	if err != nil {
		return nil, fmt.Errorf("sqlite: members of local list %d: %w", listID, err)
	}
	out, err := collect(rows, scanIDTag)
	if err != nil {
		return nil, fmt.Errorf("sqlite: members of local list %d: %w", listID, err)
	}
	return out, nil
}

// LocalListEntries implements store.Store.
func (db *DB) LocalListEntries(ctx context.Context, listID int64) ([]store.LocalListEntry, error) {
	rows, err := db.r.QueryContext(ctx, `SELECT t.id_tag, t.status, t.expiry_date, t.parent_id_tag
		FROM local_list_members m JOIN id_tags t ON t.id_tag = m.id_tag
		WHERE m.list_id = ? ORDER BY m.id_tag`, listID)
	if err != nil {
		return nil, fmt.Errorf("sqlite: entries of local list %d: %w", listID, err)
	}
	out, err := collect(rows, func(s scanner) (store.LocalListEntry, error) {
		var e store.LocalListEntry
		var exp sql.NullInt64
		err := s.Scan(&e.IDTag, &e.Status, &exp, &e.ParentIDTag)
		e.ExpiryDate = timePtr(exp)
		return e, err
	})
	if err != nil {
		return nil, fmt.Errorf("sqlite: entries of local list %d: %w", listID, err)
	}
	if out == nil {
		out = []store.LocalListEntry{}
	}
	return out, nil
}

// AssignLocalList implements store.Store.
func (db *DB) AssignLocalList(ctx context.Context, chargerID string, listID int64) (store.LocalListSync, error) {
	if err := rules.ChargerID(chargerID); err != nil {
		return store.LocalListSync{}, err
	}
	now := toMicros(rules.Now())
	var out store.LocalListSync
	err := db.tx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		var one int
		if err := tx.QueryRowContext(ctx, `SELECT 1 FROM chargers WHERE id = ?`, chargerID).Scan(&one); errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("charger %q: %w", chargerID, store.ErrNotFound)
		} else if err != nil {
			return err
		}
		if listID == 0 {
			if _, err := tx.ExecContext(ctx, `UPDATE local_list_sync SET list_id = NULL, want_gen = want_gen + 1,
				result = CASE WHEN result = 'NotSupported' THEN '' ELSE result END, next_at = NULL, attempts = 0,
				updated_at = ? WHERE charger_id = ? AND list_id IS NOT NULL`, now, chargerID); err != nil {
				return err
			}
		} else {
			if err := tx.QueryRowContext(ctx, `SELECT 1 FROM local_lists WHERE id = ?`, listID).Scan(&one); errors.Is(err, sql.ErrNoRows) {
				return fmt.Errorf("local list %d: %w", listID, store.ErrNotFound)
			} else if err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO local_list_sync (charger_id, list_id, updated_at) VALUES (?, ?, ?)
				ON CONFLICT (charger_id) DO UPDATE SET list_id = excluded.list_id, want_gen = want_gen + 1,
					result = CASE WHEN result = 'NotSupported' THEN '' ELSE result END, next_at = NULL, attempts = 0,
					updated_at = excluded.updated_at
				WHERE local_list_sync.list_id IS NOT excluded.list_id`, chargerID, listID, now); err != nil {
				return err
			}
		}
		var err error
		out, err = scanSync(tx.QueryRowContext(ctx, `SELECT `+syncCols+syncFrom+` WHERE s.charger_id = ?`, chargerID))
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("charger %q has no local list: %w", chargerID, store.ErrNotFound)
		}
		return err
	})
	if err != nil {
		return store.LocalListSync{}, fmt.Errorf("sqlite: assign local list %d to %q: %w", listID, chargerID, err)
	}
	return out, nil
}

// GetLocalListSync implements store.Store.
func (db *DB) GetLocalListSync(ctx context.Context, chargerID string) (store.LocalListSync, error) {
	var held []byte
	var s store.LocalListSync
	err := func() error {
		tx, err := db.r.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
		if err != nil {
			return err
		}
		defer tx.Rollback()
		s, err = scanSync(tx.QueryRowContext(ctx, `SELECT `+syncCols+syncFrom+` WHERE s.charger_id = ?`, chargerID))
		if errors.Is(err, sql.ErrNoRows) {
			return store.ErrNotFound
		}
		if err != nil || !s.HeldKnown {
			return err
		}
		err = tx.QueryRowContext(ctx, `SELECT c.entries FROM local_list_sync s JOIN local_list_contents c ON c.hash = s.held_hash
			WHERE s.charger_id = ?`, chargerID).Scan(&held)
		if err != nil {
			return err
		}
		s.Held, err = rules.DecodeLocalListContent(held)
		return err
	}()
	if err != nil {
		return store.LocalListSync{}, fmt.Errorf("sqlite: local list of %q: %w", chargerID, err)
	}
	return s, nil
}

// ListLocalListSyncs implements store.Store.
func (db *DB) ListLocalListSyncs(ctx context.Context, f store.LocalListSyncFilter) ([]store.LocalListSync, error) {
	var where []string
	var args []any
	if f.ListID != 0 {
		where = append(where, "s.list_id = ?")
		args = append(args, f.ListID)
	}
	if f.Pending {
		where = append(where, pendingExpr, "s.result <> 'NotSupported'", "(s.next_at IS NULL OR s.next_at <= ?)")
		args = append(args, toMicros(rules.OrNow(f.Due)))
	}
	if f.After != "" {
		where = append(where, "s.charger_id > ?")
		args = append(args, f.After)
	}
	args = append(args, rules.Limit(f.Limit))
	rows, err := db.r.QueryContext(ctx, `SELECT `+syncCols+syncFrom+whereClause(where)+` ORDER BY s.charger_id LIMIT ?`, args...)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list local list states: %w", err)
	}
	out, err := collect(rows, scanSync)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list local list states: %w", err)
	}
	return out, nil
}

// RequestLocalListSync implements store.Store.
func (db *DB) RequestLocalListSync(ctx context.Context, chargerIDs []string, full bool) error {
	if err := rules.Bulk(chargerIDs); err != nil {
		return err
	}
	if len(chargerIDs) == 0 {
		return nil
	}
	forget := ""
	if full {
		forget = ", held_hash = NULL, held_count = 0"
	}
	args := []any{toMicros(rules.Now())}
	for _, id := range chargerIDs {
		args = append(args, id)
	}
	err := db.tx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `UPDATE local_list_sync SET want_gen = want_gen + 1, next_at = NULL, attempts = 0,
			result = CASE WHEN result = 'NotSupported' THEN '' ELSE result END`+forget+`, updated_at = ?
			WHERE charger_id IN (?`+strings.Repeat(", ?", len(chargerIDs)-1)+`)`, args...); err != nil {
			return err
		}
		if full {
			return gcContents(ctx, tx)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("sqlite: request local list sync: %w", err)
	}
	return nil
}

// gcContents deletes the contents no charger holds any more: the one with
// the hash given, or all of them.
func gcContents(ctx context.Context, tx *sql.Tx, hash ...[]byte) error {
	if len(hash) == 1 {
		_, err := tx.ExecContext(ctx, `DELETE FROM local_list_contents WHERE hash = ? AND NOT EXISTS (
			SELECT 1 FROM local_list_sync s WHERE s.held_hash = ?)`, hash[0], hash[0])
		return err
	}
	_, err := tx.ExecContext(ctx, `DELETE FROM local_list_contents WHERE NOT EXISTS (
		SELECT 1 FROM local_list_sync s WHERE s.held_hash = local_list_contents.hash)`)
	return err
}

// RecordLocalListSync implements store.Store.
func (db *DB) RecordLocalListSync(ctx context.Context, o store.LocalListOutcome) error {
	if err := rules.LocalListResult(o); err != nil {
		return err
	}
	var hash, content []byte
	if o.Held != nil {
		var err error
		if hash, content, err = rules.LocalListContent(o.Held); err != nil {
			return err
		}
	}
	at := toMicros(rules.OrNow(o.At))
	err := db.tx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		var old []byte
		if err := tx.QueryRowContext(ctx, `SELECT held_hash FROM local_list_sync WHERE charger_id = ?`, o.ChargerID).Scan(&old); errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("charger %q has no local list: %w", o.ChargerID, store.ErrNotFound)
		} else if err != nil {
			return err
		}
		if hash != nil {
			if _, err := tx.ExecContext(ctx, `INSERT INTO local_list_contents (hash, entries) VALUES (?, ?)
				ON CONFLICT DO NOTHING`, hash, content); err != nil {
				return err
			}
		}
		result := o.Result
		_, err := tx.ExecContext(ctx, `UPDATE local_list_sync SET version = ?, held_hash = ?, held_count = ?,
			result = ?, error = ?, attempts = CASE WHEN ? THEN 0 ELSE attempts + 1 END, attempt_at = ?,
			synced_at = CASE WHEN ? THEN ? ELSE synced_at END,
			synced_want_gen = CASE WHEN ? THEN max(synced_want_gen, ?) ELSE synced_want_gen END,
			synced_list_gen = CASE WHEN ? THEN ? ELSE synced_list_gen END,
			next_at = ?, updated_at = ?
			WHERE charger_id = ?`,
			o.Version, hash, len(o.Held), result, o.Error, result == store.LocalListAccepted, at,
			o.Synced, at, o.Synced, o.WantGen, o.Synced, o.ListGen, nullMicros(o.NextAttemptAt), at, o.ChargerID)
		if err != nil {
			return err
		}
		if old != nil && !bytes.Equal(old, hash) {
			return gcContents(ctx, tx, old)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("sqlite: record local list sync of %q: %w", o.ChargerID, err)
	}
	return nil
}
