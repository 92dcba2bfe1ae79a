// The client's errors: one class per thing a caller reacts to differently (fix the key, ask for more rights,
// back off, stop spending, retry later), all APIError so one catch still catches everything.
import type { TaskResult } from "./types.ts";

export interface APIErrorOptions {
  /** HTTP status; undefined when no answer came (network failure, client-side timeout). */
  status?: number;
  type?: string;
  code?: string;
  param?: string;
  /** The server's X-Request-Id: quote it when reporting a problem (the server logs under it). */
  requestId?: string;
  /** The parsed error body (or its text when it was not JSON). */
  body?: unknown;
  headers?: Headers;
  /** For tasks that ended badly (200 with status timeout/cost_exceeded/failed): the whole task result. */
  result?: TaskResult;
  cause?: unknown;
}

export class APIError extends Error {
  readonly status: number | undefined;
  readonly type: string;
  readonly code: string | undefined;
  readonly param: string | undefined;
  readonly requestId: string | undefined;
  readonly body: unknown;
  readonly headers: Headers | undefined;
  readonly result: TaskResult | undefined;

  constructor(message: string, options: APIErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.status = options.status;
    this.type = options.type ?? "api_error";
    this.code = options.code;
    this.param = options.param;
    this.requestId = options.requestId;
    this.body = options.body;
    this.headers = options.headers;
    this.result = options.result;
  }

  /**
   * Whether sending the same request again may succeed. The server says so explicitly with x-should-retry
   * (false for an exhausted budget, which the official SDKs would otherwise retry as any 429); else 429 and 5xx.
   */
  get shouldRetry(): boolean {
    const header = this.headers?.get("x-should-retry");
    if (header === "true" || header === "false") return header === "true";
    return this.status === 429 || (this.status !== undefined && this.status >= 500);
  }
}

/** 401: the key is missing, unknown, revoked or expired. */
export class AuthenticationError extends APIError {}

/** 403: the key's profile does not allow what was asked (a tool, agent, skill, another project's data). */
export class PermissionError extends APIError {}

/** 429 rate_limit_error: too many requests this minute (or the model API is limiting the gateway). */
export class RateLimitError extends APIError {
  /** Seconds to wait before the next request, from Retry-After. */
  readonly retryAfter: number | undefined;

  constructor(message: string, options: APIErrorOptions = {}) {
    super(message, options);
    this.retryAfter = retryAfterOf(options.headers);
  }
}

/**
 * Money ran out: 429 insufficient_quota (a key or project budget cannot cover the request's maximum cost), 402
 * budget_exceeded_error (the request hit its own cost cap while running), or a task that ended cost_exceeded.
 * Retrying the same request does not help.
 */
export class BudgetExceededError extends APIError {
  /** For insufficient_quota: seconds until the budget period resets (Retry-After). */
  readonly retryAfter: number | undefined;

  constructor(message: string, options: APIErrorOptions = {}) {
    super(message, options);
    this.retryAfter = retryAfterOf(options.headers);
  }

  override get shouldRetry(): boolean {
    return false;
  }
}

/** 504, a task that ended with status timeout, or no answer within the client's own timeoutMs (status undefined). */
export class TimeoutError extends APIError {}

/** The server could not be reached, or the connection broke before the answer was complete. */
export class ConnectionError extends APIError {
  override get shouldRetry(): boolean {
    return true;
  }
}

function retryAfterOf(headers: Headers | undefined): number | undefined {
  const value = headers?.get("retry-after");
  if (value === null || value === undefined || value.trim() === "") return undefined;
  const seconds = Number(value);
  if (Number.isFinite(seconds)) return Math.max(0, seconds);
  // Retry-After may also be an HTTP date.
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, Math.ceil((at - Date.now()) / 1000));
}

/** The status an error type has over HTTP: errors sent inside a stream or a task result carry no status of their own. */
const STATUS_OF_TYPE: Record<string, number> = {
  invalid_request_error: 400,
  authentication_error: 401,
  budget_exceeded_error: 402,
  permission_error: 403,
  not_found_error: 404,
  request_too_large: 413,
  rate_limit_error: 429,
  insufficient_quota: 429,
  api_error: 500,
  upstream_error: 502,
  overloaded_error: 503,
  timeout_error: 504,
};

export interface ErrorFields {
  type?: unknown;
  message?: unknown;
  code?: unknown;
  param?: unknown;
}

const str = (value: unknown) => (typeof value === "string" ? value : undefined);

/** The right class for an error, from its status and our `{"error":{type,message,code,param}}` body. */
export function makeError(
  fields: ErrorFields,
  options: { status?: number; requestId?: string; body?: unknown; headers?: Headers; result?: TaskResult } = {},
): APIError {
  const type = str(fields.type) ?? "api_error";
  const status = options.status ?? STATUS_OF_TYPE[type];
  const message = str(fields.message) ?? `Request failed${status === undefined ? "" : ` with status ${status}`}`;
  const all: APIErrorOptions = { ...options, status, type, code: str(fields.code), param: str(fields.param) };
  if (status === 401) return new AuthenticationError(message, all);
  if (status === 403) return new PermissionError(message, all);
  if (type === "insufficient_quota" || type === "budget_exceeded_error" || status === 402) return new BudgetExceededError(message, all);
  if (status === 429) return new RateLimitError(message, all);
  if (status === 504 || type === "timeout_error") return new TimeoutError(message, all);
  return new APIError(message, all);
}

/** The error for a non-2xx response; reads its body. */
export async function errorFromResponse(response: Response): Promise<APIError> {
  const text = await response.text().catch(() => "");
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    // Not ours (a proxy's HTML page, say): keep the text as the body.
  }
  const error = typeof body === "object" && body !== null ? (body as { error?: unknown }).error : undefined;
  const fields: ErrorFields =
    typeof error === "object" && error !== null
      ? (error as ErrorFields)
      : { message: `HTTP ${response.status} ${response.statusText}${text ? `: ${text.slice(0, 200)}` : ""}` };
  return makeError(fields, {
    status: response.status,
    requestId: response.headers.get("x-request-id") ?? undefined,
    body,
    headers: response.headers,
  });
}
