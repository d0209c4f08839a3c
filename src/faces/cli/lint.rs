//! `lbip lint`: check the registry like a compiler.
//!
//! The report is the command's output, so it goes to stdout (errors and warnings first,
//! quoted with a caret; then the free-address notes; then a summary line). A registry that
//! cannot be read or parsed is an error of the command itself: stderr, exit 2.

use crate::diagnostic::{Finding, Severity, has_errors, render_human};
use crate::faces::common::RegistryArg;
use crate::faces::exit;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// `path:line:col: error: message`, the line quoted with a caret, `= help: hint`
    Human,
    /// A JSON array of {severity, code, message, line, column, id, hint}
    Json,
}

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub registry: RegistryArg,
    /// Output format
    #[arg(long, value_enum, default_value_t = Format::Human)]
    pub format: Format,
}

pub fn run(args: Args) -> anyhow::Result<u8> {
    let loaded = match args.registry.load() {
        Ok(l) => l,
        Err(e) => {
            eprintln!("{e}");
            return Ok(exit::ERROR);
        }
    };
    let out = match args.format {
        Format::Json => serde_json::to_string_pretty(&loaded.findings)? + "\n",
        Format::Human => human(&loaded.findings, &loaded.path, &loaded.source),
    };
    print!("{out}");
    Ok(if has_errors(&loaded.findings) {
        exit::FINDINGS
    } else {
        exit::OK
    })
}

/// Problems quoted with their line, then one line per note, then the summary.
fn human(findings: &[Finding], path: &str, source: &str) -> String {
    let (notes, problems): (Vec<Finding>, Vec<Finding>) = findings
        .iter()
        .cloned()
        .partition(|f| f.severity == Severity::Info);
    let mut out = render_human(&problems, path, Some(source));
    out.push_str(&render_human(&notes, path, None));
    let count = |s: Severity| problems.iter().filter(|f| f.severity == s).count();
    let plural = |n: usize, word: &str| format!("{n} {word}{}", if n == 1 { "" } else { "s" });
    out.push_str(&format!(
        "{path}: {}, {}\n",
        plural(count(Severity::Error), "error"),
        plural(count(Severity::Warning), "warning")
    ));
    out
}
