package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"testing"
)

// cached returns how many statements the writer connection holds.
func cached(t *testing.T, db *DB) int {
	t.Helper()
	conn, err := db.w.Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	n := -1
	if err := conn.Raw(func(dc any) error { n = len(dc.(*cachingConn).stmts); return nil }); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestStatementCache(t *testing.T) {
	ctx := context.Background()
	db, err := Open(ctx, filepath.Join(t.TempDir(), "c.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.w.ExecContext(ctx, `CREATE TABLE scratch (k INTEGER PRIMARY KEY, v TEXT NOT NULL)`); err != nil {
		t.Fatal(err)
	}
	base := cached(t, db)
	const ins = `INSERT INTO scratch (k, v) VALUES (?, ?)`
	for i := range 10 {
		if err := db.tx(ctx, func(ctx context.Context, tx *sql.Tx) error {
			_, err := tx.ExecContext(ctx, ins, i, fmt.Sprint("v", i))
			return err
		}); err != nil {
			t.Fatal(err)
		}
	}
	if n := cached(t, db); n != base+1 {
		t.Errorf("%d statements cached after one query ten times, want %d", n, base+1)
	}

	// The same query while its rows are open runs unprepared, and both
	// give their rows.
	const sel = `SELECT k, v FROM scratch WHERE k >= ? ORDER BY k`
	err = db.tx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		outer, err := tx.QueryContext(ctx, sel, 5)
		if err != nil {
			return err
		}
		var got []int
		for outer.Next() {
			var k int
			var v string
			if err := outer.Scan(&k, &v); err != nil {
				return err
			}
			got = append(got, k)
			if k == 5 {
				var inner int
				if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM (`+sel+`)`, 0).Scan(&inner); err != nil {
					return err
				}
				rows, err := tx.QueryContext(ctx, sel, 8)
				if err != nil {
					return err
				}
				n := 0
				for rows.Next() {
					n++
				}
				rows.Close()
				if n != 2 || inner != 10 {
					return fmt.Errorf("inner queries saw %d and %d rows, want 2 and 10", n, inner)
				}
			}
		}
		if err := outer.Close(); err != nil {
			return err
		}
		if fmt.Sprint(got) != "[5 6 7 8 9]" {
			return fmt.Errorf("outer rows %v", got)
		}
		// A statement prepared, closed, prepared again: the same one.
		for range 2 {
			st, err := tx.PrepareContext(ctx, `UPDATE scratch SET v = ? WHERE k = ?`)
			if err != nil {
				return err
			}
			if _, err := st.ExecContext(ctx, "x", 1); err != nil {
				return err
			}
			st.Close()
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}

	// More distinct queries than the cache holds: it starts over, and
	// every query still answers.
	for i := range maxCachedStmts + 20 {
		var v string
		if err := db.w.QueryRowContext(ctx, fmt.Sprintf(`SELECT v FROM scratch WHERE k = ? AND %d = %d`, i, i), 3).Scan(&v); err != nil || v != "v3" {
			t.Fatalf("query %d: %q, %v", i, v, err)
		}
	}
	if n := cached(t, db); n > maxCachedStmts {
		t.Errorf("%d statements cached, at most %d", n, maxCachedStmts)
	}
	// A bad statement is an error, not a cached entry.
	if _, err := db.w.ExecContext(ctx, `INSERT INTO nowhere VALUES (1)`); err == nil {
		t.Error("a statement on a missing table ran")
	}
}
