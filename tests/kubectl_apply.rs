//! `kubectl lbip check` and `apply` against the test API server and MetalLB simulator:
//! the failure story the tool exists for, a swap cycle, idempotence and request costs.

mod kubectl_support;

/// MetalLB never had to refuse a request: no Service was moved onto an IP still held, so
/// none was left without an IP by the reconciliation.
fn no_allocation_failed(c: &lbip_testcluster::TestCluster) {
    let failed: Vec<_> = c
        .events()
        .into_iter()
        .filter(|e| e["reason"] == "AllocationFailed")
        .collect();
    assert!(failed.is_empty(), "{failed:?}");
}

use kubectl_support::*;
use lbip_testcluster::Verb;
use serde_json::json;

/// The story from the design notes: MLflow is meant to have .201, Seldon's scheduler is
/// deployed first without a pinned IP and takes .201, MLflow falls back to the next IP.
const STORY_REGISTRY: &str = "
provider: {annotationPrefix: metallb.io}
pools:
  - name: homelab
    addresses: [192.168.1.200-192.168.1.250]
services:
  minio: {namespace: minio, ip: 192.168.1.200, ports: [9000]}
  mlflow: {namespace: mlflow, ip: 192.168.1.201, ports: [5000], hostname: mlflow.test}
";

#[test]
fn seldon_takes_mlflows_ip_check_names_it_and_apply_gives_it_back() {
    let c = cluster();
    let reg = registry(STORY_REGISTRY);
    c.create_service(pinned("minio", "minio", 9000, "192.168.1.200"))
        .unwrap();
    c.create_service(svc("seldon-system", "seldon-scheduler", 9002, json!({})))
        .unwrap();
    c.create_service(svc("mlflow", "mlflow", 5000, json!({})))
        .unwrap();
    assert_eq!(
        c.lb_ips("seldon-system", "seldon-scheduler"),
        ["192.168.1.201"]
    );
    assert_eq!(c.lb_ips("mlflow", "mlflow"), ["192.168.1.202"]);

    let log = c.request_log();
    log.clear();
    let check = lbip(&c, &reg.path, &["check"]);
    assert_eq!(check.code, 1, "{check:?}");
    assert!(
        check.stdout.lines().any(|l| l.starts_with("stolen")
            && l.contains("seldon-system/seldon-scheduler: holds 192.168.1.201")
            && l.contains("mlflow/mlflow")),
        "{check:?}"
    );
    assert!(
        log.mutating().is_empty(),
        "check must not write: {:?}",
        log.mutating()
    );

    let dry = lbip(&c, &reg.path, &["apply", "-A", "--dry-run"]);
    assert_eq!(dry.code, 0, "{dry:?}");
    assert!(
        dry.stdout
            .contains("1. evict seldon-system/seldon-scheduler: 192.168.1.201 -> 192.168.1.203"),
        "{dry:?}"
    );
    assert!(
        dry.stdout
            .contains("2. pin mlflow/mlflow: 192.168.1.202 -> 192.168.1.201"),
        "{dry:?}"
    );
    assert!(
        log.mutating().is_empty(),
        "--dry-run must not write: {:?}",
        log.mutating()
    );

    let apply = lbip(&c, &reg.path, &["apply", "-A", "--timeout", "10s"]);
    assert_eq!(apply.code, 0, "{apply:?}");
    no_allocation_failed(&c);
    assert_eq!(c.lb_ips("mlflow", "mlflow"), ["192.168.1.201"]);
    assert_eq!(c.lb_ips("minio", "minio"), ["192.168.1.200"]);
    // The squatter is pinned to a free address outside the registry, so it cannot come back.
    assert_eq!(
        c.lb_ips("seldon-system", "seldon-scheduler"),
        ["192.168.1.203"]
    );
    // Every patch carried the resourceVersion it was planned from.
    let patches: Vec<_> = log.mutating();
    assert_eq!(patches.len(), 2, "{patches:?}");
    assert!(apply.stdout.contains("Applied 2 step(s)."), "{apply:?}");
    let final_row = apply
        .stdout
        .lines()
        .find(|l| l.starts_with("mlflow "))
        .unwrap();
    assert!(final_row.ends_with("ok"), "{final_row}");

    log.clear();
    let again = lbip(&c, &reg.path, &["apply", "-A"]);
    assert_eq!(again.code, 0, "{again:?}");
    assert!(again.stdout.contains("Nothing to do"), "{again:?}");
    assert!(
        log.mutating().is_empty(),
        "a second apply must plan nothing: {:?}",
        log.mutating()
    );

    let status = lbip(&c, &reg.path, &["status", "-o", "json"]);
    let rows: serde_json::Value = serde_json::from_str(&status.stdout).unwrap();
    let mlflow = rows
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == "mlflow")
        .unwrap();
    assert_eq!(mlflow["states"], json!(["ok"]));
    assert_eq!(mlflow["assigned"], json!(["192.168.1.201"]));
}

#[test]
fn a_swap_cycle_converges_through_a_scratch_address() {
    let c = cluster();
    let reg = example_registry();
    // Each asks for the other's registry IP (a copy-paste mistake in two values files).
    c.create_service(pinned("mlflow", "mlflow", 5000, "192.168.1.201"))
        .unwrap();
    c.create_service(pinned(
        "seldon-system",
        "seldon-scheduler",
        9002,
        "192.168.1.215",
    ))
    .unwrap();
    let apply = lbip(&c, &reg, &["apply", "-A", "--timeout", "10s"]);
    assert_eq!(apply.code, 0, "{apply:?}");
    assert!(
        apply
            .stdout
            .contains("1. scratch mlflow/mlflow: 192.168.1.201 -> 192.168.1.203"),
        "{apply:?}"
    );
    no_allocation_failed(&c);
    assert_eq!(c.lb_ips("mlflow", "mlflow"), ["192.168.1.215"]);
    assert_eq!(
        c.lb_ips("seldon-system", "seldon-scheduler"),
        ["192.168.1.201"]
    );
    let again = lbip(&c, &reg, &["apply", "-A"]);
    assert!(again.stdout.contains("Nothing to do"), "{again:?}");
}

#[test]
fn apply_acts_only_in_the_selected_namespace() {
    let c = cluster();
    let reg = example_registry();
    c.create_service(svc("mlflow", "mlflow", 5000, json!({})))
        .unwrap();
    let log = c.request_log();
    // No -n: the context's namespace (`default`), where nothing is registered.
    let apply = lbip(&c, &reg, &["apply"]);
    assert!(apply.stdout.contains("Nothing to do"), "{apply:?}");
    let apply = lbip(&c, &reg, &["apply", "-n", "monitoring"]);
    assert!(apply.stdout.contains("Nothing to do"), "{apply:?}");
    assert!(log.mutating().is_empty());
    let apply = lbip(&c, &reg, &["apply", "-n", "mlflow", "--timeout", "10s"]);
    assert_eq!(apply.code, 0, "{apply:?}");
    assert_eq!(c.lb_ips("mlflow", "mlflow"), ["192.168.1.215"]);
}

#[test]
fn status_on_two_thousand_services_reads_them_in_four_pages() {
    let pool = "
apiVersion: metallb.io/v1beta1
kind: IPAddressPool
metadata: {name: bulk, namespace: metallb-system}
spec: {addresses: [10.20.0.0/20]}
";
    // Seeded with their status, as after years of deploys: 2,000 Services across 40 teams.
    // (Seeded in chunks: the YAML parser caps documents per stream.)
    let mut chunks = vec![String::new(); 4];
    for i in 0..2000 {
        chunks[i / 500].push_str(&format!(
            "---\napiVersion: v1\nkind: Service\nmetadata: {{name: web-{i}, namespace: team-{}}}\nspec: {{type: LoadBalancer, ports: [{{port: 80}}]}}\nstatus: {{loadBalancer: {{ingress: [{{ip: 10.20.{}.{}}}]}}}}\n",
            i % 40,
            i / 250,
            i % 250
        ));
    }
    let mut opts = lbip_testcluster::Options::default()
        .seed_yaml(&metallb_seed())
        .seed_yaml(pool);
    for chunk in &chunks {
        opts = opts.seed_yaml(chunk);
    }
    let c = lbip_testcluster::TestCluster::start_blocking(opts).unwrap();
    let log = c.request_log();
    log.clear();
    let started = std::time::Instant::now();
    let status = lbip(&c, &example_registry(), &["status", "-A"]);
    let elapsed = started.elapsed();
    assert_eq!(status.code, 0, "{status:?}");
    assert_eq!(
        status.stdout.lines().count(),
        1 + 2000 + 12,
        "header + Services + missing entries: {}",
        status.stderr
    );
    // Pages of 500 (kubectl's chunk size), then the pools; the table shows no events, so
    // none are read.
    assert_eq!(
        log.count(Verb::List, "services"),
        4,
        "{:?}",
        log.api_calls()
    );
    assert!(
        log.api_calls()
            .iter()
            .filter(|r| r.resource.as_deref() == Some("services"))
            .all(|r| r.query.contains("limit=500")),
        "{:?}",
        log.api_calls()
    );
    assert_eq!(
        log.api_calls().len(),
        5,
        "four pages of services, one LIST of pools: {:?}",
        log.api_calls()
    );
    assert!(log.mutating().is_empty());
    eprintln!("status on 2000 Services: {elapsed:?}");
}

#[test]
fn output_name_lists_services_like_kubectl_get_o_name() {
    let c = cluster();
    // grafana is registered but not deployed: no Service, so no name to print.
    let reg = registry(&format!(
        "{STORY_REGISTRY}  grafana: {{namespace: monitoring, ip: 192.168.1.207}}\n"
    ));
    c.create_service(pinned("minio", "minio", 9000, "192.168.1.200"))
        .unwrap();
    c.create_service(svc("seldon-system", "seldon-scheduler", 9002, json!({})))
        .unwrap();
    c.create_service(svc("mlflow", "mlflow", 5000, json!({})))
        .unwrap();

    let status = lbip(&c, &reg.path, &["status", "-o", "name"]);
    assert_eq!(status.code, 0, "{status:?}");
    assert_eq!(
        status.stdout,
        "service/minio\nservice/mlflow\nservice/seldon-scheduler\n"
    );
    // check lists only what is not ok (minio is), still exiting 1.
    let check = lbip(&c, &reg.path, &["check", "-o", "name"]);
    assert_eq!(check.code, 1, "{check:?}");
    assert_eq!(check.stdout, "service/mlflow\nservice/seldon-scheduler\n");
    let who = lbip(&c, &reg.path, &["who-has", "192.168.1.201", "-o", "name"]);
    assert_eq!(who.code, 0, "{who:?}");
    assert_eq!(who.stdout, "service/seldon-scheduler\n");
}
