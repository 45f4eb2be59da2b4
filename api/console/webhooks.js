// `#/webhooks`: subscriptions, their deliveries by status, retry, replay, test and secret rotation.

import { api, query } from "./api.js";
import { failure, h, number, playerLink, section, table, time } from "./dom.js";

const STATUSES = ["pending", "delivered", "dead"];
const PAGE = 50;

/** Draws the subscriptions, and the chosen one's deliveries. */
export async function render(root, { params, signal }) {
  const list = await api(`/v1/webhooks${query({ limit: 100 })}`, { signal });
  const chosen = params.get("id") || list.webhooks[0]?.id;
  const status = params.get("status") || "";
  root.append(
    h("h1", {}, "Webhooks"),
    section(
      "Subscriptions",
      table(
        "Webhook subscriptions",
        [
          ["Subscription", (w) => h("a", { href: `#/webhooks${query({ id: w.id })}`, class: "mono" }, w.id)],
          ["URL", (w) => w.url],
          ["Description", (w) => w.description],
          ["Kinds", (w) => (w.kinds ? w.kinds.join(", ") : "all")],
          ["Enabled", (w) => (w.enabled ? "yes" : `no${w.disabled_reason ? `: ${w.disabled_reason}` : ""}`)],
        ],
        list.webhooks,
        "No webhook subscription.",
      ),
    ),
  );
  const recommendation = params.get("recommendation");
  if (recommendation) root.append(await ofRecommendation(params.get("player"), recommendation, signal));
  else if (chosen) root.append(await subscription(chosen, status, signal));
}

/** The deliveries of one recommendation, to every subscription. */
async function ofRecommendation(player, recommendation, signal) {
  const read = await api(
    `/v1/players/${encodeURIComponent(player)}/deliveries${query({ recommendation_id: recommendation })}`,
    { signal },
  );
  const output = h("div", { role: "status", "aria-live": "polite" });
  return section(
    `Deliveries of recommendation ${recommendation}`,
    output,
    deliveryTable((d) => `/v1/webhooks/${d.subscription_id}`, read.deliveries, output, true),
  );
}

async function subscription(id, status, signal) {
  const base = `/v1/webhooks/${encodeURIComponent(id)}`;
  const output = h("div", { role: "status", "aria-live": "polite" });
  const deliveries = h("div");
  const block = section(`Subscription ${id}`, actions(base, id, output), output, statusFilter(id, status), deliveries);
  const page = async (after) => {
    const read = await api(`${base}/deliveries${query({ status, after, limit: PAGE })}`, { signal });
    deliveries.append(deliveryTable(() => base, read.deliveries, output, false));
    if (read.next !== null) {
      const more = h("button", { type: "button" }, "More deliveries");
      more.addEventListener("click", () => {
        more.remove();
        page(read.next).catch((error) => deliveries.append(failure(error)));
      });
      deliveries.append(more);
    }
  };
  await page(undefined);
  return block;
}

function statusFilter(id, status) {
  return h(
    "nav",
    { "aria-label": "Deliveries by status", class: "tabs" },
    ["", ...STATUSES].map((s) =>
      h("a", { href: `#/webhooks${query({ id, status: s })}`, "aria-current": s === status ? "page" : null }, s || "all"),
    ),
  );
}

function deliveryTable(base, rows, output, newest) {
  return table(
    newest ? "Deliveries, newest first" : "Deliveries, oldest first",
    [
      ["Delivery", (d) => h("span", { class: "mono" }, d.id)],
      ["Subscription", (d) => h("a", { href: `#/webhooks${query({ id: d.subscription_id })}`, class: "mono" }, d.subscription_id.slice(0, 8))],
      ["Event", (d) => h("span", {}, d.event_type, h("br"), h("span", { class: "mono muted" }, d.event_id))],
      ["Player", (d) => playerLink(d.player_id)],
      ["Status", (d) => h("span", { class: `status ${d.status}` }, d.status)],
      ["Attempts", (d) => number(d.attempts)],
      ["Last answer", (d) => (d.last_status ? `HTTP ${d.last_status}` : "–")],
      ["Last error", (d) => d.last_error || "–"],
      ["Last tried", (d) => time(d.last_attempt_at)],
      ["Action", (d) => (d.status === "delivered" ? "" : retryButton(base(d), d, output))],
    ],
    rows,
    "No delivery.",
  );
}

function retryButton(base, delivery, output) {
  return h(
    "button",
    {
      type: "button",
      "aria-label": `Retry delivery ${delivery.id}`,
      onclick: async () => {
        try {
          const retried = await api(`${base}/deliveries/${delivery.id}/retry`, { method: "POST" });
          output.replaceChildren(h("p", {}, `Delivery ${retried.id} is due again now.`));
        } catch (error) {
          output.replaceChildren(failure(error));
        }
      },
    },
    "Retry",
  );
}

function actions(base, id, output) {
  const since = h("input", { id: "replay-since", type: "datetime-local", step: "1", required: true });
  const run = (work) => async (event) => {
    event.preventDefault();
    try {
      output.replaceChildren(await work());
    } catch (error) {
      output.replaceChildren(failure(error));
    }
  };
  return h(
    "div",
    { class: "actions" },
    h(
      "button",
      {
        type: "button",
        onclick: run(async () => {
          const delivery = await api(`${base}/test`, { method: "POST" });
          return h("p", {}, `Test event queued: delivery ${delivery.id}.`);
        }),
      },
      "Send a test event",
    ),
    h(
      "button",
      {
        type: "button",
        onclick: run(async () => {
          if (!window.confirm("Rotate the signing secret? The old one keeps signing for a while.")) return "";
          const rotated = await api(`${base}/rotate-secret`, { method: "POST" });
          return h("p", {}, "New secret (shown this once): ", h("code", { class: "secret" }, rotated.secret));
        }),
      },
      "Rotate the secret",
    ),
    h(
      "form",
      {
        class: "inline",
        onsubmit: run(async () => {
          const value = since.value.length === 16 ? `${since.value}:00` : since.value;
          const replayed = await api(`${base}/replay`, { method: "POST", body: { since: `${value}Z` } });
          return h("p", {}, `Queued again: ${number(replayed.queued)} deliveries.`);
        }),
      },
      h("label", { for: "replay-since" }, "Replay since (UTC)"),
      since,
      h("button", { type: "submit" }, "Replay"),
    ),
    h("span", { class: "muted" }, `Subscription ${id}`),
  );
}
