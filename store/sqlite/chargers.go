package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/wattson-csms/wattson/store"
	"github.com/wattson-csms/wattson/store/internal/rules"
)

const chargerCols = `id, registration, vendor, model, serial_number, charge_box_serial,
	firmware_version, iccid, imsi, meter_type, meter_serial_number, password_hash,
	last_boot_at, last_seen_at, created_at, updated_at`

func scanCharger(s scanner) (store.Charger, error) {
	var c store.Charger
	var boot, seen sql.NullInt64
	var created, updated int64
	err := s.Scan(&c.ID, &c.Registration, &c.Vendor, &c.Model, &c.SerialNumber, &c.ChargeBoxSerial,
		&c.FirmwareVersion, &c.ICCID, &c.IMSI, &c.MeterType, &c.MeterSerialNumber, &c.PasswordHash,
		&boot, &seen, &created, &updated)
	c.LastBootAt, c.LastSeenAt = timePtr(boot), timePtr(seen)
	c.CreatedAt, c.UpdatedAt = fromMicros(created), fromMicros(updated)
	return c, err
}

// RecordBoot implements store.Store.
func (db *DB) RecordBoot(ctx context.Context, b store.Boot, def store.Registration) (store.Charger, error) {
	if err := rules.ChargerID(b.ChargerID); err != nil {
		return store.Charger{}, err
	}
	if err := rules.Registration(def); err != nil {
		return store.Charger{}, err
	}
	now := toMicros(rules.Now())
	recv := toMicros(rules.OrNow(b.ReceivedAt))
	// The registration is only set on insert: a boot never approves or
	// rejects a known charger.
	q := `INSERT INTO chargers (id, registration, vendor, model,
		serial_number, charge_box_serial, firmware_version, iccid, imsi, meter_type,
		meter_serial_number, last_boot_at, last_seen_at, created_at, updated_at)
	VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
	ON CONFLICT (id) DO UPDATE SET vendor = excluded.vendor, model = excluded.model,
		serial_number = excluded.serial_number, charge_box_serial = excluded.charge_box_serial,
		firmware_version = excluded.firmware_version, iccid = excluded.iccid, imsi = excluded.imsi,
		meter_type = excluded.meter_type, meter_serial_number = excluded.meter_serial_number,
		last_boot_at = excluded.last_boot_at,
		last_seen_at = max(coalesce(chargers.last_seen_at, 0), excluded.last_seen_at),
		updated_at = excluded.updated_at
	RETURNING ` + chargerCols
	args := []any{b.ChargerID, def, b.Vendor, b.Model, b.SerialNumber, b.ChargeBoxSerial, b.FirmwareVersion,
		b.ICCID, b.IMSI, b.MeterType, b.MeterSerialNumber, recv, recv, now, now}
	var c store.Charger
	err := db.tx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		var err error
		c, err = scanCharger(tx.QueryRowContext(ctx, q, args...))
		return err
	})
	if err != nil {
		return store.Charger{}, fmt.Errorf("sqlite: record boot of %q: %w", b.ChargerID, err)
	}
	return c, nil
}

// GetCharger implements store.Store.
func (db *DB) GetCharger(ctx context.Context, id string) (store.Charger, error) {
	c, err := scanCharger(db.r.QueryRowContext(ctx, `SELECT `+chargerCols+` FROM chargers WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return store.Charger{}, fmt.Errorf("sqlite: charger %q: %w", id, store.ErrNotFound)
	}
	if err != nil {
		return store.Charger{}, fmt.Errorf("sqlite: charger %q: %w", id, err)
	}
	return c, nil
}

// ListChargers implements store.Store.
func (db *DB) ListChargers(ctx context.Context, f store.ChargerFilter) ([]store.Charger, error) {
	var where []string
	var args []any
	if f.Registration != "" {
		where = append(where, "registration = ?")
		args = append(args, f.Registration)
	}
	if f.Search != "" {
		q := strings.ToLower(f.Search)
		where = append(where, "("+lowerContains("id")+" OR "+lowerContains("vendor")+" OR "+lowerContains("model")+")")
		args = append(args, q, q, q)
	}
	if f.After != "" {
		where = append(where, "id > ?")
		args = append(args, f.After)
	}
	q := `SELECT ` + chargerCols + ` FROM chargers` + whereClause(where) + ` ORDER BY id LIMIT ?`
	args = append(args, rules.Limit(f.Limit))
	rows, err := db.r.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list chargers: %w", err)
	}
	out, err := collect(rows, scanCharger)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list chargers: %w", err)
	}
	return out, nil
}

// PutCharger implements store.Store.
func (db *DB) PutCharger(ctx context.Context, c store.Charger) (store.Charger, error) {
	if err := rules.ChargerID(c.ID); err != nil {
		return store.Charger{}, err
	}
	if err := rules.Registration(c.Registration); err != nil {
		return store.Charger{}, err
	}
	now := toMicros(rules.Now())
	row := db.w.QueryRowContext(ctx, `INSERT INTO chargers (id, registration, password_hash, created_at, updated_at)
	VALUES (?, ?, ?, ?, ?)
	ON CONFLICT (id) DO UPDATE SET registration = excluded.registration,
		password_hash = excluded.password_hash, updated_at = excluded.updated_at
	RETURNING `+chargerCols, c.ID, c.Registration, c.PasswordHash, now, now)
	out, err := scanCharger(row)
	if err != nil {
		return store.Charger{}, fmt.Errorf("sqlite: put charger %q: %w", c.ID, err)
	}
	return out, nil
}

// DeleteCharger implements store.Store. Transactions and meter values stay:
// they are the record of energy delivered.
func (db *DB) DeleteCharger(ctx context.Context, id string) error {
	err := db.tx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM chargers WHERE id = ?`, id)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			return store.ErrNotFound
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM message_log WHERE charger_id = ?`, id); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM message_log_counts WHERE charger_id = ?`, id); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `DELETE FROM latest_meter_values WHERE charger_id = ?`, id)
		return err
	})
	if err != nil {
		return fmt.Errorf("sqlite: delete charger %q: %w", id, err)
	}
	return nil
}

// TouchChargers implements store.Store. Last-seen times only move forward,
// so a late flush cannot turn the clock back. Unknown ids are ignored: the
// charger may have been deleted since its heartbeat.
func (db *DB) TouchChargers(ctx context.Context, seen map[string]time.Time) error {
	if len(seen) == 0 {
		return nil
	}
	ids := make([]string, 0, len(seen))
	for id := range seen {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	// In chunks: one transaction of tens of thousands of updates would
	// hold the one writer for a good part of a second, and every
	// charger's message waiting behind it (this runs every few seconds).
	for len(ids) > 0 {
		chunk := ids[:min(len(ids), touchChunk)]
		ids = ids[len(chunk):]
		err := db.tx(ctx, func(ctx context.Context, tx *sql.Tx) error {
			st, err := tx.PrepareContext(ctx, `UPDATE chargers
			SET last_seen_at = max(coalesce(last_seen_at, 0), ?) WHERE id = ?`)
			if err != nil {
				return err
			}
			defer st.Close()
			for _, id := range chunk {
				if _, err := st.ExecContext(ctx, toMicros(seen[id]), id); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("sqlite: touch %d chargers: %w", len(seen), err)
		}
	}
	return nil
}

// touchChunk is the most last-seen times written in one transaction.
const touchChunk = 256

const connectorCols = `charger_id, connector_id, status, error_code, info, vendor_id,
	vendor_error_code, charger_ts, updated_at`

func scanConnector(s scanner) (store.Connector, error) {
	var c store.Connector
	var ts sql.NullInt64
	var updated int64
	err := s.Scan(&c.ChargerID, &c.ConnectorID, &c.Status, &c.ErrorCode, &c.Info, &c.VendorID,
		&c.VendorErrorCode, &ts, &updated)
	c.ChargerTimestamp, c.UpdatedAt = timePtr(ts), fromMicros(updated)
	return c, err
}

// RecordStatus implements store.Store.
func (db *DB) RecordStatus(ctx context.Context, c store.Connector) error {
	if err := rules.Connector(c); err != nil {
		return err
	}
	args := []any{c.ChargerID, c.ConnectorID, c.Status, c.ErrorCode, c.Info, c.VendorID,
		c.VendorErrorCode, nullMicros(c.ChargerTimestamp), toMicros(rules.OrNow(c.UpdatedAt))}
	err := db.tx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO connectors (`+connectorCols+`)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (charger_id, connector_id) DO UPDATE SET status = excluded.status,
			error_code = excluded.error_code, info = excluded.info, vendor_id = excluded.vendor_id,
			vendor_error_code = excluded.vendor_error_code, charger_ts = excluded.charger_ts,
			updated_at = excluded.updated_at`, args...); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO status_history (`+connectorCols+`)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`, args...)
		return err
	})
	if isForeignKey(err) {
		err = fmt.Errorf("charger: %w", store.ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("sqlite: record status of %q/%d: %w", c.ChargerID, c.ConnectorID, err)
	}
	return nil
}

// ListConnectors implements store.Store.
func (db *DB) ListConnectors(ctx context.Context, chargerID string) ([]store.Connector, error) {
	rows, err := db.r.QueryContext(ctx, `SELECT `+connectorCols+` FROM connectors
		WHERE charger_id = ? ORDER BY connector_id`, chargerID)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list connectors of %q: %w", chargerID, err)
	}
	out, err := collect(rows, scanConnector)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list connectors of %q: %w", chargerID, err)
	}
	return out, nil
}

// StatusHistory implements store.Store.
func (db *DB) StatusHistory(ctx context.Context, chargerID string, connectorID int, limit int) ([]store.Connector, error) {
	rows, err := db.r.QueryContext(ctx, `SELECT `+connectorCols+` FROM status_history
		WHERE charger_id = ? AND connector_id = ? ORDER BY id DESC LIMIT ?`,
		chargerID, connectorID, rules.Limit(limit))
	if err != nil {
		return nil, fmt.Errorf("sqlite: status history of %q/%d: %w", chargerID, connectorID, err)
	}
	out, err := collect(rows, scanConnector)
	if err != nil {
		return nil, fmt.Errorf("sqlite: status history of %q/%d: %w", chargerID, connectorID, err)
	}
	return out, nil
}

const idTagCols = `id_tag, status, expiry_date, parent_id_tag, owner, note, created_at, updated_at`

func scanIDTag(s scanner) (store.IDTag, error) {
	var t store.IDTag
	var exp sql.NullInt64
	var created, updated int64
	err := s.Scan(&t.IDTag, &t.Status, &exp, &t.ParentIDTag, &t.Owner, &t.Note, &created, &updated)
	t.ExpiryDate = timePtr(exp)
	t.CreatedAt, t.UpdatedAt = fromMicros(created), fromMicros(updated)
	return t, err
}

// GetIDTag implements store.Store.
func (db *DB) GetIDTag(ctx context.Context, idTag string) (store.IDTag, error) {
	t, err := scanIDTag(db.r.QueryRowContext(ctx, `SELECT `+idTagCols+` FROM id_tags WHERE id_tag = ?`, idTag))
	if errors.Is(err, sql.ErrNoRows) {
		return store.IDTag{}, fmt.Errorf("sqlite: id tag %q: %w", idTag, store.ErrNotFound)
	}
	if err != nil {
		return store.IDTag{}, fmt.Errorf("sqlite: id tag %q: %w", idTag, err)
	}
	return t, nil
}

// PutIDTag implements store.Store: creates or replaces everything but
// CreatedAt.
func (db *DB) PutIDTag(ctx context.Context, t store.IDTag) (store.IDTag, error) {
	if err := rules.IDTag(t); err != nil {
		return store.IDTag{}, err
	}
	now := toMicros(rules.Now())
	row := db.w.QueryRowContext(ctx, `INSERT INTO id_tags (`+idTagCols+`)
	VALUES (?, ?, ?, ?, ?, ?, ?, ?)
	ON CONFLICT (id_tag) DO UPDATE SET status = excluded.status, expiry_date = excluded.expiry_date,
		parent_id_tag = excluded.parent_id_tag, owner = excluded.owner, note = excluded.note,
		updated_at = excluded.updated_at
	RETURNING `+idTagCols,
		t.IDTag, t.Status, nullMicros(t.ExpiryDate), t.ParentIDTag, t.Owner, t.Note, now, now)
	out, err := scanIDTag(row)
	if err != nil {
		return store.IDTag{}, fmt.Errorf("sqlite: put id tag %q: %w", t.IDTag, err)
	}
	return out, nil
}

// DeleteIDTag implements store.Store.
func (db *DB) DeleteIDTag(ctx context.Context, idTag string) error {
	res, err := db.w.ExecContext(ctx, `DELETE FROM id_tags WHERE id_tag = ?`, idTag)
	if err == nil {
		err = mustAffect(res)
	}
	if err != nil {
		return fmt.Errorf("sqlite: delete id tag %q: %w", idTag, err)
	}
	return nil
}

// ListIDTags implements store.Store; Search matches the tag or its owner.
func (db *DB) ListIDTags(ctx context.Context, f store.IDTagFilter) ([]store.IDTag, error) {
	var where []string
	var args []any
	if f.Search != "" {
		q := strings.ToLower(f.Search)
		where = append(where, "("+lowerContains("id_tag")+" OR "+lowerContains("owner")+")")
		args = append(args, q, q)
	}
	if f.After != "" {
		where = append(where, "id_tag > ?")
		args = append(args, f.After)
	}
	args = append(args, rules.Limit(f.Limit))
	rows, err := db.r.QueryContext(ctx, `SELECT `+idTagCols+` FROM id_tags`+whereClause(where)+
		` ORDER BY id_tag LIMIT ?`, args...)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list id tags: %w", err)
	}
	out, err := collect(rows, scanIDTag)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list id tags: %w", err)
	}
	return out, nil
}

func whereClause(conds []string) string {
	if len(conds) == 0 {
		return ""
	}
	return " WHERE " + strings.Join(conds, " AND ")
}

// collect scans every row and closes rows.
func collect[T any](rows *sql.Rows, scan func(scanner) (T, error)) ([]T, error) {
	defer rows.Close()
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// mustAffect turns "no row changed" into ErrNotFound.
func mustAffect(res sql.Result) error {
	n, err := res.RowsAffected()
	if err != nil {
		return err
	}
	if n == 0 {
		return store.ErrNotFound
	}
	return nil
}
