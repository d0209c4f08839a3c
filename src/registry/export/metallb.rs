//! MetalLB objects that make IP theft impossible at the source.
//!
//! For each registry pool `P` (in registry order):
//! - `P`: the addresses nobody is pinned to, `autoAssign: true`, P's `avoidBuggyIPs`. This
//!   is where Services without a registry entry get their IPs; a registered IP is never in
//!   it, so a chart that asks for nothing can no longer take one.
//! - `P-pinned`: the IPs of `pinBy: annotation` entries, `autoAssign: false`. MetalLB hands
//!   them out only to a Service that requests them (the annotation lbip writes).
//!
//! Then, for each `pinBy: pool` entry, `lbip-pin-<id>`: a pool holding only that entry's
//! IP (/32, /128; both for dual stack) with `serviceAllocation` (its namespace, its
//! `matchLabels`, priority 1). Such a pool is a *pinned pool* in MetalLB's terms
//! (`serviceAllocation` + `autoAssign: true`): MetalLB tries it first for a matching Service
//! that requests nothing, which is how an operator-created Service gets its IP without any
//! annotation. Last, one L2Advertisement `lbip` announcing every pool above.
//!
//! Reserved ranges are left out of every pool, the pools never overlap (MetalLB rejects
//! overlaps) and together they cover exactly the registry's pools minus the reserved ranges.
//! Ranges are merged and written as one CIDR when they are one, else as `first-last`.
//!
//! # Moving a live cluster from one big pool to these pools
//!
//! MetalLB forbids overlapping pools at every moment, so an in-use IP cannot be in the old
//! pool and its new pool at once; and when an assigned IP stops being covered by any pool,
//! MetalLB clears it (`ClearAssignment`) and allocates again. A Service that *requests* its
//! IP gets that same IP back as soon as a pool covers it again (nobody else can take an
//! uncovered IP); a Service that requests nothing gets whatever an auto-assign pool offers.
//! Every object carries the label `lbip/stage`: `pinned` for the pools that hold registry
//! IPs (and the L2Advertisement), `auto` for the auto-assign pools. So:
//!
//! 1. Give each registry pool the name of the live IPAddressPool it replaces
//!    (`kubectl get ipaddresspools -n metallb-system`), so the move edits that object in
//!    place and the Services allocated from it keep their IPs. Run `lbip lint`; save
//!    `lbip export metallb > pools.yaml`.
//! 2. Pin every `pinBy: annotation` entry first, with the old pool still in place (Helm
//!    post-renderer or the kubectl plugin), and check that each such Service holds its
//!    registry IP and requests it.
//! 3. Stop automatic allocation from the old pool for the moment of the move:
//!    `kubectl -n metallb-system patch ipaddresspool <pool> --type merge -p '{"spec":{"autoAssign":false}}'`.
//!    Nothing loses its IP; a Service created now waits until step 6.
//! 4. Shrink the old pool to the addresses of pool `<pool>` in `pools.yaml`, keeping
//!    `autoAssign: false`: `kubectl -n metallb-system patch ipaddresspool <pool> --type merge
//!    -p '{"spec":{"addresses":[...]}}'`. Services on pinned IPs lose their IP for a moment,
//!    but those IPs are now in no pool, so nobody else can take them; `pinBy: pool` Services
//!    wait too (check that no *other* auto-assign pool exists: `kubectl get ipaddresspools -A`).
//! 5. `kubectl apply -f pools.yaml -l lbip/stage=pinned`: creates `<pool>-pinned` and the
//!    `lbip-pin-*` pools and the L2Advertisement that announces all pools. MetalLB
//!    re-processes waiting Services on every pool change, so each gets its registry IP back
//!    (an older L2Advertisement naming only the old pool would leave them unannounced).
//! 6. `kubectl apply -f pools.yaml`: turns autoAssign back on for `<pool>`.
//! 7. `kubectl lbip status` (or `kubectl get svc -A`): every Service holds its IP.
//!
//! Applying `pools.yaml` in one go instead (it lists `<pool>` first, so no overlap is ever
//! denied) is still safe for annotation-pinned Services, which get their IP back within
//! seconds, but a `pinBy: pool` Service is then re-allocated from `<pool>` before its own
//! pool exists and ends up on another address. On a cluster without Services, one apply is
//! all it takes.

use super::pools::{object_name, own_addresses, quote};
use crate::registry::model::{PinBy, Pool, Registry};
use crate::registry::ranges::{AddrRange, merge, subtract};
use crate::registry::space::reserved_ranges;
use std::collections::BTreeMap;
use std::fmt::Write;

/// The namespace MetalLB reads its configuration from.
pub const NAMESPACE: &str = "metallb-system";

/// One IPAddressPool to write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PoolObject {
    pub name: String,
    pub addresses: Vec<AddrRange>,
    pub auto_assign: bool,
    pub avoid_buggy_ips: bool,
    /// `serviceAllocation` for a `pinBy: pool` entry.
    pub allocation: Option<Allocation>,
}

impl PoolObject {
    /// The `lbip/stage` label: `auto` for a plain auto-assign pool (applied last when moving
    /// a live cluster), `pinned` for pools that hold registry IPs.
    pub fn stage(&self) -> &'static str {
        if self.auto_assign && self.allocation.is_none() {
            "auto"
        } else {
            "pinned"
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Allocation {
    pub namespace: String,
    pub match_labels: BTreeMap<String, String>,
}

/// The pools `lbip export metallb` writes, in apply order.
pub fn pools(registry: &Registry) -> Vec<PoolObject> {
    let reserved = reserved_ranges(registry);
    let mut out = Vec::new();
    for pool in &registry.pools {
        let (auto, pinned) = split_pool(registry, pool, &reserved);
        if !auto.is_empty() {
            out.push(PoolObject {
                name: pool.name().to_string(),
                addresses: auto,
                auto_assign: true,
                avoid_buggy_ips: pool.avoid_buggy_ips,
                allocation: None,
            });
        }
        if !pinned.is_empty() {
            out.push(PoolObject {
                name: format!("{}-pinned", pool.name()),
                addresses: pinned,
                auto_assign: false,
                avoid_buggy_ips: pool.avoid_buggy_ips,
                allocation: None,
            });
        }
    }
    for entry in registry
        .services
        .iter()
        .filter(|e| e.pin_by.value == PinBy::Pool)
    {
        let addresses = subtract(&own_addresses(registry, entry), &reserved);
        if addresses.is_empty() {
            continue;
        }
        out.push(PoolObject {
            name: format!("lbip-pin-{}", object_name(entry.id())),
            addresses,
            auto_assign: true,
            avoid_buggy_ips: false,
            allocation: Some(Allocation {
                namespace: entry.namespace().to_string(),
                match_labels: entry.match_labels.value.clone(),
            }),
        });
    }
    out
}

/// (auto-assign ranges, pinned ranges) of one registry pool.
fn split_pool(
    registry: &Registry,
    pool: &Pool,
    reserved: &[AddrRange],
) -> (Vec<AddrRange>, Vec<AddrRange>) {
    let in_pool = |ip: &std::net::IpAddr| pool.contains(*ip);
    let singles = |pin: PinBy| -> Vec<AddrRange> {
        registry
            .services
            .iter()
            .filter(|e| e.pin_by.value == pin)
            .flat_map(|e| e.ip_values())
            .filter(in_pool)
            .map(AddrRange::single)
            .collect()
    };
    let pinned = subtract(&merge(&singles(PinBy::Annotation)), reserved);
    let mut holes: Vec<AddrRange> = reserved.to_vec();
    holes.extend(&pinned);
    holes.extend(singles(PinBy::Pool));
    let ranges: Vec<AddrRange> = pool.ranges.ranges().copied().collect();
    (subtract(&ranges, &holes), pinned)
}

/// The YAML stream: the pools in apply order, then the L2Advertisement.
pub fn render(registry: &Registry) -> String {
    let pools = pools(registry);
    let mut out = String::from(
        "# Written by `lbip export metallb`. kubectl applies these in order; on a live cluster\n# follow \"Moving a live cluster to lbip's pools\" in the README (labels lbip/stage).\n",
    );
    for p in &pools {
        write_pool(&mut out, p);
    }
    out.push_str(
        "---\napiVersion: metallb.io/v1beta1\nkind: L2Advertisement\nmetadata:\n  name: lbip\n",
    );
    let _ = writeln!(out, "  namespace: {NAMESPACE}");
    out.push_str(
        "  labels:\n    app.kubernetes.io/managed-by: lbip\n    lbip/stage: pinned\nspec:\n",
    );
    if pools.is_empty() {
        out.push_str("  ipAddressPools: []\n");
    } else {
        out.push_str("  ipAddressPools:\n");
        for p in &pools {
            let _ = writeln!(out, "    - {}", scalar(&p.name));
        }
    }
    out
}

fn write_pool(out: &mut String, p: &PoolObject) {
    out.push_str("---\napiVersion: metallb.io/v1beta1\nkind: IPAddressPool\nmetadata:\n");
    let _ = writeln!(out, "  name: {}", scalar(&p.name));
    let _ = writeln!(out, "  namespace: {NAMESPACE}");
    out.push_str("  labels:\n    app.kubernetes.io/managed-by: lbip\n");
    let _ = writeln!(out, "    lbip/stage: {}", p.stage());
    out.push_str("spec:\n  addresses:\n");
    for r in &p.addresses {
        let _ = writeln!(out, "    - {r}");
    }
    let _ = writeln!(out, "  autoAssign: {}", p.auto_assign);
    let _ = writeln!(out, "  avoidBuggyIPs: {}", p.avoid_buggy_ips);
    if let Some(a) = &p.allocation {
        out.push_str("  serviceAllocation:\n    priority: 1\n    namespaces:\n");
        let _ = writeln!(out, "      - {}", quote(&a.namespace));
        if !a.match_labels.is_empty() {
            out.push_str("    serviceSelectors:\n      - matchLabels:\n");
            for (k, v) in &a.match_labels {
                let _ = writeln!(out, "          {}: {}", quote(k), quote(v));
            }
        }
    }
}

/// A name written plain when YAML reads it back as that string, quoted otherwise (`123`,
/// `true`, `null`, `1e3`, `no`...).
fn scalar(s: &str) -> String {
    let lower = s.to_ascii_lowercase();
    let special = matches!(
        lower.as_str(),
        "true" | "false" | "yes" | "no" | "on" | "off" | "y" | "n" | "null" | "~" | ""
    );
    let numeric = s.parse::<f64>().is_ok() || s.starts_with(|c: char| c.is_ascii_digit());
    if special || numeric {
        quote(s)
    } else {
        s.to_string()
    }
}
