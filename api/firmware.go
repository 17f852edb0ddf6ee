package api

import (
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/wattson-csms/wattson/files"
	"github.com/wattson-csms/wattson/firmware"
	"github.com/wattson-csms/wattson/ocpp"
	"github.com/wattson-csms/wattson/store"
)

// Firmware: files operators upload, roll-outs that update chargers with
// them, and each charger's firmware state.

// Limits of the firmware endpoints.
const (
	DefaultMaxFirmwareSize = 256 << 20
	maxRolloutChargers     = 20000
	maxFileNote            = 2000
	maxFirmwareVersion     = 50 // OCPP's firmwareVersion is CiString50
)

// actor names who made a request, for the records it creates.
func actor(r *http.Request) string {
	p := principalOf(r)
	switch {
	case p.user != nil:
		return p.user.Username
	case p.tokenID != 0:
		return "token " + strconv.FormatInt(p.tokenID, 10)
	}
	return "admin token"
}

// FileJSON is a stored file.
type FileJSON struct {
	ID          int64     `json:"id"`
	Kind        string    `json:"kind"`
	Name        string    `json:"name"`
	ContentType string    `json:"contentType"`
	Size        int64     `json:"size"`
	SHA256      string    `json:"sha256"`
	ChargerID   string    `json:"chargerId,omitempty"`
	Version     string    `json:"version,omitempty"`
	Note        string    `json:"note,omitempty"`
	CreatedBy   string    `json:"createdBy,omitempty"`
	CreatedAt   time.Time `json:"createdAt"`
}

func fileJSON(f store.File) FileJSON {
	return FileJSON{ID: f.ID, Kind: string(f.Kind), Name: f.Name, ContentType: f.ContentType, Size: f.Size, SHA256: hex.EncodeToString(f.SHA256),
		ChargerID: f.ChargerID, Version: f.Version, Note: f.Note, CreatedBy: f.CreatedBy, CreatedAt: f.CreatedAt}
}

func (a *API) needFirmware() (*firmware.Manager, error) {
	if a.cfg.Firmware == nil {
		return nil, notFound("firmware roll-outs are not enabled on this server")
	}
	return a.cfg.Firmware, nil
}

// uploadFirmware is POST /firmware/files: a multipart form (fields file,
// version, note) or the raw image with ?name=&version=&note=.
func (a *API) uploadFirmware(w http.ResponseWriter, r *http.Request) error {
	limit := a.cfg.MaxFirmwareSize
	body := http.MaxBytesReader(w, r.Body, limit+1<<20)
	r.Body = body
	f := store.File{Kind: store.FileFirmware, CreatedBy: actor(r), CreatedAt: a.now()}
	q := newQuery(r)
	f.Name, f.Version, f.Note = q.str("name", 255), q.str("version", maxFirmwareVersion), q.str("note", maxFileNote)
	if q.err != nil {
		return q.err
	}
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	var saved store.File
	var err error
	switch mt {
	case "multipart/form-data":
		saved, err = a.saveMultipart(r, f, limit)
	case "", "application/octet-stream":
		if f.Name == "" {
			return invalidParam("name", "name is required: the file name chargers see (e.g. fw-2.1.bin)")
		}
		f.ContentType = "application/octet-stream"
		saved, err = files.Save(r.Context(), a.st, f, body, limit)
	default:
		return &Error{Kind: KindUnsupportedMediaType, Detail: fmt.Sprintf("send multipart/form-data or application/octet-stream, not %q", mt)}
	}
	var tooBig *http.MaxBytesError
	if errors.Is(err, files.ErrTooLarge) || errors.As(err, &tooBig) {
		return &Error{Kind: KindPayloadTooLarge, Detail: fmt.Sprintf("the firmware file is larger than %d bytes", limit)}
	}
	if err != nil {
		return err
	}
	a.log.Info("firmware file uploaded", "file", saved.ID, "name", saved.Name, "size", saved.Size, "version", saved.Version, "by", saved.CreatedBy)
	w.Header().Set("Location", Prefix+"/firmware/files/"+strconv.FormatInt(saved.ID, 10))
	return writeJSON(w, http.StatusCreated, fileJSON(saved))
}

// saveMultipart streams the form's file part; text fields before it set
// version and note (as a browser sends them in form order).
func (a *API) saveMultipart(r *http.Request, f store.File, limit int64) (store.File, error) {
	mr, err := r.MultipartReader()
	if err != nil {
		return store.File{}, invalidBody("", "the multipart form cannot be read: %v", err)
	}
	for {
		p, err := mr.NextPart()
		if err != nil {
			if errors.Is(err, io.EOF) {
				return store.File{}, invalidBody("file", "the form has no file part")
			}
			return store.File{}, invalidBody("", "the multipart form cannot be read: %v", err)
		}
		switch name := p.FormName(); {
		case p.FileName() != "" || name == "file":
			if f.Name == "" {
				f.Name = p.FileName()
			}
			if f.Name == "" {
				return store.File{}, invalidBody("file", "the file part has no file name")
			}
			f.ContentType = p.Header.Get("Content-Type")
			if f.ContentType == "" {
				f.ContentType = "application/octet-stream"
			}
			if err := checkText("version", f.Version, maxFirmwareVersion); err != nil {
				return store.File{}, err
			}
			if err := checkText("note", f.Note, maxFileNote); err != nil {
				return store.File{}, err
			}
			return files.Save(r.Context(), a.st, f, p, limit)
		case name == "version" || name == "note":
			b := make([]byte, maxFileNote*4+1)
			n, _ := io.ReadFull(p, b)
			v := strings.TrimSpace(string(b[:n]))
			if name == "version" {
				f.Version = v
			} else {
				f.Note = v
			}
		}
	}
}

// checkText checks a free-text field.
func checkText(field, v string, max int) error {
	if !utf8.ValidString(v) || utf8.RuneCountInString(v) > max {
		return invalidBody(field, "%s must be at most %d characters of text", field, max)
	}
	return nil
}

// listFirmwareFiles is GET /firmware/files, newest first.
func (a *API) listFirmwareFiles(w http.ResponseWriter, r *http.Request) error {
	q := newQuery(r)
	limit, before := q.limit(), q.id("before")
	if q.err != nil {
		return q.err
	}
	fs, err := a.st.ListFiles(r.Context(), store.FileFilter{Kind: store.FileFirmware, Before: before, Limit: fetchLimit(limit)})
	if err != nil {
		return err
	}
	out := make([]FileJSON, len(fs))
	for i, f := range fs {
		out[i] = fileJSON(f)
	}
	return writeJSON(w, http.StatusOK, page(out, limit, func(f FileJSON) string { return strconv.FormatInt(f.ID, 10) }))
}

func (a *API) fileOfKind(r *http.Request, kind store.FileKind) (store.File, error) {
	id, err := intPath(r, "file", 1, 1<<62)
	if err != nil {
		return store.File{}, err
	}
	f, err := a.st.GetFile(r.Context(), id)
	if errors.Is(err, store.ErrNotFound) || err == nil && (f.Kind != kind || !f.Complete) {
		return store.File{}, notFound("no %s file %d", kind, id)
	}
	return f, err
}

func (a *API) getFirmwareFile(w http.ResponseWriter, r *http.Request) error {
	f, err := a.fileOfKind(r, store.FileFirmware)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, fileJSON(f))
}

func (a *API) firmwareContent(w http.ResponseWriter, r *http.Request) error {
	f, err := a.fileOfKind(r, store.FileFirmware)
	if err != nil {
		return err
	}
	files.ServeFile(w, r, a.st, f)
	return nil
}

func (a *API) deleteFirmwareFile(w http.ResponseWriter, r *http.Request) error {
	f, err := a.fileOfKind(r, store.FileFirmware)
	if err != nil {
		return err
	}
	if err := a.st.DeleteFile(r.Context(), f.ID); err != nil {
		if errors.Is(err, store.ErrConflict) {
			return &Error{Kind: KindConflict, Detail: fmt.Sprintf("firmware file %d is used by a roll-out; it stays as its record", f.ID)}
		}
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// RolloutJSON is a firmware roll-out.
type RolloutJSON struct {
	ID                int64          `json:"id"`
	FileID            int64          `json:"fileId"`
	Status            string         `json:"status"`
	MaxConcurrent     int            `json:"maxConcurrent"`
	MaxFailurePercent float64        `json:"maxFailurePercent"`
	MinFinished       int            `json:"minFinished"`
	Retries           *int           `json:"retries"`
	RetryInterval     *int           `json:"retryInterval"`
	RetrieveDate      *time.Time     `json:"retrieveDate"`
	TimeoutSeconds    int64          `json:"timeoutSeconds"`
	Detail            string         `json:"detail"`
	CreatedBy         string         `json:"createdBy"`
	CreatedAt         time.Time      `json:"createdAt"`
	UpdatedAt         time.Time      `json:"updatedAt"`
	FinishedAt        *time.Time     `json:"finishedAt"`
	Total             int            `json:"total"`
	Counts            map[string]int `json:"counts"`
}

func rolloutJSON(r store.Rollout) RolloutJSON {
	out := RolloutJSON{ID: r.ID, FileID: r.FileID, Status: string(r.Status), MaxConcurrent: r.MaxConcurrent, MaxFailurePercent: r.MaxFailurePercent,
		MinFinished: r.MinFinished, Retries: r.Retries, RetryInterval: r.RetryInterval, RetrieveDate: r.RetrieveDate,
		TimeoutSeconds: int64(r.Timeout / time.Second), Detail: r.Detail, CreatedBy: r.CreatedBy, CreatedAt: r.CreatedAt,
		UpdatedAt: r.UpdatedAt, FinishedAt: r.FinishedAt, Counts: map[string]int{}}
	for _, s := range []store.TargetStatus{store.TargetQueued, store.TargetSent, store.TargetDownloading, store.TargetDownloaded,
		store.TargetInstalling, store.TargetInstalled, store.TargetFailed, store.TargetCancelled} {
		out.Counts[string(s)] = r.Counts[s]
		out.Total += r.Counts[s]
	}
	return out
}

// RolloutCreate is the body of POST /firmware/rollouts.
type RolloutCreate struct {
	FileID            int64    `json:"fileId"`
	Chargers          []string `json:"chargers"`
	MaxConcurrent     *int     `json:"maxConcurrent"`
	MaxFailurePercent *float64 `json:"maxFailurePercent"`
	MinFinished       *int     `json:"minFinished"`
	Retries           *int     `json:"retries"`
	RetryInterval     *int     `json:"retryInterval"`
	RetrieveDate      *string  `json:"retrieveDate"`
	TimeoutSeconds    *int64   `json:"timeoutSeconds"`
}

// Defaults of a roll-out.
const (
	defaultRolloutConcurrency = 10
	defaultFailurePercent     = 10
	defaultMinFinished        = 5
)

// createRollout is POST /firmware/rollouts.
func (a *API) createRollout(w http.ResponseWriter, r *http.Request) error {
	m, err := a.needFirmware()
	if err != nil {
		return err
	}
	var b RolloutCreate
	if err := decodeBody(w, r, &b); err != nil {
		return err
	}
	ro := store.Rollout{FileID: b.FileID, MaxConcurrent: defaultRolloutConcurrency, MaxFailurePercent: defaultFailurePercent,
		MinFinished: defaultMinFinished, Retries: b.Retries, RetryInterval: b.RetryInterval, Timeout: firmware.DefaultTimeout, CreatedBy: actor(r)}
	switch {
	case b.FileID <= 0:
		return invalidBody("fileId", "fileId is required: a firmware file's id (POST %s/firmware/files)", Prefix)
	case len(b.Chargers) == 0:
		return invalidBody("chargers", "chargers needs at least one charger id")
	case len(b.Chargers) > maxRolloutChargers:
		return invalidBody("chargers", "chargers must name at most %d chargers", maxRolloutChargers)
	}
	if b.MaxConcurrent != nil {
		if *b.MaxConcurrent < 1 || *b.MaxConcurrent > firmware.MaxConcurrentLimit {
			return invalidBody("maxConcurrent", "maxConcurrent must be 1 to %d", firmware.MaxConcurrentLimit)
		}
		ro.MaxConcurrent = *b.MaxConcurrent
	}
	if b.MaxFailurePercent != nil {
		if *b.MaxFailurePercent < 0 || *b.MaxFailurePercent > 100 {
			return invalidBody("maxFailurePercent", "maxFailurePercent must be 0 to 100")
		}
		ro.MaxFailurePercent = *b.MaxFailurePercent
	}
	if b.MinFinished != nil {
		if *b.MinFinished < 0 || *b.MinFinished > maxRolloutChargers {
			return invalidBody("minFinished", "minFinished must be 0 to %d", maxRolloutChargers)
		}
		ro.MinFinished = *b.MinFinished
	}
	if b.Retries != nil && (*b.Retries < 0 || *b.Retries > 100) {
		return invalidBody("retries", "retries must be 0 to 100")
	}
	if b.RetryInterval != nil && (*b.RetryInterval < 0 || *b.RetryInterval > 86400) {
		return invalidBody("retryInterval", "retryInterval must be 0 to 86400 seconds")
	}
	if b.TimeoutSeconds != nil {
		if *b.TimeoutSeconds < 60 || *b.TimeoutSeconds > 7*86400 {
			return invalidBody("timeoutSeconds", "timeoutSeconds must be 60 to 604800")
		}
		ro.Timeout = time.Duration(*b.TimeoutSeconds) * time.Second
	}
	if b.RetrieveDate != nil {
		t, err := time.Parse(time.RFC3339Nano, *b.RetrieveDate)
		if err != nil {
			return invalidBody("retrieveDate", "retrieveDate must be an RFC 3339 date-time such as 2026-12-24T02:00:00Z")
		}
		if t.After(a.now().Add(365 * 24 * time.Hour)) {
			return invalidBody("retrieveDate", "retrieveDate must be within a year")
		}
		t = t.UTC().Truncate(time.Microsecond)
		ro.RetrieveDate = &t
	}
	if _, err := a.fileOfKindID(r, b.FileID); err != nil {
		return err
	}
	// Every charger must exist: one read of the fleet, not one per charger.
	known, err := a.st.ListChargerSummaries(r.Context())
	if err != nil {
		return err
	}
	ids := make(map[string]bool, len(known))
	for _, c := range known {
		ids[c.ID] = true
	}
	seen := make(map[string]bool, len(b.Chargers))
	for i, id := range b.Chargers {
		field := fmt.Sprintf("chargers[%d]", i)
		if err := ocpp.ValidateChargerID(id); err != nil {
			return invalidBody(field, "%v", err)
		}
		if seen[id] {
			return invalidBody(field, "charger %q is named twice", id)
		}
		if !ids[id] {
			return invalidBody(field, "no charger %q", id)
		}
		seen[id] = true
	}
	out, err := m.Create(r.Context(), ro, b.Chargers)
	if errors.Is(err, store.ErrConflict) {
		return &Error{Kind: KindConflict, Detail: err.Error()}
	}
	if err != nil {
		return err
	}
	w.Header().Set("Location", Prefix+"/firmware/rollouts/"+strconv.FormatInt(out.ID, 10))
	return writeJSON(w, http.StatusCreated, rolloutJSON(out))
}

func (a *API) fileOfKindID(r *http.Request, id int64) (store.File, error) {
	f, err := a.st.GetFile(r.Context(), id)
	if errors.Is(err, store.ErrNotFound) || err == nil && (f.Kind != store.FileFirmware || !f.Complete) {
		return store.File{}, invalidBody("fileId", "no firmware file %d", id)
	}
	return f, err
}

func (a *API) listRollouts(w http.ResponseWriter, r *http.Request) error {
	q := newQuery(r)
	limit, before := q.limit(), q.id("before")
	if q.err != nil {
		return q.err
	}
	rs, err := a.st.ListRollouts(r.Context(), before, fetchLimit(limit))
	if err != nil {
		return err
	}
	out := make([]RolloutJSON, len(rs))
	for i, ro := range rs {
		out[i] = rolloutJSON(ro)
	}
	return writeJSON(w, http.StatusOK, page(out, limit, func(x RolloutJSON) string { return strconv.FormatInt(x.ID, 10) }))
}

func (a *API) rollout(r *http.Request) (store.Rollout, error) {
	id, err := intPath(r, "rollout", 1, 1<<62)
	if err != nil {
		return store.Rollout{}, err
	}
	ro, err := a.st.GetRollout(r.Context(), id)
	if errors.Is(err, store.ErrNotFound) {
		return store.Rollout{}, notFound("no roll-out %d", id)
	}
	return ro, err
}

func (a *API) getRollout(w http.ResponseWriter, r *http.Request) error {
	ro, err := a.rollout(r)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, rolloutJSON(ro))
}

// TargetJSON is one charger of a roll-out.
type TargetJSON struct {
	ChargerID string     `json:"chargerId"`
	Seq       int        `json:"seq"`
	Status    string     `json:"status"`
	Detail    string     `json:"detail"`
	SentAt    *time.Time `json:"sentAt"`
	UpdatedAt time.Time  `json:"updatedAt"`
}

// rolloutTargets is GET /firmware/rollouts/{rollout}/targets, in the
// order they are updated; ?status= filters (comma-separated).
func (a *API) rolloutTargets(w http.ResponseWriter, r *http.Request) error {
	ro, err := a.rollout(r)
	if err != nil {
		return err
	}
	q := newQuery(r)
	limit, after, status := q.limit(), q.id("after"), q.str("status", 200)
	if q.err != nil {
		return q.err
	}
	f := store.TargetFilter{RolloutID: ro.ID, After: int(after), Limit: fetchLimit(limit)}
	if status != "" {
		for _, s := range strings.Split(status, ",") {
			ts := store.TargetStatus(strings.TrimSpace(s))
			if !validTarget(ts) {
				return invalidParam("status", "status %q: want Queued, Sent, Downloading, Downloaded, Installing, Installed, Failed or Cancelled", s)
			}
			f.Status = append(f.Status, ts)
		}
	}
	ts, err := a.st.ListRolloutTargets(r.Context(), f)
	if err != nil {
		return err
	}
	out := make([]TargetJSON, len(ts))
	for i, t := range ts {
		out[i] = TargetJSON{ChargerID: t.ChargerID, Seq: t.Seq, Status: string(t.Status), Detail: t.Detail, SentAt: t.SentAt, UpdatedAt: t.UpdatedAt}
	}
	return writeJSON(w, http.StatusOK, page(out, limit, func(x TargetJSON) string { return strconv.Itoa(x.Seq) }))
}

func validTarget(s store.TargetStatus) bool {
	return s.Final() || s.InFlight() || s == store.TargetQueued
}

// rolloutAction is POST /firmware/rollouts/{rollout}/{pause,resume,cancel}.
func rolloutAction(action string) func(a *API, w http.ResponseWriter, r *http.Request) error {
	return func(a *API, w http.ResponseWriter, r *http.Request) error {
		m, err := a.needFirmware()
		if err != nil {
			return err
		}
		ro, err := a.rollout(r)
		if err != nil {
			return err
		}
		var ok bool
		switch action {
		case "pause":
			ok, err = m.Pause(r.Context(), ro.ID, actor(r))
		case "resume":
			ok, err = m.Resume(r.Context(), ro.ID, actor(r))
		default:
			ok, err = m.Cancel(r.Context(), ro.ID, actor(r))
		}
		if err != nil {
			return err
		}
		if !ok {
			return &Error{Kind: KindConflict, Detail: fmt.Sprintf("roll-out %d is %s: it cannot %s", ro.ID, ro.Status, action)}
		}
		ro, err = a.st.GetRollout(r.Context(), ro.ID)
		if err != nil {
			return err
		}
		return writeJSON(w, http.StatusOK, rolloutJSON(ro))
	}
}

// ChargerFirmwareJSON is a charger's firmware state.
type ChargerFirmwareJSON struct {
	FirmwareVersion string      `json:"firmwareVersion"`
	Status          string      `json:"status"`   // the last FirmwareStatusNotification, "" if none
	StatusAt        *time.Time  `json:"statusAt"` // when it came
	Rollout         *TargetJSON `json:"rollout"`  // the roll-out it is updating in
	RolloutID       *int64      `json:"rolloutId"`
}

// chargerFirmware is GET /chargers/{id}/firmware.
func (a *API) chargerFirmware(w http.ResponseWriter, r *http.Request) error {
	id, err := chargerID(r)
	if err != nil {
		return notFound("no charger %q", r.PathValue("id"))
	}
	ch, err := a.st.GetCharger(r.Context(), id)
	if errors.Is(err, store.ErrNotFound) {
		return notFound("no charger %q", id)
	}
	if err != nil {
		return err
	}
	out := ChargerFirmwareJSON{FirmwareVersion: ch.FirmwareVersion}
	evs, err := a.st.ListChargerEvents(r.Context(), id, "FirmwareStatusNotification", 1)
	if err != nil {
		return err
	}
	if len(evs) > 0 {
		out.Status, out.StatusAt = evs[0].Status, &evs[0].ReceivedAt
	}
	t, err := a.st.CurrentTarget(r.Context(), id)
	switch {
	case err == nil:
		out.Rollout = &TargetJSON{ChargerID: t.ChargerID, Seq: t.Seq, Status: string(t.Status), Detail: t.Detail, SentAt: t.SentAt, UpdatedAt: t.UpdatedAt}
		out.RolloutID = &t.RolloutID
	case !errors.Is(err, store.ErrNotFound):
		return err
	}
	return writeJSON(w, http.StatusOK, out)
}
