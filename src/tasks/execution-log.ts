// The execution log of a task: each tool call, agent spawn and skill use, with its input (truncated) and its
// outcome, in the order the model made them. Built from the runner's events as they arrive.
import type { ClaudeEvent } from "../claude/events.ts";

export type LogEntryKind = "tool" | "agent" | "skill";
export type LogOutcome = "pending" | "ok" | "error" | "denied";

export interface LogEntry {
  kind: LogEntryKind;
  /** Tool name; for agents the agent type, for skills the skill name. */
  name: string;
  tool: string;
  tool_use_id: string;
  /** Set when a subagent made the call. */
  parent_tool_use_id: string | null;
  input: string;
  outcome: LogOutcome;
  output: string | null;
}

const INPUT_LIMIT = 500;
const OUTPUT_LIMIT = 1000;

function truncate(text: string, limit: number): string {
  return text.length > limit ? `${text.slice(0, limit)}… (${text.length - limit} more characters)` : text;
}

export function classify(tool: string, input: Record<string, unknown>): { kind: LogEntryKind; name: string } {
  if (tool === "Agent" || tool === "Task") return { kind: "agent", name: typeof input.subagent_type === "string" ? input.subagent_type : "general-purpose" };
  if (tool === "Skill") return { kind: "skill", name: typeof input.skill === "string" ? input.skill : "?" };
  return { kind: "tool", name: tool };
}

export class ExecutionLog {
  readonly entries: LogEntry[] = [];
  private readonly byId = new Map<string, LogEntry>();

  /** Feeds one event; returns the entry it created or completed, if any. */
  add(event: ClaudeEvent): LogEntry | undefined {
    switch (event.type) {
      case "tool_use": {
        if (this.byId.has(event.id)) return undefined;
        const { kind, name } = classify(event.name, event.input);
        const entry: LogEntry = {
          kind,
          name,
          tool: event.name,
          tool_use_id: event.id,
          parent_tool_use_id: event.parentToolUseId,
          input: truncate(JSON.stringify(event.input), INPUT_LIMIT),
          outcome: "pending",
          output: null,
        };
        this.entries.push(entry);
        this.byId.set(event.id, entry);
        return entry;
      }
      case "permission_denied": {
        const entry = this.byId.get(event.toolUseId);
        if (!entry) return undefined;
        entry.outcome = "denied";
        entry.output = truncate(event.message, OUTPUT_LIMIT);
        return entry;
      }
      case "tool_result": {
        const entry = this.byId.get(event.toolUseId);
        if (!entry) return undefined;
        // A denial is also reported as an error result; keep the more precise outcome.
        if (entry.outcome !== "denied") {
          entry.outcome = event.isError ? (/denied|blocked by permission|not allowed/i.test(event.content) ? "denied" : "error") : "ok";
        }
        entry.output = truncate(event.content, OUTPUT_LIMIT);
        return entry;
      }
      default:
        return undefined;
    }
  }
}
