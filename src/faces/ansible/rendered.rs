//! `state: rendered`: a manifest file post-rendered to `dest` by the post-renderer's own
//! rewrite (`manifest::post_render`), for manifests Ansible applies itself. `dest` is written
//! atomically (`atomic_file`: a symlink is followed, the file it points to replaced) and only
//! when its content changes; check mode writes nothing.

use super::args::ModuleArgs;
use super::located_line;
use super::result::{Diff, ModuleResult};
use super::valid_registry;
use crate::manifest::{self, Options};
use serde_json::json;

pub fn run(args: &ModuleArgs) -> ModuleResult {
    let (Some(src), Some(dest)) = (&args.src, &args.dest) else {
        // args::parse refuses state=rendered without both.
        return ModuleResult::fail("state=rendered needs options src and dest");
    };
    let (registry, warnings, _path) = match valid_registry(args) {
        Ok(r) => r,
        Err(failed) => return *failed,
    };
    // Only the entries of the cluster the manifests go to count.
    let registry = match registry.view_named(
        args.cluster.as_deref(),
        "state=rendered needs to know which one: set option cluster to the cluster the manifests go to",
    ) {
        Ok(view) => view,
        Err(msg) => return ModuleResult::fail(msg),
    };
    let input = match std::fs::read(src) {
        Ok(b) => b,
        Err(e) => return ModuleResult::fail(format!("cannot read src {}: {e}", src.display())),
    };
    let opts = Options {
        namespace: args.namespace.clone(),
        unpinned: args.unpinned,
    };
    let outcome = match manifest::post_render(&input, &registry, &opts) {
        Ok(o) => o,
        Err(e) => {
            let shown = src.display().to_string();
            let first = e
                .problems
                .first()
                .map(|f| located_line(f, &shown))
                .unwrap_or_default();
            let more = match e.problems.len() {
                0 | 1 => String::new(),
                n => format!(" (and {} more problem(s), in findings)", n - 1),
            };
            return ModuleResult::fail(format!(
                "lbip refused to post-render {shown}; {} was not written: {first}{more}",
                dest.display()
            ))
            .with_findings(e.problems)
            .with_findings(warnings);
        }
    };
    let output = outcome.to_bytes(&input);
    let current = std::fs::read(dest).ok();
    let changed = current.as_deref() != Some(output.as_slice());
    let changes: Vec<String> = outcome.changes.iter().map(ToString::to_string).collect();

    if changed
        && !args.check_mode
        && let Err(e) = crate::atomic_file::write(dest, &output)
    {
        return ModuleResult::fail(format!("cannot write dest {}: {e}", dest.display()));
    }
    let (s, d) = (src.display(), dest.display());
    let what = if changes.is_empty() {
        "no Service needed a change".to_string()
    } else {
        format!(
            "{} Service change(s): {}",
            changes.len(),
            changes.join("; ")
        )
    };
    let msg = match (changed, args.check_mode) {
        (false, _) => format!("{d} is up to date ({s} post-rendered: {what})"),
        (true, true) => {
            format!("check mode: {d} would be written from {s}, nothing was written: {what}")
        }
        (true, false) => format!("wrote {d} from {s}: {what}"),
    };
    let mut result = ModuleResult::ok(msg)
        .with_findings(outcome.findings.clone())
        .with_findings(warnings)
        .with("dest", d.to_string())
        .with("changes", json!(changes))
        .with("unpinned", json!(outcome.unpinned));
    result.changed = changed;
    if args.diff && changed {
        result.diff = Some(Diff {
            before: current
                .map(|b| String::from_utf8_lossy(&b).into_owned())
                .unwrap_or_default(),
            after: String::from_utf8_lossy(&output).into_owned(),
            before_header: d.to_string(),
            after_header: format!("{d} (post-rendered from {s})"),
        });
    }
    result
}
