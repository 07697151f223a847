// Callbook dashboard: the shared module every page imports as "./app.js" (see src/web/mod.rs).
//
// The layout loads it once, unversioned, so every page module shares one instance: one event stream, one
// toast area. Exports: csrfToken, ApiProblem, api, apiResponse, toast, announce, onEvent, refreshMain,
// enhance, onEnhance, formJson, escapeHtml. On every page it also wires the header ("Sign out", the unread
// notification badge) and shows live events as toasts when the signed-in user's preferences want them.

const JSON_TYPE = "application/json";

/** The session's CSRF token (from `<meta name="csrf-token">`), sent as `X-CSRF-Token` with writes. */
export function csrfToken() {
  return document.querySelector('meta[name="csrf-token"]')?.content ?? "";
}

/** A failed API call: the problem document's fields (network failures: status 0, code "network"). */
export class ApiProblem extends Error {
  constructor({ status = 0, code = "network", title = "", detail = "", errors = [], currentVersion, retryAfter, document: doc } = {}) {
    super(detail || title || code);
    this.name = "ApiProblem";
    this.status = status;
    this.code = code;
    this.title = title;
    this.detail = detail;
    this.errors = errors;
    this.currentVersion = currentVersion;
    this.retryAfter = retryAfter; // seconds, from Retry-After (429)
    this.document = doc ?? {}; // the whole problem document (members beyond the standard ones, e.g. `tenants`)
  }
}

function ifMatchValue(v) {
  const s = String(v).trim();
  return /^(W\/)?".*"$/.test(s) || s === "*" ? s : `"${s}"`;
}

/**
 * Like `api` but resolves to `{ data, status, etag, headers }` (for pages that need the ETag of a read).
 */
export async function apiResponse(method, path, body = undefined, { ifMatch, headers = {}, signal } = {}) {
  const h = new Headers(headers);
  if (!h.has("Accept")) h.set("Accept", JSON_TYPE);
  const m = method.toUpperCase();
  if (m !== "GET" && m !== "HEAD") h.set("X-CSRF-Token", csrfToken());
  if (ifMatch !== undefined && ifMatch !== null && ifMatch !== "") h.set("If-Match", ifMatchValue(ifMatch));
  let payload;
  if (body instanceof FormData || body instanceof Blob || body instanceof URLSearchParams) {
    payload = body;
  } else if (body !== undefined) {
    payload = JSON.stringify(body);
    if (!h.has("Content-Type")) h.set("Content-Type", JSON_TYPE);
  }
  let response;
  try {
    response = await fetch(path, { method: m, headers: h, body: payload, credentials: "same-origin", signal });
  } catch (e) {
    if (e?.name === "AbortError") throw e;
    throw new ApiProblem({ status: 0, code: "network", title: "Network error", detail: "Could not reach the server. Check your connection and try again." });
  }
  const type = response.headers.get("Content-Type") ?? "";
  let data = null;
  if (response.status !== 204 && response.status !== 304) {
    if (type.includes("json")) {
      try {
        data = await response.json();
      } catch {
        data = null;
      }
    } else {
      data = await response.text();
    }
  }
  if (!response.ok) {
    const p = data && typeof data === "object" ? data : {};
    const retry = Number.parseInt(response.headers.get("Retry-After") ?? "", 10);
    throw new ApiProblem({
      status: response.status,
      code: p.code ?? `http_${response.status}`,
      title: p.title ?? response.statusText,
      detail: p.detail ?? (typeof data === "string" ? "" : ""),
      errors: Array.isArray(p.errors) ? p.errors : [],
      currentVersion: p.current_version ?? p.currentVersion,
      retryAfter: Number.isFinite(retry) ? retry : undefined,
      document: p,
    });
  }
  return { data, status: response.status, etag: response.headers.get("ETag"), headers: response.headers };
}

/** JSON in/out; FormData/Blob bodies sent as is; 204 → null; non-2xx throws `ApiProblem`. */
export async function api(method, path, body = undefined, options = {}) {
  return (await apiResponse(method, path, body, options)).data;
}

// ------------------------------------------------------------------------------------------ toasts

function toastArea() {
  let area = document.getElementById("toasts");
  if (!area) {
    area = document.createElement("div");
    area.id = "toasts";
    area.className = "toasts";
    area.setAttribute("role", "status");
    area.setAttribute("aria-live", "polite");
    document.body.append(area);
  }
  return area;
}

/**
 * Shows a toast in `#toasts`. `kind`: info | success | error; `action`: `{label, run}` adds a button (e.g.
 * "Undo"); `href` makes the message a link; `timeout` ms (0 = until closed). Returns a function that closes it.
 */
export function toast(message, { kind = "info", action, timeout = 5000, href } = {}) {
  const el = document.createElement("div");
  el.className = `toast ${kind}`;
  if (kind === "error") el.setAttribute("role", "alert");
  const text = document.createElement(href ? "a" : "span");
  text.className = "toast-text";
  text.textContent = message;
  if (href) text.href = href;
  el.append(text);
  let timer;
  const close = () => {
    clearTimeout(timer);
    el.remove();
  };
  if (action?.label) {
    const b = document.createElement("button");
    b.type = "button";
    b.className = "button small";
    b.textContent = action.label;
    b.addEventListener("click", async () => {
      close();
      try {
        await action.run?.();
      } catch (e) {
        toast(problemText(e), { kind: "error" });
      }
    });
    el.append(b);
  }
  const x = document.createElement("button");
  x.type = "button";
  x.className = "toast-close";
  x.setAttribute("aria-label", "Dismiss");
  x.textContent = "×";
  x.addEventListener("click", close);
  el.append(x);
  toastArea().append(el);
  const wait = action && timeout > 0 ? Math.max(timeout, 8000) : timeout;
  if (wait > 0) {
    const arm = () => {
      timer = setTimeout(close, wait);
    };
    arm();
    // keep it while the pointer or focus is on it
    el.addEventListener("mouseenter", () => clearTimeout(timer));
    el.addEventListener("mouseleave", arm);
    el.addEventListener("focusin", () => clearTimeout(timer));
  }
  return close;
}

function problemText(e) {
  if (e instanceof ApiProblem) return e.detail || e.title || "Something went wrong.";
  return e?.message || "Something went wrong.";
}

/** A polite announcement for screen readers (not shown). */
export function announce(text) {
  let el = document.getElementById("announcer");
  if (!el) {
    el = document.createElement("div");
    el.id = "announcer";
    el.className = "visually-hidden";
    el.setAttribute("aria-live", "polite");
    document.body.append(el);
  }
  el.textContent = "";
  setTimeout(() => {
    el.textContent = text;
  }, 50);
}

/** `s` with HTML's special characters escaped. */
export function escapeHtml(s) {
  return String(s ?? "").replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
}

// ------------------------------------------------------------------------------------------ live events

const KINDS = [
  "call.received",
  "call.step",
  "call.finished",
  "call.needs_review",
  "call.dead",
  "job.created",
  "job.moved",
  "job.updated",
  "reload",
];
const handlers = new Map(); // kind → Set(handler)
let source = null;
let lastEventId = "";
let retryDelay = 1000;
let retryTimer = null;
const listening = new Set();

function setLive(state) {
  if (document.body) document.body.dataset.live = state;
}

function dispatch(kind, e) {
  if (e.lastEventId) lastEventId = e.lastEventId;
  let data = null;
  try {
    data = JSON.parse(e.data);
  } catch {
    data = null;
  }
  for (const key of [kind, "*"]) {
    for (const h of handlers.get(key) ?? []) {
      try {
        h(data, kind);
      } catch (err) {
        console.error(err);
      }
    }
  }
}

function listen(kind) {
  if (!source || listening.has(kind) || kind === "*") return;
  listening.add(kind);
  source.addEventListener(kind, (e) => dispatch(kind, e));
}

function connect() {
  clearTimeout(retryTimer);
  retryTimer = null;
  listening.clear();
  if (document.body?.dataset.live !== "connected") setLive("reconnecting");
  const url = lastEventId ? `/api/v1/events?last_event_id=${encodeURIComponent(lastEventId)}` : "/api/v1/events";
  source = new EventSource(url, { withCredentials: true });
  source.addEventListener("open", () => {
    retryDelay = 1000;
    setLive("connected");
  });
  source.addEventListener("error", () => {
    setLive("reconnecting");
    if (source.readyState === EventSource.CLOSED) {
      // the browser gave up (e.g. a 401 or a proxy error): try again ourselves, backing off
      source = null;
      retryTimer = setTimeout(connect, retryDelay);
      retryDelay = Math.min(retryDelay * 2, 30000);
    }
  });
  for (const kind of new Set([...KINDS, ...handlers.keys()])) listen(kind);
}

/**
 * Calls `handler(data, kind)` for each live event of `kind` ("job.moved", "call.finished", "reload" … or "*"
 * for all, including "reload"). One shared EventSource per page; `document.body.dataset.live` is "connected"
 * or "reconnecting". Returns an unsubscribe function.
 */
export function onEvent(kind, handler) {
  if (!handlers.has(kind)) handlers.set(kind, new Set());
  handlers.get(kind).add(handler);
  if (!source && !retryTimer) connect();
  else listen(kind);
  return () => handlers.get(kind)?.delete(handler);
}

// ------------------------------------------------------------------------------------------ enhance

const enhancers = [];
let enhancedOnce = false;
const wired = new WeakSet();

/** Registers `fn(root)`, called by every `enhance(root)` (initial page, after `refreshMain`). */
export function onEnhance(fn) {
  enhancers.push(fn);
  if (enhancedOnce) fn(document.body);
}

/** Wires the declarative `data-api` forms and buttons below `root`, then runs the `onEnhance` functions. */
export function enhance(root) {
  if (!root) return;
  const found = [...root.querySelectorAll("form[data-api], button[data-api]")];
  if (root.matches?.("form[data-api], button[data-api]")) found.push(root);
  for (const el of found) {
    if (wired.has(el)) continue;
    wired.add(el);
    if (el.tagName === "FORM") el.addEventListener("submit", onFormSubmit);
    else el.addEventListener("click", onButtonClick);
  }
  for (const fn of enhancers) {
    try {
      fn(root);
    } catch (e) {
      console.error(e);
    }
  }
}

/** Re-fetches the page, replaces `#main`'s children with the new ones and re-runs `enhance(#main)`. */
export async function refreshMain() {
  const main = document.getElementById("main");
  if (!main) return;
  let response;
  try {
    response = await fetch(location.href, { headers: { Accept: "text/html" }, credentials: "same-origin" });
  } catch {
    toast("Could not refresh the page: check your connection.", { kind: "error" });
    return;
  }
  if (response.redirected && new URL(response.url).pathname.startsWith("/app/login")) {
    location.assign(response.url);
    return;
  }
  // 404: what the page shows is gone (deleted, erased) — show that; anything else (429, 5xx) keeps the page
  if (!response.ok && response.status !== 404) {
    toast(`Could not refresh the page (${response.status}); showing what was loaded before.`, { kind: "error" });
    return;
  }
  const doc = new DOMParser().parseFromString(await response.text(), "text/html");
  const fresh = doc.getElementById("main");
  if (!fresh) return;
  const focusedId = document.activeElement && main.contains(document.activeElement) ? document.activeElement.id : "";
  main.replaceChildren(...[...fresh.childNodes].map((n) => document.adoptNode(n)));
  if (doc.title) document.title = doc.title;
  const count = doc.getElementById("notification-count");
  if (count) setUnread(Number.parseInt(count.textContent, 10) || 0);
  enhance(main);
  if (focusedId) document.getElementById(focusedId)?.focus();
}

function setPath(obj, path, value) {
  const keys = path.split(".");
  let o = obj;
  for (const k of keys.slice(0, -1)) {
    if (typeof o[k] !== "object" || o[k] === null) o[k] = {};
    o = o[k];
  }
  o[keys[keys.length - 1]] = value;
}

class FieldError extends Error {
  constructor(field, message) {
    super(message);
    this.field = field;
  }
}

function fieldValue(el) {
  const type = el.dataset.type ?? "";
  if (type === "bool") return el.checked;
  if (el.type === "select-multiple") return [...el.selectedOptions].map((o) => o.value);
  const raw = el.value;
  switch (type) {
    case "number": {
      if (raw.trim() === "") return null;
      const n = Number(raw);
      if (!Number.isFinite(n)) throw new FieldError(el.name, "must be a number");
      return n;
    }
    case "json":
      if (raw.trim() === "") return null;
      try {
        return JSON.parse(raw);
      } catch {
        throw new FieldError(el.name, "must be valid JSON");
      }
    case "list":
      return raw
        .split(/[,\n]/)
        .map((s) => s.trim())
        .filter(Boolean);
    case "empty-null":
      return raw.trim() === "" ? null : raw;
    default:
      return raw;
  }
}

/**
 * The JSON a `data-api` form sends: named, enabled fields (not buttons or files); dotted names nest;
 * `data-type` = number | bool | json | list | empty-null | omit-empty converts. Unchecked checkboxes and radios
 * are left out unless `data-type="bool"`; checkboxes sharing a name give an array. Throws on a bad number/JSON.
 */
export function formJson(form) {
  const out = {};
  const multi = new Map();
  for (const el of form.elements) {
    if (!el.name || el.disabled || el.type === "file" || el.type === "submit" || el.type === "button" || el.type === "reset") continue;
    if (el.tagName === "FIELDSET" || el.tagName === "OBJECT" || el.tagName === "OUTPUT") continue;
    const type = el.dataset.type ?? "";
    if ((el.type === "checkbox" || el.type === "radio") && type !== "bool") {
      if (el.type === "checkbox" && form.querySelectorAll(`input[type=checkbox][name="${CSS.escape(el.name)}"]`).length > 1) {
        if (!multi.has(el.name)) multi.set(el.name, []);
        if (el.checked) multi.get(el.name).push(el.value);
        continue;
      }
      if (!el.checked) continue;
    }
    if (type === "omit-empty" && el.value.trim() === "") continue;
    setPath(out, el.name, fieldValue(el));
  }
  for (const [name, values] of multi) setPath(out, name, values);
  return out;
}

function parseApi(spec, el) {
  const [method, ...rest] = spec.trim().split(/\s+/);
  const path = rest.join(" ").replace(/\{([\w.-]+)\}/g, (_, k) => {
    const v = el.dataset[k] ?? (el.elements?.namedItem?.(k)?.value ?? "");
    return encodeURIComponent(v);
  });
  return { method, path };
}

function clearErrors(form) {
  for (const e of form.querySelectorAll("[data-error-for]")) e.textContent = "";
  for (const f of form.querySelectorAll("[aria-invalid]")) f.removeAttribute("aria-invalid");
}

/** Puts a problem's field errors next to their fields (or a toast); returns true when something was shown. */
function showProblem(form, e) {
  if (e?.name === "AbortError") return;
  const leftover = [];
  let first = null;
  if (form && e instanceof ApiProblem && e.errors.length) {
    for (const { field, message } of e.errors) {
      const slot = form.querySelector(`[data-error-for="${CSS.escape(field)}"]`);
      const input = form.elements.namedItem?.(field);
      if (slot) {
        slot.textContent = message;
      } else {
        leftover.push(`${field}: ${message}`);
      }
      if (input && input.setAttribute) {
        input.setAttribute("aria-invalid", "true");
        if (slot) {
          if (!slot.id) slot.id = `err-${field.replace(/[^\w-]/g, "_")}-${Math.random().toString(36).slice(2, 7)}`;
          const ids = new Set((input.getAttribute("aria-describedby") ?? "").split(/\s+/).filter(Boolean));
          ids.add(slot.id);
          input.setAttribute("aria-describedby", [...ids].join(" "));
        }
        first ??= input;
      }
    }
    first?.focus?.();
    announce(e.errors.map((x) => `${x.field}: ${x.message}`).join(". "));
    if (leftover.length) toast(leftover.join("\n"), { kind: "error", timeout: 8000 });
    return;
  }
  if (e instanceof FieldError && form) {
    showProblem(form, new ApiProblem({ status: 422, code: "validation_failed", errors: [{ field: e.field, message: e.message }] }));
    return;
  }
  if (e instanceof ApiProblem && e.status === 401) {
    toast("Your session has ended: sign in again.", {
      kind: "error",
      timeout: 0,
      action: { label: "Sign in", run: () => location.assign(loginUrl()) },
    });
    return;
  }
  if (e instanceof ApiProblem && (e.code === "version_conflict" || e.status === 412)) {
    toast("Someone else changed this since you opened it. Reload to see their changes, then try again.", {
      kind: "error",
      timeout: 0,
      action: { label: "Reload", run: refreshMain },
    });
    return;
  }
  toast(problemText(e), { kind: "error", timeout: 8000 });
}

function loginUrl() {
  return `/app/login?next=${encodeURIComponent(location.pathname + location.search)}`;
}

async function after(el, data) {
  const success = el.dataset.success;
  if (success) {
    toast(success, { kind: "success" });
    announce(success);
  }
  el.dispatchEvent(new CustomEvent("api:success", { detail: data, bubbles: true }));
  const then = el.dataset.then ?? "none";
  if (then === "refresh") await refreshMain();
  else if (then === "reload") location.reload();
  else if (then.startsWith("navigate:")) {
    const target = then.slice("navigate:".length);
    if (target.startsWith("/") && !target.startsWith("//")) location.assign(target);
  }
}

async function onFormSubmit(event) {
  const form = event.currentTarget;
  event.preventDefault();
  if (form.dataset.pending) return;
  clearErrors(form);
  const buttons = [...form.querySelectorAll("button:not([type=button]), input[type=submit]")];
  if (form.dataset.confirm && !confirm(form.dataset.confirm)) return;
  form.dataset.pending = "true";
  form.setAttribute("aria-busy", "true");
  for (const b of buttons) b.disabled = true;
  try {
    const { method, path } = parseApi(form.dataset.api, form);
    const body = ["GET", "HEAD", "DELETE"].includes(method.toUpperCase()) ? undefined : formJson(form);
    const data = await api(method, path, body, { ifMatch: form.dataset.ifMatch });
    // the next save of the same form is based on the version just written
    if (form.dataset.ifMatch && data && typeof data === "object" && data.version !== undefined) form.dataset.ifMatch = String(data.version);
    await after(form, data);
  } catch (e) {
    showProblem(form, e);
    form.dispatchEvent(new CustomEvent("api:error", { detail: e, bubbles: true }));
  } finally {
    delete form.dataset.pending;
    form.removeAttribute("aria-busy");
    for (const b of buttons) if (b.isConnected) b.disabled = false;
  }
}

async function onButtonClick(event) {
  const button = event.currentTarget;
  event.preventDefault();
  if (button.disabled) return;
  if (button.dataset.confirm && !confirm(button.dataset.confirm)) return;
  button.disabled = true;
  button.setAttribute("aria-busy", "true");
  try {
    const { method, path } = parseApi(button.dataset.api, button);
    const body = button.dataset.body ? JSON.parse(button.dataset.body) : undefined;
    const data = await api(method, path, body, { ifMatch: button.dataset.ifMatch });
    await after(button, data);
  } catch (e) {
    showProblem(button.form ?? null, e);
    button.dispatchEvent(new CustomEvent("api:error", { detail: e, bubbles: true }));
  } finally {
    button.removeAttribute("aria-busy");
    if (button.isConnected) button.disabled = false;
  }
}

// ------------------------------------------------------------------------------------------ global behaviour

function setUnread(n) {
  const badge = document.getElementById("notification-count");
  if (!badge) return;
  badge.textContent = String(n);
  badge.hidden = n <= 0;
  const link = badge.closest("a");
  if (link) link.setAttribute("aria-label", n > 0 ? `Notifications, ${n} unread` : "Notifications");
}

let countTimer = null;
function refreshUnread() {
  clearTimeout(countTimer);
  // the inbox row is written beside the live event: ask a moment later
  countTimer = setTimeout(async () => {
    try {
      const page = await api("GET", "/api/v1/notifications?unread=true&limit=1");
      setUnread(page?.unread ?? 0);
    } catch {
      /* the badge stays as it was */
    }
  }, 600);
}

let prefs = null;
function preferences() {
  prefs ??= api("GET", "/api/v1/settings/notifications/me").catch(() => ({}));
  return prefs;
}

async function wantsLive(kind) {
  const p = (await preferences()) ?? {};
  const channels = p.channels ?? null;
  const kinds = p.kinds ?? null;
  return (!channels || channels.includes("live")) && (!kinds || kinds.includes(kind));
}

async function liveToast(data, kind) {
  if (!data || !(await wantsLive(kind))) return;
  if (kind === "job.created" && data.job_id) {
    let title = "";
    try {
      title = (await api("GET", `/api/v1/jobs/${encodeURIComponent(data.job_id)}`))?.title ?? "";
    } catch {
      return; // gone already, or not ours
    }
    toast(title ? `New job: ${title}` : "New job", { kind: "success", href: `/app/jobs/${encodeURIComponent(data.job_id)}`, timeout: 8000 });
  } else if (kind === "call.needs_review" && data.call_id) {
    toast("A call needs review", { kind: "info", href: `/app/calls/${encodeURIComponent(data.call_id)}`, timeout: 8000 });
  } else if (kind === "call.dead" && data.call_id) {
    toast("A call could not be processed", { kind: "error", href: `/app/calls/${encodeURIComponent(data.call_id)}`, timeout: 10000 });
  }
}

function initGlobal() {
  const signOut = document.getElementById("sign-out");
  signOut?.addEventListener("click", async (e) => {
    e.preventDefault();
    signOut.disabled = true;
    try {
      await api("POST", "/api/v1/auth/logout");
    } catch {
      /* an ended session is signed out too */
    }
    location.assign("/app/login");
  });
  if (document.getElementById("notification-count")) {
    for (const kind of ["job.created", "job.moved", "job.updated", "call.finished", "call.needs_review", "call.dead", "call.received"]) {
      onEvent(kind, refreshUnread);
    }
    onEvent("reload", refreshUnread);
    for (const kind of ["job.created", "call.needs_review", "call.dead"]) onEvent(kind, liveToast);
    document.addEventListener("callbook:notifications-read", refreshUnread);
  }
  enhance(document.body);
  enhancedOnce = true;
}

if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", initGlobal, { once: true });
else initGlobal();
