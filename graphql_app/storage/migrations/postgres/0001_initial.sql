-- Ids are uuid4 hex text made by the backend. They use the "C" collation so
-- that the (created_at, id) order is byte order on every server, whatever
-- the database's default collation, like SQLite's.
CREATE TABLE users (
    id            text COLLATE "C" PRIMARY KEY,
    email         text NOT NULL,
    fullname      text NOT NULL,
    password_hash text NOT NULL,
    created_at    timestamptz NOT NULL
);

-- Unique whatever the case, like SQLite's COLLATE NOCASE; storage maps a
-- violation of this index (by name) to EmailTaken.
CREATE UNIQUE INDEX users_email_key ON users (lower(email));

CREATE TABLE todos (
    id           text COLLATE "C" PRIMARY KEY,
    user_id      text COLLATE "C" NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name         text NOT NULL,
    is_completed boolean NOT NULL,
    created_at   timestamptz NOT NULL,
    updated_at   timestamptz NOT NULL
);

-- Newest-first pages, with and without the completed filter.
CREATE INDEX todos_by_user ON todos (user_id, created_at DESC, id DESC);
CREATE INDEX todos_by_user_completed ON todos (user_id, is_completed, created_at DESC, id DESC);

-- Refresh tokens, stored only as hashes; a family is one login's chain of rotations.
CREATE TABLE sessions (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id    text COLLATE "C" NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    family_id  text NOT NULL,
    token_hash text NOT NULL UNIQUE,
    expires_at timestamptz NOT NULL,
    created_at timestamptz NOT NULL,
    rotated_at timestamptz,
    revoked_at timestamptz
);

CREATE INDEX sessions_by_family ON sessions (family_id);
CREATE INDEX sessions_by_user ON sessions (user_id);
