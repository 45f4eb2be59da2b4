// `#/models`: versions with their metrics and curves; train (with progress) and activate.

import { api, query } from "./api.js";
import { chart } from "./charts.js";
import { failure, h, number, section, table, time } from "./dom.js";

/** Draws the model versions, and the chosen one's curves. */
export async function render(root, { params, signal }) {
  const list = await api(`/v1/models${query({ limit: 20 })}`, { signal });
  const chosen = params.get("version") || list.active || list.models[0]?.version;
  const training = h("div");
  root.append(
    h("h1", {}, "Models"),
    h("p", {}, list.active ? ["Active: ", h("span", { class: "mono", id: "active-version" }, list.active)] : "No model is active: hard rules only."),
    section("Train", trainForm(training, signal), training),
    section(
      "Versions",
      table(
        "Latest trained first (the last 20)",
        [
          ["Version", (m) => h("a", { href: `#/models${query({ version: m.version })}`, class: "mono" }, m.version)],
          ["Trained", (m) => time(m.trained_at)],
          ["Harm ROC AUC", (m) => h("span", { class: "auc-harm" }, number(m.harm.roc_auc, 3))],
          ["Harm PR AUC", (m) => number(m.harm.pr_auc, 3)],
          ["Churn ROC AUC", (m) => number(m.churn.roc_auc, 3)],
          ["Churn PR AUC", (m) => number(m.churn.pr_auc, 3)],
          ["State", (m) => (m.active ? "active" : activateButton(m.version))],
        ],
        list.models,
        "No version trained yet.",
      ),
    ),
  );
  if (chosen) root.append(await detail(chosen, signal));
}

function activateButton(version) {
  return h(
    "button",
    {
      type: "button",
      onclick: async (event) => {
        if (!window.confirm(`Activate model ${version}? It scores every decision from now on.`)) return;
        const button = event.currentTarget;
        button.disabled = true;
        try {
          await api(`/v1/models/${encodeURIComponent(version)}/activate`, { method: "POST" });
          location.hash = `#/models${query({ version, activated: Date.now() })}`;
        } catch (error) {
          button.replaceWith(failure(error));
        }
      },
    },
    "Activate",
  );
}

function trainForm(output, signal) {
  const activate = h("input", { id: "train-activate", type: "checkbox" });
  return h(
    "form",
    {
      class: "inline",
      onsubmit: async (event) => {
        event.preventDefault();
        try {
          const job = await api("/v1/models/train", { method: "POST", body: { activate: activate.checked } });
          follow(output, job.id, signal);
        } catch (error) {
          output.replaceChildren(failure(error));
        }
      },
    },
    activate,
    h("label", { for: "train-activate" }, "Activate when trained"),
    h("button", { type: "submit" }, "Train a new version"),
  );
}

function follow(output, id, signal) {
  const bar = h("progress", { max: 1, value: 0, "aria-label": "Training progress" });
  const text = h("span");
  output.replaceChildren(h("p", {}, bar, " ", text));
  const timer = setInterval(async () => {
    try {
      const job = await api(`/v1/models/jobs/${id}`, { signal });
      bar.max = Math.max(1, job.events_to_replay);
      bar.value = job.events_replayed;
      text.textContent = `${job.state}, ${job.phase}: ${job.step}`;
      if (job.state !== "running") {
        clearInterval(timer);
        if (job.version) output.append(h("p", {}, "Trained ", h("a", { href: `#/models${query({ version: job.version })}` }, job.version)));
      }
    } catch (error) {
      clearInterval(timer);
      if (!signal.aborted) output.replaceChildren(failure(error));
    }
  }, 1000);
  signal.addEventListener("abort", () => clearInterval(timer));
}

async function detail(version, signal) {
  const model = await api(`/v1/models/${encodeURIComponent(version)}`, { signal });
  const body = h("div");
  const block = section(`Version ${version}`, body);
  for (const name of ["harm", "churn"]) {
    const target = model.artifact[name];
    const summary = model[name];
    const part = h("div", { class: "target" });
    body.append(h("h3", {}, `${name} model (${summary.family})`), part);
    part.append(
      h(
        "dl",
        { class: "facts" },
        [
          ["Threshold", number(summary.threshold, 3)],
          ["ROC AUC", number(summary.roc_auc, 3)],
          ["PR AUC", number(summary.pr_auc, 3)],
          ["Precision", number(summary.precision, 3)],
          ["Recall", number(summary.recall, 3)],
        ].map(([term, value]) => [h("dt", {}, term), h("dd", {}, value)]),
      ),
    );
    const test = target.metrics.find((m) => m.chosen)?.test;
    if (!test?.curve?.length) {
      part.append(h("p", { class: "empty" }, "This version was trained before its curves were kept."));
      continue;
    }
    const charts = h("div", { class: "charts" });
    part.append(charts);
    const xy = (title, xLabel, yLabel, points, x, y) =>
      chart(charts, { title, labels: [yLabel], time: false, xLabel, yLabel, scale: [0, 1], points: true, signal }).update([
        points.map(x),
        points.map(y),
      ]);
    const roc = [{ false_positive_rate: 0, true_positive_rate: 0 }, ...test.curve];
    xy(`${name}: ROC curve (test split)`, "false positive rate", "true positive rate", roc,
      (p) => p.false_positive_rate, (p) => p.true_positive_rate);
    xy(`${name}: precision-recall (test split)`, "recall", "precision", test.curve,
      (p) => p.true_positive_rate, (p) => p.precision);
    xy(`${name}: calibration (test split)`, "mean predicted", "observed rate", test.calibration,
      (b) => b.predicted, (b) => b.observed);
  }
  return block;
}
