// Formats the records of the `trace` option as text lines, for terminals and logs.

const OPCODES = [
  "cont",
  "text",
  "binary",
  "op3",
  "op4",
  "op5",
  "op6",
  "op7",
  "close",
  "ping",
  "pong",
];

/**
 * One record as text: a head as its lines, a frame as one line with its
 * direction, opcode, FIN, RSV bits, masking, length and a payload preview,
 * and a compressed message as one line with its length uncompressed and
 * the start of it.
 */
export function formatTrace(record) {
  const arrow = record.direction === "sent" ? "→" : "←";
  if (record.kind === "head") {
    return record.text
      .trimEnd()
      .split(/\r?\n/)
      .map((line, i) => `${i === 0 ? arrow : " "} ${line}`)
      .join("\n");
  }
  const op = OPCODES[record.opcode] ?? `op${record.opcode}`;
  if (record.kind === "compressed") {
    const how = record.direction === "sent" ? "deflated from" : "inflated to";
    return `${arrow} ${op.padEnd(6)} ${how} len=${record.length}${preview(record.preview, record.length, record.opcode === 1)}`;
  }
  const rsv = record.rsv.toString(2).padStart(3, "0");
  const bits = `${record.fin ? "FIN" : "fin"} rsv=${rsv} ${record.masked ? "masked" : "unmasked"}`;
  let shown = preview(record.preview, record.length, record.opcode <= 1);
  if (record.opcode === 8 && record.preview.length >= 2) {
    const code = (record.preview[0] << 8) | record.preview[1];
    shown = ` code=${code}${preview(record.preview.subarray(2), record.length - 2, true)}`;
  }
  return `${arrow} ${op.padEnd(6)} ${bits} len=${record.length}${shown}`;
}

/** Text as a quoted string (cut previews end in "…"), anything else in hex,
 * as is text that is not UTF-8 (a peer under test may send it). */
function preview(bytes, length, text) {
  if (bytes.length === 0) return "";
  const more = length > bytes.length ? "…" : "";
  const printable = bytes.every((b) => b >= 0x20 && b < 0x7f);
  const string = text || printable ? decodeUTF8(bytes, more !== "") : null;
  if (string !== null) return ` ${JSON.stringify(string)}${more}`;
  return ` 0x${Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("")}${more}`;
}

/** The bytes as a string, or null if they are not UTF-8; a `cut` preview
 * may end inside a character, which is left out. */
function decodeUTF8(bytes, cut) {
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(bytes, {
      stream: cut,
    });
  } catch {
    return null;
  }
}
