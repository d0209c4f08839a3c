//! The release namespace, learned from the Helm process that runs lbip as its post-renderer.
//!
//! Neither Helm 3 nor Helm 4 tells a post-renderer the release namespace: no argument, no
//! variable (Helm 4 adds only `HELM_PLUGIN_NAME` and `HELM_PLUGIN_DIR` to the user's
//! environment; measured with Helm 3.17.3 and 4.3.1, see README). But Helm runs the
//! post-renderer as its own child, so on Linux `/proc/<parent>/cmdline` holds Helm's command
//! line, `-n mlflow` included, and lbip resolves the namespace the way Helm's `EnvSettings.
//! Namespace()` does (pkg/cli/environment.go; client-go's clientcmd for the kubeconfig part):
//!
//! 1. `-n/--namespace` on Helm's command line (the last one wins, as in pflag);
//! 2. else `$HELM_NAMESPACE` (Helm's post-renderers inherit the user's environment);
//! 3. else the namespace of the kubeconfig context Helm uses (`--kube-context`, else
//!    `$HELM_KUBECONTEXT`, else `current-context`; files from `--kubeconfig`, else
//!    `$KUBECONFIG`, else `~/.kube/config`), or in a pod the service account's namespace;
//! 4. else `default`.
//!
//! Nothing here guesses. Helm's flags are parsed with pflag's rules and a table of the flags
//! of `install`, `upgrade` and `template` in Helm 3.17 and 4.3; a flag lbip does not know
//! might or might not take the next word, so every reading is tried, and lbip only answers
//! when all readings agree. Anything it cannot settle (an unreadable kubeconfig, a context
//! that does not exist) is an error the caller shows instead of a namespace.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

/// Where the namespace came from, for messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// `-n/--namespace` on Helm's command line.
    Flag,
    /// `$HELM_NAMESPACE` (Helm had no `-n`).
    HelmNamespaceEnv,
    /// The kubeconfig context Helm uses.
    KubeconfigContext(String),
    /// The service account's namespace (Helm in a pod, no kubeconfig).
    InCluster,
    /// No namespace anywhere: Helm's `default`.
    Default,
}

impl std::fmt::Display for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Source::Flag => f.write_str("helm's -n/--namespace"),
            Source::HelmNamespaceEnv => f.write_str("$HELM_NAMESPACE (helm had no -n)"),
            Source::KubeconfigContext(c) => write!(f, "kubeconfig context `{c}` (helm had no -n)"),
            Source::InCluster => f.write_str("the pod's service account (helm had no -n)"),
            Source::Default => {
                f.write_str("helm's default: no -n, no $HELM_NAMESPACE, no context namespace")
            }
        }
    }
}

/// What lbip learned about the process that started it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Parent {
    /// Helm, running lbip as its post-renderer.
    Helm(HelmRun),
    /// Not a Helm post-rendering lbip (a shell, a CI script), or not inspectable here.
    Other(String),
}

/// The Helm run lbip post-renders for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HelmRun {
    /// The release namespace and where it came from, or why it cannot be settled.
    pub namespace: Result<(String, Source), String>,
    /// The kubeconfig context Helm installs through (which registry cluster it is).
    pub context: Option<String>,
    /// `helm template --output-dir DIR`: Helm 3 then writes the templates to DIR without
    /// post-rendering them and gives the post-renderer an empty stream (helm#8520).
    pub output_dir: Option<String>,
}

/// Looks at the parent process (Linux: `/proc/<ppid>/cmdline`).
pub fn inspect() -> Parent {
    #[cfg(target_os = "linux")]
    {
        let ppid = std::os::unix::process::parent_id();
        match std::fs::read(format!("/proc/{ppid}/cmdline")) {
            Ok(raw) => {
                let argv: Vec<String> = raw
                    .split(|b| *b == 0)
                    .filter(|a| !a.is_empty())
                    .map(|a| String::from_utf8_lossy(a).into_owned())
                    .collect();
                classify(&argv, &|k| std::env::var_os(k))
            }
            Err(e) => Parent::Other(format!("cannot read the parent's command line: {e}")),
        }
    }
    #[cfg(not(target_os = "linux"))]
    {
        Parent::Other("lbip learns helm's namespace from /proc, which only Linux has".to_string())
    }
}

/// Decides from the parent's argv (and the environment lbip inherited from it).
pub fn classify(argv: &[String], env: &dyn Fn(&str) -> Option<OsString>) -> Parent {
    let Some(program) = argv.first() else {
        return Parent::Other("the parent process has no command line".to_string());
    };
    let name = Path::new(program)
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let flags = match parse(&argv[1..]) {
        Ok(f) => f,
        Err(why) => {
            // Only call it Helm's problem when it is Helm post-rendering.
            return if argv.iter().any(|a| a.starts_with("--post-renderer")) {
                Parent::Helm(HelmRun {
                    namespace: Err(why),
                    context: None,
                    output_dir: None,
                })
            } else {
                Parent::Other(format!("parent `{name}` is not helm post-rendering"))
            };
        }
    };
    let Some(renderer) = &flags.post_renderer else {
        return Parent::Other(format!(
            "the parent process (`{name}`) is not helm running a --post-renderer"
        ));
    };
    // Under Helm 4 the --post-renderer value is the plugin name Helm ran us as.
    if let Some(plugin) = env("HELM_PLUGIN_NAME").filter(|p| !p.is_empty())
        && plugin.to_string_lossy() != renderer.as_str()
    {
        return Parent::Other(format!(
            "the parent helm runs post-renderer `{renderer}`, not plugin `{}`",
            plugin.to_string_lossy()
        ));
    }
    Parent::Helm(HelmRun {
        namespace: resolve(&flags, env),
        context: helm_context(&flags, env),
        output_dir: flags.output_dir.clone(),
    })
}

/// The flags of Helm's command line that decide the namespace.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HelmFlags {
    pub post_renderer: Option<String>,
    pub namespace: Option<String>,
    pub kube_context: Option<String>,
    pub kubeconfig: Option<String>,
    pub output_dir: Option<String>,
}

impl HelmFlags {
    fn set(&mut self, long: &str, value: &str) {
        let slot = match long {
            "post-renderer" => &mut self.post_renderer,
            "namespace" => &mut self.namespace,
            "kube-context" => &mut self.kube_context,
            "kubeconfig" => &mut self.kubeconfig,
            "output-dir" => &mut self.output_dir,
            _ => return,
        };
        *slot = Some(value.to_string());
    }
}

/// Whether a flag takes the next word as its value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Takes {
    Value,
    Nothing,
    /// Unknown, or a bool in one command and a string in another (`--server-side`).
    Either,
}

/// Flags of `helm install|upgrade|template` (3.17.3 and 4.3.1, global flags included) that
/// take a value. Flags with an optional value (`--dry-run[=client]`, `--wait[=watcher]`) take
/// one only after `=`, so they are with the bools.
const VALUE_FLAGS: &[&str] = &[
    "api-versions",
    "burst-limit",
    "ca-file",
    "cert-file",
    "color",
    "colour",
    "content-cache",
    "description",
    "history-max",
    "key-file",
    "keyring",
    "kube-apiserver",
    "kube-as-group",
    "kube-as-user",
    "kube-ca-file",
    "kube-context",
    "kube-tls-server-name",
    "kube-token",
    "kube-version",
    "kubeconfig",
    "labels",
    "name-template",
    "namespace",
    "output",
    "output-dir",
    "password",
    "post-renderer",
    "post-renderer-args",
    "qps",
    "registry-config",
    "repo",
    "repository-cache",
    "repository-config",
    "set",
    "set-file",
    "set-json",
    "set-literal",
    "set-string",
    "show-only",
    "timeout",
    "username",
    "values",
    "version",
];

const NOTHING_FLAGS: &[&str] = &[
    "atomic",
    "cleanup-on-fail",
    "create-namespace",
    "debug",
    "dependency-update",
    "devel",
    "disable-openapi-validation",
    "dry-run",
    "enable-dns",
    "force",
    "force-conflicts",
    "force-replace",
    "generate-name",
    "help",
    "hide-notes",
    "hide-secret",
    "include-crds",
    "insecure-skip-tls-verify",
    "install",
    "is-upgrade",
    "kube-insecure-skip-tls-verify",
    "no-hooks",
    "pass-credentials",
    "plain-http",
    "release-name",
    "render-subchart-notes",
    "replace",
    "reset-then-reuse-values",
    "reset-values",
    "reuse-values",
    "rollback-on-failure",
    "skip-crds",
    "skip-schema-validation",
    "skip-tests",
    "take-ownership",
    "validate",
    "verify",
    "wait",
    "wait-for-jobs",
];

/// Shorthands of those commands.
const SHORTHANDS: &[(char, &str)] = &[
    ('a', "api-versions"),
    ('f', "values"),
    ('g', "generate-name"),
    ('h', "help"),
    ('i', "install"),
    ('l', "labels"),
    ('n', "namespace"),
    ('o', "output"),
    ('s', "show-only"),
];

fn takes(long: &str) -> Takes {
    if VALUE_FLAGS.contains(&long) {
        Takes::Value
    } else if NOTHING_FLAGS.contains(&long) {
        Takes::Nothing
    } else {
        Takes::Either
    }
}

/// How many readings of unknown flags are tried before giving up.
const MAX_READINGS: usize = 64;

/// Parses Helm's arguments (argv without the program) with pflag's rules: `--` ends the
/// flags, `--name=value`, `--name value`, shorthand groups (`-gn ns`, `-nns`, `-n=ns`).
pub fn parse(args: &[String]) -> Result<HelmFlags, String> {
    let mut readings = Vec::new();
    walk(args, 0, None, HelmFlags::default(), &mut readings)?;
    let first = readings[0].clone();
    if readings.iter().all(|r| *r == first) {
        Ok(first)
    } else {
        Err(format!(
            "helm's command line can be read {} ways (it has a flag lbip does not know, \
             next to -n/--namespace or --kube-context/--kubeconfig)",
            readings.len()
        ))
    }
}

/// One reading from `args[i]` on (`group`: the rest of a shorthand group being read).
fn walk(
    args: &[String],
    mut i: usize,
    mut group: Option<String>,
    mut flags: HelmFlags,
    readings: &mut Vec<HelmFlags>,
) -> Result<(), String> {
    let too_many = || {
        format!(
            "helm's command line has too many flags lbip does not know to read it safely \
             (over {MAX_READINGS} readings)"
        )
    };
    loop {
        if readings.len() >= MAX_READINGS {
            return Err(too_many());
        }
        // Inside a shorthand group: one letter at a time.
        if let Some(rest) = group.take() {
            let mut chars = rest.chars();
            let Some(c) = chars.next() else { continue };
            let after: String = chars.collect();
            let long = SHORTHANDS.iter().find(|(s, _)| *s == c).map(|(_, l)| *l);
            let kind = long.map_or(Takes::Either, takes);
            // The value of a shorthand is the rest of the group (one leading `=` dropped),
            // else the next word.
            let value_reading = |flags: &mut HelmFlags, i: &mut usize| {
                let value = match after.strip_prefix('=').unwrap_or(&after) {
                    "" => {
                        let v = args.get(*i).cloned();
                        *i += 1;
                        v
                    }
                    v => Some(v.to_string()),
                };
                if let (Some(long), Some(v)) = (long, value) {
                    flags.set(long, &v);
                }
            };
            match kind {
                Takes::Nothing => group = Some(after),
                Takes::Value => value_reading(&mut flags, &mut i),
                Takes::Either => {
                    walk(args, i, Some(after.clone()), flags.clone(), readings)?;
                    value_reading(&mut flags, &mut i);
                }
            }
            continue;
        }
        let Some(arg) = args.get(i) else { break };
        i += 1;
        if arg == "--" {
            break;
        }
        if let Some(long) = arg.strip_prefix("--") {
            if let Some((name, value)) = long.split_once('=') {
                flags.set(name, value);
                continue;
            }
            match takes(long) {
                Takes::Nothing => {}
                Takes::Value => {
                    if let Some(v) = args.get(i) {
                        flags.set(long, v);
                    }
                    i += 1;
                }
                Takes::Either => {
                    walk(args, i, None, flags.clone(), readings)?;
                    if let Some(v) = args.get(i) {
                        flags.set(long, v);
                    }
                    i += 1;
                }
            }
        } else if let Some(shorts) = arg.strip_prefix('-').filter(|s| !s.is_empty()) {
            group = Some(shorts.to_string());
        }
        // Anything else is a positional argument (command, release, chart).
    }
    readings.push(flags);
    Ok(())
}

/// Helm's namespace for these flags: the flag, `$HELM_NAMESPACE`, the kubeconfig context's
/// namespace, `default`.
pub fn resolve(
    flags: &HelmFlags,
    env: &dyn Fn(&str) -> Option<OsString>,
) -> Result<(String, Source), String> {
    let text = |k: &str| {
        env(k)
            .map(|v| v.to_string_lossy().into_owned())
            .filter(|v| !v.is_empty())
    };
    // An explicit `-n ""` replaces $HELM_NAMESPACE with nothing, as in Helm.
    match flags.namespace.as_deref() {
        Some("") => {}
        Some(ns) => return Ok((ns.to_string(), Source::Flag)),
        None => {
            if let Some(ns) = text("HELM_NAMESPACE") {
                return Ok((ns, Source::HelmNamespaceEnv));
            }
        }
    }
    let context = flag_context(flags, env);
    let merged = kubeconfig(flags, env)?;
    let Some(config) = merged else {
        return in_cluster_or_default(context, env);
    };
    let Some(name) = context.or_else(|| config.current_context.clone().filter(|c| !c.is_empty()))
    else {
        return Ok(("default".to_string(), Source::Default));
    };
    let ctx = config
        .contexts
        .iter()
        .find(|c| c.name == name)
        .ok_or_else(|| format!("helm's kubeconfig context `{name}` does not exist"))?;
    match ctx.context.as_ref().and_then(|c| c.namespace.clone()) {
        Some(ns) if !ns.is_empty() => Ok((ns, Source::KubeconfigContext(name))),
        _ => Ok(("default".to_string(), Source::Default)),
    }
}

/// The kubeconfig context Helm was told to use (`--kube-context`, else `$HELM_KUBECONTEXT`).
fn flag_context(flags: &HelmFlags, env: &dyn Fn(&str) -> Option<OsString>) -> Option<String> {
    flags
        .kube_context
        .clone()
        .filter(|c| !c.is_empty())
        .or_else(|| {
            env("HELM_KUBECONTEXT")
                .map(|v| v.to_string_lossy().into_owned())
                .filter(|v| !v.is_empty())
        })
}

/// The kubeconfig Helm reads (`--kubeconfig`, else `$KUBECONFIG` merged, else
/// `~/.kube/config`), `None` when there is none.
fn kubeconfig(
    flags: &HelmFlags,
    env: &dyn Fn(&str) -> Option<OsString>,
) -> Result<Option<kube::config::Kubeconfig>, String> {
    let files: Vec<PathBuf> = match &flags.kubeconfig {
        Some(p) if !p.is_empty() => {
            let p = PathBuf::from(p);
            if !p.is_file() {
                return Err(format!(
                    "helm's --kubeconfig {} does not exist",
                    p.display()
                ));
            }
            vec![p]
        }
        _ => match env("KUBECONFIG").filter(|v| !v.is_empty()) {
            // clientcmd skips files of the list that do not exist.
            Some(list) => std::env::split_paths(&list)
                .filter(|p| p.is_file())
                .collect(),
            None => env("HOME")
                .map(|h| h.to_string_lossy().into_owned())
                .filter(|h| !h.is_empty())
                .map(|h| Path::new(&h).join(".kube/config"))
                .filter(|p| p.is_file())
                .into_iter()
                .collect(),
        },
    };
    let mut merged: Option<kube::config::Kubeconfig> = None;
    for f in &files {
        let next = kube::config::Kubeconfig::read_from(f).map_err(|e| {
            format!(
                "cannot read kubeconfig {}: {}",
                f.display(),
                without_secrets(&e, f)
            )
        })?;
        merged = Some(match merged {
            None => next,
            Some(m) => m
                .merge(next)
                .map_err(|e| format!("cannot merge kubeconfig {}: {e}", f.display()))?,
        });
    }
    Ok(merged)
}

/// The kubeconfig context Helm talks to: its flag or `$HELM_KUBECONTEXT`, else the
/// kubeconfig's `current-context`; `None` when Helm uses none (in-cluster, or no kubeconfig).
pub fn helm_context(flags: &HelmFlags, env: &dyn Fn(&str) -> Option<OsString>) -> Option<String> {
    flag_context(flags, env).or_else(|| {
        kubeconfig(flags, env)
            .ok()
            .flatten()
            .and_then(|k| k.current_context)
            .filter(|c| !c.is_empty())
    })
}

/// The first line of a kubeconfig error, with the file's secrets removed: a parser error
/// quotes the lines around the problem, and those may hold a token.
fn without_secrets(e: &dyn std::fmt::Display, file: &Path) -> String {
    let text = std::fs::read_to_string(file).unwrap_or_default();
    let message = e.to_string();
    let first = message.lines().next().unwrap_or_default();
    crate::cluster::secrets::redact_text(first, &crate::cluster::secrets::secrets_in(&text))
}

const SERVICE_ACCOUNT_NAMESPACE: &str = "/var/run/secrets/kubernetes.io/serviceaccount/namespace";

/// No kubeconfig at all: client-go falls back to the in-cluster config when it runs in a pod
/// (`POD_NAMESPACE`, else the service account's namespace file), else `default`.
fn in_cluster_or_default(
    context: Option<String>,
    env: &dyn Fn(&str) -> Option<OsString>,
) -> Result<(String, Source), String> {
    if let Some(name) = context {
        return Err(format!(
            "helm's kubeconfig context `{name}` does not exist (no kubeconfig file found)"
        ));
    }
    let in_pod =
        env("KUBERNETES_SERVICE_HOST").is_some() && env("KUBERNETES_SERVICE_PORT").is_some();
    if !in_pod {
        return Ok(("default".to_string(), Source::Default));
    }
    if let Some(ns) = env("POD_NAMESPACE").filter(|v| !v.is_empty()) {
        return Ok((ns.to_string_lossy().into_owned(), Source::InCluster));
    }
    match std::fs::read_to_string(SERVICE_ACCOUNT_NAMESPACE) {
        Ok(ns) if !ns.trim().is_empty() => Ok((ns.trim().to_string(), Source::InCluster)),
        _ => Ok(("default".to_string(), Source::Default)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(line: &str) -> Vec<String> {
        line.split_whitespace().map(str::to_string).collect()
    }

    fn ns(line: &str) -> Option<String> {
        parse(&args(line)).unwrap().namespace
    }

    #[test]
    fn every_pflag_spelling_of_the_namespace() {
        let base = "install mlflow ./chart --post-renderer lbip";
        for (flag, want) in [
            ("-n mlflow", "mlflow"),
            ("-nmlflow", "mlflow"),
            ("-n=mlflow", "mlflow"),
            ("--namespace mlflow", "mlflow"),
            ("--namespace=mlflow", "mlflow"),
            ("-gn mlflow", "mlflow"),
            ("-gnmlflow", "mlflow"),
            ("-in mlflow", "mlflow"),
            ("-n a -n mlflow", "mlflow"),
            ("--namespace=a -n mlflow", "mlflow"),
        ] {
            assert_eq!(
                ns(&format!("{base} {flag}")).as_deref(),
                Some(want),
                "{flag}"
            );
            assert_eq!(
                ns(&format!("{flag} {base}")).as_deref(),
                Some(want),
                "{flag}"
            );
        }
        assert_eq!(ns(base), None);
    }

    #[test]
    fn values_of_other_flags_are_not_flags() {
        // `--description -n` gives the description the value `-n`.
        assert_eq!(ns("install x c --description -n --post-renderer p"), None);
        assert_eq!(ns("install x c -f -n -n real"), Some("real".into()));
        assert_eq!(ns("install x c --set namespace=x"), None);
        assert_eq!(ns("install x c -- -n after-dashes"), None);
        assert_eq!(
            parse(&args(
                "template x c --post-renderer-args --namespace=evil --post-renderer p"
            ))
            .unwrap(),
            HelmFlags {
                post_renderer: Some("p".into()),
                ..HelmFlags::default()
            }
        );
        // Optional-value flags take their value only after `=`.
        assert_eq!(ns("install x c --dry-run -n real"), Some("real".into()));
        assert_eq!(ns("install x c --wait -n real"), Some("real".into()));
    }

    #[test]
    fn an_unknown_flag_is_fine_unless_it_could_swallow_the_namespace() {
        // Whether --frobnicate takes a value or not, the namespace is `real`.
        assert_eq!(
            ns("install x c --frobnicate v -n real"),
            Some("real".into())
        );
        assert_eq!(ns("install x c -n real --frobnicate"), Some("real".into()));
        // But here it either swallows `-n` or does not.
        let err = parse(&args("install x c --frobnicate -n real")).unwrap_err();
        assert!(err.contains("can be read 2 ways"), "{err}");
        assert!(parse(&args("install x c -xn real")).is_err());
        // --server-side is a bool for install and a string for upgrade (Helm 4).
        assert_eq!(
            ns("upgrade x c --server-side true -n real"),
            Some("real".into())
        );
        assert!(parse(&args("upgrade x c --server-side -n real")).is_err());
        // Each unknown flag before a word doubles the readings: 2^7 of them.
        let many = "--u1 a --u2 b --u3 c --u4 d --u5 e --u6 f --u7 g -n x";
        assert!(parse(&args(many)).unwrap_err().contains("too many"));
    }

    fn env_of(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<OsString> + use<> {
        let pairs: Vec<(String, String)> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k: &str| {
            pairs
                .iter()
                .find(|(n, _)| n == k)
                .map(|(_, v)| OsString::from(v))
        }
    }

    fn flags(ns: Option<&str>, ctx: Option<&str>, kubeconfig: Option<&str>) -> HelmFlags {
        HelmFlags {
            post_renderer: Some("lbip".into()),
            namespace: ns.map(Into::into),
            kube_context: ctx.map(Into::into),
            kubeconfig: kubeconfig.map(Into::into),
            output_dir: None,
        }
    }

    const KUBECONFIG: &str = "apiVersion: v1\nkind: Config\nclusters: [{name: c, cluster: {server: 'https://127.0.0.1:1'}}]\nusers: [{name: u, user: {token: t}}]\ncontexts:\n- {name: a, context: {cluster: c, user: u, namespace: from-a}}\n- {name: b, context: {cluster: c, user: u}}\ncurrent-context: a\n";

    #[test]
    fn resolution_follows_helm() {
        let dir = tempfile::tempdir().unwrap();
        let kc = dir.path().join("kubeconfig");
        std::fs::write(&kc, KUBECONFIG).unwrap();
        let kc = kc.to_str().unwrap();
        let home = dir.path().to_str().unwrap();
        let env = env_of(&[("KUBECONFIG", kc), ("HOME", home)]);
        let with_ns = env_of(&[("KUBECONFIG", kc), ("HELM_NAMESPACE", "from-env")]);
        let r = |f: &HelmFlags, e: &dyn Fn(&str) -> Option<OsString>| resolve(f, e).unwrap();
        assert_eq!(
            r(&flags(Some("x"), None, None), &with_ns),
            ("x".into(), Source::Flag)
        );
        assert_eq!(
            r(&flags(None, None, None), &with_ns),
            ("from-env".into(), Source::HelmNamespaceEnv)
        );
        // `-n ""` beats $HELM_NAMESPACE and falls through to the kubeconfig.
        assert_eq!(r(&flags(Some(""), None, None), &with_ns).0, "from-a");
        assert_eq!(
            r(&flags(None, None, None), &env),
            ("from-a".into(), Source::KubeconfigContext("a".into()))
        );
        assert_eq!(
            r(&flags(None, Some("b"), None), &env),
            ("default".into(), Source::Default)
        );
        let ctx_env = env_of(&[("KUBECONFIG", kc), ("HELM_KUBECONTEXT", "b")]);
        assert_eq!(r(&flags(None, None, None), &ctx_env).0, "default");
        assert_eq!(r(&flags(None, None, Some(kc)), &env_of(&[])).0, "from-a");
        assert!(
            resolve(&flags(None, Some("nope"), None), &env)
                .unwrap_err()
                .contains("`nope` does not exist")
        );
        assert!(
            resolve(&flags(None, None, Some("/no/such/file")), &env)
                .unwrap_err()
                .contains("does not exist")
        );
        // Missing files in $KUBECONFIG are skipped, as client-go does; none at all: default.
        let missing = env_of(&[("KUBECONFIG", "/no/such/file"), ("HOME", home)]);
        assert_eq!(
            r(&flags(None, None, None), &missing),
            ("default".into(), Source::Default)
        );
        let pod = env_of(&[
            ("KUBECONFIG", "/no/such/file"),
            ("KUBERNETES_SERVICE_HOST", "10.43.0.1"),
            ("KUBERNETES_SERVICE_PORT", "443"),
            ("POD_NAMESPACE", "ci"),
        ]);
        assert_eq!(
            r(&flags(None, None, None), &pod),
            ("ci".into(), Source::InCluster)
        );
        let bad = dir.path().join("bad");
        std::fs::write(
            &bad,
            "users:\n- name: u\n  user:\n    token: s3cr3t-token-value\n    exec: x\n",
        )
        .unwrap();
        // The parser quotes the lines around the problem, token included; lbip does not.
        let raw = kube::config::Kubeconfig::read_from(&bad)
            .unwrap_err()
            .to_string();
        assert!(raw.contains("s3cr3t-token-value"), "{raw}");
        let bad_env = env_of(&[("KUBECONFIG", bad.to_str().unwrap())]);
        let err = resolve(&flags(None, None, None), &bad_env).unwrap_err();
        assert!(err.contains("cannot read kubeconfig"), "{err}");
        assert!(!err.contains("s3cr3t-token-value"), "{err}");
        assert!(
            resolve(&flags(None, None, None), &bad_env)
                .unwrap_err()
                .contains("cannot read kubeconfig")
        );
    }

    #[test]
    fn only_helm_post_rendering_counts() {
        let env = env_of(&[("HOME", "/nonexistent")]);
        let argv = |l: &str| args(l);
        assert!(matches!(
            classify(&argv("/bin/bash -c lbip"), &env),
            Parent::Other(_)
        ));
        assert!(matches!(
            classify(&argv("helm template x c -n mlflow"), &env),
            Parent::Other(_)
        ));
        assert_eq!(
            classify(
                &argv(
                    "/usr/local/bin/helm template x c -n mlflow --post-renderer lbip -o out --kube-context lab"
                ),
                &env
            ),
            Parent::Helm(HelmRun {
                namespace: Ok(("mlflow".into(), Source::Flag)),
                context: Some("lab".into()),
                output_dir: None,
            })
        );
        let run = classify(
            &argv("helm template x c --output-dir out --post-renderer lbip"),
            &env,
        );
        assert!(matches!(run, Parent::Helm(HelmRun { output_dir: Some(d), .. }) if d == "out"));
        // Helm 4: the post-renderer must be the plugin Helm ran.
        let plugin = env_of(&[("HELM_PLUGIN_NAME", "lbip")]);
        assert!(matches!(
            classify(
                &argv("helm install x c -n a --post-renderer other"),
                &plugin
            ),
            Parent::Other(_)
        ));
        assert!(matches!(
            classify(
                &argv("helm install x c --bogus -n a --post-renderer lbip"),
                &plugin
            ),
            Parent::Helm(HelmRun {
                namespace: Err(_),
                ..
            })
        ));
    }
}
