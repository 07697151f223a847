// Customers (/app/customers and /app/customers/{id}; see src/web/customers.rs): search as you type (the
// server renders the results block; stale requests are aborted), and on a profile: merge / dismiss a
// suggestion, undo a merge (a toast right after, and the server-rendered "Undo merge" box), export and delete.
import { api, ApiProblem, announce, refreshMain, toast } from "./app.js";

const DEBOUNCE_MS = 200;
const FLASH_KEY = "callbook.flash";

// ------------------------------------------------------------------------------------------ search

const input = document.getElementById("customer-q");
const searchForm = document.getElementById("customer-search");

if (input && searchForm) {
  let timer = 0;
  let controller = null;
  let shown = input.value.trim();

  const search = async (q) => {
    controller?.abort();
    controller = new AbortController();
    const { signal } = controller;
    document.getElementById("customer-results-block")?.setAttribute("aria-busy", "true");
    try {
      const response = await fetch(`/app/customers/results?q=${encodeURIComponent(q)}`, {
        headers: { Accept: "text/html" },
        credentials: "same-origin",
        signal,
      });
      if (response.redirected && new URL(response.url).pathname.startsWith("/app/login")) {
        location.assign(`/app/login?next=${encodeURIComponent(location.pathname + location.search)}`);
        return;
      }
      if (!response.ok) throw new Error(`status ${response.status}`);
      const html = await response.text();
      if (signal.aborted) return;
      const template = document.createElement("template");
      template.innerHTML = html.trim();
      const block = template.content.getElementById("customer-results-block");
      const current = document.getElementById("customer-results-block");
      if (block && current) current.replaceWith(block);
      shown = q;
      const url = q ? `${location.pathname}?q=${encodeURIComponent(q)}` : location.pathname;
      history.replaceState(history.state, "", url);
      const status = document.getElementById("results-status")?.textContent.trim();
      if (status) announce(status);
    } catch (e) {
      if (e?.name === "AbortError") return;
      document.getElementById("customer-results-block")?.removeAttribute("aria-busy");
      toast("Search failed: check your connection and try again.", { kind: "error" });
    }
  };

  input.addEventListener("input", () => {
    clearTimeout(timer);
    const q = input.value.trim();
    if (q === shown) return;
    timer = setTimeout(() => search(q), DEBOUNCE_MS);
  });
  searchForm.addEventListener("submit", (event) => {
    event.preventDefault();
    clearTimeout(timer);
    search(input.value.trim());
  });
  input.addEventListener("keydown", (event) => {
    if (event.key === "ArrowDown") {
      const first = document.querySelector("#customer-results a");
      if (first) {
        event.preventDefault();
        first.focus();
      }
    } else if (event.key === "Escape" && input.value) {
      event.preventDefault();
      input.value = "";
      input.dispatchEvent(new Event("input"));
    }
  });
  // Arrow keys move between results; ArrowUp from the first goes back to the box.
  document.addEventListener("keydown", (event) => {
    const link = event.target instanceof Element ? event.target.closest("#customer-results a") : null;
    if (!link || (event.key !== "ArrowDown" && event.key !== "ArrowUp")) return;
    const links = [...document.querySelectorAll("#customer-results a")];
    const i = links.indexOf(link);
    event.preventDefault();
    if (event.key === "ArrowDown") links[Math.min(i + 1, links.length - 1)]?.focus();
    else if (i === 0) input.focus();
    else links[i - 1]?.focus();
  });
}

// ------------------------------------------------------------------------------------------ undo

async function undo(id) {
  try {
    await api("POST", `/api/v1/customers/merges/${encodeURIComponent(id)}/undo`);
    toast("Merge undone: the customers stand apart again.", { kind: "success" });
  } catch (e) {
    if (e instanceof ApiProblem && (e.status === 409 || e.status === 404)) {
      toast(e.status === 409 ? "This merge was already undone." : "This merge no longer exists.", { kind: "error" });
    } else {
      toast(e instanceof ApiProblem && e.detail ? e.detail : "The merge was not undone. Try again.", { kind: "error" });
      return;
    }
  }
  // The server renders what is left to undo.
  await refreshMain();
}

// ------------------------------------------------------------------------------------------ suggestions

async function merge(card, button) {
  const survivor = card.dataset.survivorId;
  const merged = card.dataset.mergedId;
  const name = card.dataset.mergedName ?? "";
  button.disabled = true;
  try {
    const result = await api("POST", "/api/v1/customers/merge", { survivor_id: survivor, merged_id: merged });
    const here = document.getElementById("merge-suggestions")?.dataset.customerId;
    if (here === merged) {
      // This profile was merged away: go to the one that remains (its "Undo merge" box offers the undo).
      location.assign(`/app/customers/${encodeURIComponent(survivor)}`);
      return;
    }
    await refreshMain();
    toast(`Merged ${name || "the customer"} into this customer.`, {
      kind: "success",
      action: { label: "Undo", run: () => undo(result.id) },
      timeout: 10000,
    });
  } catch (e) {
    toast(e instanceof ApiProblem && e.detail ? e.detail : "The customers were not merged. Try again.", {
      kind: "error",
    });
    if (button.isConnected) button.disabled = false;
  }
}

async function dismiss(card, button) {
  button.disabled = true;
  try {
    await api("POST", `/api/v1/customers/merge-suggestions/${encodeURIComponent(card.dataset.suggestionId)}/dismiss`);
    await refreshMain();
    toast("Suggestion dismissed: they stay separate customers.", { kind: "success" });
  } catch (e) {
    toast(e instanceof ApiProblem && e.detail ? e.detail : "The suggestion was not dismissed. Try again.", {
      kind: "error",
    });
    if (button.isConnected) button.disabled = false;
  }
}

// ------------------------------------------------------------------------------------------ delete

async function deleteCustomer(form) {
  const slot = form.querySelector('[data-error-for="confirm"]');
  const typed = form.elements.namedItem("confirm");
  slot.textContent = "";
  typed.removeAttribute("aria-invalid");
  const expected = (form.dataset.confirmText ?? "").trim().toLowerCase();
  if (typed.value.trim().toLowerCase() !== expected) {
    slot.textContent = "Type the customer's name exactly as shown to confirm.";
    typed.setAttribute("aria-invalid", "true");
    typed.focus();
    return;
  }
  const submit = form.querySelector('button[type="submit"]');
  submit.disabled = true;
  try {
    await api("DELETE", `/api/v1/customers/${encodeURIComponent(form.dataset.customerId)}`);
    try {
      sessionStorage.setItem(FLASH_KEY, "The customer and everything about them was deleted.");
    } catch {
      // no storage: the list page simply shows without the message
    }
    location.assign("/app/customers");
  } catch (e) {
    slot.textContent = e instanceof ApiProblem && e.detail ? e.detail : "The customer was not deleted. Try again.";
    submit.disabled = false;
  }
}

// ------------------------------------------------------------------------------------------ wiring

document.addEventListener("click", (event) => {
  const target = event.target instanceof Element ? event.target : null;
  if (!target) return;
  const action = target.closest(".suggestion [data-action]");
  if (action) {
    const card = action.closest(".suggestion");
    if (action.dataset.action === "merge") merge(card, action);
    else if (action.dataset.action === "dismiss") dismiss(card, action);
    return;
  }
  const undoButton = target.closest("#merge-undo [data-action=undo-merge]");
  if (undoButton) {
    undoButton.disabled = true;
    undo(undoButton.dataset.mergeId).finally(() => {
      if (undoButton.isConnected) undoButton.disabled = false;
    });
    return;
  }
  if (target.closest("#delete-open")) {
    const dialog = document.getElementById("delete-dialog");
    if (dialog && !dialog.open) {
      dialog.querySelector("form")?.reset();
      dialog.showModal();
      dialog.querySelector("#delete-confirm")?.focus();
    }
    return;
  }
  if (target.closest("#delete-dialog [data-action=close]")) target.closest("dialog")?.close();
});

document.addEventListener("submit", (event) => {
  if (event.target instanceof HTMLFormElement && event.target.id === "delete-form") {
    event.preventDefault();
    deleteCustomer(event.target);
  }
});

try {
  const flash = sessionStorage.getItem(FLASH_KEY);
  if (flash) {
    sessionStorage.removeItem(FLASH_KEY);
    toast(flash, { kind: "success" });
  }
} catch {
  // no storage
}
