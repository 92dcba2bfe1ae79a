// Human durations for flags such as --expires 30d and --grace 1h.
const UNITS: Record<string, number> = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };

export class DurationError extends Error {}

/** "90s", "15m", "1h", "30d", "2w" → milliseconds. */
export function parseDuration(text: string, what = "duration"): number {
  const match = /^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$/i.exec(text);
  if (!match) throw new DurationError(`${what} must look like 90s, 15m, 1h, 30d or 2w, got '${text}'`);
  const ms = Number(match[1]) * UNITS[match[2]!.toLowerCase()]!;
  if (!Number.isFinite(ms) || ms <= 0 || ms > 100 * 365 * 86_400_000) {
    throw new DurationError(`${what} must be more than zero and at most 100 years, got '${text}'`);
  }
  return Math.round(ms);
}
