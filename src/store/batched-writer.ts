// Rows queued in memory and written in one transaction every few hundred milliseconds (or when enough wait), so
// a request never waits on the disk. A failed write keeps the rows and retries: usage is billing data and audit
// is evidence, neither may be dropped. Readers call flush() first so what they see is complete.
import type { Database } from "bun:sqlite";

export interface BatchedWriterOptions<T> {
  db: Database;
  /** 0 writes each row at once (the CLI, the library); the server batches. */
  delayMs: number;
  maxBatch: number;
  write: (row: T) => void;
  onError?: (error: unknown) => void;
}

export class BatchedWriter<T> {
  private queue: T[] = [];
  private timer: ReturnType<typeof setTimeout> | undefined;

  constructor(private readonly options: BatchedWriterOptions<T>) {}

  add(row: T): void {
    this.queue.push(row);
    if (this.options.delayMs === 0 || this.queue.length >= this.options.maxBatch) this.flush();
    else this.timer ??= setTimeout(() => this.flush(), this.options.delayMs);
  }

  /** Writes what is queued; false if the database refused it (it stays queued and is retried). Never throws. */
  flush(): boolean {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    if (this.queue.length === 0) return true;
    const batch = this.queue;
    this.queue = [];
    try {
      this.options.db.transaction(() => {
        for (const row of batch) this.options.write(row);
      })();
      return true;
    } catch (error) {
      this.queue = batch.concat(this.queue);
      this.timer = setTimeout(() => this.flush(), Math.max(this.options.delayMs, 200) * 5);
      this.options.onError?.(error);
      return false;
    }
  }

  get pending(): number {
    return this.queue.length;
  }
}

/** `WHERE a = ? AND b >= ?` from the conditions whose value is given. */
export function whereClause(conditions: readonly [sql: string, value: string | number | undefined][]): {
  where: string;
  params: (string | number)[];
} {
  const given = conditions.filter((condition): condition is [string, string | number] => condition[1] !== undefined);
  return {
    where: given.length ? `WHERE ${given.map(([sql]) => sql).join(" AND ")}` : "",
    params: given.map(([, value]) => value),
  };
}
