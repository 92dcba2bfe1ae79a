// Observability of a running gateway (the real binary, the real claude CLI, the fake model): GET /metrics in the
// Prometheus text format with counters that move as requests are made, --no-metrics, GET /health, one structured
// JSON log line per request on stderr, and X-Request-Id on every response (echoed when well-formed).
import { Database } from "bun:sqlite";
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { CLAUDE_BIN, bearer, createKey, startGateway, tempDir, type CreatedKey, type Gateway } from "../support/harness.ts";
import { startFakeAnthropic, turn, type FakeAnthropic, type Turn } from "../support/fake-anthropic.ts";

let fake: FakeAnthropic;
let gateway: Gateway;
let key: CreatedKey;

const env = () => ({ HOME: tempDir(), ANTHROPIC_API_KEY: "dummy", ANTHROPIC_BASE_URL: fake.url, CLAUDE_CODE_MAX_RETRIES: "0" });

beforeAll(async () => {
  fake = await startFakeAnthropic();
  gateway = await startGateway({ args: ["--claude-bin", CLAUDE_BIN, "--max-processes", "1", "--max-queue", "5"], env: env() });
  key = await createKey(gateway.db, "observed", "pro", ["--rate-limit", "1000"]);
});

afterAll(async () => {
  await gateway?.stop();
  await fake?.stop();
});

function answer(prompt: string, reply: Turn): void {
  fake.route((req) => (req.prompt() === prompt ? reply : undefined));
}

function chat(prompt: string, extra: Record<string, unknown> = {}, init: { headers?: Record<string, string>; signal?: AbortSignal } = {}): Promise<Response> {
  return fetch(`${gateway.url}/v1/chat/completions`, {
    method: "POST",
    headers: { ...bearer(key.key), "content-type": "application/json", ...init.headers },
    body: JSON.stringify({ messages: [{ role: "user", content: prompt }], ...extra }),
    signal: init.signal,
  });
}

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** Parses the Prometheus text format strictly enough to catch malformed output. */
function parseMetrics(text: string): { samples: Sample[]; types: Map<string, string> } {
  const samples: Sample[] = [];
  const types = new Map<string, string>();
  const helps = new Set<string>();
  expect(text.endsWith("\n")).toBe(true);
  for (const line of text.trimEnd().split("\n")) {
    if (line.startsWith("# HELP ")) {
      const name = line.split(" ")[2]!;
      expect(helps.has(name)).toBe(false);
      helps.add(name);
      continue;
    }
    if (line.startsWith("# TYPE ")) {
      const [, , name, type] = line.split(" ");
      expect(types.has(name!)).toBe(false);
      expect(["counter", "gauge", "histogram"]).toContain(type!);
      types.set(name!, type!);
      continue;
    }
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)$/.exec(line);
    if (!match) throw new Error(`not a sample line: ${JSON.stringify(line)}`);
    const labels: Record<string, string> = {};
    if (match[3]) {
      const labelPattern = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"(,|$)/gy;
      let consumed = 0;
      for (let m = labelPattern.exec(match[3]); m; m = labelPattern.exec(match[3])) {
        labels[m[1]!] = m[2]!.replace(/\\n/g, "\n").replace(/\\"/g, '"').replace(/\\\\/g, "\\");
        consumed = labelPattern.lastIndex;
      }
      expect(consumed).toBe(match[3].length);
    }
    const value = Number(match[4]);
    expect(Number.isNaN(value)).toBe(false);
    const family = match[1]!.replace(/_(bucket|sum|count)$/, "");
    expect(types.has(match[1]!) || types.has(family)).toBe(true);
    samples.push({ name: match[1]!, labels, value });
  }
  return { samples, types };
}

async function scrape(gw = gateway) {
  const response = await fetch(`${gw.url}/metrics`);
  expect(response.status).toBe(200);
  expect(response.headers.get("content-type")).toBe("text/plain; version=0.0.4; charset=utf-8");
  const parsed = parseMetrics(await response.text());
  const value = (name: string, labels: Record<string, string> = {}): number => {
    const found = parsed.samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
    return found.reduce((total, s) => total + s.value, 0);
  };
  return { ...parsed, value };
}

interface LogLine {
  event: string;
  level: string;
  time: string;
  request_id?: string;
  key_id?: string;
  method?: string;
  route?: string;
  status?: number;
  duration_ms?: number;
  [field: string]: unknown;
}

function logLines(gw = gateway): LogLine[] {
  return gw
    .logs()
    .split("\n")
    .filter((line) => line.trim() !== "")
    .map((line) => JSON.parse(line) as LogLine);
}

async function requestLog(requestId: string, gw = gateway): Promise<LogLine[]> {
  const deadline = Date.now() + 5_000;
  for (;;) {
    const lines = logLines(gw).filter((l) => l.event === "request" && l.request_id === requestId);
    if (lines.length > 0 || Date.now() > deadline) {
      await Bun.sleep(50);
      return logLines(gw).filter((l) => l.event === "request" && l.request_id === requestId);
    }
    await Bun.sleep(50);
  }
}

async function eventually<T>(what: string, probe: () => Promise<T> | T, done: (value: T) => boolean, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (done(value)) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; last: ${JSON.stringify(value)}`);
    await Bun.sleep(100);
  }
}

describe("GET /metrics", () => {
  test("request counters by route and status move by exactly the requests made; the latency histogram is well formed", async () => {
    const before = await scrape();
    const okLabels = { method: "GET", route: "/v1/models", status: "200" };
    const gateLabels = { method: "GET", route: "(gate)", status: "401" };
    for (let i = 0; i < 5; i++) expect((await fetch(`${gateway.url}/v1/models`, { headers: bearer(key.key) })).status).toBe(200);
    for (let i = 0; i < 3; i++) expect((await fetch(`${gateway.url}/v1/models`)).status).toBe(401);
    expect((await fetch(`${gateway.url}/v1/no-such-route`, { headers: bearer(key.key) })).status).toBe(404);
    const after = await scrape();

    expect(after.types.get("claude_api_requests_total")).toBe("counter");
    expect(after.types.get("claude_api_request_duration_seconds")).toBe("histogram");
    expect(after.value("claude_api_requests_total", okLabels) - before.value("claude_api_requests_total", okLabels)).toBe(5);
    expect(after.value("claude_api_requests_total", gateLabels) - before.value("claude_api_requests_total", gateLabels)).toBe(3);
    expect(after.value("claude_api_requests_total", { status: "404" }) - before.value("claude_api_requests_total", { status: "404" })).toBe(1);
    // The scrape that read `before` was itself counted.
    expect(after.value("claude_api_requests_total", { route: "/metrics" })).toBeGreaterThanOrEqual(1);

    const route = { route: "/v1/models" };
    const countDelta = after.value("claude_api_request_duration_seconds_count", route) - before.value("claude_api_request_duration_seconds_count", route);
    expect(countDelta).toBe(5);
    expect(after.value("claude_api_request_duration_seconds_sum", route)).toBeGreaterThan(before.value("claude_api_request_duration_seconds_sum", route));
    for (const { samples } of [after]) {
      const routes = new Set(samples.filter((s) => s.name === "claude_api_request_duration_seconds_bucket").map((s) => s.labels.route!));
      for (const r of routes) {
        const buckets = samples.filter((s) => s.name === "claude_api_request_duration_seconds_bucket" && s.labels.route === r);
        expect(buckets.at(-1)!.labels.le).toBe("+Inf");
        const bounds = buckets.slice(0, -1).map((b) => Number(b.labels.le));
        expect(bounds).toEqual([...bounds].sort((a, b) => a - b));
        const counts = buckets.map((b) => b.value);
        expect(counts).toEqual([...counts].sort((a, b) => a - b)); // cumulative
        expect(buckets.at(-1)!.value).toBe(after.value("claude_api_request_duration_seconds_count", { route: r }));
      }
    }
  });

  test("a chat moves runs, tokens and cost by model, and lands in the latency buckets above its duration", async () => {
    const before = await scrape();
    answer("metered chat", turn.text("answer", { initialDelayMs: 1_200, usage: { input_tokens: 250_000, output_tokens: 10_000, cache_creation_input_tokens: 7, cache_read_input_tokens: 11 } }));
    const response = await chat("metered chat", { model: "sonnet" });
    expect(response.status).toBe(200);
    const body = (await response.json()) as { cost: number };
    const after = await scrape();

    const model = { model: "claude-sonnet-5-5" };
    const delta = (name: string, labels: Record<string, string>) => after.value(name, labels) - before.value(name, labels);
    expect(after.types.get("claude_api_runs_total")).toBe("counter");
    expect(delta("claude_api_runs_total", { ...model, status: "success" })).toBe(1);
    expect(delta("claude_api_tokens_total", { ...model, kind: "input" })).toBe(250_000);
    expect(delta("claude_api_tokens_total", { ...model, kind: "output" })).toBe(10_000);
    expect(delta("claude_api_tokens_total", { ...model, kind: "cache_creation" })).toBe(7);
    expect(delta("claude_api_tokens_total", { ...model, kind: "cache_read" })).toBe(11);
    expect(delta("claude_api_cost_usd_total", model)).toBeCloseTo(body.cost, 9);
    expect(body.cost).toBeGreaterThanOrEqual(0.6);

    // It took at least 1.2 s: counted in +Inf and every bucket from 2.5 s up... not in any bucket of 1 s or less.
    const route = "/v1/chat/completions";
    for (const le of ["0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1"]) {
      expect(delta("claude_api_request_duration_seconds_bucket", { route, le })).toBe(0);
    }
    expect(delta("claude_api_request_duration_seconds_bucket", { route, le: "+Inf" })).toBe(1);
    expect(delta("claude_api_request_duration_seconds_bucket", { route, le: "300" })).toBe(1);
    expect(delta("claude_api_requests_total", { method: "POST", route, status: "200" })).toBe(1);

    // A failed run is counted by how it ended.
    answer("failing chat", turn.error(500, "api_error", "boom"));
    expect((await chat("failing chat")).status).toBe(502);
    const failed = await scrape();
    expect(failed.value("claude_api_runs_total", { ...model, status: "error" }) - after.value("claude_api_runs_total", { ...model, status: "error" })).toBe(1);
    expect(failed.value("claude_api_requests_total", { route, status: "502" }) - after.value("claude_api_requests_total", { route, status: "502" })).toBe(1);
  });

  test("gauges: live claude processes and the queue waiting for one (--max-processes 1)", async () => {
    const idle = await scrape();
    expect(idle.types.get("claude_api_cli_processes")).toBe("gauge");
    expect(idle.types.get("claude_api_queue_depth")).toBe("gauge");
    expect(idle.value("claude_api_cli_processes")).toBe(0);
    expect(idle.value("claude_api_queue_depth")).toBe(0);
    expect(idle.value("claude_api_cli_process_limit")).toBe(1);

    answer("gauge: running", turn.hang());
    answer("gauge: queued", turn.text("ok"));
    const first = new AbortController();
    const running = chat("gauge: running", {}, { signal: first.signal }).catch((e: unknown) => e);
    await eventually("one live process", async () => (await scrape()).value("claude_api_cli_processes"), (n) => n === 1);
    const queued = chat("gauge: queued");
    const busy = await eventually("one queued request", () => scrape(), (m) => m.value("claude_api_queue_depth") === 1);
    expect(busy.value("claude_api_cli_processes")).toBe(1);
    const health = (await (await fetch(`${gateway.url}/health`)).json()) as { processes: Record<string, number> };
    expect(health.processes).toEqual({ live: 1, max: 1, queued: 1, max_queue: 5 });

    first.abort();
    await running;
    expect((await queued).status).toBe(200);
    const done = await eventually("everything finished", () => scrape(), (m) => m.value("claude_api_cli_processes") === 0);
    expect(done.value("claude_api_queue_depth")).toBe(0);
    expect(done.value("claude_api_runs_total", { status: "cancelled" })).toBeGreaterThanOrEqual(1);
  }, 60_000);

  test("--no-metrics: /metrics is 404 in the error shape, and requests are still logged", async () => {
    const gw = await startGateway({ args: ["--claude-bin", CLAUDE_BIN, "--no-metrics"], env: env() });
    try {
      const response = await fetch(`${gw.url}/metrics`, { headers: { "x-request-id": "scrape-1" } });
      expect(response.status).toBe(404);
      expect(response.headers.get("x-request-id")).toBe("scrape-1");
      expect(((await response.json()) as { error: { type: string } }).error.type).toBe("not_found_error");
      expect((await fetch(`${gw.url}/health`)).status).toBe(200);
      const lines = await requestLog("scrape-1", gw);
      expect(lines).toHaveLength(1);
      expect(lines[0]!.status).toBe(404);
    } finally {
      await gw.stop();
    }
    // The environment switch does the same.
    const viaEnv = await startGateway({ args: ["--claude-bin", CLAUDE_BIN], env: { ...env(), CLAUDE_API_METRICS: "off" } });
    try {
      expect((await fetch(`${viaEnv.url}/metrics`)).status).toBe(404);
    } finally {
      await viaEnv.stop();
    }
  });
});

describe("GET /health", () => {
  test("store, claude (found, version, credentials) and processes; no key needed", async () => {
    const response = await fetch(`${gateway.url}/health`);
    expect(response.status).toBe(200);
    expect(response.headers.get("cache-control")).toBe("no-store");
    const health = (await response.json()) as Record<string, any>;
    expect(health.status).toBe("ok");
    expect(health.version).toMatch(/^\d+\.\d+\.\d+/);
    expect(typeof health.uptime_s).toBe("number");
    expect(health.store).toEqual({ ok: true });
    expect(health.claude).toMatchObject({ found: true, version: "2.1.331", credentials: true });
    expect(health.claude.path).toContain("claude");
    expect(health.processes).toEqual({ live: 0, max: 1, queued: 0, max_queue: 5 });
  });

  test("degraded when the claude CLI is missing; credentials reported false without them", async () => {
    const missing = await startGateway({ args: ["--claude-bin", "/nonexistent/claude", "--max-processes", "3", "--max-queue", "7"], env: { HOME: tempDir() } });
    try {
      const health = (await (await fetch(`${missing.url}/health`)).json()) as Record<string, any>;
      expect(health.status).toBe("degraded");
      expect(health.store).toEqual({ ok: true });
      expect(health.claude).toMatchObject({ found: false, version: null, credentials: false });
      expect(health.claude.error).toContain("/nonexistent/claude");
      expect(health.processes).toEqual({ live: 0, max: 3, queued: 0, max_queue: 7 });
    } finally {
      await missing.stop();
    }
    const noCredentials = await startGateway({ args: ["--claude-bin", CLAUDE_BIN], env: { HOME: tempDir() } });
    try {
      const health = (await (await fetch(`${noCredentials.url}/health`)).json()) as Record<string, any>;
      expect(health.claude).toMatchObject({ found: true, version: "2.1.331", credentials: false });
    } finally {
      await noCredentials.stop();
    }
  });
});

describe("structured request logs and X-Request-Id", () => {
  test("one JSON line per request: request id, key id, route, status, duration_ms", async () => {
    const cases: { name: string; make: () => Promise<Response>; status: number; route: string; keyed: boolean }[] = [
      { name: "models", make: () => fetch(`${gateway.url}/v1/models`, { headers: bearer(key.key) }), status: 200, route: "/v1/models", keyed: true },
      { name: "no key", make: () => fetch(`${gateway.url}/v1/models`), status: 401, route: "(gate)", keyed: false },
      { name: "health", make: () => fetch(`${gateway.url}/health`), status: 200, route: "/health", keyed: false },
      { name: "bad json", make: () => fetch(`${gateway.url}/v1/chat/completions`, { method: "POST", headers: { ...bearer(key.key), "content-type": "application/json" }, body: "{" }), status: 400, route: "/v1/chat/completions", keyed: true },
      { name: "other project", make: () => fetch(`${gateway.url}/v1/usage?project_id=elsewhere`, { headers: bearer(key.key) }), status: 403, route: "/v1/usage", keyed: true },
      { name: "unknown path", make: () => fetch(`${gateway.url}/nowhere`), status: 404, route: "unmatched", keyed: false },
    ];
    for (const c of cases) {
      const started = performance.now();
      const response = await c.make();
      await response.arrayBuffer();
      const elapsed = performance.now() - started;
      expect(response.status).toBe(c.status);
      const id = response.headers.get("x-request-id")!;
      expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
      const lines = await requestLog(id);
      expect(lines).toHaveLength(1);
      const line = lines[0]!;
      expect(line).toMatchObject({ level: "info", event: "request", request_id: id, route: c.route, status: c.status });
      if (c.keyed) expect(line.key_id).toBe(key.id);
      else expect(line.key_id).toBeUndefined();
      expect(typeof line.duration_ms).toBe("number");
      expect(line.duration_ms!).toBeGreaterThanOrEqual(0);
      expect(line.duration_ms!).toBeLessThanOrEqual(elapsed + 50);
      expect(Number.isNaN(Date.parse(line.time))).toBe(false);
    }
    // Every line on stderr is one JSON object, and no key is ever written.
    for (const line of gateway.logs().trimEnd().split("\n")) expect(() => JSON.parse(line)).not.toThrow();
    expect(gateway.logs()).not.toContain(key.key.slice(11));
  });

  test("a chat's log line carries its duration, and the usage row and log share the caller's request id", async () => {
    answer("logged chat", turn.text("ok", { initialDelayMs: 800 }));
    const response = await chat("logged chat", {}, { headers: { "x-request-id": "trace-chat-0001" } });
    expect(response.status).toBe(200);
    expect(response.headers.get("x-request-id")).toBe("trace-chat-0001");
    const lines = await requestLog("trace-chat-0001");
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ key_id: key.id, route: "/v1/chat/completions", status: 200, method: "POST" });
    expect(lines[0]!.duration_ms!).toBeGreaterThanOrEqual(800);
    const run = logLines().find((l) => l.event === "run_finished" && l.request_id === "trace-chat-0001");
    expect(run).toMatchObject({ key_id: key.id, status: "success" });
    const row = await eventually(
      "the usage row",
      () => new Database(gateway.db, { readonly: true }).query<{ request_id: string }, [string]>("SELECT request_id FROM usage WHERE request_id = ?").get("trace-chat-0001"),
      (r) => r !== null,
    );
    expect(row!.request_id).toBe("trace-chat-0001");
  });

  test("a request whose client goes away is logged too", async () => {
    answer("abandoned chat", turn.hang({ mode: "no_response" }));
    const controller = new AbortController();
    const pending = chat("abandoned chat", {}, { headers: { "x-request-id": "trace-abandoned" }, signal: controller.signal }).catch((e: unknown) => e);
    await eventually("the run to start", () => fake.modelRequests.some((r) => r.prompt() === "abandoned chat"), Boolean);
    controller.abort();
    await pending;
    await eventually("the run to end", () => logLines().some((l) => l.event === "run_finished" && l.request_id === "trace-abandoned"), Boolean);
    const lines = await requestLog("trace-abandoned");
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ key_id: key.id, route: "/v1/chat/completions" });
  });

  test("X-Request-Id on every response; a well-formed one is echoed, a malformed one replaced", async () => {
    const requests: [string, RequestInit][] = [
      ["/v1/models", { headers: bearer(key.key) }],
      ["/v1/models", {}],
      ["/v1/models", { headers: bearer(`cc_${"Q".repeat(43)}`) }],
      ["/v1/nothing", { headers: bearer(key.key) }],
      ["/nothing", {}],
      ["/health", {}],
      ["/metrics", {}],
      ["/docs/json", {}],
      ["/v1/usage?period=year", { headers: bearer(key.key) }],
      ["/v1/chat/completions", { method: "POST", headers: { ...bearer(key.key), "content-type": "application/json" }, body: "{" }],
      ["/v1/chat/completions", { method: "POST", headers: { ...bearer(key.key), "content-type": "application/json" }, body: JSON.stringify({ messages: "x" }) }],
      ["/v1/chat/completions", { method: "POST", headers: { ...bearer(key.key), "content-type": "application/json", "content-length": "999999999" }, body: "{}" }],
    ];
    const ids = ["abc", "A1.b2_c3:d4-e5", "x".repeat(128), "0f8fad5b-d9cb-469f-a165-70867728950e"];
    for (const [path, init] of requests) {
      const fresh = await fetch(`${gateway.url}${path}`, init);
      await fresh.arrayBuffer();
      expect(fresh.headers.get("x-request-id")).toMatch(/^[0-9a-f-]{36}$/);
      for (const id of ids) {
        const echoed = await fetch(`${gateway.url}${path}`, { ...init, headers: { ...(init.headers as Record<string, string>), "x-request-id": id } }).catch((e: unknown) => e);
        if (!(echoed instanceof Response)) continue; // the lying content-length case may be cut short by the client
        await echoed.arrayBuffer();
        expect([path, echoed.headers.get("x-request-id")]).toEqual([path, id]);
      }
      for (const bad of ["has space", "x".repeat(129), "semi;colon", "quote\"d", "émoji"]) {
        const replaced = await fetch(`${gateway.url}${path}`, { ...init, headers: { ...(init.headers as Record<string, string>), "x-request-id": bad } }).catch((e: unknown) => e);
        if (!(replaced instanceof Response)) continue;
        await replaced.arrayBuffer();
        const got = replaced.headers.get("x-request-id");
        expect([path, bad, got !== bad && /^[0-9a-f-]{36}$/.test(got ?? "")]).toEqual([path, bad, true]);
      }
    }

    // Rate-limited (429) and budget-refused responses carry it too.
    const tight = await createKey(gateway.db, "observed-tight", "free", ["--rate-limit", "1"]);
    await fetch(`${gateway.url}/v1/models`, { headers: bearer(tight.key) });
    const limited = await fetch(`${gateway.url}/v1/models`, { headers: { ...bearer(tight.key), "x-request-id": "limited-1" } });
    expect(limited.status).toBe(429);
    expect(limited.headers.get("x-request-id")).toBe("limited-1");
    const lines = await requestLog("limited-1");
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ status: 429, key_id: tight.id });
  });

  test("a streamed chat has it, and its chunks share one id", async () => {
    answer("streamed chat", turn.text("one two three", { chunks: 3 }));
    const response = await chat("streamed chat", { stream: true }, { headers: { "x-request-id": "stream-trace" } });
    expect(response.status).toBe(200);
    expect(response.headers.get("x-request-id")).toBe("stream-trace");
    expect(response.headers.get("content-type")).toStartWith("text/event-stream");
    const text = await response.text();
    expect(text).toEndWith("data: [DONE]\n\n");
    const chunks = text
      .split("\n\n")
      .filter((event) => event.startsWith("data: {"))
      .map((event) => JSON.parse(event.slice(6)) as { id: string; object: string });
    expect(chunks.length).toBeGreaterThanOrEqual(3);
    expect(new Set(chunks.map((c) => c.id)).size).toBe(1);
    expect(chunks.every((c) => c.object === "chat.completion.chunk")).toBe(true);
    const lines = await requestLog("stream-trace");
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ status: 200, route: "/v1/chat/completions" });
  });
});
