package store

import (
	"context"
	"time"
)

// FileKind says what a stored file is for.
type FileKind string

// File kinds.
const (
	// FileFirmware is a firmware image an operator uploaded, for chargers
	// to download with UpdateFirmware.
	FileFirmware FileKind = "firmware"
	// FileDiagnostics is a file a charger uploaded after GetDiagnostics.
	FileDiagnostics FileKind = "diagnostics"
)

// FileChunkSize is the size of every chunk of a stored file but its last:
// the content of a file is kept in the database in chunks of this size, so
// a file of any size is written and read a piece at a time, and a read
// from an offset (an HTTP Range request of a charger resuming a download)
// reads only the chunks it needs.
const FileChunkSize = 256 << 10

// File is a stored file. Its content is written with PutFileChunk and
// sealed with CompleteFile; only complete files are listed or served.
type File struct {
	ID          int64
	Kind        FileKind
	Name        string // a file name, no directories
	ContentType string
	Size        int64
	SHA256      []byte // nil until complete
	// ChargerID is the charger that uploaded a diagnostics file.
	ChargerID string
	// Version is the firmware version a firmware file installs, as the
	// operator labelled it (informational).
	Version   string
	Note      string
	CreatedBy string
	CreatedAt time.Time
	Complete  bool
}

// FileFilter selects complete files, newest first; Before (an id)
// continues. Zero fields do not filter.
type FileFilter struct {
	Kind      FileKind
	ChargerID string
	Before    int64
	Limit     int
}

// FileLink is an unguessable, expiring URL of Wattson's that a charger
// uses to download a file (FileID) or upload diagnostics (DiagnosticsID).
// Only the SHA-256 of its secret token is stored.
type FileLink struct {
	Hash          []byte
	FileID        int64 // a download; 0 for an upload link
	DiagnosticsID int64 // an upload for this diagnostics request; 0 for a download
	ChargerID     string
	CreatedAt     time.Time
	ExpiresAt     time.Time
	Uses          int
	LastUsedAt    *time.Time
}

// FileStore keeps files and the links chargers use for them; Store
// includes it.
type FileStore interface {
	// CreateFile creates an empty, incomplete file and returns it with its
	// id.
	CreateFile(ctx context.Context, f File) (File, error)
	// PutFileChunk stores chunk seq (0-based) of an incomplete file; every
	// chunk but the last must be FileChunkSize bytes. ErrNotFound if the
	// file does not exist or is complete.
	PutFileChunk(ctx context.Context, fileID int64, seq int, data []byte) error
	// CompleteFile seals a file with its size and checksum, which must
	// match the chunks written (ErrInvalid otherwise).
	CompleteFile(ctx context.Context, fileID int64, size int64, sha256 []byte) (File, error)
	GetFile(ctx context.Context, id int64) (File, error)
	ListFiles(ctx context.Context, f FileFilter) ([]File, error)
	// FileChunk returns chunk seq of a file; ErrNotFound past its end.
	FileChunk(ctx context.Context, fileID int64, seq int) ([]byte, error)
	// DeleteFile deletes a file, its content and its links. A firmware
	// file that a rollout uses cannot be deleted (ErrConflict).
	DeleteFile(ctx context.Context, id int64) error
	// DeleteIncompleteFiles deletes the files that were created before t
	// and never completed (interrupted uploads).
	DeleteIncompleteFiles(ctx context.Context, before time.Time) (int64, error)

	CreateFileLink(ctx context.Context, l FileLink) error
	// FileLinkByHash returns a link, expired or not: expiry is the
	// caller's decision.
	FileLinkByHash(ctx context.Context, hash []byte) (FileLink, error)
	// UseFileLink counts one use of a link at t.
	UseFileLink(ctx context.Context, hash []byte, at time.Time) error
	DeleteExpiredFileLinks(ctx context.Context, before time.Time) (int64, error)
}

// DiagnosticsStatus is where a GetDiagnostics request stands.
type DiagnosticsStatus string

// Diagnostics request states. Requested: GetDiagnostics sent; Accepted:
// the charger named the file it will upload; NoFile: it has nothing to
// upload; Uploading, Uploaded and UploadFailed: as its
// DiagnosticsStatusNotification said; Received: the file arrived at
// Wattson (final); Failed: the command failed (Detail says why).
const (
	DiagRequested    DiagnosticsStatus = "Requested"
	DiagAccepted     DiagnosticsStatus = "Accepted"
	DiagNoFile       DiagnosticsStatus = "NoFile"
	DiagUploading    DiagnosticsStatus = "Uploading"
	DiagUploaded     DiagnosticsStatus = "Uploaded"
	DiagUploadFailed DiagnosticsStatus = "UploadFailed"
	DiagReceived     DiagnosticsStatus = "Received"
	DiagFailed       DiagnosticsStatus = "Failed"
)

// DiagnosticsRequest is one GetDiagnostics sent to a charger and what
// came of it.
type DiagnosticsRequest struct {
	ID            int64
	ChargerID     string
	StartTime     *time.Time
	StopTime      *time.Time
	Retries       *int
	RetryInterval *int // seconds
	Status        DiagnosticsStatus
	FileName      string // the name the charger gave
	FileID        *int64 // the file received
	Detail        string
	RequestedBy   string
	RequestedAt   time.Time
	UpdatedAt     time.Time
}

// DiagnosticsStore keeps diagnostics requests; Store includes it.
type DiagnosticsStore interface {
	CreateDiagnosticsRequest(ctx context.Context, d DiagnosticsRequest) (DiagnosticsRequest, error)
	// UpdateDiagnosticsRequest sets Status, FileName, FileID and Detail.
	UpdateDiagnosticsRequest(ctx context.Context, d DiagnosticsRequest) (DiagnosticsRequest, error)
	GetDiagnosticsRequest(ctx context.Context, id int64) (DiagnosticsRequest, error)
	// ListDiagnosticsRequests lists requests newest first, of one charger
	// if chargerID is not empty; before (an id) continues.
	ListDiagnosticsRequests(ctx context.Context, chargerID string, before int64, limit int) ([]DiagnosticsRequest, error)
}
