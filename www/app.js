// The page's wiring: the peer form, the send forms, steps and links, probes,
// the wire log and its export. What is shown comes from the connections'
// logs (connection.js); this file only moves it onto the page.

import { Connection } from "./connection.js";
import { linkFor, protocolList, readLink } from "./link.js";
import { defaultBridge } from "./peers.js";
import { expectation, PROBES, runProbe } from "./probes.js";
import { formatStep, formatSteps, parseSteps, runStep } from "./steps.js";
import { el, entryRow } from "./view.js";
import { hex, opcodeName } from "./wire.js";

const $ = (selector) => document.querySelector(selector);
const peerForm = $("#peer");
const fields = peerForm.elements;
const status = $("#status");
const log = $("#log");
const pendingRows = $("#pending");
const stepsBox = $("#steps");

/** Files sent as binary are kept in the steps up to this size. */
const STEP_FILE_MAX = 8192;

/** The page's session, and a count that tells its entries from a
 * replaced session's late ones. */
let session = null;
let generation = 0;
/** The last result of each probe, by name. */
const results = new Map();

function peer() {
  return {
    kind: fields.kind.value,
    target: fields.target.value.trim(),
    bridge: fields.bridge.value.trim(),
    protocols: fields.protocols.value.trim(),
    certHash: fields.certHash.value.trim(),
    deflate: fields.deflate.checked,
  };
}

function openConnection(options = {}) {
  const p = peer();
  return new Connection(p, {
    protocols: protocolList(p.protocols),
    deflate: p.deflate,
    ...options,
  });
}

function setStatus(state, text) {
  status.dataset.state = state;
  status.textContent = text;
  fields.abort.disabled = state !== "open" && state !== "connecting";
}

/** Opens the page's session to the peer in the form; resolves to whether
 * it opened. */
async function connect() {
  session?.abort();
  const mine = ++generation;
  viewSession();
  log.replaceChildren();
  pendingRows.replaceChildren();
  const own =
    (fn) =>
    (...args) =>
      mine === generation && fn(...args);
  const c = openConnection({ onEntry: own(show), onPending: own(showPending) });
  session = c;
  setStatus("connecting", "connecting…");
  c.closed.then(
    own(({ code, reason, wasClean }) =>
      setStatus(
        wasClean ? "closed" : "failed",
        `closed ${code}${reason ? ` ${JSON.stringify(reason)}` : ""}${wasClean ? "" : " (not clean)"}`,
      ),
    ),
  );
  try {
    await c.opened;
  } catch (e) {
    if (mine === generation) setStatus("failed", e.message);
    return false;
  }
  const p = peer();
  const where = p.kind === "loopback" ? "in-page server" : p.target;
  const agreed = [c.ws.protocol, c.ws.extensions].filter(Boolean).join(", ");
  setStatus("open", `open: ${where}${agreed ? ` (${agreed})` : ""}`);
  return true;
}

/** What the wire pane shows: the session's log (null) or a probe's. */
let viewing = null;

function show(entry) {
  if (viewing === null) following(() => log.append(entryRow(entry)));
}

/** Runs `change` and keeps the log at its end if it was there before (a
 * new row, or a partial frame's row that makes the log shorter). */
function following(change) {
  const near = log.scrollHeight - log.scrollTop - log.clientHeight < 80;
  change();
  if (near) log.scrollTop = log.scrollHeight;
}

/** Shows a probe's own connection in the wire pane. */
function viewProbe(name) {
  const result = results.get(name);
  if (!result) return;
  viewing = name;
  $("#wire-title").textContent = `probe ${name}: ${result.verdict}`;
  $("#back").hidden = false;
  pendingRows.hidden = true;
  log.replaceChildren(...result.entries.map(entryRow));
}

function viewSession() {
  if (viewing === null) return;
  viewing = null;
  $("#wire-title").textContent = "session";
  $("#back").hidden = true;
  pendingRows.hidden = false;
  log.replaceChildren(...(session?.entries ?? []).map(entryRow));
  log.scrollTop = log.scrollHeight;
}
$("#back").addEventListener("click", viewSession);

/** A frame begun and not yet whole, e.g. one whose header claims more
 * bytes than were sent: shown below the log while it lasts. */
function showPending(direction, frame) {
  following(() => pendingRow(direction, frame));
}

function pendingRow(direction, frame) {
  pendingRows.querySelector(`[data-direction="${direction}"]`)?.remove();
  if (!frame) return;
  const text =
    frame.declared === undefined
      ? `${frame.header} byte(s) of a frame header so far`
      : `${opcodeName(frame.opcode)} ${frame.key ? `mask ${hex(frame.key)} ` : ""}len ${frame.declared}: ${frame.received} byte(s) so far, waiting for ${frame.left} more`;
  const row = el("li", `entry pending ${direction}`);
  row.dataset.direction = direction;
  row.append(
    el("span", "t", "…"),
    el("span", "dir", direction === "sent" ? "→" : "←"),
    el("span", "label", "partial"),
    el("span", "body", text),
  );
  pendingRows.append(row);
}

/** A problem with what was asked (bad input, not connected): in the log. */
function complain(text) {
  if (session) session.note(`error: ${text}`);
  else show({ t: 0, kind: "note", text: `error: ${text}` });
}

/** Runs one step; `record` adds it to the steps box once done. */
async function doStep(step, { record = false } = {}) {
  const needsSession = step.kind !== "probe" && step.kind !== "wait";
  if (needsSession && !session?.open) {
    complain(`not connected (${formatStep(step)})`);
    return false;
  }
  try {
    await runStep(step, { connection: session, probe: runNamed });
  } catch (e) {
    complain(`${step.kind}: ${e.message}`);
    return false;
  }
  if (record) addStep(step);
  return true;
}

/** The steps for a link: newline-ended, so that one text step holding
 * `;;` is not read as two. */
function stepsText() {
  const text = stepsBox.value.trim();
  return text && `${text}\n`;
}

function addStep(step) {
  const text = stepsBox.value.trimEnd();
  stepsBox.value = `${text ? `${text}\n` : ""}${formatStep(step)}`;
}

/** The steps in the box, one after another, each given time to be answered. */
async function replay() {
  let steps;
  try {
    steps = parseSteps(stepsBox.value);
  } catch (e) {
    complain(e.message);
    return;
  }
  for (const step of steps) {
    await doStep(step);
    await session?.quiet();
  }
}

/** The step a send form asks for, or null (a file was sent as is). */
async function stepFrom(form, kind) {
  const f = form.elements;
  if (kind === "close") {
    const code = f.code.value.trim();
    return { kind, arg: code ? `${code} ${f.reason.value}`.trimEnd() : "" };
  }
  const file = f.file?.files?.[0];
  if (kind === "binary" && file && !f.arg.value.trim()) {
    // A file too large to show as hex: sent as it is, and not a step.
    if (!session?.open) throw new Error("not connected");
    session.sendBinary(new Uint8Array(await file.arrayBuffer()));
    session.note(
      `${file.name}: ${file.size} bytes, sent; too large for the steps`,
    );
    return null;
  }
  return parseSteps(`${kind}:${f.arg.value}\n`)[0];
}

/** A file for a binary message: as hex in the field while it is small. */
async function fileChosen() {
  const f = $('form.send[data-step="binary"]').elements;
  const file = f.file.files[0];
  if (!file) return;
  f.arg.value = "";
  f.arg.placeholder = `hex: 00 ff 10`;
  if (file.size > STEP_FILE_MAX) {
    f.arg.placeholder = `${file.name}: ${file.size} bytes`;
    return;
  }
  const bytes = new Uint8Array(await file.arrayBuffer());
  f.arg.value = hex(bytes).replace(/..(?!$)/g, "$& ");
  f.file.value = "";
}
$('form.send[data-step="binary"] input[type="file"]').addEventListener(
  "change",
  fileChosen,
);

for (const form of document.querySelectorAll("form.send")) {
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const kind = event.submitter?.dataset.step ?? form.dataset.step;
    let step;
    try {
      step = await stepFrom(form, kind);
    } catch (e) {
      return complain(e.message);
    }
    if (step) await doStep(step, { record: true });
  });
}

peerForm.addEventListener("submit", (event) => {
  event.preventDefault();
  connect();
});
fields.abort.addEventListener("click", () => session?.abort());
fields.kind.addEventListener("change", peerKindChanged);

function peerKindChanged() {
  const kind = fields.kind.value;
  for (const label of document.querySelectorAll("#options [data-for]"))
    label.hidden = label.dataset.for !== kind;
  fields.target.disabled = kind === "loopback";
  fields.target.placeholder =
    kind === "webtransport"
      ? "https://host:port/path"
      : kind === "bridge"
        ? "ws://host:port/path"
        : "(in-page echo server)";
}

$("#run-steps").addEventListener("click", async () => {
  if (!session?.open && !(await connect())) return;
  await replay();
});

$("#copy-link").addEventListener("click", async () => {
  const link = linkFor(peer(), stepsText());
  history.replaceState(null, "", link);
  $("#link").value = link;
  const button = $("#copy-link");
  try {
    await navigator.clipboard.writeText(link);
    button.textContent = "Copied";
    setTimeout(() => (button.textContent = "Copy link"), 1500);
  } catch {
    $("#link").select();
  }
});

$("#export").addEventListener("click", () => {
  const data = {
    tool: "wasmsocket playground",
    exported: new Date().toISOString(),
    peer: peer(),
    link: linkFor(peer(), stepsText()),
    entries: session?.entries ?? [],
    probes: [...results.values()],
  };
  const blob = new Blob([JSON.stringify(data, null, 2)], {
    type: "application/json",
  });
  const a = el("a");
  a.href = URL.createObjectURL(blob);
  a.download = `wasmsocket-${data.exported.replace(/[:.]/g, "-")}.json`;
  a.click();
  setTimeout(() => URL.revokeObjectURL(a.href), 1000);
});

// Probes: a row each, run one by one or all at once.
const probeList = $("#probes");
for (const probe of PROBES) {
  const row = el("li");
  row.dataset.probe = probe.name;
  const run = el("button", "", "Run");
  run.type = "button";
  run.addEventListener("click", async () => {
    await runNamed(probe.name);
    addStep({ kind: "probe", arg: probe.name });
    viewProbe(probe.name);
  });
  const about = el("span", "about");
  about.append(
    el("span", "title", probe.title),
    el("span", "expect", `expect ${expectation(probe)}`),
  );
  const seen = el("button", "seen");
  seen.type = "button";
  seen.hidden = true;
  seen.title = "show this probe's connection on the wire";
  seen.addEventListener("click", () => viewProbe(probe.name));
  row.append(run, about, el("output", "verdict"), seen);
  probeList.append(row);
}

async function runNamed(name) {
  const probe = PROBES.find((p) => p.name === name);
  if (!probe) throw new Error(`no probe named ${name}`);
  const row = probeList.querySelector(`[data-probe="${name}"]`);
  row.dataset.verdict = "running";
  row.querySelector(".verdict").textContent = "…";
  // Without permessage-deflate, whatever the form says: RSV1 must be refused.
  const result = await runProbe(probe, () =>
    openConnection({ deflate: false }),
  );
  results.set(name, result);
  row.dataset.verdict = result.verdict;
  row.querySelector(".verdict").textContent = result.verdict;
  const seen = row.querySelector(".seen");
  const saw = result.verdict === "error" ? "" : "saw ";
  seen.textContent = `${saw}${result.seen} (${result.ms} ms)`;
  seen.hidden = false;
  if (viewing === name) viewProbe(name);
  tally();
  return result;
}

function tally() {
  const counts = {};
  for (const { verdict } of results.values())
    counts[verdict] = (counts[verdict] ?? 0) + 1;
  $("#tally").textContent = Object.entries(counts)
    .map(([verdict, n]) => `${n} ${verdict}`)
    .join(" · ");
}

$("#run-all").addEventListener("click", async (event) => {
  const buttons = document.querySelectorAll("#probes button, #run-all");
  for (const b of buttons) b.disabled = true;
  try {
    for (const probe of PROBES) await runNamed(probe.name);
  } finally {
    for (const b of buttons) b.disabled = false;
    event.target.focus();
  }
});

// The link: fill the form, connect at once if asked, replay the steps.
const link = readLink();
fields.kind.value = link.connect ?? "loopback";
if (fields.kind.selectedIndex < 0) fields.kind.value = "loopback";
fields.target.value = link.target;
fields.bridge.value = link.bridge;
fields.bridge.placeholder = defaultBridge();
fields.protocols.value = link.protocols;
fields.certHash.value = link.certHash;
fields.deflate.checked = link.deflate;
if (link.bridge || link.protocols || link.certHash || link.deflate)
  $("#options").open = true;
try {
  stepsBox.value = formatSteps(parseSteps(link.steps));
} catch (e) {
  stepsBox.value = link.steps;
  complain(e.message);
}
peerKindChanged();

// For tests and the curious: the session's log and the probes' results.
window.playground = {
  get entries() {
    return session?.entries ?? [];
  },
  results,
};
document.body.dataset.ready = "1";

if (link.connect) {
  await connect();
  if (stepsBox.value.trim()) await replay();
  document.body.dataset.replay = "done";
}
