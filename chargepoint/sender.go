package chargepoint

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"time"

	"github.com/wattson-csms/wattson/chargepoint/schedule"
	"github.com/wattson-csms/wattson/ocpp"
	v16 "github.com/wattson-csms/wattson/ocpp/v16"
)

// outMsg is a message that is not transaction-related (StatusNotification,
// MeterValues without a transaction, firmware and diagnostics statuses):
// kept in memory, in order, while offline, and sent once accepted.
type outMsg struct {
	req   v16.Request
	after func(resp v16.Message) // called with the lock held; may be nil
}

// maxOutbox bounds the in-memory messages kept while offline.
const maxOutbox = 1000

func (cp *ChargePoint) outLocked(req v16.Request, after func(v16.Message)) {
	if len(cp.outbox) >= maxOutbox {
		cp.outbox = cp.outbox[1:]
	}
	cp.outbox = append(cp.outbox, &outMsg{req: req, after: after})
	cp.poke()
}

// call sends a request and decodes the answer. A CALLERROR, or an answer
// that breaks the schema, is returned as (or wrapping) *ocpp.Error.
func call(ctx context.Context, conn *ocpp.Conn, req v16.Request) (v16.Message, error) {
	if err := req.Validate(); err != nil {
		return nil, err
	}
	info, ok := v16.Lookup(req.Action())
	if !ok {
		return nil, fmt.Errorf("chargepoint: unknown action %s", req.Action())
	}
	payload, err := conn.Call(ctx, req.Action(), req)
	if err != nil {
		return nil, err
	}
	resp := info.NewResponse()
	if err := resp.UnmarshalOCPP(payload); err != nil {
		return nil, fmt.Errorf("chargepoint: %s: the central system's answer is invalid: %w", req.Action(), err)
	}
	return resp, nil
}

// sender delivers the outbox and the transaction queue, in order, one
// message at a time, while the charge point is connected and accepted.
// Outbox messages go first: they are small and never wait for retries.
func (cp *ChargePoint) sender(ctx context.Context) {
	for ctx.Err() == nil {
		cp.mu.Lock()
		conn := cp.conn
		var out *outMsg
		var item *qItem
		wait := time.Duration(-1)
		if cp.onlineLocked() {
			if len(cp.outbox) > 0 {
				out = cp.outbox[0]
			} else if h := cp.queue.head(); h != nil {
				if d := h.notBefore.Sub(cp.clock.Now()); d > 0 {
					wait = d
				} else {
					item = h
				}
			}
		}
		cp.mu.Unlock()
		switch {
		case out != nil:
			cp.sendOut(ctx, conn, out)
		case item != nil:
			cp.sendItem(ctx, conn, item)
		default:
			cp.sleepClock(ctx, wait, cp.wake)
		}
	}
}

// transient handles an error that is not the central system's answer
// (timeout, closed connection): the message stays; wait for a new
// connection, or a while when this one still looks alive.
func (cp *ChargePoint) transient(ctx context.Context, conn *ocpp.Conn, err error) {
	if ctx.Err() != nil {
		return
	}
	cp.log.Info("sending failed, will retry", "err", err)
	select {
	case <-conn.Done():
	case <-ctx.Done():
	case <-time.After(time.Second):
	}
}

func (cp *ChargePoint) sendOut(ctx context.Context, conn *ocpp.Conn, m *outMsg) {
	resp, err := call(ctx, conn, m.req)
	if err != nil {
		if _, isCallError := ocpp.AsError(err); !isCallError {
			cp.transient(ctx, conn, err)
			return
		}
		cp.log.Warn("the central system refused a message; dropped", "action", m.req.Action(), "err", err)
	}
	cp.lock()
	defer cp.unlock()
	if len(cp.outbox) > 0 && cp.outbox[0] == m {
		cp.outbox = cp.outbox[1:]
	}
	if err == nil && m.after != nil {
		m.after(resp)
	}
}

// decodeItem turns a queued message into its request, with the
// transaction id resolved; ok is false when the message cannot be sent
// (its transaction's StartTransaction was lost) and must be dropped.
func (cp *ChargePoint) decodeItemLocked(it *qItem) (req v16.Request, ok bool, err error) {
	info, found := v16.Lookup(it.Action)
	if !found {
		return nil, false, fmt.Errorf("unknown action %q", it.Action)
	}
	req = info.NewRequest()
	if err := json.Unmarshal(it.Payload, req); err != nil {
		return nil, false, err
	}
	if it.Action == "StartTransaction" {
		return req, true, nil
	}
	id := it.Tx
	if id < 0 {
		real, known := cp.idMap[id]
		if !known {
			return nil, false, nil
		}
		id = real
	}
	switch r := req.(type) {
	case *v16.StopTransactionRequest:
		r.TransactionID = id
	case *v16.MeterValuesRequest:
		r.TransactionID = &id
	}
	return req, true, nil
}

func (cp *ChargePoint) sendItem(ctx context.Context, conn *ocpp.Conn, it *qItem) {
	cp.mu.Lock()
	req, ok, err := cp.decodeItemLocked(it)
	cp.mu.Unlock()
	if err != nil || !ok {
		cp.log.Error("dropping a queued message that cannot be sent", "action", it.Action, "tx", it.Tx, "err", err)
		cp.lock()
		if err := cp.queue.pop(it.Seq); err != nil {
			cp.log.Error("queue", "err", err)
		}
		cp.unlock()
		return
	}
	resp, err := call(ctx, conn, req)
	if err != nil {
		if _, isCallError := ocpp.AsError(err); !isCallError {
			cp.transient(ctx, conn, err)
			return
		}
		cp.lock()
		defer cp.unlock()
		it.attempts++
		if it.attempts >= cp.confIntLocked(keyTransactionMessageAttempts) {
			cp.log.Error("the central system refused a transaction message too often; dropped", "action", it.Action, "tx", it.Tx, "err", err)
			cp.journalLocked("dropped %s after %d attempts: %v", it.Action, it.attempts, err)
			if err := cp.queue.pop(it.Seq); err != nil {
				cp.log.Error("queue", "err", err)
			}
			return
		}
		iv := time.Duration(cp.confIntLocked(keyTransactionMessageRetryInterval)) * time.Second
		it.notBefore = cp.clock.Now().Add(iv * time.Duration(it.attempts))
		cp.log.Warn("the central system refused a transaction message; will retry", "action", it.Action, "attempt", it.attempts, "err", err)
		return
	}
	cp.lock()
	defer cp.unlock()
	switch r := resp.(type) {
	case *v16.StartTransactionResponse:
		cp.startAnsweredLocked(it.Tx, req.(*v16.StartTransactionRequest), r)
	case *v16.StopTransactionResponse:
		sreq := req.(*v16.StopTransactionRequest)
		if r.IDTagInfo != nil && sreq.IDTag != "" {
			cp.cacheLocked(sreq.IDTag, *r.IDTagInfo)
		}
		for local, real := range cp.idMap {
			if local == it.Tx || real == sreq.TransactionID {
				delete(cp.idMap, local)
			}
		}
		cp.saveStateLocked()
	}
	if err := cp.queue.pop(it.Seq); err != nil {
		cp.log.Error("queue", "err", err)
	}
}

// startAnsweredLocked records the central system's transaction id and acts
// on the tag's status.
func (cp *ChargePoint) startAnsweredLocked(local int, req *v16.StartTransactionRequest, resp *v16.StartTransactionResponse) {
	cp.idMap[local] = resp.TransactionID
	cp.cacheLocked(req.IDTag, resp.IDTagInfo)
	for _, c := range cp.conns[1:] {
		tx := c.tx
		if tx == nil || tx.LocalID != local {
			continue
		}
		tx.ID = resp.TransactionID
		cp.journalLocked("connector %d transaction %d is %d", c.id, local, tx.ID)
		if resp.IDTagInfo.Status != v16.AuthorizationStatusAccepted {
			cp.journalLocked("connector %d transaction %d: tag %s", c.id, tx.ID, resp.IDTagInfo.Status)
			if cp.confBoolLocked(keyStopTransactionOnInvalidID) {
				cp.stopTxLocked(c, v16.ReasonDeAuthorized, "")
			} else {
				tx.Deauthorized = true
				cp.refreshLocked(c, false)
			}
		}
	}
	cp.saveStateLocked()
}

// housekeeper does what is due by the clock: periodic and clock-aligned
// meter values, reservation expiry, authorizations that waited too long for
// the cable, and charging-profile period boundaries.
func (cp *ChargePoint) housekeeper(ctx context.Context) {
	for ctx.Err() == nil {
		cp.lock()
		next := cp.housekeepLocked(cp.clock.Now())
		now := cp.clock.Now()
		cp.unlock()
		d := time.Duration(-1)
		if !next.IsZero() {
			d = max(next.Sub(now), 0)
		}
		cp.sleepClock(ctx, d, cp.hkWake)
	}
}

func (cp *ChargePoint) housekeepLocked(now time.Time) time.Time {
	var next time.Time
	// Periodic samples.
	sampled := splitList(cp.confLocked(keyMeterValuesSampledData))
	for _, c := range cp.conns[1:] {
		tx := c.tx
		if tx == nil {
			continue
		}
		if c.nextSample.IsZero() {
			c.nextSample = cp.nextSampleAfter(now)
		} else if !now.Before(c.nextSample) {
			if mv := cp.sampleLocked(c, sampled, v16.ReadingContextSamplePeriodic, now); mv != nil {
				cp.queueMeterLocked(c, *mv)
			}
			tx.LastWh, tx.LastAt = cp.meters[c.id].EnergyWh, now.UTC()
			cp.saveStateLocked()
			c.nextSample = cp.nextSampleAfter(now)
		}
		next = schedule.Earliest(next, c.nextSample)
	}
	// Clock-aligned samples.
	if iv := time.Duration(cp.confIntLocked(keyClockAlignedDataInterval)) * time.Second; iv > 0 {
		if !cp.nextAligned.IsZero() && !now.Before(cp.nextAligned) {
			cp.alignedLocked(now)
			cp.nextAligned = time.Time{}
		}
		if cp.nextAligned.IsZero() {
			day := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, now.Location())
			k := math.Floor(float64(now.Sub(day))/float64(iv)) + 1
			cp.nextAligned = day.Add(time.Duration(k) * iv)
		}
		next = schedule.Earliest(next, cp.nextAligned)
	}
	// Reservations.
	for _, r := range append([]*reservation(nil), cp.reservations...) {
		if !now.Before(r.Expiry) {
			cp.journalLocked("reservation %d expired", r.ID)
			cp.removeReservationLocked(r.ID)
			continue
		}
		next = schedule.Earliest(next, r.Expiry)
	}
	// Authorizations waiting for the cable.
	for _, c := range cp.conns[1:] {
		if c.pending == nil {
			continue
		}
		if !now.Before(c.pending.deadline) {
			cp.journalLocked("connector %d: no cable within ConnectionTimeOut, authorization dropped", c.id)
			c.pending = nil
			cp.refreshLocked(c, false)
			continue
		}
		next = schedule.Earliest(next, c.pending.deadline)
	}
	// Profiles that ended, and period boundaries.
	if cp.dropExpiredProfilesLocked(now) {
		cp.refreshAllLocked(true)
	}
	for _, c := range cp.conns[1:] {
		if !c.limitNext.IsZero() && !now.Before(c.limitNext) {
			cp.refreshLocked(c, true)
		}
		next = schedule.Earliest(next, c.limitNext)
	}
	return next
}

// queueMeterLocked queues transaction MeterValues.
func (cp *ChargePoint) queueMeterLocked(c *connector, mv v16.MeterValue) {
	req := &v16.MeterValuesRequest{ConnectorID: c.id, MeterValue: []v16.MeterValue{mv}}
	if err := cp.queue.push("MeterValues", c.tx.ref(), req); err != nil {
		cp.log.Error("queueing MeterValues", "err", err)
	}
	cp.poke()
}

func (cp *ChargePoint) alignedLocked(now time.Time) {
	aligned := splitList(cp.confLocked(keyMeterValuesAlignedData))
	stopAligned := splitList(cp.confLocked(keyStopTxnAlignedData))
	for _, c := range cp.conns[1:] {
		if mv := cp.sampleLocked(c, aligned, v16.ReadingContextSampleClock, now); mv != nil {
			if c.tx != nil {
				cp.queueMeterLocked(c, *mv)
			} else {
				cp.outLocked(&v16.MeterValuesRequest{ConnectorID: c.id, MeterValue: []v16.MeterValue{*mv}}, nil)
			}
		}
		if c.tx != nil && len(c.tx.Aligned) < 100 {
			if mv := cp.sampleLocked(c, stopAligned, v16.ReadingContextSampleClock, now); mv != nil {
				c.tx.Aligned = append(c.tx.Aligned, *mv)
			}
		}
	}
}

// ---- Persisted state ----

// savedState is state.json: what must survive a restart besides the
// configuration, the authorization data and the queue.
type savedState struct {
	NextLocal    int               `json:"nextLocal"`
	IDMap        map[int]int       `json:"idMap,omitempty"`
	Txs          []*txState        `json:"transactions,omitempty"`
	Inoperative  []int             `json:"inoperative,omitempty"`
	Reservations []*reservation    `json:"reservations,omitempty"`
	Profiles     []json.RawMessage `json:"profiles,omitempty"`
}

func (cp *ChargePoint) saveStateLocked() {
	if cp.cfg.DataDir == "" {
		return
	}
	st := savedState{NextLocal: cp.nextLocal, IDMap: cp.idMap, Reservations: cp.reservations}
	for _, c := range cp.conns {
		if c.tx != nil {
			st.Txs = append(st.Txs, c.tx)
		}
		if c.inoperative {
			st.Inoperative = append(st.Inoperative, c.id)
		}
	}
	for _, p := range cp.profiles {
		raw, err := p.marshal()
		if err == nil {
			st.Profiles = append(st.Profiles, raw)
		}
	}
	if err := writeJSONFile(cp.path("state.json"), st); err != nil {
		cp.log.Error("saving state", "err", err)
	}
}

// loadStateLocked restores state.json and stops the transactions that were
// running when the last run ended.
func (cp *ChargePoint) loadStateLocked() error {
	if cp.cfg.DataDir == "" {
		return nil
	}
	var st savedState
	found, err := readJSONFile(cp.path("state.json"), &st)
	if err != nil || !found {
		return err
	}
	if st.NextLocal < 0 {
		cp.nextLocal = st.NextLocal
	}
	if st.IDMap != nil {
		cp.idMap = st.IDMap
	}
	for _, id := range st.Inoperative {
		if id >= 0 && id < len(cp.conns) {
			cp.conns[id].inoperative = true
		}
	}
	cp.reservations = st.Reservations
	for _, raw := range st.Profiles {
		if p, err := unmarshalProfile(raw); err == nil {
			cp.profiles = append(cp.profiles, p)
		}
	}
	now := cp.clock.Now()
	for _, tx := range st.Txs {
		if tx == nil || tx.Connector < 1 || tx.Connector >= len(cp.conns) {
			continue
		}
		cp.recoverTxLocked(tx, now)
	}
	cp.saveStateLocked()
	return nil
}

// recoverTxLocked stops a transaction that a power loss interrupted.
func (cp *ChargePoint) recoverTxLocked(tx *txState, now time.Time) {
	if tx.ID == 0 {
		if real, ok := cp.idMap[tx.LocalID]; ok {
			tx.ID = real
		} else if !cp.queue.hasStart(tx.LocalID) {
			// The start was recorded but not queued: queue it now.
			req := &v16.StartTransactionRequest{ConnectorID: tx.Connector, IDTag: tx.IDTag, MeterStart: tx.MeterStart, ReservationID: tx.ReservationID, Timestamp: tx.Start}
			if err := cp.queue.push("StartTransaction", tx.LocalID, req); err != nil {
				cp.log.Error("queueing StartTransaction", "err", err)
			}
		}
	}
	stopWh := tx.LastWh
	at := tx.LastAt
	if hw := cp.meters[tx.Connector].EnergyWh; hw >= stopWh {
		stopWh, at = hw, now
	}
	if at.IsZero() {
		at = now
	}
	stop := max(int(math.Round(stopWh)), tx.MeterStart)
	end := &v16.MeterValue{Timestamp: at.UTC(), SampledValue: []v16.SampledValue{{
		Value: fmt.Sprint(stop), Context: v16.ReadingContextTransactionEnd, Measurand: v16.MeasurandEnergyActiveImportRegister,
		Unit: v16.UnitOfMeasureWh, Location: v16.LocationOutlet,
	}}}
	cp.queueStopLocked(tx, v16.ReasonPowerLoss, "", stop, at, end)
	cp.removeTxProfilesLocked(tx.Connector)
	cp.journalLocked("connector %d transaction %d stopped after a power loss, meter %d Wh", tx.Connector, tx.ref(), stop)
	cp.log.Info("stopped a transaction interrupted by a restart", "connector", tx.Connector, "transaction", tx.ref(), "meterStop", stop)
}
