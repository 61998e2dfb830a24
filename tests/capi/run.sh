#!/usr/bin/env bash
# The C library through websocket.h: builds it (make capi), checks its Rust
# side (fmt, clippy, the header's values against the component's), compiles
# the header as C99, C11 and C++, then runs the C tests linked against
# libwebsocket.a (and loop.c once against the shared library): loop.c (a
# client and a server handle in memory), header.cpp (the header from C++),
# and tcp_client.c over TCP against the package's server and a `ws` server.
#
#   bash tests/capi/run.sh
#
# Installs a C/C++ compiler with apt-get when one is missing. Exits non-zero
# on the first failure; the last line says PASSED or FAILED.
set -euo pipefail
cd "$(dirname "$0")/../.."

out=target/capi-tests
start=$(date +%s.%N)
finish() {
  local rc=$? secs
  secs=$(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
  if [[ $rc -eq 0 ]]; then
    echo "C library test: PASSED [${secs} s]"
  else
    echo "C library test: FAILED (exit $rc) [${secs} s]"
  fi
}
trap finish EXIT

say() { printf '[capi] %s\n' "$*"; }
fail() {
  printf '[capi] FAIL: %s\n' "$*" >&2
  exit 1
}

# --- set-up: a C and a C++ compiler ----------------------------------------
missing=()
command -v cc >/dev/null || missing+=(gcc)
command -v c++ >/dev/null || missing+=(g++)
if [[ ${#missing[@]} -gt 0 ]]; then
  say "installing ${missing[*]}"
  sudo=; [[ "$(id -u)" = 0 ]] || sudo=sudo
  $sudo apt-get update -qq
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi
command -v cc >/dev/null || fail "no C compiler (cc)"
command -v c++ >/dev/null || fail "no C++ compiler (c++)"

# --- the library --------------------------------------------------------------
say "make capi"
make -s capi
case "$(uname -s)" in
  Darwin) shared=libwebsocket.dylib libs=(-lm) ;;
  *) shared=libwebsocket.so libs=(-lpthread -ldl -lm) ;;
esac
for f in libwebsocket.a "$shared" websocket.h; do
  [[ -f target/capi/$f ]] || fail "make capi did not produce target/capi/$f"
done
ls -l target/capi/libwebsocket.a "target/capi/$shared" | awk '{ printf "[capi] %s: %d bytes\n", $NF, $5 }'

say "capi/: cargo fmt, clippy, header values"
cargo fmt --manifest-path capi/Cargo.toml --check
cargo clippy -q --manifest-path capi/Cargo.toml --target-dir target/capi-build --all-targets -- -D warnings
cargo test -q --manifest-path capi/Cargo.toml --target-dir target/capi-build

# --- compile and run ------------------------------------------------------------
mkdir -p "$out"
cflags=(-std=c11 -Wall -Wextra -Werror -Iinclude)
say "websocket.h alone as C99 and C++11"
cc -std=c99 -Wall -Wextra -Werror -fsyntax-only -x c include/websocket.h
c++ -std=c++11 -Wall -Wextra -Werror -fsyntax-only -x c++ include/websocket.h

say "loop.c (static)"
cc "${cflags[@]}" tests/capi/loop.c target/capi/libwebsocket.a "${libs[@]}" -o "$out/loop"
"$out/loop"

say "loop.c (shared: $shared)"
cc "${cflags[@]}" tests/capi/loop.c -Ltarget/capi -lwebsocket -Wl,-rpath,"$PWD/target/capi" -o "$out/loop-shared"
"$out/loop-shared"

say "header.cpp (C++17, static)"
c++ -std=c++17 -Wall -Wextra -Werror -Iinclude tests/capi/header.cpp target/capi/libwebsocket.a "${libs[@]}" -o "$out/header"
"$out/header"

say "tcp_client.c against the package's server and ws"
cc "${cflags[@]}" tests/capi/tcp_client.c target/capi/libwebsocket.a "${libs[@]}" -o "$out/tcp_client"
[[ -f pkg/wasm/wasmsocket_bg.wasm ]] || fail "pkg/wasm is not built (run: bash scripts/build.sh)"
node tests/capi/run.mjs "$out/tcp_client"
