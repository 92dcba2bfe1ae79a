// Hostile and malformed input to a running gateway (the real binary): unknown routes and methods, bad bodies,
// oversized bodies and keys, header injection, non-UTF-8 bytes. Always a 4xx in our error shape where the app
// answers, never a 500, never a stack trace, and the server keeps serving.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { connect } from "node:net";
import { bearer, createKey, startGateway, type Gateway } from "../support/harness.ts";

const BODY_LIMIT = 65_536;
let gateway: Gateway;
let key: string;
let port: number;

/** Everything the server answered in this file, checked at the end for 500s and stack traces. */
const seen: { what: string; status: number; body: string }[] = [];

beforeAll(async () => {
  gateway = await startGateway({ args: ["--max-body-bytes", String(BODY_LIMIT)] });
  port = Number(new URL(gateway.url).port);
  key = (await createKey(gateway.db, "bad-input", "enterprise")).key;
});

afterAll(async () => {
  await gateway?.stop();
});

interface Answer {
  status: number;
  headers: Headers;
  body: string;
}

async function send(what: string, path: string, init: RequestInit = {}): Promise<Answer> {
  const response = await fetch(`${gateway.url}${path}`, init);
  const answer = { status: response.status, headers: response.headers, body: await response.text() };
  seen.push({ what, status: answer.status, body: answer.body });
  return answer;
}

interface RawAnswer {
  status: number;
  head: string;
  body: string;
}

/** Writes bytes no fetch() would send, straight to the socket, and reads the answer until the server closes. */
function raw(what: string, request: Buffer | string): Promise<RawAnswer> {
  return new Promise((resolve) => {
    const socket = connect(port, "127.0.0.1");
    const chunks: Buffer[] = [];
    let settled = false;
    const finish = () => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      const text = Buffer.concat(chunks).toString("latin1");
      const split = text.indexOf("\r\n\r\n");
      const head = split < 0 ? text : text.slice(0, split);
      const body = split < 0 ? "" : text.slice(split + 4);
      const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(head)?.[1] ?? 0);
      seen.push({ what, status, body });
      resolve({ status, head, body });
    };
    const timer = setTimeout(finish, 10_000);
    socket.on("data", (chunk) => {
      chunks.push(typeof chunk === "string" ? Buffer.from(chunk, "latin1") : chunk);
      const text = Buffer.concat(chunks).toString("latin1");
      const split = text.indexOf("\r\n\r\n");
      if (split < 0) return;
      const length = /\r\ncontent-length: *(\d+)/i.exec(text.slice(0, split));
      if (length && Buffer.concat(chunks).length >= split + 4 + Number(length[1])) finish();
      else if (!length && /^HTTP\/1\.[01] \d{3}/.test(text) && !/transfer-encoding/i.test(text.slice(0, split))) finish();
    });
    socket.on("end", finish);
    socket.on("close", finish);
    socket.on("error", finish); // the server may hang up mid-upload of an oversized request; what it said counts
    socket.write(request);
  });
}

function expectOurError(answer: { status: number; body: string }, status: number | number[]): { type: string; message: string } {
  const statuses = Array.isArray(status) ? status : [status];
  expect(statuses).toContain(answer.status);
  expect(answer.body).toStartWith('{"error":{');
  const parsed = JSON.parse(answer.body) as { error: { type: string; message: string } };
  expect(Object.keys(parsed)).toEqual(["error"]);
  expect(typeof parsed.error.type).toBe("string");
  expect(typeof parsed.error.message).toBe("string");
  expect(parsed.error.message.length).toBeGreaterThan(0);
  return parsed.error;
}

async function expectHealthy(): Promise<void> {
  const response = await fetch(`${gateway.url}/health`);
  expect(response.status).toBe(200);
}

describe("unknown routes and methods", () => {
  test("an unknown route is a 404 in our shape, with or without a key", async () => {
    const withoutKey = await send("GET /nope", "/nope");
    expect(expectOurError(withoutKey, 404).type).toBe("not_found_error");
    const withKey = await send("GET /v1/nope (key)", "/v1/nope", { headers: bearer(key) });
    expect(expectOurError(withKey, 404).type).toBe("not_found_error");
    expect(withKey.headers.get("content-type")).toStartWith("application/json");
    // Under /v1 a caller without a key learns nothing, not even whether the route exists.
    const v1WithoutKey = await send("GET /v1/nope", "/v1/nope");
    expect(JSON.parse(v1WithoutKey.body)).toEqual({ error: { type: "authentication_error", message: "Missing Authorization header" } });
  });

  test("methods a route does not have are a 404/405 in our shape", async () => {
    for (const method of ["POST", "PUT", "PATCH", "DELETE"]) {
      for (const path of ["/v1/models", "/v1/keys/me"]) {
        const answer = await send(`${method} ${path}`, path, {
          method,
          headers: { ...bearer(key), "content-type": "application/json" },
          body: method === "DELETE" ? undefined : '{"model":"sonnet"}',
        });
        expectOurError(answer, [404, 405]);
      }
    }
    expectOurError(await send("POST /health", "/health", { method: "POST", body: "{}" }), [404, 405]);
  });

  test("odd spellings of /v1 paths never get past the gate without a key", async () => {
    const paths = [
      "//v1/models", "/V1/models", "/%761/models", "/v1/%6dodels", "/./v1/models", "/x/../v1/models", "/v1/models/",
      "/v1//models", "/v1/models;x", "/%2Fv1/models", "/v1%2Fmodels", "/v1/keys%2Fme", "/v1/keys/me/", "/v1/models%00",
      "http://elsewhere/v1/models", "/v1/../v1/keys/me",
    ];
    for (const path of paths) {
      const answer = await raw(`path trick ${path}`, `GET ${path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n`);
      expect({ path, status: answer.status }).not.toEqual({ path, status: 200 });
      expect([400, 401, 404]).toContain(answer.status);
      expect(answer.body).not.toContain('"object":"list"');
      expect(answer.body).not.toContain("permissions");
    }
  });

  test("a very long unknown path is answered briefly, not echoed whole", async () => {
    const long = `/v1/${"a".repeat(4000)}`;
    const answer = await send("long path", long, { headers: bearer(key) });
    expectOurError(answer, [404, 414]);
    expect(answer.body.length).toBeLessThan(1000);
  });
});

describe("bad bodies", () => {
  test("malformed JSON is a 4xx in our shape", async () => {
    for (const body of ["{bad", '{"messages": [', "\u0000\u0001", "null", "[]", '"just a string"']) {
      const answer = await send(`malformed ${JSON.stringify(body)}`, "/v1/models", {
        method: "POST",
        headers: { ...bearer(key), "content-type": "application/json" },
        body,
      });
      expectOurError(answer, [400, 404, 405]);
    }
  });

  test("a wrong content type is a 4xx in our shape", async () => {
    for (const type of ["text/plain", "application/xml", "multipart/form-data; boundary=nothing", "application/x-www-form-urlencoded", "application/json; charset=latin-7"]) {
      const answer = await send(`content-type ${type}`, "/v1/keys/me", {
        method: "POST",
        headers: { ...bearer(key), "content-type": type },
        body: "a=1&b=<x/>",
      });
      expectOurError(answer, [400, 404, 405, 415]);
    }
  });

  test("a body over the limit is a 413 in our shape, and the server keeps serving", async () => {
    const big = "x".repeat(BODY_LIMIT * 2);
    const withKey = await send("huge body (key)", "/v1/models", {
      method: "POST",
      headers: { ...bearer(key), "content-type": "application/json" },
      body: big,
    });
    expect(withKey.status).toBe(413);
    expectOurError(withKey, 413);
    await expectHealthy();
    const withoutKey = await send("huge body", "/v1/models", { method: "POST", headers: { "content-type": "application/json" }, body: big });
    expect([401, 413]).toContain(withoutKey.status);
    expectOurError(withoutKey, [401, 413]);
    await expectHealthy();
  });

  test("a body just under the limit is not refused for its size", async () => {
    const answer = await send("body under limit", "/v1/models", {
      method: "POST",
      headers: { ...bearer(key), "content-type": "application/json" },
      body: "x".repeat(BODY_LIMIT - 1024),
    });
    expect(answer.status).not.toBe(413);
    expectOurError(answer, [400, 404, 405]);
  });

  test("an oversized chunked body (no Content-Length) gets a 4xx, and the server keeps serving", async () => {
    const chunk = "y".repeat(BODY_LIMIT);
    const request =
      `POST /v1/models HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer ${key}\r\nContent-Type: application/json\r\n` +
      `Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n` +
      `${chunk.length.toString(16)}\r\n${chunk}\r\n`.repeat(4) +
      "0\r\n\r\n";
    const answer = await raw("chunked huge body", request);
    expect(answer.status).toBeGreaterThanOrEqual(400);
    expect(answer.status).toBeLessThan(500);
    await expectHealthy();
  });
});

describe("hostile headers", () => {
  test("X-Request-Id is echoed only when it is a plain token", async () => {
    const plain = await send("plain request id", "/health", { headers: { "x-request-id": "build-42.step:7" } });
    expect(plain.headers.get("x-request-id")).toBe("build-42.step:7");
    for (const hostile of ["a".repeat(5000), "<script>alert(1)</script>", "id with spaces", "abc%0d%0aSet-Cookie:%20evil=1", "\"quoted\""]) {
      const answer = await send("hostile request id", "/health", { headers: { "x-request-id": hostile } });
      expect(answer.status).toBe(200);
      const echoed = answer.headers.get("x-request-id")!;
      expect(echoed).not.toBe(hostile);
      expect(echoed.length).toBeLessThanOrEqual(128);
      expect(echoed).toMatch(/^[A-Za-z0-9._:-]+$/);
      expect(answer.headers.get("set-cookie")).toBeNull();
    }
  });

  test("CR/LF in a header cannot inject a response header", async () => {
    const split = await raw(
      "request id with CRLF",
      "GET /health HTTP/1.1\r\nHost: localhost\r\nX-Request-Id: abc\r\nX-Injected: yes\r\nConnection: close\r\n\r\n",
    );
    expect(split.status).toBe(200);
    expect(split.head).not.toMatch(/^x-injected/im);
    const bareCr = await raw(
      "request id with bare CR",
      "GET /health HTTP/1.1\r\nHost: localhost\r\nX-Request-Id: abc\rSet-Cookie: evil=1\r\nConnection: close\r\n\r\n",
    );
    expect(bareCr.status).toBeGreaterThanOrEqual(400);
    expect(bareCr.status).toBeLessThan(500);
    expect(bareCr.head).not.toMatch(/^set-cookie/im);
    const bareLf = await raw(
      "request id with bare LF",
      "GET /health HTTP/1.1\r\nHost: localhost\r\nX-Request-Id: abc\nSet-Cookie: evil=1\r\nConnection: close\r\n\r\n",
    );
    expect(bareLf.status === 200 || (bareLf.status >= 400 && bareLf.status < 500)).toBe(true);
    expect(bareLf.head).not.toMatch(/^set-cookie/im);
    const encodedPath = await send("CRLF in path", "/v1/x%0d%0aSet-Cookie:%20evil=1", { headers: bearer(key) });
    expectOurError(encodedPath, 404);
    expect(encodedPath.headers.get("set-cookie")).toBeNull();
    await expectHealthy();
  });

  test("a large but well-under-the-header-limit bogus key is a plain 401 \"Invalid API key\"", async () => {
    const bogus = `cc_${"k".repeat(8000)}`;
    const viaHeader = await send("8 KB key in header", "/v1/models", { headers: bearer(bogus) });
    expect(JSON.parse(viaHeader.body)).toEqual({ error: { type: "authentication_error", message: "Invalid API key" } });
    const viaQuery = await send("8 KB key in query", `/v1/models?api_key=${bogus}`);
    expect(JSON.parse(viaQuery.body)).toEqual({ error: { type: "authentication_error", message: "Invalid API key" } });
  });

  test("a 10 MB key in the Authorization header: a clear 4xx, never a 500, and /health still answers", async () => {
    const huge = `cc_${"K".repeat(10 * 1024 * 1024)}`;
    const started = Date.now();
    const answer = await raw("10 MB key in header", `GET /v1/models HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer ${huge}\r\nConnection: close\r\n\r\n`);
    expect(answer.status).toBeGreaterThanOrEqual(400);
    expect(answer.status).toBeLessThan(500);
    expect(Date.now() - started).toBeLessThan(8_000);
    if (answer.body.length > 0) expectOurError(answer, answer.status);
    await expectHealthy();
  });

  test("a 10 MB key in ?api_key=: a clear 4xx, never a 500, and /health still answers", async () => {
    const huge = `cc_${"Q".repeat(10 * 1024 * 1024)}`;
    const answer = await raw("10 MB key in query", `GET /v1/models?api_key=${huge} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n`);
    expect(answer.status).toBeGreaterThanOrEqual(400);
    expect(answer.status).toBeLessThan(500);
    if (answer.body.length > 0) expectOurError(answer, answer.status);
    await expectHealthy();
  });

  test("many hostile requests at once do not take the server down", async () => {
    const huge = `cc_${"Z".repeat(2 * 1024 * 1024)}`;
    const answers = await Promise.all(
      Array.from({ length: 6 }, (_, i) =>
        raw(`concurrent huge key ${i}`, `GET /v1/models HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer ${huge}\r\nConnection: close\r\n\r\n`),
      ),
    );
    for (const answer of answers) {
      expect(answer.status).toBeGreaterThanOrEqual(400);
      expect(answer.status).toBeLessThan(500);
    }
    await expectHealthy();
    expect((await send("after hostile burst", "/v1/models", { headers: bearer(key) })).status).toBe(200);
  });
});

describe("non-UTF-8 bytes", () => {
  const bytes = (...parts: (string | number[])[]) =>
    Buffer.concat(parts.map((part) => (typeof part === "string" ? Buffer.from(part, "latin1") : Buffer.from(part))));

  test("in the Authorization header: 401 \"Invalid API key\"", async () => {
    const answer = await raw(
      "non-UTF-8 key",
      bytes("GET /v1/models HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer cc_", [0xff, 0xfe, 0xc3, 0x28, 0x80], "\r\nConnection: close\r\n\r\n"),
    );
    expect(JSON.parse(answer.body)).toEqual({ error: { type: "authentication_error", message: "Invalid API key" } });
  });

  test("in the path: a 4xx in our shape (with and without a key)", async () => {
    const withoutKey = await raw("non-UTF-8 path", bytes("GET /v1/", [0xff, 0xfe], "x HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"));
    expectOurError(withoutKey, [400, 401, 404]);
    const withKey = await raw(
      "non-UTF-8 path (key)",
      bytes("GET /v1/", [0xff, 0xfe], `x HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer ${key}\r\nConnection: close\r\n\r\n`),
    );
    expectOurError(withKey, [400, 404]);
  });

  test("in the query's api_key: 401 \"Invalid API key\"", async () => {
    const answer = await raw("non-UTF-8 api_key", bytes("GET /v1/models?api_key=cc_", [0xff, 0xc0, 0xaf], " HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"));
    expect(answer.status).toBe(401);
    expectOurError(answer, 401);
    const encoded = await send("percent-encoded invalid UTF-8 api_key", "/v1/models?api_key=cc_%ff%fe%c3%28");
    expect(JSON.parse(encoded.body)).toEqual({ error: { type: "authentication_error", message: "Invalid API key" } });
  });

  test("in a JSON body: a 4xx in our shape", async () => {
    const payload = bytes('{"messages":[{"role":"user","content":"', [0xff, 0xfe, 0xc3, 0x28], '"}]}');
    const answer = await raw(
      "non-UTF-8 body",
      Buffer.concat([
        bytes(`POST /v1/models HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer ${key}\r\nContent-Type: application/json\r\nContent-Length: ${payload.length}\r\nConnection: close\r\n\r\n`),
        payload,
      ]),
    );
    expectOurError(answer, [400, 404, 405]);
  });

  test("in X-Request-Id: not echoed", async () => {
    const answer = await raw("non-UTF-8 request id", bytes("GET /health HTTP/1.1\r\nHost: localhost\r\nX-Request-Id: ab", [0xff, 0xfe], "cd\r\nConnection: close\r\n\r\n"));
    expect(answer.status).toBe(200);
    const echoed = /^x-request-id: *(.*)$/im.exec(answer.head)?.[1] ?? "";
    expect(echoed).toMatch(/^[A-Za-z0-9._:-]+$/);
  });
});

describe("overall", () => {
  test("no answer in this file was a 500 or carried a stack trace, and the server logged nothing unexpected", async () => {
    expect(seen.length).toBeGreaterThan(30);
    for (const { what, status, body } of seen) {
      expect({ what, status: status >= 500 ? status : "ok" }).toEqual({ what, status: "ok" });
      expect({ what, trace: /\n\s+at |\.ts:\d+:\d+|node_modules|\$bunfs/.test(body) }).toEqual({ what, trace: false });
    }
    await expectHealthy();
    expect(gateway.logs()).not.toContain("unexpected_error");
    expect(gateway.proc.exitCode).toBeNull();
  });
});
