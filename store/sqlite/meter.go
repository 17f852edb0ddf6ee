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

const meterCols = `charger_id, connector_id, transaction_id, ts, recv_at, value, measurand,
	phase, unit, location, context, format`

// meterRowsPerInsert bounds one multi-row INSERT: 12 parameters a row stays
// far below SQLite's limit of 32766 bound parameters, while cutting the
// per-statement cost of a big batch.
const meterRowsPerInsert = 200

func scanMeter(s scanner) (store.MeterSample, error) {
	var m store.MeterSample
	var tx sql.NullInt64
	var ts, recv int64
	err := s.Scan(&m.ChargerID, &m.ConnectorID, &tx, &ts, &recv, &m.Value, &m.Measurand,
		&m.Phase, &m.Unit, &m.Location, &m.Context, &m.Format)
	if tx.Valid {
		v := tx.Int64
		m.TransactionID = &v
	}
	m.Timestamp, m.ReceivedAt = fromMicros(ts), fromMicros(recv)
	return m, err
}

func meterArgs(args []any, m store.MeterSample, measurand string, now time.Time) []any {
	var tx any
	if m.TransactionID != nil {
		tx = *m.TransactionID
	}
	recv := m.ReceivedAt
	if recv.IsZero() {
		recv = now
	}
	return append(args, m.ChargerID, m.ConnectorID, tx, toMicros(m.Timestamp), toMicros(recv),
		m.Value, measurand, m.Phase, m.Unit, m.Location, m.Context, m.Format)
}

// AddMeterValues implements store.Store: the samples and the newest value
// per series are written in one transaction.
func (db *DB) AddMeterValues(ctx context.Context, samples []store.MeterSample) error {
	if len(samples) == 0 {
		return nil
	}
	if err := rules.MeterSamples(samples); err != nil {
		return err
	}
	now := rules.Now()
	err := db.tx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		args := make([]any, 0, 12*min(len(samples), meterRowsPerInsert))
		for rest := samples; len(rest) > 0; {
			chunk := rest[:min(len(rest), meterRowsPerInsert)]
			rest = rest[len(chunk):]
			args = args[:0]
			for _, m := range chunk {
				args = meterArgs(args, m, m.Measurand, now)
			}
			q := `INSERT INTO meter_values (` + meterCols + `) VALUES ` + placeholders(len(chunk), 12)
			if _, err := tx.ExecContext(ctx, q, args...); err != nil {
				return err
			}
		}
		// Only a newer sample replaces the stored one: chargers resend old
		// samples after a reconnect.
		st, err := tx.PrepareContext(ctx, `INSERT INTO latest_meter_values (`+meterCols+`)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (charger_id, connector_id, measurand, phase) DO UPDATE SET
				transaction_id = excluded.transaction_id, ts = excluded.ts, recv_at = excluded.recv_at,
				value = excluded.value, unit = excluded.unit, location = excluded.location,
				context = excluded.context, format = excluded.format
			WHERE excluded.ts >= latest_meter_values.ts`)
		if err != nil {
			return err
		}
		defer st.Close()
		for _, m := range rules.Newest(samples) {
			if _, err := st.ExecContext(ctx, meterArgs(args[:0], m, rules.Measurand(m), now)...); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("sqlite: add %d meter values: %w", len(samples), err)
	}
	return nil
}

// placeholders returns "(?, ?), (?, ?)" for rows rows of cols columns.
func placeholders(rows, cols int) string {
	row := "(" + strings.Repeat("?, ", cols-1) + "?)"
	var b strings.Builder
	b.Grow(rows * (len(row) + 2))
	for i := range rows {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(row)
	}
	return b.String()
}

// TransactionMeterValues implements store.Store.
func (db *DB) TransactionMeterValues(ctx context.Context, txID int64) ([]store.MeterSample, error) {
	rows, err := db.r.QueryContext(ctx, `SELECT `+meterCols+` FROM meter_values
		WHERE transaction_id = ? ORDER BY ts, id`, txID)
	if err != nil {
		return nil, fmt.Errorf("sqlite: meter values of transaction %d: %w", txID, err)
	}
	out, err := collect(rows, scanMeter)
	if err != nil {
		return nil, fmt.Errorf("sqlite: meter values of transaction %d: %w", txID, err)
	}
	return out, nil
}

// LatestMeterValues implements store.Store. The measurand of a sample sent
// without one is reported as Energy.Active.Import.Register.
func (db *DB) LatestMeterValues(ctx context.Context, chargerID string) ([]store.MeterSample, error) {
	rows, err := db.r.QueryContext(ctx, `SELECT `+meterCols+` FROM latest_meter_values
		WHERE charger_id = ? ORDER BY connector_id, measurand, phase`, chargerID)
	if err != nil {
		return nil, fmt.Errorf("sqlite: latest meter values of %q: %w", chargerID, err)
	}
	out, err := collect(rows, scanMeter)
	if err != nil {
		return nil, fmt.Errorf("sqlite: latest meter values of %q: %w", chargerID, err)
	}
	return out, nil
}

const eventCols = `id, charger_id, kind, status, ts, received_at, payload`

func scanEvent(s scanner) (store.ChargerEvent, error) {
	var e store.ChargerEvent
	var ts sql.NullInt64
	var recv int64
	err := s.Scan(&e.ID, &e.ChargerID, &e.Kind, &e.Status, &ts, &recv, &e.Payload)
	e.Timestamp, e.ReceivedAt = timePtr(ts), fromMicros(recv)
	return e, err
}

// AddChargerEvent implements store.Store.
func (db *DB) AddChargerEvent(ctx context.Context, e store.ChargerEvent) (store.ChargerEvent, error) {
	if err := rules.ChargerEvent(e); err != nil {
		return store.ChargerEvent{}, err
	}
	payload := e.Payload
	if payload == nil {
		payload = []byte{}
	}
	out, err := scanEvent(db.w.QueryRowContext(ctx, `INSERT INTO charger_events
		(charger_id, kind, status, ts, received_at, payload) VALUES (?, ?, ?, ?, ?, ?) RETURNING `+eventCols,
		e.ChargerID, e.Kind, e.Status, nullMicros(e.Timestamp), toMicros(rules.OrNow(e.ReceivedAt)), payload))
	if isForeignKey(err) {
		err = fmt.Errorf("charger: %w", store.ErrNotFound)
	}
	if err != nil {
		return store.ChargerEvent{}, fmt.Errorf("sqlite: add %s of %q: %w", e.Kind, e.ChargerID, err)
	}
	return out, nil
}

// ListChargerEvents implements store.Store; kind "" lists every kind.
func (db *DB) ListChargerEvents(ctx context.Context, chargerID, kind string, limit int) ([]store.ChargerEvent, error) {
	q := `SELECT ` + eventCols + ` FROM charger_events WHERE charger_id = ?`
	args := []any{chargerID}
	if kind != "" {
		q += ` AND kind = ?`
		args = append(args, kind)
	}
	args = append(args, rules.Limit(limit))
	rows, err := db.r.QueryContext(ctx, q+` ORDER BY id DESC LIMIT ?`, args...)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list events of %q: %w", chargerID, err)
	}
	out, err := collect(rows, scanEvent)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list events of %q: %w", chargerID, err)
	}
	return out, nil
}

// AppendLog implements store.Store: the new entries and the trimming of
// each charger's log to keep entries are one transaction.
func (db *DB) AppendLog(ctx context.Context, entries []store.LogEntry, keep int) error {
	if err := rules.LogEntries(entries, keep); err != nil {
		return err
	}
	if len(entries) == 0 {
		return nil
	}
	now := rules.Now()
	err := db.tx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		ins, err := tx.PrepareContext(ctx, `INSERT INTO message_log (charger_id, at, incoming, frame) VALUES (?, ?, ?, ?)`)
		if err != nil {
			return err
		}
		defer ins.Close()
		var chargers []string
		added := make(map[string]int)
		for _, e := range entries {
			at := e.At
			if at.IsZero() {
				at = now
			}
			frame := e.Frame
			if frame == nil {
				frame = []byte{}
			}
			if _, err := ins.ExecContext(ctx, e.ChargerID, toMicros(at), e.Incoming, frame); err != nil {
				return err
			}
			if added[e.ChargerID] == 0 {
				chargers = append(chargers, e.ChargerID)
			}
			added[e.ChargerID]++
		}
		for _, id := range chargers {
			// The count says how many to trim; the oldest go.
			var n int64
			if err := tx.QueryRowContext(ctx, `INSERT INTO message_log_counts (charger_id, n) VALUES (?, ?)
				ON CONFLICT (charger_id) DO UPDATE SET n = n + excluded.n RETURNING n`, id, added[id]).Scan(&n); err != nil {
				return err
			}
			if n <= int64(keep) {
				continue
			}
			res, err := tx.ExecContext(ctx, `DELETE FROM message_log WHERE id IN (
				SELECT id FROM message_log WHERE charger_id = ? ORDER BY id LIMIT ?)`, id, n-int64(keep))
			if err != nil {
				return err
			}
			gone, err := res.RowsAffected()
			if err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, `UPDATE message_log_counts SET n = n - ? WHERE charger_id = ?`, gone, id); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("sqlite: append %d log entries: %w", len(entries), err)
	}
	return nil
}

// ListLog implements store.Store; before 0 starts at the newest entry.
func (db *DB) ListLog(ctx context.Context, chargerID string, before int64, limit int) ([]store.LogEntry, error) {
	q := `SELECT id, charger_id, at, incoming, frame FROM message_log WHERE charger_id = ?`
	args := []any{chargerID}
	if before > 0 {
		q += ` AND id < ?`
		args = append(args, before)
	}
	args = append(args, rules.Limit(limit))
	rows, err := db.r.QueryContext(ctx, q+` ORDER BY id DESC LIMIT ?`, args...)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list log of %q: %w", chargerID, err)
	}
	out, err := collect(rows, func(s scanner) (store.LogEntry, error) {
		var e store.LogEntry
		var at int64
		err := s.Scan(&e.ID, &e.ChargerID, &at, &e.Incoming, &e.Frame)
		e.At = fromMicros(at)
		return e, err
	})
	if err != nil {
		return nil, fmt.Errorf("sqlite: list log of %q: %w", chargerID, err)
	}
	return out, nil
}

const tokenCols = `id, name, hash, role, created_at, last_used_at`

func scanToken(s scanner) (store.Token, error) {
	var t store.Token
	var created int64
	var used sql.NullInt64
	err := s.Scan(&t.ID, &t.Name, &t.Hash, &t.Role, &created, &used)
	t.CreatedAt, t.LastUsedAt = fromMicros(created), timePtr(used)
	return t, err
}

// CreateToken implements store.Store; a taken name (or hash) is ErrConflict.
func (db *DB) CreateToken(ctx context.Context, t store.Token) (store.Token, error) {
	if err := rules.Token(t); err != nil {
		return store.Token{}, err
	}
	out, err := scanToken(db.w.QueryRowContext(ctx, `INSERT INTO tokens (name, hash, role, created_at, last_used_at)
		VALUES (?, ?, ?, ?, ?) RETURNING `+tokenCols,
		t.Name, t.Hash, t.Role, toMicros(rules.OrNow(t.CreatedAt)), nullMicros(t.LastUsedAt)))
	if isUnique(err) {
		err = store.ErrConflict
	}
	if err != nil {
		return store.Token{}, fmt.Errorf("sqlite: create token %q: %w", t.Name, err)
	}
	return out, nil
}

// TokenByHash implements store.Store.
func (db *DB) TokenByHash(ctx context.Context, hash []byte) (store.Token, error) {
	t, err := scanToken(db.r.QueryRowContext(ctx, `SELECT `+tokenCols+` FROM tokens WHERE hash = ?`, hash))
	if errors.Is(err, sql.ErrNoRows) {
		err = store.ErrNotFound
	}
	if err != nil {
		return store.Token{}, fmt.Errorf("sqlite: token by hash: %w", err)
	}
	return t, nil
}

// ListTokens implements store.Store, oldest first.
func (db *DB) ListTokens(ctx context.Context) ([]store.Token, error) {
	rows, err := db.r.QueryContext(ctx, `SELECT `+tokenCols+` FROM tokens ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list tokens: %w", err)
	}
	out, err := collect(rows, scanToken)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list tokens: %w", err)
	}
	return out, nil
}

// DeleteToken implements store.Store.
func (db *DB) DeleteToken(ctx context.Context, id int64) error {
	res, err := db.w.ExecContext(ctx, `DELETE FROM tokens WHERE id = ?`, id)
	if err == nil {
		err = mustAffect(res)
	}
	if err != nil {
		return fmt.Errorf("sqlite: delete token %d: %w", id, err)
	}
	return nil
}

// TouchToken implements store.Store; the last-used time only moves forward.
func (db *DB) TouchToken(ctx context.Context, id int64, at time.Time) error {
	res, err := db.w.ExecContext(ctx, `UPDATE tokens SET last_used_at = max(coalesce(last_used_at, 0), ?)
		WHERE id = ?`, toMicros(at), id)
	if err == nil {
		err = mustAffect(res)
	}
	if err != nil {
		return fmt.Errorf("sqlite: touch token %d: %w", id, err)
	}
	return nil
}
