// Per-request observation: one structured log line (request id, key id, route, status, duration) and the
// request metrics. Responses the gate answers itself (401, 413, 429) never reach Elysia's after-response hook,
// so the gate reports those through `finish` directly.
import { Elysia } from "elysia";
import type { Logger } from "../log.ts";
import type { Metrics } from "../observe/metrics.ts";

export interface Observer {
  plugin: Elysia;
  finish(request: Request, route: string, status: number, keyId?: string): void;
}

export function createObserver(deps: {
  metrics: Metrics;
  log: Logger;
  keyIdOf: (request: Request) => string | undefined;
  requestIdOf: (request: Request) => string | undefined;
}): Observer {
  const started = new WeakMap<Request, number>();
  const finish = (request: Request, route: string, status: number, keyId?: string) => {
    const start = started.get(request);
    const ms = start === undefined ? 0 : performance.now() - start;
    deps.metrics.observeRequest(request.method, route, status, ms / 1000);
    deps.log.info("request", {
      request_id: deps.requestIdOf(request),
      key_id: keyId ?? deps.keyIdOf(request),
      method: request.method,
      route,
      status,
      duration_ms: Math.round(ms * 100) / 100,
    });
  };
  const plugin = new Elysia({ name: "observer" })
    .onRequest(({ request }) => {
      started.set(request, performance.now());
    })
    .onAfterResponse({ as: "global" }, (context) => {
      const response = (context as { responseValue?: unknown }).responseValue;
      const raw = response instanceof Response ? response.status : context.set.status;
      const status = typeof raw === "number" ? raw : Number(raw) || 200;
      finish(context.request, (context as { route?: string }).route ?? "unmatched", status);
    }) as unknown as Elysia;
  return { plugin, finish };
}
