// Response schemas shared by routes (for validation of our own output and for the OpenAPI document).
import { t } from "elysia";

export const ErrorSchema = t.Object(
  {
    error: t.Object({
      type: t.String({ description: "authentication_error, permission_error, rate_limit_error, invalid_request_error, ..." }),
      message: t.String(),
      code: t.Optional(t.String()),
      param: t.Optional(t.String()),
    }),
  },
  { description: "Every error has this shape" },
);

export const PermissionsSchema = t.Object({
  allowed_tools: t.Array(t.String(), { description: '["*"] means every tool' }),
  blocked_tools: t.Array(t.String()),
  allowed_agents: t.Array(t.String()),
  allowed_skills: t.Array(t.String()),
  rate_limit: t.Number({ description: "requests per minute" }),
  max_cost_per_task: t.Number({ description: "USD" }),
  timeout: t.Number({ description: "seconds" }),
  max_concurrent: t.Number(),
});

/** The error responses every authenticated route can give. */
export const authErrors = {
  401: ErrorSchema,
  429: ErrorSchema,
} as const;
