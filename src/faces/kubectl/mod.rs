//! `kubectl lbip ...` (also `lbip cluster ...`): the face for people who run the cluster.
//!
//! kubectl passes no flags to plugins, so kubectl's own connection flags are parsed here.
//! Data goes to stdout, diagnostics to stderr. One file per subcommand; tables and diffs
//! are drawn in `render`, apart from cluster I/O.

mod all_clusters;
mod apply;
mod check;
mod complete;
mod doctor;
mod import;
mod reassign;
mod render;
mod status;
mod version;
mod who_has;

use crate::cluster::{self, ClusterError, Connection, KubeOptions, ObserveOptions};
use crate::faces::common::RegistryArg;
use crate::faces::exit;
use crate::plan::{LabelSelector, Observed, Scope};
use crate::registry::Registry;
use clap::{Args, Parser, Subcommand, ValueEnum};
use std::ffi::OsString;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

/// See and reconcile MetalLB LoadBalancer IPs against the lbip registry.
#[derive(Debug, Parser)]
#[command(name = "kubectl lbip", version, about, long_about = None)]
pub struct Plugin {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Command,
}

/// kubectl's flags (accepted before or after the subcommand) plus `-r/--registry`.
#[derive(Debug, Clone, Args)]
pub struct Global {
    /// Path to the kubeconfig file [default: $KUBECONFIG, else ~/.kube/config]
    #[arg(long, global = true, value_name = "PATH")]
    pub kubeconfig: Option<PathBuf>,
    /// The kubeconfig context to use
    #[arg(long, global = true)]
    pub context: Option<String>,
    /// The kubeconfig cluster to use
    #[arg(long, global = true)]
    pub cluster: Option<String>,
    /// The kubeconfig user to use
    #[arg(long, global = true)]
    pub user: Option<String>,
    /// Namespace [default: the context's, else `default`]
    #[arg(short = 'n', long, global = true)]
    pub namespace: Option<String>,
    /// Every namespace (the default for status, check, who-has, doctor and import)
    #[arg(short = 'A', long, global = true)]
    pub all_namespaces: bool,
    /// Label selector (`k=v`, `k!=v`, `k`, `!k`, comma separated)
    #[arg(short = 'l', long, global = true)]
    pub selector: Option<String>,
    /// Output format
    #[arg(short = 'o', long, global = true, value_enum, default_value_t = Output::Table)]
    pub output: Output,
    /// Timeout for each request to the API server, e.g. `30s` (0 = none)
    #[arg(long, global = true, value_parser = parse_duration, value_name = "DURATION")]
    pub request_timeout: Option<Duration>,
    /// The registry file [default: $LBIP_REGISTRY, else ./lbip.yaml]
    #[arg(short = 'r', long, global = true, value_name = "PATH")]
    pub registry: Option<PathBuf>,
    /// Every cluster of the registry's `clusters:`, each through its own context, in one
    /// table with a CLUSTER column (status, check)
    #[arg(long, global = true)]
    pub all_clusters: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Output {
    Table,
    Wide,
    Json,
    Yaml,
    /// `service/<name>` per line, as `kubectl get -o name` (listing commands; the others
    /// print their table)
    Name,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// One row per LoadBalancer Service and registry entry: registry, requested and assigned IPs
    Status(status::Args),
    /// Like status, for cron and CI: exit 0 when all is ok, 1 when not (listed), 2 on errors
    Check(check::Args),
    /// Which Service requests or holds an IP, and which registry entry it belongs to
    WhoHas(who_has::Args),
    /// Bring Services to the registry: show the plan, patch in a safe order, wait for MetalLB
    Apply(apply::Args),
    /// Move one Service to an IP, moving the current holder off first
    Reassign(reassign::Args),
    /// Check MetalLB, pools, advertisements, k3s ServiceLB and events; each finding with a fix
    Doctor(doctor::Args),
    /// Print a registry drafted from the cluster's current assignments and pools
    Import(import::Args),
    /// Print lbip's version (no registry, no cluster)
    Version,
}

/// `--timeout`/`--request-timeout`: the core's duration syntax (`90s`, `2m`, `1m30s`, `45`).
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    crate::duration::parse(text)
}

/// A command's failure: the message for stderr (already explains what to do) and exit 2.
#[derive(Debug)]
pub struct Failure(pub String);

impl From<ClusterError> for Failure {
    fn from(e: ClusterError) -> Self {
        Failure(e.to_string())
    }
}

impl From<std::io::Error> for Failure {
    fn from(e: std::io::Error) -> Self {
        Failure(e.to_string())
    }
}

pub type Outcome = Result<u8, Failure>;

/// What every command gets: parsed flags, the registry, the connection and the scope.
#[derive(Clone)]
pub struct Ctx {
    pub global: Global,
    /// The registry as the connected cluster sees it ([`Registry::for_cluster`]); the whole
    /// registry when it defines no `clusters:`.
    pub registry: Registry,
    /// The whole registry file.
    pub full: Registry,
    /// The registry cluster the context reaches (`None` without `clusters:`).
    pub cluster: Option<String>,
    pub conn: Connection,
    pub scope: Scope,
}

impl Ctx {
    /// Reads the cluster for `scope`: Services, plus what `reads` adds (one paginated LIST
    /// per kind). A 403 on IPAddressPools is said on stderr: the command goes on with the
    /// pools unknown.
    pub async fn observe(
        &self,
        reads: impl FnOnce(ObserveOptions) -> ObserveOptions,
    ) -> Result<Observed, Failure> {
        let opts = reads(ObserveOptions::new(self.scope.clone(), &self.registry));
        let mut observed = cluster::observe(&self.conn, &opts).await?;
        // Said once, also when a command reads twice (apply reads again for its status).
        static SAID: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
        let first = !SAID.swap(true, std::sync::atomic::Ordering::Relaxed);
        if let Some(warning) = crate::plan::hints::pools_unknown(&observed)
            && first
        {
            eprintln!("warning: {warning}");
        }
        // The registry's other clusters share its addresses: what they hold is not free here.
        if let Some(current) = &self.cluster
            && self.full.clusters.len() > 1
        {
            observed.other_clusters = cluster::clusters::read_others(
                &self.full,
                current,
                &Ctx::kube_options(&self.global),
            )
            .await;
            for other in &observed.other_clusters {
                if let (Some(why), true) = (&other.unreadable, first) {
                    eprintln!(
                        "warning: cluster `{}` could not be read, so its addresses are unknown here: {why}",
                        other.name
                    );
                }
            }
        }
        Ok(observed)
    }

    /// The status rows of `status` and `check`: of this cluster, or with `--all-clusters` of
    /// every cluster of the registry (read concurrently, each through its context), tagged
    /// with the cluster.
    pub async fn rows(&self, events: bool) -> Result<Vec<crate::plan::ServiceStatus>, Failure> {
        if !self.global.all_clusters {
            let observed = self.observe(|r| r.pools().events(events)).await?;
            return Ok(crate::plan::analyze(&self.registry, &observed));
        }
        all_clusters::rows(self, events).await
    }
    /// Whether the output shows MetalLB's events (the wide table, JSON and YAML do).
    pub fn shows_events(&self) -> bool {
        matches!(
            self.global.output,
            Output::Wide | Output::Json | Output::Yaml
        )
    }
    /// `; `kubectl lbip apply -A --dry-run` shows the fix`, with the scope the rows need (the
    /// context's namespace, `-n`, or every namespace), or a note that apply fixes none.
    pub fn fix_hint(&self, rows: &[crate::plan::ServiceStatus]) -> String {
        let selected = (!self.global.all_namespaces)
            .then_some(self.global.namespace.as_deref())
            .flatten();
        match crate::plan::hints::apply_scope_for(rows, &self.conn.default_namespace, selected) {
            Some(scope) => format!(
                "`kubectl lbip apply{} --dry-run` shows the fix",
                scope.flags()
            ),
            None => {
                "none of them is something `kubectl lbip apply` changes (see the findings' hints)"
                    .to_string()
            }
        }
    }
    pub fn kube_options(global: &Global) -> KubeOptions {
        KubeOptions {
            kubeconfig: global.kubeconfig.clone(),
            context: global.context.clone(),
            cluster: global.cluster.clone(),
            user: global.user.clone(),
            request_timeout: global.request_timeout.filter(|d| !d.is_zero()),
            names: cluster::kubeconfig::FlagNames::KUBECTL,
        }
    }
}

/// The command line this process was run with, as the user would type it again
/// (`kubectl lbip apply -A --timeout 2m`, or `lbip cluster ...`), shell-quoted: what a failure
/// message tells the user to run to resume.
pub fn resume_command() -> String {
    let args: Vec<String> = std::env::args().collect();
    let program = args
        .first()
        .and_then(|a| std::path::Path::new(a).file_name())
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let head = if program.starts_with("kubectl-lbip") {
        "kubectl lbip".to_string()
    } else {
        program
    };
    std::iter::once(head)
        .chain(args.iter().skip(1).map(|a| shell_quote(a)))
        .collect::<Vec<_>>()
        .join(" ")
}

/// `a` as a POSIX shell word.
fn shell_quote(a: &str) -> String {
    let plain = !a.is_empty()
        && a.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./=:,@%+".contains(c));
    if plain {
        a.to_string()
    } else {
        format!("'{}'", a.replace('\'', "'\\''"))
    }
}

/// Invoked as `kubectl-lbip`.
pub fn main_as_plugin(args: Vec<OsString>) -> ExitCode {
    main_with_args(args)
}

/// Invoked as `kubectl-lbip` or `lbip cluster`; `args[0]` is the program name.
pub fn main_with_args(args: Vec<OsString>) -> ExitCode {
    let mut argv = args;
    if let Some(first) = argv.first_mut() {
        *first = OsString::from("kubectl lbip");
    }
    let plugin = match Plugin::try_parse_from(&argv) {
        Ok(p) => p,
        Err(e) => {
            let code = if e.use_stderr() {
                exit::ERROR
            } else {
                exit::OK
            };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    cluster::install_crypto_provider();
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(exit::ERROR);
        }
    };
    match runtime.block_on(run(plugin)) {
        Ok(code) => ExitCode::from(code),
        Err(Failure(message)) => {
            eprintln!("error: {message}");
            ExitCode::from(exit::ERROR)
        }
    }
}

async fn run(plugin: Plugin) -> Outcome {
    let global = plugin.global;
    if let Command::Version = plugin.command {
        return version::run(&global);
    }
    // The registry first: a broken registry is reported without touching the cluster.
    let registry = match plugin.command {
        Command::Import(_) => Registry::default(),
        _ => load_registry(&global)?,
    };
    let conn = cluster::connect(&Ctx::kube_options(&global)).await?;
    // With `clusters:`, the context says which cluster this is (every cluster at once with
    // --all-clusters, which reads each through its own context).
    let (view, cluster) = if global.all_clusters {
        if registry.clusters.is_empty() {
            return Err(Failure(
                "--all-clusters needs `clusters:` in the registry (name and kubeconfig context of each)".into(),
            ));
        }
        if !matches!(plugin.command, Command::Status(_) | Command::Check(_)) {
            return Err(Failure(
                "--all-clusters works with status and check (who-has searches every cluster anyway; apply acts on one cluster: pick it with --context)".into(),
            ));
        }
        (registry.clone(), None)
    } else {
        match registry.view_for_context(&conn.context) {
            Ok(Some((name, view))) => (view, Some(name)),
            Ok(None) => (registry.clone(), None),
            Err(why) => return Err(Failure(why)),
        }
    };
    let selector = match &global.selector {
        Some(text) => Some(LabelSelector::parse(text).map_err(Failure)?),
        None => None,
    };
    // Reads default to every namespace (like the old runbook's `kubectl get svc -A`);
    // mutating commands default to the context's namespace unless -A, like kubectl.
    let mutating = matches!(plugin.command, Command::Apply(_));
    let namespaces = match (&global.namespace, global.all_namespaces) {
        (_, true) => None,
        (Some(ns), false) => Some([ns.clone()].into()),
        (None, false) if mutating => Some([conn.default_namespace.clone()].into()),
        (None, false) => None,
    };
    let ctx = Ctx {
        global,
        registry: view,
        full: registry,
        cluster,
        conn,
        scope: Scope {
            namespaces,
            selector,
        },
    };
    match plugin.command {
        Command::Status(a) => status::run(&ctx, a).await,
        Command::Check(a) => check::run(&ctx, a).await,
        Command::WhoHas(a) => who_has::run(&ctx, a).await,
        Command::Apply(a) => apply::run(&ctx, a).await,
        Command::Reassign(a) => reassign::run(&ctx, a).await,
        Command::Doctor(a) => doctor::run(&ctx, a).await,
        Command::Import(a) => import::run(&ctx, a).await,
        Command::Version => version::run(&ctx.global),
    }
}

fn load_registry(global: &Global) -> Result<Registry, Failure> {
    let arg = RegistryArg {
        registry: global.registry.clone(),
    };
    let loaded = arg.load().map_err(|e| Failure(e.to_string()))?;
    loaded.require_valid().map_err(|e| Failure(e.to_string()))
}

/// Invoked as `kubectl_complete-lbip` by kubectl's completion.
pub fn complete(args: Vec<OsString>) -> ExitCode {
    complete::run(args)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kubectl_flags_are_accepted_after_the_subcommand() {
        let p = Plugin::try_parse_from([
            "kubectl lbip",
            "apply",
            "--context",
            "homelab",
            "-n",
            "mlflow",
            "-o",
            "wide",
            "--dry-run",
            "--timeout",
            "2m",
        ])
        .unwrap();
        assert_eq!(p.global.context.as_deref(), Some("homelab"));
        assert_eq!(p.global.namespace.as_deref(), Some("mlflow"));
        assert_eq!(p.global.output, Output::Wide);
        let Command::Apply(a) = p.command else {
            panic!()
        };
        assert!(a.flags.dry_run);
        assert_eq!(a.flags.timeout, Duration::from_secs(120));
    }
}
