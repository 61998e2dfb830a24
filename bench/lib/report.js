// Turns the results into results.md (medians, ratios, the bar) and
// throughput.svg (throughput by message size per contender, log scales).

import { PARSE_CONTENDERS, parseKey } from "./parse.js";
import { ECHO_PAIRS, echoKey } from "./echo.js";

const SIZE_LABEL = {
  16: "16 B",
  125: "125 B",
  1024: "1 KiB",
  16384: "16 KiB",
  65536: "64 KiB",
  1048576: "1 MiB",
};
const sizeLabel = (s) => SIZE_LABEL[s] ?? `${s} B`;
const ok = (b) => (b ? "✓" : "✗");

function num(x, digits) {
  if (!Number.isFinite(x)) return "–";
  if (digits !== undefined) return x.toFixed(digits);
  if (x >= 1000) return Math.round(x).toLocaleString("en-US");
  if (x >= 100) return x.toFixed(0);
  if (x >= 10) return x.toFixed(1);
  return x.toFixed(2);
}
const ratio = (x) => (Number.isFinite(x) ? `${x.toFixed(2)}×` : "–");
const kib = (bytes) => `${(bytes / 1024).toFixed(1)} KiB`;
const mib = (bytes) => `${(bytes / 2 ** 20).toFixed(1)} MiB`;
const rounds = (n) => `${n} round${n === 1 ? "" : "s"}`;
const pct = (x) => `${(x * 100).toFixed(0)} %`;

/** A markdown table; the first `left` columns are left-aligned, the rest right. */
function table(header, rows, left = 2) {
  const line = (cells) => `| ${cells.join(" | ")} |`;
  return [
    line(header),
    line(header.map((_, i) => (i < left ? "---" : "---:"))),
    ...rows.map(line),
  ].join("\n");
}

// ----- the bar -----

export function barChecks(r) {
  const checks = [];
  const echo = r.echo?.medians;
  const sizes = r.echo?.config.sizes ?? [];
  const kinds = r.echo?.config.kinds ?? [];
  if (echo) {
    const misses = [];
    let worst = Infinity;
    let cells = 0;
    for (const kind of kinds)
      for (const size of sizes) {
        const k = echoKey("pipelined", kind, size);
        const q = echo["wasmsocket-wasmsocket"][k].mbps / echo["ws-ws"][k].mbps;
        cells++;
        worst = Math.min(worst, q);
        if (!(q >= 1)) misses.push(`${kind} ${sizeLabel(size)} ${ratio(q)}`);
      }
    checks.push({
      pass: misses.length === 0,
      text: `Echo throughput: wasmsocket ↔ wasmsocket ≥ ws ↔ ws at every size, text and binary — ${cells - misses.length} of ${cells} met (worst ${ratio(worst)})${misses.length ? `; below: ${misses.join(", ")}` : ""}`,
    });
    const big = 1048576;
    if (sizes.includes(big)) {
      const rawMbps = echo.raw[echoKey("pipelined", "binary", big)].mbps;
      const parts = kinds.map((kind) => {
        const q =
          echo["wasmsocket-wasmsocket"][echoKey("pipelined", kind, big)].mbps /
          rawMbps;
        return { kind, q };
      });
      checks.push({
        pass: parts.every((p) => p.q >= 0.9),
        text: `Echo throughput at 1 MiB ≥ 90 % of the raw socket: ${parts.map((p) => `${p.kind} ${pct(p.q)}`).join(", ")}`,
      });
    }
    checks.push(...bigMessageChecks(echo, sizes, kinds));
  }
  const parse = r.parse?.medians;
  if (parse) {
    const psizes = r.parse.config.sizes;
    const big = [];
    const small = [];
    for (const masked of [true, false])
      for (const kind of r.parse.config.kinds)
        for (const size of psizes) {
          const k = parseKey(masked, kind, size);
          const q = parse.wasmsocket[k].mbps / parse.ws[k].mbps;
          const cell = {
            q,
            label: `${masked ? "masked" : "unmasked"} ${kind} ${sizeLabel(size)}`,
          };
          if (size >= 1024) big.push(cell);
          else if (size === 16) small.push(cell);
        }
    const below = big.filter((c) => !(c.q >= 3));
    const minBig = Math.min(...big.map((c) => c.q));
    checks.push({
      pass: below.length === 0,
      text: `Parse throughput ≥ 3× ws's Receiver (no bufferutil) at 1 KiB and above — ${big.length - below.length} of ${big.length} met (lowest ${ratio(minBig)})${below.length ? `; below: ${below.map((c) => `${c.label} ${ratio(c.q)}`).join(", ")}` : ""}`,
    });
    if (small.length) {
      checks.push({
        pass: small.every((c) => c.q >= 1),
        text: `Parse throughput no worse than ws's Receiver at 16 B: ${small.map((c) => `${c.label} ${ratio(c.q)}`).join(", ")}`,
      });
    }
  }
  const scale = r.scale;
  if (scale) {
    const per = (impl, f) =>
      median(scale.idle[impl].map((x) => x.perConnection[f]));
    const wsRss = per("ws", "rss");
    const wkRss = per("wasmsocket", "rss");
    const wsHeap = per("ws", "heapUsed") + per("ws", "external");
    const wkHeap = per("wasmsocket", "heapUsed") + per("wasmsocket", "wasm");
    checks.push({
      pass: wkRss <= wsRss && wkHeap <= wsHeap,
      text: `Memory per idle connection ≤ ws's: RSS ${kib(wkRss)} vs ${kib(wsRss)} (${ratio(wkRss / wsRss)}); JS heap + wasm ${kib(wkHeap)} vs ws's JS heap + external ${kib(wsHeap)} (${ratio(wkHeap / wsHeap)})`,
    });
    const growth = Object.entries(scale.churn).map(([impl, c]) => {
      const heapQ = c.growth.heapUsed / c.plateau.heapUsed;
      const rssQ = c.growth.rss / c.plateau.rss;
      return { impl, c, heapQ, rssQ };
    });
    const wk = growth.find((g) => g.impl === "wasmsocket");
    checks.push({
      pass: wk && wk.heapQ < 0.05 && wk.c.growth.wasm <= 0 && wk.rssQ < 0.1,
      text: `No growth across the churn of ${scale.churnN.toLocaleString("en-US")} connections (end vs plateau; pass = JS heap < +5 %, wasm memory not grown, RSS < +10 %): ${growth
        .map(
          (g) =>
            `${g.impl} heap ${sign(g.c.growth.heapUsed, kib)} (${sign(g.heapQ * 100, (x) => `${x.toFixed(1)} %`)}), wasm ${sign(g.c.growth.wasm, kib)}, RSS ${sign(g.c.growth.rss, mib)} (${sign(g.rssQ * 100, (x) => `${x.toFixed(1)} %`)})`,
        )
        .join("; ")}`,
    });
  }
  if (r.native && parse) {
    const size = 65536;
    if (r.parse.config.sizes.includes(size)) {
      const parts = [];
      for (const masked of [true, false])
        for (const kind of r.parse.config.kinds) {
          const k = parseKey(masked, kind, size);
          const nat = r.native.medians[k].mbps;
          parts.push({
            label: `${masked ? "masked" : "unmasked"} ${kind}`,
            q: nat / parse["wasm-raw"][k].mbps,
            face: nat / parse.wasmsocket[k].mbps,
          });
        }
      checks.push({
        pass: parts.every((p) => p.q <= 2),
        text: `The wasm build within 2× of the native engine on parse throughput at 64 KiB (native ÷ wasm engine, both without making JS values of the payloads): ${parts.map((p) => `${p.label} ${ratio(p.q)}`).join(", ")}. Through the package's JS face, which also makes the strings and ArrayBuffers: ${parts.map((p) => `${ratio(p.face)}`).join(", ")}`,
      });
    }
  }
  const d = r.deflate;
  if (d) {
    const q = (cell) =>
      d.echo["wasmsocket-wasmsocket"][cell].mbps / d.echo["ws-ws"][cell].mbps;
    const cells = Object.keys(d.echo["ws-ws"]);
    const at1k = q("text-1024");
    checks.push({
      pass: at1k >= 5,
      text: `permessage-deflate echo, wasmsocket ↔ wasmsocket ≥ 5× ws ↔ ws at 1 KiB of JSON-like text: ${ratio(at1k)}`,
    });
    const slower = cells.filter((c) => !(q(c) >= 1));
    checks.push({
      pass: slower.length === 0,
      text: `permessage-deflate echo no slower than ws at any size, text and binary: ${cells.map((c) => `${c.replace("-", " ")} ${ratio(q(c))}`).join(", ")}`,
    });
    const per = (impl, f) =>
      median(d.idle[impl].map((x) => x.perConnection[f]));
    const wsMem = per("ws", "rss");
    const wkMem = per("wasmsocket", "rss");
    checks.push({
      pass: wkMem <= wsMem,
      text: `Memory per idle connection with compression agreed and used once ≤ ws's: RSS ${kib(wkMem)} vs ${kib(wsMem)} (${ratio(wkMem / wsMem)}); wasm memory ${kib(per("wasmsocket", "wasm"))}`,
    });
    const b = d.bomb.wasmsocket;
    checks.push({
      pass: b.closeCode === 1009 && b.rssGrowth < 64 * 2 ** 20,
      text: `A 256 MiB bomb (${kib(b.bombBytes)} on the wire) against a 1 MiB limit: close ${b.closeCode}, RSS +${mib(b.rssGrowth)} (ws: close ${d.bomb.ws.closeCode}, +${mib(d.bomb.ws.rssGrowth)}); pass = 1009 and under +64 MiB`,
    });
  }
  const p = r.publish;
  if (p) {
    const bursts = p.cases.filter((c) => !c.paced);
    checks.push({
      pass: bursts.every((c) => c.speedup >= 3),
      text: `Publishing 1 KiB to n subscribers ≥ 3× ws's loop over its clients (a burst of ${p.cases[0].messages} messages): ${bursts.map((c) => `${c.n.toLocaleString("en-US")} subscribers ${ratio(c.speedup)}`).join(", ")}; one message per turn of the event loop (not part of the bar): ${p.cases
        .filter((c) => c.paced)
        .map((c) => `${ratio(c.speedup)}`)
        .join(", ")}`,
    });
  }
  return checks;
}

/** Issue 20's goals for big messages (16 KiB and up), each pairing apart. */
function bigMessageChecks(echo, sizes, kinds) {
  const big = sizes.filter((size) => size >= 16384);
  if (big.length === 0) return [];
  const goals = [
    ["wasmsocket-wasmsocket", "wasmsocket ↔ wasmsocket", 1.3],
    ["wasmsocket-ws", "wasmsocket client → ws server", 1.05],
    ["ws-wasmsocket", "ws client → wasmsocket server", 1.05],
  ];
  return goals.map(([id, label, goal]) => {
    const cells = [];
    for (const kind of kinds)
      for (const size of big) {
        const k = echoKey("pipelined", kind, size);
        const q = echo[id][k].mbps / echo["ws-ws"][k].mbps;
        cells.push({ q, label: `${kind} ${sizeLabel(size)} ${ratio(q)}` });
      }
    const below = cells.filter((c) => !(c.q >= goal));
    return {
      pass: below.length === 0,
      text: `Big messages, ${label} ≥ ${goal}× ws ↔ ws at ${big.map(sizeLabel).join(", ")}: ${cells.map((c) => c.label).join(", ")}`,
    };
  });
}

/** Per message, for the big sizes: CPU µs of client + server, and their
 * minor page faults (see echo/client.js). */
function costTable(e) {
  const sizes = e.config.sizes.filter((size) => size >= 16384);
  const rows = [];
  for (const kind of e.config.kinds)
    for (const size of sizes) {
      const k = echoKey("pipelined", kind, size);
      const cells = ECHO_PAIRS.map((p) => {
        const v = e.medians[p.id][k];
        if (!v || v.serverCpuUs == null) return "–";
        return `${num(v.clientCpuUs, 0)} + ${num(v.serverCpuUs, 0)} µs; ${num(v.clientFaults, 1)} + ${num(v.serverFaults, 1)} pf`;
      });
      rows.push([sizeLabel(size), kind, ...cells]);
    }
  return table(["size", "kind", ...ECHO_PAIRS.map((p) => p.label)], rows);
}

/** One echo table: `field` of every pair's median per kind and size, with
 * its ratio to ws ↔ ws. Text falls back to the binary figure for pairs that
 * only measure bytes (the raw socket). */
function echoTable(e, mode, field, digits) {
  const base = e.medians["ws-ws"];
  const rows = [];
  for (const kind of e.config.kinds)
    for (const size of e.config.sizes) {
      const k = echoKey(mode, kind, size);
      const cells = ECHO_PAIRS.map((p) => {
        const v =
          e.medians[p.id][k] ?? e.medians[p.id][echoKey(mode, "binary", size)];
        if (!v) return "–";
        if (p.id === "ws-ws") return num(v[field], digits);
        return `${num(v[field], digits)} (${ratio(v[field] / base[k][field])})`;
      });
      rows.push([sizeLabel(size), kind, ...cells]);
    }
  return table(["size", "kind", ...ECHO_PAIRS.map((p) => p.label)], rows);
}

/** The profile section: per case, each process's CPU per message split by
 * kind of work, and its busiest functions (bench/lib/profile.js). */
function profileSection(p) {
  const kinds = Object.keys(p.kinds);
  const out = [
    "## Where the time goes: profiles of big messages",
    "",
    `Cases of the pipelined echo run once more per pair, ${p.config.pipelinedMs} ms measured after ${p.config.pipelinedWarmMs} ms of warm-up, client and server under \`node --cpu-prof\` (which costs some speed of its own). Each process's CPU µs per message (measured as in the echo section) is split by kind of work in proportion to the profile's busy samples of the measured window; "idle" is the share of that window the process's thread waited. Kinds: ${kinds.map((k) => `**${k}**, ${p.kinds[k]}`).join("; ")}. The busiest functions are given as shares of busy samples. The pairs marked MALLOC_TOP_PAD_ run with glibc told to keep 64 MiB free on its heap's top rather than give it back to the kernel: the difference is what faulting in fresh pages for each big message costs.`,
    "",
  ];
  const perf = p.perf;
  if (!perf.available)
    out.push("perf is not installed here: no hardware counts.", "");
  else if (perf.unsupported.length)
    out.push(
      `\`perf stat\` counts ${perf.counted.join(", ") || "nothing"} here; ${perf.unsupported.join(", ")}: "not supported" (a VM without hardware counters), so this machine cannot say how many cache misses a message costs.`,
      "",
    );
  const hw = perf.available
    ? perf.counted.filter((e) => e !== "page-faults")
    : [];
  const label = (id) => p.pairs.find((x) => x.id === id).label;
  for (const { kind, size } of uniqueCases(p.rows)) {
    out.push(`### ${kind} ${sizeLabel(size)}`, "");
    const rows = [];
    for (const row of p.rows.filter((x) => x.kind === kind && x.size === size))
      for (const side of ["client", "server"]) {
        const x = row[side];
        rows.push([
          `${label(row.pair)}: ${side}`,
          num(row.mbps),
          num(x.cpuUs, 0),
          ...kinds.map((k) => num(x.work[k], 0)),
          pct(x.idleShare),
          num(x.faults, 1),
          ...hw.map((e) => num(x.perf?.[e], 0)),
          x.top.map((t) => `${t.where} ${pct(t.share)}`).join("; "),
        ]);
      }
    out.push(
      table(
        [
          "process",
          "MB/s",
          "CPU µs / msg",
          ...kinds.map((k) => `${k} µs`),
          "idle",
          "page faults / msg",
          ...hw.map((e) => `${e} / msg`),
          "busiest functions (share of busy samples)",
        ],
        rows,
        1,
      ),
      "",
    );
  }
  out.push(...profileGaps(p, kinds));
  return out;
}

/** The package's process minus ws's in the same role, case by case and kind
 * by kind: where the package spends more (or less) than ws. */
function profileGaps(p, kinds) {
  const compared = [
    ["wasmsocket-wasmsocket", "ws-ws", ""],
    ["wasmsocket-wasmsocket-top-pad", "ws-ws-top-pad", ", MALLOC_TOP_PAD_"],
  ];
  const diff = (a, b) => (a == null || b == null ? null : a - b);
  const rows = [];
  for (const { kind, size } of uniqueCases(p.rows)) {
    const find = (pair) =>
      p.rows.find((x) => x.pair === pair && x.kind === kind && x.size === size);
    for (const [ours, theirs, note] of compared) {
      const a = find(ours);
      const b = find(theirs);
      if (!a || !b) continue;
      for (const side of ["client", "server"])
        rows.push([
          `${kind} ${sizeLabel(size)}${note}: ${side}`,
          signed(diff(a[side].cpuUs, b[side].cpuUs), 0),
          ...kinds.map((k) =>
            signed(diff(a[side].work[k], b[side].work[k]), 0),
          ),
          signed(diff(a[side].faults, b[side].faults), 1),
        ]);
    }
  }
  if (!rows.length) return [];
  return [
    "### The gap: wasmsocket's process minus ws's in the same role",
    "",
    "µs of CPU per message (negative: wasmsocket spends less), from the tables above. What the gap is made of, and why the rest cannot be had under the WHATWG API: bench/README.md, “Big messages: where the time goes”.",
    "",
    table(
      [
        "case",
        "CPU µs / msg",
        ...kinds.map((k) => `${k} µs`),
        "page faults / msg",
      ],
      rows,
      1,
    ),
    "",
  ];
}

function signed(x, digits) {
  return x == null ? "" : sign(x, (v) => num(v, digits));
}

function uniqueCases(rows) {
  const seen = new Map();
  for (const { kind, size } of rows)
    seen.set(`${kind} ${size}`, { kind, size });
  return [...seen.values()];
}

function sign(x, fmt) {
  return `${x >= 0 ? "+" : "−"}${fmt(Math.abs(x))}`;
}

function median(values) {
  const v = values.filter(Number.isFinite).sort((a, b) => a - b);
  const m = v.length >> 1;
  return v.length % 2 ? v[m] : (v[m - 1] + v[m]) / 2;
}

// ----- markdown -----

export function markdown(r) {
  const out = [];
  const m = r.machine;
  out.push("# wasmsocket benchmarks", "");
  out.push(
    `Written by \`make bench\` (\`node bench/run.js\`${r.quick ? ", BENCH_QUICK=1" : ""}) on ${r.date} at commit ${r.revision}; the run took ${(r.seconds / 60).toFixed(1)} min. Medians of interleaved rounds; ratios against ws (the baseline of each table).`,
    "",
  );
  out.push(
    `Machine: ${m.cpu}, ${m.cores} cores, ${(m.memory / 2 ** 30).toFixed(0)} GiB, Linux ${m.kernel}; Node ${m.node}, ${m.rustc}; ws ${m.versions.ws}, bufferutil ${m.versions.bufferutil}, undici ${m.versions.undici}. Load average (1 min) at start ${m.loadStart}, at end ${m.loadEnd} — the machine is shared, so runs are interleaved and medians reported.`,
    "",
  );
  const errors = Object.entries(r.errors ?? {});
  if (errors.length) {
    out.push("**Sections that failed:**", "");
    for (const [section, e] of errors) out.push(`- ${section}: ${e}`);
    out.push("");
  }

  out.push("## The bar", "");
  for (const c of barChecks(r)) out.push(`- ${ok(c.pass)} ${c.text}`);
  out.push("");

  if (r.echo) {
    const e = r.echo;
    out.push(
      "## Echo over loopback TCP",
      "",
      `Client and server in separate processes on 127.0.0.1, one connection per client process, ${rounds(e.rounds)} interleaved. **Pipelined**: a window of messages in flight (64; 4 for 1 MiB), each echo sends the next, ${e.config.pipelinedMs ?? e.config.ms} ms per case after ${e.config.pipelinedWarmMs ?? e.config.warmMs} ms of warm-up; MB/s = payload bytes echoed back per second (each message counted once). **Latency**: one message at a time, median round trip. ws runs with bufferutil installed. The raw row is a net.Socket length-prefixed echo whose server writes each message back whole, with one writev and no copy (binary bytes; the same figure is the ceiling for text). Round trips under ~100 µs are bimodal on this 2-vCPU VM — about 25 µs when the scheduler keeps both processes on one core, 70–90 µs when it wakes the peer on the other — so small-message latency ratios mostly show which mode a round fell into.`,
      "",
    );
    out.push(
      "### Throughput (pipelined), MB/s (ratio to ws ↔ ws)",
      "",
      echoTable(e, "pipelined", "mbps"),
      "",
      "### Round-trip latency (one at a time), median µs (ratio to ws ↔ ws; lower is better)",
      "",
      echoTable(e, "latency", "medianUs", 0),
      "",
    );
    if (e.config.sizes.some((size) => size >= 16384)) {
      out.push(
        "### Where the time goes: cost per message of big messages (pipelined)",
        "",
        "CPU time of the client process + the server process per echoed message (µs), and their minor page faults per message (pf); from `process.resourceUsage()` in the client and the server's `/proc/<pid>/schedstat` and `stat`, over each measured window. A page fault is a fresh page the kernel had to hand a process (a new buffer of that size costs one per 4 KiB touched).",
        "",
        costTable(e),
        "",
      );
    }
  }

  if (r.profile) out.push(...profileSection(r.profile));

  if (r.parse) {
    const p = r.parse;
    out.push(
      "## Parse throughput (no sockets)",
      "",
      `One process per contender, ${rounds(p.rounds)} interleaved. Prebuilt streams of ${r.quick ? "512 KiB" : "4 MiB"} of payload per size (one message per frame; text is ASCII JSON, binary pseudo-random), fed in 64 KiB chunks; every message consumed as the app gets it (a string for text, an ArrayBuffer for binary). MB/s of payload. Ratios against ws's Receiver without bufferutil. *wasmsocket (Engine)* is the package's JS face of the wasm engine driven as its Session drives it (receive, read the event queue, takeOutput per chunk); *WebSocket* rows go through each library's WHATWG-style object and \`onmessage\`. *wasm engine alone* drives the wasm module's own bindings (\`pkg/wasm\`) without the Engine wrapper and counts the event records in wasm memory without making JS values of the payloads — the same work as *native*, the same Rust engine built for this CPU (criterion, \`-C target-cpu=native\`), the ceiling of the wasm build. Neither of these two is an app's view, so they get no ratio to ws.`,
      "",
    );
    for (const masked of [true, false]) {
      out.push(
        `### ${masked ? "Masked frames (what a server receives)" : "Unmasked frames (what a client receives)"}, MB/s`,
        "",
      );
      const cols = PARSE_CONTENDERS;
      const rows = [];
      for (const kind of p.config.kinds)
        for (const size of p.config.sizes) {
          const k = parseKey(masked, kind, size);
          const b = p.medians.ws[k].mbps;
          const nat = r.native?.medians[k]?.mbps;
          const cells = cols.map((c) => {
            const v = p.medians[c.id][k].mbps;
            return c.id === "ws" || c.noRatio
              ? num(v)
              : `${num(v)} (${ratio(v / b)})`;
          });
          rows.push([
            sizeLabel(size),
            kind,
            nat === undefined ? "–" : num(nat),
            ...cells,
            nat === undefined
              ? "–"
              : ratio(nat / p.medians["wasm-raw"][k].mbps),
            nat === undefined ? "–" : ratio(nat / p.medians.wasmsocket[k].mbps),
          ]);
        }
      out.push(
        table(
          [
            "size",
            "kind",
            "native",
            ...cols.map((c) => c.label),
            "native ÷ wasm engine",
            "native ÷ wasmsocket (Engine)",
          ],
          rows,
        ),
        "",
      );
    }
    out.push("### Messages per second at the smallest size", "");
    const srows = [];
    const size = p.config.sizes[0];
    for (const masked of [true, false])
      for (const kind of p.config.kinds) {
        const k = parseKey(masked, kind, size);
        srows.push([
          `${masked ? "masked" : "unmasked"} ${sizeLabel(size)}`,
          kind,
          r.native ? num(r.native.medians[k].msgsPerSec / 1e6, 2) : "–",
          ...PARSE_CONTENDERS.map((c) =>
            num(p.medians[c.id][k].msgsPerSec / 1e6, 2),
          ),
        ]);
      }
    out.push(
      "Millions of messages per second.",
      "",
      table(
        ["stream", "kind", "native", ...PARSE_CONTENDERS.map((c) => c.label)],
        srows,
      ),
      "",
    );
  }

  if (r.scale) {
    const s = r.scale;
    out.push(
      "## Scale",
      "",
      `${s.n.toLocaleString("en-US")} concurrent idle connections to one server process (each with an echo handler, as an app gives it), opened ${s.concurrency} at a time by a separate client process that speaks minimal WebSocket over raw sockets (the same bytes for both servers); ${rounds(s.rounds)} interleaved, a fresh server each time. Memory is measured in the server after a full GC, before and after opening; per connection = the difference ÷ ${s.n.toLocaleString("en-US")}. Server CPU per handshake is the server process's user+system time while opening.`,
      "",
    );
    const impls = Object.keys(s.idle);
    const per = (impl, f) =>
      median(s.idle[impl].map((x) => x.perConnection[f]));
    const val = (impl, f) => median(s.idle[impl].map((x) => x[f]));
    const rows = impls.map((impl) => [
      impl,
      num(val(impl, "handshakesPerSec"), 0),
      num(val(impl, "serverCpuUsPerHandshake"), 0),
      kib(per(impl, "rss")),
      kib(per(impl, "heapUsed")),
      kib(per(impl, "external")),
      kib(per(impl, "wasm")),
      `${s.idle[impl].map((x) => x.failed).reduce((a, b) => a + b, 0)}`,
    ]);
    if (impls.includes("ws") && impls.includes("wasmsocket")) {
      const q = (f, g = val) => ratio(g("wasmsocket", f) / g("ws", f));
      rows.push([
        "wasmsocket ÷ ws",
        q("handshakesPerSec"),
        q("serverCpuUsPerHandshake"),
        q("rss", per),
        q("heapUsed", per),
        "",
        "",
        "",
      ]);
    }
    out.push(
      table(
        [
          "server",
          "handshakes/s",
          "server CPU µs / handshake",
          "RSS / conn",
          "JS heap / conn",
          "external / conn",
          "wasm memory / conn",
          "failed",
        ],
        rows,
        1,
      ),
      "",
    );
    out.push(
      `### Churn: ${s.churnN.toLocaleString("en-US")} connect → handshake → close cycles`,
      "",
      "Memory sampled after a full GC every 10 % of the cycles; the plateau is the median of the samples from 20 % to 50 %, the end is measured after the last cycle.",
      "",
    );
    const crow = [];
    for (const [impl, c] of Object.entries(s.churn)) {
      crow.push([
        impl,
        num(c.cyclesPerSec, 0),
        c.samples.map((x) => (x.rss / 2 ** 20).toFixed(0)).join(" "),
        c.samples.map((x) => (x.heapUsed / 2 ** 20).toFixed(1)).join(" "),
        mib(c.plateau.rss),
        mib(c.end.rss),
        sign(c.end.heapUsed - c.plateau.heapUsed, kib),
        kib(c.end.wasm),
        String(c.failed),
      ]);
    }
    out.push(
      table(
        [
          "server",
          "cycles/s",
          "RSS MiB at 0, 10 %, … 100 %",
          "JS heap MiB at 0, 10 %, … 100 %",
          "RSS plateau",
          "RSS end",
          "JS heap end − plateau",
          "wasm memory at end",
          "failed",
        ],
        crow,
        1,
      ),
      "",
    );
  }

  if (r.deflate) {
    const d = r.deflate;
    out.push(
      "## permessage-deflate",
      "",
      `Echo over loopback TCP as above (pipelined, ${rounds(d.rounds)} interleaved, medians), with permessage-deflate agreed at both ends: ws with \`perMessageDeflate: true\` (Node's zlib, asynchronous), the package with its defaults (the same parameters: context takeover both ways, 15-bit windows, level 6, threshold 1024 B). Text is the ASCII JSON of the other sections (it compresses); binary is pseudo-random bytes (it does not).`,
      "",
    );
    const header = ["size", "kind", ...d.pairs.map((p) => p.label)];
    const rows = [];
    for (const kind of d.config.kinds)
      for (const size of d.config.sizes) {
        const base = d.echo["ws-ws"][`${kind}-${size}`].mbps;
        rows.push([
          sizeLabel(size),
          kind,
          ...d.pairs.map((p) => {
            const m = d.echo[p.id][`${kind}-${size}`].mbps;
            return p.id === "ws-ws" ? num(m) : `${num(m)} (${ratio(m / base)})`;
          }),
        ]);
      }
    out.push(
      "### Throughput (pipelined), MB/s of payload (ratio to ws ↔ ws)",
      "",
    );
    out.push(table(header, rows), "");
    const per = (impl, f) =>
      median(d.idle[impl].map((x) => x.perConnection[f]));
    out.push(
      `### Idle connections after one compressed message`,
      "",
      `${d.n.toLocaleString("en-US")} connections to one server process, each offering permessage-deflate and sending one compressed 2 KiB JSON message, which the server echoes (compressed), then idle; memory per connection after a full GC, as in the scale section (medians of ${d.idle.ws.length} runs).`,
      "",
      table(
        [
          "server",
          "RSS / conn",
          "JS heap / conn",
          "external / conn",
          "wasm memory / conn",
        ],
        ["ws", "wasmsocket"].map((impl) => [
          impl,
          kib(per(impl, "rss")),
          kib(per(impl, "heapUsed")),
          kib(per(impl, "external")),
          kib(per(impl, "wasm")),
        ]),
      ),
      "",
      "### A compression bomb",
      "",
      `256 MiB of zeros deflated to ${kib(d.bomb.wasmsocket.bombBytes)}, sent as one compressed frame to a server whose message limit is 1 MiB (ws: \`maxPayload\`, the package: \`maxMessageSize\`), in one process with the raw client; RSS growth from before the frame to after the server closed.`,
      "",
      table(
        ["server", "close code", "RSS growth"],
        ["ws", "wasmsocket"].map((impl) => [
          impl,
          String(d.bomb[impl].closeCode),
          mib(d.bomb[impl].rssGrowth),
        ]),
      ),
      "",
    );
  }

  if (r.size) {
    const z = r.size;
    out.push("## Size", "");
    const rows = Object.values(z.wasm).map((w) => [
      w.file,
      w.raw.toLocaleString("en-US"),
      w.gzip.toLocaleString("en-US"),
      w.brotli.toLocaleString("en-US"),
    ]);
    out.push(table(["file", "raw bytes", "gzip -9", "brotli"], rows, 1), "");
    out.push(
      table(
        ["npm tarball", "packed bytes", "unpacked bytes", "files"],
        [z.tarball, z.ws].map((t) => [
          t.name,
          t.size.toLocaleString("en-US"),
          t.unpackedSize.toLocaleString("en-US"),
          String(t.entryCount),
        ]),
        1,
      ),
      "",
    );
  }
  if (r.native) {
    out.push(
      `Native ceiling: \`cargo bench --bench parse\` with RUSTFLAGS=\`${r.native.rustflags}\`, criterion medians (build and run ${r.native.seconds.toFixed(0)} s).`,
      "",
    );
  }
  if (r.publish) {
    const p = r.publish;
    out.push(
      "## Publish",
      "",
      `One server process publishes ${p.cases[0].messages} binary messages of ${p.cases[0].size} B to every one of n subscribers (raw sockets in a second process that count the bytes they receive): wasmsocket's \`server.publish(topic, data)\` against ws's documented broadcast, a loop over its clients calling \`send\`. A burst publishes all the messages in one synchronous loop (as a server that handles a batch of input does); paced publishes one per turn of the event loop. Deliveries/s = messages × subscribers ÷ the wall time until the last subscriber has every byte; CPU is the server process's user + system time per delivery. Medians of ${rounds(p.rounds)}, interleaved, a fresh server each time.`,
      "",
      table(
        [
          "subscribers",
          "publishing",
          "ws deliveries/s",
          "wasmsocket deliveries/s",
          "wasmsocket ÷ ws",
          "ws CPU ns / delivery",
          "wasmsocket CPU ns / delivery",
          "CPU ratio",
        ],
        p.cases.map((c) => [
          c.n.toLocaleString("en-US"),
          c.paced ? "paced" : "burst",
          num(c.ws.deliveriesPerSec, 0),
          num(c.wasmsocket.deliveriesPerSec, 0),
          ratio(c.speedup),
          num(c.ws.cpuNsPerDelivery, 0),
          num(c.wasmsocket.cpuNsPerDelivery, 0),
          ratio(c.cpuRatio),
        ]),
        2,
      ),
      "",
    );
  }
  return out.join("\n");
}

// ----- SVG -----

const ECHO_COLORS = {
  "ws-ws": "#1f77b4",
  "wasmsocket-wasmsocket": "#d62728",
  "wasmsocket-ws": "#ff7f0e",
  "ws-wasmsocket": "#9467bd",
  "undici-ws": "#2ca02c",
  raw: "#555555",
};
const PARSE_COLORS = {
  native: "#555555",
  "wasm-raw": "#8c564b",
  wasmsocket: "#d62728",
  "wasmsocket-websocket": "#ff7f0e",
  ws: "#1f77b4",
  "ws-bufferutil": "#17becf",
  "ws-websocket": "#9467bd",
};

const esc = (s) =>
  String(s).replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");

function panel(x0, y0, w, h, title, sizes, series) {
  const plot = { x: x0 + 56, y: y0 + 28, w: w - 76, h: h - 150 };
  const values = series
    .flatMap((s) => s.points.map((p) => p.y))
    .filter((v) => v > 0);
  const lo = Math.floor(Math.log10(Math.min(...values)));
  const hi = Math.ceil(Math.log10(Math.max(...values)));
  const lx = (s) => Math.log2(s);
  const xmin = lx(sizes[0]);
  const xmax = lx(sizes.at(-1));
  const X = (s) =>
    plot.x +
    (xmax === xmin ? plot.w / 2 : ((lx(s) - xmin) / (xmax - xmin)) * plot.w);
  const Y = (v) =>
    plot.y + plot.h - ((Math.log10(v) - lo) / (hi - lo || 1)) * plot.h;
  const g = [];
  g.push(
    `<text x="${x0 + w / 2}" y="${y0 + 16}" text-anchor="middle" font-weight="bold">${esc(title)}</text>`,
  );
  g.push(
    `<rect x="${plot.x}" y="${plot.y}" width="${plot.w}" height="${plot.h}" fill="none" stroke="#999"/>`,
  );
  for (let d = lo; d <= hi; d++) {
    const y = Y(10 ** d);
    g.push(
      `<line x1="${plot.x}" x2="${plot.x + plot.w}" y1="${y}" y2="${y}" stroke="#ddd"/>`,
    );
    const label =
      10 ** d >= 1 ? (10 ** d).toLocaleString("en-US") : String(10 ** d);
    g.push(
      `<text x="${plot.x - 6}" y="${y + 4}" text-anchor="end" font-size="11">${label}</text>`,
    );
  }
  g.push(
    `<text x="${x0 + 14}" y="${plot.y + plot.h / 2}" font-size="11" text-anchor="middle" transform="rotate(-90 ${x0 + 14} ${plot.y + plot.h / 2})">MB/s (log)</text>`,
  );
  for (const s of sizes) {
    const x = X(s);
    g.push(
      `<line x1="${x}" x2="${x}" y1="${plot.y}" y2="${plot.y + plot.h}" stroke="#eee"/>`,
    );
    g.push(
      `<text x="${x}" y="${plot.y + plot.h + 15}" text-anchor="middle" font-size="11">${sizeLabel(s)}</text>`,
    );
  }
  g.push(
    `<text x="${plot.x + plot.w / 2}" y="${plot.y + plot.h + 32}" text-anchor="middle" font-size="11">message size</text>`,
  );
  series.forEach((s, i) => {
    const pts = s.points.filter((p) => p.y > 0);
    const d = pts
      .map((p) => `${X(p.x).toFixed(1)},${Y(p.y).toFixed(1)}`)
      .join(" ");
    const dash = s.dashed ? ' stroke-dasharray="6 4"' : "";
    g.push(
      `<polyline points="${d}" fill="none" stroke="${s.color}" stroke-width="2"${dash}/>`,
    );
    for (const p of pts)
      g.push(
        `<circle cx="${X(p.x).toFixed(1)}" cy="${Y(p.y).toFixed(1)}" r="3" fill="${s.color}"/>`,
      );
    const lx0 = x0 + 20 + (i % 2) * (w / 2);
    const ly0 = plot.y + plot.h + 52 + Math.floor(i / 2) * 17;
    g.push(
      `<line x1="${lx0}" x2="${lx0 + 22}" y1="${ly0 - 4}" y2="${ly0 - 4}" stroke="${s.color}" stroke-width="2"${dash}/>`,
      `<text x="${lx0 + 28}" y="${ly0}" font-size="11">${esc(s.label)}</text>`,
    );
  });
  return g.join("\n");
}

export function svg(r) {
  const W = 560;
  const H = 420;
  const panels = [];
  if (r.echo) {
    const e = r.echo;
    for (const kind of e.config.kinds) {
      panels.push({
        title: `Echo over loopback, pipelined, ${kind}`,
        sizes: e.config.sizes,
        series: ECHO_PAIRS.map((p) => ({
          label: p.label,
          color: ECHO_COLORS[p.id],
          dashed: p.id === "raw",
          points: e.config.sizes.map((s) => ({
            x: s,
            y: (
              e.medians[p.id][echoKey("pipelined", kind, s)] ??
              e.medians[p.id][echoKey("pipelined", "binary", s)]
            ).mbps,
          })),
        })),
      });
    }
  }
  if (r.parse) {
    const p = r.parse;
    for (const masked of [true, false])
      for (const kind of p.config.kinds) {
        const series = [];
        if (r.native)
          series.push({
            label: "native engine (ceiling)",
            color: PARSE_COLORS.native,
            dashed: true,
            points: p.config.sizes.map((s) => ({
              x: s,
              y: r.native.medians[parseKey(masked, kind, s)].mbps,
            })),
          });
        for (const c of PARSE_CONTENDERS)
          series.push({
            label: c.label,
            color: PARSE_COLORS[c.id],
            dashed: c.noRatio,
            points: p.config.sizes.map((s) => ({
              x: s,
              y: p.medians[c.id][parseKey(masked, kind, s)].mbps,
            })),
          });
        panels.push({
          title: `Parse, ${masked ? "masked (server side)" : "unmasked (client side)"}, ${kind}`,
          sizes: p.config.sizes,
          series,
        });
      }
  }
  const cols = 2;
  const rows = Math.ceil(panels.length / cols);
  const width = cols * W;
  const height = rows * H + 40;
  const body = panels.map((p, i) =>
    panel(
      (i % cols) * W,
      36 + Math.floor(i / cols) * H,
      W,
      H,
      p.title,
      p.sizes,
      p.series,
    ),
  );
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="Helvetica, Arial, sans-serif" font-size="12">
<rect width="100%" height="100%" fill="#fff"/>
<text x="${width / 2}" y="22" text-anchor="middle" font-size="15" font-weight="bold">wasmsocket vs ws: throughput by message size (medians, ${esc(r.date)}, ${esc(r.machine.cpu)} ×${r.machine.cores}, Node ${esc(r.machine.node)})</text>
${body.join("\n")}
</svg>
`;
}
