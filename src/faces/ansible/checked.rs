//! `state: checked`: drift reported like `kubectl lbip check`, from the same analysis.
//! Read-only: it never reports `changed` (drift is a finding, not a change), and check mode
//! changes nothing here either.

use super::args::ModuleArgs;
use super::cluster::{self, ServiceKey};
use super::result::ModuleResult;
use crate::cluster::ObserveOptions;
use crate::diagnostic::Finding;
use crate::plan::{self, ServiceStatus};

pub fn run(args: &ModuleArgs) -> ModuleResult {
    let (target, warnings, selected) = match cluster::prepare(args) {
        Ok(p) => p,
        Err(failed) => return *failed,
    };
    cluster::block_on(check(args, &target, &selected)).with_findings(warnings)
}

async fn check(
    args: &ModuleArgs,
    target: &cluster::Target,
    selected: &[ServiceKey],
) -> ModuleResult {
    let registry = &target.registry;
    // The same reads as `kubectl lbip check`.
    let read = ObserveOptions::new(cluster::scope(args), registry)
        .pools()
        .events(true);
    let observed = match cluster::connect_and_observe(args, target, &read).await {
        Ok((_conn, observed)) => observed,
        Err(failed) => return *failed,
    };
    let rows: Vec<ServiceStatus> = plan::analyze(registry, &observed)
        .into_iter()
        .filter(|s| {
            selected.is_empty()
                || selected
                    .iter()
                    .any(|(n, m)| *n == s.namespace && *m == s.name)
        })
        .collect();
    let problems: Vec<&ServiceStatus> = rows.iter().filter(|r| !r.is_ok()).collect();
    let findings: Vec<Finding> = problems
        .iter()
        .flat_map(|r| r.findings.iter().cloned())
        .collect();
    let mut result = if problems.is_empty() {
        ModuleResult::ok(format!("ok: {} Service(s) match the registry", rows.len()))
    } else {
        let listed: Vec<String> = problems
            .iter()
            .map(|r| match r.findings.first() {
                Some(f) => format!("{} ({}): {}", r.key(), r.state_text(), f.message),
                None => format!("{} ({})", r.key(), r.state_text()),
            })
            .collect();
        // One readable line: the first few problems; every finding is in `findings`.
        const SHOWN: usize = 3;
        let more = match listed.len().saturating_sub(SHOWN) {
            0 => String::new(),
            n => format!("; and {n} more (see findings)"),
        };
        let msg = format!(
            "{} of {} Service(s) are not ok: {}{more}; state=pinned (or `kubectl lbip apply`) fixes it",
            problems.len(),
            rows.len(),
            listed[..listed.len().min(SHOWN)].join("; ")
        );
        if args.fail_on_drift {
            ModuleResult::fail(msg)
        } else {
            // Reporting drift changes nothing: `changed` stays false (the drift is in `msg`,
            // `drift` and `findings`, and a warning makes it visible in the play output).
            ModuleResult::ok(msg.clone()).warn(format!("drift: {msg}"))
        }
    };
    result.findings = findings;
    result
        .warnings
        .extend(crate::plan::hints::pools_unknown(&observed));
    let drift = problems.len();
    // The per-Service rows are for `register:` users; a failed task shows findings instead,
    // which keeps Ansible's failure output readable.
    if !result.failed {
        result = result.with("status", serde_json::to_value(&rows).unwrap_or_default());
    }
    result.with("drift", drift)
}
