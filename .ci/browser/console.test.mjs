// The console's browser test: a real nudge on a fresh SQLite database, seeded
// by `nudge simulate`, a model trained and activated, two webhook subscriptions
// to local receivers (one answers 200, one 500); Debian's chromium, driven by
// playwright-core, opens every view, checks it against the API, clicks
// through, retries a delivery, sends a test event, and runs axe-core.
//
//   node .ci/browser/console.test.mjs [--players N] [--days D] [--mix M] [--binary PATH] [--docs] [--scale]
//
// --docs copies the screenshots to docs/console/; --scale asserts each view's
// first paint under 1 s (for the 10,000-player run). Nothing leaves 127.0.0.1.

import { execFileSync, spawn } from "node:child_process";
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer } from "node:http";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

const here = dirname(fileURLToPath(import.meta.url));
const repo = resolve(here, "../..");
const argv = process.argv.slice(2);
const flag = (name) => argv.includes(`--${name}`);
const option = (name, fallback) => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 && argv[i + 1] ? argv[i + 1] : fallback;
};
const PLAYERS = Number(option("players", "400"));
const DAYS = Number(option("days", "21"));
const BINARY = resolve(repo, option("binary", "target/debug/nudge"));
const MIX = option("mix", null);
const OUT = join(here, "out");
const PAINT_BUDGET_MS = 1000;

let passed = 0;
let failed = 0;
const paints = {};

function assert(condition, message) {
  if (!condition) throw new Error(message);
}

async function check(name, work) {
  try {
    await work();
    passed += 1;
    console.log(`ok - ${name}`);
  } catch (error) {
    failed += 1;
    console.log(`not ok - ${name}: ${error.stack || error}`);
  }
}

/** A local webhook receiver answering `status` to every POST. */
function receiver(status) {
  const received = [];
  const server = createServer((request, response) => {
    let body = "";
    request.on("data", (chunk) => (body += chunk));
    request.on("end", () => {
      if (request.method === "POST") received.push(body);
      response.writeHead(status).end();
    });
  });
  return new Promise((ready) =>
    server.listen(0, "127.0.0.1", () => ready({ server, received, url: `http://127.0.0.1:${server.address().port}/hook` })),
  );
}

function freePort() {
  const server = createServer();
  return new Promise((ready) =>
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => ready(port));
    }),
  );
}

const sleep = (ms) => new Promise((done) => setTimeout(done, ms));

async function main() {
  rmSync(OUT, { recursive: true, force: true });
  mkdirSync(OUT, { recursive: true });
  const folder = mkdtempSync(join(tmpdir(), "nudge-console-"));
  const store = `sqlite://${folder}/nudge.db`;
  const env = { ...process.env, NUDGE_STORE: store, NUDGE_LOG_FORMAT: "text", RUST_LOG: "warn" };
  const key = execFileSync(BINARY, ["keys", "create", "--name", "console-test", "--scopes", "admin"], { env })
    .toString()
    .trim();
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const nudge = spawn(BINARY, ["serve", "--listen", `127.0.0.1:${port}`, "--allow-private-webhooks"], {
    env,
    stdio: ["ignore", "ignore", "inherit"],
  });
  const ok = await receiver(200);
  const broken = await receiver(500);
  const stop = () => {
    nudge.kill("SIGTERM");
    ok.server.close();
    broken.server.close();
  };
  try {
    await run(base, key, ok, broken);
  } finally {
    stop();
    rmSync(folder, { recursive: true, force: true });
  }
}

async function run(base, key, ok, broken) {
  const call = async (path, { method = "GET", body } = {}) => {
    const response = await fetch(`${base}${path}`, {
      method,
      headers: { Authorization: `Bearer ${key}`, "Content-Type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    if (!response.ok) throw new Error(`${method} ${path}: ${response.status} ${await response.text()}`);
    return response.json();
  };
  for (let i = 0; ; i++) {
    if (await fetch(`${base}/readyz`).then((r) => r.ok, () => false)) break;
    assert(i < 300, "nudge did not become ready");
    await sleep(100);
  }
  const crm = await call("/v1/webhooks", {
    method: "POST",
    body: { url: ok.url, description: "CRM", handshake: false, types: ["nudge.intervention.recommended"] },
  });
  const flaky = await call("/v1/webhooks", {
    method: "POST",
    body: { url: broken.url, description: "flaky", handshake: false, types: ["nudge.intervention.recommended"] },
  });

  const start = new Date(Date.now() - (DAYS + 1) * 86_400_000).toISOString().slice(0, 10);
  console.log(`# simulating ${PLAYERS} players over ${DAYS} days from ${start}`);
  // Not execFileSync: a blocked event loop keeps idle sockets in fetch's pool
  // past nudge's keep-alive timeout, and the next call would reuse a closed one.
  const simulate = spawn(
    BINARY,
    ["simulate", "--players", String(PLAYERS), "--days", String(DAYS), "--start", start, "--target", base]
      .concat(MIX ? ["--mix", MIX] : []),
    { env: { ...process.env, NUDGE_API_KEY: key }, stdio: ["ignore", "ignore", "inherit"] },
  );
  const code = await new Promise((done, fail) => simulate.on("error", fail).on("exit", done));
  assert(code === 0, `nudge simulate exited with ${code}`);
  let job = await call("/v1/models/train", { method: "POST", body: { activate: true } });
  while (job.state === "running") {
    await sleep(500);
    job = await call(`/v1/models/jobs/${job.id}`);
  }
  assert(job.state === "succeeded", `training ${job.state}: ${job.error}`);
  console.log(`# model ${job.version} trained and active`);
  const caughtUp = async () => {
    for (let i = 0; ; i++) {
      const { projections } = await call("/v1/projections");
      if (projections[0].checkpoint >= projections[0].head) return;
      assert(i < 600, "the projection did not catch up");
      await sleep(200);
    }
  };
  await caughtUp();
  const { projections } = await call("/v1/projections");
  console.log(`# ${projections[0].head} events stored and projected`);
  for (let i = 0; ok.received.length === 0 || broken.received.length === 0; i++) {
    assert(i < 300, "no delivery reached the receivers");
    await sleep(100);
  }

  // launch() runs chromium headless on a fresh, temporary --user-data-dir of its own.
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
  const context = await browser.newContext({ viewport: { width: 1360, height: 900 } });
  const offsite = [];
  await context.route("**/*", (route) => {
    const url = new URL(route.request().url());
    if (url.hostname === "127.0.0.1") return route.continue();
    offsite.push(url.href);
    return route.abort();
  });
  const page = await context.newPage();
  const errors = [];
  page.on("console", (message) => {
    if (message.type() === "error") errors.push(message.text());
  });
  page.on("pageerror", (error) => errors.push(String(error)));
  page.on("dialog", (dialog) => dialog.accept());
  const axe = readFileSync(createRequire(import.meta.url).resolve("axe-core/axe.min.js"), "utf8");

  /**
   * Loads a view in a fresh document (the tab keeps its session storage), waits
   * until it has drawn its content, records when the first paint and the
   * drawn content came (ms since navigation), does `before`, saves a screenshot.
   */
  const open = async (name, hash, ready, before = async () => {}) => {
    await page.goto("about:blank");
    await page.goto(`${base}/console/${hash}`);
    await page.waitForSelector(ready);
    const drawn = await page.evaluate(() => performance.now());
    await page.waitForFunction(() => !document.getElementById("view").hasAttribute("aria-busy"));
    const paint = await page.evaluate(
      () => performance.getEntriesByName("first-contentful-paint")[0]?.startTime ?? null,
    );
    paints[name] = { firstPaintMs: paint === null ? null : Math.round(paint), contentMs: Math.round(drawn) };
    await before();
    await page.screenshot({ path: join(OUT, `${name}.png`), fullPage: false });
  };
  const accessible = async (name) => {
    await page.evaluate(axe);
    const result = await page.evaluate(async () => {
      const run = await window.axe.run(document, { resultTypes: ["violations"] });
      return run.violations.map((v) => ({ id: v.id, impact: v.impact, nodes: v.nodes.length }));
    });
    const serious = result.filter((v) => v.impact === "serious" || v.impact === "critical");
    assert(serious.length === 0, `${name}: ${JSON.stringify(serious)}`);
  };

  await check("the key in #key= is kept in session storage and leaves the address bar", async () => {
    await page.goto(`${base}/console/#key=${encodeURIComponent(key)}`);
    await page.waitForSelector("#view h1");
    assert(!page.url().includes("key="), page.url());
    const kept = await page.evaluate(() => sessionStorage.getItem("nudge.key"));
    assert(kept === key, "the key is not in sessionStorage");
    const cookies = await context.cookies();
    assert(cookies.length === 0, `cookies: ${JSON.stringify(cookies)}`);
  });

  await check("the overview draws live charts and the active model, and follows new events", async () => {
    await open("overview", "#/", "figure.chart canvas", async () => {
      // Live traffic while the page watches: the events/s tile must rise above 0.
      // The simulated players' new sessions are decided with the active model.
      for (let batch = 0; batch < 20; batch++) {
        const sessions = Array.from({ length: batch === 0 ? 40 : 0 }, (_, n) => ({
          specversion: "1.0",
          id: `live-session-${n}`,
          source: "console-test",
          type: "player.session.started",
          subject: `p${n}`,
          time: new Date().toISOString(),
          data: { channel: "web" },
        }));
        const bets = Array.from({ length: 50 }, (_, n) => ({
          specversion: "1.0",
          id: `live-${batch}-${n}`,
          source: "console-test",
          type: "player.bet.placed",
          subject: "live-1",
          time: new Date().toISOString(),
          data: { bet_id: `live-${batch}-${n}`, game_id: "starburst", stake: 100, currency: "EUR" },
        }));
        const posted = await fetch(`${base}/v1/events`, {
          method: "POST",
          headers: { Authorization: `Bearer ${key}`, "Content-Type": "application/cloudevents-batch+json" },
          body: JSON.stringify([...sessions, ...bets]),
        });
        assert(posted.status === 202, `ingest answered ${posted.status}`);
        await sleep(200);
      }
      await page.waitForFunction(() => {
        const tile = [...document.querySelectorAll(".tile")].find((t) => t.textContent.startsWith("Events/s"));
        return tile && Number(tile.querySelector(".value").textContent.replace(/,/g, "")) > 0;
      });
    });
    const text = await page.textContent("#view");
    assert(text.includes(job.version), "the active model's version is not shown");
    assert((await page.locator("figure.chart").count()) >= 6, "fewer than 6 charts");
    // Each instance with the partitions it folds: here one, holding them all.
    const cluster = await call("/v1/cluster");
    const held = cluster.partitions.filter((p) => p.projection === "features" && p.owner === cluster.instances[0].id);
    await page.waitForSelector("#instances table tbody tr");
    const row = await page.textContent("#instances table tbody tr");
    assert(row.includes(cluster.instances[0].id) && row.includes(String(held.length)), `the instances table: ${row}`);
    await accessible("overview");
  });

  await caughtUp();
  const latest = (await call("/v1/recommendations?order=desc&limit=1")).recommendations[0];
  assert(latest, "no recommendation was made");

  await check("the feed links to the player, whose page matches the API", async () => {
    await open("recommendations", "#/recommendations", "#view table tbody tr");
    const first = page.locator("#view table tbody tr").first();
    assert((await first.textContent()).includes(latest.player_id), "the newest row is not the newest recommendation");
    await accessible("recommendations");
    await first.getByRole("link", { name: latest.player_id }).click();
    await page.waitForURL(`**/console/#/players/${encodeURIComponent(latest.player_id)}`);
    await page.waitForSelector("#event-count");
    await page.waitForFunction(() => !document.getElementById("view").hasAttribute("aria-busy"));
    const features = await call(`/v1/players/${encodeURIComponent(latest.player_id)}/features`);
    const count = (await page.textContent("#event-count .value")).replace(/,/g, "");
    assert(Number(count) === features.revision + 1, `event count ${count}, API ${features.revision + 1}`);
    const mine = (await call(`/v1/players/${encodeURIComponent(latest.player_id)}/recommendations?order=desc&limit=1`))
      .recommendations[0];
    const row = await page.locator('section[aria-labelledby="s-recommendations"] tbody tr').first().textContent();
    assert(row.includes(mine.kind), `latest kind ${mine.kind} not in ${row}`);
    for (const reason of mine.reasons) assert(row.includes(reason.feature), `reason ${reason.feature} not in ${row}`);
    await page.screenshot({ path: join(OUT, "player.png") });
    await accessible("player");
  });

  await check("a player's page opens with paged, expandable events and features as of a moment", async () => {
    await open("player-first", `#/players/${encodeURIComponent(latest.player_id)}`, "#event-count");
    const charts = await page.locator('section[aria-labelledby="s-over-time"] figure.chart canvas').count();
    assert(charts === 4, `${charts} feature charts`);
    await page.locator(".timeline details summary").first().click();
    await page.waitForSelector(".timeline details[open] pre");
    await page.locator(".timeline details[open] a").first().click();
    await page.waitForFunction(() => location.hash.includes("?at="));
    await page.waitForSelector("#view h2:has-text('Features as of')");
  });

  await check("a recommendation links to its deliveries, and a failed one is retried", async () => {
    // Routing to the subscriptions follows the projection: wait for both deliveries.
    const routed = `/v1/players/${encodeURIComponent(latest.player_id)}/deliveries?recommendation_id=${latest.id}`;
    for (let i = 0; (await call(routed)).deliveries.length < 2; i++) {
      assert(i < 300, "the latest recommendation was not routed to both subscriptions");
      await sleep(100);
    }
    await page.goto(`${base}/console/#/players/${encodeURIComponent(latest.player_id)}`);
    await page.waitForSelector("a.deliveries");
    await page.locator("a.deliveries").first().click();
    await page.waitForURL("**/console/#/webhooks?*recommendation=*");
    await page.waitForSelector("#view table tbody tr");
    const recommendation = new URL(page.url().replace("#/webhooks", "")).searchParams.get("recommendation");
    const deliveries = (
      await call(`/v1/players/${encodeURIComponent(latest.player_id)}/deliveries?recommendation_id=${recommendation}`)
    ).deliveries;
    for (const delivery of deliveries) {
      const row = await page.locator("tr", { hasText: delivery.id }).textContent();
      assert(row.includes(delivery.status), `delivery ${delivery.id} is ${delivery.status}, shown: ${row}`);
    }
    const failing = deliveries.find((d) => d.subscription_id === flaky.id);
    assert(failing, "no delivery to the failing subscription");
    await page.getByRole("button", { name: `Retry delivery ${failing.id}` }).click();
    await page.waitForSelector(`text=Delivery ${failing.id} is due again now.`);
    await page.screenshot({ path: join(OUT, "deliveries.png") });
  });

  await check("the models view shows the active model's AUC and its curves", async () => {
    await open("models", "#/models", "#active-version");
    const model = await call(`/v1/models/${job.version}`);
    const shown = await page.locator("tr", { hasText: job.version }).locator(".auc-harm").textContent();
    assert(shown === model.harm.roc_auc.toFixed(3), `harm AUC shown ${shown}, API ${model.harm.roc_auc}`);
    assert((await page.locator("figure.chart").count()) >= 6, "fewer than 6 curves");
    await accessible("models");
  });

  await check("the webhooks view lists deliveries with their status and sends a test event", async () => {
    await open("webhooks", `#/webhooks?id=${crm.id}`, "#view table tbody tr");
    const { deliveries } = await call(`/v1/webhooks/${crm.id}/deliveries?limit=1`);
    const row = await page.locator("tr", { hasText: deliveries[0].id }).textContent();
    assert(row.includes(deliveries[0].status), `delivery ${deliveries[0].id}: ${row}`);
    const before = ok.received.length;
    await page.getByRole("button", { name: "Send a test event" }).click();
    await page.waitForSelector("text=Test event queued");
    for (let i = 0; !ok.received.slice(before).some((b) => b.includes("nudge.webhook.test")); i++) {
      assert(i < 100, "the test event did not arrive");
      await sleep(100);
    }
    await accessible("webhooks");
  });

  await check("the search box opens a player from any view", async () => {
    await page.goto(`${base}/console/#/models`);
    await page.fill("#search-player", latest.player_id);
    await page.press("#search-player", "Enter");
    await page.waitForURL(`**/console/#/players/${encodeURIComponent(latest.player_id)}`);
    await page.waitForSelector("#event-count");
  });

  await check("no request left 127.0.0.1", async () => assert(offsite.length === 0, offsite.join(", ")));
  await check("the browser console logged no error", async () => assert(errors.length === 0, errors.join("\n")));
  if (flag("scale")) {
    await check(`every view paints its content within ${PAINT_BUDGET_MS} ms`, async () => {
      const slow = Object.entries(paints).filter(
        ([, p]) => !(p.firstPaintMs < PAINT_BUDGET_MS && p.contentMs < PAINT_BUDGET_MS),
      );
      assert(slow.length === 0, JSON.stringify(slow));
    });
  }
  console.log(`# first paint per view: ${JSON.stringify(paints)}`);
  await browser.close();
  if (flag("docs")) {
    mkdirSync(join(repo, "docs/console"), { recursive: true });
    for (const name of ["overview", "player", "recommendations", "models", "webhooks", "deliveries"]) {
      copyFileSync(join(OUT, `${name}.png`), join(repo, "docs/console", `${name}.png`));
    }
  }
}

try {
  await main();
} catch (error) {
  failed += 1;
  console.log(`not ok - setup: ${error.stack || error}`);
}
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed === 0 ? 0 : 1);
