package api

import (
	"errors"
	"fmt"
	"math"
	"net/http"
	"regexp"
	"time"
	"unicode/utf8"

	"github.com/wattson-csms/wattson/smartcharging/manager"
	"github.com/wattson-csms/wattson/store"
)

// GroupJSON is a circuit of the smart-charging tree.
type GroupJSON struct {
	ID          string     `json:"id"`
	Name        string     `json:"name"`
	ParentID    string     `json:"parentId"`
	LimitA      [3]float64 `json:"limitA"`
	PowerLimitW float64    `json:"powerLimitW"`
	SiteMeter   bool       `json:"siteMeter"`
	CreatedAt   time.Time  `json:"createdAt"`
	UpdatedAt   time.Time  `json:"updatedAt"`
}

func groupJSON(g store.ChargingGroup) GroupJSON {
	return GroupJSON{ID: g.ID, Name: g.Name, ParentID: g.ParentID, LimitA: g.LimitA, PowerLimitW: g.PowerLimitW,
		SiteMeter: g.SiteMeter, CreatedAt: g.CreatedAt, UpdatedAt: g.UpdatedAt}
}

// SettingJSON is how a connector is steered.
type SettingJSON struct {
	ChargerID       string    `json:"chargerId"`
	ConnectorID     int       `json:"connectorId"`
	GroupID         string    `json:"groupId"`
	Priority        int       `json:"priority"`
	Mode            string    `json:"mode"`
	MinCurrent      float64   `json:"minCurrent"`
	MaxCurrent      float64   `json:"maxCurrent"`
	Phases          string    `json:"phases"`
	SolarMinCurrent float64   `json:"solarMinCurrent"`
	PriceBelow      *float64  `json:"priceBelow"`
	CheapestHours   int       `json:"cheapestHours"`
	EnergyKWh       float64   `json:"energyKWh"`
	ReadyBy         string    `json:"readyBy"`
	UpdatedAt       time.Time `json:"updatedAt"`
}

func settingJSON(s store.ConnectorSetting) SettingJSON {
	return SettingJSON{ChargerID: s.ChargerID, ConnectorID: s.ConnectorID, GroupID: s.GroupID, Priority: s.Priority,
		Mode: s.Mode, MinCurrent: s.MinCurrent, MaxCurrent: s.MaxCurrent, Phases: s.Phases, SolarMinCurrent: s.SolarMinCurrent,
		PriceBelow: s.PriceBelow, CheapestHours: s.CheapestHours, EnergyKWh: s.EnergyKWh, ReadyBy: s.ReadyBy, UpdatedAt: s.UpdatedAt}
}

// SlotJSON is a price slot.
type SlotJSON struct {
	Start time.Time `json:"start"`
	End   time.Time `json:"end"`
	Price float64   `json:"price"`
}

var groupIDPattern = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)

// maxCurrentA bounds currents and limits: far above any installation, low
// enough to catch a unit mistake (W for A).
const maxCurrentA = 10000

func (a *API) smart() (*manager.Manager, error) {
	if a.cfg.Smart == nil {
		return nil, &Error{Kind: KindNotFound, Detail: "smart charging is not enabled on this server"}
	}
	return a.cfg.Smart, nil
}

func (a *API) smartStatus(w http.ResponseWriter, r *http.Request) error {
	m, err := a.smart()
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, m.Status())
}

func (a *API) listGroups(w http.ResponseWriter, r *http.Request) error {
	gs, err := a.st.ListGroups(r.Context())
	if err != nil {
		return err
	}
	out := make([]GroupJSON, len(gs))
	for i, g := range gs {
		out[i] = groupJSON(g)
	}
	return writeJSON(w, http.StatusOK, items(out))
}

func (a *API) getGroup(w http.ResponseWriter, r *http.Request) error {
	g, err := a.st.GetGroup(r.Context(), r.PathValue("group"))
	if errors.Is(err, store.ErrNotFound) {
		return notFound("no group %q", r.PathValue("group"))
	}
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, groupJSON(g))
}

// groupBody reads and checks a group; id is the path's, or "" for POST.
func (a *API) groupBody(w http.ResponseWriter, r *http.Request, id string) (store.ChargingGroup, error) {
	var body struct {
		ID          string    `json:"id"`
		Name        string    `json:"name"`
		ParentID    string    `json:"parentId"`
		LimitA      []float64 `json:"limitA"`
		PowerLimitW float64   `json:"powerLimitW"`
		SiteMeter   bool      `json:"siteMeter"`
	}
	if err := decodeBody(w, r, &body); err != nil {
		return store.ChargingGroup{}, err
	}
	if id == "" {
		id = body.ID
		if !groupIDPattern.MatchString(id) {
			return store.ChargingGroup{}, invalidBody("id", "id must be 1 to 64 characters of A-Z, a-z, 0-9, '.', '_' and '-'")
		}
	} else if body.ID != "" && body.ID != id {
		return store.ChargingGroup{}, invalidBody("id", "id %q does not match the path's %q", body.ID, id)
	}
	if err := text("name", body.Name, 100); err != nil {
		return store.ChargingGroup{}, err
	}
	if len(body.LimitA) != 3 {
		return store.ChargingGroup{}, invalidBody("limitA", "limitA, the current limit per phase [L1, L2, L3] in A, is required")
	}
	for p, l := range body.LimitA {
		if math.IsNaN(l) || l < 0 || l > maxCurrentA {
			return store.ChargingGroup{}, invalidBody("limitA", "limitA[%d] must be between 0 and %d A", p, maxCurrentA)
		}
	}
	if math.IsNaN(body.PowerLimitW) || body.PowerLimitW < 0 || body.PowerLimitW > 1e9 {
		return store.ChargingGroup{}, invalidBody("powerLimitW", "powerLimitW must be between 0 (no limit) and 1e9 W")
	}
	if body.ParentID == id {
		return store.ChargingGroup{}, invalidBody("parentId", "a group cannot be its own parent")
	}
	if body.ParentID != "" && !groupIDPattern.MatchString(body.ParentID) {
		return store.ChargingGroup{}, invalidBody("parentId", "parentId is not a group id")
	}
	return store.ChargingGroup{ID: id, Name: body.Name, ParentID: body.ParentID, LimitA: [3]float64(body.LimitA),
		PowerLimitW: body.PowerLimitW, SiteMeter: body.SiteMeter}, nil
}

func (a *API) createGroup(w http.ResponseWriter, r *http.Request) error {
	g, err := a.groupBody(w, r, "")
	if err != nil {
		return err
	}
	if _, err := a.st.GetGroup(r.Context(), g.ID); err == nil {
		return &Error{Kind: KindConflict, Detail: fmt.Sprintf("group %q exists; PUT /smart-charging/groups/%s changes it", g.ID, g.ID)}
	} else if !errors.Is(err, store.ErrNotFound) {
		return err
	}
	return a.saveGroup(w, r, g, http.StatusCreated)
}

func (a *API) putGroup(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("group")
	if !groupIDPattern.MatchString(id) {
		return invalidParam("group", "a group id is 1 to 64 characters of A-Z, a-z, 0-9, '.', '_' and '-'")
	}
	g, err := a.groupBody(w, r, id)
	if err != nil {
		return err
	}
	return a.saveGroup(w, r, g, http.StatusOK)
}

func (a *API) saveGroup(w http.ResponseWriter, r *http.Request, g store.ChargingGroup, status int) error {
	saved, err := a.st.PutGroup(r.Context(), g)
	if errors.Is(err, store.ErrNotFound) {
		return invalidBody("parentId", "no parent group %q", g.ParentID)
	}
	if errors.Is(err, store.ErrInvalid) {
		return invalidBody("parentId", "%v", err)
	}
	if err != nil {
		return err
	}
	a.smartReload()
	return writeJSON(w, status, groupJSON(saved))
}

func (a *API) deleteGroup(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("group")
	err := a.st.DeleteGroup(r.Context(), id)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return notFound("no group %q", id)
	case errors.Is(err, store.ErrConflict):
		return &Error{Kind: KindConflict, Detail: fmt.Sprintf("group %q has child groups: delete or move them first", id)}
	case err != nil:
		return err
	}
	a.smartReload()
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (a *API) groupHistory(w http.ResponseWriter, r *http.Request) error {
	m, err := a.smart()
	if err != nil {
		return err
	}
	id := r.PathValue("group")
	if _, err := a.st.GetGroup(r.Context(), id); errors.Is(err, store.ErrNotFound) {
		return notFound("no group %q", id)
	} else if err != nil {
		return err
	}
	pts := m.History(id)
	if pts == nil {
		pts = []manager.Point{}
	}
	return writeJSON(w, http.StatusOK, items(pts))
}

func (a *API) listSettings(w http.ResponseWriter, r *http.Request) error {
	ss, err := a.st.ListConnectorSettings(r.Context())
	if err != nil {
		return err
	}
	out := make([]SettingJSON, len(ss))
	for i, s := range ss {
		out[i] = settingJSON(s)
	}
	return writeJSON(w, http.StatusOK, items(out))
}

func settingPath(r *http.Request) (string, int, error) {
	id, err := chargerID(r)
	if err != nil {
		return "", 0, err
	}
	n, err := intPath(r, "connectorId", 1, 1000)
	if err != nil {
		return "", 0, err
	}
	return id, int(n), nil
}

func (a *API) putSetting(w http.ResponseWriter, r *http.Request) error {
	charger, connector, err := settingPath(r)
	if err != nil {
		return err
	}
	var body SettingJSON
	if err := decodeBody(w, r, &body); err != nil {
		return err
	}
	if body.GroupID == "" {
		return invalidBody("groupId", "groupId, the group the connector is in, is required")
	}
	switch body.Mode {
	case "":
		body.Mode = store.ModeOn
	case store.ModeOn, store.ModeOff, store.ModeLowCost, store.ModeSolar:
	default:
		return invalidBody("mode", "mode must be on, off, low-cost or solar")
	}
	for _, f := range []struct {
		name string
		v    float64
	}{{"minCurrent", body.MinCurrent}, {"maxCurrent", body.MaxCurrent}, {"solarMinCurrent", body.SolarMinCurrent}} {
		if math.IsNaN(f.v) || f.v < 0 || f.v > maxCurrentA {
			return invalidBody(f.name, "%s must be between 0 (the default) and %d A", f.name, maxCurrentA)
		}
	}
	if body.MinCurrent > 0 && body.MaxCurrent > 0 && body.MinCurrent > body.MaxCurrent {
		return invalidBody("minCurrent", "minCurrent %g A is above maxCurrent %g A", body.MinCurrent, body.MaxCurrent)
	}
	switch body.Phases {
	case "", "L1", "L2", "L3", "L1L2", "L1L3", "L2L3", "L1L2L3":
	default:
		return invalidBody("phases", "phases must be empty (unknown) or the phases used, e.g. L1 or L1L2L3")
	}
	if body.PriceBelow != nil && (math.IsNaN(*body.PriceBelow) || math.IsInf(*body.PriceBelow, 0)) {
		return invalidBody("priceBelow", "priceBelow must be a number or null")
	}
	if body.CheapestHours < 0 || body.CheapestHours > 24 {
		return invalidBody("cheapestHours", "cheapestHours must be between 0 (default %d) and 24", manager.DefaultCheapestHours)
	}
	if math.IsNaN(body.EnergyKWh) || body.EnergyKWh < 0 || body.EnergyKWh > 1000 {
		return invalidBody("energyKWh", "energyKWh must be between 0 (none) and 1000")
	}
	if body.ReadyBy != "" {
		if _, err := time.Parse("15:04", body.ReadyBy); err != nil || !utf8.ValidString(body.ReadyBy) || len(body.ReadyBy) != 5 {
			return invalidBody("readyBy", "readyBy must be a time of day HH:MM such as 07:00")
		}
	}
	s, err := a.st.PutConnectorSetting(r.Context(), store.ConnectorSetting{
		ChargerID: charger, ConnectorID: connector, GroupID: body.GroupID, Priority: body.Priority, Mode: body.Mode,
		MinCurrent: body.MinCurrent, MaxCurrent: body.MaxCurrent, Phases: body.Phases, SolarMinCurrent: body.SolarMinCurrent,
		PriceBelow: body.PriceBelow, CheapestHours: body.CheapestHours, EnergyKWh: body.EnergyKWh, ReadyBy: body.ReadyBy,
	})
	if errors.Is(err, store.ErrNotFound) {
		return invalidBody("groupId", "no group %q", body.GroupID)
	}
	if err != nil {
		return err
	}
	a.smartReload()
	return writeJSON(w, http.StatusOK, settingJSON(s))
}

func (a *API) deleteSetting(w http.ResponseWriter, r *http.Request) error {
	charger, connector, err := settingPath(r)
	if err != nil {
		return err
	}
	if err := a.st.DeleteConnectorSetting(r.Context(), charger, connector); errors.Is(err, store.ErrNotFound) {
		return notFound("connector %s/%d is not in a group", charger, connector)
	} else if err != nil {
		return err
	}
	a.smartReload()
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (a *API) smartReload() {
	if a.cfg.Smart != nil {
		a.cfg.Smart.Reload()
	}
}

func (a *API) listPrices(w http.ResponseWriter, r *http.Request) error {
	q := newQuery(r)
	from, to := q.time("from"), q.time("to")
	if q.err != nil {
		return q.err
	}
	if from == nil {
		now := a.now().In(a.cfg.Location)
		day := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, a.cfg.Location).UTC()
		from = &day
	}
	if to == nil {
		t := from.Add(48 * time.Hour)
		to = &t
	}
	if !to.After(*from) || to.Sub(*from) > 31*24*time.Hour {
		return invalidParam("to", "to must be after from and at most 31 days later")
	}
	slots, err := a.st.ListPrices(r.Context(), *from, *to)
	if err != nil {
		return err
	}
	out := make([]SlotJSON, len(slots))
	for i, s := range slots {
		out[i] = SlotJSON{Start: s.Start, End: s.End, Price: s.Price}
	}
	return writeJSON(w, http.StatusOK, items(out))
}

func (a *API) putPrices(w http.ResponseWriter, r *http.Request) error {
	var body struct {
		Items []SlotJSON `json:"items"`
	}
	if err := decodeBody(w, r, &body); err != nil {
		return err
	}
	if len(body.Items) == 0 || len(body.Items) > 10000 {
		return invalidBody("items", "items must hold 1 to 10000 price slots")
	}
	slots := make([]store.PriceSlot, len(body.Items))
	from, to := body.Items[0].Start, body.Items[0].End
	for i, s := range body.Items {
		if !s.End.After(s.Start) || math.IsNaN(s.Price) {
			return invalidBody(fmt.Sprintf("items[%d]", i), "slot %d: end must be after start and price a number", i)
		}
		slots[i] = store.PriceSlot{Start: s.Start.UTC(), End: s.End.UTC(), Price: s.Price}
		if s.Start.Before(from) {
			from = s.Start
		}
		if s.End.After(to) {
			to = s.End
		}
	}
	if err := a.st.PutPrices(r.Context(), from.UTC(), to.UTC(), slots); err != nil {
		if errors.Is(err, store.ErrInvalid) {
			return invalidBody("items", "%v", err)
		}
		return err
	}
	if a.cfg.Smart != nil {
		a.cfg.Smart.Reload()
	}
	return writeJSON(w, http.StatusOK, items(body.Items))
}

func (a *API) getSiteMeter(w http.ResponseWriter, r *http.Request) error {
	m, err := a.smart()
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, m.SiteMeter())
}

func (a *API) putSiteMeter(w http.ResponseWriter, r *http.Request) error {
	m, err := a.smart()
	if err != nil {
		return err
	}
	var body struct {
		SurplusW *float64 `json:"surplusW"`
	}
	if err := decodeBody(w, r, &body); err != nil {
		return err
	}
	if body.SurplusW == nil || math.IsNaN(*body.SurplusW) || math.Abs(*body.SurplusW) > 1e7 {
		return invalidBody("surplusW", "surplusW, the power the site exports in W (negative: imports), is required and at most 10 MW either way")
	}
	m.SetSiteMeter(*body.SurplusW, a.now(), "api")
	return writeJSON(w, http.StatusOK, m.SiteMeter())
}
