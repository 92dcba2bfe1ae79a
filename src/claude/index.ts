// The Claude Code CLI runner: argument builder, child environment, NDJSON events, process lifecycle.
export * from "./args.ts";
export * from "./env.ts";
export * from "./events.ts";
export * from "./kill.ts";
export * from "./models.ts";
export * from "./outcome.ts";
export * from "./probe.ts";
export * from "./runner.ts";
export * from "./tools.ts";
export * from "./workspace.ts";
