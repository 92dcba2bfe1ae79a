// The library API (src/index.ts), used as the seed's Python is: AuthManager and PermissionManager on a database
// file. A gateway (the real binary) serving the same file sees every change at its next request.
import { Database } from "bun:sqlite";
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { AuthManager, KeyNotFoundError, PROFILES, PermissionInputError, PermissionManager } from "../../src/index.ts";
import { bearer, cli, startGateway, tempDir, type Gateway } from "../support/harness.ts";

let gateway: Gateway;
let auth: AuthManager;
let perm: PermissionManager;

beforeAll(async () => {
  gateway = await startGateway();
  auth = new AuthManager({ dbPath: gateway.db });
  perm = new PermissionManager({ dbPath: gateway.db });
});

afterAll(async () => {
  auth?.store.close();
  perm?.auth.store.close();
  await gateway?.stop();
});

interface Me {
  id: string;
  project_id: string;
  profile: string;
  permissions: Record<string, unknown>;
}

async function me(key: string): Promise<{ status: number; body: Me; limit: string | null }> {
  const response = await fetch(`${gateway.url}/v1/keys/me`, { headers: bearer(key) });
  return { status: response.status, body: (await response.json()) as Me, limit: response.headers.get("x-ratelimit-limit") };
}

describe("the seed's Python, in TypeScript", () => {
  test("generateKey(projectId, {rateLimit}) then applyDefaultProfile(key, \"enterprise\")", async () => {
    const apiKey = auth.generateKey("my-project", { rateLimit: 100 });
    expect(apiKey).toMatch(/^cc_[0-9A-Za-z]{43}$/);
    const created = auth.info(apiKey);
    expect(created).toMatchObject({ id: apiKey.slice(3, 11), project_id: "my-project", rate_limit: 100, status: "active" });

    const upgraded = perm.applyDefaultProfile(apiKey, "enterprise");
    expect(upgraded.profile).toBe("enterprise");
    expect(upgraded.permissions).toMatchObject({ allowed_tools: ["*"], allowed_agents: ["*"], allowed_skills: ["*"] });
    // The rate limit given at creation is the key's own: the profile does not replace it.
    expect(upgraded.permissions.rate_limit).toBe(100);

    // The CLI reads the same file and agrees.
    const shown = await cli(["keys", "permissions", apiKey, "--json"], { db: gateway.db });
    expect(shown.code).toBe(0);
    expect(JSON.parse(shown.stdout)).toMatchObject({ id: created.id, project_id: "my-project", profile: "enterprise" });

    // And the running server accepts the key with those permissions.
    const seen = await me(apiKey);
    expect(seen.status).toBe(200);
    expect(seen.body).toMatchObject({ id: created.id, project_id: "my-project", profile: "enterprise" });
  });

  test("setProfile(key, {allowed_tools, blocked_tools, allowed_agents, max_cost_per_task}) as the seed shows", async () => {
    const apiKey = auth.generateKey("custom-perms");
    const info = perm.setProfile(apiKey, {
      allowed_tools: ["Read", "Grep", "Bash"],
      blocked_tools: ["Write"],
      allowed_agents: ["company-workflow-analyst"],
      max_cost_per_task: 0.5,
    });
    expect(info.permissions).toMatchObject({
      allowed_tools: ["Read", "Grep", "Bash"],
      blocked_tools: ["Write"],
      allowed_agents: ["company-workflow-analyst"],
      max_cost_per_task: 0.5,
    });
    expect(perm.getPermissions(apiKey)).toEqual(info.permissions);
    const seen = await me(apiKey);
    expect(seen.status).toBe(200);
    expect(seen.body.permissions).toEqual(info.permissions as unknown as Record<string, unknown>);
  });

  test("revokeKey(key): the running server refuses the key at its next request", async () => {
    const apiKey = auth.generateKey("to-revoke", { rateLimit: 20 });
    expect((await me(apiKey)).status).toBe(200);
    const revoked = auth.revokeKey(apiKey);
    expect(revoked.status).toBe("revoked");
    const after = await fetch(`${gateway.url}/v1/models`, { headers: bearer(apiKey) });
    expect(after.status).toBe(401);
    expect(await after.json()).toEqual({ error: { type: "authentication_error", message: "Invalid API key" } });
  });

  test("new AuthManager() with no options uses the configured default (CLAUDE_API_DB), as the seed's AuthManager() does", () => {
    const path = join(tempDir(), "default", "claude-api.db");
    const saved = process.env.CLAUDE_API_DB;
    process.env.CLAUDE_API_DB = path;
    let manager: AuthManager | undefined;
    let perms: PermissionManager | undefined;
    try {
      manager = new AuthManager();
      perms = new PermissionManager();
      const key = manager.generateKey("defaults");
      perms.applyDefaultProfile(key, "pro");
      expect(existsSync(path)).toBe(true);
      expect(perms.getPermissions(key)).toMatchObject({ allowed_tools: PROFILES.pro.allowed_tools });
    } finally {
      if (saved === undefined) delete process.env.CLAUDE_API_DB;
      else process.env.CLAUDE_API_DB = saved;
      manager?.store.close();
      perms?.auth.store.close();
    }
  });
});

describe("changes through the library reach a running server at its next request", () => {
  test("applyDefaultProfile, setProfile and a rate-limit change, each seen by the very next request", async () => {
    const apiKey = auth.generateKey("live-lib");
    let seen = await me(apiKey);
    expect(seen.body.profile).toBe("free");
    expect(seen.limit).toBe("10");

    perm.applyDefaultProfile(apiKey, "pro");
    seen = await me(apiKey);
    expect(seen.body.profile).toBe("pro");
    expect(seen.body.permissions.allowed_tools).toEqual(PROFILES.pro.allowed_tools);
    expect(seen.limit).toBe("100");

    perm.setProfile(apiKey, { blocked_tools: ["Bash"], max_cost_per_task: 2.5 });
    seen = await me(apiKey);
    expect(seen.body.permissions).toMatchObject({ blocked_tools: ["Bash"], max_cost_per_task: 2.5, allowed_tools: PROFILES.pro.allowed_tools });

    perm.setProfile(apiKey, { rate_limit: 7 });
    seen = await me(apiKey);
    expect(seen.status).toBe(200);
    expect(seen.limit).toBe("7");
    expect(seen.body.permissions.rate_limit).toBe(7);
  });

  test("a key made by one AuthManager is usable at once on the server, and known to another manager", async () => {
    const apiKey = auth.generateKey("cross");
    expect((await me(apiKey)).status).toBe(200);
    expect(perm.auth.info(apiKey).project_id).toBe("cross");
  });
});

describe("library errors", () => {
  test("an unknown key is a KeyNotFoundError; an unknown profile or tool a PermissionInputError, changing nothing", () => {
    const ghost = `cc_${"x".repeat(43)}`;
    expect(() => auth.revokeKey(ghost)).toThrow(KeyNotFoundError);
    expect(() => perm.applyDefaultProfile(ghost, "pro")).toThrow(KeyNotFoundError);
    expect(() => perm.setProfile(ghost, { max_cost_per_task: 1 })).toThrow(KeyNotFoundError);

    const apiKey = auth.generateKey("errors");
    const before = auth.info(apiKey);
    expect(() => perm.applyDefaultProfile(apiKey, "platinum")).toThrow(PermissionInputError);
    expect(() => perm.setProfile(apiKey, { allowed_tools: ["Read", "Teleport"], max_cost_per_task: 9 })).toThrow(PermissionInputError);
    expect(() => perm.setProfile(apiKey, { max_cost_per_task: -1 })).toThrow(PermissionInputError);
    expect(auth.info(apiKey)).toEqual(before);
  });

  test("bad arguments to generateKey are refused and create nothing", () => {
    const count = () => auth.list().length;
    const before = count();
    expect(() => auth.generateKey("")).toThrow(PermissionInputError);
    expect(() => auth.generateKey("../../etc")).toThrow(PermissionInputError);
    expect(() => auth.generateKey("ok", { rateLimit: 0 })).toThrow(PermissionInputError);
    expect(() => auth.generateKey("ok", { profile: "gold" })).toThrow(PermissionInputError);
    expect(count()).toBe(before);
  });

  test("the library stores only the key's SHA-256", () => {
    const apiKey = auth.generateKey("hash-only");
    const sqlite = new Database(gateway.db, { readonly: true });
    try {
      const rows = sqlite.query("SELECT * FROM keys").all() as Record<string, unknown>[];
      const row = rows.find((r) => r.id === apiKey.slice(3, 11))!;
      expect(row.hash).toBe(new Bun.CryptoHasher("sha256").update(apiKey).digest("hex"));
      for (const r of rows) for (const value of Object.values(r)) if (typeof value === "string") expect(value).not.toContain(apiKey.slice(3));
    } finally {
      sqlite.close();
    }
  });
});
