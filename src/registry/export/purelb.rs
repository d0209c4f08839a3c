//! PureLB ServiceGroups (`lbip export pools` with `provider.kind: purelb`).
//!
//! - `default` (the group a Service without `purelb.io/service-group` allocates from): the
//!   registry's pools minus the reserved ranges and every registered address.
//! - `lbip-pinned`: the registered addresses. PureLB honours a pin (`purelb.io/addresses`)
//!   only when the address lies in some group, and allocates automatically from a group
//!   only for Services that name it, so nobody else is ever handed these.
//!
//! Both are `local` groups (addresses announced on the nodes' own subnet) in
//! `purelb-system`, `purelb.io/v2`. PureLB needs each pool's `subnet`; lbip writes the /24
//! (IPv4) or /64 (IPv6) around it: edit it when the segment is another size.

use super::pools::{automatic, registered};
use crate::registry::model::Registry;
use crate::registry::ranges::AddrRange;
use ipnet::IpNet;
use std::fmt::Write;

pub const NAMESPACE: &str = "purelb-system";

pub fn render(registry: &Registry) -> String {
    let mut out = String::from(
        "# Written by `lbip export pools` for PureLB: the automatic group without the registered\n# addresses, and a group holding them (a pin must lie in some group).\n",
    );
    let auto: Vec<AddrRange> = automatic(registry)
        .into_iter()
        .flat_map(|(_, r)| r)
        .collect();
    group(&mut out, "default", &auto);
    let pinned: Vec<AddrRange> = registered(registry)
        .into_iter()
        .flat_map(|(r, _)| r)
        .collect();
    if !pinned.is_empty() {
        group(
            &mut out,
            "lbip-pinned",
            &crate::registry::ranges::merge(&pinned),
        );
    }
    out
}

fn group(out: &mut String, name: &str, ranges: &[AddrRange]) {
    let _ = write!(
        out,
        "---\napiVersion: purelb.io/v2\nkind: ServiceGroup\nmetadata:\n  name: {name}\n  namespace: {NAMESPACE}\n  labels:\n    app.kubernetes.io/managed-by: lbip\nspec:\n  local:\n"
    );
    for (key, v4) in [("v4pools", true), ("v6pools", false)] {
        let of_family: Vec<&AddrRange> = ranges.iter().filter(|r| r.is_ipv4() == v4).collect();
        if of_family.is_empty() {
            continue;
        }
        let _ = writeln!(out, "    {key}:");
        for r in of_family {
            let _ = writeln!(
                out,
                "      - pool: \"{}-{}\"\n        subnet: \"{}\"\n        aggregation: default",
                r.first,
                r.last,
                subnet(r)
            );
        }
    }
}

/// The /24 or /64 around a range's first address.
fn subnet(r: &AddrRange) -> IpNet {
    let prefix = if r.is_ipv4() { 24 } else { 64 };
    IpNet::new(r.first, prefix)
        .expect("a valid prefix length")
        .trunc()
}
