// GET /v1/keys/me: who the caller is and what its key may do. Never the key itself.
import { Elysia, t } from "elysia";
import { requestContext } from "../gate.ts";
import { PermissionsSchema, authErrors } from "../schemas.ts";

export const keysRoutes = new Elysia().get(
  "/v1/keys/me",
  ({ request }) => {
    const { principal } = requestContext(request);
    return {
      id: principal.keyId,
      project_id: principal.projectId,
      name: principal.name,
      profile: principal.profile,
      expires_at: principal.expiresAt === null ? null : new Date(principal.expiresAt).toISOString(),
      permissions: principal.permissions,
    };
  },
  {
    detail: { tags: ["keys"], summary: "The calling key's id, project and effective permissions" },
    response: {
      200: t.Object({
        id: t.String({ description: "public id (the first characters after cc_)" }),
        project_id: t.String(),
        name: t.Union([t.String(), t.Null()]),
        profile: t.String(),
        expires_at: t.Union([t.String(), t.Null()]),
        permissions: PermissionsSchema,
      }),
      ...authErrors,
    },
  },
);
