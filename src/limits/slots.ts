// Concurrency bounds: a global cap on live `claude` processes with a bounded FIFO queue, and a per-key cap.
// A slot is handed back through an idempotent release, so every path (success, error, timeout, disconnect)
// can release without double counting.
export type Release = () => void;

export class QueueFullError extends Error {}
export class QueueAbortedError extends Error {}

function once(fn: () => void): Release {
  let done = false;
  return () => {
    if (done) return;
    done = true;
    fn();
  };
}

interface Waiter {
  grant: (release: Release) => void;
  fail: (error: Error) => void;
}

export class ProcessSlots {
  private liveCount = 0;
  private readonly waiters: Waiter[] = [];

  constructor(
    readonly max: number,
    readonly maxQueue: number,
  ) {}

  get live(): number {
    return this.liveCount;
  }

  get queued(): number {
    return this.waiters.length;
  }

  /** Resolves with a release once a process may start; throws QueueFullError at once when the queue is full. */
  acquire(signal?: AbortSignal): Promise<Release> {
    if (signal?.aborted) return Promise.reject(new QueueAbortedError("request cancelled while queued"));
    if (this.liveCount < this.max) {
      this.liveCount++;
      return Promise.resolve(this.releaser());
    }
    if (this.waiters.length >= this.maxQueue) {
      return Promise.reject(new QueueFullError(`all ${this.max} Claude Code processes are busy and ${this.maxQueue} requests are waiting`));
    }
    return new Promise<Release>((resolve, reject) => {
      const waiter: Waiter = {
        grant: (release) => {
          signal?.removeEventListener("abort", onAbort);
          resolve(release);
        },
        fail: reject,
      };
      const onAbort = () => {
        const index = this.waiters.indexOf(waiter);
        if (index >= 0) this.waiters.splice(index, 1);
        reject(new QueueAbortedError("request cancelled while queued"));
      };
      signal?.addEventListener("abort", onAbort, { once: true });
      this.waiters.push(waiter);
    });
  }

  private releaser(): Release {
    return once(() => {
      const next = this.waiters.shift();
      // Hand the slot straight to the next waiter: the live count stays the same.
      if (next) next.grant(this.releaser());
      else this.liveCount--;
    });
  }
}

export class KeySlots {
  private readonly running = new Map<string, number>();

  /** A release if the key has fewer than `max` requests running, else null. */
  tryAcquire(keyId: string, max: number): Release | null {
    const count = this.running.get(keyId) ?? 0;
    if (count >= max) return null;
    this.running.set(keyId, count + 1);
    return once(() => {
      const left = (this.running.get(keyId) ?? 1) - 1;
      if (left <= 0) this.running.delete(keyId);
      else this.running.set(keyId, left);
    });
  }

  runningFor(keyId: string): number {
    return this.running.get(keyId) ?? 0;
  }

  get total(): number {
    let sum = 0;
    for (const count of this.running.values()) sum += count;
    return sum;
  }
}
