//! Property tests for the post-renderer: streams without LoadBalancer Services the registry
//! pins pass through byte for byte; post-render is idempotent; and the fuzz target's
//! invariants (fuzz/check.rs) hold for generated manifests and for arbitrary text.

use lbip::manifest::{Options, Unpinned, post_render};
use proptest::prelude::*;

#[path = "../fuzz/check.rs"]
mod check;

fn word() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-z][a-z0-9-]{0,12}",
        Just("Service".to_string()),
        Just("List".to_string()),
        Just("kind: Service".to_string()),
        Just("1.10".to_string()),
        Just("'0755'".to_string()),
        Just("a\\\\b".to_string()),
    ]
}

/// A scalar value written in some YAML style.
fn value() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-z0-9][a-z0-9.-]{0,10}",
        word().prop_map(|w| format!("{:?}", w)),
        word().prop_map(|w| format!("'{}'", w.replace('\'', "''"))),
        Just("\"Serv\\x69ce\"".to_string()),
        Just("1.10".to_string()),
        Just("~".to_string()),
    ]
}

/// A document that is not a LoadBalancer Service the registry knows.
fn other_doc() -> impl Strategy<Value = String> {
    prop_oneof![
        // ConfigMap whose data mentions Services, separators in block scalars, comments.
        (word(), prop::collection::vec((word(), value()), 0..4)).prop_map(|(name, data)| {
            let mut s = format!("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name:?}\ndata:\n");
            for (k, v) in data {
                s.push_str(&format!("  {k:?}: {v} # note\n"));
            }
            s.push_str("  manifest.yaml: |\n    ---\n    apiVersion: v1\n    kind: Service\n    spec: {type: LoadBalancer}\n");
            s
        }),
        // ClusterIP and unregistered LoadBalancer Services, in block or flow style.
        ("[a-z]{3,8}-x", any::<bool>(), any::<bool>()).prop_map(|(name, lb, flow)| {
            let t = if lb { "LoadBalancer" } else { "ClusterIP" };
            if flow {
                format!("{{apiVersion: v1, kind: Service, metadata: {{name: {name}}}, spec: {{type: {t}, ports: [{{port: 80}}]}}}}\n")
            } else {
                format!("apiVersion: v1\nkind: Service\nmetadata:\n  name: {name}\n  labels: {{a: \"1.10\"}}\nspec:\n  type: {t}\n  ports:\n  - port: 80\n")
            }
        }),
        // A registered name that is not a LoadBalancer (warning only, no change).
        Just("apiVersion: v1\nkind: Service\nmetadata:\n  name: mlflow\nspec:\n  ports:\n  - port: 5000\n".to_string()),
        // Other kinds called Service.
        Just("apiVersion: serving.knative.dev/v1\nkind: Service\nmetadata:\n  name: mlflow\nspec:\n  type: LoadBalancer\n".to_string()),
        Just("# only a comment\n".to_string()),
        Just(String::new()),
    ]
}

/// A registered LoadBalancer Service in some state of (mis)pinning.
fn registered_doc() -> impl Strategy<Value = String> {
    let names = prop_oneof![Just("mlflow"), Just("minio"), Just("grafana")];
    (names, 0..8usize, any::<bool>()).prop_map(|(name, variant, flow)| {
        let ns = match name {
            "grafana" => "monitoring",
            n => n,
        };
        let extra = match variant {
            0 => String::new(),
            1 => "  annotations:\n    metallb.universe.tf/loadBalancer-ips: 192.168.1.201\n".into(),
            2 => "  annotations:\n    metallb.io/loadBalancerIPs: 192.168.1.230\n".into(),
            3 => "  annotations: {}\n".into(),
            4 => "  annotations:\n    lbipam.cilium.io/ips: \"192.168.1.230, 192.168.1.215\"\n    io.cilium/lb-ipam-sharing-key: k\n".into(),
            5 => "  annotations:\n    kube-vip.io/loadbalancerIPs: 192.168.1.215\n    purelb.io/service-group: default\n".into(),
            6 => "  annotations:\n    purelb.io/addresses: 192.168.1.9\n    kube-vip.io/loadBalancerIP: 192.168.1.9\n".into(),
            _ => "  annotations:\n    metallb.universe.tf/loadBalancerIPs: 192.168.1.215\n".into(),
        };
        if flow {
            format!("{{apiVersion: v1, kind: Service, metadata: {{name: {name}, namespace: {ns}}}, spec: {{type: LoadBalancer, loadBalancerIP: 192.168.1.9}}}}\n")
        } else {
            format!("apiVersion: v1\nkind: Service\nmetadata:\n  name: {name}\n  namespace: {ns}\n{extra}spec:\n  type: LoadBalancer\n  ports:\n    - port: 80\n")
        }
    })
}

/// Joins documents as Helm 3 (`---` + `# Source:` each) or Helm 4 (`---` between) would.
fn stream(docs: Vec<String>, helm3: bool) -> String {
    let mut s = String::new();
    for (i, d) in docs.iter().enumerate() {
        if helm3 {
            s.push_str(&format!("---\n# Source: chart/templates/t{i}.yaml\n{d}"));
        } else {
            if i > 0 {
                s.push_str("---\n");
            }
            s.push_str(d);
        }
    }
    s
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    #[test]
    fn streams_without_registered_load_balancers_pass_through_byte_identical(
        docs in prop::collection::vec(other_doc(), 0..8),
        helm3 in any::<bool>(),
        kind in prop::sample::select(&check::PROVIDER_KINDS[..]),
    ) {
        let registry = check::registry_for(kind);
        let input = stream(docs, helm3);
        let opts = Options { namespace: Some("apps".into()), unpinned: Unpinned::Allow };
        let outcome = post_render(input.as_bytes(), &registry, &opts).unwrap();
        prop_assert!(outcome.changes.is_empty());
        prop_assert_eq!(outcome.to_bytes(input.as_bytes()), input.as_bytes());
    }

    #[test]
    fn post_render_is_idempotent(
        docs in prop::collection::vec(prop_oneof![other_doc(), registered_doc()], 0..8),
        helm3 in any::<bool>(),
        kind in prop::sample::select(&check::PROVIDER_KINDS[..]),
    ) {
        let registry = check::registry_for(kind);
        let input = stream(docs, helm3);
        check::check_post_render(&registry, input.as_bytes());
    }

    #[test]
    fn arbitrary_text_never_panics(text in "(---\n|\\.\\.\\.\n|kind: Service\n|apiVersion: v1\n|metadata: \\{name: mlflow\\}\n|spec: \\{type: LoadBalancer\\}\n|[ -~]{0,12}\n|  |\"|'|\\\\|&a |\\*a|\\{|\\[|# c\n){0,24}") {
        let registry = check::registry();
        check::check_post_render(&registry, text.as_bytes());
    }
}
