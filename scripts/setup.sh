#!/usr/bin/env bash
# Idempotent set-up shared by `make demo` and `make test`: each step checks before it installs,
# so a second run costs seconds. Everything comes from the registries (crates.io, npm, PyPI,
# Debian); nothing is downloaded from anywhere else.
set -euo pipefail

CACHE="${DDPM_CACHE:-$HOME/.cache/ddpm-web}"
WASM_PACK_VERSION=0.15.1
WASM_BINDGEN_VERSION=0.2.130   # must equal the wasm-bindgen pin in Cargo.toml
export PATH="$HOME/.cargo/bin:$PATH"

have() { command -v "$1" >/dev/null 2>&1; }
say() { printf '[setup] %s\n' "$*"; }

wasm_target() {
  if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
    say "rustup target add wasm32-unknown-unknown"
    rustup target add wasm32-unknown-unknown
  fi
  # The threaded module rebuilds std with atomics from its source (scripts/build-wasm.sh).
  if ! rustup component list --installed | grep -q '^rust-src'; then
    say "rustup component add rust-src"
    rustup component add rust-src
  fi
}

# wasm-pack and wasm-bindgen-cli: needed only once the wasm modules are compiled (scripts/build-wasm.sh).
wasm_tools() {
  if ! wasm-pack --version 2>/dev/null | grep -q "$WASM_PACK_VERSION"; then
    say "cargo install wasm-pack $WASM_PACK_VERSION (a few minutes, once)"
    cargo install wasm-pack --version "$WASM_PACK_VERSION" --locked
  fi
  if ! wasm-bindgen --version 2>/dev/null | grep -q "$WASM_BINDGEN_VERSION"; then
    # Without --locked: one locked dependency of this release is missing from crates.io. Without
    # its default features: TLS (rustls, ring) is for its test runner's downloads, never used here.
    say "cargo install wasm-bindgen-cli $WASM_BINDGEN_VERSION (minutes, once)"
    cargo install wasm-bindgen-cli --version "$WASM_BINDGEN_VERSION" --force --no-default-features
  fi
}

chromium() {
  if [ ! -x /usr/bin/chromium ]; then
    say "apt-get install chromium"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq chromium chromium-driver >/dev/null
  fi
}

# playwright-core for the browser tests, binaryen's wasm-opt for scripts/build-wasm.sh.
node_packages() {
  if [ ! -d node_modules/playwright-core ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
    say "npm ci"
    npm ci --no-audit --no-fund --loglevel=error
  fi
}

vulkan() {
  # Optional: lets the native wgpu backend run on lavapipe (used by `ddpm bench`).
  if [ ! -e /usr/share/vulkan/icd.d/lvp_icd.x86_64.json ]; then
    say "apt-get install mesa-vulkan-drivers"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq && apt-get install -y -qq mesa-vulkan-drivers >/dev/null || say "no Vulkan drivers; wgpu bench skipped"
  fi
}

python_env() {
  # train/requirements.txt includes the fixtures' pins (tests/reference/requirements.txt).
  local venv="$CACHE/venv" req="train/requirements.txt"
  local stamp="$venv/.requirements"
  if [ ! -x "$venv/bin/python" ]; then
    say "python venv in $venv"
    python3 -m venv "$venv"
  fi
  if ! cat "$req" tests/reference/requirements.txt | cmp -s - "$stamp"; then
    say "pip install -r $req (torch is large: a few minutes, once)"
    "$venv/bin/pip" install -q --disable-pip-version-check -r "$req"
    cat "$req" tests/reference/requirements.txt > "$stamp"
  fi
}

# A pinned npm package in its own folder of the cache, for a make target that needs it, rather
# than in package.json, so that `make test`'s npm ci does not fetch it: cached_npm DIR NAME VERSION.
cached_npm() {
  local dir="$CACHE/$1"
  if ! grep -qs "\"version\": \"$3\"" "$dir/node_modules/$2/package.json"; then
    say "npm install $2@$3 into $dir"
    mkdir -p "$dir"
    npm install --prefix "$dir" --no-save --no-audit --no-fund --loglevel=error "$2@$3"
  fi
}

# `make bench`: onnxruntime-web (139 MB), the peer the page is measured against (scripts/bench-peer.mjs).
bench_node() { cached_npm bench-node onnxruntime-web 1.30.0; }

# `make lighthouse`: Lighthouse 12.2.3 (110 MB).
lighthouse_node() { cached_npm lighthouse-node lighthouse 12.2.3; }

# `make bench` only: onnx and onnxruntime for the ONNX export of ε_θ that the onnxruntime-web peer
# runs (train/export_onnx.py), on top of python_env's pins.
python_bench() {
  python_env
  local venv="$CACHE/venv" req="train/requirements-bench.txt"
  local stamp="$venv/.requirements-bench"
  if ! cmp -s "$req" "$stamp"; then
    say "pip install -r $req"
    "$venv/bin/pip" install -q --disable-pip-version-check -r "$req"
    cp "$req" "$stamp"
  fi
}

# Checkouts that share CARGO_TARGET_DIR (a fresh clone beside the working one) see each other's
# builds: cargo's hash of a workspace crate leaves out the checkout's path, and it judges sources
# by their mtime, so after a build in one checkout, the other's older edits look built. When the
# last build came from another checkout, this one's Rust sources are marked new: its own crates
# rebuild once, the dependencies stay.
target_owner() {
  local target="${CARGO_TARGET_DIR:?}" here
  here="$(pwd -P)"
  git rev-parse --is-inside-work-tree >/dev/null 2>&1 || return 0
  [ "$(cat "$target/.checkout" 2>/dev/null)" = "$here" ] && return
  git ls-files -z -- '*.rs' '*Cargo.toml' 'Cargo.lock' '.cargo/*' | xargs -0 -r touch
  mkdir -p "$target"
  echo "$here" > "$target/.checkout"
}

for step in "$@"; do "$step"; done
