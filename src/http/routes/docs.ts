// Swagger UI at /docs and the OpenAPI document at /docs/json. The UI's assets are embedded in the binary
// (imported as files), so the page renders on a machine with no internet.
import { Elysia } from "elysia";
import { openapi } from "@elysiajs/openapi";
import bundlePath from "swagger-ui-dist/swagger-ui-bundle.js" with { type: "file" };
import cssPath from "swagger-ui-dist/swagger-ui.css" with { type: "file" };

const ASSETS: Record<string, { path: string; type: string }> = {
  "swagger-ui-bundle.js": { path: bundlePath, type: "text/javascript; charset=utf-8" },
  "swagger-ui.css": { path: cssPath, type: "text/css; charset=utf-8" },
};

export function docsRoutes(version: string) {
  return new Elysia()
    .use(
      openapi({
        path: "/docs",
        specPath: "/docs/json",
        provider: "swagger-ui",
        exclude: { paths: ["/docs/assets/:name"] },
        swagger: {
          cdn: "/docs/assets/swagger-ui-bundle.js",
          theme: "/docs/assets/swagger-ui.css",
          persistAuthorization: true,
          // Absolute: the default is relative and breaks under /docs/ (trailing slash). Not in the plugin's
          // types, but passed through to SwaggerUIBundle.
          ...({ url: "/docs/json" } as object),
        },
        documentation: {
          info: {
            title: "claude-api",
            version,
            description:
              "Claude Code as an OpenAI-compatible HTTP + WebSocket API. Authenticate with `Authorization: Bearer cc_...` " +
              "(or `?api_key=` where headers cannot be set). Every authenticated response carries X-RateLimit-Limit, " +
              "X-RateLimit-Remaining and X-RateLimit-Reset; errors have one shape: an error object with type and message.",
          },
          components: {
            securitySchemes: { bearer: { type: "http", scheme: "bearer", description: "a claude-api key (cc_...)" } },
          },
          security: [{ bearer: [] }],
          tags: [
            { name: "health", description: "Liveness and dependencies (no key needed)" },
            { name: "models", description: "Models this gateway accepts" },
            { name: "keys", description: "The calling key" },
            { name: "chat", description: "OpenAI-compatible chat completions answered by Claude Code" },
            { name: "usage", description: "Metered usage of the caller's project" },
          ],
        },
      }),
    )
    .get("/docs/assets/:name", ({ params, set }) => {
      const asset = ASSETS[params.name];
      if (!asset) {
        set.status = 404;
        return { error: { type: "not_found_error", message: `No docs asset named '${params.name}'` } };
      }
      return new Response(Bun.file(asset.path), {
        headers: { "content-type": asset.type, "cache-control": "public, max-age=86400" },
      });
    }, { detail: { hide: true } });
}
