package chargepoint

import (
	"context"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/wattson-csms/wattson/chargepoint/schedule"
	"github.com/wattson-csms/wattson/ocpp"
	"github.com/wattson-csms/wattson/ocpp/v16"
)

// Config configures a ChargePoint.
type Config struct {
	URL       string // central system base, e.g. ws://host:8180/ocpp/ ; the id is appended (URL-escaped)
	ID        string
	Password  string      // HTTP Basic (security profile 1/2), user = ID; "" = none
	TLSConfig *tls.Config // for wss://

	Vendor, Model, SerialNumber, FirmwareVersion string

	Connectors []ConnectorHardware // connector 1 is Connectors[0]
	MaxCurrent float64             // amps per phase the hardware allows (default 32)
	Phases     int                 // 1 or 3 (default 3), for charging-profile W→A conversion and NumberPhases

	DataDir string // where the offline queue, configuration, local list, cache persist; "" = in memory only
	Clock   Clock  // nil = RealClock
	Logger  *slog.Logger

	HTTPClient *http.Client // firmware download, diagnostics upload; nil = a client with timeouts
	// InstallFirmware installs a downloaded firmware file; nil pretends
	// (simulator): it succeeds after a short delay. It may call
	// SetFirmwareVersion to report the version the reboot will announce.
	InstallFirmware func(ctx context.Context, file string) error
	// DiagnosticsFile builds the file GetDiagnostics uploads; nil = a text
	// file with the charge point's recent log and status lines.
	DiagnosticsFile func(start, stop *time.Time) (name string, content []byte, err error)

	// DataTransfer answers a DataTransfer from the central system; nil
	// answers UnknownVendorId.
	DataTransfer func(ctx context.Context, req *v16.DataTransferRequest) (*v16.DataTransferResponse, error)
	// MinBackoff and MaxBackoff bound the reconnect delay, which doubles
	// after each failed attempt and is jittered; defaults 1 s and 5 min.
	MinBackoff, MaxBackoff time.Duration
	// Configuration gives configuration keys values other than the
	// defaults (read-only ones included, e.g. NumberOfConnectors is
	// computed but SupportedFeatureProfiles may be narrowed). Values
	// changed by the central system and persisted in DataDir win.
	Configuration map[string]string
	// CallTimeout bounds each CALL to the central system; default 30 s.
	CallTimeout time.Duration
	// LocalAddr, if set, is the source IP address to connect from (the
	// simulator spreads chargers over several loopback addresses).
	LocalAddr string
}

// ErrNoLock is what ConnectorHardware.Unlock returns when the connector has
// no cable lock (UnlockConnector is then answered NotSupported).
var ErrNoLock = errors.New("chargepoint: the connector has no cable lock")

// ChargePoint is an OCPP 1.6J charge point. Create it with New, drive it
// with the hardware event methods, and Run it.
//
// Hardware methods are never called while the charge point holds its lock,
// so a ConnectorHardware may call back into the ChargePoint.
type ChargePoint struct {
	cfg    Config
	log    *slog.Logger
	clock  Clock
	router *v16.Router
	httpc  *http.Client

	mu      sync.Mutex
	conf    map[string]string
	confSet map[string]bool // keys the central system set: persisted
	conns   []*connector    // [0] is the charge point itself; fixed length
	meters  []MeterReading  // read just before the lock was taken
	queue   *txQueue

	nextLocal    int         // next provisional transaction id (negative)
	idMap        map[int]int // provisional → real transaction ids still referenced by the queue
	reservations []*reservation
	profiles     []*installedProfile
	localList    map[string]authEntry
	listVersion  int
	cache        map[string]authEntry

	conn         *ocpp.Conn // open connection, nil when offline
	registration string
	needBoot     bool
	reconnectNow bool // a reboot asked for: reconnect without backoff
	outbox       []*outMsg
	fwStatus     v16.FirmwareStatus
	diagStatus   v16.DiagnosticsStatus
	fwVersion    string
	journal      []journalLine
	fwBusy       bool
	nextAligned  time.Time

	running bool
	runCtx  context.Context
	bg      sync.WaitGroup

	hwQ        []func()
	hwDraining bool

	wake, hkWake, hbWake, bootWake, fwWake chan struct{}
}

// New returns a charge point. With a DataDir it recovers what the last run
// left there: configuration, local list and cache, charging profiles,
// reservations, availability, and the offline queue. A transaction that was
// running when the last run ended (a power loss, from the charger's point
// of view) is stopped with reason PowerLoss at its last known meter value
// or the hardware's current one, whichever is higher.
func New(cfg Config) (*ChargePoint, error) {
	if cfg.URL == "" || cfg.ID == "" {
		return nil, errors.New("chargepoint: URL and ID are required")
	}
	if len(cfg.Connectors) == 0 {
		return nil, errors.New("chargepoint: at least one connector is required")
	}
	for i, hw := range cfg.Connectors {
		if hw == nil {
			return nil, fmt.Errorf("chargepoint: connector %d has no hardware", i+1)
		}
	}
	if cfg.MaxCurrent <= 0 {
		cfg.MaxCurrent = 32
	}
	if cfg.Phases != 1 {
		cfg.Phases = 3
	}
	if cfg.Clock == nil {
		cfg.Clock = RealClock
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.MinBackoff <= 0 {
		cfg.MinBackoff = time.Second
	}
	if cfg.MaxBackoff < cfg.MinBackoff {
		cfg.MaxBackoff = max(5*time.Minute, cfg.MinBackoff)
	}
	if cfg.CallTimeout <= 0 {
		cfg.CallTimeout = ocpp.DefaultCallTimeout
	}
	if cfg.Vendor == "" {
		cfg.Vendor = "Wattson"
	}
	if cfg.Model == "" {
		cfg.Model = "Charge point"
	}
	httpc := cfg.HTTPClient
	if httpc == nil {
		httpc = &http.Client{Timeout: 10 * time.Minute}
	}
	cp := &ChargePoint{
		cfg:        cfg,
		log:        cfg.Logger.With("chargePoint", cfg.ID),
		clock:      cfg.Clock,
		httpc:      httpc,
		nextLocal:  -1,
		idMap:      map[int]int{},
		localList:  map[string]authEntry{},
		cache:      map[string]authEntry{},
		fwStatus:   v16.FirmwareStatusIdle,
		diagStatus: v16.DiagnosticsStatusIdle,
		fwVersion:  cfg.FirmwareVersion,
		needBoot:   true,
		wake:       make(chan struct{}, 1),
		hkWake:     make(chan struct{}, 1),
		hbWake:     make(chan struct{}, 1),
		bootWake:   make(chan struct{}, 1),
		fwWake:     make(chan struct{}, 1),
	}
	cp.conns = make([]*connector, len(cfg.Connectors)+1)
	cp.conns[0] = &connector{id: 0}
	for i, hw := range cfg.Connectors {
		cp.conns[i+1] = &connector{id: i + 1, hw: hw}
	}
	if cfg.DataDir != "" {
		if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
			return nil, fmt.Errorf("chargepoint: %w", err)
		}
	}
	if err := cp.loadConfig(); err != nil {
		return nil, err
	}
	q, err := openQueue(cp.path("queue.log"))
	if err != nil {
		return nil, err
	}
	cp.queue = q
	if err := cp.loadAuth(); err != nil {
		return nil, err
	}
	cp.lock()
	defer cp.unlock()
	if err := cp.loadStateLocked(); err != nil {
		return nil, err
	}
	now := cp.clock.Now()
	for _, c := range cp.conns {
		c.status, c.statusCode, c.statusInfo = cp.deriveLocked(c)
		if c.id > 0 {
			cp.applyLimitLocked(c, now, true)
		}
	}
	cp.router = cp.newRouter()
	return cp, nil
}

func (cp *ChargePoint) path(name string) string {
	if cp.cfg.DataDir == "" {
		return ""
	}
	return filepath.Join(cp.cfg.DataDir, name)
}

func (cp *ChargePoint) elec() schedule.Electrical {
	return schedule.Electrical{Phases: cp.cfg.Phases, Voltage: 230}
}

// lock reads the meters, then takes the lock. Meters are read outside the
// lock so that hardware may call back into the charge point.
func (cp *ChargePoint) lock() {
	m := make([]MeterReading, len(cp.conns))
	for i, hw := range cp.cfg.Connectors {
		m[i+1] = hw.Meter()
	}
	cp.mu.Lock()
	cp.meters = m
}

// unlock releases the lock and then runs the hardware actions decided
// under it, in order. A hardware call that calls back into the charge
// point only queues more actions, which the running drain picks up.
func (cp *ChargePoint) unlock() {
	if cp.hwDraining {
		cp.mu.Unlock()
		return
	}
	cp.hwDraining = true
	for len(cp.hwQ) > 0 {
		a := cp.hwQ[0]
		cp.hwQ = cp.hwQ[1:]
		cp.mu.Unlock()
		a()
		cp.mu.Lock()
	}
	cp.hwQ = nil
	cp.hwDraining = false
	cp.mu.Unlock()
}

func signal(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

func (cp *ChargePoint) poke()            { signal(cp.wake) }
func (cp *ChargePoint) pokeHousekeeper() { signal(cp.hkWake) }
func (cp *ChargePoint) pokeHeartbeat()   { signal(cp.hbWake) }
func (cp *ChargePoint) pokeFirmware()    { signal(cp.fwWake) }

// spawnLocked runs fn in a goroutine that Run waits for; it does nothing
// when the charge point is not running.
func (cp *ChargePoint) spawnLocked(fn func(ctx context.Context)) bool {
	if !cp.running {
		return false
	}
	ctx := cp.runCtx
	cp.bg.Add(1)
	go func() {
		defer cp.bg.Done()
		fn(ctx)
	}()
	return true
}

// journalLine is a line of the log the diagnostics file contains.
type journalLine struct {
	at  time.Time
	msg string
}

const maxJournal = 2000

// journalLocked keeps a line for the diagnostics file.
func (cp *ChargePoint) journalLocked(format string, args ...any) {
	if len(cp.journal) >= maxJournal {
		cp.journal = append(cp.journal[:0], cp.journal[len(cp.journal)-maxJournal*9/10:]...)
	}
	cp.journal = append(cp.journal, journalLine{at: cp.clock.Now().UTC(), msg: fmt.Sprintf(format, args...)})
}

func (cp *ChargePoint) connector(id int) *connector {
	if id < 1 || id >= len(cp.conns) {
		return nil
	}
	return cp.conns[id]
}

// online reports whether messages other than BootNotification may be sent.
func (cp *ChargePoint) onlineLocked() bool {
	return cp.conn != nil && cp.registration == string(v16.RegistrationStatusAccepted) && !cp.needBoot
}

// ---- Hardware and driver events ----

// Plug reports that a cable was connected: Preparing, or the start of a
// transaction that was authorized before.
func (cp *ChargePoint) Plug(connector int) {
	cp.lock()
	defer cp.unlock()
	c := cp.connector(connector)
	if c == nil || c.plugged {
		return
	}
	c.plugged = true
	cp.journalLocked("connector %d plugged", connector)
	if c.tx == nil && c.pending != nil {
		cp.startTxLocked(c)
	}
	cp.refreshLocked(c, false)
}

// Unplug reports that the cable was removed: a running transaction stops
// with reason EVDisconnected (unless StopTransactionOnEVSideDisconnect is
// false), then Available.
func (cp *ChargePoint) Unplug(connector int) {
	cp.lock()
	defer cp.unlock()
	c := cp.connector(connector)
	if c == nil || !c.plugged {
		return
	}
	c.plugged, c.evCharging = false, false
	cp.journalLocked("connector %d unplugged", connector)
	if c.tx != nil && cp.confBoolLocked(keyStopTransactionOnEVSideDisc) {
		cp.stopTxLocked(c, v16.ReasonEVDisconnected, "")
	}
	c.finishing = false
	if cp.confBoolLocked(keyUnlockConnectorOnEVSideDisc) {
		hw := c.hw
		cp.hwQ = append(cp.hwQ, func() { _ = hw.Unlock() })
	}
	cp.refreshLocked(c, false)
}

// PresentTag reports an RFID tag at a connector. Without a transaction the
// tag is authorized (local list, cache or Authorize) and the transaction
// starts when the cable is in; the same tag, or one with the same parent,
// during a transaction stops it (reason Local).
func (cp *ChargePoint) PresentTag(connector int, idTag string) {
	cp.lock()
	defer cp.unlock()
	c := cp.connector(connector)
	if c == nil || idTag == "" || len([]rune(idTag)) > 20 {
		return
	}
	cp.journalLocked("connector %d tag %s presented", connector, idTag)
	if c.authorizing {
		// A reader holds a few swipes; more are dropped like extra taps.
		if len(c.tags) < 4 {
			c.tags = append(c.tags, idTag)
		}
		return
	}
	cp.presentTagLocked(c, idTag)
	cp.nextTagLocked(c)
}

// presentTagLocked handles one presented tag: it stops the connector's
// transaction when the tag (or one with the same parent) started it, and
// otherwise authorizes the tag for a start.
func (cp *ChargePoint) presentTagLocked(c *connector, idTag string) {
	if c.tx != nil && c.tx.IDTag == idTag {
		cp.stopTxLocked(c, v16.ReasonLocal, idTag)
		return
	}
	if c.tx == nil && !cp.canStartLocked(c) {
		return
	}
	c.authorizing = true
	cp.authorizeLocked(idTag, func(info v16.IDTagInfo) {
		c.authorizing = false
		defer cp.nextTagLocked(c)
		if tx := c.tx; tx != nil {
			if tx.IDTag == idTag || (info.ParentIDTag != "" && info.ParentIDTag == tx.ParentIDTag) {
				cp.stopTxLocked(c, v16.ReasonLocal, idTag)
			}
			return
		}
		if info.Status != v16.AuthorizationStatusAccepted {
			cp.journalLocked("connector %d tag %s not authorized: %s", c.id, idTag, info.Status)
			return
		}
		resID, ok := cp.reservationAllowsLocked(c, idTag, info.ParentIDTag)
		if !ok {
			cp.journalLocked("connector %d is reserved for another tag", c.id)
			return
		}
		cp.authorizedLocked(c, &pendingAuth{idTag: idTag, parent: info.ParentIDTag, reservationID: resID})
	})
}

// nextTagLocked handles the tags that waited, in order, until one needs
// an answer from the central system.
func (cp *ChargePoint) nextTagLocked(c *connector) {
	for !c.authorizing && len(c.tags) > 0 {
		t := c.tags[0]
		c.tags = c.tags[1:]
		cp.presentTagLocked(c, t)
	}
}

// EVCharging reports whether the EV draws current (Charging) or not
// (SuspendedEV).
func (cp *ChargePoint) EVCharging(connector int, charging bool) {
	cp.lock()
	defer cp.unlock()
	c := cp.connector(connector)
	if c == nil || c.evCharging == charging {
		return
	}
	c.evCharging = charging
	cp.refreshLocked(c, false)
}

// Fault reports a fault with a ChargePointErrorCode (Faulted); errorCode ""
// (or NoError) clears it. Connector 0 is the whole charge point.
func (cp *ChargePoint) Fault(connector int, errorCode, info string) {
	cp.lock()
	defer cp.unlock()
	if connector < 0 || connector >= len(cp.conns) {
		return
	}
	c := cp.conns[connector]
	code := v16.ChargePointErrorCode(errorCode)
	if code == v16.ChargePointErrorCodeNoError {
		code = ""
	}
	if code != "" && !code.Valid() {
		code = v16.ChargePointErrorCodeOtherError
		if info == "" {
			info = errorCode
		}
	}
	c.fault, c.faultInfo = code, info
	if code == "" {
		c.faultInfo = ""
	}
	if connector == 0 {
		cp.refreshAllLocked(false)
		return
	}
	cp.refreshLocked(c, false)
}

// SetFirmwareVersion sets the version the next BootNotification reports;
// an InstallFirmware hook calls it when the new firmware is in place.
func (cp *ChargePoint) SetFirmwareVersion(v string) {
	cp.mu.Lock()
	cp.fwVersion = v
	cp.mu.Unlock()
}

// ---- Observation ----

// DropConnection closes the current connection as a network failure
// would; Run reconnects with its backoff. The simulator uses it for
// connection-loss faults.
func (cp *ChargePoint) DropConnection() {
	cp.mu.Lock()
	c := cp.conn
	cp.mu.Unlock()
	if c != nil {
		_ = c.Close()
	}
}

// Connected reports whether a connection to the central system is open.
func (cp *ChargePoint) Connected() bool {
	cp.mu.Lock()
	defer cp.mu.Unlock()
	return cp.conn != nil
}

// Registration returns the answer to the last BootNotification: "",
// Accepted, Pending or Rejected.
func (cp *ChargePoint) Registration() string {
	cp.mu.Lock()
	defer cp.mu.Unlock()
	return cp.registration
}

// Status returns the OCPP ChargePointStatus of a connector; connector 0 is
// the charge point. An unknown connector is "".
func (cp *ChargePoint) Status(connector int) string {
	cp.mu.Lock()
	defer cp.mu.Unlock()
	if connector < 0 || connector >= len(cp.conns) {
		return ""
	}
	return string(cp.conns[connector].status)
}

// Transaction returns the id of the transaction running on a connector:
// the central system's id once StartTransaction was answered, a negative
// provisional id before.
func (cp *ChargePoint) Transaction(connector int) (id int, ok bool) {
	cp.mu.Lock()
	defer cp.mu.Unlock()
	c := cp.connector(connector)
	if c == nil || c.tx == nil {
		return 0, false
	}
	return c.tx.publicID(), true
}

// CurrentLimit returns the amps per phase in force from the charging
// profiles, capped at MaxCurrent (MaxCurrent when none applies). Connector
// 0 reports the ChargePointMaxProfile.
func (cp *ChargePoint) CurrentLimit(connector int) float64 {
	cp.mu.Lock()
	defer cp.mu.Unlock()
	if c := cp.connector(connector); c != nil {
		return c.limit
	}
	if connector == 0 {
		amps, ok, _ := cp.profileSetLocked(0).Limit(cp.elec(), cp.clock.Now())
		if ok && amps < cp.cfg.MaxCurrent {
			return max(amps, 0)
		}
		return cp.cfg.MaxCurrent
	}
	return 0
}

// Configuration returns a configuration key's value.
func (cp *ChargePoint) Configuration(key string) (string, bool) {
	cp.mu.Lock()
	defer cp.mu.Unlock()
	k := findKey(key)
	if k == nil {
		return "", false
	}
	return cp.conf[k.name], true
}

// QueueLength returns how many transaction messages wait for delivery.
func (cp *ChargePoint) QueueLength() int {
	cp.mu.Lock()
	defer cp.mu.Unlock()
	return len(cp.queue.items)
}

// ---- Running ----

// Run connects, boots and serves until ctx ends, reconnecting with
// exponential backoff and jitter. It returns nil when ctx ends; every
// goroutine it started has ended by then.
func (cp *ChargePoint) Run(ctx context.Context) error {
	cp.mu.Lock()
	if cp.running {
		cp.mu.Unlock()
		return errors.New("chargepoint: already running")
	}
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	cp.running, cp.runCtx = true, runCtx
	// An authorization cut short by the end of an earlier run must not
	// hold the card reader.
	for _, c := range cp.conns {
		c.authorizing, c.tags = false, nil
	}
	cp.needBoot, cp.registration = true, ""
	cp.mu.Unlock()

	var wg sync.WaitGroup
	wg.Go(func() { cp.housekeeper(runCtx) })
	wg.Go(func() { cp.sender(runCtx) })
	cp.connectLoop(runCtx)
	cancel()

	cp.mu.Lock()
	cp.running = false
	cp.mu.Unlock()
	cp.bg.Wait()
	wg.Wait()
	return nil
}

func (cp *ChargePoint) connectLoop(ctx context.Context) {
	backoff := cp.cfg.MinBackoff
	for ctx.Err() == nil {
		conn, err := cp.dial(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			cp.log.Info("connecting failed", "err", err, "retryIn", backoff)
			if !sleepReal(ctx, jitter(backoff)) {
				return
			}
			backoff = min(backoff*2, cp.cfg.MaxBackoff)
			continue
		}
		if cp.session(ctx, conn) {
			backoff = cp.cfg.MinBackoff
		}
		cp.mu.Lock()
		now := cp.reconnectNow
		cp.reconnectNow = false
		cp.mu.Unlock()
		if !now && !sleepReal(ctx, jitter(backoff)) {
			return
		}
	}
}

// jitter spreads d over [d/2, d], so a fleet does not reconnect at once.
func jitter(d time.Duration) time.Duration {
	if d <= 1 {
		return d
	}
	return d/2 + rand.N(d/2+1)
}

func sleepReal(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// sleepClock waits d of the charge point's clock, or until wake or ctx.
func (cp *ChargePoint) sleepClock(ctx context.Context, d time.Duration, wake <-chan struct{}) bool {
	if d < 0 {
		select {
		case <-wake:
			return true
		case <-ctx.Done():
			return false
		}
	}
	t := cp.clock.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C():
		return true
	case <-wake:
		return true
	case <-ctx.Done():
		return false
	}
}

func (cp *ChargePoint) endpoint() string {
	base := cp.cfg.URL
	if !strings.HasSuffix(base, "/") {
		base += "/"
	}
	return base + url.PathEscape(cp.cfg.ID)
}

func (cp *ChargePoint) dial(ctx context.Context) (*ocpp.Conn, error) {
	cp.mu.Lock()
	ping := time.Duration(cp.confIntLocked(keyWebSocketPingInterval)) * time.Second
	cp.mu.Unlock()
	if ping <= 0 {
		ping = -1
	}
	var hdr http.Header
	if cp.cfg.Password != "" {
		hdr = http.Header{}
		hdr.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(cp.cfg.ID+":"+cp.cfg.Password)))
	}
	dctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	return ocpp.Dial(dctx, cp.endpoint(), ocpp.DialOptions{
		Subprotocols: []ocpp.Subprotocol{{Name: "ocpp1.6", Handler: cp.router}},
		Header:       hdr,
		TLSConfig:    cp.cfg.TLSConfig,
		LocalAddr:    cp.cfg.LocalAddr,
		Options: ocpp.Options{
			PingInterval: ping,
			CallTimeout:  cp.cfg.CallTimeout,
			Logger:       cp.log,
		},
	})
}

// session serves one connection until it closes or ctx ends. It reports
// whether the charge point was accepted on it.
func (cp *ChargePoint) session(ctx context.Context, conn *ocpp.Conn) bool {
	stop := context.AfterFunc(ctx, func() { _ = conn.Close() })
	defer stop()
	defer conn.Close()
	cctx := conn.Context()

	cp.mu.Lock()
	cp.conn = conn
	boot := cp.needBoot || cp.registration != string(v16.RegistrationStatusAccepted)
	cp.journalLocked("connected to %s", cp.endpoint())
	cp.mu.Unlock()
	cp.log.Info("connected", "url", cp.endpoint())
	defer func() {
		cp.mu.Lock()
		if cp.conn == conn {
			cp.conn = nil
		}
		cp.journalLocked("disconnected")
		cp.mu.Unlock()
		cp.poke()
	}()
	if boot && !cp.bootLoop(cctx, conn) {
		return false
	}
	cp.poke()
	cp.heartbeats(cctx, conn)
	return true
}

func (cp *ChargePoint) bootRequest() *v16.BootNotificationRequest {
	cp.mu.Lock()
	defer cp.mu.Unlock()
	trunc := func(s string, n int) string {
		if r := []rune(s); len(r) > n {
			return string(r[:n])
		}
		return s
	}
	return &v16.BootNotificationRequest{
		ChargePointVendor:       trunc(cp.cfg.Vendor, 20),
		ChargePointModel:        trunc(cp.cfg.Model, 20),
		ChargePointSerialNumber: trunc(cp.cfg.SerialNumber, 25),
		FirmwareVersion:         trunc(cp.fwVersion, 50),
	}
}

// bootLoop sends BootNotification until accepted, honouring Pending and
// Rejected with the interval the central system gave.
func (cp *ChargePoint) bootLoop(ctx context.Context, conn *ocpp.Conn) bool {
	for {
		resp, err := v16.CallBootNotification(ctx, conn, cp.bootRequest())
		if err != nil {
			if ctx.Err() != nil {
				return false
			}
			cp.log.Warn("BootNotification failed", "err", err)
			if !sleepReal(ctx, 10*time.Second) {
				return false
			}
			continue
		}
		if cp.bootAnswered(resp) {
			return true
		}
		wait := time.Duration(resp.Interval) * time.Second
		if wait <= 0 {
			wait = 30 * time.Second
		}
		if !cp.sleepClock(ctx, wait, cp.bootWake) {
			return false
		}
	}
}

// bootAnswered records a BootNotification answer; true when accepted.
func (cp *ChargePoint) bootAnswered(resp *v16.BootNotificationResponse) bool {
	cp.lock()
	defer cp.unlock()
	cp.registration = string(resp.Status)
	cp.journalLocked("boot: %s, interval %d", resp.Status, resp.Interval)
	if resp.Status != v16.RegistrationStatusAccepted {
		return false
	}
	if resp.Interval > 0 {
		cp.conf[keyHeartbeatInterval] = strconv.Itoa(resp.Interval)
		cp.confSet[keyHeartbeatInterval] = true
		if err := cp.saveConfigLocked(); err != nil {
			cp.log.Warn("saving configuration", "err", err)
		}
		cp.pokeHeartbeat()
	}
	if cp.needBoot {
		cp.needBoot = false
		// After a (re)boot the central system learns every status again.
		for _, c := range cp.conns {
			cp.statusOutLocked(c, cp.clock.Now())
		}
	}
	cp.poke()
	return true
}

func (cp *ChargePoint) heartbeats(ctx context.Context, conn *ocpp.Conn) {
	for {
		cp.mu.Lock()
		iv := time.Duration(cp.confIntLocked(keyHeartbeatInterval)) * time.Second
		cp.mu.Unlock()
		var t Timer
		var fire <-chan time.Time
		if iv > 0 {
			t = cp.clock.NewTimer(iv)
			fire = t.C()
		}
		select {
		case <-fire:
			if _, err := v16.CallHeartbeat(ctx, conn, &v16.HeartbeatRequest{}); err != nil && ctx.Err() == nil {
				cp.log.Info("heartbeat failed", "err", err)
			}
		case <-cp.hbWake:
		case <-ctx.Done():
		}
		if t != nil {
			t.Stop()
		}
		if ctx.Err() != nil {
			return
		}
	}
}

// reboot closes the connection and boots again on the next one, as after
// a reset or a firmware installation.
func (cp *ChargePoint) rebootLocked() {
	cp.needBoot = true
	cp.reconnectNow = true
	cp.registration = ""
	cp.journalLocked("rebooting")
	if c := cp.conn; c != nil {
		// Close writes a frame: after the lock is released.
		cp.hwQ = append(cp.hwQ, func() { _ = c.Close() })
	}
}
