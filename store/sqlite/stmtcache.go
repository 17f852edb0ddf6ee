package sqlite

import (
	"context"
	"database/sql/driver"
	"strings"

	msqlite "modernc.org/sqlite"
)

// SQLite spends as long parsing and planning a small statement as running
// it: under load, a sixth of the central system's CPU went to
// sqlite3RunParser, because database/sql prepares every ExecContext and
// QueryContext anew. cachingConnector keeps each connection's prepared
// statements by query text and runs a repeated query on the statement
// already prepared, inside transactions too (they run on the same
// connection). database/sql uses a connection from one goroutine at a
// time, so a connection's cache needs no lock.

// maxCachedStmts bounds a connection's cache; queries built with a
// varying number of rows or ids are many, the hot ones are few. When it is
// full, the statements not in use are dropped and the cache starts over.
const maxCachedStmts = 256

type cachingConnector struct{ driver.Connector }

func newCachingConnector(dsn string) (driver.Connector, error) {
	c, err := msqlite.NewConnector(dsn)
	if err != nil {
		return nil, err
	}
	return cachingConnector{c}, nil
}

func (c cachingConnector) Connect(ctx context.Context) (driver.Conn, error) {
	dc, err := c.Connector.Connect(ctx)
	if err != nil {
		return nil, err
	}
	return &cachingConn{inner: dc, stmts: make(map[string]*cachedStmt)}, nil
}

// innerConn is what the modernc connection provides besides driver.Conn.
type innerConn interface {
	driver.Conn
	driver.ConnBeginTx
	driver.ConnPrepareContext
	driver.ExecerContext
	driver.QueryerContext
	driver.Pinger
	driver.SessionResetter
	driver.Validator
}

type cachingConn struct {
	inner driver.Conn
	stmts map[string]*cachedStmt
}

type cachedStmt struct {
	driver.Stmt
	c     *cachingConn
	query string
	busy  bool // handed out by Prepare, or its rows are open
}

func (c *cachingConn) in() innerConn { return c.inner.(innerConn) }

// get returns the cached statement for query, preparing it if needed, or
// nil if it is in use (the caller then runs the query unprepared).
func (c *cachingConn) get(ctx context.Context, query string) (*cachedStmt, error) {
	if strings.Contains(query, ";") {
		return nil, nil // a script: prepared statements hold one statement
	}
	if s := c.stmts[query]; s != nil {
		if s.busy {
			return nil, nil
		}
		return s, nil
	}
	if len(c.stmts) >= maxCachedStmts {
		for q, s := range c.stmts {
			if !s.busy {
				_ = s.Stmt.Close()
				delete(c.stmts, q)
			}
		}
	}
	st, err := c.in().PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	s := &cachedStmt{Stmt: st, c: c, query: query}
	c.stmts[query] = s
	return s, nil
}

func (c *cachingConn) Prepare(query string) (driver.Stmt, error) {
	return c.PrepareContext(context.Background(), query)
}

// PrepareContext hands out the cached statement until it is closed.
func (c *cachingConn) PrepareContext(ctx context.Context, query string) (driver.Stmt, error) {
	s, err := c.get(ctx, query)
	if err != nil {
		return nil, err
	}
	if s == nil {
		return c.in().PrepareContext(ctx, query)
	}
	s.busy = true
	return s, nil
}

func (c *cachingConn) ExecContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	s, err := c.get(ctx, query)
	if err != nil {
		return nil, err
	}
	if s == nil {
		return c.in().ExecContext(ctx, query, args)
	}
	s.busy = true
	defer func() { s.busy = false }()
	return s.Stmt.(driver.StmtExecContext).ExecContext(ctx, args)
}

func (c *cachingConn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	s, err := c.get(ctx, query)
	if err != nil {
		return nil, err
	}
	if s == nil {
		return c.in().QueryContext(ctx, query, args)
	}
	rows, err := s.Stmt.(driver.StmtQueryContext).QueryContext(ctx, args)
	if err != nil {
		return nil, err
	}
	s.busy = true
	return &cachedRows{Rows: rows, s: s}, nil
}

func (c *cachingConn) Begin() (driver.Tx, error) { // driver.Conn requires it
	return c.BeginTx(context.Background(), driver.TxOptions{})
}

func (c *cachingConn) BeginTx(ctx context.Context, opts driver.TxOptions) (driver.Tx, error) {
	return c.in().BeginTx(ctx, opts)
}

func (c *cachingConn) Ping(ctx context.Context) error         { return c.in().Ping(ctx) }
func (c *cachingConn) ResetSession(ctx context.Context) error { return c.in().ResetSession(ctx) }
func (c *cachingConn) IsValid() bool                          { return c.in().IsValid() }

func (c *cachingConn) Close() error {
	for q, s := range c.stmts {
		_ = s.Stmt.Close()
		delete(c.stmts, q)
	}
	return c.inner.Close()
}

// Close gives a statement handed out by Prepare back to the cache; one
// that was dropped from the cache meanwhile is closed for real.
func (s *cachedStmt) Close() error {
	s.busy = false
	if s.c.stmts[s.query] != s {
		return s.Stmt.Close()
	}
	return nil
}

func (s *cachedStmt) ExecContext(ctx context.Context, args []driver.NamedValue) (driver.Result, error) {
	return s.Stmt.(driver.StmtExecContext).ExecContext(ctx, args)
}

func (s *cachedStmt) QueryContext(ctx context.Context, args []driver.NamedValue) (driver.Rows, error) {
	return s.Stmt.(driver.StmtQueryContext).QueryContext(ctx, args)
}

type cachedRows struct {
	driver.Rows
	s *cachedStmt
}

func (r *cachedRows) Close() error {
	err := r.Rows.Close()
	r.s.busy = false
	if r.s.c.stmts[r.s.query] != r.s {
		_ = r.s.Stmt.Close()
	}
	return err
}
