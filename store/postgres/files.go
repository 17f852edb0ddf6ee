package postgres

import (
	"context"
	"crypto/sha256"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/wattson-csms/wattson/store"
	"github.com/wattson-csms/wattson/store/internal/rules"
)

const fileCols = `id, kind, name, content_type, size, sha256, charger_id, version, note, created_by, created_at, complete`

func scanFile(r pgx.Row) (store.File, error) {
	var f store.File
	err := r.Scan(&f.ID, &f.Kind, &f.Name, &f.ContentType, &f.Size, &f.SHA256, &f.ChargerID, &f.Version, &f.Note,
		&f.CreatedBy, &f.CreatedAt, &f.Complete)
	utc(&f.CreatedAt)
	return f, err
}

// CreateFile implements store.Store.
func (db *DB) CreateFile(ctx context.Context, f store.File) (store.File, error) {
	if err := rules.File(f); err != nil {
		return store.File{}, err
	}
	out, err := scanFile(db.pool.QueryRow(ctx, `INSERT INTO files
		(kind, name, content_type, charger_id, version, note, created_by, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
		RETURNING `+fileCols,
		f.Kind, f.Name, f.ContentType, f.ChargerID, f.Version, f.Note, f.CreatedBy, rules.OrNow(f.CreatedAt)))
	if err != nil {
		return store.File{}, fmt.Errorf("postgres: create file %q: %w", f.Name, err)
	}
	return out, nil
}

// PutFileChunk implements store.Store.
func (db *DB) PutFileChunk(ctx context.Context, fileID int64, seq int, data []byte) error {
	if err := rules.FileChunk(seq, data); err != nil {
		return err
	}
	err := mustAffect(db.pool.Exec(ctx, `INSERT INTO file_chunks (file_id, seq, data)
		SELECT id, $1, $2 FROM files WHERE id = $3 AND NOT complete
		ON CONFLICT (file_id, seq) DO UPDATE SET data = excluded.data`, seq, data, fileID))
	if err != nil {
		return fmt.Errorf("postgres: chunk %d of file %d: %w", seq, fileID, err)
	}
	return nil
}

// CompleteFile implements store.Store.
func (db *DB) CompleteFile(ctx context.Context, fileID int64, size int64, sum []byte) (store.File, error) {
	if err := rules.Checksum(sum); err != nil {
		return store.File{}, err
	}
	var out store.File
	err := pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
		var complete bool
		if err := tx.QueryRow(ctx, `SELECT complete FROM files WHERE id = $1 FOR UPDATE`, fileID).Scan(&complete); err != nil {
			return notFoundIfNoRows(err)
		}
		if complete {
			return fmt.Errorf("%w: already complete", store.ErrConflict)
		}
		rows, err := tx.Query(ctx, `SELECT seq, length(data) FROM file_chunks WHERE file_id = $1 ORDER BY seq`, fileID)
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
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		if err := rules.ChunkLayout(sizes, size); err != nil {
			return err
		}
		// The checksum is computed from what was stored, not trusted.
		h := sha256.New()
		for seq := range sizes {
			var data []byte
			if err := tx.QueryRow(ctx, `SELECT data FROM file_chunks WHERE file_id = $1 AND seq = $2`, fileID, seq).Scan(&data); err != nil {
				return err
			}
			h.Write(data)
		}
		if got := h.Sum(nil); !rules.SameSum(got, sum) {
			return fmt.Errorf("%w: the content's SHA-256 is %x, not %x", store.ErrInvalid, got, sum)
		}
		out, err = scanFile(tx.QueryRow(ctx, `UPDATE files SET size = $1, sha256 = $2, complete = true WHERE id = $3
			RETURNING `+fileCols, size, sum, fileID))
		return err
	})
	if err != nil {
		return store.File{}, fmt.Errorf("postgres: complete file %d: %w", fileID, err)
	}
	return out, nil
}

// GetFile implements store.Store.
func (db *DB) GetFile(ctx context.Context, id int64) (store.File, error) {
	f, err := scanFile(db.pool.QueryRow(ctx, `SELECT `+fileCols+` FROM files WHERE id = $1`, id))
	if err != nil {
		return store.File{}, fmt.Errorf("postgres: file %d: %w", id, notFoundIfNoRows(err))
	}
	return f, nil
}

// ListFiles implements store.Store.
func (db *DB) ListFiles(ctx context.Context, f store.FileFilter) ([]store.File, error) {
	var a args
	conds := []string{"complete"}
	if f.Kind != "" {
		conds = append(conds, "kind = "+a.add(f.Kind))
	}
	if f.ChargerID != "" {
		conds = append(conds, "charger_id = "+a.add(f.ChargerID))
	}
	if f.Before > 0 {
		conds = append(conds, "id < "+a.add(f.Before))
	}
	q := `SELECT ` + fileCols + ` FROM files` + whereClause(conds) + ` ORDER BY id DESC LIMIT ` + a.add(rules.Limit(f.Limit))
	rows, err := db.pool.Query(ctx, q, a...)
	out, err := collect(rows, err, scanFile)
	if err != nil {
		return nil, fmt.Errorf("postgres: list files: %w", err)
	}
	return out, nil
}

// FileChunk implements store.Store.
func (db *DB) FileChunk(ctx context.Context, fileID int64, seq int) ([]byte, error) {
	var data []byte
	err := db.pool.QueryRow(ctx, `SELECT data FROM file_chunks WHERE file_id = $1 AND seq = $2`, fileID, seq).Scan(&data)
	if err != nil {
		return nil, fmt.Errorf("postgres: chunk %d of file %d: %w", seq, fileID, notFoundIfNoRows(err))
	}
	return data, nil
}

// DeleteFile implements store.Store.
func (db *DB) DeleteFile(ctx context.Context, id int64) error {
	tag, err := db.pool.Exec(ctx, `DELETE FROM files WHERE id = $1`, id)
	if isForeignKey(err) {
		err = fmt.Errorf("%w: a firmware roll-out uses the file", store.ErrConflict)
	}
	if err := mustAffect(tag, err); err != nil {
		return fmt.Errorf("postgres: delete file %d: %w", id, err)
	}
	return nil
}

// DeleteIncompleteFiles implements store.Store.
func (db *DB) DeleteIncompleteFiles(ctx context.Context, before time.Time) (int64, error) {
	tag, err := db.pool.Exec(ctx, `DELETE FROM files WHERE NOT complete AND created_at < $1`, before)
	if err != nil {
		return 0, fmt.Errorf("postgres: delete incomplete files: %w", err)
	}
	return tag.RowsAffected(), nil
}

// CreateFileLink implements store.Store.
func (db *DB) CreateFileLink(ctx context.Context, l store.FileLink) error {
	if err := rules.FileLink(l); err != nil {
		return err
	}
	_, err := db.pool.Exec(ctx, `INSERT INTO file_links (hash, file_id, diagnostics_id, charger_id, created_at, expires_at)
		VALUES ($1, $2, $3, $4, $5, $6)`, l.Hash, nullID(l.FileID), nullID(l.DiagnosticsID), l.ChargerID,
		rules.OrNow(l.CreatedAt), l.ExpiresAt)
	switch {
	case isForeignKey(err):
		err = fmt.Errorf("file or diagnostics request: %w", store.ErrNotFound)
	case isUnique(err):
		err = fmt.Errorf("%w: the link exists", store.ErrConflict)
	}
	if err != nil {
		return fmt.Errorf("postgres: create file link: %w", err)
	}
	return nil
}

func nullID(id int64) *int64 {
	if id == 0 {
		return nil
	}
	return &id
}

// FileLinkByHash implements store.Store.
func (db *DB) FileLinkByHash(ctx context.Context, hash []byte) (store.FileLink, error) {
	l := store.FileLink{Hash: hash}
	var file, diag *int64
	err := db.pool.QueryRow(ctx, `SELECT file_id, diagnostics_id, charger_id, created_at, expires_at, uses, last_used_at
		FROM file_links WHERE hash = $1`, hash).Scan(&file, &diag, &l.ChargerID, &l.CreatedAt, &l.ExpiresAt, &l.Uses, &l.LastUsedAt)
	if err != nil {
		return store.FileLink{}, fmt.Errorf("postgres: file link: %w", notFoundIfNoRows(err))
	}
	if file != nil {
		l.FileID = *file
	}
	if diag != nil {
		l.DiagnosticsID = *diag
	}
	utc(&l.CreatedAt)
	utc(&l.ExpiresAt)
	l.LastUsedAt = utcPtr(l.LastUsedAt)
	return l, nil
}

// UseFileLink implements store.Store.
func (db *DB) UseFileLink(ctx context.Context, hash []byte, at time.Time) error {
	err := mustAffect(db.pool.Exec(ctx, `UPDATE file_links SET uses = uses + 1, last_used_at = $1 WHERE hash = $2`, at, hash))
	if err != nil {
		return fmt.Errorf("postgres: use file link: %w", err)
	}
	return nil
}

// DeleteExpiredFileLinks implements store.Store.
func (db *DB) DeleteExpiredFileLinks(ctx context.Context, before time.Time) (int64, error) {
	tag, err := db.pool.Exec(ctx, `DELETE FROM file_links WHERE expires_at < $1`, before)
	if err != nil {
		return 0, fmt.Errorf("postgres: delete expired file links: %w", err)
	}
	return tag.RowsAffected(), nil
}

// ---- Diagnostics requests ----

const diagCols = `id, charger_id, start_time, stop_time, retries, retry_interval, status, file_name, file_id, detail,
	requested_by, requested_at, updated_at`

func scanDiag(r pgx.Row) (store.DiagnosticsRequest, error) {
	var d store.DiagnosticsRequest
	err := r.Scan(&d.ID, &d.ChargerID, &d.StartTime, &d.StopTime, &d.Retries, &d.RetryInterval, &d.Status, &d.FileName,
		&d.FileID, &d.Detail, &d.RequestedBy, &d.RequestedAt, &d.UpdatedAt)
	d.StartTime, d.StopTime = utcPtr(d.StartTime), utcPtr(d.StopTime)
	utc(&d.RequestedAt)
	utc(&d.UpdatedAt)
	return d, err
}

// CreateDiagnosticsRequest implements store.Store.
func (db *DB) CreateDiagnosticsRequest(ctx context.Context, d store.DiagnosticsRequest) (store.DiagnosticsRequest, error) {
	if err := rules.ChargerID(d.ChargerID); err != nil {
		return store.DiagnosticsRequest{}, err
	}
	if err := rules.DiagnosticsStatus(d.Status); err != nil {
		return store.DiagnosticsRequest{}, err
	}
	at := rules.OrNow(d.RequestedAt)
	out, err := scanDiag(db.pool.QueryRow(ctx, `INSERT INTO diagnostics_requests
		(charger_id, start_time, stop_time, retries, retry_interval, status, detail, requested_by, requested_at, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9) RETURNING `+diagCols,
		d.ChargerID, d.StartTime, d.StopTime, d.Retries, d.RetryInterval, d.Status, d.Detail, d.RequestedBy, at))
	if err != nil {
		return store.DiagnosticsRequest{}, fmt.Errorf("postgres: create diagnostics request of %q: %w", d.ChargerID, err)
	}
	return out, nil
}

// UpdateDiagnosticsRequest implements store.Store.
func (db *DB) UpdateDiagnosticsRequest(ctx context.Context, d store.DiagnosticsRequest) (store.DiagnosticsRequest, error) {
	if err := rules.DiagnosticsStatus(d.Status); err != nil {
		return store.DiagnosticsRequest{}, err
	}
	out, err := scanDiag(db.pool.QueryRow(ctx, `UPDATE diagnostics_requests
		SET status = $1, file_name = $2, file_id = $3, detail = $4, updated_at = $5 WHERE id = $6 RETURNING `+diagCols,
		d.Status, d.FileName, d.FileID, d.Detail, rules.OrNow(d.UpdatedAt), d.ID))
	if isForeignKey(err) {
		err = fmt.Errorf("file: %w", store.ErrNotFound)
	}
	if err != nil {
		return store.DiagnosticsRequest{}, fmt.Errorf("postgres: update diagnostics request %d: %w", d.ID, notFoundIfNoRows(err))
	}
	return out, nil
}

// GetDiagnosticsRequest implements store.Store.
func (db *DB) GetDiagnosticsRequest(ctx context.Context, id int64) (store.DiagnosticsRequest, error) {
	d, err := scanDiag(db.pool.QueryRow(ctx, `SELECT `+diagCols+` FROM diagnostics_requests WHERE id = $1`, id))
	if err != nil {
		return store.DiagnosticsRequest{}, fmt.Errorf("postgres: diagnostics request %d: %w", id, notFoundIfNoRows(err))
	}
	return d, nil
}

// ListDiagnosticsRequests implements store.Store.
func (db *DB) ListDiagnosticsRequests(ctx context.Context, chargerID string, before int64, limit int) ([]store.DiagnosticsRequest, error) {
	var a args
	var conds []string
	if chargerID != "" {
		conds = append(conds, "charger_id = "+a.add(chargerID))
	}
	if before > 0 {
		conds = append(conds, "id < "+a.add(before))
	}
	q := `SELECT ` + diagCols + ` FROM diagnostics_requests` + whereClause(conds) + ` ORDER BY id DESC LIMIT ` + a.add(rules.Limit(limit))
	rows, err := db.pool.Query(ctx, q, a...)
	out, err := collect(rows, err, scanDiag)
	if err != nil {
		return nil, fmt.Errorf("postgres: list diagnostics requests: %w", err)
	}
	return out, nil
}
