//! Hints that name a command which does the job: reading commands look at every namespace
//! while `apply` acts in the context's namespace, so the hint says `-A` (or `-n NS`) when the
//! drift is elsewhere, and an `apply` that finds nothing in its namespace says where the
//! drift is instead of claiming that everything matches.

mod kubectl_support;

use kubectl_support::*;
use serde_json::json;

/// MLflow and Grafana off their registry IPs, in their own namespaces (not `default`, the
/// test kubeconfig's namespace).
fn drift_outside_default() -> lbip_testcluster::TestCluster {
    let c = cluster();
    c.create_service(svc("mlflow", "mlflow", 5000, json!({})))
        .unwrap();
    c.create_service(svc("monitoring", "grafana", 3000, json!({})))
        .unwrap();
    c
}

#[test]
fn check_and_status_say_apply_dash_a_when_the_drift_is_in_other_namespaces() {
    let c = drift_outside_default();
    let reg = example_registry();
    let check = lbip(&c, &reg, &["check"]);
    assert_eq!(check.code, 1, "{check:?}");
    assert!(
        check
            .stderr
            .contains("are not ok; `kubectl lbip apply -A --dry-run` shows the fix"),
        "{check:?}"
    );
    let status = lbip(&c, &reg, &["status"]);
    assert_eq!(status.code, 0, "{status:?}");
    assert!(
        status
            .stderr
            .contains("are not ok; `kubectl lbip apply -A --dry-run` shows the fix"),
        "{status:?}"
    );
    let json = lbip(&c, &reg, &["check", "-o", "json"]);
    let v: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(v["fix"], "`kubectl lbip apply -A --dry-run` shows the fix");
    // The hint is true: the command it names plans the fix.
    let dry = lbip(&c, &reg, &["apply", "-A", "--dry-run"]);
    assert!(dry.stdout.contains("pin mlflow/mlflow"), "{dry:?}");
}

#[test]
fn with_dash_n_the_hint_keeps_the_namespace_and_in_the_context_namespace_it_needs_none() {
    let c = drift_outside_default();
    let reg = example_registry();
    let check = lbip(&c, &reg, &["check", "-n", "mlflow"]);
    assert_eq!(check.code, 1, "{check:?}");
    assert!(
        check
            .stderr
            .contains("`kubectl lbip apply -n mlflow --dry-run` shows the fix"),
        "{check:?}"
    );
    // A context whose namespace is where the drift is: plain `apply` is the fix.
    let kc = std::fs::read_to_string(c.kubeconfig_path()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let in_mlflow = dir.path().join("kubeconfig");
    let kc = kc.replacen(
        "    cluster: default\n",
        "    cluster: default\n    namespace: mlflow\n",
        1,
    );
    assert!(kc.contains("namespace: mlflow"), "{kc}");
    std::fs::write(&in_mlflow, kc).unwrap();
    let only_mlflow = registry(
        "pools:\n  - name: homelab\n    addresses: [192.168.1.200-192.168.1.250]\nservices:\n  mlflow: {namespace: mlflow, ip: 192.168.1.215}\n",
    );
    let run = std::process::Command::new(lbip_bin())
        .args(["cluster", "check", "--kubeconfig"])
        .arg(&in_mlflow)
        .arg("-r")
        .arg(&only_mlflow.path)
        .env_remove("KUBECONFIG")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(
        stderr.contains("not ok; `kubectl lbip apply --dry-run` shows the fix"),
        "{stderr}"
    );
}

#[test]
fn apply_in_a_namespace_without_drift_says_where_the_drift_is() {
    let c = drift_outside_default();
    let reg = example_registry();
    let apply = lbip(&c, &reg, &["apply"]);
    assert_eq!(apply.code, 0, "{apply:?}");
    assert!(
        apply.stdout.contains(
            "Nothing to do in namespace default: every Service there matches the registry.\n\
             2 Service(s) in other namespaces differ from the registry (mlflow/mlflow, monitoring/grafana): add -A"
        ),
        "{apply:?}"
    );
    assert!(
        !apply.stdout.contains("every Service in scope"),
        "{apply:?}"
    );
    assert!(c.request_log().mutating().is_empty());
    let json = lbip(&c, &reg, &["apply", "-o", "json"]);
    let v: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(
        v["elsewhere"],
        json!(["mlflow/mlflow", "monitoring/grafana"])
    );
    // Acting in one namespace notes the other one, and acts only where told.
    let apply = lbip(&c, &reg, &["apply", "-n", "mlflow", "--timeout", "10s"]);
    assert_eq!(apply.code, 0, "{apply:?}");
    assert!(
        apply.stdout.contains(
            "note: 1 Service(s) in other namespaces also differ from the registry (monitoring/grafana): add -A"
        ),
        "{apply:?}"
    );
    assert_eq!(c.lb_ips("mlflow", "mlflow"), ["192.168.1.215"]);
    assert_ne!(c.lb_ips("monitoring", "grafana"), ["192.168.1.207"]);
    // Once everything matches, nothing is said about other namespaces.
    let all = lbip(&c, &reg, &["apply", "-A", "--timeout", "10s"]);
    assert_eq!(all.code, 0, "{all:?}");
    let again = lbip(&c, &reg, &["apply"]);
    assert!(!again.stdout.contains("other namespaces"), "{again:?}");
}
