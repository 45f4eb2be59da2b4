// Small DOM helpers: elements, tables, and how numbers and times are shown.

/** An element with attributes (`on*` are listeners) and children (nodes or text). */
export function h(tag, attributes = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === null || value === undefined || value === false) continue;
    if (name.startsWith("on")) element.addEventListener(name.slice(2), value);
    else if (name === "class") element.className = value;
    else element.setAttribute(name, value === true ? "" : String(value));
  }
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    element.append(child instanceof Node ? child : String(child));
  }
  return element;
}

/** A table of `rows` with a caption and one header per column: `[title, row => cell]`. */
export function table(caption, columns, rows, empty = "None.") {
  if (rows.length === 0) return h("p", { class: "empty" }, empty);
  return h(
    "table",
    {},
    h("caption", {}, caption),
    h("thead", {}, h("tr", {}, columns.map(([title]) => h("th", { scope: "col" }, title)))),
    h("tbody", {}, rows.map((row) => h("tr", {}, columns.map(([, cell]) => h("td", {}, cell(row)))))),
  );
}

/** A section with a heading. */
export function section(title, ...children) {
  const id = `s-${title.toLowerCase().replace(/[^a-z0-9]+/g, "-")}`;
  return h("section", { "aria-labelledby": id }, h("h2", { id }, title), children);
}

/** A number with grouping, or a dash. */
export function number(value, digits = 0) {
  if (value === null || value === undefined || Number.isNaN(value)) return "–";
  return Number(value).toLocaleString("en", { maximumFractionDigits: digits, minimumFractionDigits: digits });
}

/** A time as `2026-12-01 18:00:00Z`. */
export function time(value) {
  if (!value) return "–";
  return new Date(value).toISOString().replace("T", " ").replace(/\.\d+Z$/, "Z");
}

/** The link to a player's page. */
export function playerLink(playerId) {
  return h("a", { href: `#/players/${encodeURIComponent(playerId)}` }, playerId);
}

/** The message of an error, for a person. */
export function failure(error) {
  return h("p", { class: "error", role: "alert" }, error.message || String(error));
}
