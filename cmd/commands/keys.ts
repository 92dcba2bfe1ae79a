// claude-api keys create | list | permissions | revoke | rotate
import { defineCommand, type ArgsDef } from "citty";
import type { KeyInfo } from "../../src/auth/manager.ts";
import { ALL, profileDefaults, validatePatch, type Permissions } from "../../src/policy/permissions.ts";
import { parseDuration } from "../../src/util/duration.ts";
import { validateBudget } from "../../src/limits/budget.ts";
import { BudgetStore } from "../../src/store/budgets.ts";
import { changeBudget, describeBudget } from "./budget.ts";
import { UserError, dbArg, jsonArg, money, openManagers, printJson, rejectUnknownFlags, table } from "./_shared.ts";

/** A flag given without its value ("--rate-limit" at the end) arrives as ""; that is a mistake, not "unset". */
function given(value: string | undefined, flag: string): string | undefined {
  if (value === undefined) return undefined;
  if (value === "") throw new UserError(`${flag} needs a value`);
  return value;
}

const createArgs = {
  ...dbArg,
  "project-id": { type: "string", description: "project the key belongs to", required: true, valueHint: "ID" },
  profile: { type: "string", description: "free | pro | enterprise (default free)", valueHint: "NAME" },
  "rate-limit": { type: "string", description: "requests per minute (default: the profile's)", valueHint: "N" },
  name: { type: "string", description: "a label for the key", valueHint: "TEXT" },
  expires: { type: "string", description: "lifetime, e.g. 30d, 12h (default: never)", valueHint: "DURATION" },
  output: { type: "string", description: "text | json | env (default text)", valueHint: "FORMAT" },
  ...jsonArg,
} as const satisfies ArgsDef;

const create = defineCommand({
  meta: { name: "create", description: "Create a key; it is printed once and only its hash is stored" },
  args: createArgs,
  run({ args, rawArgs }) {
    rejectUnknownFlags(rawArgs, createArgs);
    const output = args.json ? "json" : (given(args.output, "--output") ?? "text");
    if (!["text", "json", "env"].includes(output)) throw new UserError(`--output must be text, json or env, got '${output}'`);
    const rateLimit = given(args["rate-limit"], "--rate-limit");
    const expires = given(args.expires, "--expires");
    const { auth } = openManagers(args.db);
    const { key, info } = auth.createKey(given(args["project-id"], "--project-id")!, {
      profile: given(args.profile, "--profile") ?? "free",
      rateLimit: rateLimit === undefined ? undefined : numberFlag(rateLimit, "--rate-limit"),
      name: given(args.name, "--name"),
      expiresInMs: expires === undefined ? undefined : parseDuration(expires, "--expires"),
    });
    if (output === "json") printJson({ key, ...publicView(info) });
    else if (output === "env") process.stdout.write(`CLAUDE_API_KEY=${key}\n`);
    else {
      process.stdout.write(
        `Created key ${info.id} for project ${info.project_id} (profile ${info.profile}, ${info.rate_limit} requests/minute` +
          `${info.expires_at ? `, expires ${info.expires_at}` : ""}).\n\n  ${key}\n\n` +
          "Store it now: it is shown only this once.\n",
      );
    }
  },
});

function numberFlag(value: string, flag: string): number {
  const number = Number(value);
  if (value.trim() === "" || !Number.isFinite(number)) throw new UserError(`${flag} must be a number, got '${value}'`);
  return number;
}

function publicView(info: KeyInfo) {
  const { permissions, ...rest } = info;
  return { ...rest, permissions };
}

const listArgs = {
  ...dbArg,
  "project-id": { type: "string", description: "only this project's keys", valueHint: "ID" },
  ...jsonArg,
} as const satisfies ArgsDef;

const list = defineCommand({
  meta: { name: "list", description: "List keys (never the keys themselves)" },
  args: listArgs,
  run({ args, rawArgs }) {
    rejectUnknownFlags(rawArgs, listArgs);
    const { auth } = openManagers(args.db);
    const keys = auth.list(given(args["project-id"], "--project-id"));
    if (args.json) return printJson(keys.map(publicView));
    if (keys.length === 0) {
      process.stdout.write("No keys yet. Create one: claude-api keys create --project-id my-app --profile pro\n");
      return;
    }
    const day = (iso: string | null) => (iso === null ? "-" : iso.slice(0, 16).replace("T", " "));
    process.stdout.write(
      `${table(
        ["ID", "KEY", "PROJECT", "PROFILE", "RATE/MIN", "CREATED", "LAST USED", "STATUS"],
        keys.map((k) => [k.id, k.masked_key, k.project_id, k.profile, String(k.rate_limit), day(k.created_at), day(k.last_used_at), k.status]),
      )}\n`,
    );
  },
});

const permissionsArgs = {
  ...dbArg,
  key: { type: "positional", description: "the key, or its id from 'keys list'", required: true },
  "set-profile": { type: "string", description: "reset permissions to a tier (an explicit rate limit is kept): free | pro | enterprise", valueHint: "NAME" },
  "max-cost": { type: "string", description: "USD a single task may spend", valueHint: "USD" },
  "allowed-tools": { type: "string", description: "comma list of tools, or *", valueHint: "LIST" },
  "blocked-tools": { type: "string", description: "comma list of tools never offered", valueHint: "LIST" },
  "allowed-agents": { type: "string", description: "comma list of agents, * for all, '' for none", valueHint: "LIST" },
  "allowed-skills": { type: "string", description: "comma list of skills, * for all, '' for none", valueHint: "LIST" },
  timeout: { type: "string", description: "seconds a task may run", valueHint: "SECONDS" },
  "rate-limit": { type: "string", description: "requests per minute", valueHint: "N" },
  "max-concurrent": { type: "string", description: "requests running at once", valueHint: "N" },
  budget: { type: "string", description: "spending cap in USD per budget period", valueHint: "USD" },
  "budget-period": { type: "string", description: "day | week | month (default month)", valueHint: "PERIOD" },
  "budget-warn-at": { type: "string", description: "share of the cap that warns (default 0.8)", valueHint: "RATIO" },
  "clear-budget": { type: "boolean", description: "remove the key's spending cap" },
  ...jsonArg,
} as const satisfies ArgsDef;

const LIST_FLAGS = ["allowed-tools", "blocked-tools", "allowed-agents", "allowed-skills"] as const;
const NUMBER_FLAGS = { "max-cost": "max_cost_per_task", timeout: "timeout", "rate-limit": "rate_limit", "max-concurrent": "max_concurrent" } as const;

const permissions = defineCommand({
  meta: { name: "permissions", description: "Show a key's effective permissions, or change them" },
  args: permissionsArgs,
  run({ args, rawArgs }) {
    rejectUnknownFlags(rawArgs, permissionsArgs);
    const { perms } = openManagers(args.db);
    const patch: Record<string, unknown> = {};
    for (const flag of LIST_FLAGS) {
      // An explicit empty list is meaningful here ("no agents"), so "" is kept.
      if (args[flag] !== undefined) patch[flag.replaceAll("-", "_")] = args[flag];
    }
    for (const [flag, field] of Object.entries(NUMBER_FLAGS)) {
      const value = given(args[flag as keyof typeof NUMBER_FLAGS], `--${flag}`);
      if (value !== undefined) patch[field] = numberFlag(value, `--${flag}`);
    }
    const profile = given(args["set-profile"], "--set-profile");
    let info = perms.auth.info(args.key);
    // Validate the whole change before writing any of it: a bad flag changes nothing.
    if (profile !== undefined) profileDefaults(profile);
    validatePatch(patch);
    const budgetChange = {
      set: given(args.budget, "--budget"),
      period: given(args["budget-period"], "--budget-period"),
      warnAt: given(args["budget-warn-at"], "--budget-warn-at"),
      clear: args["clear-budget"] === true,
    };
    if (budgetChange.set !== undefined || budgetChange.period !== undefined || budgetChange.warnAt !== undefined) {
      validateBudget(budgetChange.set ?? 1, budgetChange.period ?? "month", budgetChange.warnAt ?? 0.8);
      if (budgetChange.set === undefined && !new BudgetStore(perms.auth.store.db).get("key", info.id)) {
        throw new UserError("no budget to change: give the amount too (--budget USD)");
      }
    }
    if (profile !== undefined) info = perms.applyDefaultProfile(info.id, profile);
    if (Object.keys(patch).length > 0) info = perms.setProfile(info.id, patch);
    const budget = changeBudget(perms.auth.store, "key", info.id, budgetChange);
    if (args.json) return printJson({ ...publicView(info), budget });
    process.stdout.write(describePermissions(info));
    process.stdout.write(`  budget:           ${describeBudget(perms.auth.store, budget, args.db)}\n`);
  },
});

export function describePermissions(info: KeyInfo): string {
  const p: Permissions = info.permissions;
  const names = (list: string[], none = "none") => (list.includes(ALL) ? "all" : list.length === 0 ? none : list.join(", "));
  return [
    `Key ${info.id} (${info.masked_key}), project ${info.project_id}, ${info.status}`,
    `  profile:          ${info.profile}`,
    `  tools allowed:    ${p.allowed_tools.includes(ALL) ? (p.blocked_tools.length ? "all but the blocked" : "all") : names(p.allowed_tools.filter((t) => !p.blocked_tools.includes(t)))}`,
    `  tools blocked:    ${names(p.blocked_tools)}`,
    `  agents allowed:   ${names(p.allowed_agents)}`,
    `  skills allowed:   ${names(p.allowed_skills)}`,
    `  rate limit:       ${p.rate_limit} requests/minute`,
    `  max cost:         ${money(p.max_cost_per_task)} per task`,
    `  timeout:          ${p.timeout} seconds`,
    `  max concurrent:   ${p.max_concurrent}`,
    "",
  ].join("\n");
}

const revokeArgs = {
  ...dbArg,
  key: { type: "positional", description: "the key, or its id from 'keys list'", required: true },
  force: { type: "boolean", description: "do not ask for confirmation" },
  ...jsonArg,
} as const satisfies ArgsDef;

const revoke = defineCommand({
  meta: { name: "revoke", description: "Revoke a key; a running server refuses it at its next request" },
  args: revokeArgs,
  async run({ args, rawArgs }) {
    rejectUnknownFlags(rawArgs, revokeArgs);
    const { auth } = openManagers(args.db);
    const info = auth.info(args.key);
    if (info.status === "revoked") throw new UserError(`key ${info.id} is already revoked`);
    if (!args.force) {
      if (!process.stdin.isTTY) {
        throw new UserError(`refusing to revoke key ${info.id} without confirmation: run on a terminal, or add --force`);
      }
      const answer = prompt(`Revoke key ${info.id} (${info.masked_key}, project ${info.project_id})? This cannot be undone. [y/N]`);
      if (!answer || !/^y(es)?$/i.test(answer.trim())) {
        process.stdout.write("Not revoked.\n");
        return;
      }
    }
    const revoked = auth.revokeKey(info.id);
    if (args.json) return printJson(publicView(revoked));
    process.stdout.write(`Revoked key ${revoked.id} (project ${revoked.project_id}).\n`);
  },
});

const rotateArgs = {
  ...dbArg,
  key: { type: "positional", description: "the key, or its id from 'keys list'", required: true },
  grace: { type: "string", description: "how long the old key keeps working, e.g. 1h (default: stops now)", valueHint: "DURATION" },
  output: { type: "string", description: "text | json | env (default text)", valueHint: "FORMAT" },
  ...jsonArg,
} as const satisfies ArgsDef;

const rotate = defineCommand({
  meta: { name: "rotate", description: "Replace a key with a new one with the same project and permissions" },
  args: rotateArgs,
  run({ args, rawArgs }) {
    rejectUnknownFlags(rawArgs, rotateArgs);
    const output = args.json ? "json" : (given(args.output, "--output") ?? "text");
    if (!["text", "json", "env"].includes(output)) throw new UserError(`--output must be text, json or env, got '${output}'`);
    const grace = given(args.grace, "--grace");
    const graceMs = grace === undefined ? 0 : parseDuration(grace, "--grace");
    const { auth } = openManagers(args.db);
    const { key, info, old } = auth.rotateKey(args.key, graceMs);
    if (output === "json") return printJson({ key, ...publicView(info), replaced: { id: old.id, expires_at: old.expires_at } });
    if (output === "env") return void process.stdout.write(`CLAUDE_API_KEY=${key}\n`);
    process.stdout.write(
      `New key for project ${info.project_id} (id ${info.id}, replaces ${old.id}).\n\n  ${key}\n\n` +
        `Store it now: it is shown only this once. The old key ${graceMs > 0 ? `keeps working until ${old.expires_at}` : "has stopped working"}.\n`,
    );
  },
});

export const keysCommand = defineCommand({
  meta: { name: "keys", description: "Create, list, change, revoke and rotate API keys" },
  subCommands: { create, list, permissions, revoke, rotate },
});
