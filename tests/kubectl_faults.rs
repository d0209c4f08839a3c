//! `kubectl lbip apply` when the API server misbehaves: conflicts are retried from fresh
//! state, a failure midway says what was and was not applied, a rerun converges; a 403
//! names the missing permission.

mod kubectl_support;

use kubectl_support::*;
use lbip_testcluster::{Fault, FaultAction, Verb};
use serde_json::json;

/// Three registry Services on the wrong IPs, so apply has three steps.
fn drifted() -> lbip_testcluster::TestCluster {
    let c = cluster();
    c.create_service(svc("mlflow", "mlflow", 5000, json!({})))
        .unwrap();
    c.create_service(svc("monitoring", "grafana", 3000, json!({})))
        .unwrap();
    c.create_service(svc("argocd", "argocd-server", 80, json!({})))
        .unwrap();
    c
}

fn converged(c: &lbip_testcluster::TestCluster) -> bool {
    c.lb_ips("mlflow", "mlflow") == ["192.168.1.215"]
        && c.lb_ips("monitoring", "grafana") == ["192.168.1.207"]
        && c.lb_ips("argocd", "argocd-server") == ["192.168.1.204"]
}

#[test]
fn a_conflict_mid_apply_is_retried_from_fresh_state() {
    let c = drifted();
    // Someone edits the Service between our read and our patch: the server answers 409.
    c.inject(
        Fault::on(Verb::Patch, "services")
            .nth(2)
            .action(FaultAction::Status(409)),
    );
    let reg = example_registry();
    let run = lbip(&c, &reg, &["apply", "-A", "--timeout", "10s", "-o", "json"]);
    assert_eq!(run.code, 0, "{run:?}");
    let out: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    let conflicts: Vec<u64> = out["report"]["applied"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["conflicts"].as_u64().unwrap())
        .collect();
    assert_eq!(conflicts, [0, 1, 0]);
    // The retry read the Service again before patching it again.
    let log = c.request_log();
    assert!(log.count(Verb::Get, "services") >= 1);
    assert!(converged(&c));
}

fn fails_midway_then_rerun_converges(action: FaultAction, times: usize) {
    let c = drifted();
    c.inject(
        Fault::on(Verb::Patch, "services")
            .nth(2)
            .times(times)
            .action(action),
    );
    let reg = example_registry();
    let run = lbip(&c, &reg, &["apply", "-A", "--timeout", "10s"]);
    assert_eq!(run.code, 2, "{run:?}");
    assert!(
        run.stderr
            .contains("applied (1):\n  done     pin argocd/argocd-server -> 192.168.1.204"),
        "{run:?}"
    );
    assert!(
        run.stderr
            .contains("  failed   pin mlflow/mlflow -> 192.168.1.215 (not patched)"),
        "{run:?}"
    );
    assert!(
        run.stderr
            .contains("not applied (1):\n  pending  pin monitoring/grafana -> 192.168.1.207"),
        "{run:?}"
    );
    assert_eq!(c.lb_ips("argocd", "argocd-server"), ["192.168.1.204"]);
    assert!(!converged(&c));
    c.clear_hooks();
    let rerun = lbip(&c, &reg, &["apply", "-A", "--timeout", "10s"]);
    assert_eq!(rerun.code, 0, "{rerun:?}");
    assert!(rerun.stdout.contains("Plan: 2 step(s)"), "{rerun:?}");
    assert!(converged(&c));
}

#[test]
fn a_server_error_that_persists_midway_reports_what_was_applied_and_a_rerun_converges() {
    // A single 500 is retried (tests/kubectl_retry.rs); one that stays is reported.
    fails_midway_then_rerun_converges(FaultAction::Status(500), 1000);
}

#[test]
fn a_dropped_connection_midway_reports_what_was_applied_and_a_rerun_converges() {
    fails_midway_then_rerun_converges(FaultAction::Drop, 1);
}

#[test]
fn forbidden_names_the_missing_permission() {
    let c = drifted();
    let reg = example_registry();
    c.deny(Verb::List, "services", None);
    let run = lbip(&c, &reg, &["status"]);
    assert_eq!(run.code, 2, "{run:?}");
    assert!(
        run.stderr
            .contains("may not list services in all namespaces (cluster scope)"),
        "{run:?}"
    );
    assert!(
        run.stderr
            .contains("grant verb `list` on resource `services` through a ClusterRole"),
        "{run:?}"
    );
    c.clear_hooks();
    c.deny(Verb::Patch, "services", Some("mlflow"));
    let run = lbip(&c, &reg, &["apply", "-n", "mlflow", "--timeout", "5s"]);
    assert_eq!(run.code, 2, "{run:?}");
    assert!(
        run.stderr
            .contains("may not patch services mlflow in namespace mlflow"),
        "{run:?}"
    );
    assert!(
        run.stderr.contains(
            "grant verb `patch` on resource `services` through a Role in namespace mlflow"
        ),
        "{run:?}"
    );
    assert!(
        !run.stderr.contains("lbip-test-token"),
        "no token in errors"
    );
    // Waiting for MetalLB reads the Service in its namespace: a 403 there fails at once.
    c.clear_hooks();
    c.deny(Verb::List, "services", Some("mlflow"));
    let started = std::time::Instant::now();
    let run = lbip(&c, &reg, &["apply", "-n", "mlflow", "--timeout", "30s"]);
    assert!(
        started.elapsed() < std::time::Duration::from_secs(10),
        "no waiting for a permission"
    );
    assert_eq!(run.code, 2, "{run:?}");
    assert!(
        run.stderr
            .contains("may not list services mlflow in namespace mlflow"),
        "{run:?}"
    );
    assert!(
        run.stderr
            .contains("(patched, but MetalLB did not confirm)"),
        "{run:?}"
    );
}

#[test]
fn an_unreachable_server_names_server_and_context() {
    let c = drifted();
    let kubeconfig = std::fs::read_to_string(c.kubeconfig_path()).unwrap();
    let url = c.url().to_string();
    drop(c);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("kubeconfig");
    std::fs::write(&path, &kubeconfig).unwrap();
    let out = std::process::Command::new(lbip_bin())
        .args([
            "cluster",
            "status",
            "--request-timeout",
            "5s",
            "--kubeconfig",
        ])
        .arg(&path)
        .arg("-r")
        .arg(example_registry())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains(&format!("cannot reach the Kubernetes API server {url}")),
        "{stderr}"
    );
    assert!(stderr.contains("(context "), "{stderr}");
    assert!(!stderr.contains("lbip-test-token"), "{stderr}");
}

#[test]
fn an_untrusted_certificate_names_server_context_and_the_tls_fix() {
    let c = cluster();
    // The same kubeconfig without the cluster's CA: the server's certificate is unknown.
    let kubeconfig: String = std::fs::read_to_string(c.kubeconfig_path())
        .unwrap()
        .lines()
        .filter(|l| !l.contains("certificate-authority"))
        .map(|l| format!("{l}\n"))
        .collect();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("kubeconfig");
    std::fs::write(&path, kubeconfig).unwrap();
    let out = std::process::Command::new(lbip_bin())
        .args(["cluster", "status", "--kubeconfig"])
        .arg(&path)
        .arg("-r")
        .arg(example_registry())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "cannot reach the Kubernetes API server {} (context default)",
            c.url()
        )),
        "{stderr}"
    );
    assert!(stderr.contains("certificate"), "{stderr}");
    assert!(stderr.contains("certificate-authority(-data)"), "{stderr}");
    assert!(!stderr.contains("lbip-test-token"), "{stderr}");
}

#[test]
fn a_kubeconfig_that_is_not_yaml_is_reported_without_its_token() {
    // A broken kubeconfig: the YAML parser's own message quotes the lines around the
    // problem, which here hold the token. lbip must say what is wrong and leak nothing.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("kubeconfig");
    std::fs::write(
        &path,
        "apiVersion: v1\nkind: Config\nusers:\n- name: default\n  user:\n    token: s3cr3t-token-value\n    client-key-data: [unclosed\n",
    )
    .unwrap();
    let out = std::process::Command::new(lbip_bin())
        .args(["cluster", "status", "--kubeconfig"])
        .arg(&path)
        .arg("-r")
        .arg(example_registry())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("cannot load the Kubernetes configuration from"),
        "{stderr}"
    );
    assert!(!stderr.contains("s3cr3t-token-value"), "{stderr}");
    assert!(!stderr.contains("unclosed"), "{stderr}");
    assert!(!stdout.contains("s3cr3t-token-value"), "{stdout}");
}
