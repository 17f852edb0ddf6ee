package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/wattson-csms/wattson/store"
	"github.com/wattson-csms/wattson/store/internal/rules"
)

const meterCols = `charger_id, connector_id, transaction_id, ts, recv_at, value, measurand,
	phase, unit, location, context, format`

// meterArrays holds a batch column by column: the whole batch goes to the
// server as 12 array parameters of one INSERT ... SELECT FROM unnest, one
// round trip whatever its size.
type meterArrays struct {
	charger                                                []string
	connector                                              []int32
	tx                                                     []*int64
	ts, recv                                               []time.Time
	value, measurand, phase, unit, location, context, form []string
}

func newMeterArrays(samples []store.MeterSample, normalise bool, now time.Time) *meterArrays {
	n := len(samples)
	a := &meterArrays{
		charger: make([]string, 0, n), connector: make([]int32, 0, n), tx: make([]*int64, 0, n),
		ts: make([]time.Time, 0, n), recv: make([]time.Time, 0, n), value: make([]string, 0, n),
		measurand: make([]string, 0, n), phase: make([]string, 0, n), unit: make([]string, 0, n),
		location: make([]string, 0, n), context: make([]string, 0, n), form: make([]string, 0, n),
	}
	for _, m := range samples {
		measurand := m.Measurand
		if normalise {
			measurand = rules.Measurand(m)
		}
		recv := m.ReceivedAt
		if recv.IsZero() {
			recv = now
		}
		a.charger = append(a.charger, m.ChargerID)
		a.connector = append(a.connector, int32(m.ConnectorID))
		a.tx = append(a.tx, m.TransactionID)
		a.ts = append(a.ts, m.Timestamp)
		a.recv = append(a.recv, recv)
		a.value = append(a.value, m.Value)
		a.measurand = append(a.measurand, measurand)
		a.phase = append(a.phase, m.Phase)
		a.unit = append(a.unit, m.Unit)
		a.location = append(a.location, m.Location)
		a.context = append(a.context, m.Context)
		a.form = append(a.form, m.Format)
	}
	return a
}

func (a *meterArrays) args() []any {
	return []any{a.charger, a.connector, a.tx, a.ts, a.recv, a.value, a.measurand, a.phase,
		a.unit, a.location, a.context, a.form}
}

// unnestMeter yields the arrays as rows in batch order (WITH ORDINALITY):
// ids follow the order the charger sent the samples in.
const unnestMeter = `SELECT c1, c2, c3, c4, c5, c6, c7, c8, c9, c10, c11, c12 FROM unnest(
	$1::text[], $2::int4[], $3::int8[], $4::timestamptz[], $5::timestamptz[], $6::text[],
	$7::text[], $8::text[], $9::text[], $10::text[], $11::text[], $12::text[])
	WITH ORDINALITY AS u(c1, c2, c3, c4, c5, c6, c7, c8, c9, c10, c11, c12, n) ORDER BY n`

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
	all := newMeterArrays(samples, false, now)
	latest := newMeterArrays(rules.Newest(samples), true, now)
	err := pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
		// Both statements in one round trip.
		var b pgx.Batch
		b.Queue(`INSERT INTO meter_values (`+meterCols+`) `+unnestMeter, all.args()...)
		// Only a newer sample replaces the stored one: chargers resend old
		// samples after a reconnect.
		b.Queue(`INSERT INTO latest_meter_values (`+meterCols+`) `+unnestMeter+`
			ON CONFLICT (charger_id, connector_id, measurand, phase) DO UPDATE SET
				transaction_id = excluded.transaction_id, ts = excluded.ts, recv_at = excluded.recv_at,
				value = excluded.value, unit = excluded.unit, location = excluded.location,
				context = excluded.context, format = excluded.format
			WHERE excluded.ts >= latest_meter_values.ts`, latest.args()...)
		return tx.SendBatch(ctx, &b).Close()
	})
	if err != nil {
		return fmt.Errorf("postgres: add %d meter values: %w", len(samples), err)
	}
	return nil
}

func scanMeter(r pgx.Row) (store.MeterSample, error) {
	var m store.MeterSample
	var conn int32
	err := r.Scan(&m.ChargerID, &conn, &m.TransactionID, &m.Timestamp, &m.ReceivedAt, &m.Value, &m.Measurand,
		&m.Phase, &m.Unit, &m.Location, &m.Context, &m.Format)
	m.ConnectorID = int(conn)
	utc(&m.Timestamp)
	utc(&m.ReceivedAt)
	return m, err
}

// TransactionMeterValues implements store.Store.
func (db *DB) TransactionMeterValues(ctx context.Context, txID int64) ([]store.MeterSample, error) {
	rows, err := db.pool.Query(ctx, `SELECT `+meterCols+` FROM meter_values
		WHERE transaction_id = $1 ORDER BY ts, id`, txID)
	out, err := collect(rows, err, scanMeter)
	if err != nil {
		return nil, fmt.Errorf("postgres: meter values of transaction %d: %w", txID, err)
	}
	return out, nil
}

// LatestMeterValues implements store.Store. The measurand of a sample sent
// without one is reported as Energy.Active.Import.Register.
func (db *DB) LatestMeterValues(ctx context.Context, chargerID string) ([]store.MeterSample, error) {
	rows, err := db.pool.Query(ctx, `SELECT `+meterCols+` FROM latest_meter_values
		WHERE charger_id = $1 ORDER BY connector_id, measurand, phase`, chargerID)
	out, err := collect(rows, err, scanMeter)
	if err != nil {
		return nil, fmt.Errorf("postgres: latest meter values of %q: %w", chargerID, err)
	}
	return out, nil
}

const eventCols = `id, charger_id, kind, status, ts, received_at, payload`

func scanEvent(r pgx.Row) (store.ChargerEvent, error) {
	var e store.ChargerEvent
	err := r.Scan(&e.ID, &e.ChargerID, &e.Kind, &e.Status, &e.Timestamp, &e.ReceivedAt, &e.Payload)
	e.Timestamp = utcPtr(e.Timestamp)
	utc(&e.ReceivedAt)
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
	out, err := scanEvent(db.pool.QueryRow(ctx, `INSERT INTO charger_events
		(charger_id, kind, status, ts, received_at, payload) VALUES ($1, $2, $3, $4, $5, $6) RETURNING `+eventCols,
		e.ChargerID, e.Kind, e.Status, e.Timestamp, rules.OrNow(e.ReceivedAt), payload))
	if isForeignKey(err) {
		err = fmt.Errorf("charger: %w", store.ErrNotFound)
	}
	if err != nil {
		return store.ChargerEvent{}, fmt.Errorf("postgres: add %s of %q: %w", e.Kind, e.ChargerID, err)
	}
	return out, nil
}

// ListChargerEvents implements store.Store; kind "" lists every kind.
func (db *DB) ListChargerEvents(ctx context.Context, chargerID, kind string, limit int) ([]store.ChargerEvent, error) {
	var a args
	q := `SELECT ` + eventCols + ` FROM charger_events WHERE charger_id = ` + a.add(chargerID)
	if kind != "" {
		q += ` AND kind = ` + a.add(kind)
	}
	q += ` ORDER BY id DESC LIMIT ` + a.add(rules.Limit(limit))
	rows, err := db.pool.Query(ctx, q, a...)
	out, err := collect(rows, err, scanEvent)
	if err != nil {
		return nil, fmt.Errorf("postgres: list events of %q: %w", chargerID, err)
	}
	return out, nil
}

// AppendLog implements store.Store: the new entries and the trimming of
// each charger's log to keep entries are one transaction and one round
// trip.
func (db *DB) AppendLog(ctx context.Context, entries []store.LogEntry, keep int) error {
	if err := rules.LogEntries(entries, keep); err != nil {
		return err
	}
	if len(entries) == 0 {
		return nil
	}
	now := rules.Now()
	err := pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
		var b pgx.Batch
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
			b.Queue(`INSERT INTO message_log (charger_id, at, incoming, frame) VALUES ($1, $2, $3, $4)`,
				e.ChargerID, at, e.Incoming, frame)
			if added[e.ChargerID] == 0 {
				chargers = append(chargers, e.ChargerID)
			}
			added[e.ChargerID]++
		}
		for _, id := range chargers {
			// The count says how many to trim; the oldest go, and the
			// count drops by what was deleted. The statements of a batch
			// run in order, each seeing the last.
			b.Queue(`INSERT INTO message_log_counts (charger_id, n) VALUES ($1, $2)
				ON CONFLICT (charger_id) DO UPDATE SET n = message_log_counts.n + excluded.n`, id, added[id])
			b.Queue(`WITH gone AS (
				DELETE FROM message_log WHERE id IN (
					SELECT id FROM message_log WHERE charger_id = $1 ORDER BY id
					LIMIT greatest((SELECT n FROM message_log_counts WHERE charger_id = $1) - $2, 0))
				RETURNING 1)
				UPDATE message_log_counts SET n = n - (SELECT count(*) FROM gone) WHERE charger_id = $1`, id, keep)
		}
		return tx.SendBatch(ctx, &b).Close()
	})
	if err != nil {
		return fmt.Errorf("postgres: append %d log entries: %w", len(entries), err)
	}
	return nil
}

// ListLog implements store.Store; before 0 starts at the newest entry.
func (db *DB) ListLog(ctx context.Context, chargerID string, before int64, limit int) ([]store.LogEntry, error) {
	var a args
	q := `SELECT id, charger_id, at, incoming, frame FROM message_log WHERE charger_id = ` + a.add(chargerID)
	if before > 0 {
		q += ` AND id < ` + a.add(before)
	}
	q += ` ORDER BY id DESC LIMIT ` + a.add(rules.Limit(limit))
	rows, err := db.pool.Query(ctx, q, a...)
	out, err := collect(rows, err, func(r pgx.Row) (store.LogEntry, error) {
		var e store.LogEntry
		err := r.Scan(&e.ID, &e.ChargerID, &e.At, &e.Incoming, &e.Frame)
		utc(&e.At)
		return e, err
	})
	if err != nil {
		return nil, fmt.Errorf("postgres: list log of %q: %w", chargerID, err)
	}
	return out, nil
}

const tokenCols = `id, name, hash, role, created_at, last_used_at`

func scanToken(r pgx.Row) (store.Token, error) {
	var t store.Token
	err := r.Scan(&t.ID, &t.Name, &t.Hash, &t.Role, &t.CreatedAt, &t.LastUsedAt)
	utc(&t.CreatedAt)
	t.LastUsedAt = utcPtr(t.LastUsedAt)
	return t, err
}

// CreateToken implements store.Store; a taken name (or hash) is ErrConflict.
func (db *DB) CreateToken(ctx context.Context, t store.Token) (store.Token, error) {
	if err := rules.Token(t); err != nil {
		return store.Token{}, err
	}
	out, err := scanToken(db.pool.QueryRow(ctx, `INSERT INTO tokens (name, hash, role, created_at, last_used_at)
		VALUES ($1, $2, $3, $4, $5) RETURNING `+tokenCols,
		t.Name, t.Hash, t.Role, rules.OrNow(t.CreatedAt), t.LastUsedAt))
	if isUnique(err) {
		err = store.ErrConflict
	}
	if err != nil {
		return store.Token{}, fmt.Errorf("postgres: create token %q: %w", t.Name, err)
	}
	return out, nil
}

// TokenByHash implements store.Store.
func (db *DB) TokenByHash(ctx context.Context, hash []byte) (store.Token, error) {
	t, err := scanToken(db.pool.QueryRow(ctx, `SELECT `+tokenCols+` FROM tokens WHERE hash = $1`, hash))
	if err != nil {
		return store.Token{}, fmt.Errorf("postgres: token by hash: %w", notFoundIfNoRows(err))
	}
	return t, nil
}

// ListTokens implements store.Store, oldest first.
func (db *DB) ListTokens(ctx context.Context) ([]store.Token, error) {
	rows, err := db.pool.Query(ctx, `SELECT `+tokenCols+` FROM tokens ORDER BY id`)
	out, err := collect(rows, err, scanToken)
	if err != nil {
		return nil, fmt.Errorf("postgres: list tokens: %w", err)
	}
	return out, nil
}

// DeleteToken implements store.Store.
func (db *DB) DeleteToken(ctx context.Context, id int64) error {
	if err := mustAffect(db.pool.Exec(ctx, `DELETE FROM tokens WHERE id = $1`, id)); err != nil {
		return fmt.Errorf("postgres: delete token %d: %w", id, err)
	}
	return nil
}

// TouchToken implements store.Store; the last-used time only moves forward.
func (db *DB) TouchToken(ctx context.Context, id int64, at time.Time) error {
	err := mustAffect(db.pool.Exec(ctx, `UPDATE tokens SET last_used_at = greatest(last_used_at, $1) WHERE id = $2`, at, id))
	if err != nil {
		return fmt.Errorf("postgres: touch token %d: %w", id, err)
	}
	return nil
}
