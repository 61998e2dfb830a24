// One timer for the engine deadlines of every session. A server keeps idle
// connections by the thousand, each with a deadline (its idle timeout, on by
// default); a timer per session cost about 260 bytes of heap each (measured
// with 3000 idle connections). Entries sit in a binary min-heap by deadline,
// each knowing its index, and one timer is armed for the earliest.

const heap = [];
let timer = null;
let timerAt = Infinity;

/**
 * An entry for `owner`, whose `deadlineDue()` is called once `at` has
 * passed; `at` < 0 is no deadline.
 */
export function deadlineEntry(owner) {
  return { at: -1, index: -1, owner };
}

/** Sets (or, with `at` < 0, clears) the entry's deadline. */
export function setDeadline(entry, at) {
  if (at < 0) {
    remove(entry);
    return;
  }
  if (entry.index < 0) {
    entry.at = at;
    entry.index = heap.length;
    heap.push(entry);
    up(entry.index);
  } else {
    const earlier = at < entry.at;
    entry.at = at;
    if (earlier) up(entry.index);
    else down(entry.index);
  }
  arm();
}

function remove(entry) {
  const i = entry.index;
  if (i < 0) return;
  entry.index = -1;
  entry.at = -1;
  const last = heap.pop();
  if (last !== entry) {
    heap[i] = last;
    last.index = i;
    up(i);
    down(last.index);
  }
}

/** Arms the timer for the earliest deadline, unless one armed fires sooner
 * (an early wake-up finds nothing due and arms again). */
function arm() {
  const first = heap[0];
  if (!first || first.at >= timerAt) return;
  clearTimeout(timer);
  timerAt = first.at;
  // +1: the engine's clock must have reached the deadline when it is told.
  timer = setTimeout(fire, Math.max(0, first.at - performance.now()) + 1);
  timer.unref?.();
}

function fire() {
  timer = null;
  timerAt = Infinity;
  const now = performance.now();
  while (heap.length > 0 && heap[0].at <= now) {
    const entry = heap[0];
    remove(entry);
    entry.owner.deadlineDue();
  }
  arm();
}

function up(i) {
  const entry = heap[i];
  while (i > 0) {
    const parent = (i - 1) >> 1;
    if (heap[parent].at <= entry.at) break;
    heap[i] = heap[parent];
    heap[i].index = i;
    i = parent;
  }
  heap[i] = entry;
  entry.index = i;
}

function down(i) {
  const entry = heap[i];
  const n = heap.length;
  for (;;) {
    let child = 2 * i + 1;
    if (child >= n) break;
    if (child + 1 < n && heap[child + 1].at < heap[child].at) child++;
    if (heap[child].at >= entry.at) break;
    heap[i] = heap[child];
    heap[i].index = i;
    i = child;
  }
  heap[i] = entry;
  entry.index = i;
}
