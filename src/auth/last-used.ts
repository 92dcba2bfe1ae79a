// "Last used" stamps without a disk write per request: remembered in memory, written in one batch now and then.
import type { KeyStore } from "../store/keys.ts";

export class LastUsedTracker {
  private pending = new Map<string, number>();
  private timer: ReturnType<typeof setInterval> | undefined;

  constructor(private readonly keys: KeyStore) {}

  mark(keyId: string, at: number): void {
    this.pending.set(keyId, at);
  }

  flush(): void {
    if (this.pending.size === 0) return;
    const batch = this.pending;
    this.pending = new Map();
    try {
      this.keys.touch(batch);
    } catch {
      // The database was busy or gone; the stamps are informational, try again on the next flush.
      for (const [id, at] of batch) if (!this.pending.has(id)) this.pending.set(id, at);
    }
  }

  start(intervalMs = 5_000): void {
    this.timer ??= setInterval(() => this.flush(), intervalMs);
    this.timer.unref?.();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.flush();
  }
}
