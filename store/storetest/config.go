package storetest

import (
	"context"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/wattson-csms/wattson/store"
)

func testConfigSnapshots(t *testing.T, s store.Store) {
	ctx := context.Background()
	if _, err := s.GetConfigSnapshot(ctx, "CP1"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("no snapshot: err = %v, want ErrNotFound", err)
	}
	if err := s.PutConfigSnapshot(ctx, store.ConfigSnapshot{}); !errors.Is(err, store.ErrInvalid) {
		t.Errorf("no charger id: err = %v, want ErrInvalid", err)
	}
	first := store.ConfigSnapshot{
		ChargerID: "CP1",
		Keys: []store.ConfigKey{
			{Key: "HeartbeatInterval", Value: "60"},
			{Key: "NumberOfConnectors", Readonly: true, Value: "2"},
			{Key: "AuthorizationKey", Value: `"quoted" ünïcode`},
			{Key: "Empty"},
		},
		UnknownKeys: []string{"Foo"},
		TakenAt:     at(0),
	}
	if err := s.PutConfigSnapshot(ctx, first); err != nil {
		t.Fatal(err)
	}
	got := must(s.GetConfigSnapshot(ctx, "CP1"))(t)
	if !reflect.DeepEqual(got, first) {
		t.Errorf("got %+v, want %+v", got, first)
	}

	// The latest replaces it; empty lists come back empty, not nil.
	second := store.ConfigSnapshot{ChargerID: "CP1", TakenAt: at(time.Hour)}
	if err := s.PutConfigSnapshot(ctx, second); err != nil {
		t.Fatal(err)
	}
	got = must(s.GetConfigSnapshot(ctx, "CP1"))(t)
	want := store.ConfigSnapshot{ChargerID: "CP1", Keys: []store.ConfigKey{}, UnknownKeys: []string{}, TakenAt: at(time.Hour)}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("after replace: got %+v, want %+v", got, want)
	}

	// Other chargers are apart; a zero time is now.
	if _, err := s.GetConfigSnapshot(ctx, "CP2"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("CP2: err = %v, want ErrNotFound", err)
	}
	if err := s.PutConfigSnapshot(ctx, store.ConfigSnapshot{ChargerID: "CP2", Keys: []store.ConfigKey{{Key: "A", Value: "1"}}}); err != nil {
		t.Fatal(err)
	}
	got = must(s.GetConfigSnapshot(ctx, "CP2"))(t)
	if got.TakenAt.IsZero() || got.TakenAt.Location() != time.UTC || len(got.Keys) != 1 {
		t.Errorf("CP2: got %+v", got)
	}
	if got := must(s.GetConfigSnapshot(ctx, "CP1"))(t); !got.TakenAt.Equal(at(time.Hour)) {
		t.Errorf("CP1 changed: %+v", got)
	}
}
