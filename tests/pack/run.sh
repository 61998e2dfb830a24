#!/usr/bin/env bash
# Packs pkg/ as npm would publish it, installs the tarball (plus ws@8 from the
# registry) into a fresh ESM project in a temp dir, and runs a client from the
# installed package against a `ws` echo server. Also checks the tarball's
# contents, that the installed types resolve, and that `npx wasmsocket` runs
# the installed CLI: a `serve` and a `connect` exchanging a line.
#
#   bash tests/pack/run.sh          (KEEP=1 keeps the temp dir)
#
# Exits non-zero on the first failure; the last line says PASSED or FAILED.
set -euo pipefail

root="$(cd "$(dirname "$0")/../.." && pwd)"
tsc="$root/node_modules/typescript/bin/tsc"
work="$(mktemp -d "${TMPDIR:-/tmp}/wasmsocket-pack.XXXXXX")"
start=$(date +%s.%N)
export npm_config_update_notifier=false npm_config_fund=false npm_config_audit=false

cleanup() {
  local rc=$?
  if [[ "${KEEP:-0}" == 1 ]]; then echo "kept $work"; else rm -rf "$work"; fi
  local secs
  secs=$(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
  if [[ $rc -eq 0 ]]; then
    echo "pack test: PASSED [${secs} s]"
  else
    echo "pack test: FAILED (exit $rc) [${secs} s]"
  fi
}
trap cleanup EXIT

say() { printf '[pack] %s\n' "$*"; }
fail() {
  printf '[pack] FAIL: %s\n' "$*" >&2
  exit 1
}

# --- pack ---------------------------------------------------------------
[[ -f "$root/pkg/wasm/wasmsocket_bg.wasm" ]] || fail "pkg/wasm is not built (run: bash scripts/build.sh)"
say "npm pack pkg/ → $work"
tarball_name=$(cd "$root/pkg" && npm pack --silent --pack-destination "$work" 2>/dev/null | tail -n 1)
tarball="$work/$tarball_name"
[[ -f "$tarball" ]] || fail "npm pack produced no tarball (got '$tarball_name')"
size=$(wc -c <"$tarball")
say "tarball: $tarball_name, $size bytes ($(awk -v s="$size" 'BEGIN { printf "%.1f", s / 1024 }') KiB)"

mapfile -t files < <(tar -tzf "$tarball" | sed 's|^package/||' | sort)
say "files (${#files[@]}):"
while IFS= read -r line; do printf '      %s\n' "$line"; done < <(
  tar -tvzf "$tarball" | awk '{ sub(/^package\//, "", $6); printf "%9s  %s\n", $3, $6 }' | sort -k2
)

has() {
  local f
  for f in "${files[@]}"; do [[ "$f" == "$1" ]] && return 0; done
  return 1
}
for f in package.json README.md index.d.ts component.d.ts websocketstream.d.ts redis.d.ts lib/redis.js lib/pubsub.js lib/websocketstream.js lib/component.js lib/component-browser.js lib/node/component.js lib/browser.js lib/websocket.js lib/engine.js lib/session.js \
  lib/transport.js lib/events.js lib/trace.js lib/node/index.js lib/node/connect.js \
  lib/node/duplex.js lib/node/server.js lib/node/bridge.js lib/node/playground.js bin/wasmsocket.js \
  www/index.html www/app.js wasm/wasmsocket.js wasm/wasmsocket_bg.wasm wasm/wasmsocket_scalar_bg.wasm \
  wasm-component/wasmsocket.js wasm-component/wasmsocket_bg.wasm; do
  has "$f" || fail "tarball lacks $f"
done
for f in "${files[@]}"; do
  case "$f" in
    package.json | README.md | LICENSE* | index.d.ts | component.d.ts | websocketstream.d.ts | redis.d.ts | lib/*.js | lib/node/*.js | lib/deno/*.js | \
      www/*.html | www/*.js | www/*.css | \
      bin/wasmsocket.js | wasm/wasmsocket.js | wasm/wasmsocket_bg.wasm | wasm/wasmsocket_scalar_bg.wasm | \
      wasm-component/wasmsocket.js | wasm-component/wasmsocket_bg.wasm) ;;
    *) fail "unexpected file in tarball: $f" ;;
  esac
done
say "contents ok: README.md, lib/, wasm/wasmsocket.js, both .wasm builds, the component's module, index.d.ts, component.d.ts, redis.d.ts, the playground's www/; nothing unexpected"

# --- install into a fresh project ---------------------------------------
app="$work/app"
mkdir -p "$app"
cd "$app"
npm init -y >/dev/null
npm pkg set type=module private=true >/dev/null
say "npm install <tarball> ws@8"
install_start=$(date +%s.%N)
npm install --no-audit --no-fund --loglevel=error "$tarball" ws@8 >"$work/install.log" 2>&1 || {
  cat "$work/install.log" >&2
  fail "npm install failed"
}
say "installed in $(awk -v a="$install_start" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }') s: wasmsocket@$(node -p 'require("./node_modules/wasmsocket/package.json").version'), ws@$(node -p 'require("./node_modules/ws/package.json").version')"
[[ ! -L node_modules/wasmsocket ]] || fail "node_modules/wasmsocket is a symlink, not the installed tarball"

# The CLI from the tarball: `wasmsocket serve` and `npx wasmsocket connect`.
[[ -x node_modules/.bin/wasmsocket ]] || fail "node_modules/.bin/wasmsocket is missing"
npx --no-install wasmsocket --help | grep -q "connect URL" || fail "npx wasmsocket --help printed no usage"
# Signals go to the bin itself, not to an `npm exec` wrapper around it.
node_modules/.bin/wasmsocket serve --port 0 >serve.log 2>&1 &
serve_pid=$!
for _ in $(seq 1 50); do grep -q "^listening on" serve.log && break; sleep 0.1; done
cli_url=$(sed -n 's/^listening on //p' serve.log)
[[ -n "$cli_url" ]] || { kill "$serve_pid"; fail "npx wasmsocket serve did not start: $(cat serve.log)"; }
cli_out=$( (printf 'over the cli\n'; sleep 1) | timeout 10 npx --no-install wasmsocket connect "$cli_url/x") || {
  kill "$serve_pid"
  fail "npx wasmsocket connect failed: $cli_out"
}
kill -INT "$serve_pid"
wait "$serve_pid" || fail "npx wasmsocket serve did not exit cleanly on SIGINT"
grep -q "^< over the cli$" <<<"$cli_out" || fail "the CLI echo did not come back: $cli_out"
say "the installed CLI: serve and npx wasmsocket connect exchanged a line and closed cleanly"

node_modules/.bin/wasmsocket playground --port 0 >playground.log 2>&1 &
playground_pid=$!
for _ in $(seq 1 50); do grep -q '^playground on ' playground.log && break; sleep 0.1; done
page_url=$(sed -n 's/^playground on //p' playground.log)
[[ -n "$page_url" ]] || { kill "$playground_pid"; fail "wasmsocket playground did not start: $(cat playground.log)"; }
for path in "" app.js ../pkg/lib/browser.js ../pkg/wasm/wasmsocket_bg.wasm; do
  status=$(node -e 'fetch(process.argv[1]).then((r) => console.log(r.status), () => console.log(0))' "$page_url$path")
  [[ "$status" == 200 ]] || { kill "$playground_pid"; fail "the installed playground answered $status for $page_url$path"; }
done
kill -INT "$playground_pid"
wait "$playground_pid" || fail "wasmsocket playground did not exit cleanly on SIGINT"
say "the installed playground served its page, the browser entry and the engine from the package"

# --- run a client from the installed package against ws -----------------
cat >echo.mjs <<'JS'
import { WebSocketServer } from "ws";
import { WebSocket } from "wasmsocket";

const timer = setTimeout(() => {
  console.error("timed out");
  process.exit(1);
}, 10000);

const wss = new WebSocketServer({ host: "127.0.0.1", port: 0 });
await new Promise((resolve) => wss.on("listening", resolve));
const serverClosed = new Promise((resolve) => {
  wss.on("connection", (peer) => {
    peer.on("message", (data, isBinary) => peer.send(data, { binary: isBinary }));
    peer.on("close", (code, reason) => resolve({ code, reason: reason.toString() }));
  });
});

const url = `ws://127.0.0.1:${wss.address().port}/echo`;
const ws = new WebSocket(url);
const text = "hello from the tarball ✓";
const events = [];
const result = await new Promise((resolve, reject) => {
  ws.onopen = () => {
    events.push("open");
    ws.send(text);
  };
  ws.onmessage = (ev) => {
    events.push("message");
    if (ev.data !== text) reject(new Error(`echo mismatch: ${JSON.stringify(ev.data)}`));
    ws.close(1000, "done");
  };
  ws.onerror = (ev) => {
    events.push("error");
    reject(new Error(`error event: ${ev.message}`));
  };
  ws.onclose = (ev) => {
    events.push("close");
    resolve({ wasClean: ev.wasClean, code: ev.code, reason: ev.reason });
  };
});
const serverClose = await serverClosed;
await new Promise((resolve) => wss.close(resolve));
clearTimeout(timer);

const ok =
  result.wasClean &&
  result.code === 1000 &&
  events.join() === "open,message,close" &&
  serverClose?.code === 1000 &&
  serverClose?.reason === "done";
console.log(
  `${url}: events ${events.join(",")}; client close ${JSON.stringify(result)}; ws saw ${JSON.stringify(serverClose)}`,
);
process.exit(ok ? 0 : 1);
JS
say "node echo.mjs (wasmsocket client → ws@8 echo server)"
node echo.mjs || fail "echo against ws failed"

# --- the installed types resolve for a consumer --------------------------
cat >types.ts <<'TS'
import WebSocketDefault, { WebSocket, type WebSocketOptions } from "wasmsocket";
import { WEB_SOCKET_SUPPORTED_VERSIONS_PROPERTY_TYPE, WebSocketGetGlobalProperty } from "wasmsocket/component";
const options: WebSocketOptions = { maxMessageSize: 1 << 20 };
const ws: WebSocket = new WebSocketDefault("ws://127.0.0.1:1/", [], options);
ws.onclose = (ev) => console.log(ev.code, ev.wasClean);
const versions: number[] = WebSocketGetGlobalProperty(WEB_SOCKET_SUPPORTED_VERSIONS_PROPERTY_TYPE);
import { redisBroker, type Broker } from "wasmsocket/redis";
const broker: Broker = redisBroker({ url: "redis://127.0.0.1:6379" });
TS
say "tsc on a consumer file (module nodenext) against the installed index.d.ts"
cat >tsconfig.json <<'JSON'
{
  "compilerOptions": {
    "strict": true,
    "noEmit": true,
    "module": "nodenext",
    "moduleResolution": "nodenext",
    "target": "es2022",
    "lib": ["es2022", "dom"],
    "types": []
  },
  "files": ["types.ts"]
}
JSON
node "$tsc" -p . || fail "types from the tarball do not resolve"
say "types ok"
# The component's entry from the tarball loads the engine itself.
versions=$(node --input-type=module -e 'import { WebSocketGetGlobalProperty as get } from "wasmsocket/component"; console.log(get(6).join())')
[[ "$versions" == 13 ]] || fail "wasmsocket/component from the tarball answered '$versions' for the supported versions"
say "wasmsocket/component ok"
