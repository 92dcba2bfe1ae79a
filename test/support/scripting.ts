// Per-test scripting of the shared fake model: each test routes on a prompt no other test uses.
import type { FakeAnthropic, RecordedRequest, Turn, TurnFn } from "./fake-anthropic.ts";

let counter = 0;

/** A prompt no other test uses: the fake routes on it. */
export function uniquePrompt(what: string): string {
  return `${what} #${++counter}-${crypto.randomUUID().slice(0, 8)}`;
}

/** A request id to send as X-Request-Id, so the usage row of exactly this request can be found. */
export function requestId(): string {
  return `test-${crypto.randomUUID()}`;
}

/**
 * Scripts the model's turns for one prompt (the last turn repeats); returns the model requests the CLI made for it.
 */
export function scriptPrompt(fake: FakeAnthropic, prompt: string, ...turns: Array<Turn | TurnFn>): RecordedRequest[] {
  const seen: RecordedRequest[] = [];
  fake.route((req) => {
    if (req.prompt() !== prompt) return undefined;
    const next = turns[Math.min(seen.length, turns.length - 1)]!;
    seen.push(req);
    return typeof next === "function" ? next(req) : next;
  });
  return seen;
}

let tagCounter = 0;

/** A marker for a prompt (a task description) that no other test uses. */
export function uniqueTag(name: string): string {
  return `${name}-${process.pid}-${++tagCounter}`;
}

/**
 * The main conversation of the task whose prompt carries `marker`: reply i is chosen by how many tool results the
 * request carries (the last reply repeats, e.g. for a background agent's completion notice).
 */
export function scriptByToolResults(fake: FakeAnthropic, marker: string, replies: Turn[]): void {
  fake.route((req) => (req.prompt().includes(marker) ? replies[Math.min(req.toolResults().length, replies.length - 1)] : undefined));
}

/** The model requests made for prompts carrying `marker`. */
export function requestsFor(fake: FakeAnthropic, marker: string): RecordedRequest[] {
  return fake.modelRequests.filter((req) => req.prompt().includes(marker));
}
