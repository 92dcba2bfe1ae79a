// A cheap check of the Claude Code installation for /health and the startup warning: does the binary run,
// which version is it, and would it find credentials. Never throws.
import { existsSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { buildChildEnv, credentialSource, type CredentialSource, type EnvLike } from "./env.ts";
import { resolveClaudeBin } from "./runner.ts";

export interface ClaudeProbe {
  /** The binary was found and `--version` answered. */
  ok: boolean;
  /** Resolved path of the executable, when found. */
  path?: string;
  /** e.g. "2.1.331". */
  version?: string;
  /** What went wrong, when !ok. */
  error?: string;
  credentials: { configured: boolean; source?: CredentialSource };
}

export interface ProbeOptions {
  /** Environment the CLI would run with (default process.env). */
  env?: EnvLike;
  /** CLAUDE_CONFIG_DIR to look for .credentials.json in (default env's, else $HOME/.claude). */
  configDir?: string;
  timeoutMs?: number;
}

/** The version in `claude --version` output ("2.1.331 (Claude Code)"). */
export function parseVersion(output: string): string | undefined {
  return /(\d+\.\d+\.\d+(?:[-+][0-9A-Za-z.-]+)?)/.exec(output)?.[1];
}

export async function probeClaude(bin: string, opts: ProbeOptions = {}): Promise<ClaudeProbe> {
  const base = opts.env ?? process.env;
  const configDir = opts.configDir ?? base.CLAUDE_CONFIG_DIR ?? join(base.HOME ?? homedir(), ".claude");
  const source = credentialSource(base, existsSync(join(configDir, ".credentials.json")));
  const credentials = source ? { configured: true, source } : { configured: false };

  const env = buildChildEnv({ base, configDir });
  const path = resolveClaudeBin(bin, env.PATH);
  if (!path) return { ok: false, error: `claude executable not found: '${bin}'`, credentials };
  try {
    const proc = Bun.spawn([path, "--version"], { env, stdin: "ignore", stdout: "pipe", stderr: "pipe", timeout: opts.timeoutMs ?? 10_000, killSignal: "SIGKILL" });
    const [out, err, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
    const version = parseVersion(out);
    if (code !== 0 || !version) {
      const why = proc.signalCode ? `killed by ${proc.signalCode}` : `exit code ${code}`;
      return { ok: false, path, error: `'${path} --version' failed (${why}): ${(err || out).trim().slice(0, 300)}`, credentials };
    }
    return { ok: true, path, version, credentials };
  } catch (e) {
    return { ok: false, path, error: `could not run '${path}': ${(e as Error).message}`, credentials };
  }
}
