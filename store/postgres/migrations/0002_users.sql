-- Dashboard users and their login sessions. A session belongs to its user
-- and goes with it; only the SHA-256 of the session cookie is stored.
CREATE TABLE users (
    username      text COLLATE "C" PRIMARY KEY,
    password_hash text        NOT NULL,
    role          text        NOT NULL CHECK (role IN ('admin', 'operator', 'viewer')),
    created_at    timestamptz NOT NULL,
    updated_at    timestamptz NOT NULL,
    last_login_at timestamptz
);

CREATE TABLE sessions (
    hash         bytea       PRIMARY KEY,
    username     text COLLATE "C" NOT NULL REFERENCES users (username) ON DELETE CASCADE,
    created_at   timestamptz NOT NULL,
    expires_at   timestamptz NOT NULL,
    last_seen_at timestamptz NOT NULL
);
CREATE INDEX sessions_by_user ON sessions (username);
CREATE INDEX sessions_by_expiry ON sessions (expires_at);
