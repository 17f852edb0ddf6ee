// Package manager runs smart charging for a deployment: it keeps the
// allocator (package smartcharging) fed with what chargers report — status,
// transactions, the current each car draws per phase — and with the groups,
// connector settings, prices and site meter readings, runs it on every
// relevant event and on a timer, and applies its decisions to chargers with
// SetChargingProfile.
//
// Profiles: a connector without a transaction gets a TxDefaultProfile, one
// with a transaction a TxProfile for it, both in amperes at the reserved
// stack level (Config.StackLevel) and with charging profile ids reserved for
// smart charging (Config.ProfileIDBase), so an operator's profiles at other
// stack levels are never replaced. A connector that leaves its group gets
// both cleared. A charger that refuses a profile is marked unmanaged: its
// worst case is counted against every group above it and an alert is
// raised, until it boots again or its setting is saved again.
//
// One instance runs per deployment: the manager takes a lease in the store
// and only the holder sends profiles.
package manager

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/wattson-csms/wattson/events"
	"github.com/wattson-csms/wattson/smartcharging"
	"github.com/wattson-csms/wattson/store"
)

// Commander sends an OCPP 1.6 action to a charger and returns its answer:
// csms.Service.Call.
type Commander interface {
	Call(ctx context.Context, chargerID, action string, payload []byte) ([]byte, error)
}

// Event types the manager publishes.
const (
	EventRound = "smartcharging.round" // groups' limit, allocated, drawn
	EventLimit = "smartcharging.limit" // a limit a charger accepted
	EventAlert = "smartcharging.alert" // a new alert
)

// LeaseName is the store lease the manager holds.
const LeaseName = "smart-charging"

// Config configures a Manager.
type Config struct {
	Store    store.Store
	Events   *events.Bus
	Commands Commander
	Logger   *slog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Alloc tunes the allocator; zero fields take its defaults.
	Alloc smartcharging.Config
	// Interval is how often the allocator runs without events (real
	// time); default 10 s.
	Interval time.Duration
	// Debounce is the least time between two rounds (real time), so a
	// burst of events costs one round; default 250 ms.
	Debounce time.Duration
	// StackLevel is the stack level of smart charging's profiles; default
	// 8. Operators' profiles at other levels are left alone.
	StackLevel int
	// ProfileIDBase: connector n gets TxDefaultProfile id base+n and
	// TxProfile id base+1000+n; default 880000.
	ProfileIDBase int
	// Holder names this instance for the lease; default host:pid.
	Holder   string
	LeaseTTL time.Duration // default 30 s
	// SiteMeterMaxAge: an older site meter reading counts as no surplus;
	// default 5 minutes (in Now's time).
	SiteMeterMaxAge time.Duration
	// Location is the time zone of the price day and of ReadyBy; default
	// time.Local.
	Location *time.Location
	// CallTimeout bounds one SetChargingProfile; default 30 s.
	CallTimeout time.Duration
	// Parallel bounds the profiles in flight at once; default 64.
	Parallel int
	// HistoryEvery and HistoryLen: one chart point per group every
	// HistoryEvery (Now's time, default 10 s), the last HistoryLen kept
	// (default 720).
	HistoryEvery time.Duration
	HistoryLen   int
	// ResyncEvery: statuses and transactions are read back from the store
	// this often (real time), repairing events the bus dropped; default 5
	// minutes.
	ResyncEvery time.Duration
}

func (c *Config) defaults() error {
	if c.Store == nil || c.Commands == nil {
		return errors.New("smart charging: a store and a commander are required")
	}
	if c.Events == nil {
		c.Events = &events.Bus{}
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	setD := func(p *time.Duration, d time.Duration) {
		if *p <= 0 {
			*p = d
		}
	}
	setD(&c.Interval, 10*time.Second)
	setD(&c.Debounce, 250*time.Millisecond)
	setD(&c.LeaseTTL, 30*time.Second)
	setD(&c.SiteMeterMaxAge, 5*time.Minute)
	setD(&c.CallTimeout, 30*time.Second)
	setD(&c.HistoryEvery, 10*time.Second)
	setD(&c.ResyncEvery, 5*time.Minute)
	if c.StackLevel <= 0 {
		c.StackLevel = 8
	}
	if c.ProfileIDBase <= 0 {
		c.ProfileIDBase = 880000
	}
	if c.Holder == "" {
		host, _ := os.Hostname()
		c.Holder = host + ":" + strconv.Itoa(os.Getpid())
	}
	if c.Location == nil {
		c.Location = time.Local
	}
	if c.Parallel <= 0 {
		c.Parallel = 64
	}
	if c.HistoryLen <= 0 {
		c.HistoryLen = 720
	}
	return nil
}

// Manager runs smart charging. Create it with New and run Run.
type Manager struct {
	cfg   Config
	st    store.Store
	log   *slog.Logger
	now   func() time.Time
	alloc smartcharging.Config

	wake   chan struct{} // a round is wanted
	reload chan struct{} // settings changed
	sem    chan struct{} // sends in flight

	mu       sync.Mutex
	leader   bool
	groups   []store.ChargingGroup
	tree     *smartcharging.Tree
	treeErr  error
	settings map[smartcharging.ConnectorID]store.ConnectorSetting
	managed  map[string]bool // chargers with a managed connector
	live     map[smartcharging.ConnectorID]*live
	prices   []smartcharging.PriceSlot
	site     *SiteReading
	prev     *smartcharging.Result
	lastRun  time.Time
	alerts   map[string]smartcharging.Alert // by kind+subject, for new-alert events
	history  map[string][]Point
	plans    map[smartcharging.ConnectorID]planInfo
	leaving  map[smartcharging.ConnectorID]bool // settings deleted, profiles to clear
	sending  sync.WaitGroup
}

// SiteReading is the site meter's last reading.
type SiteReading struct {
	SurplusW float64   `json:"surplusW"`
	At       time.Time `json:"at"`
	Source   string    `json:"source"`
}

// Point is one chart point of a group.
type Point struct {
	At         time.Time  `json:"at"`
	LimitA     [3]float64 `json:"limitA"`
	AllocatedA [3]float64 `json:"allocatedA"`
	DrawnA     [3]float64 `json:"drawnA"`
}

// sent is a profile sent to a connector.
type sent struct {
	limit     float64
	at        time.Time
	confirmed bool
	tx        int64 // TxProfile: its transaction; 0 for TxDefaultProfile
}

// live is what the manager knows of a managed connector.
type live struct {
	status     string
	tx         int64 // active transaction, 0 if none
	meterStart float64
	registerWh float64
	measured   smartcharging.PerPhase
	seenPhase  smartcharging.Phases // phases with a real draw this transaction
	measuredAt time.Time
	def        *sent // TxDefaultProfile in force
	txp        *sent // TxProfile for tx
	inflight   bool
	// noTxProfile: the charger refused a TxProfile in this transaction;
	// it gets TxDefaultProfiles instead.
	noTxProfile bool
	unmanaged   bool
	reason      string
}

// effective is the limit the charger runs on, as far as the manager knows.
func (l *live) effective() *sent {
	if l.tx != 0 && l.txp != nil && l.txp.tx == l.tx {
		return l.txp
	}
	return l.def
}

// New returns a Manager.
func New(cfg Config) (*Manager, error) {
	if err := cfg.defaults(); err != nil {
		return nil, err
	}
	m := &Manager{
		cfg:      cfg,
		st:       cfg.Store,
		log:      cfg.Logger,
		now:      func() time.Time { return cfg.Now().UTC() },
		alloc:    cfg.Alloc,
		wake:     make(chan struct{}, 1),
		reload:   make(chan struct{}, 1),
		sem:      make(chan struct{}, cfg.Parallel),
		settings: map[smartcharging.ConnectorID]store.ConnectorSetting{},
		managed:  map[string]bool{},
		live:     map[smartcharging.ConnectorID]*live{},
		alerts:   map[string]smartcharging.Alert{},
		history:  map[string][]Point{},
		plans:    map[smartcharging.ConnectorID]planInfo{},
		leaving:  map[smartcharging.ConnectorID]bool{},
	}
	return m, nil
}

// StackLevel is the stack level reserved for smart charging's profiles.
func (m *Manager) StackLevel() int { return m.cfg.StackLevel }

// Reload makes the manager read groups, settings and prices again and run:
// call it after changing them in the store.
func (m *Manager) Reload() {
	select {
	case m.reload <- struct{}{}:
	default:
	}
}

// Wake asks for a round soon.
func (m *Manager) Wake() {
	select {
	case m.wake <- struct{}{}:
	default:
	}
}

// SetSiteMeter records a site meter reading: the surplus power in W the
// site exports (negative: it imports).
func (m *Manager) SetSiteMeter(surplusW float64, at time.Time, source string) {
	m.mu.Lock()
	m.site = &SiteReading{SurplusW: surplusW, At: at.UTC(), Source: source}
	m.mu.Unlock()
	m.Wake()
}

// SiteMeter returns the last site meter reading, or nil.
func (m *Manager) SiteMeter() *SiteReading {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.site == nil {
		return nil
	}
	r := *m.site
	return &r
}

// Run runs the manager until ctx ends: it follows events at once, and takes
// the lease and allocates while it holds it.
func (m *Manager) Run(ctx context.Context) {
	sub := m.cfg.Events.Subscribe("", 1<<16)
	defer sub.Close()
	lease := time.NewTicker(m.cfg.LeaseTTL / 3)
	defer lease.Stop()
	tick := time.NewTicker(m.cfg.Interval)
	defer tick.Stop()
	resync := time.NewTicker(m.cfg.ResyncEvery)
	defer resync.Stop()
	var debounce <-chan time.Time
	var lastRound time.Time
	pending := false

	m.takeLease(ctx)
	defer func() {
		m.sending.Wait()
		m.mu.Lock()
		leader := m.leader
		m.leader = false
		m.mu.Unlock()
		if leader {
			bg, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			defer cancel()
			if err := m.st.ReleaseLease(bg, LeaseName, m.cfg.Holder); err != nil {
				m.log.Warn("smart charging: releasing the lease", "err", err)
			}
		}
	}()
	if m.isLeader() {
		m.load(ctx)
		pending = true
	}
	for {
		if pending && debounce == nil {
			wait := m.cfg.Debounce - time.Since(lastRound)
			debounce = time.After(max(wait, 0))
		}
		select {
		case <-ctx.Done():
			return
		case e, ok := <-sub.C:
			if !ok {
				return
			}
			if m.observe(e) {
				pending = true
			}
		case <-m.wake:
			pending = true
		case <-m.reload:
			if m.isLeader() {
				m.loadConfig(ctx)
			}
			pending = true
		case <-tick.C:
			pending = true
		case <-resync.C:
			if m.isLeader() {
				m.load(ctx)
			}
		case <-lease.C:
			was := m.isLeader()
			m.takeLease(ctx)
			if !was && m.isLeader() {
				m.load(ctx)
				pending = true
			}
		case <-debounce:
			debounce = nil
			pending = false
			lastRound = time.Now()
			if m.isLeader() {
				m.round(ctx)
			}
		}
	}
}

func (m *Manager) isLeader() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.leader
}

func (m *Manager) takeLease(ctx context.Context) {
	ok, err := m.st.TryLease(ctx, LeaseName, m.cfg.Holder, m.now(), m.cfg.LeaseTTL)
	if err != nil {
		if ctx.Err() == nil {
			m.log.Warn("smart charging: taking the lease", "err", err)
		}
		ok = false
	}
	m.mu.Lock()
	changed := ok != m.leader
	m.leader = ok
	m.mu.Unlock()
	if changed {
		if ok {
			m.log.Info("smart charging: this instance runs the allocator", "holder", m.cfg.Holder)
		} else {
			m.log.Info("smart charging: another instance runs the allocator")
		}
	}
}

// load reads everything: configuration, prices, what was last sent, and the
// current state of the managed connectors.
func (m *Manager) load(ctx context.Context) {
	m.loadConfig(ctx)
	limits, err := m.st.ListConnectorLimits(ctx)
	if err != nil {
		m.log.Error("smart charging: reading limits", "err", err)
		return
	}
	m.mu.Lock()
	for _, l := range limits {
		id := smartcharging.ConnectorID{Charger: l.ChargerID, Connector: l.ConnectorID}
		lv := m.liveLocked(id)
		if lv.def == nil && lv.txp == nil {
			// After a restart the limit last sent is what the charger
			// runs on; as a TxDefaultProfile it also covers a running
			// transaction if no TxProfile was sent.
			lv.def = &sent{limit: l.LimitA, at: l.SentAt, confirmed: l.Confirmed}
		}
		lv.unmanaged, lv.reason = l.Unmanaged, l.Reason
	}
	ids := make([]string, 0, len(m.managed))
	for id := range m.managed {
		ids = append(ids, id)
	}
	m.mu.Unlock()
	m.loadState(ctx, ids)
}

// loadConfig reads groups, settings and prices.
func (m *Manager) loadConfig(ctx context.Context) {
	groups, err := m.st.ListGroups(ctx)
	if err != nil {
		m.log.Error("smart charging: reading groups", "err", err)
		return
	}
	settings, err := m.st.ListConnectorSettings(ctx)
	if err != nil {
		m.log.Error("smart charging: reading connector settings", "err", err)
		return
	}
	now := m.now()
	slots, err := m.st.ListPrices(ctx, now.Add(-48*time.Hour), now.Add(72*time.Hour))
	if err != nil {
		m.log.Error("smart charging: reading prices", "err", err)
	}
	tg := make([]smartcharging.Group, len(groups))
	for i, g := range groups {
		tg[i] = smartcharging.Group{ID: g.ID, Parent: g.ParentID, Limit: g.LimitA, PowerLimit: g.PowerLimitW, HasSurplus: g.SiteMeter}
	}
	tree, terr := smartcharging.NewTree(tg)
	if terr != nil {
		m.log.Error("smart charging: the group tree is invalid; nothing is steered until it is fixed", "err", terr)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.groups, m.tree, m.treeErr = groups, tree, terr
	if err == nil {
		m.prices = m.prices[:0]
		for _, s := range slots {
			m.prices = append(m.prices, smartcharging.PriceSlot{Start: s.Start, End: s.End, Price: s.Price})
		}
	}
	old := m.settings
	m.settings = make(map[smartcharging.ConnectorID]store.ConnectorSetting, len(settings))
	m.managed = map[string]bool{}
	var newChargers []string
	for _, s := range settings {
		id := smartcharging.ConnectorID{Charger: s.ChargerID, Connector: s.ConnectorID}
		m.settings[id] = s
		if !m.managed[s.ChargerID] {
			m.managed[s.ChargerID] = true
		}
		delete(m.leaving, id)
		if o, ok := old[id]; !ok || o.UpdatedAt != s.UpdatedAt {
			// A saved setting gives an unmanaged charger another chance.
			if lv := m.live[id]; lv != nil && lv.unmanaged {
				lv.unmanaged, lv.reason = false, ""
			}
			if !ok {
				newChargers = append(newChargers, s.ChargerID)
			}
		}
	}
	for id := range old {
		if _, ok := m.settings[id]; !ok {
			m.leaving[id] = true
		}
	}
	if len(newChargers) > 0 {
		m.sending.Add(1) // Run waits for it as for sends
		go func() { defer m.sending.Done(); m.loadState(ctx, newChargers) }()
	}
}

// loadState reads the statuses, active transactions and latest currents
// of the given chargers from the store.
func (m *Manager) loadState(ctx context.Context, chargers []string) {
	for len(chargers) > 0 {
		n := min(len(chargers), store.MaxBulk)
		part := chargers[:n]
		chargers = chargers[n:]
		conns, err := m.st.ListConnectorsOf(ctx, part)
		if err != nil {
			m.log.Error("smart charging: reading connector states", "err", err)
			return
		}
		m.mu.Lock()
		for _, c := range conns {
			id := smartcharging.ConnectorID{Charger: c.ChargerID, Connector: c.ConnectorID}
			if _, ok := m.settings[id]; ok {
				m.liveLocked(id).status = c.Status
			}
		}
		m.mu.Unlock()
	}
	active := true
	before := int64(0)
	for {
		txs, err := m.st.ListTransactions(ctx, store.TxFilter{Active: &active, Limit: 1000, Before: before})
		if err != nil {
			m.log.Error("smart charging: reading active transactions", "err", err)
			return
		}
		m.mu.Lock()
		for _, t := range txs {
			id := smartcharging.ConnectorID{Charger: t.ChargerID, Connector: t.ConnectorID}
			if _, ok := m.settings[id]; ok {
				lv := m.liveLocked(id)
				if lv.tx != t.ID {
					lv.tx, lv.meterStart, lv.registerWh = t.ID, float64(t.MeterStart), float64(t.MeterStart)
				}
			}
		}
		m.mu.Unlock()
		if len(txs) < 1000 {
			break
		}
		before = txs[len(txs)-1].ID
	}
	m.Wake()
}

func (m *Manager) liveLocked(id smartcharging.ConnectorID) *live {
	lv := m.live[id]
	if lv == nil {
		lv = &live{}
		m.live[id] = lv
	}
	return lv
}

// profileID is the id of smart charging's profile of a connector.
func (m *Manager) profileID(connector int, tx bool) int {
	if tx {
		return m.cfg.ProfileIDBase + 1000 + connector
	}
	return m.cfg.ProfileIDBase + connector
}

func (m *Manager) publishAlert(a smartcharging.Alert) {
	m.log.Warn("smart charging: "+a.Message, "kind", a.Kind, "subject", a.Subject)
	m.cfg.Events.Publish(EventAlert, chargerOf(a.Subject), map[string]string{
		"kind": string(a.Kind), "subject": a.Subject, "message": a.Message,
	})
}

func chargerOf(subject string) string {
	for i := len(subject) - 1; i >= 0; i-- {
		if subject[i] == '/' {
			return subject[:i]
		}
	}
	return ""
}
