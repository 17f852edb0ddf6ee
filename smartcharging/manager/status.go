package manager

import (
	"slices"
	"strings"
	"time"

	"github.com/wattson-csms/wattson/smartcharging"
)

// Status is what the manager knows and decided, for the API.
type Status struct {
	Leader     bool              `json:"leader"`
	LastRun    *time.Time        `json:"lastRun"`
	TreeError  string            `json:"treeError,omitempty"`
	SiteMeter  *SiteReading      `json:"siteMeter"`
	Groups     []GroupStatus     `json:"groups"`
	Connectors []ConnectorStatus `json:"connectors"`
	Alerts     []AlertStatus     `json:"alerts"`
}

// GroupStatus is a group's limit and load after the last round.
type GroupStatus struct {
	ID          string     `json:"id"`
	Name        string     `json:"name"`
	ParentID    string     `json:"parentId"`
	SiteMeter   bool       `json:"siteMeter"`
	LimitA      [3]float64 `json:"limitA"`
	PowerLimitW float64    `json:"powerLimitW"`
	AllocatedA  [3]float64 `json:"allocatedA"`
	DrawnA      [3]float64 `json:"drawnA"`
}

// ConnectorStatus is a managed connector's state and last decision.
type ConnectorStatus struct {
	ChargerID     string     `json:"chargerId"`
	ConnectorID   int        `json:"connectorId"`
	GroupID       string     `json:"groupId"`
	Status        string     `json:"status"`
	TransactionID *int64     `json:"transactionId"`
	MeasuredA     [3]float64 `json:"measuredA"`
	Phases        string     `json:"phases"`
	TargetA       float64    `json:"targetA"`
	LimitA        *float64   `json:"limitA"` // in force, as far as known
	Confirmed     bool       `json:"confirmed"`
	Unmanaged     bool       `json:"unmanaged"`
	Reason        string     `json:"reason"`
	Plan          []Slot     `json:"plan,omitempty"`
	CheapNow      *bool      `json:"cheapNow,omitempty"`
	PlanNote      string     `json:"planNote,omitempty"`
}

// Slot is a planned charging slot.
type Slot struct {
	Start time.Time `json:"start"`
	End   time.Time `json:"end"`
	Price float64   `json:"price"`
}

// AlertStatus is an alert of the last round.
type AlertStatus struct {
	Kind    string `json:"kind"`
	Subject string `json:"subject"`
	Message string `json:"message"`
}

// Status returns a snapshot.
func (m *Manager) Status() Status {
	m.mu.Lock()
	defer m.mu.Unlock()
	st := Status{Leader: m.leader, Groups: []GroupStatus{}, Connectors: []ConnectorStatus{}, Alerts: []AlertStatus{}}
	if !m.lastRun.IsZero() {
		t := m.lastRun
		st.LastRun = &t
	}
	if m.treeErr != nil {
		st.TreeError = m.treeErr.Error()
	}
	if m.site != nil {
		r := *m.site
		st.SiteMeter = &r
	}
	var res *smartcharging.Result
	if m.prev != nil {
		res = m.prev
	}
	for _, g := range m.groups {
		gs := GroupStatus{ID: g.ID, Name: g.Name, ParentID: g.ParentID, SiteMeter: g.SiteMeter, LimitA: g.LimitA, PowerLimitW: g.PowerLimitW}
		if res != nil {
			for _, rg := range res.Groups {
				if rg.ID == g.ID {
					gs.AllocatedA, gs.DrawnA = round1(rg.Allocated), round1(rg.Drawn)
				}
			}
		}
		st.Groups = append(st.Groups, gs)
	}
	for id, s := range m.settings {
		lv := m.live[id]
		if lv == nil {
			lv = &live{}
		}
		cs := ConnectorStatus{
			ChargerID: id.Charger, ConnectorID: id.Connector, GroupID: s.GroupID, Status: lv.status,
			MeasuredA: round1(lv.measured), Phases: s.Phases, Unmanaged: lv.unmanaged, Reason: lv.reason,
		}
		if cs.Phases == "" && lv.tx != 0 && lv.seenPhase != (smartcharging.Phases{}) {
			var b strings.Builder
			for i, used := range lv.seenPhase {
				if used {
					b.WriteString([]string{"L1", "L2", "L3"}[i])
				}
			}
			cs.Phases = b.String() + " (measured)"
		}
		if lv.tx != 0 {
			tx := lv.tx
			cs.TransactionID = &tx
		}
		if e := lv.effective(); e != nil {
			l := e.limit
			cs.LimitA, cs.Confirmed = &l, e.confirmed
		}
		if res != nil {
			if r, ok := res.Connector(id); ok {
				cs.TargetA = r.Target
				if cs.Reason == "" {
					cs.Reason = string(r.Reason)
				}
			}
		}
		if p, ok := m.plans[id]; ok && s.Mode == "low-cost" {
			cheap := p.CheapNow
			cs.CheapNow, cs.PlanNote = &cheap, p.Note
			for _, sl := range p.Plan {
				cs.Plan = append(cs.Plan, Slot{Start: sl.Start, End: sl.End, Price: sl.Price})
			}
		}
		st.Connectors = append(st.Connectors, cs)
	}
	slices.SortFunc(st.Connectors, func(a, b ConnectorStatus) int {
		if c := strings.Compare(a.ChargerID, b.ChargerID); c != 0 {
			return c
		}
		return a.ConnectorID - b.ConnectorID
	})
	for _, a := range m.alerts {
		st.Alerts = append(st.Alerts, AlertStatus{Kind: string(a.Kind), Subject: a.Subject, Message: a.Message})
	}
	slices.SortFunc(st.Alerts, func(a, b AlertStatus) int { return strings.Compare(a.Subject+a.Kind, b.Subject+b.Kind) })
	return st
}

// History returns the chart points of a group, oldest first.
func (m *Manager) History(groupID string) []Point {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Clone(m.history[groupID])
}
