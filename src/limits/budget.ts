// Spending caps that hold under concurrency: a run reserves its maximum cost before it starts and settles to
// its true cost when it ends. Decisions are synchronous on one thread, so concurrent requests can never
// together pass a cap. Reservations live in memory: a restart leaves none behind.
import type { Principal } from "../auth/manager.ts";
import type { Budget, BudgetScope, BudgetStore } from "../store/budgets.ts";
import type { UsageStore } from "../store/usage.ts";
import { periodRange, type Period } from "../util/period.ts";

export class BudgetExceededError extends Error {
  constructor(
    message: string,
    readonly resetAt: number,
    readonly scope: BudgetScope,
    readonly subject: string,
  ) {
    super(message);
  }
}

export interface BudgetWarning {
  scope: BudgetScope;
  subject: string;
  /** committed (spent + reserved) / cap */
  ratio: number;
  message: string;
  /** First warning of this period for this budget (worth an audit entry). */
  first: boolean;
}

export interface Reservation {
  warnings: BudgetWarning[];
  /** Replaces the reservation with the true cost; idempotent. */
  settle(costUsd: number): void;
}

/** What a budget has spent in one period (usage rows are dated by their start, so a run counts where it began). */
interface Ledger {
  start: number;
  spent: number;
  warned: boolean;
}

// Cents for everyday amounts; more digits where cents would round a small cap or spend to $0.00.
const usd = (value: number) => `$${value.toFixed(value !== 0 && Math.abs(value) < 0.01 ? 6 : 2)}`;
const EPSILON = 1e-9;

function budgetId(budget: Budget): string {
  return `${budget.scope}:${budget.subject}:${budget.period}`;
}

export class BudgetGate {
  private readonly ledgers = new Map<string, Ledger>();
  // Kept apart from the ledgers: a run in flight across a period boundary must be released from the cap it
  // reserved against, whichever ledger is current when it ends.
  private readonly reserved = new Map<string, number>();

  constructor(
    private readonly budgets: BudgetStore,
    private readonly usage: UsageStore,
    private readonly timezone: string,
    private readonly now: () => number = Date.now,
  ) {}

  /** Reserves `maxCostUsd` against the key's and the project's caps, or throws BudgetExceededError. */
  reserve(principal: Principal, maxCostUsd: number): Reservation {
    const now = this.now();
    const applicable: { budget: Budget; id: string; ledger: Ledger; end: number }[] = [];
    for (const [scope, subject] of [["key", principal.keyId], ["project", principal.projectId]] as const) {
      const budget = this.budgets.get(scope, subject);
      if (!budget) continue;
      const { start, end } = periodRange(budget.period, now, this.timezone);
      const id = budgetId(budget);
      const ledger = this.ledger(budget, start);
      const reserved = this.reserved.get(id) ?? 0;
      if (ledger.spent + reserved + maxCostUsd > budget.amount_usd + EPSILON) {
        const label = scope === "key" ? `key ${subject}` : `project '${subject}'`;
        throw new BudgetExceededError(
          `Budget exceeded for ${label}: spent ${usd(ledger.spent)} of ${usd(budget.amount_usd)} this ${budget.period}` +
            `${reserved > 0 ? ` (${usd(reserved)} more reserved by running requests)` : ""}` +
            ` and this request may cost up to ${usd(maxCostUsd)}; the budget resets at ${new Date(end).toISOString()}`,
          end,
          scope,
          subject,
        );
      }
      applicable.push({ budget, id, ledger, end });
    }
    const warnings: BudgetWarning[] = [];
    for (const { budget, id, ledger } of applicable) {
      const reserved = (this.reserved.get(id) ?? 0) + maxCostUsd;
      this.reserved.set(id, reserved);
      const ratio = (ledger.spent + reserved) / budget.amount_usd;
      if (ratio >= budget.soft_ratio) {
        const label = budget.scope === "key" ? `key ${budget.subject}` : `project ${budget.subject}`;
        warnings.push({
          scope: budget.scope,
          subject: budget.subject,
          ratio,
          message: `${label} budget ${Math.round(ratio * 100)}% committed (${usd(ledger.spent)} spent of ${usd(budget.amount_usd)} this ${budget.period})`,
          first: !ledger.warned,
        });
        ledger.warned = true;
      }
    }
    let settled = false;
    return {
      warnings,
      settle: (costUsd: number) => {
        if (settled) return;
        settled = true;
        for (const { id, ledger } of applicable) {
          const left = (this.reserved.get(id) ?? 0) - maxCostUsd;
          if (left > EPSILON) this.reserved.set(id, left);
          else this.reserved.delete(id);
          // The cost belongs to the period the run started in; a newer ledger reads it from the usage rows.
          if (this.ledgers.get(id) === ledger) ledger.spent += costUsd;
        }
      },
    };
  }

  /** What a budget stands at now: for reports and the CLI. */
  status(budget: Budget): { spent: number; reserved: number; start: number; end: number } {
    const { start, end } = periodRange(budget.period, this.now(), this.timezone);
    const ledger = this.ledger(budget, start);
    return { spent: ledger.spent, reserved: this.reserved.get(budgetId(budget)) ?? 0, start, end };
  }

  private ledger(budget: Budget, start: number): Ledger {
    const id = budgetId(budget);
    let ledger = this.ledgers.get(id);
    if (!ledger || ledger.start !== start) {
      // New period (or first use): what was spent comes from the usage rows.
      const spent = this.usage.cost(budget.scope === "key" ? { keyId: budget.subject, since: start } : { projectId: budget.subject, since: start });
      ledger = { start, spent, warned: false };
      this.ledgers.set(id, ledger);
    }
    return ledger;
  }
}

export function budgetStatusOf(budget: Budget, usage: UsageStore, timezone: string, now = Date.now()) {
  const { start, end } = periodRange(budget.period as Period, now, timezone);
  const filter = budget.scope === "key" ? { keyId: budget.subject, since: start } : { projectId: budget.subject, since: start };
  return { spent: usage.cost(filter), start, end };
}

export class BudgetInputError extends Error {}

/** Checks a cap given on the command line or through the library. */
export function validateBudget(amount: unknown, period: unknown, softRatio: unknown = 0.8): { amount: number; period: Period; softRatio: number } {
  const value = typeof amount === "string" && amount.trim() !== "" ? Number(amount) : amount;
  if (typeof value !== "number" || !Number.isFinite(value) || value <= 0 || value > 1e9) {
    throw new BudgetInputError(`a budget must be an amount in USD above 0, got '${String(amount)}'`);
  }
  if (period !== "day" && period !== "week" && period !== "month") {
    throw new BudgetInputError(`a budget period must be day, week or month, got '${String(period)}'`);
  }
  const ratio = typeof softRatio === "string" && softRatio.trim() !== "" ? Number(softRatio) : softRatio;
  if (typeof ratio !== "number" || !Number.isFinite(ratio) || ratio <= 0 || ratio > 1) {
    throw new BudgetInputError(`the warning threshold must be a fraction above 0 and at most 1 (e.g. 0.8), got '${String(softRatio)}'`);
  }
  return { amount: value, period, softRatio: ratio };
}
