// Calendar periods (src/util/period.ts): day, week (from Monday) and month as [start, end) unix-ms ranges,
// aligned to midnight in an IANA timezone, DST days included. Unit tests: no binary, no database.
import { describe, expect, test } from "bun:test";
import { PERIODS, isPeriod, periodRange, type Period } from "../../src/util/period.ts";

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const utc = (iso: string) => Date.parse(iso);
const iso = (ms: number) => new Date(ms).toISOString();
const range = (period: Period, at: string, zone?: string) => {
  const { start, end } = periodRange(period, utc(at), zone);
  return { start: iso(start), end: iso(end), hours: (end - start) / HOUR };
};

// Independent of the code under test: local calendar fields of an instant, through Intl directly.
const formatters = new Map<string, Intl.DateTimeFormat>();
function local(ms: number, zone: string): { date: string; time: string; weekday: string } {
  let format = formatters.get(zone);
  if (!format) {
    format = new Intl.DateTimeFormat("en-US", {
      timeZone: zone,
      hourCycle: "h23",
      year: "numeric",
      month: "2-digit",
      day: "2-digit",
      hour: "2-digit",
      minute: "2-digit",
      weekday: "short",
    });
    formatters.set(zone, format);
  }
  const parts: Record<string, string> = {};
  for (const part of format.formatToParts(new Date(ms))) parts[part.type] = part.value;
  return { date: `${parts.year}-${parts.month}-${parts.day}`, time: `${parts.hour}:${parts.minute}`, weekday: parts.weekday! };
}

describe("periodRange in UTC (the default zone)", () => {
  test("day: midnight to midnight", () => {
    expect(range("day", "2026-11-24T20:45:00Z")).toEqual({ start: "2026-11-24T00:00:00.000Z", end: "2026-11-25T00:00:00.000Z", hours: 24 });
    expect(range("day", "2026-11-24T20:45:00Z", "UTC")).toEqual(range("day", "2026-11-24T20:45:00Z"));
  });

  test("the bounds are half-open: midnight starts a day, the millisecond before it ends the previous one", () => {
    expect(range("day", "2026-11-24T00:00:00.000Z").start).toBe("2026-11-24T00:00:00.000Z");
    expect(range("day", "2026-11-23T23:59:59.999Z")).toEqual({ start: "2026-11-23T00:00:00.000Z", end: "2026-11-24T00:00:00.000Z", hours: 24 });
  });

  test("week: starts on Monday 00:00, whatever the day asked about", () => {
    const week = { start: "2026-11-23T00:00:00.000Z", end: "2026-11-30T00:00:00.000Z", hours: 168 };
    expect(new Date(utc(week.start)).getUTCDay()).toBe(1); // Monday
    for (const at of ["2026-11-23T00:00:00Z", "2026-11-24T20:45:00Z", "2026-11-26T12:00:00Z", "2026-11-29T23:59:59.999Z"]) {
      expect(range("week", at)).toEqual(week);
    }
    // Sunday belongs to the week that started six days before, not to the next one.
    expect(range("week", "2026-11-22T10:00:00Z").start).toBe("2026-11-16T00:00:00.000Z");
    expect(range("week", "2026-11-30T00:00:00Z").start).toBe("2026-11-30T00:00:00.000Z");
  });

  test("week across a month and a year boundary", () => {
    // 2026-12-31 is a Thursday; its week runs Monday 2026-12-28 to Monday 2027-01-04.
    expect(range("week", "2026-12-31T12:00:00Z")).toEqual({ start: "2026-12-28T00:00:00.000Z", end: "2027-01-04T00:00:00.000Z", hours: 168 });
    expect(range("week", "2027-01-03T23:00:00Z")).toEqual(range("week", "2026-12-28T00:00:00Z"));
  });

  test("month: the 1st to the 1st, of every length", () => {
    expect(range("month", "2026-11-24T20:45:00Z")).toEqual({ start: "2026-11-01T00:00:00.000Z", end: "2026-12-01T00:00:00.000Z", hours: 30 * 24 });
    expect(range("month", "2026-12-31T23:59:59.999Z")).toEqual({ start: "2026-12-01T00:00:00.000Z", end: "2027-01-01T00:00:00.000Z", hours: 31 * 24 });
    expect(range("month", "2027-02-14T00:00:00Z").hours).toBe(28 * 24);
    expect(range("month", "2028-02-29T12:00:00Z")).toEqual({ start: "2028-02-01T00:00:00.000Z", end: "2028-03-01T00:00:00.000Z", hours: 29 * 24 });
    expect(range("month", "2026-01-01T00:00:00Z").start).toBe("2026-01-01T00:00:00.000Z");
  });
});

describe("periodRange in other zones", () => {
  test("23:30 UTC is the same day in UTC but the next day in Tokyo (UTC+9)", () => {
    const at = "2026-11-24T23:30:00Z";
    expect(range("day", at, "UTC")).toEqual({ start: "2026-11-24T00:00:00.000Z", end: "2026-11-25T00:00:00.000Z", hours: 24 });
    // 08:30 on the 25th in Tokyo: that day began at 15:00 UTC on the 24th.
    expect(range("day", at, "Asia/Tokyo")).toEqual({ start: "2026-11-24T15:00:00.000Z", end: "2026-11-25T15:00:00.000Z", hours: 24 });
  });

  test("Tokyo: weeks start at Monday 00:00 local, months on the 1st local", () => {
    // Sunday 2026-11-29 20:00 UTC is Monday 2026-11-30 05:00 in Tokyo: a new week there, not yet in UTC.
    expect(range("week", "2026-11-29T20:00:00Z", "Asia/Tokyo").start).toBe("2026-11-29T15:00:00.000Z");
    expect(range("week", "2026-11-29T20:00:00Z", "UTC").start).toBe("2026-11-23T00:00:00.000Z");
    // 2026-11-30 16:00 UTC is already December 1st in Tokyo.
    expect(range("month", "2026-11-30T16:00:00Z", "Asia/Tokyo")).toEqual({ start: "2026-11-30T15:00:00.000Z", end: "2026-12-31T15:00:00.000Z", hours: 31 * 24 });
  });

  test("zones west of UTC and with half- and quarter-hour offsets", () => {
    expect(range("day", "2026-11-25T03:00:00Z", "America/Los_Angeles")).toEqual({ start: "2026-11-24T08:00:00.000Z", end: "2026-11-25T08:00:00.000Z", hours: 24 });
    expect(range("day", "2026-11-24T12:00:00Z", "Asia/Kolkata")).toEqual({ start: "2026-11-23T18:30:00.000Z", end: "2026-11-24T18:30:00.000Z", hours: 24 });
    expect(range("day", "2026-11-24T12:00:00Z", "Asia/Kathmandu")).toEqual({ start: "2026-11-23T18:15:00.000Z", end: "2026-11-24T18:15:00.000Z", hours: 24 });
  });

  test("DST spring forward: America/New_York 2026-03-08 is a 23-hour day", () => {
    // Midnight EST (-5) to midnight EDT (-4).
    expect(range("day", "2026-03-08T12:00:00Z", "America/New_York")).toEqual({ start: "2026-03-08T05:00:00.000Z", end: "2026-03-09T04:00:00.000Z", hours: 23 });
    // Just before and after the 02:00 jump, and the last instant of the day: the same day.
    for (const at of ["2026-03-08T06:59:59Z", "2026-03-08T07:00:00Z", "2026-03-09T03:59:59.999Z"]) {
      expect(range("day", at, "America/New_York").hours).toBe(23);
    }
    // The days around it are ordinary.
    expect(range("day", "2026-03-07T12:00:00Z", "America/New_York")).toEqual({ start: "2026-03-07T05:00:00.000Z", end: "2026-03-08T05:00:00.000Z", hours: 24 });
    expect(range("day", "2026-03-09T12:00:00Z", "America/New_York")).toEqual({ start: "2026-03-09T04:00:00.000Z", end: "2026-03-10T04:00:00.000Z", hours: 24 });
    // The week and the month holding it are an hour short.
    expect(range("week", "2026-03-08T12:00:00Z", "America/New_York")).toEqual({ start: "2026-03-02T05:00:00.000Z", end: "2026-03-09T04:00:00.000Z", hours: 167 });
    expect(range("month", "2026-03-15T12:00:00Z", "America/New_York")).toEqual({ start: "2026-03-01T05:00:00.000Z", end: "2026-04-01T04:00:00.000Z", hours: 31 * 24 - 1 });
  });

  test("DST fall back: America/New_York 2026-11-01 is a 25-hour day", () => {
    expect(range("day", "2026-11-01T12:00:00Z", "America/New_York")).toEqual({ start: "2026-11-01T04:00:00.000Z", end: "2026-11-02T05:00:00.000Z", hours: 25 });
    // 01:30 happens twice that night; both belong to November 1st.
    expect(range("day", "2026-11-01T05:30:00Z", "America/New_York").hours).toBe(25);
    expect(range("day", "2026-11-01T06:30:00Z", "America/New_York").hours).toBe(25);
    expect(range("month", "2026-11-15T12:00:00Z", "America/New_York")).toEqual({ start: "2026-11-01T04:00:00.000Z", end: "2026-12-01T05:00:00.000Z", hours: 30 * 24 + 1 });
  });

  test("Europe/London changes at 01:00 UTC: March 29 2026 is 23 hours, October 25 is 25", () => {
    expect(range("day", "2026-03-29T12:00:00Z", "Europe/London")).toEqual({ start: "2026-03-29T00:00:00.000Z", end: "2026-03-29T23:00:00.000Z", hours: 23 });
    expect(range("day", "2026-10-25T12:00:00Z", "Europe/London")).toEqual({ start: "2026-10-24T23:00:00.000Z", end: "2026-10-26T00:00:00.000Z", hours: 25 });
  });

  test("a zone whose clocks skip midnight itself (America/Santiago, 2026-09-06 00:00 -> 01:00): each day starts at its own first instant", () => {
    // Saturday 5 September is a whole 24-hour day: 00:00 -04 until the clocks jump at its end.
    expect(range("day", "2026-09-05T12:00:00Z", "America/Santiago")).toEqual({ start: "2026-09-05T04:00:00.000Z", end: "2026-09-06T04:00:00.000Z", hours: 24 });
    // 23:30 on Saturday night (03:30 UTC) is still Saturday.
    expect(range("day", "2026-09-06T03:30:00Z", "America/Santiago").start).toBe("2026-09-05T04:00:00.000Z");
    // Sunday 6 September has no midnight: it begins at 01:00 -03 (04:00 UTC) and lasts 23 hours.
    expect(range("day", "2026-09-06T12:00:00Z", "America/Santiago")).toEqual({ start: "2026-09-06T04:00:00.000Z", end: "2026-09-07T03:00:00.000Z", hours: 23 });
  });

  // Properties checked against Intl directly, for instants every 5 h 7 min over fourteen months (so every hour of
  // the day is visited) in zones with DST at different hours, half-hour DST, and DST at midnight.
  const ZONES = ["UTC", "Asia/Tokyo", "America/New_York", "Europe/London", "Australia/Lord_Howe", "Pacific/Chatham", "America/Havana", "America/Santiago"];
  for (const zone of ZONES) {
    test(`properties over 2026 in ${zone}: the range holds the instant and starts and ends on calendar boundaries`, () => {
      const failures: string[] = [];
      for (let at = utc("2025-12-01T00:00:00Z"); at < utc("2027-02-01T00:00:00Z"); at += 5 * HOUR + 7 * 60_000) {
        const here = local(at, zone);
        for (const period of PERIODS) {
          const { start, end } = periodRange(period, at, zone);
          const first = local(start, zone);
          const last = local(end - 1, zone);
          const problems = [
            !(start <= at && at < end) && "does not hold the instant",
            local(start - 1, zone).date === first.date && "start is not the first instant of its day",
            local(end, zone).date === last.date && "end is not the first instant of a day",
            period === "day" && first.date !== here.date && "day starts on another date",
            period === "day" && last.date !== here.date && "day ends on another date",
            period === "week" && first.weekday !== "Mon" && "week does not start on Monday",
            period === "week" && last.weekday !== "Sun" && "week does not end on Sunday",
            period === "week" && Math.abs(end - start - 7 * DAY) > 2 * HOUR && "week is not 7 days",
            period === "month" && !first.date.endsWith("-01") && "month does not start on the 1st",
            period === "month" && first.date.slice(0, 7) !== here.date.slice(0, 7) && "month is another month",
          ].filter(Boolean);
          if (problems.length) failures.push(`${period} at ${iso(at)} (${here.date} ${here.time}): ${problems.join(", ")} -> [${iso(start)}, ${iso(end)})`);
        }
      }
      expect(failures).toEqual([]);
    });
  }
});

describe("period names", () => {
  test("day, week and month, nothing else", () => {
    expect([...PERIODS]).toEqual(["day", "week", "month"]);
    for (const name of PERIODS) expect(isPeriod(name)).toBe(true);
    for (const name of ["", "Day", "MONTH", "year", "weekly", "7d", " day"]) expect(isPeriod(name)).toBe(false);
  });
});
