package store

import (
	"context"
	"encoding/json"
	"time"
)

// What smart charging keeps: the tree of circuits (groups), each managed
// connector's settings, the limit the allocator last sent to each, the
// hourly price schedule, the charging profiles set on chargers, and leases
// for singletons.

// ChargingGroup is a circuit: a current limit per phase, optionally a power
// limit, and members (connectors or child groups).
type ChargingGroup struct {
	ID       string
	Name     string
	ParentID string // "" for a root
	// LimitA is the current limit per phase L1, L2, L3 in A.
	LimitA [3]float64
	// PowerLimitW is a limit on the total power in W; 0 is none.
	PowerLimitW float64
	// SiteMeter marks the group the site meter measures: its surplus is
	// what Solar connectors below share.
	SiteMeter bool
	CreatedAt time.Time
	UpdatedAt time.Time
}

// Connector modes.
const (
	ModeOn      = "on"
	ModeOff     = "off"
	ModeLowCost = "low-cost"
	ModeSolar   = "solar"
)

// ConnectorSetting is how a managed connector is steered. A connector is in
// at most one group.
type ConnectorSetting struct {
	ChargerID   string
	ConnectorID int // ≥ 1
	GroupID     string
	Priority    int // higher goes first
	Mode        string
	// MinCurrent and MaxCurrent in A; 0 means the defaults (6 A, and the
	// group's smallest phase limit).
	MinCurrent float64
	MaxCurrent float64
	// Phases the connector is wired to / the car uses, as "L1", "L1L2",
	// "L1L2L3"; "" is unknown (counted on all three).
	Phases string
	// SolarMinCurrent: in Solar mode, charge at least this much from the
	// grid (0: only from surplus).
	SolarMinCurrent float64
	// Low-cost mode: charge when the hourly price is at or below
	// PriceBelow if set; else in the CheapestHours cheapest hours of the
	// day (0 means 4), or, if EnergyKWh > 0, in the cheapest hours that
	// deliver EnergyKWh by ReadyBy ("HH:MM" local time).
	PriceBelow    *float64
	CheapestHours int
	EnergyKWh     float64
	ReadyBy       string
	UpdatedAt     time.Time
}

// ConnectorLimit is what the allocator last sent to a connector, so that a
// restart knows what chargers run on.
type ConnectorLimit struct {
	ChargerID   string
	ConnectorID int
	LimitA      float64
	SentAt      time.Time
	Confirmed   bool
	// Unmanaged: the charger refused charging profiles; its worst case is
	// counted. Reason says why.
	Unmanaged bool
	Reason    string
}

// PriceSlot is the energy price over [Start, End).
type PriceSlot struct {
	Start time.Time
	End   time.Time
	Price float64 // per kWh
}

// ChargingProfileRecord is a charging profile a charger accepted, as
// Wattson set it: OCPP 1.6 has no way to read profiles back.
type ChargingProfileRecord struct {
	ChargerID   string
	ConnectorID int
	ProfileID   int
	StackLevel  int
	Purpose     string // ChargePointMaxProfile, TxDefaultProfile, TxProfile
	// TransactionID is set for a TxProfile.
	TransactionID *int64
	// Profile is the csChargingProfiles object as sent.
	Profile json.RawMessage
	// Source is who set it: "operator" (API) or "smart-charging".
	Source string
	SetAt  time.Time
}

// ProfileFilter selects charging profiles to clear, as
// ClearChargingProfile does: every set field must match.
type ProfileFilter struct {
	ProfileID   *int
	ConnectorID *int
	Purpose     string
	StackLevel  *int
}

// SmartStore is what smart charging keeps; Store includes it.
type SmartStore interface {
	// Groups. PutGroup creates or updates (ErrNotFound for an unknown
	// parent, ErrInvalid for a group that would be its own ancestor).
	// DeleteGroup returns ErrConflict while the group has child groups;
	// its connector settings are deleted with it.
	ListGroups(ctx context.Context) ([]ChargingGroup, error)
	GetGroup(ctx context.Context, id string) (ChargingGroup, error)
	PutGroup(ctx context.Context, g ChargingGroup) (ChargingGroup, error)
	DeleteGroup(ctx context.Context, id string) error

	// Connector settings. PutConnectorSetting creates or replaces
	// (ErrNotFound for an unknown group).
	ListConnectorSettings(ctx context.Context) ([]ConnectorSetting, error)
	PutConnectorSetting(ctx context.Context, s ConnectorSetting) (ConnectorSetting, error)
	DeleteConnectorSetting(ctx context.Context, chargerID string, connectorID int) error

	// Limits last sent, written in batches.
	ListConnectorLimits(ctx context.Context) ([]ConnectorLimit, error)
	SaveConnectorLimits(ctx context.Context, ls []ConnectorLimit) error
	DeleteConnectorLimit(ctx context.Context, chargerID string, connectorID int) error

	// Prices. PutPrices replaces the slots that start in [from, to) with
	// slots (each must lie in it; ErrInvalid otherwise). ListPrices
	// returns the slots that end after from and start before to, by start.
	PutPrices(ctx context.Context, from, to time.Time, slots []PriceSlot) error
	ListPrices(ctx context.Context, from, to time.Time) ([]PriceSlot, error)

	// Charging profiles. PutChargingProfile records an accepted profile,
	// replacing, as the charger does, one with the same ProfileID or with
	// the same connector, purpose and stack level.
	// ClearChargingProfiles deletes the matching ones of a charger and
	// returns how many.
	PutChargingProfile(ctx context.Context, p ChargingProfileRecord) error
	ListChargingProfiles(ctx context.Context, chargerID string) ([]ChargingProfileRecord, error)
	ClearChargingProfiles(ctx context.Context, chargerID string, f ProfileFilter) (int64, error)

	// Leases: TryLease takes or renews the lease name for holder until
	// now+ttl, if it is free, expired or already the holder's, and
	// reports whether holder has it. ReleaseLease gives it up.
	TryLease(ctx context.Context, name, holder string, now time.Time, ttl time.Duration) (bool, error)
	ReleaseLease(ctx context.Context, name, holder string) error
}
