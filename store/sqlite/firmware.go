package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/wattson-csms/wattson/store"
	"github.com/wattson-csms/wattson/store/internal/rules"
)

const rolloutCols = `id, file_id, status, max_concurrent, max_failure_percent, min_finished, base_finished, base_failed, retries,
	retry_interval, retrieve_date, timeout_s, detail, created_by, created_at, updated_at, finished_at`

func scanRollout(s scanner) (store.Rollout, error) {
	var r store.Rollout
	var retries, interval, retrieve, finished sql.NullInt64
	var timeout, created, updated int64
	err := s.Scan(&r.ID, &r.FileID, &r.Status, &r.MaxConcurrent, &r.MaxFailurePercent, &r.MinFinished, &r.BaseFinished, &r.BaseFailed, &retries, &interval,
		&retrieve, &timeout, &r.Detail, &r.CreatedBy, &created, &updated, &finished)
	r.Retries, r.RetryInterval, r.RetrieveDate = intPtr(retries), intPtr(interval), timePtr(retrieve)
	r.Timeout = time.Duration(timeout) * time.Second
	r.CreatedAt, r.UpdatedAt, r.FinishedAt = fromMicros(created), fromMicros(updated), timePtr(finished)
	return r, err
}

// sqlList is a quoted SQL list of constant strings.
func sqlList(vs []string) string {
	return "('" + strings.Join(vs, "', '") + "')"
}

var (
	finalRollouts = sqlList(rules.FinalRolloutStatuses)
	finalTargets  = sqlList(rules.FinalTargetStatuses)
)

// CreateRollout implements store.Store.
func (db *DB) CreateRollout(ctx context.Context, r store.Rollout, chargers []string) (store.Rollout, error) {
	if err := rules.Rollout(r, chargers); err != nil {
		return store.Rollout{}, err
	}
	now := rules.Now()
	var out store.Rollout
	err := db.tx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		var kind store.FileKind
		var complete bool
		err := tx.QueryRowContext(ctx, `SELECT kind, complete FROM files WHERE id = ?`, r.FileID).Scan(&kind, &complete)
		if errors.Is(err, sql.ErrNoRows) || err == nil && (kind != store.FileFirmware || !complete) {
			return fmt.Errorf("firmware file %d: %w", r.FileID, store.ErrNotFound)
		}
		if err != nil {
			return err
		}
		// One live roll-out per charger: two would race to update it.
		for i := 0; i < len(chargers); i += 500 {
			part := chargers[i:min(i+500, len(chargers))]
			args := make([]any, len(part))
			for j, id := range part {
				args[j] = id
			}
			var busy string
			err := tx.QueryRowContext(ctx, `SELECT charger_id FROM rollout_targets
				WHERE charger_id IN (`+qmarks(len(part))+`) AND status NOT IN `+finalTargets+` LIMIT 1`, args...).Scan(&busy)
			if err == nil {
				return fmt.Errorf("%w: charger %q is in another roll-out that is not finished", store.ErrConflict, busy)
			}
			if !errors.Is(err, sql.ErrNoRows) {
				return err
			}
		}
		out, err = scanRollout(tx.QueryRowContext(ctx, `INSERT INTO firmware_rollouts
			(file_id, status, max_concurrent, max_failure_percent, min_finished, retries, retry_interval, retrieve_date,
			 timeout_s, detail, created_by, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
			RETURNING `+rolloutCols,
			r.FileID, r.Status, r.MaxConcurrent, r.MaxFailurePercent, r.MinFinished, nullInt(r.Retries), nullInt(r.RetryInterval),
			nullMicros(r.RetrieveDate), int64(r.Timeout/time.Second), r.Detail, r.CreatedBy, toMicros(now), toMicros(now)))
		if err != nil {
			return err
		}
		stmt, err := tx.PrepareContext(ctx, `INSERT INTO rollout_targets (rollout_id, charger_id, seq, status, updated_at)
			VALUES (?, ?, ?, ?, ?)`)
		if err != nil {
			return err
		}
		defer stmt.Close()
		for i, id := range chargers {
			if _, err := stmt.ExecContext(ctx, out.ID, id, i+1, store.TargetQueued, toMicros(now)); err != nil {
				return err
			}
		}
		out.Counts = map[store.TargetStatus]int{store.TargetQueued: len(chargers)}
		return nil
	})
	if err != nil {
		return store.Rollout{}, fmt.Errorf("sqlite: create roll-out: %w", err)
	}
	return out, nil
}

// countTargets fills the counts of the roll-outs, in one query.
func (db *DB) countTargets(ctx context.Context, rs []store.Rollout) error {
	if len(rs) == 0 {
		return nil
	}
	byID := make(map[int64]*store.Rollout, len(rs))
	args := make([]any, len(rs))
	for i := range rs {
		rs[i].Counts = map[store.TargetStatus]int{}
		byID[rs[i].ID] = &rs[i]
		args[i] = rs[i].ID
	}
	ph := qmarks(len(rs))
	rows, err := db.r.QueryContext(ctx, `SELECT rollout_id, status, count(*) FROM rollout_targets
		WHERE rollout_id IN (`+ph+`) GROUP BY rollout_id, status`, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var id int64
		var st store.TargetStatus
		var n int
		if err := rows.Scan(&id, &st, &n); err != nil {
			return err
		}
		byID[id].Counts[st] = n
	}
	return rows.Err()
}

// GetRollout implements store.Store.
func (db *DB) GetRollout(ctx context.Context, id int64) (store.Rollout, error) {
	r, err := scanRollout(db.r.QueryRowContext(ctx, `SELECT `+rolloutCols+` FROM firmware_rollouts WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		err = store.ErrNotFound
	}
	if err == nil {
		rs := []store.Rollout{r}
		err = db.countTargets(ctx, rs)
		r = rs[0]
	}
	if err != nil {
		return store.Rollout{}, fmt.Errorf("sqlite: roll-out %d: %w", id, err)
	}
	return r, nil
}

// ListRollouts implements store.Store.
func (db *DB) ListRollouts(ctx context.Context, before int64, limit int) ([]store.Rollout, error) {
	q, args := `SELECT `+rolloutCols+` FROM firmware_rollouts`, []any{}
	if before > 0 {
		q, args = q+` WHERE id < ?`, append(args, before)
	}
	return db.rollouts(ctx, q+` ORDER BY id DESC LIMIT ?`, append(args, rules.Limit(limit))...)
}

// ActiveRollouts implements store.Store.
func (db *DB) ActiveRollouts(ctx context.Context) ([]store.Rollout, error) {
	return db.rollouts(ctx, `SELECT `+rolloutCols+` FROM firmware_rollouts r WHERE status NOT IN `+finalRollouts+`
		OR EXISTS (SELECT 1 FROM rollout_targets t WHERE t.rollout_id = r.id AND t.status NOT IN `+finalTargets+`)
		ORDER BY id`)
}

func (db *DB) rollouts(ctx context.Context, q string, args ...any) ([]store.Rollout, error) {
	rows, err := db.r.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list roll-outs: %w", err)
	}
	rs, err := collect(rows, scanRollout)
	if err == nil {
		err = db.countTargets(ctx, rs)
	}
	if err != nil {
		return nil, fmt.Errorf("sqlite: list roll-outs: %w", err)
	}
	return rs, nil
}

// SetRolloutStatus implements store.Store.
func (db *DB) SetRolloutStatus(ctx context.Context, id int64, from []store.RolloutStatus, to store.RolloutStatus, detail string, at time.Time) (bool, error) {
	if err := rules.RolloutStatus(to); err != nil {
		return false, err
	}
	changed := false
	err := db.tx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		var cur store.RolloutStatus
		if err := tx.QueryRowContext(ctx, `SELECT status FROM firmware_rollouts WHERE id = ?`, id).Scan(&cur); err != nil {
			if errors.Is(err, sql.ErrNoRows) {
				return store.ErrNotFound
			}
			return err
		}
		ok := false
		for _, f := range from {
			ok = ok || f == cur
		}
		if !ok {
			return nil
		}
		var finished any
		if to.Final() {
			finished = toMicros(at)
		}
		if _, err := tx.ExecContext(ctx, `UPDATE firmware_rollouts SET status = ?, detail = ?, updated_at = ?, finished_at = ?
			WHERE id = ?`, to, detail, toMicros(at), finished, id); err != nil {
			return err
		}
		if to == store.RolloutRunning {
			if _, err := tx.ExecContext(ctx, `UPDATE firmware_rollouts SET
				base_finished = (SELECT count(*) FROM rollout_targets WHERE rollout_id = ? AND status IN (?, ?)),
				base_failed = (SELECT count(*) FROM rollout_targets WHERE rollout_id = ? AND status = ?)
				WHERE id = ?`, id, store.TargetInstalled, store.TargetFailed, id, store.TargetFailed, id); err != nil {
				return err
			}
		}
		if to == store.RolloutCancelled {
			if _, err := tx.ExecContext(ctx, `UPDATE rollout_targets SET status = ?, updated_at = ?
				WHERE rollout_id = ? AND status = ?`, store.TargetCancelled, toMicros(at), id, store.TargetQueued); err != nil {
				return err
			}
		}
		changed = true
		return nil
	})
	if err != nil {
		return false, fmt.Errorf("sqlite: roll-out %d to %s: %w", id, to, err)
	}
	return changed, nil
}

const targetCols = `rollout_id, charger_id, seq, status, detail, sent_at, updated_at`

func scanTarget(s scanner) (store.RolloutTarget, error) {
	var t store.RolloutTarget
	var sent sql.NullInt64
	var upd int64
	err := s.Scan(&t.RolloutID, &t.ChargerID, &t.Seq, &t.Status, &t.Detail, &sent, &upd)
	t.SentAt, t.UpdatedAt = timePtr(sent), fromMicros(upd)
	return t, err
}

// ListRolloutTargets implements store.Store.
func (db *DB) ListRolloutTargets(ctx context.Context, f store.TargetFilter) ([]store.RolloutTarget, error) {
	conds, args := []string{"rollout_id = ?", "seq > ?"}, []any{f.RolloutID, f.After}
	if len(f.Status) > 0 {
		ph := qmarks(len(f.Status))
		conds = append(conds, "status IN ("+ph+")")
		for _, s := range f.Status {
			args = append(args, s)
		}
	}
	rows, err := db.r.QueryContext(ctx, `SELECT `+targetCols+` FROM rollout_targets`+whereClause(conds)+
		` ORDER BY seq LIMIT ?`, append(args, targetLimit(f.Limit))...)
	if err != nil {
		return nil, fmt.Errorf("sqlite: roll-out targets: %w", err)
	}
	return collect(rows, scanTarget)
}

// targetLimit lets the roll-out engine read a whole roll-out's in-flight
// targets: 0 is the usual default, larger limits are kept up to 10,000.
func targetLimit(n int) int {
	if n <= 0 {
		return rules.Limit(0)
	}
	return min(n, 10000)
}

// UpdateRolloutTarget implements store.Store.
func (db *DB) UpdateRolloutTarget(ctx context.Context, t store.RolloutTarget, from []store.TargetStatus) (bool, error) {
	if err := rules.TargetStatus(t.Status); err != nil {
		return false, err
	}
	if len(from) == 0 {
		return false, fmt.Errorf("%w: no states to update from", store.ErrInvalid)
	}
	ph := qmarks(len(from))
	args := []any{t.Status, t.Detail, nullMicros(t.SentAt), toMicros(rules.OrNow(t.UpdatedAt)), t.RolloutID, t.ChargerID}
	for _, s := range from {
		args = append(args, s)
	}
	res, err := db.w.ExecContext(ctx, `UPDATE rollout_targets SET status = ?, detail = ?, sent_at = ?, updated_at = ?
		WHERE rollout_id = ? AND charger_id = ? AND status IN (`+ph+`)`, args...)
	if err != nil {
		return false, fmt.Errorf("sqlite: update roll-out target %q: %w", t.ChargerID, err)
	}
	n, err := res.RowsAffected()
	return n > 0, err
}

// CurrentTarget implements store.Store.
func (db *DB) CurrentTarget(ctx context.Context, chargerID string) (store.RolloutTarget, error) {
	args := []any{chargerID}
	ph := qmarks(len(store.InFlightTargets))
	for _, s := range store.InFlightTargets {
		args = append(args, s)
	}
	t, err := scanTarget(db.r.QueryRowContext(ctx, `SELECT `+targetCols+` FROM rollout_targets
		WHERE charger_id = ? AND status IN (`+ph+`) ORDER BY rollout_id DESC LIMIT 1`, args...))
	if errors.Is(err, sql.ErrNoRows) {
		err = store.ErrNotFound
	}
	if err != nil {
		return store.RolloutTarget{}, fmt.Errorf("sqlite: current roll-out of %q: %w", chargerID, err)
	}
	return t, nil
}

// qmarks is "?, ?, ?" for n parameters of an IN list.
func qmarks(n int) string { return strings.TrimSuffix(strings.Repeat("?, ", n), ", ") }
