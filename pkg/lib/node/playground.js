// `wasmsocket playground`: the browser playground (www/) and a bridge on one
// port, so one command gives a page that can test any allowed server.
//
//   /            → /www/
//   /www/…       the page (the repository's www/, or the copy packed in the package)
//   /pkg/…       the package's lib/ and wasm/, which the page imports
//   /bridge      the bridge (node/bridge.js); tunnels from this page's origin
//
// Only files under those folders are served, read-only, GET and HEAD only.

import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import http from "node:http";
import path from "node:path";
import { fileURLToPath } from "node:url";

// From the entry point, which loads the engine the bridge runs on.
import { createBridge } from "./index.js";

const MIME = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".json": "application/json; charset=utf-8",
  ".svg": "image/svg+xml",
  ".wasm": "application/wasm",
};

const packageRoot = fileURLToPath(new URL("../../", import.meta.url));

/** The page's folder: the repository's www/ in a checkout, else the packed copy. */
function pageRoot() {
  const checkout = path.join(packageRoot, "..", "www");
  return existsSync(path.join(checkout, "index.html"))
    ? checkout
    : path.join(packageRoot, "www");
}

/**
 * Starts the playground: an http.Server serving the page and the package,
 * with a bridge at /bridge (refusing every tunnel while `allow` is empty). Resolves to { server, bridge, url } once
 * listening. `allow`, `origins`, `maxTunnels`, `log` go to the bridge.
 */
export async function startPlayground({
  port = 8080,
  host = "127.0.0.1",
  allow = [],
  origins = [],
  maxTunnels,
  log,
} = {}) {
  const mounts = [
    ["/www/", pageRoot()],
    ["/pkg/lib/", path.join(packageRoot, "lib")],
    ["/pkg/wasm/", path.join(packageRoot, "wasm")],
  ];
  const server = http.createServer((req, res) => serve(mounts, req, res));
  const bridge = createBridge({
    server,
    path: "/bridge",
    allow,
    origins,
    maxTunnels,
    log,
  });
  await new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, resolve);
  });
  const address = server.address();
  const shown = address.address.includes(":")
    ? `[${address.address}]`
    : address.address;
  return { server, bridge, url: `http://${shown}:${address.port}/www/` };
}

async function serve(mounts, req, res) {
  if (req.method !== "GET" && req.method !== "HEAD")
    return res.writeHead(405, { allow: "GET, HEAD" }).end();
  let pathname;
  try {
    pathname = decodeURIComponent(new URL(req.url, "http://x").pathname);
  } catch {
    return res.writeHead(400).end("bad path");
  }
  if (pathname === "/" || pathname === "/www")
    return res.writeHead(302, { location: "/www/" }).end();
  if (pathname.endsWith("/")) pathname += "index.html";
  const mount = mounts.find(([prefix]) => pathname.startsWith(prefix));
  const file = mount && path.join(mount[1], pathname.slice(mount[0].length));
  if (!file || !file.startsWith(mount[1] + path.sep))
    return res.writeHead(404).end("not found");
  try {
    const body = await readFile(file);
    res.writeHead(200, {
      "content-type": MIME[path.extname(file)] ?? "application/octet-stream",
      "cache-control": "no-cache",
    });
    res.end(req.method === "HEAD" ? undefined : body);
  } catch {
    res.writeHead(404).end("not found");
  }
}
