# The two commands of the README: `make demo` and `make test`. Each does every set-up step
# itself (idempotently, see scripts/setup.sh) so they work on a fresh machine.

CACHE ?= $(HOME)/.cache/ddpm-web
# Outside the clone, so CI runs and fresh clones on one machine reuse the build (≈ 7 GB); before
# any recipe, a checkout that did not make the last build marks its sources new (setup.sh).
export CARGO_TARGET_DIR ?= $(CACHE)/target
TARGET_OWNER := $(shell CARGO_TARGET_DIR='$(CARGO_TARGET_DIR)' bash scripts/setup.sh target_owner)
export DDPM_CACHE := $(CACHE)
PORT ?= 8080
VENV := $(CACHE)/venv
DDPM := $(CARGO_TARGET_DIR)/debug/ddpm
SERVE := $(CARGO_TARGET_DIR)/debug/ddpm-serve
# What a static host serves: the page, both wasm builds, the models, with .br/.gz beside.
SITE ?= dist/site

.PHONY: demo test lint test-rust test-train test-browser pkg compile-wasm-cpu compile-wasm-cpu-threads compile-wasm-webgpu site serve-bin package \
	setup-rust setup-wasm-target setup-wasm-tools setup-browser setup-node setup-python fixtures bench delivery fuzz lighthouse

# The site as a static host would serve it (precompressed, revalidated, CORS, COOP/COEP, strict CSP).
demo: setup-rust site serve-bin
	$(SERVE) $(SITE) --port $(PORT)

# On a fresh machine `make test` is mostly compiling: wasm-pack and wasm-bindgen-cli, the native
# tests, the two wasm modules. Each compile alone keeps about one of the two cores busy (its long
# single-crate steps and links run one at a time), so they all start together, beside the
# downloads (Chromium, npm, the Python venv); the targets below say what waits for what. The
# WebGPU module is the longest compile and what the browser suites wait for: the tools, needed
# only after it, build at a lower priority. The browser suites then run on their own.
test:
	$(MAKE) --no-print-directory -j8 --output-sync=target lint test-rust test-train site setup-browser
	$(MAKE) --no-print-directory test-browser

# Formatters and linters, the quick ones first: rustfmt (rustfmt.toml), eslint (eslint.config.js)
# on www/, scripts/ and tests/e2e/, tsc on the package's modules from their JSDoc (tsconfig.json),
# the element's attribute tables (scripts/attributes.mjs), ruff (ruff.toml) on the Python, then
# clippy natively (every crate and target) and on the page's WebGPU module (src/web and the GPU
# kernels exist only there).
lint: setup-wasm-target setup-node setup-python
	cargo fmt --all -- --check
	npx eslint
	npx tsc -p tsconfig.json
	node scripts/attributes.mjs --check
	$(VENV)/bin/ruff format --check train tests
	$(VENV)/bin/ruff check train tests
	nice -n 5 cargo clippy --locked --workspace --all-targets -- -D warnings
	CARGO_BUILD_TARGET=wasm32-unknown-unknown nice -n 5 cargo clippy --locked --lib --no-default-features --features webgpu -- -D warnings

# The core, then serve/ (ddpm-serve, whose binary the browser tests use): two runs, not
# --workspace, which would unify their dependencies' features and rebuild burn for the pair.
test-rust:
	cargo test --locked
	cargo test --locked -p ddpm-serve

# train/: the data command, a training smoke run loaded by the Rust core, exact resume.
test-train: setup-python test-rust
	DDPM_BIN=$(DDPM) $(VENV)/bin/python -m unittest discover -s tests/train -v

# ddpm (the native reference the browser results are held against) and ddpm-serve are built by test-rust.
# Two files at a time: a WebGPU suite keeps ≈ 1.4 of the 2 cores busy (SwiftShader compiles its
# shaders on one thread), so a second file fills the rest (all files: 23.6 → 18.5 min here).
# The two longest go first, one to each slot, so no long file runs alone at the end.
BROWSER_TESTS := tests/e2e/views.test.mjs tests/e2e/page.test.mjs
BROWSER_TESTS += $(filter-out $(BROWSER_TESTS),$(sort $(wildcard tests/e2e/*.test.mjs)))
test-browser: setup-browser
	node scripts/assets.mjs --check
	DDPM_BIN=$(DDPM) DDPM_SERVE_BIN=$(SERVE) DDPM_SITE=$(SITE) node --test --test-concurrency=2 $(BROWSER_TESTS)

# pkg/webgpu, pkg/cpu and pkg/cpu-threads: the cargo compile of each (side by side under -j), then wasm-pack and
# wasm-opt (scripts/build-wasm.sh).
pkg: compile-wasm-webgpu compile-wasm-cpu compile-wasm-cpu-threads setup-wasm-tools setup-node
	bash scripts/build-wasm.sh

compile-wasm-cpu compile-wasm-cpu-threads compile-wasm-webgpu: compile-wasm-%: setup-wasm-target
	bash scripts/build-wasm.sh compile $*

# One folder any static host serves as it is (scripts/site.mjs): see docs/delivery.md.
site: pkg
	node scripts/site.mjs $(SITE)

serve-bin:
	cargo build --locked -p ddpm-serve

# The npm package (dist/npm/pkg/ddpm-web-<version>.tgz): wasm-pack's output, www/ and pkg-config/.
package: setup-rust setup-browser pkg
	bash scripts/npm-package.sh

setup-rust: setup-wasm-target setup-wasm-tools

setup-wasm-target:
	bash scripts/setup.sh wasm_target

setup-wasm-tools:
	nice -n 10 bash scripts/setup.sh wasm_tools

setup-browser: setup-node
	bash scripts/setup.sh chromium

setup-node:
	bash scripts/setup.sh node_packages

setup-python:
	bash scripts/setup.sh python_env

# Regenerates tests/reference/fixtures from diffusers (pinned in tests/reference/requirements.txt).
fixtures: setup-python
	$(VENV)/bin/python tests/reference/make_fixtures.py

# faces64's ε_θ as ONNX for the peer (train/export_onnx.py, checked against torch), in the cache:
# exported again only when the weights or the script change.
ONNX := $(CACHE)/onnx/faces64/model.onnx
FACES64 := www/models/faces64/unet
$(ONNX): train/export_onnx.py $(FACES64)/config.json $(FACES64)/diffusion_pytorch_model.safetensors | setup-python-bench
	$(VENV)/bin/python train/export_onnx.py $(dir $@)

.PHONY: setup-python-bench setup-bench-node
setup-python-bench:
	bash scripts/setup.sh python_bench

setup-bench-node:
	bash scripts/setup.sh bench_node

# Speed in one run (scripts/bench.mjs): native flex against diffusers on the same weights (ε_θ
# of faces64 at batch 1 and 8, a DDIM-20 × 8 run, the ddpm-cifar10-32 preset), the same ε_θ in
# the page on the CPU path and on WebGPU, and the page's default reverse run per backend; then
# the page's CPU path against onnxruntime-web's wasm backend on the same ε_θ (scripts/bench-peer.mjs).
bench: setup-rust setup-browser setup-python setup-bench-node pkg $(ONNX)
	cargo build --release --locked --bin ddpm
	DDPM_RELEASE_BIN=$(CARGO_TARGET_DIR)/release/ddpm node scripts/bench.mjs
	DDPM_ONNX=$(ONNX) ORT_DIST=$(CACHE)/bench-node/node_modules/onnxruntime-web/dist node scripts/bench-peer.mjs

# Lighthouse (mobile) on every view of make site's folder, CPU path (scripts/lighthouse.mjs):
# cumulative layout shift, accessibility and best practices, against the goals.
lighthouse: setup-rust setup-browser site serve-bin
	bash scripts/setup.sh lighthouse_node
	DDPM_SERVE_BIN=$(SERVE) DDPM_SITE=$(SITE) LIGHTHOUSE_NODE_MODULES=$(CACHE)/lighthouse-node/node_modules node scripts/lighthouse.mjs

# Delivery in one run (scripts/delivery.mjs): bytes on the wire for a first and a second visit
# on each backend, time to ready, an embed from a second origin, the largest file of the site.
delivery: setup-rust setup-browser site serve-bin
	DDPM_SERVE_BIN=$(SERVE) DDPM_SITE=$(SITE) node scripts/delivery.mjs

# A million generated malformed model folders through load, scheduler and one sampling step
# (tests/fuzzing; `make test` runs 3 000 of them): prints the outcome counts, exits 1 on any
# panic or hang. CASES=… START=… to change the range (a failing case replays alone).
fuzz: setup-rust
	cargo run --release --locked --example fuzz -- --cases $(or $(CASES),1000000) --start $(or $(START),0)
