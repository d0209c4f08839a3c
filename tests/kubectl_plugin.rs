//! Through real kubectl: plugin dispatch (`kubectl lbip ...` runs `kubectl-lbip` from
//! PATH with the arguments untouched) and completion (`kubectl_complete-lbip`).

mod kubectl_support;

use kubectl_support::*;
use serde_json::json;
use std::path::Path;
use std::process::Command;

/// A PATH holding only `kubectl-lbip` and `kubectl_complete-lbip` symlinks to the binary.
fn plugin_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for name in ["kubectl-lbip", "kubectl_complete-lbip"] {
        std::os::unix::fs::symlink(lbip_bin(), dir.path().join(name)).unwrap();
    }
    dir
}

fn kubectl_run(plugins: &Path, kubeconfig: &Path, args: &[&str]) -> Run {
    let out = Command::new(kubectl())
        .args(args)
        .env("PATH", plugins)
        .env("KUBECONFIG", kubeconfig)
        .output()
        .unwrap();
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

#[test]
fn kubectl_lbip_status_and_check_run_through_plugin_dispatch() {
    let c = cluster();
    c.create_service(svc("seldon-system", "seldon-scheduler", 9002, json!({})))
        .unwrap();
    c.create_service(svc("mlflow", "mlflow", 5000, json!({})))
        .unwrap();
    let plugins = plugin_dir();
    let reg = example_registry();
    let reg = reg.to_str().unwrap();
    let status = kubectl_run(
        plugins.path(),
        c.kubeconfig_path(),
        &["lbip", "status", "-r", reg],
    );
    assert_eq!(status.code, 0, "{status:?}");
    let header: Vec<&str> = status
        .stdout
        .lines()
        .next()
        .unwrap()
        .split_whitespace()
        .collect();
    assert_eq!(
        header,
        [
            "NAMESPACE",
            "NAME",
            "REGISTRY",
            "REQUESTED",
            "ASSIGNED",
            "PORTS",
            "STATE"
        ]
    );
    let row = status
        .stdout
        .lines()
        .find(|l| l.starts_with("seldon-system ") && l.contains("seldon-scheduler"))
        .unwrap();
    assert_eq!(
        row.split_whitespace().collect::<Vec<_>>(),
        [
            "seldon-system",
            "seldon-scheduler",
            "192.168.1.201",
            "-",
            "192.168.1.200",
            "9002/TCP",
            "stolen,drift"
        ]
    );
    // The exit code passes through kubectl.
    let check = kubectl_run(
        plugins.path(),
        c.kubeconfig_path(),
        &["lbip", "check", "-n", "mlflow", "-r", reg, "-o", "json"],
    );
    assert_eq!(check.code, 1, "{check:?}");
    let result: serde_json::Value = serde_json::from_str(&check.stdout).unwrap();
    assert_eq!(result["ok"], false);
    assert_eq!(result["problems"][0]["name"], "mlflow");
    // Errors go to stderr with exit 2.
    let bad = kubectl_run(
        plugins.path(),
        c.kubeconfig_path(),
        &["lbip", "status", "--context", "nope", "-r", reg],
    );
    assert_eq!(bad.code, 2, "{bad:?}");
    assert!(bad.stderr.contains("nope"), "{bad:?}");
    assert!(bad.stdout.is_empty());
}

#[test]
fn kubectl_completes_subcommands_and_flags_through_the_helper() {
    let plugins = plugin_dir();
    let none = Path::new("/nonexistent");
    let subs = kubectl_run(plugins.path(), none, &["__complete", "lbip", ""]);
    assert_eq!(subs.code, 0, "{subs:?}");
    let lines: Vec<&str> = subs.stdout.lines().collect();
    for sub in [
        "apply", "check", "doctor", "import", "reassign", "status", "who-has",
    ] {
        assert!(lines.contains(&sub), "{sub} missing: {subs:?}");
    }
    assert_eq!(lines.last(), Some(&":4"), "{subs:?}");
    let flags = kubectl_run(
        plugins.path(),
        none,
        &["__complete", "lbip", "apply", "--d"],
    );
    assert!(flags.stdout.lines().any(|l| l == "--dry-run"), "{flags:?}");
    let outputs = kubectl_run(
        plugins.path(),
        none,
        &["__complete", "lbip", "status", "-o", ""],
    );
    assert!(
        outputs.stdout.starts_with("table\nwide\njson\nyaml\n")
            || outputs.stdout.lines().any(|l| l == "wide"),
        "{outputs:?}"
    );
}
