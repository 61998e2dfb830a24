// How a log entry reads as a row of the wire log: frames show every header
// field; payloads show as text where they read as text, and always in hex.

/** Payload bytes shown in hex before "…". */
const HEX_SHOWN = 48;
/** Characters of text shown before "…". */
const TEXT_SHOWN = 160;

const ARROWS = { sent: "→", received: "←" };

/** The parts of an entry's line: a label and the fields after it. */
function parts(e) {
  if (e.kind === "head")
    return { label: "head", fields: [e.text.split("\r\n")[0]] };
  if (e.kind === "frame") {
    const fields = [
      e.fin ? "FIN" : "no FIN",
      `RSV ${e.rsv.toString(2).padStart(3, "0")}`,
      e.masked ? `mask ${e.mask}` : "unmasked",
      `len ${e.length}`,
    ];
    if (e.code !== undefined) fields.push(`code ${e.code}`);
    if (e.incomplete)
      fields.push(`incomplete: ${e.received} of ${e.length} bytes came`);
    if (e.chunks > 1) fields.push(`over ${e.chunks} chunks`);
    if (e.code !== undefined) {
      if (e.reason) fields.push(quote(e.reason));
    } else if (readable(e)) fields.push(quote(e.text));
    return { label: e.name, fields };
  }
  if (e.kind === "engine" && e.text === "close")
    return {
      label: "engine",
      fields: [
        `close ${e.code}`,
        e.reason ? quote(e.reason) : "",
        e.wasClean ? "clean" : "not clean",
      ].filter(Boolean),
    };
  if (e.kind === "engine" && e.text === "open")
    return {
      label: "engine",
      fields: [
        "open",
        `protocol ${quote(e.protocol)}`,
        `extensions ${quote(e.extensions)}`,
      ],
    };
  return { label: e.kind, fields: [e.text] };
}

/** Text frames show as text when they are UTF-8; others only when
 * printable (a binary frame of control bytes reads better in hex alone). */
function readable({ opcode, text }) {
  if (!text) return false;
  return opcode <= 1 || /^[\x20-\x7e\u00a0-\uffff]*$/.test(text);
}

function quote(text) {
  const cut = text.length > TEXT_SHOWN;
  return (
    JSON.stringify(cut ? text.slice(0, TEXT_SHOWN) : text) + (cut ? "…" : "")
  );
}

/** "6c 6f …" with a count when cut. */
export function hexShown(hex, total) {
  const bytes = hex.slice(0, HEX_SHOWN * 2).match(/../g) ?? [];
  const more = total > bytes.length ? ` … (${total} bytes)` : "";
  return bytes.join(" ") + more;
}

/** The entry as a log row. */
export function entryRow(e) {
  const li = el("li", `entry ${e.kind} ${e.direction ?? ""}`);
  li.dataset.kind = e.kind;
  if (e.direction) li.dataset.direction = e.direction;
  if (e.kind === "frame") li.dataset.opcode = e.opcode;
  if (e.crafted) li.classList.add("crafted");
  if (/^error/.test(e.text ?? "")) li.classList.add("bad");
  const { label, fields } = parts(e);
  li.append(
    el("span", "t", e.t.toFixed(1)),
    el("span", "dir", ARROWS[e.direction] ?? "·"),
    el("span", `label op-${label}`, label),
  );
  const body = el("span", "body");
  if (e.kind === "head") {
    body.append(el("pre", "head-text", e.text.trimEnd()));
  } else {
    body.append(...fields.map((f) => el("span", "field", f)));
  }
  if (e.hex !== undefined && (e.received > 0 || e.hex))
    body.append(el("span", "hex", hexShown(e.hex, e.received)));
  li.append(body);
  return li;
}

export function el(tag, className = "", text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}
