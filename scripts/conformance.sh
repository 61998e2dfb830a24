#!/usr/bin/env bash
# Runs Autobahn|Testsuite against the package, both roles:
#   client: wstest -m fuzzingserver  <- tests/conformance/client-testee.mjs
#   server: wstest -m fuzzingclient  -> tests/conformance/server-testee.mjs,
#           once on its own TCP port and once behind an in-memory Duplex bridge
# then checks the reports with tests/conformance/check.mjs.
#
# Autobahn is Python 2 only: it is installed into a virtualenv made with the
# CPython 2.7.18 this machine image ships under pyenv (never into that
# interpreter itself). Without Python 2.7 this fails, saying so.
#
#   bash scripts/conformance.sh [--deflate-subset] [--only CASES] [--update]
#
# Every case runs by default (permessage-deflate's 12.* and 13.* take most
# of the time); --deflate-subset runs a fixed sample of those two, which CI
# uses; --only runs just the given comma-separated case patterns (for
# working on a case); --update rewrites expected.json from the run.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '\033[1m[conformance]\033[0m %s\n' "$*"; }
die() { printf '\033[1m[conformance] FAILED:\033[0m %s\n' "$*" >&2; exit 1; }

work=target/autobahn
py27="$(pyenv root 2>/dev/null || echo "$HOME/.pyenv")/versions/2.7.18/bin/python"
[ -x "$py27" ] || die "CPython 2.7.18 is not at $py27; Autobahn|Testsuite needs Python 2.7, so nothing was run"

mkdir -p "$work"
if [ ! -x "$work/py2/bin/wstest" ]; then
  say "installing autobahntestsuite into a Python 2.7 virtualenv (once)"
  rm -rf "$work/venv3" "$work/py2"
  python3 -m venv "$work/venv3"
  "$work/venv3/bin/pip" install -q "virtualenv<20.22"
  "$work/venv3/bin/virtualenv" -q -p "$py27" "$work/py2"
  "$work/py2/bin/pip" install -q --disable-pip-version-check "autobahntestsuite==25.10.1" 2>&1 | grep -v DEPRECATION || true
  [ -x "$work/py2/bin/wstest" ] || die "autobahntestsuite did not install"
fi
wstest="$PWD/$work/py2/bin/wstest"

subset=false
only=""
check_args=()
while [ $# -gt 0 ]; do
  case "$1" in
    --deflate-subset) subset=true ;;
    --only) only="$2"; shift ;;
    *) check_args+=("$1") ;;
  esac
  shift
done
# The sample: for each group of 12.* (text and binary, every fragmenting)
# and of 13.* (each way of agreeing the parameters), its first case (16 B
# messages) and a middle one (64 KiB messages). The larger cases take
# Autobahn itself 5-20 s each.
deflate_sample='"12.1.1", "12.1.9", "12.2.1", "12.2.9", "12.3.1", "12.3.9", "12.4.1", "12.4.9",
  "12.5.1", "12.5.9", "13.1.1", "13.1.9", "13.2.1", "13.2.9", "13.3.1", "13.3.9",
  "13.4.1", "13.4.9", "13.5.1", "13.5.9", "13.6.1", "13.6.9", "13.7.1", "13.7.9"'
if [ -n "$only" ]; then
  cases="$(printf '"%s", ' ${only//,/ })"
  cases="[${cases%, }]"
  exclude='[]'
  check_args+=(--partial)
elif $subset; then
  cases="[\"1.*\", \"2.*\", \"3.*\", \"4.*\", \"5.*\", \"6.*\", \"7.*\", \"9.*\", \"10.*\", $deflate_sample]"
  exclude='[]'
  check_args+=(--subset)
else
  cases='["*"]'
  exclude='[]'
fi

[ -f pkg/wasm/wasmsocket_bg.wasm ] || make build

pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT

wait_port() {
  for _ in $(seq 1 100); do
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
    sleep 0.1
  done
  die "nothing listens on port $1"
}

rm -rf "$work/reports"
mkdir -p "$work/reports"
cd "$work"

cat > fuzzingserver.json <<JSON
{
  "url": "ws://127.0.0.1:9001",
  "outdir": "./reports/clients",
  "cases": $cases,
  "exclude-cases": $exclude,
  "exclude-agent-cases": {}
}
JSON
cat > fuzzingclient.json <<JSON
{
  "outdir": "./reports/servers",
  "servers": [
    { "agent": "wasmsocket-server-net", "url": "ws://127.0.0.1:9002" },
    { "agent": "wasmsocket-server-bridge", "url": "ws://127.0.0.1:9003" }
  ],
  "cases": $cases,
  "exclude-cases": $exclude,
  "exclude-agent-cases": {}
}
JSON

say "client role: wstest -m fuzzingserver"
"$wstest" -m fuzzingserver -s fuzzingserver.json > fuzzingserver.log 2>&1 &
pids+=($!)
wait_port 9001
start=$SECONDS
node ../../tests/conformance/client-testee.mjs ws://127.0.0.1:9001 wasmsocket-client
say "client role done in $((SECONDS - start)) s"

say "server role: wstest -m fuzzingclient against the net and bridge testees"
node ../../tests/conformance/server-testee.mjs net 9002 > server-net.log 2>&1 &
pids+=($!)
node ../../tests/conformance/server-testee.mjs bridge 9003 > server-bridge.log 2>&1 &
pids+=($!)
wait_port 9002
wait_port 9003
start=$SECONDS
"$wstest" -m fuzzingclient -s fuzzingclient.json > fuzzingclient.log 2>&1 || true
say "server role done in $((SECONDS - start)) s"

cd ../..
node tests/conformance/check.mjs "$work/reports" --markdown "$work/tally.md" "${check_args[@]}"
