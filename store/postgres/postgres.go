// Package postgres is the PostgreSQL implementation of store.Store, for
// operators who run several Wattson nodes against one shared database. It
// uses pgx (pgxpool) directly, without database/sql.
//
// Writes that must see a consistent state (a StartTransaction's duplicate
// check and the closing of a stale transaction) serialise per connector on
// a transaction-scoped advisory lock, so two nodes, or two retries racing on
// one node, cannot both insert.
package postgres

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/wattson-csms/wattson/store"
	"github.com/wattson-csms/wattson/store/internal/schema"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Advisory lock classes (the first key of the two-key form), so Wattson's
// locks do not collide with each other or with other users of the database.
const (
	lockMigrate = 0x5761_0001 // second key: hashtext(current_schema())
	lockStart   = 0x5761_0002 // second key: hashtext(charger/connector)
)

// DB is a store.Store on a PostgreSQL database.
type DB struct {
	pool *pgxpool.Pool
}

var _ store.Store = (*DB)(nil)

// defaultMaxConns is the pool size when the URL does not set
// pool_max_conns.
const defaultMaxConns = 16

// Open connects to the database at url (a postgres:// URL or key=value
// string; pool settings such as pool_max_conns and runtime parameters such
// as search_path may be given in it) and brings its schema up to date.
func Open(ctx context.Context, url string) (*DB, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	if !strings.Contains(url, "pool_max_conns") {
		// pgxpool's default (the CPUs, at least 4) suits CPU-bound work;
		// the central system's queries mostly wait for the server's
		// commits, and thousands of chargers write at once.
		cfg.MaxConns = defaultMaxConns
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	if err := migrate(ctx, pool); err != nil {
		pool.Close()
		return nil, fmt.Errorf("postgres: migrate: %w", err)
	}
	return &DB{pool: pool}, nil
}

// Close closes the pool.
func (db *DB) Close() error {
	db.pool.Close()
	return nil
}

// migrate applies the embedded migrations that schema_migrations does not
// list yet, all in one transaction (PostgreSQL DDL is transactional) under
// an advisory lock, so nodes starting at once migrate one after another and
// the later ones find nothing to do.
func migrate(ctx context.Context, pool *pgxpool.Pool) error {
	files, err := schema.Load(migrations, "migrations")
	if err != nil {
		return err
	}
	return pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1, hashtext(current_schema()))`, lockMigrate); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
			version    integer PRIMARY KEY,
			applied_at timestamptz NOT NULL DEFAULT now()
		)`); err != nil {
			return err
		}
		rows, _ := tx.Query(ctx, `SELECT version FROM schema_migrations`)
		applied, err := pgx.CollectRows(rows, pgx.RowTo[int32])
		if err != nil {
			return err
		}
		done := make(map[int]bool, len(applied))
		for _, v := range applied {
			done[int(v)] = true
		}
		for _, f := range files {
			if done[f.Version] {
				continue
			}
			if _, err := tx.Exec(ctx, f.SQL); err != nil {
				return fmt.Errorf("%s: %w", f.Name, err)
			}
			if _, err := tx.Exec(ctx, `INSERT INTO schema_migrations (version) VALUES ($1)`, f.Version); err != nil {
				return err
			}
		}
		return nil
	})
}

func pgCode(err error) string {
	var e *pgconn.PgError
	if errors.As(err, &e) {
		return e.Code
	}
	return ""
}

func isUnique(err error) bool     { return pgCode(err) == "23505" }
func isForeignKey(err error) bool { return pgCode(err) == "23503" }

// pgx returns timestamptz in the local zone; the store speaks UTC.
func utc(t *time.Time) {
	*t = t.UTC()
}

func utcPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}

func whereClause(conds []string) string {
	if len(conds) == 0 {
		return ""
	}
	return " WHERE " + strings.Join(conds, " AND ")
}

// args builds a numbered parameter list for dynamic WHERE clauses.
type args []any

func (a *args) add(v any) string {
	*a = append(*a, v)
	return fmt.Sprintf("$%d", len(*a))
}

// collect scans every row with scan and closes rows.
func collect[T any](rows pgx.Rows, err error, scan func(pgx.Row) (T, error)) ([]T, error) {
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (T, error) { return scan(r) })
}

// notFoundIfNoRows maps pgx.ErrNoRows to store.ErrNotFound.
func notFoundIfNoRows(err error) error {
	if errors.Is(err, pgx.ErrNoRows) {
		return store.ErrNotFound
	}
	return err
}

// mustAffect turns "no row changed" into ErrNotFound.
func mustAffect(tag pgconn.CommandTag, err error) error {
	if err != nil {
		return err
	}
	if tag.RowsAffected() == 0 {
		return store.ErrNotFound
	}
	return nil
}

// lowerContains is the case-insensitive substring test of the list
// searches; the parameter is passed lower-cased.
func lowerContains(col, param string) string { return "strpos(lower(" + col + "), " + param + ") > 0" }
