package smartcharging

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"time"
)

// PerPhase holds one value per phase, L1 to L3, in amperes.
type PerPhase [3]float64

// Phases says which of L1..L3 a car loads. The zero value means unknown,
// which the allocator treats as all three: counting a phase too many is safe,
// one too few is not.
type Phases [3]bool

// AllPhases is a three-phase car.
var AllPhases = Phases{true, true, true}

func (p Phases) known() Phases {
	if p == (Phases{}) {
		return AllPhases
	}
	return p
}

func (p Phases) count() int {
	n := 0
	for _, b := range p {
		if b {
			n++
		}
	}
	return n
}

// Group is a circuit: a fuse or a cable with a current limit per phase and
// optionally a power limit. Groups form a forest through Parent.
type Group struct {
	ID     string
	Parent string // "" for a root
	// Limit is the current limit per phase, in A.
	Limit PerPhase
	// PowerLimit in W over all phases; 0 means none. Converted to current
	// with Config.Voltage per phase.
	PowerLimit float64
	// HasSurplus marks the group as a site with a meter: SurplusW is the
	// power it exports to the grid right now (negative when importing),
	// measured with the cars below it charging. Solar connectors below it
	// share SurplusW plus what they draw themselves.
	HasSurplus bool
	SurplusW   float64
}

// Errors returned by NewTree and Tree.Validate, wrapped with the offending id.
var (
	ErrEmptyID       = errors.New("empty id")
	ErrDuplicateID   = errors.New("duplicate id")
	ErrUnknownParent = errors.New("unknown parent group")
	ErrCycle         = errors.New("cycle in group tree")
	ErrBadLimit      = errors.New("limit must be a finite number ≥ 0")
	ErrUnknownGroup  = errors.New("unknown group")
	ErrBadCurrent    = errors.New("bad current")
)

// Tree is a validated, immutable forest of groups. Build it once per
// configuration change with NewTree; Allocate only reads it, so one Tree may
// be shared by concurrent callers.
type Tree struct {
	groups []Group
	index  map[string]int32
	// anc[g] lists g and its ancestors up to the root, nearest first.
	anc [][]int32
}

// NewTree checks the groups (ids unique and non-empty, parents known, no
// cycles, limits finite and ≥ 0) and returns the tree. The error names the
// offending group.
func NewTree(groups []Group) (*Tree, error) {
	t := &Tree{groups: append([]Group(nil), groups...), index: make(map[string]int32, len(groups))}
	for i, g := range t.groups {
		if g.ID == "" {
			return nil, fmt.Errorf("group #%d: %w", i, ErrEmptyID)
		}
		if _, dup := t.index[g.ID]; dup {
			return nil, fmt.Errorf("group %q: %w", g.ID, ErrDuplicateID)
		}
		for p, l := range g.Limit {
			if !finiteNonNeg(l) {
				return nil, fmt.Errorf("group %q: L%d limit %v: %w", g.ID, p+1, l, ErrBadLimit)
			}
		}
		if !finiteNonNeg(g.PowerLimit) {
			return nil, fmt.Errorf("group %q: power limit %v: %w", g.ID, g.PowerLimit, ErrBadLimit)
		}
		if g.HasSurplus && (math.IsNaN(g.SurplusW) || math.IsInf(g.SurplusW, 0)) {
			return nil, fmt.Errorf("group %q: surplus %v: %w", g.ID, g.SurplusW, ErrBadLimit)
		}
		t.index[g.ID] = int32(i)
	}
	parent := make([]int32, len(t.groups))
	for i, g := range t.groups {
		parent[i] = -1
		if g.Parent == "" {
			continue
		}
		p, ok := t.index[g.Parent]
		if !ok {
			return nil, fmt.Errorf("group %q: parent %q: %w", g.ID, g.Parent, ErrUnknownParent)
		}
		parent[i] = p
	}
	// Walk up from every group; a walk longer than the number of groups
	// has gone round a cycle. Depths are tiny, so this is cheap.
	t.anc = make([][]int32, len(t.groups))
	for i := range t.groups {
		var a []int32
		for g := int32(i); g >= 0; g = parent[g] {
			if len(a) > len(t.groups) {
				return nil, fmt.Errorf("group %q: %w", t.groups[i].ID, ErrCycle)
			}
			a = append(a, g)
		}
		t.anc[i] = a
	}
	return t, nil
}

// Groups returns a copy of the groups in the order given to NewTree.
func (t *Tree) Groups() []Group { return append([]Group(nil), t.groups...) }

// Ancestors returns the ids of group id and of every group above it, nearest
// first, or nil if there is no such group.
func (t *Tree) Ancestors(id string) []string {
	g, ok := t.index[id]
	if !ok {
		return nil
	}
	out := make([]string, len(t.anc[g]))
	for i, a := range t.anc[g] {
		out[i] = t.groups[a].ID
	}
	return out
}

func finiteNonNeg(f float64) bool { return f >= 0 && !math.IsInf(f, 1) }

// ConnectorID names one connector of one charger.
type ConnectorID struct {
	Charger   string
	Connector int
}

func (id ConnectorID) String() string { return id.Charger + "/" + strconv.Itoa(id.Connector) }

func (id ConnectorID) less(o ConnectorID) bool {
	if id.Charger != o.Charger {
		return id.Charger < o.Charger
	}
	return id.Connector < o.Connector
}

// Mode is what the owner of a connector asked for.
type Mode uint8

const (
	ModeOn      Mode = iota // charge whenever the car is ready
	ModeOff                 // never charge
	ModeLowCost             // charge only when Connector.CheapNow
	ModeSolar               // charge from the site's surplus
)

func (m Mode) String() string {
	switch m {
	case ModeOn:
		return "on"
	case ModeOff:
		return "off"
	case ModeLowCost:
		return "low-cost"
	case ModeSolar:
		return "solar"
	}
	return "mode(" + strconv.Itoa(int(m)) + ")"
}

// State is what the car on a connector does, as the charger reports it.
type State uint8

const (
	StateIdle        State = iota // no car, or a car that does not want energy
	StateWaiting                  // car ready, not getting current (SuspendedEVSE, Preparing)
	StateCharging                 // drawing current
	StateSuspendedEV              // the car paused itself (full, timer)
)

// Sent is the last limit the central system sent to a connector.
type Sent struct {
	Limit     float64   // A
	At        time.Time // when it was sent
	Confirmed bool      // the charger accepted it
}

// Connector is everything the allocator needs to know about one connector.
type Connector struct {
	ID       ConnectorID
	Group    string
	Priority int // higher goes first
	Mode     Mode
	// MinCurrent is the least current worth offering (IEC 61851: 6 A);
	// 0 means Config.MinCurrent. Rounded up to 0.1 A.
	MinCurrent float64
	// MaxCurrent is the most the connector can carry: the lower of the
	// charger's rating, the cable and the car, in A per phase.
	MaxCurrent float64
	Phases     Phases // zero = unknown = all three
	State      State
	// Measured is the current drawn per phase (MeterValues Current.Import).
	Measured PerPhase
	// Sent is the last limit sent, nil if none was ever sent: then the
	// charger may be running at MaxCurrent.
	Sent *Sent
	// Unmanaged marks a charger that rejects profiles: it is not steered,
	// and MaxCurrent is counted against every group above it.
	Unmanaged bool
	// CheapNow says, for ModeLowCost, that now is a chosen hour (see
	// PlanCheapest and PlanBelow).
	CheapNow bool
	// SolarMinCurrent, for ModeSolar, charges at least this much even
	// without surplus; 0 stops the car when the surplus is below its minimum.
	SolarMinCurrent float64
}

// Validate checks connectors against the tree: ids unique, groups known,
// currents finite and sensible. Allocate copes with bad input on its own
// (see Result.Alerts); Validate is for rejecting a configuration at the API.
func (t *Tree) Validate(cs []Connector) error {
	seen := make(map[ConnectorID]struct{}, len(cs))
	for i := range cs {
		c := &cs[i]
		if c.ID.Charger == "" {
			return fmt.Errorf("connector #%d: %w", i, ErrEmptyID)
		}
		if _, dup := seen[c.ID]; dup {
			return fmt.Errorf("connector %s: %w", c.ID, ErrDuplicateID)
		}
		seen[c.ID] = struct{}{}
		if _, ok := t.index[c.Group]; !ok {
			return fmt.Errorf("connector %s: group %q: %w", c.ID, c.Group, ErrUnknownGroup)
		}
		if err := c.checkCurrents(); err != nil {
			return fmt.Errorf("connector %s: %w", c.ID, err)
		}
	}
	return nil
}

func (c *Connector) checkCurrents() error {
	if !finiteNonNeg(c.MaxCurrent) || c.MaxCurrent == 0 {
		return fmt.Errorf("max current %v: %w", c.MaxCurrent, ErrBadCurrent)
	}
	if !finiteNonNeg(c.MinCurrent) {
		return fmt.Errorf("min current %v: %w", c.MinCurrent, ErrBadCurrent)
	}
	if !finiteNonNeg(c.SolarMinCurrent) {
		return fmt.Errorf("solar min current %v: %w", c.SolarMinCurrent, ErrBadCurrent)
	}
	if c.Sent != nil && !finiteNonNeg(c.Sent.Limit) {
		return fmt.Errorf("sent limit %v: %w", c.Sent.Limit, ErrBadCurrent)
	}
	return nil
}
