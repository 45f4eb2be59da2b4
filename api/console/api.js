// Calls to nudge's REST API with the key kept in this tab's session storage.

const KEY = "nudge.key";

/** The key in force in this tab, if any. */
export function apiKey() {
  return sessionStorage.getItem(KEY);
}

/** Keeps (or with nothing, forgets) the key, for this tab only. */
export function setApiKey(key) {
  if (key) sessionStorage.setItem(KEY, key);
  else sessionStorage.removeItem(KEY);
}

/** Takes a key from `#key=<key>` and removes it from the address bar (and the history). */
export function takeKeyFromAddress() {
  const match = location.hash.match(/^#key=([^&]*)/);
  if (!match) return;
  setApiKey(decodeURIComponent(match[1]));
  history.replaceState(null, "", `${location.pathname}${location.search}#/`);
}

/** A refusal of the API, with its problem details. */
export class ApiError extends Error {
  constructor(status, problem) {
    super(problem.detail || problem.title || `HTTP ${status}`);
    this.status = status;
    this.problem = problem;
  }
}

/** Calls the API; answers the JSON (or text) body; throws an `ApiError` on a refusal. */
export async function api(path, { method = "GET", body, signal } = {}) {
  const headers = { Accept: "application/json" };
  const key = apiKey();
  if (key) headers.Authorization = `Bearer ${key}`;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const response = await fetch(path, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    signal,
    credentials: "omit",
    cache: "no-store",
  });
  if (!response.ok) {
    const problem = await response.json().catch(() => ({}));
    if (response.status === 401) document.dispatchEvent(new CustomEvent("nudge:unauthorized"));
    throw new ApiError(response.status, problem);
  }
  if (response.status === 204) return null;
  const type = response.headers.get("content-type") || "";
  return type.includes("json") ? response.json() : response.text();
}

/** A query string of the parameters that are set. */
export function query(parameters) {
  const set = Object.entries(parameters).filter(([, v]) => v !== undefined && v !== null && v !== "");
  return set.length ? `?${new URLSearchParams(set)}` : "";
}

/** The intervention kinds, as the API writes them. */
export const KINDS = ["reality_check", "deposit_limit_suggestion", "cool_off", "retention_offer", "game_recommendation"];

/** The rules that fire, as the API writes them. */
export const RULES = ["long_session", "harm_risk", "churn_risk", "session_start"];
