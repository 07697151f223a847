// What the job page (/app/jobs/{id}, job.js) and the new job page (/app/jobs/new, job-new.js) share: wall-clock
// times in the business's zone, the recurrence picker, the price input, the customer search, field errors.
import { api, toast } from "./app.js";

const REPEAT_RULES = {
  weekly: "FREQ=WEEKLY",
  biweekly: "FREQ=WEEKLY;INTERVAL=2",
  monthly: "FREQ=MONTHLY",
  yearly: "FREQ=YEARLY",
};
const REPEAT_WORDS = { weekly: "Weekly", biweekly: "Every 2 weeks", monthly: "Monthly", yearly: "Yearly" };

// ---------------------------------------------------------------------------------------------- time zones

// Milliseconds `zone` is ahead of UTC at the instant `utcMs`.
function zoneOffset(zone, utcMs) {
  const parts = {};
  for (const p of new Intl.DateTimeFormat("en-US", {
    timeZone: zone, hourCycle: "h23", year: "numeric", month: "2-digit", day: "2-digit",
    hour: "2-digit", minute: "2-digit", second: "2-digit",
  }).formatToParts(new Date(utcMs))) parts[p.type] = p.value;
  const wall = Date.UTC(+parts.year, +parts.month - 1, +parts.day, +parts.hour % 24, +parts.minute, +parts.second);
  return wall - Math.floor(utcMs / 1000) * 1000;
}

// "YYYY-MM-DDTHH:MM[:SS]" in `zone` → Date, or null when unreadable; `exists` is false in a DST gap.
export function localToUtc(value, zone) {
  const m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2}))?$/.exec(value || "");
  if (!m) return null;
  const wall = Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5], +(m[6] || 0));
  let t = wall - zoneOffset(zone, wall);
  t = wall - zoneOffset(zone, t);
  const date = new Date(t);
  date.exists = t + zoneOffset(zone, t) === wall;
  return date;
}

function untilStamp(date) {
  return date.toISOString().replace(/[-:]/g, "").replace(/\.\d{3}/, "");
}

// The start and end inputs as UTC dates: `{start, end}` (both null when both are empty); pushes
// `{field, message}` onto `errors` for a half-filled, unreadable, non-existent or reversed schedule.
export function scheduleOf(startValue, endValue, zone, errors) {
  if (!startValue && !endValue) return { start: null, end: null };
  if (!startValue || !endValue) {
    errors.push({ field: startValue ? "scheduled_end" : "scheduled_start", message: "Enter both start and end, or clear both." });
    return { start: null, end: null };
  }
  const start = localToUtc(startValue, zone);
  const end = localToUtc(endValue, zone);
  const gap = `This time does not exist in ${zone} (the clocks change).`;
  if (!start) errors.push({ field: "scheduled_start", message: "Enter a date and time." });
  else if (!start.exists) errors.push({ field: "scheduled_start", message: gap });
  if (!end) errors.push({ field: "scheduled_end", message: "Enter a date and time." });
  else if (!end.exists) errors.push({ field: "scheduled_end", message: gap });
  if (start && end && end <= start) errors.push({ field: "scheduled_end", message: "Must be after the start." });
  return { start, end };
}

// ---------------------------------------------------------------------------------------------- recurrence

// The recurrence rule the picker describes (null = does not repeat); throws {field, message} on bad input.
export function ruleOf(form, zone) {
  const choice = form.elements.repeat.value;
  if (choice === "none") return null;
  if (choice === "custom") return form.querySelector("#recurrence").dataset.rule || null;
  let rule = REPEAT_RULES[choice];
  const ends = form.elements.repeat_ends.value;
  if (ends === "count") {
    const n = Number(form.elements.repeat_count.value);
    if (!Number.isInteger(n) || n < 1 || n > 1000) {
      throw { field: "recurrence", message: "Enter a number of visits from 1 to 1000." };
    }
    rule += `;COUNT=${n}`;
  } else if (ends === "until") {
    const day = form.elements.repeat_until.value;
    const until = localToUtc(`${day}T23:59:59`, zone);
    if (!until) throw { field: "recurrence", message: "Choose the last date." };
    rule += `;UNTIL=${untilStamp(until)}`;
  }
  return rule;
}

function ruleWords(form) {
  const choice = form.elements.repeat.value;
  if (choice === "none") return "Does not repeat";
  if (choice === "custom") return null;
  let words = REPEAT_WORDS[choice];
  const ends = form.elements.repeat_ends.value;
  if (ends === "count") words += `, ${form.elements.repeat_count.value} times`;
  if (ends === "until" && form.elements.repeat_until.value) words += `, until ${form.elements.repeat_until.value}`;
  return words;
}

// Shows and hides the picker's parts and the rule in words for the current choice.
export function updateRecurrenceUi(form, zone) {
  const choice = form.elements.repeat.value;
  const ends = form.elements.repeat_ends.value;
  form.querySelector(".recurrence-end").hidden = choice === "none" || choice === "custom";
  form.querySelector(".repeat-count").hidden = ends !== "count";
  form.querySelector(".repeat-until").hidden = ends !== "until";
  const words = ruleWords(form);
  if (words !== null) form.querySelector("#recurrence-words").textContent = words;
  try {
    form.querySelector("#recurrence-rule").textContent = ruleOf(form, zone) || "none";
  } catch {
    form.querySelector("#recurrence-rule").textContent = "…";
  }
}

// Keeps the picker's display current as the user changes it.
export function wireRecurrence(form, zone) {
  const names = ["repeat", "repeat_ends", "repeat_count", "repeat_until"];
  form.addEventListener("change", (e) => {
    if (names.includes(e.target.name)) updateRecurrenceUi(form, zone);
  });
  for (const name of ["repeat_count", "repeat_until"]) {
    form.elements[name].addEventListener("input", () => updateRecurrenceUi(form, zone));
  }
}

// ---------------------------------------------------------------------------------------------- price

// The price inputs as `{minor, currency}`, null when the amount is empty; pushes an error onto `errors`.
export function priceOf(amount, currency, errors) {
  amount = amount.trim();
  currency = currency.trim().toUpperCase();
  if (!amount) return null;
  if (!/^\d{1,12}(\.\d{1,2})?$/.test(amount)) {
    errors.push({ field: "price", message: "Enter an amount like 89 or 89.50." });
    return undefined;
  }
  if (!/^[A-Z]{3}$/.test(currency)) {
    errors.push({ field: "price", message: "The currency is a three-letter code such as USD." });
    return undefined;
  }
  const [whole, frac = ""] = amount.split(".");
  return { minor: Number(whole) * 100 + Number(frac.padEnd(2, "0")), currency };
}

// ---------------------------------------------------------------------------------------------- errors

// The inputs an error of `field` is about.
function inputsFor(form, field) {
  const names = {
    title: ["title"], description: ["description"], notes: ["notes"], urgency: ["urgency"],
    scheduled_start: ["start"], scheduled_end: ["end"], schedule: ["start", "end"],
    price: ["price", "currency"], recurrence: ["repeat", "repeat_count", "repeat_until"],
    address: ["address.line1"], customer_id: ["customer_search"],
  }[field] || (field.startsWith("address.") ? [field] : []);
  return names.map((n) => form.elements[n]).filter(Boolean);
}

export function clearErrors(form) {
  for (const slot of form.querySelectorAll("[data-error-for]")) slot.textContent = "";
  for (const input of form.querySelectorAll("[aria-invalid]")) input.removeAttribute("aria-invalid");
}

// Puts each `{field, message}` next to its field (errors of unknown fields into `generalSelector`) and focuses
// the first invalid input.
export function showErrors(form, errors, generalSelector) {
  let first = null;
  const general = [];
  for (const { field, message } of errors) {
    const key = field.startsWith("address.") ? "address" : field;
    const slot = form.querySelector(`[data-error-for="${CSS.escape(key)}"]`);
    if (!slot) {
      general.push(`${field}: ${message}`);
      continue;
    }
    slot.textContent = slot.textContent ? `${slot.textContent} ${message}` : message;
    for (const input of inputsFor(form, field)) {
      input.setAttribute("aria-invalid", "true");
      first ??= input;
    }
    first ??= slot;
  }
  const formError = form.querySelector(generalSelector);
  if (formError) formError.textContent = general.join(" ");
  (first || formError)?.focus?.();
}

// ---------------------------------------------------------------------------------------------- customer

// The customer picker of `.customer-field`: "Change customer" opens a search of the tenant's customers (as
// you type, debounced); choosing one sets the hidden `customer_id` and calls `onChoose(id, name)`.
export function wireCustomer(form, onChoose = () => {}) {
  const field = form.querySelector(".customer-field");
  const box = field.querySelector(".customer-change");
  const search = field.querySelector("#customer-search");
  const options = field.querySelector("#customer-options");
  const current = field.querySelector(".customer-current");
  const hidden = form.elements.customer_id;
  let timer = 0;
  let controller = null;
  const choose = (id, name) => {
    hidden.value = id;
    current.replaceChildren();
    if (id) {
      const a = document.createElement("a");
      a.className = "customer-link";
      a.href = `/app/customers/${encodeURIComponent(id)}`;
      a.textContent = name;
      current.append(a);
    } else {
      const span = document.createElement("span");
      span.className = "muted";
      span.textContent = "No customer";
      current.append(span);
    }
    box.hidden = true;
    const detach = field.querySelector("[data-action=detach-customer]");
    if (detach) detach.hidden = !id;
    onChoose(id, name);
  };
  field.querySelector("[data-action=change-customer]").addEventListener("click", () => {
    box.hidden = !box.hidden;
    if (!box.hidden) search.focus();
  });
  field.querySelector("[data-action=detach-customer]")?.addEventListener("click", () => choose("", ""));
  search.addEventListener("keydown", (e) => {
    // Enter in the search box must not submit the job form
    if (e.key === "Enter") e.preventDefault();
  });
  search.addEventListener("input", () => {
    clearTimeout(timer);
    timer = setTimeout(async () => {
      controller?.abort();
      controller = new AbortController();
      const q = search.value.trim();
      if (!q) return options.replaceChildren();
      try {
        const found = await api("GET", `/api/v1/customers?limit=8&q=${encodeURIComponent(q)}`, undefined,
          { signal: controller.signal });
        options.replaceChildren(...found.map((c) => {
          const li = document.createElement("li");
          const b = document.createElement("button");
          b.type = "button";
          b.className = "button small option";
          b.textContent = c.name || "Unnamed customer";
          const where = [c.address?.line1, c.address?.city].filter(Boolean).join(", ");
          if (where) {
            const meta = document.createElement("span");
            meta.className = "row-meta muted";
            meta.textContent = ` ${where}`;
            b.append(meta);
          }
          b.addEventListener("click", () => choose(c.id, c.name || "Unnamed customer"));
          li.append(b);
          return li;
        }));
        if (!found.length) {
          const li = document.createElement("li");
          li.className = "muted";
          li.textContent = "No customer matches.";
          options.append(li);
        }
      } catch (problem) {
        if (problem.name !== "AbortError" && problem.code !== "aborted") {
          toast(problem.detail || "Search failed", { kind: "error" });
        }
      }
    }, 200);
  });
  return { choose };
}
