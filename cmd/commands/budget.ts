// Spending caps from the command line: `keys permissions KEY --budget 25 --budget-period month` and
// `projects budget P --set 100 --period month`. Both write the budgets table a running server reads.
import { resolveConfig } from "../../src/config.ts";
import { BudgetInputError, budgetStatusOf, validateBudget } from "../../src/limits/budget.ts";
import { AuditLog } from "../../src/store/audit.ts";
import { BudgetStore, type Budget, type BudgetScope } from "../../src/store/budgets.ts";
import type { Store } from "../../src/store/db.ts";
import { UsageStore } from "../../src/store/usage.ts";
import { money } from "./_shared.ts";

export interface BudgetChange {
  set?: string;
  period?: string;
  warnAt?: string;
  clear?: boolean;
}

export function changeBudget(store: Store, scope: BudgetScope, subject: string, change: BudgetChange): Budget | null {
  const budgets = new BudgetStore(store.db);
  const audit = new AuditLog(store.db);
  if (change.clear) {
    if (budgets.clear(scope, subject)) audit.record({ type: "budget_changed", [scope === "key" ? "keyId" : "projectId"]: subject, detail: { scope, cleared: true } });
    return null;
  }
  const current = budgets.get(scope, subject);
  if (change.set === undefined && change.period === undefined && change.warnAt === undefined) return current;
  if (change.set === undefined && !current) {
    throw new BudgetInputError(`no budget to change: give the amount too (--budget USD for a key, --set USD for a project)`);
  }
  const checked = validateBudget(change.set ?? current?.amount_usd, change.period ?? current?.period ?? "month", change.warnAt ?? current?.soft_ratio ?? 0.8);
  budgets.set({ scope, subject, amount_usd: checked.amount, period: checked.period, soft_ratio: checked.softRatio });
  audit.record({
    type: "budget_changed",
    [scope === "key" ? "keyId" : "projectId"]: subject,
    detail: { scope, amount_usd: checked.amount, period: checked.period, soft_ratio: checked.softRatio },
  });
  return budgets.get(scope, subject);
}

export function describeBudget(store: Store, budget: Budget | null, dbPath?: string): string {
  if (!budget) return "no budget";
  const { spent, end } = budgetStatusOf(budget, new UsageStore(store.db), resolveConfig({ dbPath }).timezone);
  return `${money(spent)} spent of ${money(budget.amount_usd)} this ${budget.period} (warns at ${Math.round(budget.soft_ratio * 100)}%, resets ${new Date(end).toISOString()})`;
}
