// claude-api projects list | budget
import { defineCommand, type ArgsDef } from "citty";
import { resolveConfig } from "../../src/config.ts";
import { openStore } from "../../src/store/db.ts";
import { BudgetStore } from "../../src/store/budgets.ts";
import { KeyStore } from "../../src/store/keys.ts";
import { changeBudget, describeBudget } from "./budget.ts";
import { UserError, dbArg, jsonArg, printJson, rejectUnknownFlags, table } from "./_shared.ts";

const budgetArgs = {
  ...dbArg,
  project: { type: "positional", description: "the project id", required: true },
  set: { type: "string", description: "cap in USD for each period", valueHint: "USD" },
  period: { type: "string", description: "day | week | month (default month)", valueHint: "PERIOD" },
  "warn-at": { type: "string", description: "share of the cap that adds a warning header and an audit entry (default 0.8)", valueHint: "RATIO" },
  clear: { type: "boolean", description: "remove the project's cap" },
  ...jsonArg,
} as const satisfies ArgsDef;

const budget = defineCommand({
  meta: { name: "budget", description: "Show or set a project's spending cap (requests over it get 429 insufficient_quota)" },
  args: budgetArgs,
  run({ args, rawArgs }) {
    rejectUnknownFlags(rawArgs, budgetArgs);
    if (args.clear && (args.set !== undefined || args.period !== undefined)) throw new UserError("--clear cannot be combined with --set or --period");
    const store = openStore(resolveConfig({ dbPath: args.db }).dbPath);
    const result = changeBudget(store, "project", args.project, { set: args.set, period: args.period, warnAt: args["warn-at"], clear: args.clear });
    if (args.json) return printJson({ project_id: args.project, budget: result });
    process.stdout.write(`Project ${args.project}: ${describeBudget(store, result, args.db)}\n`);
  },
});

const listArgs = { ...dbArg, ...jsonArg } as const satisfies ArgsDef;

const list = defineCommand({
  meta: { name: "list", description: "Projects that have keys, with their key counts and budgets" },
  args: listArgs,
  run({ args, rawArgs }) {
    rejectUnknownFlags(rawArgs, listArgs);
    const store = openStore(resolveConfig({ dbPath: args.db }).dbPath);
    const budgets = new BudgetStore(store.db);
    const counts = new Map<string, { keys: number; active: number }>();
    const now = Date.now();
    for (const key of new KeyStore(store.db).list()) {
      const entry = counts.get(key.project_id) ?? { keys: 0, active: 0 };
      entry.keys++;
      if (key.revoked_at === null && (key.expires_at === null || key.expires_at > now)) entry.active++;
      counts.set(key.project_id, entry);
    }
    const projects = [...counts].map(([id, c]) => ({ project_id: id, keys: c.keys, active_keys: c.active, budget: budgets.get("project", id) }));
    if (args.json) return printJson(projects);
    if (projects.length === 0) return void process.stdout.write("No projects yet: they appear with their first key.\n");
    process.stdout.write(
      `${table(
        ["PROJECT", "KEYS", "ACTIVE", "BUDGET"],
        projects.map((p) => [p.project_id, String(p.keys), String(p.active_keys), describeBudget(store, p.budget, args.db)]),
      )}\n`,
    );
  },
});

export const projectsCommand = defineCommand({
  meta: { name: "projects", description: "Projects and their spending caps" },
  subCommands: { list, budget },
});
