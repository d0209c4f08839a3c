#!/usr/bin/env bash
# Builds the Helm 4 plugin tarball: dist/lbip-<version>.tgz holding lbip/plugin.yaml and
# lbip/bin/<os>-<arch>/lbip for every target built (the plugin's platformCommand picks one).
#
#   scripts/package-helm-plugin.sh                   # this machine's platform only
#   LBIP_TARGETS="x86_64-unknown-linux-gnu aarch64-unknown-linux-gnu" scripts/package-helm-plugin.sh
#
# Install with `helm plugin install dist/lbip-<version>.tgz` (add `--verify=false` unless you
# also publish a .prov signature), then use `--post-renderer lbip`.
set -euo pipefail
cd "$(dirname "$0")/.."

version=$(sed -n 's/^version: *//p' plugin.yaml)
cargo_version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -1)
if [[ "$version" != "$cargo_version" ]]; then
  echo "plugin.yaml version $version differs from Cargo.toml version $cargo_version" >&2
  exit 1
fi

target_dir=${CARGO_TARGET_DIR:-target}
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
mkdir -p "$stage/lbip"
cp plugin.yaml README.md "$stage/lbip/"

# os-arch as Helm (Go) names them.
platform_of() {
  local triple=$1 os arch
  case "$triple" in
    *linux*) os=linux ;;
    *darwin*|*apple*) os=darwin ;;
    *) echo "unsupported target $triple" >&2; exit 1 ;;
  esac
  case "$triple" in
    x86_64*) arch=amd64 ;;
    aarch64*|arm64*) arch=arm64 ;;
    *) echo "unsupported target $triple" >&2; exit 1 ;;
  esac
  echo "$os-$arch"
}

if [[ -z "${LBIP_TARGETS:-}" ]]; then
  cargo build --release --locked --bin lbip
  host=$(rustc -vV | sed -n 's/^host: //p')
  mkdir -p "$stage/lbip/bin/$(platform_of "$host")"
  cp "$target_dir/release/lbip" "$stage/lbip/bin/$(platform_of "$host")/lbip"
else
  for t in $LBIP_TARGETS; do
    cargo build --release --locked --bin lbip --target "$t"
    mkdir -p "$stage/lbip/bin/$(platform_of "$t")"
    cp "$target_dir/$t/release/lbip" "$stage/lbip/bin/$(platform_of "$t")/lbip"
  done
fi

mkdir -p dist
out="dist/lbip-$version.tgz"
tar -C "$stage" -czf "$out" --owner=0 --group=0 --sort=name lbip
echo "$out"
tar -tzf "$out"
