package rules

import (
	"bytes"
	"crypto/sha256"
	"strings"

	"github.com/wattson-csms/wattson/store"
)

// File checks a new file.
func File(f store.File) error {
	switch f.Kind {
	case store.FileFirmware:
	case store.FileDiagnostics:
		if err := ChargerID(f.ChargerID); err != nil {
			return invalid("a diagnostics file needs the charger it came from")
		}
	default:
		return invalid("file kind %q", f.Kind)
	}
	if f.Name == "" || strings.ContainsAny(f.Name, "/\\\x00") || f.Name == "." || f.Name == ".." {
		return invalid("file name %q: want a plain file name", f.Name)
	}
	return nil
}

// FileChunk checks a chunk about to be written.
func FileChunk(seq int, data []byte) error {
	if seq < 0 {
		return invalid("chunk %d", seq)
	}
	if len(data) == 0 || len(data) > store.FileChunkSize {
		return invalid("chunk of %d bytes; 1 to %d", len(data), store.FileChunkSize)
	}
	return nil
}

// ChunkLayout checks that the chunks a file has (their sizes in order,
// from seq 0) make up size bytes: every chunk but the last full.
func ChunkLayout(sizes []int, size int64) error {
	var total int64
	for i, n := range sizes {
		if i < len(sizes)-1 && n != store.FileChunkSize {
			return invalid("chunk %d has %d bytes; all but the last must have %d", i, n, store.FileChunkSize)
		}
		total += int64(n)
	}
	if total != size {
		return invalid("the chunks hold %d bytes, not %d", total, size)
	}
	return nil
}

// Checksum checks that sum is a SHA-256.
func Checksum(sum []byte) error {
	if len(sum) != sha256.Size {
		return invalid("checksum of %d bytes; want SHA-256", len(sum))
	}
	return nil
}

// EmptySHA256 is the checksum of an empty file.
var EmptySHA256 = func() []byte { s := sha256.Sum256(nil); return s[:] }()

// SameSum reports whether two checksums are equal.
func SameSum(a, b []byte) bool { return bytes.Equal(a, b) }

// FileLink checks a new link.
func FileLink(l store.FileLink) error {
	if len(l.Hash) != sha256.Size {
		return invalid("link hash of %d bytes", len(l.Hash))
	}
	if (l.FileID == 0) == (l.DiagnosticsID == 0) {
		return invalid("a link is either a download (file) or an upload (diagnostics request)")
	}
	if err := ChargerID(l.ChargerID); err != nil {
		return err
	}
	if l.ExpiresAt.IsZero() {
		return invalid("link without expiry")
	}
	return nil
}

// DiagnosticsStatus checks a diagnostics request status.
func DiagnosticsStatus(s store.DiagnosticsStatus) error {
	switch s {
	case store.DiagRequested, store.DiagAccepted, store.DiagNoFile, store.DiagUploading, store.DiagUploaded,
		store.DiagUploadFailed, store.DiagReceived, store.DiagFailed:
		return nil
	}
	return invalid("diagnostics status %q", s)
}

// Rollout checks a new roll-out and its chargers.
func Rollout(r store.Rollout, chargers []string) error {
	if r.FileID <= 0 {
		return invalid("a roll-out needs a firmware file")
	}
	if r.MaxConcurrent < 1 {
		return invalid("max concurrent %d; at least 1", r.MaxConcurrent)
	}
	if r.MaxFailurePercent < 0 || r.MaxFailurePercent > 100 {
		return invalid("max failure percent %v; 0 to 100", r.MaxFailurePercent)
	}
	if r.MinFinished < 0 {
		return invalid("min finished %d", r.MinFinished)
	}
	if r.Timeout <= 0 {
		return invalid("a roll-out needs a timeout")
	}
	if len(chargers) == 0 {
		return invalid("a roll-out needs at least one charger")
	}
	seen := make(map[string]bool, len(chargers))
	for _, id := range chargers {
		if err := ChargerID(id); err != nil {
			return err
		}
		if seen[id] {
			return invalid("charger %q is named twice", id)
		}
		seen[id] = true
	}
	return RolloutStatus(r.Status)
}

// RolloutStatus checks a roll-out status.
func RolloutStatus(s store.RolloutStatus) error {
	switch s {
	case store.RolloutRunning, store.RolloutPaused, store.RolloutHalted, store.RolloutCompleted, store.RolloutCancelled:
		return nil
	}
	return invalid("roll-out status %q", s)
}

// TargetStatus checks a roll-out target status.
func TargetStatus(s store.TargetStatus) error {
	switch s {
	case store.TargetQueued, store.TargetSent, store.TargetDownloading, store.TargetDownloaded,
		store.TargetInstalling, store.TargetInstalled, store.TargetFailed, store.TargetCancelled:
		return nil
	}
	return invalid("roll-out target status %q", s)
}

// FinalRolloutStatuses and FinalTargetStatuses are the final states, for
// SQL.
var (
	FinalRolloutStatuses = []string{string(store.RolloutCompleted), string(store.RolloutCancelled)}
	FinalTargetStatuses  = []string{string(store.TargetInstalled), string(store.TargetFailed), string(store.TargetCancelled)}
)
