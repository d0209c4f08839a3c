//! The kube-vip cloud provider's ConfigMap (`lbip export pools` with `provider.kind:
//! kube-vip`).
//!
//! `kube-system/kubevip` with `range-global`: the registry's pools minus the reserved
//! ranges and every registered address, as a comma list of `first-last` ranges (no spaces:
//! the cloud provider does not trim). Registered Services carry their address in
//! `kube-vip.io/loadbalancerIPs`, which the cloud provider takes as is (it checks a pin
//! against no pool), so automatic allocation, which only draws from the ranges, can never
//! hand a registered address to another Service. Only `range-global` is written: the cloud
//! provider picks `cidr-<ns>`, then `cidr-global`, then `range-<ns>`, then `range-global`,
//! with no fallback, so remove any other `cidr-*`/`range-*` key it still has.

use super::pools::automatic;
use crate::registry::model::Registry;
use std::fmt::Write;

pub const NAMESPACE: &str = "kube-system";
pub const CONFIG_MAP: &str = "kubevip";

pub fn render(registry: &Registry) -> String {
    let ranges: Vec<String> = automatic(registry)
        .into_iter()
        .flat_map(|(_, r)| r)
        .map(|r| format!("{}-{}", r.first, r.last))
        .collect();
    let mut out = String::from(
        "# Written by `lbip export pools` for the kube-vip cloud provider: the automatic range\n# without the registered addresses (their Services carry kube-vip.io/loadbalancerIPs).\n",
    );
    let _ = write!(
        out,
        "---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {CONFIG_MAP}\n  namespace: {NAMESPACE}\n  labels:\n    app.kubernetes.io/managed-by: lbip\ndata:\n  range-global: \"{}\"\n",
        ranges.join(",")
    );
    out
}
