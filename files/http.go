package files

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/url"
	"strings"

	"github.com/wattson-csms/wattson/store"
)

// tokenLen is the length of a link token: 16 bytes, base64url.
const tokenLen = 22

// ServeHTTP serves the links under Prefix: GET and HEAD of a download
// link (with Range), PUT or POST (multipart or raw) to an upload link.
// Answers are plain text: the clients are chargers.
func (s *Service) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	rest, ok := strings.CutPrefix(r.URL.Path, Prefix)
	if !ok {
		http.NotFound(w, r)
		return
	}
	tok, name, _ := strings.Cut(rest, "/")
	if len(tok) != tokenLen {
		http.Error(w, "no such file", http.StatusNotFound)
		return
	}
	link, err := s.st.FileLinkByHash(r.Context(), hashToken(tok))
	if errors.Is(err, store.ErrNotFound) {
		http.Error(w, "no such file", http.StatusNotFound)
		return
	}
	if err != nil {
		s.fail(w, r, link, err)
		return
	}
	if !s.now().Before(link.ExpiresAt) {
		s.log.Warn("a charger used an expired file link", "charger", link.ChargerID, "remote", r.RemoteAddr, "expired", link.ExpiresAt)
		http.Error(w, "this link has expired", http.StatusGone)
		return
	}
	if link.FileID != 0 {
		s.download(w, r, link)
		return
	}
	s.upload(w, r, link, name)
}

func (s *Service) fail(w http.ResponseWriter, r *http.Request, link store.FileLink, err error) {
	s.log.Error("file transfer", "charger", link.ChargerID, "method", r.Method, "path", r.URL.Path, "err", err)
	http.Error(w, "internal error", http.StatusInternalServerError)
}

func (s *Service) download(w http.ResponseWriter, r *http.Request, link store.FileLink) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "this link is for downloading (GET)", http.StatusMethodNotAllowed)
		return
	}
	f, err := s.st.GetFile(r.Context(), link.FileID)
	if errors.Is(err, store.ErrNotFound) || err == nil && !f.Complete {
		http.Error(w, "no such file", http.StatusNotFound)
		return
	}
	if err != nil {
		s.fail(w, r, link, err)
		return
	}
	if r.Method == http.MethodGet {
		if err := s.st.UseFileLink(r.Context(), link.Hash, s.now()); err != nil {
			s.log.Warn("counting a download", "charger", link.ChargerID, "err", err)
		}
		s.log.Info("a charger is downloading a file", "charger", link.ChargerID, "file", f.Name, "size", f.Size,
			"range", r.Header.Get("Range"), "remote", r.RemoteAddr)
	}
	ServeFile(w, r, s.st, f)
}

// ServeFile answers a request for a stored file with its content
// (Range, If-None-Match and HEAD as http.ServeContent does them).
func ServeFile(w http.ResponseWriter, r *http.Request, st store.Store, f store.File) {
	h := w.Header()
	ct := f.ContentType
	if ct == "" {
		ct = "application/octet-stream"
	}
	h.Set("Content-Type", ct)
	h.Set("ETag", `"`+hex.EncodeToString(f.SHA256)+`"`)
	h.Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": f.Name}))
	http.ServeContent(w, r, f.Name, f.CreatedAt, NewReader(r.Context(), st, f))
}

func (s *Service) upload(w http.ResponseWriter, r *http.Request, link store.FileLink, pathName string) {
	if r.Method != http.MethodPut && r.Method != http.MethodPost {
		w.Header().Set("Allow", "PUT, POST")
		http.Error(w, "this link is for uploading diagnostics (PUT or POST)", http.StatusMethodNotAllowed)
		return
	}
	body := http.MaxBytesReader(w, r.Body, s.cfg.MaxUpload+1)
	name, err := url.PathUnescape(pathName)
	if err != nil || name == "" {
		name = "diagnostics"
	}
	ct := r.Header.Get("Content-Type")
	var src io.Reader = body
	if mt, _, _ := mime.ParseMediaType(ct); r.Method == http.MethodPost && mt == "multipart/form-data" {
		part, err := firstFile(r)
		if err != nil {
			s.log.Warn("a diagnostics upload without a file", "charger", link.ChargerID, "err", err)
			http.Error(w, "the form has no file: "+err.Error(), http.StatusBadRequest)
			return
		}
		defer part.Close()
		src, name, ct = part, part.FileName(), part.Header.Get("Content-Type")
	}
	if ct == "" {
		ct = "application/octet-stream"
	}
	f, err := Save(r.Context(), s.st, store.File{Kind: store.FileDiagnostics, Name: name, ContentType: ct, ChargerID: link.ChargerID,
		CreatedAt: s.now()}, src, s.cfg.MaxUpload)
	var tooLarge *http.MaxBytesError
	switch {
	case errors.Is(err, ErrTooLarge) || errors.As(err, &tooLarge):
		s.log.Warn("a diagnostics upload over the limit", "charger", link.ChargerID, "limit", s.cfg.MaxUpload)
		http.Error(w, fmt.Sprintf("the file is larger than %d bytes", s.cfg.MaxUpload), http.StatusRequestEntityTooLarge)
		return
	case err != nil && r.Context().Err() != nil:
		s.log.Warn("a diagnostics upload was interrupted", "charger", link.ChargerID, "err", err)
		return
	case err != nil:
		s.fail(w, r, link, err)
		return
	}
	if err := s.st.UseFileLink(r.Context(), link.Hash, s.now()); err != nil {
		s.log.Warn("counting an upload", "charger", link.ChargerID, "err", err)
	}
	s.log.Info("diagnostics received", "charger", link.ChargerID, "file", f.Name, "size", f.Size, "request", link.DiagnosticsID)
	if s.cfg.Uploaded != nil {
		s.cfg.Uploaded(context.WithoutCancel(r.Context()), link.DiagnosticsID, f)
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(http.StatusCreated)
	fmt.Fprintf(w, "stored %s (%d bytes)\n", f.Name, f.Size)
}

// firstFile returns the first file part of a multipart form.
func firstFile(r *http.Request) (*multipart.Part, error) {
	mr, err := r.MultipartReader()
	if err != nil {
		return nil, err
	}
	for {
		p, err := mr.NextPart()
		if err == io.EOF {
			return nil, errors.New("no part with a file name")
		}
		if err != nil {
			return nil, err
		}
		if p.FileName() != "" {
			return p, nil
		}
		p.Close()
	}
}
