// The Elysia application: the gate, the error shape, and one plugin per route group.
import { Elysia } from "elysia";
import { Metrics as MetricsSink } from "../observe/metrics.ts";
import { createErrorHandler } from "./error-handler.ts";
import { createGate, type GateDeps } from "./gate.ts";
import { docsRoutes } from "./routes/docs.ts";
import { healthRoutes, type HealthReport } from "./routes/health.ts";
import { keysRoutes } from "./routes/keys.ts";
import { modelsRoutes } from "./routes/models.ts";
import { chatRoutes, type ChatDeps } from "./routes/chat.ts";
import { usageRoutes, type UsageDeps } from "./routes/usage.ts";
import { metricsRoutes } from "./routes/metrics.ts";
import { tasksRoutes } from "./routes/tasks.ts";
import { batchRoutes } from "./routes/batch.ts";
import { capabilitiesRoutes } from "./routes/capabilities.ts";
import { streamRoutes } from "./routes/stream.ts";
import type { TaskService } from "../tasks/service.ts";
import { createObserver } from "./observe.ts";
import type { Metrics } from "../observe/metrics.ts";
import type { Logger } from "../log.ts";
import type { ApiError } from "./errors.ts";

export interface AppDeps extends GateDeps, ChatDeps, UsageDeps {
  version: string;
  health: () => HealthReport | Promise<HealthReport>;
  logUnexpected: (error: unknown, request: Request) => void;
  onErrorResponse?: (error: ApiError, request: Request) => void;
  /** Undefined: no /metrics route (--no-metrics); requests are still logged. */
  metrics: Metrics | undefined;
  log: Logger;
  keyIdOf: (request: Request) => string | undefined;
  requestIdOf: (request: Request) => string | undefined;
  tasks: TaskService;
  claudeConfigDir: string;
}

export function createApp(deps: AppDeps) {
  const observer = createObserver({ ...deps, metrics: deps.metrics ?? new MetricsSink() });
  // Bun's own cap answers with a bare 413; keep it as a backstop far above ours so the gate answers in our shape.
  const app = new Elysia({ serve: { maxRequestBodySize: deps.maxBodyBytes * 16 } })
    .use(observer.plugin)
    .use(
      createErrorHandler({
        ...deps,
        onErrorResponse: (error, request, route) => {
          observer.finish(request, route ?? "unmatched", error.status);
          deps.onErrorResponse?.(error, request);
        },
      }),
    )
    .use(
      createGate({
        ...deps,
        onRequestStart: observer.start,
        onGateResponse: (request, status, keyId) => observer.finish(request, "(gate)", status, keyId),
      }),
    )
    .use(docsRoutes(deps.version))
    .use(healthRoutes(deps.health))
    .use(modelsRoutes)
    .use(keysRoutes)
    .use(chatRoutes(deps))
    .use(usageRoutes(deps))
    .use(capabilitiesRoutes(deps))
    .use(tasksRoutes(deps.tasks))
    .use(batchRoutes(deps))
    .use(streamRoutes(deps));
  return deps.metrics ? app.use(metricsRoutes(deps.metrics)) : app;
}

export type App = ReturnType<typeof createApp>;
