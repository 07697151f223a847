// Keyboard use of every page: tabbing from the top reaches the page's controls in order, every focused element is
// visible and shows a focus indicator (outline or box-shadow from :focus-visible), and focus is never lost to the
// document body. A failure lists each problem with its page and element.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";

import { startServer, launchBrowser, newDesktop, login, apiAs, listAll } from "./harness.mjs";

let server;
let browser;
let desktop;
const ids = {};
// how many Tab presses per page: enough to get past the header and navigation into the page's own controls
const TABS = 30;

before(async () => {
  server = await startServer();
  browser = await launchBrowser();
  const sink = (await listAll(apiAs(server), "/jobs")).find((j) => j.title.includes("kitchen sink"));
  ids.job = sink.id;
  ids.call = sink.source.call_id;
  ids.customer = sink.customer_id;
  desktop = await newDesktop(browser);
  const page = await desktop.newPage();
  await login(page, server);
  await page.close();
});
after(async () => {
  await desktop?.close();
  await browser?.close();
  await server?.stop();
});

const PAGES = [
  ["home", () => "/app"],
  ["board", () => "/app/board"],
  ["job", () => `/app/jobs/${ids.job}`],
  ["calls", () => "/app/calls"],
  ["call", () => `/app/calls/${ids.call}`],
  ["customers", () => "/app/customers"],
  ["customer", () => `/app/customers/${ids.customer}`],
  ["calendar", () => "/app/calendar?view=week"],
  ["settings", () => "/app/settings"],
  ["notifications", () => "/app/notifications"],
];

// Runs in the page after a Tab: what has focus and whether it shows.
function focused() {
  const el = document.activeElement;
  if (!el || el === document.body || el === document.documentElement) return { none: true };
  let s = el.tagName.toLowerCase();
  if (el.id) s += `#${el.id}`;
  for (const c of [...el.classList].slice(0, 3)) s += `.${c}`;
  const label = (el.getAttribute("aria-label") || el.textContent || el.getAttribute("name") || "").replace(/\s+/g, " ").trim().slice(0, 40);
  if (label) s += ` "${label}"`;
  // date/time inputs and media controls focus their own parts inside the browser's shadow DOM, which the browser
  // highlights itself; the host's computed style does not show that
  const ownFocus =
    ["AUDIO", "VIDEO"].includes(el.tagName) || (el.tagName === "INPUT" && ["date", "time", "datetime-local", "month", "week"].includes(el.type));
  const style = getComputedStyle(el);
  const outline = style.outlineStyle !== "none" && Number.parseFloat(style.outlineWidth) > 0;
  const shadow = style.boxShadow && style.boxShadow !== "none";
  // a control inside a styled wrapper (e.g. a card) may show focus on the wrapper via :focus-within
  const wrapper = el.parentElement && getComputedStyle(el.parentElement);
  const within = wrapper && ((wrapper.outlineStyle !== "none" && Number.parseFloat(wrapper.outlineWidth) > 0) || (wrapper.boxShadow && wrapper.boxShadow !== "none"));
  const r = el.getBoundingClientRect();
  const visible = r.width > 0 && r.height > 0 && style.visibility !== "hidden" && r.bottom > 0 && r.top < innerHeight && r.right > 0 && r.left < innerWidth;
  return { name: s, indicator: ownFocus || outline || shadow || within, visible };
}

for (const [name, path] of PAGES) {
  test(`${name}: Tab reaches visible controls, each with a focus indicator`, async () => {
    const page = await desktop.newPage();
    const problems = [];
    try {
      await page.goto(`${server.url}${path()}`);
      await page.waitForTimeout(300);
      const seen = [];
      for (let i = 0; i < TABS; i++) {
        await page.keyboard.press("Tab");
        const f = await page.evaluate(focused);
        if (f.none) {
          // focus left the page's controls: fine at the very end of a short page, not before
          if (i < 3) problems.push(`Tab ${i + 1} focuses nothing`);
          break;
        }
        seen.push(f.name);
        if (!f.visible) problems.push(`Tab ${i + 1}: ${f.name} has focus but is not visible`);
        else if (!f.indicator) problems.push(`Tab ${i + 1}: ${f.name} shows no focus indicator`);
      }
      if (seen.length < 3) problems.push(`only ${seen.length} focusable elements reached: ${seen.join(", ")}`);
    } finally {
      await page.close();
    }
    assert.deepEqual(problems.map((p) => `${name} (${path()}): ${p}`), []);
  });
}
