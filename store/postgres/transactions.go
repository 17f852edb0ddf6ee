package postgres

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/jackc/pgx/v5"

	"github.com/wattson-csms/wattson/store"
	"github.com/wattson-csms/wattson/store/internal/rules"
)

const txCols = `id, charger_id, connector_id, id_tag, meter_start, started_at, start_recv_at,
	reservation_id, meter_stop, stopped_at, stop_recv_at, stop_reason, stop_id_tag`

func scanTx(r pgx.Row) (store.Transaction, error) {
	var t store.Transaction
	var res *int32
	err := r.Scan(&t.ID, &t.ChargerID, &t.ConnectorID, &t.IDTag, &t.MeterStart, &t.StartedAt, &t.StartRecvAt,
		&res, &t.MeterStop, &t.StoppedAt, &t.StopRecvAt, &t.StopReason, &t.StopIDTag)
	utc(&t.StartedAt)
	utc(&t.StartRecvAt)
	t.StoppedAt, t.StopRecvAt = utcPtr(t.StoppedAt), utcPtr(t.StopRecvAt)
	if res != nil {
		v := int(*res)
		t.ReservationID = &v
	}
	return t, err
}

// StartTransaction implements store.Store: the duplicate check, closing a
// stale transaction and the insert are one database transaction, serialised
// per connector by an advisory lock (READ COMMITTED alone would let two
// racing starts both miss each other).
func (db *DB) StartTransaction(ctx context.Context, s store.StartTx) (store.StartResult, error) {
	if err := rules.StartTx(s); err != nil {
		return store.StartResult{}, err
	}
	recv := rules.OrNow(s.ReceivedAt)
	var res store.StartResult
	err := pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
		res = store.StartResult{}
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1, hashtext($2))`,
			lockStart, s.ChargerID+"/"+strconv.Itoa(s.ConnectorID)); err != nil {
			return err
		}
		t, err := scanTx(tx.QueryRow(ctx, `SELECT `+txCols+` FROM transactions
			WHERE charger_id = $1 AND connector_id = $2 AND id_tag = $3 AND meter_start = $4 AND started_at = $5`,
			s.ChargerID, s.ConnectorID, s.IDTag, s.MeterStart, s.Timestamp))
		switch {
		case err == nil:
			res.Transaction, res.Duplicate = t, true
			return nil
		case !errors.Is(err, pgx.ErrNoRows):
			return err
		}

		type open struct{ id, meterStart int64 }
		rows, err := tx.Query(ctx, `SELECT id, meter_start FROM transactions
			WHERE charger_id = $1 AND connector_id = $2 AND stopped_at IS NULL`, s.ChargerID, s.ConnectorID)
		stale, err := collect(rows, err, func(r pgx.Row) (open, error) {
			var o open
			return o, r.Scan(&o.id, &o.meterStart)
		})
		if err != nil {
			return err
		}
		for _, o := range stale {
			if _, err := tx.Exec(ctx, `UPDATE transactions SET meter_stop = $1, stopped_at = $2,
				stop_recv_at = $3, stop_reason = $4 WHERE id = $5`,
				rules.StaleMeterStop(o.meterStart, s.MeterStart), s.Timestamp, recv, store.StaleStopReason, o.id); err != nil {
				return err
			}
			res.ClosedStale = append(res.ClosedStale, o.id)
		}

		res.Transaction, err = scanTx(tx.QueryRow(ctx, `INSERT INTO transactions
			(charger_id, connector_id, id_tag, meter_start, started_at, start_recv_at, reservation_id)
			VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING `+txCols,
			s.ChargerID, s.ConnectorID, s.IDTag, s.MeterStart, s.Timestamp, recv, s.ReservationID))
		return err
	})
	if err != nil {
		return store.StartResult{}, fmt.Errorf("postgres: start transaction on %q/%d: %w", s.ChargerID, s.ConnectorID, err)
	}
	return res, nil
}

// StopTransaction implements store.Store. The update only matches an open
// transaction of this charger, so a repeated or foreign stop changes
// nothing (a racing second stop waits for the first and then matches no
// row); only then is the transaction read to say why.
func (db *DB) StopTransaction(ctx context.Context, s store.StopTx) (store.Transaction, store.StopOutcome, error) {
	if err := rules.StopTx(s); err != nil {
		return store.Transaction{}, 0, err
	}
	t, err := scanTx(db.pool.QueryRow(ctx, `UPDATE transactions SET meter_stop = $1, stopped_at = $2,
		stop_recv_at = $3, stop_reason = $4, stop_id_tag = $5
		WHERE id = $6 AND charger_id = $7 AND stopped_at IS NULL RETURNING `+txCols,
		s.MeterStop, s.Timestamp, rules.OrNow(s.ReceivedAt), rules.StopReason(s.Reason), s.IDTag,
		s.TransactionID, s.ChargerID))
	if err == nil {
		return t, store.Stopped, nil
	}
	if errors.Is(err, pgx.ErrNoRows) {
		t, err = scanTx(db.pool.QueryRow(ctx, `SELECT `+txCols+` FROM transactions WHERE id = $1`, s.TransactionID))
		switch {
		case errors.Is(err, pgx.ErrNoRows) || err == nil && t.ChargerID != s.ChargerID:
			return store.Transaction{}, store.UnknownTransaction, nil
		case err == nil:
			return t, store.AlreadyStopped, nil
		}
	}
	return store.Transaction{}, 0, fmt.Errorf("postgres: stop transaction %d: %w", s.TransactionID, err)
}

// GetTransaction implements store.Store.
func (db *DB) GetTransaction(ctx context.Context, id int64) (store.Transaction, error) {
	t, err := scanTx(db.pool.QueryRow(ctx, `SELECT `+txCols+` FROM transactions WHERE id = $1`, id))
	if err != nil {
		return store.Transaction{}, fmt.Errorf("postgres: transaction %d: %w", id, notFoundIfNoRows(err))
	}
	return t, nil
}

// ListTransactions implements store.Store.
func (db *DB) ListTransactions(ctx context.Context, f store.TxFilter) ([]store.Transaction, error) {
	var where []string
	var a args
	if f.ChargerID != "" {
		where = append(where, "charger_id = "+a.add(f.ChargerID))
	}
	if f.IDTag != "" {
		where = append(where, "id_tag = "+a.add(f.IDTag))
	}
	if f.Active != nil {
		if *f.Active {
			where = append(where, "stopped_at IS NULL")
		} else {
			where = append(where, "stopped_at IS NOT NULL")
		}
	}
	if f.From != nil {
		where = append(where, "started_at >= "+a.add(*f.From))
	}
	if f.To != nil {
		where = append(where, "started_at < "+a.add(*f.To))
	}
	if f.Before > 0 {
		where = append(where, "id < "+a.add(f.Before))
	}
	q := `SELECT ` + txCols + ` FROM transactions` + whereClause(where) + ` ORDER BY id DESC LIMIT ` + a.add(rules.Limit(f.Limit))
	rows, err := db.pool.Query(ctx, q, a...)
	out, err := collect(rows, err, scanTx)
	if err != nil {
		return nil, fmt.Errorf("postgres: list transactions: %w", err)
	}
	return out, nil
}

// HasActiveTransaction implements store.Store.
func (db *DB) HasActiveTransaction(ctx context.Context, idTag string) (bool, error) {
	var ok bool
	err := db.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM transactions
		WHERE id_tag = $1 AND stopped_at IS NULL)`, idTag).Scan(&ok)
	if err != nil {
		return false, fmt.Errorf("postgres: active transaction of %q: %w", idTag, err)
	}
	return ok, nil
}
