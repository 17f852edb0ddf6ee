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

const resCols = `id, charger_id, connector_id, id_tag, parent_id_tag, expires_at, status, transaction_id,
	reason, created_by, created_at, updated_at`

const activeRes = `status IN ` + rules.ActiveReservationSQL

func scanReservation(row pgx.Row) (store.Reservation, error) {
	var r store.Reservation
	var id int32
	var status string
	err := row.Scan(&id, &r.ChargerID, &r.ConnectorID, &r.IDTag, &r.ParentIDTag, &r.ExpiresAt, &status, &r.TransactionID,
		&r.Reason, &r.CreatedBy, &r.CreatedAt, &r.UpdatedAt)
	r.ID, r.Status = int(id), store.ReservationStatus(status)
	utc(&r.ExpiresAt)
	utc(&r.CreatedAt)
	utc(&r.UpdatedAt)
	return r, err
}

// expireStale marks the active reservations of one connector whose expiry
// has passed Expired, so that they no longer hold it.
func expireStale(ctx context.Context, tx pgx.Tx, chargerID string, connectorID int, now time.Time) error {
	_, err := tx.Exec(ctx, `UPDATE reservations SET status = 'Expired', reason = 'expired', updated_at = $1
		WHERE charger_id = $2 AND connector_id = $3 AND `+activeRes+` AND expires_at <= $1`,
		now, chargerID, connectorID)
	return err
}

func activeConflict(chargerID string, connectorID int) error {
	return fmt.Errorf("%w: connector %d of charger %q already has an active reservation", store.ErrConflict, connectorID, chargerID)
}

// CreateReservation implements store.Store. The unique partial index
// decides between two nodes creating at once: the second insert waits for
// the first and then fails.
func (db *DB) CreateReservation(ctx context.Context, r store.Reservation) (store.Reservation, error) {
	if err := rules.Reservation(&r); err != nil {
		return store.Reservation{}, err
	}
	var out store.Reservation
	err := pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
		if err := expireStale(ctx, tx, r.ChargerID, r.ConnectorID, r.CreatedAt); err != nil {
			return err
		}
		var err error
		out, err = scanReservation(tx.QueryRow(ctx, `INSERT INTO reservations
			(charger_id, connector_id, id_tag, parent_id_tag, expires_at, status, transaction_id, reason, created_by, created_at, updated_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10) RETURNING `+resCols,
			r.ChargerID, r.ConnectorID, r.IDTag, r.ParentIDTag, r.ExpiresAt, string(r.Status), r.TransactionID, r.Reason,
			r.CreatedBy, r.CreatedAt))
		if isUnique(err) {
			return activeConflict(r.ChargerID, r.ConnectorID)
		}
		return err
	})
	if err != nil {
		return store.Reservation{}, fmt.Errorf("postgres: create reservation on %q/%d: %w", r.ChargerID, r.ConnectorID, err)
	}
	return out, nil
}

// GetReservation implements store.Store.
func (db *DB) GetReservation(ctx context.Context, id int) (store.Reservation, error) {
	if id < 1 || id > rules.MaxReservationID {
		return store.Reservation{}, fmt.Errorf("postgres: reservation %d: %w", id, store.ErrNotFound)
	}
	r, err := scanReservation(db.pool.QueryRow(ctx, `SELECT `+resCols+` FROM reservations WHERE id = $1`, id))
	if err != nil {
		return store.Reservation{}, fmt.Errorf("postgres: reservation %d: %w", id, notFoundIfNoRows(err))
	}
	return r, nil
}

// ListReservations implements store.Store.
func (db *DB) ListReservations(ctx context.Context, f store.ReservationFilter) ([]store.Reservation, error) {
	now := rules.OrNow(f.Now)
	var where []string
	var a args
	if f.ChargerID != "" {
		where = append(where, "charger_id = "+a.add(f.ChargerID))
	}
	if f.IDTag != "" {
		where = append(where, "id_tag = "+a.add(f.IDTag))
	}
	if f.Active != nil {
		cond := "(" + activeRes + " AND expires_at > " + a.add(now) + ")"
		if !*f.Active {
			cond = "NOT " + cond
		}
		where = append(where, cond)
	}
	switch {
	case f.Status == "":
	case f.Status == store.ReservationExpired:
		where = append(where, "(status = 'Expired' OR ("+activeRes+" AND expires_at <= "+a.add(now)+"))")
	case f.Status.Active():
		where = append(where, "status = "+a.add(string(f.Status))+" AND expires_at > "+a.add(now))
	default:
		where = append(where, "status = "+a.add(string(f.Status)))
	}
	if f.Before > 0 {
		where = append(where, "id < "+a.add(min(f.Before, rules.MaxReservationID+1)))
	}
	q := `SELECT ` + resCols + ` FROM reservations` + whereClause(where) + ` ORDER BY id DESC LIMIT ` + a.add(rules.Limit(f.Limit))
	rows, err := db.pool.Query(ctx, q, a...)
	out, err := collect(rows, err, scanReservation)
	if err != nil {
		return nil, fmt.Errorf("postgres: list reservations: %w", err)
	}
	return out, nil
}

// UpdateReservation implements store.Store: the row is locked while its
// status is checked, so two updates (a cancel and the charger's start)
// apply one after the other.
func (db *DB) UpdateReservation(ctx context.Context, u store.ReservationUpdate) (store.Reservation, error) {
	if err := rules.ReservationUpdate(u); err != nil {
		return store.Reservation{}, err
	}
	if u.ID > rules.MaxReservationID {
		return store.Reservation{}, fmt.Errorf("postgres: update reservation %d: %w", u.ID, store.ErrNotFound)
	}
	at := rules.OrNow(u.At)
	var out store.Reservation
	err := pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
		cur, err := scanReservation(tx.QueryRow(ctx, `SELECT `+resCols+` FROM reservations WHERE id = $1 FOR UPDATE`, u.ID))
		if err != nil {
			return notFoundIfNoRows(err)
		}
		if !rules.AllowedFrom(cur.Status, u.From) {
			out = cur
			return fmt.Errorf("%w: reservation %d is %s", store.ErrConflict, u.ID, cur.Status)
		}
		if u.Status.Active() && !cur.Status.Active() {
			if err := expireStale(ctx, tx, cur.ChargerID, cur.ConnectorID, at); err != nil {
				return err
			}
		}
		out, err = scanReservation(tx.QueryRow(ctx, `UPDATE reservations SET status = $1,
			transaction_id = coalesce($2, transaction_id), reason = $3, updated_at = $4 WHERE id = $5 RETURNING `+resCols,
			string(u.Status), u.TransactionID, u.Reason, at, u.ID))
		if isUnique(err) {
			out = cur
			return activeConflict(cur.ChargerID, cur.ConnectorID)
		}
		return err
	})
	if err != nil {
		return out, fmt.Errorf("postgres: update reservation %d: %w", u.ID, err)
	}
	return out, nil
}

// ExpireReservations implements store.Store. SKIP LOCKED lets nodes that
// sweep at once take different rows instead of waiting for each other; a
// row another update holds is taken by the next sweep if still due.
func (db *DB) ExpireReservations(ctx context.Context, now time.Time, chargerID string, limit int) ([]store.Reservation, error) {
	var a args
	at := a.add(now)
	cond := activeRes + " AND expires_at <= " + at
	if chargerID != "" {
		cond += " AND charger_id = " + a.add(chargerID)
	}
	rows, err := db.pool.Query(ctx, `UPDATE reservations SET status = 'Expired', reason = 'expired', updated_at = `+at+`
		WHERE id IN (SELECT id FROM reservations WHERE `+cond+` ORDER BY expires_at LIMIT `+a.add(rules.Limit(limit))+`
			FOR UPDATE SKIP LOCKED)
		AND `+activeRes+` RETURNING `+resCols, a...)
	out, err := collect(rows, err, scanReservation)
	if err != nil {
		return nil, fmt.Errorf("postgres: expire reservations: %w", err)
	}
	rules.SortByExpiry(out)
	return out, nil
}

// NextReservationExpiry implements store.Store.
func (db *DB) NextReservationExpiry(ctx context.Context) (*time.Time, error) {
	var next *time.Time
	if err := db.pool.QueryRow(ctx, `SELECT min(expires_at) FROM reservations WHERE `+activeRes).Scan(&next); err != nil {
		if errors.Is(err, pgx.ErrNoRows) {
			return nil, nil
		}
		return nil, fmt.Errorf("postgres: next reservation expiry: %w", err)
	}
	return utcPtr(next), nil
}
