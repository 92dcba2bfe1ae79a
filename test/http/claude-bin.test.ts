// --claude-bin given as a relative path: each run starts the CLI from its own workspace, so the gateway must
// resolve the path where the operator typed it (here the repo root, where the tests run).
import { afterAll, beforeAll, expect, setDefaultTimeout, test } from "bun:test";
import { relative } from "node:path";
import { startFakeAnthropic, turn, type FakeAnthropic } from "../support/fake-anthropic.ts";
import { CLAUDE_BIN, ROOT, bearer, createKey, startGateway, tempDir, type Gateway } from "../support/harness.ts";

setDefaultTimeout(30_000);

let fake: FakeAnthropic;
let gateway: Gateway;

beforeAll(async () => {
  fake = await startFakeAnthropic({ defaultTurn: turn.text("relative ok") });
  expect(process.cwd()).toBe(ROOT);
  gateway = await startGateway({
    args: ["--claude-bin", relative(ROOT, CLAUDE_BIN)],
    env: { HOME: tempDir(), ANTHROPIC_API_KEY: "dummy", ANTHROPIC_BASE_URL: fake.url, CLAUDE_CODE_MAX_RETRIES: "0" },
  });
});

afterAll(async () => {
  await gateway.stop();
  await fake.stop();
});

test("a relative --claude-bin runs chats and tasks", async () => {
  const key = await createKey(gateway.db, "relative", "pro");
  const chat = await fetch(`${gateway.url}/v1/chat/completions`, {
    method: "POST",
    headers: { ...bearer(key.key), "content-type": "application/json" },
    body: JSON.stringify({ messages: [{ role: "user", content: "hi" }] }),
  });
  expect(chat.status).toBe(200);
  const task = await fetch(`${gateway.url}/v1/task`, {
    method: "POST",
    headers: { ...bearer(key.key), "content-type": "application/json" },
    body: JSON.stringify({ description: "say hi", allow_tools: [] }),
  });
  expect(((await task.json()) as { status: string }).status).toBe("completed");
});
