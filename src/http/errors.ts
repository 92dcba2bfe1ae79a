// One error shape everywhere: {"error":{"type","message"[, "code", "param"]}}, never a stack trace.
export type ErrorType =
  | "authentication_error"
  | "permission_error"
  | "rate_limit_error"
  | "insufficient_quota"
  | "invalid_request_error"
  | "not_found_error"
  | "request_too_large"
  | "overloaded_error"
  | "upstream_error"
  | "timeout_error"
  | "budget_exceeded_error"
  | "api_error";

export interface ErrorBody {
  error: { type: ErrorType; message: string; code?: string; param?: string };
}

export interface ApiErrorOptions {
  code?: string;
  param?: string;
  headers?: Record<string, string>;
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly type: ErrorType,
    message: string,
    readonly options: ApiErrorOptions = {},
  ) {
    super(message);
  }

  body(): ErrorBody {
    const { code, param } = this.options;
    return {
      error: {
        type: this.type,
        message: this.message,
        ...(code === undefined ? {} : { code }),
        ...(param === undefined ? {} : { param }),
      },
    };
  }

  toResponse(headers: Record<string, string> = {}): Response {
    return new Response(JSON.stringify(this.body()), {
      status: this.status,
      headers: { "content-type": "application/json", ...headers, ...this.options.headers },
    });
  }
}

export const badRequest = (message: string, param?: string) =>
  new ApiError(400, "invalid_request_error", message, param === undefined ? {} : { param });

export const forbidden = (message: string, param?: string) =>
  new ApiError(403, "permission_error", message, param === undefined ? {} : { param });

export const notFound = (message: string) => new ApiError(404, "not_found_error", message);

export const missingAuthorization = () => new ApiError(401, "authentication_error", "Missing Authorization header");
export const invalidKey = () => new ApiError(401, "authentication_error", "Invalid API key");

export function rateLimited(retryAfter: number): ApiError {
  return new ApiError(429, "rate_limit_error", `Rate limit exceeded. Reset in ${retryAfter} seconds.`, {
    headers: { "retry-after": String(retryAfter) },
  });
}

/** The request body went over the configured limit. */
export const tooLarge = (limit: number) =>
  new ApiError(413, "request_too_large", `Request body too large: the limit is ${limit} bytes`);

/**
 * For a route's `transform` hook, before validation: the validator coerces a string into a list of characters and
 * then reports a field deep inside it; a caller should hear that the list itself is wrong.
 */
export function requireArrayField(body: unknown, field: string, what: string): void {
  const value = (body as Record<string, unknown> | null)?.[field];
  if (value !== undefined && !Array.isArray(value)) {
    throw badRequest(`Invalid field '${field}' in body: expected an array of ${what}, got ${value === null ? "null" : typeof value}`, field);
  }
}
