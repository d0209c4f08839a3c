//! The semantic lint rules: what the load balancer (MetalLB, Cilium LB IPAM, kube-vip,
//! PureLB) and Kubernetes would reject or silently get wrong, checked on the loaded [`Registry`]. The loader (`load.rs`) already reported
//! shape problems (unknown keys, wrong types, unparsable addresses, host bits); these rules
//! see only values that parsed.
//!
//! Every finding points at the offending value's line and column and carries a stable
//! `code`. Rules are grouped by what they look at, one module each.

mod addresses;
mod capacity;
mod clusters;
mod names;
mod pools;
mod providers;
mod sharing;

use super::model::{Located, Registry};
use crate::diagnostic::Finding;
use crate::provider::{Behaviour, ProviderKind};

/// Runs every rule. Findings come in rule order; the caller sorts them by position.
pub fn check(registry: &Registry) -> Vec<Finding> {
    let mut findings = Vec::new();
    findings.extend(pools::check(registry));
    findings.extend(addresses::check(registry));
    findings.extend(sharing::check(registry));
    findings.extend(names::check(registry));
    findings.extend(capacity::check(registry));
    findings.extend(clusters::check(registry));
    findings.extend(providers::check(registry));
    findings
}

/// The load balancers that read a pool or an entry with this `cluster:` value: its
/// cluster's, else the registry's `provider.kind`.
fn providers_at(reg: &Registry, cluster: Option<&Located<String>>) -> Vec<ProviderKind> {
    reg.providers_of(reg.cluster_named(cluster))
}

/// How the (first) load balancer there treats what lint checks, for the words of a finding.
fn behaviour_at(reg: &Registry, cluster: Option<&Located<String>>) -> &'static Behaviour {
    providers_at(reg, cluster)
        .first()
        .copied()
        .unwrap_or_default()
        .provider()
        .behaviour()
}

/// Places a finding at a located value.
fn at<T>(finding: Finding, value: &Located<T>) -> Finding {
    finding.at(value.pos.line, value.pos.column)
}

#[cfg(test)]
pub(crate) mod test_support {
    use crate::diagnostic::Finding;
    use crate::registry::Loaded;

    /// Loads `text` and returns the findings with `code`, as (line, column, id).
    pub fn found(text: &str, code: &str) -> Vec<(u32, u32, Option<String>)> {
        let loaded = Loaded::from_text(text, "t.yaml").expect("parses");
        loaded
            .findings
            .iter()
            .filter(|f| f.code == code)
            .map(|f| (f.line.unwrap(), f.column.unwrap(), f.id.clone()))
            .collect()
    }

    /// All findings of `text`.
    pub fn all(text: &str) -> Vec<Finding> {
        Loaded::from_text(text, "t.yaml").expect("parses").findings
    }

    /// A small valid registry header: pool 10.0.0.0/24 (avoidBuggyIPs), reserved
    /// 10.0.0.1-10.0.0.9, block `web` 10.0.0.10-10.0.0.19. Services follow at line 12.
    pub const HEAD: &str = "pools:
  - name: lab
    addresses: [10.0.0.0/24]
    avoidBuggyIPs: true
reserved:
  - name: gw
    addresses: [10.0.0.1-10.0.0.9]
blocks:
  - name: web
    addresses: [10.0.0.10-10.0.0.19]
services:
";
}
