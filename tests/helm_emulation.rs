//! Helm itself is not installable here, so these tests do exactly what each Helm version
//! does when it runs a post-renderer (see README, "Helm post-renderer"):
//!
//! - Helm 4 (`pkg/postrenderer`, `internal/plugin/runtime_subprocess.go`): load plugin.yaml
//!   strictly, pick the platformCommand for this os/arch, split the command on spaces, expand
//!   `${VAR}`, and run `command tokens + args + --post-renderer-args` with only
//!   `HELM_PLUGIN_NAME` and `HELM_PLUGIN_DIR` set by Helm, the Helm 4 stream on stdin.
//! - Helm 3 (`pkg/postrender/exec.go`): run the binary found by path with the
//!   `--post-renderer-args` as argv, the user's environment inherited, the Helm 3 stream on
//!   stdin; stderr is only shown when the exit status is non-zero.

use serde::Deserialize;
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn read(rel: &str) -> String {
    std::fs::read_to_string(root().join(rel)).unwrap()
}

/// Helm 4's `postrenderer/v1` plugin metadata; unknown keys are errors, as in Helm 4.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct PluginV1 {
    api_version: String,
    #[serde(rename = "type")]
    kind: String,
    name: String,
    version: String,
    runtime: String,
    runtime_config: RuntimeConfig,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct RuntimeConfig {
    platform_command: Vec<PlatformCommand>,
    #[serde(default)]
    platform_hooks: Option<BTreeMap<String, Vec<PlatformCommand>>>,
}

#[derive(Debug, Deserialize, Clone)]
#[serde(deny_unknown_fields)]
struct PlatformCommand {
    #[serde(default)]
    os: String,
    #[serde(default)]
    arch: String,
    command: String,
    #[serde(default)]
    args: Vec<String>,
}

fn plugin() -> PluginV1 {
    serde_saphyr::from_str(&read("plugin.yaml")).expect("plugin.yaml is a strict Helm 4 plugin")
}

/// Go's GOOS/GOARCH for this machine, as Helm compares them.
fn go_platform() -> (&'static str, &'static str) {
    let os = match std::env::consts::OS {
        "macos" => "darwin",
        other => other,
    };
    let arch = match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    };
    (os, arch)
}

/// Helm 4's `getPlatformCommand`: exact os+arch, else os with empty arch, else an entry
/// with neither; entries whose arch alone matches are skipped.
fn select(cmds: &[PlatformCommand], os: &str, arch: &str) -> Option<PlatformCommand> {
    let eq = |a: &str, b: &str| a.eq_ignore_ascii_case(b);
    cmds.iter()
        .find(|c| eq(&c.os, os) && eq(&c.arch, arch))
        .or_else(|| cmds.iter().find(|c| eq(&c.os, os) && c.arch.is_empty()))
        .or_else(|| cmds.iter().find(|c| c.os.is_empty() && c.arch.is_empty()))
        .cloned()
}

/// `os.ExpandEnv` on `${VAR}` and `$VAR` with the given variables (others expand to "").
fn expand(s: &str, vars: &BTreeMap<&str, String>) -> String {
    let mut out = String::new();
    let mut rest = s;
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        let (name, len) = if let Some(inner) = after.strip_prefix('{') {
            let end = inner.find('}').unwrap();
            (&inner[..end], end + 2)
        } else {
            let end = after
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(after.len());
            (&after[..end], end)
        };
        out.push_str(vars.get(name).map(String::as_str).unwrap_or(""));
        rest = &after[len..];
    }
    out.push_str(rest);
    out
}

fn run(mut cmd: Command, stdin: &str) -> Output {
    cmd.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("spawn the post-renderer");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

/// An installed plugin: `$HELM_PLUGINS/lbip/{plugin.yaml,bin/<os>-<arch>/lbip}`.
struct Installed {
    _dir: tempfile::TempDir,
    plugin_dir: PathBuf,
}

fn install() -> Installed {
    let dir = tempfile::tempdir().unwrap();
    let plugin_dir = dir.path().join("plugins").join("lbip");
    let (os, arch) = go_platform();
    let bin = plugin_dir.join("bin").join(format!("{os}-{arch}"));
    std::fs::create_dir_all(&bin).unwrap();
    std::fs::copy(root().join("plugin.yaml"), plugin_dir.join("plugin.yaml")).unwrap();
    std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_lbip"), bin.join("lbip")).unwrap();
    Installed {
        _dir: dir,
        plugin_dir,
    }
}

/// Runs the post-renderer the way Helm 4 does, with `extra_env` standing for the user's
/// inherited environment (empty: nothing but what Helm 4 adds).
fn helm4(
    inst: &Installed,
    post_renderer_args: &[&str],
    extra_env: &[(&str, &Path)],
    stdin: &str,
) -> Output {
    let p = plugin();
    let (os, arch) = go_platform();
    let pc = select(&p.runtime_config.platform_command, os, arch)
        .unwrap_or_else(|| panic!("plugin.yaml has no command for {os}/{arch}"));
    let vars: BTreeMap<&str, String> = [
        ("HELM_PLUGIN_NAME", p.name.clone()),
        ("HELM_PLUGIN_DIR", inst.plugin_dir.display().to_string()),
    ]
    .into();
    let mut tokens: Vec<String> = pc.command.split(' ').map(|t| expand(t, &vars)).collect();
    tokens.retain(|t| !t.is_empty());
    let mut cmd = Command::new(&tokens[0]);
    cmd.args(&tokens[1..])
        .args(&pc.args)
        .args(post_renderer_args)
        .env_clear()
        .env("HELM_PLUGIN_NAME", &p.name)
        .env("HELM_PLUGIN_DIR", &inst.plugin_dir)
        .current_dir(inst._dir.path());
    for (k, v) in extra_env {
        cmd.env(k, v);
    }
    run(cmd, stdin)
}

fn registry_arg() -> String {
    root().join("examples/registry.yaml").display().to_string()
}

#[test]
fn plugin_yaml_is_a_strict_helm4_postrenderer() {
    let p = plugin();
    assert_eq!(p.api_version, "v1");
    assert_eq!(p.kind, "postrenderer/v1");
    assert_eq!(p.runtime, "subprocess");
    assert_eq!(p.name, "lbip");
    assert!(
        p.name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    );
    assert!(!p.version.starts_with('v'));
    let parts: Vec<&str> = p.version.split('.').collect();
    assert_eq!(parts.len(), 3);
    assert!(
        parts.iter().all(|n| n.parse::<u64>().is_ok()),
        "semver: {}",
        p.version
    );
    assert_eq!(
        p.version,
        env!("CARGO_PKG_VERSION"),
        "plugin.yaml and Cargo.toml agree"
    );
    assert!(
        p.runtime_config.platform_hooks.is_none(),
        "no install hook, no network"
    );
    for (os, arch) in [
        ("linux", "amd64"),
        ("linux", "arm64"),
        ("darwin", "amd64"),
        ("darwin", "arm64"),
    ] {
        let pc = select(&p.runtime_config.platform_command, os, arch).unwrap();
        assert_eq!(
            pc.command,
            format!("${{HELM_PLUGIN_DIR}}/bin/{os}-{arch}/lbip")
        );
        assert_eq!(pc.args, ["post-render"]);
    }
    // Legacy keys Helm 4 rejects in a v1 file would fail the strict parse above.
    let legacy = format!("{}usage: x\n", read("plugin.yaml"));
    assert!(serde_saphyr::from_str::<PluginV1>(&legacy).is_err());
}

#[test]
fn helm4_runs_the_plugin_with_only_its_two_variables() {
    let inst = install();
    let input = read("examples/charts/mlflow.helm4.yaml");
    let reg = registry_arg();
    let out = helm4(&inst, &["-r", &reg, "--namespace=mlflow"], &[], &input);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let expected = read("tests/golden/post-render/mlflow.helm4.out.yaml");
    assert_eq!(String::from_utf8(out.stdout).unwrap(), expected);
}

#[test]
fn helm4_failures_print_nothing_and_reach_the_user_through_the_log() {
    let inst = install();
    let home = tempfile::tempdir().unwrap();
    let input = read("examples/charts/mlflow.helm4.yaml");
    let reg = registry_arg();
    // The release namespace was not passed: the mlflow Service cannot be pinned safely.
    let out = helm4(&inst, &["-r", &reg], &[("HOME", home.path())], &input);
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty(), "nothing on stdout when failing");
    let log = home.path().join(".local/state/lbip/post-render.log");
    let text = std::fs::read_to_string(&log).expect("the log Helm 4 users can read");
    assert!(text.contains("(helm plugin lbip)"), "{text}");
    assert!(
        text.contains("Service mlflow (mlflow/templates/service.yaml) has no metadata.namespace"),
        "{text}"
    );
    assert!(
        text.contains("--post-renderer-args --namespace=<ns>"),
        "{text}"
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!("(also logged to {})", log.display())),
        "{stderr}"
    );
}

/// Helm 3: `--post-renderer /path/to/lbip --post-renderer-args post-render ...`.
fn helm3(args: &[&str], env: &[(&str, &str)], stdin: &str) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_lbip"));
    cmd.args(args)
        .env_remove("HELM_NAMESPACE")
        .env_remove("HELM_PLUGIN_NAME");
    for (k, v) in env {
        cmd.env(k, v);
    }
    run(cmd, stdin)
}

#[test]
fn helm3_runs_the_binary_with_post_renderer_args() {
    let input = read("examples/charts/mlflow.helm3.yaml");
    let reg = registry_arg();
    let expected = read("tests/golden/post-render/mlflow.helm3.out.yaml");
    let out = helm3(
        &["post-render", "-r", &reg, "--namespace", "mlflow"],
        &[],
        &input,
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8(out.stdout).unwrap(), expected);
    // Warnings go to stderr, which Helm 3 discards on success.
    assert!(String::from_utf8_lossy(&out.stderr).contains("no MetalLB release reads this key"));
    // An exported HELM_NAMESPACE stands in for --namespace.
    let out = helm3(
        &["post-render", "-r", &reg],
        &[("HELM_NAMESPACE", "mlflow")],
        &input,
    );
    assert_eq!(String::from_utf8(out.stdout).unwrap(), expected);
    // The registry can come from $LBIP_REGISTRY too.
    let out = helm3(
        &["post-render", "--namespace=mlflow"],
        &[("LBIP_REGISTRY", &reg)],
        &input,
    );
    assert_eq!(String::from_utf8(out.stdout).unwrap(), expected);
}

#[test]
fn helm3_failure_is_a_non_zero_exit_with_the_reason_on_stderr() {
    let input = read("examples/charts/seldon-core-v2.helm3.yaml").replace(
        "name: seldon-mesh\n  namespace",
        "name: seldon-mesh-2\n  namespace",
    );
    let reg = registry_arg();
    let out = helm3(&["post-render", "-r", &reg], &[], &input);
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("Service seldon-system/seldon-mesh-2 (seldon-core-v2-setup/templates/seldon-v2-components.yaml) is a LoadBalancer with no registry entry"), "{err}");
    assert!(err.contains("free address 192.168.1.203"), "{err}");
    // --unpinned warn lets it through unchanged, with the warning.
    let out = helm3(
        &["post-render", "-r", &reg, "--unpinned", "warn"],
        &[],
        &input,
    );
    assert!(out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("warning: Service seldon-system/seldon-mesh-2")
    );
}

#[test]
fn check_mode_writes_nothing_and_exits_by_whether_anything_would_change() {
    let reg = registry_arg();
    let raw = read("examples/charts/minio.helm3.yaml");
    let out = helm3(&["post-render", "-r", &reg, "--check"], &[], &raw);
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("would change: Service minio/minio (minio/templates/service.yaml): remove spec.loadBalancerIP"), "{err}");
    assert!(err.contains("would change: Service minio/minio (minio/templates/service.yaml): set annotation metallb.io/loadBalancerIPs: 192.168.1.200"), "{err}");
    let pinned = read("tests/golden/post-render/minio.helm3.out.yaml");
    let out = helm3(&["post-render", "-r", &reg, "--check"], &[], &pinned);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.stdout.is_empty());
}

#[test]
fn a_bad_registry_stops_the_render() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("lbip.yaml");
    std::fs::write(
        &bad,
        "services:\n  mlflow:\n    namespace: mlflow\n    ip: 192.168.1.300\n",
    )
    .unwrap();
    let out = helm3(
        &["post-render", "-r", bad.to_str().unwrap()],
        &[],
        "kind: ConfigMap\n",
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty());
    assert!(String::from_utf8_lossy(&out.stderr).contains("lbip.yaml:4:9"));
}
