// The new job page (/app/jobs/new): POST /api/v1/jobs with what the form says, field errors next to the
// fields, then open the new job. Shared form code (zone times, recurrence, price, customer) is in job-form.js.
import { api, toast, announce } from "./app.js";
import {
  clearErrors, priceOf, ruleOf, scheduleOf, showErrors, wireCustomer, wireRecurrence,
} from "./job-form.js";

// The JSON body of POST /api/v1/jobs; throws [{field, message}] for input the API would not understand.
export function jobOf(form, zone) {
  const f = form.elements;
  const errors = [];
  const body = { title: f.title.value.trim(), description: f.description.value.trim() };
  if (!body.title) errors.push({ field: "title", message: "Say in a few words what the job is." });
  if (f.customer_id.value) body.customer_id = f.customer_id.value;
  const address = {};
  for (const part of ["line1", "line2", "city", "region", "postal_code", "country"]) {
    const v = f[`address.${part}`].value.trim();
    if (v) address[part] = v;
  }
  if (Object.keys(address).length) body.address = address;
  const { start, end } = scheduleOf(f.start.value, f.end.value, zone, errors);
  if (start && end) {
    body.scheduled_start = start.toISOString();
    body.scheduled_end = end.toISOString();
  }
  try {
    const rule = ruleOf(form, zone);
    if (rule) {
      if (!start) errors.push({ field: "recurrence", message: "A repeating job needs a start and an end." });
      body.recurrence = rule;
    }
  } catch (e) {
    errors.push(e);
  }
  body.urgency = f.urgency.value;
  const price = priceOf(f.price.value, f.currency.value, errors);
  if (price) body.price = price;
  if (f.notes.value.trim()) body.notes = f.notes.value;
  if (errors.length) throw errors;
  return body;
}

function isDirty(form) {
  const f = form.elements;
  return ["title", "description", "notes", "start", "end", "price", "address.line1", "customer_id"]
    .some((name) => f[name]?.value.trim());
}

function init() {
  const form = document.getElementById("new-job-form");
  if (!form || form.dataset.ready) return;
  form.dataset.ready = "1";
  const zone = form.dataset.zone;
  let leaving = false;
  wireRecurrence(form, zone);
  const change = form.querySelector("[data-action=change-customer]");
  wireCustomer(form, (id, name) => {
    change.textContent = id ? "Change customer" : "Choose a customer";
    announce(id ? `Customer set to ${name}` : "No customer");
  });
  // an end an hour after the start, until the user sets their own
  form.elements.start.addEventListener("change", () => {
    const end = form.elements.end;
    if (end.value && end.dataset.auto !== "1") return;
    const m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})$/.exec(form.elements.start.value);
    if (!m) return;
    const t = new Date(Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4] + 1, +m[5]));
    end.value = t.toISOString().slice(0, 16);
    end.dataset.auto = "1";
  });
  form.elements.end.addEventListener("input", () => { form.elements.end.dataset.auto = ""; });
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearErrors(form);
    let body;
    try {
      body = jobOf(form, zone);
    } catch (errors) {
      showErrors(form, errors, "#job-form-error");
      return;
    }
    const button = form.querySelector("button[type=submit]");
    button.disabled = true;
    button.textContent = "Creating…";
    try {
      const job = await api("POST", form.dataset.endpoint, body);
      leaving = true;
      toast("Job created", { kind: "success" });
      location.assign(`/app/jobs/${encodeURIComponent(job.id)}`);
    } catch (problem) {
      if (problem.status === 422 && problem.errors?.length) {
        showErrors(form, problem.errors, "#job-form-error");
      } else if (problem.status === 404) {
        // the chosen customer was deleted or merged meanwhile
        showErrors(form, [{ field: "customer_id", message: "This customer no longer exists: choose another." }], "#job-form-error");
      } else {
        form.querySelector("#job-form-error").textContent = problem.detail || problem.title || "Could not create the job.";
        toast(problem.detail || "Could not create the job", { kind: "error" });
      }
      button.disabled = false;
      button.textContent = "Create job";
    }
  });
  window.addEventListener("beforeunload", (event) => {
    if (!leaving && isDirty(form)) event.preventDefault();
  });
}

if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
else init();
