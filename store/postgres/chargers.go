package postgres

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/wattson-csms/wattson/store"
	"github.com/wattson-csms/wattson/store/internal/rules"
)

const chargerCols = `id, registration, vendor, model, serial_number, charge_box_serial,
	firmware_version, iccid, imsi, meter_type, meter_serial_number, password_hash,
	last_boot_at, last_seen_at, created_at, updated_at`

func scanCharger(r pgx.Row) (store.Charger, error) {
	var c store.Charger
	err := r.Scan(&c.ID, &c.Registration, &c.Vendor, &c.Model, &c.SerialNumber, &c.ChargeBoxSerial,
		&c.FirmwareVersion, &c.ICCID, &c.IMSI, &c.MeterType, &c.MeterSerialNumber, &c.PasswordHash,
		&c.LastBootAt, &c.LastSeenAt, &c.CreatedAt, &c.UpdatedAt)
	c.LastBootAt, c.LastSeenAt = utcPtr(c.LastBootAt), utcPtr(c.LastSeenAt)
	utc(&c.CreatedAt)
	utc(&c.UpdatedAt)
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
	now := rules.Now()
	recv := rules.OrNow(b.ReceivedAt)
	// The registration is only set on insert: a boot never approves or
	// rejects a known charger.
	c, err := scanCharger(db.pool.QueryRow(ctx, `INSERT INTO chargers (id, registration, vendor, model,
		serial_number, charge_box_serial, firmware_version, iccid, imsi, meter_type,
		meter_serial_number, last_boot_at, last_seen_at, created_at, updated_at)
	VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $12, $13, $13)
	ON CONFLICT (id) DO UPDATE SET vendor = excluded.vendor, model = excluded.model,
		serial_number = excluded.serial_number, charge_box_serial = excluded.charge_box_serial,
		firmware_version = excluded.firmware_version, iccid = excluded.iccid, imsi = excluded.imsi,
		meter_type = excluded.meter_type, meter_serial_number = excluded.meter_serial_number,
		last_boot_at = excluded.last_boot_at,
		last_seen_at = greatest(chargers.last_seen_at, excluded.last_seen_at),
		updated_at = excluded.updated_at
	RETURNING `+chargerCols,
		b.ChargerID, def, b.Vendor, b.Model, b.SerialNumber, b.ChargeBoxSerial, b.FirmwareVersion,
		b.ICCID, b.IMSI, b.MeterType, b.MeterSerialNumber, recv, now))
	if err != nil {
		return store.Charger{}, fmt.Errorf("postgres: record boot of %q: %w", b.ChargerID, err)
	}
	return c, nil
}

// GetCharger implements store.Store.
func (db *DB) GetCharger(ctx context.Context, id string) (store.Charger, error) {
	c, err := scanCharger(db.pool.QueryRow(ctx, `SELECT `+chargerCols+` FROM chargers WHERE id = $1`, id))
	if err != nil {
		return store.Charger{}, fmt.Errorf("postgres: charger %q: %w", id, notFoundIfNoRows(err))
	}
	return c, nil
}

// ListChargers implements store.Store.
func (db *DB) ListChargers(ctx context.Context, f store.ChargerFilter) ([]store.Charger, error) {
	var where []string
	var a args
	if f.Registration != "" {
		where = append(where, "registration = "+a.add(f.Registration))
	}
	if f.Search != "" {
		p := a.add(strings.ToLower(f.Search))
		where = append(where, "("+lowerContains("id", p)+" OR "+lowerContains("vendor", p)+" OR "+lowerContains("model", p)+")")
	}
	if f.After != "" {
		where = append(where, "id > "+a.add(f.After))
	}
	q := `SELECT ` + chargerCols + ` FROM chargers` + whereClause(where) + ` ORDER BY id LIMIT ` + a.add(rules.Limit(f.Limit))
	rows, err := db.pool.Query(ctx, q, a...)
	out, err := collect(rows, err, scanCharger)
	if err != nil {
		return nil, fmt.Errorf("postgres: list chargers: %w", err)
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
	out, err := scanCharger(db.pool.QueryRow(ctx, `INSERT INTO chargers (id, registration, password_hash, created_at, updated_at)
	VALUES ($1, $2, $3, $4, $4)
	ON CONFLICT (id) DO UPDATE SET registration = excluded.registration,
		password_hash = excluded.password_hash, updated_at = excluded.updated_at
	RETURNING `+chargerCols, c.ID, c.Registration, c.PasswordHash, rules.Now()))
	if err != nil {
		return store.Charger{}, fmt.Errorf("postgres: put charger %q: %w", c.ID, err)
	}
	return out, nil
}

// DeleteCharger implements store.Store. Transactions and meter values stay:
// they are the record of energy delivered.
func (db *DB) DeleteCharger(ctx context.Context, id string) error {
	err := pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
		if err := mustAffect(tx.Exec(ctx, `DELETE FROM chargers WHERE id = $1`, id)); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `DELETE FROM message_log WHERE charger_id = $1`, id); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `DELETE FROM message_log_counts WHERE charger_id = $1`, id); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `DELETE FROM latest_meter_values WHERE charger_id = $1`, id)
		return err
	})
	if err != nil {
		return fmt.Errorf("postgres: delete charger %q: %w", id, err)
	}
	return nil
}

// TouchChargers implements store.Store: one round trip, updates in id order
// so that concurrent flushes lock rows in the same order. Last-seen times
// only move forward; unknown ids are ignored.
func (db *DB) TouchChargers(ctx context.Context, seen map[string]time.Time) error {
	if len(seen) == 0 {
		return nil
	}
	ids := make([]string, 0, len(seen))
	for id := range seen {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	err := pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
		var b pgx.Batch
		for _, id := range ids {
			b.Queue(`UPDATE chargers SET last_seen_at = greatest(last_seen_at, $1) WHERE id = $2`, seen[id], id)
		}
		return tx.SendBatch(ctx, &b).Close()
	})
	if err != nil {
		return fmt.Errorf("postgres: touch %d chargers: %w", len(seen), err)
	}
	return nil
}

const connectorCols = `charger_id, connector_id, status, error_code, info, vendor_id,
	vendor_error_code, charger_ts, updated_at`

func scanConnector(r pgx.Row) (store.Connector, error) {
	var c store.Connector
	err := r.Scan(&c.ChargerID, &c.ConnectorID, &c.Status, &c.ErrorCode, &c.Info, &c.VendorID,
		&c.VendorErrorCode, &c.ChargerTimestamp, &c.UpdatedAt)
	c.ChargerTimestamp = utcPtr(c.ChargerTimestamp)
	utc(&c.UpdatedAt)
	return c, err
}

// RecordStatus implements store.Store.
func (db *DB) RecordStatus(ctx context.Context, c store.Connector) error {
	if err := rules.Connector(c); err != nil {
		return err
	}
	params := []any{c.ChargerID, c.ConnectorID, c.Status, c.ErrorCode, c.Info, c.VendorID,
		c.VendorErrorCode, c.ChargerTimestamp, rules.OrNow(c.UpdatedAt)}
	err := pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO connectors (`+connectorCols+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
		ON CONFLICT (charger_id, connector_id) DO UPDATE SET status = excluded.status,
			error_code = excluded.error_code, info = excluded.info, vendor_id = excluded.vendor_id,
			vendor_error_code = excluded.vendor_error_code, charger_ts = excluded.charger_ts,
			updated_at = excluded.updated_at`, params...); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `INSERT INTO status_history (`+connectorCols+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`, params...)
		return err
	})
	if isForeignKey(err) {
		err = fmt.Errorf("charger: %w", store.ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("postgres: record status of %q/%d: %w", c.ChargerID, c.ConnectorID, err)
	}
	return nil
}

// ListConnectors implements store.Store.
func (db *DB) ListConnectors(ctx context.Context, chargerID string) ([]store.Connector, error) {
	rows, err := db.pool.Query(ctx, `SELECT `+connectorCols+` FROM connectors
		WHERE charger_id = $1 ORDER BY connector_id`, chargerID)
	out, err := collect(rows, err, scanConnector)
	if err != nil {
		return nil, fmt.Errorf("postgres: list connectors of %q: %w", chargerID, err)
	}
	return out, nil
}

// StatusHistory implements store.Store.
func (db *DB) StatusHistory(ctx context.Context, chargerID string, connectorID int, limit int) ([]store.Connector, error) {
	rows, err := db.pool.Query(ctx, `SELECT `+connectorCols+` FROM status_history
		WHERE charger_id = $1 AND connector_id = $2 ORDER BY id DESC LIMIT $3`,
		chargerID, connectorID, rules.Limit(limit))
	out, err := collect(rows, err, scanConnector)
	if err != nil {
		return nil, fmt.Errorf("postgres: status history of %q/%d: %w", chargerID, connectorID, err)
	}
	return out, nil
}

const idTagCols = `id_tag, status, expiry_date, parent_id_tag, owner, note, created_at, updated_at`

func scanIDTag(r pgx.Row) (store.IDTag, error) {
	var t store.IDTag
	err := r.Scan(&t.IDTag, &t.Status, &t.ExpiryDate, &t.ParentIDTag, &t.Owner, &t.Note, &t.CreatedAt, &t.UpdatedAt)
	t.ExpiryDate = utcPtr(t.ExpiryDate)
	utc(&t.CreatedAt)
	utc(&t.UpdatedAt)
	return t, err
}

// GetIDTag implements store.Store.
func (db *DB) GetIDTag(ctx context.Context, idTag string) (store.IDTag, error) {
	t, err := scanIDTag(db.pool.QueryRow(ctx, `SELECT `+idTagCols+` FROM id_tags WHERE id_tag = $1`, idTag))
	if err != nil {
		return store.IDTag{}, fmt.Errorf("postgres: id tag %q: %w", idTag, notFoundIfNoRows(err))
	}
	return t, nil
}

// PutIDTag implements store.Store: creates or replaces everything but
// CreatedAt.
func (db *DB) PutIDTag(ctx context.Context, t store.IDTag) (store.IDTag, error) {
	if err := rules.IDTag(t); err != nil {
		return store.IDTag{}, err
	}
	out, err := scanIDTag(db.pool.QueryRow(ctx, `INSERT INTO id_tags (`+idTagCols+`)
	VALUES ($1, $2, $3, $4, $5, $6, $7, $7)
	ON CONFLICT (id_tag) DO UPDATE SET status = excluded.status, expiry_date = excluded.expiry_date,
		parent_id_tag = excluded.parent_id_tag, owner = excluded.owner, note = excluded.note,
		updated_at = excluded.updated_at
	RETURNING `+idTagCols,
		t.IDTag, t.Status, t.ExpiryDate, t.ParentIDTag, t.Owner, t.Note, rules.Now()))
	if err != nil {
		return store.IDTag{}, fmt.Errorf("postgres: put id tag %q: %w", t.IDTag, err)
	}
	return out, nil
}

// DeleteIDTag implements store.Store.
func (db *DB) DeleteIDTag(ctx context.Context, idTag string) error {
	if err := mustAffect(db.pool.Exec(ctx, `DELETE FROM id_tags WHERE id_tag = $1`, idTag)); err != nil {
		return fmt.Errorf("postgres: delete id tag %q: %w", idTag, err)
	}
	return nil
}

// ListIDTags implements store.Store; Search matches the tag or its owner.
func (db *DB) ListIDTags(ctx context.Context, f store.IDTagFilter) ([]store.IDTag, error) {
	var where []string
	var a args
	if f.Search != "" {
		p := a.add(strings.ToLower(f.Search))
		where = append(where, "("+lowerContains("id_tag", p)+" OR "+lowerContains("owner", p)+")")
	}
	if f.After != "" {
		where = append(where, "id_tag > "+a.add(f.After))
	}
	q := `SELECT ` + idTagCols + ` FROM id_tags` + whereClause(where) + ` ORDER BY id_tag LIMIT ` + a.add(rules.Limit(f.Limit))
	rows, err := db.pool.Query(ctx, q, a...)
	out, err := collect(rows, err, scanIDTag)
	if err != nil {
		return nil, fmt.Errorf("postgres: list id tags: %w", err)
	}
	return out, nil
}
