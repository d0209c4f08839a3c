#!/usr/bin/env bash
# Packages a release from built binaries, for every ecosystem that installs lbip. The release
# workflow (.github/workflows/release.yml) runs it with the binaries of every platform;
# tests/packaging.rs runs it for this machine and checks every archive.
#
#   scripts/package.sh                               # this machine: cargo build --release first
#   LBIP_BIN_DIR=bin scripts/package.sh              # bin/<target triple>/lbip, one per platform
#
# Writes into $LBIP_DIST (default dist/), for version V (Cargo.toml) and each target T:
#   lbip-V-T.tar.gz             lbip-V-T/{lbip, LICENSE, README.md, man/man1/*.1,
#                               completions/{lbip.bash,_lbip,lbip.fish}}
#   kubectl-lbip_vV_T.tar.gz    {kubectl-lbip, LICENSE}: what .krew.yaml points krew at
#   lbip-V.tgz[.prov]           the Helm 4 plugin, every platform in one (package-helm-plugin.sh)
#   lbip-lbip-V.tar.gz          the Ansible collection lbip.lbip from ansible/, the module
#                               being the x86_64-unknown-linux-musl binary (else this machine's)
#   SHA256SUMS                  sha256 of every file above
#
# Environment: HELM (a Helm 4 binary, default helm), ANSIBLE_GALAXY (default ansible-galaxy),
# and package-helm-plugin.sh's LBIP_SIGN_KEY / LBIP_SIGN_KEYRING / LBIP_SIGN_PASSPHRASE_FILE.
# Man pages and completions come from running `lbip man` and `lbip completions`, so one of the
# binaries must run here (the release workflow packages on linux/amd64).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

dist=${LBIP_DIST:-dist}
mkdir -p "$dist"
dist=$(cd "$dist" && pwd)
version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -1)
galaxy_version=$(sed -n 's/^version: *//p' ansible/galaxy.yml)
if [[ "$galaxy_version" != "$version" ]]; then
  echo "ansible/galaxy.yml version $galaxy_version differs from Cargo.toml version $version" >&2
  exit 1
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

bin_dir=${LBIP_BIN_DIR:-}
if [[ -z "$bin_dir" ]]; then
  host=$(rustc -vV | sed -n 's/^host: //p')
  cargo build --release --locked --bin lbip
  bin_dir="$work/bin"
  mkdir -p "$bin_dir/$host"
  cp "${CARGO_TARGET_DIR:-target}/release/lbip" "$bin_dir/$host/lbip"
fi
bin_dir=$(cd "$bin_dir" && pwd)
triples=()
for d in "$bin_dir"/*/; do
  t=$(basename "$d")
  [[ -x "$d/lbip" ]] || { echo "error: $d has no executable lbip" >&2; exit 1; }
  triples+=("$t")
done
[[ ${#triples[@]} -gt 0 ]] || { echo "error: no binaries in $bin_dir" >&2; exit 1; }

# A binary that runs here, for the man pages and completions (the same for every platform).
runner=""
for t in "${triples[@]}"; do
  if "$bin_dir/$t/lbip" version >/dev/null 2>&1; then runner="$bin_dir/$t/lbip"; break; fi
done
[[ -n "$runner" ]] || { echo "error: none of the binaries runs on this machine" >&2; exit 1; }
docs="$work/docs"
"$runner" man "$docs/man/man1"
mkdir -p "$docs/completions"
"$runner" completions bash >"$docs/completions/lbip.bash"
"$runner" completions zsh >"$docs/completions/_lbip"
"$runner" completions fish >"$docs/completions/lbip.fish"

# Reproducible tarballs: sorted names, root-owned, no timestamps beyond the commit's.
stamp=$(git log -1 --format=%ct 2>/dev/null || date +%s)
pack() { # archive dir-to-pack-from names...
  local out=$1 from=$2
  shift 2
  tar -C "$from" --sort=name --owner=0 --group=0 --numeric-owner --mtime="@$stamp" \
    -czf "$out" "$@"
}

helm_binaries=""
for t in "${triples[@]}"; do
  # The CLI archive.
  name="lbip-$version-$t"
  stage="$work/$name"
  mkdir -p "$stage"
  install -m 0755 "$bin_dir/$t/lbip" "$stage/lbip"
  cp LICENSE README.md "$stage/"
  cp -R "$docs/man" "$docs/completions" "$stage/"
  pack "$dist/$name.tar.gz" "$work" "$name"

  # The krew archive: the binary named as kubectl looks for it.
  krew="$work/krew-$t"
  mkdir -p "$krew"
  install -m 0755 "$bin_dir/$t/lbip" "$krew/kubectl-lbip"
  cp LICENSE "$krew/"
  pack "$dist/kubectl-lbip_v${version}_$t.tar.gz" "$krew" kubectl-lbip LICENSE

  case "$t" in
    x86_64-*linux*) p=linux-amd64 ;;
    aarch64-*linux*) p=linux-arm64 ;;
    x86_64-apple-darwin) p=darwin-amd64 ;;
    aarch64-apple-darwin) p=darwin-arm64 ;;
    *) echo "error: no Helm platform for $t" >&2; exit 1 ;;
  esac
  helm_binaries+=" $p=$bin_dir/$t/lbip"
done

# The Helm 4 plugin: one tarball for all platforms, signed when a key is given.
LBIP_BINARIES="$helm_binaries" LBIP_DIST="$dist" scripts/package-helm-plugin.sh >/dev/null

# The Ansible collection. A binary module is one file for every target host, so it is the
# static x86_64 Linux build when the release has it.
module_bin="$bin_dir/x86_64-unknown-linux-musl/lbip"
[[ -x "$module_bin" ]] || module_bin=$runner
collection="$work/collection"
cp -R ansible "$collection"
rm -f "$collection/plugins/modules/lbip"
install -m 0755 "$module_bin" "$collection/plugins/modules/lbip"
cp LICENSE "$collection/"
"${ANSIBLE_GALAXY:-ansible-galaxy}" collection build "$collection" --output-path "$dist" --force >/dev/null

cd "$dist"
rm -f SHA256SUMS
files=(lbip-"$version"-*.tar.gz kubectl-lbip_v"$version"_*.tar.gz lbip-"$version".tgz lbip-lbip-"$version".tar.gz)
[[ -f lbip-$version.tgz.prov ]] && files+=(lbip-"$version".tgz.prov)
sha256sum "${files[@]}" >SHA256SUMS
ls -1 "$dist"
