//! `state: linted`: the registry checked like `lbip lint` checks it, with the same findings.

use super::args::ModuleArgs;
use super::result::ModuleResult;
use super::{located_line, read_registry};
use crate::diagnostic::{Severity, has_errors, render_human};

pub fn run(args: &ModuleArgs) -> ModuleResult {
    let loaded = match read_registry(args) {
        Ok(l) => l,
        Err(failed) => return *failed,
    };
    let count = |s: Severity| loaded.findings.iter().filter(|f| f.severity == s).count();
    let (errors, warnings) = (count(Severity::Error), count(Severity::Warning));
    // The compiler-style report `lbip lint` prints, for `-v` and `register:` users: problems
    // quoted with their line, then the notes (free addresses) one line each.
    let (notes, problems): (Vec<_>, Vec<_>) = loaded
        .findings
        .iter()
        .cloned()
        .partition(|f| f.severity == Severity::Info);
    let report = render_human(&problems, &loaded.path, Some(&loaded.source))
        + &render_human(&notes, &loaded.path, None);
    let entries = loaded.registry.services.len();
    let result = if has_errors(&loaded.findings) {
        let first = loaded
            .findings
            .iter()
            .find(|f| f.is_error())
            .map(|f| located_line(f, &loaded.path))
            .unwrap_or_default();
        ModuleResult::fail(format!(
            "the registry {} has {errors} error(s) and {warnings} warning(s); first: {first}",
            loaded.path
        ))
    } else {
        ModuleResult::ok(format!(
            "the registry {} is valid: {entries} service(s), {warnings} warning(s)",
            loaded.path
        ))
    };
    result
        .with_findings(loaded.findings)
        .with("errors", errors)
        .with("stdout", report)
}
