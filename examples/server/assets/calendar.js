// The calendar page (/app/calendar): places week events on the time grid from their data-start-min /
// data-duration-min / data-lane / data-lanes attributes (CSSOM custom properties; calendar.css uses them only
// on wide screens, phones read the same markup as an agenda), the feed link's Copy button, and live refresh.
import { toast, announce, onEvent, refreshMain, onEnhance } from "./app.js";

function placeEvents(root) {
  const calendar = root.querySelector?.("#calendar[data-view=week]");
  if (!calendar) return;
  const first = Number(calendar.dataset.firstHour || 0) * 60;
  const last = Number(calendar.dataset.lastHour || 24) * 60;
  calendar.style.setProperty("--cal-minutes", String(last - first));
  for (const event of calendar.querySelectorAll("a.cal-event")) {
    const start = Number(event.dataset.startMin) - first;
    const duration = Number(event.dataset.durationMin);
    event.style.setProperty("--start", String(Math.max(0, start)));
    event.style.setProperty("--duration", String(Math.max(15, duration)));
    event.style.setProperty("--lane", event.dataset.lane || "0");
    event.style.setProperty("--lanes", event.dataset.lanes || "1");
  }
  calendar.classList.add("positioned");
}

function wireSubscribe(root) {
  const section = root.querySelector?.("#calendar-subscribe");
  if (!section || section.dataset.ready) return;
  section.dataset.ready = "1";
  const input = section.querySelector("#feed-url");
  // Without a configured public URL the server gives a host-relative link; calendar apps need it absolute.
  if (input.value.startsWith("/")) {
    input.value = new URL(input.value, location.origin).href;
    const webcal = section.querySelector("#feed-webcal");
    if (webcal) webcal.href = input.value.replace(/^https?:/, "webcal:");
  }
  input.addEventListener("focus", () => input.select());
  section.querySelector("[data-copy]")?.addEventListener("click", async () => {
    try {
      await navigator.clipboard.writeText(input.value);
      toast("Feed link copied", { kind: "success" });
    } catch {
      input.focus();
      input.select();
      toast("Copy did not work here: the link is selected, copy it with your keyboard or menu.", { kind: "error" });
    }
  });
}

function init(root) {
  placeEvents(root);
  wireSubscribe(root);
}

let pending = 0;
function refreshSoon() {
  clearTimeout(pending);
  pending = setTimeout(async () => {
    await refreshMain();
    announce("Calendar updated");
  }, 500);
}

for (const kind of ["job.created", "job.updated", "job.moved", "reload"]) onEvent(kind, refreshSoon);
onEnhance(init);
if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", () => init(document));
else init(document);
