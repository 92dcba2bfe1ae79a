// Where the key store lives and what happens when it cannot be used, through the real binary: the default under
// HOME, --db and CLAUDE_API_DB, a missing parent directory, and corrupt or unusable paths.
import { Database } from "bun:sqlite";
import { describe, expect, test } from "bun:test";
import { chmodSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { BIN, bearer, cli, isolatedEnv, tempDir, type CliResult } from "../support/harness.ts";

const mode = (path: string) => statSync(path).mode & 0o777;

function expectOneLineError(result: CliResult, path: string): void {
  expect(result.code).not.toBe(0);
  expect(result.stdout).toBe("");
  const lines = result.stderr.trimEnd().split("\n");
  expect(lines).toHaveLength(1);
  expect(lines[0]!).toStartWith("claude-api: ");
  expect(lines[0]!).toContain(path);
  expect(result.stderr).not.toMatch(/\n\s+at |\.ts:\d+|unexpected error/);
}

function keyFrom(result: CliResult): string {
  expect(result.code).toBe(0);
  return result.stdout.match(/cc_[0-9A-Za-z]{43}/)![0];
}

/** `claude-api serve` as a user starts it: no --db, so the store comes from HOME (or CLAUDE_API_DB). */
async function serveWithoutDbFlag(env: Record<string, string>) {
  const proc = Bun.spawn([BIN, "serve", "--port", "0"], { env, stdin: "ignore", stdout: "pipe", stderr: "pipe" });
  let log = "";
  const decoder = new TextDecoder();
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no 'listening' within 15 s:\n${log}`)), 15_000);
    void (async () => {
      for await (const chunk of proc.stderr) {
        log += decoder.decode(chunk);
        const match = /"event":"listening","url":"([^"]+)"/.exec(log);
        if (match) {
          clearTimeout(timer);
          resolve(match[1]!);
        }
      }
      reject(new Error(`serve exited (${await proc.exited}):\n${log}`));
    })();
  });
  return {
    url,
    stop: async () => {
      proc.kill("SIGTERM");
      return proc.exited;
    },
  };
}

describe("where the store lives", () => {
  test("by default ~/.claude-api/claude-api.db under HOME, the directory 0700 and the file 0600", async () => {
    const home = tempDir();
    const created = await cli(["keys", "create", "--project-id", "my-app", "--profile", "enterprise"], { env: { HOME: home } });
    const key = keyFrom(created);
    const dir = join(home, ".claude-api");
    const file = join(dir, "claude-api.db");
    expect(existsSync(file)).toBe(true);
    expect(mode(dir)).toBe(0o700);
    expect(mode(file)).toBe(0o600);
    // The same HOME finds the same key again.
    const listed = await cli(["keys", "list", "--json"], { env: { HOME: home } });
    expect((JSON.parse(listed.stdout) as { id: string }[]).map((k) => k.id)).toEqual([key.slice(3, 11)]);
  });

  test("a server started with no --db uses the same default file: a key made by the CLI works at once", async () => {
    const home = tempDir();
    const server = await serveWithoutDbFlag(isolatedEnv(home));
    try {
      const file = join(home, ".claude-api", "claude-api.db");
      expect(existsSync(file)).toBe(true);
      // While the server runs, the WAL side files are as private as the database.
      for (const side of [file, `${file}-wal`, `${file}-shm`]) if (existsSync(side)) expect(mode(side)).toBe(0o600);
      const key = keyFrom(await cli(["keys", "create", "--project-id", "my-app", "--profile", "enterprise"], { env: { HOME: home } }));
      const response = await fetch(`${server.url}/v1/models`, { headers: bearer(key) });
      expect(response.status).toBe(200);
    } finally {
      await server.stop();
    }
  });

  test("--db PATH overrides the default; a missing parent directory is created", async () => {
    const home = tempDir();
    const path = join(tempDir(), "deeply", "nested", "dir", "keys.db");
    const key = keyFrom(await cli(["keys", "create", "--project-id", "flagged"], { db: path, env: { HOME: home } }));
    expect(existsSync(path)).toBe(true);
    expect(mode(path)).toBe(0o600);
    expect(existsSync(join(home, ".claude-api"))).toBe(false);
    const rows = new Database(path, { readonly: true });
    try {
      const row = rows.query("SELECT id, project_id FROM keys").all();
      expect(row).toEqual([{ id: key.slice(3, 11), project_id: "flagged" }]);
    } finally {
      rows.close();
    }
  });

  test("CLAUDE_API_DB overrides the default, and --db overrides CLAUDE_API_DB", async () => {
    const home = tempDir();
    const fromEnv = join(tempDir(), "new-dir", "env.db");
    const fromFlag = join(tempDir(), "flag.db");
    const viaEnv = keyFrom(await cli(["keys", "create", "--project-id", "via-env"], { env: { HOME: home, CLAUDE_API_DB: fromEnv } }));
    const viaFlag = keyFrom(await cli(["keys", "create", "--project-id", "via-flag"], { db: fromFlag, env: { HOME: home, CLAUDE_API_DB: fromEnv } }));
    expect(existsSync(join(home, ".claude-api"))).toBe(false);
    const [envList, flagList] = await Promise.all([
      cli(["keys", "list", "--json"], { env: { HOME: home, CLAUDE_API_DB: fromEnv } }),
      cli(["keys", "list", "--json"], { db: fromFlag, env: { HOME: home } }),
    ]);
    expect((JSON.parse(envList.stdout) as { id: string }[]).map((k) => k.id)).toEqual([viaEnv.slice(3, 11)]);
    expect((JSON.parse(flagList.stdout) as { id: string }[]).map((k) => k.id)).toEqual([viaFlag.slice(3, 11)]);
  });

  test("several processes opening the database at once (fresh or existing file): every one succeeds", async () => {
    // A server and a `keys create` started together on a fresh machine, or a script creating keys in parallel:
    // creating the file, switching it to WAL and migrating it must not race.
    for (let round = 0; round < 3; round++) {
      const path = join(tempDir(), `race-${round}`, "claude-api.db");
      const results = await Promise.all(
        Array.from({ length: 8 }, (_, i) => cli(["keys", "create", "--project-id", `racer-${i}`, "--output", "env"], { db: path })),
      );
      for (const result of results) expect({ code: result.code, stderr: result.stderr }).toEqual({ code: 0, stderr: "" });
      // And reopening the (now closed) WAL file from several processes at once.
      const lists = await Promise.all(Array.from({ length: 8 }, () => cli(["keys", "list", "--json"], { db: path })));
      for (const listed of lists) {
        expect({ code: listed.code, stderr: listed.stderr }).toEqual({ code: 0, stderr: "" });
        expect(JSON.parse(listed.stdout)).toHaveLength(8);
      }
    }
  });

  test("the file is a WAL-mode SQLite database with a recorded schema version", async () => {
    const path = join(tempDir(), "schema.db");
    keyFrom(await cli(["keys", "create", "--project-id", "schema"], { db: path }));
    const sqlite = new Database(path, { readonly: true });
    try {
      expect(sqlite.query("PRAGMA journal_mode").get()).toEqual({ journal_mode: "wal" });
      const version = (sqlite.query("PRAGMA user_version").get() as { user_version: number }).user_version;
      expect(version).toBeGreaterThanOrEqual(1);
    } finally {
      sqlite.close();
    }
    // Opening it again (migrations already applied) works and keeps the data.
    const listed = await cli(["keys", "list", "--json"], { db: path });
    expect(JSON.parse(listed.stdout)).toHaveLength(1);
  });
});

describe("a store that cannot be used", () => {
  test("a corrupt file: one line naming the path, non-zero exit, and the file is left as it was", async () => {
    const dir = tempDir();
    const garbage = join(dir, "garbage.db");
    const bytes = new Uint8Array(8192).map((_, i) => (i * 7919 + 13) % 256);
    writeFileSync(garbage, bytes);
    // A file that starts like SQLite but is not one.
    const fake = join(dir, "fake.db");
    writeFileSync(fake, `SQLite format 3\0${"x".repeat(5000)}`);
    const results = await Promise.all([
      cli(["keys", "list"], { db: garbage }),
      cli(["keys", "create", "--project-id", "p"], { db: garbage }),
      cli(["keys", "list"], { db: fake }),
      cli(["serve", "--port", "0"], { db: garbage }),
    ]);
    expectOneLineError(results[0]!, garbage);
    expectOneLineError(results[1]!, garbage);
    expectOneLineError(results[2]!, fake);
    expectOneLineError(results[3]!, garbage);
    expect(results[3]!.stderr).not.toContain("listening");
    expect(new Uint8Array(readFileSync(garbage))).toEqual(bytes);
  });

  test("a directory where the file should be: one line naming the path, non-zero exit", async () => {
    const path = join(tempDir(), "is-a-dir.db");
    mkdirSync(path);
    const [list, serve] = await Promise.all([cli(["keys", "list"], { db: path }), cli(["serve", "--port", "0"], { db: path })]);
    expectOneLineError(list, path);
    expectOneLineError(serve, path);
  });

  test("a path through a regular file (cannot be created): one line naming the path, non-zero exit", async () => {
    const file = join(tempDir(), "plain-file");
    writeFileSync(file, "not a directory");
    const path = join(file, "sub", "claude-api.db");
    const result = await cli(["keys", "create", "--project-id", "p"], { db: path });
    expect(result.code).not.toBe(0);
    const lines = result.stderr.trimEnd().split("\n");
    expect(lines).toHaveLength(1);
    expect(lines[0]!).toStartWith("claude-api: ");
    expect(lines[0]!).toContain(file); // names the path (or the directory it could not make)
    expect(result.stderr).not.toMatch(/\n\s+at |unexpected error/);
    expect(readFileSync(file, "utf8")).toBe("not a directory");
  });

  test.skipIf(process.getuid?.() === 0)("a file without read permission: one line naming the path", async () => {
    // Root reads every file, so this only means something for an ordinary user.
    const path = join(tempDir(), "locked.db");
    keyFrom(await cli(["keys", "create", "--project-id", "p"], { db: path }));
    chmodSync(path, 0o000);
    expectOneLineError(await cli(["keys", "list"], { db: path }), path);
  });

  test("a database from a newer claude-api is refused, not downgraded", async () => {
    const path = join(tempDir(), "future.db");
    keyFrom(await cli(["keys", "create", "--project-id", "p"], { db: path }));
    const sqlite = new Database(path);
    sqlite.exec("PRAGMA user_version = 9999");
    sqlite.close();
    const result = await cli(["keys", "list"], { db: path });
    expectOneLineError(result, path);
    const check = new Database(path, { readonly: true });
    expect((check.query("PRAGMA user_version").get() as { user_version: number }).user_version).toBe(9999);
    check.close();
  });
});
