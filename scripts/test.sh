#!/usr/bin/env bash
# Runs every test, after all set-up: style and lint checks, the engine's Rust
# tests (native and wasm), the Node tests of the package (under Node, then
# Deno and Bun), publish/subscribe across processes over Redis, the
# WebSocketStream web-platform-tests, its TypeScript declarations, the browser
# test, the WebTransport test (Chromium and a Deno server), the playground's
# test (www/ in Chromium), the packed-tarball test and the C library's
# (websocket.h).
# Any failure, including a suite that cannot run, fails the whole run.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

bash scripts/setup.sh --browser
bash scripts/build.sh

step "style: cargo fmt, clippy (native and wasm32), prettier"
cargo fmt --check
cargo clippy -q --all-targets -- -D warnings
cargo clippy -q --target wasm32-unknown-unknown --target-dir target/wasm-scalar --features component -- -D warnings
npx prettier --check --log-level warn .

step "engine: unit and property tests (native)"
cargo test --lib --test roundtrip --test robustness --test extension --test deflate

step "bindings: wasm-bindgen tests under Node"
cargo test --target wasm32-unknown-unknown --target-dir target/wasm-scalar --test wasm

step "package: Node tests"
mkdir -p target
node --test --test-reporter=tap tests/node/ > target/node-tests.tap || { cat target/node-tests.tap; exit 1; }
tail -n 8 target/node-tests.tap

step "package: Deno and Bun"
node tests/runtimes/run.mjs

step "package: publish/subscribe across processes over Redis"
node --test --test-reporter=tap tests/redis/ > target/redis-tests.tap || { cat target/redis-tests.tap; exit 1; }
tail -n 8 target/redis-tests.tap

step "package: the WebSocketStream web-platform-tests, in Node"
node --test --test-reporter=tap tests/wpt/run.mjs > target/wpt-tests.tap || { cat target/wpt-tests.tap; exit 1; }
tail -n 8 target/wpt-tests.tap

step "package: TypeScript declarations"
npx tsc -p tests/types

step "package: headless Chromium"
node tests/browser/run.mjs

step "package: bundled with Vite into an app, in headless Chromium"
node tests/bundle/run.mjs

step "package: WebTransport (headless Chromium ↔ Deno)"
node tests/webtransport/run.mjs

step "package: the playground in headless Chromium"
node tests/playground/run.mjs

step "package: npm pack into an empty project"
bash tests/pack/run.sh

step "C library: websocket.h"
bash tests/capi/run.sh

step "all tests passed"
