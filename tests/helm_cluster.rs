//! Real Helm 3 and Helm 4 against the test server (tests/testcluster), with its MetalLB
//! simulator: `helm install`/`upgrade --dry-run` with lbip, README's `helm install` lines run
//! as written, and the running example's failure story end to end (Seldon takes MLflow's
//! address; `kubectl lbip apply` puts it back; with the post-renderer every install and
//! upgrade pins on the first try, under both Helm versions).

mod helm_support;
mod tools;

use helm_support::*;
use lbip_testcluster::{Options, TestCluster};
use std::path::Path;
use std::process::Command;

fn metallb_seed() -> String {
    std::fs::read_to_string(Path::new(REPO).join("examples/cluster/metallb.yaml")).unwrap()
}

/// MetalLB with the running example's pool, and MinIO (not a Helm release here) holding
/// .200 with a pin.
fn cluster() -> TestCluster {
    let minio = "---\napiVersion: v1\nkind: Service\nmetadata:\n  name: minio\n  namespace: minio\n  \
                 annotations: {metallb.io/loadBalancerIPs: 192.168.1.200}\nspec:\n  type: LoadBalancer\n  \
                 ports: [{port: 9000}]\nstatus:\n  loadBalancer:\n    ingress: [{ip: 192.168.1.200}]\n";
    TestCluster::start_blocking(
        Options::default()
            .seed_yaml(&metallb_seed())
            .seed_yaml(minio),
    )
    .unwrap()
}

/// A directory for PATH holding `lbip` (Helm 3's `--post-renderer lbip`) and `kubectl-lbip`.
fn bin_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for name in ["lbip", "kubectl-lbip"] {
        std::os::unix::fs::symlink(tools::lbip(), dir.path().join(name)).unwrap();
    }
    dir
}

fn with_path(cmd: &mut Command, dir: &Path) {
    let mut path = vec![dir.to_path_buf()];
    path.extend(std::env::split_paths(
        &std::env::var_os("PATH").unwrap_or_default(),
    ));
    cmd.env("PATH", std::env::join_paths(path).unwrap());
}

/// `kubectl lbip <args>` through real kubectl's plugin dispatch.
fn kubectl_lbip(c: &TestCluster, bins: &Path, args: &[&str]) -> Run {
    let mut cmd = Command::new(tools::kubectl());
    cmd.arg("lbip")
        .args(args)
        .env("KUBECONFIG", c.kubeconfig_path())
        .env_remove("LBIP_REGISTRY");
    with_path(&mut cmd, bins);
    run(&mut cmd, None)
}

/// Runs `helm <args>` with `bins` on PATH.
fn helm_run(helm: &Helm, bins: &Path, args: &[&str]) -> Run {
    let mut cmd = helm.command();
    cmd.args(args);
    with_path(&mut cmd, bins);
    run(&mut cmd, None)
}

/// `helm install|upgrade <release> <chart> -n <ns>` plus lbip as each version runs it.
fn with_lbip(major: Major, verb: &str, chart: &Chart, registry: &str) -> Vec<String> {
    let mut args: Vec<String> = vec![verb.to_string()];
    args.extend(chart.args());
    if verb == "install" {
        args.push("--create-namespace".into());
    }
    let reg = format!("--registry={registry}");
    let tail: Vec<&str> = match major {
        Major::Three => vec![
            "--post-renderer",
            "lbip",
            "--post-renderer-args",
            "post-render",
            "--post-renderer-args",
            &reg,
        ],
        Major::Four => vec!["--post-renderer", "lbip", "--post-renderer-args", &reg],
    };
    args.extend(tail.iter().map(|s| s.to_string()));
    args
}

fn strs(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

fn ip(c: &TestCluster, ns: &str, name: &str) -> String {
    c.lb_ips(ns, name).join(",")
}

/// MetalLB's events about a Service after the first `skip` of them.
fn events_since(c: &TestCluster, ns: &str, name: &str, skip: usize) -> Vec<(String, String)> {
    c.event_reasons(ns, name).into_iter().skip(skip).collect()
}

const SELDON: &Chart = &CHARTS[2];
const MLFLOW: &Chart = &CHARTS[0];

fn story_registry() -> String {
    Path::new(REPO)
        .join("tests/fixtures/story-registry.yaml")
        .display()
        .to_string()
}

/// `kubectl lbip check` (in one namespace, or all) exits 0: every Service is where the
/// registry says.
fn assert_checked(c: &TestCluster, bins: &Path, namespace: Option<&str>, step: &str) {
    let reg = story_registry();
    let mut args = vec!["check", "-r", &reg];
    if let Some(ns) = namespace {
        args.extend(["-n", ns]);
    }
    let out = kubectl_lbip(c, bins, &args);
    assert_eq!(out.code, 0, "after {step}: {out:?}");
}

/// Installs (fresh) or upgrades both releases with lbip and checks that each Service got its
/// registry address on the first try: exactly one new MetalLB event, `IPAllocated` with it,
/// for a fresh install; none for an upgrade of a pinned Service.
fn deploy_pinned(c: &TestCluster, helm: &Helm, bins: &Path, verb: &str) {
    let reg = story_registry();
    let expected = [
        (SELDON, "seldon-system", "seldon-scheduler", "192.168.1.202"),
        (SELDON, "seldon-system", "seldon-mesh", "192.168.1.203"),
        (MLFLOW, "mlflow", "mlflow", "192.168.1.201"),
    ];
    let before: Vec<usize> = expected
        .iter()
        .map(|(_, ns, name, _)| c.event_reasons(ns, name).len())
        .collect();
    // Seldon first: the order that let it take MLflow's address.
    for chart in [SELDON, MLFLOW] {
        let args = with_lbip(helm.major, verb, chart, &reg);
        let out = helm_run(helm, bins, &strs(&args));
        assert_eq!(
            out.code,
            0,
            "{} {verb} {}: {out:?}",
            helm.major.label(),
            chart.release
        );
        let step = format!("{} {verb} {}", helm.major.label(), chart.release);
        assert_checked(c, bins, Some(chart.namespace), &step);
    }
    assert_checked(c, bins, None, &format!("{} {verb}", helm.major.label()));
    for ((_, ns, name, want), skip) in expected.iter().zip(before) {
        assert_eq!(ip(c, ns, name), *want, "{ns}/{name}");
        let events = events_since(c, ns, name, skip);
        if verb == "install" {
            assert_eq!(
                events,
                [(
                    "IPAllocated".to_string(),
                    format!("Assigned IP [\"{want}\"]")
                )],
                "{} {verb}: {ns}/{name} must get its address on the first try",
                helm.major.label()
            );
        } else {
            assert!(events.is_empty(), "{verb} moved {ns}/{name}: {events:?}");
        }
    }
    // The chart's blog-post annotation is gone from the live object too.
    let svc = c.get_service("mlflow", "mlflow").unwrap();
    let annotations = &svc["metadata"]["annotations"];
    assert!(
        annotations
            .get("metallb.universe.tf/loadBalancer-ips")
            .is_none(),
        "{annotations}"
    );
    assert_eq!(annotations["metallb.io/loadBalancerIPs"], "192.168.1.201");
}

fn uninstall_both(helm: &Helm, bins: &Path) {
    for chart in [SELDON, MLFLOW] {
        helm_run(
            helm,
            bins,
            &["uninstall", chart.release, "-n", chart.namespace],
        )
        .ok();
    }
}

#[test]
fn the_running_example_end_to_end_with_real_helm_3_and_4() {
    let c = cluster();
    let bins = bin_dir();
    let bins = bins.path();
    let helm3 = Helm::new(Major::Three).with_kubeconfig(c.kubeconfig_path());
    let helm4 = Helm::new(Major::Four).with_kubeconfig(c.kubeconfig_path());
    helm4.install_lbip_plugin();
    let reg = story_registry();

    // 1. The failure: Seldon is installed first, without lbip. Its LoadBalancer Services
    //    request no address and take the first free ones, MLflow's .201 among them (which
    //    Service gets which is up to Helm, which creates one kind's objects concurrently).
    //    MLflow comes next; MetalLB ignores its blog-post annotation (`.201` under a key no
    //    MetalLB release reads), so it falls back to the next free address, .203.
    for chart in [SELDON, MLFLOW] {
        let mut args = vec!["install".to_string()];
        args.extend(chart.args());
        args.push("--create-namespace".into());
        helm_run(&helm3, bins, &strs(&args)).ok();
    }
    let mut seldon = [
        ip(&c, "seldon-system", "seldon-scheduler"),
        ip(&c, "seldon-system", "seldon-mesh"),
    ];
    seldon.sort();
    assert_eq!(
        seldon,
        ["192.168.1.201", "192.168.1.202"],
        "Seldon took MLflow's .201"
    );
    assert_eq!(ip(&c, "mlflow", "mlflow"), "192.168.1.203");
    let check = kubectl_lbip(&c, bins, &["check", "-r", &reg]);
    assert_eq!(check.code, 1, "{check:?}");
    assert!(check.stdout.contains("stolen"), "{check:?}");
    assert!(
        check
            .stdout
            .contains("which the registry gives to mlflow/mlflow"),
        "{check:?}"
    );

    // 2. `kubectl lbip apply -A` puts everything back (a three-way swap: it parks one
    //    Service on a scratch address to break the cycle).
    let apply = kubectl_lbip(&c, bins, &["apply", "-A", "-r", &reg, "--timeout", "10s"]);
    assert_eq!(apply.code, 0, "{apply:?}");
    assert_checked(&c, bins, None, "kubectl lbip apply -A");
    assert_eq!(ip(&c, "mlflow", "mlflow"), "192.168.1.201");

    // 3. Helm 3 with the post-renderer: upgrading the releases keeps every pin; a fresh
    //    install in the old, dangerous order pins everything on the first try.
    deploy_pinned(&c, &helm3, bins, "upgrade");
    uninstall_both(&helm3, bins);
    assert!(c.get_service("mlflow", "mlflow").is_none());
    deploy_pinned(&c, &helm3, bins, "install");

    // 4. Helm 4 with the plugin: upgrading Helm 3's releases (client-side, as Helm 4 does for
    //    releases it did not install), then a fresh install (server-side apply) and an
    //    upgrade of that (server-side apply again).
    deploy_pinned(&c, &helm4, bins, "upgrade");
    uninstall_both(&helm4, bins);
    deploy_pinned(&c, &helm4, bins, "install");
    deploy_pinned(&c, &helm4, bins, "upgrade");
    let svc = c.get_service("mlflow", "mlflow").unwrap();
    let managers: Vec<&str> = svc["metadata"]["managedFields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["manager"].as_str().unwrap())
        .collect();
    assert!(
        managers.contains(&"helm"),
        "Helm 4 applied the Service: {managers:?}"
    );
}

#[test]
fn dry_runs_against_the_cluster_show_the_pinned_manifest_and_change_nothing() {
    let c = cluster();
    let bins = bin_dir();
    let bins = bins.path();
    let reg = Path::new(REPO)
        .join("examples/registry.yaml")
        .display()
        .to_string();
    for major in Major::BOTH {
        let helm = Helm::new(major).with_kubeconfig(c.kubeconfig_path());
        if major == Major::Four {
            helm.install_lbip_plugin();
        }
        let mut args = with_lbip(major, "install", MLFLOW, &reg);
        // Helm 4 validates on the server (dryRun=All); Helm 3's plain --dry-run is client-side
        // but still reads the cluster.
        args.push(
            if major == Major::Four {
                "--dry-run=server"
            } else {
                "--dry-run"
            }
            .into(),
        );
        let out = helm_run(&helm, bins, &strs(&args)).ok();
        assert!(
            out.stdout
                .contains("metallb.io/loadBalancerIPs: 192.168.1.215"),
            "{}: {out:?}",
            major.label()
        );
        assert!(
            c.get_service("mlflow", "mlflow").is_none(),
            "a dry run stored nothing"
        );
    }
    // An upgrade dry run of an installed release, Helm 3: the manifest Helm would apply.
    let helm3 = Helm::new(Major::Three).with_kubeconfig(c.kubeconfig_path());
    helm_run(
        &helm3,
        bins,
        &strs(&with_lbip(Major::Three, "install", MLFLOW, &reg)),
    )
    .ok();
    let writes = c.request_log().mutating().len();
    let mut args = with_lbip(Major::Three, "upgrade", MLFLOW, &reg);
    args.push("--dry-run".into());
    let out = helm_run(&helm3, bins, &strs(&args)).ok();
    assert!(out.stdout.contains("REVISION: 2"), "{out:?}");
    assert!(
        out.stdout
            .contains("metallb.io/loadBalancerIPs: 192.168.1.215"),
        "{out:?}"
    );
    assert_eq!(
        c.request_log().mutating().len(),
        writes,
        "the dry run wrote nothing"
    );
}

/// The fenced block after `<!-- test: NAME -->` in README, as command lines (continuations
/// joined, comments dropped).
fn readme_block(name: &str) -> Vec<String> {
    let readme = std::fs::read_to_string(Path::new(REPO).join("README.md")).unwrap();
    let marker = format!("<!-- test: {name} -->");
    let start = readme
        .find(&marker)
        .unwrap_or_else(|| panic!("README has no {marker}"));
    let block = &readme[start..];
    let body = block
        .split_once("```sh\n")
        .and_then(|(_, rest)| rest.split_once("\n```"))
        .map(|(b, _)| b)
        .unwrap();
    body.replace("\\\n", " ")
        .lines()
        .map(|l| l.split(" #").next().unwrap().trim().to_string())
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .collect()
}

/// A directory to run README's lines in: `examples` is the repository's, `dist/` is empty.
fn sandbox() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink(
        Path::new(REPO).join("examples"),
        dir.path().join("examples"),
    )
    .unwrap();
    dir
}

fn run_readme_line(helm: &Helm, line: &str, cwd: &Path, bins: &Path) -> Run {
    let words = shell_words(line);
    if words[0] == "scripts/package-helm-plugin.sh" {
        // As written, with the binary under test instead of a release build.
        let small = tools::small_lbip(cwd);
        let mut cmd = Command::new(Path::new(REPO).join(&words[0]));
        cmd.args(&words[1..])
            .env("LBIP_BIN", small)
            .env("LBIP_DIST", cwd.join("dist"))
            .env("HELM", Major::Four.bin());
        with_path(&mut cmd, bins);
        return run(&mut cmd, None);
    }
    assert_eq!(words[0], "helm", "README line: {line}");
    let mut cmd = helm.command();
    cmd.args(&words[1..]).current_dir(cwd);
    with_path(&mut cmd, bins);
    run(&mut cmd, None)
}

#[test]
fn readmes_helm_install_lines_work_as_written() {
    for (major, block) in [
        (Major::Three, "helm3-install"),
        (Major::Four, "helm4-install"),
    ] {
        let c = TestCluster::start_blocking(Options::default().seed_yaml(&metallb_seed())).unwrap();
        let helm = Helm::new(major).with_kubeconfig(c.kubeconfig_path());
        let bins = bin_dir();
        let cwd = sandbox();
        let lines = readme_block(block);
        assert!(
            lines.iter().any(|l| l.starts_with("helm install")),
            "{lines:?}"
        );
        for line in &lines {
            let out = run_readme_line(&helm, line, cwd.path(), bins.path());
            assert_eq!(out.code, 0, "{}: `{line}`: {out:?}", major.label());
        }
        assert_eq!(
            c.lb_ips("mlflow", "mlflow"),
            ["192.168.1.215"],
            "{}",
            major.label()
        );
        let svc = c.get_service("mlflow", "mlflow").unwrap();
        assert_eq!(
            svc["metadata"]["annotations"]["metallb.io/loadBalancerIPs"],
            "192.168.1.215"
        );
    }
}
