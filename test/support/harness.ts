// Runs the REAL compiled binary (dist/claude-api) the way a user would: CLI commands and a server on a free port,
// each with its own temporary database and home directory.
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import type { Subprocess } from "bun";
import { registerCleanup } from "./cleanup.ts";

export const ROOT = resolve(import.meta.dir, "../..");
export const BIN = join(ROOT, "dist/claude-api");
export const CLAUDE_BIN = join(ROOT, "node_modules/.bin/claude");

if (!existsSync(BIN)) throw new Error(`${BIN} is missing: run 'bun run build' (or ./install.sh) before the tests`);


export function tempDir(prefix = "claude-api-test-"): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  registerCleanup(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** An environment with nothing of ours in it but what the test gives, and an isolated HOME. */
export function isolatedEnv(home: string, extra: Record<string, string> = {}): Record<string, string> {
  return {
    PATH: process.env.PATH ?? "/usr/bin:/bin",
    HOME: home,
    LANG: "C.UTF-8",
    CLAUDE_API_LOG_LEVEL: "info",
    ...extra,
  };
}

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

export async function cli(args: string[], options: { db?: string; env?: Record<string, string>; stdin?: string } = {}): Promise<CliResult> {
  const home = options.env?.HOME ?? tempDir();
  const proc = Bun.spawn([BIN, ...args, ...(options.db ? ["--db", options.db] : [])], {
    env: isolatedEnv(home, options.env),
    stdin: options.stdin === undefined ? "ignore" : new Blob([options.stdin]),
    stdout: "pipe",
    stderr: "pipe",
  });
  const [stdout, stderr, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  return { code, stdout, stderr };
}

export interface CreatedKey {
  key: string;
  id: string;
  project_id: string;
  profile: string;
  rate_limit: number;
}

export async function createKey(db: string, projectId: string, profile = "pro", extra: string[] = []): Promise<CreatedKey> {
  const result = await cli(["keys", "create", "--project-id", projectId, "--profile", profile, "--json", ...extra], { db });
  if (result.code !== 0) throw new Error(`keys create failed: ${result.stderr}`);
  return JSON.parse(result.stdout) as CreatedKey;
}

export interface Gateway {
  url: string;
  db: string;
  home: string;
  proc: Subprocess<"ignore", "pipe", "pipe">;
  /** Everything the server wrote to stderr so far (its JSON log lines). */
  logs(): string;
  stop(): Promise<number>;
}

export async function startGateway(options: { db?: string; args?: string[]; env?: Record<string, string> } = {}): Promise<Gateway> {
  const home = options.env?.HOME ?? tempDir();
  const db = options.db ?? join(tempDir(), "claude-api.db");
  const proc = Bun.spawn([BIN, "serve", "--port", "0", "--db", db, ...(options.args ?? [])], {
    env: isolatedEnv(home, options.env),
    stdin: "ignore",
    stdout: "pipe",
    stderr: "pipe",
  });
  let log = "";
  const decoder = new TextDecoder();
  const url = await new Promise<string>((resolveUrl, reject) => {
    const timer = setTimeout(() => reject(new Error(`gateway did not start within 15 s:\n${log}`)), 15_000);
    void (async () => {
      for await (const chunk of proc.stderr) {
        log += decoder.decode(chunk);
        const match = /"event":"listening","url":"([^"]+)"/.exec(log);
        if (match) {
          clearTimeout(timer);
          resolveUrl(match[1]!);
        }
      }
      clearTimeout(timer);
      reject(new Error(`gateway exited before listening (code ${await proc.exited}):\n${log}`));
    })();
  });
  const stop = async () => {
    proc.kill("SIGTERM");
    return proc.exited;
  };
  registerCleanup(async () => {
    proc.kill("SIGTERM");
    // A clean stop lets the server stop its own claude runs; a stuck one is killed.
    const exited = await Promise.race([proc.exited.then(() => true), Bun.sleep(3000).then(() => false)]);
    if (!exited) proc.kill("SIGKILL");
  });
  return { url, db, home, proc, logs: () => log, stop };
}

export function bearer(key: string): Record<string, string> {
  return { authorization: `Bearer ${key}` };
}
