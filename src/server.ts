// Wires the parts of a running gateway together: store → auth → limits → HTTP app; and takes them down cleanly.
import type { Config } from "./config.ts";
import { AuthManager } from "./auth/manager.ts";
import { LastUsedTracker } from "./auth/last-used.ts";
import { RateLimiter } from "./limits/rate-limiter.ts";
import { createApp } from "./http/app.ts";
import type { HealthReport } from "./http/routes/health.ts";
import type { Logger } from "./log.ts";
import { openStore } from "./store/db.ts";
import { UsageStore } from "./store/usage.ts";
import { KeySlots, ProcessSlots } from "./limits/slots.ts";
import { RunService } from "./runs/service.ts";
import { probeClaude, type ClaudeProbe } from "./claude/probe.ts";
import { join } from "node:path";
import { VERSION } from "./version.ts";

export interface RunningServer {
  url: string;
  port: number;
  stop(): Promise<void>;
}

export class ListenError extends Error {}

export async function startServer(config: Config, log: Logger): Promise<RunningServer> {
  const store = openStore(config.dbPath);
  const auth = new AuthManager({ store });
  const limiter = new RateLimiter();
  const lastUsed = new LastUsedTracker(auth.keys);
  const startedAt = Date.now();
  const usage = new UsageStore(store.db, 200, (error) => log.error("usage_write_failed", { error: String(error) }));
  const processSlots = new ProcessSlots(config.maxProcesses, config.maxQueue);

  // The CLI is probed at startup and again (at most every 30 s) when a request finds it missing or /health asks,
  // so installing Claude Code on a running server needs no restart.
  let probe: ClaudeProbe = await probeClaude(config.claudeBin, { configDir: config.claudeConfigDir });
  let probedAt = Date.now();
  const reprobe = async () => {
    if (Date.now() - probedAt < 30_000) return probe;
    probedAt = Date.now();
    probe = await probeClaude(config.claudeBin, { configDir: config.claudeConfigDir });
    return probe;
  };
  if (!probe.ok) {
    log.warn("claude_unavailable", {
      bin: config.claudeBin,
      error: probe.error,
      fix: "install Claude Code (npm install -g @anthropic-ai/claude-code) or pass --claude-bin PATH; chat and task requests answer 503 until then",
    });
  } else if (!probe.credentials.configured) {
    log.warn("claude_without_credentials", {
      bin: probe.path,
      fix: "set ANTHROPIC_API_KEY (or Bedrock/Vertex settings) in the server's environment; requests will fail upstream until then",
    });
  }

  const runs = new RunService({
    runner: {
      claudeBin: config.claudeBin,
      workRoot: config.workRoot,
      env: process.env,
      // A private HOME: runs must not share (or read) the server user's ~/.claude.json.
      home: join(config.workRoot, ".home"),
      configDir: config.claudeConfigDir,
    },
    processSlots,
    keySlots: new KeySlots(),
    usage,
    log,
    claudeFound: () => {
      if (!probe.ok) void reprobe();
      return probe.ok;
    },
  });

  const health = async (): Promise<HealthReport> => {
    if (!probe.ok) await reprobe();
    let storeOk = true;
    try {
      store.db.query("SELECT 1").get();
    } catch {
      storeOk = false;
    }
    return {
      status: storeOk && probe.ok ? "ok" : "degraded",
      version: VERSION,
      uptime_s: Math.round((Date.now() - startedAt) / 1000),
      store: { ok: storeOk },
      claude: {
        found: probe.ok,
        path: probe.path ?? null,
        version: probe.version ?? null,
        credentials: probe.credentials.configured,
        ...(probe.error ? { error: probe.error } : {}),
      },
      processes: { live: runs.live, max: config.maxProcesses, queued: runs.queued, max_queue: config.maxQueue },
    };
  };

  const app = createApp({
    auth,
    limiter,
    lastUsed,
    maxBodyBytes: config.maxBodyBytes,
    version: VERSION,
    health,
    logUnexpected: (error, request) =>
      log.error("unexpected_error", {
        request_id: request.headers.get("x-request-id") ?? undefined,
        method: request.method,
        error: error instanceof Error ? error.stack ?? error.message : String(error),
      }),
    onRefusal: (event) => log.info("auth_refused", event),
    runs,
    usage,
    timezone: config.timezone,
    denyPaths: [config.dbPath, `${config.dbPath}-wal`, `${config.dbPath}-shm`],
  });

  try {
    app.listen({ hostname: config.host, port: config.port });
  } catch (err) {
    store.close();
    const message = err instanceof Error ? err.message : String(err);
    const inUse = /in use|EADDRINUSE/i.test(message);
    throw new ListenError(
      inUse
        ? `port ${config.port} on ${config.host} is already in use (choose another with --port or CLAUDE_API_PORT)`
        : `cannot listen on ${config.host}:${config.port}: ${message}`,
    );
  }
  lastUsed.start();
  const server = app.server!;
  const url = `http://${config.host.includes(":") ? `[${config.host}]` : config.host}:${server.port}`;

  return {
    url,
    port: server.port ?? config.port,
    async stop() {
      await app.stop();
      lastUsed.stop();
      usage.flush();
      store.close();
    },
  };
}
