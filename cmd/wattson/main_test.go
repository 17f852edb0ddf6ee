package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wattson-csms/wattson/csms"
	"github.com/wattson-csms/wattson/ocpp"
	v16 "github.com/wattson-csms/wattson/ocpp/v16"
)

// syncBuffer is a log sink safe for the server's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func startServe(t *testing.T, args ...string) string {
	t.Helper()
	db := "sqlite:" + filepath.Join(t.TempDir(), "wattson.db")
	cfg, err := parseServeFlags(append([]string{"-listen", "127.0.0.1:0", "-db", db}, args...), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan string, 1)
	done := make(chan error, 1)
	logs := &syncBuffer{}
	go func() { done <- serve(ctx, cfg, logs, ready) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
		if t.Failed() {
			t.Logf("server log:\n%s", logs.String())
		}
	})
	select {
	case addr := <-ready:
		return addr
	case err := <-done:
		t.Fatalf("serve ended: %v", err)
	}
	return ""
}

func TestServeAnswersACharger(t *testing.T) {
	addr := startServe(t, "-heartbeat-interval", "60s", "-unknown-chargers", "accept", "-admin-token", testAdmin)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := ocpp.Dial(ctx, "ws://"+addr+"/ocpp/Garage-1", ocpp.DialOptions{})
	if err == nil {
		c.Close()
		t.Fatal("dial without subprotocols must fail")
	}
	// A charger configured with a trailing slash sends /ocpp//Garage-1.
	c, err = ocpp.Dial(ctx, "ws://"+addr+"/ocpp//Garage-1", ocpp.DialOptions{Subprotocols: []ocpp.Subprotocol{{Name: "ocpp1.6"}}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()

	boot, err := v16.CallBootNotification(ctx, c, &v16.BootNotificationRequest{ChargePointVendor: "DIY", ChargePointModel: "Wallbox", FirmwareVersion: "0.1"})
	if err != nil {
		t.Fatal(err)
	}
	if boot.Status != v16.RegistrationStatusAccepted || boot.Interval != 60 || time.Since(boot.CurrentTime) > time.Hour {
		t.Fatalf("boot answer: %+v", boot)
	}
	if _, err := v16.CallStatusNotification(ctx, c, &v16.StatusNotificationRequest{ConnectorID: 1, ErrorCode: v16.ChargePointErrorCodeNoError, Status: v16.ChargePointStatusCharging}); err != nil {
		t.Fatal(err)
	}
	if _, err := v16.CallHeartbeat(ctx, c, &v16.HeartbeatRequest{}); err != nil {
		t.Fatal(err)
	}

	// An action the central system does not handle yet, one a charger must
	// not send, and one that does not exist.
	for action, code := range map[string]ocpp.ErrorCode{
		"ClearCache": ocpp.NotSupported,
		"Reset":      ocpp.NotSupported,
		"MakeCoffee": ocpp.NotImplemented,
	} {
		_, err := c.Call(ctx, action, ocpp.RawJSON(`{"type":"Soft"}`))
		var e *ocpp.Error
		if !errors.As(err, &e) || e.Code != code {
			t.Errorf("%s: got %v, want %s", action, err, code)
		}
	}
	// A payload that breaks the schema is refused with the field named.
	_, err = c.Call(ctx, "StatusNotification", ocpp.RawJSON(`{"connectorId":1,"errorCode":"NoError","status":"Dancing"}`))
	if e, ok := ocpp.AsError(err); !ok || e.Code != ocpp.PropertyConstraintViolation || !strings.Contains(e.Description, "status") {
		t.Errorf("invalid status: got %v", err)
	}

	// The API shows the charger online with what it reported.
	var ch struct {
		Registration string `json:"registration"`
		Vendor       string `json:"vendor"`
		Model        string `json:"model"`
		Connected    bool   `json:"connected"`
		Connectors   []struct {
			ConnectorID int    `json:"connectorId"`
			Status      string `json:"status"`
		} `json:"connectors"`
	}
	apiGet(t, addr, "/api/v1/chargers/Garage-1", &ch)
	if ch.Registration != "Accepted" || ch.Vendor != "DIY" || ch.Model != "Wallbox" || !ch.Connected ||
		len(ch.Connectors) != 1 || ch.Connectors[0].Status != "Charging" {
		t.Errorf("charger as the API shows it: %+v", ch)
	}
}

// apiGet reads an API resource with the test's admin token into v.
func apiGet(t *testing.T, addr, path string, v any) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, "http://"+addr+path, nil)
	req.Header.Set("Authorization", "Bearer "+testAdmin)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d %s", path, resp.StatusCode, body)
	}
	if err := json.Unmarshal(body, v); err != nil {
		t.Fatalf("GET %s: %v: %s", path, err, body)
	}
}

func TestBadFlags(t *testing.T) {
	for _, args := range [][]string{
		{"serve", "-listen", "nonsense"},
		{"serve", "-ping-interval", "-1s"},
		{"serve", "-max-message-size", "10"},
		{"serve", "-log-level", "loud"},
		{"serve", "-db", "mysql://x"},
		{"serve", "-unknown-chargers", "maybe"},
		{"serve", "-tls-cert", "a.pem"},
		{"serve", "-demo", "-tls-cert", "a.pem", "-tls-key", "b.pem"},
		{"serve", "extra"},
		{"fly"},
		{},
	} {
		var stderr bytes.Buffer
		if code := run(context.Background(), args, io.Discard, &stderr); code != 2 || stderr.Len() == 0 {
			t.Errorf("%q: exit %d, stderr %q", args, code, stderr.String())
		}
	}
	var out bytes.Buffer
	if code := run(context.Background(), []string{"version"}, &out, io.Discard); code != 0 || !strings.HasPrefix(out.String(), "wattson ") {
		t.Errorf("version: %d %q", code, out.String())
	}
}

func TestBootAdmissionFlags(t *testing.T) {
	for _, tc := range []struct {
		args     []string
		inFlight int // as csms.Config takes it: negative is no limit
		min, max time.Duration
		err      string // in the error, if any
	}{
		{args: nil, inFlight: csms.DefaultMaxBootsInFlight, min: 10 * time.Second, max: time.Minute},
		{args: []string{"-max-boots-in-flight", "1000"}, inFlight: 1000, min: 10 * time.Second, max: time.Minute},
		{args: []string{"-max-boots-in-flight", "0"}, inFlight: -1, min: 10 * time.Second, max: time.Minute},
		{args: []string{"-deferred-boot-retry-min", "1s", "-deferred-boot-retry-max", "5m"}, inFlight: csms.DefaultMaxBootsInFlight, min: time.Second, max: 5 * time.Minute},
		{args: []string{"-deferred-boot-retry-min", "30s", "-deferred-boot-retry-max", "30s"}, inFlight: csms.DefaultMaxBootsInFlight, min: 30 * time.Second, max: 30 * time.Second},
		{args: []string{"-max-boots-in-flight", "-1"}, err: "-max-boots-in-flight"},
		{args: []string{"-max-boots-in-flight", "many"}, err: "-max-boots-in-flight"},
		{args: []string{"-deferred-boot-retry-min", "500ms"}, err: "-deferred-boot-retry-min"},
		{args: []string{"-deferred-boot-retry-min", "0s"}, err: "-deferred-boot-retry-min"},
		{args: []string{"-deferred-boot-retry-max", "5s"}, err: "-deferred-boot-retry-max"},
		{args: []string{"-deferred-boot-retry-min", "2m"}, err: "-deferred-boot-retry-max"},
	} {
		cfg, err := parseServeFlags(append([]string{"-db", "sqlite:" + filepath.Join(t.TempDir(), "w.db")}, tc.args...), io.Discard)
		switch {
		case tc.err != "":
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%q: error %v, want one naming %s", tc.args, err, tc.err)
			}
		case err != nil:
			t.Errorf("%q: %v", tc.args, err)
		case cfg.maxBootsInFlight != tc.inFlight || cfg.bootRetryMin != tc.min || cfg.bootRetryMax != tc.max:
			t.Errorf("%q: in flight %d, retry %v–%v; want %d, %v–%v", tc.args, cfg.maxBootsInFlight, cfg.bootRetryMin, cfg.bootRetryMax, tc.inFlight, tc.min, tc.max)
		}
	}
}

// TestDemo runs `serve -demo` and waits until its simulated chargers are
// connected and a session is running, as a newcomer sees it.
func TestDemo(t *testing.T) {
	if testing.Short() {
		t.Skip("skipped in -short mode: the demo runs for up to a minute")
	}
	addr := startServe(t, "-demo", "-admin-token", testAdmin)
	type overview struct {
		Chargers struct{ Online, Charging int } `json:"chargers"`
	}
	var ov overview
	for deadline := time.Now().Add(90 * time.Second); time.Now().Before(deadline); time.Sleep(250 * time.Millisecond) {
		apiGet(t, addr, "/api/v1/overview", &ov)
		if ov.Chargers.Online == 10 && ov.Chargers.Charging > 0 {
			break
		}
	}
	if ov.Chargers.Online != 10 || ov.Chargers.Charging == 0 {
		t.Fatalf("the demo did not get going: %+v", ov)
	}
	req, _ := http.NewRequest(http.MethodGet, "http://"+addr+"/api/v1/transactions?active=true", nil)
	req.Header.Set("Authorization", "Bearer "+testAdmin)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), `"active":true`) {
		t.Fatalf("active transactions: %d %s", resp.StatusCode, body)
	}
	// The demo's chargers are under smart charging: every one has a limit.
	var sc struct {
		Groups     []struct{ ID string }
		Connectors []struct {
			ChargerID string
			LimitA    *float64
		}
	}
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(250 * time.Millisecond) {
		apiGet(t, addr, "/api/v1/smart-charging", &sc)
		limited := 0
		for _, c := range sc.Connectors {
			if c.LimitA != nil {
				limited++
			}
		}
		if len(sc.Groups) == 3 && len(sc.Connectors) == 10 && limited == 10 {
			return
		}
	}
	t.Fatalf("smart charging in the demo: %+v", sc)
}

func TestLastWednesday(t *testing.T) {
	for day := 1; day <= 14; day++ {
		now := time.Date(2026, 11, day, 12, 0, 0, 0, time.UTC)
		w := lastWednesday(now)
		if w.Weekday() != time.Wednesday || w.After(now) || now.Sub(w) >= 7*24*time.Hour {
			t.Errorf("lastWednesday(%s) = %s", now.Format("Mon Jan 2"), w.Format("Mon Jan 2"))
		}
	}
}
