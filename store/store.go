// Package store defines what Wattson keeps — chargers, connectors, id tags,
// transactions, meter values, charger events, the OCPP message log and API
// tokens — and the Store interface that the SQLite (store/sqlite) and
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
	"time"
)

// Errors a Store returns; implementations wrap them, check with errors.Is.
var (
	ErrNotFound = errors.New("not found")
	ErrConflict = errors.New("conflict")
	ErrInvalid  = errors.New("invalid")
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

	// Meter values. AddMeterValues writes a batch in one database
	// transaction.
	AddMeterValues(ctx context.Context, samples []MeterSample) error
	TransactionMeterValues(ctx context.Context, txID int64) ([]MeterSample, error)
	// LatestMeterValues returns, per (connector, measurand, phase), the
	// newest sample of a charger.
	LatestMeterValues(ctx context.Context, chargerID string) ([]MeterSample, error)

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

	Close() error
}
