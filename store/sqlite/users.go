package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/wattson-csms/wattson/store"
	"github.com/wattson-csms/wattson/store/internal/rules"
)

const userCols = `username, password_hash, role, created_at, updated_at, last_login_at`

func scanUser(s scanner) (store.User, error) {
	var u store.User
	var created, updated int64
	var login sql.NullInt64
	err := s.Scan(&u.Username, &u.PasswordHash, &u.Role, &created, &updated, &login)
	u.CreatedAt, u.UpdatedAt, u.LastLoginAt = fromMicros(created), fromMicros(updated), timePtr(login)
	return u, err
}

// CreateUser implements store.Store; a taken username is ErrConflict.
func (db *DB) CreateUser(ctx context.Context, u store.User) (store.User, error) {
	if err := rules.User(u); err != nil {
		return store.User{}, err
	}
	now := toMicros(rules.OrNow(u.CreatedAt))
	out, err := scanUser(db.w.QueryRowContext(ctx, `INSERT INTO users (`+userCols+`)
		VALUES (?, ?, ?, ?, ?, ?) RETURNING `+userCols,
		u.Username, u.PasswordHash, u.Role, now, now, nullMicros(u.LastLoginAt)))
	if isUnique(err) {
		err = store.ErrConflict
	}
	if err != nil {
		return store.User{}, fmt.Errorf("sqlite: create user %q: %w", u.Username, err)
	}
	return out, nil
}

// GetUser implements store.Store.
func (db *DB) GetUser(ctx context.Context, username string) (store.User, error) {
	u, err := scanUser(db.r.QueryRowContext(ctx, `SELECT `+userCols+` FROM users WHERE username = ?`, username))
	if errors.Is(err, sql.ErrNoRows) {
		err = store.ErrNotFound
	}
	if err != nil {
		return store.User{}, fmt.Errorf("sqlite: user %q: %w", username, err)
	}
	return u, nil
}

// ListUsers implements store.Store, by username.
func (db *DB) ListUsers(ctx context.Context) ([]store.User, error) {
	rows, err := db.r.QueryContext(ctx, `SELECT `+userCols+` FROM users ORDER BY username`)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list users: %w", err)
	}
	out, err := collect(rows, scanUser)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list users: %w", err)
	}
	return out, nil
}

// lastAdmin reports whether username is the only admin. The writer
// connection serialises it with the change that follows.
func lastAdmin(ctx context.Context, tx *sql.Tx, username string) (bool, error) {
	var role store.Role
	var admins int
	err := tx.QueryRowContext(ctx, `SELECT role, (SELECT count(*) FROM users WHERE role = 'admin')
		FROM users WHERE username = ?`, username).Scan(&role, &admins)
	if errors.Is(err, sql.ErrNoRows) {
		return false, store.ErrNotFound
	}
	if err != nil {
		return false, err
	}
	return role == store.RoleAdmin && admins <= 1, nil
}

// UpdateUser implements store.Store.
func (db *DB) UpdateUser(ctx context.Context, username string, up store.UserUpdate) (store.User, error) {
	if err := rules.UserUpdate(up); err != nil {
		return store.User{}, err
	}
	var out store.User
	err := db.tx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		last, err := lastAdmin(ctx, tx, username)
		if err != nil {
			return err
		}
		if last && up.Role != nil && *up.Role != store.RoleAdmin {
			return store.ErrLastAdmin
		}
		var role, hash any
		if up.Role != nil {
			role = *up.Role
		}
		if up.PasswordHash != nil {
			hash = *up.PasswordHash
		}
		out, err = scanUser(tx.QueryRowContext(ctx, `UPDATE users SET role = coalesce(?, role),
			password_hash = coalesce(?, password_hash), updated_at = ?
			WHERE username = ? RETURNING `+userCols, role, hash, toMicros(rules.Now()), username))
		return err
	})
	if err != nil {
		return store.User{}, fmt.Errorf("sqlite: update user %q: %w", username, err)
	}
	return out, nil
}

// DeleteUser implements store.Store; the user's sessions go with it.
func (db *DB) DeleteUser(ctx context.Context, username string) error {
	err := db.tx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		last, err := lastAdmin(ctx, tx, username)
		if err != nil {
			return err
		}
		if last {
			return store.ErrLastAdmin
		}
		_, err = tx.ExecContext(ctx, `DELETE FROM users WHERE username = ?`, username)
		return err
	})
	if err != nil {
		return fmt.Errorf("sqlite: delete user %q: %w", username, err)
	}
	return nil
}

const sessionCols = `s.hash, s.username, s.created_at, s.expires_at, s.last_seen_at`

// CreateSession implements store.Store.
func (db *DB) CreateSession(ctx context.Context, s store.Session) error {
	if err := rules.Session(s); err != nil {
		return err
	}
	created := toMicros(rules.OrNow(s.CreatedAt))
	seen := created
	if !s.LastSeenAt.IsZero() {
		seen = toMicros(s.LastSeenAt)
	}
	err := db.tx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE users SET last_login_at = ? WHERE username = ?`, created, s.Username)
		if err != nil {
			return err
		}
		if err := mustAffect(res); err != nil {
			return fmt.Errorf("user: %w", err)
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO sessions (hash, username, created_at, expires_at, last_seen_at)
			VALUES (?, ?, ?, ?, ?)`, s.Hash, s.Username, created, toMicros(s.ExpiresAt), seen)
		if isUnique(err) {
			err = store.ErrConflict
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("sqlite: create session of %q: %w", s.Username, err)
	}
	return nil
}

// SessionByHash implements store.Store.
func (db *DB) SessionByHash(ctx context.Context, hash []byte) (store.Session, store.User, error) {
	var s store.Session
	var created, expires, seen int64
	var u store.User
	var uCreated, uUpdated int64
	var login sql.NullInt64
	err := db.r.QueryRowContext(ctx, `SELECT `+sessionCols+`, u.password_hash, u.role, u.created_at,
		u.updated_at, u.last_login_at FROM sessions s JOIN users u ON u.username = s.username
		WHERE s.hash = ?`, hash).Scan(&s.Hash, &s.Username, &created, &expires, &seen,
		&u.PasswordHash, &u.Role, &uCreated, &uUpdated, &login)
	if errors.Is(err, sql.ErrNoRows) {
		err = store.ErrNotFound
	}
	if err != nil {
		return store.Session{}, store.User{}, fmt.Errorf("sqlite: session by hash: %w", err)
	}
	s.CreatedAt, s.ExpiresAt, s.LastSeenAt = fromMicros(created), fromMicros(expires), fromMicros(seen)
	u.Username = s.Username
	u.CreatedAt, u.UpdatedAt, u.LastLoginAt = fromMicros(uCreated), fromMicros(uUpdated), timePtr(login)
	return s, u, nil
}

// TouchSession implements store.Store.
func (db *DB) TouchSession(ctx context.Context, hash []byte, lastSeen, expires time.Time) error {
	res, err := db.w.ExecContext(ctx, `UPDATE sessions SET last_seen_at = max(last_seen_at, ?),
		expires_at = max(expires_at, ?) WHERE hash = ?`, toMicros(lastSeen), toMicros(expires), hash)
	if err == nil {
		err = mustAffect(res)
	}
	if err != nil {
		return fmt.Errorf("sqlite: touch session: %w", err)
	}
	return nil
}

// DeleteSession implements store.Store.
func (db *DB) DeleteSession(ctx context.Context, hash []byte) error {
	res, err := db.w.ExecContext(ctx, `DELETE FROM sessions WHERE hash = ?`, hash)
	if err == nil {
		err = mustAffect(res)
	}
	if err != nil {
		return fmt.Errorf("sqlite: delete session: %w", err)
	}
	return nil
}

// DeleteUserSessions implements store.Store.
func (db *DB) DeleteUserSessions(ctx context.Context, username string, keep []byte) (int64, error) {
	if keep == nil {
		keep = []byte{}
	}
	res, err := db.w.ExecContext(ctx, `DELETE FROM sessions WHERE username = ? AND hash != ?`, username, keep)
	var n int64
	if err == nil {
		n, err = res.RowsAffected()
	}
	if err != nil {
		return 0, fmt.Errorf("sqlite: delete sessions of %q: %w", username, err)
	}
	return n, nil
}

// DeleteExpiredSessions implements store.Store.
func (db *DB) DeleteExpiredSessions(ctx context.Context, t time.Time) (int64, error) {
	res, err := db.w.ExecContext(ctx, `DELETE FROM sessions WHERE expires_at < ?`, toMicros(t))
	var n int64
	if err == nil {
		n, err = res.RowsAffected()
	}
	if err != nil {
		return 0, fmt.Errorf("sqlite: delete expired sessions: %w", err)
	}
	return n, nil
}
