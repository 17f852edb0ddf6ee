package storetest

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"
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

// snapValue returns a key's value in a snapshot and whether it is listed.
func snapValue(s store.ConfigSnapshot, key string) (string, bool) {
	for _, k := range s.Keys {
		if k.Key == key {
			return k.Value, true
		}
	}
	return "", false
}

func testConfigChanges(t *testing.T, s store.Store) {
	ctx := context.Background()
	for _, c := range []store.ConfigChange{
		{Key: "A", Status: store.ConfigAccepted},
		{ChargerID: "CP1", Status: store.ConfigAccepted},
		{ChargerID: "CP1", Key: "A", Status: "Maybe"},
		{ChargerID: "CP1", Key: "A"},
	} {
		_, err := s.RecordConfigChange(ctx, c)
		wantErr(t, err, store.ErrInvalid)
	}
	eq(t, "no changes", must(s.ListConfigChanges(ctx, "CP1"))(t), []store.ConfigChange{})

	// Without a snapshot the answer is kept all the same.
	must(s.RecordConfigChange(ctx, store.ConfigChange{ChargerID: "CP1", Key: "HeartbeatInterval", Value: "60", Status: store.ConfigAccepted, At: at(time.Minute)}))(t)
	eq(t, "changes", must(s.ListConfigChanges(ctx, "CP1"))(t), []store.ConfigChange{
		{ChargerID: "CP1", Key: "HeartbeatInterval", Value: "60", Status: store.ConfigAccepted, At: at(time.Minute)}})
	if _, err := s.GetConfigSnapshot(ctx, "CP1"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("a change made a snapshot: %v", err)
	}

	noErr(t, s.PutConfigSnapshot(ctx, store.ConfigSnapshot{ChargerID: "CP1", TakenAt: at(2 * time.Minute), Keys: []store.ConfigKey{
		{Key: "HeartbeatInterval", Value: "300"},
		{Key: "NumberOfConnectors", Readonly: true, Value: "2"},
		{Key: "WebSocketPingInterval", Value: "30"},
	}}))
	record := func(key, value string, status store.ConfigStatus, d time.Duration) store.ConfigChange {
		t.Helper()
		return must(s.RecordConfigChange(ctx, store.ConfigChange{ChargerID: "CP1", Key: key, Value: value, Status: status, At: at(d)}))(t)
	}
	value := func(key string) string {
		t.Helper()
		v, _ := snapValue(must(s.GetConfigSnapshot(ctx, "CP1"))(t), key)
		return v
	}

	// Keys are case-insensitive: the snapshot's spelling is kept.
	kept := record("heartbeatINTERVAL", "90", store.ConfigAccepted, 3*time.Minute)
	eq(t, "kept", kept, store.ConfigChange{ChargerID: "CP1", Key: "HeartbeatInterval", Value: "90", Status: store.ConfigAccepted, At: at(3 * time.Minute)})
	eq(t, "HeartbeatInterval", value("HeartbeatInterval"), "90")
	// Answers that did not take change the snapshot not.
	record("NumberOfConnectors", "5", store.ConfigRejected, 4*time.Minute)
	record("Foo", "1", store.ConfigNotSupported, 5*time.Minute)
	eq(t, "NumberOfConnectors", value("NumberOfConnectors"), "2")
	if _, ok := snapValue(must(s.GetConfigSnapshot(ctx, "CP1"))(t), "Foo"); ok {
		t.Fatal("a NotSupported key was added to the snapshot")
	}
	// RebootRequired takes the value, pending until the charger boots.
	if kept := record("WebSocketPingInterval", "10", store.ConfigRebootRequired, 6*time.Minute); !kept.PendingReboot {
		t.Fatalf("RebootRequired kept as %+v", kept)
	}
	eq(t, "WebSocketPingInterval", value("WebSocketPingInterval"), "10")
	pending := func() bool {
		t.Helper()
		for _, c := range must(s.ListConfigChanges(ctx, "CP1"))(t) {
			if c.Key == "WebSocketPingInterval" {
				return c.PendingReboot
			}
		}
		t.Fatal("WebSocketPingInterval change not listed")
		return false
	}
	eq(t, "pending without a charger row", pending(), true)
	must(s.RecordBoot(ctx, boot("CP1", 5*time.Minute), store.RegistrationAccepted))(t)
	eq(t, "pending after a boot before the change", pending(), true)
	must(s.RecordBoot(ctx, boot("CP1", 7*time.Minute), store.RegistrationAccepted))(t)
	eq(t, "pending after a boot after the change", pending(), false)
	// A key the snapshot does not list but the charger took is added.
	record("NewKey", "x", store.ConfigAccepted, 8*time.Minute)
	eq(t, "NewKey", value("NewKey"), "x")

	// Older news changes nothing: an answer before the kept one, or (for
	// the snapshot) before the snapshot was taken.
	record("HeartbeatInterval", "45", store.ConfigAccepted, 150*time.Second)
	eq(t, "HeartbeatInterval after an older answer", value("HeartbeatInterval"), "90")
	record("MinimumStatusDuration", "7", store.ConfigAccepted, 90*time.Second)
	if _, ok := snapValue(must(s.GetConfigSnapshot(ctx, "CP1"))(t), "MinimumStatusDuration"); ok {
		t.Fatal("an answer older than the snapshot changed it")
	}

	// The charger's password is never kept.
	if kept := record("authorizationkey", "s3cret-0123456789", store.ConfigAccepted, 9*time.Minute); kept.Value != "" {
		t.Fatalf("AuthorizationKey kept as %+v", kept)
	}
	snap := must(s.GetConfigSnapshot(ctx, "CP1"))(t)
	if _, ok := snapValue(snap, "AuthorizationKey"); ok {
		t.Fatal("AuthorizationKey is in the snapshot")
	}

	eq(t, "changes", must(s.ListConfigChanges(ctx, "CP1"))(t), []store.ConfigChange{
		{ChargerID: "CP1", Key: "authorizationkey", Value: "", Status: store.ConfigAccepted, At: at(9 * time.Minute)},
		{ChargerID: "CP1", Key: "Foo", Value: "1", Status: store.ConfigNotSupported, At: at(5 * time.Minute)},
		{ChargerID: "CP1", Key: "HeartbeatInterval", Value: "90", Status: store.ConfigAccepted, At: at(3 * time.Minute)},
		{ChargerID: "CP1", Key: "MinimumStatusDuration", Value: "7", Status: store.ConfigAccepted, At: at(90 * time.Second)},
		{ChargerID: "CP1", Key: "NewKey", Value: "x", Status: store.ConfigAccepted, At: at(8 * time.Minute)},
		{ChargerID: "CP1", Key: "NumberOfConnectors", Value: "5", Status: store.ConfigRejected, At: at(4 * time.Minute)},
		{ChargerID: "CP1", Key: "WebSocketPingInterval", Value: "10", Status: store.ConfigRebootRequired, At: at(6 * time.Minute)},
	})
	eq(t, "other charger", must(s.ListConfigChanges(ctx, "CP2"))(t), []store.ConfigChange{})

	// Key names come from snapshots, first spelling and read-only flag.
	noErr(t, s.PutConfigSnapshot(ctx, store.ConfigSnapshot{ChargerID: "CP2", Keys: []store.ConfigKey{
		{Key: "HEARTBEATINTERVAL", Readonly: true, Value: "1"}, {Key: "Other", Value: "2"}, {Key: "other", Value: "3"},
	}}))
	eq(t, "key names", must(s.ConfigKeyNames(ctx))(t), []store.ConfigKeyName{
		{Key: "HeartbeatInterval"}, {Key: "NumberOfConnectors", Readonly: true}, {Key: "Other"}, {Key: "WebSocketPingInterval"},
	})
}

func testConfigKeyAcross(t *testing.T, s store.Store) {
	ctx := context.Background()
	if _, err := s.ConfigKeyAcross(ctx, store.ConfigKeyFilter{}); !errors.Is(err, store.ErrInvalid) {
		t.Fatalf("no key: err = %v, want ErrInvalid", err)
	}
	eq(t, "empty", must(s.ConfigKeyAcross(ctx, store.ConfigKeyFilter{Key: "K"}))(t), []store.ConfigKeyValue{})
	put := func(id string, d time.Duration, keys ...store.ConfigKey) {
		t.Helper()
		noErr(t, s.PutConfigSnapshot(ctx, store.ConfigSnapshot{ChargerID: id, TakenAt: at(d), Keys: keys}))
	}
	change := func(id, key, value string, status store.ConfigStatus, d time.Duration) *store.ConfigChange {
		t.Helper()
		c := store.ConfigChange{ChargerID: id, Key: key, Value: value, Status: status, At: at(d)}
		c = must(s.RecordConfigChange(ctx, c))(t)
		c.PendingReboot = false // as a read sets it below
		return &c
	}
	put("A", 0, store.ConfigKey{Key: "Other", Value: "x"}, store.ConfigKey{Key: "MyKey", Value: "1"})
	put("B", time.Minute, store.ConfigKey{Key: "Other", Value: "y"})
	cc := change("C", "mykey", "2", store.ConfigRebootRequired, 2*time.Minute) // no snapshot
	change("D", "Other", "3", store.ConfigAccepted, 3*time.Minute)             // not of the key
	put("E", 4*time.Minute, store.ConfigKey{Key: "MYKEY", Readonly: true, Value: "9"})
	ac := change("A", "MyKey", "5", store.ConfigAccepted, 5*time.Minute)
	cc.PendingReboot = true

	want := []store.ConfigKeyValue{
		{ChargerID: "A", TakenAt: ptr(at(0)), Found: true, Value: "5", Change: ac},
		{ChargerID: "B", TakenAt: ptr(at(time.Minute))},
		{ChargerID: "C", Change: cc},
		{ChargerID: "E", TakenAt: ptr(at(4 * time.Minute)), Found: true, Readonly: true, Value: "9"},
	}
	// D has neither a snapshot nor a change of the key.
	eq(t, "all", must(s.ConfigKeyAcross(ctx, store.ConfigKeyFilter{Key: "MYKEY"}))(t), want)
	eq(t, "page 1", must(s.ConfigKeyAcross(ctx, store.ConfigKeyFilter{Key: "MyKey", Limit: 2}))(t), want[:2])
	eq(t, "page 2", must(s.ConfigKeyAcross(ctx, store.ConfigKeyFilter{Key: "MyKey", Limit: 2, After: "B"}))(t), want[2:])
	// D is listed for the key it changed.
	got := must(s.ConfigKeyAcross(ctx, store.ConfigKeyFilter{Key: "Other"}))(t)
	eq(t, "Other", ids(got, func(v store.ConfigKeyValue) string { return v.ChargerID }), []string{"A", "B", "D", "E"})
	if !got[0].Found || got[0].Value != "x" || got[2].Change == nil || got[2].Change.Value != "3" || got[3].Found {
		t.Fatalf("Other: %+v", got)
	}
}

// testConfigChangeRace: changes of many keys of one charger at once all
// stay in its snapshot, and of one key the latest answer wins whatever
// order the writes arrive in.
func testConfigChangeRace(t *testing.T, s store.Store) {
	ctx := context.Background()
	const keys, rounds = 16, 12
	var snap []store.ConfigKey
	for i := range keys {
		snap = append(snap, store.ConfigKey{Key: fmt.Sprintf("K%d", i), Value: "0"})
	}
	noErr(t, s.PutConfigSnapshot(ctx, store.ConfigSnapshot{ChargerID: "CP", TakenAt: at(0), Keys: snap}))
	errs := make(chan error, keys*rounds+keys)
	var wg sync.WaitGroup
	for i := range keys {
		for r := range rounds {
			wg.Add(1)
			go func() {
				defer wg.Done()
				// Round r of key i is answered at minute r+1: the last round
				// is the latest answer, whenever its write lands.
				_, err := s.RecordConfigChange(ctx, store.ConfigChange{ChargerID: "CP", Key: fmt.Sprintf("K%d", i),
					Value: fmt.Sprintf("%d-%d", i, r), Status: store.ConfigAccepted, At: at(time.Duration(r+1) * time.Minute)})
				errs <- err
			}()
		}
		wg.Add(1)
		go func() { // readers all the while
			defer wg.Done()
			_, err := s.GetConfigSnapshot(ctx, "CP")
			if err == nil {
				_, err = s.ConfigKeyAcross(ctx, store.ConfigKeyFilter{Key: "K0"})
			}
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		noErr(t, err)
	}
	got := must(s.GetConfigSnapshot(ctx, "CP"))(t)
	eq(t, "keys", len(got.Keys), keys)
	changes := must(s.ListConfigChanges(ctx, "CP"))(t)
	eq(t, "changes", len(changes), keys)
	for i := range keys {
		want := fmt.Sprintf("%d-%d", i, rounds-1)
		if v, _ := snapValue(got, fmt.Sprintf("K%d", i)); v != want {
			t.Errorf("K%d = %q in the snapshot, want %q", i, v, want)
		}
	}
	for _, c := range changes {
		if !c.At.Equal(at(rounds*time.Minute)) || !strings.HasSuffix(c.Value, fmt.Sprintf("-%d", rounds-1)) {
			t.Errorf("change %+v is not the latest", c)
		}
	}
}
