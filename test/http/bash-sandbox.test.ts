// Bash runs in Claude Code's bubblewrap sandbox: what a Bash-enabled key's model can and cannot reach, and what
// happens on a server that lacks the sandbox's tools. The real binary, the real CLI, the fake model.
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { existsSync, readdirSync, symlinkSync } from "node:fs";
import { join } from "node:path";
import { startFakeAnthropic, turn, type FakeAnthropic } from "../support/fake-anthropic.ts";
import { bearer, CLAUDE_BIN, createKey, startGateway, tempDir, type CreatedKey, type Gateway } from "../support/harness.ts";

setDefaultTimeout(60_000);

const UPSTREAM_KEY = "sk-upstream-secret-4242";
let fake: FakeAnthropic;

beforeAll(async () => {
  fake = await startFakeAnthropic();
});

afterAll(async () => {
  await fake.stop();
});

function gatewayEnv(extra: Record<string, string> = {}) {
  return { HOME: tempDir(), ANTHROPIC_API_KEY: UPSTREAM_KEY, ANTHROPIC_BASE_URL: fake.url, CLAUDE_CODE_MAX_RETRIES: "0", ...extra };
}

/** Runs one Bash command as the model's first move and returns what the CLI sent back to the model. */
async function bashResult(gateway: Gateway, key: CreatedKey, command: string): Promise<{ status: number; output: string }> {
  const marker = `bash-${crypto.randomUUID()}`;
  let step = 0;
  const remove = fake.route((request) => {
    if (!request.prompt().includes(marker)) return undefined;
    step++;
    return step === 1 ? turn.toolUse("Bash", { command }) : turn.text("done");
  });
  try {
    const response = await fetch(`${gateway.url}/v1/task`, {
      method: "POST",
      headers: { ...bearer(key.key), "content-type": "application/json" },
      body: JSON.stringify({ description: marker, allow_tools: ["Bash"] }),
    });
    const body = (await response.json()) as { execution_log?: { output: string | null }[]; error?: { message: string } };
    return { status: response.status, output: body.execution_log?.[0]?.output ?? body.error?.message ?? "" };
  } finally {
    remove();
  }
}

describe("with the sandbox (bwrap and socat installed)", () => {
  let gateway: Gateway;
  let pro: CreatedKey;

  beforeAll(async () => {
    gateway = await startGateway({ args: ["--claude-bin", CLAUDE_BIN], env: gatewayEnv() });
    pro = await createKey(gateway.db, "sandboxed", "pro");
  });

  afterAll(async () => {
    await gateway.stop();
  });

  test("/health reports the sandbox ready", async () => {
    const health = (await (await fetch(`${gateway.url}/health`)).json()) as { bash_sandbox: Record<string, boolean> };
    expect(health.bash_sandbox).toEqual({ enabled: true, bwrap: true, socat: true });
  });

  test("commands still work in the task's own workspace", async () => {
    const { status, output } = await bashResult(gateway, pro, "echo sandboxed-ok > out.txt && cat out.txt");
    expect(status).toBe(200);
    expect(output).toContain("sandboxed-ok");
  });

  test("the gateway's directory (its database) is hidden, however the command reaches for it", async () => {
    const dir = join(gateway.db, "..");
    for (const command of [`cat ${dir}/*.db | head -c 64`, `python3 -c "print(open('${gateway.db}','rb').read(64))"`]) {
      const { output } = await bashResult(gateway, pro, command);
      expect(output).toMatch(/No such file|Permission denied/);
      expect(output).not.toContain("SQLite format");
    }
    // Listed, the directory is empty.
    const listing = await bashResult(gateway, pro, `ls -a ${dir}`);
    expect(listing.output).not.toContain("claude-api.db");
  });

  test("the upstream Anthropic key is not in the commands' environment", async () => {
    const { output } = await bashResult(gateway, pro, "env");
    expect(output.length).toBeGreaterThan(0);
    expect(output).not.toContain(UPSTREAM_KEY);
  });

  test("nothing can be written outside the workspace", async () => {
    const outside = join(tempDir(), "escaped.txt");
    await bashResult(gateway, pro, `echo x > ${outside}`);
    expect(existsSync(outside)).toBe(false);
  });
});

describe("on a server without bubblewrap", () => {
  let gateway: Gateway;
  let pro: CreatedKey;

  beforeAll(async () => {
    // A PATH that has everything /usr/bin has except bwrap and socat.
    const bin = tempDir();
    for (const name of readdirSync("/usr/bin")) {
      if (name !== "bwrap" && name !== "socat") symlinkSync(join("/usr/bin", name), join(bin, name));
    }
    gateway = await startGateway({ args: ["--claude-bin", CLAUDE_BIN], env: gatewayEnv({ PATH: `${bin}:/usr/local/bin` }) });
    pro = await createKey(gateway.db, "unsandboxed", "pro");
  });

  afterAll(async () => {
    await gateway.stop();
  });

  test("the server says so at startup and in /health", async () => {
    expect(gateway.logs()).toContain("command_sandbox_unavailable");
    const health = (await (await fetch(`${gateway.url}/health`)).json()) as { bash_sandbox: Record<string, boolean> };
    expect(health.bash_sandbox).toEqual({ enabled: true, bwrap: false, socat: false });
  });

  test("a chat that gives the model Bash is refused with 503 naming the fix, and nothing runs unconfined", async () => {
    const marker = join(tempDir(), "ran-unconfined");
    const remove = fake.route((request) => (request.prompt().includes("sandbox-missing") ? turn.toolUse("Bash", { command: `touch ${marker}` }) : undefined));
    try {
      const response = await fetch(`${gateway.url}/v1/chat/completions`, {
        method: "POST",
        headers: { ...bearer(pro.key), "content-type": "application/json" },
        body: JSON.stringify({ messages: [{ role: "user", content: "sandbox-missing" }], allowed_tools: ["Bash"] }),
      });
      expect(response.status).toBe(503);
      const body = (await response.json()) as { error: { code: string; message: string } };
      expect(body.error.code).toBe("sandbox_unavailable");
      expect(body.error.message).toContain("bubblewrap");
      expect(existsSync(marker)).toBe(false);
    } finally {
      remove();
    }
  });

  test("requests without Bash are unaffected", async () => {
    const remove = fake.route((request) => (request.prompt().includes("no-bash-here") ? turn.text("fine") : undefined));
    try {
      const response = await fetch(`${gateway.url}/v1/chat/completions`, {
        method: "POST",
        headers: { ...bearer(pro.key), "content-type": "application/json" },
        body: JSON.stringify({ messages: [{ role: "user", content: "no-bash-here" }] }),
      });
      expect(response.status).toBe(200);
      expect(((await response.json()) as { choices: { message: { content: string } }[] }).choices[0]!.message.content).toBe("fine");
    } finally {
      remove();
    }
  });
});
