package chargepoint

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	"github.com/wattson-csms/wattson/ocpp/v16"
)

// pretendInstall is how long the simulator's pretend installation takes.
const pretendInstall = 100 * time.Millisecond

func (cp *ChargePoint) setFirmwareStatus(s v16.FirmwareStatus) {
	cp.lock()
	defer cp.unlock()
	cp.fwStatus = s
	cp.journalLocked("firmware %s", s)
	cp.outLocked(&v16.FirmwareStatusNotificationRequest{Status: s}, nil)
}

func (cp *ChargePoint) updateFirmware(req *v16.UpdateFirmwareRequest) {
	cp.lock()
	defer cp.unlock()
	if cp.fwBusy {
		cp.journalLocked("firmware update to %s ignored: one is in progress", req.Location)
		return
	}
	cp.journalLocked("firmware update from %s at %s", req.Location, req.RetrieveDate.Format(time.RFC3339))
	r := *req
	if cp.spawnLocked(func(ctx context.Context) { cp.runFirmware(ctx, &r) }) {
		cp.fwBusy = true
	}
}

func (cp *ChargePoint) runFirmware(ctx context.Context, req *v16.UpdateFirmwareRequest) {
	defer func() {
		cp.mu.Lock()
		cp.fwBusy = false
		cp.fwStatus = v16.FirmwareStatusIdle
		cp.mu.Unlock()
	}()
	// As for Reset: let the answer to UpdateFirmware go out first. A
	// download from a fast server can otherwise install and reboot,
	// closing the connection, before the answer was written.
	if !sleepReal(ctx, resetDelay) {
		return
	}
	if d := req.RetrieveDate.Sub(cp.clock.Now()); d > 0 {
		if !cp.sleepClock(ctx, d, nil) {
			return
		}
	}
	attempts, interval := retries(req.Retries, req.RetryInterval)
	cp.setFirmwareStatus(v16.FirmwareStatusDownloading)
	var file string
	var err error
	for i := 0; i < attempts; i++ {
		if i > 0 && !cp.sleepClock(ctx, interval, nil) {
			return
		}
		if file, err = cp.download(ctx, req.Location); err == nil {
			break
		}
		cp.log.Warn("firmware download failed", "location", req.Location, "attempt", i+1, "err", err)
	}
	if ctx.Err() != nil {
		return
	}
	if err != nil {
		cp.setFirmwareStatus(v16.FirmwareStatusDownloadFailed)
		return
	}
	if cp.cfg.DataDir == "" {
		defer os.Remove(file)
	}
	cp.setFirmwareStatus(v16.FirmwareStatusDownloaded)
	// Install when no transaction runs.
	for {
		cp.mu.Lock()
		busy := false
		for _, c := range cp.conns[1:] {
			busy = busy || c.tx != nil
		}
		cp.mu.Unlock()
		if !busy {
			break
		}
		if !cp.sleepClock(ctx, -1, cp.fwWake) {
			return
		}
	}
	cp.setFirmwareStatus(v16.FirmwareStatusInstalling)
	if cp.cfg.InstallFirmware != nil {
		err = cp.cfg.InstallFirmware(ctx, file)
	} else if !sleepReal(ctx, pretendInstall) {
		return
	}
	if err != nil {
		cp.log.Warn("firmware installation failed", "err", err)
		cp.setFirmwareStatus(v16.FirmwareStatusInstallationFailed)
		return
	}
	cp.setFirmwareStatus(v16.FirmwareStatusInstalled)
	cp.lock()
	cp.rebootLocked()
	cp.unlock()
}

// retries turns the optional retries and retryInterval into attempts and
// the wait between them.
func retries(n, iv *int) (int, time.Duration) {
	attempts := 1
	if n != nil && *n > 0 {
		attempts = *n
	}
	interval := 30 * time.Second
	if iv != nil && *iv >= 0 {
		interval = time.Duration(*iv) * time.Second
	}
	return attempts, interval
}

// download fetches a firmware file with HTTP GET into DataDir/firmware, or
// a temporary file without a DataDir.
func (cp *ChargePoint) download(ctx context.Context, location string) (string, error) {
	u, err := url.Parse(location)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") {
		return "", fmt.Errorf("unsupported firmware location %q", location)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, location, nil)
	if err != nil {
		return "", err
	}
	resp, err := cp.httpc.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("GET %s: %s", location, resp.Status)
	}
	var f *os.File
	if cp.cfg.DataDir != "" {
		dir := filepath.Join(cp.cfg.DataDir, "firmware")
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return "", err
		}
		name := sanitize(path.Base(u.Path))
		if name == "" || name == "." || name == "/" {
			name = "firmware.bin"
		}
		f, err = os.Create(filepath.Join(dir, name))
	} else {
		f, err = os.CreateTemp("", "wattson-firmware-*")
	}
	if err != nil {
		return "", err
	}
	if _, err := io.Copy(f, resp.Body); err != nil {
		_ = f.Close()
		_ = os.Remove(f.Name())
		return "", err
	}
	if err := f.Close(); err != nil {
		_ = os.Remove(f.Name())
		return "", err
	}
	return f.Name(), nil
}

func sanitize(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '.' || r == '-' || r == '_' || (r >= '0' && r <= '9') || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z') {
			return r
		}
		return '_'
	}, s)
}

// ---- Diagnostics ----

func (cp *ChargePoint) setDiagnosticsStatus(s v16.DiagnosticsStatus) {
	cp.lock()
	defer cp.unlock()
	cp.diagStatus = s
	cp.journalLocked("diagnostics %s", s)
	cp.outLocked(&v16.DiagnosticsStatusNotificationRequest{Status: s}, nil)
}

// getDiagnostics builds the file, starts the upload and returns the file
// name ("" when there is nothing to upload).
func (cp *ChargePoint) getDiagnostics(req *v16.GetDiagnosticsRequest) string {
	var name string
	var content []byte
	var err error
	if cp.cfg.DiagnosticsFile != nil {
		name, content, err = cp.cfg.DiagnosticsFile(req.StartTime, req.StopTime)
	} else {
		name, content = cp.diagnosticsFile(req.StartTime, req.StopTime)
	}
	if err != nil || name == "" {
		cp.log.Warn("no diagnostics file", "err", err)
		return ""
	}
	if r := []rune(name); len(r) > 255 {
		name = string(r[:255])
	}
	r := *req
	cp.lock()
	defer cp.unlock()
	if !cp.spawnLocked(func(ctx context.Context) { cp.uploadDiagnostics(ctx, &r, name, content) }) {
		return ""
	}
	return name
}

// diagnosticsFile is the default diagnostics: identity, connector states,
// configuration and the log lines between start and stop.
func (cp *ChargePoint) diagnosticsFile(start, stop *time.Time) (string, []byte) {
	cp.mu.Lock()
	defer cp.mu.Unlock()
	now := cp.clock.Now().UTC()
	var b bytes.Buffer
	fmt.Fprintf(&b, "Wattson charge point diagnostics\nid: %s\nvendor: %s\nmodel: %s\nserial: %s\nfirmware: %s\ngenerated: %s\n\n",
		cp.cfg.ID, cp.cfg.Vendor, cp.cfg.Model, cp.cfg.SerialNumber, cp.fwVersion, now.Format(time.RFC3339))
	fmt.Fprintf(&b, "registration: %s\nconnected: %v\nqueued transaction messages: %d\n\n", cp.registration, cp.conn != nil, len(cp.queue.items))
	for _, c := range cp.conns {
		fmt.Fprintf(&b, "connector %d: %s %s", c.id, c.status, c.statusCode)
		if c.tx != nil {
			fmt.Fprintf(&b, " transaction %d (%s)", c.tx.ref(), c.tx.IDTag)
		}
		if c.id > 0 {
			fmt.Fprintf(&b, " limit %.1f A", c.limit)
		}
		b.WriteByte('\n')
	}
	b.WriteString("\nconfiguration:\n")
	for _, k := range keyDefs {
		fmt.Fprintf(&b, "  %s = %s\n", k.name, cp.conf[k.name])
	}
	b.WriteString("\nlog:\n")
	for _, l := range cp.journal {
		if (start != nil && l.at.Before(*start)) || (stop != nil && l.at.After(*stop)) {
			continue
		}
		fmt.Fprintf(&b, "%s %s\n", l.at.Format(time.RFC3339), l.msg)
	}
	return fmt.Sprintf("%s-diagnostics-%s.txt", sanitize(cp.cfg.ID), now.Format("20060102T150405Z")), b.Bytes()
}

func (cp *ChargePoint) uploadDiagnostics(ctx context.Context, req *v16.GetDiagnosticsRequest, name string, content []byte) {
	defer func() {
		cp.mu.Lock()
		cp.diagStatus = v16.DiagnosticsStatusIdle
		cp.mu.Unlock()
	}()
	attempts, interval := retries(req.Retries, req.RetryInterval)
	cp.setDiagnosticsStatus(v16.DiagnosticsStatusUploading)
	var err error
	for i := 0; i < attempts; i++ {
		if i > 0 && !cp.sleepClock(ctx, interval, nil) {
			return
		}
		if err = cp.upload(ctx, req.Location, name, content); err == nil {
			break
		}
		cp.log.Warn("diagnostics upload failed", "location", req.Location, "attempt", i+1, "err", err)
	}
	if ctx.Err() != nil {
		return
	}
	if err != nil {
		cp.setDiagnosticsStatus(v16.DiagnosticsStatusUploadFailed)
		return
	}
	cp.setDiagnosticsStatus(v16.DiagnosticsStatusUploaded)
}

// upload sends the file with HTTP PUT to the location (the file name is
// appended when the location ends with a slash); a server that refuses PUT
// gets a multipart POST with the file in the field "file".
func (cp *ChargePoint) upload(ctx context.Context, location, name string, content []byte) error {
	u, err := url.Parse(location)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") {
		return fmt.Errorf("unsupported diagnostics location %q", location)
	}
	target := location
	if strings.HasSuffix(u.Path, "/") {
		target = u.JoinPath(name).String()
	}
	status, err := cp.send(ctx, http.MethodPut, target, "text/plain; charset=utf-8", content)
	if err != nil {
		return err
	}
	switch {
	case status >= 200 && status < 300:
		return nil
	case status == http.StatusMethodNotAllowed || status == http.StatusNotImplemented || status == http.StatusForbidden:
		var body bytes.Buffer
		mw := multipart.NewWriter(&body)
		fw, err := mw.CreateFormFile("file", name)
		if err != nil {
			return err
		}
		_, _ = fw.Write(content)
		if err := mw.Close(); err != nil {
			return err
		}
		status, err = cp.send(ctx, http.MethodPost, location, mw.FormDataContentType(), body.Bytes())
		if err != nil {
			return err
		}
		if status >= 200 && status < 300 {
			return nil
		}
	}
	return fmt.Errorf("upload to %s: HTTP %d", location, status)
}

func (cp *ChargePoint) send(ctx context.Context, method, target, contentType string, body []byte) (int, error) {
	req, err := http.NewRequestWithContext(ctx, method, target, bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", contentType)
	resp, err := cp.httpc.Do(req)
	if err != nil {
		return 0, err
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
	_ = resp.Body.Close()
	return resp.StatusCode, nil
}
