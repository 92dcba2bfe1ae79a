// The auth gate: runs before routing, body parsing and validation, so a caller without a valid key learns
// nothing else about the API and costs us nothing but a hash. Also stamps request ids and rate-limit headers.
import { Elysia } from "elysia";
import type { AuthManager, Principal } from "../auth/manager.ts";
import type { LastUsedTracker } from "../auth/last-used.ts";
import type { RateLimiter } from "../limits/rate-limiter.ts";
import { ApiError, invalidKey, missingAuthorization, rateLimited, tooLarge } from "./errors.ts";

export interface RequestContext {
  requestId: string;
  principal: Principal;
  /** Seconds until the caller's oldest request leaves the rate window; for tests and logs. */
  rateRemaining: number;
}

export interface GateDeps {
  auth: AuthManager;
  limiter: RateLimiter;
  lastUsed: LastUsedTracker;
  maxBodyBytes: number;
  /** Told of each refusal (for the audit log); never given the key. */
  onRefusal?: (event: {
    reason: "missing_key" | "invalid_key" | "rate_limited";
    keyId?: string;
    projectId?: string;
    /** For invalid keys that are ours: revoked or expired. */
    keyStatus?: string;
    address?: string;
    path: string;
    requestId: string;
  }) => void;
  /** Told first of every request (the observer's clock starts here). */
  onRequestStart?: (request: Request) => void;
  /** Told of each response the gate answers itself (they skip Elysia's after-response hooks). */
  onGateResponse?: (request: Request, status: number, keyId?: string) => void;
}

const VALID_REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;
// Per-request state rides on the Request itself under private symbols: WeakMaps keyed by short-lived requests
// cost measurably more on the hot path (and in the garbage collector).
const CONTEXT = Symbol("claude-api.context");
const REQUEST_ID = Symbol("claude-api.request-id");
const WS_REFUSAL = Symbol("claude-api.ws-refusal");
type Tagged = Request & { [CONTEXT]?: RequestContext; [REQUEST_ID]?: string; [WS_REFUSAL]?: ApiError };
const STREAM_PATH = "/v1/stream";

/**
 * A refused WebSocket upgrade: browsers cannot read an HTTP error on a failed upgrade, so the socket is opened
 * and at once closed with the reason (see routes/stream.ts).
 */
export function websocketRefusal(request: Request): ApiError | undefined {
  return (request as Tagged)[WS_REFUSAL];
}

/** The request's id (echoed from X-Request-Id when well-formed, else generated); set for every request. */
export function requestIdOf(request: Request): string | undefined {
  return (request as Tagged)[REQUEST_ID];
}

/** The key id of an authenticated request, for logs. */
export function keyIdOf(request: Request): string | undefined {
  return (request as Tagged)[CONTEXT]?.principal.keyId;
}

/** The authenticated context of a /v1 request; set by the gate before any handler runs. */
export function requestContext(request: Request): RequestContext {
  const context = (request as Tagged)[CONTEXT];
  if (!context) throw new ApiError(401, "authentication_error", "Missing Authorization header");
  return context;
}

export function pathOf(url: string): string {
  const start = url.indexOf("/", url.indexOf("//") + 2);
  if (start < 0) return "/";
  const query = url.indexOf("?", start);
  return query < 0 ? url.slice(start) : url.slice(start, query);
}

/** The presented key: `Authorization: Bearer KEY`, then `x-api-key`, then `?api_key=` (for WebSockets). */
export function presentedKey(request: Request): string | undefined {
  const authorization = request.headers.get("authorization");
  // The common case without a regex: "Bearer " + one of our keys.
  if (authorization !== null && authorization.length === 53 && authorization.startsWith("Bearer ")) return authorization.slice(7);
  if (authorization !== null) {
    const match = /^\s*Bearer\s+(\S+)\s*$/i.exec(authorization);
    return match ? match[1]! : "";
  }
  const header = request.headers.get("x-api-key");
  if (header !== null) return header.trim();
  const url = request.url;
  if (url.includes("api_key=")) {
    const value = new URL(url).searchParams.get("api_key");
    if (value !== null) return value;
  }
  return undefined;
}

export function createGate(deps: GateDeps) {
  return new Elysia({ name: "auth-gate" }).onRequest(({ request, set, server }) => {
    deps.onRequestStart?.(request);
    const incoming = request.headers.get("x-request-id");
    const requestId = incoming !== null && VALID_REQUEST_ID.test(incoming) ? incoming : crypto.randomUUID();
    set.headers["x-request-id"] = requestId;
    (request as Tagged)[REQUEST_ID] = requestId;
    const answer = (error: ApiError, headers: Record<string, string>, keyId?: string) => {
      deps.onGateResponse?.(request, error.status, keyId);
      if (isUpgrade) {
        (request as Tagged)[WS_REFUSAL] = error;
        return;
      }
      return error.toResponse({ ...headers, "x-request-id": requestId });
    };
    let isUpgrade = false;

    const length = request.headers.get("content-length");
    if (length !== null && Number(length) > deps.maxBodyBytes) {
      return answer(tooLarge(deps.maxBodyBytes), { connection: "close" });
    }

    const path = pathOf(request.url);
    if (!path.startsWith("/v1/") && path !== "/v1") return;
    isUpgrade = path === STREAM_PATH && request.headers.get("upgrade")?.toLowerCase() === "websocket";

    const key = presentedKey(request);
    // Only refusals record the caller's address; reading it costs on the hot path.
    const address = () => server?.requestIP(request)?.address;
    if (key === undefined || key === "") {
      deps.onRefusal?.({ reason: "missing_key", address: address(), path, requestId });
      return answer(key === undefined ? missingAuthorization() : invalidKey(), {});
    }
    const principal = deps.auth.authenticate(key);
    if (!principal) {
      const known = deps.onRefusal ? deps.auth.describeRejected(key) : null;
      deps.onRefusal?.({ reason: "invalid_key", keyId: known?.keyId, projectId: known?.projectId, keyStatus: known?.status, address: address(), path, requestId });
      return answer(invalidKey(), {});
    }

    const decision = deps.limiter.check(principal.keyId, principal.permissions.rate_limit);
    const headers = set.headers;
    headers["x-ratelimit-limit"] = String(decision.limit);
    headers["x-ratelimit-remaining"] = String(decision.remaining);
    headers["x-ratelimit-reset"] = String(decision.resetAt);
    if (!decision.allowed) {
      deps.onRefusal?.({ reason: "rate_limited", keyId: principal.keyId, projectId: principal.projectId, address: address(), path, requestId });
      const rateHeaders = {
        "x-ratelimit-limit": String(decision.limit),
        "x-ratelimit-remaining": String(decision.remaining),
        "x-ratelimit-reset": String(decision.resetAt),
      };
      return answer(rateLimited(decision.retryAfter), rateHeaders, principal.keyId);
    }
    deps.lastUsed.mark(principal.keyId, Date.now());
    (request as Tagged)[CONTEXT] = { requestId, principal, rateRemaining: decision.remaining };
  });
}
