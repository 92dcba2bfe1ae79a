// `claude-api usage summary | by-project | by-model | by-key | export` through the real binary. Usage rows come from
// real chat requests (the real claude CLI against the fake model, through a running gateway) and from rows written
// straight into the SQLite file to cover several days, projects, models and keys. Every figure the CLI prints is
// checked against the rows themselves.
import { Database } from "bun:sqlite";
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { BIN, CLAUDE_BIN, bearer, cli, createKey, isolatedEnv, startGateway, tempDir, type CliResult, type CreatedKey, type Gateway } from "../support/harness.ts";
import { startFakeAnthropic, turn, type FakeAnthropic } from "../support/fake-anthropic.ts";
import type { UsageRow, UsageTotals } from "../../src/store/usage.ts";
import type { UsageResponse } from "../../src/http/routes/usage.ts";

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

type Row = UsageRow;

type Totals = UsageTotals;

let fake: FakeAnthropic;
let gateway: Gateway;
let db: string;
let alpha: CreatedKey;
let beta: CreatedKey;
const NASTY_ERROR = 'upstream said "no", then quit\nsecond line, with a comma';

// Calendar periods in UTC, computed here without the code under test.
function utcRanges(now = Date.now()) {
  const d = new Date(now);
  const [y, m, day] = [d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate()];
  const mondayOffset = (d.getUTCDay() + 6) % 7;
  return {
    day: { start: Date.UTC(y, m, day), end: Date.UTC(y, m, day + 1) },
    week: { start: Date.UTC(y, m, day - mondayOffset), end: Date.UTC(y, m, day - mondayOffset + 7) },
    month: { start: Date.UTC(y, m, 1), end: Date.UTC(y, m + 1, 1) },
  };
}

function allRows(): Row[] {
  const handle = new Database(db, { readonly: true });
  try {
    return handle.query<Row, []>("SELECT * FROM usage ORDER BY created_at, id").all();
  } finally {
    handle.close();
  }
}

function totalsOf(rows: Row[]): Totals {
  const sum = (field: keyof Row) => rows.reduce((total, r) => total + (r[field] as number), 0);
  return {
    requests: rows.length,
    errors: rows.filter((r) => r.status !== "success").length,
    input_tokens: sum("input_tokens"),
    output_tokens: sum("output_tokens"),
    cache_creation_tokens: sum("cache_creation_tokens"),
    cache_read_tokens: sum("cache_read_tokens"),
    cost_usd: sum("cost_usd"),
  };
}

function expectTotals(actual: Totals, expected: Totals) {
  const { cost_usd, ...counts } = actual;
  const { cost_usd: expectedCost, ...expectedCounts } = expected;
  expect(counts).toEqual(expectedCounts);
  expect(cost_usd).toBeCloseTo(expectedCost, 9);
}

const within = (rows: Row[], range: { start: number; end: number }) => rows.filter((r) => r.created_at >= range.start && r.created_at < range.end);

function usage(args: string[], env: Record<string, string> = {}): Promise<CliResult> {
  return cli(["usage", ...args], { env: { HOME: tempDir(), CLAUDE_API_DB: db, ...env } });
}

async function usageJson<T>(args: string[], env: Record<string, string> = {}): Promise<T> {
  const result = await usage([...args, "--json"], env);
  expect(result.stderr).toBe("");
  expect(result.code).toBe(0);
  return JSON.parse(result.stdout) as T;
}

function expectOneLineError(result: CliResult, pattern: RegExp) {
  expect(result.code).not.toBe(0);
  expect(result.stdout).toBe("");
  const lines = result.stderr.trimEnd().split("\n");
  expect(lines).toHaveLength(1);
  expect(lines[0]!).toMatch(/^claude-api: /);
  expect(lines[0]!).toMatch(pattern);
  expect(result.stderr).not.toMatch(/\n\s+at |\.ts:\d+|unexpected error/);
}

/** RFC 4180: commas, quoted fields with doubled quotes, newlines inside quotes, CRLF or LF records. */
function parseCsv(text: string): string[][] {
  const records: string[][] = [];
  let record: string[] = [];
  let field = "";
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        field += '"';
        i++;
      } else if (c === '"') quoted = false;
      else field += c;
    } else if (c === '"' && field === "") quoted = true;
    else if (c === ",") {
      record.push(field);
      field = "";
    } else if (c === "\n" || c === "\r") {
      if (c === "\r" && text[i + 1] === "\n") i++;
      record.push(field);
      records.push(record);
      record = [];
      field = "";
    } else field += c;
  }
  if (quoted) throw new Error("unterminated quoted field");
  if (field !== "" || record.length > 0) {
    record.push(field);
    records.push(record);
  }
  return records;
}

function chat(key: string, body: Record<string, unknown>): Promise<Response> {
  return fetch(`${gateway.url}/v1/chat/completions`, {
    method: "POST",
    headers: { ...bearer(key), "content-type": "application/json" },
    body: JSON.stringify({ messages: [{ role: "user", content: "hello" }], ...body }),
  });
}

async function waitForRows(count: number) {
  const deadline = Date.now() + 10_000;
  while (allRows().length < count) {
    if (Date.now() > deadline) throw new Error(`expected ${count} usage rows, have ${allRows().length}`);
    await Bun.sleep(50);
  }
}

/** 23:30 UTC on a day that is in the current month both in UTC and in Tokyo (where it is 08:30 the next day). */
function lateEveningInBothMonths(now = Date.now()): number {
  const utcMonth = utcRanges(now).month;
  const tokyoNow = new Date(now + 9 * HOUR);
  const tokyoMonth = {
    start: Date.UTC(tokyoNow.getUTCFullYear(), tokyoNow.getUTCMonth(), 1) - 9 * HOUR,
    end: Date.UTC(tokyoNow.getUTCFullYear(), tokyoNow.getUTCMonth() + 1, 1) - 9 * HOUR,
  };
  for (let t = utcMonth.start - DAY + 23.5 * HOUR; t < utcMonth.end + DAY; t += DAY) {
    if (t >= utcMonth.start && t < utcMonth.end && t >= tokyoMonth.start && t < tokyoMonth.end) return t;
  }
  throw new Error("no such day");
}

beforeAll(async () => {
  fake = await startFakeAnthropic();
  gateway = await startGateway({
    args: ["--claude-bin", CLAUDE_BIN],
    env: { HOME: tempDir(), ANTHROPIC_API_KEY: "dummy", ANTHROPIC_BASE_URL: fake.url, CLAUDE_CODE_MAX_RETRIES: "0" },
  });
  db = gateway.db;
  alpha = await createKey(db, "alpha", "pro");
  beta = await createKey(db, "beta", "pro");

  // Three real requests: opus with cache tokens, sonnet at an exact $0.60, and a failed one (metered at $0).
  fake.route((req) => (req.prompt() === "opus please" ? turn.text("big answer", { usage: { input_tokens: 100_000, output_tokens: 5_000, cache_creation_input_tokens: 40_000, cache_read_input_tokens: 500_000 } }) : undefined));
  fake.route((req) => (req.prompt() === "sonnet please" ? turn.text("answer", { usage: { input_tokens: 250_000, output_tokens: 10_000 } }) : undefined));
  fake.route((req) => (req.prompt() === "fail please" ? turn.error(500, "api_error", "boom") : undefined));
  const responses = await Promise.all([
    chat(alpha.key, { model: "opus", messages: [{ role: "user", content: "opus please" }] }),
    chat(beta.key, { model: "sonnet", messages: [{ role: "user", content: "sonnet please" }] }),
    chat(alpha.key, { model: "sonnet", messages: [{ role: "user", content: "fail please" }] }),
  ]);
  expect(responses.map((r) => r.status)).toEqual([200, 200, 502]);
  const sonnet = (await responses[1]!.json()) as { cost: number };
  expect(sonnet.cost).toBe(0.6);
  await waitForRows(3);

  // Rows written straight into the file: several days, projects, models and keys, and one outside the month.
  const now = Date.now();
  const { day, week, month } = utcRanges(now);
  const handle = new Database(db);
  const insert = handle.query(
    `INSERT INTO usage (request_id, key_id, project_id, endpoint, model, input_tokens, output_tokens, cache_creation_tokens,
       cache_read_tokens, cost_usd, duration_ms, status, http_status, error, created_at)
     VALUES (?, ?, ?, 'chat.completions', ?, ?, ?, ?, ?, ?, 1234, ?, ?, ?, ?)`,
  );
  const rows: [string, string, string, string | null, number, number, number, number, number, string, number | null, string | null, number][] = [
    ["seed-1", "gammaKy1", "gamma", "claude-haiku-5-5", 1_000_000, 20_000, 0, 0, 2.25, "success", 200, null, month.start + HOUR],
    ["seed-2", "gammaKy1", "gamma", "claude-haiku-5-5", 500, 50, 0, 0, 0.125, "error", 502, NASTY_ERROR, month.start + 2 * DAY + 5 * HOUR],
    ["seed-3", alpha.id, "alpha", "claude-sonnet-5-5", 31_250, 0, 0, 0, 0.0625, "success", 200, null, day.start + 60_000],
    ["seed-4", beta.id, "beta", "claude-opus-5-5", 375_000, 0, 0, 0, 1.5, "timeout", 504, "The request timed out after 300 seconds", week.start + 90_000],
    ["seed-5", "gammaKy2", "gamma", null, 0, 0, 0, 0, 0, "cancelled", 499, "The request was cancelled", month.end - 1],
    ["seed-6", "deltaKy1", "delta", "claude-opus-5-5", 1, 1, 0, 0, 50, "success", 200, null, month.start - 12 * HOUR],
    ["seed-7", "tzKey001", "tz", "claude-sonnet-5-5", 1, 1, 0, 0, 0.75, "success", 200, null, lateEveningInBothMonths(now)],
  ];
  for (const r of rows) insert.run(...r);
  handle.close();
}, 60_000);

afterAll(async () => {
  await gateway?.stop();
  await fake?.stop();
});

interface Summary {
  period: string;
  timezone: string;
  start: string;
  end: string;
  project_id: string | null;
  key_id: string | null;
  totals: Totals;
  days: (Totals & { date: string })[];
}

interface Grouped {
  period: string;
  group_by: string;
  start: string;
  end: string;
  groups: (Totals & { group: string })[];
}

describe("usage summary", () => {
  test("--json (default period month): totals equal the sum of this month's rows, and the days add up to them", async () => {
    const rows = allRows();
    expect(rows).toHaveLength(10);
    const { month } = utcRanges();
    const summary = await usageJson<Summary>(["summary"]);
    expect(summary.period).toBe("month");
    expect(summary.timezone).toBe("UTC");
    expect(summary.start).toBe(new Date(month.start).toISOString());
    expect(summary.end).toBe(new Date(month.end).toISOString());
    expect(summary.project_id).toBeNull();
    expect(summary.key_id).toBeNull();
    const inMonth = within(rows, month);
    expectTotals(summary.totals, totalsOf(inMonth));
    // The real requests are all there: opus with its cache tokens, the $0.60 sonnet one, the failed one.
    expect(summary.totals.cache_read_tokens).toBeGreaterThanOrEqual(500_000);
    expect(summary.totals.errors).toBeGreaterThanOrEqual(4);

    const days = Math.round((month.end - month.start) / DAY);
    expect(summary.days.map((d) => d.date)).toEqual(Array.from({ length: days }, (_, i) => new Date(month.start + i * DAY).toISOString().slice(0, 10)));
    for (const entry of summary.days) {
      const start = Date.parse(`${entry.date}T00:00:00Z`);
      const { date, ...totals } = entry;
      expectTotals(totals, totalsOf(within(rows, { start, end: start + DAY })));
    }
  });

  test("--period day and --period week (weeks start on Monday)", async () => {
    const rows = allRows();
    const { day, week } = utcRanges();
    const today = await usageJson<Summary>(["summary", "--period", "day"]);
    expect(today.period).toBe("day");
    expect(today.start).toBe(new Date(day.start).toISOString());
    expect(today.days).toHaveLength(1);
    expectTotals(today.totals, totalsOf(within(rows, day)));
    expect(today.totals.requests).toBeGreaterThanOrEqual(4); // the three real requests and seed-3

    const thisWeek = await usageJson<Summary>(["summary", "--period=week"]);
    expect(thisWeek.start).toBe(new Date(week.start).toISOString());
    expect(new Date(thisWeek.start).getUTCDay()).toBe(1);
    expect(thisWeek.end).toBe(new Date(week.end).toISOString());
    expect(thisWeek.days).toHaveLength(7);
    expectTotals(thisWeek.totals, totalsOf(within(rows, week)));
  });

  test("--project-id and --key narrow the totals", async () => {
    const rows = within(allRows(), utcRanges().month);
    const gamma = await usageJson<Summary>(["summary", "--project-id", "gamma"]);
    expect(gamma.project_id).toBe("gamma");
    expectTotals(gamma.totals, totalsOf(rows.filter((r) => r.project_id === "gamma")));
    expect(gamma.totals.cost_usd).toBeCloseTo(2.375, 9);

    const byKey = await usageJson<Summary>(["summary", "--key", alpha.id]);
    expect(byKey.key_id).toBe(alpha.id);
    expectTotals(byKey.totals, totalsOf(rows.filter((r) => r.key_id === alpha.id)));

    const both = await usageJson<Summary>(["summary", "--project-id", "beta", "--key", alpha.id]);
    expect(both.totals.requests).toBe(0);
    expect(both.totals.cost_usd).toBe(0);
  });

  test("text output when piped: the figures, no chart", async () => {
    const rows = within(allRows(), utcRanges().month);
    const t = totalsOf(rows);
    const result = await usage(["summary"]);
    expect(result.code).toBe(0);
    expect(result.stderr).toBe("");
    const n = (value: number) => value.toLocaleString("en-US");
    expect(result.stdout).toMatch(/^Usage this month \(\d{4}-\d{2}-01 to \d{4}-\d{2}-01, UTC\), all projects\n/);
    expect(result.stdout).toContain(`requests       ${n(t.requests)} (${n(t.errors)} errors)\n`);
    expect(result.stdout).toContain(`input tokens   ${n(t.input_tokens)}\n`);
    expect(result.stdout).toContain(`output tokens  ${n(t.output_tokens)}\n`);
    expect(result.stdout).toContain(`cache tokens   ${n(t.cache_creation_tokens)} written, ${n(t.cache_read_tokens)} read\n`);
    expect(result.stdout).toContain(`cost           $${t.cost_usd.toFixed(2)}\n`);
    expect(result.stdout).not.toContain("Cost per day");
    expect(result.stdout).not.toMatch(/[█▏▎▍▌▋▊▉]/);
    expect(result.stdout.trimEnd().split("\n")).toHaveLength(6);
  });

  test("on a terminal (a pty through script -qc) a per-day cost chart follows; --json stays pure JSON there", async () => {
    const onTerminal = async (args: string) => {
      const proc = Bun.spawn(["script", "-qec", `${BIN} usage ${args}`, "/dev/null"], {
        env: isolatedEnv(tempDir(), { CLAUDE_API_DB: db }),
        stdin: "pipe",
        stdout: "pipe",
        stderr: "pipe",
      });
      const [out, code] = await Promise.all([new Response(proc.stdout).text(), proc.exited]);
      expect(code).toBe(0);
      return out.replaceAll("\r\n", "\n");
    };
    const { month } = utcRanges();
    const rows = within(allRows(), month);
    const text = await onTerminal("summary");
    expect(text).toContain("Cost per day");
    const chart = text.split("Cost per day\n")[1]!.trimEnd().split("\n");
    expect(chart).toHaveLength(Math.round((month.end - month.start) / DAY));
    for (const line of chart) expect(line).toMatch(/^  (Mon|Tue|Wed|Thu|Fri|Sat|Sun) \d{4}-\d{2}-\d{2}  .* \$\d+\.\d{2,4}$/);
    // The most expensive day has the longest bar (30 cells); days without cost have none.
    const costOf = (date: string) => totalsOf(rows.filter((r) => new Date(r.created_at).toISOString().startsWith(date))).cost_usd;
    const dates = chart.map((line) => line.slice(6, 16));
    const top = dates.reduce((best, date) => (costOf(date) > costOf(best) ? date : best));
    expect(chart[dates.indexOf(top)]!).toContain("█".repeat(30));
    for (const [i, date] of dates.entries()) if (costOf(date) === 0) expect(chart[i]!).not.toMatch(/[█▏▎▍▌▋▊▉]/);

    const json = await onTerminal("summary --json");
    const parsed = JSON.parse(json) as Summary;
    expectTotals(parsed.totals, totalsOf(rows));
  });

  test("periods follow CLAUDE_API_TIMEZONE (or --timezone): a row at 23:30 UTC is on the next day in Tokyo", async () => {
    const at = lateEveningInBothMonths();
    const utcDate = new Date(at).toISOString().slice(0, 10);
    const tokyoDate = new Date(at + 9 * HOUR).toISOString().slice(0, 10);
    expect(tokyoDate).not.toBe(utcDate);
    const dayOf = (summary: Summary, date: string) => summary.days.find((d) => d.date === date);

    const inUtc = await usageJson<Summary>(["summary", "--project-id", "tz"]);
    expect(inUtc.totals.cost_usd).toBe(0.75);
    expect(dayOf(inUtc, utcDate)!.cost_usd).toBe(0.75);
    expect(dayOf(inUtc, tokyoDate)?.cost_usd ?? 0).toBe(0);

    for (const inTokyo of [
      await usageJson<Summary>(["summary", "--project-id", "tz"], { CLAUDE_API_TIMEZONE: "Asia/Tokyo" }),
      await usageJson<Summary>(["summary", "--project-id", "tz", "--timezone", "Asia/Tokyo"]),
    ]) {
      expect(inTokyo.timezone).toBe("Asia/Tokyo");
      expect(inTokyo.start.slice(11)).toBe("15:00:00.000Z"); // midnight in Tokyo
      expect(inTokyo.totals.cost_usd).toBe(0.75);
      expect(dayOf(inTokyo, tokyoDate)!.cost_usd).toBe(0.75);
      expect(dayOf(inTokyo, utcDate)?.cost_usd ?? 0).toBe(0);
    }

    // A flag beats the environment.
    const flagWins = await usageJson<Summary>(["summary", "--project-id", "tz", "--timezone", "UTC"], { CLAUDE_API_TIMEZONE: "Asia/Tokyo" });
    expect(flagWins.timezone).toBe("UTC");
    expect(dayOf(flagWins, utcDate)!.cost_usd).toBe(0.75);
  });

  test("an empty database reports zeros", async () => {
    const empty = await cli(["usage", "summary", "--json"], { db: `${tempDir()}/empty.db` });
    expect(empty.code).toBe(0);
    expect((JSON.parse(empty.stdout) as Summary).totals).toEqual({
      requests: 0,
      errors: 0,
      input_tokens: 0,
      output_tokens: 0,
      cache_creation_tokens: 0,
      cache_read_tokens: 0,
      cost_usd: 0,
    });
  });
});

describe("usage by-project, by-model, by-key", () => {
  const groupings = [
    ["by-project", "project", (r: Row) => r.project_id],
    ["by-model", "model", (r: Row) => r.model ?? ""],
    ["by-key", "key", (r: Row) => r.key_id],
  ] as const;

  for (const [command, by, groupOf] of groupings) {
    test(`${command} --json: one group per ${by}, each the sum of its rows, sorted by cost`, async () => {
      const rows = within(allRows(), utcRanges().month);
      const report = await usageJson<Grouped>([command]);
      expect(report.group_by).toBe(by);
      expect(report.period).toBe("month");
      const expected = new Map<string, Row[]>();
      for (const r of rows) expected.set(groupOf(r), [...(expected.get(groupOf(r)) ?? []), r]);
      expect(report.groups.map((g) => g.group).sort()).toEqual([...expected.keys()].sort());
      for (const group of report.groups) {
        const { group: name, ...totals } = group;
        expectTotals(totals, totalsOf(expected.get(name)!));
      }
      const costs = report.groups.map((g) => g.cost_usd);
      expect(costs).toEqual([...costs].sort((a, b) => b - a));
    });
  }

  test("by-project in text: a table, highest cost first; outside-the-period projects absent", async () => {
    const rows = within(allRows(), utcRanges().month);
    const result = await usage(["by-project"]);
    expect(result.code).toBe(0);
    const lines = result.stdout.trimEnd().split("\n");
    expect(lines[0]!).toMatch(/^Usage this month .* by project$/);
    expect(lines[1]!).toMatch(/^PROJECT\s+REQUESTS\s+ERRORS\s+INPUT\s+OUTPUT\s+CACHE R\/W\s+COST$/);
    const order = lines.slice(2).map((line) => line.split(/\s+/)[0]);
    const costOf = (p: string) => totalsOf(rows.filter((r) => r.project_id === p)).cost_usd;
    expect(order).toEqual(["alpha", "beta", "gamma", "tz"].sort((a, b) => costOf(b) - costOf(a)));
    expect(result.stdout).not.toContain("delta");
    const gamma = lines.find((line) => line.startsWith("gamma"))!;
    expect(gamma).toMatch(/\s\$2\.38$|\s\$2\.37$/); // $2.375
  });

  test("by-model --project-id, by-key --period day, and nothing to show", async () => {
    const month = within(allRows(), utcRanges().month);
    const gammaModels = await usageJson<Grouped>(["by-model", "--project-id", "gamma"]);
    expect(gammaModels.groups.map((g) => [g.group, g.requests])).toEqual([
      ["claude-haiku-5-5", 2],
      ["", 1],
    ]);
    const today = await usageJson<Grouped>(["by-key", "--period", "day"]);
    const todayRows = within(allRows(), utcRanges().day);
    expect(today.groups.reduce((n, g) => n + g.requests, 0)).toBe(todayRows.length);
    expect(month.length).toBeGreaterThan(todayRows.length);
    const none = await usage(["by-key", "--project-id", "nobody"]);
    expect(none.code).toBe(0);
    expect(none.stdout).toBe("No usage this month (project nobody).\n");
  });
});

describe("usage export", () => {
  const COLUMNS = [
    "id", "created_at", "request_id", "key_id", "project_id", "endpoint", "model", "status", "http_status",
    "input_tokens", "output_tokens", "cache_creation_tokens", "cache_read_tokens", "cost_usd", "duration_ms", "error",
  ];

  test("CSV: every row, parsing back (quotes, commas, newlines) to exactly what is stored", async () => {
    const rows = allRows();
    const result = await usage(["export"]);
    expect(result.code).toBe(0);
    expect(result.stderr).toBe("");
    const records = parseCsv(result.stdout);
    expect(records[0]).toEqual(COLUMNS);
    expect(records).toHaveLength(rows.length + 1);
    for (const [i, record] of records.slice(1).entries()) {
      expect(record).toHaveLength(COLUMNS.length);
      const stored = rows[i]!;
      const expected = COLUMNS.map((column) => {
        const value = stored[column as keyof Row];
        if (column === "created_at") return new Date(value as number).toISOString();
        return value === null ? "" : String(value);
      });
      expect(record).toEqual(expected);
    }
    expect(records.find((r) => r[2] === "seed-2")![15]).toBe(NASTY_ERROR);
  });

  test("the CSV cost column sums to the summary's cost; --since filters by date or ISO time", async () => {
    const { month, day } = utcRanges();
    const monthDate = new Date(month.start).toISOString().slice(0, 10);
    const summary = await usageJson<Summary>(["summary"]);

    const sinceMonth = parseCsv((await usage(["export", "--since", monthDate, "--format", "csv"])).stdout).slice(1);
    const costColumn = COLUMNS.indexOf("cost_usd");
    expect(sinceMonth.reduce((total, r) => total + Number(r[costColumn]), 0)).toBeCloseTo(summary.totals.cost_usd, 9);
    // Nothing after the month holds rows, so "since the 1st" is exactly the month: same rows as the summary counts.
    expect(sinceMonth).toHaveLength(summary.totals.requests);
    expect(sinceMonth.some((r) => r[2] === "seed-6")).toBe(false);

    const all = parseCsv((await usage(["export"])).stdout).slice(1);
    expect(all.some((r) => r[2] === "seed-6")).toBe(true);
    expect(all.reduce((total, r) => total + Number(r[costColumn]), 0)).toBeCloseTo(totalsOf(allRows()).cost_usd, 9);

    const sinceToday = parseCsv((await usage(["export", `--since=${new Date(day.start).toISOString()}`])).stdout).slice(1);
    expect(sinceToday.map((r) => r[2])).toEqual(allRows().filter((r) => r.created_at >= day.start).map((r) => r.request_id));
    const future = await usage(["export", "--since", "2999-01-01"]);
    expect(future.stdout).toBe(`${COLUMNS.join(",")}\n`);
  });

  test("--format json: one JSON object per line, the same rows", async () => {
    const rows = allRows();
    const result = await usage(["export", "--format", "json"]);
    expect(result.code).toBe(0);
    const lines = result.stdout.trimEnd().split("\n");
    expect(lines).toHaveLength(rows.length);
    const objects = lines.map((line) => JSON.parse(line) as Record<string, unknown>);
    for (const [i, object] of objects.entries()) {
      expect(Object.keys(object)).toEqual(COLUMNS);
      expect(object).toEqual({ ...rows[i]!, created_at: new Date(rows[i]!.created_at).toISOString() });
    }
  });

  test("--project-id and --key filter the export", async () => {
    const gamma = parseCsv((await usage(["export", "--project-id", "gamma"])).stdout).slice(1);
    expect(gamma.map((r) => r[2]).sort()).toEqual(["seed-1", "seed-2", "seed-5"]);
    const key = parseCsv((await usage(["export", "--key", beta.id, "--format", "csv"])).stdout).slice(1);
    expect(new Set(key.map((r) => r[3]))).toEqual(new Set([beta.id]));
    expect(key.length).toBe(allRows().filter((r) => r.key_id === beta.id).length);
  });
});

describe("bad input: one clear line, non-zero exit, nothing on stdout", () => {
  const cases: [string, string[], RegExp][] = [
    ["an unknown --period", ["summary", "--period", "year"], /--period must be one of day, week, month, got 'year'/],
    ["an unknown --period (by-model)", ["by-model", "--period", "fortnight"], /--period .*'fortnight'/],
    ["--period without a value", ["summary", "--period"], /--period needs a value/],
    ["an unknown --format", ["export", "--format", "xml"], /--format must be csv or json, got 'xml'/],
    ["a --since that is not a date", ["export", "--since", "yesterday"], /--since must be a date .*'yesterday'/],
    ["a --since with month 13", ["export", "--since", "2026-13-01"], /--since .*'2026-13-01'/],
    ["a --since on a day the month does not have", ["export", "--since", "2026-02-30"], /--since .*'2026-02-30'/],
    ["an unknown timezone", ["summary", "--timezone", "Mars/Olympus"], /unknown timezone 'Mars\/Olympus'/],
    ["an unknown flag", ["by-key", "--perod", "day"], /unknown option '--perod'/],
  ];
  for (const [name, args, pattern] of cases) {
    test(name, async () => {
      expectOneLineError(await usage(args), pattern);
    });
  }

  test("an unknown CLAUDE_API_TIMEZONE", async () => {
    expectOneLineError(await usage(["summary"], { CLAUDE_API_TIMEZONE: "Nowhere/Town" }), /unknown timezone 'Nowhere\/Town'/);
  });
});

describe("GET /v1/usage: the caller's own project over HTTP", () => {
  type HttpUsage = UsageResponse;

  async function getUsage(key: string, query = ""): Promise<Response> {
    return fetch(`${gateway.url}/v1/usage${query}`, { headers: bearer(key) });
  }

  test("defaults: this month, grouped by model, the same figures as the CLI", async () => {
    const response = await getUsage(alpha.key);
    expect(response.status).toBe(200);
    const body = (await response.json()) as HttpUsage;
    const { month } = utcRanges();
    const rows = within(allRows(), month).filter((r) => r.project_id === "alpha");
    expect(body).toMatchObject({ project_id: "alpha", period: "month", timezone: "UTC", group_by: "model" });
    expect(body.start).toBe(new Date(month.start).toISOString());
    expect(body.end).toBe(new Date(month.end).toISOString());
    expectTotals(body.totals, totalsOf(rows));
    const models = new Set(rows.map((r) => r.model ?? ""));
    expect(body.groups.map((g) => g.group).sort()).toEqual([...models].sort());
    for (const group of body.groups) {
      const { group: name, ...totals } = group;
      expectTotals(totals, totalsOf(rows.filter((r) => (r.model ?? "") === name)));
    }
    const cli = await usageJson<Summary>(["summary", "--project-id", "alpha"]);
    expectTotals(body.totals, cli.totals);
  });

  test("?project_id= (its own), &period=day|week, &group_by=key", async () => {
    const { day, week } = utcRanges();
    const today = (await (await getUsage(beta.key, "?project_id=beta&period=day&group_by=key")).json()) as HttpUsage;
    expect(today).toMatchObject({ project_id: "beta", period: "day", group_by: "key" });
    expectTotals(today.totals, totalsOf(within(allRows(), day).filter((r) => r.project_id === "beta")));
    const thisWeek = (await (await getUsage(beta.key, "?period=week&group_by=key")).json()) as HttpUsage;
    expect(thisWeek.start).toBe(new Date(week.start).toISOString());
    const weekRows = within(allRows(), week).filter((r) => r.project_id === "beta");
    expectTotals(thisWeek.totals, totalsOf(weekRows));
    expect(thisWeek.groups.map((g) => g.group)).toEqual([...new Set(weekRows.map((r) => r.key_id))]);
  });

  test("another project's id: 403 permission_error naming project_id; nothing of it is revealed", async () => {
    for (const other of ["beta", "gamma", "no-such-project"]) {
      const response = await getUsage(alpha.key, `?project_id=${other}`);
      expect(response.status).toBe(403);
      const body = (await response.json()) as { error: { type: string; message: string; param?: string } };
      expect(body.error.type).toBe("permission_error");
      expect(body.error.param).toBe("project_id");
      expect(body.error.message).not.toContain("cost");
    }
  });

  test("periods follow the server's CLAUDE_API_TIMEZONE", async () => {
    const tokyo = await startGateway({ db, args: ["--claude-bin", CLAUDE_BIN], env: { HOME: tempDir(), CLAUDE_API_TIMEZONE: "Asia/Tokyo" } });
    try {
      const tz = await createKey(db, "tz", "free");
      const body = (await (await fetch(`${tokyo.url}/v1/usage?period=day`, { headers: bearer(tz.key) })).json()) as HttpUsage;
      expect(body.timezone).toBe("Asia/Tokyo");
      expect(body.start.slice(11)).toBe("15:00:00.000Z");
      expect(Date.parse(body.end) - Date.parse(body.start)).toBe(DAY);
      const month = (await (await fetch(`${tokyo.url}/v1/usage`, { headers: bearer(tz.key) })).json()) as HttpUsage;
      expect(month.totals.cost_usd).toBe(0.75);
    } finally {
      await tokyo.stop();
    }
  });

  test("bad period or group_by: 400 naming the parameter; no key: 401", async () => {
    for (const [query, param] of [["?period=year", "period"], ["?group_by=project", "group_by"], ["?period=", "period"]] as const) {
      const response = await getUsage(alpha.key, query);
      expect(response.status).toBe(400);
      const body = (await response.json()) as { error: { type: string; param?: string } };
      expect(body.error.type).toBe("invalid_request_error");
      expect(body.error.param).toBe(param);
    }
    expect((await fetch(`${gateway.url}/v1/usage`)).status).toBe(401);
  });
});
