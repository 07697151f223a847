// The job page: edits, a stale edit, notes, photos, the stage and the calendar file, each checked through the
// API and after a reload.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";

import { startServer, launchBrowser, newDesktop, newPhone, login, apiAs, listAll, trackErrors } from "./harness.mjs";

let server;
let browser;
let api;
let sink; // Maria Lopez's kitchen sink (scheduled)
let breaker; // Priya Shah's breaker panel (scheduled)
before(async () => {
  server = await startServer();
  browser = await launchBrowser();
  api = apiAs(server);
  const jobs = await listAll(api, "/jobs");
  sink = jobs.find((j) => j.title.includes("kitchen sink"));
  breaker = jobs.find((j) => j.title.includes("breaker panel"));
  assert.ok(sink && breaker, "the demo books the kitchen sink and the breaker panel");
});
after(async () => {
  await browser?.close();
  await server?.stop();
});

const toast = (page, text) => page.locator("#toasts").getByText(text).first().waitFor({ timeout: 10_000 });

test("editing summary, price and notes saves through the API and survives a reload", async () => {
  const context = await newPhone(browser);
  const page = await context.newPage();
  const errors = trackErrors(page);
  await login(page, server, { next: `/app/jobs/${sink.id}` });
  const form = page.locator("form#job-form");
  await form.getByLabel("Summary", { exact: true }).fill("Replace kitchen sink trap");
  await form.getByLabel("Price", { exact: true }).fill("180.50");
  await form.getByLabel("Notes", { exact: true }).fill("Bring a 1½ inch trap");
  await form.getByRole("button", { name: "Save", exact: true }).click();
  await toast(page, "Saved");

  const stored = await api.get(`/jobs/${sink.id}`);
  assert.equal(stored.title, "Replace kitchen sink trap");
  assert.deepEqual(stored.price, { minor: 18050, currency: "USD" });
  assert.equal(stored.notes, "Bring a 1½ inch trap");
  assert.equal(stored.version, sink.version + 1, "one save, one new version");
  assert.equal(stored.description, sink.description, "fields not edited are kept");

  await page.reload();
  assert.equal((await page.locator("h1").textContent()).trim(), "Replace kitchen sink trap");
  assert.equal(await form.getByLabel("Price", { exact: true }).inputValue(), "180.50");
  assert.equal(await form.getByLabel("Notes", { exact: true }).inputValue(), "Bring a 1½ inch trap");
  // a second save on the same page load works on the new version (no false conflict)
  await form.getByLabel("Price", { exact: true }).fill("200");
  await form.getByRole("button", { name: "Save", exact: true }).click();
  await toast(page, "Saved");
  await form.getByLabel("Price", { exact: true }).fill("210");
  await form.getByRole("button", { name: "Save", exact: true }).click();
  await page.waitForFunction(async (id) => (await (await fetch(`/api/v1/jobs/${id}`)).json()).price?.minor === 21000, sink.id, { timeout: 10_000 });
  assert.deepEqual(errors, []);
  await context.close();
});

test("an invalid price is refused next to the field and nothing is saved", async () => {
  const before = await api.get(`/jobs/${breaker.id}`);
  const context = await newDesktop(browser);
  const page = await context.newPage();
  await login(page, server, { next: `/app/jobs/${breaker.id}` });
  const form = page.locator("form#job-form");
  await form.getByLabel("Price", { exact: true }).fill("a lot");
  await form.getByRole("button", { name: "Save", exact: true }).click();
  const error = form.locator('[data-error-for="price"], #error-price').first();
  await error.filter({ hasText: /\S/ }).waitFor({ timeout: 10_000 });
  assert.equal(await form.getByLabel("Price", { exact: true }).getAttribute("aria-invalid"), "true");
  const after = await api.get(`/jobs/${breaker.id}`);
  assert.equal(after.version, before.version, "nothing was saved");
  await context.close();
});

test("another user's change shows up live on an unedited job page", async () => {
  const context = await newDesktop(browser);
  const page = await context.newPage();
  await login(page, server, { next: `/app/jobs/${breaker.id}` });
  await page.waitForFunction(() => document.body.dataset.live === "connected", null, { timeout: 10_000 });
  const current = await api.get(`/jobs/${breaker.id}`);
  await api.patch(`/jobs/${breaker.id}`, { notes: "Gate code 4411" }, { ifMatch: current.version });
  const notes = page.locator("form#job-form").getByLabel("Notes", { exact: true });
  await page.waitForFunction(() => document.querySelector("form#job-form textarea[name=notes]")?.value === "Gate code 4411", null, { timeout: 10_000 });
  // and the page saves on top of that version without a conflict
  await notes.fill("Gate code 4411, dog in the yard");
  await page.locator("form#job-form").getByRole("button", { name: "Save", exact: true }).click();
  await toast(page, "Saved");
  assert.equal((await api.get(`/jobs/${breaker.id}`)).notes, "Gate code 4411, dog in the yard");
  await context.close();
});

test("a save over someone else's newer change is refused with a conflict banner, not silently overwritten", async () => {
  const context = await newDesktop(browser);
  const page = await context.newPage();
  await login(page, server, { next: `/app/jobs/${breaker.id}` });
  await page.waitForFunction(() => document.body.dataset.live === "connected", null, { timeout: 10_000 });
  const form = page.locator("form#job-form");
  // unsaved edits on the phone …
  await form.getByLabel("Notes", { exact: true }).fill("Changed on the phone");
  // … while the office saves the job
  const current = await api.get(`/jobs/${breaker.id}`);
  await api.patch(`/jobs/${breaker.id}`, { notes: "Changed by the office" }, { ifMatch: current.version });
  const banner = page.locator("#job-conflict");
  await banner.waitFor({ state: "visible", timeout: 10_000 });
  assert.equal(await banner.getAttribute("role"), "alert");
  assert.equal(await form.getByLabel("Notes", { exact: true }).inputValue(), "Changed on the phone", "the unsaved edit is not thrown away");
  await form.getByRole("button", { name: "Save", exact: true }).click();
  await page.waitForTimeout(1_000);
  await banner.waitFor({ state: "visible" });
  assert.equal((await api.get(`/jobs/${breaker.id}`)).notes, "Changed by the office", "the office's change is kept");
  await context.close();
});

test("a note is added and listed, also after a reload", async () => {
  const context = await newPhone(browser);
  const page = await context.newPage();
  const errors = trackErrors(page);
  await login(page, server, { next: `/app/jobs/${breaker.id}` });
  const notes = page.locator("section#job-notes");
  await notes.getByLabel("New note", { exact: true }).fill("Customer asked for a morning slot");
  await notes.getByRole("button", { name: "Add note" }).click();
  await notes.getByText("Customer asked for a morning slot").waitFor({ timeout: 10_000 });
  const stored = await api.get(`/jobs/${breaker.id}/notes`);
  const list = Array.isArray(stored) ? stored : stored.items;
  assert.deepEqual(list.map((n) => n.body), ["Customer asked for a morning slot"]);
  await page.reload();
  assert.equal(await page.locator("section#job-notes").getByText("Customer asked for a morning slot").count(), 1);
  assert.deepEqual(errors, []);
  await context.close();
});

test("a photo is uploaded from the file input and shown with an alt text", async () => {
  const context = await newPhone(browser);
  const page = await context.newPage();
  const errors = trackErrors(page);
  await login(page, server, { next: `/app/jobs/${breaker.id}` });
  const photos = page.locator("section#job-photos");
  const input = photos.locator('input[type=file][accept="image/*"][capture="environment"]');
  assert.equal(await input.count(), 1);
  const png = await page.screenshot({ clip: { x: 0, y: 0, width: 40, height: 30 } });
  await input.setInputFiles({ name: "panel.png", mimeType: "image/png", buffer: png });
  let list = [];
  for (let i = 0; i < 100 && list.length === 0; i++) {
    const stored = await api.get(`/jobs/${breaker.id}/photos`);
    list = Array.isArray(stored) ? stored : stored.items;
    if (!list.length) await page.waitForTimeout(100);
  }
  assert.equal(list.length, 1, "the photo reached the API");
  await page.reload();
  const img = page.locator("section#job-photos img");
  await img.first().waitFor({ timeout: 10_000 });
  assert.equal(await img.count(), 1);
  assert.notEqual((await img.getAttribute("alt")) ?? null, null, "the photo has an alt attribute");
  // the image really loads (served to the signed-in user)
  const src = await img.evaluate((i) => i.currentSrc || i.src);
  const served = await context.request.get(src);
  assert.equal(served.status(), 200, `GET ${src}`);
  assert.match(served.headers()["content-type"], /^image\//);
  await img.scrollIntoViewIfNeeded();
  await page.waitForFunction(() => {
    const i = document.querySelector("section#job-photos img");
    return i && i.complete && i.naturalWidth > 0;
  }, null, { timeout: 10_000 });
  assert.deepEqual(errors, []);
  await context.close();
});

test("changing the stage saves at once; Add to calendar serves an iCalendar event", async () => {
  const context = await newDesktop(browser);
  const page = await context.newPage();
  await login(page, server, { next: `/app/jobs/${sink.id}` });
  await page.getByLabel("Stage", { exact: true }).selectOption("confirmed");
  await page.waitForFunction(async (id) => (await (await fetch(`/api/v1/jobs/${id}`)).json()).stage === "confirmed", sink.id, { timeout: 10_000 });
  await page.reload();
  assert.equal(await page.getByLabel("Stage", { exact: true }).inputValue(), "confirmed");

  const link = page.getByRole("link", { name: "Add to calendar" });
  const href = await link.getAttribute("href");
  const r = await context.request.get(new URL(href, server.url).toString());
  assert.equal(r.status(), 200);
  assert.match(r.headers()["content-type"], /^text\/calendar/);
  const ics = await r.text();
  assert.match(ics, /BEGIN:VCALENDAR/);
  assert.match(ics, /BEGIN:VEVENT/);
  const start = sink.schedule.start.replace(/[-:]/g, "").replace(/\.\d+/, "");
  assert.ok(ics.includes(`DTSTART:${start}`) || ics.includes(start.slice(0, 13)), `DTSTART ${start} in\n${ics}`);
  await context.close();
});

test("prices keep the currency's decimals: JPY has none, KWD three, USD two", async () => {
  const created = await api.post("/jobs", { title: "Currency round trip" });
  const context = await newDesktop(browser);
  const page = await context.newPage();
  const errors = trackErrors(page);
  await login(page, server, { next: `/app/jobs/${created.id}` });
  const form = page.locator("form#job-form");
  const price = form.getByLabel("Price", { exact: true });
  let expected = created.version;
  for (const [currency, typed, minor, shown] of [
    ["JPY", "5000", 5000, "5000"],
    ["KWD", "1.5", 1500, "1.500"],
    ["USD", "89.5", 8950, "89.50"],
  ]) {
    await form.getByLabel("Currency", { exact: true }).fill(currency);
    await price.fill(typed);
    await form.getByRole("button", { name: "Save", exact: true }).click();
    expected += 1;
    await page.waitForFunction(async ([id, v]) => (await (await fetch(`/api/v1/jobs/${id}`)).json()).version === v,
      [created.id, expected], { timeout: 10_000 });
    assert.deepEqual((await api.get(`/jobs/${created.id}`)).price, { minor, currency }, currency);
    await page.reload();
    assert.equal(await price.inputValue(), shown, `${currency} as the page shows it`);
  }
  // a JPY amount with decimals is refused next to the field
  await form.getByLabel("Currency", { exact: true }).fill("JPY");
  await price.fill("12.50");
  await form.getByRole("button", { name: "Save", exact: true }).click();
  await form.locator('[data-error-for="price"]').filter({ hasText: /no decimals/ }).waitFor({ timeout: 10_000 });
  assert.equal((await api.get(`/jobs/${created.id}`)).version, expected, "nothing saved");
  assert.deepEqual(errors, []);
  await context.close();
});

test("a live update waits while a note is being written, then shows", async () => {
  const created = await api.post("/jobs", { title: "Draft keeper" });
  const context = await newPhone(browser);
  const page = await context.newPage();
  const errors = trackErrors(page);
  await login(page, server, { next: `/app/jobs/${created.id}` });
  await page.waitForFunction(() => document.body.dataset.live === "connected", null, { timeout: 10_000 });
  const notes = page.locator("section#job-notes");
  await notes.getByLabel("New note", { exact: true }).fill("Half-written note about the");
  await api.patch(`/jobs/${created.id}`, { title: "Draft keeper (renamed)" }, { ifMatch: created.version });
  await page.waitForTimeout(1_000);
  assert.equal(await notes.getByLabel("New note", { exact: true }).inputValue(), "Half-written note about the",
    "the draft is not thrown away");
  await notes.getByLabel("New note", { exact: true }).fill("Finished note about the gate");
  await notes.getByRole("button", { name: "Add note" }).click();
  // once the note is added, the waiting refresh runs
  await page.locator("h1").getByText("Draft keeper (renamed)").waitFor({ timeout: 10_000 });
  assert.equal(await page.locator("section#job-notes").getByText("Finished note about the gate").count(), 1);
  assert.equal(await page.locator("#job-conflict").isVisible(), false);
  assert.deepEqual(errors, []);
  await context.close();
});

test("your own stage change with unsaved edits is not taken for someone else's", async () => {
  const created = await api.post("/jobs", { title: "Own echo" });
  const context = await newDesktop(browser);
  const page = await context.newPage();
  const errors = trackErrors(page);
  await login(page, server, { next: `/app/jobs/${created.id}` });
  await page.waitForFunction(() => document.body.dataset.live === "connected", null, { timeout: 10_000 });
  // the answer to the move comes late, so its event on the stream arrives first
  await page.route(`**/api/v1/jobs/${created.id}/move`, async (route) => {
    const response = await route.fetch();
    await new Promise((r) => setTimeout(r, 800));
    await route.fulfill({ response });
  });
  await page.locator("form#job-form").getByLabel("Notes", { exact: true }).fill("Unsaved words");
  await page.getByLabel("Stage", { exact: true }).selectOption("confirmed");
  await toast(page, "Moved to");
  await page.waitForTimeout(500);
  assert.equal(await page.locator("#job-conflict").isVisible(), false, "no conflict banner for our own move");
  assert.equal(await page.locator("form#job-form").getByLabel("Notes", { exact: true }).inputValue(), "Unsaved words");
  // and a save afterwards goes through on the new version
  await page.locator("form#job-form").getByRole("button", { name: "Save", exact: true }).click();
  await toast(page, "Saved");
  assert.equal((await api.get(`/jobs/${created.id}`)).notes, "Unsaved words");
  assert.deepEqual(errors, []);
  await context.close();
});
