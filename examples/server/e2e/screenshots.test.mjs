// Every dashboard page at phone (360 px) and desktop (1366 px) size: screenshots in target/screenshots
// (`<page>-<phone|desktop>.png` = what the screen shows, `<page>-<phone|desktop>-full.png` = the whole page), no
// horizontal scrolling on the phone, basic accessibility (named controls, alt texts, one h1, unique ids) and no
// script errors. A failure lists each problem with its page, viewport and element.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";

import { startServer, launchBrowser, newPhone, newDesktop, login, apiAs, listAll, trackErrors, screenshot, PHONE } from "./harness.mjs";

let server;
let browser;
let phone;
let desktop;
const ids = {};

before(async () => {
  server = await startServer();
  browser = await launchBrowser();
  const api = apiAs(server);
  const jobs = await listAll(api, "/jobs");
  const sink = jobs.find((j) => j.title.includes("kitchen sink"));
  assert.ok(sink?.schedule, "the demo books a scheduled kitchen-sink job");
  ids.job = sink.id;
  ids.call = sink.source.call_id;
  ids.customer = sink.customer_id;
  ids.day = sink.schedule.start.slice(0, 10);
  phone = await newPhone(browser);
  desktop = await newDesktop(browser);
  for (const context of [phone, desktop]) {
    const page = await context.newPage();
    await login(page, server, { next: "/app" });
    await page.close();
  }
});
after(async () => {
  await phone?.close();
  await desktop?.close();
  await browser?.close();
  await server?.stop();
});

// name → path (a function: the ids are known only after seeding)
const PAGES = [
  ["home", () => "/app"],
  ["board", () => "/app/board"],
  ["job", () => `/app/jobs/${ids.job}`],
  ["calls", () => "/app/calls"],
  ["call", () => `/app/calls/${ids.call}`],
  ["customers", () => "/app/customers"],
  ["customer", () => `/app/customers/${ids.customer}`],
  ["calendar-week", () => `/app/calendar?view=week&date=${ids.day}`],
  ["calendar-month", () => `/app/calendar?view=month&date=${ids.day}`],
  ["settings", () => "/app/settings"],
  ["notifications", () => "/app/notifications"],
  ["login", () => "/app/login"],
];

// Runs in the page: the accessibility and layout problems, each naming its element.
function audit(viewportWidth) {
  const describe = (el) => {
    let s = el.tagName.toLowerCase();
    if (el.id) s += `#${el.id}`;
    for (const c of [...el.classList].slice(0, 3)) s += `.${c}`;
    for (const a of ["name", "type", "href", "data-field", "data-stage"]) {
      if (el.hasAttribute(a)) s += `[${a}="${el.getAttribute(a).slice(0, 60)}"]`;
    }
    return s;
  };
  const text = (el) => (el?.textContent || "").replace(/\s+/g, " ").trim();
  const labelledBy = (el) =>
    (el.getAttribute("aria-labelledby") || "")
      .split(/\s+/)
      .filter(Boolean)
      .map((id) => text(document.getElementById(id)))
      .join(" ")
      .trim();
  const controlName = (el) =>
    labelledBy(el) ||
    (el.getAttribute("aria-label") || "").trim() ||
    [...(el.labels || [])].map(text).join(" ").trim() ||
    (el.getAttribute("title") || "").trim();
  const problems = [];

  for (const el of document.querySelectorAll("input, select, textarea")) {
    const type = (el.getAttribute("type") || "").toLowerCase();
    if (type === "hidden") continue;
    if (["submit", "button", "reset"].includes(type) && (el.value || "").trim()) continue;
    if (!controlName(el)) problems.push(`form control without a label: ${describe(el)}`);
  }
  for (const el of document.querySelectorAll("button, a[href], [role=button]")) {
    const name = labelledBy(el) || (el.getAttribute("aria-label") || "").trim() || text(el) || (el.getAttribute("title") || "").trim() ||
      [...el.querySelectorAll("img[alt]")].map((i) => i.alt).join(" ").trim();
    if (!name) problems.push(`${el.tagName === "A" ? "link" : "button"} without a name: ${describe(el)}`);
  }
  for (const img of document.querySelectorAll("img")) {
    if (!img.hasAttribute("alt")) problems.push(`image without alt: ${describe(img)} src=${(img.getAttribute("src") || "").slice(0, 80)}`);
  }
  const h1 = document.querySelectorAll("h1");
  if (h1.length !== 1) problems.push(`${h1.length} h1 elements (want exactly 1): ${[...h1].map((h) => `"${text(h)}"`).join(", ")}`);
  const seen = new Map();
  for (const el of document.querySelectorAll("[id]")) seen.set(el.id, (seen.get(el.id) || 0) + 1);
  for (const [id, n] of seen) if (n > 1) problems.push(`id "${id}" is used ${n} times`);
  if (!document.documentElement.lang) problems.push("html element without lang");
  if (!text(document.querySelector("title"))) problems.push("document without a title");

  // touch targets under 44 px (the spec's bar; reported as diagnostics, not failures: WCAG AA asks 24 px)
  const small = [];
  if (viewportWidth) {
    for (const el of document.querySelectorAll("button, [role=button], a.button, select, input:not([type=hidden]), textarea, summary")) {
      const r = el.getBoundingClientRect();
      if (r.width === 0 || r.height === 0) continue;
      // a labelled checkbox or radio is operated through its label too
      if (["checkbox", "radio"].includes(el.type) && el.labels?.length) continue;
      if (r.height < 44 || r.width < 44) small.push(`${describe(el)} ${Math.round(r.width)}×${Math.round(r.height)}`);
    }
  }

  if (viewportWidth) {
    const width = document.documentElement.scrollWidth;
    if (width > viewportWidth) {
      // name the outermost elements that stick out on the right
      const wide = [...document.body.querySelectorAll("*")].filter((el) => {
        const r = el.getBoundingClientRect();
        if (r.right <= viewportWidth + 0.5 || r.width === 0) return false;
        const parent = el.parentElement.getBoundingClientRect();
        return parent.right <= viewportWidth + 0.5;
      });
      problems.push(
        `scrolls horizontally at ${viewportWidth} px: scrollWidth ${width}; too wide: ${wide
          .slice(0, 5)
          .map((el) => `${describe(el)} (right edge ${Math.round(el.getBoundingClientRect().right)} px)`)
          .join(", ") || "?"}`,
      );
    }
  }
  return { problems, small };
}

async function visit(context, kind, name, path, { signedOut = false, notes = [] } = {}) {
  const ctx = signedOut ? await (kind === "phone" ? newPhone(browser) : newDesktop(browser)) : context;
  const page = await ctx.newPage();
  const errors = trackErrors(page);
  const problems = [];
  try {
    let response;
    try {
      response = await page.goto(`${server.url}${path}`, { waitUntil: "load" });
    } catch (error) {
      // chromium refuses to render some error statuses (net::ERR_HTTP_RESPONSE_CODE_FAILURE)
      return [`${name} (${kind}, ${path}): ${error.message.split("\n")[0]}`];
    }
    const landed = new URL(page.url());
    const wanted = new URL(path, server.url);
    if (!response || response.status() !== 200) problems.push(`HTTP ${response?.status()} for ${path}`);
    if (landed.pathname !== wanted.pathname) problems.push(`${path} ended on ${landed.pathname}${landed.search}`);
    // let the page's modules enhance it, fonts settle, fragments load
    await page.evaluate(() => document.fonts.ready);
    await page.waitForTimeout(400);
    // what the screen shows (fixed header, tab bar and sidebar in place), and the whole page
    await screenshot(page, `${name}-${kind}`, { fullPage: false });
    await screenshot(page, `${name}-${kind}-full`);
    const found = await page.evaluate(audit, kind === "phone" ? PHONE.width : 0);
    problems.push(...found.problems);
    if (found.small.length) notes.push(`${name} (${kind}): touch targets under 44 px: ${found.small.join(", ")}`);
    problems.push(...errors);
  } finally {
    await page.close();
    if (signedOut) await ctx.close();
  }
  return problems.map((p) => `${name} (${kind}, ${path}): ${p}`);
}

for (const [name, path] of PAGES) {
  test(`${name}: phone and desktop screenshots, no horizontal scroll at 360 px, accessibility basics`, async (t) => {
    const problems = [];
    const notes = [];
    for (const [kind, context] of [["phone", phone], ["desktop", desktop]]) {
      problems.push(...(await visit(context, kind, name, path(), { signedOut: name === "login", notes })));
    }
    for (const note of notes) t.diagnostic(note);
    assert.deepEqual(problems, []);
  });
}
