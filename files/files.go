// Package files moves files between Wattson and chargers over HTTP: the
// firmware images chargers download after UpdateFirmware, and the
// diagnostics files they upload after GetDiagnostics. Chargers cannot sign
// in, so each transfer gets its own URL with an unguessable token that
// expires (a FileLink; only the token's hash is stored).
//
// Files are kept in the store in chunks (store.FileChunkSize): Save
// streams a body in, and a Reader serves a file, with HTTP Range requests
// for chargers that resume a download, reading only the chunks it needs.
package files

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/wattson-csms/wattson/store"
)

// Prefix is the path the file transfers are served under.
const Prefix = "/files/"

// Defaults of Config.
const (
	DefaultMaxUpload = 64 << 20
	DefaultLinkTTL   = 24 * time.Hour
)

// ErrNoBaseURL is returned when no URL that a charger can reach is known.
var ErrNoBaseURL = errors.New("files: no public URL for the charger: set -public-url")

// Config configures a Service.
type Config struct {
	Store  store.Store
	Logger *slog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// PublicURL is the base of the URLs chargers get (scheme, host, port
	// and an optional path prefix, e.g. https://csms.example.com). Empty:
	// BaseURL decides per charger.
	PublicURL string
	// BaseURL returns the base URL a charger reaches Wattson at (for
	// example from the address it connected to); used without PublicURL.
	BaseURL func(chargerID string) (string, bool)
	// MaxUpload bounds a diagnostics upload; default DefaultMaxUpload.
	MaxUpload int64
	// Uploaded is called when a diagnostics file has arrived and is
	// stored, with the request it was for.
	Uploaded func(ctx context.Context, diagnosticsID int64, f store.File)
}

// Service issues links and serves the transfers (ServeHTTP, under
// Prefix).
type Service struct {
	cfg Config
	st  store.Store
	log *slog.Logger
	now func() time.Time
}

// New returns a Service.
func New(cfg Config) (*Service, error) {
	if cfg.Store == nil {
		return nil, errors.New("files: a store is required")
	}
	if cfg.PublicURL != "" {
		u, err := ParsePublicURL(cfg.PublicURL)
		if err != nil {
			return nil, fmt.Errorf("files: %w", err)
		}
		cfg.PublicURL = u
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.MaxUpload <= 0 {
		cfg.MaxUpload = DefaultMaxUpload
	}
	return &Service{cfg: cfg, st: cfg.Store, log: cfg.Logger, now: func() time.Time { return cfg.Now().UTC() }}, nil
}

// ParsePublicURL checks a base URL for links and returns it without a
// trailing slash.
func ParsePublicURL(s string) (string, error) {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return "", fmt.Errorf("public URL %q: want http(s)://host[:port][/path]", s)
	}
	return strings.TrimSuffix(u.String(), "/"), nil
}

// base returns the URL base for a charger.
func (s *Service) base(chargerID string) (string, error) {
	if s.cfg.PublicURL != "" {
		return s.cfg.PublicURL, nil
	}
	if s.cfg.BaseURL != nil {
		if b, ok := s.cfg.BaseURL(chargerID); ok {
			return strings.TrimSuffix(b, "/"), nil
		}
	}
	return "", ErrNoBaseURL
}

// newToken returns a random token (128 bits, URL-safe) and its hash.
func newToken() (string, []byte) {
	var b [16]byte
	_, _ = rand.Read(b[:]) // never fails (crypto/rand)
	tok := base64.RawURLEncoding.EncodeToString(b[:])
	return tok, hashToken(tok)
}

func hashToken(tok string) []byte {
	h := sha256.Sum256([]byte(tok))
	return h[:]
}

// DownloadLink returns a URL at which one charger may download a file
// until ttl from now (DefaultLinkTTL if not positive). The URL ends in the
// file's name: some chargers decide by it what they downloaded.
func (s *Service) DownloadLink(ctx context.Context, f store.File, chargerID string, ttl time.Duration) (string, error) {
	base, err := s.base(chargerID)
	if err != nil {
		return "", err
	}
	if ttl <= 0 {
		ttl = DefaultLinkTTL
	}
	tok, hash := newToken()
	now := s.now()
	if err := s.st.CreateFileLink(ctx, store.FileLink{Hash: hash, FileID: f.ID, ChargerID: chargerID, CreatedAt: now, ExpiresAt: now.Add(ttl)}); err != nil {
		return "", err
	}
	return base + Prefix + tok + "/" + url.PathEscape(f.Name), nil
}

// UploadLink returns a URL to which one charger may upload the file of a
// diagnostics request until ttl from now. It ends with a slash: chargers
// that PUT append their file name, others POST a multipart form to it.
func (s *Service) UploadLink(ctx context.Context, diagnosticsID int64, chargerID string, ttl time.Duration) (string, error) {
	base, err := s.base(chargerID)
	if err != nil {
		return "", err
	}
	if ttl <= 0 {
		ttl = DefaultLinkTTL
	}
	tok, hash := newToken()
	now := s.now()
	if err := s.st.CreateFileLink(ctx, store.FileLink{Hash: hash, DiagnosticsID: diagnosticsID, ChargerID: chargerID, CreatedAt: now, ExpiresAt: now.Add(ttl)}); err != nil {
		return "", err
	}
	return base + Prefix + tok + "/", nil
}

// Run deletes expired links and the leftovers of interrupted uploads every
// interval (an hour if not positive) until ctx ends.
func (s *Service) Run(ctx context.Context, interval time.Duration) {
	if interval <= 0 {
		interval = time.Hour
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		s.Clean(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Clean deletes expired links, and files whose upload began more than a
// day ago and never completed.
func (s *Service) Clean(ctx context.Context) {
	now := s.now()
	if n, err := s.st.DeleteExpiredFileLinks(ctx, now); err != nil {
		s.log.Error("deleting expired file links", "err", err)
	} else if n > 0 {
		s.log.Info("deleted expired file links", "links", n)
	}
	if n, err := s.st.DeleteIncompleteFiles(ctx, now.Add(-24*time.Hour)); err != nil {
		s.log.Error("deleting incomplete files", "err", err)
	} else if n > 0 {
		s.log.Info("deleted the leftovers of interrupted uploads", "files", n)
	}
}

// ErrTooLarge is Save's error for a body over its limit.
var ErrTooLarge = errors.New("file too large")

// Save streams r into a new file f (Kind, Name and the descriptive fields
// set), at most max bytes (ErrTooLarge beyond), and returns it complete.
// Each chunk is its own short write, so a slow upload never holds the
// database. On failure the partial file is deleted.
func Save(ctx context.Context, st store.Store, f store.File, r io.Reader, max int64) (out store.File, err error) {
	f.Name = CleanName(f.Name)
	created, err := st.CreateFile(ctx, f)
	if err != nil {
		return store.File{}, err
	}
	defer func() {
		if err != nil {
			if derr := st.DeleteFile(context.WithoutCancel(ctx), created.ID); derr != nil && !errors.Is(derr, store.ErrNotFound) {
				err = errors.Join(err, derr)
			}
		}
	}()
	h := sha256.New()
	buf := make([]byte, store.FileChunkSize)
	var size int64
	for seq := 0; ; seq++ {
		n, rerr := io.ReadFull(r, buf)
		if n > 0 {
			size += int64(n)
			if size > max {
				return store.File{}, fmt.Errorf("%w: over %d bytes", ErrTooLarge, max)
			}
			h.Write(buf[:n])
			if err := st.PutFileChunk(ctx, created.ID, seq, buf[:n]); err != nil {
				return store.File{}, err
			}
		}
		if rerr == io.EOF || rerr == io.ErrUnexpectedEOF {
			break
		}
		if rerr != nil {
			return store.File{}, rerr
		}
	}
	return st.CompleteFile(ctx, created.ID, size, h.Sum(nil))
}

// CleanName makes a name a charger or a browser sent into a plain file
// name: the last path element, without control characters, at most 255
// bytes; "file" if nothing is left.
func CleanName(name string) string {
	if i := strings.LastIndexAny(name, `/\`); i >= 0 {
		name = name[i+1:]
	}
	name = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f || r == utf8.RuneError {
			return -1
		}
		return r
	}, name)
	name = strings.TrimSpace(name)
	for len(name) > 255 {
		_, n := utf8.DecodeLastRuneInString(name)
		name = name[:len(name)-n]
	}
	if name == "" || name == "." || name == ".." {
		return "file"
	}
	return name
}

// Reader reads a stored file; it is an io.ReadSeeker for
// http.ServeContent and keeps one chunk in memory.
type Reader struct {
	ctx   context.Context
	st    store.Store
	f     store.File
	off   int64
	seq   int // of chunk, -1 if none
	chunk []byte
}

// NewReader returns a reader of a complete file.
func NewReader(ctx context.Context, st store.Store, f store.File) *Reader {
	return &Reader{ctx: ctx, st: st, f: f, seq: -1}
}

// Read implements io.Reader.
func (r *Reader) Read(p []byte) (int, error) {
	if r.off >= r.f.Size {
		return 0, io.EOF
	}
	seq := int(r.off / store.FileChunkSize)
	if seq != r.seq {
		c, err := r.st.FileChunk(r.ctx, r.f.ID, seq)
		if err != nil {
			return 0, err
		}
		r.chunk, r.seq = c, seq
	}
	n := copy(p, r.chunk[r.off-int64(seq)*store.FileChunkSize:])
	if n == 0 {
		return 0, fmt.Errorf("files: chunk %d of file %d is short", seq, r.f.ID)
	}
	r.off += int64(n)
	return n, nil
}

// Seek implements io.Seeker.
func (r *Reader) Seek(offset int64, whence int) (int64, error) {
	switch whence {
	case io.SeekStart:
	case io.SeekCurrent:
		offset += r.off
	case io.SeekEnd:
		offset += r.f.Size
	default:
		return 0, errors.New("files: bad whence")
	}
	if offset < 0 {
		return 0, errors.New("files: negative position")
	}
	r.off = offset
	return offset, nil
}

// Content reads a whole stored file into memory (for tests and small
// files).
func Content(ctx context.Context, st store.Store, f store.File) ([]byte, error) {
	var b bytes.Buffer
	_, err := io.Copy(&b, NewReader(ctx, st, f))
	return b.Bytes(), err
}
