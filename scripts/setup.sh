#!/usr/bin/env bash
# Installs everything the build and the tests need, from the package registries
# only: the wasm32 target, the wasm-bindgen CLI matching Cargo.toml's pin, the
# npm dev dependencies (Deno and Bun among them), Python's `websockets` in a
# venv (an interop peer of the tests), Debian's redis-server (the Redis
# broker's test starts its own), and (for the browser tests) Debian's
# Chromium and openssl.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '\033[1m[setup]\033[0m %s\n' "$*"; }

if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  say "adding the wasm32-unknown-unknown target"
  rustup target add wasm32-unknown-unknown
fi

pin=$(sed -n 's/^wasm-bindgen = "=\([0-9.]*\)"/\1/p' Cargo.toml)
if [ "$(wasm-bindgen --version 2>/dev/null | cut -d' ' -f2)" != "$pin" ]; then
  # No --locked: the CLI's lockfile names a crate version the registry may lack.
  say "installing wasm-bindgen-cli $pin (a few minutes, once)"
  cargo install wasm-bindgen-cli --version "$pin"
fi

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  say "installing npm dev dependencies"
  npm ci --no-audit --no-fund
fi
# npm may skip the postinstall scripts that put the deno and bun packages'
# platform binaries in place: deno's launcher does it on first use, bun's
# install.js when run by hand (from its platform package, no download).
node_modules/.bin/deno --version >/dev/null
if ! node_modules/.bin/bun --version >/dev/null 2>&1; then
  say "linking the bun binary (its postinstall did not run)"
  (cd node_modules/bun && node install.js)
fi

# Pinned here, not in a requirements file: the one Python package the tests use.
py_websockets=15.0.1
if ! target/py-websockets/bin/python -c "import websockets, sys; sys.exit(websockets.__version__ != '$py_websockets')" 2>/dev/null; then
  say "installing Python websockets $py_websockets into target/py-websockets"
  rm -rf target/py-websockets
  python3 -m venv target/py-websockets
  target/py-websockets/bin/pip install -q --disable-pip-version-check "websockets==$py_websockets"
fi

# The Redis broker's test runs its own redis-server on a free port: a system
# service the package may have started is neither needed nor in the way.
if ! command -v redis-server >/dev/null; then
  say "installing redis-server for the Redis broker's test"
  sudo=; [ "$(id -u)" = 0 ] || sudo=sudo
  $sudo apt-get update -qq
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >/dev/null
fi

if [ "${1:-}" = "--browser" ]; then
  # Debian's chromium for the browser tests, openssl for the WebTransport
  # test's certificate.
  missing=()
  command -v chromium >/dev/null || missing+=(chromium)
  command -v openssl >/dev/null || missing+=(openssl)
  if [ ${#missing[@]} -gt 0 ]; then
    say "installing ${missing[*]} for the browser tests"
    sudo=; [ "$(id -u)" = 0 ] || sudo=sudo
    $sudo apt-get update -qq
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  fi
fi
