// claude-api audit: the security-relevant events, newest first.
import { defineCommand, type ArgsDef } from "citty";
import { resolveConfig } from "../../src/config.ts";
import { AUDIT_TYPES, AuditLog } from "../../src/store/audit.ts";
import { openStore } from "../../src/store/db.ts";
import { parseSince } from "../../src/util/since.ts";
import { UserError, dbArg, jsonArg, printJson, rejectUnknownFlags, table } from "./_shared.ts";

const auditArgs = {
  ...dbArg,
  since: { type: "string", description: "a duration back from now (24h, 7d) or a date / ISO time (default 7d)", valueHint: "WHEN" },
  key: { type: "string", description: "only this key id", valueHint: "ID" },
  type: { type: "string", description: `only this event type (${AUDIT_TYPES.join(", ")})`, valueHint: "TYPE" },
  limit: { type: "string", description: "at most this many events (default 200)", valueHint: "N" },
  ...jsonArg,
} as const satisfies ArgsDef;

export const auditCommand = defineCommand({
  meta: { name: "audit", description: "Refused requests, key changes and the tools tasks used, newest first" },
  args: auditArgs,
  run({ args, rawArgs }) {
    rejectUnknownFlags(rawArgs, auditArgs);
    if (args.type !== undefined && !(AUDIT_TYPES as readonly string[]).includes(args.type)) {
      throw new UserError(`--type must be one of ${AUDIT_TYPES.join(", ")}, got '${args.type}'`);
    }
    const limit = args.limit === undefined ? 200 : Number(args.limit);
    if (!Number.isInteger(limit) || limit < 1 || limit > 1_000_000) throw new UserError(`--limit must be a whole number from 1 to 1000000, got '${args.limit}'`);
    const audit = new AuditLog(openStore(resolveConfig({ dbPath: args.db }).dbPath).db);
    const rows = audit.list({ since: parseSince(args.since ?? "7d"), keyId: args.key, type: args.type, limit });
    if (args.json) return printJson(rows.map((row) => ({ ...row, at: new Date(row.at).toISOString(), detail: JSON.parse(row.detail) as unknown })));
    if (rows.length === 0) return void process.stdout.write("No audit events in that window.\n");
    process.stdout.write(
      `${table(
        ["TIME", "TYPE", "KEY", "PROJECT", "ADDRESS", "DETAIL"],
        rows.map((r) => [
          new Date(r.at).toISOString().replace("T", " ").slice(0, 19),
          r.type,
          r.key_id ?? "-",
          r.project_id ?? "-",
          r.address ?? "-",
          r.detail.length > 100 ? `${r.detail.slice(0, 100)}…` : r.detail,
        ]),
      )}\n`,
    );
  },
});
