#!/bin/sh
# Refreshes the WebSocketStream web-platform-tests kept in
# tests/wpt/websockets/stream/tentative/ from upstream, where the network
# reaches it, with the upstream commit in COMMIT beside them.
# Usage: tests/wpt/fetch.sh [commit]   (default: the newest)
set -eu
out="$(cd "$(dirname "$0")" && pwd)/websockets/stream/tentative"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
repo="$tmp/wpt"
git init --quiet "$repo"
git -C "$repo" remote add origin https://github.com/web-platform-tests/wpt
git -C "$repo" sparse-checkout set websockets/stream/tentative
git -C "$repo" fetch --quiet --depth 1 --filter=blob:none origin "${1:-HEAD}"
git -C "$repo" checkout --quiet FETCH_HEAD
mkdir -p "$out"
rm -f "$out"/*.any.js "$out/SOURCE"
cp "$repo"/websockets/stream/tentative/*.any.js "$out/"
git -C "$repo" rev-parse HEAD >"$out/COMMIT"
echo "fetched into tests/wpt/websockets/stream/tentative/ at $(cat "$out/COMMIT")"
