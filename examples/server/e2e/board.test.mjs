// The pipeline board in a real browser: mouse drag on a desktop, long-press touch drag on a phone, reordering,
// persistence after a reload, a second browser seeing a move live, keyboard moves, the "Move to…" dialog,
// rollback on a 409, and 1,000 jobs (render time and frame timings during a drag against a 50-job baseline
// measured in the same run; printed, not asserted).
import { test, before, after } from "node:test";
import assert from "node:assert/strict";

import {
  startServer,
  apiAs,
  launchBrowser,
  newPhone,
  newDesktop,
  login,
  screenshot,
  mouseDrag,
  touchDrag,
  waitFor,
} from "./harness.mjs";

let server;
let browser;
let api;
before(async () => {
  server = await startServer();
  browser = await launchBrowser();
  api = apiAs(server);
});
after(async () => {
  await browser?.close();
  await server?.stop();
});

const STAGES = ["quote_requested", "quote_sent", "confirmed", "in_progress", "completed", "cancelled"];
let serial = 0;

/** A job through the API, moved to `stage` (end of the column) when given. */
async function job(title, { stage, ...fields } = {}) {
  let created = await api.post("/jobs", { title, ...fields });
  if (stage && stage !== "quote_requested") {
    created = await api.post(`/jobs/${created.id}/move`, { stage }, { ifMatch: created.version });
  }
  return created;
}

/** Unique titles per test, so tests do not see each other's cards. */
function titles(...names) {
  serial += 1;
  return names.map((n) => `${n} ${serial}`);
}

const card = (page, id) => page.locator(`li.job-card[data-job-id="${id}"]`);
const column = (page, stage) => page.locator(`section.column[data-stage="${stage}"]`);

/** The titles of a column's cards, top to bottom, limited to `only`. */
async function order(page, stage, only) {
  const all = await column(page, stage).locator("li.job-card .summary").allTextContents();
  return all.filter((t) => only.includes(t));
}

/**
 * Uncaught exceptions, console errors (CSP violations land there) and 5xx responses of a page — like the
 * harness's trackErrors, but without the browser's own /favicon.ico request (the layout declares no icon).
 */
function pageErrors(page) {
  const errors = [];
  page.on("pageerror", (e) => errors.push(`pageerror: ${e.message}`));
  page.on("console", (m) => {
    if (m.type() === "error" && !m.location()?.url?.endsWith("/favicon.ico")) errors.push(`console.error: ${m.text()}`);
  });
  page.on("response", (r) => {
    if (r.status() >= 500) errors.push(`HTTP ${r.status()} ${r.request().method()} ${r.url()}`);
  });
  return errors;
}

async function openBoard(context, path = "/app/board") {
  const page = await context.newPage();
  const errors = pageErrors(page);
  await login(page, server, { next: path });
  await page.waitForSelector("section.column[data-stage='quote_requested']");
  return { page, errors };
}

async function centre(locator) {
  await locator.scrollIntoViewIfNeeded();
  const box = await locator.boundingBox();
  return { x: box.x + box.width / 2, y: box.y + box.height / 2, box };
}

/** Waits until the card's `data-version` is `version` (the move was saved). */
async function saved(page, id, version) {
  await waitFor(async () => (await card(page, id).getAttribute("data-version")) === String(version), {
    message: `job ${id} saved at version ${version}`,
  });
}

test("desktop: a mouse drag moves a card to another column and the move persists", async () => {
  const [a, b, c] = titles("Desk boiler", "Desk radiator", "Desk thermostat");
  const jobA = await job(a);
  const jobB = await job(b, { stage: "confirmed" });
  const jobC = await job(c, { stage: "confirmed" });
  const context = await newDesktop(browser);
  const { page, errors } = await openBoard(context);
  await screenshot(page, "board-desktop");

  // drop A onto the upper half of C: between B and C in Confirmed
  const from = await centre(card(page, jobA.id));
  const target = await centre(card(page, jobC.id));
  await mouseDrag(page, from, { x: target.x, y: target.box.y + 4 }, { steps: 20 });
  await saved(page, jobA.id, jobA.version + 1);
  assert.equal(await card(page, jobA.id).getAttribute("data-stage"), "confirmed");
  assert.deepEqual(await order(page, "confirmed", [a, b, c]), [b, a, c]);
  const fresh = await api.get(`/jobs/${jobA.id}`);
  assert.equal(fresh.stage, "confirmed");
  assert.ok(fresh.position > jobB.position && fresh.position < jobC.position, JSON.stringify(fresh));
  const counts = await column(page, "confirmed").locator(".count").first().textContent();
  assert.equal(Number(counts), await column(page, "confirmed").locator("li.job-card").count());

  await page.reload();
  assert.deepEqual(await order(page, "confirmed", [a, b, c]), [b, a, c], "same order after a reload");
  assert.equal(await card(page, jobA.id).getAttribute("data-stage"), "confirmed");
  // a plain click still opens the job
  assert.match(await card(page, jobA.id).locator("a.job-link").getAttribute("href"), new RegExp(`/app/jobs/${jobA.id}$`));
  assert.deepEqual(errors, []);
  await context.close();
});

test("desktop: reordering within a column keeps the order after a reload", async () => {
  const [a, b, c] = titles("Order first", "Order second", "Order third");
  const jobs = [];
  for (const t of [a, b, c]) jobs.push(await job(t, { stage: "in_progress" }));
  const context = await newDesktop(browser);
  const { page, errors } = await openBoard(context);
  assert.deepEqual(await order(page, "in_progress", [a, b, c]), [a, b, c]);
  // the third card to the top (onto the upper half of the first)
  const from = await centre(card(page, jobs[2].id));
  const first = await centre(card(page, jobs[0].id));
  await mouseDrag(page, from, { x: first.x, y: first.box.y + 3 }, { steps: 15 });
  await saved(page, jobs[2].id, jobs[2].version + 1);
  assert.deepEqual(await order(page, "in_progress", [a, b, c]), [c, a, b]);
  // and the first one to the bottom (below the last card)
  const from2 = await centre(card(page, jobs[0].id));
  const last = await centre(card(page, jobs[1].id));
  await mouseDrag(page, from2, { x: last.x, y: last.box.y + last.box.height - 2 }, { steps: 15 });
  await saved(page, jobs[0].id, jobs[0].version + 1);
  assert.deepEqual(await order(page, "in_progress", [a, b, c]), [c, b, a]);
  await page.reload();
  assert.deepEqual(await order(page, "in_progress", [a, b, c]), [c, b, a]);
  assert.deepEqual(errors, []);
  await context.close();
});

test("phone: a long-press touch drag moves a card; a quick swipe scrolls instead", async () => {
  const [a] = titles("Phone leak");
  const jobA = await job(a);
  const context = await newPhone(browser);
  const { page, errors } = await openBoard(context);
  await screenshot(page, "board-phone");
  const start = await centre(card(page, jobA.id));

  // a swipe without holding is a scroll, not a drag
  await touchDrag(page, start, { x: start.x, y: start.y - 120 }, { steps: 6 });
  await page.waitForTimeout(300);
  assert.equal(await card(page, jobA.id).getAttribute("data-version"), String(jobA.version));
  assert.equal(await card(page, jobA.id).getAttribute("data-stage"), "quote_requested");

  // hold 400 ms, then drag right: the next column (Quote Sent) peeks in at the right edge of a 360 px screen
  const from = await centre(card(page, jobA.id));
  const next = await column(page, "quote_sent").boundingBox();
  const to = { x: Math.min(next.x + 20, 350), y: from.y };
  await touchDrag(page, from, to, { holdMs: 400, steps: 15, stepMs: 20 });
  await saved(page, jobA.id, jobA.version + 1);
  assert.equal(await card(page, jobA.id).getAttribute("data-stage"), "quote_sent");
  assert.equal((await api.get(`/jobs/${jobA.id}`)).stage, "quote_sent");
  await page.reload();
  assert.equal(await column(page, "quote_sent").locator(`li.job-card[data-job-id="${jobA.id}"]`).count(), 1);
  // no horizontal scrolling of the page itself at 360 px (the board scrolls inside)
  assert.ok(await page.evaluate(() => document.documentElement.scrollWidth <= innerWidth + 1));
  assert.deepEqual(errors, []);
  await context.close();
});

test("a second browser sees a move live, without a reload", async () => {
  const [a] = titles("Live gutter");
  const jobA = await job(a);
  const office = await newDesktop(browser);
  const van = await newPhone(browser);
  const { page } = await openBoard(office);
  const { page: watcher, errors } = await openBoard(van);
  await watcher.waitForFunction(() => document.body.dataset.live === "connected");
  await page.waitForFunction(() => document.body.dataset.live === "connected");

  const from = await centre(card(page, jobA.id));
  const to = await centre(column(page, "completed").locator("ol.cards"));
  await mouseDrag(page, from, { x: to.x, y: to.box.y + 10 }, { steps: 15 });
  await saved(page, jobA.id, jobA.version + 1);
  await waitFor(
    async () => (await column(watcher, "completed").locator(`li.job-card[data-job-id="${jobA.id}"]`).count()) === 1,
    { message: "the move in the other browser" },
  );
  assert.equal(await card(watcher, jobA.id).getAttribute("data-version"), String(jobA.version + 1));
  assert.equal(await column(watcher, "quote_requested").locator(`li.job-card[data-job-id="${jobA.id}"]`).count(), 0);

  // a job created elsewhere appears too
  const [n] = titles("Live new job");
  const created = await job(n);
  await waitFor(async () => (await card(watcher, created.id).count()) === 1, { message: "the new job" });
  assert.equal(await card(watcher, created.id).getAttribute("data-stage"), "quote_requested");
  assert.deepEqual(errors, []);
  await office.close();
  await van.close();
});

test("keyboard: Space picks a card up, arrows move it, Space drops it; Escape cancels", async () => {
  const [a] = titles("Keyboard fence");
  const jobA = await job(a, { stage: "quote_sent" });
  const context = await newDesktop(browser);
  const { page, errors } = await openBoard(context);
  const el = card(page, jobA.id);
  await el.focus();
  await page.keyboard.press("Space");
  assert.match(await el.getAttribute("class"), /grabbed/);
  await page.keyboard.press("ArrowRight");
  await page.keyboard.press("ArrowUp");
  await page.keyboard.press("Space");
  await saved(page, jobA.id, jobA.version + 1);
  assert.equal(await el.getAttribute("data-stage"), "confirmed");
  assert.equal(await page.evaluate(() => document.activeElement?.dataset.jobId), jobA.id, "focus stays on the card");

  // Escape puts it back
  await page.keyboard.press("Enter");
  await page.keyboard.press("ArrowRight");
  await page.keyboard.press("Escape");
  assert.equal(await el.getAttribute("data-stage"), "confirmed");
  assert.equal(await column(page, "confirmed").locator(`li.job-card[data-job-id="${jobA.id}"]`).count(), 1);

  // "Move to…" for screen readers and one-handed use
  await el.getByRole("button", { name: /Move to/ }).click();
  await page.getByLabel("Column").selectOption("cancelled");
  await page.getByRole("button", { name: "Move", exact: true }).click();
  await saved(page, jobA.id, jobA.version + 2);
  assert.equal(await column(page, "cancelled").locator(`li.job-card[data-job-id="${jobA.id}"]`).count(), 1);
  await page.reload();
  assert.equal(await card(page, jobA.id).getAttribute("data-stage"), "cancelled");
  assert.match(await page.locator("details.drawer summary").textContent(), /Cancelled \(\d+\)/);
  assert.deepEqual(errors, []);
  await context.close();
});

test("a move based on a stale version rolls back and says so", async () => {
  const [a] = titles("Stale tap");
  const jobA = await job(a);
  const context = await newDesktop(browser);
  const page = await context.newPage();
  // no live updates in this page, so it keeps the stale version
  await page.route("**/api/v1/events**", (route) => route.abort());
  await login(page, server, { next: "/app/board" });
  await page.waitForSelector(`li.job-card[data-job-id="${jobA.id}"]`);
  // someone else changes the job (same column, new version)
  const moved = await api.post(`/jobs/${jobA.id}/move`, { stage: "quote_requested" }, { ifMatch: jobA.version });

  const from = await centre(card(page, jobA.id));
  const to = await centre(column(page, "in_progress").locator("ol.cards"));
  await mouseDrag(page, from, { x: to.x, y: to.box.y + 10 }, { steps: 15 });
  await page.locator("#toasts").getByText("Someone else changed this job").waitFor();
  await saved(page, jobA.id, moved.version); // the fresh card replaced the stale one
  assert.equal(await column(page, "quote_requested").locator(`li.job-card[data-job-id="${jobA.id}"]`).count(), 1);
  assert.equal(await card(page, jobA.id).getAttribute("data-stage"), "quote_requested");
  assert.equal((await api.get(`/jobs/${jobA.id}`)).stage, "quote_requested", "nothing was written");
  await context.close();
});

// ------------------------------------------------------------------------------------------------ 1,000 jobs

/** Creates `n` jobs through the API (8 at a time), spread over the stages, some scheduled and priced. */
async function seedJobs(target, n, offset) {
  const perfApi = apiAs(target);
  const urgencies = ["normal", "normal", "urgent", "emergency", "flexible"];
  let next = 0;
  const worker = async () => {
    while (next < n) {
      const i = offset + next++;
      const start = new Date(Date.UTC(2026, 10, 1 + (i % 28), 8 + (i % 9)));
      const created = await perfApi.post("/jobs", {
        title: `Perf job ${i}: ${["boiler service", "leaking tap", "rewire kitchen", "gutter clean"][i % 4]}`,
        description: "seeded for the board benchmark",
        urgency: urgencies[i % urgencies.length],
        price: i % 3 ? { minor: 5000 + i * 7, currency: "USD" } : undefined,
        scheduled_start: i % 2 ? start.toISOString() : undefined,
        scheduled_end: i % 2 ? new Date(start.getTime() + 3_600_000).toISOString() : undefined,
      });
      const stage = STAGES[i % 5];
      if (stage !== "quote_requested") {
        await perfApi.post(`/jobs/${created.id}/move`, { stage }, { ifMatch: created.version });
      }
    }
  };
  await Promise.all(Array.from({ length: 8 }, worker));
}

/** Loads the board and measures it; then drags the first Quote Requested card to Quote Sent, recording frames. */
async function measure(target) {
  const context = await newDesktop(browser);
  const page = await context.newPage();
  const errors = pageErrors(page);
  await login(page, target, { next: "/app/board" });
  const t0 = Date.now();
  await page.goto(`${target.url}/app/board`, { waitUntil: "load" });
  // a frame after load: the board has been laid out and painted
  await page.evaluate(() => new Promise((ok) => requestAnimationFrame(() => requestAnimationFrame(ok))));
  const wall = Date.now() - t0;
  const nav = await page.evaluate(() => {
    const n = performance.getEntriesByType("navigation")[0];
    const paint = performance.getEntriesByName("first-contentful-paint")[0];
    return {
      ttfb: n.responseStart - n.startTime,
      html: n.responseEnd - n.startTime,
      dcl: n.domContentLoadedEventEnd - n.startTime,
      load: n.loadEventEnd - n.startTime,
      fcp: paint ? paint.startTime : NaN,
      bytes: n.transferSize || n.encodedBodySize,
    };
  });
  const cards = await page.locator("li.job-card").count();
  await page.waitForFunction(() => document.body.dataset.live === "connected");

  // frame timings during a mouse drag of the first card across to the next column
  const first = page.locator("section.column[data-stage='quote_requested'] li.job-card").first();
  const id = await first.getAttribute("data-job-id");
  const version = Number(await first.getAttribute("data-version"));
  const from = await centre(first);
  const to = await centre(page.locator("section.column[data-stage='quote_sent'] li.job-card").nth(2));
  await page.evaluate(() => {
    window.__frames = [];
    window.__loaf = [];
    try {
      window.__observer = new PerformanceObserver((list) => {
        for (const e of list.getEntries()) window.__loaf.push(e.duration);
      });
      window.__observer.observe({ type: "long-animation-frame" });
    } catch {
      window.__observer = null;
    }
    let last = performance.now();
    const tick = (now) => {
      window.__frames.push(now - last);
      last = now;
      if (window.__recording) requestAnimationFrame(tick);
    };
    window.__recording = true;
    requestAnimationFrame(tick);
  });
  await mouseDrag(page, from, { x: to.x, y: to.box.y + 3 }, { steps: 60, stepMs: 16 });
  const frames = await page.evaluate(() => {
    window.__recording = false;
    window.__observer?.disconnect();
    return { intervals: window.__frames.slice(1), loaf: window.__loaf, supported: window.__observer !== null };
  });
  await saved(page, id, version + 1);
  const stage = (await apiAs(target).get(`/jobs/${id}`)).stage;
  await page.reload();
  const persisted = await page.locator(`section.column[data-stage='quote_sent'] li.job-card[data-job-id="${id}"]`).count();
  await context.close();
  const sorted = [...frames.intervals].sort((x, y) => x - y);
  const pick = (q) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? NaN;
  return {
    cards,
    wall,
    ...nav,
    frames: sorted.length,
    meanFrame: sorted.reduce((s, v) => s + v, 0) / Math.max(1, sorted.length),
    p95Frame: pick(0.95),
    maxFrame: sorted.at(-1) ?? NaN,
    over50: sorted.filter((v) => v > 50).length,
    loaf: frames.supported ? frames.loaf.length : "n/a",
    loafMax: frames.supported && frames.loaf.length ? Math.max(...frames.loaf) : 0,
    stage,
    persisted,
    errors,
  };
}

test("1,000 jobs: all rendered, a drag still persists; timings against a 50-job board", async () => {
  const target = await startServer({ seed: false });
  try {
    await seedJobs(target, 50, 0);
    const small = await measure(target);
    await seedJobs(target, 950, 50);
    const large = await measure(target);
    assert.equal(small.cards, 50);
    assert.equal(large.cards, 1000, "every one of the 1,000 jobs is on the board");
    for (const r of [small, large]) {
      assert.equal(r.stage, "quote_sent", "the drag was saved");
      assert.equal(r.persisted, 1, "and is still there after a reload");
      assert.deepEqual(r.errors, []);
    }
    const f = (v) => (typeof v === "number" ? v.toFixed(1) : String(v));
    const rows = [
      ["cards", "cards"],
      ["HTML bytes", "bytes"],
      ["TTFB ms", "ttfb"],
      ["HTML done ms", "html"],
      ["DOMContentLoaded ms", "dcl"],
      ["first paint ms", "fcp"],
      ["load ms", "load"],
      ["load + 2 frames (wall) ms", "wall"],
      ["drag: frames", "frames"],
      ["drag: mean frame ms", "meanFrame"],
      ["drag: p95 frame ms", "p95Frame"],
      ["drag: max frame ms", "maxFrame"],
      ["drag: frames > 50 ms", "over50"],
      ["drag: long animation frames", "loaf"],
      ["drag: longest LoAF ms", "loafMax"],
    ];
    const lines = ["board benchmark (debug server, headless chromium, shared machine: indicative only)"];
    lines.push(`${"metric".padEnd(30)}${"50 jobs".padStart(12)}${"1000 jobs".padStart(12)}${"ratio".padStart(10)}`);
    for (const [label, key] of rows) {
      const ratio = typeof small[key] === "number" && small[key] ? (large[key] / small[key]).toFixed(2) : "-";
      lines.push(`${label.padEnd(30)}${f(small[key]).padStart(12)}${f(large[key]).padStart(12)}${ratio.padStart(10)}`);
    }
    console.log(lines.join("\n"));
  } finally {
    await target.stop();
  }
});
