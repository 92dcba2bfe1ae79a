// claude-api usage summary | by-project | by-model | by-key | export
import { defineCommand, type ArgsDef } from "citty";
import { resolveConfig } from "../../src/config.ts";
import { openStore } from "../../src/store/db.ts";
import { UsageStore, type UsageGrouping, type UsageTotals } from "../../src/store/usage.ts";
import { groupedReport, usageReport } from "../../src/usage/report.ts";
import { PERIODS, isPeriod, type Period } from "../../src/util/period.ts";
import { parseSince } from "../../src/util/since.ts";
import { UserError, dbArg, jsonArg, money, printJson, rejectUnknownFlags, table } from "./_shared.ts";

const scopeArgs = {
  ...dbArg,
  period: { type: "string", description: "day | week (from Monday) | month (default month)", valueHint: "PERIOD" },
  "project-id": { type: "string", description: "only this project", valueHint: "ID" },
  key: { type: "string", description: "only this key (its id)", valueHint: "ID" },
  timezone: { type: "string", description: "IANA zone the periods are aligned to (default UTC, or CLAUDE_API_TIMEZONE)", valueHint: "ZONE" },
  ...jsonArg,
} as const satisfies ArgsDef;

type ScopeArgs = { db?: string; period?: string; "project-id"?: string; key?: string; timezone?: string };

function openUsage(args: ScopeArgs) {
  const config = resolveConfig({ dbPath: args.db, timezone: args.timezone });
  const period = args.period ?? "month";
  if (!isPeriod(period)) throw new UserError(`--period must be one of ${PERIODS.join(", ")}, got '${period}'`);
  const store = openStore(config.dbPath);
  return {
    usage: new UsageStore(store.db),
    options: { period: period as Period, timezone: config.timezone, projectId: args["project-id"] || undefined, keyId: args.key || undefined },
  };
}

const int = (n: number) => n.toLocaleString("en-US");

function scopeLabel(options: { projectId?: string; keyId?: string }): string {
  const parts = [options.projectId ? `project ${options.projectId}` : "", options.keyId ? `key ${options.keyId}` : ""].filter(Boolean);
  return parts.length ? parts.join(", ") : "all projects";
}

function bar(value: number, max: number, width = 30): string {
  if (max <= 0 || value <= 0) return "";
  const cells = (value / max) * width;
  const full = Math.floor(cells);
  const parts = ["", "▏", "▎", "▍", "▌", "▋", "▊", "▉"];
  return "█".repeat(full) + (parts[Math.round((cells - full) * 7)] ?? "");
}

const summary = defineCommand({
  meta: { name: "summary", description: "Requests, tokens, cost and errors for a period, with a per-day cost chart" },
  args: scopeArgs,
  run({ args, rawArgs }) {
    rejectUnknownFlags(rawArgs, scopeArgs);
    const { usage, options } = openUsage(args);
    const report = usageReport(usage, options);
    if (args.json) return printJson(report);
    const t: UsageTotals = report.totals;
    const lines = [
      `Usage this ${report.period} (${report.start.slice(0, 10)} to ${report.end.slice(0, 10)}, ${report.timezone}), ${scopeLabel(options)}`,
      `  requests       ${int(t.requests)} (${int(t.errors)} errors)`,
      `  input tokens   ${int(t.input_tokens)}`,
      `  output tokens  ${int(t.output_tokens)}`,
      `  cache tokens   ${int(t.cache_creation_tokens)} written, ${int(t.cache_read_tokens)} read`,
      `  cost           ${money(t.cost_usd)}`,
    ];
    // The chart is for people: drawn on a terminal only, so pipes and scripts get stable text.
    if (process.stdout.isTTY && report.days.length > 1) {
      const max = Math.max(...report.days.map((d) => d.cost_usd));
      lines.push("", "Cost per day");
      for (const day of report.days) {
        const weekday = new Date(`${day.date}T12:00:00Z`).toLocaleDateString("en-US", { weekday: "short", timeZone: "UTC" });
        lines.push(`  ${weekday} ${day.date}  ${bar(day.cost_usd, max).padEnd(31)} ${money(day.cost_usd)}`);
      }
    }
    process.stdout.write(`${lines.join("\n")}\n`);
  },
});

function groupCommand(by: UsageGrouping, name: string, heading: string) {
  return defineCommand({
    meta: { name, description: `Usage per ${heading.toLowerCase()} for a period, sorted by cost` },
    args: scopeArgs,
    run({ args, rawArgs }) {
      rejectUnknownFlags(rawArgs, scopeArgs);
      const { usage, options } = openUsage(args);
      const report = groupedReport(usage, by, options);
      if (args.json) return printJson(report);
      if (report.groups.length === 0) {
        process.stdout.write(`No usage this ${report.period} (${scopeLabel(options)}).\n`);
        return;
      }
      process.stdout.write(
        `Usage this ${report.period} (${report.start.slice(0, 10)} to ${report.end.slice(0, 10)}, ${report.timezone}) by ${heading.toLowerCase()}\n` +
          `${table(
            [heading.toUpperCase(), "REQUESTS", "ERRORS", "INPUT", "OUTPUT", "CACHE R/W", "COST"],
            report.groups.map((g) => [
              g.group || "-",
              int(g.requests),
              int(g.errors),
              int(g.input_tokens),
              int(g.output_tokens),
              `${int(g.cache_read_tokens)}/${int(g.cache_creation_tokens)}`,
              money(g.cost_usd),
            ]),
          )}\n`,
      );
    },
  });
}

const exportArgs = {
  ...dbArg,
  since: { type: "string", description: "only rows from then on: a date (YYYY-MM-DD, UTC), an ISO 8601 time or a duration back (7d)", valueHint: "WHEN" },
  format: { type: "string", description: "csv (default) | json (one object per line)", valueHint: "FORMAT" },
  "project-id": { type: "string", description: "only this project", valueHint: "ID" },
  key: { type: "string", description: "only this key (its id)", valueHint: "ID" },
} as const satisfies ArgsDef;

export const USAGE_COLUMNS = [
  "id", "created_at", "request_id", "key_id", "project_id", "endpoint", "model", "status", "http_status",
  "input_tokens", "output_tokens", "cache_creation_tokens", "cache_read_tokens", "cost_usd", "duration_ms", "error",
] as const;

function csvCell(value: unknown): string {
  if (value === null || value === undefined) return "";
  const text = String(value);
  return /[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

const exportCommand = defineCommand({
  meta: { name: "export", description: "Every usage row, for spreadsheets and billing" },
  args: exportArgs,
  run({ args, rawArgs }) {
    rejectUnknownFlags(rawArgs, exportArgs);
    const format = args.format ?? "csv";
    if (format !== "csv" && format !== "json") throw new UserError(`--format must be csv or json, got '${format}'`);
    const since = args.since === undefined ? undefined : parseSince(args.since);
    const config = resolveConfig({ dbPath: args.db });
    const usage = new UsageStore(openStore(config.dbPath).db);
    const out: string[] = [];
    const write = (line: string) => {
      out.push(line);
      if (out.length >= 1000) process.stdout.write(`${out.splice(0).join("\n")}\n`);
    };
    if (format === "csv") write(USAGE_COLUMNS.join(","));
    for (const row of usage.rows({ since, projectId: args["project-id"] || undefined, keyId: args.key || undefined })) {
      const record = { ...row, created_at: new Date(row.created_at).toISOString() } as Record<string, unknown>;
      write(format === "csv" ? USAGE_COLUMNS.map((c) => csvCell(record[c])).join(",") : JSON.stringify(Object.fromEntries(USAGE_COLUMNS.map((c) => [c, record[c]]))));
    }
    if (out.length) process.stdout.write(`${out.join("\n")}\n`);
  },
});

export const usageCommand = defineCommand({
  meta: { name: "usage", description: "Who spent what: summaries, breakdowns and exports of metered usage" },
  subCommands: {
    summary,
    "by-project": groupCommand("project", "by-project", "Project"),
    "by-model": groupCommand("model", "by-model", "Model"),
    "by-key": groupCommand("key", "by-key", "Key"),
    export: exportCommand,
  },
});
