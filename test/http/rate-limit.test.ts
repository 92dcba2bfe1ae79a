// Per-key rate limiting on a running gateway (the real binary): exact under concurrency, the seed's 429 body with
// a matching Retry-After, and the X-RateLimit-* headers counting down.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { bearer, cli, startGateway, tempDir, type Gateway } from "../support/harness.ts";

let gateway: Gateway;

beforeAll(async () => {
  gateway = await startGateway();
});

afterAll(async () => {
  await gateway?.stop();
});

/** Runs a seed command line verbatim against this file's database, returns the key it printed. */
async function seedKey(line: string): Promise<string> {
  const result = await cli(line.split(" "), { env: { HOME: tempDir(), CLAUDE_API_DB: gateway.db } });
  expect(result.code).toBe(0);
  return result.stdout.match(/cc_[0-9A-Za-z]{43}/)![0];
}

function models(key: string): Promise<Response> {
  return fetch(`${gateway.url}/v1/models`, { headers: bearer(key) });
}

const LIMITED = /^Rate limit exceeded\. Reset in (\d+) seconds\.$/;

describe("rate limits", () => {
  test("200 concurrent requests against a key limited to 50/min: exactly 50 admitted, 150 refused with the seed's 429", async () => {
    const key = await seedKey("keys create --project-id test --profile pro --rate-limit 50");
    const started = Math.floor(Date.now() / 1000);
    const responses = await Promise.all(Array.from({ length: 200 }, () => models(key)));
    const bodies = await Promise.all(responses.map((r) => r.text()));

    const admitted = responses.filter((r) => r.status === 200);
    const refused = responses.map((r, i) => [r, bodies[i]!] as const).filter(([r]) => r.status === 429);
    expect(admitted.length).toBe(50);
    expect(refused.length).toBe(150);
    expect(responses.every((r) => r.status === 200 || r.status === 429)).toBe(true);

    // Remaining counts down: the admitted requests saw 49, 48, ..., 0, each exactly once.
    const remaining = admitted.map((r) => Number(r.headers.get("x-ratelimit-remaining"))).sort((a, b) => a - b);
    expect(remaining).toEqual(Array.from({ length: 50 }, (_, i) => i));

    for (const [response, body] of refused) {
      expect(response.headers.get("content-type")).toStartWith("application/json");
      const parsed = JSON.parse(body) as { error: { type: string; message: string } };
      expect(Object.keys(parsed)).toEqual(["error"]);
      expect(parsed.error.type).toBe("rate_limit_error");
      const match = LIMITED.exec(parsed.error.message);
      expect(match).not.toBeNull();
      const seconds = Number(match![1]);
      expect(seconds).toBeGreaterThanOrEqual(1);
      expect(seconds).toBeLessThanOrEqual(60);
      expect(response.headers.get("retry-after")).toBe(String(seconds));
      expect(response.headers.get("x-ratelimit-limit")).toBe("50");
      expect(response.headers.get("x-ratelimit-remaining")).toBe("0");
      const reset = Number(response.headers.get("x-ratelimit-reset"));
      // The reset instant and the wait agree (within the second boundaries crossed while the burst ran).
      expect(Math.abs(reset - (started + seconds))).toBeLessThanOrEqual(3);
    }
    for (const response of responses) {
      expect(response.headers.get("x-ratelimit-limit")).toBe("50");
      const reset = Number(response.headers.get("x-ratelimit-reset"));
      expect(reset).toBeGreaterThanOrEqual(started);
      expect(reset).toBeLessThanOrEqual(started + 62);
    }

    // Still limited afterwards, on every route and by query parameter too.
    const later = await fetch(`${gateway.url}/v1/keys/me?api_key=${key}`);
    expect(later.status).toBe(429);
    expect(((await later.json()) as { error: { type: string } }).error.type).toBe("rate_limit_error");
  });

  test("sequential requests count X-RateLimit-Remaining down to 0, then 429 (free tier: 10/min)", async () => {
    const key = await seedKey("keys create --project-id free-app --profile free");
    const seen: string[] = [];
    for (let i = 0; i < 10; i++) {
      const response = await models(key);
      expect(response.status).toBe(200);
      expect(response.headers.get("x-ratelimit-limit")).toBe("10");
      seen.push(response.headers.get("x-ratelimit-remaining")!);
    }
    expect(seen).toEqual(["9", "8", "7", "6", "5", "4", "3", "2", "1", "0"]);
    const refused = await models(key);
    expect(refused.status).toBe(429);
    const seconds = Number(refused.headers.get("retry-after"));
    expect(await refused.json()).toEqual({
      error: { type: "rate_limit_error", message: `Rate limit exceeded. Reset in ${seconds} seconds.` },
    });
  });

  test("limits are per key: another key of the same project is unaffected", async () => {
    const [first, second] = await Promise.all([
      seedKey("keys create --project-id shared --profile free --rate-limit 2"),
      seedKey("keys create --project-id shared --profile free --rate-limit 2"),
    ]);
    expect((await models(first)).status).toBe(200);
    expect((await models(first)).status).toBe(200);
    expect((await models(first)).status).toBe(429);
    const other = await models(second);
    expect(other.status).toBe(200);
    expect(other.headers.get("x-ratelimit-remaining")).toBe("1");
  });

  test("raising an exhausted key's limit with the CLI admits its next request", async () => {
    const key = await seedKey("keys create --project-id raise --profile pro --rate-limit 3");
    for (let i = 0; i < 3; i++) expect((await models(key)).status).toBe(200);
    expect((await models(key)).status).toBe(429);
    const changed = await cli(["keys", "permissions", key, "--rate-limit", "5"], { db: gateway.db });
    expect(changed.code).toBe(0);
    const response = await models(key);
    expect(response.status).toBe(200);
    expect(response.headers.get("x-ratelimit-limit")).toBe("5");
    expect(response.headers.get("x-ratelimit-remaining")).toBe("1");
  });

  test("lowering a key's limit below what it already used refuses its next request", async () => {
    const key = await seedKey("keys create --project-id lower --profile pro");
    for (let i = 0; i < 4; i++) expect((await models(key)).status).toBe(200);
    const changed = await cli(["keys", "permissions", key, "--rate-limit", "2"], { db: gateway.db });
    expect(changed.code).toBe(0);
    const response = await models(key);
    expect(response.status).toBe(429);
    expect(response.headers.get("x-ratelimit-limit")).toBe("2");
    expect(Number(response.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
  });

  test("the server keeps serving after refusals: /health answers", async () => {
    const response = await fetch(`${gateway.url}/health`);
    expect(response.status).toBe(200);
  });
});
