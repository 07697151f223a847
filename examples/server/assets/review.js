// Call review page (/app/calls/{id}; see src/web/calls.rs): evidence highlighting and audio seeking, and the
// correction controls — Accept, Fix, Not said, Override extraction, Not an appointment — which write through
// the API's correction routes, then re-render the page so the booked job's new values show.
import { api, ApiProblem, announce, onEvent, refreshMain, toast } from "./app.js";

const FIELD_LABELS = {
  customer_name: "Name",
  customer_phone: "Phone",
  service_address: "Address",
  when: "When",
  job_description: "Job",
  price: "Price",
  urgency: "Urgency",
  notes: "Notes",
};
// The job field each appointment field changes (name and phone stay on the extraction).
const JOB_FIELDS = {
  service_address: "address",
  when: "schedule",
  job_description: "description",
  price: "price",
  urgency: "urgency",
  notes: "notes",
};

// Our own writes publish job events too: their re-render is already done.
let ownWriteUntil = 0;
const ownWrite = () => {
  ownWriteUntil = Date.now() + 4000;
};

const reducedMotion = () => window.matchMedia("(prefers-reduced-motion: reduce)").matches;
const callId = () => document.getElementById("call-facts")?.dataset.callId ?? "";
const zone = () => document.querySelector('meta[name="tenant-zone"]')?.content || "UTC";

// ------------------------------------------------------------------------------------------ time zones

const pad = (n) => String(n).padStart(2, "0");

/** Minutes east of UTC of `timeZone` at instant `ms`. */
function offsetMinutes(timeZone, ms) {
  const parts = new Intl.DateTimeFormat("en-US", {
    timeZone,
    hourCycle: "h23",
    year: "numeric",
    month: "2-digit",
    day: "2-digit",
    hour: "2-digit",
    minute: "2-digit",
    second: "2-digit",
  }).formatToParts(new Date(ms));
  const get = (type) => Number(parts.find((p) => p.type === type)?.value ?? 0);
  const asUtc = Date.UTC(get("year"), get("month") - 1, get("day"), get("hour") % 24, get("minute"), get("second"));
  return Math.round((asUtc - ms) / 60000);
}

/** RFC 3339 for a local date (`YYYY-MM-DD`) and time (`HH:MM`) in the business's zone; null when the clocks
 * skip that time. */
export function zonedIso(date, time, timeZone) {
  const [y, m, d] = date.split("-").map(Number);
  const [h, mi] = time.split(":").map(Number);
  const local = Date.UTC(y, m - 1, d, h, mi);
  let offset = offsetMinutes(timeZone, local);
  offset = offsetMinutes(timeZone, local - offset * 60000);
  // A time the clocks skip (the spring-forward hour) does not exist there: null.
  if (offsetMinutes(timeZone, local - offset * 60000) !== offset) return null;
  const sign = offset >= 0 ? "+" : "-";
  const abs = Math.abs(offset);
  return `${date}T${pad(h)}:${pad(mi)}:00${sign}${pad(Math.floor(abs / 60))}:${pad(abs % 60)}`;
}

// ------------------------------------------------------------------------------------------ reading editors

class InputError extends Error {
  constructor(message, input) {
    super(message);
    this.input = input;
  }
}

const named = (root, name) => root.querySelector(`[name="${name}"]`);
const text = (root, name) => named(root, name)?.value.trim() ?? "";
const orNull = (s) => (s === "" ? null : s);

/** The value of `field` in the extraction's shape, from the editor inputs under `root`; throws InputError. */
export function readValue(field, root) {
  switch (field) {
    case "customer_name":
    case "job_description":
    case "notes":
      return orNull(text(root, "value"));
    case "customer_phone": {
      const raw = text(root, "value");
      if (!raw) return null;
      const phone = raw.replace(/[\s().-]/g, "");
      if (!/^\+[1-9]\d{6,14}$/.test(phone)) {
        throw new InputError("Enter the number with its country code, e.g. +19145552177.", named(root, "value"));
      }
      return phone;
    }
    case "urgency":
      return named(root, "value").value;
    case "service_address": {
      const keys = ["line1", "line2", "city", "region", "postal_code", "country"];
      const address = Object.fromEntries(keys.map((k) => [k, orNull(text(root, k))]));
      if (keys.every((k) => address[k] === null)) return null;
      if (address.line1 === null) throw new InputError("Enter the street.", named(root, "line1"));
      return address;
    }
    case "price": {
      const amount = text(root, "amount").replace(",", ".");
      if (!amount) return null;
      if (!/^\d+(\.\d{1,2})?$/.test(amount)) {
        throw new InputError("Enter an amount like 89 or 89.50.", named(root, "amount"));
      }
      const currency = text(root, "currency").toUpperCase();
      if (!/^[A-Z]{3}$/.test(currency)) {
        throw new InputError("Enter a three-letter currency code like USD.", named(root, "currency"));
      }
      const [whole, cents = ""] = amount.split(".");
      return { amount: `${whole}.${cents.padEnd(2, "0")}`, currency, kind: named(root, "kind").value };
    }
    case "when": {
      const date = text(root, "date");
      const time = text(root, "time");
      const end = text(root, "end");
      const flexible = named(root, "flexible")?.checked ?? false;
      if (!date && !time && !flexible) return null;
      if (end && !time) throw new InputError("Enter a start time before an end time.", named(root, "time"));
      const start = date && time ? zonedIso(date, time, zone()) : null;
      const finish = date && end ? zonedIso(date, end, zone()) : null;
      if ((date && time && !start) || (date && end && !finish)) {
        const which = date && time && !start ? "time" : "end";
        throw new InputError(`The clocks change at that time in ${zone()}: pick another time.`, named(root, which));
      }
      if (start && finish && Date.parse(finish) <= Date.parse(start)) {
        throw new InputError("The end time must be after the start time.", named(root, "end"));
      }
      return { date: orNull(date), time: orNull(time), start, end: finish, flexible, ambiguous: false };
    }
    default:
      return orNull(text(root, "value"));
  }
}

function sameValue(a, b) {
  return JSON.stringify(a ?? null) === JSON.stringify(b ?? null);
}

// ------------------------------------------------------------------------------------------ errors

function clearErrors(root) {
  for (const slot of root.querySelectorAll("[data-error-for]")) slot.textContent = "";
  for (const el of root.querySelectorAll('[aria-invalid="true"]')) el.removeAttribute("aria-invalid");
}

function showError(root, slotName, message, input) {
  const slot = root.querySelector(`[data-error-for="${CSS.escape(slotName)}"]`);
  if (slot) slot.textContent = message;
  const target = input ?? slot?.closest(".override-field, form")?.querySelector("input, select, textarea");
  if (target) {
    target.setAttribute("aria-invalid", "true");
    if (slot?.id) target.setAttribute("aria-describedby", slot.id);
    target.focus();
  }
  if (!slot) toast(message, { kind: "error" });
}

/** The message for a failed write: field messages, else the problem's detail, else a generic one. */
function problemMessage(e) {
  if (e instanceof ApiProblem) {
    if (e.errors?.length) return e.errors.map((x) => x.message).join("; ");
    if (e.status === 404) return "This call no longer exists.";
    if (e.status === 409) return e.detail || "The call changed meanwhile. Reload and try again.";
    return e.detail || e.title || "The change was not saved.";
  }
  return "The change was not saved.";
}

// ------------------------------------------------------------------------------------------ evidence

function highlight(appointment, field, { seek = true, scroll = true } = {}) {
  for (const m of document.querySelectorAll("#transcript mark.active")) m.classList.remove("active");
  const marks = [
    ...document.querySelectorAll(
      `#transcript mark[data-field="${CSS.escape(field)}"][data-appointment="${CSS.escape(String(appointment))}"]`,
    ),
  ];
  if (!marks.length) return false;
  for (const m of marks) m.classList.add("active");
  if (scroll) marks[0].scrollIntoView({ block: "center", behavior: reducedMotion() ? "auto" : "smooth" });
  const audio = document.getElementById("call-audio");
  const at = Number.parseFloat(marks[0].dataset.seek ?? "");
  if (seek && audio && Number.isFinite(at)) audio.currentTime = at;
  return true;
}

function rowOf(appointment, field) {
  return document.querySelector(
    `#extraction .field-row[data-field="${CSS.escape(field)}"][data-appointment="${CSS.escape(String(appointment))}"]`,
  );
}

// ------------------------------------------------------------------------------------------ corrections

function jobFieldText(job, field) {
  const jf = JOB_FIELDS[field];
  if (!job || !jf) return "";
  return document.querySelector(`#jobs [data-job-id="${CSS.escape(job.id)}"] [data-job-field="${jf}"]`)?.textContent ?? "";
}

/** Saves `value` for the row's field; re-renders the page and points at the job's new value. */
async function saveCorrection(row, value, { confirmed = false, form } = {}) {
  const field = row.dataset.field;
  const label = FIELD_LABELS[field] ?? "Field";
  ownWrite();
  const result = await api("POST", `/api/v1/calls/${encodeURIComponent(callId())}/corrections`, {
    field: row.dataset.path,
    value,
  });
  if (form) form.hidden = true;
  await refreshMain();
  const job = result?.job;
  const jf = JOB_FIELDS[field];
  if (job && jf) {
    const card = document.querySelector(`#jobs [data-job-id="${CSS.escape(job.id)}"]`);
    const cell = card?.querySelector(`[data-job-field="${jf}"]`);
    for (const el of [card, cell]) el?.classList.add("just-updated");
    const now = jobFieldText(job, field);
    toast(confirmed ? `${label} confirmed. The job shows: ${now}` : `${label} saved. The job now shows: ${now}`, {
      kind: "success",
      action: card ? { label: "Show job", run: () => card.scrollIntoView({ block: "center" }) } : undefined,
    });
  } else {
    toast(confirmed ? `${label} confirmed.` : `${label} saved.`, { kind: "success" });
  }
  announce(confirmed ? `${label} confirmed` : `${label} corrected`);
}

function openFix(row, open) {
  const form = row.querySelector("form.fix-form");
  const button = row.querySelector('[data-action="fix"]');
  if (!form || !button) return;
  form.hidden = !open;
  button.setAttribute("aria-expanded", String(open));
  row.classList.toggle("editing", open);
  if (open) {
    clearErrors(form);
    form.querySelector("input, select, textarea")?.focus();
  } else {
    form.reset();
    clearErrors(form);
    button.focus();
  }
}

async function onFixSubmit(form) {
  const row = form.closest(".field-row");
  clearErrors(form);
  let value;
  try {
    value = readValue(row.dataset.field, form);
  } catch (e) {
    if (e instanceof InputError) return showError(form, "value", e.message, e.input);
    throw e;
  }
  const submit = form.querySelector('button[type="submit"]');
  if (submit) submit.disabled = true;
  try {
    await saveCorrection(row, value, { form });
  } catch (e) {
    showError(form, "value", problemMessage(e));
  } finally {
    if (submit && submit.isConnected) submit.disabled = false;
  }
}

async function onAccept(row, button) {
  let value;
  try {
    value = JSON.parse(row.dataset.value ?? "null");
  } catch {
    value = null;
  }
  button.disabled = true;
  try {
    await saveCorrection(row, value, { confirmed: true });
  } catch (e) {
    toast(problemMessage(e), { kind: "error" });
    if (button.isConnected) button.disabled = false;
  }
}

// ------------------------------------------------------------------------------------------ override

function extractionData() {
  try {
    return JSON.parse(document.getElementById("extraction-data")?.textContent ?? "null") ?? {};
  } catch {
    return {};
  }
}

function syncIncluded(fieldset) {
  const include = named(fieldset, "include");
  for (const el of fieldset.querySelectorAll(".override-field input, .override-field select, .override-field textarea")) {
    el.disabled = !include.checked;
  }
  fieldset.classList.toggle("excluded", !include.checked);
}

/** The extraction document the override form describes; throws InputError with the slot's name. */
function overrideDocument(form) {
  const original = extractionData();
  const appointments = [];
  const indexes = []; // document index → the fieldset's data-appointment
  for (const fieldset of form.querySelectorAll("fieldset.appointment")) {
    if (!named(fieldset, "include").checked) continue;
    const index = Number(fieldset.dataset.appointment);
    const before = original.appointments?.[index] ?? {};
    const appointment = {};
    for (const box of fieldset.querySelectorAll(".override-field")) {
      const field = box.dataset.field;
      let value;
      try {
        value = readValue(field, box);
      } catch (e) {
        if (e instanceof InputError) e.slot = `appointments[${index}].${field}`;
        throw e;
      }
      const old = before[field];
      if (value === null) appointment[field] = null;
      else if (old && sameValue(old.value, value)) appointment[field] = old;
      else {
        // A person's value: full confidence, the evidence kept where there was some.
        appointment[field] = { value, confidence: 1, evidence: old?.evidence ?? "" };
        if (field === "when") appointment[field].phrase = old?.phrase ?? "";
      }
    }
    appointments.push(appointment);
    indexes.push(index);
  }
  const doc = {
    call_kind: named(form, "call_kind").value,
    appointments,
    confidence: 1,
    extractor: original.extractor ?? { name: "manual", model: null, version: "1" },
  };
  return { doc, indexes };
}

async function onOverrideSubmit(form) {
  clearErrors(form);
  let built;
  try {
    built = overrideDocument(form);
  } catch (e) {
    if (e instanceof InputError) return showError(form, e.slot ?? "extraction", e.message, e.input);
    throw e;
  }
  const submit = form.querySelector('button[type="submit"]');
  if (submit) submit.disabled = true;
  try {
    ownWrite();
    const result = await api("POST", `/api/v1/calls/${encodeURIComponent(callId())}/override`, built.doc);
    form.closest("dialog")?.close();
    await refreshMain();
    const booked = result?.jobs?.length ?? 0;
    const cancelled = result?.cancelled?.length ?? 0;
    toast(
      `Extraction replaced: ${booked} job${booked === 1 ? "" : "s"} booked or updated, ${cancelled} cancelled.`,
      { kind: "success" },
    );
  } catch (e) {
    if (e instanceof ApiProblem && e.errors?.length) {
      for (const { field, message } of e.errors) {
        // The server numbers kept appointments; the form numbers them as shown.
        const m = /^appointments\[(\d+)\]\.(.+)$/.exec(field ?? "");
        const slot = m ? `appointments[${built.indexes[Number(m[1])] ?? m[1]}].${m[2]}` : "extraction";
        const target = form.querySelector(`[data-error-for="${CSS.escape(slot)}"]`);
        if (target) target.textContent = message;
        else showError(form, "extraction", message);
      }
      showError(form, "extraction", "Some fields need a fix (marked below their inputs).");
    } else {
      showError(form, "extraction", problemMessage(e));
    }
  } finally {
    if (submit && submit.isConnected) submit.disabled = false;
  }
}

// ------------------------------------------------------------------------------------------ not an appointment

async function onNotAppointment(button) {
  const jobs = Number(button.dataset.jobs ?? "0");
  const question =
    jobs > 0
      ? `Mark this call as not an appointment? The ${jobs === 1 ? "job" : `${jobs} jobs`} booked from it will be cancelled.`
      : "Mark this call as not an appointment?";
  if (!confirm(question)) return;
  button.disabled = true;
  try {
    ownWrite();
    const result = await api("POST", `/api/v1/calls/${encodeURIComponent(callId())}/not-an-appointment`);
    await refreshMain();
    const cancelled = result?.cancelled?.length ?? 0;
    toast(`Marked not an appointment. ${cancelled} job${cancelled === 1 ? "" : "s"} cancelled.`, { kind: "success" });
  } catch (e) {
    toast(problemMessage(e), { kind: "error" });
    if (button.isConnected) button.disabled = false;
  }
}

// ------------------------------------------------------------------------------------------ wiring

document.addEventListener("click", (event) => {
  const target = event.target instanceof Element ? event.target : null;
  if (!target || !document.getElementById("call-facts")) return;

  const seekButton = target.closest("button.seg-time[data-seek]");
  if (seekButton) {
    const audio = document.getElementById("call-audio");
    if (audio) {
      audio.currentTime = Number.parseFloat(seekButton.dataset.seek) || 0;
      audio.play().catch(() => {});
    }
    return;
  }
  const evidence = target.closest("a.evidence-link");
  if (evidence) {
    event.preventDefault();
    const owner = evidence.closest(".field-row");
    if (owner) highlight(owner.dataset.appointment, owner.dataset.field);
    return;
  }
  const mark = target.closest("#transcript mark[data-field]");
  if (mark) {
    highlight(mark.dataset.appointment, mark.dataset.field, { scroll: false });
    const row = rowOf(mark.dataset.appointment, mark.dataset.field);
    if (row) {
      row.classList.add("just-updated");
      row.scrollIntoView({ block: "nearest", behavior: reducedMotion() ? "auto" : "smooth" });
      setTimeout(() => row.classList.remove("just-updated"), 1600);
    }
    return;
  }
  const action = target.closest("[data-action]");
  const row = target.closest(".field-row");
  if (action && row) {
    const form = row.querySelector("form.fix-form");
    switch (action.dataset.action) {
      case "fix":
        openFix(row, form?.hidden ?? false);
        return;
      case "cancel":
        openFix(row, false);
        return;
      case "accept":
        onAccept(row, action);
        return;
      case "clear":
        if (confirm(`Record that the caller did not say the ${(FIELD_LABELS[row.dataset.field] ?? "value").toLowerCase()}?`)) {
          saveCorrection(row, null, { form }).catch((e) => showError(form, "value", problemMessage(e)));
        }
        return;
    }
  }
  if (row && !target.closest("button, a, input, select, textarea, form, label")) {
    highlight(row.dataset.appointment, row.dataset.field);
    return;
  }
  if (target.closest("#override-open")) {
    const dialog = document.getElementById("override-dialog");
    if (dialog && !dialog.open) {
      for (const fs of dialog.querySelectorAll("fieldset.appointment")) syncIncluded(fs);
      clearErrors(dialog);
      dialog.showModal();
    }
    return;
  }
  if (target.closest("#override-dialog [data-action=close]")) {
    target.closest("dialog")?.close();
    return;
  }
  const notAppointment = target.closest("#not-appointment");
  if (notAppointment) onNotAppointment(notAppointment);
});

document.addEventListener("change", (event) => {
  const target = event.target;
  if (target instanceof HTMLInputElement && target.name === "include") {
    const fs = target.closest("fieldset.appointment");
    if (fs) syncIncluded(fs);
  }
});

document.addEventListener("submit", (event) => {
  const form = event.target;
  if (!(form instanceof HTMLFormElement)) return;
  if (form.matches("form.fix-form")) {
    event.preventDefault();
    onFixSubmit(form);
  } else if (form.id === "override-form") {
    event.preventDefault();
    onOverrideSubmit(form);
  }
});

document.addEventListener("keydown", (event) => {
  if (event.key !== "Escape") return;
  const form = event.target instanceof Element ? event.target.closest("form.fix-form") : null;
  if (form && !form.hidden) {
    event.preventDefault();
    openFix(form.closest(".field-row"), false);
  }
});

// Live: this call's processing steps and its jobs' changes re-render the page, unless someone is typing.
function busy() {
  const audio = document.getElementById("call-audio");
  return Boolean(
    document.querySelector("form.fix-form:not([hidden])") ||
      document.getElementById("override-dialog")?.open ||
      // a refresh would restart the recording someone is listening to
      (audio && !audio.paused && !audio.ended),
  );
}

let stale = false;
function changed() {
  if (busy()) {
    if (!stale) {
      stale = true;
      toast("This call changed meanwhile.", {
        action: {
          label: "Reload",
          run: () => {
            stale = false;
            refreshMain();
          },
        },
        timeout: 0,
      });
    }
    return;
  }
  refreshMain();
}

if (document.getElementById("call-facts")) {
  for (const kind of ["call.step", "call.finished", "call.needs_review", "call.dead", "call.received"]) {
    onEvent(kind, (data) => {
      if (data?.call_id && data.call_id === callId()) changed();
    });
  }
  for (const kind of ["job.updated", "job.moved"]) {
    onEvent(kind, (data) => {
      if (data?.job_id && document.querySelector(`#jobs [data-job-id="${CSS.escape(data.job_id)}"]`)) {
        if (Date.now() > ownWriteUntil) changed();
      }
    });
  }
  // The signed playback link lasts an hour: a page left open longer asks for a fresh one.
  document.addEventListener(
    "error",
    async (event) => {
      const audio = event.target;
      if (!(audio instanceof HTMLAudioElement) || audio.id !== "call-audio") return;
      // At most one renewal a minute: a recording that fails for another reason is not asked for in a loop.
      if (Date.now() - Number(audio.dataset.renewedAt ?? 0) < 60000) return;
      audio.dataset.renewedAt = String(Date.now());
      try {
        const detail = await api("GET", `/api/v1/calls/${encodeURIComponent(callId())}`);
        const url = detail?.playback?.url;
        if (url) {
          const fresh = new URL(url, location.href);
          audio.src = fresh.origin === location.origin ? fresh.pathname + fresh.search : url;
          audio.load();
        }
      } catch {
        toast("The recording cannot be played right now.", { kind: "error" });
      }
    },
    true,
  );
  // A link to #ev-… (no JS needed) also highlights when opened directly.
  const hash = location.hash.match(/^#ev-(\d+)-([a-z_]+)$/);
  if (hash) highlight(hash[1], hash[2], { seek: false });
}
