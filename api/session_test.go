package api_test

import (
	"bufio"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/wattson-csms/wattson/api"
	"github.com/wattson-csms/wattson/store"
)

// clock is a settable clock for the API.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// fastPasswords keeps bcrypt cheap in tests.
func fastPasswords(cfg *api.Config) { cfg.PasswordCost = bcrypt.MinCost }

// addUser creates a user directly in the store.
func (e *env) addUser(name string, role store.Role, password string) {
	e.t.Helper()
	h, err := bcrypt.GenerateFromPassword([]byte(password), bcrypt.MinCost)
	if err != nil {
		e.t.Fatal(err)
	}
	if _, err := e.st.CreateUser(context.Background(), store.User{Username: name, PasswordHash: string(h), Role: role}); err != nil {
		e.t.Fatal(err)
	}
}

// sessionByCookie reads the stored session of a cookie value.
func sessionByCookie(e *env, cookie string) (store.Session, store.User, error) {
	sum := sha256.Sum256([]byte(cookie))
	return e.st.SessionByHash(context.Background(), sum[:])
}

func cookiesOf(r response) []*http.Cookie {
	return (&http.Response{Header: r.Header}).Cookies()
}

func sessionCookie(t testing.TB, r response) *http.Cookie {
	t.Helper()
	for _, c := range cookiesOf(r) {
		if c.Name == api.SessionCookie {
			return c
		}
	}
	t.Fatalf("no %s cookie in %v", api.SessionCookie, r.Header["Set-Cookie"])
	return nil
}

// login logs in and returns the session cookie's value.
func (e *env) login(name, password string) string {
	e.t.Helper()
	r := e.do("POST", "/session", "", `{"username":"`+name+`","password":"`+password+`"}`)
	if r.Status != http.StatusOK {
		e.t.Fatalf("login %s: %d %s", name, r.Status, r.Body)
	}
	return sessionCookie(e.t, r).Value
}

// withCookie sends a request with the session cookie and, if csrf, the
// CSRF header.
func (e *env) withCookie(method, path, cookie, body string, csrf bool) response {
	e.t.Helper()
	h := http.Header{"Cookie": {api.SessionCookie + "=" + cookie}}
	if csrf {
		h.Set(api.CSRFHeader, "1")
	}
	return e.doHeader(method, path, "", body, h)
}

func TestLoginLogout(t *testing.T) {
	e := newEnv(t, fastPasswords)
	e.addUser("ops", store.RoleOperator, "correct horse")

	r := e.do("POST", "/session", "", `{"username":"ops","password":"correct horse"}`)
	if r.Status != http.StatusOK {
		t.Fatalf("login: %d %s", r.Status, r.Body)
	}
	if got := string(r.Body); got != `{"user":{"username":"ops","role":"operator"}}`+"\n" {
		t.Errorf("login answer %s", got)
	}
	c := sessionCookie(t, r)
	raw := strings.Join(r.Header["Set-Cookie"], "\n")
	if len(c.Value) != 43 || !c.HttpOnly || c.SameSite != http.SameSiteStrictMode || c.Path != "/" ||
		c.MaxAge != 7*24*3600 || c.Secure {
		t.Errorf("cookie %+v (%s)", c, raw)
	}
	// The store holds only the token's hash, and the login time.
	u, _ := e.st.GetUser(context.Background(), "ops")
	if u.LastLoginAt == nil {
		t.Error("last login not recorded")
	}

	r = e.withCookie("GET", "/session", c.Value, "", false)
	if r.Status != http.StatusOK || !strings.Contains(string(r.Body), `"username":"ops"`) {
		t.Fatalf("GET /session: %d %s", r.Status, r.Body)
	}
	// A bearer token is not a session.
	wantProblem(t, e.admin("GET", "/session", ""), http.StatusUnauthorized, api.KindUnauthorized, "-")
	wantProblem(t, e.do("GET", "/session", "", ""), http.StatusUnauthorized, api.KindUnauthorized, "-")

	// Logging out needs the CSRF header with the cookie.
	wantProblem(t, e.withCookie("DELETE", "/session", c.Value, "", false), http.StatusForbidden, api.KindCSRF, "-")
	r = e.withCookie("DELETE", "/session", c.Value, "", true)
	if r.Status != http.StatusNoContent {
		t.Fatalf("logout: %d %s", r.Status, r.Body)
	}
	if cleared := sessionCookie(t, r); cleared.Value != "" || cleared.MaxAge != -1 {
		t.Errorf("cleared cookie %+v", cleared)
	}
	wantProblem(t, e.withCookie("GET", "/session", c.Value, "", false), http.StatusUnauthorized, api.KindUnauthorized, "-")
	wantProblem(t, e.withCookie("GET", "/chargers", c.Value, "", false), http.StatusUnauthorized, api.KindUnauthorized, "-")
	// Logging out again, or without a cookie, is still fine.
	if r := e.withCookie("DELETE", "/session", c.Value, "", true); r.Status != http.StatusNoContent {
		t.Errorf("second logout: %d", r.Status)
	}
	if r := e.do("DELETE", "/session", "", ""); r.Status != http.StatusNoContent {
		t.Errorf("logout without cookie: %d", r.Status)
	}

	// Wrong password and unknown user: the same answer.
	p1 := wantProblem(t, e.do("POST", "/session", "", `{"username":"ops","password":"wrong password"}`), http.StatusUnauthorized, api.KindUnauthorized, "-")
	p2 := wantProblem(t, e.do("POST", "/session", "", `{"username":"nobody","password":"wrong password"}`), http.StatusUnauthorized, api.KindUnauthorized, "-")
	if p1["detail"] != p2["detail"] {
		t.Errorf("answers differ: %v / %v", p1, p2)
	}
	wantProblem(t, e.do("POST", "/session", "", `{"username":"","password":"x"}`), http.StatusBadRequest, api.KindInvalidPayload, "username")
	wantProblem(t, e.do("POST", "/session", "", `{"user":"ops"}`), http.StatusBadRequest, api.KindInvalidPayload, "user")
	// A garbage cookie is a 401, not a 500.
	wantProblem(t, e.withCookie("GET", "/chargers", "garbage", "", false), http.StatusUnauthorized, api.KindUnauthorized, "-")
}

func TestCookieSecureOverTLS(t *testing.T) {
	e := newEnv(t, fastPasswords)
	e.addUser("u", store.RoleViewer, "password1")
	// The test server is plain HTTP; a request that came over TLS is
	// served through the handler directly.
	body := strings.NewReader(`{"username":"u","password":"password1"}`)
	req, _ := http.NewRequest("POST", api.Prefix+"/session", body)
	req.Header.Set("Content-Type", "application/json")
	req.RemoteAddr = "192.0.2.1:1234"
	req.TLS = &tls.ConnectionState{}
	rec := httptest.NewRecorder()
	e.api.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK {
		t.Fatalf("login over TLS: %d %s", rec.Code, rec.Body)
	}
	c := sessionCookie(t, response{Header: rec.Header()})
	if !c.Secure {
		t.Errorf("cookie over TLS is not Secure: %+v", c)
	}
}

func TestCookieAuthAndCSRF(t *testing.T) {
	e := newEnv(t, fastPasswords)
	e.addUser("viewer", store.RoleViewer, "password-v")
	e.addUser("operator", store.RoleOperator, "password-o")
	e.addUser("admin", store.RoleAdmin, "password-a")
	v, o, a := e.login("viewer", "password-v"), e.login("operator", "password-o"), e.login("admin", "password-a")

	// Reads need no CSRF header.
	for _, c := range []string{v, o, a} {
		if r := e.withCookie("GET", "/chargers", c, "", false); r.Status != http.StatusOK {
			t.Fatalf("GET /chargers: %d %s", r.Status, r.Body)
		}
	}
	// Changes do, whatever the role.
	tag := `{"status":"Accepted"}`
	wantProblem(t, e.withCookie("PUT", "/id-tags/T1", o, tag, false), http.StatusForbidden, api.KindCSRF, "-")
	if r := e.withCookie("PUT", "/id-tags/T1", o, tag, true); r.Status != http.StatusCreated {
		t.Fatalf("PUT id tag as operator: %d %s", r.Status, r.Body)
	}
	// A wrong header value is no header.
	h := http.Header{"Cookie": {api.SessionCookie + "=" + o}, api.CSRFHeader: {"yes"}}
	wantProblem(t, e.doHeader("DELETE", "/id-tags/T1", "", "", h), http.StatusForbidden, api.KindCSRF, "-")

	// The user's role applies.
	p := wantProblem(t, e.withCookie("PUT", "/id-tags/T2", v, tag, true), http.StatusForbidden, api.KindForbidden, "-")
	if !strings.Contains(p["detail"].(string), "user viewer has viewer") {
		t.Errorf("detail %v", p["detail"])
	}
	wantProblem(t, e.withCookie("GET", "/chargers/X/log", v, "", false), http.StatusForbidden, api.KindForbidden, "-")
	wantProblem(t, e.withCookie("GET", "/users", o, "", false), http.StatusForbidden, api.KindForbidden, "-")
	if r := e.withCookie("GET", "/users", a, "", false); r.Status != http.StatusOK {
		t.Fatalf("GET /users as admin: %d %s", r.Status, r.Body)
	}
	if r := e.withCookie("PUT", "/chargers/CPX", a, `{"registration":"Accepted"}`, true); r.Status != http.StatusCreated {
		t.Fatalf("PUT charger as admin: %d %s", r.Status, r.Body)
	}

	// A role change applies at once to existing sessions.
	if r := e.admin("PUT", "/users/viewer", `{"role":"operator"}`); r.Status != http.StatusOK {
		t.Fatalf("promote: %d %s", r.Status, r.Body)
	}
	if r := e.withCookie("PUT", "/id-tags/T2", v, tag, true); r.Status != http.StatusCreated {
		t.Fatalf("PUT id tag after promotion: %d %s", r.Status, r.Body)
	}

	// Bearer requests need no CSRF header, even with a cookie beside
	// them: the bearer token decides.
	h = http.Header{"Cookie": {api.SessionCookie + "=" + v}}
	if r := e.doHeader("DELETE", "/id-tags/T2", adminToken, "", h); r.Status != http.StatusNoContent {
		t.Fatalf("bearer with cookie: %d %s", r.Status, r.Body)
	}

	// Deleting a user ends their sessions.
	if r := e.admin("DELETE", "/users/operator", ""); r.Status != http.StatusNoContent {
		t.Fatalf("delete user: %d %s", r.Status, r.Body)
	}
	wantProblem(t, e.withCookie("GET", "/chargers", o, "", false), http.StatusUnauthorized, api.KindUnauthorized, "-")
}

func TestLoginRateLimit(t *testing.T) {
	clk := &clock{t: time.Date(2026, 1, 5, 12, 0, 0, 0, time.UTC)}
	e := newEnv(t, func(cfg *api.Config) { fastPasswords(cfg); cfg.Now = clk.Now })
	e.addUser("ops", store.RoleOperator, "the password")
	bad := `{"username":"ops","password":"guess"}`
	for range 10 {
		wantProblem(t, e.do("POST", "/session", "", bad), http.StatusUnauthorized, api.KindUnauthorized, "-")
		clk.add(time.Second)
	}
	r := e.do("POST", "/session", "", bad)
	wantProblem(t, r, http.StatusTooManyRequests, api.KindTooManyRequests, "-")
	if ra := r.Header.Get("Retry-After"); ra != "290" {
		t.Errorf("Retry-After %q, want 290", ra)
	}
	// Also the right password waits: the limiter answers before checking.
	wantProblem(t, e.do("POST", "/session", "", `{"username":"ops","password":"the password"}`), http.StatusTooManyRequests, api.KindTooManyRequests, "-")
	// Another username from the same address is not blocked.
	wantProblem(t, e.do("POST", "/session", "", `{"username":"other","password":"guess"}`), http.StatusUnauthorized, api.KindUnauthorized, "-")
	// After the window, logging in works and resets the count.
	clk.add(5 * time.Minute)
	e.login("ops", "the password")
	wantProblem(t, e.do("POST", "/session", "", bad), http.StatusUnauthorized, api.KindUnauthorized, "-")
}

func TestSessionExpiry(t *testing.T) {
	start := time.Date(2026, 1, 5, 12, 0, 0, 0, time.UTC)
	clk := &clock{t: start}
	e := newEnv(t, func(cfg *api.Config) { fastPasswords(cfg); cfg.Now = clk.Now })
	e.addUser("ops", store.RoleOperator, "the password")
	c := e.login("ops", "the password")
	stored := func() store.Session {
		ss, _, err := sessionByCookie(e, c)
		if err != nil {
			t.Fatal(err)
		}
		return ss
	}
	if s := stored(); !s.ExpiresAt.Equal(start.Add(api.DefaultSessionTTL)) {
		t.Fatalf("expires %v", s.ExpiresAt)
	}
	// Within a minute: no write, no new cookie.
	clk.add(30 * time.Second)
	r := e.withCookie("GET", "/session", c, "", false)
	if r.Status != http.StatusOK || len(cookiesOf(r)) != 0 {
		t.Fatalf("early use: %d, cookies %v", r.Status, r.Header["Set-Cookie"])
	}
	if s := stored(); !s.LastSeenAt.Equal(start) {
		t.Errorf("touched within a minute: %v", s.LastSeenAt)
	}
	// Later: the expiry slides and the cookie is renewed.
	clk.add(6 * 24 * time.Hour)
	r = e.withCookie("GET", "/session", c, "", false)
	if r.Status != http.StatusOK {
		t.Fatalf("use after 6 days: %d", r.Status)
	}
	if rc := sessionCookie(t, r); rc.Value != c || rc.MaxAge != 7*24*3600 {
		t.Errorf("renewed cookie %+v", rc)
	}
	now := clk.Now()
	if s := stored(); !s.ExpiresAt.Equal(now.Add(api.DefaultSessionTTL)) || !s.LastSeenAt.Equal(now) {
		t.Errorf("after sliding: %+v", s)
	}
	// Unused for 7 days: gone.
	clk.add(api.DefaultSessionTTL)
	wantProblem(t, e.withCookie("GET", "/session", c, "", false), http.StatusUnauthorized, api.KindUnauthorized, "-")
	if _, _, err := sessionByCookie(e, c); err == nil {
		t.Error("the expired session is still stored")
	}
}

func TestUsersAPI(t *testing.T) {
	e := newEnv(t, fastPasswords)
	r := e.ok(http.StatusCreated, "POST", "/users", `{"username":"alice@example.com","password":"s3cret-pw","role":"admin"}`)
	if r.Header.Get("Location") != api.Prefix+"/users/alice@example.com" {
		t.Errorf("Location %q", r.Header.Get("Location"))
	}
	u := r.object(t)
	if u["username"] != "alice@example.com" || u["role"] != "admin" || u["lastLoginAt"] != nil || u["createdAt"] == nil || u["password"] != nil {
		t.Errorf("created %s", r.Body)
	}
	wantProblem(t, e.admin("POST", "/users", `{"username":"alice@example.com","password":"s3cret-pw","role":"admin"}`), http.StatusConflict, api.KindConflict, "-")
	for _, tc := range []struct{ body, field string }{
		{`{"username":"a b","password":"s3cret-pw","role":"admin"}`, "username"},
		{`{"username":"` + strings.Repeat("x", 65) + `","password":"s3cret-pw","role":"admin"}`, "username"},
		{`{"username":"bob","password":"short","role":"admin"}`, "password"},
		{`{"username":"bob","password":"` + strings.Repeat("x", 73) + `","role":"admin"}`, "password"},
		{`{"username":"bob","password":"s3cret-pw","role":"driver"}`, "role"},
		{`{"username":"bob","password":"s3cret-pw","role":"viewer","x":1}`, "x"},
	} {
		wantProblem(t, e.admin("POST", "/users", tc.body), http.StatusBadRequest, api.KindInvalidPayload, tc.field)
	}
	e.ok(http.StatusCreated, "POST", "/users", `{"username":"bob","password":"bobs-password","role":"viewer"}`)

	var l struct {
		Items []struct {
			Username    string     `json:"username"`
			Role        string     `json:"role"`
			LastLoginAt *time.Time `json:"lastLoginAt"`
		} `json:"items"`
	}
	e.ok(http.StatusOK, "GET", "/users", "").decode(t, &l)
	if len(l.Items) != 2 || l.Items[0].Username != "alice@example.com" || l.Items[1].Role != "viewer" {
		t.Fatalf("list %+v", l)
	}

	// Changing bob's password ends his sessions; the old password stops
	// working.
	bob := e.login("bob", "bobs-password")
	e.ok(http.StatusOK, "PUT", "/users/bob", `{"password":"new-bob-password"}`)
	wantProblem(t, e.withCookie("GET", "/session", bob, "", false), http.StatusUnauthorized, api.KindUnauthorized, "-")
	wantProblem(t, e.do("POST", "/session", "", `{"username":"bob","password":"bobs-password"}`), http.StatusUnauthorized, api.KindUnauthorized, "-")
	e.login("bob", "new-bob-password")
	r = e.ok(http.StatusOK, "PUT", "/users/bob", `{"role":"operator"}`)
	if r.object(t)["role"] != "operator" {
		t.Errorf("role change %s", r.Body)
	}
	wantProblem(t, e.admin("PUT", "/users/bob", `{}`), http.StatusBadRequest, api.KindInvalidPayload, "")
	wantProblem(t, e.admin("PUT", "/users/bob", `{"role":"root"}`), http.StatusBadRequest, api.KindInvalidPayload, "role")
	wantProblem(t, e.admin("PUT", "/users/nobody", `{"role":"viewer"}`), http.StatusNotFound, api.KindNotFound, "-")

	// The last admin can be neither demoted nor deleted.
	wantProblem(t, e.admin("PUT", "/users/alice@example.com", `{"role":"viewer"}`), http.StatusConflict, api.KindConflict, "-")
	wantProblem(t, e.admin("DELETE", "/users/alice@example.com", ""), http.StatusConflict, api.KindConflict, "-")
	e.ok(http.StatusOK, "PUT", "/users/bob", `{"role":"admin"}`)
	e.ok(http.StatusNoContent, "DELETE", "/users/alice@example.com", "")
	wantProblem(t, e.admin("DELETE", "/users/alice@example.com", ""), http.StatusNotFound, api.KindNotFound, "-")
}

func TestOwnPasswordChange(t *testing.T) {
	e := newEnv(t, fastPasswords)
	e.addUser("v", store.RoleViewer, "old-password")
	c1 := e.login("v", "old-password")
	c2 := e.login("v", "old-password")

	wantProblem(t, e.withCookie("PUT", "/session/password", c1, `{"current":"old-password","new":"new-password"}`, false), http.StatusForbidden, api.KindCSRF, "-")
	wantProblem(t, e.withCookie("PUT", "/session/password", c1, `{"current":"wrong","new":"new-password"}`, true), http.StatusForbidden, api.KindForbidden, "-")
	wantProblem(t, e.withCookie("PUT", "/session/password", c1, `{"current":"old-password","new":"short"}`, true), http.StatusBadRequest, api.KindInvalidPayload, "new")
	// A bearer token has no password.
	wantProblem(t, e.admin("PUT", "/session/password", `{"current":"x","new":"new-password"}`), http.StatusUnauthorized, api.KindUnauthorized, "-")

	if r := e.withCookie("PUT", "/session/password", c1, `{"current":"old-password","new":"new-password"}`, true); r.Status != http.StatusNoContent {
		t.Fatalf("change: %d %s", r.Status, r.Body)
	}
	// This session stays, the other one ends.
	if r := e.withCookie("GET", "/session", c1, "", false); r.Status != http.StatusOK {
		t.Errorf("own session after change: %d", r.Status)
	}
	wantProblem(t, e.withCookie("GET", "/session", c2, "", false), http.StatusUnauthorized, api.KindUnauthorized, "-")
	e.login("v", "new-password")
}

func TestEventsWithCookie(t *testing.T) {
	e := newEnv(t, fastPasswords)
	e.addUser("v", store.RoleViewer, "password1")
	c := e.login("v", "password1")
	ch := e.connect("CP1", nil)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", e.base+"/events?chargerId=CP1", nil)
	req.Header.Set("Cookie", api.SessionCookie+"="+c)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK || res.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("events: %d %s", res.StatusCode, res.Header.Get("Content-Type"))
	}
	br := bufio.NewReader(res.Body)
	line, _ := br.ReadString('\n')
	if line != ": subscribed\n" {
		t.Fatalf("first line %q", line)
	}
	ch.status(1, "Charging")
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			t.Fatal(err)
		}
		if line == "event: connector.status\n" {
			break
		}
	}
}
