-- Times are integer microseconds since the Unix epoch, UTC.
CREATE TABLE users (
    id            TEXT PRIMARY KEY,
    email         TEXT NOT NULL UNIQUE COLLATE NOCASE,
    fullname      TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    created_at    INTEGER NOT NULL
);

CREATE TABLE todos (
    id           TEXT PRIMARY KEY,
    user_id      TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name         TEXT NOT NULL,
    is_completed INTEGER NOT NULL,
    created_at   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL
);

-- Newest-first pages, with and without the completed filter.
CREATE INDEX todos_by_user ON todos (user_id, created_at DESC, id DESC);
CREATE INDEX todos_by_user_completed ON todos (user_id, is_completed, created_at DESC, id DESC);

-- Refresh tokens, stored only as hashes; a family is one login's chain of rotations.
CREATE TABLE sessions (
    id         TEXT PRIMARY KEY,
    user_id    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    family_id  TEXT NOT NULL,
    token_hash TEXT NOT NULL UNIQUE,
    expires_at INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    rotated_at INTEGER,
    revoked_at INTEGER
);

CREATE INDEX sessions_by_family ON sessions (family_id);
CREATE INDEX sessions_by_user ON sessions (user_id);
