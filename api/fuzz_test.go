package api_test

import (
	"context"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wattson-csms/wattson/api"
	"github.com/wattson-csms/wattson/csms"
	"github.com/wattson-csms/wattson/store/sqlite"
)

// FuzzRequests sends arbitrary bodies and query strings to the endpoints
// that parse input. Whatever comes in, the API answers with a status below
// 500 and a problem document for errors; it never panics.
func FuzzRequests(f *testing.F) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(f.TempDir(), "fuzz.db"))
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { _ = st.Close() })
	svc, err := csms.New(csms.Config{Store: st, MessageLogKeep: -1})
	if err != nil {
		f.Fatal(err)
	}
	a, err := api.New(api.Config{CSMS: svc, Store: st, AdminToken: adminToken})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(a.Close)

	endpoints := []struct{ method, path string }{
		{"PUT", "/chargers/CP1"},
		{"PUT", "/id-tags/CARD"},
		{"POST", "/chargers/CP1/ocpp/RemoteStartTransaction"},
		{"POST", "/chargers/CP1/ocpp/SetChargingProfile"},
		{"POST", "/chargers/CP1/start"},
		{"POST", "/chargers/CP1/stop"},
		{"POST", "/tokens"},
		{"GET", "/transactions"},
		{"GET", "/chargers"},
		{"PUT", "/chargers/CP1/configuration/HeartbeatInterval"},
		{"POST", "/configuration/apply"},
		{"POST", "/configuration/refresh"},
		{"GET", "/configuration"},
	}
	for i, s := range []string{
		`{"registration":"Accepted","password":"12345678"}`, `{"status":"Accepted","expiryDate":"2030-01-01T00:00:00Z"}`,
		`{"connectorId":1,"idTag":"CARD"}`, `{"connectorId":1,"csChargingProfiles":{}}`, `{"name":"x","role":"viewer"}`,
		`{`, `null`, `[]`, `{"a":1e999}`, "\x00", `{"connectorId":"1"}`,
		`{"value":"60"}`, `{"key":"HeartbeatInterval","value":"60","chargers":["CP1","CP2"]}`, `{"chargers":["CP1"]}`,
	} {
		f.Add(uint8(i), s, "limit=5&active=true&from=2026-01-01T00:00:00Z")
	}
	f.Add(uint8(12), "", "key=HeartbeatInterval&limit=5&after=CP1")
	f.Fuzz(func(t *testing.T, which uint8, body, query string) {
		ep := endpoints[int(which)%len(endpoints)]
		target := api.Prefix + ep.path
		if q, err := url.ParseQuery(query); err == nil {
			target += "?" + q.Encode()
		}
		req := httptest.NewRequest(ep.method, target, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+adminToken)
		req.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		a.ServeHTTP(rec, req)
		if rec.Code >= 500 {
			t.Fatalf("%s %s with %q: status %d: %s", ep.method, target, body, rec.Code, rec.Body.String())
		}
		if rec.Code >= 400 && !strings.HasPrefix(rec.Header().Get("Content-Type"), "application/problem+json") {
			t.Fatalf("%s %s: error %d without problem+json", ep.method, target, rec.Code)
		}
	})
}
