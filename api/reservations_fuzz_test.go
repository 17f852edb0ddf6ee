package api_test

import (
	"context"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wattson-csms/wattson/api"
	"github.com/wattson-csms/wattson/csms"
	"github.com/wattson-csms/wattson/store"
	"github.com/wattson-csms/wattson/store/sqlite"
)

// FuzzReservationRequests sends arbitrary bodies, query strings and ids to
// the reservation endpoints, with a known charger, id tag and reservation
// in the store so that input gets past the first checks. Whatever comes in
// is answered below 500, errors as problem documents, and nothing panics.
func FuzzReservationRequests(f *testing.F) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(f.TempDir(), "fuzz.db"))
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { _ = st.Close() })
	if _, err := st.PutCharger(ctx, store.Charger{ID: "CP1", Registration: store.RegistrationAccepted}); err != nil {
		f.Fatal(err)
	}
	if _, err := st.PutIDTag(ctx, store.IDTag{IDTag: "CARD", Status: store.IDTagAccepted}); err != nil {
		f.Fatal(err)
	}
	if err := st.PutConfigSnapshot(ctx, store.ConfigSnapshot{ChargerID: "CP1", Keys: []store.ConfigKey{
		{Key: "NumberOfConnectors", Value: "2"}, {Key: "ReserveConnectorZeroSupported", Value: "false"},
	}}); err != nil {
		f.Fatal(err)
	}
	if _, err := st.CreateReservation(ctx, store.Reservation{ChargerID: "CP1", ConnectorID: 1, IDTag: "CARD",
		Status: store.ReservationAccepted, ExpiresAt: time.Now().Add(time.Hour)}); err != nil {
		f.Fatal(err)
	}
	svc, err := csms.New(csms.Config{Store: st, MessageLogKeep: -1})
	if err != nil {
		f.Fatal(err)
	}
	a, err := api.New(api.Config{CSMS: svc, Store: st, AdminToken: adminToken})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(a.Close)

	for _, s := range []string{
		`{"chargerId":"CP1","connectorId":1,"idTag":"CARD","duration":600}`,
		`{"chargerId":"CP1","connectorId":0,"idTag":"CARD","expiryDate":"2030-01-01T00:00:00Z"}`,
		`{"chargerId":"CP1","connectorId":2,"idTag":"CARD","duration":-1}`,
		`{"chargerId":"","connectorId":1e3,"idTag":null}`, `{`, `null`, `[]`, "\x00",
	} {
		f.Add(uint8(0), s, "status=Accepted&active=true&limit=5", "1")
	}
	f.Fuzz(func(t *testing.T, which uint8, body, query, id string) {
		var method, target string
		switch which % 4 {
		case 0:
			method, target = "POST", "/reservations"
		case 1:
			method, target = "GET", "/reservations"
		case 2:
			method, target = "GET", "/reservations/"+url.PathEscape(id)
		default:
			method, target = "DELETE", "/reservations/"+url.PathEscape(id)
		}
		target = api.Prefix + target
		if q, err := url.ParseQuery(query); err == nil {
			target += "?" + q.Encode()
		}
		req := httptest.NewRequest(method, target, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+adminToken)
		req.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		a.ServeHTTP(rec, req)
		if rec.Code >= 500 {
			t.Fatalf("%s %s with %q: status %d: %s", method, target, body, rec.Code, rec.Body.String())
		}
		if rec.Code >= 400 && !strings.HasPrefix(rec.Header().Get("Content-Type"), "application/problem+json") {
			t.Fatalf("%s %s: error %d without problem+json", method, target, rec.Code)
		}
	})
}
