package storetest

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/wattson-csms/wattson/store"
)

func testUsers(t *testing.T, s store.Store) {
	ctx := t.Context()
	eq(t, "no users", len(must(s.ListUsers(ctx))(t)), 0)
	a := must(s.CreateUser(ctx, store.User{Username: "alice", PasswordHash: "$2a$h1", Role: store.RoleAdmin}))(t)
	recent(t, "CreatedAt", a.CreatedAt)
	eq(t, "created", a, store.User{Username: "alice", PasswordHash: "$2a$h1", Role: store.RoleAdmin, CreatedAt: a.CreatedAt, UpdatedAt: a.CreatedAt})
	b := must(s.CreateUser(ctx, store.User{Username: "Bob.ops@example-1_x", PasswordHash: "$2a$h2", Role: store.RoleViewer, CreatedAt: at(0)}))(t)
	eq(t, "given CreatedAt", b.CreatedAt, at(0))

	_, err := s.CreateUser(ctx, store.User{Username: "alice", PasswordHash: "x", Role: store.RoleViewer})
	wantErr(t, err, store.ErrConflict)
	for _, bad := range []store.User{
		{Username: "", PasswordHash: "x", Role: store.RoleViewer},
		{Username: "a b", PasswordHash: "x", Role: store.RoleViewer},
		{Username: string(make([]byte, 65)), PasswordHash: "x", Role: store.RoleViewer},
		{Username: "c", PasswordHash: "", Role: store.RoleViewer},
		{Username: "c", PasswordHash: "x", Role: "driver"},
	} {
		_, err := s.CreateUser(ctx, bad)
		wantErr(t, err, store.ErrInvalid)
	}

	eq(t, "get", must(s.GetUser(ctx, "alice"))(t), a)
	_, err = s.GetUser(ctx, "ALICE") // exact match
	wantErr(t, err, store.ErrNotFound)
	eq(t, "list", must(s.ListUsers(ctx))(t), []store.User{b, a}) // by username, bytewise

	// The last admin cannot be demoted or deleted.
	_, err = s.UpdateUser(ctx, "alice", store.UserUpdate{Role: ptr(store.RoleOperator)})
	wantErr(t, err, store.ErrLastAdmin)
	wantErr(t, err, store.ErrConflict)
	wantErr(t, s.DeleteUser(ctx, "alice"), store.ErrLastAdmin)
	// but may change their password or stay admin.
	u := must(s.UpdateUser(ctx, "alice", store.UserUpdate{PasswordHash: ptr("$2a$new"), Role: ptr(store.RoleAdmin)}))(t)
	eq(t, "new hash", u.PasswordHash, "$2a$new")
	eq(t, "role kept", u.Role, store.RoleAdmin)
	recent(t, "UpdatedAt", u.UpdatedAt)
	eq(t, "CreatedAt kept", u.CreatedAt, a.CreatedAt)

	u = must(s.UpdateUser(ctx, b.Username, store.UserUpdate{Role: ptr(store.RoleAdmin)}))(t)
	eq(t, "promoted", u.Role, store.RoleAdmin)
	eq(t, "hash kept", u.PasswordHash, "$2a$h2")
	// Now there are two admins: one may go.
	must(s.UpdateUser(ctx, "alice", store.UserUpdate{Role: ptr(store.RoleViewer)}))(t)
	wantErr(t, s.DeleteUser(ctx, b.Username), store.ErrLastAdmin)
	noErr(t, s.DeleteUser(ctx, "alice"))
	wantErr(t, s.DeleteUser(ctx, "alice"), store.ErrNotFound)
	_, err = s.UpdateUser(ctx, "alice", store.UserUpdate{Role: ptr(store.RoleViewer)})
	wantErr(t, err, store.ErrNotFound)
	_, err = s.UpdateUser(ctx, b.Username, store.UserUpdate{Role: ptr(store.Role("root"))})
	wantErr(t, err, store.ErrInvalid)
	eq(t, "list after delete", len(must(s.ListUsers(ctx))(t)), 1)
}

// testLastAdminRace: two admins deleting or demoting each other at once
// leave one admin.
func testLastAdminRace(t *testing.T, s store.Store) {
	ctx := t.Context()
	leftover := ""
	for round := range 6 {
		a, b := fmt.Sprintf("a%d", round), fmt.Sprintf("b%d", round)
		must(s.CreateUser(ctx, store.User{Username: a, PasswordHash: "x", Role: store.RoleAdmin}))(t)
		must(s.CreateUser(ctx, store.User{Username: b, PasswordHash: "x", Role: store.RoleAdmin}))(t)
		if leftover != "" {
			must(s.UpdateUser(ctx, leftover, store.UserUpdate{Role: ptr(store.RoleViewer)}))(t)
		}
		var wg sync.WaitGroup
		for _, name := range []string{a, b} {
			wg.Go(func() {
				if round%2 == 0 {
					_ = s.DeleteUser(ctx, name)
				} else {
					_, _ = s.UpdateUser(ctx, name, store.UserUpdate{Role: ptr(store.RoleOperator)})
				}
			})
		}
		wg.Wait()
		var admins []string
		for _, u := range must(s.ListUsers(ctx))(t) {
			if u.Role == store.RoleAdmin {
				admins = append(admins, u.Username)
			}
		}
		if len(admins) != 1 {
			t.Fatalf("round %d: admins left %v, want one", round, admins)
		}
		leftover = admins[0]
	}
}

func testSessions(t *testing.T, s store.Store) {
	ctx := t.Context()
	must(s.CreateUser(ctx, store.User{Username: "alice", PasswordHash: "h", Role: store.RoleOperator}))(t)
	must(s.CreateUser(ctx, store.User{Username: "root", PasswordHash: "h", Role: store.RoleAdmin}))(t)

	s1 := store.Session{Hash: []byte("hash-1"), Username: "alice", CreatedAt: at(0), ExpiresAt: at(time.Hour)}
	noErr(t, s.CreateSession(ctx, s1))
	wantErr(t, s.CreateSession(ctx, s1), store.ErrConflict)
	wantErr(t, s.CreateSession(ctx, store.Session{Hash: []byte("x"), Username: "nobody", ExpiresAt: at(time.Hour)}), store.ErrNotFound)
	wantErr(t, s.CreateSession(ctx, store.Session{Hash: nil, Username: "alice", ExpiresAt: at(time.Hour)}), store.ErrInvalid)

	got, u, err := s.SessionByHash(ctx, s1.Hash)
	noErr(t, err)
	s1.LastSeenAt = at(0)
	eq(t, "session", got, s1)
	eq(t, "user", u.Username, "alice")
	eq(t, "role", u.Role, store.RoleOperator)
	eq(t, "last login", u.LastLoginAt, ptr(at(0)))
	eq(t, "user via get", must(s.GetUser(ctx, "alice"))(t), u)
	_, _, err = s.SessionByHash(ctx, []byte("nope"))
	wantErr(t, err, store.ErrNotFound)

	// Touch only moves forward.
	noErr(t, s.TouchSession(ctx, s1.Hash, at(time.Minute), at(2*time.Hour)))
	noErr(t, s.TouchSession(ctx, s1.Hash, at(time.Second), at(time.Hour)))
	got, _, _ = s.SessionByHash(ctx, s1.Hash)
	eq(t, "touched", [2]time.Time{got.LastSeenAt, got.ExpiresAt}, [2]time.Time{at(time.Minute), at(2 * time.Hour)})
	wantErr(t, s.TouchSession(ctx, []byte("nope"), at(0), at(0)), store.ErrNotFound)

	// The role a session carries is the user's current one.
	must(s.UpdateUser(ctx, "alice", store.UserUpdate{Role: ptr(store.RoleViewer)}))(t)
	_, u, _ = s.SessionByHash(ctx, s1.Hash)
	eq(t, "role after change", u.Role, store.RoleViewer)

	for i := 2; i <= 4; i++ {
		noErr(t, s.CreateSession(ctx, store.Session{Hash: fmt.Appendf(nil, "hash-%d", i), Username: "alice", CreatedAt: at(0), ExpiresAt: at(time.Duration(i) * time.Hour)}))
	}
	noErr(t, s.CreateSession(ctx, store.Session{Hash: []byte("root-1"), Username: "root", ExpiresAt: at(time.Minute)}))

	// Expired by 2h+1s: hash-1 and hash-2 (2h) and root-1 (1m).
	n := must(s.DeleteExpiredSessions(ctx, at(2*time.Hour+time.Second)))(t)
	eq(t, "expired deleted", n, int64(3))
	_, _, err = s.SessionByHash(ctx, s1.Hash)
	wantErr(t, err, store.ErrNotFound)

	// All but one of a user's sessions.
	n = must(s.DeleteUserSessions(ctx, "alice", []byte("hash-3")))(t)
	eq(t, "others deleted", n, int64(1))
	must3(t)(s.SessionByHash(ctx, []byte("hash-3")))
	n = must(s.DeleteUserSessions(ctx, "alice", nil))(t)
	eq(t, "all deleted", n, int64(1))

	noErr(t, s.CreateSession(ctx, store.Session{Hash: []byte("hash-5"), Username: "alice", ExpiresAt: at(time.Hour)}))
	noErr(t, s.DeleteSession(ctx, []byte("hash-5")))
	wantErr(t, s.DeleteSession(ctx, []byte("hash-5")), store.ErrNotFound)

	// Deleting a user deletes their sessions.
	noErr(t, s.CreateSession(ctx, store.Session{Hash: []byte("hash-6"), Username: "alice", ExpiresAt: at(time.Hour)}))
	noErr(t, s.DeleteUser(ctx, "alice"))
	_, _, err = s.SessionByHash(ctx, []byte("hash-6"))
	wantErr(t, err, store.ErrNotFound)
}

func must3(t *testing.T) func(store.Session, store.User, error) {
	return func(_ store.Session, _ store.User, err error) {
		t.Helper()
		noErr(t, err)
	}
}

// testBulkReads covers the reads of the fleet overview and the charger
// list: one query each, whatever the number of chargers.
func testBulkReads(t *testing.T, s store.Store) {
	ctx := t.Context()
	for i, id := range []string{"b", "a", "c"} {
		must(s.RecordBoot(ctx, boot(id, time.Duration(i)*time.Minute), store.RegistrationAccepted))(t)
	}
	must(s.PutCharger(ctx, store.Charger{ID: "p", Registration: store.RegistrationPending}))(t)
	conn := func(cp string, n int, status string) store.Connector {
		return store.Connector{ChargerID: cp, ConnectorID: n, Status: status, ErrorCode: "NoError", UpdatedAt: at(time.Duration(n) * time.Second)}
	}
	want := []store.Connector{conn("a", 0, "Available"), conn("a", 1, "Charging"), conn("a", 2, "Faulted"), conn("b", 1, "Available"), conn("c", 1, "Preparing")}
	for _, i := range []int{4, 2, 0, 3, 1} {
		noErr(t, s.RecordStatus(ctx, want[i]))
	}
	eq(t, "all connectors", must(s.ListAllConnectors(ctx))(t), want)
	eq(t, "connectors of a, c", must(s.ListConnectorsOf(ctx, []string{"c", "a", "zz"}))(t), []store.Connector{want[0], want[1], want[2], want[4]})
	eq(t, "connectors of none", len(must(s.ListConnectorsOf(ctx, nil))(t)), 0)
	_, err := s.ListConnectorsOf(ctx, make([]string, store.MaxBulk+1))
	wantErr(t, err, store.ErrInvalid)

	sums := must(s.ListChargerSummaries(ctx))(t)
	eq(t, "summary ids", ids(sums, func(c store.ChargerSummary) string { return c.ID }), []string{"a", "b", "c", "p"})
	eq(t, "summary a", sums[0], store.ChargerSummary{ID: "a", Registration: store.RegistrationAccepted, LastSeenAt: ptr(at(time.Minute)), LastBootAt: ptr(at(time.Minute)), CreatedAt: sums[0].CreatedAt})
	eq(t, "pending", sums[3].Registration, store.RegistrationPending)
	if sums[3].LastSeenAt != nil || sums[3].LastBootAt != nil {
		t.Fatalf("never seen: %+v", sums[3])
	}
	recent(t, "CreatedAt", sums[3].CreatedAt)

	noErr(t, s.AddMeterValues(ctx, []store.MeterSample{
		sample("a", 1, ptr(int64(1)), 0, "100", "", ""),
		sample("a", 1, ptr(int64(1)), 0, "7000", "Power.Active.Import", ""),
		sample("a", 1, ptr(int64(1)), 0, "230", "Voltage", ""),
		sample("b", 1, nil, 0, "3.5", "Power.Active.Import", "L1"),
	}))
	got := must(s.LatestMeterValuesOf(ctx, "Power.Active.Import", ""))(t)
	eq(t, "latest of", len(got), 3)
	eq(t, "order", []string{got[0].Measurand, got[1].Measurand, got[2].ChargerID}, []string{"Energy.Active.Import.Register", "Power.Active.Import", "b"})
	eq(t, "none", len(must(s.LatestMeterValuesOf(ctx))(t)), 0)
}

func testEnergySince(t *testing.T, s store.Store) {
	ctx := t.Context()
	stop := func(id int64, meter int64, d time.Duration) {
		t.Helper()
		_, _, err := s.StopTransaction(ctx, store.StopTx{TransactionID: id, ChargerID: "cp", MeterStop: meter, Timestamp: at(d)})
		noErr(t, err)
	}
	old := must(s.StartTransaction(ctx, start("cp", 1, "T", 1000, -2*time.Hour)))(t).Transaction.ID
	stop(old, 5000, -time.Hour) // before since: not counted
	a := must(s.StartTransaction(ctx, start("cp", 1, "T", 5000, time.Minute)))(t).Transaction.ID
	stop(a, 6500, 10*time.Minute)
	b := must(s.StartTransaction(ctx, start("cp", 2, "T", 100, 2*time.Minute)))(t).Transaction.ID
	stop(b, 350, 20*time.Minute)
	running := must(s.StartTransaction(ctx, start("cp", 1, "T", 6500, 30*time.Minute)))(t).Transaction
	// Running since before: not counted.
	must(s.StartTransaction(ctx, start("cp", 3, "T", 0, -3*time.Hour)))(t)

	wh, run, err := s.EnergySince(ctx, at(0))
	noErr(t, err)
	eq(t, "stopped Wh", wh, int64(1500+250))
	eq(t, "running", run, []store.Transaction{running})

	wh, run, err = s.EnergySince(ctx, at(24*time.Hour))
	noErr(t, err)
	eq(t, "nothing later", [2]int{int(wh), len(run)}, [2]int{0, 0})
}
