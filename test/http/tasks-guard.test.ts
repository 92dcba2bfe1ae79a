// The last line of defence for agents and skills: Claude Code lists what it offers in its init message before the
// model can act, and a task whose CLI offers a skill the policy neither allows nor denies (say, one a CLI upgrade
// bundled) is stopped. The real CLI 2.1.331 offers only known ones, so a stand-in CLI plays the upgraded one.
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { chmodSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { bearer, createKey, startGateway, tempDir, type CreatedKey, type Gateway } from "../support/harness.ts";

setDefaultTimeout(30_000);

let gateway: Gateway;
let key: CreatedKey;

function initLine(skills: string[]): string {
  return JSON.stringify({
    type: "system",
    subtype: "init",
    session_id: "s1",
    uuid: "u1",
    model: "claude-sonnet-5-5",
    cwd: "/",
    tools: ["Skill"],
    agents: [],
    skills,
    slash_commands: [],
    mcp_servers: [],
    permissionMode: "dontAsk",
    claude_code_version: "2.1.331",
    apiKeySource: "ANTHROPIC_API_KEY",
  });
}

beforeAll(async () => {
  const dir = tempDir();
  // Offers whatever skills the prompt names (one per word after "offer:"), then waits like a model call would;
  // SIGINT ends it the way the real CLI ends an aborted turn.
  const standIn = join(dir, "claude");
  writeFileSync(
    standIn,
    `#!/usr/bin/env bash
if [ "$1" = "--version" ]; then echo "2.1.331 (Claude Code)"; exit 0; fi
prompt=$(cat)
skills=$(echo "$prompt" | sed -n 's/.*offer: *//p' | tr ' ' '\\n' | sed '/^$/d' | sed 's/.*/"&"/' | paste -sd, -)
echo '${initLine(["SKILLS"])}' | sed "s/\\"SKILLS\\"/$skills/"
trap 'echo "{\\"type\\":\\"result\\",\\"subtype\\":\\"error_during_execution\\",\\"is_error\\":true,\\"session_id\\":\\"s1\\",\\"total_cost_usd\\":0,\\"usage\\":{\\"input_tokens\\":0,\\"output_tokens\\":0,\\"cache_creation_input_tokens\\":0,\\"cache_read_input_tokens\\":0},\\"num_turns\\":0,\\"duration_ms\\":1,\\"duration_api_ms\\":0,\\"permission_denials\\":[]}"; exit 0' INT
for _ in $(seq 1 100); do sleep 0.1; done
`,
  );
  chmodSync(standIn, 0o755);
  gateway = await startGateway({ args: ["--claude-bin", standIn], env: { HOME: tempDir(), ANTHROPIC_API_KEY: "dummy" } });
  key = await createKey(gateway.db, "guarded", "enterprise");
});

afterAll(async () => {
  await gateway.stop();
});

async function task(description: string, timeout?: number) {
  const response = await fetch(`${gateway.url}/v1/task`, {
    method: "POST",
    headers: { ...bearer(key.key), "content-type": "application/json" },
    body: JSON.stringify({ description, allow_skills: ["simplify"], allow_tools: [], ...(timeout ? { timeout } : {}) }),
  });
  expect(response.status).toBe(200);
  return (await response.json()) as { status: string; error?: { message: string } };
}

describe("a skill the policy cannot deny", () => {
  test("stops the run at once: the task fails naming it", async () => {
    const started = performance.now();
    const result = await task("offer: simplify mystery-skill");
    expect(result.status).toBe("failed");
    expect(result.error?.message).toContain("skill 'mystery-skill'");
    // Stopped on the init line (SIGINT, then SIGKILL after the 2 s grace), long before the stand-in's own 10 s.
    expect(performance.now() - started).toBeLessThan(5000);
  });

  test("skills the policy knows (allowed or denied by rule) do not stop it", async () => {
    const result = await task("offer: simplify debug", 1);
    expect(result.status).toBe("timeout");
  });
});
