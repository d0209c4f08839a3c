#!/usr/bin/env bash
# Benchmarks `lbip post-render` against the usual alternative (a kustomize post-render
# script: `kubectl kustomize` with strategic-merge patches adding the same annotations) and
# plain `cat` as the floor, on a chart-sized stream and a large one (~20,000 documents,
# tens of MB, a few percent Services). Prints hyperfine tables and peak memory.
#
#   scripts/bench-post-render.sh            # needs hyperfine, python3, kubectl (with kustomize)
#   KUBECTL=/path/to/kubectl scripts/bench-post-render.sh
#
# Results and how they were obtained: BENCHMARKS.md.
set -euo pipefail
cd "$(dirname "$0")/.."

KUBECTL=${KUBECTL:-$(command -v kubectl || echo .venv/bin/kubectl)}
target_dir=${CARGO_TARGET_DIR:-target}
cargo build --release --quiet --bin lbip
LBIP="$(cd "$target_dir/release" && pwd)/lbip"
work=${BENCH_DIR:-$(mktemp -d)}
mkdir -p "$work"
[ -n "${BENCH_DIR:-}" ] || trap 'rm -rf "$work"' EXIT

# The streams: Helm 3 shape (`---` + `# Source:` per document). Every LoadBalancer Service
# is a registered one (so lbip pins rather than refuses); everything else is ConfigMaps,
# Deployments, Secrets and ClusterIP Services with unique names (kustomize rejects
# duplicate ids).
python3 - "$work" <<'PY'
import sys, random
random.seed(42)
out = sys.argv[1]
REGISTERED = [("mlflow", "mlflow"), ("minio", "minio"), ("seldon-scheduler", "seldon-system"),
              ("seldon-mesh", "seldon-system"), ("argocd-server", "argocd"),
              ("argo-workflows-server", "argowf"), ("proxy-public", "jupyterhub"),
              ("grafana", "monitoring"), ("kubernetes-dashboard", "kubernetes-dashboard"),
              ("prometheus-pushgateway", "monitoring")]
def configmap(i):
    lines = "".join(f"    line {j}: some configuration text value={random.randint(0, 10**9)}\n" for j in range(random.randint(10, 60)))
    return (f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm-{i}\n  namespace: apps\n  labels:\n"
            f"    app.kubernetes.io/name: app-{i % 97}\n    app.kubernetes.io/managed-by: Helm\n"
            f"data:\n  settings.yaml: |\n{lines}  version: \"1.10\"\n")
def deployment(i):
    env = "".join(f"            - name: VAR_{j}\n              value: \"{random.randint(0, 10**6)}\"\n" for j in range(random.randint(5, 30)))
    return (f"apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: dep-{i}\n  namespace: apps\n"
            f"spec:\n  replicas: 1\n  selector:\n    matchLabels:\n      app: dep-{i}\n  template:\n"
            f"    metadata:\n      labels:\n        app: dep-{i}\n    spec:\n      containers:\n"
            f"        - name: app\n          image: \"registry.example/app:{i}\"\n          ports:\n"
            f"            - containerPort: 8080\n          env:\n{env}")
def secret(i):
    return (f"apiVersion: v1\nkind: Secret\nmetadata:\n  name: secret-{i}\n  namespace: apps\ntype: Opaque\n"
            f"data:\n  password: \"{'QUJD' * random.randint(4, 40)}\"\n")
def service(i, name=None, ns="apps", lb=False):
    name = name or f"svc-{i}"
    t = "LoadBalancer" if lb else "ClusterIP"
    return (f"apiVersion: v1\nkind: Service\nmetadata:\n  name: {name}\n  namespace: {ns}\n  labels:\n"
            f"    app: {name}\nspec:\n  type: {t}\n  ports:\n    - name: http\n      port: 80\n"
            f"      targetPort: 8080\n  selector:\n    app: {name}\n")
def stream(n, path):
    docs = []
    lbs = list(REGISTERED)
    for i in range(n):
        r = random.random()
        if lbs and i % max(1, n // len(REGISTERED)) == 1:
            name, ns = lbs.pop(0)
            docs.append(("svc", service(i, name, ns, lb=True)))
        elif r < 0.03:
            docs.append(("svc", service(i)))
        elif r < 0.55:
            docs.append(("cm", configmap(i)))
        elif r < 0.85:
            docs.append(("dep", deployment(i)))
        else:
            docs.append(("secret", secret(i)))
    with open(path, "w") as f:
        for i, (k, d) in enumerate(docs):
            f.write(f"---\n# Source: big/templates/{k}-{i}.yaml\n{d}")
stream(25, f"{out}/small.yaml")
stream(2000, f"{out}/medium.yaml")
stream(20000, f"{out}/large.yaml")
PY

# The kustomize alternative, as people write it for Helm: stdin -> all.yaml -> kustomize.
mkdir -p "$work/kustomize"
{
  echo "resources: [all.yaml]"
  echo "patches:"
  while read -r name ns ip; do
    cat <<K
  - patch: |-
      apiVersion: v1
      kind: Service
      metadata:
        name: $name
        namespace: $ns
        annotations:
          metallb.io/loadBalancerIPs: $ip
K
  done <<'LIST'
mlflow mlflow 192.168.1.215
minio minio 192.168.1.200
seldon-scheduler seldon-system 192.168.1.201
seldon-mesh seldon-system 192.168.1.202
argocd-server argocd 192.168.1.204
argo-workflows-server argowf 192.168.1.205
proxy-public jupyterhub 192.168.1.206
grafana monitoring 192.168.1.207
kubernetes-dashboard kubernetes-dashboard 192.168.1.208
prometheus-pushgateway monitoring 192.168.1.209
LIST
} > "$work/kustomize/kustomization.yaml"
cat > "$work/kustomize.sh" <<K
#!/usr/bin/env bash
cat > "$work/kustomize/all.yaml"
exec "$KUBECTL" kustomize "$work/kustomize"
K
chmod +x "$work/kustomize.sh"

REG="$PWD/examples/registry.yaml"
for size in ${SIZES:-small medium large}; do
  f="$work/$size.yaml"
  docs=$(grep -c '^---$' "$f")
  echo
  echo "== $size stream: $docs documents, $(stat -c %s "$f") bytes, $(grep -c '^kind: Service$' "$f") Services"
  # Sanity: lbip pins every registered Service and leaves everything else byte-identical.
  "$LBIP" post-render -r "$REG" < "$f" > "$work/out.yaml"
  echo "lbip pinned $(grep -c 'metallb.io/loadBalancerIPs' "$work/out.yaml") Services;" \
    "lines changed: $(diff "$f" "$work/out.yaml" | grep -c '^[<>]' || true)"
  if [ "$size" != large ]; then
    echo "kustomize pinned $("$work/kustomize.sh" < "$f" | grep -c 'metallb.io/loadBalancerIPs') Services"
    runs=$([ "$size" = small ] && echo 50 || echo 5)
    hyperfine --warmup 2 --runs "$runs" --style basic --output pipe --export-markdown "$work/$size.md" \
      -n cat "cat < $f" \
      -n lbip "$LBIP post-render -r $REG < $f" \
      -n kustomize "$work/kustomize.sh < $f"
  else
    hyperfine --warmup 2 --runs 10 --style basic --output pipe --export-markdown "$work/$size.md" \
      -n cat "cat < $f" \
      -n lbip "$LBIP post-render -r $REG < $f"
    # kustomize takes many minutes here: one run, capped.
    cap=${KUSTOMIZE_TIMEOUT:-900}
    if timeout "$cap" /usr/bin/time -o "$work/k.time" -f '%e s wall, peak RSS %M KiB' \
        "$work/kustomize.sh" < "$f" > /dev/null; then
      echo "kustomize (1 run): $(cat "$work/k.time")"
    else
      echo "kustomize (1 run): did not finish within ${cap} s"
    fi
  fi
  cat "$work/$size.md"
  for name in cat lbip; do
    case $name in cat) cmd=(cat) ;; lbip) cmd=("$LBIP" post-render -r "$REG") ;; esac
    rss=$( { /usr/bin/time -f '%M' "${cmd[@]}" < "$f" > /dev/null; } 2>&1 | tail -1)
    echo "peak RSS $name: ${rss} KiB (input $(( $(stat -c %s "$f") / 1024 )) KiB)"
  done
done
