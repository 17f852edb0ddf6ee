package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/wattson-csms/wattson/store"
	"github.com/wattson-csms/wattson/store/internal/rules"
)

// lockRolloutCharger is the advisory lock class of a charger joining a
// roll-out (second key: hashtext(charger id)): two roll-outs created at
// once cannot both take the same charger.
const lockRolloutCharger = 0x5761_0006

const rolloutCols = `id, file_id, status, max_concurrent, max_failure_percent, min_finished, base_finished, base_failed, retries,
	retry_interval, retrieve_date, timeout_s, detail, created_by, created_at, updated_at, finished_at`

func scanRollout(r pgx.Row) (store.Rollout, error) {
	var ro store.Rollout
	var timeout int64
	err := r.Scan(&ro.ID, &ro.FileID, &ro.Status, &ro.MaxConcurrent, &ro.MaxFailurePercent, &ro.MinFinished, &ro.BaseFinished, &ro.BaseFailed, &ro.Retries,
		&ro.RetryInterval, &ro.RetrieveDate, &timeout, &ro.Detail, &ro.CreatedBy, &ro.CreatedAt, &ro.UpdatedAt, &ro.FinishedAt)
	ro.Timeout = time.Duration(timeout) * time.Second
	ro.RetrieveDate, ro.FinishedAt = utcPtr(ro.RetrieveDate), utcPtr(ro.FinishedAt)
	utc(&ro.CreatedAt)
	utc(&ro.UpdatedAt)
	return ro, err
}

func targetStrings(ss []store.TargetStatus) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = string(s)
	}
	return out
}

// CreateRollout implements store.Store.
func (db *DB) CreateRollout(ctx context.Context, r store.Rollout, chargers []string) (store.Rollout, error) {
	if err := rules.Rollout(r, chargers); err != nil {
		return store.Rollout{}, err
	}
	now := rules.Now()
	var out store.Rollout
	err := pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
		var kind store.FileKind
		var complete bool
		err := tx.QueryRow(ctx, `SELECT kind, complete FROM files WHERE id = $1 FOR SHARE`, r.FileID).Scan(&kind, &complete)
		if errors.Is(err, pgx.ErrNoRows) || err == nil && (kind != store.FileFirmware || !complete) {
			return fmt.Errorf("firmware file %d: %w", r.FileID, store.ErrNotFound)
		}
		if err != nil {
			return err
		}
		// One live roll-out per charger: two would race to update it. The
		// locks, taken in sorted order, keep concurrent creations apart.
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1, hashtext(c)) FROM unnest($2::text[]) AS c ORDER BY c`,
			lockRolloutCharger, chargers); err != nil {
			return err
		}
		var busy string
		err = tx.QueryRow(ctx, `SELECT charger_id FROM rollout_targets WHERE charger_id = ANY($1) AND NOT (status = ANY($2)) LIMIT 1`,
			chargers, rules.FinalTargetStatuses).Scan(&busy)
		if err == nil {
			return fmt.Errorf("%w: charger %q is in another roll-out that is not finished", store.ErrConflict, busy)
		}
		if !errors.Is(err, pgx.ErrNoRows) {
			return err
		}
		out, err = scanRollout(tx.QueryRow(ctx, `INSERT INTO firmware_rollouts
			(file_id, status, max_concurrent, max_failure_percent, min_finished, retries, retry_interval, retrieve_date,
			 timeout_s, detail, created_by, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $12)
			RETURNING `+rolloutCols,
			r.FileID, r.Status, r.MaxConcurrent, r.MaxFailurePercent, r.MinFinished, r.Retries, r.RetryInterval,
			r.RetrieveDate, int64(r.Timeout/time.Second), r.Detail, r.CreatedBy, now))
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `INSERT INTO rollout_targets (rollout_id, charger_id, seq, status, updated_at)
			SELECT $1, c, n, $3, $4 FROM unnest($2::text[]) WITH ORDINALITY AS u(c, n)`,
			out.ID, chargers, store.TargetQueued, now); err != nil {
			return err
		}
		out.Counts = map[store.TargetStatus]int{store.TargetQueued: len(chargers)}
		return nil
	})
	if err != nil {
		return store.Rollout{}, fmt.Errorf("postgres: create roll-out: %w", err)
	}
	return out, nil
}

// countTargets fills the counts of the roll-outs, in one query.
func (db *DB) countTargets(ctx context.Context, rs []store.Rollout) error {
	if len(rs) == 0 {
		return nil
	}
	byID := make(map[int64]*store.Rollout, len(rs))
	ids := make([]int64, len(rs))
	for i := range rs {
		rs[i].Counts = map[store.TargetStatus]int{}
		byID[rs[i].ID] = &rs[i]
		ids[i] = rs[i].ID
	}
	rows, err := db.pool.Query(ctx, `SELECT rollout_id, status, count(*) FROM rollout_targets
		WHERE rollout_id = ANY($1) GROUP BY rollout_id, status`, ids)
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
	r, err := scanRollout(db.pool.QueryRow(ctx, `SELECT `+rolloutCols+` FROM firmware_rollouts WHERE id = $1`, id))
	err = notFoundIfNoRows(err)
	if err == nil {
		rs := []store.Rollout{r}
		err = db.countTargets(ctx, rs)
		r = rs[0]
	}
	if err != nil {
		return store.Rollout{}, fmt.Errorf("postgres: roll-out %d: %w", id, err)
	}
	return r, nil
}

// ListRollouts implements store.Store.
func (db *DB) ListRollouts(ctx context.Context, before int64, limit int) ([]store.Rollout, error) {
	var a args
	q := `SELECT ` + rolloutCols + ` FROM firmware_rollouts`
	if before > 0 {
		q += ` WHERE id < ` + a.add(before)
	}
	return db.rollouts(ctx, q+` ORDER BY id DESC LIMIT `+a.add(rules.Limit(limit)), a...)
}

// ActiveRollouts implements store.Store.
func (db *DB) ActiveRollouts(ctx context.Context) ([]store.Rollout, error) {
	return db.rollouts(ctx, `SELECT `+rolloutCols+` FROM firmware_rollouts r WHERE NOT (status = ANY($1))
		OR EXISTS (SELECT 1 FROM rollout_targets t WHERE t.rollout_id = r.id AND NOT (t.status = ANY($2)))
		ORDER BY id`, rules.FinalRolloutStatuses, rules.FinalTargetStatuses)
}

func (db *DB) rollouts(ctx context.Context, q string, args ...any) ([]store.Rollout, error) {
	rows, err := db.pool.Query(ctx, q, args...)
	rs, err := collect(rows, err, scanRollout)
	if err == nil {
		err = db.countTargets(ctx, rs)
	}
	if err != nil {
		return nil, fmt.Errorf("postgres: list roll-outs: %w", err)
	}
	return rs, nil
}

// SetRolloutStatus implements store.Store.
func (db *DB) SetRolloutStatus(ctx context.Context, id int64, from []store.RolloutStatus, to store.RolloutStatus, detail string, at time.Time) (bool, error) {
	if err := rules.RolloutStatus(to); err != nil {
		return false, err
	}
	fromS := make([]string, len(from))
	for i, f := range from {
		fromS[i] = string(f)
	}
	changed := false
	err := pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
		var cur store.RolloutStatus
		if err := tx.QueryRow(ctx, `SELECT status FROM firmware_rollouts WHERE id = $1 FOR UPDATE`, id).Scan(&cur); err != nil {
			return notFoundIfNoRows(err)
		}
		ok := false
		for _, f := range from {
			ok = ok || f == cur
		}
		if !ok {
			return nil
		}
		var finished *time.Time
		if to.Final() {
			finished = &at
		}
		if _, err := tx.Exec(ctx, `UPDATE firmware_rollouts SET status = $1, detail = $2, updated_at = $3, finished_at = $4
			WHERE id = $5`, to, detail, at, finished, id); err != nil {
			return err
		}
		if to == store.RolloutRunning {
			if _, err := tx.Exec(ctx, `UPDATE firmware_rollouts SET
				base_finished = (SELECT count(*) FROM rollout_targets WHERE rollout_id = $1 AND status IN ($2, $3)),
				base_failed = (SELECT count(*) FROM rollout_targets WHERE rollout_id = $1 AND status = $3)
				WHERE id = $1`, id, store.TargetInstalled, store.TargetFailed); err != nil {
				return err
			}
		}
		if to == store.RolloutCancelled {
			if _, err := tx.Exec(ctx, `UPDATE rollout_targets SET status = $1, updated_at = $2
				WHERE rollout_id = $3 AND status = $4`, store.TargetCancelled, at, id, store.TargetQueued); err != nil {
				return err
			}
		}
		changed = true
		return nil
	})
	if err != nil {
		return false, fmt.Errorf("postgres: roll-out %d to %s: %w", id, to, err)
	}
	return changed, nil
}

const targetCols = `rollout_id, charger_id, seq, status, detail, sent_at, updated_at`

func scanTarget(r pgx.Row) (store.RolloutTarget, error) {
	var t store.RolloutTarget
	err := r.Scan(&t.RolloutID, &t.ChargerID, &t.Seq, &t.Status, &t.Detail, &t.SentAt, &t.UpdatedAt)
	t.SentAt = utcPtr(t.SentAt)
	utc(&t.UpdatedAt)
	return t, err
}

// ListRolloutTargets implements store.Store.
func (db *DB) ListRolloutTargets(ctx context.Context, f store.TargetFilter) ([]store.RolloutTarget, error) {
	var a args
	conds := []string{"rollout_id = " + a.add(f.RolloutID), "seq > " + a.add(f.After)}
	if len(f.Status) > 0 {
		conds = append(conds, "status = ANY("+a.add(targetStrings(f.Status))+")")
	}
	limit := rules.Limit(0)
	if f.Limit > 0 {
		limit = min(f.Limit, 10000)
	}
	q := `SELECT ` + targetCols + ` FROM rollout_targets` + whereClause(conds) + ` ORDER BY seq LIMIT ` + a.add(limit)
	rows, err := db.pool.Query(ctx, q, a...)
	out, err := collect(rows, err, scanTarget)
	if err != nil {
		return nil, fmt.Errorf("postgres: roll-out targets: %w", err)
	}
	return out, nil
}

// UpdateRolloutTarget implements store.Store.
func (db *DB) UpdateRolloutTarget(ctx context.Context, t store.RolloutTarget, from []store.TargetStatus) (bool, error) {
	if err := rules.TargetStatus(t.Status); err != nil {
		return false, err
	}
	if len(from) == 0 {
		return false, fmt.Errorf("%w: no states to update from", store.ErrInvalid)
	}
	tag, err := db.pool.Exec(ctx, `UPDATE rollout_targets SET status = $1, detail = $2, sent_at = $3, updated_at = $4
		WHERE rollout_id = $5 AND charger_id = $6 AND status = ANY($7)`,
		t.Status, t.Detail, t.SentAt, rules.OrNow(t.UpdatedAt), t.RolloutID, t.ChargerID, targetStrings(from))
	if err != nil {
		return false, fmt.Errorf("postgres: update roll-out target %q: %w", t.ChargerID, err)
	}
	return tag.RowsAffected() > 0, nil
}

// CurrentTarget implements store.Store.
func (db *DB) CurrentTarget(ctx context.Context, chargerID string) (store.RolloutTarget, error) {
	t, err := scanTarget(db.pool.QueryRow(ctx, `SELECT `+targetCols+` FROM rollout_targets
		WHERE charger_id = $1 AND status = ANY($2) ORDER BY rollout_id DESC LIMIT 1`, chargerID, targetStrings(store.InFlightTargets)))
	if err != nil {
		return store.RolloutTarget{}, fmt.Errorf("postgres: current roll-out of %q: %w", chargerID, notFoundIfNoRows(err))
	}
	return t, nil
}
