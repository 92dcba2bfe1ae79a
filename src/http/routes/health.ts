// GET /health: liveness and the state of what the gateway depends on. No key needed.
import { Elysia, t } from "elysia";

export interface HealthReport {
  status: "ok" | "degraded";
  version: string;
  uptime_s: number;
  [part: string]: unknown;
}

export function healthRoutes(report: () => HealthReport | Promise<HealthReport>) {
  return new Elysia().get("/health", async ({ set }) => {
    const health = await report();
    set.headers["cache-control"] = "no-store";
    return health;
  }, {
    detail: { tags: ["health"], summary: "Gateway health: store, Claude Code CLI, process queue", security: [] },
    response: {
      200: t.Object(
        { status: t.Union([t.Literal("ok"), t.Literal("degraded")]), version: t.String(), uptime_s: t.Number() },
        { additionalProperties: true },
      ),
    },
  });
}
