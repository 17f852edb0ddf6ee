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

const resCols = `id, charger_id, connector_id, id_tag, parent_id_tag, expires_at, status, transaction_id,
	reason, created_by, created_at, updated_at`

const activeRes = `status IN ` + rules.ActiveReservationSQL

func scanReservation(s scanner) (store.Reservation, error) {
	var r store.Reservation
	var expires, created, updated int64
	var tx sql.NullInt64
	err := s.Scan(&r.ID, &r.ChargerID, &r.ConnectorID, &r.IDTag, &r.ParentIDTag, &expires, &r.Status, &tx,
		&r.Reason, &r.CreatedBy, &created, &updated)
	r.ExpiresAt, r.CreatedAt, r.UpdatedAt = fromMicros(expires), fromMicros(created), fromMicros(updated)
	if tx.Valid {
		v := tx.Int64
		r.TransactionID = &v
	}
	return r, err
}

// expireStale marks the active reservations of one connector whose expiry
// has passed Expired, so that they no longer hold it.
func expireStale(ctx context.Context, tx *sql.Tx, chargerID string, connectorID int, now int64) error {
	_, err := tx.ExecContext(ctx, `UPDATE reservations SET status = 'Expired', reason = 'expired', updated_at = ?
		WHERE charger_id = ? AND connector_id = ? AND `+activeRes+` AND expires_at <= ?`,
		now, chargerID, connectorID, now)
	return err
}

// CreateReservation implements store.Store.
func (db *DB) CreateReservation(ctx context.Context, r store.Reservation) (store.Reservation, error) {
	if err := rules.Reservation(&r); err != nil {
		return store.Reservation{}, err
	}
	now := toMicros(r.CreatedAt)
	var out store.Reservation
	err := db.tx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		if err := expireStale(ctx, tx, r.ChargerID, r.ConnectorID, now); err != nil {
			return err
		}
		var txID any
		if r.TransactionID != nil {
			txID = *r.TransactionID
		}
		var err error
		out, err = scanReservation(tx.QueryRowContext(ctx, `INSERT INTO reservations
			(charger_id, connector_id, id_tag, parent_id_tag, expires_at, status, transaction_id, reason, created_by, created_at, updated_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING `+resCols,
			r.ChargerID, r.ConnectorID, r.IDTag, r.ParentIDTag, toMicros(r.ExpiresAt), r.Status, txID, r.Reason,
			r.CreatedBy, now, now))
		if isUnique(err) {
			return fmt.Errorf("%w: connector %d of charger %q already has an active reservation", store.ErrConflict, r.ConnectorID, r.ChargerID)
		}
		return err
	})
	if err != nil {
		return store.Reservation{}, fmt.Errorf("sqlite: create reservation on %q/%d: %w", r.ChargerID, r.ConnectorID, err)
	}
	return out, nil
}

// GetReservation implements store.Store.
func (db *DB) GetReservation(ctx context.Context, id int) (store.Reservation, error) {
	r, err := scanReservation(db.r.QueryRowContext(ctx, `SELECT `+resCols+` FROM reservations WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		err = store.ErrNotFound
	}
	if err != nil {
		return store.Reservation{}, fmt.Errorf("sqlite: reservation %d: %w", id, err)
	}
	return r, nil
}

// ListReservations implements store.Store.
func (db *DB) ListReservations(ctx context.Context, f store.ReservationFilter) ([]store.Reservation, error) {
	now := toMicros(rules.OrNow(f.Now))
	var where []string
	var args []any
	if f.ChargerID != "" {
		where = append(where, "charger_id = ?")
		args = append(args, f.ChargerID)
	}
	if f.IDTag != "" {
		where = append(where, "id_tag = ?")
		args = append(args, f.IDTag)
	}
	if f.Active != nil {
		if *f.Active {
			where = append(where, "("+activeRes+" AND expires_at > ?)")
		} else {
			where = append(where, "NOT ("+activeRes+" AND expires_at > ?)")
		}
		args = append(args, now)
	}
	switch {
	case f.Status == "":
	case f.Status == store.ReservationExpired:
		where = append(where, "(status = 'Expired' OR ("+activeRes+" AND expires_at <= ?))")
		args = append(args, now)
	case f.Status.Active():
		where = append(where, "status = ? AND expires_at > ?")
		args = append(args, f.Status, now)
	default:
		where = append(where, "status = ?")
		args = append(args, f.Status)
	}
	if f.Before > 0 {
		where = append(where, "id < ?")
		args = append(args, f.Before)
	}
	args = append(args, rules.Limit(f.Limit))
	rows, err := db.r.QueryContext(ctx, `SELECT `+resCols+` FROM reservations`+whereClause(where)+
		` ORDER BY id DESC LIMIT ?`, args...)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list reservations: %w", err)
	}
	out, err := collect(rows, scanReservation)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list reservations: %w", err)
	}
	return out, nil
}

// UpdateReservation implements store.Store. The writer connection makes
// the status check and the update one step.
func (db *DB) UpdateReservation(ctx context.Context, u store.ReservationUpdate) (store.Reservation, error) {
	if err := rules.ReservationUpdate(u); err != nil {
		return store.Reservation{}, err
	}
	at := toMicros(rules.OrNow(u.At))
	var out store.Reservation
	err := db.tx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		cur, err := scanReservation(tx.QueryRowContext(ctx, `SELECT `+resCols+` FROM reservations WHERE id = ?`, u.ID))
		if errors.Is(err, sql.ErrNoRows) {
			return store.ErrNotFound
		}
		if err != nil {
			return err
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
		var txID any
		if u.TransactionID != nil {
			txID = *u.TransactionID
		}
		out, err = scanReservation(tx.QueryRowContext(ctx, `UPDATE reservations SET status = ?,
			transaction_id = coalesce(?, transaction_id), reason = ?, updated_at = ? WHERE id = ? RETURNING `+resCols,
			u.Status, txID, u.Reason, at, u.ID))
		if isUnique(err) {
			out = cur
			return fmt.Errorf("%w: connector %d of charger %q already has an active reservation", store.ErrConflict, cur.ConnectorID, cur.ChargerID)
		}
		return err
	})
	if err != nil {
		return out, fmt.Errorf("sqlite: update reservation %d: %w", u.ID, err)
	}
	return out, nil
}

// ExpireReservations implements store.Store. SQLite has one writer, so
// no two sweeps see the same row.
func (db *DB) ExpireReservations(ctx context.Context, now time.Time, chargerID string, limit int) ([]store.Reservation, error) {
	at := toMicros(now)
	conds := []string{activeRes, "expires_at <= ?"}
	args := []any{at, at}
	if chargerID != "" {
		conds = append(conds, "charger_id = ?")
		args = append(args, chargerID)
	}
	args = append(args, rules.Limit(limit))
	rows, err := db.w.QueryContext(ctx, `UPDATE reservations SET status = 'Expired', reason = 'expired', updated_at = ?
		WHERE id IN (SELECT id FROM reservations WHERE `+strings.Join(conds, " AND ")+` ORDER BY expires_at LIMIT ?)
		RETURNING `+resCols, args...)
	if err != nil {
		return nil, fmt.Errorf("sqlite: expire reservations: %w", err)
	}
	out, err := collect(rows, scanReservation)
	if err != nil {
		return nil, fmt.Errorf("sqlite: expire reservations: %w", err)
	}
	rules.SortByExpiry(out)
	return out, nil
}

// NextReservationExpiry implements store.Store.
func (db *DB) NextReservationExpiry(ctx context.Context) (*time.Time, error) {
	var next sql.NullInt64
	if err := db.r.QueryRowContext(ctx, `SELECT min(expires_at) FROM reservations WHERE `+activeRes).Scan(&next); err != nil {
		return nil, fmt.Errorf("sqlite: next reservation expiry: %w", err)
	}
	return timePtr(next), nil
}
