# Signet. `make test` is what CI runs (.ci/run); `make demo` is the README's first command.
SHELL := /bin/bash
export CARGO_TARGET_DIR ?= $(HOME)/.cache/signet-target
export SIGNET_TOOLS ?= $(HOME)/.cache/signet-tools
CARGO ?= cargo

.PHONY: test deps lint unit build demo bench fmt

## test: install test dependencies, lint, then every test (unit and end to end).
test: deps lint
	$(CARGO) test --workspace --all-targets

## deps: the registries and CLIs the end-to-end tests run (idempotent).
deps:
	scripts/install-test-deps.sh

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

fmt:
	$(CARGO) fmt --all

build:
	$(CARGO) build --release -p signet

## demo: a local registry with sample images, the provider on localhost, a ProviderRequest, the verdicts.
demo: deps
	scripts/demo.sh
