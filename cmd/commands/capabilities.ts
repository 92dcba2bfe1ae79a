// claude-api capabilities: the agents and skills Claude Code can use on this machine, and optionally which
// ones a key may use.
import { defineCommand, type ArgsDef } from "citty";
import { capabilities } from "../../src/capabilities.ts";
import { resolveConfig } from "../../src/config.ts";
import { dbArg, jsonArg, openManagers, printJson, rejectUnknownFlags, table } from "./_shared.ts";

const capabilitiesArgs = {
  ...dbArg,
  "claude-config-dir": { type: "string", description: "Claude Code config dir (default CLAUDE_CONFIG_DIR, else ~/.claude)", valueHint: "DIR" },
  key: { type: "string", description: "mark what this key (full key or id) may use", valueHint: "KEY" },
  ...jsonArg,
} as const satisfies ArgsDef;

export const capabilitiesCommand = defineCommand({
  meta: { name: "capabilities", description: "Agents and skills on this machine (from the Claude Code config dir), and what a key may use" },
  args: capabilitiesArgs,
  run({ args, rawArgs }) {
    rejectUnknownFlags(rawArgs, capabilitiesArgs);
    const config = resolveConfig({ dbPath: args.db, claudeConfigDir: args["claude-config-dir"] });
    const permissions = args.key ? openManagers(args.db).perms.getPermissions(args.key) : undefined;
    const found = capabilities(config.claudeConfigDir, permissions);
    for (const warning of found.warnings) process.stderr.write(`warning: ${warning}\n`);
    if (args.json) return printJson({ config_dir: config.claudeConfigDir, tools: found.tools, agents: found.agents, skills: found.skills });
    const mark = (allowed: boolean) => (permissions ? (allowed ? "yes" : "no") : "-");
    process.stdout.write(
      `Claude Code config dir: ${config.claudeConfigDir}\n\nAGENTS\n${table(
        ["NAME", "SOURCE", "ALLOWED", "MODEL", "TOOLS", "DESCRIPTION"],
        found.agents.map((a) => [a.name, a.source, mark(a.allowed), a.model ?? "-", a.tools?.join(",") ?? "all", a.description.slice(0, 60)]),
      )}\n\nSKILLS\n${table(
        ["NAME", "SOURCE", "ALLOWED", "DESCRIPTION"],
        found.skills.map((s) => [s.name, s.source, mark(s.allowed), s.description.slice(0, 60)]),
      )}\n${permissions ? `\nTOOLS ALLOWED: ${found.tools.filter((t) => t.allowed).map((t) => t.name).join(", ") || "none"}\n` : ""}`,
    );
  },
});
