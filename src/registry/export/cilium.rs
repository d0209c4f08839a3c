//! Cilium LB IPAM pools (`lbip export pools` with `provider.kind: cilium`).
//!
//! - One `CiliumLoadBalancerIPPool` per registered address (or dual-stack pair, or address
//!   shared under one key), named `lbip-<id>`, whose `serviceSelector` matches only its
//!   Service(s) through the labels Cilium adds to every Service for selection,
//!   `io.kubernetes.service.namespace` and `io.kubernetes.service.name` (plus an entry's
//!   `matchLabels`). A pin (`lbipam.cilium.io/ips`) is only honoured from a pool that
//!   selects the Service, so these pools are what let the pins through, and what gives an
//!   operator-created Service its address without any annotation (`pinBy: pool`).
//! - Each registry pool, named as in the registry, with the addresses no entry is given:
//!   automatic allocation can never take a registered address. With `pinBy: pool` entries
//!   these pools also leave out Services of those names: Cilium picks at random among the
//!   pools that select a Service, and only the entry's own pool must.
//!
//! Pools are cluster-scoped and must not overlap (Cilium marks the later one
//! `cilium.io/PoolConflict` and disables it); these never do. Blocks are CIDRs where a range
//! is exactly one, else `start`/`stop`. `allowFirstLastIPs` is left unset (since Cilium 1.16
//! that allows the first and last address of a CIDR block).

use super::pools::{automatic, object_name, quote, registered};
use crate::registry::model::{PinBy, Registry};
use crate::registry::ranges::AddrRange;
use std::collections::BTreeSet;
use std::fmt::Write;

/// The API version written by default (Cilium >= 1.18; older releases read
/// `cilium.io/v2alpha1`).
pub const API_VERSION: &str = "cilium.io/v2";

pub fn render(registry: &Registry, api_version: &str) -> String {
    let mut out = String::from(
        "# Written by `lbip export pools` for Cilium LB IPAM: a pool per registered address that\n# selects only its Service, and the automatic pools without those addresses.\n",
    );
    for (ranges, entries) in registered(registry) {
        let name = format!("lbip-{}", object_name(entries[0].id()));
        header(&mut out, api_version, &name, "pinned");
        blocks(&mut out, &ranges);
        let namespaces: BTreeSet<&str> = entries.iter().map(|e| e.namespace()).collect();
        let names: BTreeSet<&str> = entries.iter().map(|e| e.name()).collect();
        out.push_str("  serviceSelector:\n");
        let labels: Vec<(&String, &String)> = entries
            .iter()
            .flat_map(|e| e.match_labels.value.iter())
            .collect();
        if namespaces.len() == 1 && names.len() == 1 {
            out.push_str("    matchLabels:\n");
            let _ = writeln!(
                out,
                "      io.kubernetes.service.namespace: {}",
                quote(namespaces.first().expect("one"))
            );
            let _ = writeln!(
                out,
                "      io.kubernetes.service.name: {}",
                quote(names.first().expect("one"))
            );
            for (k, v) in labels {
                let _ = writeln!(out, "      {}: {}", quote(k), quote(v));
            }
        } else {
            // Services sharing one address: any of their names in any of their namespaces.
            out.push_str("    matchExpressions:\n");
            for (key, values) in [
                ("io.kubernetes.service.namespace", &namespaces),
                ("io.kubernetes.service.name", &names),
            ] {
                let _ = writeln!(
                    out,
                    "      - key: {key}\n        operator: In\n        values:"
                );
                for v in values {
                    let _ = writeln!(out, "          - {}", quote(v));
                }
            }
        }
    }
    // Cilium picks among the pools that select a Service at random, so a Service pinned by
    // pool alone (no annotation asks for its address) must not match the automatic pools.
    // A selector cannot say "not this namespace and name together", so those pools leave
    // out every Service of that name.
    let by_pool: BTreeSet<&str> = registry
        .services
        .iter()
        .filter(|e| e.pin_by.value == PinBy::Pool)
        .map(|e| e.name())
        .collect();
    for (pool, ranges) in automatic(registry) {
        header(&mut out, api_version, &object_name(&pool), "auto");
        blocks(&mut out, &ranges);
        if !by_pool.is_empty() {
            out.push_str("  serviceSelector:\n    matchExpressions:\n      - key: io.kubernetes.service.name\n        operator: NotIn\n        values:\n");
            for name in &by_pool {
                let _ = writeln!(out, "          - {}", quote(name));
            }
        }
    }
    out
}

fn header(out: &mut String, api_version: &str, name: &str, stage: &str) {
    let _ = write!(
        out,
        "---\napiVersion: {api_version}\nkind: CiliumLoadBalancerIPPool\nmetadata:\n  name: {name}\n  labels:\n    app.kubernetes.io/managed-by: lbip\n    lbip/stage: {stage}\nspec:\n"
    );
}

fn blocks(out: &mut String, ranges: &[AddrRange]) {
    out.push_str("  blocks:\n");
    for r in ranges {
        match r.to_cidrs().as_slice() {
            [one] if r.first != r.last => {
                let _ = writeln!(out, "    - cidr: {one}");
            }
            _ if r.first == r.last => {
                let _ = writeln!(out, "    - start: {}", r.first);
            }
            _ => {
                let _ = writeln!(out, "    - start: {}\n      stop: {}", r.first, r.last);
            }
        }
    }
}
