#!/usr/bin/env bash
# Builds the Helm 4 plugin package $LBIP_DIST/lbip-<version>.tgz (default dist/): one tarball
# for every platform built, holding lbip/plugin.yaml, README.md, LICENSE and
# lbip/bin/<os>-<arch>/lbip (plugin.yaml's platformCommand picks the binary, so installing
# needs no hook and no network). `helm plugin package` makes the tarball, so Helm's own rules
# apply; with LBIP_SIGN_KEY set it is signed too ($LBIP_DIST/lbip-<version>.tgz.prov), and
# `helm plugin install` then verifies it by default.
#
#   scripts/package-helm-plugin.sh                      # this machine: cargo build --release
#   LBIP_TARGETS="x86_64-unknown-linux-musl aarch64-unknown-linux-musl" scripts/package-helm-plugin.sh
#   LBIP_BINARIES="linux-amd64=out/x/lbip darwin-arm64=out/y/lbip" scripts/package-helm-plugin.sh
#   LBIP_BIN=target/debug/lbip scripts/package-helm-plugin.sh   # this machine, a given binary
#
# Environment:
#   HELM                       a Helm 4 binary (default: helm on PATH)
#   LBIP_DIST                  output directory (default: dist)
#   LBIP_SIGN_KEY              name of the signing key (its uid, or a unique part of it)
#   LBIP_SIGN_KEYRING          the secret keyring holding it, in the legacy gpg format:
#                              gpg --export-secret-keys KEY > secring.gpg
#   LBIP_SIGN_PASSPHRASE_FILE  file holding the key's passphrase (none: the key has none)
#
# Install: `helm plugin install dist/lbip-<version>.tgz` (signed; add `--keyring pubring.gpg`
# unless the key is in ~/.gnupg/pubring.gpg) or with `--verify=false` for an unsigned build.
set -euo pipefail
cd "$(dirname "$0")/.."

helm=${HELM:-helm}
dist=${LBIP_DIST:-dist}
version=$(sed -n 's/^version: *//p' plugin.yaml)
cargo_version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -1)
if [[ "$version" != "$cargo_version" ]]; then
  echo "plugin.yaml version $version differs from Cargo.toml version $cargo_version" >&2
  exit 1
fi
if ! "$helm" version --template '{{.Version}}' 2>/dev/null | grep -q '^v4\.'; then
  echo "error: \$HELM ($helm) is not Helm 4; Helm 4 packages postrenderer/v1 plugins" >&2
  exit 1
fi

target_dir=${CARGO_TARGET_DIR:-target}
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
mkdir -p "$stage/lbip"
cp plugin.yaml README.md LICENSE "$stage/lbip/"

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

add_binary() { # platform path
  mkdir -p "$stage/lbip/bin/$1"
  install -m 0755 "$2" "$stage/lbip/bin/$1/lbip"
}

host=$(rustc -vV | sed -n 's/^host: //p')
if [[ -n "${LBIP_BINARIES:-}" ]]; then
  for pair in $LBIP_BINARIES; do
    add_binary "${pair%%=*}" "${pair#*=}"
  done
elif [[ -n "${LBIP_BIN:-}" ]]; then
  add_binary "$(platform_of "$host")" "$LBIP_BIN"
elif [[ -n "${LBIP_TARGETS:-}" ]]; then
  for t in $LBIP_TARGETS; do
    cargo build --release --locked --bin lbip --target "$t"
    add_binary "$(platform_of "$t")" "$target_dir/$t/release/lbip"
  done
else
  cargo build --release --locked --bin lbip
  add_binary "$(platform_of "$host")" "$target_dir/release/lbip"
fi

mkdir -p "$dist"
sign=(--sign=false)
if [[ -n "${LBIP_SIGN_KEY:-}" ]]; then
  sign=(--sign --key "$LBIP_SIGN_KEY" --keyring "${LBIP_SIGN_KEYRING:?LBIP_SIGN_KEYRING names the secret keyring}")
  if [[ -n "${LBIP_SIGN_PASSPHRASE_FILE:-}" ]]; then
    sign+=(--passphrase-file "$LBIP_SIGN_PASSPHRASE_FILE")
  fi
fi
# Helm warns on stderr about an unsigned package; the tarball is the same either way.
"$helm" plugin package "$stage/lbip" -d "$dist" "${sign[@]}" >&2
echo "$dist/lbip-$version.tgz"
