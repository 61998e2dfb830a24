#!/usr/bin/env bash
# Builds the engine for wasm32 twice (with simd128, and a scalar fallback for
# browsers without it), generates the JS bindings into pkg/wasm/ and
# optimises the modules with binaryen's wasm-opt (from npm); builds
# websocket.dll's face (`wasmsocket/component`) as a module of its own into
# pkg/wasm-component/; copies the playground's page (www/) into the package.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '\033[1m[build]\033[0m %s\n' "$*"; }
out=pkg/wasm
wasm_opt=node_modules/.bin/wasm-opt

say "engine, wasm32 + simd128"
RUSTFLAGS="-C target-feature=+simd128" cargo build -q --release --target wasm32-unknown-unknown --target-dir target/wasm-simd
say "engine, wasm32 scalar"
cargo build -q --release --target wasm32-unknown-unknown --target-dir target/wasm-scalar

rm -rf "$out" target/bindgen-scalar
wasm-bindgen --target web --out-dir "$out" target/wasm-simd/wasm32-unknown-unknown/release/wasmsocket.wasm
wasm-bindgen --target web --out-dir target/bindgen-scalar target/wasm-scalar/wasm32-unknown-unknown/release/wasmsocket.wasm
# Both modules must fit the one generated glue file.
if ! cmp -s "$out/wasmsocket.js" target/bindgen-scalar/wasmsocket.js; then
  echo "the simd and scalar builds produced different JS glue" >&2
  exit 1
fi
cp target/bindgen-scalar/wasmsocket_bg.wasm "$out/wasmsocket_scalar_bg.wasm"

"$wasm_opt" -O3 --enable-simd --enable-bulk-memory --enable-sign-ext --enable-nontrapping-float-to-int \
  --enable-mutable-globals --enable-reference-types --enable-multivalue \
  "$out/wasmsocket_bg.wasm" -o "$out/wasmsocket_bg.wasm"
"$wasm_opt" -O3 --enable-bulk-memory --enable-sign-ext --enable-nontrapping-float-to-int \
  --enable-mutable-globals --enable-reference-types --enable-multivalue \
  "$out/wasmsocket_scalar_bg.wasm" -o "$out/wasmsocket_scalar_bg.wasm"
say "$(wc -c < "$out/wasmsocket_bg.wasm") bytes ($(gzip -9c "$out/wasmsocket_bg.wasm" | wc -c) gzipped) simd; $(wc -c < "$out/wasmsocket_scalar_bg.wasm") scalar"
# websocket.dll's face, scalar (its users want control, not speed): a module
# of its own, so that the WebSocket's pages do not pay for it. Built after the
# scalar engine's bindings are made, in the same target directory (only this
# crate is rebuilt for the feature).
say "websocket.dll's face (wasmsocket/component), wasm32 scalar"
cargo build -q --release --target wasm32-unknown-unknown --target-dir target/wasm-scalar --features component
rm -rf pkg/wasm-component
wasm-bindgen --target web --out-dir pkg/wasm-component target/wasm-scalar/wasm32-unknown-unknown/release/wasmsocket.wasm
"$wasm_opt" -O3 --enable-bulk-memory --enable-sign-ext --enable-nontrapping-float-to-int \
  --enable-mutable-globals --enable-reference-types --enable-multivalue \
  pkg/wasm-component/wasmsocket_bg.wasm -o pkg/wasm-component/wasmsocket_bg.wasm
say "$(wc -c < pkg/wasm-component/wasmsocket_bg.wasm) bytes ($(gzip -9c pkg/wasm-component/wasmsocket_bg.wasm | wc -c) gzipped) component"
# The playground's page ships in the npm package (`wasmsocket playground`).
rm -rf pkg/www
cp -r www pkg/www
