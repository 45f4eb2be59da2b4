// `#/`: what nudge ingests, projects, decides and delivers, refreshed every second.

import { api, KINDS } from "./api.js";
import { chart } from "./charts.js";
import { parse, total, totals, Window } from "./metrics.js";
import { failure, h, number, section, table, time } from "./dom.js";

const POINTS = 120;

/** Draws the overview into `root` and refreshes it until `signal` aborts. */
export function render(root, { signal }) {
  const tiles = h("div", { class: "tiles" });
  const model = h("div");
  const charts = h("div", { class: "charts" });
  const subscriptions = h("div");
  const projections = h("div");
  const instances = h("div", { id: "instances" });
  const problem = h("div");
  root.append(h("h1", {}, "Overview"), problem, tiles, section("Active model", model), section("Live", charts));
  root.append(
    section("Projections", projections),
    section("Instances", instances),
    section("Webhook subscriptions", subscriptions),
  );
  const plots = {
    events: chart(charts, { title: "Events per second", labels: ["ingested", "projected"], yLabel: "events/s", signal }),
    lag: chart(charts, { title: "Projection lag (events)", labels: ["behind"], yLabel: "events", signal }),
    lagSeconds: chart(charts, { title: "Projection lag (seconds)", labels: ["behind"], yLabel: "s", signal }),
    kinds: chart(charts, { title: "Recommendations per minute by kind", labels: KINDS, yLabel: "per min", signal }),
    backlog: chart(charts, { title: "Webhook backlog", labels: ["pending deliveries", "outbox"], yLabel: "deliveries", signal }),
    errors: chart(charts, { title: "HTTP errors per second", labels: ["4xx", "5xx"], yLabel: "requests/s", signal }),
  };
  const series = Object.fromEntries(Object.keys(plots).map((name) => [name, [[]]]));
  const second = new Window(5);
  const minute = new Window(60);
  let names = new Map();

  const push = (name, at, values) => {
    const data = series[name];
    data[0].push(at);
    values.forEach((value, i) => (data[i + 1] ||= []).push(value));
    if (data[0].length > POINTS) data.forEach((column) => column.shift());
    plots[name].update(data);
  };

  const tick = async () => {
    const at = Date.now() / 1000;
    const [text, status, cluster] = await Promise.all([
      api("/metrics", { signal }),
      api("/v1/projections", { signal }),
      api("/v1/cluster", { signal }).catch((error) => error),
    ]);
    instances.replaceChildren(cluster instanceof Error ? failure(cluster) : shares(cluster));
    const samples = parse(text);
    projections.replaceChildren(
      table(
        "This instance's projections",
        [
          ["Projection", (p) => p.name],
          ["State", (p) => (p.error ? `${p.state}: ${p.error}` : p.state)],
          ["Checkpoint", (p) => number(p.checkpoint)],
          ["Store head", (p) => number(p.head)],
          ["Lag (events)", (p) => number(p.lag_events)],
          ["Lag (s)", (p) => number(p.lag_seconds, 1)],
          ["Partitions", (p) => number(p.partitions)],
          ["Rebuild", (p) => (p.rebuild ? `at ${number(p.rebuild.checkpoint)}` : "–")],
        ],
        status.projections,
      ),
    );
    const counters = new Map([
      ["ingested", total(samples, "nudge_ingested_events_total", (l) => l.outcome === "appended")],
      ["projected", total(samples, "nudge_projection_events_total")],
      ["4xx", total(samples, "nudge_http_requests_total", (l) => l.status?.startsWith("4"))],
      ["5xx", total(samples, "nudge_http_requests_total", (l) => l.status?.startsWith("5"))],
    ]);
    for (const [kind, count] of totals(samples, "nudge_recommendations_total", "kind")) counters.set(kind, count);
    second.push(at, counters);
    minute.push(at, counters);
    const lag = total(samples, "nudge_projection_lag_events");
    const lagSeconds = total(samples, "nudge_projection_lag_seconds");
    const backlog = totals(samples, "nudge_webhook_backlog", "subscription");
    const pending = [...backlog.values()].reduce((a, b) => a + b, 0);
    const outbox = total(samples, "nudge_webhook_outbox");
    push("events", at, [second.rate("ingested"), second.rate("projected")]);
    push("lag", at, [lag]);
    push("lagSeconds", at, [lagSeconds]);
    push("kinds", at, KINDS.map((kind) => (minute.rate(kind) ?? 0) * 60));
    push("backlog", at, [pending, outbox]);
    push("errors", at, [second.rate("4xx"), second.rate("5xx")]);
    tiles.replaceChildren(
      tile("Events ingested since start", number(counters.get("ingested"))),
      tile("Events/s", number(second.rate("ingested"), 1)),
      tile("Projection lag", `${number(lag)} events · ${number(lagSeconds, 1)} s`),
      tile("Recommendations since start", number(total(samples, "nudge_recommendations_total"))),
      tile("Webhook backlog", number(pending)),
    );
    const oldest = totals(samples, "nudge_webhook_oldest_pending_seconds", "subscription");
    const outcome = (o) => totals(samples, "nudge_webhook_deliveries_total", "subscription", (l) => l.outcome === o);
    const dead = outcome("dead");
    const delivered = outcome("delivered");
    const ids = [...new Set([...names.keys(), ...backlog.keys()])];
    subscriptions.replaceChildren(
      table(
        "Per subscription, since this process started",
        [
          ["Subscription", (id) => h("a", { href: `#/webhooks?id=${id}` }, names.get(id) || id)],
          ["Pending", (id) => number(backlog.get(id) || 0)],
          ["Oldest pending", (id) => `${number(oldest.get(id) || 0, 1)} s`],
          ["Delivered", (id) => number(delivered.get(id) || 0)],
          ["Dead letters", (id) => number(dead.get(id) || 0)],
        ],
        ids,
        "No webhook subscription.",
      ),
    );
  };

  const slow = async () => {
    const [models, webhooks] = await Promise.all([
      api("/v1/models?limit=1", { signal }),
      api("/v1/webhooks?limit=100", { signal }),
    ]);
    names = new Map(webhooks.webhooks.map((w) => [w.id, w.description || w.url]));
    const active =
      models.models.find((m) => m.active) ??
      (models.active ? await api(`/v1/models/${encodeURIComponent(models.active)}`, { signal }) : null);
    model.replaceChildren(
      active
        ? h(
            "dl",
            { class: "facts" },
            fact("Version", h("a", { href: "#/models" }, active.version)),
            fact("Trained", time(active.trained_at)),
            fact("Harm ROC AUC", number(active.harm.roc_auc, 3)),
            fact("Churn ROC AUC", number(active.churn.roc_auc, 3)),
            fact("Decisions", models.decisions),
          )
        : h("p", {}, "No model is active: hard rules only."),
    );
  };

  let count = 0;
  const run = async () => {
    try {
      if (count++ % 10 === 0) await slow();
      await tick();
      problem.replaceChildren();
    } catch (error) {
      if (!signal.aborted) problem.replaceChildren(failure(error));
    }
  };
  run();
  const timer = setInterval(run, 1000);
  signal.addEventListener("abort", () => clearInterval(timer));
}

function tile(label, value) {
  return h("div", { class: "tile" }, h("span", { class: "label" }, label), h("span", { class: "value" }, value));
}

function fact(term, value) {
  return [h("dt", {}, term), h("dd", {}, value)];
}

/** Each instance sharing the read model, the partitions it folds, and how far behind the furthest is. */
function shares(cluster) {
  const features = cluster.partitions.filter((p) => p.projection === "features");
  const rows = cluster.instances.map((i) => ({ id: i.id, address: i.address, held: features.filter((p) => p.owner === i.id) }));
  const unowned = features.filter((p) => !p.owner);
  if (unowned.length) rows.push({ id: "(no owner)", address: "–", held: unowned });
  return table(
    "Per instance: the feature partitions it folds, and the lag of the one furthest behind",
    [
      ["Instance", (r) => r.id],
      ["Address", (r) => r.address],
      ["Partitions", (r) => number(r.held.length)],
      ["Lag of the furthest (events)", (r) => number(Math.max(0, ...r.held.map((p) => p.lag_events)))],
    ],
    rows,
    "No instance has registered yet.",
  );
}
