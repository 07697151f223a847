// The browser-test harness of the Callbook dashboard: starts the real server binary on a free loopback port with
// a throw-away data directory, seeds it (the demo's calls and jobs, an owner account), and drives Debian's
// chromium through playwright-core. Every test file imports what it needs from here; see README.md.
//
// Nothing here downloads a browser or talks to anything but 127.0.0.1.

import { spawn, execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, rmSync } from "node:fs";
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { request as httpRequest } from "node:http";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { setTimeout as sleep } from "node:timers/promises";

import { chromium } from "playwright-core";

/** The repository root (this file is `<repo>/examples/server/e2e/harness.mjs`). */
export const REPO = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..", "..");

/** The server binary: `CALLBOOK_BIN`, else `<repo>/target/debug/callbook`. */
export const BIN = process.env.CALLBOOK_BIN || join(REPO, "target", "debug", "callbook");

/** The browser: `CALLBOOK_CHROMIUM`, else Debian's `/usr/bin/chromium`. */
export const CHROMIUM = process.env.CALLBOOK_CHROMIUM || "/usr/bin/chromium";

/** Where `screenshot()` writes: `CALLBOOK_SCREENSHOT_DIR`, else `<repo>/target/screenshots`. */
export const SCREENSHOT_DIR = process.env.CALLBOOK_SCREENSHOT_DIR || join(REPO, "target", "screenshots");

/** Chromium flags for a root user on a machine without network (toolbox.md §7). */
export const CHROMIUM_ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--disable-dev-shm-usage",
];

/** Phone and desktop viewports used by `newPhone` / `newDesktop`. */
export const PHONE = { width: 360, height: 740 };
export const DESKTOP = { width: 1366, height: 900 };

/** The owner account every seeded server has. */
export const OWNER_LOGIN = "owner";

// Variables of the outer environment that would change what the server does (a real Twilio account, OpenAI,
// Stripe, S3, another database, SMTP, Sentry, …): the harness starts from a clean slate and sets its own.
const SCRUBBED = /^(CALLBOOK_|TWILIO_|OPENAI_|STRIPE_|AWS_|SENTRY_|RUST_LOG$)/;

// Servers still running: killed when this process ends, even by an uncaught exception or a signal, so a crashed
// test file never leaves a server behind.
const running = new Set();
const dataDirs = new Set();
function killAll() {
  for (const child of running) child.kill("SIGKILL");
  if (!process.env.CALLBOOK_E2E_KEEP) for (const dir of dataDirs) rmSync(dir, { recursive: true, force: true });
}
process.on("exit", killAll);
for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"]) {
  process.once(signal, () => {
    killAll();
    process.exit(128 + { SIGINT: 2, SIGTERM: 15, SIGHUP: 1 }[signal]);
  });
}

function cleanEnv(extra) {
  const env = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (!SCRUBBED.test(k)) env[k] = v;
  }
  return { ...env, ...extra };
}

/** A free TCP port on 127.0.0.1 (bound and released; the server binds it right after). */
export async function freePort() {
  return new Promise((ok, fail) => {
    const srv = createServer();
    srv.unref();
    srv.on("error", fail);
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address();
      srv.close(() => ok(port));
    });
  });
}

/**
 * Runs the server binary once with `args` and `env`; resolves `{ code, stdout, stderr }` (never rejects on a
 * non-zero exit: callers assert on `code`).
 */
export function runBin(args, env, { timeoutMs = 120_000 } = {}) {
  return new Promise((ok, fail) => {
    execFile(BIN, args, { env, timeout: timeoutMs, maxBuffer: 16 << 20 }, (error, stdout, stderr) => {
      if (error && typeof error.code !== "number") {
        fail(new Error(`${BIN} ${args.join(" ")}: ${error.message}\n${stderr}`));
        return;
      }
      ok({ code: error ? error.code : 0, stdout, stderr });
    });
  });
}

async function runOk(args, env) {
  const r = await runBin(args, env);
  if (r.code !== 0) {
    throw new Error(`\`callbook ${args.join(" ")}\` exited ${r.code}\n--- stdout\n${r.stdout}\n--- stderr\n${r.stderr}`);
  }
  return r;
}

/** Parses the one-time password `callbook user add` / `tenant create` print (`password Xk7…  (shown once…)`). */
export function parsePassword(stdout) {
  const m = /^password\s+(\S+)/m.exec(stdout);
  if (!m) throw new Error(`no password line in the CLI's output:\n${stdout}`);
  return m[1];
}

/**
 * Starts the real server with a temporary data directory and embedded defaults (fake telephony, demo
 * transcriber, rules extractor, SQLite + local recordings), rate limits off.
 *
 * Options:
 * - `seed` (default `true`): play the demo's 5 calls first (`callbook demo --exit --calls N`: 3 jobs, 2 calls
 *   without an appointment); a number plays that many of them; `false` leaves the tenant empty.
 * - `env`: extra variables for every process (e.g. `{ CALLBOOK_TIMEZONE: "America/New_York" }`).
 * - `users`: extra accounts to add, `[{ login, role }]` (their passwords end up in `server.users[login]`).
 *
 * Resolves `{ url, port, dataDir, bin, env, adminToken, owner: {login, password}, users, log(), stop(),
 * cli(args) }`. `cli(args)` runs the binary against the same data directory (`{ code, stdout, stderr }`).
 * `log()` is everything the server printed so far (for failure messages). Always `await server.stop()`.
 */
export async function startServer({ seed = true, env: extra = {}, users = [] } = {}) {
  if (!existsSync(BIN)) {
    throw new Error(`server binary ${BIN} not found: run \`cargo build -p callbook-server\` or set CALLBOOK_BIN`);
  }
  const dataDir = await mkdtemp(join(tmpdir(), "callbook-e2e-"));
  const adminToken = `e2e-admin-${randomBytes(16).toString("hex")}`;
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const env = cleanEnv({
    CALLBOOK_DATA_DIR: dataDir,
    CALLBOOK_LISTEN: `127.0.0.1:${port}`,
    CALLBOOK_PUBLIC_URL: url,
    CALLBOOK_MASTER_KEY: randomBytes(32).toString("base64"),
    CALLBOOK_ADMIN_TOKEN: adminToken,
    CALLBOOK_RATE_LIMIT_LOGIN: "off",
    CALLBOOK_RATE_LIMIT_API: "off",
    CALLBOOK_RATE_LIMIT_WEBHOOKS: "off",
    CALLBOOK_RETENTION_INTERVAL: "off",
    ...extra,
  });
  dataDirs.add(dataDir);
  const cleanup = async () => {
    if (!process.env.CALLBOOK_E2E_KEEP) await rm(dataDir, { recursive: true, force: true });
    dataDirs.delete(dataDir);
  };

  let child;
  try {
    if (seed) {
      const calls = seed === true ? 5 : Number(seed);
      // the demo serves on its own port while it plays the calls, then exits; the data stays in dataDir
      await runOk(["demo", "--exit", "--calls", String(calls)], { ...env, CALLBOOK_LISTEN: "127.0.0.1:0" });
    }
    const owner = { login: OWNER_LOGIN, password: parsePassword((await runOk(["user", "add", "--login", OWNER_LOGIN, "--role", "owner"], env)).stdout) };
    const accounts = {};
    for (const { login, role = "staff" } of users) {
      accounts[login] = { login, password: parsePassword((await runOk(["user", "add", "--login", login, "--role", role], env)).stdout) };
    }

    let output = "";
    child = spawn(BIN, ["serve"], { env, stdio: ["ignore", "pipe", "pipe"] });
    running.add(child);
    child.on("exit", () => running.delete(child));
    child.stdout.on("data", (d) => (output += d));
    child.stderr.on("data", (d) => (output += d));
    let exited = null;
    const exit = new Promise((ok) => child.on("exit", (code, signal) => ok((exited = { code, signal }))));

    const deadline = Date.now() + 60_000;
    for (;;) {
      if (exited) throw new Error(`callbook serve exited (${JSON.stringify(exited)}) before it was ready:\n${output}`);
      try {
        const r = await httpFetch(`${url}/readyz`);
        if (r.status === 200) break;
      } catch {
        // not listening yet
      }
      if (Date.now() > deadline) throw new Error(`callbook serve not ready on ${url}/readyz after 60 s:\n${output}`);
      await sleep(100);
    }

    const server = {
      url,
      port,
      dataDir,
      bin: BIN,
      env,
      adminToken,
      owner,
      users: accounts,
      log: () => output,
      cli: (args) => runBin(args, env),
      async stop() {
        if (!exited) {
          child.kill("SIGTERM");
          // a graceful shutdown waits for open connections (an EventSource of a page left open): 3 s, then kill
          const killed = await Promise.race([exit, sleep(3_000).then(() => null)]);
          if (!killed) {
            child.kill("SIGKILL");
            await exit;
          }
        }
        await cleanup();
      },
    };
    return server;
  } catch (error) {
    if (child && child.exitCode === null) child.kill("SIGKILL");
    await cleanup();
    throw error;
  }
}

// ------------------------------------------------------------------------------------------------ the API

/**
 * One HTTP request without keep-alive (so no idle connection delays the server's graceful shutdown); resolves
 * `{ status, headers, text }`. `headers` is a plain object with lower-case names.
 */
export function httpFetch(url, { method = "GET", headers = {}, body } = {}) {
  return new Promise((ok, fail) => {
    const req = httpRequest(url, { method, headers, agent: false }, (res) => {
      let text = "";
      res.setEncoding("utf8");
      res.on("data", (d) => (text += d));
      res.on("end", () => ok({ status: res.statusCode, headers: res.headers, text }));
      res.on("error", fail);
    });
    req.on("error", fail);
    req.setTimeout(30_000, () => req.destroy(new Error(`${method} ${url}: no answer in 30 s`)));
    if (body !== undefined) req.write(body);
    req.end();
  });
}

/** An error of `apiAs`: the HTTP status and the problem document (`code`, `detail`, `errors`). */
export class ApiFailure extends Error {
  constructor(method, path, status, body) {
    super(`${method} ${path} → ${status}: ${typeof body === "object" && body ? body.detail || body.title || JSON.stringify(body) : body}`);
    this.status = status;
    this.body = body;
  }
}

/**
 * A tiny REST client for seeding and checking data: `Authorization: Bearer <admin token>` (or `token`), paths
 * relative to `/api/v1`. `get/post/put/patch/delete(path, body?, { ifMatch, headers })` resolve the parsed JSON
 * (null for 204) and throw `ApiFailure` on a non-2xx; `request(...)` resolves `{ status, headers, body }` for any
 * status (`headers`: plain object, lower-case names, e.g. `headers.etag`).
 */
export function apiAs(server, token = server.adminToken) {
  const request = async (method, path, body, { ifMatch, headers = {} } = {}) => {
    const h = { Authorization: `Bearer ${token}`, Accept: "application/json", ...headers };
    if (ifMatch !== undefined) h["If-Match"] = typeof ifMatch === "number" ? `"${ifMatch}"` : ifMatch;
    let payload;
    if (body !== undefined) {
      h["Content-Type"] = "application/json";
      payload = JSON.stringify(body);
    }
    const r = await httpFetch(`${server.url}/api/v1${path.startsWith("/") ? path : `/${path}`}`, { method, headers: h, body: payload });
    const text = r.text;
    let parsed = null;
    if (text) {
      try {
        parsed = JSON.parse(text);
      } catch {
        parsed = text;
      }
    }
    return { status: r.status, headers: r.headers, body: parsed };
  };
  const ok = (method) => async (path, body, opts) => {
    const r = await request(method, path, body, opts);
    if (r.status < 200 || r.status > 299) throw new ApiFailure(method, path, r.status, r.body);
    return r.body;
  };
  return { request, get: (path, opts) => ok("GET")(path, undefined, opts), post: ok("POST"), put: ok("PUT"), patch: ok("PATCH"), delete: ok("DELETE") };
}

/** Every item of a paginated list endpoint (`{ items, next_cursor }`), following cursors. */
export async function listAll(api, path) {
  const items = [];
  let cursor = null;
  for (let i = 0; i < 100; i++) {
    const sep = path.includes("?") ? "&" : "?";
    const page = await api.get(cursor ? `${path}${sep}cursor=${encodeURIComponent(cursor)}` : path);
    if (Array.isArray(page)) return page;
    items.push(...(page.items || []));
    cursor = page.next_cursor;
    if (!cursor) break;
  }
  return items;
}

// ------------------------------------------------------------------------------------------------ the browser

/** Launches headless chromium (Playwright gives each launch a fresh temporary profile / user-data-dir). */
export async function launchBrowser({ args = [] } = {}) {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`${CHROMIUM} not found: apt-get install -y chromium (or set CALLBOOK_CHROMIUM)`);
  }
  return chromium.launch({ executablePath: CHROMIUM, headless: true, args: [...CHROMIUM_ARGS, ...args] });
}

/** A desktop context: 1366×900, mouse. */
export function newDesktop(browser, options = {}) {
  return browser.newContext({ viewport: DESKTOP, locale: "en-US", timezoneId: "UTC", ...options });
}

/** A phone context: 360×740 CSS px, touch, mobile meta viewport, device scale factor 2. */
export function newPhone(browser, options = {}) {
  return browser.newContext({
    viewport: PHONE,
    screen: PHONE,
    isMobile: true,
    hasTouch: true,
    deviceScaleFactor: 2,
    locale: "en-US",
    timezoneId: "UTC",
    userAgent:
      "Mozilla/5.0 (Linux; Android 14; Pixel 7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/156.0.0.0 Mobile Safari/537.36",
    ...options,
  });
}

/**
 * Collects what went wrong in a page: uncaught exceptions, `console.error` lines (CSP violations show up there)
 * and failed same-origin requests with status ≥ 500. Returns the live array; assert it is empty.
 */
export function trackErrors(page) {
  const errors = [];
  page.on("pageerror", (e) => errors.push(`pageerror: ${e.message}`));
  page.on("console", (m) => {
    if (m.type() !== "error") return;
    const where = m.location()?.url || "";
    // chromium asks every origin for /favicon.ico on its own; that is not the page's doing
    if (where.endsWith("/favicon.ico")) return;
    errors.push(`console.error: ${m.text()}${where ? ` (${where})` : ""}`);
  });
  page.on("response", (r) => {
    if (r.status() >= 500) errors.push(`HTTP ${r.status()} ${r.request().method()} ${r.url()}`);
  });
  return errors;
}

/**
 * Signs in through the real login form (`/app/login`, labelled "Login" and "Password", button "Sign in") and
 * waits until the browser has left the login page. `next` (default `/app`) is passed as the `next` parameter.
 */
export async function login(page, server, { login = server.owner.login, password = server.owner.password, next = "/app" } = {}) {
  await page.goto(`${server.url}/app/login?next=${encodeURIComponent(next)}`);
  await page.getByLabel("Login", { exact: true }).fill(login);
  await page.getByLabel("Password", { exact: true }).fill(password);
  await Promise.all([
    page.waitForURL((u) => !u.pathname.startsWith("/app/login"), { timeout: 15_000, waitUntil: "commit" }),
    page.getByRole("button", { name: "Sign in" }).click(),
  ]);
  // an error page (404, 500) of `next` is the caller's to assert on, not a failed sign-in
  await page.waitForLoadState("load").catch(() => {});
}

/** Saves a full-page PNG to `<repo>/target/screenshots/<name>.png` and returns the path. */
export async function screenshot(page, name, { fullPage = true } = {}) {
  await mkdir(SCREENSHOT_DIR, { recursive: true });
  const path = join(SCREENSHOT_DIR, `${name}.png`);
  await page.screenshot({ path, fullPage, animations: "disabled" });
  return path;
}

// A point: `{x, y}` in CSS px of the viewport, a Playwright Locator, or a selector (its centre).
async function point(page, target) {
  if (typeof target === "object" && target !== null && typeof target.x === "number") return target;
  const locator = typeof target === "string" ? page.locator(target).first() : target;
  await locator.scrollIntoViewIfNeeded();
  const box = await locator.boundingBox();
  if (!box) throw new Error(`drag point ${target} is not visible`);
  return { x: box.x + box.width / 2, y: box.y + box.height / 2 };
}

function lerp(a, b, t) {
  return { x: a.x + (b.x - a.x) * t, y: a.y + (b.y - a.y) * t };
}

/**
 * Drags with the mouse from `from` to `to` (points, locators or selectors): press, `steps` moves, release.
 * `holdMs` waits after the press before moving.
 */
export async function mouseDrag(page, from, to, { steps = 12, holdMs = 0, stepMs = 16 } = {}) {
  const a = await point(page, from);
  const b = await point(page, to);
  await page.mouse.move(a.x, a.y);
  await page.mouse.down();
  if (holdMs) await sleep(holdMs);
  for (let i = 1; i <= steps; i++) {
    const p = lerp(a, b, i / steps);
    await page.mouse.move(p.x, p.y);
    if (stepMs) await sleep(stepMs);
  }
  await page.mouse.up();
}

/**
 * Drags with one finger through CDP `Input.dispatchTouchEvent` (touchStart, `steps` touchMoves, touchEnd), so the
 * page sees real touch input: `pointerdown/move/up` with `pointerType === "touch"` and `touchstart/move/end`.
 * Use it in a `newPhone` context (touch enabled). `holdMs` is a long-press before moving (for pages that start a
 * drag only after a hold so that a quick swipe still scrolls).
 */
export async function touchDrag(page, from, to, { steps = 12, holdMs = 0, stepMs = 16 } = {}) {
  const a = await point(page, from);
  const b = await point(page, to);
  const cdp = await page.context().newCDPSession(page);
  const touch = (p) => [{ x: Math.round(p.x), y: Math.round(p.y), id: 1, radiusX: 4, radiusY: 4, force: 1 }];
  try {
    await cdp.send("Input.dispatchTouchEvent", { type: "touchStart", touchPoints: touch(a) });
    if (holdMs) await sleep(holdMs);
    for (let i = 1; i <= steps; i++) {
      await cdp.send("Input.dispatchTouchEvent", { type: "touchMove", touchPoints: touch(lerp(a, b, i / steps)) });
      if (stepMs) await sleep(stepMs);
    }
    await cdp.send("Input.dispatchTouchEvent", { type: "touchEnd", touchPoints: [] });
  } finally {
    await cdp.detach().catch(() => {});
  }
}

/** Polls `fn` until it returns a truthy value (returned) or `timeoutMs` passes (throws with `message`). */
export async function waitFor(fn, { timeoutMs = 10_000, intervalMs = 100, message = "condition" } = {}) {
  const deadline = Date.now() + timeoutMs;
  let last;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
      last = v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${message} (last: ${last})`);
    await sleep(intervalMs);
  }
}
