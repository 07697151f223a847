// A call arriving while the dashboard is open: `callbook simulate-call` plays it into the running server (signed
// webhooks, the recording, the worker); the open board gets the new card, a toast and the unread badge live, and
// the notifications page lists the events and marks them read.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";

import { startServer, launchBrowser, newDesktop, newPhone, login, trackErrors } from "./harness.mjs";

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

const unread = (page) =>
  page.locator("#notification-count").evaluate((el) => (el.hidden ? 0 : Number.parseInt(el.textContent, 10) || 0));

test("a new call shows up live: card on the board, toast, unread badge; the inbox lists it and marks it read", async () => {
  const context = await newDesktop(browser);
  const board = await context.newPage();
  const errors = trackErrors(board);
  await login(board, server, { next: "/app/board" });
  await board.waitForFunction(() => document.body.dataset.live === "connected", null, { timeout: 10_000 });
  const cardsBefore = await board.locator("li.job-card").count();
  assert.equal(cardsBefore, 3);
  const unreadBefore = await unread(board);

  const transcript = join(server.dataDir, "e2e-call.txt");
  await writeFile(
    transcript,
    "Hi, this is Tom Baker at 5 Pine Road, Tarrytown. The water heater in the basement is leaking.\n" +
      "Can you come Friday at 10 am? Call me at 914-555-0199.",
  );
  const played = await server.cli(["simulate-call", "--transcript", transcript, "--from", "+19145550199", "--server", server.url, "--wait"]);
  assert.equal(played.code, 0, played.stderr);
  assert.match(played.stdout, /outcome\s+done/);

  // live, without a reload
  const card = board.locator("li.job-card", { hasText: "Tom Baker" });
  await card.waitFor({ timeout: 10_000 });
  assert.equal(await card.getAttribute("data-stage"), "quote_requested");
  assert.equal(await board.locator('section.column[data-stage="quote_requested"] li.job-card', { hasText: "Tom Baker" }).count(), 1);
  await board.locator("#toasts").getByText(/water heater/).first().waitFor({ timeout: 10_000 });
  await board.waitForFunction(
    (n) => {
      const el = document.getElementById("notification-count");
      return el && !el.hidden && Number.parseInt(el.textContent, 10) > n;
    },
    unreadBefore,
    { timeout: 10_000 },
  );

  // the inbox, on a phone of the same user
  const phone = await newPhone(browser);
  const inbox = await phone.newPage();
  await login(inbox, server, { next: "/app/notifications" });
  const list = inbox.locator("ul#notification-list > li");
  const unreadNow = await unread(inbox);
  assert.ok(unreadNow >= 1);
  assert.equal(unreadBefore, 0, "the owner had nothing unread before the call");
  assert.equal(await list.count(), unreadNow, "one row per notification, all unread");
  const jobRow = list.filter({ hasText: /New job: .*water heater/ });
  assert.equal(await jobRow.count(), 1);
  const jobLink = jobRow.locator("a").first();
  assert.match(await jobLink.getAttribute("href"), /^\/app\/jobs\/[0-9a-f-]{36}$/);
  await jobRow.getByRole("button", { name: /Mark read/ }).click();
  await inbox.waitForFunction((n) => {
    const el = document.getElementById("notification-count");
    return el && (el.hidden ? 0 : Number.parseInt(el.textContent, 10)) === n - 1;
  }, unreadNow, { timeout: 10_000 });
  await inbox.getByRole("button", { name: "Mark all read" }).click();
  await inbox.waitForFunction(() => document.getElementById("notification-count")?.hidden === true, null, { timeout: 10_000 });
  // the inbox is the signed-in user's: checked through the owner's session
  const left = await inbox.evaluate(async () => (await (await fetch("/api/v1/notifications?unread=true")).json()).items.length);
  assert.equal(left, 0, "no unread notifications left");
  // the job link opens the new job
  await inbox.goto(`${server.url}/app/notifications`);
  await Promise.all([inbox.waitForURL(/\/app\/jobs\//), inbox.locator("ul#notification-list a", { hasText: /water heater/ }).first().click()]);
  assert.match(await inbox.locator("h1").textContent(), /water heater/);

  assert.deepEqual(errors, []);
  await phone.close();
  await context.close();
});
