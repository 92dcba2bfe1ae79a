// Killing a CLI run and everything it started. The CLI is spawned as its own process group (setsid), but its
// Bash tool starts every command in a NEW session (verified with 2.1.331: `bash -c ...` has sid = its own pid),
// so a group kill misses them, and after the CLI dies they are reparented to init. Each run's processes are
// therefore also found by a marker in their environment (inherited by every descendant), read from /proc.
import { readdir, readFile } from "node:fs/promises";

const IS_LINUX = process.platform === "linux";

function trySignal(pid: number, signal: NodeJS.Signals): boolean {
  try {
    process.kill(pid, signal);
    return true;
  } catch {
    return false; // ESRCH (already gone) or EPERM (not ours): nothing to do either way
  }
}

/** Is the process alive (and signalable by us)? A zombie counts as alive until reaped. */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** Pids (other than ours) whose environment holds `name=value`. Empty off Linux or without /proc. */
export async function findMarkedProcesses(name: string, value: string): Promise<number[]> {
  if (!IS_LINUX) return [];
  let entries: string[];
  try {
    entries = await readdir("/proc");
  } catch {
    return [];
  }
  const needle = Buffer.from(`${name}=${value}\u0000`);
  const self = process.pid;
  const found = await Promise.all(
    entries.map(async (entry) => {
      const pid = Number(entry);
      if (!Number.isInteger(pid) || pid <= 1 || pid === self) return 0;
      try {
        const env = await readFile(`/proc/${pid}/environ`);
        // Match at a variable boundary: start of the block or after a NUL.
        let at = env.indexOf(needle);
        while (at !== -1) {
          if (at === 0 || env[at - 1] === 0) return pid;
          at = env.indexOf(needle, at + 1);
        }
      } catch {
        // gone, or not ours to read
      }
      return 0;
    }),
  );
  return found.filter((p) => p !== 0);
}

/**
 * SIGKILL the process group led by `leader` and every process carrying the marker. Stops them first and looks
 * again, so a process forking during the sweep cannot slip through. Returns how many marked processes were hit.
 */
export async function killRunProcesses(leader: number | undefined, marker: { name: string; value: string }): Promise<number> {
  if (leader !== undefined) {
    trySignal(-leader, "SIGSTOP");
    trySignal(leader, "SIGSTOP");
  }
  const seen = new Set<number>();
  for (let round = 0; round < 3; round++) {
    const pids = (await findMarkedProcesses(marker.name, marker.value)).filter((p) => !seen.has(p));
    if (pids.length === 0) break;
    for (const pid of pids) {
      seen.add(pid);
      trySignal(pid, "SIGSTOP");
    }
  }
  if (leader !== undefined) {
    trySignal(-leader, "SIGKILL");
    trySignal(leader, "SIGKILL");
  }
  for (const pid of seen) {
    // Their own groups too (a tool's shell leads one), then the process itself.
    trySignal(-pid, "SIGKILL");
    trySignal(pid, "SIGKILL");
  }
  return seen.size;
}

/** Send SIGINT to the CLI alone: it aborts the turn, stops its tools and prints a result. */
export function interrupt(pid: number): boolean {
  return trySignal(pid, "SIGINT");
}
