// Call list (/app/calls; see src/web/calls.rs): live rows. A call event re-fetches that call's row fragment
// (GET /app/calls/rows/{id}, server-rendered and tenant-scoped) and swaps it in; a new call on the first page
// is inserted in time order when it belongs to the current tab.
import { announce, onEvent } from "./app.js";

const list = document.getElementById("call-list");
const KINDS = ["call.received", "call.step", "call.finished", "call.needs_review", "call.dead"];

function rowTime(row) {
  return Date.parse(row.querySelector("time[datetime]")?.getAttribute("datetime") ?? "") || 0;
}

if (list) {
  const filter = list.dataset.stateFilter ?? "";
  const firstPage = (list.dataset.offset ?? "0") === "0";
  const inflight = new Map(); // call id → AbortController (a newer event for a call replaces the older fetch)

  const refreshRow = async (id) => {
    inflight.get(id)?.abort();
    const controller = new AbortController();
    inflight.set(id, controller);
    try {
      const response = await fetch(`/app/calls/rows/${encodeURIComponent(id)}`, {
        headers: { Accept: "text/html" },
        credentials: "same-origin",
        signal: controller.signal,
      });
      if (!response.ok || response.redirected) return;
      const template = document.createElement("template");
      template.innerHTML = (await response.text()).trim();
      const row = template.content.firstElementChild;
      if (!row || row.dataset.callId !== id) return;
      const existing = list.querySelector(`li[data-call-id="${CSS.escape(id)}"]`);
      if (existing) {
        // Kept in place even when it leaves the tab's state: rows do not vanish under the user's finger.
        existing.replaceWith(row);
      } else {
        if (!firstPage || (filter && row.dataset.state !== filter)) return;
        const when = rowTime(row);
        const before = [...list.children].find((li) => rowTime(li) < when);
        list.insertBefore(row, before ?? null);
        document.getElementById("call-list-empty")?.remove();
        announce(`New call: ${row.querySelector(".call-link")?.textContent ?? ""}`);
      }
      row.classList.add("flash");
      setTimeout(() => row.classList.remove("flash"), 1600);
    } catch (e) {
      if (e?.name !== "AbortError") console.error(e);
    } finally {
      if (inflight.get(id) === controller) inflight.delete(id);
    }
  };

  for (const kind of KINDS) {
    onEvent(kind, (data) => {
      if (typeof data?.call_id === "string") refreshRow(data.call_id);
    });
  }
}
