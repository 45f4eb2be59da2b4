// Time-series and x/y charts drawn with uPlot (vendored: vendor/uPlot.esm.js).

import uPlot from "./uPlot.esm.js";
import { h } from "./dom.js";

const COLOURS = ["#2563eb", "#dc2626", "#16a34a", "#d97706", "#7c3aed", "#0891b2", "#db2777", "#4b5563"];

/** The colour of the `index`th series. */
export function colour(index) {
  return COLOURS[index % COLOURS.length];
}

/** The plot's width: its figure's, less the figure's padding and border. */
function width(figure) {
  return Math.max(240, (figure.clientWidth || 480) - 16);
}

/**
 * A chart in a figure with a caption and a legend (with the latest values over time);
 * `update(data)` redraws it with `[xs, ...ys]`. `time: false` for x/y plots; gone when `signal` aborts.
 */
export function chart(
  container,
  { title, labels, time = true, height = 170, xLabel, yLabel, points = false, scale, signal },
) {
  const legend = h("p", { class: "legend" });
  const canvas = h("div", { class: "plot", role: "img", "aria-label": title });
  const figure = h("figure", { class: "chart" }, h("figcaption", {}, title), canvas, legend);
  container.append(figure);
  const options = {
    width: width(figure),
    height,
    legend: { show: false },
    cursor: { drag: { x: false, y: false } },
    scales: { x: time ? { time } : { time, range: scale }, y: scale ? { range: scale } : {} },
    axes: [{ label: xLabel, size: xLabel ? 40 : 30 }, { label: yLabel, size: 56 }],
    series: [
      {},
      ...labels.map((label, i) => ({
        label,
        stroke: colour(i),
        width: 2,
        points: { show: points },
      })),
    ],
  };
  const data = [[], ...labels.map(() => [])];
  const plot = new uPlot(options, data, canvas);
  const onResize = () => plot.setSize({ width: width(figure), height });
  window.addEventListener("resize", onResize);
  const destroy = () => {
    window.removeEventListener("resize", onResize);
    plot.destroy();
  };
  signal?.addEventListener("abort", destroy);
  return {
    update(next) {
      plot.setData(next);
      legend.replaceChildren(
        ...labels.map((label, i) => {
          const values = next[i + 1] || [];
          const last = values.length ? values[values.length - 1] : null;
          const latest = last === null ? "–" : Number(last).toLocaleString("en", { maximumFractionDigits: 2 });
          return h(
            "span",
            { class: "key" },
            h("span", { class: `swatch c${i % COLOURS.length}`, "aria-hidden": "true" }),
            time ? `${label}: ${latest}` : label,
          );
        }),
      );
    },
  };
}
