// Package store defines what Wattson keeps — chargers, connectors, id tags,
// transactions, meter values, charger events, the OCPP message log, API
// tokens, dashboard users and their login sessions — and the Store interface that the SQLite (store/sqlite) and
// PostgreSQL (store/postgres) implementations satisfy. Both run the same
// conformance suite (store/storetest).
//
// Times are stored in UTC. Where a charger reports a time of its own, both
// its timestamp and the time Wattson received the message are kept: charger
// clocks are wrong at boot.
package store

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Errors a Store returns; implementations wrap them, check with errors.Is.
var (
	ErrNotFound = errors.New("not found")
	ErrConflict = errors.New("conflict")
	ErrInvalid  = errors.New("invalid")
	// ErrLastAdmin is the ErrConflict of demoting or deleting the last
	// user with the admin role.
	ErrLastAdmin = fmt.Errorf("%w: the last admin user cannot be deleted or demoted", ErrConflict)
)

// Registration is whether a charger may operate.
type Registration string

// Registration states. A charger unknown to Wattson that boots gets the
// configured default (Pending by default: it appears as awaiting approval).
const (
	RegistrationPending  Registration = "Pending"
	RegistrationAccepted Registration = "Accepted"
	RegistrationRejected Registration = "Rejected"
)

// Charger is one charge point.
type Charger struct {
	ID           string
	Registration Registration
	// From the last BootNotification.
	Vendor            string
	Model             string
	SerialNumber      string
	ChargeBoxSerial   string
	FirmwareVersion   string
	ICCID             string
	IMSI              string
	MeterType         string
	MeterSerialNumber string
	// PasswordHash is the hash of the charger's HTTP Basic password
	// (security profiles 1 and 2); empty means none is required.
	PasswordHash string
	LastBootAt   *time.Time
	LastSeenAt   *time.Time
	CreatedAt    time.Time
	UpdatedAt    time.Time
}

// Boot is what a BootNotification reports.
type Boot struct {
	ChargerID         string
	Vendor            string
	Model             string
	SerialNumber      string
	ChargeBoxSerial   string
	FirmwareVersion   string
	ICCID             string
	IMSI              string
	MeterType         string
	MeterSerialNumber string
	ReceivedAt        time.Time
}

// ChargerFilter selects chargers for ListChargers. Zero fields do not
// filter. Results are ordered by ID; After is the ID to continue after.
type ChargerFilter struct {
	Registration Registration
	Search       string // substring of ID, vendor or model, case-insensitive
	After        string
	Limit        int // 0 means 100
}

// Connector is the current state of one connector; 0 is the charger itself.
type Connector struct {
	ChargerID        string
	ConnectorID      int
	Status           string
	ErrorCode        string
	Info             string
	VendorID         string
	VendorErrorCode  string
	ChargerTimestamp *time.Time // the charger's own timestamp, if it sent one
	UpdatedAt        time.Time  // when Wattson received it
}

// IDTagStatus is the stored status of an id tag.
type IDTagStatus string

// Id tag states as OCPP's AuthorizationStatus names them.
const (
	IDTagAccepted IDTagStatus = "Accepted"
	IDTagBlocked  IDTagStatus = "Blocked"
	IDTagExpired  IDTagStatus = "Expired"
	IDTagInvalid  IDTagStatus = "Invalid"
)

// IDTag is an RFID card or other token a driver presents.
type IDTag struct {
	IDTag       string
	Status      IDTagStatus
	ExpiryDate  *time.Time
	ParentIDTag string
	Owner       string
	Note        string
	CreatedAt   time.Time
	UpdatedAt   time.Time
}

// IDTagFilter selects id tags; ordered by IDTag, After continues.
type IDTagFilter struct {
	Search string
	After  string
	Limit  int
}

// Transaction is one charging session.
type Transaction struct {
	ID          int64
	ChargerID   string
	ConnectorID int
	IDTag       string
	MeterStart  int64     // Wh
	StartedAt   time.Time // charger's timestamp
	StartRecvAt time.Time
	// ReservationID is set when the start used a reservation.
	ReservationID *int
	// Stop fields are nil/empty while the transaction runs.
	MeterStop  *int64
	StoppedAt  *time.Time
	StopRecvAt *time.Time
	StopReason string
	StopIDTag  string
}

// Active reports whether the transaction has not been stopped.
func (t Transaction) Active() bool { return t.StoppedAt == nil }

// EnergyWh is meterStop - meterStart once stopped, else 0.
func (t Transaction) EnergyWh() int64 {
	if t.MeterStop == nil {
		return 0
	}
	return *t.MeterStop - t.MeterStart
}

// StartTx is a StartTransaction as received.
type StartTx struct {
	ChargerID     string
	ConnectorID   int
	IDTag         string
	MeterStart    int64
	Timestamp     time.Time
	ReservationID *int
	ReceivedAt    time.Time
}

// StaleStopReason is the stop reason given to a transaction that was still
// open on a connector when a new one started there.
const StaleStopReason = "StaleReplacedByNewTransaction"

// StartResult says what StartTransaction did.
type StartResult struct {
	Transaction Transaction
	// Duplicate: the same start (charger, connector, tag, meterStart,
	// timestamp) was stored before; Transaction is that one.
	Duplicate bool
	// ClosedStale lists transactions that were open on the same connector
	// and were closed with StaleStopReason.
	ClosedStale []int64
}

// StopTx is a StopTransaction as received.
type StopTx struct {
	TransactionID int64
	ChargerID     string
	IDTag         string
	MeterStop     int64
	Timestamp     time.Time
	Reason        string // "" means Local, as OCPP defines
	ReceivedAt    time.Time
}

// StopOutcome says what StopTransaction did.
type StopOutcome int

// Outcomes of StopTransaction. Unknown and AlreadyStopped are not errors:
// the charger still gets an answer, so it stops retrying.
const (
	Stopped StopOutcome = iota + 1
	AlreadyStopped
	UnknownTransaction
)

// TxFilter selects transactions, newest first; Before continues (an ID).
type TxFilter struct {
	ChargerID string
	IDTag     string
	Active    *bool
	From, To  *time.Time // on StartedAt
	Before    int64
	Limit     int
}

// MeterSample is one sampled value of a MeterValues (or a StopTransaction's
// transactionData).
type MeterSample struct {
	ChargerID     string
	ConnectorID   int
	TransactionID *int64
	Timestamp     time.Time // the charger's
	ReceivedAt    time.Time
	Value         string // as sent: numbers as text, signed data raw
	Measurand     string // "" means Energy.Active.Import.Register
	Phase         string
	Unit          string
	Location      string
	Context       string
	Format        string
}

// ChargerEvent is a notification a charger sent that is kept as it was:
// FirmwareStatusNotification, DiagnosticsStatusNotification,
// SecurityEventNotification, LogStatusNotification, DataTransfer,
// SignedFirmwareStatusNotification.
type ChargerEvent struct {
	ID         int64
	ChargerID  string
	Kind       string // the OCPP action name
	Status     string // the status or type it reported, for filtering
	Timestamp  *time.Time
	ReceivedAt time.Time
	Payload    []byte // the JSON payload as received
}

// LogEntry is one OCPP frame in the message log.
type LogEntry struct {
	ID        int64
	ChargerID string
	At        time.Time
	Incoming  bool
	Frame     []byte
}

// Role is what an API token may do.
type Role string

// Roles.
const (
	RoleAdmin    Role = "admin"
	RoleOperator Role = "operator"
	RoleViewer   Role = "viewer"
)

// Token is an API bearer token; only its hash is stored.
type Token struct {
	ID         int64
	Name       string
	Hash       []byte // SHA-256 of the secret
	Role       Role
	CreatedAt  time.Time
	LastUsedAt *time.Time
}

// User is a person who logs in to the dashboard. Usernames are 1 to 64
// characters of [A-Za-z0-9._@-], compared exactly.
type User struct {
	Username     string
	PasswordHash string // bcrypt
	Role         Role
	CreatedAt    time.Time
	UpdatedAt    time.Time
	LastLoginAt  *time.Time
}

// UserUpdate changes a user; nil fields are kept.
type UserUpdate struct {
	Role         *Role
	PasswordHash *string
}

// Session is a dashboard login; only the hash of its cookie token is
// stored.
type Session struct {
	Hash       []byte // SHA-256 of the token
	Username   string
	CreatedAt  time.Time
	ExpiresAt  time.Time
	LastSeenAt time.Time
}

// ChargerSummary is what an overview of the whole fleet needs of every
// charger.
type ChargerSummary struct {
	ID           string
	Registration Registration
	LastSeenAt   *time.Time
	LastBootAt   *time.Time
	CreatedAt    time.Time
}

// MaxBulk is the most ids a bulk read such as ListConnectorsOf takes.
const MaxBulk = 1000

// Store is everything Wattson keeps. Implementations are safe for
// concurrent use. A write has returned only once it is durable.
type Store interface {
	// Chargers.
	// RecordBoot stores a boot; an unknown charger is created with
	// registration def. It returns the charger as stored.
	RecordBoot(ctx context.Context, b Boot, def Registration) (Charger, error)
	GetCharger(ctx context.Context, id string) (Charger, error)
	ListChargers(ctx context.Context, f ChargerFilter) ([]Charger, error)
	// PutCharger creates or updates ID, Registration and PasswordHash
	// (pre-registration, approval); other fields are kept.
	PutCharger(ctx context.Context, c Charger) (Charger, error)
	DeleteCharger(ctx context.Context, id string) error
	// TouchChargers sets last-seen times in one write (heartbeats are
	// collected in memory and flushed together).
	TouchChargers(ctx context.Context, seen map[string]time.Time) error

	// Connectors: the current state plus a history of every notification.
	RecordStatus(ctx context.Context, c Connector) error
	ListConnectors(ctx context.Context, chargerID string) ([]Connector, error)
	StatusHistory(ctx context.Context, chargerID string, connectorID int, limit int) ([]Connector, error)
	// ListConnectorsOf returns the connectors of the given chargers (at
	// most MaxBulk ids), ordered by charger and connector: one query for a
	// page of chargers.
	ListConnectorsOf(ctx context.Context, chargerIDs []string) ([]Connector, error)
	// ListAllConnectors returns every connector of every charger, ordered
	// by charger and connector.
	ListAllConnectors(ctx context.Context) ([]Connector, error)
	// ListChargerSummaries returns every charger, ordered by id, with only
	// the fields of ChargerSummary.
	ListChargerSummaries(ctx context.Context) ([]ChargerSummary, error)

	// Id tags.
	GetIDTag(ctx context.Context, idTag string) (IDTag, error)
	PutIDTag(ctx context.Context, t IDTag) (IDTag, error)
	DeleteIDTag(ctx context.Context, idTag string) error
	ListIDTags(ctx context.Context, f IDTagFilter) ([]IDTag, error)

	// Transactions.
	StartTransaction(ctx context.Context, s StartTx) (StartResult, error)
	StopTransaction(ctx context.Context, s StopTx) (Transaction, StopOutcome, error)
	GetTransaction(ctx context.Context, id int64) (Transaction, error)
	ListTransactions(ctx context.Context, f TxFilter) ([]Transaction, error)
	// HasActiveTransaction reports whether idTag has a running transaction.
	HasActiveTransaction(ctx context.Context, idTag string) (bool, error)
	// EnergySince sums meterStop - meterStart (Wh) over the stopped
	// transactions that started at or after since, and returns the running
	// ones that started then (at most one per connector), whose energy so
	// far the caller reads from the latest meter values.
	EnergySince(ctx context.Context, since time.Time) (stoppedWh int64, running []Transaction, err error)

	// Meter values. AddMeterValues writes a batch in one database
	// transaction.
	AddMeterValues(ctx context.Context, samples []MeterSample) error
	TransactionMeterValues(ctx context.Context, txID int64) ([]MeterSample, error)
	// LatestMeterValues returns, per (connector, measurand, phase), the
	// newest sample of a charger.
	LatestMeterValues(ctx context.Context, chargerID string) ([]MeterSample, error)
	// LatestMeterValuesOf returns the newest sample per (charger,
	// connector, phase) of the given measurands across all chargers
	// (Energy.Active.Import.Register names the default measurand), ordered
	// by charger, connector, measurand and phase.
	LatestMeterValuesOf(ctx context.Context, measurands ...string) ([]MeterSample, error)

	// Charger events.
	AddChargerEvent(ctx context.Context, e ChargerEvent) (ChargerEvent, error)
	ListChargerEvents(ctx context.Context, chargerID, kind string, limit int) ([]ChargerEvent, error)

	// Message log, bounded per charger: AppendLog keeps at most keep
	// entries per charger.
	AppendLog(ctx context.Context, entries []LogEntry, keep int) error
	ListLog(ctx context.Context, chargerID string, before int64, limit int) ([]LogEntry, error)

	// API tokens.
	CreateToken(ctx context.Context, t Token) (Token, error)
	TokenByHash(ctx context.Context, hash []byte) (Token, error)
	ListTokens(ctx context.Context) ([]Token, error)
	DeleteToken(ctx context.Context, id int64) error
	TouchToken(ctx context.Context, id int64, at time.Time) error

	// Users. CreateUser returns ErrConflict for a taken username.
	// UpdateUser and DeleteUser return ErrLastAdmin rather than leave no
	// admin; deleting a user deletes their sessions.
	CreateUser(ctx context.Context, u User) (User, error)
	GetUser(ctx context.Context, username string) (User, error)
	ListUsers(ctx context.Context) ([]User, error)
	UpdateUser(ctx context.Context, username string, up UserUpdate) (User, error)
	DeleteUser(ctx context.Context, username string) error

	// Login sessions. CreateSession also records the user's last login
	// (ErrNotFound for an unknown user). SessionByHash returns the session
	// with its user, expired or not: expiry is the caller's decision.
	// TouchSession moves LastSeenAt and ExpiresAt forward only.
	CreateSession(ctx context.Context, s Session) error
	SessionByHash(ctx context.Context, hash []byte) (Session, User, error)
	TouchSession(ctx context.Context, hash []byte, lastSeen, expires time.Time) error
	DeleteSession(ctx context.Context, hash []byte) error
	// DeleteUserSessions deletes a user's sessions except the one with the
	// hash keep (nil keeps none) and returns how many went.
	DeleteUserSessions(ctx context.Context, username string, keep []byte) (int64, error)
	// DeleteExpiredSessions deletes the sessions that expired before t.
	DeleteExpiredSessions(ctx context.Context, t time.Time) (int64, error)

	SmartStore
	ConfigStore
	FileStore
	DiagnosticsStore
	FirmwareStore
	ReservationStore
	LocalListStore

	Close() error
}

// ValidUsername reports whether s is a valid username: 1 to 64 characters
// of A-Z, a-z, 0-9, '.', '_', '@' and '-'.
func ValidUsername(s string) bool {
	if len(s) == 0 || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9',
			c == '.', c == '_', c == '@', c == '-':
		default:
			return false
		}
	}
	return true
}

// ValidRole reports whether r is one of the three roles.
func ValidRole(r Role) bool {
	switch r {
	case RoleAdmin, RoleOperator, RoleViewer:
		return true
	}
	return false
}
