// Two businesses on one server: the owner of the second one sees none of the first one's data in the dashboard,
// and the first one's ids are "not found" for them, exactly like the API.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";

import { startServer, launchBrowser, newDesktop, login, apiAs, listAll, parsePassword } from "./harness.mjs";

let server;
let browser;
let other; // { login, password } of the second tenant's owner
let sink;
before(async () => {
  server = await startServer();
  browser = await launchBrowser();
  const created = await server.cli(["tenant", "create", "--name", "Second Business", "--zone", "America/Chicago", "--owner", "bob"]);
  assert.equal(created.code, 0, created.stderr);
  other = { login: "bob", password: parsePassword(created.stdout) };
  sink = (await listAll(apiAs(server), "/jobs")).find((j) => j.title.includes("kitchen sink"));
});
after(async () => {
  await browser?.close();
  await server?.stop();
});

test("another business's pages list nothing of the first, and its ids are 404", async () => {
  const context = await newDesktop(browser);
  const page = await context.newPage();
  await login(page, server, { ...other, next: "/app/board" });
  assert.equal(new URL(page.url()).pathname, "/app/board");
  assert.equal(await page.locator("li.job-card").count(), 0, "an empty board");
  assert.match(await page.locator("header").first().textContent(), /Second Business/);
  await page.goto(`${server.url}/app/calls`);
  assert.equal(await page.locator("ul#call-list li[data-call-id]").count(), 0, "no calls");
  await page.goto(`${server.url}/app/customers`);
  assert.equal(await page.locator("#customer-results li").filter({ hasText: /Lopez|Chen|Shah/ }).count(), 0, "no customers");

  for (const path of [`/app/jobs/${sink.id}`, `/app/calls/${sink.source.call_id}`, `/app/customers/${sink.customer_id}`]) {
    const r = await context.request.get(`${server.url}${path}`, { maxRedirects: 0 });
    assert.equal(r.status(), 404, `${path} is not found for another business`);
    const html = await r.text();
    assert.ok(!html.includes("kitchen sink") && !html.includes("Maria Lopez"), `${path} leaks nothing`);
  }
  await context.close();
});
