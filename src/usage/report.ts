// Usage reports over calendar periods: totals, groups, and per-day series for charts.
import type { UsageFilter, UsageGroup, UsageGrouping, UsageStore, UsageTotals } from "../store/usage.ts";
import { periodRange, type Period } from "../util/period.ts";

export interface DayTotals extends UsageTotals {
  /** The day's date in the report's timezone, YYYY-MM-DD. */
  date: string;
}

export interface UsageReport {
  period: Period;
  timezone: string;
  start: string;
  end: string;
  project_id: string | null;
  key_id: string | null;
  totals: UsageTotals;
  days: DayTotals[];
}

export function dateIn(ms: number, timeZone: string): string {
  // en-CA formats dates as YYYY-MM-DD.
  return new Intl.DateTimeFormat("en-CA", { timeZone, year: "numeric", month: "2-digit", day: "2-digit" }).format(new Date(ms));
}

/** The days of the period containing `now`, each as [start, end) in unix ms. */
export function daysOf(period: Period, now: number, timeZone: string): { start: number; end: number }[] {
  const { start, end } = periodRange(period, now, timeZone);
  const days: { start: number; end: number }[] = [];
  // Step by noon-to-noon probes so DST days (23 or 25 hours) land in the right calendar day.
  for (let cursor = start; cursor < end; ) {
    const day = periodRange("day", cursor + 12 * 3_600_000, timeZone);
    days.push({ start: Math.max(day.start, start), end: Math.min(day.end, end) });
    cursor = day.end;
  }
  return days;
}

export function usageReport(
  usage: UsageStore,
  options: { period: Period; timezone: string; projectId?: string; keyId?: string; now?: number },
): UsageReport {
  const now = options.now ?? Date.now();
  const { start, end } = periodRange(options.period, now, options.timezone);
  const base: UsageFilter = { projectId: options.projectId, keyId: options.keyId };
  return {
    period: options.period,
    timezone: options.timezone,
    start: new Date(start).toISOString(),
    end: new Date(end).toISOString(),
    project_id: options.projectId ?? null,
    key_id: options.keyId ?? null,
    totals: usage.totals({ ...base, since: start, until: end }),
    days: daysOf(options.period, now, options.timezone).map((day) => ({
      date: dateIn(day.start, options.timezone),
      ...usage.totals({ ...base, since: day.start, until: day.end }),
    })),
  };
}

export function groupedReport(
  usage: UsageStore,
  by: UsageGrouping,
  options: { period: Period; timezone: string; projectId?: string; keyId?: string; now?: number },
): { period: Period; timezone: string; start: string; end: string; group_by: UsageGrouping; groups: UsageGroup[] } {
  const { start, end } = periodRange(options.period, options.now ?? Date.now(), options.timezone);
  return {
    period: options.period,
    timezone: options.timezone,
    start: new Date(start).toISOString(),
    end: new Date(end).toISOString(),
    group_by: by,
    groups: usage.grouped({ projectId: options.projectId, keyId: options.keyId, since: start, until: end }, by),
  };
}
