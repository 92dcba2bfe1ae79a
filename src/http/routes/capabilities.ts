// GET /v1/capabilities: the tools, agents and skills on this server, and which the caller's key may use.
import { Elysia, t } from "elysia";
import { capabilities } from "../../capabilities.ts";
import type { Logger } from "../../log.ts";
import { requestContext } from "../gate.ts";
import { authErrors } from "../schemas.ts";

export function capabilitiesRoutes(deps: { claudeConfigDir: string; log: Logger }) {
  return new Elysia().get(
    "/v1/capabilities",
    ({ request }) => {
      const found = capabilities(deps.claudeConfigDir, requestContext(request).principal.permissions);
      // Malformed agent or skill files are the operator's business: logged with their paths, not shown to callers.
      for (const warning of found.warnings) deps.log.warn("capability_file_skipped", { warning });
      return { tools: found.tools, agents: found.agents, skills: found.skills };
    },
    {
      detail: { tags: ["tasks"], summary: "Tools, agents and skills on this server, each with whether this key may use it" },
      response: {
        200: t.Object({
          tools: t.Array(t.Object({ name: t.String(), allowed: t.Boolean() })),
          agents: t.Array(
            t.Object({
              name: t.String(),
              description: t.String(),
              tools: t.Union([t.Array(t.String()), t.Null()]),
              model: t.Union([t.String(), t.Null()]),
              source: t.String({ description: "builtin | user" }),
              allowed: t.Boolean(),
            }),
          ),
          skills: t.Array(t.Object({ name: t.String(), description: t.String(), source: t.String({ description: "bundled | user" }), allowed: t.Boolean() })),
        }),
        ...authErrors,
      },
    },
  );
}
