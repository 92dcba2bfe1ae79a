// Calendar periods (day, week starting Monday, month) in a given IANA timezone, as unix-ms ranges.
export const PERIODS = ["day", "week", "month"] as const;
export type Period = (typeof PERIODS)[number];

export function isPeriod(value: string): value is Period {
  return (PERIODS as readonly string[]).includes(value);
}

interface Parts {
  year: number;
  month: number;
  day: number;
  weekday: number; // 0 = Monday
  hour: number;
  minute: number;
  second: number;
}

const formatters = new Map<string, Intl.DateTimeFormat>();
const WEEKDAYS = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];

function partsIn(ms: number, timeZone: string): Parts {
  let format = formatters.get(timeZone);
  if (!format) {
    format = new Intl.DateTimeFormat("en-US", {
      timeZone,
      hourCycle: "h23",
      year: "numeric",
      month: "numeric",
      day: "numeric",
      weekday: "short",
      hour: "numeric",
      minute: "numeric",
      second: "numeric",
    });
    formatters.set(timeZone, format);
  }
  const out: Record<string, string> = {};
  for (const part of format.formatToParts(new Date(ms))) out[part.type] = part.value;
  return {
    year: Number(out.year),
    month: Number(out.month),
    day: Number(out.day),
    weekday: WEEKDAYS.indexOf(out.weekday ?? "Mon"),
    hour: Number(out.hour),
    minute: Number(out.minute),
    second: Number(out.second),
  };
}

/** The unix ms of a wall-clock midnight in the zone (DST-safe: corrected with the offset found there). */
function midnight(year: number, month: number, day: number, timeZone: string): number {
  const wall = Date.UTC(year, month - 1, day);
  let guess = wall;
  for (let i = 0; i < 2; i++) {
    const p = partsIn(guess, timeZone);
    const seen = Date.UTC(p.year, p.month - 1, p.day, p.hour, p.minute, p.second);
    guess += wall - seen;
  }
  // Where clocks jump forward at midnight (America/Santiago, America/Havana), 00:00 does not exist and the
  // correction lands on the evening before: the day starts at its first instant, when the local date changes.
  const p = partsIn(guess, timeZone);
  if (Date.UTC(p.year, p.month - 1, p.day) < wall) {
    guess += 86_400_000 - ((p.hour * 60 + p.minute) * 60 + p.second) * 1000;
  }
  return guess;
}

/** The period containing `now`: [start, end) in unix ms. */
export function periodRange(period: Period, now: number, timeZone = "UTC"): { start: number; end: number } {
  const p = partsIn(now, timeZone);
  if (period === "day") {
    const start = midnight(p.year, p.month, p.day, timeZone);
    const next = new Date(Date.UTC(p.year, p.month - 1, p.day + 1));
    return { start, end: midnight(next.getUTCFullYear(), next.getUTCMonth() + 1, next.getUTCDate(), timeZone) };
  }
  if (period === "week") {
    const first = new Date(Date.UTC(p.year, p.month - 1, p.day - p.weekday));
    const next = new Date(Date.UTC(p.year, p.month - 1, p.day - p.weekday + 7));
    return {
      start: midnight(first.getUTCFullYear(), first.getUTCMonth() + 1, first.getUTCDate(), timeZone),
      end: midnight(next.getUTCFullYear(), next.getUTCMonth() + 1, next.getUTCDate(), timeZone),
    };
  }
  const next = new Date(Date.UTC(p.year, p.month, 1));
  return {
    start: midnight(p.year, p.month, 1, timeZone),
    end: midnight(next.getUTCFullYear(), next.getUTCMonth() + 1, 1, timeZone),
  };
}
