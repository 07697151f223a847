// The login page: POST /api/v1/auth/login, then go to `next` (a dashboard path of this site only).
import { api, ApiProblem, announce } from "./app.js";

/** `next` when it is a dashboard path on this origin, else "/app" (no open redirect). */
export function safeNext(next) {
  if (typeof next !== "string" || next.length > 2000) return "/app";
  const ok =
    (next === "/app" || next.startsWith("/app/") || next.startsWith("/app?") || next.startsWith("/app#")) &&
    !next.includes("\\") &&
    !next.includes("//") &&
    !/[\s\u0000-\u001f]/.test(next) &&
    !next.startsWith("/app/login");
  if (!ok) return "/app";
  try {
    const url = new URL(next, location.origin);
    return url.origin === location.origin ? next : "/app";
  } catch {
    return "/app";
  }
}

function init() {
  const form = document.getElementById("login-form");
  if (!form) return;
  const error = document.getElementById("login-error");
  const tenantField = document.getElementById("tenant-field");
  const submit = form.querySelector("button[type=submit]");
  const next = safeNext(new URLSearchParams(location.search).get("next") ?? form.dataset.next ?? "/app");
  let countdown = null;
  const options = document.getElementById("tenant-options");
  const choice = document.getElementById("tenant-choice");
  const byHand = document.getElementById("tenant-id");

  // The businesses of a `tenant_required` answer as radio buttons (or, with no list, the ID input).
  const offerTenants = (tenants) => {
    const before = chosenTenant();
    options.replaceChildren(...tenants.map((t, i) => {
      const label = document.createElement("label");
      label.className = "choice";
      const radio = document.createElement("input");
      radio.type = "radio";
      radio.name = "tenant_choice";
      radio.value = t.id;
      radio.id = `tenant-${i}`;
      radio.checked = t.id === before;
      const name = document.createElement("span");
      name.textContent = t.name || "Unnamed business";
      label.append(radio, name);
      return label;
    }));
    choice.hidden = tenants.length === 0;
    byHand.hidden = tenants.length > 0;
  };
  const byList = () => !choice.hidden && options.children.length > 0;
  function chosenTenant() {
    if (byList()) return form.querySelector("input[name=tenant_choice]:checked")?.value ?? "";
    return form.elements.namedItem("tenant").value.trim();
  }
  // another login may belong to other businesses: ask again
  form.elements.namedItem("login").addEventListener("input", () => {
    tenantField.hidden = true;
    options.replaceChildren();
  });

  const show = (text, field) => {
    error.textContent = text;
    for (const el of form.querySelectorAll("[aria-invalid]")) el.removeAttribute("aria-invalid");
    if (field) {
      const input = form.elements.namedItem(field);
      input?.setAttribute("aria-invalid", "true");
      input?.focus();
    }
  };

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (submit.disabled) return;
    for (const slot of form.querySelectorAll("[data-error-for]")) slot.textContent = "";
    const login = form.elements.namedItem("login").value.trim();
    const password = form.elements.namedItem("password").value;
    const tenant = tenantField.hidden ? "" : chosenTenant();
    if (!login) return show("Enter your login.", "login");
    if (!password) return show("Enter your password.", "password");
    if (!tenantField.hidden && !tenant) {
      show(byList() ? "Choose the business to sign in to." : "Enter the business ID.");
      (form.querySelector("input[name=tenant_choice]") || form.elements.namedItem("tenant"))?.focus();
      return;
    }
    show("");
    submit.disabled = true;
    submit.textContent = "Signing in…";
    const body = { login, password };
    if (tenant) body.tenant = tenant;
    let waiting = false;
    try {
      await api("POST", "/api/v1/auth/login", body);
      announce("Signed in");
      location.assign(next);
      return;
    } catch (e) {
      if (!(e instanceof ApiProblem)) {
        show("Something went wrong. Try again.");
      } else if (e.code === "tenant_required") {
        const tenants = Array.isArray(e.document?.tenants) ? e.document.tenants : [];
        offerTenants(tenants);
        tenantField.hidden = false;
        show("");
        announce("This login belongs to more than one business: choose the one to sign in to.");
        (form.querySelector("input[name=tenant_choice]") || form.elements.namedItem("tenant"))?.focus();
      } else if (e.status === 429) {
        waiting = true;
        let left = e.retryAfter ?? 60;
        const tick = () => {
          if (left <= 0) {
            clearInterval(countdown);
            submit.disabled = false;
            submit.textContent = "Sign in";
            show("");
            return;
          }
          const wait = left >= 90 ? `${Math.ceil(left / 60)} minutes` : `${left} second${left === 1 ? "" : "s"}`;
          error.textContent = `Too many sign-in attempts. Try again in ${wait}.`;
          left -= 1;
        };
        clearInterval(countdown);
        tick();
        countdown = setInterval(tick, 1000);
      } else if (e.status === 401) {
        show("That login and password do not match. Check them and try again.", "password");
        form.elements.namedItem("password").select();
      } else if (e.status === 422 && e.errors.length) {
        for (const { field, message } of e.errors) {
          const slot = form.querySelector(`[data-error-for="${CSS.escape(field)}"]`);
          if (slot) slot.textContent = message;
        }
        show("Check the highlighted fields.", e.errors[0].field);
      } else if (e.code === "network") {
        show("Could not reach the server. Check your connection and try again.");
      } else {
        show(e.detail || e.title || "Could not sign in. Try again.");
      }
    } finally {
      if (!waiting) {
        submit.disabled = false;
        submit.textContent = "Sign in";
      } else {
        submit.textContent = "Sign in";
      }
    }
  });
}

init();
