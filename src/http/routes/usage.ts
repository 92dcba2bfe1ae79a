// GET /v1/usage: what the caller's own project used in a calendar period.
import { Elysia, t, type Static } from "elysia";
import type { UsageStore } from "../../store/usage.ts";
import { PERIODS, isPeriod, periodRange } from "../../util/period.ts";
import { badRequest, forbidden } from "../errors.ts";
import { requestContext } from "../gate.ts";
import { ErrorSchema, authErrors } from "../schemas.ts";

export interface UsageDeps {
  usage: UsageStore;
  timezone: string;
}

const GROUPINGS = ["model", "key"] as const;

const Totals = {
  requests: t.Number(),
  errors: t.Number(),
  input_tokens: t.Number(),
  output_tokens: t.Number(),
  cache_creation_tokens: t.Number(),
  cache_read_tokens: t.Number(),
  cost_usd: t.Number(),
};

const UsageResponseSchema = t.Object({
  project_id: t.String(),
  period: t.String(),
  timezone: t.String(),
  start: t.String(),
  end: t.String(),
  totals: t.Object(Totals),
  group_by: t.String(),
  groups: t.Array(t.Object({ group: t.String(), ...Totals })),
});

/** The body of GET /v1/usage. */
export type UsageResponse = Static<typeof UsageResponseSchema>;

export function usageRoutes(deps: UsageDeps) {
  return new Elysia().get(
    "/v1/usage",
    ({ request, query }) => {
      const { principal } = requestContext(request);
      const projectId = query.project_id ?? principal.projectId;
      if (projectId !== principal.projectId) {
        throw forbidden(`This API key belongs to project '${principal.projectId}' and cannot read another project's usage`, "project_id");
      }
      const period = query.period ?? "month";
      if (!isPeriod(period)) throw badRequest(`period must be one of ${PERIODS.join(", ")}`, "period");
      const groupBy = query.group_by ?? "model";
      if (!(GROUPINGS as readonly string[]).includes(groupBy)) throw badRequest(`group_by must be one of ${GROUPINGS.join(", ")}`, "group_by");
      const { start, end } = periodRange(period, Date.now(), deps.timezone);
      const filter = { projectId, since: start, until: end };
      return {
        project_id: projectId,
        period,
        timezone: deps.timezone,
        start: new Date(start).toISOString(),
        end: new Date(end).toISOString(),
        totals: deps.usage.totals(filter),
        group_by: groupBy,
        groups: deps.usage.grouped(filter, groupBy as (typeof GROUPINGS)[number]),
      };
    },
    {
      query: t.Object({
        project_id: t.Optional(t.String({ description: "your key's project (the default); any other is refused" })),
        period: t.Optional(t.String({ description: "day | week (from Monday) | month (default), calendar-aligned in the server's timezone" })),
        group_by: t.Optional(t.String({ description: "model (default) | key" })),
      }),
      detail: { tags: ["usage"], summary: "Requests, tokens and cost of the caller's project in the current day, week or month" },
      response: {
        200: UsageResponseSchema,
        400: ErrorSchema,
        403: ErrorSchema,
        ...authErrors,
      },
    },
  );
}
