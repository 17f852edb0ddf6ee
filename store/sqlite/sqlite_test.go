package sqlite_test

import (
	"database/sql"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/wattson-csms/wattson/store"
	"github.com/wattson-csms/wattson/store/sqlite"
	"github.com/wattson-csms/wattson/store/storetest"
)

func open(t testing.TB) *sqlite.DB {
	t.Helper()
	db, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "wattson.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store { return open(t) })
}

// TestReopen: what was written is there after closing and opening the file
// again, and opening an up-to-date file migrates nothing.
func TestReopen(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "wattson.db")
	db, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	r, err := db.StartTransaction(ctx, store.StartTx{ChargerID: "cp", ConnectorID: 1, IDTag: "T", Timestamp: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		db, err = sqlite.Open(ctx, path)
		if err != nil {
			t.Fatal(err)
		}
		got, err := db.GetTransaction(ctx, r.Transaction.ID)
		if err != nil || got != r.Transaction {
			t.Fatalf("after reopening: %+v, %v; want %+v", got, err, r.Transaction)
		}
		// The next id continues after the stored one.
		r2, err := db.StartTransaction(ctx, store.StartTx{ChargerID: "cp", ConnectorID: 2, IDTag: "T", Timestamp: time.Now()})
		if err != nil || r2.Transaction.ID <= r.Transaction.ID {
			t.Fatalf("next start: %+v, %v", r2, err)
		}
		db.Close()
	}
}

func TestOpenInvalidPath(t *testing.T) {
	if _, err := sqlite.Open(t.Context(), "x.db?mode=ro"); !errors.Is(err, store.ErrInvalid) {
		t.Fatalf("Open with a query = %v, want ErrInvalid", err)
	}
	if _, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "missing", "dir", "w.db")); err == nil {
		t.Fatal("Open in a missing directory succeeded")
	}
}

// TestMessageLogCountsMigrated: a file written before the message log kept
// counts (migration 9) gets them from the entries it holds.
func TestMessageLogCountsMigrated(t *testing.T) {
	path := filepath.Join(t.TempDir(), "wattson.db")
	storetest.LogCountsMigrated(t, func(t *testing.T) store.Store {
		db, err := sqlite.Open(t.Context(), path)
		if err != nil {
			t.Fatal(err)
		}
		return db
	}, func(t *testing.T) {
		raw, err := sql.Open("sqlite", path)
		if err != nil {
			t.Fatal(err)
		}
		defer raw.Close()
		for _, q := range storetest.DowngradeLogCounts {
			if _, err := raw.ExecContext(t.Context(), q); err != nil {
				t.Fatal(q, err)
			}
		}
	})
}
