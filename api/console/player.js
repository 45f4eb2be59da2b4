// `#/players/{id}`: a player's timeline, features (now and `?at=`), recommendations and their deliveries.

import { api, ApiError, query } from "./api.js";
import { chart } from "./charts.js";
import { failure, h, number, section, table, time } from "./dom.js";

const PAGE = 25;

/** Draws the player's page. */
export async function render(root, { args: [playerId], params, signal }) {
  const at = params.get("at");
  const base = `/v1/players/${encodeURIComponent(playerId)}`;
  root.append(h("h1", {}, "Player ", h("span", { class: "mono" }, playerId)));
  const summary = h("div", { class: "tiles" });
  const features = h("div");
  const timeline = h("div");
  const recommendations = h("div");
  const charts = h("div", { class: "charts" });
  root.append(
    summary,
    section("Recommendations", recommendations),
    section("Over time", charts),
    section(at ? `Features as of ${time(at)}` : "Features now", atForm(playerId, at), features),
    section("Timeline, newest first", timeline),
  );
  let now;
  try {
    now = await api(`${base}/features`, { signal });
  } catch (error) {
    if (error instanceof ApiError && error.status === 404) {
      root.append(h("p", { class: "empty" }, `No player ${playerId} is known.`));
      return;
    }
    throw error;
  }
  const count = now.revision + 1;
  summary.append(
    tile("Events", number(count), "event-count"),
    tile("Last seen", time(now.features.last_seen)),
    tile("Net loss", money(now.features.net_loss)),
    tile("In session", now.features.in_session ? "yes" : "no"),
  );
  const shown = at ? await api(`${base}/features${query({ at })}`, { signal }) : now;
  features.append(featureTable(shown.features));
  await Promise.all([
    page(timeline, base, playerId, now.revision, signal),
    recommendationList(recommendations, base, signal),
    history(charts, base, signal),
  ]);
}

/** The features charted over time: name, title, and the divisor to the unit shown. */
const CHARTED = [
  ["net_loss", "Net loss", 100],
  ["stake_24h", "Stakes, last 24 h", 100],
  ["deposit_amount_24h", "Deposits, last 24 h", 100],
  ["session_seconds", "Session length (minutes)", 60],
];

/** Charts of a few features after a sample of the player's events. */
async function history(container, base, signal) {
  const names = CHARTED.map(([name]) => name).join(",");
  const read = await api(`${base}/features/history${query({ names, points: 60 })}`, { signal });
  const times = read.points.map((p) => Date.parse(p.at) / 1000);
  for (const [name, title, divisor] of CHARTED) {
    const values = read.points.map((p) => p.features[name] / divisor);
    chart(container, { title, labels: [name], points: true, height: 150, signal }).update([times, values]);
  }
}

function tile(label, value, id) {
  return h("div", { class: "tile", id }, h("span", { class: "label" }, label), h("span", { class: "value" }, value));
}

function money(minor) {
  return number(minor / 100, 2);
}

function atForm(playerId, at) {
  const input = h("input", {
    id: "at",
    type: "datetime-local",
    step: "1",
    value: at ? at.replace(/Z$/, "").slice(0, 19) : "",
  });
  return h(
    "form",
    {
      class: "inline",
      onsubmit: (event) => {
        event.preventDefault();
        const value = input.value ? `${input.value.length === 16 ? `${input.value}:00` : input.value}Z` : "";
        location.hash = `#/players/${encodeURIComponent(playerId)}${query({ at: value })}`;
      },
    },
    h("label", { for: "at" }, "As of (UTC)"),
    input,
    h("button", { type: "submit" }, "Show"),
    at ? h("a", { href: `#/players/${encodeURIComponent(playerId)}` }, "Now") : null,
  );
}

function featureTable(features) {
  const rows = Object.entries(features);
  return table("Feature values", [["Feature", ([name]) => name], ["Value", ([, value]) => show(value)]], rows);
}

function show(value) {
  if (value === null || value === undefined) return "–";
  if (typeof value === "object") return JSON.stringify(value);
  return String(value);
}

/** Newest first: the page of revisions up to `last`, with a link to the older ones. */
async function page(container, base, playerId, last, signal) {
  const from = Math.max(0, last - PAGE + 1);
  const read = await api(`${base}/events${query({ after: from > 0 ? from - 1 : undefined, limit: last - from + 1 })}`, {
    signal,
  });
  const events = read.events.filter((e) => e.revision <= last).reverse();
  const list = h(
    "ol",
    { class: "timeline", reversed: true },
    events.map((stored) => {
      const event = stored.event;
      return h(
        "li",
        { value: stored.revision + 1 },
        h(
          "details",
          {},
          h(
            "summary",
            {},
            h("time", { datetime: event.time }, time(event.time)),
            " ",
            h("span", { class: "type" }, event.type),
            " ",
            h("span", { class: "muted" }, `#${stored.revision}`),
          ),
          h("pre", { tabindex: 0 }, JSON.stringify(event, null, 2)),
          h("a", { href: `#/players/${encodeURIComponent(playerId)}${query({ at: event.time })}` }, "Features as of this event"),
        ),
      );
    }),
  );
  container.replaceChildren(list);
  if (from > 0) {
    const more = h("button", { type: "button" }, "Older events");
    more.addEventListener("click", async () => {
      more.disabled = true;
      const older = h("div");
      more.replaceWith(older);
      try {
        await page(older, base, playerId, from - 1, signal);
      } catch (error) {
        older.replaceChildren(failure(error));
      }
    });
    container.append(more);
  }
}

async function recommendationList(container, base, signal) {
  const [read, sent] = await Promise.all([
    api(`${base}/recommendations${query({ order: "desc", limit: 50 })}`, { signal }),
    api(`${base}/deliveries${query({ limit: 200 })}`, { signal }),
  ]);
  const rows = read.recommendations;
  const deliveries = Map.groupBy(sent.deliveries, (d) => d.event_id);
  container.replaceChildren(
    table(
      "The player's latest recommendations, newest first",
      [
        ["When", (r) => time(r.created_at)],
        ["Kind", (r) => h("span", { class: "kind" }, r.kind)],
        ["Rule", (r) => r.rule],
        ["Scores", (r) => (r.scores ? `harm ${number(r.scores.harm, 3)} · churn ${number(r.scores.churn, 3)}` : "–")],
        ["Reasons", (r) => reasons(r.reasons)],
        ["Response", (r) => r.status],
        ["Deliveries", (r) => deliveryLinks(r, deliveries.get(r.id) || [])],
      ],
      rows,
      "No recommendation yet.",
    ),
  );
}

function deliveryLinks(recommendation, deliveries) {
  if (!deliveries.length) return "–";
  const href = `#/webhooks${query({ player: recommendation.player_id, recommendation: recommendation.id })}`;
  return h(
    "a",
    { href, class: "deliveries" },
    deliveries.map((d) => `${d.status}${d.attempts > 1 ? ` (${d.attempts} attempts)` : ""}`).join(", "),
  );
}

/** The reasons of a recommendation, as a list. */
export function reasons(list) {
  if (!list.length) return "–";
  return h(
    "ul",
    { class: "reasons" },
    list.map((r) => h("li", {}, `${r.feature} = ${number(r.value, 2)} (${r.contribution >= 0 ? "+" : ""}${number(r.contribution, 2)})`)),
  );
}
