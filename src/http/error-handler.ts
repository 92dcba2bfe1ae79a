// Maps everything thrown while serving a request onto our error shape. Bad input is a 4xx naming what is wrong;
// anything unexpected is logged with its stack on the server side and answered as a bare 500.
import { Elysia, ValidationError } from "elysia";
import { ApiError, badRequest, notFound, tooLarge } from "./errors.ts";

export interface ErrorHandlerDeps {
  maxBodyBytes: number;
  logUnexpected: (error: unknown, request: Request) => void;
  /** Told of every error answered (for the audit of refusals). */
  onErrorResponse?: (error: ApiError, request: Request, route?: string) => void;
}

export function createErrorHandler(deps: ErrorHandlerDeps) {
  return new Elysia({ name: "error-handler" })
    .error({ ApiError })
    .onError({ as: "global" }, (context) => {
      const { code, error, request, set } = context;
      const apiError = toApiError(code, error, request, deps);
      deps.onErrorResponse?.(apiError, request, (context as { route?: string }).route);
      for (const [name, value] of Object.entries(apiError.options.headers ?? {})) set.headers[name] = value;
      set.status = apiError.status;
      set.headers["content-type"] = "application/json";
      return apiError.body();
    });
}

function toApiError(code: string | number, error: unknown, request: Request, deps: ErrorHandlerDeps): ApiError {
  if (error instanceof ApiError) return error;
  switch (code) {
    case "NOT_FOUND": {
      const path = new URL(request.url).pathname;
      return notFound(`No route for ${request.method} ${path.length > 200 ? `${path.slice(0, 200)}…` : path}`);
    }
    case "PARSE":
      return badRequest(`Malformed request body: ${parseReason(error)}`);
    case "VALIDATION":
      return validationError(error as ValidationError);
  }
  if (isTooLarge(error)) return tooLarge(deps.maxBodyBytes);
  deps.logUnexpected(error, request);
  return new ApiError(500, "api_error", "Internal server error; the request id is in the X-Request-Id header");
}

function parseReason(error: unknown): string {
  const message = error instanceof Error ? (error.cause instanceof Error ? error.cause.message : error.message) : "";
  if (/JSON/i.test(message)) return "not valid JSON";
  return "could not be parsed (send JSON with Content-Type: application/json)";
}

function validationError(error: ValidationError): ApiError {
  // The shallowest complaint is the one a caller can act on ("messages must be an array", not its items').
  const all = error.all as { path?: string; summary?: string; message?: string }[];
  const first = [...all].sort((a, b) => (a.path ?? "").split("/").length - (b.path ?? "").split("/").length)[0];
  const where = error.type === "body" ? "body" : error.type;
  if (!first) return badRequest(`Invalid request ${where}`);
  const path = (first.path ?? "").replace(/^\//, "").replaceAll("/", ".");
  const what = first.summary ?? first.message ?? "is invalid";
  if (path === "") return badRequest(`Invalid request ${where}: ${what}`);
  return badRequest(`Invalid field '${path}' in ${where}: ${what}`, path);
}

function isTooLarge(error: unknown): boolean {
  return error instanceof Error && /too large|exceed|payload/i.test(error.message);
}
