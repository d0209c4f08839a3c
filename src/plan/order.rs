//! The reconciliation plan: which Services to patch, with what, in which order.
//!
//! Order matters because MetalLB releases a Service's old IP the moment its request changes
//! and leaves it with none if the new IP is still held (reference: metallb.md §3). So a
//! Service is only moved once its target is free: squatters are moved off first, and a
//! cycle (A holds B's IP, B holds A's) is broken by parking one Service on a free scratch
//! address. The plan is computed on a simulated copy of who holds what.

use super::analyze::ips_text;
use super::observed::{Observed, ObservedService, sorted};
use crate::provider::Want;
use crate::provider::pins::{self, PinStyle};
use crate::registry::{PinBy, Registry};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

/// What to do with unregistered Services that sit on an IP a registry entry needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum EvictPolicy {
    /// Pin the squatter to a free address that no registry entry uses, so it keeps a
    /// stable IP and cannot grab a registry IP again.
    #[default]
    Pin,
    /// Never touch unregistered Services; the entry they block is reported as blocked.
    Skip,
}

#[derive(Debug, Clone, Default)]
pub struct PlanOptions {
    pub evict_unpinned: EvictPolicy,
    /// Plan only for these Services (`namespace`, `name`) and the moves they need
    /// (reassign, the Ansible module's `services:`); `None` plans for every Service.
    pub only: Option<BTreeSet<(String, String)>>,
    /// Targets that replace the registry's (reassign `--ip`).
    pub overrides: BTreeMap<(String, String), Vec<IpAddr>>,
}

/// Why a step exists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Action {
    /// Request the registry's IP (moving the Service if it is elsewhere).
    Pin,
    /// Fix keys only; the IP stays.
    Cleanup,
    /// Move an unregistered Service off an IP a registry entry needs.
    Evict,
    /// Park a Service on a free address to break a cycle; it moves on later in the plan.
    Scratch,
    /// Nothing to patch: wait for MetalLB to hand out the IP the Service already requests.
    Wait,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Pin => "pin",
            Action::Cleanup => "cleanup",
            Action::Evict => "evict",
            Action::Scratch => "scratch",
            Action::Wait => "wait",
        }
    }
}

/// One patch of one Service, and the IPs MetalLB should report afterwards.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Step {
    pub namespace: String,
    pub name: String,
    pub action: Action,
    /// Assigned IPs before the step (as simulated).
    pub from: Vec<IpAddr>,
    /// The IPs MetalLB must report when the step is done.
    pub to: Vec<IpAddr>,
    pub set_annotations: BTreeMap<String, String>,
    pub remove_annotations: Vec<String>,
    pub clear_spec_ip: bool,
    /// The Service's resourceVersion when planned (apply sends it for optimistic concurrency).
    pub resource_version: Option<String>,
    /// Why, in words.
    pub reason: String,
    /// What the pin says (to rebuild the step against a fresh copy of the Service).
    #[serde(skip)]
    pub want: Want,
}

impl Step {
    pub fn key(&self) -> String {
        format!("{}/{}", self.namespace, self.name)
    }
    /// True when the step patches nothing (it only waits).
    pub fn is_noop_patch(&self) -> bool {
        self.set_annotations.is_empty() && self.remove_annotations.is_empty() && !self.clear_spec_ip
    }
    /// The JSON merge patch; with a resourceVersion the server refuses it (409) if the
    /// Service changed since it was read.
    pub fn merge_patch(&self, resource_version: Option<&str>) -> serde_json::Value {
        let mut annotations = serde_json::Map::new();
        for (k, v) in &self.set_annotations {
            annotations.insert(k.clone(), v.clone().into());
        }
        for k in &self.remove_annotations {
            annotations.insert(k.clone(), serde_json::Value::Null);
        }
        let mut metadata = serde_json::Map::new();
        if !annotations.is_empty() {
            metadata.insert("annotations".into(), annotations.into());
        }
        if let Some(rv) = resource_version {
            metadata.insert("resourceVersion".into(), rv.into());
        }
        let mut patch = serde_json::json!({ "metadata": metadata });
        if self.clear_spec_ip {
            patch["spec"] = serde_json::json!({ "loadBalancerIP": null });
        }
        patch
    }
    /// The same step recomputed against a fresh copy of the Service (after a 409): same
    /// target, keys to remove taken from the fresh object. `None` when nothing is left to do.
    pub fn rebase(&self, fresh: &ObservedService, style: &PinStyle) -> Option<Step> {
        let step = build_step(fresh, &self.want, self.action, style, self.reason.clone());
        if step.is_noop_patch() && fresh.assigned == self.to {
            return None;
        }
        Some(Step {
            from: fresh.assigned.clone(),
            ..step
        })
    }
}

/// The step that moves `step`'s Service back to the IPs it had before `step` (`step.from`),
/// built against its current object: used when MetalLB took its IP away because the target
/// was taken meanwhile, so that it gets its old address back instead of staying without one.
pub fn revert_step(step: &Step, fresh: &ObservedService, style: &PinStyle) -> Step {
    let want = Want {
        ips: step.from.clone(),
        ..step.want.clone()
    };
    let mut back = build_step(
        fresh,
        &want,
        Action::Pin,
        style,
        format!(
            "back to {}: {} was taken meanwhile",
            ips_text(&step.from),
            ips_text(&step.to)
        ),
    );
    back.action = Action::Pin;
    back
}

/// A Service the plan cannot bring to the registry, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Blocked {
    pub namespace: String,
    pub name: String,
    pub reason: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Plan {
    pub steps: Vec<Step>,
    pub blocked: Vec<Blocked>,
    /// Risks the plan cannot remove, in words.
    pub warnings: Vec<String>,
}

impl Plan {
    pub fn is_empty(&self) -> bool {
        self.steps.is_empty() && self.blocked.is_empty()
    }
}

/// The patch that makes `svc` request exactly `want` from the registry's load balancer(s),
/// removing every other key one of them might read instead ([`pins::pin_changes`], the
/// decision the post-renderer makes too).
fn build_step(
    svc: &ObservedService,
    want: &Want,
    action: Action,
    style: &PinStyle,
    reason: String,
) -> Step {
    let annotations: Vec<(String, String)> = svc
        .annotations
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let changes = pins::pin_changes(
        style,
        want,
        &annotations,
        svc.spec_load_balancer_ip.as_deref(),
    );
    let to = want.ips.clone();
    let mut step = Step {
        namespace: svc.namespace.clone(),
        name: svc.name.clone(),
        action,
        from: svc.assigned.clone(),
        to: to.clone(),
        set_annotations: changes.set.into_iter().map(|s| (s.key, s.value)).collect(),
        remove_annotations: changes.remove.into_iter().map(|r| r.key).collect(),
        clear_spec_ip: changes.clear_spec_ip.is_some(),
        resource_version: svc.resource_version.clone(),
        reason,
        want: want.clone(),
    };
    if step.is_noop_patch() && action == Action::Pin {
        step.action = Action::Wait;
    } else if action == Action::Pin && svc.assigned == to {
        step.action = Action::Cleanup;
    }
    step
}

type Key = (String, String);

/// Simulated cluster: who holds and who requests which IP as the plan proceeds.
struct Sim<'a> {
    services: BTreeMap<Key, &'a ObservedService>,
    assigned: BTreeMap<Key, Vec<IpAddr>>,
    requested: BTreeMap<Key, Vec<IpAddr>>,
}

impl Sim<'_> {
    /// Services other than `me` that hold or request one of `ips`.
    fn blockers(&self, me: &Key, ips: &[IpAddr]) -> Vec<Key> {
        let mut out: Vec<Key> = self
            .assigned
            .iter()
            .chain(self.requested.iter())
            .filter(|(k, held)| *k != me && held.iter().any(|ip| ips.contains(ip)))
            .map(|(k, _)| k.clone())
            .collect();
        out.sort();
        out.dedup();
        out
    }
    fn move_to(&mut self, key: &Key, to: &[IpAddr]) {
        self.assigned.insert(key.clone(), to.to_vec());
        self.requested.insert(key.clone(), to.to_vec());
    }
}

/// Whether applying `step` changes what its Service requests, so that a target taken in the
/// meantime would cost the Service its IP (MetalLB releases the old one at once).
pub fn step_moves(step: &Step) -> bool {
    !step.is_noop_patch() && step.to != step.from
}

/// `namespace/name` of the Services other than the step's own that hold or request one of
/// its target IPs in `observed`, leaving out those the registry lets share it (the same
/// `sharedKey`). Empty means the step can go ahead; anything else means the cluster changed
/// since the plan was made and the step would leave its Service without an IP.
pub fn target_holders(registry: &Registry, observed: &Observed, step: &Step) -> Vec<String> {
    let reader = observed.reader();
    let shared_key = |ns: &str, name: &str| registry.lookup(ns, name).and_then(|e| e.shared_key());
    let mine = shared_key(&step.namespace, &step.name);
    let mut out: Vec<String> = observed
        .load_balancers()
        .filter(|s| !(s.namespace == step.namespace && s.name == step.name))
        .filter(|s| mine.is_none() || shared_key(&s.namespace, &s.name) != mine)
        .filter(|s| {
            s.assigned
                .iter()
                .copied()
                .chain(s.requested_ips(reader))
                .any(|ip| step.to.contains(&ip))
        })
        .map(ObservedService::key)
        .collect();
    out.sort();
    out.dedup();
    out
}

/// Computes the ordered steps that bring every Service in scope to the registry.
pub fn plan(registry: &Registry, observed: &Observed, options: &PlanOptions) -> Plan {
    let reader = observed.reader();
    let style = registry.pin_style();
    let mut sim = Sim {
        services: BTreeMap::new(),
        assigned: BTreeMap::new(),
        requested: BTreeMap::new(),
    };
    for s in observed.load_balancers() {
        let key = (s.namespace.clone(), s.name.clone());
        sim.assigned.insert(key.clone(), s.assigned.clone());
        sim.requested.insert(key.clone(), s.requested_ips(reader));
        sim.services.insert(key, s);
    }
    // What a Service's pin says at `ips`: its entry's sharing (only reassign's override
    // drops it).
    let want_for = |key: &Key, ips: &[IpAddr]| -> Want {
        let entry = registry
            .lookup(&key.0, &key.1)
            .filter(|_| !options.overrides.contains_key(key));
        match entry {
            Some(e) => Want {
                ips: ips.to_vec(),
                ..registry.want_of(e)
            },
            None => Want {
                ips: ips.to_vec(),
                ..Want::default()
            },
        }
    };
    let bare = |ips: &[IpAddr]| Want {
        ips: ips.to_vec(),
        ..Want::default()
    };
    let mut uncovered = Vec::new();
    // Desired targets for Services lbip may change.
    let mut desired: BTreeMap<Key, Vec<IpAddr>> = BTreeMap::new();
    for (key, svc) in &sim.services {
        if !observed.scope.includes_service(svc) {
            continue;
        }
        if let Some(only) = &options.only
            && !only.contains(key)
        {
            continue;
        }
        let target = match options.overrides.get(key) {
            Some(ips) => sorted(ips.clone()),
            None => match registry.lookup(&key.0, &key.1) {
                Some(e) if e.pin_by.value == PinBy::Annotation => e.ip_values(),
                _ => continue,
            },
        };
        let needs = svc.assigned != target
            || svc.requested_ips(reader) != target
            || !build_step(
                svc,
                &want_for(key, &target),
                Action::Pin,
                &style,
                String::new(),
            )
            .is_noop_patch();
        if !needs {
            continue;
        }
        // Moving a Service to an address MetalLB would refuse (no cluster pool covers it, or
        // the pool's serviceAllocation does not admit the Service) leaves it without any IP:
        // never do that.
        if let Some(reason) = target
            .iter()
            .find_map(|ip| super::free::refusal(observed, svc, *ip))
        {
            uncovered.push(Blocked {
                namespace: key.0.clone(),
                name: key.1.clone(),
                reason,
            });
            continue;
        }
        // An address another cluster of the registry holds is never handed out here too:
        // both clusters would answer for it on one segment.
        if let Some((ip, cluster, holder)) = target.iter().find_map(|ip| {
            observed
                .holders_elsewhere(*ip)
                .first()
                .map(|(c, h)| (*ip, c.to_string(), h.key()))
        }) {
            uncovered.push(Blocked {
                namespace: key.0.clone(),
                name: key.1.clone(),
                reason: format!("{ip} is held in cluster `{cluster}` by {holder}; moving it here would put one address on two clusters (free it there first)"),
            });
            continue;
        }
        desired.insert(key.clone(), target);
    }
    // Registry entries sharing an IP on purpose (same sharedKey) do not block each other.
    let shares = |a: &Key, b: &Key| -> bool {
        let ka = registry.lookup(&a.0, &a.1).and_then(|e| e.shared_key());
        let kb = registry.lookup(&b.0, &b.1).and_then(|e| e.shared_key());
        ka.is_some() && ka == kb
    };
    // Addresses nobody holds, requests or is given by the registry (or a reassign), picked
    // per Service: one per family, from a pool that admits it.
    let mut used = observed.ips_in_use();
    used.extend(desired.values().flatten().copied());
    let mut free = super::free::FreeAddresses::new(registry, observed, used);

    let mut plan = Plan {
        blocked: uncovered,
        ..Plan::default()
    };
    // Unregistered Services here that hold an address the registry gives to another
    // cluster's entry: both clusters answer for it until one moves off, and it is this one's
    // to move (the other cluster's apply refuses to take it while it is held here).
    for (key, svc) in &sim.services {
        let foreign: Vec<IpAddr> = svc
            .assigned
            .iter()
            .copied()
            .filter(|ip| {
                registry.owners_of(*ip).is_empty() && registry.owner_elsewhere(*ip).is_some()
            })
            .collect();
        if foreign.is_empty()
            || desired.contains_key(key)
            || registry.lookup(&key.0, &key.1).is_some()
            || !observed.scope.includes_service(svc)
            || options
                .only
                .as_ref()
                .is_some_and(|only| !only.contains(key))
        {
            continue;
        }
        let owner = registry
            .owner_elsewhere(foreign[0])
            .expect("filtered above");
        let cluster = owner.cluster.as_ref().map_or("-", |c| c.value.as_str());
        if options.evict_unpinned == EvictPolicy::Skip {
            plan.warnings.push(format!(
                "{}/{} holds {}, which the registry gives to {} in cluster `{cluster}`; left there (--evict-unpinned=skip)",
                key.0,
                key.1,
                ips_text(&foreign),
                owner.qualified_name()
            ));
            continue;
        }
        match free.take_for(svc) {
            Ok(to) => {
                let reason = format!(
                    "move off {} of {} in cluster `{cluster}`",
                    ips_text(&foreign),
                    owner.qualified_name()
                );
                let mut step = build_step(svc, &bare(&to), Action::Evict, &style, reason);
                step.from = sim.assigned[key].clone();
                plan.steps.push(step);
            }
            Err(why) => plan.blocked.push(Blocked {
                namespace: key.0.clone(),
                name: key.1.clone(),
                reason: format!(
                    "holds {} of {} in cluster `{cluster}`, and there is nowhere to move it: {why}",
                    ips_text(&foreign),
                    owner.qualified_name()
                ),
            }),
        }
    }
    for step in plan.steps.clone() {
        sim.move_to(&(step.namespace.clone(), step.name.clone()), &step.to);
    }
    let mut pending: Vec<Key> = desired.keys().cloned().collect();
    let mut parked: BTreeSet<Key> = BTreeSet::new();
    let mut guard = 0;
    while !pending.is_empty() && guard < 10_000 {
        guard += 1;
        let blocked_by = |sim: &Sim, k: &Key| -> Vec<Key> {
            sim.blockers(k, &desired[k])
                .into_iter()
                .filter(|b| !shares(k, b))
                .collect()
        };
        // 1. A Service whose target is free moves now.
        if let Some(i) = pending.iter().position(|k| blocked_by(&sim, k).is_empty()) {
            let key = pending.remove(i);
            let svc = sim.services[&key];
            let to = desired[&key].clone();
            let reason = if parked.contains(&key) {
                format!("from scratch to {}", ips_text(&to))
            } else if options.overrides.contains_key(&key) {
                format!("reassign to {}", ips_text(&to))
            } else {
                format!("registry says {}", ips_text(&to))
            };
            let want = want_for(&key, &to);
            let mut step = build_step(svc, &want, Action::Pin, &style, reason);
            step.from = sim.assigned[&key].clone();
            if parked.contains(&key) {
                // The parking step already wrote our keys; only the values change now.
                step.remove_annotations.clear();
                step.clear_spec_ip = false;
                step.set_annotations = style
                    .providers
                    .iter()
                    .flat_map(|k| k.provider().pin_annotations(&want, style.prefix))
                    .collect();
                step.action = Action::Pin;
            }
            sim.move_to(&key, &to);
            plan.steps.push(step);
            continue;
        }
        // 2. A Service blocked by one that is not going to move by itself (a squatter).
        let squatted = pending.iter().find_map(|k| {
            blocked_by(&sim, k)
                .into_iter()
                .find(|b| !pending.contains(b))
                .map(|b| (k.clone(), b))
        });
        if let Some((key, squatter)) = squatted {
            let holder = sim.services[&squatter];
            let registered = registry.lookup(&squatter.0, &squatter.1).is_some();
            let ips = desired[&key].clone();
            let refuse = if !observed.scope.includes_service(holder) {
                Some(format!(
                    "{} is held by {}/{}, outside the selected namespaces",
                    ips_text(&ips),
                    squatter.0,
                    squatter.1
                ))
            } else if registered && options.only.is_none() {
                Some(format!(
                    "{} is held by registered {}/{}, which this plan cannot move first (`kubectl lbip status` shows why)",
                    ips_text(&ips),
                    squatter.0,
                    squatter.1
                ))
            } else if !registered && options.evict_unpinned == EvictPolicy::Skip {
                Some(format!(
                    "{} is held by unregistered {}/{} and --evict-unpinned=skip",
                    ips_text(&ips),
                    squatter.0,
                    squatter.1
                ))
            } else {
                None
            };
            let target = match registry.lookup(&squatter.0, &squatter.1) {
                Some(e)
                    if sim.blockers(&squatter, &e.ip_values()).is_empty()
                        && e.ip_values() != ips
                        && super::free::refusal(observed, holder, e.ip_values()[0]).is_none() =>
                {
                    Ok(e.ip_values())
                }
                _ if refuse.is_some() => Err(String::new()),
                _ => free.take_for(holder),
            };
            match (refuse, target) {
                (None, Ok(to)) => {
                    let reason = if sim.assigned[&squatter].is_empty() {
                        // A pending Service that asks for the address: it would get it the
                        // moment it is free.
                        format!(
                            "stop requesting {}, which {}/{} needs",
                            ips_text(&ips),
                            key.0,
                            key.1
                        )
                    } else {
                        format!(
                            "free {} for {}/{}",
                            ips_text(&sim.assigned[&squatter]),
                            key.0,
                            key.1
                        )
                    };
                    let mut step = build_step(holder, &bare(&to), Action::Evict, &style, reason);
                    step.from = sim.assigned[&squatter].clone();
                    sim.move_to(&squatter, &to);
                    plan.steps.push(step);
                }
                (refuse, target) => {
                    let reason = refuse.unwrap_or_else(|| {
                        format!(
                            "{} is held by {}/{}, and there is nowhere to move it: {}",
                            ips_text(&ips),
                            squatter.0,
                            squatter.1,
                            target.err().unwrap_or_default()
                        )
                    });
                    pending.retain(|k| k != &key);
                    plan.blocked.push(Blocked {
                        namespace: key.0,
                        name: key.1,
                        reason,
                    });
                }
            }
            continue;
        }
        // 3. Everyone left waits for someone else: a cycle. Park the first on scratch.
        let key = pending[0].clone();
        let scratch = if parked.contains(&key) {
            Err("it was parked once already".to_string())
        } else {
            free.take_for(sim.services[&key])
        };
        match scratch {
            Ok(to) => {
                let reason = format!(
                    "scratch address: breaks the cycle over {}",
                    ips_text(&sim.assigned[&key])
                );
                let mut step = build_step(
                    sim.services[&key],
                    &bare(&to),
                    Action::Scratch,
                    &style,
                    reason,
                );
                step.from = sim.assigned[&key].clone();
                sim.move_to(&key, &to);
                parked.insert(key);
                plan.steps.push(step);
            }
            Err(why) => {
                pending.remove(0);
                plan.blocked.push(Blocked {
                    namespace: key.0,
                    name: key.1,
                    reason: format!("cycle with no free scratch address to break it: {why}"),
                });
            }
        }
    }
    if observed.pools_unreadable.is_some() && !plan.steps.is_empty() {
        plan.warnings.push(
            "the cluster's IPAddressPools could not be read, so lbip cannot verify that the addresses it moves Services to are in a pool (it trusts the registry's pools); MetalLB refuses an address no pool covers and the Service moved there loses its IP".to_string(),
        );
    }
    // MetalLB hands a freed IP to a pending Service at once. A pending Service that requests
    // nothing could take an address this plan frees before its owner is moved in.
    let frees = plan
        .steps
        .iter()
        .any(|s| s.from != s.to && !s.from.is_empty());
    let grabbers: Vec<String> = observed
        .load_balancers()
        .filter(|s| s.assigned.is_empty() && s.requested_ips(reader).is_empty())
        .filter(|s| !desired.contains_key(&(s.namespace.clone(), s.name.clone())))
        .map(|s| s.key())
        .collect();
    if frees && !grabbers.is_empty() {
        plan.warnings.push(format!(
            "{} pending Service(s) request no IP ({}); MetalLB may give one of them an address this plan frees before its owner moves in. Pin them in the registry, or rerun apply afterwards.",
            grabbers.len(),
            grabbers.join(", ")
        ));
    }
    plan
}
