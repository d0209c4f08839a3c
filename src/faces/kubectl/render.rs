//! Presentation only: tables, plan diffs, findings and apply reports as text. No cluster
//! I/O here, so what a user reads can be tested from plain data.

use super::Output;
use crate::cluster::ApplyReport;
use crate::diagnostic::Finding;
use crate::metallb;
use crate::plan::{Observed, Plan, ServiceStatus, Step};
use serde::Serialize;
use std::net::IpAddr;

/// Columns padded to the widest cell, separated by three spaces, like `kubectl get`.
pub fn table(headers: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.len()).collect();
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            widths[i] = widths[i].max(cell.chars().count());
        }
    }
    let mut out = String::new();
    let header_row: Vec<String> = headers.iter().map(|h| h.to_string()).collect();
    for row in std::iter::once(&header_row).chain(rows) {
        let last = row.len() - 1;
        let line: Vec<String> = row
            .iter()
            .enumerate()
            .map(|(i, c)| {
                if i == last {
                    c.clone()
                } else {
                    format!("{c:<w$}", w = widths[i])
                }
            })
            .collect();
        out.push_str(line.join("   ").trim_end());
        out.push('\n');
    }
    out
}

pub fn ips(list: &[IpAddr], empty: &str) -> String {
    if list.is_empty() {
        empty.to_string()
    } else {
        metallb::format_ip_list(list)
    }
}

fn or_none(v: &Option<String>) -> String {
    v.clone().unwrap_or_else(|| "<none>".into())
}

/// The status table (`-o wide` adds HOSTNAME, URL, POOL and LAST-EVENT).
pub fn status_table(rows: &[ServiceStatus], wide: bool) -> String {
    // Rows of several clusters (`--all-clusters`) say which cluster each is.
    let clusters = rows.iter().any(|r| r.cluster.is_some());
    let mut headers = if clusters {
        vec!["CLUSTER"]
    } else {
        Vec::new()
    };
    headers.extend([
        "NAMESPACE",
        "NAME",
        "REGISTRY",
        "REQUESTED",
        "ASSIGNED",
        "PORTS",
        "STATE",
    ]);
    if wide {
        headers.extend(["HOSTNAME", "URL", "POOL", "LAST-EVENT"]);
    }
    let cells: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            let mut row = if clusters {
                vec![r.cluster.clone().unwrap_or_default()]
            } else {
                Vec::new()
            };
            row.extend([
                r.namespace.clone(),
                r.name.clone(),
                ips(&r.registry, "-"),
                ips(&r.requested, "-"),
                if r.states.contains(&crate::plan::State::Missing) {
                    "-".into()
                } else {
                    ips(&r.assigned, "<pending>")
                },
                if r.ports.is_empty() {
                    "<none>".into()
                } else {
                    r.ports.join(",")
                },
                r.state_text(),
            ]);
            if wide {
                row.extend([
                    or_none(&r.hostname),
                    or_none(&r.url),
                    or_none(&r.pool),
                    or_none(&r.last_event),
                ]);
            }
            row
        })
        .collect();
    table(&headers, &cells)
}

/// `service/<name>` lines, the way `kubectl get svc -o name` prints them.
pub fn names<'a>(names: impl IntoIterator<Item = &'a str>) -> String {
    names
        .into_iter()
        .map(|n| format!("service/{n}\n"))
        .collect()
}

/// JSON or YAML of any result.
pub fn structured<T: Serialize>(value: &T, output: Output) -> String {
    match output {
        Output::Yaml => serde_saphyr::to_string(value)
            .unwrap_or_else(|e| format!("# cannot render YAML: {e}\n")),
        _ => {
            let mut s = serde_json::to_string_pretty(value).expect("results serialise");
            s.push('\n');
            s
        }
    }
}

/// `severity: message [code]` and an indented `= help:` line.
pub fn findings(list: &[Finding]) -> String {
    let mut out = String::new();
    for f in list {
        out.push_str(&format!("{}: {} [{}]\n", f.severity, f.message, f.code));
        if let Some(h) = &f.hint {
            out.push_str(&format!("  = help: {h}\n"));
        }
    }
    out
}

/// Where a command acts, in words: `namespace mlflow`, `namespaces a, b`, `every namespace`.
pub fn scope_text(scope: &crate::plan::Scope) -> String {
    match &scope.namespaces {
        None => "every namespace".to_string(),
        Some(set) if set.len() == 1 => format!("namespace {}", set.iter().next().unwrap()),
        Some(set) => format!(
            "namespaces {}",
            set.iter().cloned().collect::<Vec<_>>().join(", ")
        ),
    }
}

/// The plan as a readable diff: one block per step, in order.
pub fn plan_diff(plan: &Plan, observed: &Observed, scope: &crate::plan::Scope) -> String {
    let mut out = String::new();
    if plan.steps.is_empty() && plan.blocked.is_empty() {
        out.push_str(&format!(
            "Nothing to do in {}: every Service there matches the registry.\n",
            scope_text(scope)
        ));
    } else if plan.steps.is_empty() {
        out.push_str(&format!(
            "Nothing can be applied in {}:\n",
            scope_text(scope)
        ));
    } else {
        out.push_str(&format!(
            "Plan: {} step(s), in this order:\n",
            plan.steps.len()
        ));
    }
    out.push_str(&steps_and_blocked(&plan.steps, &plan.blocked, observed));
    out
}

/// The numbered step blocks, then a `blocked:` line per blocked entry.
fn steps_and_blocked(
    steps: &[Step],
    blocked: &[crate::plan::Blocked],
    observed: &Observed,
) -> String {
    let mut out = String::new();
    for (i, step) in steps.iter().enumerate() {
        out.push_str(&step_block(i + 1, step, observed));
    }
    for b in blocked {
        out.push_str(&format!(
            "blocked: {}/{}: {}\n",
            b.namespace, b.name, b.reason
        ));
    }
    out
}

/// Registered Services outside the scope that differ from the registry: `apply -A` would
/// include them. `only` says the scope itself had nothing to do.
pub fn elsewhere_note(keys: &[String], only: bool) -> String {
    const SHOWN: usize = 5;
    let mut listed = keys[..keys.len().min(SHOWN)].join(", ");
    if keys.len() > SHOWN {
        listed.push_str(&format!(" and {} more", keys.len() - SHOWN));
    }
    let lead = if only { "" } else { "note: " };
    let also = if only { "" } else { " also" };
    format!(
        "{lead}{} Service(s) in other namespaces{also} differ from the registry ({listed}): add -A (`kubectl lbip apply -A --dry-run` shows them)\n",
        keys.len()
    )
}

fn step_block(n: usize, step: &Step, observed: &Observed) -> String {
    let current = observed.service(&step.namespace, &step.name);
    let mut out = format!(
        "{n}. {} {}: {} -> {}   # {}\n",
        step.action.as_str(),
        step.key(),
        ips(&step.from, "<pending>"),
        ips(&step.to, "<pending>"),
        step.reason
    );
    for (k, v) in &step.set_annotations {
        match current.and_then(|s| s.annotations.get(k)) {
            Some(old) => out.push_str(&format!(
                "   ~ metadata.annotations[{k}]: {old:?} -> {v:?}\n"
            )),
            None => out.push_str(&format!("   + metadata.annotations[{k}]: {v:?}\n")),
        }
    }
    for k in &step.remove_annotations {
        let old = current
            .and_then(|s| s.annotations.get(k))
            .cloned()
            .unwrap_or_default();
        out.push_str(&format!("   - metadata.annotations[{k}]: {old:?}\n"));
    }
    if step.clear_spec_ip {
        let old = current
            .and_then(|s| s.spec_load_balancer_ip.clone())
            .unwrap_or_default();
        out.push_str(&format!("   - spec.loadBalancerIP: {old:?}\n"));
    }
    if step.is_noop_patch() {
        out.push_str("   (no patch: wait for MetalLB to assign the requested IP)\n");
    }
    out
}

/// Each time apply planned the rest again because the cluster changed, and the new steps.
pub fn replans(report: &ApplyReport, observed: &Observed) -> String {
    let mut out = String::new();
    for r in &report.replans {
        out.push_str(&format!(
            "The cluster changed before {} {}: {}. The rest was planned again ({} step(s)):\n",
            r.at.action.as_str(),
            r.at.key(),
            r.reason,
            r.steps.len()
        ));
        out.push_str(&steps_and_blocked(&r.steps, &r.blocked, observed));
    }
    out
}

/// What was applied and what was not after a failure, where every Service the plan touched
/// stands now, and the command that resumes (stderr).
pub fn failure_report(report: &ApplyReport, resume: &str) -> String {
    let mut out = String::new();
    let Some(f) = &report.failed else { return out };
    out.push_str(&format!(
        "apply stopped at {} {}: {}\n",
        f.step.action.as_str(),
        f.step.key(),
        f.error
    ));
    out.push_str(&format!("applied ({}):\n", report.applied.len()));
    for a in &report.applied {
        out.push_str(&format!(
            "  done     {} {} -> {}\n",
            a.step.action.as_str(),
            a.step.key(),
            ips(&a.assigned, "<pending>")
        ));
    }
    let state = if f.patched {
        "patched, but MetalLB did not confirm"
    } else {
        "not patched"
    };
    out.push_str(&format!(
        "  failed   {} {} -> {} ({state})\n",
        f.step.action.as_str(),
        f.step.key(),
        ips(&f.step.to, "<pending>")
    ));
    out.push_str(&format!("not applied ({}):\n", report.not_applied.len()));
    for s in &report.not_applied {
        out.push_str(&format!(
            "  pending  {} {} -> {}\n",
            s.action.as_str(),
            s.key(),
            ips(&s.to, "<pending>")
        ));
    }
    if !f.services.is_empty() {
        out.push_str("now:\n");
        let width = f
            .services
            .iter()
            .map(|s| s.namespace.len() + s.name.len() + 1)
            .max()
            .unwrap_or(0);
        for s in &f.services {
            let key = format!("{}/{}", s.namespace, s.name);
            if !s.exists {
                out.push_str(&format!("  {key:<width$}   deleted\n"));
                continue;
            }
            out.push_str(&format!(
                "  {key:<width$}   requests {:<15}   has {}{}\n",
                ips(&s.requested, "nothing"),
                ips(&s.assigned, "no IP"),
                s.last_event
                    .as_ref()
                    .map(|e| format!("   (last event {e})"))
                    .unwrap_or_default()
            ));
        }
    }
    let fix = if f.error.starts_with("forbidden") {
        "Grant the permission, then resume"
    } else {
        "Resume"
    };
    out.push_str(&format!(
        "{fix} with `{resume}`: it plans again from the cluster's current state.\n"
    ));
    out
}
