package main

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/wattson-csms/wattson/store"
	"github.com/wattson-csms/wattson/store/sqlite"
)

// user runs "wattson user args…" with stdin and returns its exit code and
// output.
func user(t *testing.T, stdin string, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := runUser(context.Background(), args, strings.NewReader(stdin), &out, &errOut)
	return code, out.String(), errOut.String()
}

func TestUserCommand(t *testing.T) {
	path := filepath.Join(t.TempDir(), "w.db")
	db := "sqlite:" + path

	if code, out, errOut := user(t, "s3cret-password\n", "add", "-db", db, "-name", "alice", "-role", "admin"); code != 0 || !strings.Contains(out, "created user alice (admin)") {
		t.Fatalf("add: %d %q %q", code, out, errOut)
	}
	t.Setenv("WATTSON_USER_PASSWORD", "viewer-password")
	if code, _, errOut := user(t, "", "add", "-db", db, "-name", "bob", "-role", "viewer"); code != 0 {
		t.Fatalf("add from env: %d %q", code, errOut)
	}
	if code, _, errOut := user(t, "", "add", "-db", db, "-name", "bob", "-role", "viewer"); code != 1 || !strings.Contains(errOut, "exists already") {
		t.Errorf("duplicate: %d %q", code, errOut)
	}
	for _, args := range [][]string{
		{"add", "-db", db, "-name", "bad name", "-role", "viewer"},
		{"add", "-db", db, "-name", "carol", "-role", "root"},
		{"add", "-db", db, "-role", "viewer"},
		{"frobnicate"},
		{},
	} {
		if code, _, _ := user(t, "", args...); code != 2 {
			t.Errorf("%q: exit %d, want 2", args, code)
		}
	}
	t.Setenv("WATTSON_USER_PASSWORD", "short")
	if code, _, errOut := user(t, "", "add", "-db", db, "-name", "carol", "-role", "viewer"); code != 1 || !strings.Contains(errOut, "at least 8") {
		t.Errorf("short password: %d %q", code, errOut)
	}

	code, out, _ := user(t, "", "list", "-db", db)
	if code != 0 || !regexp.MustCompile(`(?m)^USERNAME\s+ROLE\s+CREATED\s+LAST LOGIN\nalice\s+admin\s+\S+\s+never\nbob\s+viewer\s+\S+\s+never\n$`).MatchString(out) {
		t.Errorf("list: %d\n%s", code, out)
	}

	// passwd: from stdin (the env var unset), ends sessions.
	st := openSQLite(t, path)
	ctx := context.Background()
	if err := st.CreateSession(ctx, store.Session{Hash: []byte("h"), Username: "bob", ExpiresAt: farFuture}); err != nil {
		t.Fatal(err)
	}
	st.Close()
	unsetenv(t, "WATTSON_USER_PASSWORD")
	if code, out, errOut := user(t, "another-password\r\n", "passwd", "-db", db, "-name", "bob"); code != 0 || !strings.Contains(out, "ended 1 session") {
		t.Fatalf("passwd: %d %q %q", code, out, errOut)
	}
	st = openSQLite(t, path)
	u, err := st.GetUser(ctx, "bob")
	if err != nil || bcrypt.CompareHashAndPassword([]byte(u.PasswordHash), []byte("another-password")) != nil {
		t.Errorf("bob's password not changed: %v", err)
	}
	st.Close()
	if code, _, errOut := user(t, "", "passwd", "-db", db, "-name", "bob"); code != 1 || !strings.Contains(errOut, "no password") {
		t.Errorf("passwd without input: %d %q", code, errOut)
	}
	if code, _, errOut := user(t, "whatever-password\n", "passwd", "-db", db, "-name", "nobody"); code != 1 || !strings.Contains(errOut, "no user nobody") {
		t.Errorf("passwd of nobody: %d %q", code, errOut)
	}

	if code, _, errOut := user(t, "", "delete", "-db", db, "-name", "alice"); code != 1 || !strings.Contains(errOut, "last admin") {
		t.Errorf("delete last admin: %d %q", code, errOut)
	}
	if code, out, _ := user(t, "", "delete", "-db", db, "-name", "bob"); code != 0 || !strings.Contains(out, "deleted user bob") {
		t.Errorf("delete: %d %q", code, out)
	}
	if code, _, _ := user(t, "", "delete", "-db", db, "-name", "bob"); code != 1 {
		t.Errorf("delete again: %d", code)
	}
	// Through run, as the binary does.
	var o bytes.Buffer
	if code := run(context.Background(), []string{"user", "list", "-db", db}, &o, io.Discard); code != 0 || !strings.Contains(o.String(), "alice") {
		t.Errorf("run user list: %d %q", code, o.String())
	}
}

func TestFirstStartCreatesAdmin(t *testing.T) {
	dir := t.TempDir()
	db := "sqlite:" + filepath.Join(dir, "w.db")
	logs := &syncBuffer{}
	addr := startServeLogs(t, logs, "-db", db)

	re := regexp.MustCompile(`first start: created user admin with password (\S{20}) — change it`)
	m := re.FindStringSubmatch(logs.String())
	if m == nil || !strings.Contains(logs.String(), "level=WARN") {
		t.Fatalf("no first-start line in:\n%s", logs.String())
	}
	// The password works.
	res, err := http.Post("http://"+addr+"/api/v1/session", "application/json",
		strings.NewReader(`{"username":"admin","password":"`+m[1]+`"}`))
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Fatalf("login with the first password: %d", res.StatusCode)
	}
}

func TestFirstUserOnce(t *testing.T) {
	ctx := context.Background()
	st := openSQLite(t, filepath.Join(t.TempDir(), "w.db"))
	defer st.Close()
	var buf bytes.Buffer
	log := slog.New(slog.NewTextHandler(&buf, nil))
	name, pw, err := firstUser(ctx, st, false, log)
	if err != nil || name != "admin" || len(pw) != 20 {
		t.Fatalf("first: %q %q %v", name, pw, err)
	}
	if strings.Count(buf.String(), pw) != 2 { // in the message and as an attribute
		t.Errorf("log %q", buf.String())
	}
	buf.Reset()
	// Once there is a user, nothing happens and nothing is logged.
	if name, _, err := firstUser(ctx, st, false, log); err != nil || name != "" || buf.Len() != 0 {
		t.Errorf("second: %q %v %q", name, err, buf.String())
	}
	// The demo user is created, and gets a new password each start.
	name, pw1, err := firstUser(ctx, st, true, log)
	if err != nil || name != "demo" {
		t.Fatalf("demo: %q %v", name, err)
	}
	_, pw2, _ := firstUser(ctx, st, true, log)
	u, _ := st.GetUser(ctx, "demo")
	if pw1 == pw2 || u.Role != store.RoleAdmin || bcrypt.CompareHashAndPassword([]byte(u.PasswordHash), []byte(pw2)) != nil {
		t.Errorf("demo user %+v", u)
	}
}

var farFuture = time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC)

func openSQLite(t *testing.T, path string) *sqlite.DB {
	t.Helper()
	st, err := sqlite.Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// unsetenv unsets key for the test (t.Setenv first, so it comes back).
func unsetenv(t *testing.T, key string) {
	t.Setenv(key, "")
	os.Unsetenv(key)
}

// startServeLogs is startServe with the server's log in logs.
func startServeLogs(t *testing.T, logs *syncBuffer, args ...string) string {
	t.Helper()
	cfg, err := parseServeFlags(append([]string{"-listen", "127.0.0.1:0"}, args...), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan string, 1)
	done := make(chan error, 1)
	go func() { done <- serve(ctx, cfg, logs, ready) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
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
