#!/usr/bin/env bash
# The npm package: the three builds of the core (pkg/webgpu, pkg/cpu, pkg/cpu-threads, from `make pkg`), the front end and the shipped
# models (www/: its files under version control, not whatever else lies there), and the npm
# metadata, README and types of pkg-config/, assembled in dist/npm/pkg and packed by
# `wasm-pack pack dist/npm` into dist/npm/pkg/ddpm-web-<version>.tgz.
set -euo pipefail
cd "$(dirname "$0")/.."
out=dist/npm/pkg
rm -rf dist/npm
for build in webgpu cpu cpu-threads; do
  mkdir -p "$out/pkg/$build"
  for f in ddpm_web.js ddpm_web.d.ts ddpm_web_bg.wasm ddpm_web_bg.wasm.d.ts; do
    [ -f "pkg/$build/$f" ] || { echo "pkg/$build/$f is missing: run make pkg first" >&2; exit 1; }
    cp "pkg/$build/$f" "$out/pkg/$build/"
  done
  # The threaded build's pool worker (wasm-bindgen-rayon).
  if [ -d "pkg/$build/snippets" ]; then cp -r "pkg/$build/snippets" "$out/pkg/$build/"; fi
done
git ls-files --cached --others --exclude-standard -z www | xargs -0 cp --parents -t "$out"
cp pkg-config/README.md pkg-config/index.d.ts LICENSE-MIT LICENSE-APACHE "$out/"
version=$(sed -n 's/^version = "\(.*\)"$/\1/p' Cargo.toml | head -1)
node -e '
  const fs = require("fs");
  const meta = JSON.parse(fs.readFileSync("pkg-config/package.json", "utf8"));
  meta.version = process.argv[1];
  fs.writeFileSync(process.argv[2], JSON.stringify(meta, null, 2) + "\n");
' "$version" "$out/package.json"
wasm-pack pack dist/npm >&2
ls "$out"/ddpm-web-"$version".tgz
