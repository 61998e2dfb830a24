# The two commands of the README, and the steps behind them. Each target does
# its own set-up (toolchain pieces, npm packages) on a fresh machine.

.PHONY: demo test conformance bench build setup capi

## The main job: a demo of the package (set-up and build included).
demo: build
	node scripts/demo.mjs

## Every test (set-up and build included); what CI runs.
test:
	bash scripts/test.sh

## Autobahn|Testsuite, client and server roles, every case (12.x and 13.x,
## permessage-deflate, take most of the time). CI runs it with
## CONFORMANCE_FLAGS=--deflate-subset: a fixed sample of 12.x and 13.x.
conformance: build
	bash scripts/conformance.sh $(CONFORMANCE_FLAGS)

## Benchmarks against ws, undici, a raw socket and the native engine (set-up
## and build included): writes bench/results/results.md, results.json and
## throughput.svg. BENCH_QUICK=1 runs a tiny smoke version (see bench/README.md).
bench: build
	node bench/run.js

## The C library: websocket.dll's API (include/websocket.h) as
## target/capi/libwebsocket.a and libwebsocket.so (.dylib on macOS), a release
## build of capi/, with the header copied beside them.
capi:
	cargo build --release --manifest-path capi/Cargo.toml --target-dir target/capi-build
	mkdir -p target/capi
	cp -f target/capi-build/release/libwebsocket.a target/capi-build/release/libwebsocket.$(DYLIB) include/websocket.h target/capi/

DYLIB := $(if $(filter Darwin,$(shell uname -s)),dylib,so)

build: setup
	bash scripts/build.sh

setup:
	bash scripts/setup.sh
