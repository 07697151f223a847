// Signing in and out through the real login form.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";

import { startServer, launchBrowser, newDesktop, newPhone, login, trackErrors, httpFetch } from "./harness.mjs";

let server;
let browser;
before(async () => {
  server = await startServer({ seed: false });
  browser = await launchBrowser();
});
after(async () => {
  await browser?.close();
  await server?.stop();
});

test("a wrong password shows an error and stays on the login page", async () => {
  const context = await newDesktop(browser);
  const page = await context.newPage();
  const errors = trackErrors(page);
  await page.goto(`${server.url}/app/login`);
  assert.equal(await page.locator("form#login-form").count(), 1);
  await page.getByLabel("Login", { exact: true }).fill(server.owner.login);
  await page.getByLabel("Password", { exact: true }).fill(`${server.owner.password}-wrong`);
  await page.getByRole("button", { name: "Sign in" }).click();
  const alert = page.locator("#login-form [role=alert]");
  await alert.filter({ hasText: /\S/ }).waitFor({ timeout: 10_000 });
  assert.match(await alert.textContent(), /do not match|wrong|incorrect|invalid/i);
  assert.equal(new URL(page.url()).pathname, "/app/login");
  assert.equal(await page.getByLabel("Password", { exact: true }).getAttribute("aria-invalid"), "true");
  const cookies = await context.cookies(server.url);
  assert.ok(!cookies.some((c) => c.name === "callbook_session"), "no session after a wrong password");
  // the failed sign-in answers 401, which the browser logs as a failed resource; nothing else may go wrong
  assert.deepEqual(errors.filter((e) => !/status of 401 .*\/api\/v1\/auth\/login/.test(e)), []);
  await context.close();
});

test("the right password lands on /app with the navigation", async () => {
  const context = await newPhone(browser);
  const page = await context.newPage();
  const errors = trackErrors(page);
  await login(page, server);
  assert.equal(new URL(page.url()).pathname, "/app");
  const nav = page.locator('nav[aria-label="Main"]');
  for (const name of ["Home", "Board", "Calls", "Customers", "Calendar", "Settings"]) {
    assert.equal(await nav.getByRole("link", { name, exact: true }).count(), 1, `nav link ${name}`);
  }
  assert.equal(await page.getByRole("button", { name: "Sign out" }).count(), 1);
  const session = (await context.cookies(server.url)).find((c) => c.name === "callbook_session");
  assert.ok(session, "the session cookie is set");
  assert.equal(session.httpOnly, true);
  assert.equal(session.sameSite, "Lax");
  assert.deepEqual(errors, []);
  await context.close();
});

test("no session: a page redirects to the login page and back to it after signing in", async () => {
  const r = await httpFetch(`${server.url}/app/calendar?view=month`);
  assert.equal(r.status, 303);
  const location = new URL(r.headers.location, server.url);
  assert.equal(location.pathname, "/app/login");
  assert.equal(location.searchParams.get("next"), "/app/calendar?view=month");

  const context = await newDesktop(browser);
  const page = await context.newPage();
  await page.goto(`${server.url}/app/calendar?view=month`);
  const url = new URL(page.url());
  assert.equal(url.pathname, "/app/login");
  assert.equal(url.searchParams.get("next"), "/app/calendar?view=month");
  await page.getByLabel("Login", { exact: true }).fill(server.owner.login);
  await page.getByLabel("Password", { exact: true }).fill(server.owner.password);
  await Promise.all([
    page.waitForURL((u) => u.pathname === "/app/calendar", { timeout: 15_000 }),
    page.getByRole("button", { name: "Sign in" }).click(),
  ]);
  assert.equal(new URL(page.url()).searchParams.get("view"), "month");
  await context.close();
});

test("every dashboard page redirects to the login page without a session", async () => {
  const paths = ["/app", "/app/board", "/app/calls", "/app/customers", "/app/calendar", "/app/settings", "/app/notifications",
    "/app/jobs/01a20f00-0000-7000-8000-000000000000", "/app/calls/01a20f00-0000-7000-8000-000000000000",
    "/app/customers/01a20f00-0000-7000-8000-000000000000"];
  const wrong = [];
  for (const path of paths) {
    const r = await httpFetch(`${server.url}${path}`);
    const location = r.headers.location ? new URL(r.headers.location, server.url) : null;
    if (r.status !== 303 || location?.pathname !== "/app/login" || location.searchParams.get("next") !== path) {
      wrong.push(`${path}: ${r.status} → ${r.headers.location}`);
    }
    // and nothing of the page is in the redirect's body
    if (/<main/.test(r.text)) wrong.push(`${path}: the redirect carries page HTML`);
  }
  assert.deepEqual(wrong, []);
});

test("a next pointing off the dashboard is ignored", async () => {
  const context = await newDesktop(browser);
  const page = await context.newPage();
  await login(page, server, { next: "//evil.example/app" });
  const url = new URL(page.url());
  assert.equal(url.origin, server.url);
  assert.equal(url.pathname, "/app");
  await context.close();
});

test("Sign out ends the session", async () => {
  const context = await newDesktop(browser);
  const page = await context.newPage();
  await login(page, server);
  await Promise.all([
    page.waitForURL((u) => u.pathname === "/app/login", { timeout: 15_000 }),
    page.getByRole("button", { name: "Sign out" }).click(),
  ]);
  await page.goto(`${server.url}/app/board`);
  assert.equal(new URL(page.url()).pathname, "/app/login", "the old session no longer opens pages");
  await context.close();
});
