// Checks of the harness itself: the seeded server, the viewports and the drag helpers (no dashboard page needed).
import { test, before, after } from "node:test";
import assert from "node:assert/strict";

import { startServer, apiAs, httpFetch, listAll, launchBrowser, newPhone, newDesktop, touchDrag, mouseDrag } from "./harness.mjs";

let server;
let browser;
before(async () => {
  server = await startServer();
  browser = await launchBrowser();
});
after(async () => {
  await browser?.close();
  await server?.stop();
});

test("the seeded server has the demo's calls and jobs and an owner", async () => {
  const api = apiAs(server);
  const calls = await listAll(api, "/calls");
  const jobs = await listAll(api, "/jobs");
  assert.equal(calls.length, 5, "callbook demo plays 5 calls");
  assert.equal(jobs.length, 3, "the rules extractor books 3 of them");
  assert.match(server.owner.password, /^\S{12,}$/);
  const ready = await httpFetch(`${server.url}/readyz`);
  assert.equal(ready.status, 200);
  const wrong = await apiAs(server, "not-the-token-0000").request("GET", "/jobs");
  assert.equal(wrong.status, 401);
});

test("the CLI runs against the same data directory", async () => {
  const r = await server.cli(["user", "add", "--login", "second", "--role", "staff"]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^user\s+second \(staff\)/m);
});

// A page that records pointer events, to check the drag helpers deliver real input.
const RECORDER = `<!doctype html><meta name=viewport content="width=device-width,initial-scale=1">
<div id=pad style="position:absolute;left:0;top:0;width:100%;height:100%;touch-action:none"></div>
<script>
  window.seen = [];
  for (const t of ["pointerdown", "pointermove", "pointerup", "pointercancel", "touchstart", "touchend"]) {
    document.getElementById("pad").addEventListener(t, (e) => window.seen.push([t, e.pointerType || "", Math.round(e.clientX ?? e.changedTouches?.[0]?.clientX ?? -1), Math.round(e.clientY ?? e.changedTouches?.[0]?.clientY ?? -1)]));
  }
</script>`;

test("phone context: 360 px wide, touch; touchDrag sends touch pointer events", async () => {
  const context = await newPhone(browser);
  const page = await context.newPage();
  await page.setContent(RECORDER);
  assert.equal(await page.evaluate(() => window.innerWidth), 360);
  assert.equal(await page.evaluate(() => window.devicePixelRatio), 2);
  assert.equal(await page.evaluate(() => navigator.maxTouchPoints > 0), true);
  await touchDrag(page, { x: 50, y: 100 }, { x: 300, y: 400 }, { steps: 5 });
  const seen = await page.evaluate(() => window.seen);
  const pointer = seen.filter(([t]) => t.startsWith("pointer"));
  assert.deepEqual(pointer[0], ["pointerdown", "touch", 50, 100]);
  assert.deepEqual(pointer.at(-1), ["pointerup", "touch", 300, 400]);
  assert.ok(pointer.filter(([t]) => t === "pointermove").length >= 4, JSON.stringify(seen));
  assert.ok(seen.some(([t]) => t === "touchstart") && seen.some(([t]) => t === "touchend"));
  assert.ok(!seen.some(([t]) => t === "pointercancel"), JSON.stringify(seen));
  await context.close();
});

test("desktop context: 1366 px wide; mouseDrag sends mouse pointer events", async () => {
  const context = await newDesktop(browser);
  const page = await context.newPage();
  await page.setContent(RECORDER);
  assert.equal(await page.evaluate(() => window.innerWidth), 1366);
  await mouseDrag(page, { x: 10, y: 10 }, { x: 200, y: 300 }, { steps: 4, stepMs: 0 });
  const seen = (await page.evaluate(() => window.seen)).filter(([t]) => t !== "pointermove");
  assert.deepEqual(seen[0], ["pointerdown", "mouse", 10, 10]);
  assert.deepEqual(seen.at(-1), ["pointerup", "mouse", 200, 300]);
  await context.close();
});
