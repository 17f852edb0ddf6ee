package chargepoint

import (
	"context"
	"time"

	"github.com/wattson-csms/wattson/ocpp/v16"
)

// authEntry is an id tag's authorization in the local list or the cache.
type authEntry struct {
	Status v16.AuthorizationStatus `json:"status"`
	Expiry *time.Time              `json:"expiry,omitempty"`
	Parent string                  `json:"parent,omitempty"`
}

func entryOf(info v16.IDTagInfo) authEntry {
	return authEntry{Status: info.Status, Expiry: info.ExpiryDate, Parent: info.ParentIDTag}
}

// info returns the entry as IdTagInfo, Expired when its expiry has passed.
func (e authEntry) info(now time.Time) v16.IDTagInfo {
	st := e.Status
	if st == v16.AuthorizationStatusAccepted && e.Expiry != nil && !now.Before(*e.Expiry) {
		st = v16.AuthorizationStatusExpired
	}
	return v16.IDTagInfo{Status: st, ExpiryDate: e.Expiry, ParentIDTag: e.Parent}
}

// savedAuth is auth.json.
type savedAuth struct {
	ListVersion int                  `json:"listVersion"`
	List        map[string]authEntry `json:"list,omitempty"`
	Cache       map[string]authEntry `json:"cache,omitempty"`
}

func (cp *ChargePoint) loadAuth() error {
	if cp.cfg.DataDir == "" {
		return nil
	}
	var s savedAuth
	found, err := readJSONFile(cp.path("auth.json"), &s)
	if err != nil || !found {
		return err
	}
	cp.listVersion = s.ListVersion
	if s.List != nil {
		cp.localList = s.List
	}
	if s.Cache != nil {
		cp.cache = s.Cache
	}
	return nil
}

func (cp *ChargePoint) saveAuthLocked() error {
	if cp.cfg.DataDir == "" {
		return nil
	}
	return writeJSONFile(cp.path("auth.json"), savedAuth{ListVersion: cp.listVersion, List: cp.localList, Cache: cp.cache})
}

// maxCache bounds the authorization cache.
const maxCache = 1000

// cacheLocked records what the central system said about a tag. Tags in
// the local list are not cached: the list leads.
func (cp *ChargePoint) cacheLocked(idTag string, info v16.IDTagInfo) {
	if !cp.confBoolLocked(keyAuthorizationCacheEnabled) || idTag == "" {
		return
	}
	if _, inList := cp.localList[idTag]; inList {
		return
	}
	e := entryOf(info)
	if old, ok := cp.cache[idTag]; ok && old == e {
		return
	}
	if _, ok := cp.cache[idTag]; !ok && len(cp.cache) >= maxCache {
		for k := range cp.cache { // evict an arbitrary entry
			delete(cp.cache, k)
			break
		}
	}
	cp.cache[idTag] = e
	if err := cp.saveAuthLocked(); err != nil {
		cp.log.Warn("saving the authorization cache", "err", err)
	}
}

// localAuthLocked decides a tag from the local list or cache, following
// LocalPreAuthorize (online) and LocalAuthorizeOffline (offline); decided is
// false when the central system must be asked (or, offline, nothing local
// knows the tag).
func (cp *ChargePoint) localAuthLocked(idTag string, online bool) (info v16.IDTagInfo, decided bool) {
	now := cp.clock.Now()
	use := (online && cp.confBoolLocked(keyLocalPreAuthorize)) || (!online && cp.confBoolLocked(keyLocalAuthorizeOffline))
	if !use {
		return v16.IDTagInfo{}, false
	}
	if cp.confBoolLocked(keyLocalAuthListEnabled) {
		if e, ok := cp.localList[idTag]; ok {
			return e.info(now), true
		}
	}
	if cp.confBoolLocked(keyAuthorizationCacheEnabled) {
		if e, ok := cp.cache[idTag]; ok {
			info := e.info(now)
			// Online, only an accepted entry spares the Authorize; a
			// refused one may have changed at the central system.
			if !online || info.Status == v16.AuthorizationStatusAccepted {
				return info, true
			}
		}
	}
	return v16.IDTagInfo{}, false
}

// offlineAuthLocked decides a tag while the central system cannot be
// asked.
func (cp *ChargePoint) offlineAuthLocked(idTag string) v16.IDTagInfo {
	if info, ok := cp.localAuthLocked(idTag, false); ok {
		return info
	}
	if cp.confBoolLocked(keyAllowOfflineTxForUnknownID) {
		return v16.IDTagInfo{Status: v16.AuthorizationStatusAccepted}
	}
	return v16.IDTagInfo{Status: v16.AuthorizationStatusInvalid}
}

// authorizeLocked decides a tag and calls then with the lock held: at once
// when the local data decide, else after an Authorize to the central
// system (in the background), falling back to the offline rules when that
// fails.
func (cp *ChargePoint) authorizeLocked(idTag string, then func(info v16.IDTagInfo)) {
	online := cp.onlineLocked()
	if info, ok := cp.localAuthLocked(idTag, online); ok {
		then(info)
		return
	}
	if !online {
		then(cp.offlineAuthLocked(idTag))
		return
	}
	conn := cp.conn
	spawned := cp.spawnLocked(func(ctx context.Context) {
		resp, err := v16.CallAuthorize(ctx, conn, &v16.AuthorizeRequest{IDTag: idTag})
		cp.lock()
		defer cp.unlock()
		if err != nil {
			cp.log.Info("Authorize failed; deciding offline", "idTag", idTag, "err", err)
			if ctx.Err() != nil {
				return
			}
			then(cp.offlineAuthLocked(idTag))
			return
		}
		cp.cacheLocked(idTag, resp.IDTagInfo)
		then(resp.IDTagInfo)
	})
	if !spawned {
		then(cp.offlineAuthLocked(idTag))
	}
}

// sendLocalList answers SendLocalList.
func (cp *ChargePoint) sendLocalList(req *v16.SendLocalListRequest) v16.UpdateStatus {
	cp.lock()
	defer cp.unlock()
	if !cp.confBoolLocked(keyLocalAuthListEnabled) {
		return v16.UpdateStatusNotSupported
	}
	if len(req.LocalAuthorizationList) > cp.confIntLocked(keySendLocalListMaxLength) {
		return v16.UpdateStatusFailed
	}
	var list map[string]authEntry
	switch req.UpdateType {
	case v16.UpdateTypeFull:
		list = make(map[string]authEntry, len(req.LocalAuthorizationList))
	default:
		if req.ListVersion <= cp.listVersion {
			return v16.UpdateStatusVersionMismatch
		}
		list = make(map[string]authEntry, len(cp.localList))
		for k, v := range cp.localList {
			list[k] = v
		}
	}
	for _, d := range req.LocalAuthorizationList {
		if d.IDTagInfo == nil {
			delete(list, d.IDTag)
			continue
		}
		list[d.IDTag] = entryOf(*d.IDTagInfo)
	}
	if len(list) > cp.confIntLocked(keyLocalAuthListMaxLength) {
		return v16.UpdateStatusFailed
	}
	oldList, oldVersion := cp.localList, cp.listVersion
	cp.localList, cp.listVersion = list, req.ListVersion
	for k := range list {
		delete(cp.cache, k)
	}
	if err := cp.saveAuthLocked(); err != nil {
		cp.localList, cp.listVersion = oldList, oldVersion
		cp.log.Error("saving the local list", "err", err)
		return v16.UpdateStatusFailed
	}
	cp.journalLocked("local list version %d (%s, %d entries)", req.ListVersion, req.UpdateType, len(list))
	return v16.UpdateStatusAccepted
}

func (cp *ChargePoint) localListVersion() int {
	cp.mu.Lock()
	defer cp.mu.Unlock()
	if !cp.confBoolLocked(keyLocalAuthListEnabled) {
		return -1
	}
	return cp.listVersion
}

func (cp *ChargePoint) clearCache() v16.GenericStatus {
	cp.mu.Lock()
	defer cp.mu.Unlock()
	cp.cache = map[string]authEntry{}
	if err := cp.saveAuthLocked(); err != nil {
		cp.log.Error("clearing the cache", "err", err)
		return v16.GenericStatusRejected
	}
	cp.journalLocked("authorization cache cleared")
	return v16.GenericStatusAccepted
}

// LocalList returns the local authorization list's version and entries (a
// copy), as GetLocalListVersion and offline authorization see them.
func (cp *ChargePoint) LocalList() (version int, entries map[string]v16.IDTagInfo) {
	cp.mu.Lock()
	defer cp.mu.Unlock()
	entries = make(map[string]v16.IDTagInfo, len(cp.localList))
	for tag, e := range cp.localList {
		entries[tag] = v16.IDTagInfo{Status: e.Status, ExpiryDate: e.Expiry, ParentIDTag: e.Parent}
	}
	return cp.listVersion, entries
}
