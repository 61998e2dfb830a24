// Size: the .wasm modules raw, gzipped and brotli'd, and the packed npm
// tarball (npm pack --dry-run: nothing is written); ws's for scale.

import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import path from "node:path";
import zlib from "node:zlib";

import { rootDir } from "./util.js";

function pack(dir) {
  const out = execFileSync("npm", ["pack", "--dry-run", "--json"], {
    cwd: dir,
    encoding: "utf8",
    stdio: ["ignore", "pipe", "ignore"],
  });
  const [info] = JSON.parse(out);
  return {
    name: info.id,
    size: info.size,
    unpackedSize: info.unpackedSize,
    entryCount: info.entryCount,
  };
}

export function sizeSection() {
  const wasm = {};
  for (const [id, file] of [
    ["simd", "pkg/wasm/wasmsocket_bg.wasm"],
    ["scalar", "pkg/wasm/wasmsocket_scalar_bg.wasm"],
    ["glue", "pkg/wasm/wasmsocket.js"],
  ]) {
    const bytes = readFileSync(path.join(rootDir, file));
    wasm[id] = {
      file,
      raw: bytes.length,
      gzip: zlib.gzipSync(bytes, { level: 9 }).length,
      brotli: zlib.brotliCompressSync(bytes).length,
    };
  }
  return {
    wasm,
    tarball: pack(path.join(rootDir, "pkg")),
    ws: pack(path.join(rootDir, "node_modules/ws")),
  };
}
