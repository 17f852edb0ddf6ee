package api

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/wattson-csms/wattson/diagnostics"
	"github.com/wattson-csms/wattson/files"
	"github.com/wattson-csms/wattson/store"
)

// Diagnostics: ask a charger for its diagnostics file, follow the
// request, download the file it uploaded.

// DiagnosticsJSON is a diagnostics request.
type DiagnosticsJSON struct {
	ID            int64      `json:"id"`
	ChargerID     string     `json:"chargerId"`
	StartTime     *time.Time `json:"startTime"`
	StopTime      *time.Time `json:"stopTime"`
	Retries       *int       `json:"retries"`
	RetryInterval *int       `json:"retryInterval"`
	Status        string     `json:"status"`
	FileName      string     `json:"fileName"`
	FileID        *int64     `json:"fileId"`
	Detail        string     `json:"detail"`
	RequestedBy   string     `json:"requestedBy"`
	RequestedAt   time.Time  `json:"requestedAt"`
	UpdatedAt     time.Time  `json:"updatedAt"`
}

func diagnosticsJSON(d store.DiagnosticsRequest) DiagnosticsJSON {
	return DiagnosticsJSON{ID: d.ID, ChargerID: d.ChargerID, StartTime: d.StartTime, StopTime: d.StopTime, Retries: d.Retries,
		RetryInterval: d.RetryInterval, Status: string(d.Status), FileName: d.FileName, FileID: d.FileID, Detail: d.Detail,
		RequestedBy: d.RequestedBy, RequestedAt: d.RequestedAt, UpdatedAt: d.UpdatedAt}
}

// DiagnosticsCreate is the body of POST /chargers/{id}/diagnostics; all
// fields are optional.
type DiagnosticsCreate struct {
	StartTime     *string `json:"startTime"`
	StopTime      *string `json:"stopTime"`
	Retries       *int    `json:"retries"`
	RetryInterval *int    `json:"retryInterval"`
}

func optTime(field string, v *string) (*time.Time, error) {
	if v == nil {
		return nil, nil
	}
	t, err := time.Parse(time.RFC3339Nano, *v)
	if err != nil {
		return nil, invalidBody(field, "%s must be an RFC 3339 date-time such as 2026-12-01T08:00:00Z", field)
	}
	t = t.UTC().Truncate(time.Microsecond)
	return &t, nil
}

// requestDiagnostics is POST /chargers/{id}/diagnostics.
func (a *API) requestDiagnostics(w http.ResponseWriter, r *http.Request) error {
	if a.cfg.Diagnostics == nil {
		return notFound("diagnostics uploads are not enabled on this server")
	}
	id, err := chargerID(r)
	if err != nil {
		return notFound("no charger %q", r.PathValue("id"))
	}
	var b DiagnosticsCreate
	if r.ContentLength != 0 {
		if err := decodeBody(w, r, &b); err != nil {
			return err
		}
	}
	o := diagnostics.Options{Retries: b.Retries, RetryInterval: b.RetryInterval, By: actor(r)}
	if o.StartTime, err = optTime("startTime", b.StartTime); err != nil {
		return err
	}
	if o.StopTime, err = optTime("stopTime", b.StopTime); err != nil {
		return err
	}
	switch {
	case o.StartTime != nil && o.StopTime != nil && !o.StopTime.After(*o.StartTime):
		return invalidBody("stopTime", "stopTime must be after startTime")
	case b.Retries != nil && (*b.Retries < 0 || *b.Retries > 100):
		return invalidBody("retries", "retries must be 0 to 100")
	case b.RetryInterval != nil && (*b.RetryInterval < 0 || *b.RetryInterval > 86400):
		return invalidBody("retryInterval", "retryInterval must be 0 to 86400 seconds")
	}
	d, err := a.cfg.Diagnostics.Request(r.Context(), id, o)
	if err != nil {
		return err
	}
	w.Header().Set("Location", Prefix+"/diagnostics/"+strconv.FormatInt(d.ID, 10))
	return writeJSON(w, http.StatusCreated, diagnosticsJSON(d))
}

// listDiagnostics is GET /diagnostics (?charger=) and GET
// /chargers/{id}/diagnostics, newest first.
func (a *API) listDiagnostics(w http.ResponseWriter, r *http.Request) error {
	q := newQuery(r)
	limit, before := q.limit(), q.id("before")
	charger := q.str("charger", 48)
	if q.err != nil {
		return q.err
	}
	if r.PathValue("id") != "" {
		id, err := chargerID(r)
		if err != nil {
			return notFound("no charger %q", r.PathValue("id"))
		}
		charger = id
	}
	ds, err := a.st.ListDiagnosticsRequests(r.Context(), charger, before, fetchLimit(limit))
	if err != nil {
		return err
	}
	out := make([]DiagnosticsJSON, len(ds))
	for i, d := range ds {
		out[i] = diagnosticsJSON(d)
	}
	return writeJSON(w, http.StatusOK, page(out, limit, func(x DiagnosticsJSON) string { return strconv.FormatInt(x.ID, 10) }))
}

func (a *API) diagnosticsRequest(r *http.Request) (store.DiagnosticsRequest, error) {
	id, err := intPath(r, "diag", 1, 1<<62)
	if err != nil {
		return store.DiagnosticsRequest{}, err
	}
	d, err := a.st.GetDiagnosticsRequest(r.Context(), id)
	if errors.Is(err, store.ErrNotFound) {
		return d, notFound("no diagnostics request %d", id)
	}
	return d, err
}

func (a *API) getDiagnostics(w http.ResponseWriter, r *http.Request) error {
	d, err := a.diagnosticsRequest(r)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, diagnosticsJSON(d))
}

// diagnosticsFile is GET /diagnostics/{diag}/file: the file the charger
// uploaded.
func (a *API) diagnosticsFile(w http.ResponseWriter, r *http.Request) error {
	d, err := a.diagnosticsRequest(r)
	if err != nil {
		return err
	}
	if d.FileID == nil {
		return notFound("diagnostics request %d has no file yet (status %s)", d.ID, d.Status)
	}
	f, err := a.st.GetFile(r.Context(), *d.FileID)
	if errors.Is(err, store.ErrNotFound) {
		return notFound("the file of diagnostics request %d is gone", d.ID)
	}
	if err != nil {
		return err
	}
	if !f.Complete {
		return fmt.Errorf("diagnostics request %d points at incomplete file %d", d.ID, f.ID)
	}
	files.ServeFile(w, r, a.st, f)
	return nil
}
