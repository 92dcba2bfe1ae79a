// `claude-api keys ...` through the real binary: every command of the seed verbatim, the extra flags, and the
// refusals (one clear line, non-zero exit, nothing changed). The database is named by CLAUDE_API_DB so that the
// seed's command lines run exactly as written; a gateway holds the same file open (WAL live) all along.
import { Database } from "bun:sqlite";
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, readFileSync } from "node:fs";
import { BIN, bearer, cli, startGateway, tempDir, type CliResult, type Gateway } from "../support/harness.ts";

let gateway: Gateway;
let db: string;

beforeAll(async () => {
  gateway = await startGateway();
  db = gateway.db;
});

afterAll(async () => {
  await gateway?.stop();
});

const KEY_FORMAT = /^cc_[0-9A-Za-z]{43}$/;

/** Runs `claude-api ARGS` against this file's database, exactly as typed (the database comes from the env). */
function run(args: string[], options: { stdin?: string } = {}): Promise<CliResult> {
  return cli(args, { env: { HOME: tempDir(), CLAUDE_API_DB: db }, stdin: options.stdin });
}

function sh(line: string, options: { stdin?: string } = {}): Promise<CliResult> {
  return run(line.split(" ").filter((word) => word !== ""), options);
}

interface Created {
  key: string;
  id: string;
  project_id: string;
  profile: string;
  rate_limit: number;
  name: string | null;
  expires_at: string | null;
  status: string;
  permissions: Record<string, unknown>;
  [field: string]: unknown;
}

async function create(args: string): Promise<Created> {
  const result = await sh(`keys create ${args} --json`);
  expect(result.stderr).toBe("");
  expect(result.code).toBe(0);
  return JSON.parse(result.stdout) as Created;
}

async function permissionsOf(ref: string): Promise<Created> {
  const result = await run(["keys", "permissions", ref, "--json"]);
  expect(result.code).toBe(0);
  return JSON.parse(result.stdout) as Created;
}

async function listJson(extra: string[] = []): Promise<Created[]> {
  const result = await run(["keys", "list", "--json", ...extra]);
  expect(result.code).toBe(0);
  return JSON.parse(result.stdout) as Created[];
}

/** The store's state for "nothing changed" checks: the gateway's batched last-used stamps may land at any time. */
async function snapshot(extra: string[] = []): Promise<Omit<Created, "last_used_at">[]> {
  return (await listJson(extra)).map(({ last_used_at: _, ...rest }) => rest);
}

/** A refusal: exactly one line on stderr naming the problem, nothing on stdout, a non-zero exit, no stack trace. */
function expectOneLineError(result: CliResult, mentions?: RegExp | string): void {
  expect(result.code).not.toBe(0);
  expect(result.stdout).toBe("");
  const lines = result.stderr.trimEnd().split("\n");
  expect(lines).toHaveLength(1);
  expect(lines[0]!).toStartWith("claude-api: ");
  expect(result.stderr).not.toMatch(/\n\s+at |\.ts:\d+|error: |Error:/);
  if (mentions !== undefined) expect(lines[0]!).toMatch(mentions);
}

function modelsWith(key: string): Promise<Response> {
  return fetch(`${gateway.url}/v1/models`, { headers: bearer(key) });
}

describe("keys create", () => {
  test("the seed's command: `keys create --project-id my-app --profile enterprise` prints the key once, with its id", async () => {
    const result = await sh("keys create --project-id my-app --profile enterprise");
    expect(result.code).toBe(0);
    expect(result.stderr).toBe("");
    const keys = result.stdout.match(/cc_[0-9A-Za-z]+/g) ?? [];
    expect(keys).toHaveLength(1);
    const key = keys[0]!;
    expect(key).toMatch(KEY_FORMAT);
    expect(result.stdout).toContain(key.slice(3, 11)); // the public id
    expect(result.stdout).toContain("my-app");
    expect(result.stdout).toContain("enterprise");
    expect(result.stdout).toMatch(/shown only this once/);
    const info = await permissionsOf(key);
    expect(info).toMatchObject({ id: key.slice(3, 11), project_id: "my-app", profile: "enterprise", status: "active" });
    expect((await modelsWith(key)).status).toBe(200);
  });

  test("the seed's command: `keys create --project-id test --profile pro --rate-limit 50`", async () => {
    const result = await sh("keys create --project-id test --profile pro --rate-limit 50");
    expect(result.code).toBe(0);
    const key = result.stdout.match(/cc_[0-9A-Za-z]{43}/)![0];
    expect(result.stdout).toMatch(/50 requests\/minute/);
    const info = await permissionsOf(key);
    expect(info.profile).toBe("pro");
    expect(info.rate_limit).toBe(50);
    expect(info.permissions.rate_limit).toBe(50);
    // The rest of the pro tier is untouched by the custom rate limit.
    expect(info.permissions.allowed_tools).toEqual(["Read", "Grep", "Bash", "Edit", "Write"]);
    const response = await modelsWith(key);
    expect(response.headers.get("x-ratelimit-limit")).toBe("50");
  });

  test("keys are cc_ + 43 base62 characters, all different; the id is the 8 characters after cc_", async () => {
    const results = await Promise.all(Array.from({ length: 6 }, () => sh("keys create --project-id fmt --output env")));
    const keys = results.map((r) => {
      expect(r.code).toBe(0);
      expect(r.stdout).toMatch(/^CLAUDE_API_KEY=cc_[0-9A-Za-z]{43}\n$/);
      return r.stdout.trim().slice("CLAUDE_API_KEY=".length);
    });
    for (const key of keys) expect(key).toMatch(KEY_FORMAT);
    expect(new Set(keys).size).toBe(keys.length);
    const listed = await listJson(["--project-id", "fmt"]);
    expect(listed.map((k) => k.id).sort()).toEqual(keys.map((k) => k.slice(3, 11)).sort());
  });

  test("--json is pure JSON with key, id, project_id, profile, rate_limit, permissions", async () => {
    const result = await sh("keys create --project-id json-app --profile pro --json");
    expect(result.code).toBe(0);
    expect(result.stderr).toBe("");
    const created = JSON.parse(result.stdout) as Created; // throws if anything but JSON was printed
    expect(created.key).toMatch(KEY_FORMAT);
    expect(created).toMatchObject({ id: created.key.slice(3, 11), project_id: "json-app", profile: "pro", rate_limit: 100, status: "active" });
    expect(created.permissions).toMatchObject({ allowed_tools: ["Read", "Grep", "Bash", "Edit", "Write"], rate_limit: 100 });
    // --output json is the same thing.
    const viaOutput = await sh("keys create --project-id json-app --profile pro --output json");
    const other = JSON.parse(viaOutput.stdout) as Created;
    expect(Object.keys(other).sort()).toEqual(Object.keys(created).sort());
  });

  test("--output env prints one CLAUDE_API_KEY= line; --output text the human form", async () => {
    const env = await sh("keys create --project-id out --output env");
    expect(env.code).toBe(0);
    expect(env.stdout).toMatch(/^CLAUDE_API_KEY=cc_[0-9A-Za-z]{43}\n$/);
    const text = await sh("keys create --project-id out --output text");
    expect(text.code).toBe(0);
    expect(text.stdout.match(/cc_[0-9A-Za-z]{43}/g)).toHaveLength(1);
    expect(text.stdout).toContain("out");
    expect(() => JSON.parse(text.stdout)).toThrow();
  });

  test("--name and --expires 30d are recorded", async () => {
    const before = Date.now();
    const created = await create("--project-id named --name ci-runner --expires 30d");
    expect(created.name).toBe("ci-runner");
    const expires = Date.parse(created.expires_at!);
    const thirtyDays = 30 * 86_400_000;
    expect(expires).toBeGreaterThanOrEqual(before + thirtyDays - 1000);
    expect(expires).toBeLessThanOrEqual(Date.now() + thirtyDays + 1000);
    const listed = (await listJson(["--project-id", "named"]))[0]!;
    expect(listed).toMatchObject({ id: created.id, name: "ci-runner", expires_at: created.expires_at, status: "active" });
  });

  test("refusals: unknown profile, bad numbers, bad duration, bad output, unknown flag, bad project id create nothing", async () => {
    const before = await snapshot();
    const cases: [string, RegExp][] = [
      ["keys create --project-id bad --profile gold", /profile.*gold/i],
      ["keys create --project-id bad --rate-limit abc", /rate.limit.*abc/i],
      ["keys create --project-id bad --rate-limit 0", /rate.limit/i],
      ["keys create --project-id bad --rate-limit -5", /rate.limit/i],
      ["keys create --project-id bad --rate-limit 1.5", /rate.limit/i],
      ["keys create --project-id bad --expires soon", /expires.*soon/i],
      ["keys create --project-id bad --expires 0d", /expires/i],
      ["keys create --project-id bad --output yaml", /output.*yaml/i],
      ["keys create --project-id bad --profiel pro", /--profiel/],
      ["keys create --project-id bad --rate-limit", /rate-limit/],
      ["keys create --project-id ../etc", /project id/i],
    ];
    const results = await Promise.all(cases.map(([line]) => sh(line)));
    results.forEach((result, i) => expectOneLineError(result, cases[i]![1]));
    const missing = await sh("keys create --profile pro");
    expectOneLineError(missing, /project-id/);
    expect(await snapshot()).toEqual(before);
  });

  test("a stray argument is refused, not silently ignored", async () => {
    const before = await snapshot();
    expectOneLineError(await sh("keys create --project-id stray pro"));
    expect(await snapshot()).toEqual(before);
  });

  test("a flag given where a value is expected is refused, not taken as the value", async () => {
    // `--name --profile pro` must not create a free key named "--profile" and drop "pro".
    const before = await snapshot();
    expectOneLineError(await sh("keys create --project-id swallow --name --profile pro"), /--name/);
    expect(await snapshot()).toEqual(before);
  });
});

describe("keys list", () => {
  let keys: Created[];

  beforeAll(async () => {
    keys = await Promise.all([
      create("--project-id list-a --profile free"),
      create("--project-id list-a --profile pro --rate-limit 42"),
      create("--project-id list-b --profile enterprise"),
    ]);
  });

  test("the seed's command: `keys list` shows id, masked key, project, profile, rate limit, status — never a key", async () => {
    const result = await sh("keys list");
    expect(result.code).toBe(0);
    expect(result.stderr).toBe("");
    const header = result.stdout.split("\n")[0]!;
    for (const column of ["ID", "KEY", "PROJECT", "PROFILE", "RATE", "CREATED", "LAST USED", "STATUS"]) expect(header).toContain(column);
    for (const created of keys) {
      const row = result.stdout.split("\n").find((line) => line.startsWith(created.id));
      expect(row).toBeDefined();
      expect(row!).toContain(created.project_id);
      expect(row!).toContain(created.profile);
      expect(row!).toContain(String(created.rate_limit));
      expect(row!).toContain("active");
      expect(row!).toContain(`cc_${created.id}…${created.key.slice(-4)}`);
      expect(result.stdout).not.toContain(created.key);
      expect(result.stdout).not.toContain(created.key.slice(3));
    }
  });

  test("--project-id filters, --json lists the same keys as JSON without any key in it", async () => {
    const [textA, jsonA, all] = await Promise.all([
      sh("keys list --project-id list-a"),
      sh("keys list --project-id list-a --json"),
      sh("keys list --json"),
    ]);
    expect(textA.code).toBe(0);
    expect(textA.stdout).toContain(keys[0]!.id);
    expect(textA.stdout).toContain(keys[1]!.id);
    expect(textA.stdout).not.toContain(keys[2]!.id);
    const listed = JSON.parse(jsonA.stdout) as Created[];
    expect(listed.map((k) => k.id).sort()).toEqual([keys[0]!.id, keys[1]!.id].sort());
    for (const entry of listed) {
      expect(entry).not.toHaveProperty("key");
      expect(entry).not.toHaveProperty("hash");
      expect(entry.project_id).toBe("list-a");
    }
    expect(listed.find((k) => k.id === keys[1]!.id)).toMatchObject({ profile: "pro", rate_limit: 42, status: "active" });
    for (const output of [textA.stdout, jsonA.stdout, all.stdout]) {
      for (const created of keys) expect(output).not.toContain(created.key.slice(3));
    }
  });

  test("status shows revoked and expired keys as such", async () => {
    const [revoked, expiring] = await Promise.all([create("--project-id list-status"), create("--project-id list-status --expires 1s")]);
    expect((await sh(`keys revoke ${revoked.id} --force`)).code).toBe(0);
    await Bun.sleep(1100);
    const result = await sh("keys list --project-id list-status");
    const row = (id: string) => result.stdout.split("\n").find((line) => line.startsWith(id)) ?? "";
    expect(row(revoked.id)).toMatch(/\brevoked\s*$/);
    expect(row(expiring.id)).toMatch(/\bexpired\s*$/);
    const json = await listJson(["--project-id", "list-status"]);
    expect(json.find((k) => k.id === revoked.id)!.status).toBe("revoked");
    expect(json.find((k) => k.id === expiring.id)!.status).toBe("expired");
  });

  test("a project with no keys lists nothing, successfully", async () => {
    const [text, json] = await Promise.all([sh("keys list --project-id nobody-here"), sh("keys list --project-id nobody-here --json")]);
    expect(text.code).toBe(0);
    expect(text.stdout).not.toContain("cc_");
    expect(json.code).toBe(0);
    expect(JSON.parse(json.stdout)).toEqual([]);
  });

  test("unknown flag is refused", async () => {
    expectOneLineError(await sh("keys list --projectid list-a"), /--projectid/);
  });
});

describe("keys and the database file", () => {
  test("only the SHA-256 of a key is stored: the key is in neither the database, its WAL nor its shm", async () => {
    const created = await create("--project-id hashed --profile pro");
    const files = [db, `${db}-wal`, `${db}-shm`].filter((file) => existsSync(file));
    expect(files).toContain(`${db}-wal`); // the gateway holds the file open, so the WAL is live
    const body = created.key.slice(3);
    for (const file of files) {
      const bytes = readFileSync(file);
      expect(bytes.includes(Buffer.from(body))).toBe(false);
      expect(bytes.includes(Buffer.from(body, "utf16le"))).toBe(false);
    }
    const sqlite = new Database(db, { readonly: true });
    try {
      const row = sqlite.query("SELECT * FROM keys WHERE id = ?").get(created.id) as Record<string, unknown>;
      const sha256 = new Bun.CryptoHasher("sha256").update(created.key).digest("hex");
      expect(row.hash).toBe(sha256);
      for (const value of Object.values(row)) if (typeof value === "string") expect(value).not.toContain(body);
    } finally {
      sqlite.close();
    }
  });
});

describe("keys permissions", () => {
  test("the seed's command: `keys permissions KEY` shows the effective permissions, by key or by id", async () => {
    const created = await create("--project-id perms --profile pro");
    const [byKey, byId] = await Promise.all([sh(`keys permissions ${created.key}`), sh(`keys permissions ${created.id}`)]);
    expect(byKey.code).toBe(0);
    expect(byKey.stdout).toBe(byId.stdout);
    expect(byKey.stdout).toContain(created.id);
    expect(byKey.stdout).not.toContain(created.key);
    expect(byKey.stdout).toMatch(/tools allowed:\s+Read, Grep, Bash, Edit, Write/);
    expect(byKey.stdout).toMatch(/agents allowed:\s+general-purpose, Explore, Plan/);
    expect(byKey.stdout).toMatch(/rate limit:\s+100 requests\/minute/);
    expect(byKey.stdout).toMatch(/max cost:\s+\$1\.00 per task/);
    expect(byKey.stdout).toMatch(/timeout:\s+300 seconds/);
  });

  test("the seed's commands: `--set-profile enterprise` and `--max-cost 5.00`", async () => {
    const created = await create("--project-id upgrade --profile free");
    const upgraded = await sh(`keys permissions ${created.key} --set-profile enterprise`);
    expect(upgraded.code).toBe(0);
    expect(upgraded.stdout).toMatch(/profile:\s+enterprise/);
    expect(upgraded.stdout).toMatch(/tools allowed:\s+all/);
    let info = await permissionsOf(created.id);
    expect(info.profile).toBe("enterprise");
    expect(info.permissions).toMatchObject({ allowed_tools: ["*"], allowed_agents: ["*"], allowed_skills: ["*"] });

    const costly = await sh(`keys permissions ${created.key} --max-cost 5.00`);
    expect(costly.code).toBe(0);
    expect(costly.stdout).toMatch(/max cost:\s+\$5\.00 per task/);
    info = await permissionsOf(created.id);
    expect(info.permissions.max_cost_per_task).toBe(5);
    // The rest of the enterprise grant stays.
    expect(info.permissions.allowed_tools).toEqual(["*"]);
  });

  test("flags for allowed/blocked tools, agents, skills, timeout, rate limit and max concurrent", async () => {
    const created = await create("--project-id custom --profile pro");
    const result = await run([
      "keys", "permissions", created.id,
      "--allowed-tools", "Read,Grep,Glob,Bash",
      "--blocked-tools", "Bash",
      "--allowed-agents", "general-purpose,company-workflow-analyst",
      "--allowed-skills", "pdf",
      "--timeout", "120",
      "--rate-limit", "30",
      "--max-concurrent", "4",
      "--max-cost", "0.25",
      "--json",
    ]);
    expect(result.code).toBe(0);
    const shown = JSON.parse(result.stdout) as Created;
    expect(shown.permissions).toEqual({
      allowed_tools: ["Read", "Grep", "Glob", "Bash"],
      blocked_tools: ["Bash"],
      allowed_agents: ["general-purpose", "company-workflow-analyst"],
      allowed_skills: ["pdf"],
      timeout: 120,
      rate_limit: 30,
      max_concurrent: 4,
      max_cost_per_task: 0.25,
    });
    expect(shown.rate_limit).toBe(30);
    expect((await permissionsOf(created.key)).permissions).toEqual(shown.permissions);
    // An explicit empty list means none; * means all.
    const none = await run(["keys", "permissions", created.id, "--allowed-agents", "", "--allowed-tools", "*", "--json"]);
    expect(none.code).toBe(0);
    expect((JSON.parse(none.stdout) as Created).permissions).toMatchObject({ allowed_agents: [], allowed_tools: ["*"] });
  });

  test("refusals: unknown profile, bad numbers, unknown tools, unknown flag change nothing", async () => {
    const created = await create("--project-id refuse --profile pro");
    const before = await permissionsOf(created.id);
    const k = created.key;
    const cases: [string, RegExp][] = [
      [`keys permissions ${k} --set-profile platinum`, /profile.*platinum/i],
      [`keys permissions ${k} --max-cost abc`, /max.cost.*abc/i],
      [`keys permissions ${k} --max-cost -1`, /max.cost/i],
      [`keys permissions ${k} --max-cost 0`, /max.cost/i],
      [`keys permissions ${k} --max-cost 5.00$`, /max.cost/i],
      [`keys permissions ${k} --timeout 0`, /timeout/i],
      [`keys permissions ${k} --timeout 1.5`, /timeout/i],
      [`keys permissions ${k} --rate-limit many`, /rate.limit/i],
      [`keys permissions ${k} --max-concurrent x`, /max.concurrent/i],
      [`keys permissions ${k} --allowed-tools Read,Teleport`, /Teleport/],
      [`keys permissions ${k} --blocked-tools Nope`, /Nope/],
      [`keys permissions ${k} --allowed-agents ../../etc`, /agents/i],
      [`keys permissions ${k} --max-costs 5`, /--max-costs/],
      // A good change next to a bad one: the good one must not be applied either.
      [`keys permissions ${k} --max-cost 9 --set-profile gold`, /gold/],
      [`keys permissions ${k} --set-profile enterprise --allowed-tools Bsh`, /Bsh/],
      [`keys permissions ${k} --timeout 10 --rate-limit 0`, /rate.limit/i],
    ];
    const results = await Promise.all(cases.map(([line]) => sh(line)));
    results.forEach((result, i) => expectOneLineError(result, cases[i]![1]));
    expect(await permissionsOf(created.id)).toEqual(before);
  });

  test("an unknown key is one line that does not echo the key; nothing changes", async () => {
    const before = await snapshot();
    const ghost = `cc_${"Z".repeat(43)}`;
    const results = await Promise.all([
      sh(`keys permissions ${ghost}`),
      sh(`keys permissions ${ghost} --max-cost 2`),
      sh("keys permissions ZZZZZZZZ --set-profile pro"),
      sh("keys permissions not-a-key"),
      sh(`keys revoke ${ghost} --force`),
      sh(`keys rotate ${ghost}`),
    ]);
    for (const result of results) {
      expectOneLineError(result);
      expect(result.stderr).not.toContain(ghost);
    }
    expect(await snapshot()).toEqual(before);
  });
});

describe("keys revoke", () => {
  test("the seed's command `keys revoke KEY` with no terminal refuses, says to use --force, and the key stays active", async () => {
    const created = await create("--project-id revoke-tty --profile pro");
    // No terminal at all, and a piped "y" (still not a terminal): both refuse.
    for (const stdin of [undefined, "y\n"]) {
      const result = await sh(`keys revoke ${created.key}`, { stdin });
      expectOneLineError(result, /--force/);
      expect(result.stderr).toMatch(/terminal|confirm/i);
    }
    expect((await permissionsOf(created.id)).status).toBe("active");
    expect((await modelsWith(created.key)).status).toBe(200);
  });

  test("the seed's command `keys revoke KEY --force` revokes at once; a running server refuses the key", async () => {
    const created = await create("--project-id revoke-force --profile pro");
    expect((await modelsWith(created.key)).status).toBe(200);
    const result = await sh(`keys revoke ${created.key} --force`);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain(created.id);
    expect(result.stdout).not.toContain(created.key);
    const info = await permissionsOf(created.id);
    expect(info.status).toBe("revoked");
    expect(info.revoked_at).not.toBeNull();
    const refused = await modelsWith(created.key);
    expect(refused.status).toBe(401);
    expect(await refused.json()).toEqual({ error: { type: "authentication_error", message: "Invalid API key" } });
    // Revoking again is refused, by id as well.
    expectOneLineError(await sh(`keys revoke ${created.id} --force`), /revoked/);
  });

  test("`keys revoke A B --force` never revokes A alone while reporting success", async () => {
    // Someone revoking two leaked keys at once must not be left with one of them silently still working.
    const [a, b] = await Promise.all([create("--project-id revoke-two"), create("--project-id revoke-two")]);
    const result = await sh(`keys revoke ${a.key} ${b.key} --force`);
    const statuses = await Promise.all([permissionsOf(a.id), permissionsOf(b.id)]).then((all) => all.map((k) => k.status));
    if (result.code === 0) expect(statuses).toEqual(["revoked", "revoked"]);
    else {
      expectOneLineError(result);
      expect(statuses).toEqual(["active", "active"]);
    }
  });

  test("an unknown flag next to --force revokes nothing", async () => {
    const created = await create("--project-id revoke-typo");
    expectOneLineError(await sh(`keys revoke ${created.key} --force --now`), /--now/);
    expect((await permissionsOf(created.id)).status).toBe("active");
  });

  const script = Bun.which("script");
  test.skipIf(!script)("on a terminal it asks; anything but yes keeps the key, yes revokes it", async () => {
    const created = await create("--project-id revoke-ask");
    const spawnOnTerminal = async (answer: string) => {
      const proc = Bun.spawn([script!, "-qec", `${BIN} keys revoke ${created.id}`, "/dev/null"], {
        env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: tempDir(), CLAUDE_API_DB: db, TERM: "dumb" },
        stdin: new Blob([answer]),
        stdout: "pipe",
        stderr: "pipe",
      });
      const [stdout, code] = await Promise.all([new Response(proc.stdout).text(), proc.exited]);
      return { stdout, code };
    };
    const declined = await spawnOnTerminal("n\n");
    expect(declined.stdout).toMatch(/Revoke key .*\?/);
    expect(declined.stdout).toContain(created.id);
    expect(declined.stdout).toMatch(/Not revoked/);
    expect((await permissionsOf(created.id)).status).toBe("active");

    const accepted = await spawnOnTerminal("y\n");
    expect(accepted.code).toBe(0);
    expect(accepted.stdout).toMatch(/Revoked key/);
    expect((await permissionsOf(created.id)).status).toBe("revoked");
  });
});

describe("keys rotate", () => {
  test("`keys rotate KEY --grace 1h`: a new key with the same project and permissions; both work during the grace", async () => {
    const old = await create("--project-id rotating --profile pro --name deploy");
    expect((await sh(`keys permissions ${old.id} --max-cost 3 --blocked-tools Write`)).code).toBe(0);
    const oldInfo = await permissionsOf(old.id);
    const before = Date.now();
    const result = await sh(`keys rotate ${old.key} --grace 1h --json`);
    expect(result.code).toBe(0);
    const rotated = JSON.parse(result.stdout) as Created & { replaced: { id: string; expires_at: string } };
    expect(rotated.key).toMatch(KEY_FORMAT);
    expect(rotated.key).not.toBe(old.key);
    expect(rotated.id).not.toBe(old.id);
    expect(rotated.project_id).toBe("rotating");
    expect(rotated.name).toBe("deploy");
    expect(rotated.profile).toBe(oldInfo.profile);
    expect(rotated.permissions).toEqual(oldInfo.permissions);
    expect(rotated.replaced.id).toBe(old.id);
    const graceEnd = Date.parse(rotated.replaced.expires_at);
    expect(graceEnd).toBeGreaterThanOrEqual(before + 3_600_000 - 1000);
    expect(graceEnd).toBeLessThanOrEqual(Date.now() + 3_600_000 + 1000);

    const [newResponse, oldResponse] = await Promise.all([modelsWith(rotated.key), modelsWith(old.key)]);
    expect(newResponse.status).toBe(200);
    expect(oldResponse.status).toBe(200);
    const after = await permissionsOf(old.id);
    expect(after).toMatchObject({ status: "active", rotated_to: rotated.id });
  });

  test("`keys rotate KEY` with no grace: the old key stops at once, the new one works", async () => {
    const old = await create("--project-id rotate-now --profile pro");
    expect((await modelsWith(old.key)).status).toBe(200);
    const result = await sh(`keys rotate ${old.id} --output env`);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^CLAUDE_API_KEY=cc_[0-9A-Za-z]{43}\n$/);
    const fresh = result.stdout.trim().slice("CLAUDE_API_KEY=".length);
    const [newResponse, oldResponse] = await Promise.all([modelsWith(fresh), modelsWith(old.key)]);
    expect(newResponse.status).toBe(200);
    expect(oldResponse.status).toBe(401);
    expect(await oldResponse.json()).toEqual({ error: { type: "authentication_error", message: "Invalid API key" } });
    expect((await permissionsOf(old.id)).status).not.toBe("active");
    // A key that no longer works cannot be rotated again.
    expectOneLineError(await sh(`keys rotate ${old.id}`));
  });

  test("a bad --grace or unknown flag rotates nothing", async () => {
    const old = await create("--project-id rotate-bad");
    const before = await snapshot(["--project-id", "rotate-bad"]);
    const results = await Promise.all([sh(`keys rotate ${old.id} --grace forever`), sh(`keys rotate ${old.id} --grace 1h --keep`)]);
    expectOneLineError(results[0]!, /grace.*forever/i);
    expectOneLineError(results[1]!, /--keep/);
    expect(await snapshot(["--project-id", "rotate-bad"])).toEqual(before);
    expect((await modelsWith(old.key)).status).toBe(200);
  });
});
