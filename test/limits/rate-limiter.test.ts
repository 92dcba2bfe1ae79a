// The per-key requests-per-minute limiter, driven by an injected clock: no sleeping, every instant chosen.
import { describe, expect, test } from "bun:test";
import { RateLimiter, WINDOW_MS } from "../../src/limits/rate-limiter.ts";

/** A clock the test moves by hand. Starts at a whole second well after the epoch, like Date.now(). */
function manualClock(start = 1_800_000_000_000) {
  let now = start;
  return {
    now: () => now,
    set: (ms: number) => void (now = start + ms),
    start,
  };
}

const seconds = (ms: number) => Math.ceil(ms / 1000);

describe("RateLimiter", () => {
  test("the window is one minute", () => {
    expect(WINDOW_MS).toBe(60_000);
  });

  test("admits exactly `limit` requests in a minute, counting remaining down to 0", () => {
    const clock = manualClock();
    const limiter = new RateLimiter(clock.now);
    const remaining: number[] = [];
    for (let i = 0; i < 5; i++) {
      clock.set(i * 1000);
      const decision = limiter.check("k", 5);
      expect(decision.allowed).toBe(true);
      expect(decision.limit).toBe(5);
      expect(decision.retryAfter).toBe(0);
      remaining.push(decision.remaining);
    }
    expect(remaining).toEqual([4, 3, 2, 1, 0]);
    clock.set(5000);
    const refused = limiter.check("k", 5);
    expect(refused).toMatchObject({ allowed: false, limit: 5, remaining: 0 });
  });

  test("a refusal says when the oldest request leaves the window (reset, retry-after)", () => {
    const clock = manualClock();
    const limiter = new RateLimiter(clock.now);
    clock.set(0);
    limiter.check("k", 2);
    clock.set(10_000);
    limiter.check("k", 2);
    clock.set(25_500);
    const refused = limiter.check("k", 2);
    expect(refused.allowed).toBe(false);
    // The request at t=0 frees its slot at t=60 s: 34.5 s from now, rounded up.
    expect(refused.retryAfter).toBe(35);
    expect(refused.resetAt).toBe(seconds(clock.start + 60_000));
  });

  test("reset of an allowed request is when its window's oldest request expires, in unix seconds", () => {
    const clock = manualClock(1_800_000_000_250);
    const limiter = new RateLimiter(clock.now);
    const first = limiter.check("k", 3);
    expect(first.resetAt).toBe(seconds(clock.start + 60_000));
    clock.set(20_000);
    const second = limiter.check("k", 3);
    expect(second.resetAt).toBe(first.resetAt); // still governed by the first request
    // Unix seconds, not milliseconds.
    expect(second.resetAt).toBeLessThan(10_000_000_000);
  });

  test("the window slides: a slot frees exactly one minute after the request that took it", () => {
    const clock = manualClock();
    const limiter = new RateLimiter(clock.now);
    for (const at of [0, 10_000, 20_000]) {
      clock.set(at);
      expect(limiter.check("k", 3).allowed).toBe(true);
    }
    clock.set(59_999);
    expect(limiter.check("k", 3).allowed).toBe(false);
    clock.set(60_000); // the t=0 request is now a full minute old
    const admitted = limiter.check("k", 3);
    expect(admitted.allowed).toBe(true);
    expect(admitted.remaining).toBe(0);
    clock.set(60_001);
    const refused = limiter.check("k", 3);
    expect(refused.allowed).toBe(false);
    // Next slot: the t=10 s request leaves at t=70 s.
    expect(refused.retryAfter).toBe(10);
    expect(refused.resetAt).toBe(seconds(clock.start + 70_000));
    clock.set(70_000);
    expect(limiter.check("k", 3).allowed).toBe(true);
  });

  test("refused requests do not take slots (a caller hammering while limited is not punished further)", () => {
    const clock = manualClock();
    const limiter = new RateLimiter(clock.now);
    clock.set(0);
    expect(limiter.check("k", 1).allowed).toBe(true);
    for (let t = 1_000; t < 60_000; t += 1_000) {
      clock.set(t);
      expect(limiter.check("k", 1).allowed).toBe(false);
    }
    clock.set(60_000);
    expect(limiter.check("k", 1).allowed).toBe(true);
  });

  test("after a whole idle minute the full limit is available again", () => {
    const clock = manualClock();
    const limiter = new RateLimiter(clock.now);
    for (let i = 0; i < 4; i++) limiter.check("k", 4);
    expect(limiter.check("k", 4).allowed).toBe(false);
    clock.set(120_000);
    const decision = limiter.check("k", 4);
    expect(decision).toMatchObject({ allowed: true, remaining: 3, retryAfter: 0 });
  });

  test("keys are limited independently", () => {
    const clock = manualClock();
    const limiter = new RateLimiter(clock.now);
    expect(limiter.check("a", 1).allowed).toBe(true);
    expect(limiter.check("a", 1).allowed).toBe(false);
    expect(limiter.check("b", 1)).toMatchObject({ allowed: true, remaining: 0 });
  });

  test("raising the limit admits more at once, counting what was already admitted", () => {
    const clock = manualClock();
    const limiter = new RateLimiter(clock.now);
    for (let i = 0; i < 3; i++) {
      clock.set(i * 1000);
      expect(limiter.check("k", 3).allowed).toBe(true);
    }
    clock.set(3000);
    expect(limiter.check("k", 3).allowed).toBe(false);
    const raised = limiter.check("k", 5);
    expect(raised).toMatchObject({ allowed: true, limit: 5, remaining: 1 });
    expect(limiter.check("k", 5)).toMatchObject({ allowed: true, remaining: 0 });
    expect(limiter.check("k", 5).allowed).toBe(false);
    // The oldest admitted request (t=0) still governs the reset after the resize.
    expect(limiter.check("k", 5).resetAt).toBe(seconds(clock.start + 60_000));
  });

  test("lowering the limit refuses at once when the window already holds that many", () => {
    const clock = manualClock();
    const limiter = new RateLimiter(clock.now);
    for (let i = 0; i < 5; i++) {
      clock.set(i * 1000);
      limiter.check("k", 10);
    }
    clock.set(10_000);
    const lowered = limiter.check("k", 2);
    expect(lowered).toMatchObject({ allowed: false, limit: 2, remaining: 0 });
    // Of the requests at 0..4 s, the two newest (3 s, 4 s) already fill the lower limit: the 3 s one frees at 63 s.
    expect(lowered.retryAfter).toBe(53);
    clock.set(62_999);
    expect(limiter.check("k", 2).allowed).toBe(false);
    clock.set(63_000);
    expect(limiter.check("k", 2).allowed).toBe(true);
  });

  test("refund gives back the slot of a request refused later for another reason", () => {
    const clock = manualClock();
    const limiter = new RateLimiter(clock.now);
    limiter.check("k", 2);
    limiter.check("k", 2);
    expect(limiter.check("k", 2).allowed).toBe(false);
    limiter.refund("k");
    expect(limiter.check("k", 2)).toMatchObject({ allowed: true, remaining: 0 });
  });

  test("retry-after is never 0 on a refusal, even a millisecond before the slot frees", () => {
    const clock = manualClock();
    const limiter = new RateLimiter(clock.now);
    limiter.check("k", 1);
    clock.set(59_999);
    const refused = limiter.check("k", 1);
    expect(refused.allowed).toBe(false);
    expect(refused.retryAfter).toBe(1);
  });

  test("a burst far beyond the limit at one instant admits exactly the limit", () => {
    const limiter = new RateLimiter(manualClock().now);
    const allowed = Array.from({ length: 1000 }, () => limiter.check("k", 50)).filter((d) => d.allowed).length;
    expect(allowed).toBe(50);
  });
});
