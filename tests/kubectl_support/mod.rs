//! Helpers for the kubectl plugin tests: a test cluster, the lbip binary run as
//! `lbip cluster ...` (the same code as `kubectl lbip ...`), and Service objects shaped
//! like the ones charts render.
#![allow(dead_code)]

use lbip_testcluster::{Options, TestCluster};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::Command;

pub const REPO: &str = env!("CARGO_MANIFEST_DIR");

/// MetalLB's pool and L2Advertisement for the running example.
pub fn metallb_seed() -> String {
    std::fs::read_to_string(Path::new(REPO).join("examples/cluster/metallb.yaml")).unwrap()
}

pub fn cluster() -> TestCluster {
    TestCluster::start_blocking(Options::default().seed_yaml(&metallb_seed())).unwrap()
}

/// A LoadBalancer Service as a chart renders it.
pub fn svc(ns: &str, name: &str, port: u16, annotations: Value) -> Value {
    json!({
        "metadata": {"name": name, "namespace": ns, "labels": {"app.kubernetes.io/name": name}, "annotations": annotations},
        "spec": {"type": "LoadBalancer", "selector": {"app.kubernetes.io/name": name}, "ports": [{"name": "http", "port": port, "protocol": "TCP"}]},
    })
}

pub fn pinned(ns: &str, name: &str, port: u16, ip: &str) -> Value {
    svc(ns, name, port, json!({"metallb.io/loadBalancerIPs": ip}))
}

/// A registry file in a temporary directory.
pub struct Registry {
    _dir: tempfile::TempDir,
    pub path: PathBuf,
}

pub fn registry(text: &str) -> Registry {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("lbip.yaml");
    std::fs::write(&path, text).unwrap();
    Registry { _dir: dir, path }
}

pub fn example_registry() -> PathBuf {
    Path::new(REPO).join("examples/registry.yaml")
}

pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl From<std::process::Output> for Run {
    fn from(out: std::process::Output) -> Run {
        Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }
}

impl std::fmt::Debug for Run {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "exit {}\n--- stdout\n{}--- stderr\n{}",
            self.code, self.stdout, self.stderr
        )
    }
}

/// The lbip binary under test. `$LBIP_TEST_BIN` overrides Cargo's path, for worktrees
/// that share a target directory (where another checkout's build can replace the binary).
pub fn lbip_bin() -> PathBuf {
    std::env::var_os("LBIP_TEST_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_lbip")))
}

/// Runs `lbip cluster <args> --kubeconfig <cluster's> -r <registry>`.
pub fn lbip(c: &TestCluster, registry: &Path, args: &[&str]) -> Run {
    let out = Command::new(lbip_bin())
        .arg("cluster")
        .args(args)
        .arg("--kubeconfig")
        .arg(c.kubeconfig_path())
        .arg("-r")
        .arg(registry)
        .env_remove("KUBECONFIG")
        .output()
        .unwrap();
    Run::from(out)
}

/// kubectl for the dispatch tests: $LBIP_TEST_KUBECTL, the repo's .venv, or PATH.
/// Panics (never skips) when none is found.
pub fn kubectl() -> PathBuf {
    if let Ok(p) = std::env::var("LBIP_TEST_KUBECTL") {
        return PathBuf::from(p);
    }
    let candidate = Path::new(REPO).join(".venv/bin/kubectl");
    if candidate.exists() {
        return candidate;
    }
    if let Some(paths) = std::env::var_os("PATH") {
        for dir in std::env::split_paths(&paths) {
            let p = dir.join("kubectl");
            if p.exists() {
                return p;
            }
        }
    }
    panic!(
        "kubectl not found: set LBIP_TEST_KUBECTL, or run scripts/test-all.sh (it installs kubectl into .venv)"
    );
}
