//! The MetalLB simulator against scenarios from MetalLB's own e2e and unit tests, driven
//! through the cluster's Rust helpers (the same API semantics HTTP requests get).

use lbip_testcluster::{Options, TestCluster};
use proptest::prelude::*;
use serde_json::{Value, json};

const POOL: &str = "
apiVersion: metallb.io/v1beta1
kind: IPAddressPool
metadata: {name: homelab, namespace: metallb-system}
spec:
  addresses: [192.168.1.200-192.168.1.250]
";

fn cluster(seed: &str) -> TestCluster {
    TestCluster::start_blocking(Options::default().seed_yaml(seed)).unwrap()
}

fn svc(ns: &str, name: &str, annotations: Value, port: u16) -> Value {
    json!({
        "metadata": {"name": name, "namespace": ns, "annotations": annotations},
        "spec": {"type": "LoadBalancer", "selector": {"app": name}, "ports": [{"port": port}]},
    })
}

fn pinned(ns: &str, name: &str, ip: &str) -> Value {
    svc(ns, name, json!({"metallb.io/loadBalancerIPs": ip}), 80)
}

fn reasons(c: &TestCluster, ns: &str, name: &str) -> Vec<String> {
    c.event_reasons(ns, name)
        .into_iter()
        .map(|(r, _)| r)
        .collect()
}

fn last_message(c: &TestCluster, ns: &str, name: &str) -> String {
    c.event_reasons(ns, name)
        .pop()
        .map(|(_, m)| m)
        .unwrap_or_default()
}

#[test]
fn seldon_takes_mlflows_ip_by_creation_order() {
    let c = cluster(POOL);
    c.create_service(pinned("minio", "minio", "192.168.1.200"))
        .unwrap();
    // Seldon's scheduler comes first and is not pinned: it gets the first free IP, .201.
    c.create_service(svc("seldon-system", "seldon-scheduler", json!({}), 9002))
        .unwrap();
    assert_eq!(
        c.lb_ips("seldon-system", "seldon-scheduler"),
        ["192.168.1.201"]
    );
    // MLflow, meant to have .201, asks for it and stays pending.
    c.create_service(pinned("mlflow", "mlflow", "192.168.1.201"))
        .unwrap();
    assert!(c.lb_ips("mlflow", "mlflow").is_empty());
    assert_eq!(
        c.event_reasons("mlflow", "mlflow"),
        [(
            "AllocationFailed".to_string(),
            "Failed to allocate IP for \"mlflow/mlflow\": can't change sharing key for \"mlflow/mlflow\", \
             address also in use by seldon-system/seldon-scheduler"
                .to_string()
        )]
    );
    let seldon = c.get_service("seldon-system", "seldon-scheduler").unwrap();
    assert_eq!(
        seldon["metadata"]["annotations"]["metallb.io/ip-allocated-from-pool"],
        "homelab"
    );
    let ev = &c.events_for("seldon-system", "seldon-scheduler")[0];
    assert_eq!(ev["message"], r#"Assigned IP ["192.168.1.201"]"#);
    assert_eq!(ev["source"]["component"], "metallb-controller");
    assert_eq!(ev["involvedObject"]["kind"], "Service");
    // Dropping the request, MLflow falls back to the next free IP.
    c.patch_service(
        "mlflow",
        "mlflow",
        json!({"metadata": {"annotations": {"metallb.io/loadBalancerIPs": null}}}),
    )
    .unwrap();
    assert_eq!(c.lb_ips("mlflow", "mlflow"), ["192.168.1.202"]);
}

#[test]
fn restart_rebuilds_from_status_and_keeps_ips() {
    let c = cluster(&format!(
        "{POOL}---
apiVersion: metallb.io/v1beta1
kind: IPAddressPool
metadata: {{name: single, namespace: metallb-system}}
spec: {{addresses: [10.0.0.1/32]}}"
    ));
    for (ns, name) in [("a", "one"), ("a", "two"), ("b", "three")] {
        c.create_service(svc(ns, name, json!({}), 80)).unwrap();
    }
    c.create_service(pinned("b", "wants-one", "10.0.0.1"))
        .unwrap();
    c.create_service(pinned("b", "wants-one-too", "10.0.0.1"))
        .unwrap();
    let before: Vec<Vec<String>> = c
        .services()
        .iter()
        .map(|s| {
            c.lb_ips(
                s["metadata"]["namespace"].as_str().unwrap(),
                s["metadata"]["name"].as_str().unwrap(),
            )
        })
        .collect();
    let events = c.events().len();
    for _ in 0..5 {
        c.restart_metallb();
    }
    let after: Vec<Vec<String>> = c
        .services()
        .iter()
        .map(|s| {
            c.lb_ips(
                s["metadata"]["namespace"].as_str().unwrap(),
                s["metadata"]["name"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(before, after);
    assert_eq!(c.lb_ips("b", "wants-one"), ["10.0.0.1"]);
    assert!(c.lb_ips("b", "wants-one-too").is_empty());
    // Only the pending Service's failure repeats (aggregated into its existing event).
    assert_eq!(c.events().len(), events);
    let failed = c.events_for("b", "wants-one-too");
    assert_eq!(failed.last().unwrap()["count"], 6);
}

#[test]
fn infeasible_request_stays_pending_until_fixed() {
    let c = cluster(POOL);
    c.create_service(pinned("x", "s", "10.9.9.9")).unwrap();
    assert!(c.lb_ips("x", "s").is_empty());
    assert_eq!(
        last_message(&c, "x", "s"),
        r#"Failed to allocate IP for "x/s": ["10.9.9.9"] is not allowed in config"#
    );
    c.create_service(svc(
        "x",
        "bad",
        json!({"metallb.io/loadBalancerIPs": "192.168.1.0/24"}),
        80,
    ))
    .unwrap();
    assert_eq!(
        last_message(&c, "x", "bad"),
        r#"Failed to allocate IP for "x/bad": invalid metallb.io/loadBalancerIPs: "192.168.1.0/24""#
    );
    c.patch_service(
        "x",
        "s",
        json!({"metadata": {"annotations": {"metallb.io/loadBalancerIPs": "192.168.1.230"}}}),
    )
    .unwrap();
    assert_eq!(c.lb_ips("x", "s"), ["192.168.1.230"]);
}

#[test]
fn changing_the_request_to_a_taken_ip_frees_the_old_one() {
    let c = cluster(POOL);
    c.create_service(pinned("n", "a", "192.168.1.210")).unwrap();
    c.create_service(pinned("n", "b", "192.168.1.211")).unwrap();
    c.create_service(pinned("n", "c", "192.168.1.211")).unwrap();
    assert!(c.lb_ips("n", "c").is_empty());
    c.patch_service(
        "n",
        "b",
        json!({"metadata": {"annotations": {"metallb.io/loadBalancerIPs": "192.168.1.210"}}}),
    )
    .unwrap();
    // b loses its IP at once, and the freed .211 goes to the pending c.
    assert!(c.lb_ips("n", "b").is_empty());
    assert_eq!(c.lb_ips("n", "c"), ["192.168.1.211"]);
    assert_eq!(reasons(&c, "n", "b"), ["IPAllocated", "AllocationFailed"]);
    // Removing the annotation keeps a held IP.
    c.patch_service(
        "n",
        "a",
        json!({"metadata": {"annotations": {"metallb.io/loadBalancerIPs": null}}}),
    )
    .unwrap();
    assert_eq!(c.lb_ips("n", "a"), ["192.168.1.210"]);
    // Deleting the holder hands the IP to the pending Service that wants it.
    c.delete_service("n", "a").unwrap();
    assert_eq!(c.lb_ips("n", "b"), ["192.168.1.210"]);
}

#[test]
fn sharing_accepted_and_refused() {
    let c = cluster(POOL);
    let shared = |name: &str, key: &str, port: u16| {
        let mut anns = json!({"metallb.io/loadBalancerIPs": "192.168.1.230"});
        if !key.is_empty() {
            anns["metallb.io/allow-shared-ip"] = json!(key);
        }
        svc("n", name, anns, port)
    };
    c.create_service(shared("dns-tcp", "dns", 53)).unwrap();
    c.create_service(shared("dns-web", "dns", 80)).unwrap();
    assert_eq!(c.lb_ips("n", "dns-web"), ["192.168.1.230"]);
    c.create_service(shared("no-key", "", 81)).unwrap();
    assert_eq!(
        last_message(&c, "n", "no-key"),
        r#"Failed to allocate IP for "n/no-key": can't change sharing key for "n/no-key", address also in use by n/dns-tcp,n/dns-web"#
    );
    c.create_service(shared("clash", "dns", 80)).unwrap();
    assert_eq!(
        last_message(&c, "n", "clash"),
        r#"Failed to allocate IP for "n/clash": port TCP/80 is already in use on "192.168.1.230""#
    );
    // externalTrafficPolicy Local needs the same selector: Local + Cluster never share.
    let mut local = shared("local", "dns", 90);
    local["spec"]["externalTrafficPolicy"] = json!("Local");
    c.create_service(local).unwrap();
    assert!(c.lb_ips("n", "local").is_empty());
    // A Service with the key and no request joins the shared IP.
    c.create_service(svc(
        "n",
        "auto",
        json!({"metallb.io/allow-shared-ip": "dns"}),
        8080,
    ))
    .unwrap();
    assert_eq!(c.lb_ips("n", "auto"), ["192.168.1.230"]);
}

#[test]
fn auto_assign_false_only_by_request() {
    let c = cluster(
        "
apiVersion: metallb.io/v1beta1
kind: IPAddressPool
metadata: {name: auto, namespace: metallb-system}
spec: {addresses: [10.0.0.5/32]}
---
apiVersion: metallb.io/v1beta1
kind: IPAddressPool
metadata: {name: manual, namespace: metallb-system}
spec: {addresses: [10.1.0.0/30], autoAssign: false}",
    );
    c.create_service(svc("n", "a", json!({}), 80)).unwrap();
    c.create_service(svc("n", "b", json!({}), 80)).unwrap();
    assert_eq!(c.lb_ips("n", "a"), ["10.0.0.5"]);
    assert_eq!(
        last_message(&c, "n", "b"),
        r#"Failed to allocate IP for "n/b": no available IPs"#
    );
    c.create_service(pinned("n", "c", "10.1.0.2")).unwrap();
    assert_eq!(c.lb_ips("n", "c"), ["10.1.0.2"]);
    c.create_service(svc(
        "n",
        "d",
        json!({"metallb.io/address-pool": "manual"}),
        80,
    ))
    .unwrap();
    assert_eq!(c.lb_ips("n", "d"), ["10.1.0.0"]);
    let d = c.get_service("n", "d").unwrap();
    assert_eq!(
        d["metadata"]["annotations"]["metallb.io/ip-allocated-from-pool"],
        "manual"
    );
    c.create_service(svc(
        "n",
        "e",
        json!({"metallb.io/address-pool": "nope"}),
        80,
    ))
    .unwrap();
    assert_eq!(
        last_message(&c, "n", "e"),
        r#"Failed to allocate IP for "n/e": unknown pool "nope""#
    );
}

#[test]
fn pool_changes_clear_and_reassign() {
    let c = cluster(POOL);
    c.create_service(pinned("n", "far", "192.168.1.240"))
        .unwrap();
    c.create_service(svc("n", "near", json!({}), 80)).unwrap();
    assert_eq!(c.lb_ips("n", "near"), ["192.168.1.200"]);
    c.apply_yaml(&POOL.replace("192.168.1.200-192.168.1.250", "192.168.1.200-192.168.1.210"))
        .unwrap();
    assert_eq!(c.lb_ips("n", "near"), ["192.168.1.200"]);
    assert!(c.lb_ips("n", "far").is_empty());
    assert_eq!(
        c.event_reasons("n", "far")[1],
        (
            "ClearAssignment".to_string(),
            r#"current IP for "n/far" not allowed by config, will attempt for new IP assignment: ["192.168.1.240"] is not allowed in config"#.to_string()
        )
    );
    // An overlapping pool is refused by the webhook.
    let err = c
        .apply_yaml("apiVersion: metallb.io/v1beta1\nkind: IPAddressPool\nmetadata: {name: b, namespace: metallb-system}\nspec: {addresses: [192.168.1.0/24]}")
        .unwrap_err();
    assert!(
        err.to_string().contains(
            r#"CIDR "192.168.1.0/24" overlaps with already defined CIDR "192.168.1.200/29""#
        ),
        "{err}"
    );
    // Deleting every pool removes every IP.
    c.delete(
        "metallb.io/v1beta1",
        "IPAddressPool",
        "metallb-system",
        "homelab",
    )
    .unwrap();
    assert!(
        c.services()
            .iter()
            .all(|s| s["status"]["loadBalancer"] == json!({}))
    );
}

#[test]
fn pinned_pools_priority_and_masked_host_bits() {
    let c = cluster(
        "
apiVersion: metallb.io/v1beta1
kind: IPAddressPool
metadata: {name: a-general, namespace: metallb-system}
spec: {addresses: [10.0.0.240/24], avoidBuggyIPs: true}
---
apiVersion: metallb.io/v1beta1
kind: IPAddressPool
metadata: {name: ml, namespace: metallb-system}
spec:
  addresses: [10.5.0.0/30]
  serviceAllocation: {priority: 1, namespaces: [ml], serviceSelectors: [{matchLabels: {tier: gpu}}]}",
    );
    let mut gpu = svc("ml", "gpu", json!({}), 80);
    gpu["metadata"]["labels"] = json!({"tier": "gpu"});
    c.create_service(gpu).unwrap();
    assert_eq!(c.lb_ips("ml", "gpu"), ["10.5.0.0"]);
    c.create_service(svc("ml", "cpu", json!({}), 80)).unwrap();
    // 10.0.0.240/24 is the whole /24; avoidBuggyIPs skips .0.
    assert_eq!(c.lb_ips("ml", "cpu"), ["10.0.0.1"]);
    c.create_service(pinned("web", "x", "10.5.0.2")).unwrap();
    assert_eq!(
        last_message(&c, "web", "x"),
        r#"Failed to allocate IP for "web/x": pool ml not compatible for ip assignment"#
    );
}

#[test]
fn old_metallb_ignores_metallb_io_keys() {
    let c =
        TestCluster::start_blocking(Options::default().metallb_version("0.14.8").seed_yaml(POOL))
            .unwrap();
    c.create_service(pinned("n", "new-key", "192.168.1.240"))
        .unwrap();
    assert_eq!(c.lb_ips("n", "new-key"), ["192.168.1.200"]);
    let s = c.get_service("n", "new-key").unwrap();
    assert_eq!(
        s["metadata"]["annotations"]["metallb.universe.tf/ip-allocated-from-pool"],
        "homelab"
    );
    c.create_service(svc(
        "n",
        "old-key",
        json!({"metallb.universe.tf/loadBalancerIPs": "192.168.1.240"}),
        80,
    ))
    .unwrap();
    assert_eq!(c.lb_ips("n", "old-key"), ["192.168.1.240"]);
    assert!(!reasons(&c, "n", "old-key").contains(&"deprecatedAnnotation".to_string()));
    let img = c
        .get_object("apps/v1", "Deployment", "metallb-system", "controller")
        .unwrap();
    assert_eq!(
        img["spec"]["template"]["spec"]["containers"][0]["image"],
        "quay.io/metallb/controller:v0.14.8"
    );
}

#[test]
fn annotation_and_spec_together_and_deprecated_keys() {
    let c = cluster(POOL);
    let mut both = pinned("n", "both", "192.168.1.220");
    both["spec"]["loadBalancerIP"] = json!("192.168.1.220");
    c.create_service(both).unwrap();
    assert!(c.lb_ips("n", "both").is_empty());
    assert_eq!(
        last_message(&c, "n", "both"),
        r#"Failed to allocate IP for "n/both": service can not have both metallb.io/loadBalancerIPs and svc.Spec.LoadBalancerIP"#
    );
    c.create_service(svc(
        "n",
        "typo",
        json!({"metallb.universe.tf/loadBalancer-ips": "192.168.1.230"}),
        80,
    ))
    .unwrap();
    assert_eq!(c.lb_ips("n", "typo"), ["192.168.1.200"]);
    assert_eq!(
        c.event_reasons("n", "typo")[1],
        (
            "deprecatedAnnotation".to_string(),
            "Service uses deprecated annotation metallb.universe.tf/loadBalancer-ips".to_string()
        )
    );
}

#[test]
fn seeded_example_cluster_starts_drifted() {
    let seed = concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples/cluster");
    let c = TestCluster::start_blocking(Options::default().seed_path(seed)).unwrap();
    assert_eq!(c.services().len(), 12);
    assert_eq!(c.lb_ips("mlflow", "mlflow"), ["192.168.1.203"]);
    assert_eq!(
        c.lb_ips("kubernetes-dashboard", "kubernetes-dashboard"),
        ["192.168.1.215"]
    );
    // Both annotation and spec.loadBalancerIP: the IP is kept, with a warning.
    assert_eq!(
        c.lb_ips("argowf", "argo-workflows-server"),
        ["192.168.1.205"]
    );
    assert_eq!(
        reasons(&c, "argowf", "argo-workflows-server"),
        ["LoadBalancerFailed"]
    );
    // Seeding emits nothing else: the cluster is settled.
    assert_eq!(c.events().len(), 1);
    // Pinning MLflow to the dashboard's IP fails until the squatter moves.
    c.patch_service(
        "mlflow",
        "mlflow",
        json!({"metadata": {"annotations": {"metallb.io/loadBalancerIPs": "192.168.1.215"}}}),
    )
    .unwrap();
    assert!(c.lb_ips("mlflow", "mlflow").is_empty());
    c.patch_service(
        "kubernetes-dashboard",
        "kubernetes-dashboard",
        json!({"metadata": {"annotations": {"metallb.io/loadBalancerIPs": "192.168.1.208"}}}),
    )
    .unwrap();
    assert_eq!(
        c.lb_ips("kubernetes-dashboard", "kubernetes-dashboard"),
        ["192.168.1.208"]
    );
    assert_eq!(c.lb_ips("mlflow", "mlflow"), ["192.168.1.215"]);
}

#[test]
fn servicelb_fights_metallb() {
    let c = TestCluster::start_blocking(Options::default().servicelb().seed_yaml(POOL)).unwrap();
    c.create_service(pinned("n", "web", "192.168.1.230"))
        .unwrap();
    assert_eq!(c.lb_ips("n", "web"), ["10.0.0.11"]);
    let ds = c.objects("apps/v1", "DaemonSet");
    assert_eq!(ds.len(), 1);
    assert!(
        ds[0]["metadata"]["name"]
            .as_str()
            .unwrap()
            .starts_with("svclb-web-")
    );
    assert_eq!(
        ds[0]["metadata"]["labels"][lbip_testcluster::SERVICELB_LABEL],
        "web"
    );
    // The next MetalLB pass finds a node IP it does not own and clears it.
    c.patch_service("n", "web", json!({"metadata": {"labels": {"touch": "1"}}}))
        .unwrap();
    let r = reasons(&c, "n", "web");
    assert!(
        r.contains(&"ClearAssignment".to_string()) && r.contains(&"AppliedDaemonSet".to_string()),
        "{r:?}"
    );
    c.delete_service("n", "web").unwrap();
    assert!(c.objects("apps/v1", "DaemonSet").is_empty());
}

#[test]
fn status_is_only_written_through_the_subresource() {
    let c = cluster(POOL);
    let mut s = svc("n", "s", json!({}), 80);
    s["status"] = json!({"loadBalancer": {"ingress": [{"ip": "1.2.3.4"}]}});
    c.create_service(s).unwrap();
    assert_eq!(c.lb_ips("n", "s"), ["192.168.1.200"]);
    // Clearing status forces a fresh allocation, which returns the lowest free IP again.
    c.set_service_status("n", "s", json!({"loadBalancer": {}}))
        .unwrap();
    assert_eq!(c.lb_ips("n", "s"), ["192.168.1.200"]);
    assert_eq!(reasons(&c, "n", "s"), ["IPAllocated"]);
    assert_eq!(c.events_for("n", "s")[0]["count"], 2);
}

/// Non-overlapping /28 pools in random order with random pinned Services, created in a random
/// order: every Service ends up with exactly the IP it asked for.
fn pools_and_pins() -> impl Strategy<Value = (Vec<u8>, Vec<(u8, u8)>, Vec<usize>)> {
    (
        proptest::collection::btree_set(0u8..16, 1..4),
        proptest::collection::btree_set((0u8..16, 0u8..16), 1..12),
    )
        .prop_flat_map(|(blocks, pins)| {
            let blocks: Vec<u8> = blocks.into_iter().collect();
            let n = blocks.len();
            let pins: Vec<(u8, u8)> = pins
                .into_iter()
                .map(|(b, host)| (blocks[b as usize % n], host))
                .collect::<std::collections::BTreeSet<_>>()
                .into_iter()
                .collect();
            let order: Vec<usize> = (0..pins.len()).collect();
            (Just(blocks), Just(pins), Just(order).prop_shuffle())
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]
    #[test]
    fn pinned_requests_always_win((blocks, pins, order) in pools_and_pins()) {
        let pools: Vec<String> = blocks.iter().map(|b| format!(
            "apiVersion: metallb.io/v1beta1\nkind: IPAddressPool\nmetadata: {{name: p{b}, namespace: metallb-system}}\nspec: {{addresses: [10.0.{b}.0/28]}}"
        )).collect();
        let c = cluster(&pools.join("\n---\n"));
        for &i in &order {
            let (b, host) = pins[i];
            c.create_service(pinned("ns", &format!("s{i}"), &format!("10.0.{b}.{host}"))).unwrap();
        }
        for (i, (b, host)) in pins.iter().enumerate() {
            prop_assert_eq!(c.lb_ips("ns", &format!("s{i}")), vec![format!("10.0.{b}.{host}")]);
        }
    }
}

const DUAL_POOL: &str = "
apiVersion: metallb.io/v1beta1
kind: IPAddressPool
metadata: {name: lab, namespace: metallb-system}
spec:
  addresses: [10.20.0.1-10.20.0.9, 'fd00:20::1-fd00:20::9']
";

fn dual(ns: &str, name: &str, annotations: Value) -> Value {
    let mut s = svc(ns, name, annotations, 80);
    s["spec"]["ipFamilyPolicy"] = json!("RequireDualStack");
    s
}

#[test]
fn dual_stack_services_get_one_address_per_family_and_requests_must_match_the_families() {
    let c = cluster(DUAL_POOL);
    // Defaults as a dual-stack API server sets them: both families, a cluster IP of each.
    let created = c.create_service(dual("web", "both", json!({}))).unwrap();
    assert_eq!(created["spec"]["ipFamilies"], json!(["IPv4", "IPv6"]));
    assert_eq!(created["spec"]["clusterIPs"].as_array().unwrap().len(), 2);
    assert_eq!(c.lb_ips("web", "both"), ["10.20.0.1", "fd00:20::1"]);
    // An IPv6-only Service gets an IPv6 address.
    let mut v6 = svc("web", "six", json!({}), 80);
    v6["spec"]["ipFamilies"] = json!(["IPv6"]);
    c.create_service(v6).unwrap();
    assert_eq!(c.lb_ips("web", "six"), ["fd00:20::2"]);
    // Requests must name exactly the Service's families, as MetalLB checks them.
    c.create_service(dual(
        "web",
        "one-of-two",
        json!({"metallb.io/loadBalancerIPs": "10.20.0.5"}),
    ))
    .unwrap();
    assert!(c.lb_ips("web", "one-of-two").is_empty());
    assert!(
        last_message(&c, "web", "one-of-two")
            .contains("does not match the ipFamily of the service"),
        "{:?}",
        c.event_reasons("web", "one-of-two")
    );
    c.create_service(pinned("web", "v4-asks-both", "10.20.0.6,fd00:20::6"))
        .unwrap();
    assert!(c.lb_ips("web", "v4-asks-both").is_empty());
    c.create_service(dual(
        "web",
        "asks-both",
        json!({"metallb.io/loadBalancerIPs": "10.20.0.7,fd00:20::7"}),
    ))
    .unwrap();
    assert_eq!(c.lb_ips("web", "asks-both"), ["10.20.0.7", "fd00:20::7"]);
}

#[test]
fn namespace_selectors_match_the_labels_of_the_services_namespace() {
    let c = cluster(
        "
apiVersion: v1
kind: Namespace
metadata: {name: ml, labels: {team: a}}
---
apiVersion: v1
kind: Namespace
metadata: {name: web}
---
apiVersion: metallb.io/v1beta1
kind: IPAddressPool
metadata: {name: team-a, namespace: metallb-system}
spec:
  addresses: [192.168.1.200-192.168.1.209]
  serviceAllocation:
    namespaceSelectors: [{matchLabels: {team: a}}]
---
apiVersion: metallb.io/v1beta1
kind: IPAddressPool
metadata: {name: general, namespace: metallb-system}
spec:
  addresses: [192.168.1.210-192.168.1.219]
",
    );
    c.create_service(svc("ml", "model", json!({}), 80)).unwrap();
    c.create_service(svc("web", "site", json!({}), 80)).unwrap();
    // The pinned pool serves only the labelled namespace; the other falls back to general.
    assert_eq!(c.lb_ips("ml", "model"), ["192.168.1.200"]);
    assert_eq!(c.lb_ips("web", "site"), ["192.168.1.210"]);
    // An explicit request into the selecting pool from elsewhere is refused.
    c.create_service(pinned("web", "asks", "192.168.1.205"))
        .unwrap();
    assert!(c.lb_ips("web", "asks").is_empty());
    assert!(
        last_message(&c, "web", "asks").contains("pool team-a not compatible for ip assignment"),
        "{:?}",
        c.event_reasons("web", "asks")
    );
}
