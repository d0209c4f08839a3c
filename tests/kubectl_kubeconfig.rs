//! `--kubeconfig`, `--context`, `--cluster`, `--user`, `-n` and `$KUBECONFIG`, resolved as
//! kubectl resolves them, against real kubeconfig files with two test servers and a dead
//! address: whenever a flag were ignored, the request would go to the wrong server (whose
//! request log then shows it) or the command would fail, so each test fails when a flag is
//! dropped.

mod kubectl_support;

use kubectl_support::*;
use lbip_testcluster::{TestCluster, Verb};
use serde_json::json;
use std::path::{Path, PathBuf};
use std::process::Command;

const TOKEN: &str = "lbip-test-token";

/// Two servers: `a` holds MLflow on a drifted IP in namespace `mlflow`, `b` holds Grafana.
struct Two {
    a: TestCluster,
    b: TestCluster,
    dir: tempfile::TempDir,
}

impl Two {
    fn new() -> Two {
        let a = cluster();
        a.create_service(svc("mlflow", "mlflow", 5000, json!({})))
            .unwrap();
        let b = cluster();
        b.create_service(svc("monitoring", "grafana", 3000, json!({})))
            .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let two = Two { a, b, dir };
        two.write("main.yaml", &two.main_kubeconfig());
        two
    }

    /// Clusters `a`, `b` and `dead`; users `alice` (the token) and `nobody` (a wrong one);
    /// contexts `ctx-a` (namespace mlflow), `ctx-b`, `ctx-dead` (the current one).
    fn main_kubeconfig(&self) -> String {
        format!(
            "apiVersion: v1
kind: Config
clusters:
- name: a
  cluster: {{server: '{}', certificate-authority-data: {}}}
- name: b
  cluster: {{server: '{}', certificate-authority-data: {}}}
- name: dead
  cluster: {{server: 'https://127.0.0.1:1'}}
users:
- name: alice
  user: {{token: {TOKEN}}}
- name: nobody
  user: {{token: not-the-token}}
contexts:
- name: ctx-a
  context: {{cluster: a, user: alice, namespace: mlflow}}
- name: ctx-b
  context: {{cluster: b, user: alice}}
- name: ctx-dead
  context: {{cluster: dead, user: alice}}
current-context: ctx-dead
",
            self.a.url(),
            self.a.ca_data(),
            self.b.url(),
            self.b.ca_data()
        )
    }

    fn write(&self, name: &str, text: &str) -> PathBuf {
        let p = self.dir.path().join(name);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, text).unwrap();
        p
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn clear_logs(&self) {
        self.a.request_log().clear();
        self.b.request_log().clear();
    }

    /// Which server saw the LIST of Services: "a", "b", or "" for neither.
    fn listed(&self) -> &'static str {
        let a = self.a.request_log().count(Verb::List, "services") > 0;
        let b = self.b.request_log().count(Verb::List, "services") > 0;
        match (a, b) {
            (true, false) => "a",
            (false, true) => "b",
            (false, false) => "",
            (true, true) => "both",
        }
    }
}

/// Runs `lbip cluster <args>` with this environment only: `KUBECONFIG` (None: unset) and
/// `HOME`, no in-cluster variables.
fn run_env(kubeconfig_env: Option<&str>, home: &Path, args: &[&str]) -> Run {
    let mut cmd = Command::new(lbip_bin());
    cmd.arg("cluster")
        .args(args)
        .arg("-r")
        .arg(example_registry())
        .args(["--request-timeout", "5s"])
        .env_remove("KUBECONFIG")
        .env_remove("KUBERNETES_SERVICE_HOST")
        .env_remove("KUBERNETES_SERVICE_PORT")
        .env("HOME", home);
    if let Some(v) = kubeconfig_env {
        cmd.env("KUBECONFIG", v);
    }
    Run::from(cmd.output().unwrap())
}

fn kubectl_run(kubeconfig_env: &str, args: &[&str]) -> Run {
    let out = Command::new(kubectl())
        .args(args)
        .args(["--request-timeout", "5s"])
        .env("KUBECONFIG", kubeconfig_env)
        .output()
        .unwrap();
    Run::from(out)
}

#[test]
fn cluster_and_user_flags_take_effect_with_kubeconfig_from_the_environment() {
    let two = Two::new();
    let env = two.path("main.yaml").display().to_string();
    let home = two.dir.path();
    // The current context points at a dead address; --cluster b must go to b.
    let r = run_env(Some(&env), home, &["status", "--cluster", "b"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(two.listed(), "b", "{r:?}");
    assert!(r.stdout.contains("grafana"), "{r:?}");
    two.clear_logs();
    // --user nobody replaces the context's user: b refuses the wrong token.
    let r = run_env(
        Some(&env),
        home,
        &["status", "--cluster", "b", "--user", "nobody"],
    );
    assert_eq!(r.code, 2, "{r:?}");
    assert!(
        r.stderr.contains("Unauthorized") || r.stderr.contains("401"),
        "{r:?}"
    );
    assert!(
        !r.stderr.contains("not-the-token") && !r.stderr.contains(TOKEN),
        "{r:?}"
    );
    two.clear_logs();
    // --context with --cluster: the context's user, the flag's cluster.
    let r = run_env(
        Some(&env),
        home,
        &["status", "--context", "ctx-dead", "--cluster", "a"],
    );
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(two.listed(), "a");
    // Without flags, the current context (dead) is used: no server sees anything.
    two.clear_logs();
    let r = run_env(Some(&env), home, &["status"]);
    assert_eq!(r.code, 2, "{r:?}");
    assert_eq!(two.listed(), "");
    assert!(
        r.stderr.contains("https://127.0.0.1:1 (context ctx-dead)"),
        "{r:?}"
    );
    assert!(
        r.stderr
            .contains("`kubectl --context ctx-dead get --raw /version`"),
        "{r:?}"
    );
}

#[test]
fn every_flag_combination_reaches_the_server_it_names() {
    let two = Two::new();
    let kc = two.path("main.yaml");
    let kc = kc.to_str().unwrap();
    let home = two.dir.path();
    let cases: &[(&[&str], &str)] = &[
        (&["--kubeconfig", kc, "--context", "ctx-a"], "a"),
        (&["--kubeconfig", kc, "--context", "ctx-b"], "b"),
        (&["--kubeconfig", kc, "--cluster", "a"], "a"),
        (
            &["--kubeconfig", kc, "--cluster", "b", "--user", "alice"],
            "b",
        ),
        (
            &["--kubeconfig", kc, "--context", "ctx-a", "--cluster", "b"],
            "b",
        ),
        (
            &[
                "--kubeconfig",
                kc,
                "--context",
                "ctx-b",
                "--cluster",
                "a",
                "--user",
                "alice",
            ],
            "a",
        ),
    ];
    for (flags, server) in cases {
        two.clear_logs();
        let mut args = vec!["status"];
        args.extend_from_slice(flags);
        // $KUBECONFIG names another file: --kubeconfig wins over it.
        let r = run_env(Some("/nonexistent/kubeconfig"), home, &args);
        assert_eq!(r.code, 0, "{flags:?}: {r:?}");
        assert_eq!(two.listed(), *server, "{flags:?}: {r:?}");
    }
}

#[test]
fn a_name_that_does_not_exist_is_an_error_naming_it_like_kubectl() {
    let two = Two::new();
    let env = two.path("main.yaml").display().to_string();
    let home = two.dir.path();
    for (flag, want) in [
        (
            "--cluster",
            "cluster \"nope\" (--cluster) does not exist in $KUBECONFIG (",
        ),
        (
            "--user",
            "user \"nope\" (--user) does not exist in $KUBECONFIG (",
        ),
        (
            "--context",
            "context \"nope\" (--context) does not exist in $KUBECONFIG (",
        ),
    ] {
        two.clear_logs();
        let r = run_env(Some(&env), home, &["status", flag, "nope"]);
        assert_eq!(r.code, 2, "{flag}: {r:?}");
        assert!(r.stderr.contains(want), "{flag}: {r:?}");
        assert_eq!(two.listed(), "", "{flag}: nothing may be sent");
        // Real kubectl refuses the same flags and names the same entry.
        let k = kubectl_run(&env, &[flag, "nope", "get", "svc"]);
        assert_ne!(k.code, 0, "kubectl {flag} nope: {k:?}");
        assert!(k.stderr.contains("nope"), "kubectl {flag} nope: {k:?}");
    }
    let r = run_env(Some(&env), home, &["status", "--cluster", "nope"]);
    assert!(r.stderr.contains("clusters there: a, b, dead"), "{r:?}");
}

#[test]
fn kubeconfig_lists_merge_first_file_wins_and_missing_files_are_skipped() {
    let two = Two::new();
    let home = two.dir.path();
    // A second file defines cluster `a` again (pointing at b) and a context of its own.
    two.write(
        "other.yaml",
        &format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: a\n  cluster: {{server: '{}', certificate-authority-data: {}}}\ncontexts:\n- name: ctx-other\n  context: {{cluster: a, user: alice}}\ncurrent-context: ctx-other\n",
            two.b.url(),
            two.b.ca_data()
        ),
    );
    let list = |names: &[&str]| {
        std::env::join_paths(names.iter().map(|n| two.path(n)))
            .unwrap()
            .into_string()
            .unwrap()
    };
    // main first: its `a` and its current-context (dead) win; ctx-other comes from other.yaml
    // but uses main's cluster `a`.
    let env = list(&["missing.yaml", "main.yaml", "other.yaml"]);
    let r = run_env(Some(&env), home, &["status", "--context", "ctx-other"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(two.listed(), "a");
    two.clear_logs();
    let r = run_env(Some(&env), home, &["status"]);
    assert_eq!(r.code, 2, "{r:?}");
    assert!(r.stderr.contains("(context ctx-dead)"), "{r:?}");
    // other first: its `a` (pointing at b) and its current-context win.
    two.clear_logs();
    let env = list(&["other.yaml", "main.yaml"]);
    let r = run_env(Some(&env), home, &["status"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(two.listed(), "b", "{r:?}");
    two.clear_logs();
    let r = run_env(Some(&env), home, &["status", "--context", "ctx-a"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(
        two.listed(),
        "b",
        "ctx-a's cluster `a` is other.yaml's: {r:?}"
    );
}

#[test]
fn home_kubeconfig_is_the_fallback_and_in_cluster_only_without_any_kubeconfig() {
    let two = Two::new();
    let home = two.path("home");
    two.write(
        "home/.kube/config",
        &two.main_kubeconfig()
            .replace("current-context: ctx-dead", "current-context: ctx-a"),
    );
    let r = run_env(None, &home, &["status"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(two.listed(), "a");
    // An empty $KUBECONFIG is unset.
    two.clear_logs();
    let r = run_env(Some(""), &home, &["status"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(two.listed(), "a");
    // No kubeconfig anywhere: in-cluster is tried, and said.
    let empty = two.path("empty-home");
    std::fs::create_dir_all(&empty).unwrap();
    let r = run_env(
        Some(two.path("missing.yaml").to_str().unwrap()),
        &empty,
        &["status"],
    );
    assert_eq!(r.code, 2, "{r:?}");
    assert!(r.stderr.contains("no file of $KUBECONFIG exists"), "{r:?}");
    assert!(r.stderr.contains("not running inside a cluster"), "{r:?}");
    let r = run_env(None, &empty, &["status"]);
    assert!(r.stderr.contains("/.kube/config does not exist"), "{r:?}");
    // A flag naming an entry never falls back to in-cluster.
    let r = run_env(None, &empty, &["status", "--context", "prod"]);
    assert_eq!(r.code, 2, "{r:?}");
    assert!(
        r.stderr
            .contains("--context prod names a kubeconfig entry, but there is no kubeconfig"),
        "{r:?}"
    );
    assert!(!r.stderr.contains("inside a cluster"), "{r:?}");
    // --kubeconfig naming a missing file is an error, never a fallback.
    let missing = two.path("gone.yaml");
    let r = run_env(
        None,
        &home,
        &["status", "--kubeconfig", missing.to_str().unwrap()],
    );
    assert_eq!(r.code, 2, "{r:?}");
    assert!(
        r.stderr.contains("gone.yaml (--kubeconfig) does not exist"),
        "{r:?}"
    );
}

#[test]
fn the_namespace_is_the_contexts_unless_dash_n_says_otherwise() {
    let two = Two::new();
    let kc = two.path("main.yaml");
    let kc = kc.to_str().unwrap();
    let home = two.dir.path();
    let dry = |extra: &[&str]| {
        let mut args = vec!["apply", "--dry-run", "--kubeconfig", kc];
        args.extend_from_slice(extra);
        run_env(None, home, &args)
    };
    // ctx-a's namespace is mlflow: apply plans MLflow's pin there.
    let r = dry(&["--context", "ctx-a"]);
    assert!(r.stdout.contains("pin mlflow/mlflow"), "{r:?}");
    // --cluster keeps the context's namespace.
    let r = dry(&["--context", "ctx-a", "--cluster", "a"]);
    assert!(r.stdout.contains("pin mlflow/mlflow"), "{r:?}");
    // -n replaces it.
    let r = dry(&["--context", "ctx-a", "-n", "default"]);
    assert!(
        r.stdout.contains("Nothing to do in namespace default"),
        "{r:?}"
    );
    // A context without a namespace means `default`.
    let r = dry(&["--context", "ctx-b"]);
    assert!(
        r.stdout.contains("Nothing to do in namespace default"),
        "{r:?}"
    );
}
