// The Elysia application: the gate, the error shape, and one plugin per route group.
import { Elysia } from "elysia";
import { createErrorHandler } from "./error-handler.ts";
import { createGate, type GateDeps } from "./gate.ts";
import { docsRoutes } from "./routes/docs.ts";
import { healthRoutes, type HealthReport } from "./routes/health.ts";
import { keysRoutes } from "./routes/keys.ts";
import { modelsRoutes } from "./routes/models.ts";
import { chatRoutes, type ChatDeps } from "./routes/chat.ts";
import { usageRoutes, type UsageDeps } from "./routes/usage.ts";

export interface AppDeps extends GateDeps, ChatDeps, UsageDeps {
  version: string;
  health: () => HealthReport | Promise<HealthReport>;
  logUnexpected: (error: unknown, request: Request) => void;
}

export function createApp(deps: AppDeps) {
  // Bun's own cap answers with a bare 413; keep it as a backstop far above ours so the gate answers in our shape.
  return new Elysia({ serve: { maxRequestBodySize: deps.maxBodyBytes * 16 } })
    .use(createErrorHandler(deps))
    .use(createGate(deps))
    .use(docsRoutes(deps.version))
    .use(healthRoutes(deps.health))
    .use(modelsRoutes)
    .use(keysRoutes)
    .use(chatRoutes(deps))
    .use(usageRoutes(deps));
}

export type App = ReturnType<typeof createApp>;
