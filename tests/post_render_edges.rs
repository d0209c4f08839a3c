//! The post-renderer under hostile and unusual input (issue 9, cases 2 to 7): duplicate
//! keys, aliases and merge keys, expansion bombs, foreign load balancer classes, styles that
//! must survive an edit, and stream-level YAML. Each case failed before the in-place editor.

use lbip::manifest::{Options, Outcome, PostRenderError, Unpinned, post_render};
use lbip::registry::{Loaded, Registry};
use std::time::{Duration, Instant};

fn registry_with(extra_provider: &str) -> Registry {
    let text = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/registry.yaml"),
    )
    .unwrap();
    let text = text.replace("provider:\n", &format!("provider:\n{extra_provider}"));
    Loaded::from_text(&text, "registry.yaml")
        .unwrap()
        .require_valid()
        .unwrap()
}

fn example() -> Registry {
    registry_with("")
}

fn opts(unpinned: Unpinned) -> Options {
    Options {
        namespace: None,
        unpinned,
    }
}

fn run(input: &str, reg: &Registry, o: &Options) -> Result<(String, Outcome), PostRenderError> {
    post_render(input.as_bytes(), reg, o).map(|outcome| {
        let out = String::from_utf8(outcome.to_bytes(input.as_bytes())).unwrap();
        (out, outcome)
    })
}

fn ok(input: &str) -> String {
    let (out, _) = run(input, &example(), &opts(Unpinned::Fail))
        .unwrap_or_else(|e| panic!("expected success:\n{e}"));
    // Whatever was written is accepted again and changes nothing.
    let (again, second) = run(&out, &example(), &opts(Unpinned::Fail)).unwrap();
    assert_eq!(again, out, "a second run changes nothing");
    assert!(second.changes.is_empty());
    out
}

fn refused(input: &str) -> String {
    match run(input, &example(), &opts(Unpinned::Fail)) {
        Ok((out, _)) => panic!("expected a refusal, got:\n{out}"),
        Err(e) => e.to_string(),
    }
}

/// What a Kubernetes client reads: the document as JSON (aliases and merges resolved).
fn json(doc: &str) -> serde_json::Value {
    serde_saphyr::from_str(doc).unwrap()
}

const PIN: &str = "metallb.io/loadBalancerIPs";

// ---- case 2: duplicate keys are errors, never a way around the pin ----

#[test]
fn a_duplicate_type_cannot_smuggle_an_unpinned_load_balancer_through() {
    let input = "---\n# Source: evil/templates/svc.yaml\napiVersion: v1\nkind: Service\nmetadata:\n  name: sneaky\n  namespace: apps\nspec:\n  type: ClusterIP\n  type: LoadBalancer\n";
    let err = refused(input);
    assert!(
        err.contains("evil/templates/svc.yaml: mapping key `type` appears twice (lines 9 and 10)"),
        "{err}"
    );
    assert!(err.contains("Kubernetes keeps the second"), "{err}");
}

#[test]
fn duplicates_are_found_anywhere_in_any_style_and_spelling() {
    let cases = [
        // A second annotations block (the pin would land in the first only).
        "apiVersion: v1\nkind: Service\nmetadata:\n  name: mlflow\n  namespace: mlflow\n  annotations:\n    a: b\n  annotations:\n    c: d\nspec:\n  type: LoadBalancer\n",
        // The pin key twice (a check run would report a change forever).
        "apiVersion: v1\nkind: Service\nmetadata:\n  name: mlflow\n  namespace: mlflow\n  annotations:\n    metallb.io/loadBalancerIPs: 192.168.1.215\n    metallb.io/loadBalancerIPs: 192.168.1.201\nspec:\n  type: LoadBalancer\n",
        // Flow style, quoted spelling, CRLF.
        "{apiVersion: v1, kind: Service, metadata: {name: x, namespace: apps}, spec: {type: ClusterIP, \"type\": LoadBalancer}}\r\n",
        // In a List item, one level deeper.
        "apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: Service\n  metadata: {name: x, namespace: apps}\n  spec:\n    type: ClusterIP\n    'type': LoadBalancer\n",
        // The kind itself twice: Kubernetes reads a Service.
        "apiVersion: v1\nkind: ConfigMap\nkind: Service\nmetadata: {name: x, namespace: apps}\nspec: {type: LoadBalancer}\n",
        // A key spelled through an alias.
        "apiVersion: v1\nkind: Service\nmetadata: {name: x, namespace: apps, labels: {k: &t type}}\nspec: {type: ClusterIP, *t : LoadBalancer}\n",
        // Somewhere lbip does not own at all.
        "apiVersion: v1\nkind: Service\nmetadata:\n  name: mlflow\n  namespace: mlflow\n  labels:\n    app: a\n    app: b\nspec:\n  type: LoadBalancer\n",
    ];
    for input in cases {
        let err = refused(input);
        assert!(err.contains("appears twice"), "{input}\n=> {err}");
    }
}

#[test]
fn a_key_that_a_later_merge_overrides_is_ambiguous() {
    let input = "apiVersion: v1\nkind: Service\nmetadata: {name: x, namespace: apps}\nspec:\n  type: ClusterIP\n  <<: {type: LoadBalancer}\n";
    let err = refused(input);
    assert!(
        err.contains("key `type` (line 5) is also set by the merge key `<<` after it (line 6)"),
        "{err}"
    );
    // Merge first, then the key: every decoder agrees the key wins.
    let fine = "apiVersion: v1\nkind: Service\nmetadata: {name: x, namespace: apps}\nspec:\n  <<: {type: LoadBalancer}\n  type: ClusterIP\n";
    assert_eq!(ok(fine), fine);
}

#[test]
fn documents_that_are_not_services_keep_their_duplicates_and_bytes() {
    let input =
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata:\n  Service: a\n  Service: b\n";
    assert_eq!(ok(input), input);
}

// ---- case 3: an edit never changes what another node resolves to ----

#[test]
fn aliased_annotations_are_copied_so_each_service_gets_its_own_ip() {
    let input = "apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: Service\n  metadata:\n    name: mlflow\n    namespace: mlflow\n    annotations: &a\n      team: ml\n  spec: {type: LoadBalancer}\n- apiVersion: v1\n  kind: Service\n  metadata:\n    name: grafana\n    namespace: monitoring\n    annotations: *a\n  spec: {type: LoadBalancer}\n";
    let out = ok(input);
    let v = json(&out);
    assert_eq!(
        v["items"][0]["metadata"]["annotations"][PIN],
        "192.168.1.215"
    );
    assert_eq!(
        v["items"][1]["metadata"]["annotations"][PIN],
        "192.168.1.207"
    );
    assert_eq!(v["items"][1]["metadata"]["annotations"]["team"], "ml");
}

#[test]
fn pinning_an_anchored_node_does_not_leak_into_an_unregistered_alias() {
    // The second Service is not in the registry and `--unpinned allow` lets it through
    // untouched: it must not come out requesting the first Service's IP.
    let input = "apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: Service\n  metadata:\n    name: mlflow\n    namespace: mlflow\n    annotations: &a\n      team: ml\n  spec: {type: LoadBalancer}\n- apiVersion: v1\n  kind: Service\n  metadata:\n    name: scratch\n    namespace: apps\n    annotations: *a\n  spec: {type: LoadBalancer}\n";
    let (out, outcome) = run(input, &example(), &opts(Unpinned::Allow)).unwrap();
    assert_eq!(outcome.unpinned, ["apps/scratch"]);
    let v = json(&out);
    assert_eq!(
        v["items"][0]["metadata"]["annotations"][PIN],
        "192.168.1.215"
    );
    assert_eq!(
        v["items"][1]["metadata"]["annotations"],
        serde_json::json!({"team": "ml"}),
        "{out}"
    );
}

#[test]
fn shared_specs_merges_and_anchored_values_stay_what_they_were_elsewhere() {
    // A spec two Services share, a merge of shared annotations, and an anchored pin value a
    // ConfigMap in the same List also uses.
    let input = "apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: Service\n  metadata:\n    name: mlflow\n    namespace: mlflow\n    annotations: &base\n      metallb.io/loadBalancerIPs: &ip 192.168.1.230\n  spec: &spec\n    type: LoadBalancer\n    loadBalancerIP: 192.168.1.230\n- apiVersion: v1\n  kind: Service\n  metadata:\n    name: grafana\n    namespace: monitoring\n    annotations:\n      <<: *base\n      team: obs\n  spec: *spec\n- apiVersion: v1\n  kind: ConfigMap\n  metadata: {name: notes}\n  data:\n    old-ip: *ip\n    spec-type: *spec\n";
    let out = ok(input);
    let v = json(&out);
    let ann = |i: usize| &v["items"][i]["metadata"]["annotations"];
    assert_eq!(ann(0)[PIN], "192.168.1.215");
    assert_eq!(ann(1)[PIN], "192.168.1.207");
    assert_eq!(ann(1)["team"], "obs");
    for i in 0..2 {
        assert!(
            v["items"][i]["spec"].get("loadBalancerIP").is_none(),
            "{out}"
        );
    }
    // The ConfigMap still says what it said.
    assert_eq!(v["items"][2]["data"]["old-ip"], "192.168.1.230");
    assert_eq!(
        v["items"][2]["data"]["spec-type"]["loadBalancerIP"],
        "192.168.1.230"
    );
}

// ---- case 4: alias and merge expansion is bounded ----

#[test]
fn nested_merge_bombs_fail_fast_with_a_clear_error() {
    // Each level merges the previous one twice: the work doubles per level.
    let mut input = String::from("apiVersion: v1\nkind: Service\nx0: &x0 {a: 1, b: 2, c: 3}\n");
    for i in 1..=30 {
        input.push_str(&format!(
            "x{i}: &x{i} {{<<: [*x{p}, *x{p}], k{i}: v}}\n",
            p = i - 1
        ));
    }
    input.push_str(
        "metadata: {name: mlflow, namespace: mlflow, labels: *x30}\nspec: {type: LoadBalancer}\n",
    );
    let started = Instant::now();
    let err = refused(&input);
    assert!(err.contains("excessive aliasing"), "{err}");
    assert!(err.contains("expand the aliases"), "{err}");
    // The old reader needed 9 s at 24 levels and twice that per level more.
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[test]
fn alias_bombs_in_list_items_fail_the_same_way() {
    let mut input =
        String::from("apiVersion: v1\nkind: List\nbomb:\n  a: &a [x,x,x,x,x,x,x,x,x]\n");
    let names = ["a", "b", "c", "d", "e", "f", "g", "h", "i"];
    for w in names.windows(2) {
        let items = vec![format!("*{}", w[0]); 9].join(",");
        input.push_str(&format!("  {}: &{} [{items}]\n", w[1], w[1]));
    }
    input.push_str("items:\n- {apiVersion: v1, kind: Service, metadata: {name: x, namespace: apps, labels: {l: *i}}}\n");
    let err = refused(&input);
    assert!(err.contains("excessive aliasing"), "{err}");
}

// ---- case 5: one rule for "is this Service MetalLB's" ----

#[test]
fn a_load_balancer_of_another_class_is_left_to_its_load_balancer() {
    let input = "apiVersion: v1\nkind: Service\nmetadata: {name: hubble, namespace: kube-system}\nspec:\n  type: LoadBalancer\n  loadBalancerClass: io.cilium/bgp-control-plane\n";
    let (out, outcome) = run(input, &example(), &opts(Unpinned::Fail)).unwrap();
    assert_eq!(out, input);
    assert!(outcome.fully_pinned() && outcome.findings.is_empty());
    // MetalLB run with --lb-class: registry provider.loadBalancerClass says so, and then an
    // unclassed LoadBalancer is not MetalLB's either, while one of its class is.
    let reg = registry_with("  loadBalancerClass: metallb.io/homelab\n");
    let unclassed = "apiVersion: v1\nkind: Service\nmetadata: {name: other, namespace: apps}\nspec: {type: LoadBalancer}\n";
    assert!(run(unclassed, &reg, &opts(Unpinned::Fail)).is_ok());
    let ours = "apiVersion: v1\nkind: Service\nmetadata: {name: other, namespace: apps}\nspec: {type: LoadBalancer, loadBalancerClass: metallb.io/homelab}\n";
    let err = run(ours, &reg, &opts(Unpinned::Fail))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("MetalLB would give it the first free address"),
        "{err}"
    );
}

#[test]
fn a_registered_service_of_another_class_is_pinned_with_the_shared_warning() {
    let input = "apiVersion: v1\nkind: Service\nmetadata: {name: mlflow, namespace: mlflow}\nspec: {type: LoadBalancer, loadBalancerClass: io.cilium/bgp-control-plane}\n";
    let (_, outcome) = run(input, &example(), &opts(Unpinned::Fail)).unwrap();
    let w = &outcome.findings[0];
    assert_eq!(w.code, "foreign-load-balancer-class");
    assert!(
        w.message.contains("sets spec.loadBalancerClass `io.cilium/bgp-control-plane`, so MetalLB (run without --lb-class) leaves it to another load balancer"),
        "{}",
        w.message
    );
}

// ---- case 6: changed documents are edited, not re-emitted ----

#[test]
fn flow_style_block_scalars_comments_and_crlf_survive_an_edit() {
    let input = "---\r\n# Source: app/templates/svc.yaml\r\napiVersion: v1\r\nkind: Service\r\nmetadata:\r\n  name: mlflow   # the tracking server\r\n  namespace: mlflow\r\n  labels: {app: mlflow, tier: \"web\"}\r\n  annotations:\r\n    description: |\r\n      Tracking server.\r\n      Keep the IP stable.\r\n    metallb.universe.tf/loadBalancer-ips: 192.168.1.201\r\nspec:\r\n  type: LoadBalancer\r\n  loadBalancerIP: 192.168.1.201\r\n  ports: [{port: 5000, name: http}]\r\n";
    let out = ok(input);
    assert_eq!(
        out,
        "---\r\n# Source: app/templates/svc.yaml\r\napiVersion: v1\r\nkind: Service\r\nmetadata:\r\n  name: mlflow   # the tracking server\r\n  namespace: mlflow\r\n  labels: {app: mlflow, tier: \"web\"}\r\n  annotations:\r\n    description: |\r\n      Tracking server.\r\n      Keep the IP stable.\r\n    metallb.io/loadBalancerIPs: 192.168.1.215\r\nspec:\r\n  type: LoadBalancer\r\n  ports: [{port: 5000, name: http}]\r\n"
    );
}

#[test]
fn a_flow_service_gets_flow_entries() {
    let input = "{apiVersion: v1, kind: Service, metadata: {name: grafana, namespace: monitoring}, spec: {type: LoadBalancer, loadBalancerIP: 1.2.3.4}}\n";
    assert_eq!(
        ok(input),
        "{apiVersion: v1, kind: Service, metadata: {name: grafana, namespace: monitoring, annotations: {metallb.io/loadBalancerIPs: 192.168.1.207}}, spec: {type: LoadBalancer}}\n"
    );
}

// ---- case 7: stream-level YAML ----

#[test]
fn an_end_marker_comment_is_written_once() {
    let input = "apiVersion: v1\nkind: Service\nmetadata: {name: mlflow, namespace: mlflow}\nspec: {type: LoadBalancer}\n... # end of the service\n";
    let out = ok(input);
    assert_eq!(out.matches("# end of the service").count(), 1, "{out}");
    assert!(
        out.ends_with("spec: {type: LoadBalancer}\n... # end of the service\n"),
        "{out}"
    );
}

#[test]
fn a_tag_directive_stays_attached_to_its_document() {
    let input = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n...\n%TAG !k! tag:example.com,2026:\n---\napiVersion: v1\nkind: Service\nmetadata:\n  name: mlflow\n  namespace: mlflow\n  labels: !k!labels {app: x}\nspec:\n  type: LoadBalancer\n";
    let out = ok(input);
    assert!(
        out.contains("...\n%TAG !k! tag:example.com,2026:\n---\napiVersion: v1\nkind: Service\n"),
        "{out}"
    );
    assert!(out.contains("  labels: !k!labels {app: x}\n  annotations:\n    metallb.io/loadBalancerIPs: 192.168.1.215\n"), "{out}");
}

#[test]
fn byte_order_marks_comments_between_documents_and_empty_documents_pass_through() {
    let input = "\u{feff}---\n# Source: a/templates/svc.yaml\napiVersion: v1\nkind: Service\nmetadata: {name: mlflow, namespace: mlflow}\nspec: {type: LoadBalancer}\n# a comment between documents\n---\n---\n# only a comment\n...\n";
    let out = ok(input);
    assert!(
        out.starts_with("\u{feff}---\n# Source: a/templates/svc.yaml\n"),
        "{out}"
    );
    assert!(out.ends_with("}}\nspec: {type: LoadBalancer}\n# a comment between documents\n---\n---\n# only a comment\n...\n"), "{out}");
}

#[test]
fn lists_inside_lists_are_pinned_and_refused_at_any_depth() {
    // A List whose item is a List (kubectl get -o yaml of several kinds, re-wrapped), under
    // CRLF, in flow style at the inner level.
    let input = "apiVersion: v1\r\nkind: List\r\nitems:\r\n- apiVersion: v1\r\n  kind: List\r\n  items:\r\n  - {apiVersion: v1, kind: Service, metadata: {name: mlflow, namespace: mlflow}, spec: {type: LoadBalancer}}\r\n- apiVersion: v1\r\n  kind: ConfigMap\r\n  metadata: {name: c}\r\n";
    let out = ok(input);
    let v = json(&out);
    assert_eq!(
        v["items"][0]["items"][0]["metadata"]["annotations"][PIN],
        "192.168.1.215"
    );
    assert!(
        !out.replace("\r\n", "").contains('\n'),
        "CRLF kept: {out:?}"
    );
    // The same nesting hides no unpinned LoadBalancer, whatever the list kind is called.
    for kind in ["List", "ServiceList"] {
        let hidden = format!(
            "apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: {kind}\n  items:\n  - apiVersion: v1\n    kind: Service\n    metadata: {{name: scratch, namespace: apps}}\n    spec: {{type: LoadBalancer}}\n"
        );
        let err = refused(&hidden);
        assert!(err.contains("apps/scratch"), "{kind}: {err}");
    }
}
