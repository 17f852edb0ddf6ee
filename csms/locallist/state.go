package locallist

import (
	"context"
	"sync"
	"time"

	"github.com/wattson-csms/wattson/ocpp/v16"
	"github.com/wattson-csms/wattson/store"
)

// State is a charger's local list state as events and the API show it.
type State struct {
	ChargerID     string     `json:"chargerId"`
	ListID        *int64     `json:"listId"` // null: no list (the charger's list is cleared)
	ListName      string     `json:"listName"`
	State         string     `json:"state"` // inSync, pending, failed, notSupported, none
	Version       int        `json:"version"`
	HeldKnown     bool       `json:"heldKnown"`
	Entries       int        `json:"entries"` // entries the charger holds, when known
	Result        string     `json:"result"`
	Error         string     `json:"error"`
	Attempts      int        `json:"attempts"`
	AttemptAt     *time.Time `json:"attemptAt"`
	SyncedAt      *time.Time `json:"syncedAt"`
	NextAttemptAt *time.Time `json:"nextAttemptAt"`
	// UpdatedAt orders states: a reader keeps the newest it has seen.
	UpdatedAt time.Time `json:"updatedAt"`
}

// StateOf returns the state of a charger's local list.
func StateOf(s store.LocalListSync) State {
	out := State{
		ChargerID: s.ChargerID, ListName: s.ListName, State: s.State(), Version: s.Version,
		HeldKnown: s.HeldKnown, Entries: s.HeldCount, Result: s.Result, Error: s.Error, Attempts: s.Attempts,
		AttemptAt: s.AttemptAt, SyncedAt: s.SyncedAt, NextAttemptAt: s.NextAttemptAt, UpdatedAt: s.UpdatedAt,
	}
	if s.ListID != 0 {
		id := s.ListID
		out.ListID = &id
	}
	return out
}

// ClearResult is one charger's answer to ClearCache: its status, or the
// error that kept it from answering.
type ClearResult struct {
	ChargerID string
	Status    string // Accepted or Rejected
	Err       error
}

// clearParallel bounds the ClearCache calls in flight for one request.
const clearParallel = 16

// ClearCache sends ClearCache to each charger, some at a time, and returns
// a result per charger in the order given.
func (s *Syncer) ClearCache(ctx context.Context, chargerIDs []string) []ClearResult {
	out := make([]ClearResult, len(chargerIDs))
	sem := make(chan struct{}, clearParallel)
	var wg sync.WaitGroup
	for i, id := range chargerIDs {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			out[i] = ClearResult{ChargerID: id}
			cctx, cancel := s.callCtx(ctx)
			defer cancel()
			answer, err := s.cmd.Call(cctx, id, "ClearCache", []byte("{}"))
			if err != nil {
				out[i].Err = err
				return
			}
			var res v16.ClearCacheResponse
			if err := res.UnmarshalOCPP(answer); err != nil {
				out[i].Err = err
				return
			}
			out[i].Status = string(res.Status)
		}()
	}
	wg.Wait()
	return out
}
