// Settings → Phone lines: search the fake telephony's numbers and buy one; it stays among the owned lines.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";

import { startServer, launchBrowser, newDesktop, newPhone, login, apiAs, trackErrors } from "./harness.mjs";

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

const digits = (s) => (s || "").replace(/\D/g, "");
// +1 312 555 01nn as printed in any format: its last ten digits
const tenDigits = (s) => digits(s).slice(-10);

async function ownedLines() {
  const body = await apiAs(server).get("/phone-lines");
  return Array.isArray(body) ? body : body.items;
}

test("search available numbers by area code, buy one, see it among the owned lines after a reload", async () => {
  assert.deepEqual(await ownedLines(), [], "a new tenant owns no (visible) line");
  const context = await newDesktop(browser);
  const page = await context.newPage();
  const errors = trackErrors(page);
  await login(page, server, { next: "/app/settings#phone-lines" });
  const lines = page.locator("#phone-lines");
  await lines.getByLabel("Area code", { exact: true }).fill("312");
  await lines.getByRole("button", { name: "Search", exact: true }).click();

  const buy = lines.getByRole("button", { name: /^Buy/ });
  await buy.first().waitFor({ timeout: 10_000 });
  // the fake telephony offers ten Chicago numbers +1 312 555 0100…0109; every result is in area code 312
  const count = await buy.count();
  assert.ok(count >= 1 && count <= 10, `${count} Buy buttons`);
  const resultRows = lines.locator("li, tr").filter({ has: page.getByRole("button", { name: /^Buy/ }) });
  const offered = (await resultRows.allTextContents()).map(tenDigits);
  assert.equal(offered.length, count);
  for (const n of offered) assert.match(n, /^3125550\d\d\d$/, `offered number ${n} is in area code 312`);
  const chosen = offered[0];

  page.once("dialog", (d) => d.accept()); // a confirm() before paying for a number is fine
  await resultRows.first().getByRole("button", { name: /^Buy/ }).click();
  // the API now owns it
  let owned = [];
  for (let i = 0; i < 100 && owned.length === 0; i++) {
    owned = (await ownedLines()).filter((l) => tenDigits(l.phone_number) === chosen);
    if (!owned.length) await page.waitForTimeout(100);
  }
  assert.equal(owned.length, 1, `+1${chosen} was bought`);

  await page.reload();
  const release = page.locator("#phone-lines").getByRole("button", { name: /^Release/ });
  await release.first().waitFor({ timeout: 10_000 });
  const ownedRows = page.locator("#phone-lines li, #phone-lines tr").filter({ has: page.getByRole("button", { name: /^Release/ }) });
  const shown = (await ownedRows.allTextContents()).map(tenDigits);
  assert.deepEqual(shown, [chosen], "the owned lines list shows the bought number once");

  // searching again no longer offers it
  await page.locator("#phone-lines").getByLabel("Area code", { exact: true }).fill("312");
  await page.locator("#phone-lines").getByRole("button", { name: "Search", exact: true }).click();
  await page.locator("#phone-lines").getByRole("button", { name: /^Buy/ }).first().waitFor();
  const again = (
    await page.locator("#phone-lines li, #phone-lines tr").filter({ has: page.getByRole("button", { name: /^Buy/ }) }).allTextContents()
  ).map(tenDigits);
  assert.ok(!again.includes(chosen), "a bought number is no longer offered");
  assert.deepEqual(errors, []);
  await context.close();
});

test("a Contains pattern narrows the search on a phone", async () => {
  const context = await newPhone(browser);
  const page = await context.newPage();
  await login(page, server, { next: "/app/settings#phone-lines" });
  const lines = page.locator("#phone-lines");
  await lines.getByLabel("Area code", { exact: true }).fill("212");
  await lines.getByLabel("Contains", { exact: true }).fill("0107");
  await lines.getByRole("button", { name: "Search", exact: true }).click();
  const rows = lines.locator("li, tr").filter({ has: page.getByRole("button", { name: /^Buy/ }) });
  await rows.first().waitFor({ timeout: 10_000 });
  assert.deepEqual((await rows.allTextContents()).map(tenDigits), ["2125550107"]);
  await context.close();
});

test("releasing a line asks for the last 4 digits, then removes it", async () => {
  const [line] = await ownedLines();
  assert.ok(line, "the first test bought a line");
  const last4 = line.phone_number.slice(-4);
  const context = await newDesktop(browser);
  const page = await context.newPage();
  const errors = trackErrors(page);
  await login(page, server, { next: "/app/settings#phone-lines" });
  const row = page.locator("#phone-lines li, #phone-lines tr").filter({ has: page.getByRole("button", { name: /^Release/ }) });
  assert.equal(await row.count(), 1);
  await row.getByRole("button", { name: /^Release/ }).click();
  const dialog = page.getByRole("dialog");
  await dialog.waitFor({ state: "visible" });
  const confirm = dialog.getByLabel(/last 4 digits/);
  // wrong digits: refused, the line stays
  await confirm.fill(last4 === "0000" ? "1111" : "0000");
  const submit = dialog.getByRole("button", { name: /^Release/ });
  if (await submit.isEnabled()) {
    await submit.click();
    await page.waitForTimeout(300);
  }
  assert.equal((await ownedLines()).length, 1, "wrong digits release nothing");
  await confirm.fill(last4);
  await submit.click();
  await page.locator("#toasts").getByText(/released/i).first().waitFor({ timeout: 10_000 });
  assert.deepEqual(await ownedLines(), []);
  await page.reload();
  assert.equal(await page.locator("#phone-lines").getByRole("button", { name: /^Release/ }).count(), 0);
  assert.deepEqual(errors, []);
  await context.close();
});

test("the business profile saves and the header shows the new name", async () => {
  const context = await newPhone(browser);
  const page = await context.newPage();
  const errors = trackErrors(page);
  await login(page, server, { next: "/app/settings#profile" });
  const profile = page.locator("#profile");
  await profile.getByLabel("Business name", { exact: true }).fill("Rivera Plumbing & Heating");
  await profile.getByRole("button", { name: "Save profile" }).click();
  await page.locator("#toasts").getByText("Profile saved").first().waitFor({ timeout: 10_000 });
  assert.equal((await apiAs(server).get("/settings/profile")).name, "Rivera Plumbing & Heating");
  await page.reload();
  assert.equal(await page.locator("#profile").getByLabel("Business name", { exact: true }).inputValue(), "Rivera Plumbing & Heating");
  assert.match(await page.locator("header").first().textContent(), /Rivera Plumbing & Heating/);
  // an empty name is refused next to the field
  await page.locator("#profile").getByLabel("Business name", { exact: true }).fill("");
  await page.locator("#profile").getByRole("button", { name: "Save profile" }).click();
  await page.locator('#profile [data-error-for="name"], #profile .error').filter({ hasText: /\S/ }).first().waitFor({ timeout: 10_000 });
  assert.equal((await apiAs(server).get("/settings/profile")).name, "Rivera Plumbing & Heating", "nothing saved");
  assert.deepEqual(errors.filter((e) => !/status of 422/.test(e)), []);
  await context.close();
});
