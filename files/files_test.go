package files_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wattson-csms/wattson/csms/csmstest"
	"github.com/wattson-csms/wattson/files"
	"github.com/wattson-csms/wattson/store"
)

type env struct {
	st  store.Store
	svc *files.Service
	srv *httptest.Server
	now time.Time
	mu  sync.Mutex
	up  []store.File // what Uploaded was told
}

func newEnv(t testing.TB, max int64) *env {
	t.Helper()
	e := &env{st: csmstest.SQLite(t), now: time.Now()}
	t.Cleanup(func() { e.st.Close() })
	var h http.Handler = http.NotFoundHandler()
	e.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { h.ServeHTTP(w, r) }))
	t.Cleanup(e.srv.Close)
	svc, err := files.New(files.Config{
		Store:     e.st,
		Now:       func() time.Time { e.mu.Lock(); defer e.mu.Unlock(); return e.now },
		BaseURL:   func(string) (string, bool) { return e.srv.URL, true },
		MaxUpload: max,
		Uploaded: func(ctx context.Context, id int64, f store.File) {
			e.mu.Lock()
			e.up = append(e.up, f)
			e.mu.Unlock()
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	e.svc = svc
	h = svc
	return e
}

func (e *env) advance(d time.Duration) {
	e.mu.Lock()
	e.now = e.now.Add(d)
	e.mu.Unlock()
}

func content(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*31 + i/1000)
	}
	return b
}

func do(t *testing.T, method, url string, body io.Reader, header ...string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, url, body)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, b
}

func TestDownload(t *testing.T) {
	e := newEnv(t, 0)
	ctx := context.Background()
	data := content(store.FileChunkSize*2 + 12345)
	f, err := files.Save(ctx, e.st, store.File{Kind: store.FileFirmware, Name: "fw 2.0.bin", ContentType: "application/octet-stream"},
		bytes.NewReader(data), 10<<20)
	if err != nil {
		t.Fatal(err)
	}
	if sum := sha256.Sum256(data); !bytes.Equal(f.SHA256, sum[:]) || f.Size != int64(len(data)) {
		t.Fatalf("saved %+v", f)
	}
	link, err := e.svc.DownloadLink(ctx, f, "CP1", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(link, e.srv.URL+files.Prefix) || !strings.HasSuffix(link, "/fw%202.0.bin") {
		t.Fatalf("link %s", link)
	}
	other, _ := e.svc.DownloadLink(ctx, f, "CP2", time.Hour)
	if other == link {
		t.Fatal("two links are the same")
	}

	resp, got := do(t, "GET", link, nil)
	if resp.StatusCode != 200 || !bytes.Equal(got, data) {
		t.Fatalf("GET: %s, %d bytes (want %d)", resp.Status, len(got), len(data))
	}
	if resp.Header.Get("ETag") == "" || resp.Header.Get("Accept-Ranges") != "bytes" {
		t.Errorf("headers %v", resp.Header)
	}
	// A charger resuming a download across a chunk boundary.
	from := store.FileChunkSize - 10
	resp, got = do(t, "GET", link, nil, "Range", fmt.Sprintf("bytes=%d-%d", from, from+99))
	if resp.StatusCode != http.StatusPartialContent || !bytes.Equal(got, data[from:from+100]) {
		t.Fatalf("range: %s, %d bytes", resp.Status, len(got))
	}
	resp, got = do(t, "GET", link, nil, "Range", fmt.Sprintf("bytes=%d-", len(data)-5))
	if resp.StatusCode != http.StatusPartialContent || !bytes.Equal(got, data[len(data)-5:]) {
		t.Fatalf("tail range: %s, %q", resp.Status, got)
	}
	resp, _ = do(t, "HEAD", link, nil)
	if resp.StatusCode != 200 || resp.ContentLength != int64(len(data)) {
		t.Fatalf("HEAD: %s, length %d", resp.Status, resp.ContentLength)
	}
	// The uses are counted (three GETs, not the HEAD).
	tok := strings.Split(strings.TrimPrefix(link, e.srv.URL+files.Prefix), "/")[0]
	h := sha256.Sum256([]byte(tok))
	l, err := e.st.FileLinkByHash(ctx, h[:])
	if err != nil || l.Uses != 3 {
		t.Fatalf("link %+v, %v", l, err)
	}

	// A download link takes no uploads; a wrong token is not found.
	resp, _ = do(t, "PUT", link, strings.NewReader("x"))
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("PUT to a download: %s", resp.Status)
	}
	for _, bad := range []string{e.srv.URL + files.Prefix + "AAAAAAAAAAAAAAAAAAAAAA/fw.bin", e.srv.URL + files.Prefix, e.srv.URL + files.Prefix + "short"} {
		if resp, _ := do(t, "GET", bad, nil); resp.StatusCode != http.StatusNotFound {
			t.Errorf("GET %s: %s", bad, resp.Status)
		}
	}
	// The link expires.
	e.advance(time.Hour + time.Second)
	if resp, _ := do(t, "GET", link, nil); resp.StatusCode != http.StatusGone {
		t.Errorf("expired: %s", resp.Status)
	}
	// Expired links are cleaned away.
	e.svc.Clean(ctx)
	if _, err := e.st.FileLinkByHash(ctx, h[:]); err == nil {
		t.Error("the expired link is still stored")
	}
}

func TestUpload(t *testing.T) {
	e := newEnv(t, 1<<20)
	ctx := context.Background()
	d, err := e.st.CreateDiagnosticsRequest(ctx, store.DiagnosticsRequest{ChargerID: "CP1", Status: store.DiagRequested})
	if err != nil {
		t.Fatal(err)
	}
	link, err := e.svc.UploadLink(ctx, d.ID, "CP1", time.Hour)
	if err != nil || !strings.HasSuffix(link, "/") {
		t.Fatalf("link %q, %v", link, err)
	}
	// GET of an upload link is refused: it does not reveal the file.
	if resp, _ := do(t, "GET", link, nil); resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("GET an upload link: %s", resp.Status)
	}

	// PUT with the file name appended, as many chargers do.
	body := content(store.FileChunkSize + 7)
	resp, msg := do(t, "PUT", link+"CP1-diag.tar.gz", bytes.NewReader(body), "Content-Type", "application/gzip")
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("PUT: %s %s", resp.Status, msg)
	}
	// A multipart POST, as others do.
	var form bytes.Buffer
	mw := multipart.NewWriter(&form)
	_ = mw.WriteField("note", "not the file")
	fw, _ := mw.CreateFormFile("file", "log.txt")
	_, _ = fw.Write([]byte("line 1\nline 2\n"))
	_ = mw.Close()
	resp, msg = do(t, "POST", link, &form, "Content-Type", mw.FormDataContentType())
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("POST: %s %s", resp.Status, msg)
	}
	// A raw POST.
	resp, msg = do(t, "POST", link+"raw.bin", strings.NewReader("raw"))
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("raw POST: %s %s", resp.Status, msg)
	}

	e.mu.Lock()
	up := e.up
	e.mu.Unlock()
	if len(up) != 3 {
		t.Fatalf("Uploaded called %d times", len(up))
	}
	for i, want := range []struct {
		name, ct string
		data     []byte
	}{{"CP1-diag.tar.gz", "application/gzip", body}, {"log.txt", "application/octet-stream", []byte("line 1\nline 2\n")}, {"raw.bin", "application/octet-stream", []byte("raw")}} {
		f := up[i]
		got, err := files.Content(ctx, e.st, f)
		if err != nil || f.Name != want.name || f.ChargerID != "CP1" || f.Kind != store.FileDiagnostics || !bytes.Equal(got, want.data) {
			t.Errorf("upload %d: %+v, %d bytes, %v", i, f, len(got), err)
		}
		if f.ContentType != want.ct {
			t.Errorf("upload %d: content type %q, want %q", i, f.ContentType, want.ct)
		}
	}

	// Too large, a form without a file, and an expired link.
	resp, _ = do(t, "PUT", link+"big", bytes.NewReader(make([]byte, 1<<20+1)))
	if resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Errorf("too large: %s", resp.Status)
	}
	form.Reset()
	mw = multipart.NewWriter(&form)
	_ = mw.WriteField("note", "no file")
	_ = mw.Close()
	if resp, _ := do(t, "POST", link, &form, "Content-Type", mw.FormDataContentType()); resp.StatusCode != http.StatusBadRequest {
		t.Errorf("no file: %s", resp.Status)
	}
	// The refused uploads left nothing behind.
	all, err := e.st.ListFiles(ctx, store.FileFilter{Kind: store.FileDiagnostics})
	if err != nil || len(all) != 3 {
		t.Fatalf("%d files stored, %v", len(all), err)
	}
	if n, _ := e.st.DeleteIncompleteFiles(ctx, time.Now().Add(time.Hour)); n != 0 {
		t.Errorf("%d incomplete files left", n)
	}
	e.advance(2 * time.Hour)
	if resp, _ := do(t, "PUT", link+"late", strings.NewReader("late")); resp.StatusCode != http.StatusGone {
		t.Errorf("expired: %s", resp.Status)
	}
}

func TestLinksNeedABaseURL(t *testing.T) {
	st := csmstest.SQLite(t)
	defer st.Close()
	svc, err := files.New(files.Config{Store: st})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.UploadLink(context.Background(), 1, "CP1", 0); err != files.ErrNoBaseURL {
		t.Fatalf("err = %v", err)
	}
	for _, bad := range []string{"ftp://x", "http://", "://x", "http://x/?q=1"} {
		if _, err := files.New(files.Config{Store: st, PublicURL: bad}); err == nil {
			t.Errorf("public URL %q accepted", bad)
		}
	}
	svc, err = files.New(files.Config{Store: st, PublicURL: "https://csms.example.com/wattson/"})
	if err != nil {
		t.Fatal(err)
	}
	d, _ := st.CreateDiagnosticsRequest(context.Background(), store.DiagnosticsRequest{ChargerID: "CP1", Status: store.DiagRequested})
	link, err := svc.UploadLink(context.Background(), d.ID, "CP1", 0)
	if err != nil || !strings.HasPrefix(link, "https://csms.example.com/wattson/files/") {
		t.Fatalf("link %q, %v", link, err)
	}
}

func TestCleanName(t *testing.T) {
	for in, want := range map[string]string{
		"log.txt":                "log.txt",
		"../../etc/passwd":       "passwd",
		`C:\diag\x.zip`:          "x.zip",
		"a\x00b\nc":              "abc",
		"":                       "file",
		"..":                     "file",
		strings.Repeat("é", 200): strings.Repeat("é", 127),
	} {
		if got := files.CleanName(in); got != want {
			t.Errorf("CleanName(%q) = %q, want %q", in, got, want)
		}
	}
}
