//! What each command reads, asserted through the test server's request log: paginated
//! LISTs (and the fallback when a continue token expires), no LIST the command does not use
//! (apply reads no Events, doctor reads Deployments only in MetalLB's namespace), and a 403
//! on IPAddressPools degrading to "pools unknown" instead of failing.

mod kubectl_support;

use kubectl_support::*;
use lbip_testcluster::{Fault, FaultAction, LoggedRequest, TestCluster, Verb};
use serde_json::json;

/// The running example's pool, MLflow drifted, and `n` unregistered Services in a bulk pool.
fn cluster_with(n: usize) -> TestCluster {
    let pool = "apiVersion: metallb.io/v1beta1\nkind: IPAddressPool\nmetadata: {name: bulk, namespace: metallb-system}\nspec: {addresses: [10.20.0.0/20]}\n";
    let mut opts = lbip_testcluster::Options::default()
        .seed_yaml(&metallb_seed())
        .seed_yaml(pool);
    let mut chunk = String::new();
    for i in 0..n {
        chunk.push_str(&format!(
            "---\napiVersion: v1\nkind: Service\nmetadata: {{name: web-{i}, namespace: team-{}}}\nspec: {{type: LoadBalancer, ports: [{{port: 80}}]}}\nstatus: {{loadBalancer: {{ingress: [{{ip: 10.20.{}.{}}}]}}}}\n",
            i % 7,
            i / 250,
            i % 250
        ));
        if (i + 1) % 500 == 0 {
            opts = opts.seed_yaml(&std::mem::take(&mut chunk));
        }
    }
    if !chunk.is_empty() {
        opts = opts.seed_yaml(&chunk);
    }
    let c = TestCluster::start_blocking(opts).unwrap();
    c.create_service(svc("mlflow", "mlflow", 5000, json!({})))
        .unwrap();
    c.request_log().clear();
    c
}

fn calls(c: &TestCluster) -> Vec<LoggedRequest> {
    c.request_log().api_calls()
}

fn resources(calls: &[LoggedRequest]) -> Vec<(String, String)> {
    calls
        .iter()
        .map(|r| {
            (
                r.verb.as_str().to_string(),
                r.resource.clone().unwrap_or_default(),
            )
        })
        .collect()
}

#[test]
fn every_list_is_paginated_and_status_reads_events_only_when_it_shows_them() {
    let c = cluster_with(1100);
    let reg = example_registry();
    let run = lbip(&c, &reg, &["status"]);
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(run.stdout.lines().count(), 1 + 1101 + 11, "{}", run.stderr);
    let log = calls(&c);
    let pages: Vec<&LoggedRequest> = log
        .iter()
        .filter(|r| r.resource.as_deref() == Some("services"))
        .collect();
    assert_eq!(pages.len(), 3, "{log:?}");
    assert!(pages[0].query.contains("limit=500") && !pages[0].query.contains("continue"));
    assert!(
        pages[1..]
            .iter()
            .all(|p| p.query.contains("limit=500") && p.query.contains("continue="))
    );
    assert_eq!(c.request_log().count(Verb::List, "events"), 0, "{log:?}");
    c.request_log().clear();
    let wide = lbip(&c, &reg, &["status", "-o", "wide"]);
    assert_eq!(wide.code, 0, "{wide:?}");
    assert_eq!(c.request_log().count(Verb::List, "events"), 1);
    c.request_log().clear();
    let who = lbip(&c, &reg, &["who-has", "10.20.0.7"]);
    assert_eq!(who.code, 0, "{who:?}");
    assert!(
        resources(&calls(&c)).iter().all(|(_, r)| r == "services"),
        "who-has reads only Services: {:?}",
        calls(&c)
    );
}

#[test]
fn an_expired_continue_token_makes_the_list_start_over_unpaginated() {
    let c = cluster_with(1100);
    // The second page's token is too old (an etcd compaction between two pages).
    c.inject(
        Fault::on(Verb::List, "services")
            .nth(2)
            .action(FaultAction::Status(410)),
    );
    let run = lbip(&c, &example_registry(), &["status"]);
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(run.stdout.lines().count(), 1 + 1101 + 11);
    let pages: Vec<LoggedRequest> = calls(&c)
        .into_iter()
        .filter(|r| r.resource.as_deref() == Some("services"))
        .collect();
    let statuses: Vec<u16> = pages.iter().map(|p| p.status).collect();
    assert_eq!(statuses, [200, 410, 200], "{pages:?}");
    assert!(!pages[2].query.contains("limit"), "{pages:?}");
}

#[test]
fn apply_reads_no_events_and_doctor_reads_deployments_only_in_metallbs_namespace() {
    let c = cluster_with(10);
    let reg = example_registry();
    let run = lbip(&c, &reg, &["apply", "-A", "--timeout", "10s"]);
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(c.lb_ips("mlflow", "mlflow"), ["192.168.1.215"]);
    assert_eq!(
        c.request_log().count(Verb::List, "events"),
        0,
        "{:?}",
        calls(&c)
    );
    // No pool selects namespaces by label: their labels are not read.
    assert_eq!(c.request_log().count(Verb::List, "namespaces"), 0);
    c.request_log().clear();
    let run = lbip(&c, &reg, &["doctor"]);
    assert!(
        run.stdout
            .contains("MetalLB: v0.14.9 in metallb-system/controller"),
        "{run:?}"
    );
    let deployments: Vec<LoggedRequest> = calls(&c)
        .into_iter()
        .filter(|r| r.resource.as_deref() == Some("deployments"))
        .collect();
    assert_eq!(deployments.len(), 1, "{deployments:?}");
    assert_eq!(deployments[0].namespace.as_deref(), Some("metallb-system"));
    let daemonsets: Vec<LoggedRequest> = calls(&c)
        .into_iter()
        .filter(|r| r.resource.as_deref() == Some("daemonsets"))
        .collect();
    assert!(
        daemonsets
            .iter()
            .all(|r| r.namespace.as_deref() == Some("kube-system"))
    );
    // import needs the pools and MetalLB's version, not Events or ServiceLB.
    c.request_log().clear();
    let run = lbip(&c, &reg, &["import"]);
    assert_eq!(run.code, 0, "{run:?}");
    let read: Vec<(String, String)> = resources(&calls(&c));
    assert!(
        !read.iter().any(|(_, r)| r == "events" || r == "daemonsets"),
        "{read:?}"
    );
}

#[test]
fn a_forbidden_pool_list_degrades_to_pools_unknown_with_a_warning() {
    let c = cluster_with(0);
    let reg = example_registry();
    c.deny(Verb::List, "ipaddresspools", None);
    let status = lbip(&c, &reg, &["status", "-o", "wide", "-n", "mlflow"]);
    assert_eq!(status.code, 0, "{status:?}");
    assert!(
        status.stderr.contains(
            "warning: pools unknown: forbidden: your user (context default) may not list ipaddresspools.metallb.io in all namespaces (cluster scope)"
        ),
        "{status:?}"
    );
    assert!(status.stdout.contains("mlflow      mlflow"), "{status:?}");
    let check = lbip(&c, &reg, &["check", "-n", "mlflow"]);
    assert_eq!(check.code, 1, "drift, not an error: {check:?}");
    assert!(check.stderr.contains("warning: pools unknown"), "{check:?}");
    // apply plans, and says that it cannot verify the addresses it moves Services to.
    let dry = lbip(&c, &reg, &["apply", "-n", "mlflow", "--dry-run"]);
    assert_eq!(dry.code, 0, "{dry:?}");
    assert!(dry.stdout.contains("pin mlflow/mlflow"), "{dry:?}");
    assert!(
        dry.stderr
            .contains("cannot verify that the addresses it moves Services to are in a pool"),
        "{dry:?}"
    );
    // doctor cannot check pools: an error finding, not a crash, not "MetalLB missing".
    let doctor = lbip(&c, &reg, &["doctor"]);
    assert_eq!(doctor.code, 1, "{doctor:?}");
    assert!(doctor.stdout.contains("[pools-unknown]"), "{doctor:?}");
    assert!(!doctor.stdout.contains("metallb-missing"), "{doctor:?}");
    // Other 403s still fail the command.
    c.deny(Verb::List, "services", None);
    let status = lbip(&c, &reg, &["status"]);
    assert_eq!(status.code, 2, "{status:?}");
}
