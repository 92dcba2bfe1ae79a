// Structured logs: one JSON object per line on stderr. Callers pass ids, never keys.
export type LogLevel = "debug" | "info" | "warn" | "error" | "silent";
const RANK: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40, silent: 100 };

export interface Logger {
  debug(event: string, fields?: Record<string, unknown>): void;
  info(event: string, fields?: Record<string, unknown>): void;
  warn(event: string, fields?: Record<string, unknown>): void;
  error(event: string, fields?: Record<string, unknown>): void;
  /** Whether lines of this level are written (to skip building them). */
  enabled(level: Exclude<LogLevel, "silent">): boolean;
  /** Writes an already-formatted line (hot paths build their own). */
  raw(line: string): void;
}

/**
 * Lines to stderr, gathered for up to 20 ms (or 64 KiB) and written together: one write per request would be a
 * system call on the hot path.
 */
export function bufferedStderr(): { write: (line: string) => void; flush: () => void } {
  let pending: string[] = [];
  let size = 0;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const flush = () => {
    if (timer) clearTimeout(timer);
    timer = undefined;
    if (pending.length === 0) return;
    const text = pending.join("");
    pending = [];
    size = 0;
    process.stderr.write(text);
  };
  const write = (line: string) => {
    pending.push(line);
    size += line.length;
    if (size >= 65_536) flush();
    else timer ??= setTimeout(flush, 20);
  };
  return { write, flush };
}

export function createLogger(level: LogLevel, write: (line: string) => void = (line) => process.stderr.write(line)): Logger {
  const threshold = RANK[level];
  const emit = (at: Exclude<LogLevel, "silent">) => (event: string, fields: Record<string, unknown> = {}) => {
    if (RANK[at] < threshold) return;
    write(`${JSON.stringify({ time: new Date().toISOString(), level: at, event, ...fields })}\n`);
  };
  return {
    debug: emit("debug"),
    info: emit("info"),
    warn: emit("warn"),
    error: emit("error"),
    enabled: (at) => RANK[at] >= threshold,
    raw: write,
  };
}
