// Home: re-render the glance when a live event says calls or jobs changed (debounced).
import { onEvent, refreshMain } from "./app.js";

let timer = null;
function soon() {
  clearTimeout(timer);
  timer = setTimeout(() => {
    if (document.visibilityState === "visible") refreshMain();
    else pending = true;
  }, 800);
}
let pending = false;
document.addEventListener("visibilitychange", () => {
  if (pending && document.visibilityState === "visible") {
    pending = false;
    refreshMain();
  }
});

for (const kind of ["call.received", "call.finished", "call.needs_review", "call.dead", "job.created", "job.moved", "reload"]) {
  onEvent(kind, soon);
}
