// Which model names a caller may ask for. Checked before anything is spawned: the CLI passes ANY string
// through to the API, so an unchecked name would reach argv and the upstream bill.
export const MODEL_ALIASES = ["haiku", "sonnet", "opus"] as const;

/** Current full ids, listed by GET /v1/models; any other well-formed claude-* id is accepted too. */
export const KNOWN_MODEL_IDS = [
  "claude-opus-4-5",
  "claude-sonnet-4-5",
  "claude-haiku-4-5",
  "claude-opus-4-1",
  "claude-sonnet-4-0",
] as const;

export const ACCEPTED_MODELS: readonly string[] = [...MODEL_ALIASES, ...KNOWN_MODEL_IDS];

export const DEFAULT_MODEL = "sonnet";

const FULL_ID = /^claude-[a-z0-9]+(?:[-.][a-z0-9]+)*(?:\[1m\])?$/;

export function isAcceptedModel(name: string): boolean {
  return name.length <= 100 && ((MODEL_ALIASES as readonly string[]).includes(name) || FULL_ID.test(name));
}
