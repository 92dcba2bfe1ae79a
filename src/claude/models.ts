// Model names accepted by the gateway. The CLI passes ANY --model string through to the API, so this is the
// only gate between a request body and argv.

/** Aliases the CLI resolves itself to the current model of each family. */
export const MODEL_ALIASES = ["opus", "sonnet", "haiku"] as const;
export type ModelAlias = (typeof MODEL_ALIASES)[number];

/** What 2.1.331 resolves each alias to (verified: the `model` of its API request and of `system/init`). */
export const ALIAS_TARGETS: Readonly<Record<ModelAlias, string>> = {
  opus: "claude-opus-5-5",
  sonnet: "claude-sonnet-5-5",
  haiku: "claude-haiku-5-5",
};

/** Full ids: passed through unchanged. */
export const MODEL_ID_PATTERN = /^claude-[a-z0-9.-]{1,80}$/;
/**
 * The `[1m]` suffix asks the CLI for the 1M-token context variant; it strips the suffix before the API call
 * (verified with `claude-sonnet-4-5[1m]` and `sonnet[1m]`). Accepted on aliases and full ids.
 */
export const LONG_CONTEXT_SUFFIX = "[1m]";

/** The list for GET /v1/models: aliases first, then the ids 2.1.331 resolves them to. */
export const ACCEPTED_MODELS: readonly string[] = [...MODEL_ALIASES, ...MODEL_ALIASES.map((a) => ALIAS_TARGETS[a])];

/** Is `name` a model this gateway lets through to `--model`? Case-sensitive: the CLI is. */
export function isValidModel(name: string): boolean {
  const base = name.endsWith(LONG_CONTEXT_SUFFIX) ? name.slice(0, -LONG_CONTEXT_SUFFIX.length) : name;
  return (MODEL_ALIASES as readonly string[]).includes(base) || MODEL_ID_PATTERN.test(base);
}
