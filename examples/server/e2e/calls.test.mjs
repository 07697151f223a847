// The calls list and the review page's "Not an appointment": the list mirrors the API's calls and states; marking
// a booked call as not an appointment cancels its job (on the board's Cancelled drawer too).
import { test, before, after } from "node:test";
import assert from "node:assert/strict";

import { startServer, launchBrowser, newDesktop, newPhone, login, apiAs, listAll, trackErrors } from "./harness.mjs";

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

test("the calls list has one row per call with its state and confidence, newest first", async () => {
  const calls = await listAll(api, "/calls");
  const context = await newPhone(browser);
  const page = await context.newPage();
  const errors = trackErrors(page);
  await login(page, server, { next: "/app/calls" });
  const rows = page.locator("ul#call-list > li[data-call-id]");
  assert.equal(await rows.count(), 5);
  const shown = await rows.evaluateAll((lis) => lis.map((li) => li.dataset.callId));
  assert.deepEqual(new Set(shown), new Set(calls.map((c) => c.id)), "the same calls as the API");
  const started = Object.fromEntries(calls.map((c) => [c.id, c.started_at || c.created_at]));
  const order = shown.map((id) => Date.parse(started[id]));
  assert.deepEqual(order, [...order].sort((a, b) => b - a), "newest first");
  // 3 booked, 2 without an appointment, each with a state badge and a confidence badge
  const states = await rows.locator(".badge").allTextContents();
  assert.equal(states.filter((t) => /Booked/.test(t)).length, 3, JSON.stringify(states));
  assert.equal(states.filter((t) => /No appointment/.test(t)).length, 2, JSON.stringify(states));
  for (const row of await rows.all()) assert.equal(await row.locator(".conf").count(), 1, "a confidence badge per row");
  // privacy: the list masks the caller's number
  assert.ok(!(await page.locator("ul#call-list").textContent()).includes("+13475550119"), "full numbers are not listed");
  await Promise.all([page.waitForURL(/\/app\/calls\/[0-9a-f-]{36}$/), rows.first().locator("a").first().click()]);
  assert.equal(await page.locator("section#transcript").count(), 1);
  assert.deepEqual(errors, []);
  await context.close();
});

test("Not an appointment cancels the call's job, after a confirmation", async () => {
  const job = (await listAll(api, "/jobs")).find((j) => j.title.includes("furnace"));
  assert.ok(job, "the demo books David Chen's furnace");
  const context = await newDesktop(browser);
  const page = await context.newPage();
  const errors = trackErrors(page);
  await login(page, server, { next: `/app/calls/${job.source.call_id}` });

  // dismissing the confirmation changes nothing
  page.once("dialog", (d) => d.dismiss());
  await page.getByRole("button", { name: "Not an appointment" }).click();
  await page.waitForTimeout(500);
  assert.equal((await api.get(`/jobs/${job.id}`)).stage, job.stage);

  let question = "";
  page.once("dialog", (d) => {
    question = d.message();
    d.accept();
  });
  await page.getByRole("button", { name: "Not an appointment" }).click();
  await page.locator("#toasts").getByText(/not an appointment/i).first().waitFor({ timeout: 10_000 });
  assert.match(question, /cancel/i, "the confirmation says the job will be cancelled");
  assert.equal((await api.get(`/jobs/${job.id}`)).stage, "cancelled");
  const call = await api.get(`/calls/${job.source.call_id}`);
  assert.ok(call.corrections.some((c) => c.field === "call_kind"), "recorded as a correction of call_kind");

  // the board lists it in the Cancelled drawer
  await page.goto(`${server.url}/app/board`);
  assert.equal(await page.locator(`section.column[data-stage="cancelled"] li.job-card[data-job-id="${job.id}"]`).count(), 1);
  assert.equal(await page.locator(`section.column:not([data-stage="cancelled"]) li.job-card[data-job-id="${job.id}"]`).count(), 0);
  assert.deepEqual(errors, []);
  await context.close();
});
