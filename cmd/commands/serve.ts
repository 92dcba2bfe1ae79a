// claude-api serve: the HTTP + WebSocket gateway.
import { defineCommand, type ArgsDef } from "citty";
import { resolveConfig } from "../../src/config.ts";
import { bufferedStderr, createLogger } from "../../src/log.ts";
import { startServer } from "../../src/server.ts";
import { dbArg, rejectUnknownFlags } from "./_shared.ts";

const serveArgs = {
  ...dbArg,
  host: { type: "string", description: "address to bind (default 127.0.0.1, or CLAUDE_API_HOST)", valueHint: "ADDR" },
  port: { type: "string", description: "port (default 8006, or CLAUDE_API_PORT)", valueHint: "PORT" },
  "claude-bin": { type: "string", description: "the claude CLI (default: claude on PATH, or CLAUDE_API_CLAUDE_BIN)", valueHint: "PATH" },
  "claude-config-dir": { type: "string", description: "Claude Code config dir with agents/ and skills/ (default ~/.claude)", valueHint: "DIR" },
  "work-dir": { type: "string", description: "where task workspaces are made (default ~/.claude-api/work)", valueHint: "DIR" },
  "max-processes": { type: "string", description: "live claude processes at most (default: from memory)", valueHint: "N" },
  "max-queue": { type: "string", description: "requests waiting for a process before 503 (default 64)", valueHint: "N" },
  "max-body-bytes": { type: "string", description: "largest request body (default 4194304)", valueHint: "BYTES" },
  "log-level": { type: "string", description: "debug | info | warn | error | silent (default info)", valueHint: "LEVEL" },
  timezone: { type: "string", description: "IANA zone for usage periods (default UTC)", valueHint: "ZONE" },
  metrics: { type: "boolean", description: "serve GET /metrics (default on)" },
} as const satisfies ArgsDef;

export const serveCommand = defineCommand({
  meta: { name: "serve", description: "Serve the API (HTTP + WebSocket) on 127.0.0.1:8006" },
  args: serveArgs,
  async run({ args, rawArgs }) {
    rejectUnknownFlags(rawArgs, serveArgs);
    const config = resolveConfig({
      dbPath: args.db,
      host: args.host,
      port: args.port,
      claudeBin: args["claude-bin"],
      claudeConfigDir: args["claude-config-dir"],
      workRoot: args["work-dir"],
      maxProcesses: args["max-processes"],
      maxQueue: args["max-queue"],
      maxBodyBytes: args["max-body-bytes"],
      logLevel: args["log-level"],
      timezone: args.timezone,
      metrics: args.metrics,
    });
    const stderr = bufferedStderr();
    const log = createLogger(config.logLevel, stderr.write);
    const server = await startServer(config, log);
    // Written at once: scripts (and the tests) wait for this line to know the server is up.
    log.info("listening", { url: server.url, docs: `${server.url}/docs`, db: config.dbPath });
    stderr.flush();
    let stopping = false;
    const shutdown = async (signal: string) => {
      if (stopping) return;
      stopping = true;
      log.info("shutting_down", { signal });
      await server.stop();
      stderr.flush();
      process.exit(0);
    };
    process.on("SIGINT", () => void shutdown("SIGINT"));
    process.on("SIGTERM", () => void shutdown("SIGTERM"));
    // Keep running until a signal arrives.
    await new Promise(() => {});
  },
});
