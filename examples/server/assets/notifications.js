// Notifications: following a row's link marks it read first; live events refresh the list.
import { api, onEvent, refreshMain } from "./app.js";

document.addEventListener("click", async (event) => {
  const link = event.target.closest?.("#notification-list li.unread a.notification-link");
  if (!link || event.defaultPrevented || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey) return;
  const id = link.closest("li").dataset.notificationId;
  event.preventDefault();
  try {
    await api("POST", `/api/v1/notifications/${encodeURIComponent(id)}/read`);
  } catch {
    /* still go there: reading it is what matters */
  }
  location.assign(link.href);
});

let timer = null;
for (const kind of ["job.created", "job.moved", "job.updated", "call.finished", "call.needs_review", "call.dead", "call.received", "reload"]) {
  onEvent(kind, () => {
    clearTimeout(timer);
    // the inbox row is written beside the live event: look a moment later
    timer = setTimeout(refreshMain, 800);
  });
}
