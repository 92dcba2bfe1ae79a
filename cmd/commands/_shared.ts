// Helpers shared by the subcommands: the --db flag, opening the managers, strict flags, output.
import type { ArgsDef } from "citty";
import { resolveConfig } from "../../src/config.ts";
import { AuthManager } from "../../src/auth/manager.ts";
import { PermissionManager } from "../../src/policy/manager.ts";

/** A mistake of the user's: printed as one line, exit code 1, never a stack trace. */
export class UserError extends Error {}

export const dbArg = {
  db: { type: "string", description: "SQLite file (default ~/.claude-api/claude-api.db, or CLAUDE_API_DB)", valueHint: "PATH" },
} as const satisfies ArgsDef;

export const jsonArg = {
  json: { type: "boolean", description: "print JSON" },
} as const satisfies ArgsDef;

export function openManagers(db: string | undefined) {
  const config = resolveConfig({ dbPath: db });
  const auth = new AuthManager({ dbPath: config.dbPath });
  return { config, auth, perms: new PermissionManager({ auth }) };
}

/** citty accepts any flag; a typo must not silently do nothing, so refuse flags a command does not define. */
export function rejectUnknownFlags(rawArgs: readonly string[], argsDef: ArgsDef): void {
  const known = new Set<string>(["help", "h"]);
  for (const [name, def] of Object.entries(argsDef)) {
    known.add(name);
    known.add(kebab(name));
    if (def.type === "boolean") {
      known.add(`no-${name}`);
      known.add(`no-${kebab(name)}`);
    }
    const alias = "alias" in def ? def.alias : undefined;
    for (const a of alias === undefined ? [] : Array.isArray(alias) ? alias : [alias]) known.add(a);
  }
  const positionals = Object.values(argsDef).filter((def) => def.type === "positional").length;
  let seenPositionals = 0;
  for (let i = 0; i < rawArgs.length; i++) {
    const raw = rawArgs[i]!;
    if (raw === "--") break;
    if (!raw.startsWith("-") || raw === "-" || /^-\d/.test(raw)) {
      if (++seenPositionals > positionals) throw new UserError(`unexpected argument '${raw}' (see --help)`);
      continue;
    }
    const [flag, inlineValue] = splitFlag(raw);
    if (!known.has(flag)) throw new UserError(`unknown option '--${flag}' (see --help)`);
    const def = argsDef[flag] ?? argsDef[camel(flag)];
    if (def && (def.type === "string" || def.type === "enum") && inlineValue === undefined) {
      // "--name --profile pro" would otherwise make "--profile" the name and drop the profile.
      const next = rawArgs[i + 1];
      if (next === undefined || (next.startsWith("--") && next !== "--")) throw new UserError(`--${flag} needs a value (write --${flag}=VALUE for a value starting with --)`);
      i++;
    }
  }
}

function splitFlag(raw: string): [string, string | undefined] {
  const body = raw.replace(/^--?/, "");
  const eq = body.indexOf("=");
  return eq < 0 ? [body, undefined] : [body.slice(0, eq), body.slice(eq + 1)];
}

function camel(name: string): string {
  return name.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
}

function kebab(name: string): string {
  return name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
}

export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

/** A plain text table: columns padded to their widest cell. */
export function table(headers: string[], rows: string[][]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i]!)).join("  ").trimEnd();
  return [line(headers), ...rows.map(line)].join("\n");
}

export function money(usd: number): string {
  return `$${usd.toFixed(usd !== 0 && Math.abs(usd) < 0.01 ? 4 : 2)}`;
}
