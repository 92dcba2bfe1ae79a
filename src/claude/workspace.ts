// Per-run directories. Layout under the work root:
//   <root>/run-XXXXXX/          private to the run (mode 0700): system prompt / agents files
//   <root>/run-XXXXXX/work/     the CLI's cwd: the workspace the model works in
//   <root>/run-XXXXXX/tmp/      CLAUDE_CODE_TMPDIR and TMPDIR: the CLI's scratch files, background task output
import { mkdirSync, mkdtempSync, readdirSync, lstatSync, rmSync, writeFileSync } from "node:fs";
import { join, relative } from "node:path";

export interface RunDirs {
  runDir: string;
  workspace: string;
  tmpDir: string;
}

export interface Artifact {
  /** Path relative to the workspace, with forward slashes. */
  path: string;
  size: number;
}

export function createRunDirs(workRoot: string): RunDirs {
  mkdirSync(workRoot, { recursive: true, mode: 0o700 });
  const runDir = mkdtempSync(join(workRoot, "run-"));
  const workspace = join(runDir, "work");
  const tmpDir = join(runDir, "tmp");
  mkdirSync(workspace, { mode: 0o700 });
  mkdirSync(tmpDir, { mode: 0o700 });
  return { runDir, workspace, tmpDir };
}

export function writeRunFiles(runDir: string, files: Readonly<Record<string, string>>): void {
  for (const [name, content] of Object.entries(files)) {
    writeFileSync(join(runDir, name), content, { mode: 0o600 });
  }
}

/** Regular files under the workspace (symlinks are not followed), at most `limit`, sorted by path. */
export function listArtifacts(workspace: string, limit = 1000): Artifact[] {
  const out: Artifact[] = [];
  const walk = (dir: string): void => {
    let entries: string[];
    try {
      entries = readdirSync(dir);
    } catch {
      return;
    }
    for (const name of entries.sort()) {
      if (out.length >= limit) return;
      const full = join(dir, name);
      let st;
      try {
        st = lstatSync(full);
      } catch {
        continue;
      }
      if (st.isDirectory()) walk(full);
      else if (st.isFile()) out.push({ path: relative(workspace, full).split("\\").join("/"), size: st.size });
    }
  };
  walk(workspace);
  return out;
}

export function removeRunDir(runDir: string): void {
  try {
    rmSync(runDir, { recursive: true, force: true, maxRetries: 2 });
  } catch {
    // Best effort: a leftover directory is a disk-space issue, not a reason to fail the run.
  }
}
