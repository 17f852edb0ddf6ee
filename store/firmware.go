package store

import (
	"context"
	"time"
)

// RolloutStatus is where a firmware roll-out stands.
type RolloutStatus string

// Roll-out states. Running sends UpdateFirmware to its queued chargers as
// slots free up; Paused sends nothing new (chargers already updating go
// on); Halted is Paused because too many failed; Completed and Cancelled
// are final.
const (
	RolloutRunning   RolloutStatus = "Running"
	RolloutPaused    RolloutStatus = "Paused"
	RolloutHalted    RolloutStatus = "Halted"
	RolloutCompleted RolloutStatus = "Completed"
	RolloutCancelled RolloutStatus = "Cancelled"
)

// Final reports whether a roll-out in status s will do nothing more.
func (s RolloutStatus) Final() bool { return s == RolloutCompleted || s == RolloutCancelled }

// TargetStatus is where one charger of a roll-out stands.
type TargetStatus string

// Target states. Queued: not sent yet; Sent: UpdateFirmware accepted, no
// status yet; Downloading … Installing: as the charger's
// FirmwareStatusNotification said; Installed (success), Failed and
// Cancelled are final.
const (
	TargetQueued      TargetStatus = "Queued"
	TargetSent        TargetStatus = "Sent"
	TargetDownloading TargetStatus = "Downloading"
	TargetDownloaded  TargetStatus = "Downloaded"
	TargetInstalling  TargetStatus = "Installing"
	TargetInstalled   TargetStatus = "Installed"
	TargetFailed      TargetStatus = "Failed"
	TargetCancelled   TargetStatus = "Cancelled"
)

// InFlightTargets are the states of a charger that is updating.
var InFlightTargets = []TargetStatus{TargetSent, TargetDownloading, TargetDownloaded, TargetInstalling}

// Final reports whether a target in status s is done.
func (s TargetStatus) Final() bool {
	return s == TargetInstalled || s == TargetFailed || s == TargetCancelled
}

// InFlight reports whether a target in status s is updating.
func (s TargetStatus) InFlight() bool {
	for _, f := range InFlightTargets {
		if s == f {
			return true
		}
	}
	return false
}

// Rollout is a firmware update of a set of chargers.
type Rollout struct {
	ID     int64
	FileID int64
	Status RolloutStatus
	// MaxConcurrent chargers update at once.
	MaxConcurrent int
	// MaxFailurePercent halts the roll-out once more than this share of
	// the chargers that finished failed, counted from MinFinished finished
	// chargers on.
	MaxFailurePercent float64
	MinFinished       int
	// BaseFinished and BaseFailed are the finished and failed chargers
	// when the roll-out last resumed: the failure rate counts only what
	// finished since, so a resumed roll-out does not halt again at once.
	BaseFinished int
	BaseFailed   int
	// Passed on in UpdateFirmware; nil leaves them to the charger.
	Retries       *int
	RetryInterval *int // seconds
	// RetrieveDate: chargers download no earlier than this; nil is when
	// each is sent the update.
	RetrieveDate *time.Time
	// Timeout fails a charger that has not reported Installed this long
	// after its download could start.
	Timeout    time.Duration
	Detail     string // why it halted, for example
	CreatedBy  string
	CreatedAt  time.Time
	UpdatedAt  time.Time
	FinishedAt *time.Time
	// Counts of targets by status; filled by GetRollout and ListRollouts.
	Counts map[TargetStatus]int
}

// RolloutTarget is one charger of a roll-out.
type RolloutTarget struct {
	RolloutID int64
	ChargerID string
	Seq       int // from 1, the order chargers are sent the update in
	Status    TargetStatus
	Detail    string
	SentAt    *time.Time
	UpdatedAt time.Time
}

// TargetFilter selects targets of a roll-out in their order; After (a
// Seq) continues. Empty Status lists every state.
type TargetFilter struct {
	RolloutID int64
	Status    []TargetStatus
	After     int
	Limit     int
}

// FirmwareStore keeps firmware roll-outs; Store includes it.
type FirmwareStore interface {
	// CreateRollout stores a roll-out with its chargers queued in the
	// order given. ErrConflict if one of them is queued or updating in
	// another roll-out (a cancelled one's chargers may still be updating).
	CreateRollout(ctx context.Context, r Rollout, chargers []string) (Rollout, error)
	GetRollout(ctx context.Context, id int64) (Rollout, error)
	// ListRollouts lists roll-outs newest first; before (an id) continues.
	ListRollouts(ctx context.Context, before int64, limit int) ([]Rollout, error)
	// ActiveRollouts lists the roll-outs that are not final or still have
	// chargers updating.
	ActiveRollouts(ctx context.Context) ([]Rollout, error)
	// SetRolloutStatus moves a roll-out to status (with a detail) if it is
	// in one of from; it reports whether it did. Cancelling also cancels
	// its queued targets; moving to Running sets BaseFinished and
	// BaseFailed to the current counts.
	SetRolloutStatus(ctx context.Context, id int64, from []RolloutStatus, to RolloutStatus, detail string, at time.Time) (bool, error)
	ListRolloutTargets(ctx context.Context, f TargetFilter) ([]RolloutTarget, error)
	// UpdateRolloutTarget sets a target's Status, Detail and SentAt if its
	// status is one of from, and reports whether it did.
	UpdateRolloutTarget(ctx context.Context, t RolloutTarget, from []TargetStatus) (bool, error)
	// CurrentTarget returns the target of a charger that is updating, in
	// the newest roll-out if several; ErrNotFound if there is none.
	CurrentTarget(ctx context.Context, chargerID string) (RolloutTarget, error)
}
