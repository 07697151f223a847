// The job page (/app/jobs/{id}): save the form with PATCH + If-Match, move the stage, notes, photos, live updates.
// Schedule inputs are wall-clock times in the business's zone (data-zone), converted to RFC 3339 here.
import { api, toast, announce, onEvent, refreshMain, onEnhance, csrfToken } from "./app.js";
import {
  clearErrors, priceOf, ruleOf, scheduleOf, showErrors as showFieldErrors, wireCustomer, wireRecurrence,
} from "./job-form.js";

// ---------------------------------------------------------------------------------------------- the form

function layoutEl() {
  return document.querySelector(".job-layout");
}

function version() {
  return Number(layoutEl()?.dataset.version || 0);
}

function setVersion(v) {
  for (const node of document.querySelectorAll(".job-layout, #job-form, #job-stage")) node.dataset.version = String(v);
}

// Every editable value, grouped as the PATCH body groups them (raw strings, for dirty tracking).
function snapshot(form) {
  const f = form.elements;
  const address = {};
  for (const part of ["line1", "line2", "city", "region", "postal_code", "country"]) {
    address[part] = f[`address.${part}`].value;
  }
  return {
    title: f.title.value,
    description: f.description.value,
    customer_id: f.customer_id.value,
    address,
    schedule: [f.start.value, f.end.value],
    recurrence: [f.repeat.value, f.repeat_ends.value, f.repeat_count.value, f.repeat_until.value],
    urgency: f.urgency.value,
    price: [f.price.value.trim(), f.currency.value.trim().toUpperCase()],
    notes: f.notes.value,
  };
}

// The PATCH body for the groups that changed since `initial`; throws [{field, message}] for input the API
// would not understand.
function patchOf(form, initial, zone) {
  const now = snapshot(form);
  const errors = [];
  const patch = {};
  const changed = (key) => JSON.stringify(now[key]) !== JSON.stringify(initial[key]);
  if (changed("title")) patch.title = now.title;
  if (changed("description")) patch.description = now.description;
  if (changed("customer_id")) patch.customer_id = now.customer_id || null;
  if (changed("address")) {
    patch.address = {};
    for (const [k, v] of Object.entries(now.address)) patch.address[k] = v.trim() ? v.trim() : null;
  }
  if (changed("schedule") || changed("recurrence")) {
    const [s, e] = now.schedule;
    const { start, end } = scheduleOf(s, e, zone, errors);
    if (changed("schedule")) {
      if (!s && !e) patch.schedule = null;
      else if (s && e) patch.schedule = { start: start?.toISOString(), end: end?.toISOString() };
    }
  }
  if (changed("recurrence") || (changed("schedule") && now.recurrence[1] === "until")) {
    try {
      patch.recurrence = ruleOf(form, zone);
    } catch (e) {
      errors.push(e);
    }
  }
  if (changed("urgency")) patch.urgency = now.urgency;
  if (changed("price")) {
    const price = priceOf(now.price[0], now.price[1], errors);
    if (price !== undefined) patch.price = price;
  }
  if (changed("notes")) patch.notes = now.notes.trim() ? now.notes : null;
  if (errors.length) throw errors;
  return patch;
}

function showBanner(text) {
  const banner = document.getElementById("job-conflict");
  if (!banner) return;
  banner.querySelector(".banner-text").textContent = text;
  banner.hidden = false;
  banner.scrollIntoView({ block: "nearest" });
}

// ---------------------------------------------------------------------------------------------- wiring

let state = null; // { form, initial, zone, endpoint, jobId }

function isDirty() {
  return !!state && JSON.stringify(snapshot(state.form)) !== JSON.stringify(state.initial);
}

function markDirty() {
  const saveState = state?.form.querySelector(".save-state");
  if (saveState) saveState.textContent = isDirty() ? "Unsaved changes" : "";
}

async function save(event) {
  event.preventDefault();
  const form = state.form;
  clearErrors(form);
  let patch;
  try {
    patch = patchOf(form, state.initial, state.zone);
  } catch (errors) {
    showFieldErrors(form, errors, "#job-form-error");
    return;
  }
  if (Object.keys(patch).length === 0) {
    toast("Nothing to save");
    return;
  }
  const button = form.querySelector("button[type=submit]");
  button.disabled = true;
  try {
    const job = await api("PATCH", state.endpoint, patch, { headers: { "If-Match": `"${version()}"` } });
    setVersion(job.version);
    state.initial = snapshot(form);
    markDirty();
    toast("Saved", { kind: "success" });
    await refreshMain();
  } catch (problem) {
    if (problem.status === 409 && problem.code !== "double_booked") {
      showBanner(
        "Someone else changed this job after you opened it, so your edits were not saved. " +
          "Reload to see their version (your edits here will be lost), or compare in a new tab and keep editing.",
      );
    } else if (problem.status === 422 && problem.errors?.length) {
      showFieldErrors(form, problem.errors, "#job-form-error");
    } else {
      toast(problem.detail || problem.title || "Could not save", { kind: "error" });
    }
  } finally {
    button.disabled = false;
  }
}

async function moveStage(select) {
  const before = select.dataset.current;
  const label = select.selectedOptions[0]?.textContent;
  try {
    const job = await api("POST", `${state.endpoint}/move`, { stage: select.value },
      { headers: { "If-Match": `"${version()}"` } });
    setVersion(job.version);
    select.dataset.current = job.stage;
    toast(`Moved to ${label}`, { kind: "success" });
    if (!isDirty()) await refreshMain();
  } catch (problem) {
    select.value = before;
    if (problem.status === 409) {
      showBanner("Someone else changed this job after you opened it, so the stage was not changed. Reload to see their version.");
    } else {
      toast(problem.detail || "Could not move the job", { kind: "error" });
    }
  }
}

function wireNotes(root) {
  const form = root.querySelector("#note-form");
  if (!form) return;
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const text = form.elements.body;
    const slot = form.querySelector("[data-error-for=body]");
    slot.textContent = "";
    text.removeAttribute("aria-invalid");
    if (!text.value.trim()) {
      slot.textContent = "Write something first.";
      text.setAttribute("aria-invalid", "true");
      text.focus();
      return;
    }
    const button = form.querySelector("button[type=submit]");
    button.disabled = true;
    try {
      const note = await api("POST", form.dataset.endpoint, { body: text.value });
      const li = document.createElement("li");
      const body = document.createElement("p");
      body.className = "row-main note-body";
      body.textContent = note.body;
      const meta = document.createElement("span");
      meta.className = "row-meta muted";
      meta.textContent = "You · just now";
      li.append(body, meta);
      root.querySelector("#note-list").append(li);
      root.querySelector(".notes-empty")?.remove();
      text.value = "";
      announce("Note added");
    } catch (problem) {
      if (problem.errors?.length) {
        slot.textContent = problem.errors.map((e) => e.message).join(" ");
        text.setAttribute("aria-invalid", "true");
      } else {
        toast(problem.detail || "Could not add the note", { kind: "error" });
      }
    } finally {
      button.disabled = false;
    }
  });
}

function megabytes(bytes) {
  return `${(bytes / (1024 * 1024)).toFixed(1)} MB`;
}

// Uploads one photo with progress (XMLHttpRequest: fetch has no upload progress).
function upload(endpoint, file, onProgress) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open("POST", endpoint);
    xhr.setRequestHeader("X-CSRF-Token", csrfToken());
    xhr.setRequestHeader("Content-Type", file.type || "application/octet-stream");
    xhr.setRequestHeader("Accept", "application/json");
    xhr.upload.addEventListener("progress", (e) => e.lengthComputable && onProgress(e.loaded / e.total));
    xhr.addEventListener("load", () => {
      let body = null;
      try {
        body = JSON.parse(xhr.responseText);
      } catch { /* not JSON */ }
      if (xhr.status === 201) resolve(body);
      else reject(new Error(body?.detail || body?.title || `Upload failed (${xhr.status})`));
    });
    xhr.addEventListener("error", () => reject(new Error("Network error: the photo was not uploaded.")));
    xhr.send(file);
  });
}

function wirePhotos(root) {
  const section = root.querySelector("#job-photos");
  if (!section) return;
  const input = section.querySelector("#photo-input");
  const grid = section.querySelector("#photo-grid");
  const error = section.querySelector("#photo-error");
  const max = Number(section.dataset.maxBytes);
  let queue = Promise.resolve();
  input.addEventListener("change", () => {
    error.textContent = "";
    const problems = [];
    for (const file of input.files) {
      if (file.size > max) {
        problems.push(`${file.name} is ${megabytes(file.size)}; the limit is ${megabytes(max)}.`);
        continue;
      }
      if (file.type && !file.type.startsWith("image/")) {
        problems.push(`${file.name} is not an image.`);
        continue;
      }
      const preview = URL.createObjectURL(file);
      const li = document.createElement("li");
      li.className = "photo uploading";
      const img = document.createElement("img");
      img.src = preview;
      img.alt = `Preview of ${file.name}`;
      const progress = document.createElement("progress");
      progress.max = 100;
      progress.value = 0;
      progress.setAttribute("aria-label", `Uploading ${file.name}`);
      const status = document.createElement("span");
      status.className = "caption";
      status.textContent = "Waiting…";
      li.append(img, progress, status);
      grid.append(li);
      section.querySelector(".photos-empty")?.remove();
      queue = queue.then(async () => {
        status.textContent = "Uploading…";
        try {
          const photo = await upload(section.dataset.endpoint, file, (f) => { progress.value = Math.round(f * 100); });
          li.classList.remove("uploading");
          progress.remove();
          status.textContent = "Uploaded";
          const a = document.createElement("a");
          a.href = `${section.dataset.endpoint}/${photo.id}`;
          a.target = "_blank";
          a.rel = "noopener";
          img.alt = `Photo ${grid.children.length}`;
          li.replaceChild(a, img);
          a.append(img);
          announce(`${file.name} uploaded`);
        } catch (e) {
          li.classList.remove("uploading");
          li.classList.add("failed");
          progress.remove();
          status.textContent = e.message;
          const remove = document.createElement("button");
          remove.type = "button";
          remove.className = "button small";
          remove.textContent = "Remove";
          remove.addEventListener("click", () => {
            URL.revokeObjectURL(preview);
            li.remove();
          });
          li.append(remove);
          announce(`${file.name}: ${e.message}`);
        }
      });
    }
    if (problems.length) error.textContent = problems.join(" ");
    input.value = "";
  });
}

function init(root) {
  const layout = root.querySelector?.(".job-layout") || (root.matches?.(".job-layout") ? root : null);
  if (!layout || layout.dataset.ready) return;
  layout.dataset.ready = "1";
  // refreshMain replaces #main only: keep the tab's title in step with a renamed job
  const h1 = document.getElementById("job-title");
  if (h1?.textContent) document.title = `${h1.textContent} · Callbook`;
  const form = document.getElementById("job-form");
  state = {
    form,
    zone: layout.dataset.zone,
    endpoint: layout.dataset.endpoint,
    jobId: layout.dataset.jobId,
    initial: null,
  };
  state.initial = snapshot(form);
  form.addEventListener("submit", save);
  form.addEventListener("input", markDirty);
  wireRecurrence(form, state.zone);
  form.addEventListener("change", markDirty);
  wireCustomer(form, (id, name) => {
    markDirty();
    announce(id ? `Customer set to ${name}, not saved yet` : "Customer removed, not saved yet");
  });
  const stage = document.getElementById("job-stage-select");
  stage.dataset.current = stage.value;
  stage.addEventListener("change", () => moveStage(stage));
  document.getElementById("job-stage").addEventListener("submit", (e) => e.preventDefault());
  const banner = document.getElementById("job-conflict");
  banner.querySelector("[data-action=reload]").addEventListener("click", () => {
    if (isDirty() && !confirm("Discard your unsaved edits and load the latest version of this job?")) return;
    state.initial = snapshot(form); // no "leave page" prompt for a reload the user asked for
    location.reload();
  });
  banner.querySelector("[data-action=dismiss]").addEventListener("click", () => { banner.hidden = true; });
  wireNotes(root);
  wirePhotos(root);
}

function onJobEvent(data) {
  if (!state || data?.job_id !== state.jobId) return;
  const v = Number(data.data?.version || 0);
  if (v && v <= version()) return; // our own write, already applied
  if (isDirty()) {
    showBanner("Someone else just changed this job. Reload to see their changes (your unsaved edits here will be lost), or keep editing and save: saving will then report the conflict.");
  } else {
    announce("This job was updated by someone else");
    refreshMain();
  }
}

onEvent("job.updated", onJobEvent);
onEvent("job.moved", onJobEvent);
onEvent("reload", () => { if (!isDirty()) refreshMain(); });
onEnhance(init);
window.addEventListener("beforeunload", (event) => {
  if (isDirty()) event.preventDefault();
});
if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", () => init(document));
else init(document);
