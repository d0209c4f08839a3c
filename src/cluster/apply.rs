//! Applying a plan: one JSON merge patch per step carrying the resourceVersion it was
//! computed from, then a watch until MetalLB reports the step's expected IPs.
//!
//! A plan is made from one read, and the cluster goes on changing while it is applied (a
//! confirmation prompt can take minutes; a Helm release can create a Service between two
//! steps). MetalLB releases a Service's IP the moment its request changes, so moving it onto
//! an address somebody took meanwhile leaves it with none. Hence, for every step that changes
//! what its Service requests:
//!
//! 1. **Before the patch**, the Services are read again (one paginated LIST) and the step's
//!    target is checked (`plan::target_holders`). Taken: the rest of the plan is computed again
//!    from that fresh state (`plan::plan`, the same registry and options), which typically
//!    moves the newcomer off first, and lbip says so.
//! 2. **After the patch**, if the Service lost its IP while waiting (the target was taken in
//!    the moment between the check and the patch), it is moved back to the IPs it had
//!    (`plan::revert_step`), and the rest is planned again.
//!
//! Replanning is bounded (`ApplyOptions::replans`): a cluster that keeps changing stops the
//! apply with a report of where every Service stands. The controller of issue 10 reuses this
//! loop with its reflector as the fresh read.

use super::connect::Connection;
use super::error::{ClusterError, Op};
use super::read;
use crate::plan::{self, Blocked, Observed, ObservedService, Plan, PlanOptions, Step};
use crate::registry::Registry;
use k8s_openapi::api::core::v1::{Event, Service};
use kube::api::{Api, ListParams, Patch, PatchParams};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::net::IpAddr;
use std::time::{Duration, Instant};

#[derive(Debug, Clone)]
pub struct ApplyOptions {
    /// How long to wait for MetalLB per step.
    pub timeout: Duration,
    /// How often a step is recomputed from fresh state after a 409 before giving up.
    pub conflict_retries: u32,
    /// How the registry pins (to recompute a step after a conflict).
    pub style: crate::provider::pins::PinStyle,
    /// Wait for MetalLB after the last step too. Every earlier step is always waited for:
    /// a later step may need the address it frees. `false` is Ansible's `wait: false`.
    pub wait_for_last: bool,
    /// How often the remaining steps may be planned again because the cluster changed.
    pub replans: u32,
}

/// What apply needs to plan again from a fresh read: the registry and the options the first
/// plan was made with.
pub struct Replanner<'a> {
    pub registry: &'a Registry,
    pub options: &'a PlanOptions,
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
    /// The step's target was taken since the plan was made; the rest is planned again.
    Replanned {
        reason: &'a str,
        steps: usize,
    },
    /// The Service lost its IP to a target taken meanwhile and is moved back.
    Reverting {
        step: &'a Step,
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

/// Where one Service stands, read after a failure.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct ServiceNow {
    pub namespace: String,
    pub name: String,
    /// `false` when the Service no longer exists.
    pub exists: bool,
    /// What MetalLB reads as its request.
    pub requested: Vec<IpAddr>,
    pub assigned: Vec<IpAddr>,
    /// `Reason: message` of its newest event (for the failed step's Service).
    pub last_event: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ApplyFailure {
    pub step: Step,
    /// Whether the failing step's patch reached the server (then only the wait failed).
    pub patched: bool,
    pub error: String,
    /// Every Service the plan touched, as read after the failure (empty when that read
    /// failed too).
    pub services: Vec<ServiceNow>,
}

/// The cluster changed under the plan: the remaining steps were planned again.
#[derive(Debug, Clone, Serialize)]
pub struct Replan {
    /// The step that could not go ahead.
    pub at: Step,
    pub reason: String,
    /// The new remaining steps.
    pub steps: Vec<Step>,
    pub blocked: Vec<Blocked>,
}

#[derive(Debug, Clone, Serialize, Default)]
pub struct ApplyReport {
    pub applied: Vec<AppliedStep>,
    pub failed: Option<ApplyFailure>,
    /// Steps never attempted.
    pub not_applied: Vec<Step>,
    /// Each time the rest of the plan was computed again, in order.
    pub replans: Vec<Replan>,
    /// Blocked entries of the last replan (the first plan's are in the plan).
    pub blocked: Vec<Blocked>,
}

impl ApplyReport {
    pub fn is_success(&self) -> bool {
        self.failed.is_none() && self.not_applied.is_empty()
    }
}

/// How one step ended.
enum Outcome {
    Done {
        assigned: Vec<IpAddr>,
        conflicts: u32,
    },
    /// The Service lost its IP to the target being taken; it got its old IPs back.
    Reverted { holders: Vec<String> },
}

/// Applies the steps in order (re-checking and replanning as the module docs say) and stops
/// at the first failure. `snapshot` is what the plan was made from.
pub async fn apply(
    conn: &Connection,
    snapshot: &Observed,
    plan: &Plan,
    replanner: &Replanner<'_>,
    opts: &ApplyOptions,
    progress: &mut dyn FnMut(Progress),
) -> ApplyReport {
    let mut report = ApplyReport::default();
    // The newest resourceVersion we wrote per Service (a Service may be patched twice).
    let mut versions: BTreeMap<String, String> = BTreeMap::new();
    let mut pending: VecDeque<Step> = plan.steps.iter().cloned().collect();
    let mut touched: BTreeSet<(String, String)> = BTreeSet::new();
    let mut replans_left = opts.replans;
    while let Some(step) = pending.pop_front() {
        touched.insert((step.namespace.clone(), step.name.clone()));
        if plan::step_moves(&step) {
            let live = match fresh(conn, snapshot).await {
                Ok(live) => live,
                Err(e) => {
                    fail(
                        conn,
                        snapshot.reader(),
                        &mut report,
                        step,
                        false,
                        e,
                        pending,
                        &touched,
                    )
                    .await;
                    break;
                }
            };
            let holders = plan::target_holders(replanner.registry, &live, &step);
            if !holders.is_empty() {
                let reason = format!(
                    "{} is now held or requested by {} (it changed after the plan was made)",
                    plan::analyze::ips_text(&step.to),
                    holders.join(", ")
                );
                match replan(&live, replanner, &step, reason, &mut replans_left, progress) {
                    Ok(r) => {
                        pending = r.steps.iter().cloned().collect();
                        report.blocked = r.blocked.clone();
                        report.replans.push(r);
                        versions.clear();
                        continue;
                    }
                    Err(e) => {
                        fail(
                            conn,
                            snapshot.reader(),
                            &mut report,
                            step,
                            false,
                            e,
                            pending,
                            &touched,
                        )
                        .await;
                        break;
                    }
                }
            }
        }
        let index = report.applied.len();
        let total = index + 1 + pending.len();
        progress(Progress::Patching {
            index,
            total,
            step: &step,
        });
        let started = Instant::now();
        let wait = opts.wait_for_last || !pending.is_empty();
        match apply_step(conn, &step, opts, wait, &mut versions, progress).await {
            Ok(Outcome::Done {
                assigned,
                conflicts,
            }) => {
                progress(Progress::Done {
                    step: &step,
                    elapsed: started.elapsed(),
                });
                report.applied.push(AppliedStep {
                    step,
                    assigned,
                    elapsed_ms: started.elapsed().as_millis(),
                    conflicts,
                });
            }
            Ok(Outcome::Reverted { holders }) => {
                let reason = format!(
                    "{} was taken by {} while {} moved there; it was moved back to {}",
                    plan::analyze::ips_text(&step.to),
                    holders.join(", "),
                    step.key(),
                    plan::analyze::ips_text(&step.from)
                );
                let outcome = match fresh(conn, snapshot).await {
                    Ok(live) => {
                        replan(&live, replanner, &step, reason, &mut replans_left, progress)
                    }
                    Err(e) => Err(e),
                };
                match outcome {
                    Ok(r) => {
                        pending = r.steps.iter().cloned().collect();
                        report.blocked = r.blocked.clone();
                        report.replans.push(r);
                        versions.clear();
                    }
                    Err(e) => {
                        fail(
                            conn,
                            snapshot.reader(),
                            &mut report,
                            step,
                            true,
                            e,
                            pending,
                            &touched,
                        )
                        .await;
                        break;
                    }
                }
            }
            Err((patched, error)) => {
                fail(
                    conn,
                    snapshot.reader(),
                    &mut report,
                    step,
                    patched,
                    error,
                    pending,
                    &touched,
                )
                .await;
                break;
            }
        }
    }
    report
}

/// The snapshot with the Services read again (every namespace, paginated).
async fn fresh(conn: &Connection, snapshot: &Observed) -> Result<Observed, ClusterError> {
    let services = read::services(conn, &snapshot.scope, true).await?;
    Ok(Observed {
        services,
        ..snapshot.clone()
    })
}

/// The rest of the plan computed again from `live`, or the error that stops the apply when
/// the cluster keeps changing.
fn replan(
    live: &Observed,
    replanner: &Replanner<'_>,
    at: &Step,
    reason: String,
    replans_left: &mut u32,
    progress: &mut dyn FnMut(Progress),
) -> Result<Replan, ClusterError> {
    if *replans_left == 0 {
        return Err(ClusterError::Changed {
            what: format!(
                "the cluster kept changing while lbip applied the plan: {reason}; stopped before {} {} without patching it",
                at.action.as_str(),
                at.key()
            ),
        });
    }
    *replans_left -= 1;
    let fresh = plan::plan(replanner.registry, live, replanner.options);
    progress(Progress::Replanned {
        reason: &reason,
        steps: fresh.steps.len(),
    });
    Ok(Replan {
        at: at.clone(),
        reason,
        steps: fresh.steps,
        blocked: fresh.blocked,
    })
}

/// Records the failure, what was not attempted, and where every touched Service stands.
#[allow(clippy::too_many_arguments)]
async fn fail(
    conn: &Connection,
    reader: crate::provider::Reader,
    report: &mut ApplyReport,
    step: Step,
    patched: bool,
    error: ClusterError,
    pending: VecDeque<Step>,
    touched: &BTreeSet<(String, String)>,
) {
    let mut keys = touched.clone();
    keys.extend(
        pending
            .iter()
            .map(|s| (s.namespace.clone(), s.name.clone())),
    );
    let services = services_now(conn, reader, &keys, &step)
        .await
        .unwrap_or_default();
    report.not_applied = pending.into_iter().collect();
    report.failed = Some(ApplyFailure {
        step,
        patched,
        error: error.to_string(),
        services,
    });
}

/// Where each Service in `keys` stands now, with the newest event of the failed step's
/// Service (MetalLB's reason when it did not assign the IP).
async fn services_now(
    conn: &Connection,
    reader: crate::provider::Reader,
    keys: &BTreeSet<(String, String)>,
    failed: &Step,
) -> Result<Vec<ServiceNow>, ClusterError> {
    let all = read::services(conn, &crate::plan::Scope::all(), true).await?;
    let last_event = newest_event(conn, failed, false).await;
    Ok(keys
        .iter()
        .map(|(ns, name)| {
            let svc = all.iter().find(|s| &s.namespace == ns && &s.name == name);
            ServiceNow {
                namespace: ns.clone(),
                name: name.clone(),
                exists: svc.is_some(),
                requested: svc.map(|s| s.requested_ips(reader)).unwrap_or_default(),
                assigned: svc.map(|s| s.assigned.clone()).unwrap_or_default(),
                last_event: (ns == &failed.namespace && name == &failed.name)
                    .then(|| last_event.clone())
                    .flatten(),
            }
        })
        .collect())
}

/// `Reason: message` of the newest event (only Warnings with `warnings_only`) about the step's
/// Service: MetalLB's reason when it did not assign an IP. `None` when there is none or the
/// events cannot be read (this is only ever an explanation).
async fn newest_event(conn: &Connection, step: &Step, warnings_only: bool) -> Option<String> {
    let events: Api<Event> = Api::namespaced(conn.client.clone(), &step.namespace);
    let about = ListParams::default().fields(&format!(
        "involvedObject.kind=Service,involvedObject.name={}",
        step.name
    ));
    let list = events.list(&about).await.ok()?;
    list.items
        .iter()
        .filter_map(crate::plan::observed::ObservedEvent::from_k8s)
        .filter(|e| !warnings_only || e.event_type == "Warning")
        .max_by_key(|e| (e.last_seen.clone(), e.sequence))
        .map(|e| format!("{}: {}", e.reason, e.message))
}

/// Patches (retrying 409s from fresh state) and waits. Err carries whether the patch landed.
async fn apply_step(
    conn: &Connection,
    planned: &Step,
    opts: &ApplyOptions,
    wait: bool,
    versions: &mut BTreeMap<String, String>,
    progress: &mut dyn FnMut(Progress),
) -> Result<Outcome, (bool, ClusterError)> {
    let api: Api<Service> = Api::namespaced(conn.client.clone(), &planned.namespace);
    let (step, conflicts) = match patch(conn, &api, planned, opts, versions, progress).await? {
        Patched::Done(step, conflicts) => (*step, conflicts),
        Patched::AlreadyThere(assigned, conflicts) => {
            return Ok(Outcome::Done {
                assigned,
                conflicts,
            });
        }
    };
    if !wait {
        // Not waited for: report what the Service was asked to get.
        return Ok(Outcome::Done {
            assigned: step.to.clone(),
            conflicts,
        });
    }
    progress(Progress::Waiting { step: planned });
    match wait_for_ips(conn, &api, &step, opts.timeout)
        .await
        .map_err(|e| (true, e))?
    {
        Waited::Reached => Ok(Outcome::Done {
            assigned: step.to.clone(),
            conflicts,
        }),
        Waited::Lost => revert(conn, &api, &step, opts, versions, progress).await,
    }
}

enum Patched {
    Done(Box<Step>, u32),
    /// After a 409, the fresh Service already was where the step wanted it.
    AlreadyThere(Vec<IpAddr>, u32),
}

/// Sends the step's patch with the resourceVersion it was planned from; a 409 re-reads the
/// Service and recomputes the step (up to `conflict_retries` times).
async fn patch(
    conn: &Connection,
    api: &Api<Service>,
    planned: &Step,
    opts: &ApplyOptions,
    versions: &mut BTreeMap<String, String>,
    progress: &mut dyn FnMut(Progress),
) -> Result<Patched, (bool, ClusterError)> {
    let patch_op = || Op::new("patch", "services", Some(&planned.namespace)).named(&planned.name);
    let mut step = planned.clone();
    let mut conflicts = 0;
    let mut rv = versions
        .get(&step.key())
        .cloned()
        .or(step.resource_version.clone());
    loop {
        if step.is_noop_patch() {
            return Ok(Patched::Done(Box::new(step), conflicts));
        }
        let body = step.merge_patch(rv.as_deref());
        match api
            .patch(&step.name, &PatchParams::default(), &Patch::Merge(&body))
            .await
        {
            Ok(svc) => {
                if let Some(v) = svc.metadata.resource_version {
                    versions.insert(step.key(), v);
                }
                return Ok(Patched::Done(Box::new(step), conflicts));
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
                match step.rebase(&fresh, &opts.style) {
                    Some(s) => step = s,
                    None => return Ok(Patched::AlreadyThere(fresh.assigned, conflicts)),
                }
            }
        }
    }
}

/// MetalLB took the Service's IP away after its patch (its target was taken in the moment
/// between the check and the patch): move it back to the IPs it had, then report who holds
/// the target so that the rest can be planned again.
async fn revert(
    conn: &Connection,
    api: &Api<Service>,
    step: &Step,
    opts: &ApplyOptions,
    versions: &mut BTreeMap<String, String>,
    progress: &mut dyn FnMut(Progress),
) -> Result<Outcome, (bool, ClusterError)> {
    let all = read::services(conn, &crate::plan::Scope::all(), true)
        .await
        .map_err(|e| (true, e))?;
    let holders: Vec<String> = all
        .iter()
        .filter(|s| s.key() != step.key() && s.assigned.iter().any(|ip| step.to.contains(ip)))
        .map(ObservedService::key)
        .collect();
    // MetalLB's reason, read before the revert adds events of its own.
    let why = newest_event(conn, step, true)
        .await
        .map(|e| format!(" (MetalLB: {e})"))
        .unwrap_or_default();
    let lost = || ClusterError::Changed {
        what: format!(
            "MetalLB did not give {} to {}{}{why} and took its IP away",
            plan::analyze::ips_text(&step.to),
            step.key(),
            if holders.is_empty() {
                String::new()
            } else {
                format!(" ({} holds it)", holders.join(", "))
            }
        ),
    };
    let Some(current) = all.iter().find(|s| s.key() == step.key()) else {
        return Err((true, lost()));
    };
    if step.from.is_empty() {
        return Err((true, lost()));
    }
    // Whatever MetalLB's reason, the Service gets its old IP back rather than none.
    let back = plan::revert_step(step, current, &opts.style);
    progress(Progress::Reverting { step: &back });
    let reverted = match patch(conn, api, &back, opts, versions, progress).await {
        Ok(Patched::Done(s, _)) => matches!(
            wait_for_ips(conn, api, &s, opts.timeout).await,
            Ok(Waited::Reached)
        ),
        Ok(Patched::AlreadyThere(..)) => true,
        Err((_, e)) => return Err((true, e)),
    };
    match (reverted, holders.is_empty()) {
        // Taken by someone: plan the rest again around them.
        (true, false) => Ok(Outcome::Reverted { holders }),
        // Refused for another reason (its event says which): stop, the Service on its old IP.
        (true, true) => Err((
            true,
            ClusterError::Changed {
                what: format!(
                    "{}; it was moved back to {}",
                    lost(),
                    plan::analyze::ips_text(&step.from)
                ),
            },
        )),
        (false, _) => Err((
            true,
            ClusterError::Changed {
                what: format!(
                    "{}, and its old IP {} could not be given back (taken too)",
                    lost(),
                    plan::analyze::ips_text(&step.from)
                ),
            },
        )),
    }
}

enum Waited {
    /// MetalLB reports exactly the step's target.
    Reached,
    /// The Service had an IP and now has none: MetalLB refused the new request.
    Lost,
}

/// Watches the Service until `status.loadBalancer.ingress` is exactly the step's target, or
/// until it has no IP although it had one before the step. A watch that breaks (e.g.
/// `--request-timeout` shorter than MetalLB's answer) is opened again until the step's
/// timeout; only then is the last error reported.
async fn wait_for_ips(
    conn: &Connection,
    api: &Api<Service>,
    step: &Step,
    timeout: Duration,
) -> Result<Waited, ClusterError> {
    let deadline = tokio::time::Instant::now() + timeout;
    let had_ip = !step.from.is_empty();
    loop {
        let want = step.to.clone();
        let settled = move |svc: Option<&Service>| -> bool {
            svc.is_some_and(|s| {
                let assigned = ObservedService::from_k8s(s).assigned;
                assigned == want || (had_ip && assigned.is_empty())
            })
        };
        let wait = kube::runtime::wait::await_condition(api.clone(), &step.name, settled);
        match tokio::time::timeout_at(deadline, wait).await {
            Ok(Ok(svc)) => {
                let assigned = svc
                    .map(|s| ObservedService::from_k8s(&s).assigned)
                    .unwrap_or_default();
                return Ok(if assigned == step.to {
                    Waited::Reached
                } else {
                    Waited::Lost
                });
            }
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
                "timed out after {} waiting for MetalLB to assign {} to {} (it has {}; `kubectl lbip doctor` checks MetalLB and shows recent AllocationFailed events)",
                human(timeout),
                crate::metallb::format_ip_list(&step.to),
                step.key(),
                plan::analyze::ips_text(&now)
            ),
        });
    }
}

/// `60s`, `2m`, `1m30s`, `500ms`: a duration as the flags take it.
fn human(d: Duration) -> String {
    let secs = d.as_secs();
    match (secs / 60, secs % 60, d.subsec_millis()) {
        (0, 0, ms) => format!("{ms}ms"),
        (0, s, _) => format!("{s}s"),
        (m, 0, _) => format!("{m}m"),
        (m, s, _) => format!("{m}m{s}s"),
    }
}
