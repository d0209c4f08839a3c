//! What real Helm cannot show on this machine: Helm 4 loads plugin.yaml only for the
//! platform it runs on, so the command every other platform of the release would run is
//! checked here, by Helm 4's own rules (`internal/plugin/subprocess_commands.go`: exact
//! os+arch, else os with an empty arch, else an entry with neither; `${VAR}` expanded). Real
//! Helm 3 and Helm 4 run the plugin and the binary in tests/helm_charts.rs and
//! tests/helm_cluster.rs.

use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::PathBuf;

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
        // One token (Helm splits on spaces, no shell), expanded to where
        // scripts/package-helm-plugin.sh puts that platform's binary.
        let vars = BTreeMap::from([("HELM_PLUGIN_DIR", "/plugins/lbip".to_string())]);
        assert!(!pc.command.contains(' '), "{}", pc.command);
        assert_eq!(
            expand(&pc.command, &vars),
            format!("/plugins/lbip/bin/{os}-{arch}/lbip")
        );
        assert_eq!(pc.args, ["post-render"]);
    }
    // Windows is not built, so it must not match anything either.
    assert!(select(&p.runtime_config.platform_command, "windows", "amd64").is_none());
    // Legacy keys Helm 4 rejects in a v1 file would fail the strict parse above.
    let legacy = format!("{}usage: x\n", read("plugin.yaml"));
    assert!(serde_saphyr::from_str::<PluginV1>(&legacy).is_err());
}
