// What the headless Chromium tests share: a static server for parts of the
// repository on http://localhost (a secure context, so that pages may use
// WebTransport and crypto.subtle), and Debian's Chromium launched through
// playwright-core (Playwright's own browser downloads do not work here).

import { execFileSync } from "node:child_process";
import { readFile } from "node:fs/promises";
import http from "node:http";
import path from "node:path";
import { fileURLToPath } from "node:url";

import { chromium } from "playwright-core";

export const root = path.resolve(
  fileURLToPath(new URL("../..", import.meta.url)),
);

const MIME = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".mjs": "text/javascript; charset=utf-8",
  ".json": "application/json; charset=utf-8",
  ".wasm": "application/wasm",
  ".ts": "text/plain; charset=utf-8",
};

/**
 * Serves GET requests for files under the `served` path prefixes of the
 * repository (e.g. "/pkg/") on 127.0.0.1; `onRequest` sees every path asked
 * for. Resolves to the listening `http.Server`.
 */
export async function serveRepo(served, onRequest = () => {}) {
  const server = http.createServer(async (req, res) => {
    const url = new URL(req.url, "http://localhost");
    let pathname;
    try {
      pathname = decodeURIComponent(url.pathname);
    } catch {
      res.writeHead(400).end("bad path");
      return;
    }
    onRequest(pathname);
    const file = path.join(root, pathname);
    if (
      req.method !== "GET" ||
      !served.some((p) => pathname.startsWith(p)) ||
      !file.startsWith(root + path.sep)
    ) {
      res.writeHead(404).end("not found");
      return;
    }
    try {
      const body = await readFile(file);
      res.writeHead(200, {
        "content-type": MIME[path.extname(file)] ?? "application/octet-stream",
        "cache-control": "no-store",
      });
      res.end(body);
    } catch {
      res.writeHead(404).end("not found");
    }
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  return server;
}

function findChromium() {
  if (process.env.CHROMIUM) return process.env.CHROMIUM;
  try {
    const cmd = "command -v chromium || command -v chromium-browser";
    return execFileSync("sh", ["-c", cmd], { encoding: "utf8" }).trim();
  } catch {
    return "/usr/bin/chromium";
  }
}

/** Headless Chromium (CHROMIUM=/path/to/chromium to override). */
export function launchChromium() {
  return chromium.launch({
    executablePath: findChromium(),
    args: [
      "--headless=new",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-dev-shm-usage",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      "--no-first-run",
    ],
  });
}
