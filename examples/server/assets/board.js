// Pipeline board (/app/board): drag and drop (pointer events: mouse, touch with a long press, pen), keyboard moves,
// a "Move to…" dialog, optimistic moves with rollback, live updates from the event stream and filters that
// submit on change. Everything is delegated from the document: no per-card listeners, so 1,000 cards cost nothing
// extra, and the board keeps working after refreshMain() replaces #main.
import { api, toast, announce, onEvent, refreshMain } from "./app.js";

const LONG_PRESS_MS = 250; // touch: hold this long to pick a card up; moving earlier is a scroll
const MOUSE_SLOP = 4; // px a mouse moves before a press becomes a drag
const TOUCH_SLOP = 10; // px a finger may wander during the long press
const EDGE = 56; // px from a scroll container's edge where dragging auto-scrolls
const MAX_SCROLL = 18; // px per frame at the very edge
const GAP = 1024; // position step the store uses for new cards
const CONFLICT = "Someone else changed this job";

document.documentElement.classList.add("board-js");

// ------------------------------------------------------------------------------------------------ DOM helpers

const isCard = (el) => el?.classList?.contains("job-card") && !el.classList.contains("dragging");
const boardRoot = () => document.getElementById("board");
const listOf = (stage) => document.querySelector(`section.column[data-stage="${stage}"] > ol.cards`);
const cardById = (id) => document.querySelector(`li.job-card[data-job-id="${CSS.escape(id)}"]`);
const cardsIn = (list) => Array.prototype.filter.call(list.children, isCard);
const stageOf = (list) => list.closest("section.column").dataset.stage;
const stageLabel = (stage) =>
  document.querySelector(`section.column[data-stage="${stage}"] .stage-name`)?.textContent ?? stage;
const titleOf = (card) => card.querySelector(".summary")?.textContent ?? "job";
const stages = () => Array.from(document.querySelectorAll("section.column[data-stage]"), (c) => c.dataset.stage);

function prevCard(card) {
  let el = card.previousElementSibling;
  while (el && !isCard(el)) el = el.previousElementSibling;
  return el;
}
function nextCard(card) {
  let el = card.nextElementSibling;
  while (el && !isCard(el)) el = el.nextElementSibling;
  return el;
}

/** Board order: position, then id (lower-case UUID text sorts like the store's bytes). */
function compare(pos, id, card) {
  const p = Number(card.dataset.position);
  if (pos !== p) return pos < p ? -1 : 1;
  const other = card.dataset.jobId;
  return id < other ? -1 : id > other ? 1 : 0;
}

/**
 * A position that sorts `id` between `prev` and `next`; `null` = end of an empty column (the server picks);
 * `undefined` = no integer fits (the cards after it must be renumbered).
 */
export function positionBetween(prev, next, id) {
  if (!prev && !next) return null;
  if (!prev) return Number(next.dataset.position) - GAP;
  if (!next) return Number(prev.dataset.position) + GAP;
  const a = Number(prev.dataset.position);
  const b = Number(next.dataset.position);
  if (b - a >= 2) return Math.floor(a + (b - a) / 2);
  if (compare(a, id, prev) > 0 && compare(a, id, next) < 0) return a;
  if (compare(b, id, prev) > 0 && compare(b, id, next) < 0) return b;
  return undefined;
}

function updateCounts() {
  const counts = new Map();
  let total = 0;
  for (const list of document.querySelectorAll("section.column[data-stage] > ol.cards")) {
    const n = cardsIn(list).length;
    counts.set(stageOf(list), n);
    total += n;
  }
  for (const el of document.querySelectorAll("[data-count-for]")) {
    const n = String(counts.get(el.dataset.countFor) ?? 0);
    if (el.textContent !== n) el.textContent = n;
  }
  const totalEl = document.getElementById("board-total");
  if (totalEl) totalEl.textContent = String(total);
  const noun = document.getElementById("board-noun");
  if (noun) noun.textContent = total === 1 ? "job" : "jobs";
}

function flash(card) {
  card.classList.remove("remote-change");
  void card.offsetWidth; // restart the animation
  card.classList.add("remote-change");
  setTimeout(() => card.classList.remove("remote-change"), 2000);
}

function whereIs(card) {
  const list = card.parentElement;
  const cards = cardsIn(list);
  return `${stageLabel(stageOf(list))}, position ${cards.indexOf(card) + 1} of ${cards.length}`;
}

// ------------------------------------------------------------------------------------------------ saving moves

/** Job id → the version our own pending move will produce: its echo on the event stream is ignored. */
const pending = new Map();

async function saveMove(card, origin, { quiet = false } = {}) {
  const list = card.parentElement;
  const stage = stageOf(list);
  const id = card.dataset.jobId;
  if (list === origin.list && card.nextElementSibling === origin.next) {
    if (!quiet) announce(`${titleOf(card)} not moved`);
    return;
  }
  let position = positionBetween(prevCard(card), nextCard(card), id);
  const renumber = position === undefined;
  if (renumber) position = Number(prevCard(card).dataset.position) + 1;
  const version = Number(card.dataset.version);
  pending.set(id, version + 1);
  card.dataset.stage = stage;
  card.setAttribute("aria-busy", "true");
  card.classList.add("saving");
  updateCounts();
  try {
    const body = position === null ? { stage } : { stage, position };
    const job = await api("POST", `/api/v1/jobs/${encodeURIComponent(id)}/move`, body, { ifMatch: version });
    applyJob(card, job);
    if (!quiet) announce(`${titleOf(card)} moved to ${whereIs(card)}`);
    if (renumber) await renumberAfter(card);
  } catch (error) {
    rollback(card, origin);
    if (error?.status === 409 && error?.code === "version_conflict") {
      toast(CONFLICT, { kind: "error" });
      announce(`${CONFLICT}. The card went back.`);
      await refreshCard(id, { highlight: true });
    } else {
      const why = error?.detail || error?.title || error?.message || "the server did not answer";
      toast(`Could not move the job: ${why}`, { kind: "error" });
      announce("The move was not saved. The card went back.");
    }
  } finally {
    pending.delete(id);
    card.removeAttribute("aria-busy");
    card.classList.remove("saving");
    flushDeferred();
  }
}

function applyJob(card, job) {
  card.dataset.version = String(job.version);
  card.dataset.stage = job.stage;
  card.dataset.position = String(job.position);
}

function rollback(card, origin) {
  const next = origin.next?.parentElement === origin.list ? origin.next : null;
  const focused = card.contains(document.activeElement);
  origin.list.insertBefore(card, next);
  card.dataset.stage = origin.stage;
  if (focused) card.focus({ preventScroll: true });
  updateCounts();
}

/** No integer fitted between the neighbours: shift the following cards up by one until the order holds. */
async function renumberAfter(card) {
  let last = card;
  for (let next = nextCard(card); next; next = nextCard(next)) {
    const pos = Number(last.dataset.position);
    if (compare(pos, last.dataset.jobId, next) < 0) return;
    const version = Number(next.dataset.version);
    const id = next.dataset.jobId;
    pending.set(id, version + 1);
    try {
      const job = await api(
        "POST",
        `/api/v1/jobs/${encodeURIComponent(id)}/move`,
        { stage: stageOf(next.parentElement), position: pos + 1 },
        { ifMatch: version },
      );
      applyJob(next, job);
    } catch {
      toast("The column's order changed meanwhile; reloading it", { kind: "error" });
      await refreshMain();
      return;
    } finally {
      pending.delete(id);
    }
    last = next;
  }
}

// ------------------------------------------------------------------------------------------------ live updates

/** Events that arrive while a card is being dragged or saved are applied afterwards. */
const deferred = new Set();
let reloadDeferred = false;

function busy() {
  return drag !== null || grabbed !== null || pending.size > 0;
}

function flushDeferred() {
  if (busy()) return;
  if (reloadDeferred) {
    reloadDeferred = false;
    deferred.clear();
    refreshMain();
    return;
  }
  const ids = Array.from(deferred);
  deferred.clear();
  for (const id of ids) refreshCard(id, { highlight: true });
}

/** Fetches a card (the board's filters applied) and puts it where the board order says; 204/404 removes it. */
async function refreshCard(id, { highlight = false } = {}) {
  if (!boardRoot()) return;
  let response;
  try {
    response = await fetch(`/app/board/cards/${encodeURIComponent(id)}${location.search}`, {
      credentials: "same-origin",
      headers: { Accept: "text/html" },
    });
  } catch {
    return; // offline: the stream's reconnect replays the event
  }
  if (drag?.card.dataset.jobId === id || grabbed?.card.dataset.jobId === id) {
    deferred.add(id);
    return;
  }
  const existing = cardById(id);
  if (response.status === 204 || response.status === 404) {
    if (existing) {
      existing.remove();
      updateCounts();
    }
    return;
  }
  if (!response.ok) return;
  const template = document.createElement("template");
  template.innerHTML = (await response.text()).trim();
  const fresh = template.content.firstElementChild;
  if (!fresh?.classList.contains("job-card") || fresh.dataset.jobId !== id) return;
  const current = cardById(id);
  if (current && Number(current.dataset.version) > Number(fresh.dataset.version)) return;
  const focused = current?.contains(document.activeElement);
  current?.remove();
  if (!place(fresh)) {
    updateCounts();
    return;
  }
  if (focused) fresh.focus({ preventScroll: true });
  if (highlight) flash(fresh);
  updateCounts();
}

/** Inserts a card into its stage's column in board order (binary search); false when there is no such column. */
function place(card) {
  const list = listOf(card.dataset.stage);
  if (!list) return false;
  const cards = cardsIn(list);
  const pos = Number(card.dataset.position);
  const id = card.dataset.jobId;
  let lo = 0;
  let hi = cards.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (compare(pos, id, cards[mid]) < 0) hi = mid;
    else lo = mid + 1;
  }
  list.insertBefore(card, cards[lo] ?? null);
  return true;
}

function onJob(event) {
  const id = event?.job_id;
  if (!id || !boardRoot()) return;
  const version = Number(event.data?.version);
  if (Number.isFinite(version)) {
    if (pending.get(id) === version) return; // our own move's echo
    const card = cardById(id);
    if (card && Number(card.dataset.version) >= version) return;
  }
  if (busy()) deferred.add(id);
  else refreshCard(id, { highlight: true });
}

for (const kind of ["job.moved", "job.created", "job.updated"]) onEvent(kind, onJob);
onEvent("reload", () => {
  if (!boardRoot()) return;
  if (busy()) reloadDeferred = true;
  else refreshMain();
});

// ------------------------------------------------------------------------------------------------ pointer drag

let press = null; // a pointer is down on a card, not yet dragging
let drag = null; // a card is being dragged
let suppressClick = false;

function cancelPress() {
  if (!press) return;
  clearTimeout(press.timer);
  press.card.classList.remove("pressing");
  press = null;
}

document.addEventListener("pointerdown", (e) => {
  if (drag || grabbed || !e.isPrimary || e.button !== 0) return;
  const card = e.target.closest?.("li.job-card");
  if (!card || !boardRoot()?.parentElement.contains(card)) return;
  if (e.target.closest("button, input, select, textarea") || card.classList.contains("saving")) return;
  press = { card, pointerId: e.pointerId, type: e.pointerType, x: e.clientX, y: e.clientY, timer: 0 };
  if (e.pointerType !== "mouse") {
    card.classList.add("pressing");
    press.timer = setTimeout(() => startDrag(press.x, press.y), LONG_PRESS_MS);
  }
});

document.addEventListener("pointermove", (e) => {
  if (drag && e.pointerId === drag.pointerId) {
    drag.x = e.clientX;
    drag.y = e.clientY;
    schedule();
    return;
  }
  if (!press || e.pointerId !== press.pointerId) return;
  const distance = Math.hypot(e.clientX - press.x, e.clientY - press.y);
  if (press.type === "mouse") {
    if (distance > MOUSE_SLOP) startDrag(e.clientX, e.clientY, press.x, press.y);
  } else if (distance > TOUCH_SLOP) {
    cancelPress(); // the finger moved before the long press: it is a scroll
  }
});

document.addEventListener("pointerup", (e) => {
  if (drag && e.pointerId === drag.pointerId) drop();
  else if (press && e.pointerId === press.pointerId) cancelPress();
});

document.addEventListener("pointercancel", (e) => {
  if (drag && e.pointerId === drag.pointerId) endDrag(false);
  else if (press && e.pointerId === press.pointerId) cancelPress();
});

// Once a card is picked up by touch, the finger moves the card, not the page.
document.addEventListener(
  "touchmove",
  (e) => {
    if (drag && e.cancelable) e.preventDefault();
  },
  { passive: false },
);

document.addEventListener("contextmenu", (e) => {
  if ((press || drag) && e.target.closest?.("li.job-card")) e.preventDefault();
});

document.addEventListener(
  "click",
  (e) => {
    if (suppressClick) {
      e.preventDefault();
      e.stopPropagation();
    }
  },
  true,
);

document.addEventListener("dragstart", (e) => {
  if (e.target.closest?.("li.job-card")) e.preventDefault();
});

function startDrag(x, y, fromX = x, fromY = y) {
  if (!press) return;
  const { card, pointerId } = press;
  clearTimeout(press.timer);
  card.classList.remove("pressing");
  press = null;
  const rect = card.getBoundingClientRect();
  const placeholder = document.createElement("li");
  placeholder.className = "drop-placeholder";
  placeholder.setAttribute("aria-hidden", "true");
  placeholder.style.height = `${rect.height}px`;
  const origin = { list: card.parentElement, next: card.nextElementSibling, stage: card.dataset.stage };
  card.parentElement.insertBefore(placeholder, card);
  card.style.width = `${rect.width}px`;
  card.style.height = `${rect.height}px`;
  card.style.left = `${rect.left}px`;
  card.style.top = `${rect.top}px`;
  card.classList.add("dragging");
  try {
    card.setPointerCapture(pointerId);
  } catch {
    // the pointer is already gone; pointerup/cancel ends the drag
  }
  drag = { card, pointerId, origin, placeholder, startX: fromX, startY: fromY, x, y, raf: 0, list: origin.list };
  document.documentElement.classList.add("board-dragging");
  // the columns keep their height while the card is away, so the finger stays over them
  const board = boardRoot();
  if (board) board.style.minHeight = `${board.getBoundingClientRect().height}px`;
  announce(`Picked up ${titleOf(card)}`);
  schedule();
}

function schedule() {
  if (drag && !drag.raf) drag.raf = requestAnimationFrame(frame);
}

/** One frame of a drag: move the card (a transform, no layout), find the drop place, auto-scroll. */
function frame() {
  if (!drag) return;
  drag.raf = 0;
  const { card, x, y, placeholder } = drag;
  card.style.transform = `translate3d(${x - drag.startX}px, ${y - drag.startY}px, 0)`;
  const under = document.elementFromPoint(x, y);
  const drawer = under?.closest?.("details.drawer");
  if (drawer && !drawer.open) drawer.open = true;
  const list = under?.closest?.("section.column")?.querySelector("ol.cards");
  if (list) {
    const before = insertionPoint(list, y);
    if (placeholder.parentElement !== list || placeholder.nextElementSibling !== before) {
      list.insertBefore(placeholder, before);
    }
    drag.list = list;
  }
  if (autoScroll(drag.list, x, y)) schedule();
}

/** The first card whose middle is below `y` (binary search: cards are stacked top to bottom). */
function insertionPoint(list, y) {
  const cards = cardsIn(list);
  let lo = 0;
  let hi = cards.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    const r = cards[mid].getBoundingClientRect();
    if (y < r.top + r.height / 2) hi = mid;
    else lo = mid + 1;
  }
  return cards[lo] ?? null;
}

function edgeSpeed(distance) {
  return distance < EDGE ? Math.ceil(((EDGE - Math.max(distance, 0)) / EDGE) * MAX_SCROLL) : 0;
}

/** Scrolls the column under the pointer, the board (sideways, phones) and the page near their edges. */
function autoScroll(list, x, y) {
  let moved = false;
  const scroll = (el, dx, dy) => {
    const beforeLeft = el.scrollLeft;
    const beforeTop = el.scrollTop;
    el.scrollBy(dx, dy);
    moved ||= el.scrollLeft !== beforeLeft || el.scrollTop !== beforeTop;
  };
  if (list) {
    const r = list.getBoundingClientRect();
    const up = edgeSpeed(y - r.top);
    const down = edgeSpeed(r.bottom - y);
    if (up || down) scroll(list, 0, down - up);
  }
  const board = boardRoot();
  if (board && board.scrollWidth > board.clientWidth) {
    const r = board.getBoundingClientRect();
    const left = edgeSpeed(x - r.left);
    const right = edgeSpeed(r.right - x);
    if (left || right) scroll(board, right - left, 0);
  }
  const page = document.scrollingElement;
  const up = edgeSpeed(y);
  const down = edgeSpeed(innerHeight - y);
  if (page && (up || down)) scroll(page, 0, down - up);
  return moved;
}

function drop() {
  endDrag(true);
}

function endDrag(keep) {
  const { card, placeholder, origin, raf } = drag;
  if (raf) cancelAnimationFrame(raf);
  drag = null;
  document.documentElement.classList.remove("board-dragging");
  boardRoot()?.style.removeProperty("min-height");
  card.classList.remove("dragging");
  for (const p of ["width", "height", "left", "top", "transform"]) card.style.removeProperty(p);
  if (keep && placeholder.parentElement) placeholder.replaceWith(card);
  else placeholder.remove();
  // the click that may follow the release (a touch long press can still end in a tap) must not open the job
  suppressClick = true;
  setTimeout(() => {
    suppressClick = false;
  }, 400);
  if (keep) saveMove(card, origin);
  else {
    rollback(card, origin);
    announce("Move cancelled");
    flushDeferred();
  }
}

// ------------------------------------------------------------------------------------------------ keyboard

let grabbed = null; // { card, origin } while a card is picked up with the keyboard

function grab(card) {
  grabbed = { card, origin: { list: card.parentElement, next: card.nextElementSibling, stage: card.dataset.stage } };
  card.classList.add("grabbed");
  card.setAttribute("aria-grabbed", "true");
  announce(
    `Picked up ${titleOf(card)}, ${whereIs(card)}. Arrow keys move it, Space drops it, Escape cancels.`,
  );
}

function release(save) {
  const { card, origin } = grabbed;
  grabbed = null;
  card.classList.remove("grabbed");
  card.removeAttribute("aria-grabbed");
  if (save) saveMove(card, origin);
  else {
    rollback(card, origin);
    announce(`Move cancelled. ${titleOf(card)} is back in ${whereIs(card)}`);
    flushDeferred();
  }
}

/** Moves the focused card in the DOM without losing focus. */
function moveCard(card, list, before) {
  list.insertBefore(card, before);
  card.focus({ preventScroll: true });
  card.scrollIntoView({ block: "nearest", inline: "nearest" });
  announce(whereIs(card));
}

function neighbourList(list, step) {
  const all = stages();
  const stage = all[all.indexOf(stageOf(list)) + step];
  if (!stage) return null;
  const target = listOf(stage);
  const drawer = target?.closest("details.drawer");
  if (drawer) drawer.open = true;
  return target;
}

document.addEventListener("keydown", (e) => {
  if (drag && e.key === "Escape") {
    e.preventDefault();
    endDrag(false);
    return;
  }
  const card = e.target;
  if (!card?.classList?.contains("job-card")) return;
  const list = card.parentElement;
  if (grabbed?.card === card) {
    const cards = cardsIn(list);
    const i = cards.indexOf(card);
    switch (e.key) {
      case " ":
      case "Enter":
        release(true);
        break;
      case "Escape":
        release(false);
        break;
      case "ArrowUp":
        if (i > 0) moveCard(card, list, cards[i - 1]);
        break;
      case "ArrowDown":
        if (i < cards.length - 1) moveCard(card, list, cards[i + 1].nextElementSibling);
        break;
      case "ArrowLeft":
      case "ArrowRight": {
        const target = neighbourList(list, e.key === "ArrowLeft" ? -1 : 1);
        if (target) {
          const others = cardsIn(target);
          moveCard(card, target, others[Math.min(i, others.length)] ?? null);
        }
        break;
      }
      case "Tab":
        release(false);
        return;
      default:
        return;
    }
    e.preventDefault();
    return;
  }
  if (grabbed || e.altKey || e.ctrlKey || e.metaKey) return;
  const cards = cardsIn(list);
  const i = cards.indexOf(card);
  let target = null;
  switch (e.key) {
    case " ":
    case "Enter":
      e.preventDefault();
      if (card.classList.contains("saving")) announce("Still saving the last move of this job");
      else grab(card);
      return;
    case "ArrowUp":
      target = cards[i - 1];
      break;
    case "ArrowDown":
      target = cards[i + 1];
      break;
    case "ArrowLeft":
    case "ArrowRight": {
      const all = stages();
      const step = e.key === "ArrowLeft" ? -1 : 1;
      for (let s = all.indexOf(stageOf(list)) + step; s >= 0 && s < all.length && !target; s += step) {
        const other = cardsIn(listOf(all[s]));
        target = other[Math.min(i, other.length - 1)];
      }
      break;
    }
    default:
      return;
  }
  if (target) {
    e.preventDefault();
    target.focus();
  }
});

document.addEventListener("focusout", (e) => {
  // focus left a picked-up card for something else (a click elsewhere): put the card back
  if (grabbed && e.target === grabbed.card && e.relatedTarget && e.relatedTarget !== grabbed.card) {
    release(false);
  }
});

// ------------------------------------------------------------------------------------------------ "Move to…"

let moving = null; // the card the dialog is open for

document.addEventListener("click", (e) => {
  const button = e.target.closest?.("button.move-button");
  if (!button) return;
  const card = button.closest("li.job-card");
  const dialog = document.getElementById("move-dialog");
  if (!card || !dialog || busy()) return;
  moving = card;
  document.getElementById("move-dialog-job").textContent = titleOf(card);
  document.getElementById("move-stage").value = card.dataset.stage;
  dialog.returnValue = "";
  dialog.showModal();
});

document.addEventListener(
  "close",
  (e) => {
    if (e.target.id !== "move-dialog") return;
    const card = moving;
    moving = null;
    if (!card?.isConnected) return;
    card.focus({ preventScroll: true });
    if (e.target.returnValue !== "move") return;
    const list = listOf(document.getElementById("move-stage").value);
    if (!list) return;
    const drawer = list.closest("details.drawer");
    if (drawer) drawer.open = true;
    const origin = { list: card.parentElement, next: card.nextElementSibling, stage: card.dataset.stage };
    const top = document.getElementById("move-place").value === "top";
    const first = cardsIn(list).find((c) => c !== card) ?? null;
    list.insertBefore(card, top ? first : null);
    card.focus({ preventScroll: true });
    card.scrollIntoView({ block: "nearest", inline: "nearest" });
    saveMove(card, origin);
  },
  true,
);

// ------------------------------------------------------------------------------------------------ filters

// A typed date changes with every digit of the year: wait for a pause before applying it.
let dateTimer = 0;
const DATE_PAUSE_MS = 800;

document.addEventListener("change", (e) => {
  const form = e.target.closest?.("form#board-filters");
  if (!form) return;
  clearTimeout(dateTimer);
  if (e.target.type === "date") dateTimer = setTimeout(() => form.requestSubmit(), DATE_PAUSE_MS);
  else form.requestSubmit();
});

document.addEventListener("input", (e) => {
  if (dateTimer && e.target.type === "date" && e.target.closest?.("form#board-filters")) {
    clearTimeout(dateTimer);
    dateTimer = setTimeout(() => e.target.form.requestSubmit(), DATE_PAUSE_MS);
  }
});

// Empty fields are left out of the URL, so a shared link says only what is filtered.
document.addEventListener("submit", (e) => {
  const form = e.target;
  if (form.id !== "board-filters") return;
  for (const field of form.elements) {
    if (field.name && field.value === "") field.disabled = true;
  }
  setTimeout(() => {
    for (const field of form.elements) field.disabled = false;
  }, 0);
});

addEventListener("pageshow", () => {
  const form = document.getElementById("board-filters");
  if (form) for (const field of form.elements) field.disabled = false;
});

// ------------------------------------------------------------------------------------------------ layout

// Wider than a phone the filters always show: open their drawer (the summary is hidden by board.css).
const wide = matchMedia("(min-width: 721px)");
function openFiltersWhenWide() {
  const drawer = document.getElementById("board-filters-drawer");
  if (drawer && wide.matches) drawer.open = true;
}
wide.addEventListener("change", openFiltersWhenWide);
openFiltersWhenWide();

// /app/board#stage-confirmed (home's links): bring that column into view; on a phone the board scrolls
// sideways, so scroll it to the column rather than only the page to the board.
function showStageFromHash() {
  const id = decodeURIComponent(location.hash.slice(1));
  if (!id.startsWith("stage-")) return;
  const column = document.getElementById(id);
  const board = document.getElementById("board");
  if (!column || !board || !board.contains(column)) return;
  const instant = matchMedia("(prefers-reduced-motion: reduce)").matches ? "auto" : "smooth";
  const left = board.scrollLeft + column.getBoundingClientRect().left - board.getBoundingClientRect().left - 8;
  board.scrollTo({ left, behavior: instant });
  board.scrollIntoView({ block: "start", behavior: "auto" });
}
addEventListener("hashchange", showStageFromHash);
if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", showStageFromHash);
else showStageFromHash();
