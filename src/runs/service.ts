// One metered run for one principal: concurrency gates → the CLI runner → one usage row, whatever the end.
// Shared by every endpoint that runs Claude Code (chat, tasks, batch, WebSocket).
import type { Principal } from "../auth/manager.ts";
import type { RunOutcome } from "../claude/outcome.ts";
import { startRun, type RunHandle, type RunSpec, type RunnerDeps } from "../claude/runner.ts";
import { ApiError } from "../http/errors.ts";
import { KeySlots, ProcessSlots, QueueAbortedError, QueueFullError, type Release } from "../limits/slots.ts";
import type { Logger } from "../log.ts";
import type { UsageStore } from "../store/usage.ts";
import { claudeMissing, runError, type RunLimits } from "./errors.ts";
import { BudgetExceededError, type BudgetGate, type BudgetWarning, type Reservation } from "../limits/budget.ts";
import type { AuditLog } from "../store/audit.ts";
import type { Metrics } from "../observe/metrics.ts";

export interface RunServiceDeps {
  runner: RunnerDeps;
  processSlots: ProcessSlots;
  keySlots: KeySlots;
  usage: UsageStore;
  log: Logger;
  /** Whether the claude binary was found (checked at startup and on demand). */
  claudeFound: () => boolean;
  budgets: BudgetGate;
  audit: AuditLog;
  metrics: Metrics;
  /** Directories hidden from the commands of Bash-like tools (see ClaudeArgsSpec.commandSandbox); undefined: off. */
  commandSandbox?: { denyRead: string[] };
}

export interface RunRequest {
  principal: Principal;
  requestId: string;
  endpoint: string;
  spec: RunSpec;
  maxCostUsd: number;
  /** Client disconnect: stops the run, or takes the request out of the queue. */
  signal: AbortSignal;
}

export interface AdmittedRun {
  handle: RunHandle;
  limits: RunLimits;
  /** Resolves after the process has exited, the slots are released and the usage row is queued. */
  done: Promise<RunOutcome>;
  /** Budgets this run brought near their cap (soft threshold): for a warning header. */
  budgetWarnings: BudgetWarning[];
}

export class RunService {
  constructor(private readonly deps: RunServiceDeps) {}

  get live(): number {
    return this.deps.processSlots.live;
  }

  get queued(): number {
    return this.deps.processSlots.queued;
  }

  /** Starts a run, or throws the ApiError that refuses it (per-key concurrency 429, full queue 503, no CLI 503). */
  async start(request: RunRequest): Promise<AdmittedRun> {
    const { principal } = request;
    const limits: RunLimits = {
      maxCostUsd: request.maxCostUsd,
      timeoutMs: request.spec.timeoutMs ?? principal.permissions.timeout * 1000,
      claudeBin: this.deps.runner.claudeBin,
    };
    if (!this.deps.claudeFound()) throw claudeMissing(this.deps.runner.claudeBin);

    const reservation = this.reserveBudget(request);
    const keyRelease = this.deps.keySlots.tryAcquire(principal.keyId, principal.permissions.max_concurrent);
    if (!keyRelease) {
      reservation.settle(0);
      throw new ApiError(
        429,
        "rate_limit_error",
        `Too many concurrent requests for this API key: at most ${principal.permissions.max_concurrent} at once`,
        { code: "concurrency_limit", headers: { "retry-after": "1" } },
      );
    }
    let processRelease: Release;
    try {
      processRelease = await this.deps.processSlots.acquire(request.signal);
    } catch (error) {
      keyRelease();
      reservation.settle(0);
      if (error instanceof QueueFullError) {
        throw new ApiError(503, "overloaded_error", `The gateway is at capacity: ${error.message}; retry shortly`, {
          code: "queue_full",
          headers: { "retry-after": "5" },
        });
      }
      if (error instanceof QueueAbortedError) throw new ApiError(499, "api_error", "The request was cancelled while queued");
      throw error;
    }

    const started = Date.now();
    let handle: RunHandle;
    try {
      handle = startRun({ ...request.spec, commandSandbox: this.deps.commandSandbox, signal: request.signal }, this.deps.runner);
    } catch (error) {
      processRelease();
      keyRelease();
      reservation.settle(0);
      throw error;
    }
    this.deps.log.debug("run_started", { request_id: request.requestId, key_id: principal.keyId, pid: handle.pid });
    const done = handle.outcome.then((outcome) => {
      processRelease();
      keyRelease();
      reservation.settle(outcome.costUsd);
      this.meter(request, outcome, limits, started);
      return outcome;
    });
    return { handle, limits, done, budgetWarnings: reservation.warnings };
  }

  private reserveBudget(request: RunRequest): Reservation {
    const { principal } = request;
    let reservation: Reservation;
    try {
      reservation = this.deps.budgets.reserve(principal, request.maxCostUsd);
    } catch (error) {
      if (!(error instanceof BudgetExceededError)) throw error;
      const retryAfter = Math.max(1, Math.ceil((error.resetAt - Date.now()) / 1000));
      throw new ApiError(429, "insufficient_quota", error.message, {
        code: "budget_exceeded",
        headers: { "x-should-retry": "false", "retry-after": String(retryAfter) },
      });
    }
    for (const warning of reservation.warnings) {
      if (!warning.first) continue;
      this.deps.audit.record({
        type: "budget_warning",
        keyId: principal.keyId,
        projectId: principal.projectId,
        requestId: request.requestId,
        detail: { scope: warning.scope, subject: warning.subject, ratio: Number(warning.ratio.toFixed(4)), message: warning.message },
      });
    }
    return reservation;
  }

  private meter(request: RunRequest, outcome: RunOutcome, limits: RunLimits, started: number): void {
    const error = runError(outcome, limits);
    this.deps.usage.record({
      request_id: request.requestId,
      key_id: request.principal.keyId,
      project_id: request.principal.projectId,
      endpoint: request.endpoint,
      model: outcome.model ?? request.spec.model ?? null,
      input_tokens: outcome.usage.input_tokens,
      output_tokens: outcome.usage.output_tokens,
      cache_creation_tokens: outcome.usage.cache_creation_input_tokens,
      cache_read_tokens: outcome.usage.cache_read_input_tokens,
      cost_usd: outcome.costUsd,
      duration_ms: outcome.durationMs,
      status: outcome.status,
      http_status: error?.status ?? 200,
      error: error?.message ?? null,
      created_at: started,
    });
    this.deps.metrics.observeRun(
      outcome.model ?? request.spec.model ?? "unknown",
      outcome.status,
      {
        input: outcome.usage.input_tokens,
        output: outcome.usage.output_tokens,
        cache_creation: outcome.usage.cache_creation_input_tokens,
        cache_read: outcome.usage.cache_read_input_tokens,
      },
      outcome.costUsd,
    );
    this.deps.log.info("run_finished", {
      request_id: request.requestId,
      key_id: request.principal.keyId,
      endpoint: request.endpoint,
      status: outcome.status,
      cost_usd: outcome.costUsd,
      duration_ms: outcome.durationMs,
      ...(outcome.error ? { error_kind: outcome.error.kind, upstream: outcome.error.upstream } : {}),
    });
  }
}
