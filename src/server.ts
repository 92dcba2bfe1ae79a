// Wires the parts of a running gateway together: store → auth → limits → HTTP app; and takes them down cleanly.
import type { Config } from "./config.ts";
import { AuthManager } from "./auth/manager.ts";
import { LastUsedTracker } from "./auth/last-used.ts";
import { RateLimiter } from "./limits/rate-limiter.ts";
import { createApp } from "./http/app.ts";
import type { HealthReport } from "./http/routes/health.ts";
import type { Logger } from "./log.ts";
import { openStore } from "./store/db.ts";
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

  const health = (): HealthReport => {
    let storeOk = true;
    try {
      store.db.query("SELECT 1").get();
    } catch {
      storeOk = false;
    }
    return {
      status: storeOk ? "ok" : "degraded",
      version: VERSION,
      uptime_s: Math.round((Date.now() - startedAt) / 1000),
      store: { ok: storeOk },
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
      store.close();
    },
  };
}
