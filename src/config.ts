// Every setting in one place: command-line flag > environment (CLAUDE_API_*) > default.
import { homedir, totalmem } from "node:os";
import { join, resolve } from "node:path";

export interface Config {
  host: string;
  port: number;
  dbPath: string;
  /** Path or bare name of the `claude` executable (a bare name is looked up on PATH). */
  claudeBin: string;
  /** Claude Code's config dir: where agents and skills are discovered. */
  claudeConfigDir: string;
  /** Where per-run workspaces are created. */
  workRoot: string;
  /** Request bodies above this are refused with 413. */
  maxBodyBytes: number;
  /** Upper bound on live `claude` processes across all keys. */
  maxProcesses: number;
  /** Requests allowed to wait for a process slot before 503. */
  maxQueue: number;
  logLevel: "debug" | "info" | "warn" | "error" | "silent";
  /** IANA zone in which usage periods (day/week/month) are calendar-aligned. */
  timezone: string;
  metrics: boolean;
  /** Audit entries older than this are pruned. */
  auditRetentionDays: number;
  /** Finished tasks' workspaces (their artifacts) are removed after this many hours. */
  taskRetentionHours: number;
  /** Run Bash commands in Claude Code's bubblewrap sandbox (needs bwrap and socat). Off only by explicit choice. */
  commandSandbox: boolean;
}

export class ConfigError extends Error {}

export function defaultHome(env: NodeJS.ProcessEnv = process.env): string {
  return env.CLAUDE_API_HOME || join(env.HOME || homedir(), ".claude-api");
}

// Each live CLI process costs about 200 MB; keep a quarter of memory for everything else.
function defaultMaxProcesses(): number {
  const perProcess = 200 * 1024 * 1024;
  return Math.max(1, Math.min(32, Math.floor((totalmem() * 0.75) / perProcess)));
}

export type ConfigFlags = Partial<Record<keyof Config, string | number | boolean | undefined>>;

export function resolveConfig(flags: ConfigFlags = {}, env: NodeJS.ProcessEnv = process.env): Config {
  const home = defaultHome(env);
  const pick = (key: keyof Config, envName: string): string | undefined => {
    const flag = flags[key];
    if (flag !== undefined && flag !== "") return String(flag);
    const fromEnv = env[envName];
    return fromEnv === undefined || fromEnv === "" ? undefined : fromEnv;
  };
  const int = (key: keyof Config, envName: string, fallback: number, min: number, max: number): number => {
    const raw = pick(key, envName);
    if (raw === undefined) return fallback;
    const value = Number(raw);
    if (!Number.isInteger(value) || value < min || value > max) {
      throw new ConfigError(`${envName} / --${kebab(key)} must be a whole number from ${min} to ${max}, got '${raw}'`);
    }
    return value;
  };
  const logLevel = pick("logLevel", "CLAUDE_API_LOG_LEVEL") ?? "info";
  if (!["debug", "info", "warn", "error", "silent"].includes(logLevel)) {
    throw new ConfigError(`log level must be one of debug, info, warn, error, silent, got '${logLevel}'`);
  }
  const timezone = pick("timezone", "CLAUDE_API_TIMEZONE") ?? "UTC";
  try {
    new Intl.DateTimeFormat("en-US", { timeZone: timezone });
  } catch {
    throw new ConfigError(`unknown timezone '${timezone}' (use an IANA name such as UTC or Europe/Paris)`);
  }
  const metrics = pick("metrics", "CLAUDE_API_METRICS");
  return {
    host: pick("host", "CLAUDE_API_HOST") ?? "127.0.0.1",
    port: int("port", "CLAUDE_API_PORT", 8006, 0, 65535),
    dbPath: pick("dbPath", "CLAUDE_API_DB") ?? join(home, "claude-api.db"),
    // A path is made absolute here: each run starts the CLI from its own workspace, where a relative path means nothing.
    claudeBin: absoluteIfPath(pick("claudeBin", "CLAUDE_API_CLAUDE_BIN") ?? "claude"),
    claudeConfigDir:
      pick("claudeConfigDir", "CLAUDE_CONFIG_DIR") ?? join(env.HOME || homedir(), ".claude"),
    workRoot: pick("workRoot", "CLAUDE_API_WORK_DIR") ?? join(home, "work"),
    maxBodyBytes: int("maxBodyBytes", "CLAUDE_API_MAX_BODY_BYTES", 4 * 1024 * 1024, 1024, 512 * 1024 * 1024),
    maxProcesses: int("maxProcesses", "CLAUDE_API_MAX_PROCESSES", defaultMaxProcesses(), 1, 1024),
    maxQueue: int("maxQueue", "CLAUDE_API_MAX_QUEUE", 64, 0, 100_000),
    logLevel: logLevel as Config["logLevel"],
    timezone,
    metrics: metrics === undefined ? true : !["0", "false", "no", "off"].includes(metrics.toLowerCase()),
    commandSandbox: !["0", "false", "no", "off"].includes((env.CLAUDE_API_BASH_SANDBOX ?? "on").toLowerCase()),
    taskRetentionHours: int("taskRetentionHours", "CLAUDE_API_TASK_RETENTION_HOURS", 24, 1, 24 * 365),
    auditRetentionDays: int("auditRetentionDays", "CLAUDE_API_AUDIT_RETENTION_DAYS", 90, 1, 36_500),
  };
}

function absoluteIfPath(bin: string): string {
  return bin.includes("/") ? resolve(bin) : bin;
}

function kebab(name: string): string {
  return name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
}
