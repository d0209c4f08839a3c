//! Where `apply` moves a squatter (or parks a Service of a cycle): one free address per IP
//! family the Service has, from one IPAddressPool whose serviceAllocation admits it. Against
//! the MetalLB simulator, which refuses a request whose families differ from the Service's
//! and honours namespaceSelectors with the namespaces' labels, as MetalLB does.

mod kubectl_support;

use kubectl_support::*;
use lbip_testcluster::{Options, TestCluster, Verb};

const REGISTRY: &str = "
pools:
  - name: lab
    addresses: [10.20.0.1-10.20.0.60, 'fd00:20::1-fd00:20::60']
services:
  gitea: {namespace: gitea, name: gitea-http, ips: [10.20.0.10, 'fd00:20::10'], ports: [443]}
  api6: {namespace: web, name: api6, ip: 'fd00:20::12', ports: [80]}
  grafana: {namespace: monitoring, ip: 10.20.0.40, ports: [3000]}
";

const POOL: &str = "
apiVersion: metallb.io/v1beta1
kind: IPAddressPool
metadata: {name: lab, namespace: metallb-system}
spec:
  addresses: [10.20.0.1-10.20.0.60, 'fd00:20::1-fd00:20::60']
";

/// A LoadBalancer Service seeded as found, holding `ips`, of the given families.
fn seeded(ns: &str, name: &str, families: &str, ips: &[&str]) -> String {
    let ingress: Vec<String> = ips.iter().map(|ip| format!("{{ip: '{ip}'}}")).collect();
    format!(
        "---\napiVersion: v1\nkind: Service\nmetadata: {{name: {name}, namespace: {ns}}}\nspec: {{type: LoadBalancer, ipFamilyPolicy: {}, ipFamilies: {families}, ports: [{{port: 80}}]}}\nstatus: {{loadBalancer: {{ingress: [{}]}}}}\n",
        if families.contains(',') {
            "RequireDualStack"
        } else {
            "SingleStack"
        },
        ingress.join(", ")
    )
}

fn start(seed: &str) -> TestCluster {
    TestCluster::start_blocking(Options::default().seed_yaml(seed)).unwrap()
}

fn refused(c: &TestCluster) -> Vec<String> {
    c.events()
        .into_iter()
        .filter(|e| e["reason"] == "AllocationFailed")
        .map(|e| e["message"].as_str().unwrap_or_default().to_string())
        .collect()
}

#[test]
fn a_dual_stack_squatter_moves_to_a_pair_of_free_addresses_and_keeps_both_families() {
    let c = start(&format!(
        "{POOL}{}{}",
        seeded(
            "other",
            "squatter",
            "[IPv4, IPv6]",
            &["10.20.0.10", "fd00:20::10"]
        ),
        seeded(
            "gitea",
            "gitea-http",
            "[IPv4, IPv6]",
            &["10.20.0.30", "fd00:20::30"]
        ),
    ));
    let reg = registry(REGISTRY);
    let run = lbip(&c, &reg.path, &["apply", "-A", "--timeout", "10s"]);
    assert_eq!(run.code, 0, "{run:?}");
    assert!(
        run.stdout
            .contains("evict other/squatter: 10.20.0.10,fd00:20::10 -> 10.20.0.1,fd00:20::1"),
        "{run:?}"
    );
    assert_eq!(c.lb_ips("other", "squatter"), ["10.20.0.1", "fd00:20::1"]);
    assert_eq!(
        c.lb_ips("gitea", "gitea-http"),
        ["10.20.0.10", "fd00:20::10"]
    );
    assert!(refused(&c).is_empty(), "{:?}", refused(&c));
}

#[test]
fn an_ipv6_squatter_moves_to_an_ipv6_address() {
    let c = start(&format!(
        "{POOL}{}{}",
        seeded("other", "v6squatter", "[IPv6]", &["fd00:20::12"]),
        seeded("web", "api6", "[IPv6]", &["fd00:20::33"]),
    ));
    let reg = registry(REGISTRY);
    let run = lbip(&c, &reg.path, &["apply", "-A", "--timeout", "10s"]);
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(c.lb_ips("other", "v6squatter"), ["fd00:20::1"]);
    assert_eq!(c.lb_ips("web", "api6"), ["fd00:20::12"]);
    assert!(refused(&c).is_empty(), "{:?}", refused(&c));
}

#[test]
fn a_squatter_moves_only_into_a_pool_that_admits_its_namespace() {
    // team-a holds the lowest addresses but serves only namespaces labelled team=a; the
    // squatter's namespace has no such label.
    let seed = format!(
        "
apiVersion: v1
kind: Namespace
metadata: {{name: ml, labels: {{team: a}}}}
---
apiVersion: v1
kind: Namespace
metadata: {{name: web}}
---
apiVersion: metallb.io/v1beta1
kind: IPAddressPool
metadata: {{name: team-a, namespace: metallb-system}}
spec:
  addresses: [10.20.0.1-10.20.0.20]
  serviceAllocation:
    namespaceSelectors: [{{matchLabels: {{team: a}}}}]
---
apiVersion: metallb.io/v1beta1
kind: IPAddressPool
metadata: {{name: general, namespace: metallb-system}}
spec:
  addresses: [10.20.0.21-10.20.0.60]
{}{}",
        seeded("web", "squatter", "[IPv4]", &["10.20.0.40"]),
        seeded("monitoring", "grafana", "[IPv4]", &["10.20.0.50"]),
    );
    let c = start(&seed);
    let reg = registry(REGISTRY);
    c.request_log().clear();
    let run = lbip(&c, &reg.path, &["apply", "-A", "--timeout", "10s"]);
    assert_eq!(run.code, 0, "{run:?}");
    assert!(
        run.stdout
            .contains("evict web/squatter: 10.20.0.40 -> 10.20.0.21"),
        "{run:?}"
    );
    assert_eq!(c.lb_ips("web", "squatter"), ["10.20.0.21"]);
    assert_eq!(c.lb_ips("monitoring", "grafana"), ["10.20.0.40"]);
    assert!(refused(&c).is_empty(), "{:?}", refused(&c));
    // The namespaces' labels were read once, because a pool selects namespaces by label.
    assert_eq!(c.request_log().count(Verb::List, "namespaces"), 1);
}
