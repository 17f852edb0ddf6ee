package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

func openScratch(t *testing.T) *DB {
	t.Helper()
	db, err := Open(context.Background(), filepath.Join(t.TempDir(), "g.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if _, err := db.w.ExecContext(context.Background(), `CREATE TABLE scratch (k INTEGER PRIMARY KEY, v TEXT NOT NULL)`); err != nil {
		t.Fatal(err)
	}
	return db
}

func insert(k int, v string) func(context.Context, *sql.Tx) error {
	return func(ctx context.Context, tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO scratch (k, v) VALUES (?, ?)`, k, v)
		return err
	}
}

func keys(t *testing.T, db *DB) map[int]bool {
	t.Helper()
	rows, err := db.r.Query(`SELECT k FROM scratch`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[int]bool{}
	for rows.Next() {
		var k int
		if err := rows.Scan(&k); err != nil {
			t.Fatal(err)
		}
		out[k] = true
	}
	return out
}

// Writes that wait while a transaction runs are committed together, and a
// failing one is rolled back alone: the others' writes are kept.
func TestGroupCommit(t *testing.T) {
	db := openScratch(t)
	ctx := context.Background()
	hold, held := make(chan struct{}), make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		if err := db.tx(ctx, func(ctx context.Context, tx *sql.Tx) error {
			close(held)
			<-hold
			return insert(0, "first")(ctx, tx)
		}); err != nil {
			t.Error(err)
		}
	})
	<-held
	errs := make([]error, 11)
	cancelled, cancel := context.WithCancel(ctx)
	for i := 1; i <= 10; i++ {
		wg.Go(func() {
			fn := insert(i, "v")
			if i == 5 {
				// Writes, then fails: its row must not stay.
				fn = func(ctx context.Context, tx *sql.Tx) error {
					if err := insert(5, "v")(ctx, tx); err != nil {
						return err
					}
					return errors.New("refused")
				}
			}
			c := ctx
			if i == 7 {
				c = cancelled
			}
			errs[i] = db.tx(c, fn)
		})
	}
	// Give the ten time to queue behind the held transaction (nothing can
	// be observed of that from here), then cancel one of them.
	time.Sleep(100 * time.Millisecond)
	cancel()
	close(hold)
	wg.Wait()
	for i := 1; i <= 10; i++ {
		switch i {
		case 5:
			if errs[i] == nil || errs[i].Error() != "refused" {
				t.Errorf("write 5: %v, want its own error", errs[i])
			}
		case 7:
			if !errors.Is(errs[i], context.Canceled) {
				t.Errorf("write 7: %v, want context.Canceled", errs[i])
			}
		default:
			if errs[i] != nil {
				t.Errorf("write %d: %v", i, errs[i])
			}
		}
	}
	got := keys(t, db)
	for i := 0; i <= 10; i++ {
		if want := i != 5 && i != 7; got[i] != want {
			t.Errorf("row %d stored %v, want %v", i, got[i], want)
		}
	}
	if g := db.groups.Load(); g > 3 {
		t.Errorf("%d commits for 11 writes of which 10 waited together", g)
	}
}

// A statement error (here a constraint) inside a group rolls back only
// that write, and a closed store refuses writes.
func TestGroupCommitConstraintAndClose(t *testing.T) {
	db := openScratch(t)
	ctx := context.Background()
	if err := db.tx(ctx, insert(1, "a")); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make([]error, 40)
	for i := range errs {
		wg.Go(func() { errs[i] = db.tx(ctx, insert(1+i%2*(i+100), "b")) }) // even i: duplicate key 1
	}
	wg.Wait()
	for i, err := range errs {
		if (i%2 == 0) != (err != nil) {
			t.Errorf("write %d: %v", i, err)
		}
	}
	if n := len(keys(t, db)); n != 21 {
		t.Errorf("%d rows, want 21", n)
	}
	db.Close()
	if err := db.tx(ctx, insert(999, "late")); !errors.Is(err, errClosed) {
		t.Errorf("write after Close: %v", err)
	}
}
