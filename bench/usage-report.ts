// Benchmark: usage reports on a large table. Fills a fresh database with N usage rows (default 1,000,000) over
// 60 days, 50 projects, 200 keys and 4 models, then times the reports an operator runs (month summary with its
// per-day series, by-model, by-project, a project's month) with our schema, and the same reports on a copy without
// the usage indexes as the baseline. Run: bun bench/usage-report.ts [rows]
import { copyFileSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Database } from "bun:sqlite";
import { openStore } from "../src/store/db.ts";
import { UsageStore } from "../src/store/usage.ts";
import { groupedReport, usageReport } from "../src/usage/report.ts";

const rows = Math.max(10_000, Math.min(5_000_000, Number(process.argv[2] ?? 1_000_000)));
const dir = mkdtempSync(join(tmpdir(), "bench-usage-"));
const path = join(dir, "usage.db");
const now = Date.parse("2026-11-24T12:00:00Z");

const store = openStore(path);
const fillStarted = performance.now();
const insert = store.db.query(
  `INSERT INTO usage (request_id, key_id, project_id, endpoint, model, input_tokens, output_tokens, cache_creation_tokens,
     cache_read_tokens, cost_usd, duration_ms, status, http_status, error, created_at)
   VALUES (?, ?, ?, 'chat.completions', ?, ?, ?, 0, ?, ?, ?, ?, 200, NULL, ?)`,
);
const models = ["claude-sonnet-5-5", "claude-opus-5-5", "claude-haiku-5-5", "claude-sonnet-4-5"];
const span = 60 * 86_400_000;
store.db.transaction(() => {
  for (let i = 0; i < rows; i++) {
    const key = i % 200;
    insert.run(
      `req-${i}`,
      `key${String(key).padStart(5, "0")}`,
      `project-${key % 50}`,
      models[i % models.length]!,
      100 + (i % 900),
      20 + (i % 300),
      i % 7 === 0 ? 500 : 0,
      0.0001 * (1 + (i % 50)),
      300 + (i % 2000),
      i % 97 === 0 ? "error" : "success",
      now - Math.floor((i / rows) * span),
    );
  }
})();
store.db.exec("PRAGMA wal_checkpoint(TRUNCATE)");
console.log(`filled ${rows.toLocaleString("en-US")} rows in ${((performance.now() - fillStarted) / 1000).toFixed(1)} s`);

function timeReports(usage: UsageStore): Record<string, number> {
  const options = { period: "month" as const, timezone: "UTC", now };
  const time = (fn: () => unknown) => {
    fn(); // warm the page cache once; report the median of 5
    const samples: number[] = [];
    for (let i = 0; i < 5; i++) {
      const started = performance.now();
      fn();
      samples.push(performance.now() - started);
    }
    return samples.sort((a, b) => a - b)[2]!;
  };
  return {
    "month summary + per-day series": time(() => usageReport(usage, options)),
    "month by model": time(() => groupedReport(usage, "model", options)),
    "month by project": time(() => groupedReport(usage, "project", options)),
    "one project's month summary": time(() => usageReport(usage, { ...options, projectId: "project-7" })),
    "one key's month by model": time(() => groupedReport(usage, "model", { ...options, keyId: "key00042" })),
  };
}

const ours = timeReports(new UsageStore(store.db));
store.close();

const baselinePath = join(dir, "baseline.db");
copyFileSync(path, baselinePath);
const baselineDb = new Database(baselinePath);
for (const index of ["usage_project_time", "usage_key_time", "usage_time"]) baselineDb.exec(`DROP INDEX IF EXISTS ${index}`);
const baseline = timeReports(new UsageStore(baselineDb));
baselineDb.close();

console.log(`\n${"report".padEnd(34)} ${"ours".padStart(9)} ${"no index".padStart(9)}  speed-up`);
for (const [name, ms] of Object.entries(ours)) {
  const base = baseline[name]!;
  console.log(`${name.padEnd(34)} ${`${ms.toFixed(1)} ms`.padStart(9)} ${`${base.toFixed(1)} ms`.padStart(9)}  ${(base / ms).toFixed(1)}x`);
}
rmSync(dir, { recursive: true, force: true });
