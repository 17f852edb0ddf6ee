package storetest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/wattson-csms/wattson/store"
)

func reservation(charger string, connector int, tag string, created, expires time.Duration) store.Reservation {
	return store.Reservation{
		ChargerID: charger, ConnectorID: connector, IDTag: tag, ParentIDTag: "FLEET",
		ExpiresAt: at(expires), CreatedBy: "user alice", CreatedAt: at(created),
	}
}

func resIDs(rs []store.Reservation) []int {
	out := []int{}
	for _, r := range rs {
		out = append(out, r.ID)
	}
	return out
}

func testReservations(t *testing.T, s store.Store) {
	ctx := context.Background()
	for _, bad := range []store.Reservation{
		{ConnectorID: 1, IDTag: "T", ExpiresAt: at(time.Hour)},
		{ChargerID: "CP1", ConnectorID: -1, IDTag: "T", ExpiresAt: at(time.Hour)},
		{ChargerID: "CP1", ConnectorID: 1, ExpiresAt: at(time.Hour)},
		{ChargerID: "CP1", ConnectorID: 1, IDTag: "T"},
		{ChargerID: "CP1", ConnectorID: 1, IDTag: "T", ExpiresAt: at(time.Hour), Status: "Booked"},
	} {
		if _, err := s.CreateReservation(ctx, bad); !errors.Is(err, store.ErrInvalid) {
			t.Errorf("CreateReservation(%+v): err = %v, want ErrInvalid", bad, err)
		}
	}

	// A new reservation is Pending, with an id of its own and the times
	// it was given.
	in := reservation("CP1", 1, "ALICE", 0, time.Hour)
	r1 := must(s.CreateReservation(ctx, in))(t)
	if r1.ID < 1 {
		t.Fatalf("id %d", r1.ID)
	}
	want := in
	want.ID, want.Status, want.UpdatedAt = r1.ID, store.ReservationPending, at(0)
	eq(t, "created", r1, want)
	eq(t, "read back", must(s.GetReservation(ctx, r1.ID))(t), want)
	if _, err := s.GetReservation(ctx, r1.ID+1000); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("unknown id: err = %v, want ErrNotFound", err)
	}

	// A zero creation time is now.
	now := must(s.CreateReservation(ctx, store.Reservation{ChargerID: "CP9", IDTag: "X", ExpiresAt: time.Now().Add(time.Hour)}))(t)
	recent(t, "CreatedAt", now.CreatedAt)
	if now.ID == r1.ID || now.ConnectorID != 0 || now.Status != store.ReservationPending {
		t.Errorf("second reservation %+v", now)
	}

	// One active reservation per connector: another on connector 1 is a
	// conflict; connector 0 (any) is a slot of its own, and so are other
	// chargers.
	_, err := s.CreateReservation(ctx, reservation("CP1", 1, "BOB", time.Minute, time.Hour))
	wantErr(t, err, store.ErrConflict)
	r0 := must(s.CreateReservation(ctx, reservation("CP1", 0, "BOB", time.Minute, time.Hour)))(t)
	r2 := must(s.CreateReservation(ctx, reservation("CP2", 1, "BOB", time.Minute, 2*time.Hour)))(t)

	// Accepted: still holds the connector.
	acc := must(s.UpdateReservation(ctx, store.ReservationUpdate{ID: r1.ID, From: []store.ReservationStatus{store.ReservationPending},
		Status: store.ReservationAccepted, At: at(time.Second)}))(t)
	if acc.Status != store.ReservationAccepted || !acc.UpdatedAt.Equal(at(time.Second)) || !acc.CreatedAt.Equal(at(0)) || acc.TransactionID != nil {
		t.Fatalf("accepted: %+v", acc)
	}
	_, err = s.CreateReservation(ctx, reservation("CP1", 1, "BOB", 2*time.Minute, time.Hour))
	wantErr(t, err, store.ErrConflict)

	// An update from a status it is not in is a conflict that returns the
	// reservation as it is; an unknown one is not found.
	got, err := s.UpdateReservation(ctx, store.ReservationUpdate{ID: r1.ID, From: []store.ReservationStatus{store.ReservationPending},
		Status: store.ReservationRejected})
	wantErr(t, err, store.ErrConflict)
	eq(t, "conflict returns", got, acc)
	_, err = s.UpdateReservation(ctx, store.ReservationUpdate{ID: r1.ID + 1000, Status: store.ReservationCancelled})
	wantErr(t, err, store.ErrNotFound)
	for _, bad := range []store.ReservationUpdate{
		{ID: 0, Status: store.ReservationCancelled},
		{ID: r1.ID, Status: "Gone"},
		{ID: r1.ID, Status: store.ReservationCancelled, From: []store.ReservationStatus{"Gone"}},
	} {
		_, err := s.UpdateReservation(ctx, bad)
		wantErr(t, err, store.ErrInvalid)
	}

	// Used, with its transaction; the transaction is kept by a later
	// update that names none.
	used := must(s.UpdateReservation(ctx, store.ReservationUpdate{ID: r1.ID, Status: store.ReservationUsed,
		TransactionID: ptr(int64(42)), Reason: "used by transaction 42", At: at(time.Minute)}))(t)
	if used.Status != store.ReservationUsed || used.TransactionID == nil || *used.TransactionID != 42 || used.Reason != "used by transaction 42" {
		t.Fatalf("used: %+v", used)
	}
	again := must(s.UpdateReservation(ctx, store.ReservationUpdate{ID: r1.ID, Status: store.ReservationUsed, Reason: "x", At: at(2 * time.Minute)}))(t)
	if again.TransactionID == nil || *again.TransactionID != 42 || again.Reason != "x" {
		t.Fatalf("used again: %+v", again)
	}

	// The connector is free again; making the old one active again while
	// the new one holds it is a conflict.
	r3 := must(s.CreateReservation(ctx, reservation("CP1", 1, "CAROL", 3*time.Minute, 90*time.Minute)))(t)
	got, err = s.UpdateReservation(ctx, store.ReservationUpdate{ID: r1.ID, Status: store.ReservationAccepted, At: at(4 * time.Minute)})
	wantErr(t, err, store.ErrConflict)
	if got.Status != store.ReservationUsed {
		t.Errorf("after the refused reactivation: %+v", got)
	}

	// An active reservation whose expiry has passed no longer holds its
	// connector: creating another there marks it Expired.
	r4 := must(s.CreateReservation(ctx, reservation("CP1", 1, "DAVE", 2*time.Hour, 3*time.Hour)))(t)
	old := must(s.GetReservation(ctx, r3.ID))(t)
	if old.Status != store.ReservationExpired || old.Reason == "" || !old.UpdatedAt.Equal(at(2*time.Hour)) {
		t.Errorf("the expired reservation: %+v", old)
	}

	// Lists: newest first, filtered, paged.
	all := must(s.ListReservations(ctx, store.ReservationFilter{Now: at(10 * time.Minute)}))(t)
	eq(t, "all", resIDs(all), []int{r4.ID, r3.ID, r2.ID, r0.ID, now.ID, r1.ID})
	eq(t, "CP1", resIDs(must(s.ListReservations(ctx, store.ReservationFilter{ChargerID: "CP1", Now: at(10 * time.Minute)}))(t)),
		[]int{r4.ID, r3.ID, r0.ID, r1.ID})
	eq(t, "BOB", resIDs(must(s.ListReservations(ctx, store.ReservationFilter{IDTag: "BOB"}))(t)), []int{r2.ID, r0.ID})
	eq(t, "page 1", resIDs(must(s.ListReservations(ctx, store.ReservationFilter{Limit: 2}))(t)), []int{r4.ID, r3.ID})
	eq(t, "page 2", resIDs(must(s.ListReservations(ctx, store.ReservationFilter{Limit: 2, Before: r3.ID}))(t)), []int{r2.ID, r0.ID})
	eq(t, "used", resIDs(must(s.ListReservations(ctx, store.ReservationFilter{Status: store.ReservationUsed}))(t)), []int{r1.ID})

	// Status and Active are judged as of Now. At +90 min r0 (Pending
	// until +1h) has expired unswept, r2 (until +2h) and now (an hour
	// from the real now, far later) are active, r4 is.
	t90 := at(90 * time.Minute)
	active, inactive := true, false
	eq(t, "active at +90m", resIDs(must(s.ListReservations(ctx, store.ReservationFilter{Active: &active, Now: t90}))(t)),
		[]int{r4.ID, r2.ID, now.ID})
	eq(t, "inactive at +90m", resIDs(must(s.ListReservations(ctx, store.ReservationFilter{Active: &inactive, Now: t90}))(t)),
		[]int{r3.ID, r0.ID, r1.ID})
	eq(t, "expired at +90m", resIDs(must(s.ListReservations(ctx, store.ReservationFilter{Status: store.ReservationExpired, Now: t90}))(t)),
		[]int{r3.ID, r0.ID})
	eq(t, "pending at +90m", resIDs(must(s.ListReservations(ctx, store.ReservationFilter{Status: store.ReservationPending, Now: t90}))(t)),
		[]int{r4.ID, r2.ID, now.ID})
	eq(t, "pending at +30m", resIDs(must(s.ListReservations(ctx, store.ReservationFilter{Status: store.ReservationPending, Now: at(30 * time.Minute)}))(t)),
		[]int{r4.ID, r2.ID, r0.ID, now.ID})
	eq(t, "CP2 active at +90m", resIDs(must(s.ListReservations(ctx, store.ReservationFilter{ChargerID: "CP2", Active: &active, Now: t90}))(t)),
		[]int{r2.ID})
	if got := must(s.GetReservation(ctx, r0.ID))(t); got.StatusAt(t90) != store.ReservationExpired || got.StatusAt(at(0)) != store.ReservationPending {
		t.Errorf("StatusAt of %+v", got)
	}

	// The sweep.
	next := must(s.NextReservationExpiry(ctx))(t)
	if next == nil || !next.Equal(at(time.Hour)) {
		t.Errorf("next expiry %v, want %v", next, at(time.Hour))
	}
	if got := must(s.ExpireReservations(ctx, at(59*time.Minute), "", 0))(t); len(got) != 0 {
		t.Errorf("expired before any was due: %v", resIDs(got))
	}
	eq(t, "expired of CP2 at +3h", resIDs(must(s.ExpireReservations(ctx, at(3*time.Hour), "CP2", 0))(t)), []int{r2.ID})
	swept := must(s.ExpireReservations(ctx, at(3*time.Hour), "", 0))(t)
	eq(t, "swept at +3h", resIDs(swept), []int{r0.ID, r4.ID})
	for _, r := range swept {
		if r.Status != store.ReservationExpired || !r.UpdatedAt.Equal(at(3*time.Hour)) || r.Reason == "" {
			t.Errorf("swept %+v", r)
		}
	}
	if got := must(s.ExpireReservations(ctx, at(3*time.Hour), "", 0))(t); len(got) != 0 {
		t.Errorf("swept twice: %v", resIDs(got))
	}
	next = must(s.NextReservationExpiry(ctx))(t)
	if next == nil || !next.Equal(now.ExpiresAt.Truncate(time.Microsecond)) {
		t.Errorf("next expiry %v, want %v", next, now.ExpiresAt)
	}
	must(s.UpdateReservation(ctx, store.ReservationUpdate{ID: now.ID, Status: store.ReservationCancelled}))(t)
	if next := must(s.NextReservationExpiry(ctx))(t); next != nil {
		t.Errorf("next expiry %v with nothing active", next)
	}
}

// testReservationSweepLimit: a sweep takes at most limit reservations,
// earliest expiry first, and the rest on the next one.
func testReservationSweepLimit(t *testing.T, s store.Store) {
	ctx := context.Background()
	var ids []int
	for i := range 5 {
		r := must(s.CreateReservation(ctx, reservation(fmt.Sprintf("CP%d", i), 1, "T", 0, time.Duration(5-i)*time.Minute)))(t)
		ids = append(ids, r.ID)
	}
	eq(t, "first", resIDs(must(s.ExpireReservations(ctx, at(time.Hour), "", 2))(t)), []int{ids[4], ids[3]})
	eq(t, "second", resIDs(must(s.ExpireReservations(ctx, at(time.Hour), "", 2))(t)), []int{ids[2], ids[1]})
	eq(t, "third", resIDs(must(s.ExpireReservations(ctx, at(time.Hour), "", 2))(t)), []int{ids[0]})
}

// testReservationRaces: of creates racing for one connector exactly one
// wins, and of sweeps racing each expired reservation is returned once.
func testReservationRaces(t *testing.T, s store.Store) {
	ctx := context.Background()
	const n = 8
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = s.CreateReservation(ctx, reservation("RACE", 1, fmt.Sprintf("T%d", i), 0, time.Hour))
		}()
	}
	wg.Wait()
	won := 0
	for _, err := range errs {
		switch {
		case err == nil:
			won++
		case !errors.Is(err, store.ErrConflict):
			t.Fatalf("racing create: %v", err)
		}
	}
	if won != 1 {
		t.Fatalf("%d creates won the connector, want 1", won)
	}

	for i := range 40 {
		must(s.CreateReservation(ctx, reservation(fmt.Sprintf("SW%02d", i), 1, "T", 0, time.Minute)))(t)
	}
	seen := make(map[int]int)
	var mu sync.Mutex
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				got, err := s.ExpireReservations(ctx, at(2*time.Minute), "", 7)
				if err != nil {
					t.Error(err)
					return
				}
				if len(got) == 0 {
					return
				}
				mu.Lock()
				for _, r := range got {
					seen[r.ID]++
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if len(seen) != 40 {
		t.Errorf("%d reservations expired, want 40", len(seen))
	}
	for id, k := range seen {
		if k != 1 {
			t.Errorf("reservation %d returned by %d sweeps", id, k)
		}
	}
}
