package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/wattson-csms/wattson/store"
	"github.com/wattson-csms/wattson/store/internal/rules"
)

const txCols = `id, charger_id, connector_id, id_tag, meter_start, started_at, start_recv_at,
	reservation_id, meter_stop, stopped_at, stop_recv_at, stop_reason, stop_id_tag`

func scanTx(s scanner) (store.Transaction, error) {
	var t store.Transaction
	var started, recv int64
	var res, meterStop, stopped, stopRecv sql.NullInt64
	err := s.Scan(&t.ID, &t.ChargerID, &t.ConnectorID, &t.IDTag, &t.MeterStart, &started, &recv,
		&res, &meterStop, &stopped, &stopRecv, &t.StopReason, &t.StopIDTag)
	t.StartedAt, t.StartRecvAt = fromMicros(started), fromMicros(recv)
	if res.Valid {
		v := int(res.Int64)
		t.ReservationID = &v
	}
	if meterStop.Valid {
		v := meterStop.Int64
		t.MeterStop = &v
	}
	t.StoppedAt, t.StopRecvAt = timePtr(stopped), timePtr(stopRecv)
	return t, err
}

// StartTransaction implements store.Store: the duplicate check, closing a
// stale transaction and the insert are one database transaction, so a
// crash never leaves a connector with two open transactions or a retried
// start with two ids.
func (db *DB) StartTransaction(ctx context.Context, s store.StartTx) (store.StartResult, error) {
	if err := rules.StartTx(s); err != nil {
		return store.StartResult{}, err
	}
	recv := toMicros(rules.OrNow(s.ReceivedAt))
	started := toMicros(s.Timestamp)
	var res store.StartResult
	err := db.tx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		res = store.StartResult{}
		t, err := scanTx(tx.QueryRowContext(ctx, `SELECT `+txCols+` FROM transactions
			WHERE charger_id = ? AND connector_id = ? AND id_tag = ? AND meter_start = ? AND started_at = ?`,
			s.ChargerID, s.ConnectorID, s.IDTag, s.MeterStart, started))
		switch {
		case err == nil:
			res.Transaction, res.Duplicate = t, true
			return nil
		case !errors.Is(err, sql.ErrNoRows):
			return err
		}

		rows, err := tx.QueryContext(ctx, `SELECT id, meter_start FROM transactions
			WHERE charger_id = ? AND connector_id = ? AND stopped_at IS NULL`, s.ChargerID, s.ConnectorID)
		if err != nil {
			return err
		}
		type open struct{ id, meterStart int64 }
		stale, err := collect(rows, func(sc scanner) (open, error) {
			var o open
			return o, sc.Scan(&o.id, &o.meterStart)
		})
		if err != nil {
			return err
		}
		for _, o := range stale {
			if _, err := tx.ExecContext(ctx, `UPDATE transactions SET meter_stop = ?, stopped_at = ?,
				stop_recv_at = ?, stop_reason = ? WHERE id = ?`,
				rules.StaleMeterStop(o.meterStart, s.MeterStart), started, recv, store.StaleStopReason, o.id); err != nil {
				return err
			}
			res.ClosedStale = append(res.ClosedStale, o.id)
		}

		var reservation any
		if s.ReservationID != nil {
			reservation = *s.ReservationID
		}
		res.Transaction, err = scanTx(tx.QueryRowContext(ctx, `INSERT INTO transactions
			(charger_id, connector_id, id_tag, meter_start, started_at, start_recv_at, reservation_id)
			VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING `+txCols,
			s.ChargerID, s.ConnectorID, s.IDTag, s.MeterStart, started, recv, reservation))
		return err
	})
	if err != nil {
		return store.StartResult{}, fmt.Errorf("sqlite: start transaction on %q/%d: %w", s.ChargerID, s.ConnectorID, err)
	}
	return res, nil
}

// StopTransaction implements store.Store. The update only matches an open
// transaction of this charger, so a repeated or foreign stop changes
// nothing; only then is the transaction read to say why.
func (db *DB) StopTransaction(ctx context.Context, s store.StopTx) (store.Transaction, store.StopOutcome, error) {
	if err := rules.StopTx(s); err != nil {
		return store.Transaction{}, 0, err
	}
	var (
		t       store.Transaction
		outcome store.StopOutcome
	)
	err := db.tx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		var err error
		t, err = scanTx(tx.QueryRowContext(ctx, `UPDATE transactions SET meter_stop = ?, stopped_at = ?,
			stop_recv_at = ?, stop_reason = ?, stop_id_tag = ?
			WHERE id = ? AND charger_id = ? AND stopped_at IS NULL RETURNING `+txCols,
			s.MeterStop, toMicros(s.Timestamp), toMicros(rules.OrNow(s.ReceivedAt)),
			rules.StopReason(s.Reason), s.IDTag, s.TransactionID, s.ChargerID))
		if err == nil {
			outcome = store.Stopped
			return nil
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		t, err = scanTx(tx.QueryRowContext(ctx, `SELECT `+txCols+` FROM transactions WHERE id = ?`, s.TransactionID))
		switch {
		case errors.Is(err, sql.ErrNoRows) || err == nil && t.ChargerID != s.ChargerID:
			t, outcome = store.Transaction{}, store.UnknownTransaction
			return nil
		case err != nil:
			return err
		}
		outcome = store.AlreadyStopped
		return nil
	})
	if err != nil {
		return store.Transaction{}, 0, fmt.Errorf("sqlite: stop transaction %d: %w", s.TransactionID, err)
	}
	return t, outcome, nil
}

// GetTransaction implements store.Store.
func (db *DB) GetTransaction(ctx context.Context, id int64) (store.Transaction, error) {
	t, err := scanTx(db.r.QueryRowContext(ctx, `SELECT `+txCols+` FROM transactions WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return store.Transaction{}, fmt.Errorf("sqlite: transaction %d: %w", id, store.ErrNotFound)
	}
	if err != nil {
		return store.Transaction{}, fmt.Errorf("sqlite: transaction %d: %w", id, err)
	}
	return t, nil
}

// ListTransactions implements store.Store.
func (db *DB) ListTransactions(ctx context.Context, f store.TxFilter) ([]store.Transaction, error) {
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
			where = append(where, "stopped_at IS NULL")
		} else {
			where = append(where, "stopped_at IS NOT NULL")
		}
	}
	if f.From != nil {
		where = append(where, "started_at >= ?")
		args = append(args, toMicros(*f.From))
	}
	if f.To != nil {
		where = append(where, "started_at < ?")
		args = append(args, toMicros(*f.To))
	}
	if f.Before > 0 {
		where = append(where, "id < ?")
		args = append(args, f.Before)
	}
	args = append(args, rules.Limit(f.Limit))
	rows, err := db.r.QueryContext(ctx, `SELECT `+txCols+` FROM transactions`+whereClause(where)+
		` ORDER BY id DESC LIMIT ?`, args...)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list transactions: %w", err)
	}
	out, err := collect(rows, scanTx)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list transactions: %w", err)
	}
	return out, nil
}

// HasActiveTransaction implements store.Store.
func (db *DB) HasActiveTransaction(ctx context.Context, idTag string) (bool, error) {
	var ok bool
	err := db.r.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM transactions
		WHERE id_tag = ? AND stopped_at IS NULL)`, idTag).Scan(&ok)
	if err != nil {
		return false, fmt.Errorf("sqlite: active transaction of %q: %w", idTag, err)
	}
	return ok, nil
}
