// Per-request observation: one structured log line (request id, key id, route, status, duration) and the
// request metrics. Successful responses are seen after their handler; errors by the error handler; responses
// the gate answers itself (401, 413, 429) by the gate.
import { Elysia } from "elysia";
import type { Logger } from "../log.ts";
import type { Metrics } from "../observe/metrics.ts";

export interface Observer {
  plugin: Elysia;
  /** Called by the gate as the first thing it does (one request hook instead of two). */
  start(request: Request): void;
  finish(request: Request, route: string, status: number, keyId?: string): void;
}

export function createObserver(deps: {
  metrics: Metrics;
  log: Logger;
  keyIdOf: (request: Request) => string | undefined;
  requestIdOf: (request: Request) => string | undefined;
}): Observer {
  // On the Request itself (see gate.ts for why not a WeakMap).
  const STARTED = Symbol("claude-api.started");
  type Timed = Request & { [STARTED]?: number };
  // The request log line is built by hand: every field is from a safe alphabet (validated request ids, key ids,
  // route patterns, HTTP methods), and JSON.stringify plus a fresh ISO date per request cost more than the route.
  let lastSecond = -1;
  let secondIso = "";
  const logRequests = deps.log.enabled("info");
  const finish = (request: Request, route: string, status: number, keyId?: string) => {
    const start = (request as Timed)[STARTED];
    const ms = start === undefined ? 0 : performance.now() - start;
    deps.metrics.observeRequest(request.method, route, status, ms / 1000);
    if (!logRequests) return;
    const now = Date.now();
    const second = Math.floor(now / 1000);
    if (second !== lastSecond) {
      lastSecond = second;
      secondIso = new Date(second * 1000).toISOString().slice(0, 19);
    }
    const millis = String(now % 1000).padStart(3, "0");
    const key = keyId ?? deps.keyIdOf(request);
    const id = deps.requestIdOf(request);
    deps.log.raw(
      `{"time":"${secondIso}.${millis}Z","level":"info","event":"request"${id ? `,"request_id":"${id}"` : ""}${key ? `,"key_id":"${key}"` : ""},"method":${JSON.stringify(request.method)},"route":${JSON.stringify(route)},"status":${status},"duration_ms":${Math.round(ms * 100) / 100}}\n`,
    );
  };
  const plugin = new Elysia({ name: "observer" })
    // After the handler, inline: Elysia's after-response hook defers every request through setImmediate.
    // Errors are reported by the error handler (see app.ts), the gate's own answers by the gate.
    .onAfterHandle({ as: "global" }, (context) => {
      const response = (context as { responseValue?: unknown }).responseValue;
      const raw = response instanceof Response ? response.status : context.set.status;
      const status = typeof raw === "number" ? raw : Number(raw) || 200;
      finish(context.request, (context as { route?: string }).route ?? "unmatched", status);
    }) as unknown as Elysia;
  const start = (request: Request) => {
    (request as Timed)[STARTED] = performance.now();
  };
  return { plugin, start, finish };
}
