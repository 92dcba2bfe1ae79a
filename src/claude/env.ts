// The child's environment: an ALLOW-LIST over the server's environment. The model can read its own environment
// (Bash `env`), so anything not needed by the CLI to reach the model API stays out: our CLAUDE_API_* settings,
// database paths, unrelated secrets.

export type EnvLike = Readonly<Record<string, string | undefined>>;

/** Copied as is when present. */
export const ENV_ALLOW = [
  "PATH",
  "LANG",
  "LANGUAGE",
  "TZ",
  "SHELL",
  // Reaching the model API.
  "HTTPS_PROXY",
  "HTTP_PROXY",
  "NO_PROXY",
  "https_proxy",
  "http_proxy",
  "no_proxy",
  "NODE_EXTRA_CA_CERTS",
  "SSL_CERT_FILE",
  "SSL_CERT_DIR",
  // Claude Code settings an operator may set for the CLI.
  "CLAUDE_CONFIG_DIR",
  "CLAUDE_CODE_TMPDIR",
  "CLAUDE_CODE_MAX_RETRIES",
  "CLAUDE_CODE_MAX_OUTPUT_TOKENS",
  "CLAUDE_CODE_USE_BEDROCK",
  "CLAUDE_CODE_USE_VERTEX",
  "CLAUDE_CODE_USE_FOUNDRY",
  "CLAUDE_CODE_SKIP_BEDROCK_AUTH",
  "CLAUDE_CODE_SKIP_VERTEX_AUTH",
  "API_TIMEOUT_MS",
  // Tools (Bash) inherit the CLI's environment, ANTHROPIC_API_KEY included. Setting this to 1 makes the CLI scrub
  // credentials from tool processes, but 2.1.331 then refuses to start without bubblewrap: the operator's call.
  "CLAUDE_CODE_SUBPROCESS_ENV_SCRUB",
] as const;

/** Copied when the name starts with one of these. ANTHROPIC_*: key, token, base URL, model pins. */
export const ENV_ALLOW_PREFIXES = ["ANTHROPIC_", "LC_"] as const;

/** Copied only when the matching cloud provider is switched on: otherwise they are just secrets of the host. */
export const BEDROCK_PREFIXES = ["AWS_"] as const;
export const VERTEX_PREFIXES = ["GOOGLE_", "GCLOUD_", "CLOUD_ML_", "VERTEX_"] as const;

/** Never passed, whatever the allow-list says: some CLI versions refuse to start inside another session. */
export const ENV_DENY = ["CLAUDECODE", "CLAUDE_CODE_ENTRYPOINT", "CLAUDE_CODE_SESSION_ID"] as const;

export interface ChildEnvOptions {
  /** The environment to pick from (usually process.env). */
  base: EnvLike;
  /** HOME for the child (the CLI writes $HOME/.claude.json); default base.HOME. */
  home?: string;
  /** CLAUDE_CONFIG_DIR (agents, skills); default base's. */
  configDir?: string;
  /** CLAUDE_CODE_TMPDIR and TMPDIR: per-run scratch space. */
  tmpDir?: string;
  /** CLAUDE_CODE_MAX_RETRIES; default base's (the CLI's own default is 10 with growing backoff). */
  maxRetries?: number;
  /** CLAUDE_AGENT_SDK_DISABLE_BUILTIN_AGENTS=1: only the agents passed with --agents exist. */
  disableBuiltinAgents?: boolean;
  /** Extra variables set by the runner itself (not taken from base), e.g. the process marker. */
  set?: Readonly<Record<string, string>>;
}

export function isTruthyEnv(value: string | undefined): boolean {
  return value !== undefined && value !== "" && value !== "0" && value.toLowerCase() !== "false";
}

/** Build the child's environment. Pure: same input, same output. */
export function buildChildEnv(opts: ChildEnvOptions): Record<string, string> {
  const { base } = opts;
  const bedrock = isTruthyEnv(base.CLAUDE_CODE_USE_BEDROCK);
  const vertex = isTruthyEnv(base.CLAUDE_CODE_USE_VERTEX);
  const allowed = new Set<string>(ENV_ALLOW);
  const prefixes: string[] = [...ENV_ALLOW_PREFIXES];
  if (bedrock) prefixes.push(...BEDROCK_PREFIXES);
  if (vertex) prefixes.push(...VERTEX_PREFIXES);
  const denied = new Set<string>(ENV_DENY);

  const env: Record<string, string> = {};
  for (const [name, value] of Object.entries(base)) {
    if (value === undefined || denied.has(name)) continue;
    if (allowed.has(name) || prefixes.some((p) => name.startsWith(p))) env[name] = value;
  }
  if (!env.PATH) env.PATH = "/usr/local/bin:/usr/bin:/bin";

  const home = opts.home ?? base.HOME;
  if (home) env.HOME = home;
  if (opts.configDir) env.CLAUDE_CONFIG_DIR = opts.configDir;
  if (opts.tmpDir) {
    env.CLAUDE_CODE_TMPDIR = opts.tmpDir;
    env.TMPDIR = opts.tmpDir;
  }
  if (opts.maxRetries !== undefined) env.CLAUDE_CODE_MAX_RETRIES = String(opts.maxRetries);
  // No telemetry, update checks or preflight requests from a server.
  env.CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC = "1";
  env.DISABLE_AUTOUPDATER = "1";
  if (opts.disableBuiltinAgents) env.CLAUDE_AGENT_SDK_DISABLE_BUILTIN_AGENTS = "1";
  for (const [name, value] of Object.entries(opts.set ?? {})) env[name] = value;
  for (const name of ENV_DENY) delete env[name];
  return env;
}

export type CredentialSource =
  | "ANTHROPIC_API_KEY"
  | "ANTHROPIC_AUTH_TOKEN"
  | "bedrock"
  | "vertex"
  | "foundry"
  | "credentials_file";

/**
 * Where the CLI would find credentials, judged from the environment alone (plus an existence check on the
 * credentials file, passed in so this stays pure). Undefined: none found; the CLI would answer "Not logged in".
 */
export function credentialSource(env: EnvLike, credentialsFileExists = false): CredentialSource | undefined {
  if (env.ANTHROPIC_API_KEY) return "ANTHROPIC_API_KEY";
  if (env.ANTHROPIC_AUTH_TOKEN) return "ANTHROPIC_AUTH_TOKEN";
  if (isTruthyEnv(env.CLAUDE_CODE_USE_BEDROCK)) return "bedrock";
  if (isTruthyEnv(env.CLAUDE_CODE_USE_VERTEX)) return "vertex";
  if (isTruthyEnv(env.CLAUDE_CODE_USE_FOUNDRY)) return "foundry";
  if (credentialsFileExists) return "credentials_file";
  return undefined;
}
