//! What `pinned` and `checked` share: the connection from the task's options, which Services
//! the task is about, and the before/after of a plan for `--diff`. Reading, planning and
//! patching are the library's (`cluster`, `plan`), exactly as `kubectl lbip` uses them.

use super::args::ModuleArgs;
use super::result::{Diff, ModuleResult};
use crate::cluster::{self, Connection, KubeOptions};
use crate::diagnostic::did_you_mean;
use crate::metallb;
use crate::plan::{Observed, Scope, Step};
use crate::registry::Registry;
use std::collections::BTreeMap;
use std::future::Future;

/// A Service as `namespace`, `name`.
pub type ServiceKey = (String, String);

/// Runs the async cluster work on a runtime of its own (the module is one short process).
pub fn block_on<F: Future<Output = ModuleResult>>(work: F) -> ModuleResult {
    cluster::install_crypto_provider();
    match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt.block_on(work),
        Err(e) => ModuleResult::fail(format!("cannot start the async runtime: {e}")),
    }
}

/// The cluster a task acts on: the registry as that cluster sees it, the whole registry
/// (its other clusters are read too), and the cluster's name and context.
pub struct Target {
    pub registry: Registry,
    pub full: Registry,
    pub cluster: Option<crate::registry::Cluster>,
}

/// What `pinned` and `checked` need before touching the cluster: a registry without lint
/// errors (its warnings), the cluster the task is about, and the Services it names.
pub fn prepare(
    args: &ModuleArgs,
) -> Result<(Target, Vec<crate::diagnostic::Finding>, Vec<ServiceKey>), Box<ModuleResult>> {
    let (full, warnings, _path) = super::valid_registry(args)?;
    let target = target(args, full).map_err(|msg| Box::new(ModuleResult::fail(msg)))?;
    let selected = selected_services(&target.registry, args)
        .map_err(|msg| Box::new(ModuleResult::fail(msg)))?;
    Ok((target, warnings, selected))
}

/// The task's cluster: option `cluster`, else the registry cluster of option `context`, else
/// the registry's only cluster (a registry with several needs one of the two options).
pub fn target(args: &ModuleArgs, full: Registry) -> Result<Target, String> {
    let by_context = match (&args.cluster, &args.context) {
        (None, Some(ctx)) => full.view_for_context(ctx)?.map(|(name, _)| name),
        _ => None,
    };
    let name = args.cluster.clone().or(by_context);
    let registry = full.view_named(
        name.as_deref(),
        "the task needs to know which one: set option cluster, or option context to a registry cluster's context",
    )?;
    let cluster = registry.clusters.first().cloned();
    Ok(Target {
        registry,
        full,
        cluster,
    })
}

/// Connects and reads the cluster once, as `read` says (and, when the registry has several
/// clusters, the others' Services, so their addresses count as taken).
pub async fn connect_and_observe(
    args: &ModuleArgs,
    target: &Target,
    read: &cluster::ObserveOptions,
) -> Result<(Connection, Observed), Box<ModuleResult>> {
    let conn = connect(args, target).await?;
    let mut observed = cluster::observe(&conn, read)
        .await
        .map_err(|e| Box::new(ModuleResult::fail(e.to_string())))?;
    if let Some(c) = &target.cluster
        && target.full.clusters.len() > 1
    {
        observed.other_clusters =
            cluster::clusters::read_others(&target.full, c.name(), &kube_options(args, target))
                .await;
    }
    Ok((conn, observed))
}

/// The task's `kubeconfig` and `context` (else the target cluster's context, else as
/// kubectl does).
fn kube_options(args: &ModuleArgs, target: &Target) -> KubeOptions {
    KubeOptions {
        kubeconfig: args.kubeconfig.clone(),
        context: args
            .context
            .clone()
            .or_else(|| target.cluster.as_ref().map(|c| c.context().to_string())),
        names: crate::cluster::kubeconfig::FlagNames::ANSIBLE,
        ..Default::default()
    }
}

/// Connects as [`kube_options`] says. The error is the cluster core's message, which never
/// carries a token or key.
pub async fn connect(args: &ModuleArgs, target: &Target) -> Result<Connection, Box<ModuleResult>> {
    cluster::connect(&kube_options(args, target))
        .await
        .map_err(|e| Box::new(ModuleResult::fail(e.to_string())))
}

/// The Services named by `services:` (registry ids or `namespace/name`), in task order;
/// empty when the task names none (then every Service in scope).
pub fn selected_services(
    registry: &Registry,
    args: &ModuleArgs,
) -> Result<Vec<ServiceKey>, String> {
    let mut out: Vec<ServiceKey> = Vec::new();
    let mut unknown = Vec::new();
    for item in &args.services {
        let entry = match item.split_once('/') {
            Some((ns, name)) => registry.lookup(ns, name),
            None => registry.entry(item),
        };
        match entry {
            Some(e) => {
                let key = (e.namespace().to_string(), e.name().to_string());
                if !out.contains(&key) {
                    out.push(key);
                }
            }
            None => unknown.push(item.as_str()),
        }
    }
    if unknown.is_empty() {
        return Ok(out);
    }
    let ids: Vec<&str> = registry.services.iter().map(|e| e.id()).collect();
    let named: Vec<String> = unknown
        .iter()
        .map(|u| match did_you_mean(u, &ids) {
            Some(s) => format!("{u} (did you mean {s}?)"),
            None => u.to_string(),
        })
        .collect();
    Err(format!(
        "option services names what the registry does not have: {}; use registry ids or namespace/name of registry entries",
        named.join(", ")
    ))
}

/// The Services the task may change: one namespace, or everything. Named Services do not
/// narrow the scope: pinning one may need to move a squatter in another namespace first,
/// and the plan (`PlanOptions::only`) limits itself to the Service and those moves.
pub fn scope(args: &ModuleArgs) -> Scope {
    match &args.namespace {
        Some(ns) => Scope::namespace(ns),
        None => Scope::all(),
    }
}

/// What `--diff` shows of a Service: the MetalLB annotations (not MetalLB's own
/// `ip-allocated-from-pool` bookkeeping), `spec.loadBalancerIP` and the assigned IPs.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
struct Shown {
    annotations: BTreeMap<String, String>,
    spec_ip: Option<String>,
    assigned: String,
}

impl Shown {
    fn render(&self, key: &str, out: &mut String) {
        out.push_str(&format!("{key}:\n  annotations:"));
        if self.annotations.is_empty() {
            out.push_str(" {}\n");
        } else {
            out.push('\n');
            for (k, v) in &self.annotations {
                out.push_str(&format!("    {k}: \"{v}\"\n"));
            }
        }
        if let Some(ip) = &self.spec_ip {
            out.push_str(&format!("  spec.loadBalancerIP: \"{ip}\"\n"));
        }
        out.push_str(&format!("  assigned: {}\n", self.assigned));
    }
}

fn shown_annotation(key: &str) -> bool {
    // Every key a load balancer reads (or a misspelling of one), not their own bookkeeping.
    matches!(
        crate::provider::classify_any(key),
        Some((_, role)) if role != crate::provider::KeyRole::Output
    )
}

fn ips_text(ips: &[std::net::IpAddr]) -> String {
    if ips.is_empty() {
        "none".to_string()
    } else {
        metallb::format_ip_list(ips)
    }
}

/// Before/after of every Service the steps touch, the steps applied in order (a Service
/// parked on a scratch address and moved again shows only its final state).
pub fn plan_diff(steps: &[Step], observed: &Observed) -> Option<Diff> {
    if steps.iter().all(Step::is_noop_patch) {
        return None;
    }
    let mut order: Vec<String> = Vec::new();
    let mut before: BTreeMap<String, Shown> = BTreeMap::new();
    let mut after: BTreeMap<String, Shown> = BTreeMap::new();
    for step in steps.iter().filter(|s| !s.is_noop_patch()) {
        let key = step.key();
        if !before.contains_key(&key) {
            let initial = match observed.service(&step.namespace, &step.name) {
                Some(svc) => Shown {
                    annotations: svc
                        .annotations
                        .iter()
                        .filter(|(k, _)| shown_annotation(k))
                        .map(|(k, v)| (k.clone(), v.clone()))
                        .collect(),
                    spec_ip: svc.spec_load_balancer_ip.clone(),
                    assigned: ips_text(&svc.assigned),
                },
                None => Shown {
                    assigned: ips_text(&step.from),
                    ..Default::default()
                },
            };
            order.push(key.clone());
            before.insert(key.clone(), initial.clone());
            after.insert(key.clone(), initial);
        }
        let state = after.get_mut(&key).expect("inserted above");
        for k in &step.remove_annotations {
            state.annotations.remove(k);
        }
        for (k, v) in &step.set_annotations {
            state.annotations.insert(k.clone(), v.clone());
        }
        if step.clear_spec_ip {
            state.spec_ip = None;
        }
        state.assigned = ips_text(&step.to);
    }
    let render = |states: &BTreeMap<String, Shown>| {
        let mut out = String::new();
        for key in &order {
            states[key].render(key, &mut out);
        }
        out
    };
    Some(Diff {
        before: render(&before),
        after: render(&after),
        before_header: "cluster (before)".to_string(),
        after_header: "cluster (after lbip)".to_string(),
    })
}

/// `action namespace/name -> IPs` for each step that patches, for one-line messages.
pub fn step_summaries(steps: &[Step]) -> Vec<String> {
    steps
        .iter()
        .filter(|s| !s.is_noop_patch())
        .map(|s| format!("{} {} -> {}", s.action.as_str(), s.key(), ips_text(&s.to)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::{Action, ObservedService};

    fn svc(ns: &str, name: &str, annotations: &[(&str, &str)], assigned: &str) -> ObservedService {
        ObservedService {
            namespace: ns.into(),
            name: name.into(),
            service_type: "LoadBalancer".into(),
            load_balancer_class: None,
            annotations: annotations
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            labels: BTreeMap::new(),
            spec_load_balancer_ip: None,
            assigned: vec![assigned.parse().unwrap()],
            ingress_hostnames: Vec::new(),
            ports: vec!["80/TCP".into()],
            resource_version: Some("1".into()),
            ip_families: vec![crate::plan::observed::IpFamily::V4],
        }
    }

    fn step(
        ns: &str,
        name: &str,
        action: Action,
        to: &str,
        set: &[(&str, &str)],
        remove: &[&str],
    ) -> Step {
        Step {
            namespace: ns.into(),
            name: name.into(),
            action,
            from: Vec::new(),
            to: vec![to.parse().unwrap()],
            set_annotations: set
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            remove_annotations: remove.iter().map(|k| k.to_string()).collect(),
            clear_spec_ip: false,
            resource_version: None,
            reason: String::new(),
            want: Default::default(),
        }
    }

    #[test]
    fn the_diff_shows_metallb_keys_before_and_after_in_plan_order() {
        let observed = Observed::new(
            Scope::all(),
            vec![
                svc(
                    "mlflow",
                    "mlflow",
                    &[
                        ("metallb.universe.tf/loadBalancer-ips", "192.168.1.201"),
                        ("meta.helm.sh/release-name", "mlflow"),
                    ],
                    "192.168.1.203",
                ),
                svc(
                    "seldon",
                    "scheduler",
                    &[("metallb.io/ip-allocated-from-pool", "homelab")],
                    "192.168.1.201",
                ),
            ],
        );
        let steps = vec![
            step(
                "seldon",
                "scheduler",
                Action::Evict,
                "192.168.1.230",
                &[("metallb.io/loadBalancerIPs", "192.168.1.230")],
                &[],
            ),
            step(
                "mlflow",
                "mlflow",
                Action::Pin,
                "192.168.1.201",
                &[("metallb.io/loadBalancerIPs", "192.168.1.201")],
                &["metallb.universe.tf/loadBalancer-ips"],
            ),
        ];
        let diff = plan_diff(&steps, &observed).unwrap();
        assert_eq!(
            diff.before,
            "seldon/scheduler:\n  annotations: {}\n  assigned: 192.168.1.201\n\
             mlflow/mlflow:\n  annotations:\n    metallb.universe.tf/loadBalancer-ips: \"192.168.1.201\"\n  assigned: 192.168.1.203\n"
        );
        assert_eq!(
            diff.after,
            "seldon/scheduler:\n  annotations:\n    metallb.io/loadBalancerIPs: \"192.168.1.230\"\n  assigned: 192.168.1.230\n\
             mlflow/mlflow:\n  annotations:\n    metallb.io/loadBalancerIPs: \"192.168.1.201\"\n  assigned: 192.168.1.201\n"
        );
        assert_eq!(
            step_summaries(&steps),
            vec![
                "evict seldon/scheduler -> 192.168.1.230",
                "pin mlflow/mlflow -> 192.168.1.201"
            ]
        );
    }

    #[test]
    fn a_plan_that_only_waits_has_no_diff() {
        let observed = Observed::new(Scope::all(), vec![svc("a", "b", &[], "192.168.1.201")]);
        let wait = step("a", "b", Action::Wait, "192.168.1.201", &[], &[]);
        assert!(plan_diff(std::slice::from_ref(&wait), &observed).is_none());
        assert!(step_summaries(&[wait]).is_empty());
    }
}
