package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/wattson-csms/wattson/store"
	"github.com/wattson-csms/wattson/store/internal/rules"
)

const groupCols = `id, name, coalesce(parent_id, ''), limit_l1, limit_l2, limit_l3, power_limit_w,
	site_meter, created_at, updated_at`

func scanGroup(s scanner) (store.ChargingGroup, error) {
	var g store.ChargingGroup
	var created, updated int64
	err := s.Scan(&g.ID, &g.Name, &g.ParentID, &g.LimitA[0], &g.LimitA[1], &g.LimitA[2], &g.PowerLimitW,
		&g.SiteMeter, &created, &updated)
	g.CreatedAt, g.UpdatedAt = fromMicros(created), fromMicros(updated)
	return g, err
}

// ListGroups implements store.Store, by id.
func (db *DB) ListGroups(ctx context.Context) ([]store.ChargingGroup, error) {
	rows, err := db.r.QueryContext(ctx, `SELECT `+groupCols+` FROM charging_groups ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list groups: %w", err)
	}
	out, err := collect(rows, scanGroup)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list groups: %w", err)
	}
	return out, nil
}

// GetGroup implements store.Store.
func (db *DB) GetGroup(ctx context.Context, id string) (store.ChargingGroup, error) {
	g, err := scanGroup(db.r.QueryRowContext(ctx, `SELECT `+groupCols+` FROM charging_groups WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		err = store.ErrNotFound
	}
	if err != nil {
		return store.ChargingGroup{}, fmt.Errorf("sqlite: group %q: %w", id, err)
	}
	return g, nil
}

// checkParent returns ErrNotFound for an unknown parent and ErrInvalid when
// id is among the parent's ancestors (or is the parent).
func checkParent(ctx context.Context, tx *sql.Tx, id, parent string) error {
	var n, hit int
	err := tx.QueryRowContext(ctx, `WITH RECURSIVE up (id, parent_id) AS (
			SELECT id, parent_id FROM charging_groups WHERE id = ?
			UNION
			SELECT g.id, g.parent_id FROM charging_groups g JOIN up ON g.id = up.parent_id)
		SELECT count(*), coalesce(sum(id = ?), 0) FROM up`, parent, id).Scan(&n, &hit)
	switch {
	case err != nil:
		return err
	case n == 0:
		return fmt.Errorf("parent group %q: %w", parent, store.ErrNotFound)
	case hit > 0:
		return fmt.Errorf("%w: group %q would be its own ancestor through %q", store.ErrInvalid, id, parent)
	}
	return nil
}

// PutGroup implements store.Store: creates or updates all but CreatedAt.
// The writer connection serialises the ancestry check with the write.
func (db *DB) PutGroup(ctx context.Context, g store.ChargingGroup) (store.ChargingGroup, error) {
	if err := rules.Group(g); err != nil {
		return store.ChargingGroup{}, err
	}
	now := toMicros(rules.Now())
	var out store.ChargingGroup
	err := db.tx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		if g.ParentID != "" {
			if err := checkParent(ctx, tx, g.ID, g.ParentID); err != nil {
				return err
			}
		}
		var err error
		out, err = scanGroup(tx.QueryRowContext(ctx, `INSERT INTO charging_groups (id, name, parent_id,
			limit_l1, limit_l2, limit_l3, power_limit_w, site_meter, created_at, updated_at)
		VALUES (?, ?, nullif(?, ''), ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (id) DO UPDATE SET name = excluded.name, parent_id = excluded.parent_id,
			limit_l1 = excluded.limit_l1, limit_l2 = excluded.limit_l2, limit_l3 = excluded.limit_l3,
			power_limit_w = excluded.power_limit_w, site_meter = excluded.site_meter,
			updated_at = excluded.updated_at
		RETURNING `+groupCols, g.ID, g.Name, g.ParentID, g.LimitA[0], g.LimitA[1], g.LimitA[2],
			g.PowerLimitW, g.SiteMeter, now, now))
		return err
	})
	if isForeignKey(err) {
		err = fmt.Errorf("parent group %q: %w", g.ParentID, store.ErrNotFound)
	}
	if err != nil {
		return store.ChargingGroup{}, fmt.Errorf("sqlite: put group %q: %w", g.ID, err)
	}
	return out, nil
}

// DeleteGroup implements store.Store.
func (db *DB) DeleteGroup(ctx context.Context, id string) error {
	err := db.tx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		var children int
		if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM charging_groups WHERE parent_id = ?`, id).Scan(&children); err != nil {
			return err
		}
		if children > 0 {
			return fmt.Errorf("%w: the group has %d child groups", store.ErrConflict, children)
		}
		res, err := tx.ExecContext(ctx, `DELETE FROM charging_groups WHERE id = ?`, id)
		if err != nil {
			return err
		}
		return mustAffect(res)
	})
	if err != nil {
		return fmt.Errorf("sqlite: delete group %q: %w", id, err)
	}
	return nil
}

const settingCols = `charger_id, connector_id, group_id, priority, mode, min_current, max_current,
	phases, solar_min_current, price_below, cheapest_hours, energy_kwh, ready_by, updated_at`

func scanSetting(s scanner) (store.ConnectorSetting, error) {
	var c store.ConnectorSetting
	var below sql.NullFloat64
	var updated int64
	err := s.Scan(&c.ChargerID, &c.ConnectorID, &c.GroupID, &c.Priority, &c.Mode, &c.MinCurrent,
		&c.MaxCurrent, &c.Phases, &c.SolarMinCurrent, &below, &c.CheapestHours, &c.EnergyKWh,
		&c.ReadyBy, &updated)
	if below.Valid {
		c.PriceBelow = &below.Float64
	}
	c.UpdatedAt = fromMicros(updated)
	return c, err
}

// ListConnectorSettings implements store.Store, by charger and connector.
func (db *DB) ListConnectorSettings(ctx context.Context) ([]store.ConnectorSetting, error) {
	rows, err := db.r.QueryContext(ctx, `SELECT `+settingCols+` FROM connector_settings
		ORDER BY charger_id, connector_id`)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list connector settings: %w", err)
	}
	out, err := collect(rows, scanSetting)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list connector settings: %w", err)
	}
	return out, nil
}

// PutConnectorSetting implements store.Store.
func (db *DB) PutConnectorSetting(ctx context.Context, s store.ConnectorSetting) (store.ConnectorSetting, error) {
	if err := rules.ConnectorSetting(s); err != nil {
		return store.ConnectorSetting{}, err
	}
	out, err := scanSetting(db.w.QueryRowContext(ctx, `INSERT INTO connector_settings (`+settingCols+`)
	VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
	ON CONFLICT (charger_id, connector_id) DO UPDATE SET group_id = excluded.group_id,
		priority = excluded.priority, mode = excluded.mode, min_current = excluded.min_current,
		max_current = excluded.max_current, phases = excluded.phases,
		solar_min_current = excluded.solar_min_current, price_below = excluded.price_below,
		cheapest_hours = excluded.cheapest_hours, energy_kwh = excluded.energy_kwh,
		ready_by = excluded.ready_by, updated_at = excluded.updated_at
	RETURNING `+settingCols,
		s.ChargerID, s.ConnectorID, s.GroupID, s.Priority, s.Mode, s.MinCurrent, s.MaxCurrent,
		s.Phases, s.SolarMinCurrent, s.PriceBelow, s.CheapestHours, s.EnergyKWh, s.ReadyBy,
		toMicros(rules.Now())))
	if isForeignKey(err) {
		err = fmt.Errorf("group %q: %w", s.GroupID, store.ErrNotFound)
	}
	if err != nil {
		return store.ConnectorSetting{}, fmt.Errorf("sqlite: put setting of %q/%d: %w", s.ChargerID, s.ConnectorID, err)
	}
	return out, nil
}

// DeleteConnectorSetting implements store.Store.
func (db *DB) DeleteConnectorSetting(ctx context.Context, chargerID string, connectorID int) error {
	res, err := db.w.ExecContext(ctx, `DELETE FROM connector_settings WHERE charger_id = ? AND connector_id = ?`,
		chargerID, connectorID)
	if err == nil {
		err = mustAffect(res)
	}
	if err != nil {
		return fmt.Errorf("sqlite: delete setting of %q/%d: %w", chargerID, connectorID, err)
	}
	return nil
}

// ListConnectorLimits implements store.Store, by charger and connector.
func (db *DB) ListConnectorLimits(ctx context.Context) ([]store.ConnectorLimit, error) {
	rows, err := db.r.QueryContext(ctx, `SELECT charger_id, connector_id, limit_a, sent_at, confirmed,
		unmanaged, reason FROM connector_limits ORDER BY charger_id, connector_id`)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list connector limits: %w", err)
	}
	out, err := collect(rows, func(s scanner) (store.ConnectorLimit, error) {
		var l store.ConnectorLimit
		var sent int64
		err := s.Scan(&l.ChargerID, &l.ConnectorID, &l.LimitA, &sent, &l.Confirmed, &l.Unmanaged, &l.Reason)
		l.SentAt = fromMicros(sent)
		return l, err
	})
	if err != nil {
		return nil, fmt.Errorf("sqlite: list connector limits: %w", err)
	}
	return out, nil
}

// SaveConnectorLimits implements store.Store: the batch is one transaction;
// a zero SentAt is now.
func (db *DB) SaveConnectorLimits(ctx context.Context, ls []store.ConnectorLimit) error {
	if err := rules.ConnectorLimits(ls); err != nil {
		return err
	}
	if len(ls) == 0 {
		return nil
	}
	err := db.tx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		st, err := tx.PrepareContext(ctx, `INSERT INTO connector_limits (charger_id, connector_id,
			limit_a, sent_at, confirmed, unmanaged, reason) VALUES (?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (charger_id, connector_id) DO UPDATE SET limit_a = excluded.limit_a,
			sent_at = excluded.sent_at, confirmed = excluded.confirmed,
			unmanaged = excluded.unmanaged, reason = excluded.reason`)
		if err != nil {
			return err
		}
		defer st.Close()
		for _, l := range rules.SortedLimits(ls) {
			if _, err := st.ExecContext(ctx, l.ChargerID, l.ConnectorID, l.LimitA,
				toMicros(rules.OrNow(l.SentAt)), l.Confirmed, l.Unmanaged, l.Reason); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("sqlite: save %d connector limits: %w", len(ls), err)
	}
	return nil
}

// DeleteConnectorLimit implements store.Store.
func (db *DB) DeleteConnectorLimit(ctx context.Context, chargerID string, connectorID int) error {
	res, err := db.w.ExecContext(ctx, `DELETE FROM connector_limits WHERE charger_id = ? AND connector_id = ?`,
		chargerID, connectorID)
	if err == nil {
		err = mustAffect(res)
	}
	if err != nil {
		return fmt.Errorf("sqlite: delete limit of %q/%d: %w", chargerID, connectorID, err)
	}
	return nil
}

// PutPrices implements store.Store, in one transaction.
func (db *DB) PutPrices(ctx context.Context, from, to time.Time, slots []store.PriceSlot) error {
	slots, err := rules.Prices(from, to, slots)
	if err != nil {
		return err
	}
	err = db.tx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM price_slots WHERE start_at >= ? AND start_at < ?`,
			toMicros(from), toMicros(to)); err != nil {
			return err
		}
		st, err := tx.PrepareContext(ctx, `INSERT INTO price_slots (start_at, end_at, price) VALUES (?, ?, ?)`)
		if err != nil {
			return err
		}
		defer st.Close()
		for _, s := range slots {
			if _, err := st.ExecContext(ctx, toMicros(s.Start), toMicros(s.End), s.Price); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("sqlite: put %d prices: %w", len(slots), err)
	}
	return nil
}

// ListPrices implements store.Store.
func (db *DB) ListPrices(ctx context.Context, from, to time.Time) ([]store.PriceSlot, error) {
	rows, err := db.r.QueryContext(ctx, `SELECT start_at, end_at, price FROM price_slots
		WHERE end_at > ? AND start_at < ? ORDER BY start_at`, toMicros(from), toMicros(to))
	if err != nil {
		return nil, fmt.Errorf("sqlite: list prices: %w", err)
	}
	out, err := collect(rows, func(s scanner) (store.PriceSlot, error) {
		var p store.PriceSlot
		var start, end int64
		err := s.Scan(&start, &end, &p.Price)
		p.Start, p.End = fromMicros(start), fromMicros(end)
		return p, err
	})
	if err != nil {
		return nil, fmt.Errorf("sqlite: list prices: %w", err)
	}
	return out, nil
}

const profileCols = `charger_id, connector_id, profile_id, stack_level, purpose, transaction_id,
	profile, source, set_at`

func scanProfile(s scanner) (store.ChargingProfileRecord, error) {
	var p store.ChargingProfileRecord
	var txID sql.NullInt64
	var profile []byte
	var set int64
	err := s.Scan(&p.ChargerID, &p.ConnectorID, &p.ProfileID, &p.StackLevel, &p.Purpose, &txID,
		&profile, &p.Source, &set)
	if txID.Valid {
		p.TransactionID = &txID.Int64
	}
	p.Profile, p.SetAt = profile, fromMicros(set)
	return p, err
}

// PutChargingProfile implements store.Store; a zero SetAt is now.
func (db *DB) PutChargingProfile(ctx context.Context, p store.ChargingProfileRecord) error {
	if err := rules.ChargingProfile(p); err != nil {
		return err
	}
	err := db.tx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM charging_profiles WHERE charger_id = ?
			AND (profile_id = ? OR (connector_id = ? AND purpose = ? AND stack_level = ?))`,
			p.ChargerID, p.ProfileID, p.ConnectorID, p.Purpose, p.StackLevel); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO charging_profiles (`+profileCols+`)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			p.ChargerID, p.ConnectorID, p.ProfileID, p.StackLevel, p.Purpose, p.TransactionID,
			[]byte(p.Profile), p.Source, toMicros(rules.OrNow(p.SetAt)))
		return err
	})
	if err != nil {
		return fmt.Errorf("sqlite: put charging profile %d of %q: %w", p.ProfileID, p.ChargerID, err)
	}
	return nil
}

// ListChargingProfiles implements store.Store, by connector, purpose and
// stack level.
func (db *DB) ListChargingProfiles(ctx context.Context, chargerID string) ([]store.ChargingProfileRecord, error) {
	rows, err := db.r.QueryContext(ctx, `SELECT `+profileCols+` FROM charging_profiles
		WHERE charger_id = ? ORDER BY connector_id, purpose, stack_level`, chargerID)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list charging profiles of %q: %w", chargerID, err)
	}
	out, err := collect(rows, scanProfile)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list charging profiles of %q: %w", chargerID, err)
	}
	return out, nil
}

// ClearChargingProfiles implements store.Store.
func (db *DB) ClearChargingProfiles(ctx context.Context, chargerID string, f store.ProfileFilter) (int64, error) {
	where := []string{"charger_id = ?"}
	args := []any{chargerID}
	if f.ProfileID != nil {
		where = append(where, "profile_id = ?")
		args = append(args, *f.ProfileID)
	}
	if f.ConnectorID != nil {
		where = append(where, "connector_id = ?")
		args = append(args, *f.ConnectorID)
	}
	if f.Purpose != "" {
		where = append(where, "purpose = ?")
		args = append(args, f.Purpose)
	}
	if f.StackLevel != nil {
		where = append(where, "stack_level = ?")
		args = append(args, *f.StackLevel)
	}
	res, err := db.w.ExecContext(ctx, `DELETE FROM charging_profiles`+whereClause(where), args...)
	var n int64
	if err == nil {
		n, err = res.RowsAffected()
	}
	if err != nil {
		return 0, fmt.Errorf("sqlite: clear charging profiles of %q: %w", chargerID, err)
	}
	return n, nil
}

// TryLease implements store.Store: one conditional upsert, so two holders
// cannot both take a free lease.
func (db *DB) TryLease(ctx context.Context, name, holder string, now time.Time, ttl time.Duration) (bool, error) {
	if err := rules.Lease(name, holder, ttl); err != nil {
		return false, err
	}
	res, err := db.w.ExecContext(ctx, `INSERT INTO leases (name, holder, expires_at) VALUES (?, ?, ?)
		ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at
		WHERE leases.holder = excluded.holder OR leases.expires_at <= ?`,
		name, holder, toMicros(now.Add(ttl)), toMicros(now))
	var n int64
	if err == nil {
		n, err = res.RowsAffected()
	}
	if err != nil {
		return false, fmt.Errorf("sqlite: lease %q for %q: %w", name, holder, err)
	}
	return n > 0, nil
}

// ReleaseLease implements store.Store; a lease holder does not hold is
// left alone, and that is not an error.
func (db *DB) ReleaseLease(ctx context.Context, name, holder string) error {
	if _, err := db.w.ExecContext(ctx, `DELETE FROM leases WHERE name = ? AND holder = ?`, name, holder); err != nil {
		return fmt.Errorf("sqlite: release lease %q of %q: %w", name, holder, err)
	}
	return nil
}
