package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/wattson-csms/wattson/store"
	"github.com/wattson-csms/wattson/store/internal/rules"
)

const userCols = `username, password_hash, role, created_at, updated_at, last_login_at`

func scanUser(r pgx.Row) (store.User, error) {
	var u store.User
	err := r.Scan(&u.Username, &u.PasswordHash, &u.Role, &u.CreatedAt, &u.UpdatedAt, &u.LastLoginAt)
	utc(&u.CreatedAt)
	utc(&u.UpdatedAt)
	u.LastLoginAt = utcPtr(u.LastLoginAt)
	return u, err
}

// CreateUser implements store.Store; a taken username is ErrConflict.
func (db *DB) CreateUser(ctx context.Context, u store.User) (store.User, error) {
	if err := rules.User(u); err != nil {
		return store.User{}, err
	}
	now := rules.OrNow(u.CreatedAt)
	out, err := scanUser(db.pool.QueryRow(ctx, `INSERT INTO users (`+userCols+`)
		VALUES ($1, $2, $3, $4, $5, $6) RETURNING `+userCols,
		u.Username, u.PasswordHash, u.Role, now, now, u.LastLoginAt))
	if isUnique(err) {
		err = store.ErrConflict
	}
	if err != nil {
		return store.User{}, fmt.Errorf("postgres: create user %q: %w", u.Username, err)
	}
	return out, nil
}

// GetUser implements store.Store.
func (db *DB) GetUser(ctx context.Context, username string) (store.User, error) {
	u, err := scanUser(db.pool.QueryRow(ctx, `SELECT `+userCols+` FROM users WHERE username = $1`, username))
	if err != nil {
		return store.User{}, fmt.Errorf("postgres: user %q: %w", username, notFoundIfNoRows(err))
	}
	return u, nil
}

// ListUsers implements store.Store, by username.
func (db *DB) ListUsers(ctx context.Context) ([]store.User, error) {
	rows, err := db.pool.Query(ctx, `SELECT `+userCols+` FROM users ORDER BY username`)
	out, err := collect(rows, err, scanUser)
	if err != nil {
		return nil, fmt.Errorf("postgres: list users: %w", err)
	}
	return out, nil
}

// lastAdmin reports whether username is the only admin. It locks the
// admins' rows, so two admins demoting or deleting each other at once
// cannot both pass.
func lastAdmin(ctx context.Context, tx pgx.Tx, username string) (bool, error) {
	rows, err := tx.Query(ctx, `SELECT username, role FROM users WHERE role = 'admin' OR username = $1
		ORDER BY username FOR UPDATE`, username)
	if err != nil {
		return false, err
	}
	type row struct {
		Name string
		Role store.Role
	}
	rs, err := pgx.CollectRows(rows, pgx.RowToStructByPos[row])
	if err != nil {
		return false, err
	}
	found, isAdmin, admins := false, false, 0
	for _, r := range rs {
		if r.Name == username {
			found, isAdmin = true, r.Role == store.RoleAdmin
		}
		if r.Role == store.RoleAdmin {
			admins++
		}
	}
	if !found {
		return false, store.ErrNotFound
	}
	return isAdmin && admins <= 1, nil
}

// UpdateUser implements store.Store.
func (db *DB) UpdateUser(ctx context.Context, username string, up store.UserUpdate) (store.User, error) {
	if err := rules.UserUpdate(up); err != nil {
		return store.User{}, err
	}
	var out store.User
	err := pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
		last, err := lastAdmin(ctx, tx, username)
		if err != nil {
			return err
		}
		if last && up.Role != nil && *up.Role != store.RoleAdmin {
			return store.ErrLastAdmin
		}
		out, err = scanUser(tx.QueryRow(ctx, `UPDATE users SET role = coalesce($1, role),
			password_hash = coalesce($2, password_hash), updated_at = $3
			WHERE username = $4 RETURNING `+userCols, up.Role, up.PasswordHash, rules.Now(), username))
		return err
	})
	if err != nil {
		return store.User{}, fmt.Errorf("postgres: update user %q: %w", username, err)
	}
	return out, nil
}

// DeleteUser implements store.Store; the user's sessions go with it.
func (db *DB) DeleteUser(ctx context.Context, username string) error {
	err := pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
		last, err := lastAdmin(ctx, tx, username)
		if err != nil {
			return err
		}
		if last {
			return store.ErrLastAdmin
		}
		_, err = tx.Exec(ctx, `DELETE FROM users WHERE username = $1`, username)
		return err
	})
	if err != nil {
		return fmt.Errorf("postgres: delete user %q: %w", username, err)
	}
	return nil
}

// CreateSession implements store.Store.
func (db *DB) CreateSession(ctx context.Context, s store.Session) error {
	if err := rules.Session(s); err != nil {
		return err
	}
	created := rules.OrNow(s.CreatedAt)
	seen := created
	if !s.LastSeenAt.IsZero() {
		seen = s.LastSeenAt
	}
	err := pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
		if err := mustAffect(tx.Exec(ctx, `UPDATE users SET last_login_at = $1 WHERE username = $2`, created, s.Username)); err != nil {
			return fmt.Errorf("user: %w", err)
		}
		_, err := tx.Exec(ctx, `INSERT INTO sessions (hash, username, created_at, expires_at, last_seen_at)
			VALUES ($1, $2, $3, $4, $5)`, s.Hash, s.Username, created, s.ExpiresAt, seen)
		if isUnique(err) {
			err = store.ErrConflict
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("postgres: create session of %q: %w", s.Username, err)
	}
	return nil
}

// SessionByHash implements store.Store.
func (db *DB) SessionByHash(ctx context.Context, hash []byte) (store.Session, store.User, error) {
	var s store.Session
	var u store.User
	err := db.pool.QueryRow(ctx, `SELECT s.hash, s.username, s.created_at, s.expires_at, s.last_seen_at,
		u.password_hash, u.role, u.created_at, u.updated_at, u.last_login_at
		FROM sessions s JOIN users u ON u.username = s.username WHERE s.hash = $1`, hash).Scan(
		&s.Hash, &s.Username, &s.CreatedAt, &s.ExpiresAt, &s.LastSeenAt,
		&u.PasswordHash, &u.Role, &u.CreatedAt, &u.UpdatedAt, &u.LastLoginAt)
	if err != nil {
		return store.Session{}, store.User{}, fmt.Errorf("postgres: session by hash: %w", notFoundIfNoRows(err))
	}
	utc(&s.CreatedAt)
	utc(&s.ExpiresAt)
	utc(&s.LastSeenAt)
	u.Username = s.Username
	utc(&u.CreatedAt)
	utc(&u.UpdatedAt)
	u.LastLoginAt = utcPtr(u.LastLoginAt)
	return s, u, nil
}

// TouchSession implements store.Store.
func (db *DB) TouchSession(ctx context.Context, hash []byte, lastSeen, expires time.Time) error {
	err := mustAffect(db.pool.Exec(ctx, `UPDATE sessions SET last_seen_at = greatest(last_seen_at, $1),
		expires_at = greatest(expires_at, $2) WHERE hash = $3`, lastSeen, expires, hash))
	if err != nil {
		return fmt.Errorf("postgres: touch session: %w", err)
	}
	return nil
}

// DeleteSession implements store.Store.
func (db *DB) DeleteSession(ctx context.Context, hash []byte) error {
	if err := mustAffect(db.pool.Exec(ctx, `DELETE FROM sessions WHERE hash = $1`, hash)); err != nil {
		return fmt.Errorf("postgres: delete session: %w", err)
	}
	return nil
}

// DeleteUserSessions implements store.Store.
func (db *DB) DeleteUserSessions(ctx context.Context, username string, keep []byte) (int64, error) {
	if keep == nil {
		keep = []byte{}
	}
	tag, err := db.pool.Exec(ctx, `DELETE FROM sessions WHERE username = $1 AND hash <> $2`, username, keep)
	if err != nil {
		return 0, fmt.Errorf("postgres: delete sessions of %q: %w", username, err)
	}
	return tag.RowsAffected(), nil
}

// DeleteExpiredSessions implements store.Store.
func (db *DB) DeleteExpiredSessions(ctx context.Context, t time.Time) (int64, error) {
	tag, err := db.pool.Exec(ctx, `DELETE FROM sessions WHERE expires_at < $1`, t)
	if err != nil {
		return 0, fmt.Errorf("postgres: delete expired sessions: %w", err)
	}
	return tag.RowsAffected(), nil
}
