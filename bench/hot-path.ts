#!/usr/bin/env bun
// The authenticated hot path: GET /v1/models with a valid key on the compiled gateway (dist/claude-api serve),
// against a bare Bun.serve returning the very same bytes. Both run side by side in one session and are measured
// alternately (ABBA order, several rounds) so that drift on a small machine hits both alike.
//
//   bun bench/hot-path.ts [--rounds 3] [--duration 5] [--connections 32] [--threads 2] [--variants] [--bin PATH]
//
// --variants adds two runs per round that split the gateway's cost: its unauthenticated GET /health (no key lookup,
// no rate limiter), and GET /v1/models on a second gateway started with --log-level warn (no per-request log line).
// --bin benchmarks another build of the gateway (default dist/claude-api), e.g. to compare a change.
// Needs `wrk` (apt-get install -y wrk). Everything listens on 127.0.0.1 and is bounded in time.
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { cpus, loadavg, tmpdir } from "node:os";
import { join, resolve } from "node:path";
import type { Subprocess } from "bun";

const ROOT = resolve(import.meta.dir, "..");
const HOST = "127.0.0.1";

// ---------------------------------------------------------------------------------------------------------------
// Mode 2: the bare server, run by mode 1 as a child process (so it gets its own thread, like the gateway).

if (process.argv[2] === "--bare-server") {
  const [bodyFile, contentType] = [process.argv[3]!, process.argv[4]!];
  const body = await Bun.file(bodyFile).bytes();
  const server = Bun.serve({
    hostname: HOST,
    port: 0,
    fetch: () => new Response(body, { headers: { "content-type": contentType } }),
  });
  console.log(`listening ${server.port}`);
  await new Promise(() => {});
}

// ---------------------------------------------------------------------------------------------------------------
// Mode 1: the benchmark.

interface Options {
  bin: string;
  rounds: number;
  duration: number;
  connections: number;
  threads: number;
  variants: boolean;
}

function parseOptions(argv: string[]): Options {
  const options: Options = { bin: join(ROOT, "dist/claude-api"), rounds: 3, duration: 5, connections: 32, threads: 2, variants: false };
  const bounds: Record<string, [number, number]> = { rounds: [1, 10], duration: [1, 30], connections: [1, 512], threads: [1, 8] };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i]!;
    if (flag === "--variants") {
      options.variants = true;
      continue;
    }
    if (flag === "--bin" && argv[i + 1]) {
      options.bin = resolve(argv[++i]!);
      continue;
    }
    const name = flag.replace(/^--/, "");
    const bound = bounds[name];
    const value = Number(argv[++i]);
    if (!bound || !Number.isInteger(value) || value < bound[0] || value > bound[1]) {
      console.error(`usage: bun bench/hot-path.ts [--rounds 1-10] [--duration 1-30 (s)] [--connections 1-512] [--threads 1-8] [--variants] [--bin PATH]`);
      process.exit(2);
    }
    (options as unknown as Record<string, number>)[name] = value;
  }
  return options;
}

const options = parseOptions(process.argv.slice(2));
const BIN = options.bin;

const wrk = Bun.which("wrk");
if (!wrk) {
  console.error("wrk is not installed. Install it and run again:\n  Debian/Ubuntu: sudo apt-get install -y wrk\n  macOS:         brew install wrk");
  process.exit(1);
}
if (!existsSync(BIN)) {
  console.error(`${BIN} is missing: build it first with 'bun run build'`);
  process.exit(1);
}

const work = mkdtempSync(join(tmpdir(), "claude-api-bench-"));
const env = { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: work, LANG: "C.UTF-8" };
const db = join(work, "claude-api.db");
const children: Subprocess[] = [];

async function cleanup(): Promise<void> {
  for (const child of children) child.kill("SIGTERM");
  await Promise.race([Promise.all(children.map((child) => child.exited)), Bun.sleep(3_000)]);
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  rmSync(work, { recursive: true, force: true });
}

// Everything is bounded: warm-up, every run, key creation, start-up; past this the bench gives up.
const perRun = options.duration + 5;
const runs = (options.variants ? 4 : 2) * (options.rounds + 1);
const budgetMs = (30 + runs * (perRun + 3)) * 1000;
const deadline = setTimeout(async () => {
  console.error(`bench: gave up after ${Math.round(budgetMs / 1000)} s`);
  await cleanup();
  process.exit(3);
}, budgetMs);
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.on(signal, async () => {
    await cleanup();
    process.exit(130);
  });
}

/** Reads a child's stream until `pattern` matches (within `ms`); keeps draining it afterwards. */
function waitFor(stream: ReadableStream<Uint8Array>, pattern: RegExp, ms: number, what: string): Promise<RegExpExecArray> {
  return new Promise((resolveMatch, reject) => {
    let seen = "";
    let done = false;
    const timer = setTimeout(() => reject(new Error(`${what}: nothing matching ${pattern} within ${ms} ms:\n${seen}`)), ms);
    void (async () => {
      const decoder = new TextDecoder();
      for await (const chunk of stream) {
        if (done) continue; // keep draining so the child never blocks on a full pipe
        seen += decoder.decode(chunk);
        const match = pattern.exec(seen);
        if (match) {
          done = true;
          clearTimeout(timer);
          resolveMatch(match);
        } else if (seen.length > 65_536) seen = seen.slice(-32_768);
      }
      clearTimeout(timer);
      if (!done) reject(new Error(`${what} exited before it was ready:\n${seen}`));
    })();
  });
}

function freePort(): number {
  const probe = Bun.listen({ hostname: HOST, port: 0, socket: { data() {} } });
  const port = probe.port;
  probe.stop(true);
  return port;
}

/** `claude-api serve` on a loopback port of ours; ready once GET /health answers (works at any log level). */
async function startGatewayProcess(extraArgs: string[]): Promise<string> {
  const port = freePort();
  const proc = Bun.spawn([BIN, "serve", "--host", HOST, "--port", String(port), "--db", db, ...extraArgs], {
    env,
    stdin: "ignore",
    stdout: "ignore",
    stderr: "pipe",
  });
  children.push(proc);
  let log = "";
  void (async () => {
    const decoder = new TextDecoder();
    for await (const chunk of proc.stderr) if (log.length < 16_384) log += decoder.decode(chunk); // drain; keep the start
  })();
  const url = `http://${HOST}:${port}`;
  const until = Date.now() + 15_000;
  for (;;) {
    if (proc.exitCode !== null) throw new Error(`gateway exited (${proc.exitCode}) before it was ready:\n${log}`);
    try {
      if ((await fetch(`${url}/health`, { signal: AbortSignal.timeout(1_000) })).ok) return url;
    } catch {}
    if (Date.now() > until) throw new Error(`gateway not ready on ${url} within 15 s:\n${log}`);
    await Bun.sleep(50);
  }
}

async function createKey(): Promise<string> {
  const proc = Bun.spawn(
    [BIN, "keys", "create", "--project-id", "bench", "--profile", "enterprise", "--rate-limit", "1000000", "--json", "--db", db],
    { env, stdin: "ignore", stdout: "pipe", stderr: "pipe", timeout: 15_000 },
  );
  const [stdout, stderr, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  if (code !== 0) throw new Error(`keys create failed (${code}): ${stderr}`);
  return (JSON.parse(stdout) as { key: string }).key;
}

interface Run {
  target: string;
  round: number;
  rps: number;
  p50: number; // ms
  p99: number; // ms
  requests: number;
  errors: number;
}

const WRK_SCRIPT = join(work, "report.lua");
writeFileSync(
  WRK_SCRIPT,
  `done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('WRK_JSON {"requests":%d,"duration_us":%d,"p50_us":%.1f,"p99_us":%.1f,"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d}\\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99), e.connect, e.read, e.write, e.status, e.timeout))
end
`,
);

async function measure(target: string, round: number, url: string, headers: Record<string, string>, seconds: number): Promise<Run> {
  const headerArgs = Object.entries(headers).flatMap(([name, value]) => ["-H", `${name}: ${value}`]);
  const proc = Bun.spawn(
    [wrk!, `-t${options.threads}`, `-c${options.connections}`, `-d${seconds}s`, "--timeout", "2s", "-s", WRK_SCRIPT, ...headerArgs, url],
    { env, stdin: "ignore", stdout: "pipe", stderr: "pipe", timeout: (seconds + 10) * 1000 },
  );
  children.push(proc);
  const [stdout, stderr, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  children.splice(children.indexOf(proc), 1);
  const line = /WRK_JSON (\{.*\})/.exec(stdout);
  if (code !== 0 || !line) throw new Error(`wrk failed (${code}) on ${url}:\n${stdout}\n${stderr}`);
  const r = JSON.parse(line[1]!) as Record<string, number>;
  const errors = r.connect! + r.read! + r.write! + r.status! + r.timeout!;
  return {
    target,
    round,
    rps: r.requests! / (r.duration_us! / 1e6),
    p50: r.p50_us! / 1000,
    p99: r.p99_us! / 1000,
    requests: r.requests!,
    errors,
  };
}

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
};
const fmt = (n: number, digits = 0) => n.toLocaleString("en-US", { minimumFractionDigits: digits, maximumFractionDigits: digits });

try {
  // The gateway, as a user runs it (default log level: one log line per request).
  const startKey = await createKey();
  const gatewayUrl = await startGatewayProcess([]);
  const quietUrl = options.variants ? await startGatewayProcess(["--log-level", "warn"]) : undefined;

  // The bytes to serve: exactly what the gateway answers.
  const sample = await fetch(`${gatewayUrl}/v1/models`, { headers: { authorization: `Bearer ${startKey}` } });
  if (sample.status !== 200) throw new Error(`GET /v1/models gave ${sample.status}: ${await sample.text()}`);
  const body = new Uint8Array(await sample.arrayBuffer());
  const contentType = sample.headers.get("content-type") ?? "application/json";
  writeFileSync(join(work, "body.json"), body);

  const bare = Bun.spawn([process.execPath, import.meta.path, "--bare-server", join(work, "body.json"), contentType], {
    env,
    stdin: "ignore",
    stdout: "pipe",
    stderr: "inherit",
  });
  children.push(bare);
  const barePort = (await waitFor(bare.stdout, /listening (\d+)/, 10_000, "bare server"))[1]!;
  const bareUrl = `http://${HOST}:${barePort}/v1/models`;
  const bareBody = new Uint8Array(await (await fetch(bareUrl)).arrayBuffer());
  if (Buffer.compare(Buffer.from(bareBody), Buffer.from(body)) !== 0) throw new Error("bare server does not serve the gateway's bytes");

  console.log(`# Authenticated hot path: GET /v1/models (${body.byteLength} bytes of JSON)`);
  console.log(`machine: ${cpus().length} cores (${cpus()[0]?.model.trim() ?? "?"}), load average ${loadavg().map((n) => n.toFixed(2)).join(" ")}`);
  console.log(`bun ${Bun.version}; ${(await new Response(Bun.spawn([wrk, "--version"], { stdout: "pipe", stderr: "pipe" }).stdout).text()).split("\n")[0]?.trim()}`);
  console.log(`load: wrk -t${options.threads} -c${options.connections} -d${options.duration}s, ${options.rounds} rounds, ABBA order`);
  console.log(`gateway ${gatewayUrl} (${BIN} serve)   bare ${bareUrl} (Bun.serve)${quietUrl ? `   quiet gateway ${quietUrl}` : ""}\n`);

  type Target = { name: string; url: string; headers: () => Promise<Record<string, string>> };
  // A fresh key for every gateway run: a run must never meet the key's own rate limit (1,000,000 a minute).
  const withKey = async () => ({ authorization: `Bearer ${await createKey()}` });
  const gatewayTarget: Target = { name: "gateway", url: `${gatewayUrl}/v1/models`, headers: withKey };
  const bareTarget: Target = { name: "bare", url: bareUrl, headers: async () => ({}) };
  const variantTargets: Target[] = options.variants
    ? [
        { name: "gateway /health (no key)", url: `${gatewayUrl}/health`, headers: async () => ({}) },
        { name: "gateway --log-level warn", url: `${quietUrl}/v1/models`, headers: withKey },
      ]
    : [];

  // Warm-up: JIT and connection set-up, not recorded.
  for (const target of [gatewayTarget, bareTarget, ...variantTargets]) await measure(target.name, 0, target.url, await target.headers(), 2);

  const results: Run[] = [];
  for (let round = 1; round <= options.rounds; round++) {
    const order = round % 2 === 1 ? [gatewayTarget, bareTarget] : [bareTarget, gatewayTarget];
    order.push(...(round % 2 === 1 ? variantTargets : [...variantTargets].reverse()));
    for (const target of order) {
      const run = await measure(target.name, round, target.url, await target.headers(), options.duration);
      results.push(run);
      const flag = run.errors > 0 ? `  !! ${run.errors} errors/non-2xx: run invalid` : "";
      console.log(
        `round ${round}  ${target.name.padEnd(26)} ${fmt(run.rps).padStart(9)} req/s   p50 ${run.p50.toFixed(2).padStart(6)} ms   p99 ${run.p99.toFixed(2).padStart(6)} ms${flag}`,
      );
    }
  }

  const names = [gatewayTarget.name, bareTarget.name, ...variantTargets.map((target) => target.name)];
  const summary = names.map((name) => {
    const runs = results.filter((run) => run.target === name);
    return {
      name,
      rps: median(runs.map((run) => run.rps)),
      min: Math.min(...runs.map((run) => run.rps)),
      max: Math.max(...runs.map((run) => run.rps)),
      p50: median(runs.map((run) => run.p50)),
      p99: median(runs.map((run) => run.p99)),
      errors: runs.reduce((sum, run) => sum + run.errors, 0),
    };
  });
  const gatewaySummary = summary[0]!;
  const bareSummary = summary[1]!;
  const ratio = gatewaySummary.rps / bareSummary.rps;

  console.log(`\n| server | req/s (median of ${options.rounds}) | range | % of bare | p50 ms | p99 ms | errors |`);
  console.log(`|---|---:|---:|---:|---:|---:|---:|`);
  for (const row of summary) {
    const share = `${((row.rps / bareSummary.rps) * 100).toFixed(1)}%`;
    console.log(
      `| ${row.name} | ${fmt(row.rps)} | ${fmt(row.min)}–${fmt(row.max)} | ${share} | ${row.p50.toFixed(2)} | ${row.p99.toFixed(2)} | ${row.errors} |`,
    );
  }
  console.log(`\ngateway / bare throughput: ${(ratio * 100).toFixed(1)}% (target: at least 60%) -> ${ratio >= 0.6 ? "MET" : "NOT MET"}`);
  if (summary.some((row) => row.errors > 0)) {
    console.log("warning: some runs had errors or non-2xx answers; their figures are not valid");
    process.exitCode = 1;
  }
} catch (error) {
  console.error(`bench failed: ${error instanceof Error ? error.message : String(error)}`);
  process.exitCode = 1;
} finally {
  clearTimeout(deadline);
  await cleanup();
}
