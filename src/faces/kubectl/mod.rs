//! `kubectl lbip ...` (also `lbip cluster ...`): the face for people who run the cluster.
//!
//! kubectl passes no flags to plugins, so kubectl's own connection flags are parsed here.
//! Data goes to stdout, diagnostics to stderr. One file per subcommand; tables and diffs
//! are drawn in `render`, apart from cluster I/O.

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

/// A kubectl-style duration: `90`, `90s`, `2m`, `1h`, `1m30s`, `500ms`.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let t = text.trim();
    if let Ok(secs) = t.parse::<u64>() {
        return Ok(Duration::from_secs(secs));
    }
    let mut total = Duration::ZERO;
    let mut rest = t;
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !c.is_ascii_digit() && c != '.')
            .unwrap_or(rest.len());
        let (num, after) = rest.split_at(digits);
        let unit_len = after
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(after.len());
        let (unit, next) = after.split_at(unit_len);
        let n: f64 = num
            .parse()
            .map_err(|_| format!("`{text}` is not a duration (try 60s, 2m, 1h)"))?;
        let secs = match unit {
            "ms" => n / 1000.0,
            "s" => n,
            "m" => n * 60.0,
            "h" => n * 3600.0,
            _ => return Err(format!("`{text}` is not a duration (try 60s, 2m, 1h)")),
        };
        total += Duration::from_secs_f64(secs);
        rest = next;
    }
    Ok(total)
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
    pub registry: Registry,
    pub conn: Connection,
    pub scope: Scope,
}

impl Ctx {
    /// Reads the cluster for `scope` (one LIST per kind).
    pub async fn observe(
        &self,
        all_services: bool,
        environment: bool,
    ) -> Result<Observed, Failure> {
        let opts = ObserveOptions {
            scope: self.scope.clone(),
            all_services,
            events: true,
            environment,
        };
        Ok(cluster::observe(&self.conn, &opts).await?)
    }
    pub fn kube_options(global: &Global) -> KubeOptions {
        KubeOptions {
            kubeconfig: global.kubeconfig.clone(),
            context: global.context.clone(),
            cluster: global.cluster.clone(),
            user: global.user.clone(),
            request_timeout: global.request_timeout.filter(|d| !d.is_zero()),
        }
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
        registry,
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
    fn durations_read_like_kubectls() {
        assert_eq!(parse_duration("60s"), Ok(Duration::from_secs(60)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("1m30s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("45"), Ok(Duration::from_secs(45)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert!(parse_duration("soon").is_err());
        assert!(parse_duration("5d").is_err());
    }

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
