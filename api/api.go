// Package api is Wattson's HTTP API under /api/v1/: REST resources for
// chargers, connectors, id tags, transactions, meter values, charger events
// and the OCPP message log; commands to chargers (any OCPP action, plus typed
// start and stop); live events as Server-Sent Events; a fleet overview and a
// CSV export; API tokens with roles; dashboard users with cookie sessions;
// and the OpenAPI document that describes all of it (openapi.yaml, embedded).
//
// It owns HTTP concerns only — authentication, input validation, the JSON
// shapes and the mapping of errors to statuses (errors.go, one table). What
// happens to chargers and data is the csms package's and the store's.
package api

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/wattson-csms/wattson/csms"
	"github.com/wattson-csms/wattson/csms/locallist"
	"github.com/wattson-csms/wattson/diagnostics"
	"github.com/wattson-csms/wattson/firmware"
	"github.com/wattson-csms/wattson/smartcharging/manager"
	"github.com/wattson-csms/wattson/store"
)

// Prefix is where the API is served.
const Prefix = "/api/v1"

// Config configures an API.
type Config struct {
	// CSMS is the central system commands go through. Required.
	CSMS *csms.Service
	// Store is where data is read and written; nil means CSMS.Store().
	Store store.Store
	// AdminToken, if not empty, is a bearer token with the admin role that
	// is not stored (from --admin-token or WATTSON_ADMIN_TOKEN). It is
	// compared in constant time.
	AdminToken string
	// Logger receives request errors; nil logs nothing.
	Logger *slog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// CommandTimeout bounds the wait for a charger's answer to a command;
	// default 30 s.
	CommandTimeout time.Duration
	// EventPingInterval is how often an idle event stream gets a comment
	// line, so proxies and clients see it is alive; default 15 s.
	EventPingInterval time.Duration
	// SessionTTL is how long a dashboard session lives after its last use
	// (the cookie's Max-Age); default DefaultSessionTTL, 7 days.
	SessionTTL time.Duration
	// PasswordCost is the bcrypt cost of user passwords; default
	// bcrypt.DefaultCost.
	PasswordCost int
	// LoginLimit failed logins per username and client address within
	// LoginWindow block further attempts until the window ends; default 10
	// in 5 minutes.
	LoginLimit  int
	LoginWindow time.Duration
	// Location is the time zone of "today" in the overview; nil means
	// time.Local.
	Location *time.Location
	// Smart is the smart-charging manager; nil: its endpoints answer 404
	// (groups, settings and prices are still kept).
	Smart *manager.Manager
	// Firmware runs firmware roll-outs and Diagnostics diagnostics
	// requests; nil: their endpoints answer 404 (stored files and
	// records are still listed).
	Firmware    *firmware.Manager
	Diagnostics *diagnostics.Manager
	// MaxFirmwareSize bounds an uploaded firmware file; default
	// DefaultMaxFirmwareSize.
	MaxFirmwareSize int64
	// LocalLists keeps chargers' local lists in step; nil: lists are
	// still kept, but sync and cache endpoints answer 404.
	LocalLists *locallist.Syncer
	// ReservedStackLevel, if not 0, is the charging profile stack level
	// smart charging keeps for itself: POST
	// /chargers/{id}/charging-profiles refuses it (409).
	ReservedStackLevel int
}

// API serves /api/v1/. Create it with New.
type API struct {
	cfg Config
	svc *csms.Service
	st  store.Store
	log *slog.Logger
	now func() time.Time
	mux *http.ServeMux

	// touched remembers when each token's last use was written, so that a
	// busy integration causes one store write a minute, not one a request.
	touchMu sync.Mutex
	touched map[int64]time.Time

	openAPIJSON []byte

	logins    *loginLimiter
	dummyHash []byte // compared against for unknown users

	closing   chan struct{} // closed by Close: live event streams end
	closeOnce sync.Once
}

// New returns an API.
func New(cfg Config) (*API, error) {
	if cfg.CSMS == nil {
		return nil, errors.New("api: a csms.Service is required")
	}
	if cfg.Store == nil {
		cfg.Store = cfg.CSMS.Store()
	}
	if cfg.Store == nil {
		return nil, errors.New("api: a store is required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.CommandTimeout <= 0 {
		cfg.CommandTimeout = 30 * time.Second
	}
	if cfg.EventPingInterval <= 0 {
		cfg.EventPingInterval = 15 * time.Second
	}
	if cfg.SessionTTL <= 0 {
		cfg.SessionTTL = DefaultSessionTTL
	}
	if cfg.PasswordCost == 0 {
		cfg.PasswordCost = bcrypt.DefaultCost
	}
	if cfg.LoginLimit <= 0 {
		cfg.LoginLimit = 10
	}
	if cfg.LoginWindow <= 0 {
		cfg.LoginWindow = 5 * time.Minute
	}
	if cfg.Location == nil {
		cfg.Location = time.Local
	}
	if cfg.MaxFirmwareSize <= 0 {
		cfg.MaxFirmwareSize = DefaultMaxFirmwareSize
	}
	dummy, err := bcrypt.GenerateFromPassword([]byte("wattson dummy password"), cfg.PasswordCost)
	if err != nil {
		return nil, fmt.Errorf("api: password cost: %w", err)
	}
	doc, err := openAPIToJSON(openAPIYAML)
	if err != nil {
		return nil, fmt.Errorf("api: the embedded OpenAPI document: %w", err)
	}
	a := &API{
		cfg:         cfg,
		svc:         cfg.CSMS,
		st:          cfg.Store,
		log:         cfg.Logger,
		now:         func() time.Time { return cfg.Now().UTC() },
		mux:         http.NewServeMux(),
		touched:     make(map[int64]time.Time),
		openAPIJSON: doc,
		closing:     make(chan struct{}),
		logins:      newLoginLimiter(cfg.LoginLimit, cfg.LoginWindow),
		dummyHash:   dummy,
	}
	if n := len(cfg.AdminToken); n > 0 && n < 16 {
		cfg.Logger.Warn("the admin token is short; use at least 16 random characters", "length", n)
	}
	for _, rt := range routes {
		a.mux.Handle(rt.Method+" "+Prefix+rt.Path, a.handler(rt))
	}
	return a, nil
}

// Close ends the live event streams, which would otherwise keep a graceful
// http.Server.Shutdown waiting: register it with RegisterOnShutdown. Other
// requests are not affected.
func (a *API) Close() {
	a.closeOnce.Do(func() { close(a.closing) })
}

// ServeHTTP serves the API. Requests for unknown paths or with a method a
// path does not allow get a problem document like every other error.
func (a *API) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "no-store")
	if _, pattern := a.mux.Handler(r); pattern != "" {
		a.mux.ServeHTTP(w, r)
		return
	}
	// Let the mux decide between 404, 405 and a redirect (a path to
	// clean), then answer 404 and 405 our way.
	rec := &statusRecorder{header: make(http.Header)}
	a.mux.ServeHTTP(rec, r)
	switch rec.status {
	case http.StatusMethodNotAllowed:
		h.Set("Allow", rec.header.Get("Allow"))
		a.writeError(w, r, &Error{Kind: KindMethodNotAllowed, Detail: fmt.Sprintf("%s is not allowed on %s; allowed: %s", r.Method, r.URL.Path, rec.header.Get("Allow"))})
	case http.StatusNotFound:
		a.writeError(w, r, &Error{Kind: KindNotFound, Detail: fmt.Sprintf("no such resource: %s", r.URL.Path)})
	default:
		for k, v := range rec.header {
			h[k] = v
		}
		w.WriteHeader(rec.status)
	}
}

// statusRecorder keeps what the mux's fallback handlers write.
type statusRecorder struct {
	header http.Header
	status int
}

func (s *statusRecorder) Header() http.Header { return s.header }
func (s *statusRecorder) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	return len(b), nil
}
func (s *statusRecorder) WriteHeader(code int) {
	if s.status == 0 {
		s.status = code
	}
}

// Role levels: a route names the weakest role that may use it.
type level int

const (
	public level = iota
	viewer
	operator
	admin
)

func (l level) String() string {
	switch l {
	case public:
		return "public"
	case viewer:
		return string(store.RoleViewer)
	case operator:
		return string(store.RoleOperator)
	case admin:
		return string(store.RoleAdmin)
	}
	return fmt.Sprintf("level(%d)", int(l))
}

func levelOf(r store.Role) level {
	switch r {
	case store.RoleViewer:
		return viewer
	case store.RoleOperator:
		return operator
	case store.RoleAdmin:
		return admin
	}
	return public
}

// route is one endpoint. The table below is the single list that both the
// mux and the OpenAPI test read.
type route struct {
	Method string
	Path   string // ServeMux pattern below Prefix
	Role   level
	Handle func(a *API, w http.ResponseWriter, r *http.Request) error
}

var routes = []route{
	{"GET", "/health", public, (*API).health},
	{"GET", "/openapi.yaml", public, (*API).openAPIYAMLDoc},
	{"GET", "/openapi.json", public, (*API).openAPIJSONDoc},

	// Dashboard login. POST and DELETE are public (logging in, and
	// clearing a cookie whose session may have ended); GET and the
	// password change need a session.
	{"POST", "/session", public, (*API).login},
	{"GET", "/session", viewer, (*API).getSession},
	{"DELETE", "/session", public, (*API).logout},
	{"PUT", "/session/password", viewer, (*API).changeOwnPassword},

	{"GET", "/overview", viewer, (*API).overview},

	{"GET", "/chargers", viewer, (*API).listChargers},
	{"GET", "/chargers/{id}", viewer, (*API).getCharger},
	{"PUT", "/chargers/{id}", admin, (*API).putCharger},
	{"DELETE", "/chargers/{id}", admin, (*API).deleteCharger},
	{"GET", "/chargers/{id}/connectors", viewer, (*API).listConnectors},
	{"GET", "/chargers/{id}/connectors/{connectorId}/history", viewer, (*API).connectorHistory},
	{"GET", "/chargers/{id}/meter-values/latest", viewer, (*API).latestMeterValues},
	{"GET", "/chargers/{id}/events", viewer, (*API).chargerEvents},
	// Frames may carry secrets (ChangeConfiguration of AuthorizationKey):
	// not for viewers.
	{"GET", "/chargers/{id}/log", operator, (*API).messageLog},
	{"POST", "/chargers/{id}/ocpp/{action}", operator, (*API).ocppCall},
	{"POST", "/chargers/{id}/start", operator, (*API).start},
	{"POST", "/chargers/{id}/stop", operator, (*API).stop},

	// Charging profiles (profiles.go).
	{"GET", "/chargers/{id}/charging-profiles", viewer, (*API).listChargingProfiles},
	{"POST", "/chargers/{id}/charging-profiles", operator, (*API).setChargingProfile},
	{"DELETE", "/chargers/{id}/charging-profiles", operator, (*API).clearChargingProfiles},
	{"GET", "/chargers/{id}/connectors/{connectorId}/composite-schedule", viewer, (*API).compositeSchedule},

	// Smart charging (smart.go).
	{"GET", "/smart-charging", viewer, (*API).smartStatus},
	{"GET", "/smart-charging/groups", viewer, (*API).listGroups},
	{"POST", "/smart-charging/groups", operator, (*API).createGroup},
	{"GET", "/smart-charging/groups/{group}", viewer, (*API).getGroup},
	{"PUT", "/smart-charging/groups/{group}", operator, (*API).putGroup},
	{"DELETE", "/smart-charging/groups/{group}", operator, (*API).deleteGroup},
	{"GET", "/smart-charging/groups/{group}/history", viewer, (*API).groupHistory},
	{"GET", "/smart-charging/connectors", viewer, (*API).listSettings},
	{"PUT", "/smart-charging/connectors/{id}/{connectorId}", operator, (*API).putSetting},
	{"DELETE", "/smart-charging/connectors/{id}/{connectorId}", operator, (*API).deleteSetting},
	{"GET", "/smart-charging/site-meter", viewer, (*API).getSiteMeter},
	{"PUT", "/smart-charging/site-meter", operator, (*API).putSiteMeter},
	{"GET", "/prices", viewer, (*API).listPrices},
	{"PUT", "/prices", operator, (*API).putPrices},

	{"GET", "/id-tags", viewer, (*API).listIDTags},
	{"GET", "/id-tags/{idTag}", viewer, (*API).getIDTag},
	{"PUT", "/id-tags/{idTag}", operator, (*API).putIDTag},
	{"DELETE", "/id-tags/{idTag}", operator, (*API).deleteIDTag},

	{"GET", "/transactions", viewer, (*API).listTransactions},
	{"GET", "/transactions.csv", viewer, (*API).exportTransactions},
	{"GET", "/transactions/{id}", viewer, (*API).getTransaction},

	{"GET", "/events", viewer, (*API).streamEvents},

	{"GET", "/tokens", admin, (*API).listTokens},
	{"POST", "/tokens", admin, (*API).createToken},
	{"DELETE", "/tokens/{id}", admin, (*API).deleteToken},

	{"GET", "/users", admin, (*API).listUsers},
	{"POST", "/users", admin, (*API).createUser},
	{"PUT", "/users/{username}", admin, (*API).putUser},
	{"DELETE", "/users/{username}", admin, (*API).deleteUser},

	{"POST", "/chargers/{id}/configuration/refresh", operator, (*API).refreshConfiguration},
	{"GET", "/chargers/{id}/configuration", operator, (*API).getConfiguration},
	{"POST", "/configuration/apply", operator, (*API).applyConfiguration},

	// Firmware (firmware.go). Files can be large: the upload streams.
	{"POST", "/firmware/files", operator, (*API).uploadFirmware},
	{"GET", "/firmware/files", viewer, (*API).listFirmwareFiles},
	{"GET", "/firmware/files/{file}", viewer, (*API).getFirmwareFile},
	{"GET", "/firmware/files/{file}/content", operator, (*API).firmwareContent},
	{"DELETE", "/firmware/files/{file}", operator, (*API).deleteFirmwareFile},
	{"POST", "/firmware/rollouts", operator, (*API).createRollout},
	{"GET", "/firmware/rollouts", viewer, (*API).listRollouts},
	{"GET", "/firmware/rollouts/{rollout}", viewer, (*API).getRollout},
	{"GET", "/firmware/rollouts/{rollout}/targets", viewer, (*API).rolloutTargets},
	{"POST", "/firmware/rollouts/{rollout}/pause", operator, rolloutAction("pause")},
	{"POST", "/firmware/rollouts/{rollout}/resume", operator, rolloutAction("resume")},
	{"POST", "/firmware/rollouts/{rollout}/cancel", operator, rolloutAction("cancel")},
	{"GET", "/chargers/{id}/firmware", viewer, (*API).chargerFirmware},

	// Diagnostics (diagnostics.go). Files may hold secrets: operators.
	{"POST", "/chargers/{id}/diagnostics", operator, (*API).requestDiagnostics},
	{"GET", "/chargers/{id}/diagnostics", viewer, (*API).listDiagnostics},
	{"GET", "/diagnostics", viewer, (*API).listDiagnostics},
	{"GET", "/diagnostics/{diag}", viewer, (*API).getDiagnostics},
	{"GET", "/diagnostics/{diag}/file", operator, (*API).diagnosticsFile},
	// Reservations (reservations.go).
	{"GET", "/reservations", viewer, (*API).listReservations},
	{"POST", "/reservations", operator, (*API).createReservation},
	{"GET", "/reservations/{id}", viewer, (*API).getReservation},
	{"DELETE", "/reservations/{id}", operator, (*API).cancelReservation},
	{"PUT", "/chargers/{id}/configuration/{key}", operator, (*API).changeKey},
	{"POST", "/configuration/refresh", operator, (*API).refreshConfigurations},
	{"GET", "/configuration", operator, (*API).configKeyAcross},
	{"GET", "/configuration/keys", operator, (*API).configKeys},
	// Local authorization lists (locallists.go).
	{"GET", "/local-lists", viewer, (*API).listLocalLists},
	{"POST", "/local-lists", operator, (*API).createLocalList},
	{"GET", "/local-lists/{list}", viewer, (*API).getLocalList},
	{"PUT", "/local-lists/{list}", operator, (*API).putLocalList},
	{"DELETE", "/local-lists/{list}", operator, (*API).deleteLocalList},
	{"GET", "/local-lists/{list}/members", viewer, (*API).listLocalListMembers},
	{"POST", "/local-lists/{list}/members", operator, (*API).changeLocalListMembers},
	{"PUT", "/local-lists/{list}/members/{idTag}", operator, (*API).addLocalListMember},
	{"DELETE", "/local-lists/{list}/members/{idTag}", operator, (*API).removeLocalListMember},
	{"GET", "/local-lists/{list}/chargers", viewer, (*API).listLocalListChargers},
	{"POST", "/local-lists/{list}/chargers", operator, (*API).changeLocalListChargers},
	{"POST", "/local-lists/{list}/sync", operator, (*API).syncLocalList},
	{"GET", "/chargers/{id}/local-list", viewer, (*API).getChargerLocalList},
	{"PUT", "/chargers/{id}/local-list", operator, (*API).putChargerLocalList},
	{"POST", "/chargers/{id}/local-list/sync", operator, (*API).syncChargerLocalList},
	{"POST", "/authorization-cache/clear", operator, (*API).clearCaches},
}

// handler wraps a route: authentication, the role check and writing the
// error a handler returns.
func (a *API) handler(rt route) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if rt.Role != public {
			p, err := a.authenticate(w, r)
			if err != nil {
				a.writeError(w, r, err)
				return
			}
			if p.level < rt.Role {
				a.writeError(w, r, &Error{Kind: KindForbidden, Detail: fmt.Sprintf("%s %s needs the %s role; %s", rt.Method, Prefix+rt.Path, rt.Role, p)})
				return
			}
			r = r.WithContext(context.WithValue(r.Context(), principalKey{}, p))
		}
		if err := rt.Handle(a, w, r); err != nil {
			a.writeError(w, r, err)
		}
	})
}

// health says the API is up; it is public, so it tells nothing more.
func (a *API) health(w http.ResponseWriter, r *http.Request) error {
	return writeJSON(w, http.StatusOK, map[string]any{"status": "ok", "time": a.now()})
}

func (a *API) openAPIYAMLDoc(w http.ResponseWriter, r *http.Request) error {
	w.Header().Set("Content-Type", "application/yaml")
	_, _ = w.Write(openAPIYAML)
	return nil
}

func (a *API) openAPIJSONDoc(w http.ResponseWriter, r *http.Request) error {
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(a.openAPIJSON)
	return nil
}
