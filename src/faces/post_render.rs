//! `lbip post-render`: the Helm post-renderer face.
//!
//! Helm pipes the rendered manifests in on stdin and takes stdout as the release manifest.
//! This face reads stdin whole, calls [`crate::manifest::post_render`], and writes the result
//! with as few writes as possible (unchanged documents are slices of the input buffer).
//! Any error means nothing on stdout and a non-zero exit, so Helm never applies a half-pinned
//! stream.
//!
//! Helm 4 runs post-renderer plugins with stderr captured and never shown, so when
//! `HELM_PLUGIN_NAME` is set every message also goes to the controlling terminal (when one
//! can be opened) and is appended to a log file (see [`log_path`]).

use crate::diagnostic::render_line;
use crate::faces::common::RegistryArg;
use crate::faces::exit;
use crate::faces::helm_parent::{self, HelmRun, Parent};
use crate::manifest::{self, Options, Unpinned};
use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub registry: RegistryArg,
    /// Namespace of Services without metadata.namespace (the release namespace)
    /// [default: the namespace of the helm running lbip (Linux), else $HELM_NAMESPACE]
    #[arg(short = 'n', long, value_name = "NS")]
    pub namespace: Option<String>,
    /// What to do with a LoadBalancer Service that is not in the registry
    #[arg(long, value_enum, default_value_t = UnpinnedArg::Fail, value_name = "POLICY")]
    pub unpinned: UnpinnedArg,
    /// Write nothing; exit 0 when the stream is fully pinned and nothing would change, else
    /// 1, listing what would change on stderr
    #[arg(long)]
    pub check: bool,
    /// The registry cluster the release goes to (its entries are pinned) [default: the one
    /// whose context the helm running lbip uses, or the registry's only cluster]
    #[arg(long, value_name = "NAME")]
    pub cluster: Option<String>,
}

/// `--unpinned` (the core's [`Unpinned`], with help texts for the command line).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum UnpinnedArg {
    /// Stop: name every such Service and suggest a free IP for each (the default)
    Fail,
    /// Pass it through with a warning
    Warn,
    /// Pass it through silently
    Allow,
}

impl From<UnpinnedArg> for Unpinned {
    fn from(a: UnpinnedArg) -> Unpinned {
        match a {
            UnpinnedArg::Fail => Unpinned::Fail,
            UnpinnedArg::Warn => Unpinned::Warn,
            UnpinnedArg::Allow => Unpinned::Allow,
        }
    }
}

/// The variable Helm 4 sets for a plugin; its presence means stderr is never shown.
pub const HELM_PLUGIN_ENV: &str = "HELM_PLUGIN_NAME";
/// Overrides where the post-render log goes.
pub const LOG_ENV: &str = "LBIP_LOG";

pub fn run(args: Args) -> ExitCode {
    let reporter = Reporter::from_env();
    let mut input = Vec::with_capacity(stdin_size_hint());
    if let Err(e) = std::io::stdin().lock().read_to_end(&mut input) {
        reporter.error(&format!("error: cannot read the manifests from stdin: {e}"));
        return ExitCode::from(exit::ERROR);
    }
    let registry = match args
        .registry
        .load()
        .map_err(|e| e.to_string())
        .and_then(|l| l.require_valid().map_err(|e| e.to_string()))
    {
        Ok(r) => r,
        Err(e) => {
            reporter.error(&format!("error: lbip post-render: {e}"));
            return ExitCode::from(exit::ERROR);
        }
    };
    let parent = helm_parent::inspect();
    if input.is_empty()
        && let Parent::Helm(HelmRun {
            output_dir: Some(dir),
            ..
        }) = &parent
    {
        reporter.error(&format!(
            "error: lbip post-render got no manifests: `helm template --output-dir {dir}` (Helm 3) \
             writes the templates to {dir} without post-rendering them (helm#8520), so those \
             files would not be pinned\n  = help: drop --output-dir and redirect stdout \
             (`helm template ... --post-renderer lbip ... > out.yaml`), or use Helm 4, which \
             post-renders before writing"
        ));
        return ExitCode::from(exit::ERROR);
    }
    // With `clusters:`, only the entries of the cluster the release goes to count.
    let helm_cluster = match &parent {
        Parent::Helm(HelmRun {
            context: Some(ctx), ..
        }) if args.cluster.is_none() => registry
            .cluster_for_context(ctx)
            .map(|c| c.name().to_string()),
        _ => None,
    };
    let registry = match registry.view_named(
        args.cluster.as_deref().or(helm_cluster.as_deref()),
        "post-render needs to know which one the release goes to: pass --post-renderer-args --cluster=NAME, or install with helm's --kube-context set to a registry cluster's context",
    ) {
        Ok(view) => view,
        Err(e) => {
            reporter.error(&format!(
                "lbip post-render refused the manifests (nothing was written):\nerror: {e}"
            ));
            return ExitCode::from(exit::ERROR);
        }
    };
    let (namespace, namespace_note) = match release_namespace(args.namespace, &parent) {
        Ok(found) => found,
        Err(e) => {
            reporter.error(&format!(
                "lbip post-render refused the manifests (nothing was written):\nerror: {e}"
            ));
            return ExitCode::from(exit::ERROR);
        }
    };
    let opts = Options {
        namespace,
        unpinned: args.unpinned.into(),
    };
    let outcome = match manifest::post_render(&input, &registry, &opts) {
        Ok(o) => o,
        Err(e) => {
            let note = namespace_note
                .map(|n| format!("\nnote: {n}"))
                .unwrap_or_default();
            reporter.error(&format!(
                "lbip post-render refused the manifests (nothing was written):\n{e}{note}"
            ));
            return ExitCode::from(exit::ERROR);
        }
    };
    let warnings: Vec<String> = outcome.findings.iter().map(render_line).collect();
    if !warnings.is_empty() {
        reporter.warn(&warnings.join("\n"));
    }
    if args.check {
        if outcome.fully_pinned() {
            return ExitCode::from(exit::OK);
        }
        let mut lines: Vec<String> = outcome
            .changes
            .iter()
            .map(|c| format!("would change: {c}"))
            .collect();
        lines.extend(
            outcome.unpinned.iter().map(|s| {
                format!("not pinned: Service {s} is a LoadBalancer with no registry entry")
            }),
        );
        reporter.warn(&lines.join("\n"));
        return ExitCode::from(exit::FINDINGS);
    }
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    if let Err(e) = outcome
        .write_to(&input, &mut out)
        .and_then(|()| out.flush())
    {
        reporter.error(&format!("error: cannot write the manifests to stdout: {e}"));
        return ExitCode::from(exit::ERROR);
    }
    ExitCode::from(exit::OK)
}

/// The release namespace, for Services that do not name theirs: `--namespace`, else the
/// namespace of the Helm process running lbip (see [`helm_parent`]), else `$HELM_NAMESPACE`
/// when lbip does not run under Helm. Returns it with, when there is none, why (for the
/// refusal message). A `--namespace` that contradicts Helm's own is an error: the Services
/// would be created in one namespace and pinned as if they were in the other.
fn release_namespace(
    explicit: Option<String>,
    parent: &Parent,
) -> Result<(Option<String>, Option<String>), String> {
    let explicit = explicit.filter(|n| !n.is_empty());
    match (explicit, parent) {
        (
            Some(ns),
            Parent::Helm(HelmRun {
                namespace: Ok((helm_ns, source)),
                ..
            }),
        ) if ns != *helm_ns => Err(format!(
            "--namespace={ns}, but helm installs this release into `{helm_ns}` (from \
                 {source}); drop --namespace (lbip reads helm's) or make them agree"
        )),
        (Some(ns), _) => Ok((Some(ns), None)),
        (None, Parent::Helm(HelmRun { namespace, .. })) => match namespace {
            Ok((ns, _)) => Ok((Some(ns.clone()), None)),
            Err(why) => Ok((
                None,
                Some(format!(
                    "lbip could not learn the release namespace from helm: {why}"
                )),
            )),
        },
        (None, Parent::Other(why)) => {
            let env = std::env::var("HELM_NAMESPACE")
                .ok()
                .filter(|n| !n.is_empty());
            let note = env.is_none().then(|| {
                format!("no --namespace, no $HELM_NAMESPACE, and not run by helm ({why})")
            });
            Ok((env, note))
        }
    }
}

/// The size of stdin when it is a regular file (`lbip post-render < big.yaml`), so the input
/// buffer is allocated once instead of growing by doubling; 1 MiB for pipes (what Helm
/// gives), which covers most charts in one allocation.
fn stdin_size_hint() -> usize {
    #[cfg(unix)]
    {
        use std::os::fd::AsFd;
        if let Ok(fd) = std::io::stdin().as_fd().try_clone_to_owned() {
            let file = std::fs::File::from(fd);
            if let Ok(meta) = file.metadata()
                && meta.is_file()
            {
                return meta.len() as usize + 1;
            }
        }
    }
    1 << 20
}

/// Where messages go: stderr always; under Helm 4 also the terminal and the log file.
struct Reporter {
    plugin: bool,
}

impl Reporter {
    fn from_env() -> Self {
        Reporter {
            plugin: std::env::var_os(HELM_PLUGIN_ENV).is_some_and(|v| !v.is_empty()),
        }
    }

    fn error(&self, message: &str) {
        self.emit(message, true);
    }

    fn warn(&self, message: &str) {
        self.emit(message, false);
    }

    fn emit(&self, message: &str, is_error: bool) {
        if !self.plugin {
            eprintln!("{message}");
            return;
        }
        let mut shown = format!("{message}\n");
        if let Some(path) = log_path()
            && append_log(&path, message).is_ok()
            && is_error
        {
            shown.push_str(&format!("(also logged to {})\n", path.display()));
        }
        eprint!("{shown}");
        // Helm 4 hides stderr; the controlling terminal still reaches the person at it.
        if let Ok(mut tty) = std::fs::OpenOptions::new().write(true).open("/dev/tty") {
            let _ = tty.write_all(shown.as_bytes());
        }
    }
}

/// The post-render log: `$LBIP_LOG`, else `$XDG_STATE_HOME/lbip/post-render.log`, else
/// `$HOME/.local/state/lbip/post-render.log`; `None` when none of them is set.
pub fn log_path() -> Option<PathBuf> {
    let var = |k: &str| {
        std::env::var_os(k)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    if let Some(p) = var(LOG_ENV) {
        return Some(p);
    }
    let state = var("XDG_STATE_HOME").or_else(|| var("HOME").map(|h| h.join(".local/state")))?;
    Some(state.join("lbip").join("post-render.log"))
}

fn append_log(path: &std::path::Path, message: &str) -> std::io::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)?;
    let plugin = std::env::var(HELM_PLUGIN_ENV).unwrap_or_default();
    writeln!(f, "--- {} (helm plugin {plugin})\n{message}", utc_now())
}

/// The current time as `YYYY-MM-DDTHH:MM:SSZ` (no date crate needed for a log stamp).
fn utc_now() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let (days, rem) = (secs / 86_400, secs % 86_400);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}
