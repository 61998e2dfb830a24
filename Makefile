# The two commands of the README, and the steps behind them. Each target does
# its own set-up (toolchain pieces, npm packages) on a fresh machine.

.PHONY: demo test build setup

## The main job: a demo of the package (set-up and build included).
demo: build
	node scripts/demo.mjs

## Every test (set-up and build included); what CI runs.
test:
	bash scripts/test.sh

build: setup
	bash scripts/build.sh

setup:
	bash scripts/setup.sh
