// Requests-per-minute per key, as a sliding-window log: a request is admitted when fewer than `limit` requests
// of the same key were admitted in the 60 s before it. Exact (never over-admits: decisions are synchronous on
// one thread), O(1) amortised per request, and memory bounded by the limit per active key.
export const WINDOW_MS = 60_000;

export interface RateDecision {
  allowed: boolean;
  limit: number;
  remaining: number;
  /** Unix seconds when the oldest admitted request leaves the window (a slot frees). */
  resetAt: number;
  /** Seconds to wait before a retry can succeed; 0 when allowed. */
  retryAfter: number;
}

class Window {
  stamps: Float64Array;
  head = 0;
  size = 0;

  constructor(capacity: number) {
    this.stamps = new Float64Array(capacity);
  }

  oldest(): number {
    return this.stamps[this.head]!;
  }

  newest(): number {
    return this.stamps[(this.head + this.size - 1) % this.stamps.length]!;
  }

  dropBefore(cutoff: number): void {
    while (this.size > 0 && this.oldest() <= cutoff) {
      this.head = (this.head + 1) % this.stamps.length;
      this.size--;
    }
  }

  push(at: number): void {
    this.stamps[(this.head + this.size) % this.stamps.length] = at;
    this.size++;
  }

  /** A limit changed (the operator edited the key): keep the newest stamps that still fit. */
  resize(capacity: number): void {
    const kept = Math.min(this.size, capacity);
    const next = new Float64Array(capacity);
    for (let i = 0; i < kept; i++) next[i] = this.stamps[(this.head + this.size - kept + i) % this.stamps.length]!;
    this.stamps = next;
    this.head = 0;
    this.size = kept;
  }
}

export class RateLimiter {
  private readonly windows = new Map<string, Window>();
  private lastSweep = 0;

  constructor(private readonly now: () => number = Date.now) {}

  check(keyId: string, limit: number): RateDecision {
    const now = this.now();
    this.sweep(now);
    let window = this.windows.get(keyId);
    if (!window) {
      window = new Window(limit);
      this.windows.set(keyId, window);
    } else if (window.stamps.length !== limit) {
      window.resize(limit);
    }
    window.dropBefore(now - WINDOW_MS);
    const allowed = window.size < limit;
    if (allowed) window.push(now);
    const freesAt = window.size > 0 ? window.oldest() + WINDOW_MS : now;
    return {
      allowed,
      limit,
      remaining: limit - window.size,
      resetAt: Math.ceil(freesAt / 1000),
      retryAfter: allowed ? 0 : Math.max(1, Math.ceil((freesAt - now) / 1000)),
    };
  }

  /** Gives back a request's slot (it was refused later for a reason that should not cost the caller). */
  refund(keyId: string): void {
    const window = this.windows.get(keyId);
    if (window && window.size > 0) window.size--;
  }

  // Forget keys idle for a whole window so memory follows active keys only.
  private sweep(now: number): void {
    if (now - this.lastSweep < WINDOW_MS) return;
    this.lastSweep = now;
    for (const [keyId, window] of this.windows) {
      if (window.size === 0 || window.newest() <= now - WINDOW_MS) this.windows.delete(keyId);
    }
  }
}
