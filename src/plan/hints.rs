//! Where a fix has to act, so that every hint names a command that does the job: reading
//! commands look at every namespace, `apply` acts only in the context's namespace unless told
//! otherwise, so "run apply" is only true when it says where.

use super::analyze::{ServiceStatus, State};
use super::observed::Observed;
use super::order::{PlanOptions, plan};
use crate::registry::Registry;
use std::collections::BTreeSet;

/// The namespaces `kubectl lbip apply` must be told to act in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ApplyScope {
    /// The context's namespace: plain `apply`.
    ContextNamespace,
    /// `apply -n NS`.
    Namespace(String),
    /// `apply -A`.
    AllNamespaces,
}

impl ApplyScope {
    /// The flags to add after `apply` (empty, `-n NS` or `-A`), with a leading space.
    pub fn flags(&self) -> String {
        match self {
            ApplyScope::ContextNamespace => String::new(),
            ApplyScope::Namespace(ns) => format!(" -n {ns}"),
            ApplyScope::AllNamespaces => " -A".to_string(),
        }
    }
}

/// Whether `apply` would change something about this row: it moves registered Services and
/// fixes their keys, and moves unregistered ones off registry IPs; it never touches other
/// unregistered Services and cannot deploy a missing one.
pub fn apply_fixes(row: &ServiceStatus) -> bool {
    let registered = row.registry_id.is_some() && !row.states.contains(&State::Missing);
    row.states.contains(&State::Stolen)
        || (registered
            && row
                .states
                .iter()
                .any(|s| matches!(s, State::Drift | State::Misconfigured | State::Pending)))
}

/// The scope an `apply` needs to fix every fixable row, from where the reading command
/// looked: `selected` is the namespace given with `-n` (then apply is told the same), and
/// `context_namespace` the one plain `apply` acts in. `None` when nothing is fixable.
pub fn apply_scope_for(
    rows: &[ServiceStatus],
    context_namespace: &str,
    selected: Option<&str>,
) -> Option<ApplyScope> {
    let namespaces: BTreeSet<&str> = rows
        .iter()
        .filter(|r| apply_fixes(r))
        .map(|r| r.namespace.as_str())
        .collect();
    if namespaces.is_empty() {
        return None;
    }
    Some(match selected {
        Some(ns) => ApplyScope::Namespace(ns.to_string()),
        None if namespaces.iter().all(|ns| *ns == context_namespace) => {
            ApplyScope::ContextNamespace
        }
        None => ApplyScope::AllNamespaces,
    })
}

/// What every face says when the IPAddressPools could not be read (a 403): the command goes
/// on, but nothing is checked against the cluster's pools.
pub fn pools_unknown(observed: &Observed) -> Option<String> {
    observed.pools_unreadable.as_ref().map(|why| {
        format!(
            "pools unknown: {why}; pool names are not shown and no IP is checked against the cluster's IPAddressPools (grant verb `list` on resource `ipaddresspools.metallb.io`, README: \"RBAC\")"
        )
    })
}

/// `namespace/name` of the registered Services outside `observed.scope`'s namespaces that an
/// apply over every namespace would change or report as blocked (`observed` must hold the
/// Services of every namespace, as apply reads them). The label selector is kept.
pub fn differing_elsewhere(
    registry: &Registry,
    observed: &Observed,
    options: &PlanOptions,
) -> Vec<String> {
    if observed.scope.namespaces.is_none() {
        return Vec::new();
    }
    let mut everywhere = observed.clone();
    everywhere.scope.namespaces = None;
    let wider = plan(registry, &everywhere, options);
    let outside = |ns: &str| !observed.scope.includes(ns);
    let mut keys: BTreeSet<String> = wider
        .steps
        .iter()
        .filter(|s| outside(&s.namespace) && registry.lookup(&s.namespace, &s.name).is_some())
        .map(|s| s.key())
        .collect();
    keys.extend(
        wider
            .blocked
            .iter()
            .filter(|b| outside(&b.namespace))
            .map(|b| format!("{}/{}", b.namespace, b.name)),
    );
    keys.into_iter().collect()
}
