// Reviewing a call: correcting an extracted field on the call page changes the job booked from it.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";

import { startServer, launchBrowser, newDesktop, newPhone, login, apiAs, listAll, trackErrors, screenshot } from "./harness.mjs";

// The field's row: the outermost `[data-field]` of that name (its evidence link and fix form repeat the attribute).
const fieldRow = (page, field) =>
  page.locator(`section#extraction [data-field="${field}"]:not([data-field] [data-field])`);

let server;
let browser;
let api;
let job; // Maria Lopez's kitchen sink, booked from the first demo call
before(async () => {
  server = await startServer();
  browser = await launchBrowser();
  api = apiAs(server);
  job = (await listAll(api, "/jobs")).find((j) => j.title.includes("kitchen sink"));
  assert.ok(job?.source?.call_id, "the demo books the kitchen sink from a call");
});
after(async () => {
  await browser?.close();
  await server?.stop();
});

test("the call page shows the transcript, the evidence and the extracted fields with confidence", async () => {
  const context = await newPhone(browser);
  const page = await context.newPage();
  const errors = trackErrors(page);
  await login(page, server, { next: `/app/calls/${job.source.call_id}` });
  assert.match(await page.locator("section#transcript").textContent(), /kitchen sink is leaking under the cabinet/);
  assert.ok((await page.locator("section#transcript mark[data-field]").count()) >= 1, "evidence is marked in the transcript");
  const row = fieldRow(page, "job_description");
  assert.equal(await row.count(), 1);
  assert.match(await row.textContent(), /kitchen sink/);
  assert.equal(await row.locator(".conf").count(), 1, "the field shows its confidence");
  assert.match(await page.locator("section#extraction").textContent(), /42 Oak Street/);
  // the recording plays through a signed link
  const src = await page.locator("audio#call-audio").evaluate((a) => a.currentSrc || a.src || a.querySelector("source")?.src);
  assert.match(src, /\/api\/v1\/calls\/[^/]+\/audio\?.*sig=/);
  // the booked job is linked
  assert.equal(await page.locator(`a[href="/app/jobs/${job.id}"]`).count() >= 1, true, "the call links its job");
  assert.deepEqual(errors, []);
  await context.close();
});

test("Fix → new value → Save on the call page changes the linked job, also after a reload", async () => {
  const fixed = "Replace the leaking trap under the kitchen sink";
  const context = await newDesktop(browser);
  const page = await context.newPage();
  const errors = trackErrors(page);
  await login(page, server, { next: `/app/calls/${job.source.call_id}` });

  const row = fieldRow(page, "job_description");
  await row.getByRole("button", { name: "Fix" }).click();
  const input = row.locator("input:visible, textarea:visible").first();
  await input.waitFor({ state: "visible" });
  const name = await input.evaluate((el) => el.labels?.[0]?.textContent?.trim() || el.getAttribute("aria-label") || "");
  assert.notEqual(name, "", "the fix input has a label");
  await input.fill(fixed);
  await row.getByRole("button", { name: "Save" }).click();
  await row.filter({ hasText: fixed }).waitFor({ timeout: 10_000 });

  // the correction reached the job (API check, independent of the pages)
  const stored = await api.get(`/jobs/${job.id}`);
  assert.equal(stored.description, fixed);
  assert.ok(stored.version > job.version, "the job was updated");
  const call = await api.get(`/calls/${job.source.call_id}`);
  assert.ok(call.corrections.some((c) => c.field === "appointments[0].job_description" && c.after === fixed), "the correction is recorded");

  // open the linked job from the call page
  await Promise.all([page.waitForURL((u) => u.pathname === `/app/jobs/${job.id}`), page.locator(`a[href="/app/jobs/${job.id}"]`).first().click()]);
  assert.equal(await page.locator("form#job-form #job-description").inputValue(), fixed);
  assert.equal((await page.locator("h1").textContent()).trim(), fixed, "the job's title follows the corrected description");
  await page.reload();
  assert.equal(await page.locator("form#job-form #job-description").inputValue(), fixed, "persisted");
  await screenshot(page, "review-job-after-fix-desktop");
  assert.deepEqual(errors, []);
  await context.close();
});
