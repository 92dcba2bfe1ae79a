// Usage reports (src/usage/report.ts) over a real SQLite store: totals equal the sum of the rows in the calendar
// period, per-day series cover each local day once (DST days too), groups are sorted by cost, filters apply.
import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openStore, type Store } from "../../src/store/db.ts";
import { UsageStore, type UsageRecord } from "../../src/store/usage.ts";
import { dateIn, daysOf, groupedReport, usageReport } from "../../src/usage/report.ts";

const HOUR = 3_600_000;
const at = (iso: string) => Date.parse(iso);
const dirs: string[] = [];
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

function freshStore(): { store: Store; usage: UsageStore } {
  const dir = mkdtempSync(join(tmpdir(), "claude-api-report-"));
  dirs.push(dir);
  const store = openStore(join(dir, "claude-api.db"));
  return { store, usage: new UsageStore(store.db, 10_000) };
}

let counter = 0;
function row(created: string | number, fields: Partial<UsageRecord> = {}): UsageRecord {
  return {
    request_id: `req-${++counter}`,
    key_id: "keyAAAAA",
    project_id: "alpha",
    endpoint: "chat.completions",
    model: "claude-sonnet-5-5",
    input_tokens: 100,
    output_tokens: 10,
    cache_creation_tokens: 0,
    cache_read_tokens: 0,
    cost_usd: 0.25,
    duration_ms: 1000,
    status: "success",
    http_status: 200,
    error: null,
    created_at: typeof created === "number" ? created : at(created),
    ...fields,
  };
}

const sum = (rows: UsageRecord[], field: keyof UsageRecord) => rows.reduce((total, r) => total + (r[field] as number), 0);

function expectTotalsOf(totals: Record<string, number>, rows: UsageRecord[]) {
  expect(totals.requests).toBe(rows.length);
  expect(totals.errors).toBe(rows.filter((r) => r.status !== "success").length);
  expect(totals.input_tokens).toBe(sum(rows, "input_tokens"));
  expect(totals.output_tokens).toBe(sum(rows, "output_tokens"));
  expect(totals.cache_creation_tokens).toBe(sum(rows, "cache_creation_tokens"));
  expect(totals.cache_read_tokens).toBe(sum(rows, "cache_read_tokens"));
  expect(totals.cost_usd).toBeCloseTo(sum(rows, "cost_usd"), 9);
}

describe("usageReport", () => {
  test("month totals equal the sum of the month's rows; rows on either side and at the end bound are left out", () => {
    const { usage } = freshStore();
    const inside = [
      row("2026-11-01T00:00:00.000Z", { input_tokens: 1000, output_tokens: 200, cost_usd: 1.5 }),
      row("2026-11-03T10:00:00Z", { input_tokens: 50, output_tokens: 5, cache_read_tokens: 700, cost_usd: 0.125, model: "claude-opus-5" }),
      row("2026-11-03T11:00:00Z", { status: "error", http_status: 502, error: "upstream", cost_usd: 0, input_tokens: 0, output_tokens: 0 }),
      row("2026-11-17T08:00:00Z", { cache_creation_tokens: 3000, cost_usd: 2, project_id: "beta", key_id: "keyBBBBB" }),
      row("2026-11-30T23:59:59.999Z", { status: "timeout", http_status: 504, cost_usd: 0.0625 }),
    ];
    const outside = [row("2026-10-31T23:59:59.999Z", { cost_usd: 100 }), row("2026-12-01T00:00:00.000Z", { cost_usd: 200 })];
    for (const r of [...inside, ...outside]) usage.record(r);

    const report = usageReport(usage, { period: "month", timezone: "UTC", now: at("2026-11-24T20:45:00Z") });
    expect(report.period).toBe("month");
    expect(report.timezone).toBe("UTC");
    expect(report.start).toBe("2026-11-01T00:00:00.000Z");
    expect(report.end).toBe("2026-12-01T00:00:00.000Z");
    expect(report.project_id).toBeNull();
    expect(report.key_id).toBeNull();
    expectTotalsOf(report.totals as unknown as Record<string, number>, inside);
    expect(report.totals.errors).toBe(2);
    expect(report.totals.cost_usd).toBeCloseTo(3.6875, 9);

    // One entry per day of November, in order; the days add up to the totals.
    expect(report.days.map((d) => d.date)).toEqual(Array.from({ length: 30 }, (_, i) => `2026-11-${String(i + 1).padStart(2, "0")}`));
    const byDate = Object.fromEntries(report.days.map((d) => [d.date, d]));
    expect(byDate["2026-11-01"]!.cost_usd).toBeCloseTo(1.5, 9);
    expect(byDate["2026-11-03"]!.requests).toBe(2);
    expect(byDate["2026-11-03"]!.errors).toBe(1);
    expect(byDate["2026-11-03"]!.cache_read_tokens).toBe(700);
    expect(byDate["2026-11-30"]!.requests).toBe(1);
    expect(byDate["2026-11-02"]).toMatchObject({ requests: 0, errors: 0, input_tokens: 0, cost_usd: 0 });
    for (const field of ["requests", "errors", "input_tokens", "output_tokens", "cache_creation_tokens", "cache_read_tokens"] as const) {
      expect(report.days.reduce((total, d) => total + d[field], 0)).toBe(report.totals[field]);
    }
    expect(report.days.reduce((total, d) => total + d.cost_usd, 0)).toBeCloseTo(report.totals.cost_usd, 9);
  });

  test("rows still queued in memory (not yet flushed) are counted", () => {
    const { usage } = freshStore();
    usage.record(row("2026-11-10T12:00:00Z", { cost_usd: 0.5 }));
    expect(usage.pending).toBe(1);
    const report = usageReport(usage, { period: "month", timezone: "UTC", now: at("2026-11-24T12:00:00Z") });
    expect(report.totals.requests).toBe(1);
    expect(report.totals.cost_usd).toBe(0.5);
    expect(usage.pending).toBe(0);
  });

  test("project and key filters", () => {
    const { usage } = freshStore();
    const rows = [
      row("2026-11-02T00:00:00Z", { project_id: "alpha", key_id: "keyAAAAA", cost_usd: 1 }),
      row("2026-11-02T00:00:00Z", { project_id: "alpha", key_id: "keyAAAA2", cost_usd: 2 }),
      row("2026-11-02T00:00:00Z", { project_id: "beta", key_id: "keyBBBBB", cost_usd: 4 }),
    ];
    for (const r of rows) usage.record(r);
    const now = at("2026-11-24T12:00:00Z");
    const alpha = usageReport(usage, { period: "month", timezone: "UTC", now, projectId: "alpha" });
    expect(alpha.project_id).toBe("alpha");
    expectTotalsOf(alpha.totals as unknown as Record<string, number>, rows.slice(0, 2));
    const key = usageReport(usage, { period: "month", timezone: "UTC", now, keyId: "keyAAAA2" });
    expect(key.key_id).toBe("keyAAAA2");
    expect(key.totals.cost_usd).toBe(2);
    expect(usageReport(usage, { period: "month", timezone: "UTC", now, projectId: "beta", keyId: "keyAAAAA" }).totals.requests).toBe(0);
    expect(usageReport(usage, { period: "month", timezone: "UTC", now, projectId: "nobody" }).totals).toEqual({
      requests: 0,
      errors: 0,
      input_tokens: 0,
      output_tokens: 0,
      cache_creation_tokens: 0,
      cache_read_tokens: 0,
      cost_usd: 0,
    });
  });

  test("a row at 23:30 UTC counts on its UTC day in UTC and on the next day in Asia/Tokyo", () => {
    const { usage } = freshStore();
    usage.record(row("2026-11-10T23:30:00Z", { cost_usd: 0.75 }));
    const now = at("2026-11-24T12:00:00Z");
    const inUtc = usageReport(usage, { period: "month", timezone: "UTC", now });
    const inTokyo = usageReport(usage, { period: "month", timezone: "Asia/Tokyo", now });
    const day = (r: typeof inUtc, date: string) => r.days.find((d) => d.date === date)!;
    expect(day(inUtc, "2026-11-10").cost_usd).toBe(0.75);
    expect(day(inUtc, "2026-11-11").cost_usd).toBe(0);
    expect(day(inTokyo, "2026-11-10").cost_usd).toBe(0);
    expect(day(inTokyo, "2026-11-11").cost_usd).toBe(0.75);
    expect(inTokyo.start).toBe("2026-10-31T15:00:00.000Z");
    expect(inTokyo.timezone).toBe("Asia/Tokyo");

    // The "day" period: on the 10th in UTC it is counted; asking on Tokyo's 10th it is not (it is Tokyo's 11th).
    expect(usageReport(usage, { period: "day", timezone: "UTC", now: at("2026-11-10T12:00:00Z") }).totals.requests).toBe(1);
    expect(usageReport(usage, { period: "day", timezone: "Asia/Tokyo", now: at("2026-11-10T12:00:00Z") }).totals.requests).toBe(0);
    expect(usageReport(usage, { period: "day", timezone: "Asia/Tokyo", now: at("2026-11-11T00:00:00Z") }).totals.requests).toBe(1);
  });

  test("a week runs Monday to Sunday: seven days, Monday first", () => {
    const { usage } = freshStore();
    const monday = row("2026-11-23T00:00:00Z", { cost_usd: 1 });
    const sunday = row("2026-11-29T23:59:00Z", { cost_usd: 2 });
    const previousSunday = row("2026-11-22T23:59:00Z", { cost_usd: 4 });
    for (const r of [monday, sunday, previousSunday]) usage.record(r);
    const report = usageReport(usage, { period: "week", timezone: "UTC", now: at("2026-11-26T09:00:00Z") });
    expect(report.start).toBe("2026-11-23T00:00:00.000Z");
    expect(report.end).toBe("2026-11-30T00:00:00.000Z");
    expect(report.days.map((d) => d.date)).toEqual(["2026-11-23", "2026-11-24", "2026-11-25", "2026-11-26", "2026-11-27", "2026-11-28", "2026-11-29"]);
    expect(report.totals.cost_usd).toBe(3);
    expect(report.days[0]!.cost_usd).toBe(1);
    expect(report.days[6]!.cost_usd).toBe(2);
  });

  test("the day period has exactly one day", () => {
    const { usage } = freshStore();
    usage.record(row("2026-11-24T05:00:00Z"));
    const report = usageReport(usage, { period: "day", timezone: "UTC", now: at("2026-11-24T20:00:00Z") });
    expect(report.days).toHaveLength(1);
    expect(report.days[0]!.date).toBe("2026-11-24");
    expect(report.days[0]!.requests).toBe(1);
  });

  test("DST: March 2026 in New York has 31 days, the 8th only 23 hours, and late-evening rows stay on their day", () => {
    const { usage } = freshStore();
    // 23:30 local on the 7th (EST, -5) and on the 8th (EDT, -4).
    usage.record(row("2026-03-08T04:30:00Z", { cost_usd: 1 }));
    usage.record(row("2026-03-09T03:30:00Z", { cost_usd: 2 }));
    const report = usageReport(usage, { period: "month", timezone: "America/New_York", now: at("2026-03-15T12:00:00Z") });
    expect(report.days.map((d) => d.date)).toEqual(Array.from({ length: 31 }, (_, i) => `2026-03-${String(i + 1).padStart(2, "0")}`));
    expect(report.days[6]!.cost_usd).toBe(1);
    expect(report.days[7]!.cost_usd).toBe(2);
    const spans = daysOf("month", at("2026-03-15T12:00:00Z"), "America/New_York").map((d) => (d.end - d.start) / HOUR);
    expect(spans[7]).toBe(23);
    expect(spans.filter((h) => h !== 24)).toEqual([23]);
  });

  test("where a DST change skips midnight (America/Santiago, 2026-09-06) every date of the month appears once", () => {
    const { usage } = freshStore();
    // 23:30 on Saturday 5 September, local time (-04).
    usage.record(row("2026-09-06T03:30:00Z", { cost_usd: 1 }));
    const report = usageReport(usage, { period: "month", timezone: "America/Santiago", now: at("2026-09-15T12:00:00Z") });
    expect(report.days.map((d) => d.date)).toEqual(Array.from({ length: 30 }, (_, i) => `2026-09-${String(i + 1).padStart(2, "0")}`));
    expect(report.days.find((d) => d.date === "2026-09-05")!.cost_usd).toBe(1);
  });

  test("daysOf tiles the period exactly: no gaps, no overlaps", () => {
    for (const [zone, now] of [
      ["UTC", "2026-02-10T00:00:00Z"],
      ["Asia/Tokyo", "2026-11-30T16:00:00Z"],
      ["America/New_York", "2026-11-03T12:00:00Z"],
      ["Europe/London", "2026-03-30T12:00:00Z"],
    ] as const) {
      for (const period of ["day", "week", "month"] as const) {
        const days = daysOf(period, at(now), zone);
        const report = usageReport(freshStore().usage, { period, timezone: zone, now: at(now) });
        expect(days[0]!.start).toBe(Date.parse(report.start));
        expect(days.at(-1)!.end).toBe(Date.parse(report.end));
        for (let i = 1; i < days.length; i++) expect(days[i]!.start).toBe(days[i - 1]!.end);
        expect(new Set(days.map((d) => dateIn(d.start, zone))).size).toBe(days.length);
      }
    }
  });

  test("dateIn gives the local calendar date", () => {
    expect(dateIn(at("2026-11-24T23:30:00Z"), "UTC")).toBe("2026-11-24");
    expect(dateIn(at("2026-11-24T23:30:00Z"), "Asia/Tokyo")).toBe("2026-11-25");
    expect(dateIn(at("2026-11-25T03:00:00Z"), "America/Los_Angeles")).toBe("2026-11-24");
  });
});

describe("groupedReport", () => {
  test("by project, model and key: each group sums its rows, sorted by cost (highest first)", () => {
    const { usage } = freshStore();
    const rows = [
      row("2026-11-02T00:00:00Z", { project_id: "alpha", key_id: "keyAAAAA", model: "claude-sonnet-5-5", cost_usd: 1, input_tokens: 10 }),
      row("2026-11-03T00:00:00Z", { project_id: "alpha", key_id: "keyAAAAA", model: "claude-opus-5", cost_usd: 3, input_tokens: 20 }),
      row("2026-11-04T00:00:00Z", { project_id: "beta", key_id: "keyBBBBB", model: "claude-sonnet-5-5", cost_usd: 0.5, input_tokens: 30, status: "error" }),
      row("2026-11-05T00:00:00Z", { project_id: "gamma", key_id: "keyCCCCC", model: null, cost_usd: 7, input_tokens: 40 }),
      row("2026-10-05T00:00:00Z", { project_id: "delta", key_id: "keyDDDDD", cost_usd: 99 }),
    ];
    for (const r of rows) usage.record(r);
    const now = at("2026-11-24T12:00:00Z");

    const byProject = groupedReport(usage, "project", { period: "month", timezone: "UTC", now });
    expect(byProject.group_by).toBe("project");
    expect(byProject.start).toBe("2026-11-01T00:00:00.000Z");
    expect(byProject.groups.map((g) => [g.group, g.cost_usd])).toEqual([
      ["gamma", 7],
      ["alpha", 4],
      ["beta", 0.5],
    ]);
    expect(byProject.groups[1]).toMatchObject({ requests: 2, errors: 0, input_tokens: 30 });
    expect(byProject.groups[2]).toMatchObject({ requests: 1, errors: 1 });

    const byModel = groupedReport(usage, "model", { period: "month", timezone: "UTC", now });
    expect(byModel.groups.map((g) => [g.group, g.cost_usd, g.requests])).toEqual([
      ["", 7, 1],
      ["claude-opus-5", 3, 1],
      ["claude-sonnet-5-5", 1.5, 2],
    ]);

    const byKey = groupedReport(usage, "key", { period: "month", timezone: "UTC", now, projectId: "alpha" });
    expect(byKey.groups.map((g) => [g.group, g.cost_usd])).toEqual([["keyAAAAA", 4]]);

    // The groups add up to the report's totals.
    const totals = usageReport(usage, { period: "month", timezone: "UTC", now }).totals;
    for (const report of [byProject, byModel]) {
      expect(report.groups.reduce((t, g) => t + g.requests, 0)).toBe(totals.requests);
      expect(report.groups.reduce((t, g) => t + g.cost_usd, 0)).toBeCloseTo(totals.cost_usd, 9);
    }
  });

  test("no rows: no groups", () => {
    const { usage } = freshStore();
    expect(groupedReport(usage, "model", { period: "day", timezone: "UTC", now: at("2026-11-24T00:00:00Z") }).groups).toEqual([]);
  });
});
