// The calendar's week and month views show the demo's scheduled jobs on their day, and only there.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";

import { startServer, launchBrowser, newDesktop, newPhone, login, apiAs, listAll, trackErrors } from "./harness.mjs";

let server;
let browser;
let job; // a seeded job with a schedule
before(async () => {
  server = await startServer();
  browser = await launchBrowser();
  const jobs = await listAll(apiAs(server), "/jobs");
  job = jobs.find((j) => j.schedule && j.title.includes("kitchen sink"));
  assert.ok(job, `the demo books Maria Lopez's kitchen sink with a time; jobs: ${JSON.stringify(jobs.map((j) => [j.title, j.schedule]))}`);
});
after(async () => {
  await browser?.close();
  await server?.stop();
});

// The tenant's zone is UTC (the harness's default), so the job's day is the UTC date of its start.
const day = () => job.schedule.start.slice(0, 10);
const addDays = (iso, n) => new Date(Date.parse(`${iso}T12:00:00Z`) + n * 86_400_000).toISOString().slice(0, 10);

test("week view: the scheduled job is on its day, at its time, linking to the job", async () => {
  const context = await newDesktop(browser);
  const page = await context.newPage();
  const errors = trackErrors(page);
  await login(page, server, { next: `/app/calendar?view=week&date=${day()}` });
  assert.equal(await page.locator("#calendar").getAttribute("data-view"), "week");
  const event = page.locator(`#calendar a.cal-event[data-job-id="${job.id}"]`);
  assert.equal(await event.count(), 1, "the job appears once in its week");
  await event.waitFor({ state: "visible" });
  assert.equal(await event.getAttribute("href"), `/app/jobs/${job.id}`);
  assert.match(await event.textContent(), /kitchen sink/);
  assert.match(await event.textContent(), /15:00/, "it starts at 15:00 in the business's zone (UTC)");
  // it sits in the column of its own day
  const dayColumn = page.locator(`#calendar [data-date="${day()}"]`);
  assert.equal(await dayColumn.locator(`a.cal-event[data-job-id="${job.id}"]`).count(), 1, `in the column of ${day()}`);

  // the next week does not have it (it is not recurring)
  await Promise.all([page.waitForURL((u) => u.searchParams.get("date") !== day()), page.getByRole("link", { name: "Next", exact: true }).click()]);
  assert.equal(await page.locator("#calendar").getAttribute("data-view"), "week");
  assert.equal(await page.locator(`a.cal-event[data-job-id="${job.id}"]`).count(), 0, "not in the following week");
  assert.deepEqual(errors, []);
  await context.close();
});

test("month view: the job is in its day's cell; the event opens the job", async () => {
  const context = await newPhone(browser);
  const page = await context.newPage();
  const errors = trackErrors(page);
  await login(page, server, { next: `/app/calendar?view=week&date=${day()}` });
  await Promise.all([page.waitForURL((u) => u.searchParams.get("view") === "month"), page.getByRole("link", { name: "Month", exact: true }).click()]);
  assert.equal(await page.locator("#calendar").getAttribute("data-view"), "month");
  const cell = page.locator(`#calendar [data-date="${day()}"]`);
  assert.equal(await cell.locator(`a.cal-event[data-job-id="${job.id}"]`).count(), 1, `in the cell of ${day()}`);
  // no other day of the month shows it
  assert.equal(await page.locator(`#calendar a.cal-event[data-job-id="${job.id}"]`).count(), 1);
  // two months later it is gone
  await page.goto(`${server.url}/app/calendar?view=month&date=${addDays(day(), 62)}`);
  assert.equal(await page.locator(`a.cal-event[data-job-id="${job.id}"]`).count(), 0);
  // back on its month, the event opens the job page
  await page.goto(`${server.url}/app/calendar?view=month&date=${day()}`);
  const event = page.locator(`a.cal-event[data-job-id="${job.id}"]`).first();
  await event.scrollIntoViewIfNeeded();
  await Promise.all([page.waitForURL((u) => u.pathname === `/app/jobs/${job.id}`), event.click()]);
  assert.deepEqual(errors, []);
  await context.close();
});
