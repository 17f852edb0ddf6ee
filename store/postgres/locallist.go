package postgres

import (
	"bytes"
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

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

func scanLocalList(r pgx.Row) (store.LocalList, error) {
	var l store.LocalList
	err := r.Scan(&l.ID, &l.Name, &l.Description, &l.Gen, &l.CreatedAt, &l.UpdatedAt, &l.Members, &l.Chargers, &l.Pending, &l.Failed)
	utc(&l.CreatedAt)
	utc(&l.UpdatedAt)
	return l, err
}

func scanSync(r pgx.Row) (store.LocalListSync, error) {
	var s store.LocalListSync
	err := r.Scan(&s.ChargerID, &s.ListID, &s.ListName, &s.Version, &s.HeldKnown, &s.HeldCount, &s.Pending,
		&s.ListGen, &s.WantGen, &s.Result, &s.Error, &s.Attempts, &s.AttemptAt, &s.SyncedAt, &s.NextAttemptAt, &s.UpdatedAt)
	s.AttemptAt, s.SyncedAt, s.NextAttemptAt = utcPtr(s.AttemptAt), utcPtr(s.SyncedAt), utcPtr(s.NextAttemptAt)
	utc(&s.UpdatedAt)
	return s, err
}

type queryRower interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// CreateLocalList implements store.Store.
func (db *DB) CreateLocalList(ctx context.Context, l store.LocalList) (store.LocalList, error) {
	if err := rules.LocalList(l); err != nil {
		return store.LocalList{}, err
	}
	var id int64
	err := db.pool.QueryRow(ctx, `INSERT INTO local_lists (name, description, created_at, updated_at)
		VALUES ($1, $2, $3, $3) RETURNING id`, l.Name, l.Description, rules.Now()).Scan(&id)
	if isUnique(err) {
		err = fmt.Errorf("%w: a local list named %q exists", store.ErrConflict, l.Name)
	}
	if err != nil {
		return store.LocalList{}, fmt.Errorf("postgres: create local list %q: %w", l.Name, err)
	}
	return db.getLocalList(ctx, db.pool, id)
}

func (db *DB) getLocalList(ctx context.Context, q queryRower, id int64) (store.LocalList, error) {
	l, err := scanLocalList(q.QueryRow(ctx, `SELECT `+listCols+` FROM local_lists l WHERE l.id = $1`, id))
	if err != nil {
		return store.LocalList{}, fmt.Errorf("postgres: local list %d: %w", id, notFoundIfNoRows(err))
	}
	return l, nil
}

// GetLocalList implements store.Store.
func (db *DB) GetLocalList(ctx context.Context, id int64) (store.LocalList, error) {
	return db.getLocalList(ctx, db.pool, id)
}

// ListLocalLists implements store.Store.
func (db *DB) ListLocalLists(ctx context.Context) ([]store.LocalList, error) {
	rows, err := db.pool.Query(ctx, `SELECT `+listCols+` FROM local_lists l ORDER BY l.name, l.id`)
	out, err := collect(rows, err, scanLocalList)
	if err != nil {
		return nil, fmt.Errorf("postgres: list local lists: %w", err)
	}
	return out, nil
}

// UpdateLocalList implements store.Store.
func (db *DB) UpdateLocalList(ctx context.Context, l store.LocalList) (store.LocalList, error) {
	if err := rules.LocalList(l); err != nil {
		return store.LocalList{}, err
	}
	err := mustAffect(db.pool.Exec(ctx, `UPDATE local_lists SET name = $1, description = $2, updated_at = $3 WHERE id = $4`,
		l.Name, l.Description, rules.Now(), l.ID))
	if isUnique(err) {
		err = fmt.Errorf("%w: a local list named %q exists", store.ErrConflict, l.Name)
	}
	if err != nil {
		return store.LocalList{}, fmt.Errorf("postgres: update local list %d: %w", l.ID, err)
	}
	return db.getLocalList(ctx, db.pool, l.ID)
}

// DeleteLocalList implements store.Store.
func (db *DB) DeleteLocalList(ctx context.Context, id int64) error {
	err := pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `UPDATE local_list_sync SET list_id = NULL, want_gen = want_gen + 1,
			updated_at = $1 WHERE list_id = $2`, rules.Now(), id); err != nil {
			return err
		}
		return mustAffect(tx.Exec(ctx, `DELETE FROM local_lists WHERE id = $1`, id))
	})
	if err != nil {
		return fmt.Errorf("postgres: delete local list %d: %w", id, err)
	}
	return nil
}

// ChangeLocalListMembers implements store.Store. The list's row is locked
// first, so concurrent changes of one list apply one after another.
func (db *DB) ChangeLocalListMembers(ctx context.Context, listID int64, add, remove []string) error {
	if err := rules.LocalListMembers(add, remove); err != nil {
		return err
	}
	err := pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
		var one int
		if err := tx.QueryRow(ctx, `SELECT 1 FROM local_lists WHERE id = $1 FOR UPDATE`, listID).Scan(&one); err != nil {
			return fmt.Errorf("local list %d: %w", listID, notFoundIfNoRows(err))
		}
		changed := int64(0)
		if len(add) > 0 {
			// Unknown tags are named one by one, for a clear error.
			var missing []string
			rows, err := tx.Query(ctx, `SELECT t FROM unnest($1::text[]) AS t
				WHERE NOT EXISTS (SELECT 1 FROM id_tags WHERE id_tag = t) LIMIT 1`, add)
			if missing, err = collect(rows, err, func(r pgx.Row) (string, error) {
				var s string
				return s, r.Scan(&s)
			}); err != nil {
				return err
			}
			if len(missing) > 0 {
				return fmt.Errorf("id tag %q: %w", missing[0], store.ErrNotFound)
			}
			tag, err := tx.Exec(ctx, `INSERT INTO local_list_members (list_id, id_tag)
				SELECT $1, t FROM unnest($2::text[]) AS t ON CONFLICT DO NOTHING`, listID, add)
			if isForeignKey(err) {
				return fmt.Errorf("an id tag to add was deleted meanwhile: %w", store.ErrNotFound)
			}
			if err != nil {
				return err
			}
			changed += tag.RowsAffected()
		}
		if len(remove) > 0 {
			tag, err := tx.Exec(ctx, `DELETE FROM local_list_members WHERE list_id = $1 AND id_tag = ANY($2::text[])`, listID, remove)
			if err != nil {
				return err
			}
			changed += tag.RowsAffected()
		}
		if changed == 0 {
			return nil
		}
		_, err := tx.Exec(ctx, `UPDATE local_lists SET gen = gen + 1, updated_at = $1 WHERE id = $2`, rules.Now(), listID)
		return err
	})
	if err != nil {
		return fmt.Errorf("postgres: change members of local list %d: %w", listID, err)
	}
	return nil
}

// ListLocalListMembers implements store.Store.
func (db *DB) ListLocalListMembers(ctx context.Context, listID int64, after string, limit int) ([]store.IDTag, error) {
	if _, err := db.GetLocalList(ctx, listID); err != nil {
		return nil, err
	}
	rows, err := db.pool.Query(ctx, `SELECT t.id_tag, t.status, t.expiry_date, t.parent_id_tag, t.owner, t.note,
			t.created_at, t.updated_at
		FROM local_list_members m JOIN id_tags t ON t.id_tag = m.id_tag
		WHERE m.list_id = $1 AND m.id_tag > $2 ORDER BY m.id_tag LIMIT $3`, listID, after, rules.Limit(limit))
	out, err := collect(rows, err, scanIDTag)
	if err != nil {
		return nil, fmt.Errorf("postgres: members of local list %d: %w", listID, err)
	}
	return out, nil
}

// LocalListEntries implements store.Store.
func (db *DB) LocalListEntries(ctx context.Context, listID int64) ([]store.LocalListEntry, error) {
	rows, err := db.pool.Query(ctx, `SELECT t.id_tag, t.status, t.expiry_date, t.parent_id_tag
		FROM local_list_members m JOIN id_tags t ON t.id_tag = m.id_tag
		WHERE m.list_id = $1 ORDER BY m.id_tag`, listID)
	out, err := collect(rows, err, func(r pgx.Row) (store.LocalListEntry, error) {
		var e store.LocalListEntry
		err := r.Scan(&e.IDTag, &e.Status, &e.ExpiryDate, &e.ParentIDTag)
		e.ExpiryDate = utcPtr(e.ExpiryDate)
		return e, err
	})
	if err != nil {
		return nil, fmt.Errorf("postgres: entries of local list %d: %w", listID, err)
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
	now := rules.Now()
	var out store.LocalListSync
	err := pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
		var one int
		if err := tx.QueryRow(ctx, `SELECT 1 FROM chargers WHERE id = $1`, chargerID).Scan(&one); err != nil {
			return fmt.Errorf("charger %q: %w", chargerID, notFoundIfNoRows(err))
		}
		if listID == 0 {
			if _, err := tx.Exec(ctx, `UPDATE local_list_sync SET list_id = NULL, want_gen = want_gen + 1,
				result = CASE WHEN result = 'NotSupported' THEN '' ELSE result END, next_at = NULL, attempts = 0,
				updated_at = $1 WHERE charger_id = $2 AND list_id IS NOT NULL`, now, chargerID); err != nil {
				return err
			}
		} else {
			if err := tx.QueryRow(ctx, `SELECT 1 FROM local_lists WHERE id = $1`, listID).Scan(&one); err != nil {
				return fmt.Errorf("local list %d: %w", listID, notFoundIfNoRows(err))
			}
			_, err := tx.Exec(ctx, `INSERT INTO local_list_sync (charger_id, list_id, updated_at) VALUES ($1, $2, $3)
				ON CONFLICT (charger_id) DO UPDATE SET list_id = excluded.list_id, want_gen = local_list_sync.want_gen + 1,
					result = CASE WHEN local_list_sync.result = 'NotSupported' THEN '' ELSE local_list_sync.result END,
					next_at = NULL, attempts = 0, updated_at = excluded.updated_at
				WHERE local_list_sync.list_id IS DISTINCT FROM excluded.list_id`, chargerID, listID, now)
			if isForeignKey(err) {
				return fmt.Errorf("local list %d or charger %q was deleted meanwhile: %w", listID, chargerID, store.ErrNotFound)
			}
			if err != nil {
				return err
			}
		}
		var err error
		out, err = scanSync(tx.QueryRow(ctx, `SELECT `+syncCols+syncFrom+` WHERE s.charger_id = $1`, chargerID))
		if errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("charger %q has no local list: %w", chargerID, store.ErrNotFound)
		}
		return err
	})
	if err != nil {
		return store.LocalListSync{}, fmt.Errorf("postgres: assign local list %d to %q: %w", listID, chargerID, err)
	}
	return out, nil
}

// GetLocalListSync implements store.Store.
func (db *DB) GetLocalListSync(ctx context.Context, chargerID string) (store.LocalListSync, error) {
	var s store.LocalListSync
	var held []byte
	// One statement: the state and the content it names are read from the
	// same snapshot.
	row := db.pool.QueryRow(ctx, `SELECT `+syncCols+`, c.entries::text`+syncFrom+`
		LEFT JOIN local_list_contents c ON c.hash = s.held_hash WHERE s.charger_id = $1`, chargerID)
	var entries *string
	err := row.Scan(&s.ChargerID, &s.ListID, &s.ListName, &s.Version, &s.HeldKnown, &s.HeldCount, &s.Pending,
		&s.ListGen, &s.WantGen, &s.Result, &s.Error, &s.Attempts, &s.AttemptAt, &s.SyncedAt, &s.NextAttemptAt, &s.UpdatedAt, &entries)
	if err == nil {
		s.AttemptAt, s.SyncedAt, s.NextAttemptAt = utcPtr(s.AttemptAt), utcPtr(s.SyncedAt), utcPtr(s.NextAttemptAt)
		utc(&s.UpdatedAt)
		if s.HeldKnown {
			if entries == nil {
				err = errors.New("the content it holds is missing")
			} else {
				held = []byte(*entries)
				s.Held, err = rules.DecodeLocalListContent(held)
			}
		}
	}
	if err != nil {
		return store.LocalListSync{}, fmt.Errorf("postgres: local list of %q: %w", chargerID, notFoundIfNoRows(err))
	}
	return s, nil
}

// ListLocalListSyncs implements store.Store.
func (db *DB) ListLocalListSyncs(ctx context.Context, f store.LocalListSyncFilter) ([]store.LocalListSync, error) {
	var where []string
	var a args
	if f.ListID != 0 {
		where = append(where, "s.list_id = "+a.add(f.ListID))
	}
	if f.Pending {
		where = append(where, pendingExpr, "s.result <> 'NotSupported'", "(s.next_at IS NULL OR s.next_at <= "+a.add(rules.OrNow(f.Due))+")")
	}
	if f.After != "" {
		where = append(where, "s.charger_id > "+a.add(f.After))
	}
	q := `SELECT ` + syncCols + syncFrom + whereClause(where) + ` ORDER BY s.charger_id LIMIT ` + a.add(rules.Limit(f.Limit))
	rows, err := db.pool.Query(ctx, q, a...)
	out, err := collect(rows, err, scanSync)
	if err != nil {
		return nil, fmt.Errorf("postgres: list local list states: %w", err)
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
	err := pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `UPDATE local_list_sync SET want_gen = want_gen + 1, next_at = NULL, attempts = 0,
			result = CASE WHEN result = 'NotSupported' THEN '' ELSE result END`+forget+`, updated_at = $1
			WHERE charger_id = ANY($2::text[])`, rules.Now(), chargerIDs); err != nil {
			return err
		}
		if full {
			return gcContents(ctx, tx, nil)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("postgres: request local list sync: %w", err)
	}
	return nil
}

// gcContents deletes the contents no charger holds any more: the one with
// the hash given, or all of them for nil.
func gcContents(ctx context.Context, tx pgx.Tx, hash []byte) error {
	if hash != nil {
		_, err := tx.Exec(ctx, `DELETE FROM local_list_contents WHERE hash = $1 AND NOT EXISTS (
			SELECT 1 FROM local_list_sync s WHERE s.held_hash = $1)`, hash)
		return err
	}
	_, err := tx.Exec(ctx, `DELETE FROM local_list_contents WHERE NOT EXISTS (
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
	at := rules.OrNow(o.At)
	result := o.Result
	err := pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
		var old []byte
		if err := tx.QueryRow(ctx, `SELECT held_hash FROM local_list_sync WHERE charger_id = $1 FOR UPDATE`, o.ChargerID).Scan(&old); err != nil {
			return fmt.Errorf("charger %q has no local list: %w", o.ChargerID, notFoundIfNoRows(err))
		}
		if hash != nil {
			if _, err := tx.Exec(ctx, `INSERT INTO local_list_contents (hash, entries) VALUES ($1, $2::jsonb)
				ON CONFLICT DO NOTHING`, hash, string(content)); err != nil {
				return err
			}
		}
		_, err := tx.Exec(ctx, `UPDATE local_list_sync SET version = $1, held_hash = $2, held_count = $3,
			result = $4, error = $5, attempts = CASE WHEN $6::boolean THEN 0 ELSE attempts + 1 END, attempt_at = $7,
			synced_at = CASE WHEN $8::boolean THEN $7 ELSE synced_at END,
			synced_want_gen = CASE WHEN $8::boolean THEN greatest(synced_want_gen, $9) ELSE synced_want_gen END,
			synced_list_gen = CASE WHEN $8::boolean THEN $10 ELSE synced_list_gen END,
			next_at = $11, updated_at = $7
			WHERE charger_id = $12`,
			o.Version, hash, len(o.Held), result, o.Error, result == store.LocalListAccepted, at,
			o.Synced, o.WantGen, o.ListGen, o.NextAttemptAt, o.ChargerID)
		if err != nil {
			return err
		}
		if old != nil && !bytes.Equal(old, hash) {
			return gcContents(ctx, tx, old)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("postgres: record local list sync of %q: %w", o.ChargerID, err)
	}
	return nil
}
