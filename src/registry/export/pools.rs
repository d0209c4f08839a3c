//! `lbip export pools`: the address reservation for the registry's load balancer(s), in the
//! objects each one reads. Whatever the implementation, the idea is MetalLB's
//! (`export::metallb`): automatic allocation only ever hands out addresses no entry is
//! given, and each registered address can go only to its own Service.
//!
//! - MetalLB: `lbip export metallb` (IPAddressPools with `autoAssign`, `serviceAllocation`).
//! - Cilium LB IPAM: [`super::cilium`], one `CiliumLoadBalancerIPPool` per registered
//!   address selecting its Service by name, and the general pools without those addresses.
//! - kube-vip: [`super::kube_vip`], the `kubevip` ConfigMap's ranges with the registered
//!   addresses cut out.
//! - PureLB: [`super::purelb`], a `default` ServiceGroup without the registered addresses
//!   and an `lbip-pinned` group holding them (a pin must lie in some group).
//!
//! During a switch-over (`provider.kind: [metallb, cilium]`) both sets are written, so the
//! new implementation finds its pools ready before it starts.

use crate::provider::ProviderKind;
use crate::registry::model::{Entry, Registry};
use crate::registry::ranges::{AddrRange, merge, subtract};
use crate::registry::space::reserved_ranges;

/// How `lbip export pools` writes Cilium's pools (the API version; `cilium.io/v2` since
/// Cilium 1.18, `cilium.io/v2alpha1` before).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    pub cilium_api_version: String,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            cilium_api_version: super::cilium::API_VERSION.to_string(),
        }
    }
}

/// The reservation objects of every provider of the registry, in `provider.kind` order.
pub fn render(registry: &Registry, opts: &Options) -> String {
    let mut out = String::new();
    for kind in &registry.providers {
        out.push_str(&match kind {
            ProviderKind::Metallb => super::metallb::render(registry),
            ProviderKind::Cilium => super::cilium::render(registry, &opts.cilium_api_version),
            ProviderKind::KubeVip => super::kube_vip::render(registry),
            ProviderKind::Purelb => super::purelb::render(registry),
        });
    }
    out
}

/// The addresses of the registry's pools that automatic allocation may hand out: the
/// pools minus the reserved ranges and every address an entry is given, per pool, in
/// registry order.
pub fn automatic(registry: &Registry) -> Vec<(String, Vec<AddrRange>)> {
    let reserved = reserved_ranges(registry);
    let mut holes = reserved;
    holes.extend(registry.registered_ips().into_iter().map(AddrRange::single));
    let holes = merge(&holes);
    registry
        .pools
        .iter()
        .map(|p| {
            let ranges: Vec<AddrRange> = p.ranges.ranges().copied().collect();
            (p.name().to_string(), subtract(&ranges, &holes))
        })
        .filter(|(_, r)| !r.is_empty())
        .collect()
}

/// The entry's IPs that lie inside some registry pool (others are lint errors; a pool for
/// them would cover addresses the registry does not own).
pub fn own_addresses(registry: &Registry, entry: &Entry) -> Vec<AddrRange> {
    let ips: Vec<AddrRange> = entry
        .ip_values()
        .into_iter()
        .filter(|ip| registry.pool_of(*ip).is_some())
        .map(AddrRange::single)
        .collect();
    merge(&ips)
}

/// Registered addresses inside the registry's pools (others are lint errors), each with the
/// entries given it (several when shared), in registry order.
pub fn registered(registry: &Registry) -> Vec<(Vec<AddrRange>, Vec<&Entry>)> {
    let reserved = reserved_ranges(registry);
    let mut groups: Vec<(Vec<AddrRange>, Vec<&Entry>)> = Vec::new();
    for entry in &registry.services {
        let ips = subtract(&own_addresses(registry, entry), &reserved);
        if ips.is_empty() {
            continue;
        }
        match groups.iter_mut().find(|(g, _)| *g == ips) {
            Some((_, entries)) => entries.push(entry),
            None => groups.push((ips, vec![entry])),
        }
    }
    groups
}

/// A registry id or name as part of a Kubernetes object name (DNS-1123).
pub fn object_name(id: &str) -> String {
    let s: String = id
        .to_ascii_lowercase()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    s.trim_matches('-').to_string()
}

/// A YAML double-quoted scalar (JSON string syntax is valid YAML).
pub fn quote(s: &str) -> String {
    serde_json::to_string(s).expect("strings always serialize")
}
