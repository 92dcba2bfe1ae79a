// Opens the embedded SQLite file shared by the server and the CLI, and brings its schema up to date.
import { Database } from "bun:sqlite";
import { chmodSync, existsSync, mkdirSync, statSync } from "node:fs";
import { dirname } from "node:path";
import { MIGRATIONS } from "./migrations.ts";

export class StoreError extends Error {}

export interface Store {
  db: Database;
  path: string;
  /** Changes whenever ANOTHER connection (e.g. the `keys` CLI) commits: the cheap signal that caches are stale. */
  dataVersion(): number;
  close(): void;
}

export function openStore(path: string): Store {
  if (path !== ":memory:") prepareLocation(path);
  let db: Database;
  try {
    db = new Database(path, { create: true, readwrite: true, strict: true });
  } catch (err) {
    throw new StoreError(`cannot open database ${path}: ${reason(err)}`);
  }
  try {
    // First, so that every later statement waits for a concurrent opener instead of failing "locked".
    db.exec("PRAGMA busy_timeout = 5000");
    db.exec("PRAGMA journal_mode = WAL");
    db.exec("PRAGMA synchronous = NORMAL");
    db.exec("PRAGMA foreign_keys = ON");
    migrate(db);
  } catch (err) {
    db.close();
    throw new StoreError(`cannot use database ${path}: ${reason(err)}`);
  }
  if (path !== ":memory:") restrictMode(path);
  const dataVersionQuery = db.query<{ data_version: number }, []>("PRAGMA data_version");
  return {
    db,
    path,
    dataVersion: () => dataVersionQuery.get()?.data_version ?? 0,
    close: () => db.close(),
  };
}

function prepareLocation(path: string): void {
  const dir = dirname(path);
  try {
    if (!existsSync(dir)) mkdirSync(dir, { recursive: true, mode: 0o700 });
  } catch (err) {
    throw new StoreError(`cannot create database directory ${dir}: ${reason(err)}`);
  }
  if (existsSync(path)) {
    const stat = statSync(path);
    if (stat.isDirectory()) throw new StoreError(`cannot open database ${path}: it is a directory`);
  }
}

// The key hashes and usage are private to the operator: 0600 file (and WAL side files).
function restrictMode(path: string): void {
  for (const file of [path, `${path}-wal`, `${path}-shm`]) {
    try {
      if (existsSync(file)) chmodSync(file, 0o600);
    } catch {
      // Not ours to chmod (e.g. a shared file owned by another user); opening worked, so go on.
    }
  }
}

function schemaVersion(db: Database): number {
  const version = db.query<{ user_version: number }, []>("PRAGMA user_version").get()?.user_version ?? 0;
  if (version > MIGRATIONS.length) {
    throw new Error(`schema version ${version} is newer than this claude-api (${MIGRATIONS.length}); upgrade claude-api`);
  }
  return version;
}

function migrate(db: Database): void {
  if (schemaVersion(db) === MIGRATIONS.length) return;
  // Several processes may open a new file at once: read the version again under the write lock.
  db.transaction(() => {
    for (let version = schemaVersion(db); version < MIGRATIONS.length; version++) {
      db.exec(MIGRATIONS[version]!);
      db.exec(`PRAGMA user_version = ${version + 1}`);
    }
  }).immediate();
}

function reason(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  if (/not a database|malformed|file is encrypted/i.test(message)) return "the file is not a valid claude-api database (corrupt or another format)";
  if (/readonly|read-only|permission|EACCES|unable to open/i.test(message)) return `${message} (check the file's permissions)`;
  return message;
}
