package files_test

import (
	"bytes"
	"context"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/wattson-csms/wattson/files"
	"github.com/wattson-csms/wattson/store"
)

// FuzzServeHTTP sends whatever a charger (or anyone who found the port)
// might send to the file links: any method, path, content type and body,
// to a download link, an upload link and tokens that do not exist. The
// handler must answer each with a status it documents, never panic, and
// leave no incomplete file behind.
func FuzzServeHTTP(f *testing.F) {
	e := newEnv(f, 4096)
	ctx := context.Background()
	fw, err := files.Save(ctx, e.st, store.File{Kind: store.FileFirmware, Name: "fw.bin"}, strings.NewReader("firmware image"), 1<<20)
	if err != nil {
		f.Fatal(err)
	}
	down, err := e.svc.DownloadLink(ctx, fw, "CP1", 100*365*24*time.Hour)
	if err != nil {
		f.Fatal(err)
	}
	d, err := e.st.CreateDiagnosticsRequest(ctx, store.DiagnosticsRequest{ChargerID: "CP1", Status: store.DiagRequested})
	if err != nil {
		f.Fatal(err)
	}
	up, err := e.svc.UploadLink(ctx, d.ID, "CP1", 100*365*24*time.Hour)
	if err != nil {
		f.Fatal(err)
	}
	path := func(u string) string { return strings.TrimPrefix(u, e.srv.URL) }
	f.Add("GET", path(down), "", []byte(nil))
	f.Add("PUT", path(up)+"x.txt", "text/plain", []byte("log"))
	f.Add("POST", path(up), "multipart/form-data; boundary=XX", []byte("--XX\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a\"\r\n\r\nabc\r\n--XX--\r\n"))
	f.Add("POST", path(up), "multipart/form-data; boundary=", []byte("--\r\n"))
	f.Add("DELETE", files.Prefix+"%zz/..", "", []byte{0xff})
	ok := map[int]bool{200: true, 201: true, 206: true, 304: true, 400: true, 404: true, 405: true, 410: true, 412: true, 413: true, 416: true}
	f.Fuzz(func(t *testing.T, method, p, contentType string, body []byte) {
		if method == "" || strings.ContainsAny(method, " \t\r\n()<>@,;:\\\"/[]?={}") {
			method = "GET"
		}
		req := httptest.NewRequest("GET", "/", bytes.NewReader(body))
		req.Method = method
		req.URL.Path = p
		if contentType != "" {
			req.Header.Set("Content-Type", contentType)
		}
		w := httptest.NewRecorder()
		e.svc.ServeHTTP(w, req)
		if !ok[w.Code] {
			t.Fatalf("%s %q (%q): status %d: %s", method, p, contentType, w.Code, w.Body.String())
		}
		if n, err := e.st.DeleteIncompleteFiles(ctx, time.Now().Add(time.Hour)); err != nil || n != 0 {
			t.Fatalf("%d incomplete files left (%v)", n, err)
		}
	})
}
