//! Applying a plan: one JSON merge patch per step carrying the resourceVersion it was
//! computed from, then a watch until MetalLB reports the step's expected IPs.

use super::connect::Connection;
use super::error::{ClusterError, Op};
use crate::metallb::Prefix;
use crate::plan::{ObservedService, Plan, Step};
use k8s_openapi::api::core::v1::Service;
use kube::api::{Api, Patch, PatchParams};
use serde::Serialize;
use std::collections::BTreeMap;
use std::net::IpAddr;
use std::time::{Duration, Instant};

#[derive(Debug, Clone)]
pub struct ApplyOptions {
    /// How long to wait for MetalLB per step.
    pub timeout: Duration,
    /// How often a step is recomputed from fresh state after a 409 before giving up.
    pub conflict_retries: u32,
    /// The registry's prefix (to recompute a step after a conflict).
    pub prefix: Prefix,
    /// Wait for MetalLB after the last step too. Every earlier step is always waited for:
    /// a later step may need the address it frees. `false` is Ansible's `wait: false`.
    pub wait_for_last: bool,
}

/// What apply is doing, for a progress display.
#[derive(Debug, Clone, Copy)]
pub enum Progress<'a> {
    Patching {
        index: usize,
        total: usize,
        step: &'a Step,
    },
    /// The Service changed under us; the step is recomputed from fresh state.
    Conflict {
        step: &'a Step,
        attempt: u32,
    },
    Waiting {
        step: &'a Step,
    },
    Done {
        step: &'a Step,
        elapsed: Duration,
    },
}

#[derive(Debug, Clone, Serialize)]
pub struct AppliedStep {
    pub step: Step,
    /// The IPs MetalLB reported afterwards.
    pub assigned: Vec<IpAddr>,
    pub elapsed_ms: u128,
    /// 409s that made the step be recomputed.
    pub conflicts: u32,
}

#[derive(Debug, Clone, Serialize)]
pub struct ApplyFailure {
    pub step: Step,
    /// Whether the failing step's patch reached the server (then only the wait failed).
    pub patched: bool,
    pub error: String,
}

#[derive(Debug, Clone, Serialize, Default)]
pub struct ApplyReport {
    pub applied: Vec<AppliedStep>,
    pub failed: Option<ApplyFailure>,
    /// Steps never attempted.
    pub not_applied: Vec<Step>,
}

impl ApplyReport {
    pub fn is_success(&self) -> bool {
        self.failed.is_none() && self.not_applied.is_empty()
    }
}

/// Applies the steps in order and stops at the first failure.
pub async fn apply(
    conn: &Connection,
    plan: &Plan,
    opts: &ApplyOptions,
    progress: &mut dyn FnMut(Progress),
) -> ApplyReport {
    let mut report = ApplyReport::default();
    // The newest resourceVersion we wrote per Service (a Service may be patched twice).
    let mut versions: BTreeMap<String, String> = BTreeMap::new();
    let total = plan.steps.len();
    for (index, step) in plan.steps.iter().enumerate() {
        progress(Progress::Patching { index, total, step });
        let started = Instant::now();
        let wait = opts.wait_for_last || index + 1 < total;
        match apply_step(conn, step, opts, wait, &mut versions, progress).await {
            Ok((assigned, conflicts)) => {
                progress(Progress::Done {
                    step,
                    elapsed: started.elapsed(),
                });
                report.applied.push(AppliedStep {
                    step: step.clone(),
                    assigned,
                    elapsed_ms: started.elapsed().as_millis(),
                    conflicts,
                });
            }
            Err((patched, error)) => {
                report.failed = Some(ApplyFailure {
                    step: step.clone(),
                    patched,
                    error: error.to_string(),
                });
                report.not_applied = plan.steps[index + 1..].to_vec();
                break;
            }
        }
    }
    report
}

/// Patches (retrying 409s from fresh state) and waits. Err carries whether the patch landed.
async fn apply_step(
    conn: &Connection,
    planned: &Step,
    opts: &ApplyOptions,
    wait: bool,
    versions: &mut BTreeMap<String, String>,
    progress: &mut dyn FnMut(Progress),
) -> Result<(Vec<IpAddr>, u32), (bool, ClusterError)> {
    let api: Api<Service> = Api::namespaced(conn.client.clone(), &planned.namespace);
    let patch_op = || Op::new("patch", "services", Some(&planned.namespace)).named(&planned.name);
    let mut step = planned.clone();
    let mut conflicts = 0;
    let mut rv = versions
        .get(&step.key())
        .cloned()
        .or(step.resource_version.clone());
    loop {
        if step.is_noop_patch() {
            break;
        }
        let patch = step.merge_patch(rv.as_deref());
        match api
            .patch(&step.name, &PatchParams::default(), &Patch::Merge(&patch))
            .await
        {
            Ok(svc) => {
                if let Some(v) = svc.metadata.resource_version {
                    versions.insert(step.key(), v);
                }
                break;
            }
            Err(e) => {
                let err = conn.error(e, patch_op());
                if !err.is_conflict() || conflicts >= opts.conflict_retries {
                    return Err((false, err));
                }
                conflicts += 1;
                progress(Progress::Conflict {
                    step: planned,
                    attempt: conflicts,
                });
                let fresh = api.get(&step.name).await.map_err(|e| {
                    (
                        false,
                        conn.error(
                            e,
                            Op::new("get", "services", Some(&step.namespace)).named(&step.name),
                        ),
                    )
                })?;
                let fresh = ObservedService::from_k8s(&fresh);
                rv = fresh.resource_version.clone();
                match step.rebase(&fresh, opts.prefix) {
                    Some(s) => step = s,
                    None => return Ok((fresh.assigned, conflicts)),
                }
            }
        }
    }
    if !wait {
        // Not waited for: report what the Service was asked to get.
        return Ok((step.to.clone(), conflicts));
    }
    progress(Progress::Waiting { step: planned });
    let assigned = wait_for_ips(conn, &api, &step, opts.timeout)
        .await
        .map_err(|e| (true, e))?;
    Ok((assigned, conflicts))
}

/// Watches the Service until `status.loadBalancer.ingress` is exactly the step's target.
/// A watch that breaks (e.g. `--request-timeout` shorter than MetalLB's answer) is opened
/// again until the step's timeout; only then is the last error reported.
async fn wait_for_ips(
    conn: &Connection,
    api: &Api<Service>,
    step: &Step,
    timeout: Duration,
) -> Result<Vec<IpAddr>, ClusterError> {
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        let want = step.to.clone();
        let matches = move |svc: Option<&Service>| -> bool {
            svc.is_some_and(|s| ObservedService::from_k8s(s).assigned == want)
        };
        let wait = kube::runtime::wait::await_condition(api.clone(), &step.name, matches);
        match tokio::time::timeout_at(deadline, wait).await {
            Ok(Ok(_)) => return Ok(step.to.clone()),
            Ok(Err(kube::runtime::wait::Error::ProbeFailed(e))) => {
                use kube::runtime::watcher::Error as W;
                let op = |verb| Op::new(verb, "services", Some(&step.namespace)).named(&step.name);
                let err = match e {
                    W::InitialListFailed(k) => conn.error(k, op("list")),
                    W::WatchStartFailed(k) | W::WatchFailed(k) => conn.error(k, op("watch")),
                    other => conn.unreachable(op("watch"), super::error::error_chain(&other)),
                };
                // A permission will not appear by waiting; a broken connection may heal.
                let retry = matches!(err, ClusterError::Unreachable { .. });
                tokio::time::sleep(Duration::from_millis(200)).await;
                if retry && tokio::time::Instant::now() < deadline {
                    continue;
                }
                return Err(err);
            }
            Err(_) => {}
        }
        let now = api
            .get(&step.name)
            .await
            .map(|s| ObservedService::from_k8s(&s).assigned)
            .unwrap_or_default();
        return Err(ClusterError::Timeout {
            what: format!(
                "timed out after {}s waiting for MetalLB to assign {} to {} (it has {}); `kubectl lbip doctor` shows recent AllocationFailed events",
                timeout.as_secs(),
                crate::metallb::format_ip_list(&step.to),
                step.key(),
                if now.is_empty() {
                    "no IP".to_string()
                } else {
                    crate::metallb::format_ip_list(&now)
                }
            ),
        });
    }
}
