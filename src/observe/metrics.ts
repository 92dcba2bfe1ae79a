// Prometheus metrics kept in memory: requests by route and status, latency histograms, runs, tokens and cost by
// model, and gauges read at scrape time (live CLI processes, queue depth).
const LATENCY_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300];

interface Histogram {
  counts: number[];
  sum: number;
  count: number;
}

const escapeLabel = (value: string) => value.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");
const labels = (pairs: Record<string, string>) =>
  `{${Object.entries(pairs)
    .map(([k, v]) => `${k}="${escapeLabel(v)}"`)
    .join(",")}}`;

export class Metrics {
  /** route → method → status → count */
  private readonly requestCounts = new Map<string, Map<string, Map<number, number>>>();
  private readonly latency = new Map<string, Histogram>();
  private readonly runs = new Map<string, { model: string; status: string; count: number }>();
  private readonly tokens = new Map<string, { model: string; kind: string; count: number }>();
  private readonly cost = new Map<string, number>();
  private readonly gauges: { name: string; help: string; read: () => number }[] = [];

  observeRequest(method: string, route: string, status: number, seconds: number): void {
    // Nested lookups rather than a composed string key: this runs on every request.
    let byRoute = this.requestCounts.get(route);
    if (!byRoute) this.requestCounts.set(route, (byRoute = new Map()));
    let byMethod = byRoute.get(method);
    if (!byMethod) byRoute.set(method, (byMethod = new Map()));
    byMethod.set(status, (byMethod.get(status) ?? 0) + 1);
    let histogram = this.latency.get(route);
    if (!histogram) {
      histogram = { counts: LATENCY_BUCKETS.map(() => 0), sum: 0, count: 0 };
      this.latency.set(route, histogram);
    }
    // Non-cumulative here (one bucket per observation); render() accumulates.
    let bucket = 0;
    while (bucket < LATENCY_BUCKETS.length && seconds > LATENCY_BUCKETS[bucket]!) bucket++;
    if (bucket < LATENCY_BUCKETS.length) histogram.counts[bucket]!++;
    histogram.sum += seconds;
    histogram.count++;
  }

  observeRun(model: string, status: string, tokens: Record<"input" | "output" | "cache_creation" | "cache_read", number>, costUsd: number): void {
    const runId = `${model} ${status}`;
    const run = this.runs.get(runId);
    if (run) run.count++;
    else this.runs.set(runId, { model, status, count: 1 });
    for (const [kind, count] of Object.entries(tokens)) {
      const id = `${model} ${kind}`;
      const entry = this.tokens.get(id);
      if (entry) entry.count += count;
      else this.tokens.set(id, { model, kind, count });
    }
    this.cost.set(model, (this.cost.get(model) ?? 0) + costUsd);
  }

  gauge(name: string, help: string, read: () => number): void {
    this.gauges.push({ name, help, read });
  }

  render(): string {
    const out: string[] = [];
    out.push("# HELP claude_api_requests_total HTTP requests by method, route and status.", "# TYPE claude_api_requests_total counter");
    for (const [route, byMethod] of this.requestCounts) {
      for (const [method, byStatus] of byMethod) {
        for (const [status, count] of byStatus) out.push(`claude_api_requests_total${labels({ method, route, status: String(status) })} ${count}`);
      }
    }
    out.push("# HELP claude_api_request_duration_seconds Time to response headers, by route.", "# TYPE claude_api_request_duration_seconds histogram");
    for (const [route, h] of this.latency) {
      let cumulative = 0;
      LATENCY_BUCKETS.forEach((le, i) => {
        cumulative += h.counts[i]!;
        out.push(`claude_api_request_duration_seconds_bucket${labels({ route, le: String(le) })} ${cumulative}`);
      });
      out.push(`claude_api_request_duration_seconds_bucket${labels({ route, le: "+Inf" })} ${h.count}`);
      out.push(`claude_api_request_duration_seconds_sum${labels({ route })} ${h.sum}`);
      out.push(`claude_api_request_duration_seconds_count${labels({ route })} ${h.count}`);
    }
    out.push("# HELP claude_api_runs_total Claude Code runs by model and how they ended.", "# TYPE claude_api_runs_total counter");
    for (const r of this.runs.values()) out.push(`claude_api_runs_total${labels({ model: r.model, status: r.status })} ${r.count}`);
    out.push("# HELP claude_api_tokens_total Tokens by model and kind.", "# TYPE claude_api_tokens_total counter");
    for (const t of this.tokens.values()) out.push(`claude_api_tokens_total${labels({ model: t.model, kind: t.kind })} ${t.count}`);
    out.push("# HELP claude_api_cost_usd_total Cost in USD by model, as Claude Code reported it.", "# TYPE claude_api_cost_usd_total counter");
    for (const [model, usd] of this.cost) out.push(`claude_api_cost_usd_total${labels({ model })} ${usd}`);
    for (const g of this.gauges) out.push(`# HELP ${g.name} ${g.help}`, `# TYPE ${g.name} gauge`, `${g.name} ${g.read()}`);
    return `${out.join("\n")}\n`;
  }
}
