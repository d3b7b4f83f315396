-- Accounts, sign-in codes and sessions: everything email sign-in needs.

CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

CREATE TABLE users (
    id         INTEGER PRIMARY KEY,
    email      TEXT NOT NULL UNIQUE,
    tier       TEXT NOT NULL DEFAULT 'free' CHECK (tier IN ('free', 'paid')),
    created_at TEXT NOT NULL
);

-- One row per emailed code. Only an HMAC of the code is kept.
CREATE TABLE login_codes (
    id         INTEGER PRIMARY KEY,
    email      TEXT NOT NULL,
    code_hash  BLOB NOT NULL,
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    attempts   INTEGER NOT NULL DEFAULT 0,
    -- set when the code signs someone in, is burnt by wrong tries,
    -- or is replaced by a newer code
    spent_at   TEXT
);
CREATE INDEX login_codes_email_created ON login_codes (email, created_at);

-- Only the SHA-256 of the session token is stored.
CREATE TABLE sessions (
    id         INTEGER PRIMARY KEY,
    token_hash BLOB NOT NULL UNIQUE,
    user_id    INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL
);
CREATE INDEX sessions_user ON sessions (user_id);
