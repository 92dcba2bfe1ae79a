// Preloaded by bun test (bunfig.toml): runs what the harness registered after each test file, since
// process.on("exit") does not fire under bun test. Temp dirs, gateways and other processes end with their file.
import { afterAll } from "bun:test";

const cleanups: (() => void | Promise<void>)[] = [];

export function registerCleanup(cleanup: () => void | Promise<void>): void {
  cleanups.push(cleanup);
}

async function runCleanups(): Promise<void> {
  // Newest first: processes started in a temp dir stop before the dir goes.
  for (const cleanup of cleanups.splice(0).reverse()) {
    try {
      await cleanup();
    } catch {
      // best effort
    }
  }
}

try {
  afterAll(runCleanups);
} catch {
  // Outside bun test (a benchmark using the harness): clean up when the script ends or is interrupted.
  process.on("beforeExit", () => void runCleanups());
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    process.on(signal, () => void runCleanups().then(() => process.exit(130)));
  }
}
