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
  // 2: audit log and spending budgets
  `
  CREATE TABLE audit (
    id          INTEGER PRIMARY KEY,
    at          INTEGER NOT NULL,            -- unix ms
    type        TEXT NOT NULL,               -- auth_failed, permission_denied, rate_limited, budget_refused, ...
    key_id      TEXT,
    project_id  TEXT,
    address     TEXT,
    request_id  TEXT,
    detail      TEXT NOT NULL DEFAULT '{}'   -- JSON; never a key
  );
  CREATE INDEX audit_time ON audit(at);
  CREATE INDEX audit_key_time ON audit(key_id, at);
  CREATE INDEX audit_type_time ON audit(type, at);

  CREATE TABLE budgets (
    scope       TEXT NOT NULL,               -- key | project
    subject     TEXT NOT NULL,               -- key id or project id
    amount_usd  REAL NOT NULL,
    period      TEXT NOT NULL,               -- day | week | month
    soft_ratio  REAL NOT NULL DEFAULT 0.8,   -- warn from this share of the cap
    updated_at  INTEGER NOT NULL,
    PRIMARY KEY (scope, subject)
  );
  `,
  // 3: agentic tasks (foreground and background)
  `
  CREATE TABLE tasks (
    id           TEXT PRIMARY KEY,
    key_id       TEXT NOT NULL,
    project_id   TEXT NOT NULL,
    status       TEXT NOT NULL,              -- running | completed | failed | timeout | cost_exceeded | cancelled
    description  TEXT NOT NULL,
    request      TEXT NOT NULL,              -- JSON: the accepted request (files' contents left out)
    response     TEXT,                       -- JSON: the full task result once it ended
    workspace    TEXT,                       -- kept for artifact downloads until the retention period ends
    error        TEXT,
    created_at   INTEGER NOT NULL,
    finished_at  INTEGER
  );
  CREATE INDEX tasks_project_time ON tasks(project_id, created_at);
  CREATE INDEX tasks_status ON tasks(status);
  `,
];
