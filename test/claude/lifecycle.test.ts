// Process lifecycle corner cases the real CLI will not produce on demand, driven by small stand-in executables
// (bash scripts speaking the CLI's stdout format), plus the process-tree killer on its own.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { chmodSync, existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  cancelAllRuns,
  findMarkedProcesses,
  InvalidRunSpecError,
  isAlive,
  killRunProcesses,
  liveRunCount,
  startRun,
  type RunnerDeps,
} from "../../src/claude/index.ts";

const T = 30_000;
let dir: string;
let deps: RunnerDeps;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "claude-lifecycle-"));
  deps = { claudeBin: "unused", workRoot: join(dir, "work"), env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: dir } };
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function script(name: string, body: string): string {
  const path = join(dir, name);
  writeFileSync(path, `#!/usr/bin/env bash\n${body}\n`);
  chmodSync(path, 0o755);
  return path;
}

const INIT = `{"type":"system","subtype":"init","session_id":"s1","model":"claude-opus-5-5","tools":[],"claude_code_version":"2.1.331"}`;
const result = (text: string, cost: number, index: number) =>
  `{"type":"result","subtype":"success","is_error":false,"result":"${text}","session_id":"s1","total_cost_usd":${cost},"usage":{"input_tokens":10,"output_tokens":2,"cache_creation_input_tokens":0,"cache_read_input_tokens":0},"modelUsage":{},"num_turns":1,"duration_ms":5,"duration_api_ms":3,"permission_denials":[],"result_index":${index}}`;

function processesWith(needle: string): string[] {
  return Bun.spawnSync(["ps", "-eo", "pid,args"]).stdout.toString().split("\n").filter((l) => l.includes(needle) && !l.includes("ps -eo"));
}

describe("stand-in executables", () => {
  test(
    "malformed lines are skipped and counted; two results; the prompt arrives on stdin",
    async () => {
      const bin = script(
        "two-results",
        `read -r -d '' prompt; printf '%s\\n' 'garbage {' '${INIT}' '[1,2]' '${result("first", 0.001, 0)}' '${result("second", 0.003, 1)}'; echo "prompt=$prompt" > prompt.txt`,
      );
      const h = startRun({ prompt: "from stdin", tools: [], keepWorkspace: true }, { ...deps, claudeBin: bin });
      const o = await h.outcome;
      expect(o).toMatchObject({ status: "success", result: "second", costUsd: 0.003, numTurns: 2, malformedLines: 2, exitCode: 0 });
      expect(await Bun.file(join(o.workspace, "prompt.txt")).text()).toBe("prompt=from stdin\n");
      rmSync(join(o.workspace, ".."), { recursive: true, force: true });
    },
    T,
  );

  test(
    "non-zero exit with only stderr (bad flag, bad config) is a cli_error with that message",
    async () => {
      const bin = script("bad-flag", `echo "error: unknown option '--bogus'" >&2; exit 1`);
      const o = await startRun({ prompt: "x", tools: [] }, { ...deps, claudeBin: bin }).outcome;
      expect(o.status).toBe("error");
      expect(o.error).toEqual({ kind: "cli_error", message: "claude exited with code 1: error: unknown option '--bogus'" });
      expect(o.stderrTail).toContain("--bogus");
    },
    T,
  );

  test(
    "exit 0 without a result is a crash; stderr tail is bounded",
    async () => {
      const bin = script("no-result", `echo '${INIT}'; head -c 100000 /dev/zero | tr '\\0' 'e' >&2; echo TAIL-END >&2; exit 0`);
      const o = await startRun({ prompt: "x", tools: [] }, { ...deps, claudeBin: bin, stderrTailBytes: 1000 }).outcome;
      expect(o.status).toBe("crashed");
      expect(o.error?.kind).toBe("no_result");
      expect(o.stderrTail.length).toBeLessThanOrEqual(1000);
      expect(o.stderrTail).toContain("TAIL-END");
    },
    T,
  );

  test(
    "a CLI that ignores SIGINT is SIGKILLed after the grace period, with a grandchild in its own session",
    async () => {
      const tag = `sigint${crypto.randomUUID().replaceAll("-", "")}`;
      const bin = script("ignores-sigint", `trap '' INT; echo '${INIT}'; setsid bash -c 'exec -a ${tag} sleep 60' </dev/null >/dev/null 2>&1 & while true; do sleep 0.1; done`);
      const started = performance.now();
      const h = startRun({ prompt: "x", tools: [], timeoutMs: 500, killGraceMs: 300 }, { ...deps, claudeBin: bin });
      await Bun.sleep(300);
      expect(processesWith(tag)).toHaveLength(1); // the grandchild really ran
      const o = await h.outcome;
      expect(o.status).toBe("timeout");
      expect(o.signal).toBe("SIGKILL");
      expect(performance.now() - started).toBeLessThan(3000);
      expect(isAlive(h.pid!)).toBe(false);
      expect(processesWith(tag)).toEqual([]);
    },
    T,
  );

  test(
    "a stray process holding stdout open after exit is swept, so the outcome still arrives",
    async () => {
      const tag = `stray${crypto.randomUUID().replaceAll("-", "")}`;
      const bin = script("leaves-stray", `echo '${INIT}'; (setsid bash -c 'exec -a ${tag} sleep 60' &) ; echo '${result("done", 0.001, 0)}'; exit 0`);
      const started = performance.now();
      const o = await startRun({ prompt: "x", tools: [] }, { ...deps, claudeBin: bin }).outcome;
      expect(o.status).toBe("success");
      expect(o.strayProcessesKilled).toBeGreaterThanOrEqual(1);
      expect(performance.now() - started).toBeLessThan(5000);
      expect(processesWith(tag)).toEqual([]);
    },
    T,
  );

  test(
    "a binary that is not executable is binary_not_found",
    async () => {
      const path = join(dir, "not-executable");
      writeFileSync(path, "#!/bin/sh\n");
      const o = await startRun({ prompt: "x", tools: [] }, { ...deps, claudeBin: path }).outcome;
      expect(o.error?.kind).toBe("binary_not_found");
    },
    T,
  );
});

describe("shutdown", () => {
  test(
    "cancelAllRuns ends every live run",
    async () => {
      const bin = script("waits", `echo '${INIT}'; while true; do sleep 0.1; done`);
      const runs = [1, 2, 3].map(() => startRun({ prompt: "x", tools: [] }, { ...deps, claudeBin: bin }));
      expect(liveRunCount()).toBe(3);
      const outcomes = await cancelAllRuns("shutdown test");
      expect(outcomes.map((o) => o.status)).toEqual(["cancelled", "cancelled", "cancelled"]);
      expect(outcomes[0]?.error?.message).toBe("run cancelled: shutdown test");
      expect(liveRunCount()).toBe(0);
      for (const r of runs) expect(isAlive(r.pid!)).toBe(false);
    },
    T,
  );
});

describe("setup failures", () => {
  test("an invalid spec throws InvalidRunSpecError before anything is created", () => {
    expect(() => startRun({ prompt: "x", tools: ["Bash;rm"] }, { ...deps, workRoot: join(dir, "never-created") })).toThrow(InvalidRunSpecError);
    expect(existsSync(join(dir, "never-created"))).toBe(false);
  });

  test("a work root that cannot be created is an outcome, not a throw", async () => {
    const file = join(dir, "a-file");
    writeFileSync(file, "");
    const h = startRun({ prompt: "x", tools: [] }, { ...deps, workRoot: join(file, "sub") });
    const o = await h.outcome;
    expect(h.pid).toBeUndefined();
    expect(o.status).toBe("error");
    expect(o.error?.kind).toBe("spawn_failed");
    expect(o.error?.message).toContain("could not create a workspace");
    const seen: unknown[] = [];
    for await (const e of h.events) seen.push(e);
    expect(seen).toEqual([]);
  });
});

describe("killRunProcesses", () => {
  test(
    "kills the group and every marked process, even in other sessions",
    async () => {
      const value = crypto.randomUUID();
      const tag = `kt${value.replaceAll("-", "")}`;
      const proc = Bun.spawn(["bash", "-c", `setsid bash -c 'exec -a ${tag} sleep 60' & (exec -a ${tag} sleep 60) & wait`], {
        env: { PATH: process.env.PATH ?? "/usr/bin:/bin", KT_MARK: value },
        detached: true,
        stdout: "ignore",
        stderr: "ignore",
      });
      for (let i = 0; i < 50 && (await findMarkedProcesses("KT_MARK", value)).length < 3; i++) await Bun.sleep(20);
      expect((await findMarkedProcesses("KT_MARK", value)).length).toBe(3);
      const killed = await killRunProcesses(proc.pid, { name: "KT_MARK", value });
      expect(killed).toBe(3);
      await proc.exited;
      for (let i = 0; i < 50 && processesWith(tag).length > 0; i++) await Bun.sleep(20);
      expect(processesWith(tag)).toEqual([]);
      expect(await findMarkedProcesses("KT_MARK", value)).toEqual([]);
    },
    T,
  );

  test("a marker must match a whole variable", async () => {
    const value = crypto.randomUUID();
    const proc = Bun.spawn(["sleep", "5"], { env: { OTHER_KT_MARK: value, KT_MARK: `${value}x` } });
    try {
      expect(await findMarkedProcesses("KT_MARK", value)).toEqual([]);
      expect(await findMarkedProcesses("KT_MARK", `${value}x`)).toEqual([proc.pid]);
    } finally {
      proc.kill("SIGKILL");
      await proc.exited;
    }
  });
});
