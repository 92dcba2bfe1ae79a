// The budgets table: spending caps in USD per key or per project, per calendar period.
import type { Database } from "bun:sqlite";
import type { Period } from "../util/period.ts";

export type BudgetScope = "key" | "project";

export interface Budget {
  scope: BudgetScope;
  subject: string;
  amount_usd: number;
  period: Period;
  soft_ratio: number;
  updated_at: number;
}

export class BudgetStore {
  private readonly bySubject;

  constructor(private readonly db: Database) {
    this.bySubject = db.query<Budget, [string, string]>("SELECT * FROM budgets WHERE scope = ? AND subject = ?");
  }

  get(scope: BudgetScope, subject: string): Budget | null {
    return this.bySubject.get(scope, subject);
  }

  set(budget: Omit<Budget, "updated_at">): void {
    this.db
      .query(
        `INSERT INTO budgets (scope, subject, amount_usd, period, soft_ratio, updated_at)
         VALUES ($scope, $subject, $amount_usd, $period, $soft_ratio, $updated_at)
         ON CONFLICT (scope, subject) DO UPDATE SET amount_usd = excluded.amount_usd, period = excluded.period,
           soft_ratio = excluded.soft_ratio, updated_at = excluded.updated_at`,
      )
      .run({ ...budget, updated_at: Date.now() });
  }

  clear(scope: BudgetScope, subject: string): boolean {
    return this.db.query("DELETE FROM budgets WHERE scope = ? AND subject = ?").run(scope, subject).changes > 0;
  }

  list(): Budget[] {
    return this.db.query<Budget, []>("SELECT * FROM budgets ORDER BY scope, subject").all();
  }
}
