//! `kubectl lbip doctor`, `who-has`, `reassign` and `import` against the test cluster.

mod kubectl_support;

use kubectl_support::*;
use lbip_testcluster::{Options, TestCluster};
use serde_json::json;

/// An old MetalLB (0.14.8 reads only metallb.universe.tf keys) whose pool stops at .219,
/// so the registry's application block (.220-.239) is uncovered; a second pool nobody
/// announces; k3s ServiceLB still enabled. (The test cluster runs the controller Deployment
/// with the emulated version's image.)
const OLD_METALLB: &str = "
apiVersion: metallb.io/v1beta1
kind: IPAddressPool
metadata: {name: homelab, namespace: metallb-system}
spec: {addresses: [192.168.1.200-192.168.1.219]}
---
apiVersion: metallb.io/v1beta1
kind: IPAddressPool
metadata: {name: lab, namespace: metallb-system}
spec: {addresses: [10.9.0.0/28], autoAssign: false}
---
apiVersion: metallb.io/v1beta1
kind: L2Advertisement
metadata: {name: homelab, namespace: metallb-system}
spec: {ipAddressPools: [homelab]}
";

#[test]
fn doctor_finds_servicelb_an_uncovered_ip_and_a_prefix_version_mismatch() {
    let c = TestCluster::start_blocking(
        Options::default()
            .metallb_version("0.14.8")
            .servicelb()
            .seed_yaml(OLD_METALLB),
    )
    .unwrap();
    c.create_service(svc("mlflow", "mlflow", 5000, json!({})))
        .unwrap();
    let run = lbip(&c, &example_registry(), &["doctor"]);
    assert_eq!(run.code, 1, "{run:?}");
    let out = &run.stdout;
    assert!(
        out.starts_with("MetalLB: v0.14.8 in metallb-system/controller"),
        "{run:?}"
    );
    assert!(
        out.contains(
            "error: MetalLB v0.14.8 (metallb-system/controller) ignores metallb.io/* annotations"
        ),
        "{run:?}"
    );
    assert!(out.contains("[prefix-version-mismatch]\n  = help: set `provider: {annotationPrefix: metallb.universe.tf}`"), "{run:?}");
    assert!(
        out.contains("error: k3s ServiceLB runs beside MetalLB (kube-system/svclb-mlflow-"),
        "{run:?}"
    );
    assert!(out.contains("--disable=servicelb"), "{run:?}");
    assert!(out.contains("registry entry `financial-seldon-scheduler` (financial-inference/seldon-scheduler) has 192.168.1.220, which no IPAddressPool in the cluster covers"), "{run:?}");
    assert!(out.contains("warning: 10 registry IP(s) are inside auto-assign pool metallb-system/homelab, so any unpinned Service can take them: 192.168.1.215 (mlflow), 192.168.1.200 (minio),"), "{run:?}");
    assert!(
        out.contains("IPAddressPool metallb-system/lab has no L2Advertisement or BGPAdvertisement"),
        "{run:?}"
    );
    let json = lbip(&c, &example_registry(), &["doctor", "-o", "json"]);
    let report: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    let codes: Vec<&str> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["code"].as_str().unwrap())
        .collect();
    for code in [
        "prefix-version-mismatch",
        "servicelb-running",
        "ip-outside-pool",
        "stealable-ip",
        "pool-not-advertised",
    ] {
        assert!(codes.contains(&code), "{code} missing from {codes:?}");
    }
}

#[test]
fn doctor_on_a_healthy_cluster_reports_only_stealable_ips() {
    let c = cluster();
    let run = lbip(&c, &example_registry(), &["doctor"]);
    assert_eq!(run.code, 0, "{run:?}");
    assert!(
        run.stdout
            .starts_with("MetalLB: v0.14.9 in metallb-system/controller"),
        "{run:?}"
    );
    assert!(!run.stdout.contains("error:"), "{run:?}");
}

#[test]
fn who_has_names_holder_requester_and_registry_owner() {
    let c = cluster();
    c.create_service(svc("seldon-system", "seldon-scheduler", 9002, json!({})))
        .unwrap();
    c.create_service(pinned("mlflow", "mlflow", 5000, "192.168.1.200"))
        .unwrap();
    let run = lbip(&c, &example_registry(), &["who-has", "192.168.1.200"]);
    assert_eq!(run.code, 0, "{run:?}");
    let lines: Vec<&str> = run.stdout.lines().collect();
    assert_eq!(
        lines[0].split_whitespace().collect::<Vec<_>>(),
        ["NAMESPACE", "NAME", "HOLDS", "REQUESTS", "REGISTRY-ENTRY"]
    );
    assert_eq!(
        lines[1].split_whitespace().collect::<Vec<_>>(),
        ["mlflow", "mlflow", "no", "yes", "mlflow"]
    );
    assert_eq!(
        lines[2].split_whitespace().collect::<Vec<_>>(),
        [
            "seldon-system",
            "seldon-scheduler",
            "yes",
            "no",
            "seldon-scheduler"
        ]
    );
    assert_eq!(
        lines[3],
        "Registry: 192.168.1.200 belongs to minio/minio (minio)."
    );
    let nobody = lbip(&c, &example_registry(), &["who-has", "192.168.1.249"]);
    assert_eq!(nobody.code, 1, "{nobody:?}");
}

#[test]
fn reassign_refuses_without_force_and_moves_the_holder_off_first() {
    let c = cluster();
    c.create_service(pinned("mlflow", "mlflow", 5000, "192.168.1.215"))
        .unwrap();
    c.create_service(pinned("monitoring", "grafana", 3000, "192.168.1.207"))
        .unwrap();
    let reg = example_registry();
    let refused = lbip(
        &c,
        &reg,
        &["reassign", "mlflow/mlflow", "--ip", "192.168.1.207"],
    );
    assert_eq!(refused.code, 2, "{refused:?}");
    assert!(refused.stderr.contains("refusing to reassign mlflow/mlflow to 192.168.1.207: the registry gives mlflow/mlflow 192.168.1.215 (entry `mlflow`); the registry gives 192.168.1.207 to monitoring/grafana (entry `grafana`)"), "{refused:?}");
    let log = c.request_log();
    log.clear();
    let forced = lbip(
        &c,
        &reg,
        &[
            "reassign",
            "mlflow/mlflow",
            "--ip",
            "192.168.1.207",
            "--force",
            "-A",
            "--timeout",
            "10s",
        ],
    );
    assert_eq!(forced.code, 0, "{forced:?}");
    assert!(
        forced
            .stdout
            .contains("1. evict monitoring/grafana: 192.168.1.207 -> 192.168.1.203"),
        "{forced:?}"
    );
    assert_eq!(c.lb_ips("mlflow", "mlflow"), ["192.168.1.207"]);
    assert_eq!(c.lb_ips("monitoring", "grafana"), ["192.168.1.203"]);
    // Only Services were written: MetalLB is never restarted.
    assert!(
        log.mutating()
            .iter()
            .all(|r| r.resource.as_deref() == Some("services")),
        "{:?}",
        log.mutating()
    );
    // Without -A the holder in another namespace is not touched.
    let scoped = lbip(
        &c,
        &reg,
        &[
            "reassign",
            "mlflow/mlflow",
            "--ip",
            "192.168.1.203",
            "--force",
            "--dry-run",
        ],
    );
    assert!(scoped.stdout.contains("blocked: mlflow/mlflow: 192.168.1.203 is held by monitoring/grafana, outside the selected namespaces"), "{scoped:?}");
}

#[test]
fn import_drafts_a_lint_clean_registry_from_the_cluster() {
    let c = cluster();
    c.create_service(pinned("minio", "minio", 9000, "192.168.1.200"))
        .unwrap();
    c.create_service(svc("seldon-system", "seldon-scheduler", 9002, json!({})))
        .unwrap();
    c.create_service(svc(
        "financial-inference",
        "seldon-scheduler",
        9002,
        json!({}),
    ))
    .unwrap();
    let run = lbip(&c, &example_registry(), &["import"]);
    assert_eq!(run.code, 0, "{run:?}");
    let draft = registry(&run.stdout);
    // Every lint rule `lbip lint` runs, through the library.
    let loaded = lbip::registry::Loaded::from_text(&run.stdout, "draft.yaml").unwrap();
    assert!(
        !lbip::diagnostic::has_errors(&loaded.findings),
        "{}\n{:?}",
        run.stdout,
        loaded.findings
    );
    assert!(run.stdout.contains("  seldon-system-seldon-scheduler:\n    namespace: seldon-system\n    name: seldon-scheduler\n    ip: 192.168.1.201\n    ports: [9002]\n"), "{run:?}");
    // The draft describes the cluster as it is: check passes once Services are pinned.
    let apply = lbip(&c, &draft.path, &["apply", "-A", "--timeout", "10s"]);
    assert_eq!(apply.code, 0, "{apply:?}");
    assert!(
        apply
            .stdout
            .lines()
            .skip_while(|l| !l.starts_with("NAMESPACE"))
            .skip(1)
            .all(|l| l.ends_with(" ok")),
        "{apply:?}"
    );
    assert_eq!(
        c.lb_ips("seldon-system", "seldon-scheduler"),
        ["192.168.1.201"]
    );
}

#[test]
fn a_failed_allocation_shows_in_status_and_doctor() {
    let c = cluster();
    // Requests an address no pool holds (the DHCP range): MetalLB refuses it.
    c.create_service(pinned("mlflow", "mlflow", 5000, "192.168.1.15"))
        .unwrap();
    let status = lbip(
        &c,
        &example_registry(),
        &["status", "-n", "mlflow", "-o", "wide"],
    );
    let row = status.stdout.lines().nth(1).unwrap();
    assert!(
        row.contains("<pending>") && row.contains("pending,drift"),
        "{status:?}"
    );
    assert!(
        row.contains("AllocationFailed: Failed to allocate IP for \"mlflow/mlflow\""),
        "{status:?}"
    );
    let check = lbip(&c, &example_registry(), &["check", "-n", "mlflow"]);
    assert!(
        check
            .stdout
            .contains("mlflow/mlflow: has no load balancer IP (MetalLB: AllocationFailed:"),
        "{check:?}"
    );
    let doctor = lbip(&c, &example_registry(), &["doctor"]);
    assert!(
        doctor
            .stdout
            .contains("warning: mlflow/mlflow: MetalLB could not allocate an IP"),
        "{doctor:?}"
    );
    assert!(doctor.stdout.contains("[allocation-failed]"), "{doctor:?}");
}

#[test]
fn apply_never_moves_a_service_to_an_ip_no_pool_covers() {
    // The cluster's pool stops at .219; the registry gives seldon-scheduler in
    // financial-inference .220. Patching would leave the Service without any IP.
    let c = TestCluster::start_blocking(Options::default().seed_yaml(OLD_POOL_ONLY)).unwrap();
    c.create_service(svc(
        "financial-inference",
        "seldon-scheduler",
        9002,
        json!({}),
    ))
    .unwrap();
    let before = c.lb_ips("financial-inference", "seldon-scheduler");
    assert_eq!(before.len(), 1);
    let log = c.request_log();
    log.clear();
    let run = lbip(
        &c,
        &example_registry(),
        &["apply", "-n", "financial-inference"],
    );
    assert_eq!(run.code, 1, "{run:?}");
    assert!(run.stdout.contains("blocked: financial-inference/seldon-scheduler: 192.168.1.220 is in no IPAddressPool of the cluster"), "{run:?}");
    assert!(log.mutating().is_empty(), "{:?}", log.mutating());
    assert_eq!(c.lb_ips("financial-inference", "seldon-scheduler"), before);
}

const OLD_POOL_ONLY: &str = "
apiVersion: metallb.io/v1beta1
kind: IPAddressPool
metadata: {name: homelab, namespace: metallb-system}
spec: {addresses: [192.168.1.200-192.168.1.219]}
---
apiVersion: metallb.io/v1beta1
kind: L2Advertisement
metadata: {name: homelab, namespace: metallb-system}
spec: {ipAddressPools: [homelab]}
";
