// Package web is Wattson's dashboard: hand-written HTML, CSS and JavaScript
// modules embedded in the binary and served by Handler. There is no build
// step; the files in static/ are what the browser gets.
package web

import (
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"io/fs"
	"net/http"
	"path"
	"strings"
)

//go:embed static
var files embed.FS

// ContentSecurityPolicy is sent with every answer. Everything comes from
// this server; there is no inline script or style, so an injected <script>
// or on* attribute does not run. connect-src 'self' covers fetch and the
// EventSource of the API.
const ContentSecurityPolicy = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

// contentTypes are set explicitly rather than from mime.TypeByExtension,
// which depends on the machine's /etc/mime.types: a module script served
// as text/plain is refused by browsers.
var contentTypes = map[string]string{
	".html": "text/html; charset=utf-8",
	".js":   "text/javascript; charset=utf-8",
	".css":  "text/css; charset=utf-8",
	".svg":  "image/svg+xml",
	".json": "application/json",
	".png":  "image/png",
	".ico":  "image/x-icon",
	".txt":  "text/plain; charset=utf-8",
}

type asset struct {
	body        []byte
	contentType string
	etag        string
}

// Handler serves the dashboard: the files under static/ by path, and
// index.html for any other path that is not the API's or the chargers', so
// that the dashboard's own routes (/chargers/CP1) load the app on reload.
func Handler() http.Handler {
	assets := map[string]*asset{}
	sub, err := fs.Sub(files, "static")
	if err != nil {
		panic(err)
	}
	err = fs.WalkDir(sub, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(sub, p)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(b)
		ct := contentTypes[path.Ext(p)]
		if ct == "" {
			ct = "application/octet-stream"
		}
		assets["/"+p] = &asset{body: b, contentType: ct, etag: `"` + base64.RawURLEncoding.EncodeToString(sum[:12]) + `"`}
		return nil
	})
	if err != nil {
		panic(err) // the embedded files are part of the binary: cannot fail at run time
	}
	index := assets["/index.html"]
	if index == nil {
		panic("web: static/index.html is missing")
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", ContentSecurityPolicy)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "same-origin")
		h.Set("X-Frame-Options", "DENY")
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			h.Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		p := r.URL.Path
		a := assets[p]
		if a == nil {
			// The API and the OCPP endpoint answer their own 404s; a
			// mistyped API path must not get an HTML page.
			if strings.HasPrefix(p, "/api/") || strings.HasPrefix(p, "/ocpp/") || path.Ext(p) != "" {
				http.NotFound(w, r)
				return
			}
			a = index
		}
		h.Set("Content-Type", a.contentType)
		h.Set("ETag", a.etag)
		// File names carry no hash, so the browser revalidates every time;
		// the ETag makes that a cheap 304.
		h.Set("Cache-Control", "no-cache")
		if match := r.Header.Get("If-None-Match"); match != "" && etagMatches(match, a.etag) {
			w.WriteHeader(http.StatusNotModified)
			return
		}
		if r.Method == http.MethodHead {
			return
		}
		_, _ = w.Write(a.body)
	})
}

func etagMatches(header, etag string) bool {
	for _, t := range strings.Split(header, ",") {
		t = strings.TrimPrefix(strings.TrimSpace(t), "W/")
		if t == etag || t == "*" {
			return true
		}
	}
	return false
}
