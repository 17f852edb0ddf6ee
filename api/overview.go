package api

import (
	"cmp"
	"math"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/wattson-csms/wattson/store"
)

// OverviewJSON is GET /overview: the state of the whole fleet at a glance.
type OverviewJSON struct {
	Chargers      ChargerCountsJSON `json:"chargers"`
	PowerW        float64           `json:"powerW"`
	EnergyTodayWh float64           `json:"energyTodayWh"`
	Alerts        []AlertJSON       `json:"alerts"`
}

// ChargerCountsJSON counts chargers and connectors. Online and Offline
// count chargers; Charging and Faulted count connectors of online
// chargers; Pending counts chargers awaiting approval.
type ChargerCountsJSON struct {
	Total    int `json:"total"`
	Online   int `json:"online"`
	Offline  int `json:"offline"`
	Charging int `json:"charging"`
	Faulted  int `json:"faulted"`
	Pending  int `json:"pending"`
}

// AlertJSON is something an operator should look at.
type AlertJSON struct {
	Kind        string    `json:"kind"` // faulted, offline or pending
	ChargerID   string    `json:"chargerId"`
	ConnectorID *int      `json:"connectorId,omitempty"` // faulted only
	Message     string    `json:"message"`
	Since       time.Time `json:"since"`
}

// Alert kinds, in the order the overview lists them.
const (
	alertFaulted = "faulted"
	alertOffline = "offline"
	alertPending = "pending"
)

// maxAlerts bounds the alerts of one overview; the counts stay exact.
const maxAlerts = 1000

const (
	measurandPower  = "Power.Active.Import"
	measurandEnergy = "Energy.Active.Import.Register"
)

// overview answers from four reads, whatever the size of the fleet: the
// chargers, every connector, the newest power and energy readings (from
// the small latest-values table) and today's transactions.
func (a *API) overview(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	now := a.now()
	local := now.In(a.cfg.Location)
	midnight := time.Date(local.Year(), local.Month(), local.Day(), 0, 0, 0, 0, a.cfg.Location)

	chargers, err := a.st.ListChargerSummaries(ctx)
	if err != nil {
		return err
	}
	conns, err := a.st.ListAllConnectors(ctx)
	if err != nil {
		return err
	}
	latest, err := a.st.LatestMeterValuesOf(ctx, measurandPower, measurandEnergy)
	if err != nil {
		return err
	}
	stoppedWh, running, err := a.st.EnergySince(ctx, midnight)
	if err != nil {
		return err
	}
	online := make(map[string]bool)
	for _, id := range a.svc.ConnectedIDs() {
		online[id] = true
	}

	var out OverviewJSON
	var alerts []AlertJSON
	out.Chargers.Total = len(chargers)
	for _, c := range chargers {
		if online[c.ID] {
			out.Chargers.Online++
		} else if c.Registration == store.RegistrationAccepted {
			since, msg := c.CreatedAt, "offline, never connected"
			if c.LastSeenAt != nil {
				since, msg = *c.LastSeenAt, "offline since "+c.LastSeenAt.Format(time.RFC3339)
			}
			alerts = append(alerts, AlertJSON{Kind: alertOffline, ChargerID: c.ID, Message: msg, Since: since})
		}
		if c.Registration == store.RegistrationPending {
			out.Chargers.Pending++
			since := c.CreatedAt
			if c.LastBootAt != nil {
				since = *c.LastBootAt
			}
			alerts = append(alerts, AlertJSON{Kind: alertPending, ChargerID: c.ID, Message: "awaiting approval", Since: since})
		}
	}
	out.Chargers.Offline = out.Chargers.Total - out.Chargers.Online

	// Connector states count for online chargers only: an offline
	// charger's last status is stale.
	type connKey struct {
		charger   string
		connector int
	}
	charging := make(map[connKey]bool)
	chargingOn := make(map[string]bool) // chargers with a charging connector
	for _, c := range conns {
		if !online[c.ChargerID] {
			continue
		}
		switch c.Status {
		case "Charging":
			if c.ConnectorID > 0 {
				out.Chargers.Charging++
				charging[connKey{c.ChargerID, c.ConnectorID}] = true
				chargingOn[c.ChargerID] = true
			}
		case "Faulted":
			out.Chargers.Faulted++
			id := c.ConnectorID
			msg := "connector " + strconv.Itoa(id) + " faulted"
			if c.ConnectorID == 0 {
				msg = "charger faulted"
			}
			if c.ErrorCode != "" && c.ErrorCode != "NoError" {
				msg += ": " + c.ErrorCode
			}
			if c.Info != "" {
				msg += " (" + c.Info + ")"
			}
			alerts = append(alerts, AlertJSON{Kind: alertFaulted, ChargerID: c.ChargerID, ConnectorID: &id, Message: msg, Since: c.UpdatedAt})
		}
	}

	// The newest readings per connector and measurand: the total, or the
	// sum of the phases where no total was sent.
	readings := sumPhases(latest)

	// Power: the charging connectors of online chargers; connector 0 (the
	// charger's own meter) only where no connector reports power itself.
	perConnector := make(map[string]bool)
	for k := range readings {
		if k.measurand == measurandPower && k.connector > 0 {
			perConnector[k.charger] = true
		}
	}
	var power float64
	for k, v := range readings {
		if k.measurand != measurandPower || !online[k.charger] {
			continue
		}
		if (k.connector > 0 && charging[connKey{k.charger, k.connector}]) ||
			(k.connector == 0 && chargingOn[k.charger] && !perConnector[k.charger]) {
			power += v.value
		}
	}
	out.PowerW = math.Round(power*10) / 10

	// Energy today: stopped transactions as billed, running ones up to
	// their newest register reading.
	energy := float64(stoppedWh)
	for _, tx := range running {
		v, ok := readings[readingKey{tx.ChargerID, tx.ConnectorID, measurandEnergy}]
		if !ok || (v.tx != nil && *v.tx != tx.ID) || (v.tx == nil && v.at.Before(tx.StartedAt)) {
			continue
		}
		if d := v.value - float64(tx.MeterStart); d > 0 {
			energy += d
		}
	}
	out.EnergyTodayWh = math.Round(energy*10) / 10

	kindOrder := map[string]int{alertFaulted: 0, alertOffline: 1, alertPending: 2}
	slices.SortFunc(alerts, func(x, y AlertJSON) int {
		return cmp.Or(cmp.Compare(kindOrder[x.Kind], kindOrder[y.Kind]), y.Since.Compare(x.Since),
			cmp.Compare(x.ChargerID, y.ChargerID), cmp.Compare(intOr0(x.ConnectorID), intOr0(y.ConnectorID)))
	})
	if len(alerts) > maxAlerts {
		alerts = alerts[:maxAlerts]
	}
	if alerts == nil {
		alerts = []AlertJSON{}
	}
	out.Alerts = alerts
	return writeJSON(w, http.StatusOK, out)
}

func intOr0(p *int) int {
	if p == nil {
		return 0
	}
	return *p
}

type readingKey struct {
	charger   string
	connector int
	measurand string
}

type reading struct {
	value    float64 // W or Wh
	tx       *int64
	at       time.Time
	hasTotal bool
}

// sumPhases turns the newest samples into one value per connector and
// measurand in W or Wh: the phase-less total where there is one, else the
// sum of the phases. Samples that are not plain numbers (signed data) or
// in an unknown unit are left out.
func sumPhases(samples []store.MeterSample) map[readingKey]reading {
	out := make(map[readingKey]reading)
	for _, s := range samples {
		v, ok := numericValue(s)
		if !ok {
			continue
		}
		k := readingKey{s.ChargerID, s.ConnectorID, s.Measurand}
		cur, seen := out[k]
		switch {
		case s.Phase == "":
			cur = reading{value: v, tx: s.TransactionID, at: s.Timestamp, hasTotal: true}
		case cur.hasTotal:
			continue
		default:
			cur.value += v
			if !seen || s.Timestamp.After(cur.at) {
				cur.at, cur.tx = s.Timestamp, s.TransactionID
			}
		}
		out[k] = cur
	}
	return out
}

// numericValue is a sample's value in W or Wh.
func numericValue(s store.MeterSample) (float64, bool) {
	if s.Format == "SignedData" {
		return 0, false
	}
	v, err := strconv.ParseFloat(s.Value, 64)
	if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
		return 0, false
	}
	switch s.Unit {
	case "", "W", "Wh":
		return v, true
	case "kW", "kWh":
		return v * 1000, true
	}
	return 0, false
}
