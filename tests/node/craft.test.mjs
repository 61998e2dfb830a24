// The frame language (pkg/lib/craft.js): specs parsed into frames whose
// bytes are checked to the byte against headers written out by hand and the
// examples of RFC 6455 §5.7, and every error it reports.

import assert from "node:assert/strict";
import { describe, test } from "node:test";

import { encodeFrame, parseFrames } from "wasmsocket";

/** The one frame of `spec`, parsed as a server would (no default mask). */
function one(spec, options = { client: false }) {
  const frames = parseFrames(spec, options);
  assert.equal(frames.length, 1, spec);
  return frames[0];
}

const hex = (bytes) => Buffer.from(bytes).toString("hex");
const bytesOf = (spec, options) => hex(one(spec, options).bytes);

describe("headers", () => {
  test("RFC 6455 §5.7: unmasked and masked Hello, fragments, ping, pong", () => {
    assert.equal(bytesOf('text "Hello"'), "810548656c6c6f");
    assert.equal(
      bytesOf('text "Hello" mask=37fa213d'),
      "818537fa213d7f9f4d5158",
    );
    const [hel, lo] = parseFrames('text nofin "Hel"; cont "lo"', {
      client: false,
    });
    assert.equal(hex(hel.bytes), "010348656c");
    assert.equal(hex(lo.bytes), "80026c6f");
    assert.equal(bytesOf('ping "Hello"'), "890548656c6c6f");
    assert.equal(
      bytesOf('pong "Hello" mask=37fa213d'),
      "8a8537fa213d7f9f4d5158",
    );
  });

  test("7-, 16- and 64-bit lengths at their edges", () => {
    const head = (spec) => bytesOf(spec).slice(0, 20);
    assert.equal(head("binary size=125"), "827d" + "61".repeat(8));
    assert.equal(head("binary size=126"), "827e007e" + "61".repeat(6));
    assert.equal(head("binary size=256"), "827e0100" + "61".repeat(6));
    assert.equal(head("binary size=65535"), "827effff" + "61".repeat(6));
    assert.equal(head("binary size=65536"), "827f0000000000010000");
    const big = one("binary size=65536");
    assert.equal(big.bytes.length, 10 + 65536);
    assert.ok(big.fields.payload.every((b) => b === 0x61));
  });

  test("opcodes by name and by number, reserved ones included", () => {
    const names = { cont: 0, text: 1, binary: 2, close: 8, ping: 9, pong: 10 };
    for (const [name, opcode] of Object.entries(names)) {
      assert.equal(one(name).fields.opcode, opcode);
    }
    for (const [word, opcode] of [
      ["0", 0],
      ["3", 3],
      ["0x3", 3],
      ["7", 7],
      ["0xB", 11],
      ["0xf", 15],
      ["15", 15],
    ]) {
      const frame = one(word);
      assert.equal(frame.fields.opcode, opcode, word);
      assert.equal(hex(frame.bytes), (0x80 | opcode).toString(16) + "00");
    }
  });

  test("FIN and the RSV bits", () => {
    assert.equal(bytesOf("text nofin"), "0100");
    assert.equal(bytesOf("text fin"), "8100");
    for (const [words, bits, first] of [
      ["rsv1", 0b100, "c1"],
      ["rsv2", 0b010, "a1"],
      ["rsv3", 0b001, "91"],
      ["rsv1 rsv2 rsv3", 0b111, "f1"],
      ["nofin rsv1", 0b100, "41"],
    ]) {
      const frame = one(`text ${words}`);
      assert.equal(frame.fields.rsv, bits, words);
      assert.equal(hex(frame.bytes), `${first}00`, words);
    }
  });

  test("a declared length other than the payload's", () => {
    const lying = one('text "hi" len=10');
    assert.equal(hex(lying.bytes), "810a6869");
    assert.equal(lying.fields.length, 2);
    assert.equal(lying.fields.declaredLength, 10);
    assert.equal(bytesOf('text "hi" len=0'), "81006869");
    assert.equal(bytesOf('text "hi" len=200'), "817e00c86869");
    assert.equal(bytesOf('text "hi" len=70000'), "817f00000000000111706869");
    const most = one("binary len=9223372036854775807");
    assert.equal(hex(most.bytes), "827f7fffffffffffffff");
    assert.equal(most.fields.declaredLength, 2n ** 63n - 1n);
    assert.equal(
      one("binary len=9007199254740991").fields.declaredLength,
      2 ** 53 - 1,
    );
  });

  test("close frames: code, code and reason, any code, any payload", () => {
    assert.equal(bytesOf("close"), "8800");
    assert.equal(bytesOf("close code=1000"), "880203e8");
    assert.equal(bytesOf('close code=1001 "bye"'), "880503e9627965");
    assert.equal(bytesOf('close code=4000 "é"'), "88040fa0c3a9");
    // Codes a peer must refuse, and a 1-byte close payload, for probing.
    assert.equal(bytesOf("close code=1005"), "880203ed");
    assert.equal(bytesOf("close code=0"), "88020000");
    assert.equal(bytesOf("0x8 code=65535"), "8802ffff");
    assert.equal(bytesOf("close hex:03"), "880103");
  });
});

describe("payloads and masking", () => {
  test("JSON strings keep spaces, `;` and escapes; hex; size", () => {
    const frame = one('text "a; b \\"c\\" \\u00e9\\n"');
    assert.equal(Buffer.from(frame.fields.payload).toString(), 'a; b "c" é\n');
    assert.equal(frame.fields.length, 12);
    assert.equal(bytesOf("text hex:C328"), "8102c328");
    assert.equal(bytesOf("binary hex:"), "8200");
    assert.equal(bytesOf("text size=3"), "8103616161");
    assert.equal(bytesOf('text ""'), "8100");
  });

  test("a client masks with a fresh random key; a server does not", () => {
    const a = one('text "Hello"', { client: true });
    const b = one('text "Hello"', { client: true });
    assert.equal(a.bytes[1], 0x85, "mask bit and length");
    assert.deepEqual(a.bytes.subarray(2, 6), a.fields.mask);
    assert.notDeepEqual(a.fields.mask, b.fields.mask, "a new key per frame");
    const unmasked = a.bytes
      .subarray(6)
      .map((x, i) => x ^ a.fields.mask[i & 3]);
    assert.equal(Buffer.from(unmasked).toString(), "Hello");
    assert.equal(Buffer.from(a.fields.payload).toString(), "Hello");

    assert.equal(one('text "Hello"', { client: false }).fields.mask, null);
    assert.equal(
      parseFrames('text "Hello"')[0].fields.mask.length,
      4,
      "client by default",
    );
    assert.equal(
      bytesOf('text "Hello" nomask', { client: true }),
      "810548656c6c6f",
    );
    const masked = one('text "Hello" mask', { client: false });
    assert.equal(masked.bytes[1], 0x85);
    assert.equal(masked.fields.mask.length, 4);
  });

  test("a fixed key, against the XOR worked out by hand", () => {
    // "abcde" = 61 62 63 64 65; key 01 02 03 04:
    // 61^01 62^02 63^03 64^04 65^01 = 60 60 60 60 64.
    assert.equal(
      bytesOf('binary "abcde" mask=01020304'),
      "82850102030460606060" + "64",
    );
    assert.equal(bytesOf("ping mask=ffffffff"), "8980ffffffff");
  });
});

describe("lists and writes", () => {
  test("`;` separates frames, each parsed on its own", () => {
    const frames = parseFrames('text nofin "Hel" ; ping "?";cont "lo"', {
      client: false,
    });
    assert.deepEqual(
      frames.map((f) => hex(f.bytes)),
      ["010348656c", "89013f", "80026c6f"],
    );
    for (const f of frames) assert.deepEqual(f.writes, [f.bytes]);
  });

  test("split cuts the encoded frame into writes at byte offsets", () => {
    const frame = one('text "Hello" mask=37fa213d split=1,2,6');
    assert.deepEqual(frame.writes.map(hex), [
      "81",
      "85",
      "37fa213d",
      "7f9f4d5158",
    ]);
    assert.equal(hex(Buffer.concat(frame.writes)), hex(frame.bytes));
    assert.deepEqual(one('text "Hello" split=6').writes.map(hex), [
      "810548656c6c",
      "6f",
    ]);
  });

  test("encodeFrame takes fields, with defaults", () => {
    const payload = new TextEncoder().encode("Hello");
    assert.equal(hex(encodeFrame({ opcode: 1, payload })), "810548656c6c6f");
    assert.equal(
      hex(
        encodeFrame({
          opcode: 3,
          fin: false,
          rsv: 0b101,
          mask: new Uint8Array([0x37, 0xfa, 0x21, 0x3d]),
          payload,
          declaredLength: 300,
        }),
      ),
      "53fe012c37fa213d7f9f4d5158",
    );
    assert.equal(hex(encodeFrame({ opcode: 9 })), "8900");
    for (const fields of [
      { opcode: 16 },
      { opcode: 1, rsv: 8 },
      { opcode: 1, mask: new Uint8Array(3) },
      { opcode: 1, declaredLength: -1 },
      { opcode: 1, declaredLength: 2n ** 63n },
    ]) {
      assert.throws(() => encodeFrame(fields), RangeError);
    }
  });
});

describe("errors name the bad word and what was expected", () => {
  const cases = [
    ["", /^an empty spec: expected a frame/],
    ["  ", /^an empty spec/],
    ["text;", /^`text;`: expected a frame on each side of every `;`$/],
    ["; text", /^`; text`: expected a frame/],
    ["text ;; ping", /expected a frame on each side/],
    [
      "hello",
      /^`hello`: expected an opcode first: cont, text, binary, close, ping, pong, or 0-15/,
    ],
    ["16", /^`16`: expected an opcode/],
    ["0x10", /^`0x10`: expected an opcode/],
    ["-1", /^`-1`: expected an opcode/],
    ['"text"', /^`"text"`: expected an opcode/],
    [
      "text fn",
      /^`fn`: expected fin, nofin, rsv1, rsv2, rsv3, mask, nomask, mask=XXXXXXXX, len=N, split=A,B,… or a payload/,
    ],
    ["text rsv4", /^`rsv4`: expected fin/],
    ['text "abc', /^`"abc`: expected a JSON string/],
    ['text "', /^`"`: expected a JSON string/],
    ['text "\\q"', /^`"\\q"`: expected a JSON string/],
    ['text "a\\"', /^`"a\\"`: expected a JSON string/],
    ["text hex:abc", /^`hex:abc`: expected hex: and pairs of hex digits$/],
    ["text hex:zz", /^`hex:zz`: expected hex:/],
    ["text mask=123", /^`mask=123`: expected mask=XXXXXXXX, 8 hex digits$/],
    ["text mask=0102030g", /^`mask=0102030g`: expected mask=XXXXXXXX/],
    ["text len=-1", /^`len=-1`: expected len=N, N from 0 to 2\^63-1$/],
    ["text len=x", /^`len=x`: expected len=N/],
    [
      "text len=9223372036854775808",
      /^`len=9223372036854775808`: expected len=N/,
    ],
    ["text size=x", /^`size=x`: expected a number from 0 to 9007199254740991$/],
    [
      "text size=9007199254740992",
      /^`size=9007199254740992`: expected a number/,
    ],
    [
      "text size=9007199254740991",
      /^`size=9007199254740991`: too large to allocate$/,
    ],
    ["ping code=1000", /^`code=1000`: code=N belongs in a close frame$/],
    ["close code=65536", /^`code=65536`: expected a number from 0 to 65535$/],
    ["close code=", /^`code=`: expected a number/],
    ['text "a" "b"', /^`"b"`: a second payload \(a frame has at most one\)$/],
    ['text "a" hex:00', /^`hex:00`: a second payload/],
    ["text size=1 size=2", /^`size=2`: a second payload/],
    ['close code=1000 "a" "b"', /^`"b"`: a second payload/],
    ['close code=1000 fin "a"', /^`"a"`: a second payload/],
    ['close "a" code=1000', /^`code=1000`: a second payload/],
    [
      "text split=0",
      /^`split=0`: expected ascending offsets from 1 to 1 \(the frame is 2 bytes\)$/,
    ],
    ['text "ab" split=4', /^`split=4`: expected ascending offsets from 1 to 3/],
    ['text "ab" split=2,2', /^`split=2,2`: expected ascending/],
    ['text "ab" split=3,2', /^`split=3,2`: expected ascending/],
    ["text split=a", /^`split=a`: expected split=A,B,…, byte offsets$/],
    ['text "ok"; ping bogus', /^`bogus`: expected fin/],
  ];
  for (const [spec, message] of cases) {
    test(JSON.stringify(spec), () => {
      assert.throws(() => parseFrames(spec, { client: false }), {
        name: "SyntaxError",
        message,
      });
    });
  }
});
