package manager

import (
	"encoding/json"
	"strconv"
	"strings"
	"time"

	"github.com/wattson-csms/wattson/events"
	"github.com/wattson-csms/wattson/smartcharging"
)

// The parts of the csms event shapes the manager reads.
type statusEvent struct {
	ConnectorID int    `json:"connectorId"`
	Status      string `json:"status"`
}

type txEvent struct {
	ID            int64 `json:"id"`
	TransactionID int64 `json:"transactionId"` // a stale transaction closed
	ConnectorID   int   `json:"connectorId"`
	MeterStart    int64 `json:"meterStart"`
}

type meterEvent struct {
	ConnectorID   int    `json:"connectorId"`
	TransactionID *int64 `json:"transactionId"`
	Samples       []struct {
		Value     string `json:"value"`
		Measurand string `json:"measurand"`
		Phase     string `json:"phase"`
		Unit      string `json:"unit"`
		Location  string `json:"location"`
	} `json:"samples"`
}

// minDraw is the current above which a phase counts as used by the car.
const minDraw = 1.0

// observe updates the live state from an event and reports whether a round
// is wanted.
func (m *Manager) observe(e events.Event) bool {
	switch e.Type {
	case events.ConnectorStatus, events.TransactionStarted, events.TransactionStopped,
		events.MeterValues, events.ChargerBooted:
	default:
		return false
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if !m.managed[e.ChargerID] {
		return false
	}
	switch e.Type {
	case events.ChargerBooted:
		// A charger that booted may have lost its profiles: assume the
		// worst until it confirms new ones, and give an unmanaged one
		// another chance.
		for id, lv := range m.live {
			if id.Charger == e.ChargerID {
				lv.def, lv.txp = nil, nil
				lv.unmanaged, lv.reason, lv.noTxProfile = false, "", false
			}
		}
		return true
	case events.ConnectorStatus:
		var s statusEvent
		if json.Unmarshal(e.Data, &s) != nil {
			return false
		}
		lv := m.managedLive(e.ChargerID, s.ConnectorID)
		if lv == nil {
			return false
		}
		lv.status = s.Status
		if s.Status != "Charging" {
			lv.measured = smartcharging.PerPhase{}
		}
		return true
	case events.TransactionStarted:
		var t txEvent
		if json.Unmarshal(e.Data, &t) != nil {
			return false
		}
		lv := m.managedLive(e.ChargerID, t.ConnectorID)
		if lv == nil {
			return false
		}
		lv.tx, lv.meterStart, lv.registerWh = t.ID, float64(t.MeterStart), float64(t.MeterStart)
		lv.seenPhase, lv.txp, lv.noTxProfile = smartcharging.Phases{}, nil, false
		return true
	case events.TransactionStopped:
		var t txEvent
		if json.Unmarshal(e.Data, &t) != nil {
			return false
		}
		id := t.ID
		if id == 0 {
			id = t.TransactionID
		}
		changed := false
		for cid, lv := range m.live {
			if cid.Charger == e.ChargerID && lv.tx == id && id != 0 {
				lv.tx, lv.txp = 0, nil
				lv.measured, lv.seenPhase = smartcharging.PerPhase{}, smartcharging.Phases{}
				changed = true
			}
		}
		return changed
	case events.MeterValues:
		var mv meterEvent
		if json.Unmarshal(e.Data, &mv) != nil {
			return false
		}
		lv := m.managedLive(e.ChargerID, mv.ConnectorID)
		if lv == nil {
			return false
		}
		return lv.meter(&mv, m.now())
	}
	return false
}

func (m *Manager) managedLive(charger string, connector int) *live {
	id := smartcharging.ConnectorID{Charger: charger, Connector: connector}
	if _, ok := m.settings[id]; !ok {
		return nil
	}
	return m.liveLocked(id)
}

// meter takes the per-phase currents (Current.Import) and the energy
// register of a MeterValues. It reports whether the currents changed.
func (lv *live) meter(mv *meterEvent, now time.Time) bool {
	var cur smartcharging.PerPhase
	var have, phaseless bool
	total := -1.0
	for _, s := range mv.Samples {
		if s.Location != "" && s.Location != "Outlet" {
			continue
		}
		v, err := strconv.ParseFloat(s.Value, 64)
		if err != nil || v != v {
			continue
		}
		switch s.Measurand {
		case "Current.Import":
			if s.Unit != "" && s.Unit != "A" {
				continue
			}
			p := phaseIndex(s.Phase)
			if p < 0 {
				if s.Phase == "" {
					phaseless = true
					total = max(total, v)
				}
				continue
			}
			cur[p] = max(cur[p], v)
			have = true
		case "", "Energy.Active.Import.Register":
			if s.Phase != "" {
				continue
			}
			switch s.Unit {
			case "", "Wh":
			case "kWh":
				v *= 1000
			default:
				continue
			}
			lv.registerWh = v
		}
	}
	if !have && phaseless {
		// A current without a phase: count it on every phase the car may
		// use.
		cur = smartcharging.PerPhase{total, total, total}
		have = true
	}
	if !have {
		return false
	}
	if !phaseless {
		for p, a := range cur {
			if a >= minDraw {
				lv.seenPhase[p] = true
			}
		}
	}
	changed := cur != lv.measured
	lv.measured, lv.measuredAt = cur, now
	return changed
}

// phaseIndex maps an OCPP phase to 0..2, or -1.
func phaseIndex(ph string) int {
	switch {
	case ph == "":
		return -1
	case strings.HasPrefix(ph, "L1"):
		return 0
	case strings.HasPrefix(ph, "L2"):
		return 1
	case strings.HasPrefix(ph, "L3"):
		return 2
	}
	return -1
}
