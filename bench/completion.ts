// Benchmark: one chat completion through the gateway (compiled binary) against the bare `claude` CLI run with
// the same prompt and flags against the same fake model, interleaved in one session. Prints median and p90 of
// both and the gateway's overhead. Run: bun run build && bun bench/completion.ts [iterations]
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startFakeAnthropic, turn } from "../test/support/fake-anthropic.ts";
import { CLAUDE_BIN, createKey, startGateway } from "../test/support/harness.ts";

const iterations = Math.max(3, Math.min(100, Number(process.argv[2] ?? 20)));
const prompt = "Say hello in five words.";

const fake = await startFakeAnthropic({ defaultTurn: turn.text("Hello from the fake model, friend.", { chunks: 4 }) });
const root = mkdtempSync(join(tmpdir(), "bench-completion-"));
const env = {
  PATH: process.env.PATH ?? "/usr/bin:/bin",
  HOME: join(root, "home"),
  LANG: "C.UTF-8",
  ANTHROPIC_API_KEY: "dummy",
  ANTHROPIC_BASE_URL: fake.url,
  CLAUDE_CODE_MAX_RETRIES: "0",
  CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: "1",
  CLAUDE_CONFIG_DIR: join(root, "config"),
};
const gateway = await startGateway({ args: ["--claude-bin", CLAUDE_BIN], env });
const { key } = await createKey(gateway.db, "bench", "enterprise", ["--rate-limit", "100000"]);

// The flags the gateway gives a tool-less chat (src/http/routes/chat.ts), minus its per-run files.
const bareArgs = [
  "-p", "--output-format", "stream-json", "--verbose", "--include-partial-messages", "--no-session-persistence",
  "--permission-mode", "dontAsk", "--model", "sonnet", "--tools", "", "--max-budget-usd", "10", "--max-turns", "1",
  "--setting-sources", "", "--disable-slash-commands",
];

async function bare(): Promise<number> {
  const started = performance.now();
  const proc = Bun.spawn([CLAUDE_BIN, ...bareArgs], { env, cwd: root, stdin: new Blob([prompt]), stdout: "pipe", stderr: "ignore" });
  const out = await new Response(proc.stdout).text();
  await proc.exited;
  if (!out.includes('"type":"result"')) throw new Error("bare CLI run gave no result");
  return performance.now() - started;
}

async function viaGateway(): Promise<number> {
  const started = performance.now();
  const response = await fetch(`${gateway.url}/v1/chat/completions`, {
    method: "POST",
    headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
    body: JSON.stringify({ model: "sonnet", messages: [{ role: "user", content: prompt }] }),
  });
  const body = await response.text();
  if (response.status !== 200) throw new Error(`gateway answered ${response.status}: ${body}`);
  return performance.now() - started;
}

const quantile = (values: number[], q: number) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * (sorted.length - 1) + 0.5))]!;
};

try {
  await bare();
  await viaGateway(); // warm both paths (page cache, first spawn)
  const bareTimes: number[] = [];
  const gatewayTimes: number[] = [];
  for (let i = 0; i < iterations; i++) {
    // Alternate which goes first so drift on a busy machine hits both alike.
    if (i % 2 === 0) {
      bareTimes.push(await bare());
      gatewayTimes.push(await viaGateway());
    } else {
      gatewayTimes.push(await viaGateway());
      bareTimes.push(await bare());
    }
  }
  const row = (name: string, values: number[]) =>
    `${name.padEnd(10)} median ${quantile(values, 0.5).toFixed(0).padStart(5)} ms   p90 ${quantile(values, 0.9).toFixed(0).padStart(5)} ms`;
  console.log(`chat completion, ${iterations} runs each, interleaved, same fake model and prompt`);
  console.log(row("bare CLI", bareTimes));
  console.log(row("gateway", gatewayTimes));
  const overhead = (q: number) => ((quantile(gatewayTimes, q) / quantile(bareTimes, q) - 1) * 100).toFixed(1);
  console.log(`gateway overhead: median ${overhead(0.5)}%, p90 ${overhead(0.9)}% (target: under 5%)`);
} finally {
  await gateway.stop();
  await fake.stop();
  rmSync(root, { recursive: true, force: true });
}
