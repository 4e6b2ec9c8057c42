# The two commands of the README: `make demo` and `make test`. Each does every set-up step
# itself (idempotently, see scripts/setup.sh) so they work on a fresh machine.

CACHE ?= $(HOME)/.cache/ddpm-web
# Outside the clone, so CI runs and fresh clones on one machine reuse the build (≈ 7 GB).
export CARGO_TARGET_DIR ?= $(CACHE)/target
export DDPM_CACHE := $(CACHE)
PORT ?= 8080
VENV := $(CACHE)/venv
DDPM := $(CARGO_TARGET_DIR)/debug/ddpm
WASM_PACK := wasm-pack build --target web --release --out-dir pkg --no-pack . -- --no-default-features

.PHONY: demo test test-rust test-train test-browser pkg package setup-rust setup-browser setup-python fixtures bench

demo: setup-rust pkg
	@echo "ddpm-web: serving http://127.0.0.1:$(PORT)/ (Ctrl-C stops)"
	python3 -m http.server $(PORT) --bind 127.0.0.1

test: setup-rust setup-browser setup-python test-rust test-train pkg test-browser

test-rust:
	cargo test --locked

# train/: the data command, a training smoke run loaded by the Rust core, exact resume.
test-train:
	DDPM_BIN=$(DDPM) $(VENV)/bin/python -m unittest discover -s tests/train -v

# ddpm (the native reference the browser results are held against) is built by test-rust.
test-browser:
	DDPM_BIN=$(DDPM) node --test --test-concurrency=1 tests/e2e/

pkg:
	$(WASM_PACK)

# The npm package (dist/npm/pkg/ddpm-web-<version>.tgz): wasm-pack's output, www/ and pkg-config/.
package: setup-rust setup-browser pkg
	bash scripts/npm-package.sh

setup-rust:
	bash scripts/setup.sh rust_wasm

setup-browser:
	bash scripts/setup.sh browser

setup-python:
	bash scripts/setup.sh python_env

# Regenerates tests/reference/fixtures from diffusers (pinned in tests/reference/requirements.txt).
fixtures: setup-python
	$(VENV)/bin/python tests/reference/make_fixtures.py

# Speed in one run (scripts/bench.mjs): native flex against diffusers on the same weights (ε_θ
# of faces64 at batch 1 and 8, a DDIM-20 × 8 run, the ddpm-cifar10-32 preset), the same ε_θ in
# the page on the CPU path and on WebGPU, and the page's default reverse run per backend.
bench: setup-rust setup-browser setup-python pkg
	cargo build --release --locked --bin ddpm
	DDPM_RELEASE_BIN=$(CARGO_TARGET_DIR)/release/ddpm node scripts/bench.mjs
