//! `lbip export metallb` against the MetalLB simulator: the output is accepted (no overlap
//! denials), and the README's procedure for moving a live cluster from one big pool to the
//! exported pools keeps every Service's IP.

use lbip::registry::export::metallb;
use lbip::registry::{Loaded, PinBy, Registry};
use lbip_testcluster::{Options, TestCluster};
use serde_json::json;
use std::path::{Path, PathBuf};
use std::process::Command;

const EXAMPLE: &str = include_str!("../examples/registry.yaml");
const POOL_SEED: &str = "apiVersion: metallb.io/v1beta1
kind: IPAddressPool
metadata: {name: homelab, namespace: metallb-system}
spec:
  addresses: [192.168.1.200-192.168.1.250]
---
apiVersion: metallb.io/v1beta1
kind: L2Advertisement
metadata: {name: homelab, namespace: metallb-system}
spec:
  ipAddressPools: [homelab]
";

/// kubectl: `$LBIP_TEST_KUBECTL`, else `.venv/bin/kubectl` (scripts/test-all.sh installs it),
/// else `kubectl` on PATH; missing kubectl fails the test.
fn kubectl_path() -> PathBuf {
    if let Some(p) = std::env::var_os("LBIP_TEST_KUBECTL") {
        return PathBuf::from(p);
    }
    let venv = Path::new(env!("CARGO_MANIFEST_DIR")).join(".venv/bin/kubectl");
    if venv.exists() {
        return venv;
    }
    std::env::var_os("PATH")
        .and_then(|paths| std::env::split_paths(&paths).map(|d| d.join("kubectl")).find(|p| p.is_file()))
        .expect("kubectl not found: set LBIP_TEST_KUBECTL or run scripts/test-all.sh, which installs it")
}

/// Runs kubectl against the test cluster; fails the test when kubectl fails.
fn kubectl(c: &TestCluster, args: &[&str]) -> String {
    let cache = tempfile::tempdir().unwrap();
    let out = Command::new(kubectl_path())
        .arg("--kubeconfig")
        .arg(c.kubeconfig_path())
        .arg("--cache-dir")
        .arg(cache.path())
        .args(args)
        .output()
        .expect("running kubectl");
    assert!(
        out.status.success(),
        "kubectl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// The running example plus an operator-created database Service pinned by its own pool.
fn registry() -> Registry {
    let text = format!(
        "{EXAMPLE}  main-db:\n    namespace: db\n    ip: 192.168.1.230\n    block: applications\n    pinBy: pool\n    matchLabels: {{cluster-name: main-db}}\n"
    );
    Loaded::from_text(&text, "r.yaml")
        .unwrap()
        .require_valid()
        .unwrap()
}

/// A Service that already holds `ip`, as the cluster is found after step 2 of the procedure:
/// annotation entries request their IP; others (operator-made, strangers) request nothing.
fn service(ns: &str, name: &str, ip: &str, request: bool, labels: serde_json::Value) -> String {
    let annotations = if request {
        json!({"metallb.io/loadBalancerIPs": ip})
    } else {
        json!({})
    };
    let svc = json!({
        "apiVersion": "v1", "kind": "Service",
        "metadata": {"name": name, "namespace": ns, "labels": labels, "annotations": annotations},
        "spec": {"type": "LoadBalancer", "selector": {"app": name}, "ports": [{"port": 80, "protocol": "TCP"}]},
        "status": {"loadBalancer": {"ingress": [{"ip": ip, "ipMode": "VIP"}]}}
    });
    format!("---\n{}\n", serde_json::to_string(&svc).unwrap())
}

/// The cluster before the move: one big pool, every registry Service on its IP, and a
/// Service lbip does not know on .203 (auto-assigned).
fn live_cluster(reg: &Registry) -> TestCluster {
    let mut seed = POOL_SEED.to_string();
    for e in &reg.services {
        let ip = e.primary_ip().unwrap().to_string();
        let labels = json!(e.match_labels.value);
        seed += &service(
            e.namespace(),
            e.name(),
            &ip,
            e.pin_by.value == PinBy::Annotation,
            labels,
        );
    }
    seed += &service("default", "stranger", "192.168.1.203", false, json!({}));
    TestCluster::start_blocking(Options::default().seed_yaml(&seed)).unwrap()
}

fn assert_everyone_keeps_their_ip(c: &TestCluster, reg: &Registry) {
    for e in &reg.services {
        assert_eq!(
            c.lb_ips(e.namespace(), e.name()),
            [e.primary_ip().unwrap().to_string()],
            "{}",
            e.qualified_name()
        );
    }
    assert_eq!(c.lb_ips("default", "stranger"), ["192.168.1.203"]);
}

#[test]
fn the_export_applies_to_a_fresh_cluster_and_pins_new_services() {
    let reg = registry();
    let c = TestCluster::start_blocking(Options::default()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("pools.yaml");
    std::fs::write(&path, metallb::render(&reg)).unwrap();
    let out = kubectl(&c, &["apply", "-f", path.to_str().unwrap()]);
    assert!(
        out.contains("ipaddresspool.metallb.io/lbip-pin-main-db created"),
        "{out}"
    );
    let names: Vec<String> = c
        .objects("metallb.io/v1beta1", "IPAddressPool")
        .iter()
        .map(|p| p["metadata"]["name"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(names.len(), 3, "{names:?}");

    // A Service that asks for nothing never gets a registry IP...
    let stranger = json!({"apiVersion": "v1", "kind": "Service",
        "metadata": {"name": "stranger", "namespace": "default"},
        "spec": {"type": "LoadBalancer", "ports": [{"port": 80}]}});
    c.create_service(stranger).unwrap();
    assert_eq!(c.lb_ips("default", "stranger"), ["192.168.1.203"]);
    // ...and the operator's database gets its own address without any annotation.
    let db = json!({"apiVersion": "v1", "kind": "Service",
        "metadata": {"name": "main-db", "namespace": "db", "labels": {"cluster-name": "main-db"}},
        "spec": {"type": "LoadBalancer", "ports": [{"port": 5432}]}});
    c.create_service(db).unwrap();
    assert_eq!(c.lb_ips("db", "main-db"), ["192.168.1.230"]);
}

#[test]
fn the_documented_migration_keeps_every_ip() {
    // The README's procedure, step for step, with real kubectl.
    let reg = registry();
    let c = live_cluster(&reg);
    assert_everyone_keeps_their_ip(&c, &reg);
    let dir = tempfile::tempdir().unwrap();
    let pools_yaml = dir.path().join("pools.yaml");
    std::fs::write(&pools_yaml, metallb::render(&reg)).unwrap();
    let pools_yaml = pools_yaml.to_str().unwrap();
    let auto = metallb::pools(&reg)
        .into_iter()
        .find(|p| p.name == "homelab")
        .unwrap();
    let auto_addresses: Vec<String> = auto.addresses.iter().map(|r| r.to_string()).collect();
    let patch = |spec: serde_json::Value| {
        let body = json!({ "spec": spec }).to_string();
        kubectl(
            &c,
            &[
                "-n",
                "metallb-system",
                "patch",
                "ipaddresspool",
                "homelab",
                "--type",
                "merge",
                "-p",
                &body,
            ],
        );
    };

    patch(json!({"autoAssign": false})); // step 3
    patch(json!({"addresses": auto_addresses})); // step 4
    assert!(
        c.lb_ips("db", "main-db").is_empty(),
        "waits, with no pool to take another IP from"
    );
    kubectl(&c, &["apply", "-f", pools_yaml, "-l", "lbip/stage=pinned"]); // step 5
    assert_eq!(c.lb_ips("db", "main-db"), ["192.168.1.230"]);
    kubectl(&c, &["apply", "-f", pools_yaml]); // step 6

    assert_everyone_keeps_their_ip(&c, &reg);
    let homelab = c
        .get_object(
            "metallb.io/v1beta1",
            "IPAddressPool",
            "metallb-system",
            "homelab",
        )
        .unwrap();
    assert_eq!(homelab["spec"]["autoAssign"], true);
    assert_eq!(c.objects("metallb.io/v1beta1", "IPAddressPool").len(), 3);
}

#[test]
fn applying_the_export_directly_can_move_a_pool_pinned_service() {
    // Why steps 3 and 4 exist: without them the operator's Service is re-allocated from the
    // shrunk auto-assign pool before its own pool exists.
    let reg = registry();
    let c = live_cluster(&reg);
    c.apply_yaml(&metallb::render(&reg)).unwrap();
    for e in reg
        .services
        .iter()
        .filter(|e| e.pin_by.value == PinBy::Annotation)
    {
        assert_eq!(
            c.lb_ips(e.namespace(), e.name()),
            [e.primary_ip().unwrap().to_string()]
        );
    }
    assert_ne!(c.lb_ips("db", "main-db"), ["192.168.1.230"]);
}
