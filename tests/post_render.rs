//! Golden and rule tests for the Helm post-renderer core (`lbip::manifest::post_render`).
//!
//! Goldens live in tests/golden/post-render/; regenerate them with `LBIP_BLESS=1 cargo test
//! --test post_render` and review the diff.

use lbip::manifest::{Options, Outcome, PostRenderError, Unpinned, post_render};
use lbip::registry::{Loaded, Registry};
use std::path::PathBuf;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn registry_text(path: &str) -> String {
    std::fs::read_to_string(root().join(path)).unwrap()
}

fn registry_from(text: &str) -> Registry {
    let loaded = Loaded::from_text(text, "test-registry.yaml").unwrap();
    loaded.require_valid().unwrap()
}

/// The running example registry.
fn example() -> Registry {
    registry_from(&registry_text("examples/registry.yaml"))
}

/// The running example with `forceLoadBalancer` on the Argo Workflows server.
fn example_forced() -> Registry {
    let text = registry_text("examples/registry.yaml").replace(
        "  argo-workflows-server:\n    namespace: argowf\n",
        "  argo-workflows-server:\n    namespace: argowf\n    forceLoadBalancer: true\n",
    );
    assert!(text.contains("forceLoadBalancer: true"));
    registry_from(&text)
}

/// Shared IPs, dual stack and the `metallb.universe.tf` prefix.
fn dual_stack() -> Registry {
    registry_from(&registry_text("tests/fixtures/dual-stack.yaml"))
}

fn opts(ns: Option<&str>) -> Options {
    Options {
        namespace: ns.map(str::to_string),
        unpinned: Unpinned::Fail,
    }
}

fn run(input: &str, reg: &Registry, o: &Options) -> (String, Outcome) {
    let outcome = post_render(input.as_bytes(), reg, o)
        .unwrap_or_else(|e| panic!("post-render failed:\n{e}\ninput:\n{input}"));
    let out = String::from_utf8(outcome.to_bytes(input.as_bytes())).unwrap();
    (out, outcome)
}

fn fails(input: &str, reg: &Registry, o: &Options) -> PostRenderError {
    match post_render(input.as_bytes(), reg, o) {
        Ok(out) => panic!(
            "expected an error, got:\n{}",
            String::from_utf8_lossy(&out.to_bytes(input.as_bytes()))
        ),
        Err(e) => e,
    }
}

fn golden(name: &str, actual: &str) {
    let path = root().join("tests/golden/post-render").join(name);
    if std::env::var_os("LBIP_BLESS").is_some() {
        std::fs::write(&path, actual).unwrap();
    }
    let expected = std::fs::read_to_string(&path)
        .unwrap_or_else(|_| panic!("missing golden {name}; run with LBIP_BLESS=1"));
    assert_eq!(actual, expected, "golden {name} differs");
}

fn warnings(o: &Outcome) -> String {
    o.findings
        .iter()
        .map(|f| format!("{}: {} [{}]\n", f.severity, f.message, f.code))
        .collect()
}

/// Every document of `output` is byte-identical to the corresponding one of `input`,
/// except those whose index is in `changed`.
fn only_changed(input: &str, output: &str, changed: &[usize]) {
    let a: Vec<&str> = input.split("\n---\n").collect();
    let b: Vec<&str> = output.split("\n---\n").collect();
    assert_eq!(a.len(), b.len());
    for (i, (x, y)) in a.iter().zip(&b).enumerate() {
        if changed.contains(&i) {
            assert_ne!(x, y, "document {i} should have changed");
        } else {
            assert_eq!(x, y, "document {i} must be byte-identical");
        }
    }
}

fn chart(name: &str) -> String {
    std::fs::read_to_string(root().join("examples/charts").join(name)).unwrap()
}

// ---- the example charts, Helm 3 and Helm 4 forms ----

#[test]
fn example_charts_match_their_goldens_and_are_idempotent() {
    let cases = [
        ("mlflow", Some("mlflow"), example()),
        ("minio", None, example()),
        ("seldon-core-v2", None, example()),
        ("argo-workflows", None, example_forced()),
    ];
    for (name, ns, reg) in cases {
        for form in ["helm3", "helm4"] {
            let file = format!("{name}.{form}.yaml");
            let input = chart(&file);
            let (out, outcome) = run(&input, &reg, &opts(ns));
            golden(&format!("{name}.{form}.out.yaml"), &out);
            golden(&format!("{name}.{form}.warnings.txt"), &warnings(&outcome));
            let (again, second) = run(&out, &reg, &opts(ns));
            assert_eq!(again, out, "{file}: a second run must change nothing");
            assert!(second.fully_pinned(), "{file}: {:?}", second.changes);
        }
    }
}

#[test]
fn mlflow_gets_its_registry_ip_and_loses_the_misspelled_key() {
    let input = chart("mlflow.helm3.yaml");
    let (out, outcome) = run(&input, &example(), &opts(Some("mlflow")));
    assert!(out.contains("    metallb.io/loadBalancerIPs: 192.168.1.215\n"));
    assert!(!out.contains("loadBalancer-ips"));
    let w = warnings(&outcome);
    assert!(
        w.contains("Service mlflow/mlflow (mlflow/templates/service.yaml) removed `metallb.universe.tf/loadBalancer-ips: 192.168.1.201`"),
        "{w}"
    );
    assert!(w.contains("[misspelled-annotation]"));
    // Only the Service document (index 3) changed; the others are byte-identical.
    only_changed(&input, &out, &[3]);
    assert_eq!(outcome.changes.len(), 2, "{:?}", outcome.changes);
}

#[test]
fn helm4_stream_keeps_the_filename_annotation_and_pins_hooks_too() {
    let input = chart("mlflow.helm4.yaml");
    let (out, _) = run(&input, &example(), &opts(Some("mlflow")));
    let svc = out
        .split("\n---\n")
        .find(|d| d.contains("kind: Service\n"))
        .unwrap();
    assert!(svc.contains(
        "    postrenderer.helm.sh/postrender-filename: 'mlflow/templates/service.yaml'\n"
    ));
    assert!(svc.contains("    metallb.io/loadBalancerIPs: 192.168.1.215\n"));
    assert!(
        !out.starts_with("---"),
        "Helm 4 streams have no leading separator"
    );

    // A hook Service (Helm 4 post-renders hooks) is pinned like any other object.
    let hook = "apiVersion: v1\nkind: Service\nmetadata:\n  name: mlflow\n  annotations:\n    \"helm.sh/hook\": post-install\n    postrenderer.helm.sh/postrender-filename: 'mlflow/templates/hook-svc.yaml'\nspec:\n  type: LoadBalancer\n";
    let (out, _) = run(hook, &example(), &opts(Some("mlflow")));
    assert!(out.contains("\"helm.sh/hook\": post-install\n"));
    assert!(
        out.contains("metallb.io/loadBalancerIPs: 192.168.1.215\n"),
        "{out}"
    );
}

#[test]
fn a_configmap_quoting_a_service_is_not_a_service() {
    let input = chart("seldon-core-v2.helm3.yaml");
    let (out, outcome) = run(&input, &example(), &opts(None));
    let cm = out
        .split("\n---\n")
        .find(|d| d.contains("seldon-service-templates"))
        .unwrap();
    assert!(
        input.contains(cm),
        "the ConfigMap must pass through byte for byte"
    );
    let services: Vec<&str> = outcome.changes.iter().map(|c| c.service.as_str()).collect();
    assert_eq!(
        services,
        [
            "seldon-system/seldon-scheduler",
            "seldon-system/seldon-mesh"
        ]
    );
}

// ---- the rules, one by one ----

const SVC: &str = "---\n# Source: app/templates/service.yaml\napiVersion: v1\nkind: Service\nmetadata:\n  name: mlflow\n  namespace: mlflow\nspec:\n  type: LoadBalancer\n  ports:\n  - port: 5000\n";

#[test]
fn spec_load_balancer_ip_is_removed_with_a_warning() {
    let input = SVC.replace(
        "  type: LoadBalancer\n",
        "  type: LoadBalancer\n  loadBalancerIP: 192.168.1.215\n",
    );
    let (out, outcome) = run(&input, &example(), &opts(None));
    assert!(!out.contains("loadBalancerIP:"));
    let w = warnings(&outcome);
    assert!(w.contains("Service mlflow/mlflow (app/templates/service.yaml) removed `spec.loadBalancerIP: 192.168.1.215`: MetalLB rejects a Service that has both"), "{w}");
    // An empty loadBalancerIP (a common chart default) goes silently.
    let input = SVC.replace(
        "  type: LoadBalancer\n",
        "  type: LoadBalancer\n  loadBalancerIP: \"\"\n",
    );
    let (out, outcome) = run(&input, &example(), &opts(None));
    assert!(!out.contains("loadBalancerIP:"));
    assert!(outcome.findings.is_empty());
}

#[test]
fn a_chart_pinning_another_ip_is_overridden_with_a_warning() {
    let input = SVC.replace(
        "  namespace: mlflow\n",
        "  namespace: mlflow\n  annotations:\n    metallb.io/loadBalancerIPs: 192.168.1.201\n",
    );
    let (out, outcome) = run(&input, &example(), &opts(None));
    golden("override.out.yaml", &out);
    let w = warnings(&outcome);
    assert!(w.contains("the chart pins `metallb.io/loadBalancerIPs: 192.168.1.201`; the registry entry `mlflow` says 192.168.1.215, which wins [pin-overridden]"), "{w}");
    // The same IP written differently (spaces) is already right: nothing changes.
    let same = SVC.replace(
        "  namespace: mlflow\n",
        "  namespace: mlflow\n  annotations:\n    metallb.io/loadBalancerIPs: \" 192.168.1.215 \"\n",
    );
    let (out, outcome) = run(&same, &example(), &opts(None));
    assert_eq!(out, same);
    assert!(outcome.fully_pinned());
}

#[test]
fn other_prefix_and_misspelled_and_wrong_case_keys_are_removed() {
    let input = SVC.replace(
        "  namespace: mlflow\n",
        "  namespace: mlflow\n  annotations:\n    metallb.universe.tf/loadBalancerIPs: 192.168.1.215\n    metallb.universe.tf/loadBalancer-ips: 192.168.1.215\n    metallb.io/loadbalancerips: 192.168.1.215\n    metallb.universe.tf/address-pool: homelab\n    metallb.io/ip-allocated-from-pool: homelab\n    app.kubernetes.io/part-of: mlops\n",
    );
    let (out, outcome) = run(&input, &example(), &opts(None));
    golden("strip.out.yaml", &out);
    let codes: Vec<&str> = outcome.findings.iter().map(|f| f.code).collect();
    assert_eq!(
        codes,
        [
            "other-prefix-removed",
            "misspelled-annotation",
            "misspelled-annotation",
            "address-pool-removed"
        ]
    );
    assert!(outcome.findings.iter().all(|f| {
        f.message
            .starts_with("Service mlflow/mlflow (app/templates/service.yaml)")
    }));
    // The controller's own bookkeeping key and unrelated keys stay.
    assert!(out.contains("metallb.io/ip-allocated-from-pool: homelab\n"));
    assert!(out.contains("app.kubernetes.io/part-of: mlops\n"));
}

#[test]
fn shared_keys_and_dual_stack_use_the_registry_prefix_ipv4_first() {
    let reg = dual_stack();
    let input = "apiVersion: v1\nkind: Service\nmetadata:\n  name: coredns-udp\n  namespace: dns\n  annotations:\n    metallb.io/loadBalancerIPs: 10.20.0.53\nspec:\n  type: LoadBalancer\n  ports:\n  - {port: 53, protocol: UDP}\n---\napiVersion: v1\nkind: Service\nmetadata: {name: gitea-http, namespace: gitea}\nspec: {type: LoadBalancer, ipFamilyPolicy: PreferDualStack, ports: [{port: 443}]}\n";
    let (out, outcome) = run(input, &reg, &opts(None));
    golden("shared-dual-stack.out.yaml", &out);
    assert!(out.contains("    metallb.universe.tf/loadBalancerIPs: 10.20.0.53\n    metallb.universe.tf/allow-shared-ip: dns\n"), "{out}");
    assert!(!out.contains("metallb.io/"));
    assert!(
        out.contains(
            "annotations: {metallb.universe.tf/loadBalancerIPs: \"10.20.0.10,fd00:20::10\"}}\n"
        ),
        "{out}"
    );
    assert_eq!(outcome.findings[0].code, "other-prefix-removed");
}

#[test]
fn force_load_balancer_turns_a_node_port_service_into_a_load_balancer() {
    let input = chart("argo-workflows.helm3.yaml");
    let (out, outcome) = run(&input, &example_forced(), &opts(None));
    let svc = out
        .split("\n---\n")
        .find(|d| d.contains("kind: Service\n"))
        .unwrap();
    assert!(svc.ends_with("  type: LoadBalancer"), "{svc}");
    assert!(
        svc.contains("    nodePort: 32746\n"),
        "ports and nodePorts are kept"
    );
    assert!(svc.contains("metallb.io/loadBalancerIPs: 192.168.1.205"));
    assert!(outcome.changes.iter().any(|c| {
        c.description
            .starts_with("set spec.type: LoadBalancer (was NodePort")
    }));
    // Without forceLoadBalancer the Service stays a NodePort, with a warning.
    let (out, outcome) = run(&input, &example(), &opts(None));
    assert_eq!(out, input);
    assert_eq!(outcome.findings[0].code, "registered-not-load-balancer");
}

#[test]
fn unregistered_load_balancers_fail_by_default_naming_each_with_distinct_free_ips() {
    let input = "---\n# Source: demo/templates/a.yaml\napiVersion: v1\nkind: Service\nmetadata:\n  name: demo-a\nspec:\n  type: LoadBalancer\n---\n# Source: demo/templates/b.yaml\napiVersion: v1\nkind: Service\nmetadata:\n  name: demo-b\n  namespace: demo\nspec:\n  type: LoadBalancer\n---\n# Source: demo/templates/c.yaml\napiVersion: v1\nkind: Service\nmetadata:\n  name: demo-c\nspec:\n  type: ClusterIP\n";
    let err = fails(input, &example(), &opts(Some("demo")));
    let text = err.to_string();
    golden("unpinned.err.txt", &format!("{text}\n"));
    assert_eq!(err.problems.len(), 2);
    assert!(text.contains(
        "Service demo/demo-a (demo/templates/a.yaml) is a LoadBalancer with no registry entry"
    ));
    assert!(text.contains("Service demo/demo-b (demo/templates/b.yaml)"));
    assert!(text.contains("free address 192.168.1.203"));
    assert!(
        text.contains("free address 192.168.1.210"),
        "suggestions are distinct: {text}"
    );
    assert!(!text.contains("demo-c"));

    let warn = Options {
        unpinned: Unpinned::Warn,
        ..opts(Some("demo"))
    };
    let (out, outcome) = run(input, &example(), &warn);
    assert_eq!(out, input);
    assert_eq!(outcome.findings.len(), 2);
    assert_eq!(outcome.unpinned, ["demo/demo-a", "demo/demo-b"]);
    assert!(!outcome.fully_pinned());

    let allow = Options {
        unpinned: Unpinned::Allow,
        ..opts(Some("demo"))
    };
    let (out, outcome) = run(input, &example(), &allow);
    assert_eq!(out, input);
    assert!(outcome.findings.is_empty());
}

#[test]
fn an_unknown_namespace_never_picks_an_entry() {
    let input = "apiVersion: v1\nkind: Service\nmetadata:\n  name: seldon-scheduler\nspec:\n  type: LoadBalancer\n";
    let err = fails(input, &example(), &opts(None)).to_string();
    assert!(err.contains("the registry has 2 entries named `seldon-scheduler` (seldon-system/seldon-scheduler, financial-inference/seldon-scheduler)"), "{err}");
    assert!(
        err.contains("--post-renderer-args --namespace=<ns>"),
        "{err}"
    );
    // One entry by that name is still a guess: refuse too.
    let one = input.replace("seldon-scheduler", "mlflow");
    let err = fails(&one, &example(), &opts(None)).to_string();
    assert!(err.contains("1 entry named `mlflow`"), "{err}");
    // With the namespace, the right entry is chosen.
    let (out, _) = run(input, &example(), &opts(Some("financial-inference")));
    assert!(out.contains("metallb.io/loadBalancerIPs: 192.168.1.220"));
    // metadata.namespace beats the fallback.
    let own = input.replace(
        "  name: seldon-scheduler\n",
        "  name: seldon-scheduler\n  namespace: seldon-system\n",
    );
    let (out, _) = run(&own, &example(), &opts(Some("financial-inference")));
    assert!(out.contains("metallb.io/loadBalancerIPs: 192.168.1.201"));
}

#[test]
fn any_yaml_style_is_understood() {
    let reg = example();
    let cases = [
        (
            "flow",
            "{apiVersion: v1, kind: Service, metadata: {name: mlflow, namespace: mlflow}, spec: {type: LoadBalancer, ports: [{port: 5000}]}}\n",
        ),
        (
            "json",
            "{\"apiVersion\": \"v1\", \"kind\": \"Service\", \"metadata\": {\"name\": \"mlflow\", \"namespace\": \"mlflow\"}, \"spec\": {\"type\": \"LoadBalancer\"}}\n",
        ),
        (
            "quoted-keys-comments",
            "# leading comment\n'apiVersion': \"v1\" # core\n\"kind\": 'Service'\nmetadata:\n  # the name\n  \"name\": mlflow\n  namespace: !!str mlflow\nspec:\n  type: LoadBalancer\n",
        ),
        (
            "escaped",
            "apiVersion: v1\nkind: \"Serv\\x69ce\"\nmetadata:\n  name: mlflow\n  namespace: mlflow\nspec:\n  type: \"LoadBalancer\"\n",
        ),
        (
            "anchors",
            "apiVersion: v1\nkind: Service\nmetadata: &meta\n  name: mlflow\n  namespace: mlflow\n  labels: &labels\n    app: mlflow\nspec:\n  type: LoadBalancer\n  selector: *labels\n",
        ),
        (
            "merge-key",
            "apiVersion: v1\nkind: Service\nmetadata:\n  <<: {name: mlflow, namespace: mlflow}\nspec:\n  type: LoadBalancer\n",
        ),
        (
            "list",
            "apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: ConfigMap\n  metadata: {name: x}\n- apiVersion: v1\n  kind: Service\n  metadata:\n    name: mlflow\n    namespace: mlflow\n  spec:\n    type: LoadBalancer\n",
        ),
        (
            "doc-markers",
            "--- # the service\napiVersion: v1\nkind: Service\nmetadata:\n  name: mlflow\n  namespace: mlflow\nspec:\n  type: LoadBalancer\n...\n",
        ),
    ];
    for (name, input) in cases {
        let (out, outcome) = run(input, &reg, &opts(None));
        golden(&format!("style-{name}.out.yaml"), &out);
        assert_eq!(outcome.changes.len(), 1, "{name}: {:?}", outcome.changes);
        let v: serde_json::Value = serde_saphyr::from_str(&out).unwrap();
        let svc = if v["kind"] == "List" {
            &v["items"][1]
        } else {
            &v
        };
        assert_eq!(
            svc["metadata"]["annotations"]["metallb.io/loadBalancerIPs"], "192.168.1.215",
            "{name}:\n{out}"
        );
        let (again, _) = run(&out, &reg, &opts(None));
        assert_eq!(again, out, "{name}: idempotent");
    }
}

#[test]
fn changed_documents_keep_every_scalar_exactly() {
    let input = "---\n# Source: app/templates/service.yaml\napiVersion: v1\nkind: Service\nmetadata:\n  name: mlflow\n  namespace: mlflow\n  labels:\n    version: 1.10\n    mode: \"0755\"\n    enabled: 'yes'\n    empty:\n    octal: 0o17\n  annotations:\n    description: |\n      multi\n      line \"text\"\n    postrenderer.helm.sh/postrender-filename: 'app/templates/service.yaml'\nspec:\n  type: LoadBalancer # exposed\n  ports:\n  - port: 5000\n    targetPort: \"http\"\n";
    let (out, _) = run(input, &example(), &opts(None));
    golden("fidelity.out.yaml", &out);
    for kept in [
        "    version: 1.10\n",
        "    mode: \"0755\"\n",
        "    enabled: 'yes'\n",
        "    empty:\n",
        "    octal: 0o17\n",
        "  type: LoadBalancer # exposed\n",
        "    targetPort: \"http\"\n",
        "postrender-filename: 'app/templates/service.yaml'\n",
        "---\n# Source: app/templates/service.yaml\n",
    ] {
        assert!(out.contains(kept), "lost {kept:?}:\n{out}");
    }
    let a: serde_json::Value = serde_saphyr::from_str(input).unwrap();
    let mut b: serde_json::Value = serde_saphyr::from_str(&out).unwrap();
    b["metadata"]["annotations"]
        .as_object_mut()
        .unwrap()
        .remove("metallb.io/loadBalancerIPs");
    assert_eq!(a, b, "nothing but the pin changed");
}

#[test]
fn other_kinds_named_service_are_left_alone() {
    let input = "apiVersion: serving.knative.dev/v1\nkind: Service\nmetadata:\n  name: mlflow\n  namespace: mlflow\nspec:\n  template: {}\n---\napiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: mlflow\n";
    let (out, outcome) = run(input, &example(), &opts(None));
    assert_eq!(out, input);
    assert!(outcome.fully_pinned());
}

#[test]
fn errors_name_the_document_and_produce_no_output() {
    let input = "---\n# Source: app/templates/ok.yaml\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n---\n# Source: app/templates/broken.yaml\napiVersion: v1\nkind: Service\nmetadata:\n  name: [unclosed\n";
    let err = fails(input, &example(), &opts(Some("mlflow"))).to_string();
    assert!(
        err.contains("app/templates/broken.yaml: invalid YAML at stream line 11"),
        "{err}"
    );
    let nameless = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n---\napiVersion: v1\nkind: Service\nmetadata: {}\nspec: {type: LoadBalancer}\n";
    let err = fails(nameless, &example(), &opts(Some("mlflow"))).to_string();
    assert!(
        err.contains("document 2 at line 5: a Service without `metadata.name`"),
        "{err}"
    );
    // Helm 4 documents are named by their filename annotation, even when they do not parse.
    let helm4 = "apiVersion: v1\nkind: Service\nmetadata:\n  name: x\n  annotations:\n    postrenderer.helm.sh/postrender-filename: 'app/templates/svc.yaml'\nspec: {type: [LoadBalancer}\n";
    let err = fails(helm4, &example(), &opts(None)).to_string();
    assert!(
        err.starts_with("error: app/templates/svc.yaml: invalid YAML"),
        "{err}"
    );
    let bytes = b"apiVersion: v1\nkind: ConfigMap\ndata: {a: \"\xff\"}\n";
    let err = post_render(bytes, &example(), &opts(None))
        .unwrap_err()
        .to_string();
    assert!(err.contains("not UTF-8 (invalid byte at line 3"), "{err}");
}
