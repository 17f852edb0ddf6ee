package chargepoint

import (
	"math"
	"strconv"
	"time"

	"github.com/wattson-csms/wattson/ocpp/v16"
)

// connector is one connector's state; index 0 is the charge point itself.
// Everything is guarded by ChargePoint.mu.
type connector struct {
	id int
	hw ConnectorHardware // nil for connector 0

	plugged    bool
	evCharging bool
	fault      v16.ChargePointErrorCode // "" when none
	faultInfo  string
	finishing  bool         // a transaction ended, the cable is still in
	pending    *pendingAuth // authorized, waiting for the cable (or the start)
	tx         *txState
	// Presented tags are handled one at a time, in the order presented, as
	// a card reader does: while one is being authorized, later ones wait.
	authorizing bool
	tags        []string

	inoperative bool  // ChangeAvailability Inoperative (persisted)
	scheduled   *bool // availability to apply when the transaction ends

	status     v16.ChargePointStatus // last status derived
	statusCode v16.ChargePointErrorCode
	statusInfo string

	contactor  bool
	limit      float64   // amps in force (capped at MaxCurrent)
	hwLimit    float64   // last value given to SetCurrentLimit
	limitSet   bool      // SetCurrentLimit was called at least once
	limitNext  time.Time // next moment the profiles may change the limit
	nextSample time.Time // next periodic MeterValues
}

// pendingAuth is an authorization waiting for the transaction to start.
type pendingAuth struct {
	idTag, parent string
	reservationID *int
	txProfile     *installedProfile
	deadline      time.Time // give up when the cable has not come by then
}

// txState is a running transaction, persisted in state.json.
type txState struct {
	LocalID       int              `json:"localId"` // provisional id, negative
	ID            int              `json:"id"`      // the central system's id, 0 until known
	Connector     int              `json:"connector"`
	IDTag         string           `json:"idTag"`
	ParentIDTag   string           `json:"parentIdTag,omitempty"`
	MeterStart    int              `json:"meterStart"`
	Start         time.Time        `json:"start"`
	ReservationID *int             `json:"reservationId,omitempty"`
	Deauthorized  bool             `json:"deauthorized,omitempty"`
	LastWh        float64          `json:"lastWh"`
	LastAt        time.Time        `json:"lastAt"`
	Begin         *v16.MeterValue  `json:"begin,omitempty"`
	Aligned       []v16.MeterValue `json:"aligned,omitempty"` // StopTxnAlignedData samples
}

// ref is how queued messages refer to the transaction: the real id when
// known, else the provisional one.
func (t *txState) ref() int {
	if t.ID != 0 {
		return t.ID
	}
	return t.LocalID
}

// publicID is what Transaction reports.
func (t *txState) publicID() int { return t.ref() }

// minChargingCurrent is the lowest current IEC 61851 lets an EV be offered;
// a limit below it pauses charging.
const minChargingCurrent = 6.0

// deriveLocked computes the status of c from the facts.
func (cp *ChargePoint) deriveLocked(c *connector) (v16.ChargePointStatus, v16.ChargePointErrorCode, string) {
	c0 := cp.conns[0]
	if c.fault != "" {
		return v16.ChargePointStatusFaulted, c.fault, c.faultInfo
	}
	if c.id == 0 {
		if c.inoperative {
			return v16.ChargePointStatusUnavailable, v16.ChargePointErrorCodeNoError, ""
		}
		return v16.ChargePointStatusAvailable, v16.ChargePointErrorCodeNoError, ""
	}
	if c0.fault != "" {
		return v16.ChargePointStatusFaulted, c0.fault, c0.faultInfo
	}
	if tx := c.tx; tx != nil {
		switch {
		case !c.plugged:
			return v16.ChargePointStatusSuspendedEV, v16.ChargePointErrorCodeNoError, ""
		case tx.Deauthorized || c.limit < minChargingCurrent:
			return v16.ChargePointStatusSuspendedEVSE, v16.ChargePointErrorCodeNoError, ""
		case c.evCharging:
			return v16.ChargePointStatusCharging, v16.ChargePointErrorCodeNoError, ""
		}
		return v16.ChargePointStatusSuspendedEV, v16.ChargePointErrorCodeNoError, ""
	}
	if c.inoperative || c0.inoperative {
		return v16.ChargePointStatusUnavailable, v16.ChargePointErrorCodeNoError, ""
	}
	if c.finishing {
		return v16.ChargePointStatusFinishing, v16.ChargePointErrorCodeNoError, ""
	}
	if cp.reservationOnLocked(c.id) != nil {
		return v16.ChargePointStatusReserved, v16.ChargePointErrorCodeNoError, ""
	}
	if c.plugged || c.pending != nil {
		return v16.ChargePointStatusPreparing, v16.ChargePointErrorCodeNoError, ""
	}
	return v16.ChargePointStatusAvailable, v16.ChargePointErrorCodeNoError, ""
}

// refreshLocked brings hardware and status in line with the facts of c:
// the current limit, the contactor, and a StatusNotification when the
// status changed. boundary forces SetCurrentLimit even when the limit is
// unchanged (a period boundary or a new profile).
func (cp *ChargePoint) refreshLocked(c *connector, boundary bool) {
	now := cp.clock.Now()
	if c.id > 0 {
		cp.applyLimitLocked(c, now, boundary)
		want := c.tx != nil && c.plugged && !c.tx.Deauthorized && c.fault == "" && cp.conns[0].fault == ""
		if want != c.contactor {
			c.contactor = want
			hw, id := c.hw, c.id
			cp.hwQ = append(cp.hwQ, func() {
				if err := hw.SetContactor(want); err != nil {
					cp.log.Warn("setting the contactor", "connector", id, "closed", want, "err", err)
				}
			})
		}
	}
	st, code, info := cp.deriveLocked(c)
	if st == c.status && code == c.statusCode && info == c.statusInfo {
		return
	}
	c.status, c.statusCode, c.statusInfo = st, code, info
	cp.journalLocked("connector %d status %s %s %s", c.id, st, code, info)
	cp.statusOutLocked(c, now)
}

func (cp *ChargePoint) refreshAllLocked(boundary bool) {
	for _, c := range cp.conns {
		cp.refreshLocked(c, boundary)
	}
}

// statusOutLocked queues a StatusNotification with the connector's status.
func (cp *ChargePoint) statusOutLocked(c *connector, now time.Time) {
	ts := now.UTC()
	info := c.statusInfo
	if r := []rune(info); len(r) > 50 {
		info = string(r[:50])
	}
	code := c.statusCode
	if code == "" {
		code = v16.ChargePointErrorCodeNoError
	}
	cp.outLocked(&v16.StatusNotificationRequest{
		ConnectorID: c.id, ErrorCode: code, Info: info, Status: c.status, Timestamp: &ts,
	}, nil)
}

// applyLimitLocked computes the limit of the charging profiles in force and
// hands it to the hardware when it changed.
func (cp *ChargePoint) applyLimitLocked(c *connector, now time.Time, boundary bool) {
	amps, ok, next := cp.profileSetLocked(c.id).Limit(cp.elec(), now)
	lim := cp.cfg.MaxCurrent
	if ok && amps < lim {
		lim = amps
	}
	if lim < 0 {
		lim = 0
	}
	c.limit = lim
	c.limitNext = next
	hwLim := lim
	if hwLim < minChargingCurrent {
		hwLim = 0
	}
	if c.limitSet && hwLim == c.hwLimit && !boundary {
		return
	}
	c.limitSet, c.hwLimit = true, hwLim
	hw, id := c.hw, c.id
	cp.hwQ = append(cp.hwQ, func() {
		if err := hw.SetCurrentLimit(hwLim); err != nil {
			cp.log.Warn("setting the current limit", "connector", id, "amps", hwLim, "err", err)
		}
	})
}

// canStartLocked reports whether a new transaction may begin on c.
func (cp *ChargePoint) canStartLocked(c *connector) bool {
	return c.id > 0 && c.tx == nil && c.fault == "" && cp.conns[0].fault == "" &&
		!c.inoperative && !cp.conns[0].inoperative
}

// authorizedLocked records an authorization on c and starts the
// transaction when the cable is in.
func (cp *ChargePoint) authorizedLocked(c *connector, pa *pendingAuth) {
	if !cp.canStartLocked(c) {
		return
	}
	pa.deadline = cp.clock.Now().Add(time.Duration(cp.confIntLocked(keyConnectionTimeOut)) * time.Second)
	c.pending = pa
	cp.journalLocked("connector %d authorized %s", c.id, pa.idTag)
	if c.plugged {
		cp.startTxLocked(c)
		return
	}
	cp.refreshLocked(c, false)
	cp.pokeHousekeeper()
}

// startTxLocked starts the transaction c.pending allows.
func (cp *ChargePoint) startTxLocked(c *connector) {
	pa := c.pending
	if pa == nil || !c.plugged || !cp.canStartLocked(c) {
		return
	}
	now := cp.clock.Now()
	meter := cp.meters[c.id]
	local := cp.nextLocal
	cp.nextLocal--
	tx := &txState{
		LocalID: local, Connector: c.id, IDTag: pa.idTag, ParentIDTag: pa.parent,
		MeterStart: int(math.Round(meter.EnergyWh)), Start: now.UTC(), ReservationID: pa.reservationID,
		LastWh: meter.EnergyWh, LastAt: now.UTC(),
	}
	tx.Begin = cp.sampleLocked(c, splitList(cp.confLocked(keyStopTxnSampledData)), v16.ReadingContextTransactionBegin, now)
	c.tx, c.pending, c.finishing = tx, nil, false
	if pa.reservationID != nil {
		cp.removeReservationLocked(*pa.reservationID)
	}
	if p := pa.txProfile; p != nil {
		p.ConnectorID, p.TxLocal, p.Installed = c.id, local, now
		cp.installProfileLocked(p)
	}
	c.nextSample = cp.nextSampleAfter(now)
	cp.saveStateLocked()
	req := &v16.StartTransactionRequest{
		ConnectorID: c.id, IDTag: tx.IDTag, MeterStart: tx.MeterStart, ReservationID: tx.ReservationID, Timestamp: tx.Start,
	}
	if err := cp.queue.push("StartTransaction", local, req); err != nil {
		cp.log.Error("queueing StartTransaction", "err", err)
	}
	cp.journalLocked("connector %d transaction %d started for %s, meter %d Wh", c.id, local, tx.IDTag, tx.MeterStart)
	cp.poke()
	cp.pokeHousekeeper()
	cp.refreshLocked(c, true)
}

// stopTxLocked ends the transaction on c: StopTransaction goes into the
// queue before the transaction leaves the persisted state, so a crash in
// between repeats the stop rather than losing it.
func (cp *ChargePoint) stopTxLocked(c *connector, reason v16.Reason, idTag string) {
	tx := c.tx
	if tx == nil {
		return
	}
	now := cp.clock.Now()
	meter := cp.meters[c.id]
	stop := int(math.Round(meter.EnergyWh))
	if stop < tx.MeterStart {
		stop = tx.MeterStart
	}
	cp.queueStopLocked(tx, reason, idTag, stop, now, cp.sampleLocked(c, splitList(cp.confLocked(keyStopTxnSampledData)), v16.ReadingContextTransactionEnd, now))
	c.tx = nil
	c.evCharging = c.evCharging && c.plugged
	c.finishing = c.plugged
	cp.removeTxProfilesLocked(c.id)
	if c.scheduled != nil {
		c.inoperative = *c.scheduled
		c.scheduled = nil
	}
	cp.saveStateLocked()
	cp.journalLocked("connector %d transaction %d stopped (%s), meter %d Wh", c.id, tx.ref(), reason, stop)
	cp.refreshLocked(c, false)
	cp.pokeFirmware()
}

func (cp *ChargePoint) queueStopLocked(tx *txState, reason v16.Reason, idTag string, meterStop int, now time.Time, end *v16.MeterValue) {
	var data []v16.MeterValue
	if tx.Begin != nil {
		data = append(data, *tx.Begin)
	}
	data = append(data, tx.Aligned...)
	if end != nil {
		data = append(data, *end)
	}
	req := &v16.StopTransactionRequest{
		IDTag: idTag, MeterStop: meterStop, Timestamp: now.UTC(), Reason: reason, TransactionData: data,
	}
	if err := cp.queue.push("StopTransaction", tx.ref(), req); err != nil {
		cp.log.Error("queueing StopTransaction", "err", err)
	}
	cp.poke()
}

func (cp *ChargePoint) nextSampleAfter(now time.Time) time.Time {
	iv := cp.confIntLocked(keyMeterValueSampleInterval)
	if iv <= 0 {
		return time.Time{}
	}
	return now.Add(time.Duration(iv) * time.Second)
}

// sampleLocked reads the measurands of c's meter (read just before the
// lock was taken) into a MeterValue; nil when nothing could be sampled.
func (cp *ChargePoint) sampleLocked(c *connector, measurands []string, ctx v16.ReadingContext, now time.Time) *v16.MeterValue {
	m := cp.meters[c.id]
	mv := &v16.MeterValue{Timestamp: now.UTC()}
	add := func(meas v16.Measurand, v float64, unit v16.UnitOfMeasure, phase v16.Phase, loc v16.Location, prec int) {
		mv.SampledValue = append(mv.SampledValue, v16.SampledValue{
			Value: strconv.FormatFloat(v, 'f', prec, 64), Context: ctx, Measurand: meas, Unit: unit, Phase: phase, Location: loc,
		})
	}
	phases := cp.cfg.Phases
	cur := [3]v16.Phase{v16.PhaseL1, v16.PhaseL2, v16.PhaseL3}
	volt := [3]v16.Phase{v16.PhaseL1N, v16.PhaseL2N, v16.PhaseL3N}
	for _, name := range measurands {
		switch meas := v16.Measurand(name); meas {
		case v16.MeasurandEnergyActiveImportRegister:
			add(meas, math.Round(m.EnergyWh), v16.UnitOfMeasureWh, "", v16.LocationOutlet, 0)
		case v16.MeasurandCurrentImport:
			for i := 0; i < phases; i++ {
				add(meas, m.Current[i], v16.UnitOfMeasureA, cur[i], v16.LocationOutlet, 1)
			}
		case v16.MeasurandVoltage:
			for i := 0; i < phases; i++ {
				add(meas, m.Voltage[i], v16.UnitOfMeasureV, volt[i], v16.LocationOutlet, 1)
			}
		case v16.MeasurandPowerActiveImport:
			add(meas, m.PowerW, v16.UnitOfMeasureW, "", v16.LocationOutlet, 0)
		case v16.MeasurandCurrentOffered:
			add(meas, m.OfferedA, v16.UnitOfMeasureA, "", v16.LocationOutlet, 1)
		case v16.MeasurandPowerOffered:
			add(meas, cp.elec().Watts(m.OfferedA), v16.UnitOfMeasureW, "", v16.LocationOutlet, 0)
		case v16.MeasurandSoC:
			if m.SoC != nil {
				add(meas, *m.SoC, v16.UnitOfMeasurePercent, "", v16.LocationEV, 0)
			}
		case v16.MeasurandTemperature:
			if m.Temperature != nil {
				add(meas, *m.Temperature, v16.UnitOfMeasureCelsius, "", v16.LocationBody, 1)
			}
		}
	}
	if len(mv.SampledValue) == 0 {
		return nil
	}
	return mv
}
