#!/usr/bin/env bash
# `make pkg`: the three builds of the core the page chooses between at run time (www/worker.js).
#   pkg/webgpu       WebGPU through burn-wgpu, with burn-flex as its fallback
#   pkg/cpu          burn-flex only: what a browser without WebGPU downloads
#   pkg/cpu-threads  the same on a pool of Web Workers, for a cross-origin isolated page with more
#                    than one core: wasm threads need shared memory, which browsers give only there
# Each goes through wasm-opt (binaryen from npm, pinned in package.json; Debian's binaryen 108
# writes modules that fail to load) to drop the name section (6.4 of 35 MB). Its optimising
# passes are not run: measured on these builds, -O2 and -Oz shrink the raw file but make the
# brotli'd one 5–9 % larger (what crosses the wire), and -O2 takes 7 min on the WebGPU module.
# The WebGPU module is built with the wasm-size profile (Cargo.toml) to stay under 25 MiB.
# wasm-pack's own wasm-opt step is off (Cargo.toml): it would download binaryen.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"
# As the Makefile has it, so a direct call reuses the same build.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/ddpm-web/target}"
WASM_OPT=node_modules/.bin/wasm-opt

# The modules: NAME → its cargo profile and features, defined here only.
declare -A PROFILE=([cpu]=release [webgpu]=wasm-size [cpu-threads]=release)
declare -A FEATURES=([cpu]="" [webgpu]="--features webgpu" [cpu-threads]="--features threads -Z build-std=panic_abort,std")

# Threads: std rebuilt with atomics (the prebuilt wasm32 std has none). `-Z build-std` is
# unstable; RUSTC_BOOTSTRAP lets the pinned stable toolchain take it (with its rust-src, see
# scripts/setup.sh) rather than a nightly nobody pinned. Since rustc 1.94 `+atomics` no longer
# implies shared memory: the linker flags ask for it, import it (wasm-bindgen's thread transform
# needs that) and export the TLS symbols each new thread initialises. Its own target folder, so
# the single-thread builds are not rebuilt after it.
threads_env() {
  export RUSTC_BOOTSTRAP=1 CARGO_TARGET_DIR="$CARGO_TARGET_DIR/threads"
  export RUSTFLAGS="-C target-feature=+atomics,+bulk-memory,+mutable-globals,+simd128 -C link-arg=--shared-memory \
-C link-arg=--import-memory -C link-arg=--max-memory=4294967296 -C link-arg=--export=__heap_base \
-C link-arg=--export=__wasm_init_tls -C link-arg=--export=__tls_size -C link-arg=--export=__tls_align \
-C link-arg=--export=__tls_base"
}

# `--release` for the release profile (`--profile release` would make wasm-pack treat it as a
# custom one and download binaryen).
profile_flag() { if [ "$1" = release ]; then echo --release; else echo "--profile $1"; fi; }

# compile NAME: the cargo step alone, as wasm-pack runs it (CARGO_BUILD_TARGET, --lib), so that
# wasm-pack later finds it fresh. `make test` runs it for both modules beside the other compiles.
compile() {
  if [ "$1" = cpu-threads ]; then threads_env; fi
  # shellcheck disable=SC2046,SC2086  # the flags split into words on purpose
  CARGO_BUILD_TARGET=wasm32-unknown-unknown cargo build --lib --locked $(profile_flag "${PROFILE[$1]}") --no-default-features ${FEATURES[$1]}
}

# build NAME: wasm-pack (the compile, fresh if `compile NAME` ran, then wasm-bindgen) and wasm-opt.
build() {
  local name=$1
  local staging="pkg/.staging-$name"
  (
  if [ "$name" = cpu-threads ]; then threads_env; fi
  # shellcheck disable=SC2046,SC2086
  wasm-pack build --target web $(profile_flag "${PROFILE[$name]}") --out-dir "$staging" --no-pack . -- --no-default-features ${FEATURES[$name]}
  # wasm-ld wraps every export in a call to the constructors (".command_export") unless an export
  # calls them itself (src/web/mod.rs, `start`); wrapped, a warm WebGPU ε_θ ran 45× slower.
  if grep -aq 'command_export' "$staging/ddpm_web_bg.wasm"; then
    echo "[build-wasm] pkg/$name: wasm-ld wrapped the exports in constructor calls (see src/web/mod.rs, start)" >&2
    exit 1
  fi
  "$WASM_OPT" --strip-debug --strip-producers --enable-simd --enable-bulk-memory --enable-nontrapping-float-to-int \
    --enable-sign-ext --enable-mutable-globals --enable-reference-types --enable-multivalue --enable-threads \
    "$staging/ddpm_web_bg.wasm" -o "$staging/ddpm_web_bg.wasm.opt"
  mv "$staging/ddpm_web_bg.wasm.opt" "$staging/ddpm_web_bg.wasm"
  # Unchanged files keep their time, so make site does not recompress them and browsers keep
  # their cached copies (the ETag follows the time).
  mkdir -p "pkg/$name"
  # snippets/: the thread pool's worker script (wasm-bindgen-rayon), in the threaded build only.
  for file in ddpm_web.js ddpm_web.d.ts ddpm_web_bg.wasm ddpm_web_bg.wasm.d.ts $(cd "$staging" && find snippets -name '*.js' 2>/dev/null); do
    mkdir -p "pkg/$name/$(dirname "$file")"
    cmp -s "$staging/$file" "pkg/$name/$file" || cp "$staging/$file" "pkg/$name/$file"
  done
  rm -rf "$staging"
  printf '[build-wasm] pkg/%s: %s bytes\n' "$name" "$(stat -c %s "pkg/$name/ddpm_web_bg.wasm")"
  )
}

if [ "${1:-}" = compile ]; then
  compile "$2"
else
  [ -x "$WASM_OPT" ] || { echo "[build-wasm] $WASM_OPT is missing: run make setup-node (npm ci)" >&2; exit 1; }
  build cpu
  build cpu-threads
  build webgpu
fi
