// Settings page (/app/settings): every form saves through the JSON API. See src/web/settings.rs for the
// field rules (name = dotted JSON path, data-type = encoding) that tests/web_settings.rs checks against the API.
import { apiResponse, ApiProblem, toast, announce } from "./app.js";

const root = () => document.getElementById("settings");
const etag = () => root()?.dataset.etag || "";
const setEtag = (value) => {
  if (value && root()) root().dataset.etag = value;
};

/** An API request with the session's CSRF token: `{ data, etag }`, or throws app.js's ApiProblem. */
async function send(method, path, body, options = {}) {
  try {
    return await apiResponse(method, path, body, options);
  } catch (problem) {
    if (problem?.status === 401) {
      location.assign(`/app/login?next=${encodeURIComponent(location.pathname + location.hash)}`);
    }
    if (problem && !problem.detail) problem.detail = problem.title || "Something went wrong. Try again.";
    throw problem;
  }
}

/** A problem found before sending (same shape as the API's). */
function localProblem(field, message) {
  return new ApiProblem({ status: 422, code: "validation_failed", detail: message, errors: [{ field, message }] });
}

// ------------------------------------------------------------------------------------------ form fields

function setPath(target, path, value) {
  const keys = path.split(".");
  let node = target;
  for (const key of keys.slice(0, -1)) {
    if (typeof node[key] !== "object" || node[key] === null) node[key] = {};
    node = node[key];
  }
  node[keys[keys.length - 1]] = value;
}

function listOf(text) {
  return text
    .split(/[\n,]+/)
    .map((s) => s.trim())
    .filter(Boolean);
}

function valueOf(el, raw, checked) {
  switch (el.dataset.type) {
    case "bool":
      return checked;
    case "int": {
      const t = raw.trim();
      if (t === "") return null;
      const n = Number(t);
      return Number.isFinite(n) ? n : t;
    }
    case "percent": {
      const t = raw.trim();
      if (t === "") return null;
      const n = Number(t);
      return Number.isFinite(n) ? Math.round(n * 100) / 10000 : t;
    }
    case "list":
      return listOf(raw);
    case "empty-null":
      return raw.trim() === "" ? null : raw.trim();
    default:
      return raw;
  }
}

/**
 * The JSON body of a settings form (see the field rules in src/web/settings.rs); with `rendered`, of the values
 * the form was rendered (or last saved) with rather than the ones typed since.
 */
export function formBody(form, { rendered = false } = {}) {
  const value = (el) => (rendered ? el.defaultValue : el.value);
  const checked = (el) => (rendered ? el.defaultChecked : el.checked);
  const body = {};
  const sets = new Map();
  for (const el of form.querySelectorAll("input[name], select[name], textarea[name]")) {
    if (el.dataset.type === "set") {
      if (!sets.has(el.name)) sets.set(el.name, []);
      sets.get(el.name).push(el);
      continue;
    }
    setPath(body, el.name, valueOf(el, value(el), checked(el)));
  }
  for (const [name, boxes] of sets) {
    const on = boxes.filter(checked).map((b) => b.value);
    setPath(body, name, on.length === boxes.length ? null : on);
  }
  for (const group of form.querySelectorAll("[data-hours]")) {
    const rows = [];
    for (const row of group.querySelectorAll("[data-hours-row]")) {
      if (!checked(row.querySelector('[data-part="open-day"]'))) continue;
      const time = (part) => {
        const v = value(row.querySelector(`[data-part="${part}"]`));
        return v.length === 5 ? `${v}:00` : v;
      };
      rows.push({ row, value: { weekday: Number(row.dataset.weekday), open: time("open"), close: time("close") } });
    }
    if (!rendered) form._hoursRows = rows.map((r) => r.row);
    setPath(body, group.dataset.hours, rows.map((r) => r.value));
  }
  return body;
}

// ------------------------------------------------------------------------------------------ problems

function clearErrors(form) {
  for (const slot of form.querySelectorAll("[data-error-for]")) slot.textContent = "";
  for (const el of form.querySelectorAll('[aria-invalid="true"]')) el.removeAttribute("aria-invalid");
}

/** Where a field's message goes: the slot with the longest matching path, e.g. `filtering.block` for `filtering.block[2]`. */
function slotFor(form, field) {
  let best = null;
  for (const slot of form.querySelectorAll("[data-error-for]")) {
    const key = slot.dataset.errorFor;
    if (!key) continue;
    const hit = field === key || field.startsWith(`${key}[`) || field.startsWith(`${key}.`);
    if (hit && (!best || key.length > best.dataset.errorFor.length)) best = slot;
  }
  return best;
}

function humanMessage(form, field, key, message) {
  const rest = field.slice(key.length);
  const index = /^\[(\d+)\]/.exec(rest);
  if (key === "business_hours" && index && form._hoursRows) {
    const row = form._hoursRows[Number(index[1])];
    const day = row?.querySelector("label")?.textContent || "";
    const part = rest.endsWith(".close") ? "close" : rest.endsWith(".open") ? "open" : null;
    if (row && part) row.querySelector(`[data-part="${part}"]`)?.setAttribute("aria-invalid", "true");
    return day ? `${day}: ${message}` : message;
  }
  if (index) return `Line ${Number(index[1]) + 1}: ${message}`;
  return message;
}

/** Shows an API problem on a form: each field's message next to it, the rest at the form's foot or as a toast. */
function showProblem(form, problem, { reloadOn412 = true } = {}) {
  clearErrors(form);
  const errors = Array.isArray(problem?.errors) ? problem.errors : [];
  const detail = problem?.detail || problem?.message || "Something went wrong. Try again.";
  const general = form.querySelector('[data-error-for=""]');
  let firstInvalid = null;
  let unplaced = [];
  if (problem?.status === 412 && reloadOn412) {
    const text = "These settings were changed elsewhere since you opened this page. Reload to see them, then make your change again.";
    if (general) general.textContent = text;
    toast(text, { kind: "error", action: { label: "Reload", run: () => location.reload() }, timeout: 0 });
    return;
  }
  for (const { field, message } of errors) {
    const slot = slotFor(form, field || "");
    if (!slot) {
      unplaced.push(message);
      continue;
    }
    const text = humanMessage(form, field, slot.dataset.errorFor, message);
    slot.textContent = slot.textContent ? `${slot.textContent} ${text}` : text;
    const control = slot.id ? form.querySelector(`[aria-describedby~="${slot.id}"]`) : null;
    if (control) {
      control.setAttribute("aria-invalid", "true");
      firstInvalid ||= control;
    } else {
      firstInvalid ||= form.querySelector('[aria-invalid="true"]');
    }
  }
  if (!errors.length) unplaced = [detail];
  if (unplaced.length) {
    const text = unplaced.join(" ");
    if (general) general.textContent = text;
    else toast(text, { kind: "error" });
  }
  if (errors.length) {
    toast("Not saved: check the highlighted fields.", { kind: "error" });
    firstInvalid?.focus();
  } else if (general) {
    toast(detail, { kind: "error" });
  }
}

async function busy(button, work) {
  if (button) {
    button.disabled = true;
    button.setAttribute("aria-busy", "true");
  }
  try {
    return await work();
  } finally {
    if (button) {
      button.disabled = false;
      button.removeAttribute("aria-busy");
    }
  }
}

/** After a save, what the form shows is what is stored: its controls' defaults become their values. */
function markSaved(form) {
  for (const el of form.querySelectorAll("input, textarea")) {
    if (el.type === "checkbox") el.defaultChecked = el.checked;
    else el.defaultValue = el.value;
  }
  form.classList.remove("dirty");
}

/** Marks a settings form whose controls differ from what is stored ("Unsaved changes" by its button). */
function trackDirty(form) {
  const dirty = [...form.querySelectorAll("input, textarea")].some((el) =>
    el.type === "checkbox" ? el.checked !== el.defaultChecked : el.value !== el.defaultValue,
  );
  form.classList.toggle("dirty", dirty);
}

/** The stored values each settings form of `doc` was rendered with (or last saved), by form. */
function renderedValues(doc) {
  const out = new Map();
  for (const form of doc.querySelectorAll("form[data-settings-write]")) {
    const key = form.id || form.closest("[data-line-id]")?.dataset.lineId;
    if (key) out.set(key, JSON.stringify(formBody(form, { rendered: true })));
  }
  return out;
}

// ------------------------------------------------------------------------------------------ partial refresh

/** Re-renders parts of the page from the server (after a purchase, a new token …), keeping the rest as typed. */
async function refreshParts(ids) {
  let doc;
  try {
    const response = await fetch(location.pathname, { credentials: "same-origin", headers: { Accept: "text/html" } });
    doc = new DOMParser().parseFromString(await response.text(), "text/html");
  } catch {
    toast("Saved, but the page could not be updated: reload it.", { kind: "error" });
    return;
  }
  const fresh = doc.getElementById("settings");
  if (!fresh) {
    location.reload();
    return;
  }
  // Take the settings' new ETag only when every form here still shows what is stored: a change someone else
  // made meanwhile must still make the next save fail with 412 (and offer a reload) instead of undoing it.
  const mine = renderedValues(document);
  const theirs = renderedValues(doc);
  const unchanged = [...mine].every(([key, json]) => !theirs.has(key) || theirs.get(key) === json);
  if (unchanged) setEtag(fresh.dataset.etag);
  else {
    toast("Settings were changed elsewhere since you opened this page.", {
      kind: "info",
      action: { label: "Reload", run: () => location.reload() },
      timeout: 0,
    });
  }
  for (const id of ids) {
    const now = document.getElementById(id);
    const next = doc.getElementById(id);
    if (!now || !next) continue;
    if (id === "line-greetings") {
      // add forms of new lines and drop released ones; forms being edited stay as they are
      const keep = new Set([...next.querySelectorAll("[data-line-id]")].map((d) => d.dataset.lineId));
      for (const d of now.querySelectorAll("[data-line-id]")) if (!keep.has(d.dataset.lineId)) d.remove();
      const have = new Set([...now.querySelectorAll("[data-line-id]")].map((d) => d.dataset.lineId));
      for (const d of next.querySelectorAll("[data-line-id]")) {
        if (!have.has(d.dataset.lineId)) now.append(document.adoptNode(d));
      }
      continue;
    }
    const adopted = document.adoptNode(next);
    now.replaceWith(adopted);
    if (adopted.classList.contains("settings-section")) sectionObserver?.observe(adopted);
  }
  wireControls(document);
}

// ------------------------------------------------------------------------------------------ settings forms

async function saveSettingsForm(form, submitter) {
  const [method, path] = form.dataset.settingsWrite.split(" ");
  const body = formBody(form);
  await busy(submitter, async () => {
    try {
      const { data, etag: value } = await send(method, path, body, { ifMatch: etag() });
      setEtag(value);
      if (form.id === "profile-form" && data) {
        // show what was stored (the name trimmed, the zone's canonical spelling)
        form.elements.name.value = data.name;
        form.elements.timezone.value = data.timezone;
      }
      markSaved(form);
      clearErrors(form);
      toast(form.dataset.success || "Saved", { kind: "success" });
      announce(form.dataset.success || "Saved");
      if (form.id === "profile-form" && data?.name) {
        // the header and the deletion check show the business name
        for (const el of document.querySelectorAll(".tenant-name")) el.textContent = data.name;
        if (document.getElementById("delete-business")) await refreshParts(["data"]);
      }
    } catch (problem) {
      showProblem(form, problem);
    }
  });
}

// ------------------------------------------------------------------------------------------ phone lines

function numberLabel(n) {
  const place = [n.locality, n.region].filter(Boolean).join(", ");
  const caps = [n.voice ? "voice" : null, n.sms ? "SMS" : null].filter(Boolean).join(", ");
  return [place, n.iso_country, caps].filter(Boolean).join(" · ");
}

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") node.className = v;
    else if (k.startsWith("data-") || k.startsWith("aria-") || k === "type" || k === "role" || k === "id") node.setAttribute(k, v);
    else node[k] = v;
  }
  for (const c of children) node.append(c);
  return node;
}

async function searchNumbers(form, submitter) {
  clearErrors(form);
  const status = document.getElementById("number-results-status");
  const list = document.getElementById("available-numbers");
  const params = new URLSearchParams();
  const area = form.elements.area_code.value.trim();
  const contains = form.elements.contains.value.trim();
  params.set("country", form.elements.country.value);
  params.set("kind", form.elements.kind.value);
  if (area) {
    if (!/^\d{3}$/.test(area)) {
      showProblem(form, localProblem("area_code", "Three digits, e.g. 415."));
      return;
    }
    params.set("area_code", area);
  }
  if (contains) params.set("contains", contains);
  await busy(submitter, async () => {
    status.textContent = "Searching…";
    try {
      const { data } = await send("GET", `/api/v1/phone-lines/available?${params}`);
      list.replaceChildren(
        ...data.map((n, i) =>
          el(
            "li",
            { "data-number": n.phone_number },
            el("div", { class: "row-main" }, el("span", { class: "line-number", id: `available-${i}` }, n.friendly_name || n.phone_number)),
            el("div", { class: "row-meta" }, numberLabel(n)),
            el(
              "div",
              { class: "row-actions" },
              el("button", { type: "button", class: "button primary small", "data-buy": n.phone_number, "aria-describedby": `available-${i}` }, "Buy"),
            ),
            el("p", { class: "error", role: "alert" }),
          ),
        ),
      );
      status.textContent = data.length
        ? `${data.length} number${data.length === 1 ? "" : "s"} available.`
        : "No numbers match. Try another area code or fewer digits.";
    } catch (problem) {
      status.textContent = "";
      list.replaceChildren();
      showProblem(form, problem, { reloadOn412: false });
      if (!problem?.errors?.length) status.textContent = problem?.detail || "";
    }
  });
}

async function buyNumber(button) {
  const number = button.dataset.buy;
  const row = button.closest("li");
  const error = row?.querySelector(".error");
  if (error) error.textContent = "";
  await busy(button, async () => {
    try {
      await send("POST", "/api/v1/phone-lines", { phone_number: number });
      button.replaceWith(el("span", { class: "badge ok" }, "Bought"));
      toast(`${number} is yours: it answers calls now.`, { kind: "success" });
      announce(`Bought ${number}`);
      await refreshParts(["owned-lines", "line-greetings"]);
    } catch (problem) {
      const text =
        problem.code === "number_unavailable"
          ? `This number cannot be bought: ${problem.detail}. Pick another or search again.`
          : problem.detail;
      if (error) error.textContent = text;
      if (problem.code === "number_unavailable") button.remove();
      toast(text, { kind: "error" });
    }
  });
}

function openRelease(button) {
  const dialog = document.getElementById("release-dialog");
  const form = document.getElementById("release-form");
  const input = document.getElementById("release-confirm");
  const number = button.dataset.number;
  document.getElementById("release-number").textContent =
    button.closest("li")?.querySelector(".line-number")?.textContent || number;
  document.getElementById("release-error").textContent = "";
  input.value = "";
  input.removeAttribute("aria-invalid");
  form.dataset.lineId = button.dataset.releaseLine;
  form.dataset.last4 = number.slice(-4);
  document.getElementById("release-submit").disabled = true;
  if (typeof dialog.showModal === "function") dialog.showModal();
  else dialog.setAttribute("open", "");
  input.focus();
}

async function release(form, submitter) {
  const dialog = document.getElementById("release-dialog");
  const input = document.getElementById("release-confirm");
  const error = document.getElementById("release-error");
  if (input.value.trim() !== form.dataset.last4) {
    error.textContent = "The digits do not match the number.";
    input.setAttribute("aria-invalid", "true");
    return;
  }
  await busy(submitter, async () => {
    try {
      await send("DELETE", `/api/v1/phone-lines/${encodeURIComponent(form.dataset.lineId)}`);
      dialog.close?.();
      dialog.removeAttribute("open");
      toast("The number was released.", { kind: "success" });
      announce("Number released");
      await refreshParts(["owned-lines", "line-greetings"]);
    } catch (problem) {
      error.textContent = problem.detail;
    }
  });
}

// ------------------------------------------------------------------------------------------ the rest

async function blockCaller(form, submitter) {
  clearErrors(form);
  const number = form.elements.number.value.trim().replace(/[\s()-]/g, "");
  await busy(submitter, async () => {
    try {
      const { data } = await send("POST", "/api/v1/settings/filtering/block", { number });
      // keep an admin's unsaved edits of the block list, and keep it from dropping the number on save
      const list = document.getElementById("filter-block");
      const add = (text) => (listOf(text).includes(number) ? text : text.trim() ? `${text.trim()}\n${number}` : number);
      if (list && data?.added) {
        list.defaultValue = add(list.defaultValue);
        list.value = add(list.value);
      }
      form.reset();
      await refreshParts([]);
      toast(`${number} is blocked.`, { kind: "success" });
      announce(`${number} blocked`);
    } catch (problem) {
      showProblem(form, problem);
    }
  });
}

function showSecret(boxId, inputId, value) {
  const box = document.getElementById(boxId);
  const input = document.getElementById(inputId);
  input.value = value;
  box.hidden = false;
  input.focus();
  input.select();
}

async function createToken(form, submitter) {
  clearErrors(form);
  const body = { name: form.elements.name.value.trim(), role: form.elements.role.value };
  if (!body.name) {
    showProblem(form, localProblem("name", "Say what the token is for."));
    return;
  }
  await busy(submitter, async () => {
    try {
      const { data } = await send("POST", "/api/v1/tokens", body);
      form.reset();
      await refreshParts(["token-list"]);
      showSecret("new-token", "new-token-value", data.token);
      announce("Token created. Copy it now: it is not shown again.");
    } catch (problem) {
      showProblem(form, problem);
    }
  });
}

async function createUser(form, submitter) {
  clearErrors(form);
  const body = { login: form.elements.login.value.trim(), role: form.elements.role.value };
  await busy(submitter, async () => {
    try {
      const { data } = await send("POST", "/api/v1/users", body);
      form.reset();
      await refreshParts(["user-list"]);
      document.getElementById("new-user-text").textContent =
        `${data.user.login} can sign in with this one-time password. It is not shown again.`;
      showSecret("new-user", "new-user-password", data.password || "");
    } catch (problem) {
      showProblem(form, problem);
    }
  });
}

async function changeRole(form, submitter) {
  await busy(submitter, async () => {
    try {
      await send("PATCH", `/api/v1/users/${encodeURIComponent(form.dataset.userRole)}`, { role: form.elements.role.value });
      toast("Role changed.", { kind: "success" });
      await refreshParts(["user-list"]);
    } catch (problem) {
      toast(problem.detail, { kind: "error" });
    }
  });
}

async function deleteBusiness(form, submitter) {
  clearErrors(form);
  const confirmName = form.elements.confirm.value;
  if (confirmName !== form.dataset.name) {
    showProblem(form, localProblem("confirm", "Type the business name exactly."));
    return;
  }
  await busy(submitter, async () => {
    try {
      await send("DELETE", "/api/v1/tenant", { confirm: confirmName });
      location.assign("/app/login");
    } catch (problem) {
      showProblem(form, problem);
    }
  });
}

async function simpleAction(button, method, path, body, { confirmText, success, refresh }) {
  if (confirmText && !window.confirm(confirmText)) return;
  await busy(button, async () => {
    try {
      await send(method, path, body);
      toast(success, { kind: "success" });
      announce(success);
      await refreshParts(refresh);
    } catch (problem) {
      toast(problem.detail, { kind: "error" });
    }
  });
}

async function copy(button) {
  const input = document.querySelector(button.dataset.copy);
  if (!input) return;
  try {
    await navigator.clipboard.writeText(input.value);
  } catch {
    input.select();
    document.execCommand?.("copy");
  }
  toast("Copied.", { kind: "success" });
}

// ------------------------------------------------------------------------------------------ wiring

document.addEventListener("submit", (event) => {
  const form = event.target;
  if (!(form instanceof HTMLFormElement) || !form.closest("#settings, #release-dialog")) return;
  const submitter = event.submitter || form.querySelector('[type="submit"]');
  let handler = null;
  if (form.dataset.settingsWrite) handler = saveSettingsForm;
  else if (form.id === "line-search") handler = searchNumbers;
  else if (form.id === "release-form") handler = release;
  else if ("blockCaller" in form.dataset) handler = blockCaller;
  else if ("createToken" in form.dataset) handler = createToken;
  else if ("createUser" in form.dataset) handler = createUser;
  else if (form.dataset.userRole) handler = changeRole;
  else if ("deleteBusiness" in form.dataset) handler = deleteBusiness;
  if (!handler) return;
  event.preventDefault();
  handler(form, submitter);
});

document.addEventListener("click", (event) => {
  const target = event.target instanceof Element ? event.target.closest("button") : null;
  if (!target || !target.closest("#settings, #release-dialog")) return;
  const d = target.dataset;
  if (d.buy) buyNumber(target);
  else if (d.releaseLine) openRelease(target);
  else if ("closeDialog" in d) target.closest("dialog")?.close();
  else if (d.copy) copy(target);
  else if (d.revokeToken)
    simpleAction(target, "DELETE", `/api/v1/tokens/${encodeURIComponent(d.revokeToken)}`, undefined, {
      confirmText: `Revoke the token “${d.name}”? Programs using it stop working at once.`,
      success: "Token revoked.",
      refresh: ["token-list"],
    });
  else if (d.removeUser)
    simpleAction(target, "DELETE", `/api/v1/users/${encodeURIComponent(d.removeUser)}`, undefined, {
      confirmText: `Remove ${d.login}? They are signed out and their API tokens stop working.`,
      success: "User removed.",
      refresh: ["user-list"],
    });
  else if (d.placeHold)
    simpleAction(target, "POST", "/api/v1/legal-holds", { scope: "tenant" }, {
      confirmText: "Hold all data? Nothing is deleted (by retention or on request) until the hold is released.",
      success: "All data is on hold.",
      refresh: ["data"],
    });
  else if (d.releaseHold)
    simpleAction(target, "DELETE", `/api/v1/legal-holds/${encodeURIComponent(d.releaseHold)}`, undefined, {
      confirmText: "Release this hold? Retention may then delete the data.",
      success: "Hold released.",
      refresh: ["data"],
    });
});

for (const kind of ["input", "change"]) {
  document.addEventListener(kind, (event) => {
    const form = event.target instanceof Element ? event.target.closest("form[data-settings-write]") : null;
    if (form) trackDirty(form);
  });
}

document.addEventListener("input", (event) => {
  const input = event.target;
  if (input.id === "release-confirm") {
    const form = document.getElementById("release-form");
    document.getElementById("release-submit").disabled = input.value.trim() !== form.dataset.last4;
  } else if (input.id === "delete-confirm") {
    const form = input.closest("form");
    form.querySelector('[type="submit"]').disabled = input.value !== form.dataset.name;
  }
});

/** Marks the section in view in the section nav (set up by wireControls). */
let sectionObserver = null;

/** Wires what needs more than delegation: the phone jump menu and the current-section marker. */
function wireControls(scope) {
  const jump = scope.querySelector?.(".settings-jump");
  if (!jump || jump.dataset.wired) return;
  jump.dataset.wired = "1";
  jump.hidden = false;
  jump.closest("nav")?.classList.add("has-jump");
  const select = jump.querySelector("select");
  let jumpingUntil = 0;
  select.addEventListener("change", () => {
    const section = document.getElementById(select.value);
    if (!section) return;
    jumpingUntil = Date.now() + 1200; // the marker follows the scroll only once the jump has landed
    history.replaceState(null, "", `#${select.value}`);
    section.scrollIntoView({ behavior: matchMedia("(prefers-reduced-motion: reduce)").matches ? "auto" : "smooth" });
    section.querySelector("h2")?.setAttribute("tabindex", "-1");
    section.querySelector("h2")?.focus({ preventScroll: true });
  });
  const links = new Map([...document.querySelectorAll(".settings-links a")].map((a) => [a.hash.slice(1), a]));
  if ("IntersectionObserver" in window) {
    const observer = (sectionObserver = new IntersectionObserver(
      (entries) => {
        for (const entry of entries) {
          if (!entry.isIntersecting || Date.now() < jumpingUntil) continue;
          const id = entry.target.id;
          for (const [key, a] of links) {
            if (key === id) a.setAttribute("aria-current", "true");
            else a.removeAttribute("aria-current");
          }
          select.value = id;
        }
      },
      { rootMargin: "-20% 0px -70% 0px" },
    ));
    for (const section of document.querySelectorAll(".settings-section")) observer.observe(section);
  }
}

if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", () => wireControls(document));
else wireControls(document);
