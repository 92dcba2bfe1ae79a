// Wires the parts of a running gateway together: store → auth → limits → runs → HTTP app; takes them down cleanly.
import { dirname, join, resolve } from "node:path";
import { homedir } from "node:os";
import type { Config } from "./config.ts";
import { AuthManager } from "./auth/manager.ts";
import { LastUsedTracker } from "./auth/last-used.ts";
import { probeClaude, type ClaudeProbe } from "./claude/probe.ts";
import { cancelAllRuns } from "./claude/runner.ts";
import { createApp } from "./http/app.ts";
import type { ApiError } from "./http/errors.ts";
import { keyIdOf, requestContext, requestIdOf } from "./http/gate.ts";
import type { HealthReport } from "./http/routes/health.ts";
import { BudgetGate } from "./limits/budget.ts";
import { RateLimiter } from "./limits/rate-limiter.ts";
import { KeySlots, ProcessSlots } from "./limits/slots.ts";
import type { Logger } from "./log.ts";
import { Metrics } from "./observe/metrics.ts";
import { RunService } from "./runs/service.ts";
import { AuditLog } from "./store/audit.ts";
import { BudgetStore } from "./store/budgets.ts";
import { openStore } from "./store/db.ts";
import { UsageStore } from "./store/usage.ts";
import { VERSION } from "./version.ts";
import { TaskService } from "./tasks/service.ts";
import { TaskStore } from "./store/tasks.ts";

export interface RunningServer {
  url: string;
  port: number;
  stop(): Promise<void>;
}

export class ListenError extends Error {}

const PROBE_INTERVAL_MS = 30_000;
const PRUNE_INTERVAL_MS = 15 * 60_000;

/**
 * What Bash must not see: the gateway's data dir (or just the database files when it lives in a shared dir such
 * as /tmp), every run's directory (each run gets its own back), Claude Code's config dir and the runs' HOME.
 */
function sandboxedPaths(config: Config): string[] {
  const dataDir = dirname(config.dbPath);
  const shared = new Set(["/", "/tmp", "/var/tmp", "/home", "/root", homedir()]);
  const data = shared.has(dataDir) ? [config.dbPath, `${config.dbPath}-wal`, `${config.dbPath}-shm`] : [dataDir];
  return [...data, config.workRoot, config.claudeConfigDir].map((path) => resolve(path));
}

export async function startServer(config: Config, log: Logger): Promise<RunningServer> {
  const store = openStore(config.dbPath);
  const writeFailed = (what: string) => (error: unknown) => log.error(`${what}_write_failed`, { error: String(error) });
  const audit = new AuditLog(store.db, 200, writeFailed("audit"));
  const auth = new AuthManager({ store, audit });
  const usage = new UsageStore(store.db, 200, writeFailed("usage"));
  const lastUsed = new LastUsedTracker(auth.keys);
  const metrics = new Metrics();
  const processSlots = new ProcessSlots(config.maxProcesses, config.maxQueue);
  const startedAt = Date.now();
  const limiter = new RateLimiter();

  // The CLI is probed at startup and again (at most every 30 s) while it is missing, so installing Claude Code
  // on a running server needs no restart.
  let probe: ClaudeProbe = await probeClaude(config.claudeBin, { configDir: config.claudeConfigDir });
  let probedAt = Date.now();
  const reprobe = async () => {
    if (Date.now() - probedAt < PROBE_INTERVAL_MS) return;
    probedAt = Date.now();
    probe = await probeClaude(config.claudeBin, { configDir: config.claudeConfigDir });
  };
  const sandboxTools = { bwrap: Bun.which("bwrap") !== null, socat: Bun.which("socat") !== null };
  if (config.commandSandbox && !(sandboxTools.bwrap && sandboxTools.socat)) {
    log.warn("command_sandbox_unavailable", {
      missing: Object.entries(sandboxTools).filter(([, found]) => !found).map(([name]) => name),
      fix: "install bubblewrap and socat (apt install bubblewrap socat): until then requests that give the model Bash fail with 503; other requests are unaffected",
    });
  } else if (!config.commandSandbox) {
    log.warn("command_sandbox_off", { note: "CLAUDE_API_BASH_SANDBOX=off: Bash commands run unconfined, as the server's user, and can read its database" });
  }
  if (!probe.ok) {
    log.warn("claude_unavailable", {
      bin: config.claudeBin,
      error: probe.error,
      fix: "install Claude Code (npm install -g @anthropic-ai/claude-code) or pass --claude-bin PATH; chat and task requests answer 503 until then",
    });
  } else if (!probe.credentials.configured) {
    log.warn("claude_without_credentials", {
      bin: probe.path,
      fix: "set ANTHROPIC_API_KEY (or Bedrock/Vertex settings) in the server's environment; requests fail upstream until then",
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
    commandSandbox: config.commandSandbox ? { denyRead: sandboxedPaths(config) } : undefined,
    processSlots,
    keySlots: new KeySlots(),
    usage,
    log,
    metrics,
    budgets: new BudgetGate(new BudgetStore(store.db), usage, config.timezone),
    audit,
    claudeFound: () => {
      if (!probe.ok) void reprobe();
      return probe.ok;
    },
  });
  const denyPaths = [config.dbPath, `${config.dbPath}-wal`, `${config.dbPath}-shm`];
  const tasks = new TaskService({
    runs,
    tasks: new TaskStore(store.db),
    audit,
    log,
    claudeConfigDir: config.claudeConfigDir,
    denyPaths,
    retentionMs: config.taskRetentionHours * 3_600_000,
  });
  const interrupted = tasks.recover();
  if (interrupted > 0) log.warn("tasks_interrupted", { count: interrupted, note: "marked failed: the server stopped while they ran" });
  metrics.gauge("claude_api_cli_processes", "Live claude processes.", () => processSlots.live);
  metrics.gauge("claude_api_cli_process_limit", "Most claude processes at once.", () => processSlots.max);
  metrics.gauge("claude_api_queue_depth", "Requests waiting for a claude process.", () => processSlots.queued);

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
      bash_sandbox: { enabled: config.commandSandbox, bwrap: sandboxTools.bwrap, socat: sandboxTools.socat },
      processes: { live: processSlots.live, max: processSlots.max, queued: processSlots.queued, max_queue: processSlots.maxQueue },
    };
  };

  const auditRefusal = (error: ApiError, request: Request) => {
    const type =
      error.status === 403
        ? "permission_denied"
        : error.type === "insufficient_quota"
          ? "budget_refused"
          : error.options.code === "concurrency_limit"
            ? "concurrency_limited"
            : undefined;
    if (!type) return;
    let principal;
    try {
      principal = requestContext(request).principal;
    } catch {
      return;
    }
    audit.record({
      type,
      keyId: principal.keyId,
      projectId: principal.projectId,
      requestId: requestIdOf(request),
      detail: { path: new URL(request.url).pathname, message: error.message, ...(error.options.param ? { param: error.options.param } : {}) },
    });
  };

  const app = createApp({
    auth,
    limiter,
    lastUsed,
    maxBodyBytes: config.maxBodyBytes,
    version: VERSION,
    health,
    runs,
    usage,
    timezone: config.timezone,
    denyPaths,
    tasks,
    claudeConfigDir: config.claudeConfigDir,
    metrics: config.metrics ? metrics : undefined,
    log,
    keyIdOf,
    requestIdOf,
    logUnexpected: (error, request) =>
      log.error("unexpected_error", {
        request_id: requestIdOf(request),
        method: request.method,
        error: error instanceof Error ? (error.stack ?? error.message) : String(error),
      }),
    onRefusal: (event) =>
      audit.record({
        type: event.reason === "rate_limited" ? "rate_limited" : "auth_failed",
        keyId: event.keyId,
        projectId: event.projectId,
        address: event.address,
        requestId: event.requestId,
        detail: { reason: event.reason, path: event.path, ...(event.keyStatus ? { key_status: event.keyStatus } : {}) },
      }),
    onErrorResponse: auditRefusal,
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
  const prune = () => {
    const removed = audit.prune(Date.now() - config.auditRetentionDays * 86_400_000);
    if (removed > 0) log.info("audit_pruned", { removed, retention_days: config.auditRetentionDays });
    const swept = tasks.sweepWorkspaces();
    if (swept > 0) log.info("task_workspaces_removed", { count: swept, retention_hours: config.taskRetentionHours });
  };
  prune();
  const pruneTimer = setInterval(prune, PRUNE_INTERVAL_MS);
  pruneTimer.unref?.();

  const server = app.server!;
  const url = `http://${config.host.includes(":") ? `[${config.host}]` : config.host}:${server.port}`;
  return {
    url,
    port: server.port ?? config.port,
    async stop() {
      clearInterval(pruneTimer);
      // Runs are detached process groups: they would outlive the server. Stop them and let them be metered.
      tasks.beginShutdown();
      await cancelAllRuns("server shutting down");
      // true: close open connections (WebSockets) too, or stopping waits for every client to leave.
      await app.stop(true);
      lastUsed.stop();
      usage.flush();
      audit.flush();
      store.close();
    },
  };
}
