// Customers: the search lists matches as you type and opens a profile; a merge suggestion is merged and undone.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";

import { startServer, launchBrowser, newPhone, newDesktop, login, apiAs, listAll, trackErrors } from "./harness.mjs";

let server;
let browser;
let priya; // a seeded customer
let priyaJob;
before(async () => {
  server = await startServer();
  browser = await launchBrowser();
  const api = apiAs(server);
  const found = await api.get("/customers?q=Priya");
  priya = (Array.isArray(found) ? found : found.items).find((c) => c.name === "Priya Shah");
  assert.ok(priya, "the demo creates the customer Priya Shah");
  priyaJob = (await listAll(api, "/jobs")).find((j) => j.customer_id === priya.id);
  assert.ok(priyaJob, "and books her a job");
});
after(async () => {
  await browser?.close();
  await server?.stop();
});

test("typing part of a name lists the customer without pressing Enter; the result opens the profile", async () => {
  const context = await newPhone(browser);
  const page = await context.newPage();
  const errors = trackErrors(page);
  await login(page, server, { next: "/app/customers" });
  // a marker that a full page load would wipe: the results must come without navigating
  await page.evaluate(() => (window.__noReload = true));
  const search = page.getByLabel("Search customers", { exact: true });
  assert.equal(await search.getAttribute("type"), "search");
  await search.pressSequentially("iya sh", { delay: 40 });

  // the page may list recent callers before any search: wait for the list to become the matches
  const results = page.locator("#customer-results");
  await page.waitForFunction(
    () => {
      const names = [...document.querySelectorAll("#customer-results li a")].map((a) => a.textContent.trim());
      return names.includes("Priya Shah") && !names.includes("Maria Lopez") && !names.includes("David Chen");
    },
    null,
    { timeout: 5_000 },
  ).catch(async () => {
    assert.fail(`after typing "iya sh" #customer-results lists ${JSON.stringify(await results.locator("li a").allTextContents())}; want only Priya Shah`);
  });
  assert.equal(await page.evaluate(() => window.__noReload), true, "no page load while searching");
  const hit = results.locator("li a", { hasText: "Priya Shah" });
  assert.equal(await hit.getAttribute("href"), `/app/customers/${priya.id}`);

  // a search with no match says so instead of keeping stale results
  await search.fill("zzzz-nobody");
  await results.locator("li a", { hasText: "Priya Shah" }).waitFor({ state: "detached", timeout: 5_000 });

  await search.fill("priya");
  await Promise.all([
    page.waitForURL((u) => u.pathname === `/app/customers/${priya.id}`),
    results.locator("li a", { hasText: "Priya Shah" }).click(),
  ]);
  assert.match(await page.locator("h1").textContent(), /Priya Shah/);
  // her job and her call are on the profile
  assert.ok((await page.locator(`a[href="/app/jobs/${priyaJob.id}"]`).count()) >= 1, "the profile links her job");
  assert.ok((await page.locator(`a[href="/app/calls/${priyaJob.source.call_id}"]`).count()) >= 1, "the profile links her call");
  assert.deepEqual(errors, []);
  await context.close();
});

test("desktop: searching by surname lists only that customer", async () => {
  const context = await newDesktop(browser);
  const page = await context.newPage();
  await login(page, server, { next: "/app/customers" });
  await page.getByLabel("Search customers", { exact: true }).pressSequentially("lopez", { delay: 30 });
  await page.waitForFunction(
    () => {
      const names = [...document.querySelectorAll("#customer-results li a")].map((a) => a.textContent.trim());
      return names.length === 1 && names[0] === "Maria Lopez";
    },
    null,
    { timeout: 5_000 },
  ).catch(async () => {
    assert.fail(`after typing "lopez" #customer-results lists ${JSON.stringify(await page.locator("#customer-results li a").allTextContents())}`);
  });
  await context.close();
});

test("a merge suggestion: side-by-side diff, Merge, then Undo puts the customers apart again", async () => {
  const api = apiAs(server);
  const maria = (await api.get("/customers?q=Maria%20Lopez")).find((c) => c.name === "Maria Lopez");
  // a different name from Maria's number: a new customer with a suggestion, not a silent match
  const transcript = join(server.dataDir, "jorge.txt");
  await writeFile(transcript, "Hi, this is Jorge Lopez. The bathroom fan is broken. Could someone come Friday at 11 am? Call me at 914-555-0177.");
  const played = await server.cli(["simulate-call", "--transcript", transcript, "--from", maria.phones[0], "--server", server.url, "--wait"]);
  assert.equal(played.code, 0, played.stderr);
  const jorge = (await api.get("/customers?q=Jorge")).find((c) => c.name === "Jorge Lopez");
  assert.ok(jorge, "Jorge Lopez is a customer of his own");
  assert.notEqual(jorge.id, maria.id);

  const context = await newDesktop(browser);
  const page = await context.newPage();
  const errors = trackErrors(page);
  await login(page, server, { next: `/app/customers/${maria.id}` });
  const suggestions = page.locator("section#merge-suggestions");
  const card = suggestions.locator("article", { hasText: "Jorge Lopez" });
  assert.equal(await card.count(), 1, "Maria's profile suggests Jorge");
  const diff = card.locator("table");
  assert.match(await diff.textContent(), /Maria Lopez/);
  assert.match(await diff.textContent(), /Jorge Lopez/);
  assert.ok((await diff.locator("tr.differs").count()) >= 1, "differences are marked");

  await card.getByRole("button", { name: "Merge", exact: true }).click();
  await page.locator("#toasts").getByText(/Merged/).first().waitFor({ timeout: 10_000 });
  assert.equal((await api.get(`/customers/${jorge.id}`)).customer.merged_into, maria.id, "Jorge is merged into Maria");
  assert.equal(await page.locator("section#merge-suggestions article", { hasText: "Jorge Lopez" }).count(), 0);

  await page.locator("#toasts").getByRole("button", { name: "Undo" }).first().click();
  await page.locator("#toasts").getByText(/undone/i).first().waitFor({ timeout: 10_000 });
  assert.equal((await api.get(`/customers/${jorge.id}`)).customer.merged_into, null, "the merge is undone");
  assert.deepEqual(errors, []);
  await context.close();
});
