// Package sqlite is the SQLite implementation of store.Store: one database
// file, the default for a single node. It uses modernc.org/sqlite, a pure Go
// driver, so Wattson cross-builds for ARM without cgo.
//
// SQLite has one writer at a time. All writes go through one connection
// (a pool of one, so writers queue in Go instead of failing with "database is
// locked"); reads use a separate read-only pool and, thanks to WAL, never wait
// for a write. synchronous=FULL makes every committed write durable before it
// returns: a transaction message is acknowledged to the charger only then.
package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/wattson-csms/wattson/store"
	"github.com/wattson-csms/wattson/store/internal/schema"
)

//go:embed migrations/*.sql
var migrations embed.FS

// DB is a store.Store on one SQLite file.
type DB struct {
	w *sql.DB // the single writer
	r *sql.DB // read-only pool

	writes    chan *writeReq // to the group committer
	closing   chan struct{}
	closeOnce sync.Once
	committer sync.WaitGroup
	groups    atomic.Int64 // transactions committed by the group committer
}

var _ store.Store = (*DB)(nil)

// Open opens (creating it if needed) the database file at path and brings
// its schema up to date.
func Open(ctx context.Context, path string) (*DB, error) {
	if path == "" || strings.ContainsRune(path, '?') {
		return nil, fmt.Errorf("sqlite: open %q: %w: path must be a plain file name", path, store.ErrInvalid)
	}
	// busy_timeout still matters with one writer per process: another
	// process (wattson migrate, a backup) may hold the lock for a moment.
	// _txlock=immediate takes the write lock at BEGIN, so a transaction
	// never fails halfway when upgrading from a read lock.
	common := "_busy_timeout=10000&_foreign_keys=1"
	wc, err := newCachingConnector(path + "?" + common + "&_journal_mode=WAL&_synchronous=FULL&_txlock=immediate")
	if err != nil {
		return nil, fmt.Errorf("sqlite: open %q: %w", path, err)
	}
	w := sql.OpenDB(wc)
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxLifetime(0)
	w.SetConnMaxIdleTime(0)
	if err := migrate(ctx, w); err != nil {
		w.Close()
		return nil, fmt.Errorf("sqlite: migrate %q: %w", path, err)
	}
	rc, err := newCachingConnector(path + "?" + common + "&_query_only=1")
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("sqlite: open %q: %w", path, err)
	}
	r := sql.OpenDB(rc)
	n := max(4, runtime.GOMAXPROCS(0))
	r.SetMaxOpenConns(n)
	r.SetMaxIdleConns(n)
	if err := r.PingContext(ctx); err != nil {
		w.Close()
		r.Close()
		return nil, fmt.Errorf("sqlite: open %q: %w", path, err)
	}
	db := &DB{w: w, r: r, writes: make(chan *writeReq), closing: make(chan struct{})}
	db.committer.Go(db.commitLoop)
	return db, nil
}

// Close waits for the writes in progress and closes both pools.
func (db *DB) Close() error {
	db.closeOnce.Do(func() { close(db.closing) })
	db.committer.Wait()
	return errors.Join(db.r.Close(), db.w.Close())
}

// migrate applies the embedded migrations that schema_migrations does not
// list yet, each in its own transaction (see package store/internal/schema
// for why this is not goose).
func migrate(ctx context.Context, w *sql.DB) error {
	if _, err := w.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version    INTEGER NOT NULL PRIMARY KEY,
		applied_at INTEGER NOT NULL
	) STRICT`); err != nil {
		return err
	}
	files, err := schema.Load(migrations, "migrations")
	if err != nil {
		return err
	}
	for _, f := range files {
		// BEGIN IMMEDIATE (see Open) makes the check and the apply atomic
		// also against another process migrating the same file.
		err := inTx(ctx, w, func(tx *sql.Tx) error {
			var n int
			if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM schema_migrations WHERE version = ?`, f.Version).Scan(&n); err != nil {
				return err
			}
			if n > 0 {
				return nil
			}
			if _, err := tx.ExecContext(ctx, f.SQL); err != nil {
				return fmt.Errorf("%s: %w", f.Name, err)
			}
			_, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)`, f.Version, toMicros(time.Now()))
			return err
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// inTx runs fn in a write transaction and commits it when fn returns nil.
func inTx(ctx context.Context, w *sql.DB, fn func(tx *sql.Tx) error) error {
	tx, err := w.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		tx.Rollback()
		return err
	}
	return tx.Commit()
}

// Group commit. Every write transaction on SQLite ends in an fsync, and
// SQLite has one writer: written one after the other, transactions are as
// many per second as the disk does fsyncs (a few hundred to a couple of
// thousand), whatever the CPU could do. db.tx therefore hands its function
// to one committer goroutine, which runs all the functions waiting at that
// moment in one SQLite transaction, each inside a SAVEPOINT of its own,
// and commits once: a function that fails is rolled back to its savepoint
// alone, and every caller learns its outcome only after the commit made
// it durable. Under load the groups grow by themselves (everything that
// arrived during the previous commit goes into the next); idle, a write is
// alone in its group and waits for nobody.

// maxGroup bounds the functions committed together, so one group's
// commit does not keep the first of them waiting long.
const maxGroup = 256

type writeReq struct {
	ctx context.Context
	fn  func(ctx context.Context, tx *sql.Tx) error
	err chan error
}

var errClosed = errors.New("sqlite: store closed")

// tx runs fn in a write transaction, grouped with other writers', and
// returns once its work is committed (nil) or rolled back (the error).
// ctx ending before fn starts keeps fn from running; once started, fn runs
// to the end with the context it is given, which does not end: cancelling
// a statement makes SQLite roll back the whole transaction, and that is
// shared with other callers.
func (db *DB) tx(ctx context.Context, fn func(ctx context.Context, tx *sql.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	r := &writeReq{ctx: ctx, fn: fn, err: make(chan error, 1)}
	select {
	case db.writes <- r:
	case <-ctx.Done():
		return ctx.Err()
	case <-db.closing:
		return errClosed
	}
	return <-r.err
}

func (db *DB) commitLoop() {
	batch := make([]*writeReq, 0, maxGroup)
	for {
		select {
		case r := <-db.writes:
			batch = append(batch[:0], r)
		case <-db.closing:
			return
		}
	more:
		for len(batch) < maxGroup {
			select {
			case r := <-db.writes:
				batch = append(batch, r)
			default:
				break more
			}
		}
		db.commitGroup(batch)
		clear(batch)
	}
}

// commitGroup runs a group in one transaction and answers every request.
func (db *DB) commitGroup(batch []*writeReq) {
	db.groups.Add(1)
	if len(batch) == 1 {
		r := batch[0]
		if err := r.ctx.Err(); err != nil {
			r.err <- err
			return
		}
		ctx := context.WithoutCancel(r.ctx)
		r.err <- inTx(ctx, db.w, func(tx *sql.Tx) error { return r.fn(ctx, tx) })
		return
	}
	errs := make([]error, len(batch))
	fail := func(err error) {
		for i, r := range batch {
			if errs[i] == nil {
				errs[i] = err
			}
			r.err <- errs[i]
		}
	}
	bg := context.Background()
	tx, err := db.w.BeginTx(bg, nil)
	if err != nil {
		fail(err)
		return
	}
	for i, r := range batch {
		if err := r.ctx.Err(); err != nil {
			errs[i] = err // gave up waiting: nothing of it is written
			continue
		}
		if _, err := tx.ExecContext(bg, `SAVEPOINT g`); err != nil {
			tx.Rollback()
			fail(err)
			return
		}
		if err := r.fn(context.WithoutCancel(r.ctx), tx); err != nil {
			errs[i] = err
			if _, err := tx.ExecContext(bg, `ROLLBACK TO g`); err != nil {
				tx.Rollback()
				fail(fmt.Errorf("rolling back a failed write: %w", err))
				return
			}
		}
		if _, err := tx.ExecContext(bg, `RELEASE g`); err != nil {
			tx.Rollback()
			fail(err)
			return
		}
	}
	if err := tx.Commit(); err != nil {
		fail(err)
		return
	}
	for i, r := range batch {
		r.err <- errs[i]
	}
}

// Times are microseconds since the epoch: the precision PostgreSQL keeps,
// so both stores return the same values.
func toMicros(t time.Time) int64 { return t.UnixMicro() }

func fromMicros(v int64) time.Time { return time.UnixMicro(v).UTC() }

func nullMicros(t *time.Time) any {
	if t == nil {
		return nil
	}
	return t.UnixMicro()
}

func timePtr(v sql.NullInt64) *time.Time {
	if !v.Valid {
		return nil
	}
	t := fromMicros(v.Int64)
	return &t
}

func sqliteCode(err error) int {
	var e *sqlite.Error
	if errors.As(err, &e) {
		return e.Code()
	}
	return 0
}

func isUnique(err error) bool {
	c := sqliteCode(err)
	return c == sqlite3.SQLITE_CONSTRAINT_UNIQUE || c == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY
}

func isForeignKey(err error) bool {
	return sqliteCode(err) == sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY
}

type scanner interface{ Scan(dest ...any) error }

// lowerContains is the case-insensitive substring test of the list
// searches. SQLite's lower() folds ASCII only; ids, vendors and models are
// ASCII in practice.
func lowerContains(col string) string { return "instr(lower(" + col + "), ?) > 0" }
