//! Which kubeconfig, context, cluster and user a command uses: resolved the way kubectl
//! resolves `--kubeconfig`, `--context`, `--cluster`, `--user` (checked against kubectl 1.37),
//! with a clear error where kubectl would guess.
//!
//! - Files: `--kubeconfig PATH` (must exist), else every existing file of `$KUBECONFIG` (a
//!   path list; missing entries are skipped, as kubectl does), else `~/.kube/config`. Several
//!   files merge as kubectl merges them: the first file to define a name (or
//!   `current-context`) wins. Relative paths inside a file are relative to that file.
//! - Selection: the context is `--context`, else `current-context`; `--cluster` and `--user`
//!   replace the context's cluster and user; the namespace stays the context's.
//! - A name that does not exist is an error naming it and listing what exists, whether it
//!   came from a flag or from the file (kubectl silently falls back to `localhost:8080` when
//!   `current-context` or a context's cluster is missing; lbip never talks to a server nobody
//!   named).
//! - In-cluster (service account) configuration is used only when no kubeconfig file exists
//!   and no flag names a kubeconfig entry.
//!
//! kube-rs's own `Config::infer` differs in the ways that matter here: it ignores `--cluster`
//! and `--user` unless asked, fails on a missing `$KUBECONFIG` entry, accepts a `--user` that
//! does not exist (as anonymous), and falls back to in-cluster after any kubeconfig error.

use kube::config::{Kubeconfig, NamedContext};
use std::path::{Path, PathBuf};

/// How a face calls its connection options in messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FlagNames {
    pub kubeconfig: &'static str,
    pub context: &'static str,
    pub cluster: &'static str,
    pub user: &'static str,
}

impl FlagNames {
    /// The kubectl plugin: kubectl's own flags.
    pub const KUBECTL: FlagNames = FlagNames {
        kubeconfig: "--kubeconfig",
        context: "--context",
        cluster: "--cluster",
        user: "--user",
    };
    /// The Ansible module's options.
    pub const ANSIBLE: FlagNames = FlagNames {
        kubeconfig: "option kubeconfig",
        context: "option context",
        cluster: "option cluster",
        user: "option user",
    };
}

impl Default for FlagNames {
    fn default() -> Self {
        FlagNames::KUBECTL
    }
}

/// kubectl's connection flags, as given.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Selection {
    pub kubeconfig: Option<PathBuf>,
    pub context: Option<String>,
    pub cluster: Option<String>,
    pub user: Option<String>,
    /// What the face calls them, for messages.
    pub names: FlagNames,
}

impl Selection {
    /// The entry-naming options given, as the face spells them (`--context prod`,
    /// `option context=prod`).
    pub fn given(&self) -> String {
        let ansible = self.names == FlagNames::ANSIBLE;
        [
            (self.names.context, &self.context),
            (self.names.cluster, &self.cluster),
            (self.names.user, &self.user),
        ]
        .iter()
        .filter_map(|(name, v)| {
            v.as_ref().map(|v| {
                if ansible {
                    format!("{name}={v}")
                } else {
                    format!("{name} {v}")
                }
            })
        })
        .collect::<Vec<_>>()
        .join(", ")
    }

    /// Whether a flag names a kubeconfig entry (then in-cluster configuration is never used).
    pub fn names_entries(&self) -> bool {
        self.context.is_some() || self.cluster.is_some() || self.user.is_some()
    }

    /// The flags as kubectl takes them, for commands in help lines (`--context x --user y`).
    pub fn kubectl_flags(&self, context: Option<&str>) -> String {
        let mut out = Vec::new();
        if let Some(p) = &self.kubeconfig {
            out.push(format!("--kubeconfig {}", p.display()));
        }
        if let Some(c) = self.context.as_deref().or(context) {
            out.push(format!("--context {c}"));
        }
        if let Some(c) = &self.cluster {
            out.push(format!("--cluster {c}"));
        }
        if let Some(u) = &self.user {
            out.push(format!("--user {u}"));
        }
        out.join(" ")
    }
}

/// Where the kubeconfig came from, for messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    Flag(PathBuf),
    /// `$KUBECONFIG`: the files that exist (in order) and the ones that do not.
    Env {
        read: Vec<PathBuf>,
        missing: Vec<PathBuf>,
    },
    Home(PathBuf),
}

impl Source {
    /// `a.yaml`, `$KUBECONFIG (a.yaml:b.yaml)`.
    pub fn describe(&self) -> String {
        match self {
            Source::Flag(p) | Source::Home(p) => p.display().to_string(),
            Source::Env { read, .. } => format!(
                "$KUBECONFIG ({})",
                read.iter()
                    .map(|p| p.display().to_string())
                    .collect::<Vec<_>>()
                    .join(":")
            ),
        }
    }
    /// The files read.
    pub fn files(&self) -> Vec<PathBuf> {
        match self {
            Source::Flag(p) | Source::Home(p) => vec![p.clone()],
            Source::Env { read, .. } => read.clone(),
        }
    }
}

/// Why no kubeconfig file was found, for the in-cluster fallback's error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotFound(pub String);

/// Finds the kubeconfig files (see the module docs). `Ok(Err(NotFound))` when there is none;
/// `Err` when `--kubeconfig` names a file that does not exist.
pub fn find(
    flag: Option<&Path>,
    env: Option<std::ffi::OsString>,
    home: Option<PathBuf>,
    names: FlagNames,
) -> Result<Result<Source, NotFound>, String> {
    if let Some(path) = flag {
        if !path.exists() {
            return Err(format!(
                "the kubeconfig {} ({}) does not exist",
                path.display(),
                names.kubeconfig
            ));
        }
        return Ok(Ok(Source::Flag(path.to_path_buf())));
    }
    if let Some(list) = env.filter(|v| !v.is_empty()) {
        let (read, missing): (Vec<PathBuf>, Vec<PathBuf>) = std::env::split_paths(&list)
            .filter(|p| !p.as_os_str().is_empty())
            .partition(|p| p.exists());
        if read.is_empty() {
            let names: Vec<String> = missing.iter().map(|p| p.display().to_string()).collect();
            return Ok(Err(NotFound(format!(
                "no file of $KUBECONFIG exists ({})",
                names.join(":")
            ))));
        }
        return Ok(Ok(Source::Env { read, missing }));
    }
    match home.map(|h| h.join(".kube").join("config")) {
        Some(p) if p.exists() => Ok(Ok(Source::Home(p))),
        Some(p) => Ok(Err(NotFound(format!(
            "$KUBECONFIG is not set and {} does not exist",
            p.display()
        )))),
        None => Ok(Err(NotFound(
            "$KUBECONFIG is not set and there is no home directory".to_string(),
        ))),
    }
}

/// Reads and merges the files of `source` (first file wins per name, as kubectl).
pub fn read(source: &Source) -> Result<Kubeconfig, kube::config::KubeconfigError> {
    let mut merged: Option<Kubeconfig> = None;
    for path in source.files() {
        let next = Kubeconfig::read_from(&path)?;
        merged = Some(match merged {
            Some(m) => m.merge(next)?,
            None => next,
        });
    }
    Ok(merged.unwrap_or_default())
}

/// The entries a command uses, validated: every name exists. (Errors are the message.)
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chosen {
    /// The context to pass to kube-rs (a synthesized one when only `--cluster` chose).
    pub context: String,
    /// The context as messages name it (`prod`, or `prod with --cluster staging`).
    pub display: String,
}

/// Name given for the context lbip makes when `--cluster` is given and there is no context.
pub const FLAGS_CONTEXT: &str = "(from --cluster/--user)";

fn names<T>(items: &[T], name: impl Fn(&T) -> &String) -> String {
    let all: Vec<&str> = items.iter().map(|i| name(i).as_str()).collect();
    if all.is_empty() {
        "none".to_string()
    } else {
        all.join(", ")
    }
}

/// Checks the selection against the merged kubeconfig and returns what to use. `kc` gains a
/// synthesized context when `--cluster` stands in for a missing one.
pub fn choose(kc: &mut Kubeconfig, sel: &Selection, source: &Source) -> Result<Chosen, String> {
    let from = source.describe();
    let err = |message: String| message;
    let contexts = names(&kc.contexts, |c| &c.name);
    let context_name = match (&sel.context, &kc.current_context) {
        (Some(c), _) => Some((c.clone(), sel.names.context)),
        (None, Some(c)) if !c.is_empty() => Some((c.clone(), "current-context")),
        _ => None,
    };
    let context = match &context_name {
        Some((name, how)) => {
            let found = kc
                .contexts
                .iter()
                .find(|c| &c.name == name)
                .and_then(|c| c.context.clone());
            match found {
                Some(c) => Some(c),
                None => {
                    return Err(err(format!(
                        "context \"{name}\" ({how}) does not exist in {from}; contexts there: {contexts}"
                    )));
                }
            }
        }
        None if sel.cluster.is_some() => None,
        None => {
            return Err(err(format!(
                "{from} sets no current-context: pass {} (contexts there: {contexts})",
                sel.names.context
            )));
        }
    };
    let cluster = match (&sel.cluster, &context) {
        (Some(c), _) => (c.clone(), sel.names.cluster.to_string()),
        (None, Some(ctx)) => (
            ctx.cluster.clone(),
            format!(
                "named by context \"{}\"",
                context_name.as_ref().map_or("", |(n, _)| n.as_str())
            ),
        ),
        (None, None) => unreachable!("no context only with --cluster"),
    };
    if !kc.clusters.iter().any(|c| c.name == cluster.0) {
        return Err(err(format!(
            "cluster \"{}\" ({}) does not exist in {from}; clusters there: {}",
            cluster.0,
            cluster.1,
            names(&kc.clusters, |c| &c.name)
        )));
    }
    let user = match (&sel.user, &context) {
        (Some(u), _) => Some((u.clone(), sel.names.user.to_string())),
        (None, Some(ctx)) => ctx.user.clone().filter(|u| !u.is_empty()).map(|u| {
            (
                u,
                format!(
                    "named by context \"{}\"",
                    context_name.as_ref().map_or("", |(n, _)| n.as_str())
                ),
            )
        }),
        (None, None) => None,
    };
    if let Some((name, how)) = &user
        && !kc.auth_infos.iter().any(|u| &u.name == name)
    {
        return Err(err(format!(
            "user \"{name}\" ({how}) does not exist in {from}; users there: {}",
            names(&kc.auth_infos, |u| &u.name)
        )));
    }
    let mut overrides = Vec::new();
    if let Some(c) = &sel.cluster {
        overrides.push(format!("--cluster {c}"));
    }
    if let Some(u) = &sel.user {
        overrides.push(format!("--user {u}"));
    }
    let (context, display) = match context_name {
        Some((name, _)) if overrides.is_empty() => (name.clone(), name),
        Some((name, _)) => (name.clone(), format!("{name} with {}", overrides.join(" "))),
        None => {
            // Only flags chose: a context of lbip's own, which kube-rs resolves as given.
            kc.contexts.push(NamedContext {
                name: FLAGS_CONTEXT.to_string(),
                context: Some(kube::config::Context {
                    cluster: cluster.0.clone(),
                    user: user.as_ref().map(|(u, _)| u.clone()),
                    ..Default::default()
                }),
                ..Default::default()
            });
            (FLAGS_CONTEXT.to_string(), overrides.join(" "))
        }
    };
    Ok(Chosen { context, display })
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: &str = "\
apiVersion: v1
kind: Config
clusters:
- {name: prod, cluster: {server: 'https://127.0.0.1:1'}}
- {name: staging, cluster: {server: 'https://127.0.0.1:2'}}
users:
- {name: admin, user: {token: aaaaaaaa}}
contexts:
- {name: prod, context: {cluster: prod, user: admin, namespace: prodns}}
- {name: broken, context: {cluster: gone, user: ghost}}
current-context: prod
";
    const B: &str = "\
apiVersion: v1
kind: Config
clusters:
- {name: prod, cluster: {server: 'https://127.0.0.1:9'}}
users:
- {name: bob, user: {token: bbbbbbbb}}
contexts:
- {name: staging, context: {cluster: staging, user: bob, namespace: stagens}}
current-context: staging
";

    struct Files {
        dir: tempfile::TempDir,
    }

    impl Files {
        fn new() -> Files {
            let dir = tempfile::tempdir().unwrap();
            std::fs::write(dir.path().join("a.yaml"), A).unwrap();
            std::fs::write(dir.path().join("b.yaml"), B).unwrap();
            Files { dir }
        }
        fn p(&self, name: &str) -> PathBuf {
            self.dir.path().join(name)
        }
        fn env(&self, names: &[&str]) -> Option<std::ffi::OsString> {
            Some(std::env::join_paths(names.iter().map(|n| self.p(n))).unwrap())
        }
    }

    fn pick(source: &Source, sel: &Selection) -> Result<(Chosen, Kubeconfig), String> {
        let mut kc = read(source).unwrap();
        choose(&mut kc, sel, source).map(|c| (c, kc))
    }

    fn sel(context: Option<&str>, cluster: Option<&str>, user: Option<&str>) -> Selection {
        Selection {
            kubeconfig: None,
            context: context.map(String::from),
            cluster: cluster.map(String::from),
            user: user.map(String::from),
            names: FlagNames::KUBECTL,
        }
    }

    #[test]
    fn files_come_from_the_flag_then_kubeconfig_then_home() {
        let f = Files::new();
        let flag = f.p("a.yaml");
        assert_eq!(
            find(Some(&flag), f.env(&["b.yaml"]), None, FlagNames::KUBECTL).unwrap(),
            Ok(Source::Flag(flag.clone()))
        );
        let err = find(Some(&f.p("nope.yaml")), None, None, FlagNames::KUBECTL).unwrap_err();
        assert!(
            err.to_string()
                .contains("nope.yaml (--kubeconfig) does not exist"),
            "{err}"
        );
        // Missing $KUBECONFIG entries are skipped, the order is kept.
        let found = find(
            None,
            f.env(&["missing.yaml", "b.yaml", "a.yaml"]),
            None,
            FlagNames::KUBECTL,
        )
        .unwrap();
        assert_eq!(
            found,
            Ok(Source::Env {
                read: vec![f.p("b.yaml"), f.p("a.yaml")],
                missing: vec![f.p("missing.yaml")],
            })
        );
        let none = find(
            None,
            f.env(&["m1", "m2"]),
            Some(f.p("home")),
            FlagNames::KUBECTL,
        )
        .unwrap();
        assert!(
            matches!(none, Err(NotFound(ref why)) if why.contains("no file of $KUBECONFIG exists")),
            "{none:?}"
        );
        // An empty $KUBECONFIG is unset: ~/.kube/config.
        std::fs::create_dir_all(f.p("home/.kube")).unwrap();
        std::fs::write(f.p("home/.kube/config"), A).unwrap();
        assert_eq!(
            find(None, Some("".into()), Some(f.p("home")), FlagNames::KUBECTL).unwrap(),
            Ok(Source::Home(f.p("home/.kube/config")))
        );
    }

    #[test]
    fn merged_files_let_the_first_name_win_and_names_resolve_across_files() {
        let f = Files::new();
        let Ok(source) =
            find(None, f.env(&["a.yaml", "b.yaml"]), None, FlagNames::KUBECTL).unwrap()
        else {
            panic!()
        };
        let (chosen, kc) = pick(&source, &sel(None, None, None)).unwrap();
        assert_eq!(chosen.context, "prod", "a.yaml's current-context wins");
        let prod = kc.clusters.iter().find(|c| c.name == "prod").unwrap();
        assert_eq!(
            prod.cluster.as_ref().unwrap().server.as_deref(),
            Some("https://127.0.0.1:1")
        );
        // staging (context in b.yaml) uses cluster staging from a.yaml and user bob from b.
        let (chosen, _) = pick(&source, &sel(Some("staging"), None, None)).unwrap();
        assert_eq!(chosen.display, "staging");
        let (chosen, _) = pick(&source, &sel(None, Some("staging"), Some("bob"))).unwrap();
        assert_eq!(chosen.context, "prod");
        assert_eq!(chosen.display, "prod with --cluster staging --user bob");
    }

    #[test]
    fn every_missing_name_is_an_error_naming_it_and_what_exists() {
        let f = Files::new();
        let source = Source::Flag(f.p("a.yaml"));
        let cases = [
            (
                sel(Some("nope"), None, None),
                "context \"nope\" (--context) does not exist in",
            ),
            (
                sel(None, Some("nope"), None),
                "cluster \"nope\" (--cluster) does not exist in",
            ),
            (
                sel(None, None, Some("nope")),
                "user \"nope\" (--user) does not exist in",
            ),
            (
                sel(Some("broken"), None, None),
                "cluster \"gone\" (named by context \"broken\") does not exist in",
            ),
            (
                sel(Some("broken"), Some("prod"), None),
                "user \"ghost\" (named by context \"broken\") does not exist in",
            ),
        ];
        for (s, want) in cases {
            let e = pick(&source, &s).unwrap_err();
            assert!(e.contains(want), "{s:?}: {e}");
            assert!(e.contains(&f.p("a.yaml").display().to_string()), "{e}");
        }
        let e = pick(&source, &sel(None, Some("nope"), None)).unwrap_err();
        assert!(e.contains("clusters there: prod, staging"), "{e}");
        let e = pick(&source, &sel(Some("nope"), None, None)).unwrap_err();
        assert!(e.contains("contexts there: prod, broken"), "{e}");
    }

    #[test]
    fn without_a_current_context_only_cluster_flags_can_choose() {
        let f = Files::new();
        std::fs::write(f.p("nocur.yaml"), A.replace("current-context: prod\n", "")).unwrap();
        let source = Source::Flag(f.p("nocur.yaml"));
        let e = pick(&source, &sel(None, None, Some("admin"))).unwrap_err();
        assert!(e.contains("sets no current-context: pass --context"), "{e}");
        let (chosen, kc) = pick(&source, &sel(None, Some("staging"), Some("admin"))).unwrap();
        assert_eq!(chosen.context, FLAGS_CONTEXT);
        assert_eq!(chosen.display, "--cluster staging --user admin");
        let made = kc
            .contexts
            .iter()
            .find(|c| c.name == FLAGS_CONTEXT)
            .unwrap();
        let ctx = made.context.as_ref().unwrap();
        assert_eq!(
            (ctx.cluster.as_str(), ctx.user.as_deref()),
            ("staging", Some("admin"))
        );
    }
}
