//! The example charts through real Helm 3 and Helm 4, without a cluster (`helm template`):
//! the rendered streams in examples/charts are what each Helm version hands a
//! post-renderer; lbip pins them as Helm 3's exec post-renderer and as the Helm 4 plugin
//! installed from the tarball scripts/package-helm-plugin.sh builds; refusals reach the user
//! (Helm 3: its error output; Helm 4: the terminal and the log, since Helm 4 drops the
//! plugin's stderr); and lbip learns the release namespace from Helm itself.
//!
//! Goldens: examples/charts/<chart>.helm{3,4}.yaml (the streams) and
//! tests/golden/helm/<chart>.helm{3,4}.yaml (`helm template` with lbip). After an intended
//! change, `LBIP_BLESS=1 cargo test --test helm_charts` rewrites them; review the diff.

mod helm_support;
mod tools;

use helm_support::*;
use std::path::Path;
use std::process::Command;

const REGISTRY_ARG: &str = "--registry=examples/registry.yaml";

/// `helm template <chart> --post-renderer lbip ...` as README shows it for each version.
fn template_with_lbip(helm: &Helm, chart: &Chart, extra: &[&str]) -> Run {
    template_with_registry(helm, chart, REGISTRY_ARG, extra)
}

fn template_with_registry(helm: &Helm, chart: &Chart, registry: &str, extra: &[&str]) -> Run {
    let chart_args = chart.args();
    let mut args: Vec<&str> = vec!["template"];
    args.extend(chart_args.iter().map(String::as_str));
    let lbip = tools::lbip();
    match helm.major {
        Major::Three => args.extend([
            "--post-renderer",
            lbip.to_str().unwrap(),
            "--post-renderer-args",
            "post-render",
            "--post-renderer-args",
            registry,
        ]),
        Major::Four => args.extend(["--post-renderer", "lbip", "--post-renderer-args", registry]),
    }
    args.extend(extra);
    helm.run(&args)
}

fn helm4_with_plugin() -> Helm {
    let helm = Helm::new(Major::Four);
    helm.install_lbip_plugin();
    helm
}

#[test]
fn example_streams_are_what_real_helm_hands_a_post_renderer() {
    for major in Major::BOTH {
        let helm = Helm::new(major);
        for chart in &CHARTS {
            let args = chart.args();
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            let stream = helm.post_renderer_input(&args);
            golden(
                &format!("examples/charts/{}.{}.yaml", chart.dir, major.label()),
                &stream,
            );
        }
    }
}

#[test]
fn helm3_prints_exactly_what_lbip_wrote_then_the_hooks() {
    let helm = Helm::new(Major::Three);
    for chart in &CHARTS {
        let out = template_with_lbip(&helm, chart, &[]).ok();
        golden(
            &format!("tests/golden/helm/{}.helm3.yaml", chart.dir),
            &out.stdout,
        );
        // lbip on the stream file, by hand, gives the same bytes Helm 3 printed first.
        let stream = std::fs::read_to_string(
            Path::new(REPO).join(format!("examples/charts/{}.helm3.yaml", chart.dir)),
        )
        .unwrap();
        let by_hand = run(
            Command::new(tools::lbip()).current_dir(REPO).args([
                "post-render",
                REGISTRY_ARG,
                "--namespace",
                chart.namespace,
            ]),
            Some(&stream),
        )
        .ok();
        assert!(
            out.stdout.starts_with(&by_hand.stdout),
            "{}: helm 3 changed lbip's output",
            chart.dir
        );
    }
}

#[test]
fn helm4_plugin_from_the_tarball_pins_every_chart() {
    let helm = helm4_with_plugin();
    for chart in &CHARTS {
        let out = template_with_lbip(&helm, chart, &[]).ok();
        golden(
            &format!("tests/golden/helm/{}.helm4.yaml", chart.dir),
            &out.stdout,
        );
    }
}

/// The Service documents of a rendered stream, by name.
fn service<'a>(stream: &'a str, name: &str) -> &'a str {
    stream
        .split("\n---\n")
        .find(|d| {
            d.lines().any(|l| l == "kind: Service")
                && d.lines().any(|l| l == format!("  name: {name}"))
        })
        .unwrap_or_else(|| panic!("no Service {name} in\n{stream}"))
}

#[test]
fn both_versions_pin_the_registry_ips_without_being_told_the_namespace() {
    let helm3 = Helm::new(Major::Three);
    let helm4 = helm4_with_plugin();
    for helm in [&helm3, &helm4] {
        let label = helm.major.label();
        let [mlflow, minio, seldon, argo, hello] = &CHARTS;
        // (chart, Service, registry IP, what the chart set that must be gone). MLflow's chart
        // writes no metadata.namespace: lbip read `-n mlflow` from helm.
        let pinned = [
            (mlflow, "mlflow", "192.168.1.215", Some("loadBalancer-ips")),
            (minio, "minio", "192.168.1.200", Some("loadBalancerIP:")),
            (seldon, "seldon-scheduler", "192.168.1.201", None),
            (seldon, "seldon-mesh", "192.168.1.202", None),
        ];
        for (chart, name, ip, gone) in pinned {
            let out = template_with_lbip(helm, chart, &[]).ok().stdout;
            let svc = service(&out, name);
            assert!(
                svc.contains(&format!("metallb.io/loadBalancerIPs: {ip}")),
                "{label}: {svc}"
            );
            assert!(gone.is_none_or(|g| !svc.contains(g)), "{label}: {svc}");
        }
        // The NodePort-only chart stays a NodePort (no forceLoadBalancer in the registry).
        let out = template_with_lbip(helm, argo, &[]).ok().stdout;
        let svc = service(&out, "argo-workflows-server");
        assert!(
            svc.contains("type: NodePort") && !svc.contains("metallb"),
            "{label}: {svc}"
        );
        // `helm create`'s chart has no LoadBalancer: the same output as with no post-renderer
        // at all (Helm 4 re-serializes any post-renderer's output, so compare with a
        // pass-through one).
        let with_lbip = template_with_lbip(helm, hello, &[]).ok().stdout;
        let args = hello.args();
        let mut plain: Vec<&str> = vec!["template"];
        plain.extend(args.iter().map(String::as_str));
        let renderer = helm.install_capture();
        plain.extend(["--post-renderer", &renderer]);
        let mut cmd = helm.command();
        cmd.args(&plain)
            .env("LBIP_CAPTURE", helm.home().join("ignored.yaml"));
        let plain = run(&mut cmd, None).ok().stdout;
        assert_eq!(
            with_lbip, plain,
            "{label}: a chart without LoadBalancers is untouched"
        );
    }
}

#[test]
fn helm4_learns_the_namespace_from_the_kubeconfig_context_when_helm_has_no_n() {
    let helm = helm4_with_plugin();
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = dir.path().join("kubeconfig");
    std::fs::write(
        &kubeconfig,
        "apiVersion: v1\nkind: Config\nclusters: [{name: c, cluster: {server: 'https://127.0.0.1:1'}}]\n\
         users: [{name: u, user: {token: t}}]\ncontexts: [{name: ml, context: {cluster: c, user: u, namespace: mlflow}}]\n\
         current-context: ml\n",
    )
    .unwrap();
    let out = run(
        helm.command().env("KUBECONFIG", &kubeconfig).args([
            "template",
            "mlflow",
            "examples/charts/mlflow",
            "--post-renderer",
            "lbip",
            "--post-renderer-args",
            REGISTRY_ARG,
        ]),
        None,
    )
    .ok();
    assert!(service(&out.stdout, "mlflow").contains("192.168.1.215"));
}

/// `helm template hello --set service.type=LoadBalancer`: a LoadBalancer the registry does
/// not know, which lbip refuses.
fn unregistered_loadbalancer(helm: &Helm) -> Run {
    template_with_lbip(helm, &CHARTS[4], &["--set", "service.type=LoadBalancer"])
}

const REFUSAL: &str =
    "Service hello/hello (hello/templates/service.yaml) is a LoadBalancer with no registry entry";

#[test]
fn helm3_shows_the_refusal_and_renders_nothing() {
    let out = unregistered_loadbalancer(&Helm::new(Major::Three));
    assert_ne!(out.code, 0, "{out:?}");
    assert!(out.stdout.is_empty(), "{out:?}");
    assert!(
        out.stderr
            .contains("error while running post render on files"),
        "{out:?}"
    );
    assert!(out.stderr.contains(REFUSAL), "{out:?}");
    assert!(out.stderr.contains("free address 192.168.1.203"), "{out:?}");
}

#[test]
fn helm4_hides_the_plugin_output_so_lbip_says_where_the_reason_is() {
    let helm = helm4_with_plugin();
    // Without a terminal (CI), Helm 4 shows only its own line: lbip's stderr is dropped.
    let out = unregistered_loadbalancer(&helm);
    assert_ne!(out.code, 0, "{out:?}");
    assert!(out.stdout.is_empty(), "{out:?}");
    assert!(
        out.stderr.contains(
            "failed to invoke post-renderer plugin \"lbip\": plugin \"lbip\" exited with error"
        ),
        "{out:?}"
    );
    assert!(
        !out.stderr.contains(REFUSAL),
        "Helm 4 started showing plugin stderr: {out:?}"
    );
    // The full reason is in the log.
    let log = std::fs::read_to_string(helm.lbip_log()).unwrap();
    assert!(
        log.contains("(helm plugin lbip)") && log.contains(REFUSAL),
        "{log}"
    );

    // At a terminal the user sees the reason and where the log is, right above Helm's line.
    let chart = &CHARTS[4];
    let args = chart.args();
    let line = format!(
        "{} template {} --set service.type=LoadBalancer --post-renderer lbip --post-renderer-args {REGISTRY_ARG}",
        Major::Four.bin().display(),
        args.join(" ")
    );
    // util-linux `script` runs the command on a pseudo-terminal: /dev/tty is that terminal.
    let helm_cmd = helm.command();
    let mut cmd = Command::new("script");
    cmd.args(["-qec", &line, "/dev/null"]).current_dir(REPO);
    for (k, v) in helm_cmd.get_envs() {
        match v {
            Some(v) => cmd.env(k, v),
            None => cmd.env_remove(k),
        };
    }
    let cmd = cmd
        .output()
        .expect("`script` (util-linux) runs Helm on a terminal");
    let terminal = String::from_utf8_lossy(&cmd.stdout).replace("\r\n", "\n");
    assert!(
        terminal.contains("lbip post-render refused the manifests"),
        "{terminal}"
    );
    assert!(terminal.contains(REFUSAL), "{terminal}");
    assert!(
        terminal.contains(&format!("(also logged to {})", helm.lbip_log().display())),
        "{terminal}"
    );
    assert!(
        terminal.contains("plugin \"lbip\" exited with error"),
        "{terminal}"
    );
}

#[test]
fn helm3_output_dir_would_skip_lbip_so_lbip_refuses() {
    let helm = Helm::new(Major::Three);
    let out_dir = helm.home().join("out");
    let out = template_with_lbip(
        &helm,
        &CHARTS[0],
        &["--output-dir", out_dir.to_str().unwrap()],
    );
    assert_ne!(out.code, 0, "{out:?}");
    assert!(out.stderr.contains("helm#8520"), "{out:?}");
    // Helm 4 post-renders before writing the files: lbip pins them there.
    let helm = helm4_with_plugin();
    let out_dir = helm.home().join("out");
    template_with_lbip(
        &helm,
        &CHARTS[0],
        &["--output-dir", out_dir.to_str().unwrap()],
    )
    .ok();
    let written: String = walk(&out_dir)
        .iter()
        .map(|p| std::fs::read_to_string(p).unwrap())
        .collect();
    assert!(
        written.contains("metallb.io/loadBalancerIPs: 192.168.1.215"),
        "{written}"
    );
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out.sort();
    out
}

#[test]
fn a_namespace_argument_that_contradicts_helm_is_refused() {
    let out = template_with_lbip(
        &Helm::new(Major::Three),
        &CHARTS[0],
        &["--post-renderer-args", "--namespace=minio"],
    );
    assert_ne!(out.code, 0, "{out:?}");
    assert!(
        out.stderr.contains("--namespace=minio, but helm installs this release into `mlflow` (from helm's -n/--namespace)"),
        "{out:?}"
    );
}

/// Records what a post-renderer process gets (its initial environment, argv, and the
/// parent's command line) into `$PROBE_DIR`, then passes the stream through.
const PROBE: &str = "#!/bin/sh\ncat /proc/$$/environ > \"$PROBE_DIR/environ\"\n\
printf '%s\\0' \"$0\" \"$@\" > \"$PROBE_DIR/argv\"\n\
cat /proc/$PPID/cmdline > \"$PROBE_DIR/parent\"\nexec cat\n";

fn nul_list(path: &Path) -> Vec<String> {
    std::fs::read(path)
        .unwrap()
        .split(|b| *b == 0)
        .filter(|a| !a.is_empty())
        .map(|a| String::from_utf8_lossy(a).into_owned())
        .collect()
}

/// The environment a command gets: the test's own, with the command's changes.
fn effective_env(cmd: &Command) -> std::collections::BTreeMap<String, String> {
    let mut env: std::collections::BTreeMap<String, String> = std::env::vars().collect();
    for (k, v) in cmd.get_envs() {
        let k = k.to_string_lossy().into_owned();
        match v {
            Some(v) => env.insert(k, v.to_string_lossy().into_owned()),
            None => env.remove(&k),
        };
    }
    env
}

#[test]
fn what_each_helm_gives_its_post_renderer_process() {
    for major in Major::BOTH {
        let helm = Helm::new(major);
        let probe_dir = helm.home().join("probe");
        std::fs::create_dir_all(&probe_dir).unwrap();
        let (renderer, script) = match major {
            Major::Three => {
                let p = helm.home().join("probe.sh");
                (p.display().to_string(), p)
            }
            Major::Four => {
                let dir = helm.plugins_dir().join("probe");
                std::fs::create_dir_all(&dir).unwrap();
                std::fs::write(
                    dir.join("plugin.yaml"),
                    "apiVersion: v1\ntype: postrenderer/v1\nname: probe\nversion: 0.1.0\nruntime: subprocess\n\
                     runtimeConfig:\n  platformCommand:\n    - command: \"${HELM_PLUGIN_DIR}/probe.sh\"\n      args: [from-plugin-yaml]\n",
                )
                .unwrap();
                ("probe".to_string(), dir.join("probe.sh"))
            }
        };
        write_executable(&script, PROBE);
        let args = [
            "template",
            "mlflow",
            "examples/charts/mlflow",
            "-n",
            "mlflow",
            "--post-renderer",
            &renderer,
            "--post-renderer-args",
            "--from-helm-args",
        ];
        let mut cmd = helm.command();
        cmd.args(args).env("PROBE_DIR", &probe_dir);
        let expected_env = effective_env(&cmd);
        run(&mut cmd, None).ok();

        let env: std::collections::BTreeMap<String, String> = nul_list(&probe_dir.join("environ"))
            .into_iter()
            .filter_map(|kv| {
                kv.split_once('=')
                    .map(|(k, v)| (k.to_string(), v.to_string()))
            })
            .collect();
        let mut want = expected_env.clone();
        let argv = nul_list(&probe_dir.join("argv"));
        match major {
            // Helm 3: the user's environment, untouched; argv = the --post-renderer-args.
            Major::Three => assert_eq!(argv[1..], ["--from-helm-args"]),
            // Helm 4: plus exactly HELM_PLUGIN_NAME and HELM_PLUGIN_DIR; argv = plugin.yaml's
            // args, then the --post-renderer-args.
            Major::Four => {
                want.insert("HELM_PLUGIN_NAME".into(), "probe".into());
                want.insert(
                    "HELM_PLUGIN_DIR".into(),
                    helm.plugins_dir().join("probe").display().to_string(),
                );
                assert_eq!(argv[1..], ["from-plugin-yaml", "--from-helm-args"]);
            }
        }
        assert_eq!(
            env,
            want,
            "{}: the post-renderer's environment",
            major.label()
        );
        assert!(
            !env.contains_key("HELM_NAMESPACE"),
            "no namespace variable, even with -n"
        );
        // The parent is Helm itself, and its command line holds `-n mlflow`: where lbip
        // learns the release namespace.
        let parent = nul_list(&probe_dir.join("parent"));
        assert_eq!(parent[0], major.bin().display().to_string());
        assert_eq!(parent[1..], args, "{}", major.label());
    }
}

#[test]
fn helm3_passes_the_users_environment_helm_namespace_and_registry_included() {
    let helm = Helm::new(Major::Three);
    let lbip = tools::lbip();
    // No -n: Helm uses $HELM_NAMESPACE, and lbip with it; the registry comes from
    // $LBIP_REGISTRY.
    let out = run(
        helm.command()
            .env("HELM_NAMESPACE", "mlflow")
            .env("LBIP_REGISTRY", "examples/registry.yaml")
            .args([
                "template",
                "mlflow",
                "examples/charts/mlflow",
                "--post-renderer",
            ])
            .arg(&lbip)
            .args(["--post-renderer-args", "post-render"]),
        None,
    )
    .ok();
    assert!(
        service(&out.stdout, "mlflow").contains("192.168.1.215"),
        "{out:?}"
    );
}

#[test]
fn helm4_without_lbip_log_logs_under_the_users_state_directory() {
    let helm = helm4_with_plugin();
    let home = helm.home().join("user-home");
    let mut cmd = helm.command();
    cmd.env_remove("LBIP_LOG").env("HOME", &home).args([
        "template",
        "hello",
        "examples/charts/hello",
        "-n",
        "hello",
        "--set",
        "service.type=LoadBalancer",
        "--post-renderer",
        "lbip",
        "--post-renderer-args",
        REGISTRY_ARG,
    ]);
    let out = run(&mut cmd, None);
    assert_ne!(out.code, 0);
    let log = std::fs::read_to_string(home.join(".local/state/lbip/post-render.log")).unwrap();
    assert!(log.contains(REFUSAL), "{log}");
}

#[test]
fn unpinned_warn_through_helm_lets_the_service_through() {
    let helm = Helm::new(Major::Three);
    let out =
        unregistered_loadbalancer_with(&helm, &["--post-renderer-args", "--unpinned=warn"]).ok();
    let svc = service(&out.stdout, "hello");
    assert!(
        svc.contains("type: LoadBalancer") && !svc.contains("metallb"),
        "{svc}"
    );
}

fn unregistered_loadbalancer_with(helm: &Helm, extra: &[&str]) -> Run {
    let mut args = vec!["--set", "service.type=LoadBalancer"];
    args.extend(extra);
    template_with_lbip(helm, &CHARTS[4], &args)
}

#[test]
fn check_on_helm_template_output_is_the_ci_gate() {
    let helm = Helm::new(Major::Three);
    let check = |stream: &str| {
        run(
            Command::new(tools::lbip()).current_dir(REPO).args([
                "post-render",
                REGISTRY_ARG,
                "--check",
                "--namespace",
                "minio",
            ]),
            Some(stream),
        )
    };
    // The chart as it is: pinned the deprecated way, so --check lists the changes.
    let raw = helm
        .run(&["template", "minio", "examples/charts/minio", "-n", "minio"])
        .ok();
    let out = check(&raw.stdout);
    assert_eq!(out.code, 1, "{out:?}");
    assert!(out.stdout.is_empty());
    assert!(out.stderr.contains("would change: Service minio/minio (minio/templates/service.yaml): remove spec.loadBalancerIP"), "{out:?}");
    assert!(out.stderr.contains("would change: Service minio/minio (minio/templates/service.yaml): set annotation metallb.io/loadBalancerIPs: 192.168.1.200"), "{out:?}");
    // Rendered with lbip, nothing is left to change.
    let pinned = template_with_lbip(&helm, &CHARTS[1], &[]).ok();
    let out = check(&pinned.stdout);
    assert_eq!(out.code, 0, "{out:?}");
}

#[test]
fn a_bad_registry_stops_the_render_with_its_lint_errors() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("lbip.yaml");
    std::fs::write(
        &bad,
        "services:\n  mlflow:\n    namespace: mlflow\n    ip: 192.168.1.300\n",
    )
    .unwrap();
    let registry = format!("--registry={}", bad.display());
    let out = template_with_registry(&Helm::new(Major::Three), &CHARTS[0], &registry, &[]);
    assert_ne!(out.code, 0);
    assert!(out.stdout.is_empty());
    assert!(out.stderr.contains("lbip.yaml:4:9"), "{out:?}");
}
