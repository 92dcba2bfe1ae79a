// "--since" values: a duration back from now (24h, 7d), a calendar date (YYYY-MM-DD, UTC midnight) or an
// ISO 8601 time. Impossible dates (2026-02-30) are refused, not rolled over.
import { parseDuration } from "./duration.ts";

export class SinceError extends Error {}

export function parseSince(text: string, now = Date.now()): number {
  const value = text.trim();
  if (/^\d+(\.\d+)?\s*[smhdw]$/i.test(value)) return now - parseDuration(value, "--since");
  if (/^\d{4}-\d{2}-\d{2}$/.test(value)) {
    const at = Date.parse(`${value}T00:00:00Z`);
    if (!Number.isFinite(at) || new Date(at).toISOString().slice(0, 10) !== value) throw new SinceError(`--since must be a real date: there is no '${value}'`);
    return at;
  }
  const at = /^\d{4}-\d{2}-\d{2}T/.test(value) ? Date.parse(value) : Number.NaN;
  if (!Number.isFinite(at)) throw new SinceError(`--since must be a date (YYYY-MM-DD), an ISO 8601 time or a duration back (24h, 7d), got '${text}'`);
  return at;
}
