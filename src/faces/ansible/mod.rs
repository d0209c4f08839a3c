//! The Ansible module face.
//!
//! Ansible runs a compiled module as `<tmp>/AnsiballZ_lbip <tmp>/args`: one argument, a flat
//! JSON args file (task options plus `_ansible_*` keys). The module answers with exactly one
//! JSON object on stdout; Ansible ignores the exit code when stdout is JSON. Ansible does no
//! option checking and cannot know whether a binary supports check mode, so this face
//! validates its options itself (`args`) and honours `_ansible_check_mode` in every state.
//!
//! Each state is one file and only calls the library: `linted` and `facts` read the registry,
//! `pinned` and `checked` run the cluster plan of `kubectl lbip apply/check`, `rendered` runs
//! the post-renderer's rewrite on a file.

pub mod args;
mod checked;
mod cluster;
mod facts;
mod linted;
mod pinned;
mod rendered;
pub mod result;
mod secrets;

use crate::diagnostic::{Finding, render_line};
use crate::registry::{self, Loaded};
use args::{ModuleArgs, State};
use result::ModuleResult;
use std::ffi::OsString;
use std::io::Write;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};

/// Largest args file considered: Ansible's are a few hundred bytes; a big file named like a
/// subcommand is never read whole just to find out it is not one.
const MAX_ARGS_FILE: u64 = 1 << 20;

/// True when `lbip` is invoked with one argument that names an Ansible args file: the
/// argument is not a word of the command line (`is_cli_word`: a subcommand or a flag), it is
/// a regular file of at most 1 MiB, and it holds a JSON object with Ansible's `_ansible_*`
/// keys (at the top, or inside the `ANSIBLE_MODULE_ARGS` wrapper of Python modules). So
/// `lbip lint` never opens a file called `lint`, and a stray `status` file in the working
/// directory is never mistaken for a task. (Ansible itself runs the binary as
/// `<tmp>/AnsiballZ_lbip <tmp>/args`, which `faces::detect` recognises by its name alone.)
pub fn is_args_file_invocation(
    args: &[OsString],
    is_cli_word: impl Fn(&std::ffi::OsStr) -> bool,
) -> bool {
    let [_, arg] = args else {
        return false;
    };
    if is_cli_word(arg) {
        return false;
    }
    let path = std::path::Path::new(arg);
    let Ok(meta) = std::fs::metadata(path) else {
        return false;
    };
    if !meta.is_file() || meta.len() > MAX_ARGS_FILE {
        return false;
    }
    std::fs::read_to_string(path)
        .ok()
        .and_then(|text| serde_json::from_str::<serde_json::Value>(&text).ok())
        .is_some_and(|v| has_ansible_keys(&v))
}

/// A JSON object with an `_ansible_*` key, directly or under `ANSIBLE_MODULE_ARGS`.
fn has_ansible_keys(v: &serde_json::Value) -> bool {
    let Some(map) = v.as_object() else {
        return false;
    };
    map.keys().any(|k| k.starts_with("_ansible_"))
        || map
            .get("ANSIBLE_MODULE_ARGS")
            .and_then(|inner| inner.as_object())
            .is_some_and(|inner| inner.keys().any(|k| k.starts_with("_ansible_")))
}

/// Runs the module: reads the args file named by `args[1]`, prints one JSON result.
pub fn main(args: Vec<OsString>) -> ExitCode {
    guarded(|| run(&args))
}

/// Runs a module body and prints its result: exactly one JSON object on stdout, also when
/// the body panics (on this thread or another).
pub fn guarded(body: impl FnOnce() -> ModuleResult + std::panic::UnwindSafe) -> ExitCode {
    install_panic_hook();
    let result = std::panic::catch_unwind(body)
        // The hook has already printed the failed result; this one is not printed.
        .unwrap_or_else(|_| ModuleResult::fail("lbip panicked"));
    emit(&result.to_json());
    // Like a Python module's fail_json; Ansible reads the JSON and ignores the code.
    ExitCode::from(if result.failed {
        crate::faces::exit::FINDINGS
    } else {
        crate::faces::exit::OK
    })
}

/// Set once the one JSON object has been printed: nothing may follow it.
static EMITTED: AtomicBool = AtomicBool::new(false);

/// Prints `json` on stdout unless a result was printed already (by the panic hook).
fn emit(json: &str) {
    if EMITTED.swap(true, Ordering::SeqCst) {
        return;
    }
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{json}");
    let _ = out.flush();
}

/// A panic (ours or a dependency's, on any thread) still yields a valid failed result, so
/// Ansible shows "lbip panicked: ..." instead of "Module result deserialization failed".
fn install_panic_hook() {
    std::panic::set_hook(Box::new(|info| {
        let what = info
            .payload()
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown cause".to_string());
        let at = info
            .location()
            .map(|l| format!(" at {}:{}", l.file(), l.line()))
            .unwrap_or_default();
        let result = ModuleResult::fail(format!(
            "lbip panicked{at}: {what} (this is a bug in lbip; please report it)"
        ));
        emit(&result.to_json());
    }));
}

fn run(argv: &[OsString]) -> ModuleResult {
    let Some(path) = argv.get(1) else {
        return ModuleResult::fail(
            "lbip runs as an Ansible module with one argument, the JSON args file; \
             use it from a playbook (library/lbip) or run `lbip --help` for the CLI",
        );
    };
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) => {
            return ModuleResult::fail(format!(
                "cannot read the args file {}: {e}",
                std::path::Path::new(path).display()
            ));
        }
    };
    let args = match args::parse(&text, args::registry_from_env()) {
        Ok(a) => a,
        Err(msg) => return ModuleResult::fail(msg),
    };
    let mut result = dispatch(&args);
    if args.state.uses_cluster() {
        result.redact = secrets::kubeconfig_secrets(&args);
    }
    for option in &args.unused {
        result.warnings.push(format!(
            "option {option} is not used with state={}",
            args.state.as_str()
        ));
    }
    result
}

fn dispatch(args: &ModuleArgs) -> ModuleResult {
    match args.state {
        State::Linted => linted::run(args),
        State::Facts => facts::run(args),
        State::Pinned => pinned::run(args),
        State::Checked => checked::run(args),
        State::Rendered => rendered::run(args),
    }
}

/// `path:line:col: error: message (hint) [code]`: a finding as one line that still says where.
pub(crate) fn located_line(f: &Finding, path: &str) -> String {
    let at = match (f.line, f.column) {
        (Some(l), Some(c)) => format!("{path}:{l}:{c}: "),
        _ => format!("{path}: "),
    };
    format!("{at}{} [{}]", render_line(f), f.code)
}

/// Reads and lints the registry; a registry that cannot be read is a failed result.
fn read_registry(args: &ModuleArgs) -> Result<Loaded, Box<ModuleResult>> {
    registry::load_path(&args.registry).map_err(|e| Box::new(ModuleResult::fail(e.to_string())))
}

/// The registry, refused (like every face refuses it) when lint finds errors. The Ok side
/// carries the registry's warnings for the result.
pub(super) fn valid_registry(
    args: &ModuleArgs,
) -> Result<(registry::Registry, Vec<Finding>, String), Box<ModuleResult>> {
    let loaded = read_registry(args)?;
    let path = loaded.path.clone();
    let warnings: Vec<Finding> = loaded
        .findings
        .iter()
        // Lint's notes (free addresses) belong to state=linted, not to every task.
        .filter(|f| f.severity == crate::diagnostic::Severity::Warning)
        .cloned()
        .collect();
    match loaded.require_valid() {
        Ok(registry) => Ok((registry, warnings, path)),
        Err(invalid) => {
            let first = invalid
                .errors
                .first()
                .map(|f| format!(": {}", located_line(f, &invalid.path)))
                .unwrap_or_default();
            Err(Box::new(ModuleResult::fail(format!(
                "the registry {} has {} error(s); fix them first (state=linted or `lbip lint -r {}` shows them){first}",
                invalid.path,
                invalid.errors.len(),
                invalid.path
            ))
            .with_findings(invalid.errors)
            .with("stdout", invalid.rendered)))
        }
    }
}
