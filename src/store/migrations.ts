// Schema versions, applied in order; PRAGMA user_version records how many have run.
// Append only: a released migration is never edited.
export const MIGRATIONS: readonly string[] = [
  // 1: keys and usage
  `
  CREATE TABLE keys (
    id            TEXT PRIMARY KEY,          -- public id: the first characters after cc_
    hash          TEXT NOT NULL UNIQUE,      -- SHA-256 of the whole key, hex; the key itself is never stored
    last4         TEXT NOT NULL,             -- for the masked display only
    project_id    TEXT NOT NULL,
    name          TEXT,
    profile       TEXT NOT NULL,             -- free | pro | enterprise | custom
    permissions   TEXT NOT NULL,             -- JSON: the effective permissions
    created_at    INTEGER NOT NULL,          -- unix ms
    expires_at    INTEGER,
    revoked_at    INTEGER,
    last_used_at  INTEGER,
    rotated_to    TEXT
  );
  CREATE INDEX keys_project ON keys(project_id);

  CREATE TABLE usage (
    id                    INTEGER PRIMARY KEY,
    request_id            TEXT NOT NULL,
    key_id                TEXT NOT NULL,
    project_id            TEXT NOT NULL,
    endpoint              TEXT NOT NULL,
    model                 TEXT,
    input_tokens          INTEGER NOT NULL DEFAULT 0,
    output_tokens         INTEGER NOT NULL DEFAULT 0,
    cache_creation_tokens INTEGER NOT NULL DEFAULT 0,
    cache_read_tokens     INTEGER NOT NULL DEFAULT 0,
    cost_usd              REAL NOT NULL DEFAULT 0,
    duration_ms           INTEGER NOT NULL DEFAULT 0,
    status                TEXT NOT NULL,      -- success | error | timeout | cancelled | budget_exceeded | ...
    http_status           INTEGER,
    error                 TEXT,
    created_at            INTEGER NOT NULL
  );
  CREATE INDEX usage_project_time ON usage(project_id, created_at);
  CREATE INDEX usage_key_time ON usage(key_id, created_at);
  CREATE INDEX usage_time ON usage(created_at);
  `,
];
