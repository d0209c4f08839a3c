//! `state: pinned`: the cluster brought to the registry with `kubectl lbip apply`'s plan and
//! apply. In check mode the plan is computed and reported and nothing is sent but reads.

use super::args::ModuleArgs;
use super::cluster::{self, ServiceKey};
use super::result::ModuleResult;
use crate::cluster::{ApplyOptions, ObserveOptions};
use crate::diagnostic::Finding;
use crate::plan::{self, PlanOptions, ServiceStatus, Step};
use serde_json::json;

pub fn run(args: &ModuleArgs) -> ModuleResult {
    let (target, warnings, selected) = match cluster::prepare(args) {
        Ok(p) => p,
        Err(failed) => return *failed,
    };
    cluster::block_on(pin(args, &target, &selected)).with_findings(warnings)
}

/// One plan for the named Services (and the moves they need), or for everything in scope,
/// computed from one read and applied in order, exactly as `kubectl lbip apply` does.
async fn pin(args: &ModuleArgs, target: &cluster::Target, selected: &[ServiceKey]) -> ModuleResult {
    let registry = &target.registry;
    // Like `kubectl lbip apply`: see who holds an address in every namespace; no events.
    let read = ObserveOptions::new(cluster::scope(args), registry).planning();
    let apply_opts = ApplyOptions {
        timeout: args.timeout,
        conflict_retries: 3,
        style: registry.pin_style(),
        wait_for_last: args.wait,
        replans: 3,
    };

    let (conn, first) = match cluster::connect_and_observe(args, target, &read).await {
        Ok(c) => c,
        Err(failed) => return *failed,
    };
    let in_task = |ns: &str, name: &str| {
        selected.is_empty() || selected.iter().any(|(n, m)| n == ns && m == name)
    };
    let statuses: Vec<_> = plan::analyze(registry, &first)
        .into_iter()
        .filter(|s| first.scope.includes(&s.namespace) && in_task(&s.namespace, &s.name))
        .collect();
    let findings: Vec<Finding> = statuses
        .iter()
        .filter(|s| !s.is_ok())
        .flat_map(|s| s.findings.iter().cloned())
        .collect();

    let options = PlanOptions {
        only: (!selected.is_empty()).then(|| selected.iter().cloned().collect()),
        ..Default::default()
    };
    let plan = plan::plan(registry, &first, &options);
    let planned: Vec<Step> = plan.steps.clone();
    let blocked = plan.blocked.clone();
    let replanned_warning = |replans: &[crate::cluster::Replan]| -> Vec<String> {
        replans
            .iter()
            .map(|r| {
                format!(
                    "the cluster changed before {} {}: {}; the rest was planned again ({} step(s))",
                    r.at.action.as_str(),
                    r.at.key(),
                    r.reason,
                    r.steps.len()
                )
            })
            .collect()
    };
    let mut applied = Vec::new();
    let mut failure: Option<String> = None;
    let mut replans = Vec::new();
    let mut now = Vec::new();
    let mut blocked = blocked;
    if !args.check_mode && !plan.steps.is_empty() {
        let replanner = crate::cluster::Replanner {
            registry,
            options: &options,
        };
        let report =
            crate::cluster::apply(&conn, &first, &plan, &replanner, &apply_opts, &mut |_| {}).await;
        applied = report.applied;
        if !report.replans.is_empty() {
            blocked = report.blocked;
        }
        replans = report.replans;
        if let Some(f) = report.failed {
            let stands: Vec<String> = f
                .services
                .iter()
                .map(|s| {
                    format!(
                        "{}/{} has {}",
                        s.namespace,
                        s.name,
                        if s.assigned.is_empty() {
                            "no IP".to_string()
                        } else {
                            crate::metallb::format_ip_list(&s.assigned)
                        }
                    )
                })
                .collect();
            failure = Some(format!(
                "{} {} failed{}: {}{}; rerun the task to resume (it plans again from the cluster's current state)",
                f.step.action.as_str(),
                f.step.key(),
                if f.patched {
                    " after its patch was applied"
                } else {
                    ""
                },
                f.error,
                if stands.is_empty() {
                    String::new()
                } else {
                    format!("; now {}", stands.join(", "))
                }
            ));
            now = f.services;
        }
    }

    let patches: Vec<&Step> = planned.iter().filter(|s| !s.is_noop_patch()).collect();
    let changed = if args.check_mode {
        !patches.is_empty()
    } else {
        applied.iter().any(|a| !a.step.is_noop_patch())
    };
    let summaries = cluster::step_summaries(&planned);
    let mut result = match (&failure, blocked.is_empty()) {
        (Some(why), _) => ModuleResult::fail(format!(
            "pinning stopped: {why}{}",
            if applied.is_empty() {
                String::new()
            } else {
                format!(" ({} step(s) were applied before)", applied.len())
            }
        )),
        (None, false) => {
            let reasons: Vec<String> = blocked
                .iter()
                .map(|b| format!("{}/{}: {}", b.namespace, b.name, b.reason))
                .collect();
            ModuleResult::fail(format!(
                "{} Service(s) cannot be pinned: {}",
                blocked.len(),
                reasons.join("; ")
            ))
        }
        (None, true) if patches.is_empty() => ModuleResult::ok(nothing_to_change(&statuses)),
        (None, true) if args.check_mode => ModuleResult::ok(format!(
            "check mode: {} step(s) would change the cluster, nothing was changed: {}",
            patches.len(),
            summaries.join(", ")
        )),
        (None, true) => {
            // What was applied, which after a replan is not what was planned.
            let done: Vec<Step> = applied.iter().map(|a| a.step.clone()).collect();
            let done_summaries = cluster::step_summaries(&done);
            ModuleResult::ok(format!(
                "applied {} step(s): {}",
                done_summaries.len(),
                done_summaries.join(", ")
            ))
        }
    };
    result.changed = changed;
    result.findings = findings;
    result.warnings.extend(plan.warnings.iter().cloned());
    result.warnings.extend(replanned_warning(&replans));
    result
        .warnings
        .extend(crate::plan::hints::pools_unknown(&first));
    result.steps = planned
        .iter()
        .map(|s| serde_json::to_value(s).unwrap_or_default())
        .collect();
    if args.diff {
        let shown: Vec<Step> = if args.check_mode {
            planned.clone()
        } else {
            applied.iter().map(|a| a.step.clone()).collect()
        };
        result.diff = cluster::plan_diff(&shown, &first);
    }
    result
        .with(
            "blocked",
            serde_json::to_value(&blocked).unwrap_or_default(),
        )
        .with("applied", json!(applied.len()))
        .with(
            "replans",
            serde_json::to_value(&replans).unwrap_or_default(),
        )
        .with("now", serde_json::to_value(&now).unwrap_or_default())
        .with(
            "status",
            serde_json::to_value(&statuses).unwrap_or_default(),
        )
}

/// The message when the plan has nothing to patch. Some Services may still not be ok in ways
/// pinning cannot fix (a registry entry whose Service is not deployed yet, a LoadBalancer the
/// registry does not know): say which, without failing the task.
fn nothing_to_change(statuses: &[ServiceStatus]) -> String {
    let not_ok: Vec<String> = statuses
        .iter()
        .filter(|s| !s.is_ok())
        .map(|s| format!("{} ({})", s.key(), s.state_text()))
        .collect();
    if not_ok.is_empty() {
        return format!("{} Service(s) already match the registry", statuses.len());
    }
    const SHOWN: usize = 3;
    let more = match not_ok.len().saturating_sub(SHOWN) {
        0 => String::new(),
        n => format!(" and {n} more (see status)"),
    };
    format!(
        "nothing to change: {} of {} Service(s) match the registry; pinning cannot fix {}{more}",
        statuses.len() - not_ok.len(),
        statuses.len(),
        not_ok[..not_ok.len().min(SHOWN)].join(", ")
    )
}
