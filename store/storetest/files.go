package storetest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/wattson-csms/wattson/store"
)

// putContent writes content as a file's chunks and seals it.
func putContent(t *testing.T, s store.Store, id int64, content []byte) store.File {
	t.Helper()
	ctx := context.Background()
	for seq := 0; seq*store.FileChunkSize < len(content); seq++ {
		end := min((seq+1)*store.FileChunkSize, len(content))
		noErr(t, s.PutFileChunk(ctx, id, seq, content[seq*store.FileChunkSize:end]))
	}
	sum := sha256.Sum256(content)
	return must(s.CompleteFile(ctx, id, int64(len(content)), sum[:]))(t)
}

// readContent reads a file back chunk by chunk.
func readContent(t *testing.T, s store.Store, f store.File) []byte {
	t.Helper()
	var out []byte
	for seq := 0; int64(len(out)) < f.Size; seq++ {
		out = append(out, must(s.FileChunk(context.Background(), f.ID, seq))(t)...)
	}
	return out
}

func testFiles(t *testing.T, s store.Store) {
	ctx := context.Background()
	// Two and a half chunks, not a repeating pattern, so a chunk in the
	// wrong place shows.
	content := make([]byte, store.FileChunkSize*5/2)
	for i := range content {
		content[i] = byte(i*7 + i/store.FileChunkSize)
	}
	f := must(s.CreateFile(ctx, store.File{Kind: store.FileFirmware, Name: "fw-2.1.bin", ContentType: "application/octet-stream",
		Version: "2.1", Note: "fixes", CreatedBy: "alice", CreatedAt: at(0)}))(t)
	if f.ID == 0 || f.Complete || f.Size != 0 || f.SHA256 != nil {
		t.Fatalf("new file: %+v", f)
	}
	// An incomplete file is not listed.
	eq(t, "files while uploading", len(must(s.ListFiles(ctx, store.FileFilter{}))(t)), 0)
	done := putContent(t, s, f.ID, content)
	sum := sha256.Sum256(content)
	want := f
	want.Size, want.SHA256, want.Complete = int64(len(content)), sum[:], true
	eq(t, "completed file", done, want)
	eq(t, "get", must(s.GetFile(ctx, f.ID))(t), want)
	if got := readContent(t, s, done); !bytes.Equal(got, content) {
		t.Fatalf("content read back differs (%d bytes, want %d)", len(got), len(content))
	}
	if _, err := s.FileChunk(ctx, f.ID, 3); err == nil {
		t.Fatal("a chunk past the end was found")
	} else {
		wantErr(t, err, store.ErrNotFound)
	}
	// A sealed file's content never changes.
	wantErr(t, s.PutFileChunk(ctx, f.ID, 0, []byte("x")), store.ErrNotFound)
	_, err := s.CompleteFile(ctx, f.ID, 1, sum[:])
	wantErr(t, err, store.ErrConflict)

	// A wrong checksum, a missing chunk or a short middle chunk do not
	// seal a file.
	bad := must(s.CreateFile(ctx, store.File{Kind: store.FileFirmware, Name: "bad.bin"}))(t)
	noErr(t, s.PutFileChunk(ctx, bad.ID, 0, content[:store.FileChunkSize]))
	noErr(t, s.PutFileChunk(ctx, bad.ID, 2, []byte("tail")))
	wrong := sha256.Sum256([]byte("other"))
	_, err = s.CompleteFile(ctx, bad.ID, store.FileChunkSize+4, wrong[:])
	wantErr(t, err, store.ErrInvalid) // chunk 1 is missing
	noErr(t, s.PutFileChunk(ctx, bad.ID, 1, []byte("short")))
	_, err = s.CompleteFile(ctx, bad.ID, store.FileChunkSize+9, wrong[:])
	wantErr(t, err, store.ErrInvalid) // chunk 1 is short
	_, err = s.CompleteFile(ctx, bad.ID, 3, wrong[:])
	wantErr(t, err, store.ErrInvalid)
	wantErr(t, s.PutFileChunk(ctx, bad.ID, 0, make([]byte, store.FileChunkSize+1)), store.ErrInvalid)
	wantErr(t, s.PutFileChunk(ctx, 999999, 0, []byte("x")), store.ErrNotFound)

	// An empty file is a file.
	empty := must(s.CreateFile(ctx, store.File{Kind: store.FileDiagnostics, Name: "empty.txt", ChargerID: "CP1"}))(t)
	e := putContent(t, s, empty.ID, nil)
	eq(t, "empty size", e.Size, int64(0))

	// Lists: complete files only, newest first, by kind and charger.
	eq(t, "all files", ids(must(s.ListFiles(ctx, store.FileFilter{}))(t), fileID), []string{fmt.Sprint(empty.ID), fmt.Sprint(f.ID)})
	eq(t, "firmware", ids(must(s.ListFiles(ctx, store.FileFilter{Kind: store.FileFirmware}))(t), fileID), []string{fmt.Sprint(f.ID)})
	eq(t, "of CP1", ids(must(s.ListFiles(ctx, store.FileFilter{ChargerID: "CP1"}))(t), fileID), []string{fmt.Sprint(empty.ID)})
	eq(t, "before", ids(must(s.ListFiles(ctx, store.FileFilter{Before: empty.ID}))(t), fileID), []string{fmt.Sprint(f.ID)})

	// Interrupted uploads are cleaned up; complete files stay.
	n := must(s.DeleteIncompleteFiles(ctx, time.Now().Add(time.Minute)))(t)
	eq(t, "incomplete files deleted", n, int64(1))
	_, err = s.GetFile(ctx, bad.ID)
	wantErr(t, err, store.ErrNotFound)
	_, err = s.GetFile(ctx, f.ID)
	noErr(t, err)

	// Invalid files.
	for _, bad := range []store.File{
		{Kind: "video", Name: "a"},
		{Kind: store.FileFirmware, Name: ""},
		{Kind: store.FileFirmware, Name: "../etc/passwd"},
		{Kind: store.FileDiagnostics, Name: "diag.txt"}, // no charger
	} {
		_, err := s.CreateFile(ctx, bad)
		wantErr(t, err, store.ErrInvalid)
	}

	noErr(t, s.DeleteFile(ctx, empty.ID))
	wantErr(t, s.DeleteFile(ctx, empty.ID), store.ErrNotFound)
	_, err = s.FileChunk(ctx, empty.ID, 0)
	wantErr(t, err, store.ErrNotFound)
}

func fileID(f store.File) string { return fmt.Sprint(f.ID) }

func testFileLinks(t *testing.T, s store.Store) {
	ctx := context.Background()
	f := must(s.CreateFile(ctx, store.File{Kind: store.FileFirmware, Name: "fw.bin"}))(t)
	putContent(t, s, f.ID, []byte("firmware"))
	d := must(s.CreateDiagnosticsRequest(ctx, store.DiagnosticsRequest{ChargerID: "CP1", Status: store.DiagRequested}))(t)
	h1, h2, h3 := sha256.Sum256([]byte("a")), sha256.Sum256([]byte("b")), sha256.Sum256([]byte("c"))
	down := store.FileLink{Hash: h1[:], FileID: f.ID, ChargerID: "CP1", CreatedAt: at(0), ExpiresAt: at(time.Hour)}
	up := store.FileLink{Hash: h2[:], DiagnosticsID: d.ID, ChargerID: "CP1", CreatedAt: at(0), ExpiresAt: at(2 * time.Hour)}
	noErr(t, s.CreateFileLink(ctx, down))
	noErr(t, s.CreateFileLink(ctx, up))
	wantErr(t, s.CreateFileLink(ctx, down), store.ErrConflict)
	wantErr(t, s.CreateFileLink(ctx, store.FileLink{Hash: h3[:], FileID: 999999, ChargerID: "CP1", ExpiresAt: at(time.Hour)}), store.ErrNotFound)
	wantErr(t, s.CreateFileLink(ctx, store.FileLink{Hash: h3[:], FileID: f.ID, DiagnosticsID: d.ID, ChargerID: "CP1", ExpiresAt: at(time.Hour)}), store.ErrInvalid)
	wantErr(t, s.CreateFileLink(ctx, store.FileLink{Hash: []byte("short"), FileID: f.ID, ChargerID: "CP1", ExpiresAt: at(time.Hour)}), store.ErrInvalid)
	wantErr(t, s.CreateFileLink(ctx, store.FileLink{Hash: h3[:], FileID: f.ID, ChargerID: "CP1"}), store.ErrInvalid)

	eq(t, "download link", must(s.FileLinkByHash(ctx, h1[:]))(t), down)
	eq(t, "upload link", must(s.FileLinkByHash(ctx, h2[:]))(t), up)
	_, err := s.FileLinkByHash(ctx, h3[:])
	wantErr(t, err, store.ErrNotFound)

	noErr(t, s.UseFileLink(ctx, h1[:], at(time.Minute)))
	noErr(t, s.UseFileLink(ctx, h1[:], at(2*time.Minute)))
	used := must(s.FileLinkByHash(ctx, h1[:]))(t)
	eq(t, "uses", used.Uses, 2)
	eq(t, "last used", used.LastUsedAt, ptr(at(2*time.Minute)))
	wantErr(t, s.UseFileLink(ctx, h3[:], at(0)), store.ErrNotFound)

	eq(t, "expired", must(s.DeleteExpiredFileLinks(ctx, at(90*time.Minute)))(t), int64(1))
	_, err = s.FileLinkByHash(ctx, h1[:])
	wantErr(t, err, store.ErrNotFound)
	// Deleting a file deletes its download links, not upload links.
	noErr(t, s.CreateFileLink(ctx, store.FileLink{Hash: h3[:], FileID: f.ID, ChargerID: "CP2", ExpiresAt: at(time.Hour)}))
	noErr(t, s.DeleteFile(ctx, f.ID))
	_, err = s.FileLinkByHash(ctx, h3[:])
	wantErr(t, err, store.ErrNotFound)
	_, err = s.FileLinkByHash(ctx, h2[:])
	noErr(t, err)
}

func testDiagnosticsRequests(t *testing.T, s store.Store) {
	ctx := context.Background()
	d := store.DiagnosticsRequest{ChargerID: "CP1", StartTime: ptr(at(-time.Hour)), StopTime: ptr(at(0)), Retries: ptr(3),
		RetryInterval: ptr(60), Status: store.DiagRequested, RequestedBy: "bob", RequestedAt: at(0)}
	got := must(s.CreateDiagnosticsRequest(ctx, d))(t)
	if got.ID == 0 {
		t.Fatal("no id")
	}
	want := d
	want.ID, want.UpdatedAt = got.ID, at(0)
	eq(t, "created", got, want)
	// Without the optional fields.
	bare := must(s.CreateDiagnosticsRequest(ctx, store.DiagnosticsRequest{ChargerID: "CP1", Status: store.DiagRequested, RequestedAt: at(time.Minute)}))(t)
	eq(t, "bare", bare.StartTime == nil && bare.StopTime == nil && bare.Retries == nil && bare.RetryInterval == nil && bare.FileID == nil, true)
	other := must(s.CreateDiagnosticsRequest(ctx, store.DiagnosticsRequest{ChargerID: "CP2", Status: store.DiagRequested}))(t)

	f := must(s.CreateFile(ctx, store.File{Kind: store.FileDiagnostics, Name: "diag.txt", ChargerID: "CP1"}))(t)
	putContent(t, s, f.ID, []byte("log"))
	want.Status, want.FileName, want.FileID, want.Detail, want.UpdatedAt = store.DiagReceived, "diag.txt", &f.ID, "3 bytes", at(time.Hour)
	up := want
	eq(t, "updated", must(s.UpdateDiagnosticsRequest(ctx, up))(t), want)
	eq(t, "get", must(s.GetDiagnosticsRequest(ctx, got.ID))(t), want)
	_, err := s.GetDiagnosticsRequest(ctx, 999999)
	wantErr(t, err, store.ErrNotFound)
	_, err = s.UpdateDiagnosticsRequest(ctx, store.DiagnosticsRequest{ID: 999999, Status: store.DiagFailed})
	wantErr(t, err, store.ErrNotFound)
	_, err = s.UpdateDiagnosticsRequest(ctx, store.DiagnosticsRequest{ID: got.ID, Status: "Bogus"})
	wantErr(t, err, store.ErrInvalid)
	_, err = s.CreateDiagnosticsRequest(ctx, store.DiagnosticsRequest{Status: store.DiagRequested})
	wantErr(t, err, store.ErrInvalid)

	diagID := func(d store.DiagnosticsRequest) string { return fmt.Sprint(d.ID) }
	eq(t, "all", ids(must(s.ListDiagnosticsRequests(ctx, "", 0, 0))(t), diagID), []string{fmt.Sprint(other.ID), fmt.Sprint(bare.ID), fmt.Sprint(got.ID)})
	eq(t, "of CP1", ids(must(s.ListDiagnosticsRequests(ctx, "CP1", 0, 0))(t), diagID), []string{fmt.Sprint(bare.ID), fmt.Sprint(got.ID)})
	eq(t, "page", ids(must(s.ListDiagnosticsRequests(ctx, "CP1", bare.ID, 1))(t), diagID), []string{fmt.Sprint(got.ID)})

	// The request outlives its file.
	noErr(t, s.DeleteFile(ctx, f.ID))
	eq(t, "file gone", must(s.GetDiagnosticsRequest(ctx, got.ID))(t).FileID, (*int64)(nil))
}

func firmwareFile(t *testing.T, s store.Store) store.File {
	t.Helper()
	f := must(s.CreateFile(context.Background(), store.File{Kind: store.FileFirmware, Name: "fw.bin", Version: "2.0"}))(t)
	return putContent(t, s, f.ID, []byte("new firmware"))
}

func testRollouts(t *testing.T, s store.Store) {
	ctx := context.Background()
	f := firmwareFile(t, s)
	r := store.Rollout{FileID: f.ID, Status: store.RolloutRunning, MaxConcurrent: 2, MaxFailurePercent: 20, MinFinished: 5,
		Retries: ptr(3), RetryInterval: ptr(30), RetrieveDate: ptr(at(time.Hour)), Timeout: time.Hour, CreatedBy: "alice"}
	got := must(s.CreateRollout(ctx, r, []string{"CP3", "CP1", "CP2"}))(t)
	recent(t, "created at", got.CreatedAt)
	want := r
	want.ID, want.CreatedAt, want.UpdatedAt = got.ID, got.CreatedAt, got.CreatedAt
	want.Counts = map[store.TargetStatus]int{store.TargetQueued: 3}
	eq(t, "created", got, want)
	eq(t, "get", must(s.GetRollout(ctx, got.ID))(t), want)

	// Targets keep the order given.
	targets := must(s.ListRolloutTargets(ctx, store.TargetFilter{RolloutID: got.ID}))(t)
	eq(t, "targets", ids(targets, targetCharger), []string{"CP3", "CP1", "CP2"})
	eq(t, "first target", targets[0].Status, store.TargetQueued)
	eq(t, "after", ids(must(s.ListRolloutTargets(ctx, store.TargetFilter{RolloutID: got.ID, After: targets[0].Seq}))(t), targetCharger), []string{"CP1", "CP2"})
	eq(t, "limit", ids(must(s.ListRolloutTargets(ctx, store.TargetFilter{RolloutID: got.ID, Limit: 1}))(t), targetCharger), []string{"CP3"})

	// A charger in a live roll-out cannot join another.
	_, err := s.CreateRollout(ctx, r, []string{"CP9", "CP1"})
	wantErr(t, err, store.ErrConflict)
	// The file must be complete firmware.
	diag := must(s.CreateFile(ctx, store.File{Kind: store.FileDiagnostics, Name: "d.txt", ChargerID: "CP1"}))(t)
	putContent(t, s, diag.ID, []byte("x"))
	bad := r
	bad.FileID = diag.ID
	_, err = s.CreateRollout(ctx, bad, []string{"CP9"})
	wantErr(t, err, store.ErrNotFound)
	bad.FileID = 999999
	_, err = s.CreateRollout(ctx, bad, []string{"CP9"})
	wantErr(t, err, store.ErrNotFound)
	for name, b := range map[string]func(*store.Rollout){
		"no concurrency": func(r *store.Rollout) { r.MaxConcurrent = 0 },
		"percent":        func(r *store.Rollout) { r.MaxFailurePercent = 101 },
		"no timeout":     func(r *store.Rollout) { r.Timeout = 0 },
		"status":         func(r *store.Rollout) { r.Status = "Bogus" },
	} {
		bad := r
		b(&bad)
		if _, err := s.CreateRollout(ctx, bad, []string{"CP9"}); err == nil {
			t.Errorf("%s: created", name)
		} else {
			wantErr(t, err, store.ErrInvalid)
		}
	}
	_, err = s.CreateRollout(ctx, r, []string{"CP9", "CP9"})
	wantErr(t, err, store.ErrInvalid)
	_, err = s.CreateRollout(ctx, r, nil)
	wantErr(t, err, store.ErrInvalid)

	// Targets move only from the states given.
	sent := at(time.Minute)
	ok := must(s.UpdateRolloutTarget(ctx, store.RolloutTarget{RolloutID: got.ID, ChargerID: "CP1", Status: store.TargetSent, SentAt: &sent, UpdatedAt: sent},
		[]store.TargetStatus{store.TargetQueued}))(t)
	eq(t, "sent", ok, true)
	ok = must(s.UpdateRolloutTarget(ctx, store.RolloutTarget{RolloutID: got.ID, ChargerID: "CP1", Status: store.TargetSent, SentAt: &sent},
		[]store.TargetStatus{store.TargetQueued}))(t)
	eq(t, "sent twice", ok, false)
	cur := must(s.CurrentTarget(ctx, "CP1"))(t)
	eq(t, "current target", cur, store.RolloutTarget{RolloutID: got.ID, ChargerID: "CP1", Seq: 2, Status: store.TargetSent, SentAt: &sent, UpdatedAt: sent})
	_, err = s.CurrentTarget(ctx, "CP3") // queued is not in flight
	wantErr(t, err, store.ErrNotFound)
	noErr(t, must1(s.UpdateRolloutTarget(ctx, store.RolloutTarget{RolloutID: got.ID, ChargerID: "CP1", Status: store.TargetInstalled, Detail: "2.0", SentAt: &sent},
		store.InFlightTargets)))
	_, err = s.CurrentTarget(ctx, "CP1")
	wantErr(t, err, store.ErrNotFound)
	_, err = s.UpdateRolloutTarget(ctx, store.RolloutTarget{RolloutID: got.ID, ChargerID: "CP1", Status: "Bogus"}, store.InFlightTargets)
	wantErr(t, err, store.ErrInvalid)

	eq(t, "in-flight filter", ids(must(s.ListRolloutTargets(ctx, store.TargetFilter{RolloutID: got.ID, Status: []store.TargetStatus{store.TargetInstalled, store.TargetFailed}}))(t), targetCharger),
		[]string{"CP1"})
	eq(t, "counts", must(s.GetRollout(ctx, got.ID))(t).Counts, map[store.TargetStatus]int{store.TargetQueued: 2, store.TargetInstalled: 1})

	// Status changes only from the states given; cancelling cancels what
	// is queued, and the chargers are free for another roll-out.
	eq(t, "pause", must(s.SetRolloutStatus(ctx, got.ID, []store.RolloutStatus{store.RolloutRunning}, store.RolloutPaused, "", at(2*time.Minute)))(t), true)
	eq(t, "pause again", must(s.SetRolloutStatus(ctx, got.ID, []store.RolloutStatus{store.RolloutRunning}, store.RolloutPaused, "", at(2*time.Minute)))(t), false)
	eq(t, "active", ids(must(s.ActiveRollouts(ctx))(t), rolloutID), []string{fmt.Sprint(got.ID)})
	// Resuming takes the counts so far as the failure rate's baseline.
	noErr(t, must1(s.UpdateRolloutTarget(ctx, store.RolloutTarget{RolloutID: got.ID, ChargerID: "CP2", Status: store.TargetFailed, Detail: "download failed"},
		[]store.TargetStatus{store.TargetQueued})))
	eq(t, "resume", must(s.SetRolloutStatus(ctx, got.ID, []store.RolloutStatus{store.RolloutPaused}, store.RolloutRunning, "", at(2*time.Minute)))(t), true)
	resumed := must(s.GetRollout(ctx, got.ID))(t)
	eq(t, "baseline", [2]int{resumed.BaseFinished, resumed.BaseFailed}, [2]int{2, 1})
	eq(t, "pause once more", must(s.SetRolloutStatus(ctx, got.ID, []store.RolloutStatus{store.RolloutRunning}, store.RolloutPaused, "", at(2*time.Minute)))(t), true)
	eq(t, "cancel", must(s.SetRolloutStatus(ctx, got.ID, []store.RolloutStatus{store.RolloutPaused}, store.RolloutCancelled, "by alice", at(3*time.Minute)))(t), true)
	done := must(s.GetRollout(ctx, got.ID))(t)
	eq(t, "cancelled", done.Status, store.RolloutCancelled)
	eq(t, "detail", done.Detail, "by alice")
	eq(t, "finished at", done.FinishedAt, ptr(at(3*time.Minute)))
	eq(t, "counts after cancel", done.Counts, map[store.TargetStatus]int{store.TargetCancelled: 1, store.TargetFailed: 1, store.TargetInstalled: 1})
	eq(t, "no active", len(must(s.ActiveRollouts(ctx))(t)), 0)
	_, err = s.SetRolloutStatus(ctx, 999999, []store.RolloutStatus{store.RolloutRunning}, store.RolloutPaused, "", at(0))
	wantErr(t, err, store.ErrNotFound)

	second := must(s.CreateRollout(ctx, r, []string{"CP1", "CP2"}))(t)
	eq(t, "list", ids(must(s.ListRollouts(ctx, 0, 0))(t), rolloutID), []string{fmt.Sprint(second.ID), fmt.Sprint(got.ID)})
	eq(t, "list before", ids(must(s.ListRollouts(ctx, second.ID, 0))(t), rolloutID), []string{fmt.Sprint(got.ID)})

	// A cancelled roll-out whose charger is still updating stays active
	// until it reports, and the charger cannot join another roll-out.
	noErr(t, must1(s.UpdateRolloutTarget(ctx, store.RolloutTarget{RolloutID: second.ID, ChargerID: "CP2", Status: store.TargetDownloading, SentAt: &sent},
		[]store.TargetStatus{store.TargetQueued})))
	eq(t, "cancel second", must(s.SetRolloutStatus(ctx, second.ID, []store.RolloutStatus{store.RolloutRunning}, store.RolloutCancelled, "", at(4*time.Minute)))(t), true)
	eq(t, "active while updating", ids(must(s.ActiveRollouts(ctx))(t), rolloutID), []string{fmt.Sprint(second.ID)})
	eq(t, "still updating", must(s.CurrentTarget(ctx, "CP2"))(t).RolloutID, second.ID)
	_, err = s.CreateRollout(ctx, r, []string{"CP2"})
	wantErr(t, err, store.ErrConflict)
	must(s.CreateRollout(ctx, r, []string{"CP1"}))(t) // its target was cancelled
	noErr(t, must1(s.UpdateRolloutTarget(ctx, store.RolloutTarget{RolloutID: second.ID, ChargerID: "CP2", Status: store.TargetInstalled, SentAt: &sent},
		store.InFlightTargets)))
	eq(t, "active after it reported", len(must(s.ActiveRollouts(ctx))(t)), 1) // the third one

	// A firmware file in use stays.
	wantErr(t, s.DeleteFile(ctx, f.ID), store.ErrConflict)
}

func must1(_ bool, err error) error { return err }

func targetCharger(t store.RolloutTarget) string { return t.ChargerID }
func rolloutID(r store.Rollout) string           { return fmt.Sprint(r.ID) }

// testRolloutRace: roll-outs created at once never share a charger.
func testRolloutRace(t *testing.T, s store.Store) {
	ctx := context.Background()
	f := firmwareFile(t, s)
	r := store.Rollout{FileID: f.ID, Status: store.RolloutRunning, MaxConcurrent: 1, Timeout: time.Hour}
	const n = 8
	var wg sync.WaitGroup
	var mu sync.Mutex
	won := 0
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Each takes a charger of its own and one shared one, in
			// different orders.
			chargers := []string{fmt.Sprintf("own-%d", i), "shared"}
			if i%2 == 1 {
				chargers[0], chargers[1] = chargers[1], chargers[0]
			}
			_, err := s.CreateRollout(ctx, r, chargers)
			switch {
			case err == nil:
				mu.Lock()
				won++
				mu.Unlock()
			case !isConflict(err):
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	eq(t, "roll-outs created with the shared charger", won, 1)
}

func isConflict(err error) bool { return errors.Is(err, store.ErrConflict) }
