// GET /metrics: Prometheus text format. No key (scrapers rarely carry one); served on the gateway's own
// address, which is loopback by default. Off with --no-metrics.
import { Elysia } from "elysia";
import type { Metrics } from "../../observe/metrics.ts";

export function metricsRoutes(metrics: Metrics) {
  return new Elysia().get(
    "/metrics",
    () => new Response(metrics.render(), { headers: { "content-type": "text/plain; version=0.0.4; charset=utf-8" } }),
    { detail: { tags: ["health"], summary: "Prometheus metrics (requests, latency, runs, tokens, cost, processes)", security: [] } },
  );
}
