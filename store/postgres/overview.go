package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/wattson-csms/wattson/store"
	"github.com/wattson-csms/wattson/store/internal/rules"
)

// ListConnectorsOf implements store.Store.
func (db *DB) ListConnectorsOf(ctx context.Context, chargerIDs []string) ([]store.Connector, error) {
	if err := rules.Bulk(chargerIDs); err != nil {
		return nil, err
	}
	if len(chargerIDs) == 0 {
		return nil, nil
	}
	rows, err := db.pool.Query(ctx, `SELECT `+connectorCols+` FROM connectors
		WHERE charger_id = ANY($1) ORDER BY charger_id, connector_id`, chargerIDs)
	out, err := collect(rows, err, scanConnector)
	if err != nil {
		return nil, fmt.Errorf("postgres: list connectors of %d chargers: %w", len(chargerIDs), err)
	}
	return out, nil
}

// ListAllConnectors implements store.Store.
func (db *DB) ListAllConnectors(ctx context.Context) ([]store.Connector, error) {
	rows, err := db.pool.Query(ctx, `SELECT `+connectorCols+` FROM connectors ORDER BY charger_id, connector_id`)
	out, err := collect(rows, err, scanConnector)
	if err != nil {
		return nil, fmt.Errorf("postgres: list all connectors: %w", err)
	}
	return out, nil
}

// ListChargerSummaries implements store.Store.
func (db *DB) ListChargerSummaries(ctx context.Context) ([]store.ChargerSummary, error) {
	rows, err := db.pool.Query(ctx, `SELECT id, registration, last_seen_at, last_boot_at, created_at
		FROM chargers ORDER BY id`)
	out, err := collect(rows, err, func(r pgx.Row) (store.ChargerSummary, error) {
		var c store.ChargerSummary
		err := r.Scan(&c.ID, &c.Registration, &c.LastSeenAt, &c.LastBootAt, &c.CreatedAt)
		c.LastSeenAt, c.LastBootAt = utcPtr(c.LastSeenAt), utcPtr(c.LastBootAt)
		utc(&c.CreatedAt)
		return c, err
	})
	if err != nil {
		return nil, fmt.Errorf("postgres: list charger summaries: %w", err)
	}
	return out, nil
}

// LatestMeterValuesOf implements store.Store. It reads the small
// latest_meter_values table (one row per series), never meter_values.
func (db *DB) LatestMeterValuesOf(ctx context.Context, measurands ...string) ([]store.MeterSample, error) {
	if len(measurands) == 0 {
		return nil, nil
	}
	ms := make([]string, len(measurands))
	for i, m := range measurands {
		ms[i] = rules.Measurand(store.MeterSample{Measurand: m})
	}
	rows, err := db.pool.Query(ctx, `SELECT `+meterCols+` FROM latest_meter_values
		WHERE measurand = ANY($1) ORDER BY charger_id, connector_id, measurand, phase`, ms)
	out, err := collect(rows, err, scanMeter)
	if err != nil {
		return nil, fmt.Errorf("postgres: latest meter values of %v: %w", measurands, err)
	}
	return out, nil
}

// EnergySince implements store.Store.
func (db *DB) EnergySince(ctx context.Context, since time.Time) (int64, []store.Transaction, error) {
	var stopped int64
	err := db.pool.QueryRow(ctx, `SELECT coalesce(sum(meter_stop - meter_start), 0)::bigint FROM transactions
		WHERE started_at >= $1 AND stopped_at IS NOT NULL`, since).Scan(&stopped)
	if err != nil {
		return 0, nil, fmt.Errorf("postgres: energy since %v: %w", since, err)
	}
	rows, err := db.pool.Query(ctx, `SELECT `+txCols+` FROM transactions
		WHERE stopped_at IS NULL AND started_at >= $1 ORDER BY id`, since)
	running, err := collect(rows, err, scanTx)
	if err != nil {
		return 0, nil, fmt.Errorf("postgres: energy since %v: %w", since, err)
	}
	return stopped, running, nil
}
