//! Property: for any registry, the pools `lbip export metallb` writes never overlap (MetalLB
//! rejects overlaps), cover exactly the registry's pools minus its reserved ranges, keep
//! every registered IP out of the auto-assign pools, and put each pinned IP where it belongs.

use lbip::registry::export::metallb::{self, PoolObject};
use lbip::registry::ranges::{AddrRange, merge, subtract};
use lbip::registry::{Loaded, PinBy};
use proptest::prelude::*;

/// One pool: up to two segments (first offset, length) inside 10.<pool>.0.0/16, optionally
/// an IPv6 segment, and avoidBuggyIPs.
#[derive(Debug, Clone)]
struct PoolSpec {
    v4: Vec<(u16, u16)>,
    v6: Option<(u16, u16)>,
    avoid: bool,
}

fn pool_spec() -> impl Strategy<Value = PoolSpec> {
    (
        prop::collection::vec((0u16..600, 1u16..300), 1..3),
        prop::option::of((0u16..300, 1u16..100)),
        any::<bool>(),
    )
        .prop_map(|(v4, v6, avoid)| PoolSpec { v4, v6, avoid })
}

fn v4(pool: usize, offset: u32) -> String {
    let o = offset.min(65535);
    format!("10.{pool}.{}.{}", o >> 8, o & 255)
}

fn v6(pool: usize, offset: u32) -> String {
    format!("fd00:{pool}::{:x}", offset)
}

/// Builds registry text: pools in distinct /16s (segments inside one pool may overlap,
/// which the export must still handle), reserved ranges anywhere, entries on any address.
fn registry_text(
    pools: &[PoolSpec],
    reserved: &[(usize, u16, u16)],
    entries: &[(usize, u16, u8, bool)],
) -> String {
    let mut t = String::from("pools:\n");
    for (i, p) in pools.iter().enumerate() {
        let mut addrs: Vec<String> =
            p.v4.iter()
                .map(|&(a, n)| format!("\"{}-{}\"", v4(i, a as u32), v4(i, (a + n - 1) as u32)))
                .collect();
        if let Some((a, n)) = p.v6 {
            addrs.push(format!(
                "\"{}-{}\"",
                v6(i, a as u32),
                v6(i, (a + n - 1) as u32)
            ));
        }
        t += &format!(
            "  - name: p{i}\n    addresses: [{}]\n    avoidBuggyIPs: {}\n",
            addrs.join(", "),
            p.avoid
        );
    }
    t += "reserved:\n";
    for (k, &(pool, a, n)) in reserved.iter().enumerate() {
        t += &format!(
            "  - name: r{k}\n    addresses: [\"{}-{}\"]\n",
            v4(pool, a as u32),
            v4(pool, (a + n - 1) as u32)
        );
    }
    t += "services:\n";
    // Distinct addresses by construction: entry k gets offset `base + k`.
    for (k, &(pool, base, kind, by_pool)) in entries.iter().enumerate() {
        let offset = base as u32 * 16 + k as u32;
        let ip = if kind % 4 == 0 {
            v6(pool, offset % 400)
        } else {
            v4(pool, offset % 900)
        };
        t += &format!("  e{k}:\n    namespace: ns{k}\n    ip: \"{ip}\"\n");
        if by_pool {
            t += &format!("    pinBy: pool\n    matchLabels: {{app: e{k}}}\n");
        }
    }
    t
}

fn all_ranges(pools: &[PoolObject]) -> Vec<AddrRange> {
    pools
        .iter()
        .flat_map(|p| p.addresses.iter().copied())
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn exported_pools_are_disjoint_and_cover_the_registry(
        pools in prop::collection::vec(pool_spec(), 1..4),
        reserved in prop::collection::vec((0usize..4, 0u16..700, 1u16..60), 0..4),
        entries in prop::collection::vec((0usize..4, 0u16..50, any::<u8>(), any::<bool>()), 0..12),
    ) {
        let text = registry_text(&pools, &reserved, &entries);
        let loaded = Loaded::from_text(&text, "prop.yaml").expect("generated YAML parses");
        let reg = &loaded.registry;
        let out = metallb::pools(reg);

        // Never two pools (or two ranges of one pool) sharing an address.
        let ranges = all_ranges(&out);
        for (i, a) in ranges.iter().enumerate() {
            for b in &ranges[i + 1..] {
                prop_assert!(!a.overlaps(b), "{a} overlaps {b}\n{text}");
            }
        }
        // Exactly the registry's pools minus the reserved ranges.
        let pool_ranges: Vec<AddrRange> = reg.pools.iter().flat_map(|p| p.ranges.ranges().copied()).collect();
        let reserved_ranges: Vec<AddrRange> = reg.reserved.iter().flat_map(|r| r.ranges().copied()).collect();
        prop_assert_eq!(merge(&ranges), subtract(&pool_ranges, &reserved_ranges), "{}", text);

        // Registered IPs are never auto-assignable to strangers; each sits in its own kind of pool.
        for entry in &reg.services {
            for ip in entry.ip_values() {
                let holder = out.iter().find(|p| p.addresses.iter().any(|r| r.contains(ip)));
                let assignable = reg.pool_of(ip).is_some() && reg.reserved_range_of(ip).is_none();
                match (holder, assignable) {
                    (None, false) => {}
                    (Some(p), true) => match entry.pin_by.value {
                        PinBy::Annotation => {
                            prop_assert!(!p.auto_assign && p.name.ends_with("-pinned"), "{ip} in {p:?}");
                        }
                        PinBy::Pool => {
                            prop_assert!(p.auto_assign && p.allocation.is_some(), "{ip} in {p:?}");
                            prop_assert_eq!(p.addresses.iter().map(|r| r.len()).sum::<u128>(), entry.ip_values().len() as u128);
                        }
                    },
                    (h, a) => prop_assert!(false, "{ip}: holder {h:?}, assignable {a}\n{text}"),
                }
            }
        }
        // Pool names are unique, as MetalLB requires.
        let mut names: Vec<&str> = out.iter().map(|p| p.name.as_str()).collect();
        names.sort();
        let before = names.len();
        names.dedup();
        prop_assert_eq!(before, names.len());
    }
}
