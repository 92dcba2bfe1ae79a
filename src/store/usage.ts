// The usage table: one row per request that reached the runner. Rows are queued in memory and written in
// batches so a response never waits on the disk; readers flush first, so what they see is complete.
import type { Database } from "bun:sqlite";
import { BatchedWriter, whereClause } from "./batched-writer.ts";

export interface UsageRecord {
  request_id: string;
  key_id: string;
  project_id: string;
  endpoint: string;
  model: string | null;
  input_tokens: number;
  output_tokens: number;
  cache_creation_tokens: number;
  cache_read_tokens: number;
  cost_usd: number;
  duration_ms: number;
  status: string;
  http_status: number | null;
  error: string | null;
  created_at: number;
}

export interface UsageFilter {
  projectId?: string;
  keyId?: string;
  since?: number;
  until?: number;
}

export interface UsageTotals {
  requests: number;
  errors: number;
  input_tokens: number;
  output_tokens: number;
  cache_creation_tokens: number;
  cache_read_tokens: number;
  cost_usd: number;
}

export interface UsageGroup extends UsageTotals {
  group: string;
}

const TOTALS = `COUNT(*) AS requests,
  COALESCE(SUM(status != 'success'), 0) AS errors,
  COALESCE(SUM(input_tokens), 0) AS input_tokens,
  COALESCE(SUM(output_tokens), 0) AS output_tokens,
  COALESCE(SUM(cache_creation_tokens), 0) AS cache_creation_tokens,
  COALESCE(SUM(cache_read_tokens), 0) AS cache_read_tokens,
  COALESCE(SUM(cost_usd), 0) AS cost_usd`;

const GROUP_COLUMNS = { model: "COALESCE(model, '')", key: "key_id", project: "project_id", endpoint: "endpoint", status: "status" } as const;
export type UsageGrouping = keyof typeof GROUP_COLUMNS;

export class UsageStore {
  private readonly writer: BatchedWriter<UsageRecord>;

  constructor(
    private readonly db: Database,
    flushDelayMs = 200,
    onError?: (error: unknown) => void,
  ) {
    const insert = db.query(
      `INSERT INTO usage (request_id, key_id, project_id, endpoint, model, input_tokens, output_tokens,
         cache_creation_tokens, cache_read_tokens, cost_usd, duration_ms, status, http_status, error, created_at)
       VALUES ($request_id, $key_id, $project_id, $endpoint, $model, $input_tokens, $output_tokens,
         $cache_creation_tokens, $cache_read_tokens, $cost_usd, $duration_ms, $status, $http_status, $error, $created_at)`,
    );
    this.writer = new BatchedWriter<UsageRecord>({
      db,
      delayMs: flushDelayMs,
      maxBatch: 256,
      onError,
      write: (row) => insert.run(row as unknown as Record<string, string | number | null>),
    });
  }

  record(row: UsageRecord): void {
    this.writer.add(row);
  }

  /** Writes queued rows; false if the database refused them (they stay queued and are retried). Never throws. */
  flush(): boolean {
    return this.writer.flush();
  }

  get pending(): number {
    return this.writer.pending;
  }

  /** Every row under the filter, oldest first, one at a time (an export of millions of rows stays small in memory). */
  *rows(filter: UsageExportFilter): Generator<UsageRow> {
    this.flush();
    const { where, params } = usageWhere(filter);
    yield* this.db.query<UsageRow, typeof params>(`SELECT * FROM usage ${where} ORDER BY created_at, id`).iterate(...params);
  }

  /** USD spent under the filter (queued rows included). */
  cost(filter: UsageFilter): number {
    this.flush();
    const { where, params } = usageWhere(filter);
    return this.db.query<{ cost: number }, typeof params>(`SELECT COALESCE(SUM(cost_usd), 0) AS cost FROM usage ${where}`).get(...params)!.cost;
  }

  totals(filter: UsageFilter): UsageTotals {
    this.flush();
    const { where, params } = usageWhere(filter);
    return this.db.query<UsageTotals, typeof params>(`SELECT ${TOTALS} FROM usage ${where}`).get(...params)!;
  }

  grouped(filter: UsageFilter, by: UsageGrouping): UsageGroup[] {
    this.flush();
    const { where, params } = usageWhere(filter);
    const column = GROUP_COLUMNS[by];
    return this.db
      .query<UsageGroup, typeof params>(`SELECT ${column} AS "group", ${TOTALS} FROM usage ${where} GROUP BY 1 ORDER BY cost_usd DESC, 1`)
      .all(...params);
  }
}

export interface UsageRow extends UsageRecord {
  id: number;
}

export interface UsageExportFilter {
  since?: number;
  projectId?: string;
  keyId?: string;
}

function usageWhere(filter: UsageFilter) {
  return whereClause([
    ["project_id = ?", filter.projectId],
    ["key_id = ?", filter.keyId],
    ["created_at >= ?", filter.since],
    ["created_at < ?", filter.until],
  ]);
}
