package csms_test

import (
	"bufio"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wattson-csms/wattson/csms"
	"github.com/wattson-csms/wattson/ocpp/v16"
	"github.com/wattson-csms/wattson/store"
)

// TestInteropOCPPRPCStrict runs a charger we did not write, built on the
// ocpp-rpc npm package in strict mode, against the central system. Strict
// mode checks every frame both ways against the official OCPP 1.6 schemas,
// so any frame of ours that breaks them fails the test.
func TestInteropOCPPRPCStrict(t *testing.T) {
	dir, err := filepath.Abs("../interop/ocpprpc")
	if err != nil {
		t.Fatal(err)
	}
	node, err := exec.LookPath("node")
	if err == nil {
		_, err = os.Stat(filepath.Join(dir, "node_modules", "ocpp-rpc"))
	}
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("interop test needs node and `npm ci --prefix interop/ocpprpc`: %v", err)
		}
		t.Skipf("skipped: needs node and `npm ci --prefix interop/ocpprpc` (%v)", err)
	}

	e := newEnv(t, func(c *csms.Config) { c.UnknownChargers = store.RegistrationAccepted })
	srv, url := e.srv, e.url

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, "charger.mjs", url, "RPC-1")
	cmd.Dir = dir
	var stderr strings.Builder
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := bufio.NewScanner(stdout)
	next := func() map[string]any {
		t.Helper()
		if !lines.Scan() {
			t.Fatalf("charger ended early: %v\n%s", lines.Err(), stderr.String())
		}
		var m map[string]any
		if err := json.Unmarshal(lines.Bytes(), &m); err != nil {
			t.Fatalf("charger wrote %q: %v", lines.Text(), err)
		}
		if e, ok := m["error"]; ok {
			t.Fatalf("charger failed: %v", e)
		}
		return m
	}

	res := next()
	boot, _ := res["boot"].(map[string]any)
	if boot["status"] != "Accepted" || boot["interval"] != float64(60) {
		t.Errorf("BootNotification answer: %v", boot)
	}
	if hb, _ := res["heartbeat"].(map[string]any); hb["currentTime"] == nil {
		t.Errorf("Heartbeat answer: %v", res["heartbeat"])
	}
	if info, _ := res["authorize"].(map[string]any)["idTagInfo"].(map[string]any); info["status"] != "Invalid" {
		t.Errorf("Authorize of an unknown tag: %v", res["authorize"])
	}
	if res["notSupported"] != "NotSupported" {
		t.Errorf("ClearCache sent by a charger: want CALLERROR NotSupported, got %v", res["notSupported"])
	}
	inv, _ := res["invalid"].(map[string]any)
	if inv["code"] != "PropertyConstraintViolation" {
		t.Errorf("invalid StatusNotification: got %v", inv)
	}
	if res["protocol"] != "ocpp1.6" {
		t.Errorf("negotiated %v", res["protocol"])
	}
	if next()["booted"] != true {
		t.Fatal("charger did not finish booting")
	}

	// Now the central system calls the charger; its strict validation
	// checks our CALL payloads.
	c := srv.Conn("RPC-1")
	if c == nil {
		t.Fatal("charger not registered")
	}
	reset, err := v16.CallReset(ctx, c, &v16.ResetRequest{Type: v16.ResetTypeSoft})
	if err != nil || reset.Status != v16.GenericStatusAccepted {
		t.Fatalf("Reset: %+v, %v", reset, err)
	}
	conf, err := v16.CallGetConfiguration(ctx, c, &v16.GetConfigurationRequest{Key: []string{"HeartbeatInterval", "Nope"}})
	if err != nil {
		t.Fatalf("GetConfiguration: %v", err)
	}
	if len(conf.ConfigurationKey) != 1 || conf.ConfigurationKey[0].Value != "60" || len(conf.UnknownKey) != 1 || conf.UnknownKey[0] != "Nope" {
		t.Errorf("GetConfiguration answer: %+v", conf)
	}
	last := next()
	if r, _ := last["reset"].(map[string]any); r["type"] != "Soft" {
		t.Errorf("charger saw Reset %v", last["reset"])
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("charger exited with %v\n%s", err, stderr.String())
	}
	// Both chargers hung up; the service forgets their connections.
	e.waitFor("chargers to go offline", func() bool { return !e.svc.IsConnected("RPC-1") && !e.svc.IsConnected("RPC-1-lax") })
}
