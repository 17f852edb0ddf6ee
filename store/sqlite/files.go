package sqlite

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"errors"
	"fmt"
	"time"

	sqlite3 "modernc.org/sqlite/lib"

	"github.com/wattson-csms/wattson/store"
	"github.com/wattson-csms/wattson/store/internal/rules"
)

const fileCols = `id, kind, name, content_type, size, sha256, charger_id, version, note, created_by, created_at, complete`

func scanFile(s scanner) (store.File, error) {
	var f store.File
	var created int64
	err := s.Scan(&f.ID, &f.Kind, &f.Name, &f.ContentType, &f.Size, &f.SHA256, &f.ChargerID, &f.Version, &f.Note,
		&f.CreatedBy, &created, &f.Complete)
	f.CreatedAt = fromMicros(created)
	return f, err
}

// CreateFile implements store.Store.
func (db *DB) CreateFile(ctx context.Context, f store.File) (store.File, error) {
	if err := rules.File(f); err != nil {
		return store.File{}, err
	}
	out, err := scanFile(db.w.QueryRowContext(ctx, `INSERT INTO files
		(kind, name, content_type, charger_id, version, note, created_by, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
		RETURNING `+fileCols,
		f.Kind, f.Name, f.ContentType, f.ChargerID, f.Version, f.Note, f.CreatedBy, toMicros(rules.OrNow(f.CreatedAt))))
	if err != nil {
		return store.File{}, fmt.Errorf("sqlite: create file %q: %w", f.Name, err)
	}
	return out, nil
}

// PutFileChunk implements store.Store.
func (db *DB) PutFileChunk(ctx context.Context, fileID int64, seq int, data []byte) error {
	if err := rules.FileChunk(seq, data); err != nil {
		return err
	}
	// The insert names only an incomplete file: a sealed file's content
	// never changes.
	res, err := db.w.ExecContext(ctx, `INSERT INTO file_chunks (file_id, seq, data)
		SELECT id, ?, ? FROM files WHERE id = ? AND complete = 0
		ON CONFLICT (file_id, seq) DO UPDATE SET data = excluded.data`, seq, data, fileID)
	if err == nil {
		err = mustAffect(res)
	}
	if err != nil {
		return fmt.Errorf("sqlite: chunk %d of file %d: %w", seq, fileID, err)
	}
	return nil
}

// CompleteFile implements store.Store.
func (db *DB) CompleteFile(ctx context.Context, fileID int64, size int64, sum []byte) (store.File, error) {
	if err := rules.Checksum(sum); err != nil {
		return store.File{}, err
	}
	var out store.File
	err := db.tx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		var complete bool
		if err := tx.QueryRowContext(ctx, `SELECT complete FROM files WHERE id = ?`, fileID).Scan(&complete); err != nil {
			return err
		}
		if complete {
			return fmt.Errorf("%w: already complete", store.ErrConflict)
		}
		rows, err := tx.QueryContext(ctx, `SELECT seq, length(data) FROM file_chunks WHERE file_id = ? ORDER BY seq`, fileID)
		if err != nil {
			return err
		}
		var sizes []int
		for rows.Next() {
			var seq, n int
			if err := rows.Scan(&seq, &n); err != nil {
				rows.Close()
				return err
			}
			if seq != len(sizes) {
				rows.Close()
				return fmt.Errorf("%w: chunk %d is missing", store.ErrInvalid, len(sizes))
			}
			sizes = append(sizes, n)
		}
		if err := rows.Close(); err != nil {
			return err
		}
		if err := rules.ChunkLayout(sizes, size); err != nil {
			return err
		}
		// The checksum is computed from what was stored, not trusted.
		h := sha256.New()
		for seq := range sizes {
			var data []byte
			if err := tx.QueryRowContext(ctx, `SELECT data FROM file_chunks WHERE file_id = ? AND seq = ?`, fileID, seq).Scan(&data); err != nil {
				return err
			}
			h.Write(data)
		}
		if got := h.Sum(nil); !rules.SameSum(got, sum) {
			return fmt.Errorf("%w: the content's SHA-256 is %x, not %x", store.ErrInvalid, got, sum)
		}
		out, err = scanFile(tx.QueryRowContext(ctx, `UPDATE files SET size = ?, sha256 = ?, complete = 1 WHERE id = ?
			RETURNING `+fileCols, size, sum, fileID))
		return err
	})
	if errors.Is(err, sql.ErrNoRows) {
		err = store.ErrNotFound
	}
	if err != nil {
		return store.File{}, fmt.Errorf("sqlite: complete file %d: %w", fileID, err)
	}
	return out, nil
}

// GetFile implements store.Store.
func (db *DB) GetFile(ctx context.Context, id int64) (store.File, error) {
	f, err := scanFile(db.r.QueryRowContext(ctx, `SELECT `+fileCols+` FROM files WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		err = store.ErrNotFound
	}
	if err != nil {
		return store.File{}, fmt.Errorf("sqlite: file %d: %w", id, err)
	}
	return f, nil
}

// ListFiles implements store.Store.
func (db *DB) ListFiles(ctx context.Context, f store.FileFilter) ([]store.File, error) {
	conds, args := []string{"complete = 1"}, []any{}
	if f.Kind != "" {
		conds, args = append(conds, "kind = ?"), append(args, f.Kind)
	}
	if f.ChargerID != "" {
		conds, args = append(conds, "charger_id = ?"), append(args, f.ChargerID)
	}
	if f.Before > 0 {
		conds, args = append(conds, "id < ?"), append(args, f.Before)
	}
	rows, err := db.r.QueryContext(ctx, `SELECT `+fileCols+` FROM files`+whereClause(conds)+` ORDER BY id DESC LIMIT ?`,
		append(args, rules.Limit(f.Limit))...)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list files: %w", err)
	}
	return collect(rows, scanFile)
}

// FileChunk implements store.Store.
func (db *DB) FileChunk(ctx context.Context, fileID int64, seq int) ([]byte, error) {
	var data []byte
	err := db.r.QueryRowContext(ctx, `SELECT data FROM file_chunks WHERE file_id = ? AND seq = ?`, fileID, seq).Scan(&data)
	if errors.Is(err, sql.ErrNoRows) {
		err = store.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("sqlite: chunk %d of file %d: %w", seq, fileID, err)
	}
	return data, nil
}

// DeleteFile implements store.Store.
func (db *DB) DeleteFile(ctx context.Context, id int64) error {
	res, err := db.w.ExecContext(ctx, `DELETE FROM files WHERE id = ?`, id)
	// ON DELETE RESTRICT fails as a trigger constraint.
	if isForeignKey(err) || sqliteCode(err) == sqlite3.SQLITE_CONSTRAINT_TRIGGER {
		err = fmt.Errorf("%w: a firmware roll-out uses the file", store.ErrConflict)
	}
	if err == nil {
		err = mustAffect(res)
	}
	if err != nil {
		return fmt.Errorf("sqlite: delete file %d: %w", id, err)
	}
	return nil
}

// DeleteIncompleteFiles implements store.Store.
func (db *DB) DeleteIncompleteFiles(ctx context.Context, before time.Time) (int64, error) {
	res, err := db.w.ExecContext(ctx, `DELETE FROM files WHERE complete = 0 AND created_at < ?`, toMicros(before))
	if err != nil {
		return 0, fmt.Errorf("sqlite: delete incomplete files: %w", err)
	}
	return res.RowsAffected()
}

// CreateFileLink implements store.Store.
func (db *DB) CreateFileLink(ctx context.Context, l store.FileLink) error {
	if err := rules.FileLink(l); err != nil {
		return err
	}
	_, err := db.w.ExecContext(ctx, `INSERT INTO file_links (hash, file_id, diagnostics_id, charger_id, created_at, expires_at)
		VALUES (?, ?, ?, ?, ?, ?)`, l.Hash, nullID(l.FileID), nullID(l.DiagnosticsID), l.ChargerID,
		toMicros(rules.OrNow(l.CreatedAt)), toMicros(l.ExpiresAt))
	switch {
	case isForeignKey(err):
		err = fmt.Errorf("file or diagnostics request: %w", store.ErrNotFound)
	case isUnique(err):
		err = fmt.Errorf("%w: the link exists", store.ErrConflict)
	}
	if err != nil {
		return fmt.Errorf("sqlite: create file link: %w", err)
	}
	return nil
}

func nullID(id int64) any {
	if id == 0 {
		return nil
	}
	return id
}

// FileLinkByHash implements store.Store.
func (db *DB) FileLinkByHash(ctx context.Context, hash []byte) (store.FileLink, error) {
	l := store.FileLink{Hash: hash}
	var file, diag, used sql.NullInt64
	var created, expires int64
	err := db.r.QueryRowContext(ctx, `SELECT file_id, diagnostics_id, charger_id, created_at, expires_at, uses, last_used_at
		FROM file_links WHERE hash = ?`, hash).Scan(&file, &diag, &l.ChargerID, &created, &expires, &l.Uses, &used)
	if errors.Is(err, sql.ErrNoRows) {
		err = store.ErrNotFound
	}
	if err != nil {
		return store.FileLink{}, fmt.Errorf("sqlite: file link: %w", err)
	}
	l.FileID, l.DiagnosticsID = file.Int64, diag.Int64
	l.CreatedAt, l.ExpiresAt, l.LastUsedAt = fromMicros(created), fromMicros(expires), timePtr(used)
	return l, nil
}

// UseFileLink implements store.Store.
func (db *DB) UseFileLink(ctx context.Context, hash []byte, at time.Time) error {
	res, err := db.w.ExecContext(ctx, `UPDATE file_links SET uses = uses + 1, last_used_at = ? WHERE hash = ?`, toMicros(at), hash)
	if err == nil {
		err = mustAffect(res)
	}
	if err != nil {
		return fmt.Errorf("sqlite: use file link: %w", err)
	}
	return nil
}

// DeleteExpiredFileLinks implements store.Store.
func (db *DB) DeleteExpiredFileLinks(ctx context.Context, before time.Time) (int64, error) {
	res, err := db.w.ExecContext(ctx, `DELETE FROM file_links WHERE expires_at < ?`, toMicros(before))
	if err != nil {
		return 0, fmt.Errorf("sqlite: delete expired file links: %w", err)
	}
	return res.RowsAffected()
}

// ---- Diagnostics requests ----

const diagCols = `id, charger_id, start_time, stop_time, retries, retry_interval, status, file_name, file_id, detail,
	requested_by, requested_at, updated_at`

func scanDiag(s scanner) (store.DiagnosticsRequest, error) {
	var d store.DiagnosticsRequest
	var start, stop, retries, interval, file sql.NullInt64
	var req, upd int64
	err := s.Scan(&d.ID, &d.ChargerID, &start, &stop, &retries, &interval, &d.Status, &d.FileName, &file, &d.Detail,
		&d.RequestedBy, &req, &upd)
	d.StartTime, d.StopTime = timePtr(start), timePtr(stop)
	d.Retries, d.RetryInterval = intPtr(retries), intPtr(interval)
	if file.Valid {
		d.FileID = &file.Int64
	}
	d.RequestedAt, d.UpdatedAt = fromMicros(req), fromMicros(upd)
	return d, err
}

func intPtr(v sql.NullInt64) *int {
	if !v.Valid {
		return nil
	}
	n := int(v.Int64)
	return &n
}

func nullInt(p *int) any {
	if p == nil {
		return nil
	}
	return *p
}

// CreateDiagnosticsRequest implements store.Store.
func (db *DB) CreateDiagnosticsRequest(ctx context.Context, d store.DiagnosticsRequest) (store.DiagnosticsRequest, error) {
	if err := rules.ChargerID(d.ChargerID); err != nil {
		return store.DiagnosticsRequest{}, err
	}
	if err := rules.DiagnosticsStatus(d.Status); err != nil {
		return store.DiagnosticsRequest{}, err
	}
	at := toMicros(rules.OrNow(d.RequestedAt))
	out, err := scanDiag(db.w.QueryRowContext(ctx, `INSERT INTO diagnostics_requests
		(charger_id, start_time, stop_time, retries, retry_interval, status, detail, requested_by, requested_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING `+diagCols,
		d.ChargerID, nullMicros(d.StartTime), nullMicros(d.StopTime), nullInt(d.Retries), nullInt(d.RetryInterval),
		d.Status, d.Detail, d.RequestedBy, at, at))
	if err != nil {
		return store.DiagnosticsRequest{}, fmt.Errorf("sqlite: create diagnostics request of %q: %w", d.ChargerID, err)
	}
	return out, nil
}

// UpdateDiagnosticsRequest implements store.Store.
func (db *DB) UpdateDiagnosticsRequest(ctx context.Context, d store.DiagnosticsRequest) (store.DiagnosticsRequest, error) {
	if err := rules.DiagnosticsStatus(d.Status); err != nil {
		return store.DiagnosticsRequest{}, err
	}
	var file any
	if d.FileID != nil {
		file = *d.FileID
	}
	out, err := scanDiag(db.w.QueryRowContext(ctx, `UPDATE diagnostics_requests
		SET status = ?, file_name = ?, file_id = ?, detail = ?, updated_at = ? WHERE id = ? RETURNING `+diagCols,
		d.Status, d.FileName, file, d.Detail, toMicros(rules.OrNow(d.UpdatedAt)), d.ID))
	switch {
	case errors.Is(err, sql.ErrNoRows):
		err = store.ErrNotFound
	case isForeignKey(err):
		err = fmt.Errorf("file: %w", store.ErrNotFound)
	}
	if err != nil {
		return store.DiagnosticsRequest{}, fmt.Errorf("sqlite: update diagnostics request %d: %w", d.ID, err)
	}
	return out, nil
}

// GetDiagnosticsRequest implements store.Store.
func (db *DB) GetDiagnosticsRequest(ctx context.Context, id int64) (store.DiagnosticsRequest, error) {
	d, err := scanDiag(db.r.QueryRowContext(ctx, `SELECT `+diagCols+` FROM diagnostics_requests WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		err = store.ErrNotFound
	}
	if err != nil {
		return store.DiagnosticsRequest{}, fmt.Errorf("sqlite: diagnostics request %d: %w", id, err)
	}
	return d, nil
}

// ListDiagnosticsRequests implements store.Store.
func (db *DB) ListDiagnosticsRequests(ctx context.Context, chargerID string, before int64, limit int) ([]store.DiagnosticsRequest, error) {
	var conds []string
	var args []any
	if chargerID != "" {
		conds, args = append(conds, "charger_id = ?"), append(args, chargerID)
	}
	if before > 0 {
		conds, args = append(conds, "id < ?"), append(args, before)
	}
	rows, err := db.r.QueryContext(ctx, `SELECT `+diagCols+` FROM diagnostics_requests`+whereClause(conds)+
		` ORDER BY id DESC LIMIT ?`, append(args, rules.Limit(limit))...)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list diagnostics requests: %w", err)
	}
	return collect(rows, scanDiag)
}
