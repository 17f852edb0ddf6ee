package api_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/wattson-csms/wattson/api"
	"github.com/wattson-csms/wattson/csms/csmstest"
	"github.com/wattson-csms/wattson/diagnostics"
	"github.com/wattson-csms/wattson/files"
	"github.com/wattson-csms/wattson/firmware"
	"github.com/wattson-csms/wattson/sim"
	"github.com/wattson-csms/wattson/store"
)

// opsEnv is the central system with file links, roll-outs and
// diagnostics wired as `wattson serve` wires them.
func opsEnv(t *testing.T, maxFirmware int64) *env {
	t.Helper()
	var fs *files.Service
	var fw *firmware.Manager
	var diag *diagnostics.Manager
	var filesURL string
	e := newEnv(t, func(c *api.Config) {
		var err error
		fs, err = files.New(files.Config{Store: c.Store, BaseURL: func(string) (string, bool) { return filesURL, true },
			Uploaded: func(ctx context.Context, id int64, f store.File) { diag.Received(ctx, id, f) }})
		if err != nil {
			t.Fatal(err)
		}
		if fw, err = firmware.New(firmware.Config{Store: c.Store, CSMS: c.CSMS, Links: fs, Interval: 50 * time.Millisecond}); err != nil {
			t.Fatal(err)
		}
		if diag, err = diagnostics.New(diagnostics.Config{Store: c.Store, CSMS: c.CSMS, Links: fs}); err != nil {
			t.Fatal(err)
		}
		c.Firmware, c.Diagnostics, c.MaxFirmwareSize = fw, diag, maxFirmware
	})
	srv := httptest.NewServer(fs)
	t.Cleanup(srv.Close)
	filesURL = srv.URL
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { fw.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return e
}

// simFleet runs n simulated chargers (registered first) until the test
// ends; fail picks those whose firmware installation fails.
func (e *env) simFleet(prefix string, n int, fail func(string) bool) []string {
	e.t.Helper()
	for i := 1; i <= n; i++ {
		e.register(sim.ChargerID(prefix, i))
	}
	f, err := sim.NewFleet(sim.FleetConfig{URL: e.ocppURL, Chargers: n, Connectors: 1, Prefix: prefix, Scenario: sim.Idle, FailFirmware: fail})
	if err != nil {
		e.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = f.Run(ctx); close(done) }()
	e.t.Cleanup(func() { cancel(); <-done })
	for _, id := range f.IDs() {
		csmstest.Eventually(e.t, 30*time.Second, id+" connected", func() bool { return e.svc.IsConnected(id) })
	}
	return f.IDs()
}

// upload sends a firmware file as a multipart form, as the dashboard does.
func (e *env) upload(token, name, version string, content []byte) response {
	e.t.Helper()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	_ = mw.WriteField("version", version)
	_ = mw.WriteField("note", "test image")
	fw, _ := mw.CreateFormFile("file", name)
	_, _ = fw.Write(content)
	_ = mw.Close()
	return e.raw("POST", "/firmware/files", token, mw.FormDataContentType(), body.Bytes())
}

// raw sends a request with a raw body and its content type ("" for
// none); do sends only JSON.
func (e *env) raw(method, path, token, ct string, body []byte) response {
	e.t.Helper()
	req, err := http.NewRequest(method, e.base+path, bytes.NewReader(body))
	if err != nil {
		e.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	if ct != "" {
		req.Header.Set("Content-Type", ct)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return response{Status: res.StatusCode, Header: res.Header, Body: b}
}

type fileResp struct {
	ID      int64  `json:"id"`
	Kind    string `json:"kind"`
	Name    string `json:"name"`
	Size    int64  `json:"size"`
	SHA256  string `json:"sha256"`
	Version string `json:"version"`
	Note    string `json:"note"`
	By      string `json:"createdBy"`
}

type rolloutResp struct {
	ID     int64          `json:"id"`
	Status string         `json:"status"`
	Detail string         `json:"detail"`
	Total  int            `json:"total"`
	Counts map[string]int `json:"counts"`
}

func TestFirmwareFiles(t *testing.T) {
	e := opsEnv(t, 64<<10)
	img := []byte(sim.SimFirmwareMagic + "2.0\n" + strings.Repeat("binary\x00\xff", 1000))
	var f fileResp
	r := e.raw("POST", "/firmware/files", adminToken, "", nil)
	wantProblem(t, r, 400, api.KindInvalidRequest, "name")

	r = e.upload(adminToken, "wattson-2.0.bin", "2.0", img)
	if r.Status != http.StatusCreated {
		t.Fatalf("upload: %d %s", r.Status, r.Body)
	}
	r.decode(t, &f)
	sum := sha256.Sum256(img)
	if f.Kind != "firmware" || f.Name != "wattson-2.0.bin" || f.Size != int64(len(img)) || f.SHA256 != hex.EncodeToString(sum[:]) ||
		f.Version != "2.0" || f.Note != "test image" || f.By != "admin token" {
		t.Fatalf("file %+v", f)
	}
	// Raw upload with the name in the query.
	var g fileResp
	e.raw("POST", "/firmware/files?name=raw.bin&version=2.1", adminToken, "application/octet-stream", []byte("raw image")).decode(t, &g)
	if g.Name != "raw.bin" || g.Version != "2.1" || g.Size != 9 {
		t.Fatalf("raw upload %+v", g)
	}
	// The content comes back as uploaded, whole and by range.
	r = e.raw("GET", fmt.Sprintf("/firmware/files/%d/content", f.ID), adminToken, "", nil)
	if r.Status != 200 || !bytes.Equal(r.Body, img) {
		t.Fatalf("content: %d, %d bytes", r.Status, len(r.Body))
	}
	// Lists, newest first.
	var page struct {
		Items []fileResp `json:"items"`
	}
	e.ok(200, "GET", "/firmware/files", "").decode(t, &page)
	if len(page.Items) != 2 || page.Items[0].ID != g.ID || page.Items[1].ID != f.ID {
		t.Fatalf("list %+v", page.Items)
	}

	// Refusals: too large, the wrong media type, a form without a file,
	// a version too long; a viewer may not upload.
	wantProblem(t, e.upload(adminToken, "big.bin", "3", make([]byte, 65<<10)), 413, api.KindPayloadTooLarge, "-")
	wantProblem(t, e.raw("POST", "/firmware/files?name=x", adminToken, "text/plain", []byte("x")), 415, api.KindUnsupportedMediaType, "-")
	var empty bytes.Buffer
	mw := multipart.NewWriter(&empty)
	_ = mw.WriteField("version", "1")
	_ = mw.Close()
	wantProblem(t, e.raw("POST", "/firmware/files", adminToken, mw.FormDataContentType(), empty.Bytes()), 400, api.KindInvalidPayload, "file")
	wantProblem(t, e.upload(adminToken, "v.bin", strings.Repeat("9", 51), []byte("x")), 400, api.KindInvalidPayload, "version")
	var tok struct {
		Token string `json:"token"`
	}
	e.ok(201, "POST", "/tokens", `{"name":"v","role":"viewer"}`).decode(t, &tok)
	wantProblem(t, e.upload(tok.Token, "v.bin", "1", []byte("x")), 403, api.KindForbidden, "-")
	if r := e.raw("GET", fmt.Sprintf("/firmware/files/%d/content", f.ID), tok.Token, "", nil); r.Status != 403 {
		t.Errorf("viewer download: %d", r.Status)
	}
	// The refused uploads left no file behind.
	e.ok(200, "GET", "/firmware/files", "").decode(t, &page)
	if len(page.Items) != 2 {
		t.Fatalf("%d files after refused uploads", len(page.Items))
	}
	if n, _ := e.st.DeleteIncompleteFiles(context.Background(), time.Now().Add(time.Hour)); n != 0 {
		t.Errorf("%d incomplete files", n)
	}

	e.ok(204, "DELETE", fmt.Sprintf("/firmware/files/%d", g.ID), "")
	wantProblem(t, e.admin("GET", fmt.Sprintf("/firmware/files/%d", g.ID), ""), 404, api.KindNotFound, "-")
}

func TestFirmwareRolloutAPI(t *testing.T) {
	e := opsEnv(t, 0)
	ids := e.simFleet("FWA", 6, func(id string) bool { return id == "FWA0004" })
	var f fileResp
	e.upload(adminToken, "fw.bin", "4.2", []byte(sim.SimFirmwareMagic+"4.2\n")).decode(t, &f)

	// Validation names the field.
	for _, c := range []struct{ body, field string }{
		{`{"chargers":["FWA0001"]}`, "fileId"},
		{fmt.Sprintf(`{"fileId":%d,"chargers":[]}`, f.ID), "chargers"},
		{fmt.Sprintf(`{"fileId":%d,"chargers":["FWA0001","NOPE"]}`, f.ID), "chargers[1]"},
		{fmt.Sprintf(`{"fileId":%d,"chargers":["FWA0001","FWA0001"]}`, f.ID), "chargers[1]"},
		{fmt.Sprintf(`{"fileId":%d,"chargers":["FWA0001"],"maxConcurrent":0}`, f.ID), "maxConcurrent"},
		{fmt.Sprintf(`{"fileId":%d,"chargers":["FWA0001"],"maxFailurePercent":150}`, f.ID), "maxFailurePercent"},
		{fmt.Sprintf(`{"fileId":%d,"chargers":["FWA0001"],"retrieveDate":"tomorrow"}`, f.ID), "retrieveDate"},
		{fmt.Sprintf(`{"fileId":%d,"chargers":["FWA0001"],"timeoutSeconds":5}`, f.ID), "timeoutSeconds"},
		{`{"fileId":999,"chargers":["FWA0001"]}`, "fileId"},
	} {
		wantProblem(t, e.admin("POST", "/firmware/rollouts", c.body), 400, api.KindInvalidPayload, c.field)
	}

	var ro rolloutResp
	body := fmt.Sprintf(`{"fileId":%d,"chargers":%s,"maxConcurrent":2,"maxFailurePercent":50,"retries":1,"retryInterval":1}`, f.ID, jsonList(ids))
	e.ok(201, "POST", "/firmware/rollouts", body).decode(t, &ro)
	if ro.Status != "Running" || ro.Total != 6 || ro.Counts["Queued"] != 6 {
		t.Fatalf("created %+v", ro)
	}
	// A charger in a live roll-out cannot join another.
	wantProblem(t, e.admin("POST", "/firmware/rollouts", fmt.Sprintf(`{"fileId":%d,"chargers":["FWA0002"]}`, f.ID)), 409, api.KindConflict, "-")
	// The file cannot go while a roll-out uses it.
	wantProblem(t, e.admin("DELETE", fmt.Sprintf("/firmware/files/%d", f.ID), ""), 409, api.KindConflict, "-")

	csmstest.Eventually(t, time.Minute, "the roll-out to complete", func() bool {
		e.ok(200, "GET", fmt.Sprintf("/firmware/rollouts/%d", ro.ID), "").decode(t, &ro)
		return ro.Status == "Completed"
	})
	if ro.Counts["Installed"] != 5 || ro.Counts["Failed"] != 1 || !strings.Contains(ro.Detail, "5 installed, 1 failed") {
		t.Fatalf("completed %+v", ro)
	}
	var targets struct {
		Items []struct {
			ChargerID, Status, Detail string
		} `json:"items"`
	}
	e.ok(200, "GET", fmt.Sprintf("/firmware/rollouts/%d/targets?status=Failed", ro.ID), "").decode(t, &targets)
	if len(targets.Items) != 1 || targets.Items[0].ChargerID != "FWA0004" || targets.Items[0].Detail == "" {
		t.Fatalf("failed targets %+v", targets.Items)
	}
	wantProblem(t, e.admin("GET", fmt.Sprintf("/firmware/rollouts/%d/targets?status=Bogus", ro.ID), ""), 400, api.KindInvalidRequest, "status")
	// A completed roll-out cannot be paused.
	wantProblem(t, e.admin("POST", fmt.Sprintf("/firmware/rollouts/%d/pause", ro.ID), ""), 409, api.KindConflict, "-")

	// Each charger's firmware state: the version it booted with after the
	// update, and its last status.
	csmstest.Eventually(t, time.Minute, "FWA0001 to boot 4.2", func() bool {
		var fwState struct {
			FirmwareVersion, Status string
		}
		e.ok(200, "GET", "/chargers/FWA0001/firmware", "").decode(t, &fwState)
		return fwState.FirmwareVersion == "4.2" && fwState.Status == "Installed"
	})
	var failed struct {
		FirmwareVersion, Status string
	}
	e.ok(200, "GET", "/chargers/FWA0004/firmware", "").decode(t, &failed)
	if failed.FirmwareVersion != "sim-1" || failed.Status != "InstallationFailed" {
		t.Errorf("FWA0004 %+v", failed)
	}

	// Pause, resume and cancel a roll-out to a charger that is offline
	// (it stays queued).
	e.register("OFFLINE1")
	e.ok(201, "POST", "/firmware/rollouts", fmt.Sprintf(`{"fileId":%d,"chargers":["OFFLINE1"]}`, f.ID)).decode(t, &ro)
	e.ok(200, "POST", fmt.Sprintf("/firmware/rollouts/%d/pause", ro.ID), "").decode(t, &ro)
	if ro.Status != "Paused" || !strings.Contains(ro.Detail, "admin token") {
		t.Fatalf("paused %+v", ro)
	}
	wantProblem(t, e.admin("POST", fmt.Sprintf("/firmware/rollouts/%d/pause", ro.ID), ""), 409, api.KindConflict, "-")
	e.ok(200, "POST", fmt.Sprintf("/firmware/rollouts/%d/resume", ro.ID), "").decode(t, &ro)
	e.ok(200, "POST", fmt.Sprintf("/firmware/rollouts/%d/cancel", ro.ID), "").decode(t, &ro)
	if ro.Status != "Cancelled" || ro.Counts["Cancelled"] != 1 {
		t.Fatalf("cancelled %+v", ro)
	}
	var list struct {
		Items []rolloutResp `json:"items"`
	}
	e.ok(200, "GET", "/firmware/rollouts", "").decode(t, &list)
	if len(list.Items) != 2 || list.Items[0].ID != ro.ID {
		t.Fatalf("roll-outs %+v", list.Items)
	}
}

func jsonList(ids []string) string {
	return `["` + strings.Join(ids, `","`) + `"]`
}

func TestDiagnosticsAPI(t *testing.T) {
	e := opsEnv(t, 0)
	e.simFleet("DGA", 1, nil)
	start, stop := time.Now().Add(-time.Hour).UTC().Format(time.RFC3339), time.Now().UTC().Format(time.RFC3339)
	wantProblem(t, e.admin("POST", "/chargers/DGA0001/diagnostics", fmt.Sprintf(`{"startTime":%q,"stopTime":%q}`, stop, start)), 400, api.KindInvalidPayload, "stopTime")
	wantProblem(t, e.admin("POST", "/chargers/DGA0001/diagnostics", `{"startTime":"yesterday"}`), 400, api.KindInvalidPayload, "startTime")
	wantProblem(t, e.admin("POST", "/chargers/DGA0001/diagnostics", `{"retries":-1}`), 400, api.KindInvalidPayload, "retries")

	var d struct {
		ID       int64  `json:"id"`
		Status   string `json:"status"`
		FileName string `json:"fileName"`
		FileID   *int64 `json:"fileId"`
		By       string `json:"requestedBy"`
	}
	r := e.ok(201, "POST", "/chargers/DGA0001/diagnostics", fmt.Sprintf(`{"startTime":%q,"stopTime":%q,"retries":2,"retryInterval":5}`, start, stop))
	r.decode(t, &d)
	if d.FileName != "DGA0001-diagnostics.txt" || d.By != "admin token" {
		t.Fatalf("request %s", r.Body)
	}
	csmstest.Eventually(t, time.Minute, "the upload", func() bool {
		e.ok(200, "GET", fmt.Sprintf("/diagnostics/%d", d.ID), "").decode(t, &d)
		return d.Status == "Received"
	})
	got := e.raw("GET", fmt.Sprintf("/diagnostics/%d/file", d.ID), adminToken, "", nil)
	if got.Status != 200 || string(got.Body) != "simulated charger DGA0001, 1 connectors\n" {
		t.Fatalf("file: %d %q", got.Status, got.Body)
	}
	if cd := got.Header.Get("Content-Disposition"); !strings.Contains(cd, "DGA0001-diagnostics.txt") {
		t.Errorf("Content-Disposition %q", cd)
	}
	// Listed for the charger and the fleet.
	var page struct {
		Items []struct {
			ID int64 `json:"id"`
		} `json:"items"`
	}
	e.ok(200, "GET", "/chargers/DGA0001/diagnostics", "").decode(t, &page)
	if len(page.Items) != 1 || page.Items[0].ID != d.ID {
		t.Fatalf("charger list %+v", page)
	}
	e.ok(200, "GET", "/diagnostics?charger=NOBODY", "").decode(t, &page)
	if len(page.Items) != 0 {
		t.Fatalf("another charger's list %+v", page)
	}
	// Offline and unknown chargers.
	e.register("DGOFF")
	wantProblem(t, e.admin("POST", "/chargers/DGOFF/diagnostics", ""), 409, api.KindNotConnected, "-")
	wantProblem(t, e.admin("POST", "/chargers/NOBODY/diagnostics", ""), 404, api.KindNotFound, "-")
	wantProblem(t, e.admin("GET", "/diagnostics/9999/file", ""), 404, api.KindNotFound, "-")
}
