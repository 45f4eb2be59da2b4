// Reads nudge's Prometheus metrics (`GET /metrics`) and turns counters into rates.

/** The samples of a text exposition: `{name, labels, value}`. */
export function parse(text) {
  const samples = [];
  for (const line of text.split("\n")) {
    if (!line || line.startsWith("#")) continue;
    const match = line.match(/^([a-zA-Z_:][\w:]*)(?:\{(.*)\})?\s+(\S+)/);
    if (!match) continue;
    const labels = {};
    for (const label of (match[2] || "").matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[label[1]] = label[2];
    samples.push({ name: match[1], labels, value: Number(match[3]) });
  }
  return samples;
}

/** The sum of the samples of `name` that `keep` keeps. */
export function total(samples, name, keep = () => true) {
  return samples.filter((s) => s.name === name && keep(s.labels)).reduce((sum, s) => sum + s.value, 0);
}

/** The sums of the samples of `name` per value of the label `by`. */
export function totals(samples, name, by, keep = () => true) {
  const sums = new Map();
  for (const s of samples) {
    if (s.name !== name || !keep(s.labels)) continue;
    const key = s.labels[by] ?? "";
    sums.set(key, (sums.get(key) || 0) + s.value);
  }
  return sums;
}

/**
 * A window of readings `{at (seconds), values: Map}` that answers the rate of
 * each counter over the last `seconds`: a restart (a counter going down) reads as 0.
 */
export class Window {
  constructor(seconds) {
    this.seconds = seconds;
    this.readings = [];
  }

  push(at, values) {
    this.readings.push({ at, values });
    while (this.readings.length > 2 && at - this.readings[1].at >= this.seconds) this.readings.shift();
  }

  /** Per second of `key` between the oldest and newest readings; null before two readings. */
  rate(key) {
    if (this.readings.length < 2) return null;
    const first = this.readings[0];
    const last = this.readings[this.readings.length - 1];
    const elapsed = last.at - first.at;
    if (elapsed <= 0) return null;
    const increase = (last.values.get(key) || 0) - (first.values.get(key) || 0);
    return Math.max(0, increase) / elapsed;
  }
}
