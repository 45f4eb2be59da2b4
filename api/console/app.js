// The console's shell: the key, the hash routes, the search box; each view draws itself.

import { setApiKey, takeKeyFromAddress } from "./api.js";
import { failure, h } from "./dom.js";
import * as feed from "./feed.js";
import * as models from "./models.js";
import * as overview from "./overview.js";
import * as player from "./player.js";
import * as webhooks from "./webhooks.js";

/** `#/path` patterns, the nav entry each belongs to, its title and its view. */
const ROUTES = [
  [/^\/$/, "overview", () => "Overview", overview.render],
  [/^\/players\/([^/]+)$/, null, ([id]) => `Player ${id}`, player.render],
  [/^\/recommendations$/, "recommendations", () => "Recommendations", feed.render],
  [/^\/models$/, "models", () => "Models", models.render],
  [/^\/webhooks$/, "webhooks", () => "Webhooks", webhooks.render],
];

const view = document.getElementById("view");
let current = null;

function location_() {
  const hash = location.hash.replace(/^#/, "") || "/";
  const [path, search = ""] = hash.split("?");
  return { path, params: new URLSearchParams(search) };
}

async function show(focus) {
  takeKeyFromAddress();
  current?.abort();
  const controller = new AbortController();
  current = controller;
  const { path, params } = location_();
  const route = ROUTES.map(([pattern, ...rest]) => [path.match(pattern), ...rest]).find(([match]) => match);
  view.replaceChildren();
  for (const link of document.querySelectorAll("nav a[data-view]")) {
    if (route && link.dataset.view === route[1]) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  if (!route) {
    document.title = "Not found · nudge console";
    view.append(h("h1", {}, "Not found"), h("p", {}, "No view has this address. ", h("a", { href: "#/" }, "Overview")));
    return;
  }
  const [match, , title, render] = route;
  const args = match.slice(1).map(decodeURIComponent);
  document.title = `${title(args)} · nudge console`;
  view.setAttribute("aria-busy", "true");
  if (focus) view.focus({ preventScroll: true });
  try {
    await render(view, { args, params, signal: controller.signal });
  } catch (error) {
    if (!controller.signal.aborted) view.append(failure(error));
  } finally {
    if (current === controller) view.removeAttribute("aria-busy");
  }
}

function keyDialog() {
  const dialog = document.getElementById("key-dialog");
  const input = document.getElementById("key-input");
  const open = () => {
    if (dialog.open) return;
    input.value = "";
    dialog.showModal();
  };
  document.getElementById("key-button").addEventListener("click", open);
  document.addEventListener("nudge:unauthorized", open);
  dialog.addEventListener("close", () => {
    if (dialog.returnValue === "save" && input.value.trim()) setApiKey(input.value.trim());
    else if (dialog.returnValue === "forget") setApiKey(null);
    else return;
    show(false);
  });
}

function search() {
  const form = document.getElementById("search");
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const id = form.player.value.trim();
    if (!/^[A-Za-z0-9._:-]{1,128}$/.test(id)) {
      form.player.setCustomValidity("A player id: letters, digits and . _ : - (at most 128)");
      form.player.reportValidity();
      return;
    }
    form.player.setCustomValidity("");
    location.hash = `#/players/${encodeURIComponent(id)}`;
  });
  form.player.addEventListener("input", () => form.player.setCustomValidity(""));
}

keyDialog();
search();
window.addEventListener("hashchange", () => show(true));
show(false);
