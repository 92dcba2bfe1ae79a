#!/usr/bin/env bun
// The claude-api executable: serve the gateway, manage keys, read usage.
import { defineCommand, runCommand, showUsage, type CommandDef } from "citty";
import { ConfigError } from "../src/config.ts";
import { KeyNotFoundError } from "../src/auth/manager.ts";
import { PermissionInputError } from "../src/policy/permissions.ts";
import { StoreError } from "../src/store/db.ts";
import { ListenError } from "../src/server.ts";
import { DurationError } from "../src/util/duration.ts";
import { VERSION } from "../src/version.ts";
import { UserError } from "./commands/_shared.ts";
import { keysCommand } from "./commands/keys.ts";
import { serveCommand } from "./commands/serve.ts";
import { usageCommand } from "./commands/usage.ts";
import { auditCommand } from "./commands/audit.ts";
import { projectsCommand } from "./commands/projects.ts";
import { capabilitiesCommand } from "./commands/capabilities.ts";
import { BudgetInputError } from "../src/limits/budget.ts";
import { SinceError } from "../src/util/since.ts";

const main = defineCommand({
  meta: { name: "claude-api", version: VERSION, description: "Claude Code as a self-hosted, multi-tenant API" },
  subCommands: { serve: serveCommand, keys: keysCommand, usage: usageCommand, projects: projectsCommand, audit: auditCommand, capabilities: capabilitiesCommand },
});

const EXPECTED = [UserError, ConfigError, KeyNotFoundError, PermissionInputError, StoreError, ListenError, DurationError, BudgetInputError, SinceError];

async function commandFor(rawArgs: string[]): Promise<[CommandDef, CommandDef | undefined]> {
  let command: CommandDef = main;
  let parent: CommandDef | undefined;
  for (const word of rawArgs) {
    if (word.startsWith("-")) break;
    const subCommands = (await command.subCommands) as Record<string, CommandDef> | undefined;
    const next = subCommands?.[word];
    if (!next) break;
    parent = command;
    command = next;
  }
  return [command, parent];
}

async function run(rawArgs: string[]): Promise<number> {
  if (rawArgs.length === 1 && (rawArgs[0] === "--version" || rawArgs[0] === "-v")) {
    process.stdout.write(`${VERSION}\n`);
    return 0;
  }
  if (rawArgs.length === 0 || rawArgs.includes("--help") || rawArgs.includes("-h")) {
    await showUsage(...(await commandFor(rawArgs)));
    return 0;
  }
  try {
    await runCommand(main, { rawArgs });
    return 0;
  } catch (error) {
    if (EXPECTED.some((kind) => error instanceof kind)) {
      process.stderr.write(`claude-api: ${(error as Error).message}\n`);
      return 1;
    }
    const message = error instanceof Error ? error.message : String(error);
    // citty's own errors (unknown command, missing required argument) come with the usage that helps.
    if (error instanceof Error && error.name === "CLIError") {
      const plain = message.replace(/\x1b\[[0-9;]*m/g, "");
      if ("code" in error && error.code === "EARG") process.stderr.write(`claude-api: ${plain} (see --help)\n`);
      else {
        await showUsage(...(await commandFor(rawArgs)));
        process.stderr.write(`claude-api: ${plain}\n`);
      }
      return 2;
    }
    process.stderr.write(`claude-api: unexpected error: ${message}\n`);
    if (process.env.CLAUDE_API_DEBUG) console.error(error);
    return 1;
  }
}

process.exitCode = await run(process.argv.slice(2));
