package chargepoint

import (
	"encoding/json"
	"slices"
	"strings"
	"time"

	"github.com/wattson-csms/wattson/chargepoint/schedule"
	"github.com/wattson-csms/wattson/ocpp/v16"
)

// installedProfile is a charging profile the charge point keeps.
type installedProfile struct {
	schedule.Profile
	// TxLocal ties a TxProfile to its transaction (provisional id).
	TxLocal int
}

type savedProfile struct {
	ConnectorID int             `json:"connectorId"`
	Installed   time.Time       `json:"installed"`
	TxLocal     int             `json:"txLocal,omitempty"`
	Profile     json.RawMessage `json:"profile"`
}

func (p *installedProfile) marshal() (json.RawMessage, error) {
	return json.Marshal(savedProfile{
		ConnectorID: p.ConnectorID, Installed: p.Installed, TxLocal: p.TxLocal,
		Profile: p.ChargingProfile.AppendJSON(nil),
	})
}

func unmarshalProfile(raw json.RawMessage) (*installedProfile, error) {
	var s savedProfile
	if err := json.Unmarshal(raw, &s); err != nil {
		return nil, err
	}
	p := &installedProfile{TxLocal: s.TxLocal}
	p.ConnectorID, p.Installed = s.ConnectorID, s.Installed
	if err := p.ChargingProfile.UnmarshalOCPP(s.Profile); err != nil {
		return nil, err
	}
	return p, nil
}

// profileSetLocked collects the profiles that apply to a connector.
func (cp *ChargePoint) profileSetLocked(id int) schedule.Set {
	var set schedule.Set
	var tx *txState
	if c := cp.connector(id); c != nil {
		tx = c.tx
	}
	if tx != nil {
		start := tx.Start
		set.TxStart = &start
	}
	for _, p := range cp.profiles {
		switch p.ChargingProfilePurpose {
		case v16.ChargingProfilePurposeChargePointMaxProfile:
			set.ChargePointMax = append(set.ChargePointMax, &p.Profile)
		case v16.ChargingProfilePurposeTxDefaultProfile:
			if p.ConnectorID == 0 || p.ConnectorID == id {
				set.TxDefault = append(set.TxDefault, &p.Profile)
			}
		case v16.ChargingProfilePurposeTxProfile:
			if id > 0 && p.ConnectorID == id && tx != nil && p.TxLocal == tx.LocalID {
				set.Tx = append(set.Tx, &p.Profile)
			}
		}
	}
	return set
}

// installProfileLocked adds p, replacing a profile with the same id and
// one with the same purpose, stack level and connector.
func (cp *ChargePoint) installProfileLocked(p *installedProfile) {
	cp.profiles = slices.DeleteFunc(cp.profiles, func(o *installedProfile) bool {
		return o.ChargingProfileID == p.ChargingProfileID ||
			(o.ChargingProfilePurpose == p.ChargingProfilePurpose && o.StackLevel == p.StackLevel && o.ConnectorID == p.ConnectorID)
	})
	cp.profiles = append(cp.profiles, p)
	cp.journalLocked("charging profile %d (%s, stack %d) on connector %d", p.ChargingProfileID, p.ChargingProfilePurpose, p.StackLevel, p.ConnectorID)
}

// removeTxProfilesLocked drops the TxProfiles of a connector: they end with
// their transaction.
func (cp *ChargePoint) removeTxProfilesLocked(id int) {
	cp.profiles = slices.DeleteFunc(cp.profiles, func(p *installedProfile) bool {
		return p.ChargingProfilePurpose == v16.ChargingProfilePurposeTxProfile && p.ConnectorID == id
	})
}

func (cp *ChargePoint) dropExpiredProfilesLocked(now time.Time) bool {
	n := len(cp.profiles)
	cp.profiles = slices.DeleteFunc(cp.profiles, func(p *installedProfile) bool {
		return p.ValidTo != nil && !now.Before(*p.ValidTo)
	})
	if len(cp.profiles) != n {
		cp.saveStateLocked()
		return true
	}
	return false
}

// unitAllowedLocked checks ChargingScheduleAllowedChargingRateUnit.
func (cp *ChargePoint) unitAllowedLocked(u v16.ChargingRateUnit) bool {
	want := "Current"
	if u == v16.ChargingRateUnitW {
		want = "Power"
	}
	return slices.ContainsFunc(splitList(cp.confLocked(keyChargingScheduleAllowedUnit)), func(s string) bool {
		return strings.EqualFold(s, want)
	})
}

// checkProfileLocked validates a profile against the charge point's limits.
func (cp *ChargePoint) checkProfileLocked(p *v16.ChargingProfile) bool {
	n := len(p.ChargingSchedule.ChargingSchedulePeriod)
	if p.StackLevel < 0 || p.StackLevel > cp.confIntLocked(keyChargeProfileMaxStackLevel) ||
		n == 0 || n > cp.confIntLocked(keyChargingScheduleMaxPeriods) ||
		!cp.unitAllowedLocked(p.ChargingSchedule.ChargingRateUnit) {
		return false
	}
	for _, per := range p.ChargingSchedule.ChargingSchedulePeriod {
		if per.StartPeriod < 0 || per.Limit < 0 || (per.NumberPhases != nil && (*per.NumberPhases < 1 || *per.NumberPhases > 3)) {
			return false
		}
	}
	if p.ChargingProfileKind == v16.ChargingProfileKindRecurring && p.RecurrencyKind == "" {
		return false
	}
	return true
}

func (cp *ChargePoint) setChargingProfile(req *v16.SetChargingProfileRequest) v16.ChargingProfileStatus {
	cp.lock()
	defer cp.unlock()
	id := req.ConnectorID
	p := req.CsChargingProfiles
	if id < 0 || id >= len(cp.conns) || !cp.checkProfileLocked(&p) {
		return v16.ChargingProfileStatusRejected
	}
	ip := &installedProfile{}
	ip.ConnectorID, ip.Installed, ip.ChargingProfile = id, cp.clock.Now(), p
	switch p.ChargingProfilePurpose {
	case v16.ChargingProfilePurposeChargePointMaxProfile:
		if id != 0 {
			return v16.ChargingProfileStatusRejected
		}
	case v16.ChargingProfilePurposeTxProfile:
		c := cp.connector(id)
		if c == nil || c.tx == nil {
			return v16.ChargingProfileStatusRejected
		}
		if p.TransactionID != nil && *p.TransactionID != c.tx.ID && *p.TransactionID != c.tx.LocalID {
			return v16.ChargingProfileStatusRejected
		}
		ip.TxLocal = c.tx.LocalID
	}
	replaced := slices.ContainsFunc(cp.profiles, func(o *installedProfile) bool {
		return o.ChargingProfileID == p.ChargingProfileID ||
			(o.ChargingProfilePurpose == p.ChargingProfilePurpose && o.StackLevel == p.StackLevel && o.ConnectorID == id)
	})
	if !replaced && len(cp.profiles) >= cp.confIntLocked(keyMaxChargingProfilesInstalled) {
		return v16.ChargingProfileStatusRejected
	}
	cp.installProfileLocked(ip)
	cp.saveStateLocked()
	cp.refreshAllLocked(true)
	cp.pokeHousekeeper()
	return v16.ChargingProfileStatusAccepted
}

func (cp *ChargePoint) clearChargingProfile(req *v16.ClearChargingProfileRequest) v16.ClearChargingProfileStatus {
	cp.lock()
	defer cp.unlock()
	n := len(cp.profiles)
	cp.profiles = slices.DeleteFunc(cp.profiles, func(p *installedProfile) bool {
		if req.ID != nil {
			return p.ChargingProfileID == *req.ID
		}
		return (req.ConnectorID == nil || p.ConnectorID == *req.ConnectorID) &&
			(req.ChargingProfilePurpose == "" || p.ChargingProfilePurpose == req.ChargingProfilePurpose) &&
			(req.StackLevel == nil || p.StackLevel == *req.StackLevel)
	})
	if len(cp.profiles) == n {
		return v16.ClearChargingProfileStatusUnknown
	}
	cp.journalLocked("cleared %d charging profiles", n-len(cp.profiles))
	cp.saveStateLocked()
	cp.refreshAllLocked(true)
	cp.pokeHousekeeper()
	return v16.ClearChargingProfileStatusAccepted
}

func (cp *ChargePoint) getCompositeSchedule(req *v16.GetCompositeScheduleRequest) *v16.GetCompositeScheduleResponse {
	cp.mu.Lock()
	defer cp.mu.Unlock()
	id := req.ConnectorID
	if id < 0 || id >= len(cp.conns) || req.Duration < 0 || (req.ChargingRateUnit != "" && !cp.unitAllowedLocked(req.ChargingRateUnit)) {
		return &v16.GetCompositeScheduleResponse{Status: v16.GenericStatusRejected}
	}
	now := cp.clock.Now().UTC().Truncate(time.Second)
	sch := cp.profileSetLocked(id).Composite(cp.elec(), now, time.Duration(req.Duration)*time.Second, req.ChargingRateUnit, cp.cfg.MaxCurrent)
	return &v16.GetCompositeScheduleResponse{
		Status: v16.GenericStatusAccepted, ConnectorID: &id, ScheduleStart: &now, ChargingSchedule: &sch,
	}
}

// ---- Reservations ----

// reservation is a ReserveNow in force, persisted in state.json.
type reservation struct {
	ID          int       `json:"id"`
	Connector   int       `json:"connector"` // 0: any connector
	IDTag       string    `json:"idTag"`
	ParentIDTag string    `json:"parentIdTag,omitempty"`
	Expiry      time.Time `json:"expiry"`
}

func (cp *ChargePoint) reservationOnLocked(connector int) *reservation {
	for _, r := range cp.reservations {
		if r.Connector == connector {
			return r
		}
	}
	return nil
}

func (cp *ChargePoint) removeReservationLocked(id int) bool {
	for i, r := range cp.reservations {
		if r.ID == id {
			cp.reservations = append(cp.reservations[:i], cp.reservations[i+1:]...)
			cp.saveStateLocked()
			if c := cp.connector(r.Connector); c != nil {
				cp.refreshLocked(c, false)
			}
			return true
		}
	}
	return false
}

func (r *reservation) matches(idTag, parent string) bool {
	return r.IDTag == idTag || (r.ParentIDTag != "" && r.ParentIDTag == parent)
}

// reservationAllowsLocked decides whether idTag may start on c given the
// reservations, and returns the reservation it uses.
func (cp *ChargePoint) reservationAllowsLocked(c *connector, idTag, parent string) (*int, bool) {
	if r := cp.reservationOnLocked(c.id); r != nil {
		if !r.matches(idTag, parent) {
			return nil, false
		}
		id := r.ID
		return &id, true
	}
	if r := cp.reservationOnLocked(0); r != nil {
		if r.matches(idTag, parent) {
			id := r.ID
			return &id, true
		}
		// Someone else may start only if a connector stays free for the
		// reservation.
		free := 0
		for _, o := range cp.conns[1:] {
			if o != c && o.status == v16.ChargePointStatusAvailable {
				free++
			}
		}
		if free == 0 {
			return nil, false
		}
	}
	return nil, true
}

func (cp *ChargePoint) reserveNow(req *v16.ReserveNowRequest) v16.ReservationStatus {
	cp.lock()
	defer cp.unlock()
	id := req.ConnectorID
	if id < 0 || id >= len(cp.conns) || !req.ExpiryDate.After(cp.clock.Now()) {
		return v16.ReservationStatusRejected
	}
	if id == 0 && !cp.confBoolLocked(keyReserveConnectorZeroSupported) {
		return v16.ReservationStatusRejected
	}
	// A reservation with the same id is replaced.
	var old *reservation
	for _, r := range cp.reservations {
		if r.ID == req.ReservationID {
			old = r
		}
	}
	c0 := cp.conns[0]
	switch {
	case c0.fault != "":
		return v16.ReservationStatusFaulted
	case c0.inoperative:
		return v16.ReservationStatusUnavailable
	}
	if id > 0 {
		c := cp.conns[id]
		switch {
		case c.fault != "":
			return v16.ReservationStatusFaulted
		case c.inoperative:
			return v16.ReservationStatusUnavailable
		}
		if r := cp.reservationOnLocked(id); r != nil && r != old {
			return v16.ReservationStatusOccupied
		}
		if c.tx != nil || c.plugged || c.pending != nil || c.finishing {
			return v16.ReservationStatusOccupied
		}
	} else {
		free := 0
		for _, c := range cp.conns[1:] {
			if c.status == v16.ChargePointStatusAvailable {
				free++
			}
		}
		if r := cp.reservationOnLocked(0); (r != nil && r != old) || free == 0 {
			return v16.ReservationStatusOccupied
		}
	}
	if old != nil {
		cp.removeReservationLocked(old.ID)
	}
	cp.reservations = append(cp.reservations, &reservation{
		ID: req.ReservationID, Connector: id, IDTag: req.IDTag, ParentIDTag: req.ParentIDTag, Expiry: req.ExpiryDate,
	})
	cp.saveStateLocked()
	cp.journalLocked("reservation %d on connector %d for %s until %s", req.ReservationID, id, req.IDTag, req.ExpiryDate.Format(time.RFC3339))
	if c := cp.connector(id); c != nil {
		cp.refreshLocked(c, false)
	}
	cp.pokeHousekeeper()
	return v16.ReservationStatusAccepted
}

func (cp *ChargePoint) cancelReservation(id int) v16.GenericStatus {
	cp.lock()
	defer cp.unlock()
	if cp.removeReservationLocked(id) {
		cp.journalLocked("reservation %d cancelled", id)
		return v16.GenericStatusAccepted
	}
	return v16.GenericStatusRejected
}
