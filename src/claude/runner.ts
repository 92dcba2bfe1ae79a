// Spawns one `claude -p` run and follows it to the end: events as they arrive, then one outcome once the
// process has exited. Knows nothing of HTTP.
import { accessSync, constants } from "node:fs";
import { randomUUID } from "node:crypto";
import { buildArgs, InvalidRunSpecError, validateArgsSpec, type BuiltArgs, type ClaudeArgsSpec } from "./args.ts";
import { buildChildEnv, type EnvLike } from "./env.ts";
import { EventParser, type ClaudeEvent } from "./events.ts";
import { interrupt, killRunProcesses } from "./kill.ts";
import { OutcomeBuilder, type RunError, type RunOutcome } from "./outcome.ts";
import { createRunDirs, listArtifacts, removeRunDir, writeRunFiles, type Artifact, type RunDirs } from "./workspace.ts";

export interface RunSpec extends ClaudeArgsSpec {
  /** The user's prompt: written to the CLI's stdin (no argv size limit, not visible in `ps`). */
  prompt: string;
  /** Overall limit; on expiry the CLI gets SIGINT, then SIGKILL (with its tools) after killGraceMs. */
  timeoutMs?: number;
  /** Time between SIGINT and SIGKILL (default 2000 ms). */
  killGraceMs?: number;
  /** Aborting it (client gone) ends the run the same way as a timeout, at once; status "cancelled". */
  signal?: AbortSignal;
  /** Keep the run directory after the run (default: removed). */
  keepWorkspace?: boolean;
  /** List the files left in the workspace in outcome.artifacts. */
  collectArtifacts?: boolean;
  /** Only the agents passed in `agents` exist (CLAUDE_AGENT_SDK_DISABLE_BUILTIN_AGENTS=1). */
  disableBuiltinAgents?: boolean;
  /** Called with the new, empty workspace before the CLI starts (input files, project skills). May throw. */
  prepareWorkspace?: (workspace: string) => void;
}

export interface RunnerDeps {
  /** Path to the claude executable, or a bare name looked up on the child's PATH. */
  claudeBin: string;
  /** Directory under which each run gets its own directory. */
  workRoot: string;
  /** The environment the child's allow-listed environment is taken from (usually process.env). */
  env: EnvLike;
  /** HOME for the child (default env.HOME). An isolated directory keeps runs off the server user's ~/.claude.json. */
  home?: string;
  /** CLAUDE_CONFIG_DIR for the child (agents, skills, credentials); default env's. */
  configDir?: string;
  /** CLAUDE_CODE_MAX_RETRIES for the child; default env's (the CLI's own default is 10). */
  maxRetries?: number;
  /** How much of stderr to keep (default 8 KiB). */
  stderrTailBytes?: number;
  /** After exit, how long to wait for stdout to drain before giving up on it (default 2000 ms). */
  drainMs?: number;
}

export interface RunHandle {
  /** The CLI's pid (also its process group id); undefined when it could not be spawned. */
  readonly pid: number | undefined;
  /** The run's working directory (the CLI's cwd). */
  readonly workspace: string;
  /**
   * Events in arrival order, buffered from the start so nothing is missed; ends after the last stdout line.
   * One consumer: each event is delivered once.
   */
  readonly events: AsyncIterable<ClaudeEvent>;
  /** Resolves (never rejects) once the process has exited and the workspace is dealt with. */
  readonly outcome: Promise<RunOutcome>;
  /** End the run now (SIGINT, then SIGKILL after the grace period); status "cancelled". No-op once exited. */
  cancel(reason?: string): void;
}

/** Environment variable marking every process of one run (see kill.ts). */
export const RUN_MARKER_ENV = "CLAUDE_RUNNER_ID";
const DEFAULT_GRACE_MS = 2000;

/** A push/pull queue: the producer never waits, the consumer waits for the next item or the end. */
class EventQueue implements AsyncIterable<ClaudeEvent> {
  private items: ClaudeEvent[] = [];
  private head = 0;
  private closed = false;
  private wake: (() => void) | undefined;

  push(e: ClaudeEvent): void {
    if (this.closed) return;
    this.items.push(e);
    this.notify();
  }

  close(): void {
    this.closed = true;
    this.notify();
  }

  private notify(): void {
    const w = this.wake;
    this.wake = undefined;
    w?.();
  }

  async *[Symbol.asyncIterator](): AsyncIterator<ClaudeEvent> {
    while (true) {
      if (this.head < this.items.length) {
        const e = this.items[this.head] as ClaudeEvent;
        this.items[this.head] = undefined as unknown as ClaudeEvent; // let it be collected
        this.head++;
        if (this.head > 1024 && this.head * 2 > this.items.length) {
          this.items = this.items.slice(this.head);
          this.head = 0;
        }
        yield e;
        continue;
      }
      if (this.closed) return;
      await new Promise<void>((resolve) => {
        this.wake = resolve;
      });
    }
  }
}

/** Resolve the executable the way the child would: a path must exist and be executable; a bare name is looked up on PATH. */
export function resolveClaudeBin(bin: string, path: string | undefined): string | undefined {
  if (bin.includes("/")) {
    try {
      accessSync(bin, constants.X_OK);
      return bin;
    } catch {
      return undefined;
    }
  }
  return Bun.which(bin, { PATH: path ?? "" }) ?? undefined;
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/**
 * Start a run. Throws InvalidRunSpecError (synchronously, before anything is created) when the spec would put
 * something invalid on argv; every other failure, a missing binary included, arrives as the outcome.
 */
export function startRun(spec: RunSpec, deps: RunnerDeps): RunHandle {
  validateArgsSpec(spec);
  if (typeof spec.prompt !== "string") throw new InvalidRunSpecError("prompt", "prompt must be a string");

  let dirs: RunDirs;
  let built: BuiltArgs;
  try {
    dirs = createRunDirs(deps.workRoot);
  } catch (e) {
    return setupFailed(`could not create a workspace under '${deps.workRoot}': ${(e as Error).message}`);
  }
  try {
    built = buildArgs(spec, { workspace: dirs.workspace, runDir: dirs.runDir });
    writeRunFiles(dirs.runDir, built.files);
  if (spec.prepareWorkspace) {
    try {
      spec.prepareWorkspace(dirs.workspace);
    } catch (e) {
      removeRunDir(dirs.runDir);
      throw e;
    }
  }
  } catch (e) {
    removeRunDir(dirs.runDir);
    if (e instanceof InvalidRunSpecError) throw e;
    return setupFailed(`could not prepare the run: ${(e as Error).message}`);
  }

  const marker = { name: RUN_MARKER_ENV, value: randomUUID() };
  const env = buildChildEnv({
    base: deps.env,
    home: deps.home,
    configDir: deps.configDir,
    tmpDir: dirs.tmpDir,
    maxRetries: deps.maxRetries,
    disableBuiltinAgents: spec.disableBuiltinAgents,
    set: { [marker.name]: marker.value },
  });

  const queue = new EventQueue();
  const builder = new OutcomeBuilder();
  const parser = new EventParser();
  const tailBytes = deps.stderrTailBytes ?? 8192;
  const started = performance.now();

  const finishWith = async (partial: {
    exitCode: number | null;
    signal: string | null;
    stderrTail: string;
    terminated?: "timeout" | "cancelled";
    cancelReason?: string;
    strayProcessesKilled: number;
    spawnError?: RunError;
  }): Promise<RunOutcome> => {
    let artifacts: Artifact[] | undefined;
    if (spec.collectArtifacts) artifacts = listArtifacts(dirs.workspace);
    const keep = spec.keepWorkspace === true;
    if (!keep) removeRunDir(dirs.runDir);
    queue.close();
    return builder.finish({
      ...partial,
      durationMs: Math.round(performance.now() - started),
      timeoutMs: spec.timeoutMs,
      workspace: dirs.workspace,
      workspaceKept: keep,
      artifacts,
      malformedLines: parser.malformed,
    });
  };

  const failEarly = (error: RunError): RunHandle => ({
    pid: undefined,
    workspace: dirs.workspace,
    events: queue,
    outcome: finishWith({ exitCode: null, signal: null, stderrTail: "", strayProcessesKilled: 0, spawnError: error }),
    cancel() {},
  });

  if (spec.signal?.aborted) {
    queue.close();
    const outcome = finishWith({ exitCode: null, signal: null, stderrTail: "", strayProcessesKilled: 0, terminated: "cancelled", cancelReason: "aborted before start" });
    return { pid: undefined, workspace: dirs.workspace, events: queue, outcome, cancel() {} };
  }

  const bin = resolveClaudeBin(deps.claudeBin, env.PATH);
  if (bin === undefined) {
    return failEarly({ kind: "binary_not_found", message: `claude executable not found: '${deps.claudeBin}'` });
  }

  let proc: ReturnType<typeof spawnCli>;
  try {
    proc = spawnCli(bin, built.args, dirs.workspace, env, spec.prompt);
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    const kind = err.code === "ENOENT" || err.code === "EACCES" ? "binary_not_found" : "spawn_failed";
    return failEarly({ kind, message: `could not start '${deps.claudeBin}': ${err.message}` });
  }
  const pid = proc.pid;

  let terminated: "timeout" | "cancelled" | undefined;
  let cancelReason: string | undefined;
  let exited = false;
  let graceTimer: ReturnType<typeof setTimeout> | undefined;
  let hardKill: Promise<number> | undefined;

  const terminate = (why: "timeout" | "cancelled", reason?: string): void => {
    if (exited || terminated) return;
    terminated = why;
    cancelReason = reason;
    // SIGINT first: the CLI aborts the turn, stops its tools and still prints a result with the usage so far.
    interrupt(pid);
    graceTimer = setTimeout(() => {
      if (!exited) hardKill = killRunProcesses(pid, marker);
    }, spec.killGraceMs ?? DEFAULT_GRACE_MS);
  };

  const timeoutTimer =
    spec.timeoutMs !== undefined && spec.timeoutMs > 0 ? setTimeout(() => terminate("timeout"), spec.timeoutMs) : undefined;
  const onAbort = () => terminate("cancelled", abortReason(spec.signal));
  spec.signal?.addEventListener("abort", onAbort, { once: true });

  const stdoutReader = proc.stdout.getReader();
  const stderrReader = proc.stderr.getReader();
  const stdoutDone = (async () => {
    try {
      while (true) {
        const { done, value } = await stdoutReader.read();
        if (done) break;
        for (const e of parser.push(value)) {
          builder.add(e);
          queue.push(e);
        }
      }
    } catch {
      // The pipe broke: whatever arrived has been parsed.
    }
    for (const e of parser.end()) {
      builder.add(e);
      queue.push(e);
    }
  })();

  let stderrTail = "";
  const stderrDone = (async () => {
    const dec = new TextDecoder();
    try {
      while (true) {
        const { done, value } = await stderrReader.read();
        if (done) break;
        stderrTail += dec.decode(value, { stream: true });
        if (stderrTail.length > tailBytes * 2) stderrTail = stderrTail.slice(-tailBytes);
      }
    } catch {
      // ignore: stderr is diagnostics only
    }
  })();

  const outcome = (async (): Promise<RunOutcome> => {
    const exitCode = await proc.exited;
    exited = true;
    if (timeoutTimer) clearTimeout(timeoutTimer);
    if (graceTimer) clearTimeout(graceTimer);
    spec.signal?.removeEventListener("abort", onAbort);
    if (hardKill) await hardKill;
    // Tool processes live in sessions of their own and outlive the CLI: sweep them by marker.
    let stray = await killRunProcesses(undefined, marker);
    // A stray process holding the pipe open must not stall us forever.
    const drainMs = deps.drainMs ?? 2000;
    const drained = await Promise.race([Promise.all([stdoutDone, stderrDone]).then(() => true), sleep(drainMs).then(() => false)]);
    if (!drained) {
      // Still held open: something of the run outlived the first sweep (it was still being forked then).
      stray += await killRunProcesses(undefined, marker);
      await Promise.allSettled([stdoutReader.cancel(), stderrReader.cancel()]);
      await Promise.race([Promise.all([stdoutDone, stderrDone]), sleep(100)]);
    }
    return finishWith({
      exitCode: proc.signalCode !== null ? null : exitCode,
      signal: proc.signalCode === null ? null : String(proc.signalCode),
      stderrTail: stderrTail.slice(-tailBytes),
      terminated,
      cancelReason,
      strayProcessesKilled: stray,
    });
  })();

  const handle: RunHandle = {
    pid,
    workspace: dirs.workspace,
    events: queue,
    outcome,
    cancel(reason?: string) {
      terminate("cancelled", reason);
    },
  };
  live.add(handle);
  void outcome.finally(() => live.delete(handle));
  return handle;
}

// Runs are detached (own session), so they would outlive a crashed or exiting server: keep track for shutdown.
const live = new Set<RunHandle>();

/** Number of CLI processes started by this module that have not finished yet. */
export function liveRunCount(): number {
  return live.size;
}

/** Cancel every live run (graceful shutdown); resolves once all of them have finished. */
export async function cancelAllRuns(reason = "server shutting down"): Promise<RunOutcome[]> {
  const runs = [...live];
  for (const r of runs) r.cancel(reason);
  return Promise.all(runs.map((r) => r.outcome));
}

/** A run that could not even get a directory: no process, an outcome saying why. */
function setupFailed(message: string): RunHandle {
  const queue = new EventQueue();
  queue.close();
  const outcome = new OutcomeBuilder().finish({
    exitCode: null,
    signal: null,
    stderrTail: "",
    durationMs: 0,
    workspace: "",
    workspaceKept: false,
    malformedLines: 0,
    strayProcessesKilled: 0,
    spawnError: { kind: "spawn_failed", message },
  });
  return { pid: undefined, workspace: "", events: queue, outcome: Promise.resolve(outcome), cancel() {} };
}

function spawnCli(bin: string, args: string[], cwd: string, env: Record<string, string>, prompt: string) {
  return Bun.spawn([bin, ...args], {
    cwd,
    env,
    // The prompt on stdin, then EOF: an open empty stdin would make the CLI wait 3 s and warn.
    stdin: new Blob([prompt]),
    stdout: "pipe",
    stderr: "pipe",
    // Own process group (setsid): signals reach the CLI and its direct children, not the server.
    detached: true,
  });
}

function abortReason(signal: AbortSignal | undefined): string | undefined {
  const r: unknown = signal?.reason;
  if (r === undefined) return undefined;
  if (r instanceof Error) return r.message;
  return typeof r === "string" ? r : undefined;
}
