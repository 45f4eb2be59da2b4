// `#/recommendations`: the live feed, newest first, filterable by kind and rule.

import { api, KINDS, query, RULES } from "./api.js";
import { failure, h, number, playerLink, table, time } from "./dom.js";
import { reasons } from "./player.js";

const PAGE = 50;
/** The most pages read to fill a page of one rule (the API filters kinds, the page filters rules). */
const SCAN = 5;

/** Draws the feed and looks for new recommendations every second. */
export function render(root, { params, signal }) {
  const kind = params.get("kind") || "";
  const rule = params.get("rule") || "";
  const list = h("div");
  const more = h("button", { type: "button" }, "Older recommendations");
  root.append(h("h1", {}, "Recommendations"), filters(kind, rule), list, more);
  let rows = [];
  let newest = null;
  let cursor = null;
  const keep = (r) => !rule || r.rule === rule;

  const draw = () =>
    list.replaceChildren(
      table(
        "Newest first",
        [
          ["When", (r) => time(r.created_at)],
          ["Player", (r) => playerLink(r.player_id)],
          ["Kind", (r) => h("span", { class: "kind" }, r.kind)],
          ["Rule", (r) => r.rule],
          ["Scores", (r) => (r.scores ? `harm ${number(r.scores.harm, 3)} · churn ${number(r.scores.churn, 3)}` : "–")],
          ["Reasons", (r) => reasons(r.reasons)],
          ["Response", (r) => r.status],
        ],
        rows,
        "No recommendation matches.",
      ),
    );

  const older = async () => {
    const found = [];
    for (let scanned = 0; scanned < SCAN && found.length < PAGE && cursor !== undefined; scanned++) {
      const read = await api(`/v1/recommendations${query({ order: "desc", before: cursor, kind, limit: PAGE })}`, {
        signal,
      });
      if (newest === null) newest = read.recommendations[0]?.triggered_by.position ?? 0;
      found.push(...read.recommendations.filter(keep));
      cursor = read.next ?? undefined;
    }
    rows = rows.concat(found);
    more.hidden = cursor === undefined;
    draw();
  };

  const newer = async () => {
    if (newest === null) return;
    const read = await api(`/v1/recommendations${query({ after: newest, kind, limit: PAGE })}`, { signal });
    if (!read.recommendations.length) return;
    newest = read.recommendations[read.recommendations.length - 1].triggered_by.position;
    rows = read.recommendations.filter(keep).reverse().concat(rows).slice(0, 500);
    draw();
  };

  const guard = (work) => async () => {
    try {
      await work();
    } catch (error) {
      if (!signal.aborted) list.replaceChildren(failure(error));
    }
  };
  more.addEventListener("click", guard(older));
  let timer;
  guard(older)().then(() => {
    if (!signal.aborted) timer = setInterval(guard(newer), 1000);
  });
  signal.addEventListener("abort", () => clearInterval(timer));
}

function filters(kind, rule) {
  const select = (id, label, value, options) =>
    h(
      "span",
      { class: "field" },
      h("label", { for: id }, label),
      h(
        "select",
        { id, name: id },
        h("option", { value: "" }, "any"),
        options.map((o) => h("option", { value: o, selected: o === value }, o)),
      ),
    );
  return h(
    "form",
    {
      class: "inline",
      onchange: (event) => {
        const form = event.currentTarget;
        location.hash = `#/recommendations${query({ kind: form.kind.value, rule: form.rule.value })}`;
      },
      onsubmit: (event) => event.preventDefault(),
    },
    select("kind", "Kind", kind, KINDS),
    select("rule", "Rule", rule, RULES),
  );
}
