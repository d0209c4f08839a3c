//! Rules about the address ranges themselves: pools, reserved ranges and blocks.

use super::at;
use crate::diagnostic::{Finding, did_you_mean};
use crate::registry::model::{Located, NamedRanges, Pool, Registry};
use crate::registry::ranges::{AddrRange, subtract};

pub fn check(reg: &Registry) -> Vec<Finding> {
    let mut out = Vec::new();
    pool_overlaps(reg, &mut out);
    pools_vs_reserved(reg, &mut out);
    blocks_inside_pools(reg, &mut out);
    block_overlaps(reg, &mut out);
    duplicate_names(
        &reg.pools.iter().map(|p| &p.ranges).collect::<Vec<_>>(),
        "pool",
        &mut out,
    );
    duplicate_names(&reg.blocks.iter().collect::<Vec<_>>(), "block", &mut out);
    pool_names_are_object_names(reg, &mut out);
    pinned_pool_names_are_free(reg, &mut out);
    out
}

/// `lbip export metallb` writes the pinned part of pool `P` as `P-pinned`; a registry pool
/// already called that would collide with it.
fn pinned_pool_names_are_free(reg: &Registry, out: &mut Vec<Finding>) {
    for pool in &reg.pools {
        let name = &pool.ranges.name;
        if let Some(base) = reg
            .pools
            .iter()
            .find(|p| format!("{}-pinned", p.name()) == name.value)
        {
            out.push(
                at(
                    Finding::error(
                        "pool-name-clash",
                        format!(
                            "pool name `{}` is the name `lbip export metallb` gives the pinned addresses of pool `{}`",
                            name.value,
                            base.name()
                        ),
                    ),
                    name,
                )
                .hint("rename this pool"),
            );
        }
    }
}

/// MetalLB rejects a configuration in which two address ranges overlap, inside one pool or
/// across pools (`CIDR … overlaps with already defined CIDR …`) and keeps the old config;
/// Cilium disables the later pool. Each load balancer's consequence is in its `Behaviour`.
fn pool_overlaps(reg: &Registry, out: &mut Vec<Finding>) {
    let all: Vec<(&Pool, &Located<AddrRange>)> = reg
        .pools
        .iter()
        .flat_map(|p| p.ranges.addresses.iter().map(move |r| (p, r)))
        .collect();
    let cluster_of = |p: &Pool| {
        reg.cluster_named(p.cluster.as_ref())
            .map(|c| c.name().to_string())
    };
    for (i, (pool, range)) in all.iter().enumerate() {
        let Some((other_pool, other)) = all[..i]
            .iter()
            .find(|(_, o)| o.value.overlaps(&range.value))
        else {
            continue;
        };
        let (mine, theirs) = (cluster_of(pool), cluster_of(other_pool));
        let finding = match (&mine, &theirs) {
            (Some(a), Some(b)) if a != b => Finding::error(
                "cluster-pool-overlap",
                format!(
                    "`{}` of pool `{}` (cluster `{a}`) overlaps `{}` of pool `{}` (cluster `{b}`, line {}); both clusters could hand out the same address on one segment",
                    range.value,
                    pool.name(),
                    other.value,
                    other_pool.name(),
                    other.pos.line
                ),
            ),
            _ => {
                let whose = if other_pool.name() == pool.name() {
                    format!("another range of pool `{}`", pool.name())
                } else {
                    format!("pool `{}`", other_pool.name())
                };
                Finding::error(
                    "pool-overlap",
                    format!(
                        "`{}` overlaps `{}` of {whose} (line {}); {}",
                        range.value,
                        other.value,
                        other.pos.line,
                        super::behaviour_at(reg, pool.cluster.as_ref()).overlap
                    ),
                )
            }
        };
        out.push(
            at(finding, range)
                .hint("make the ranges disjoint, e.g. split the addresses between the pools"),
        );
    }
}

/// A pool that covers a reserved range lets the load balancer hand a reserved address (a
/// DHCP lease, the gateway) to a Service that asks for nothing.
fn pools_vs_reserved(reg: &Registry, out: &mut Vec<Finding>) {
    for pool in &reg.pools {
        for range in &pool.ranges.addresses {
            for res in &reg.reserved {
                if let Some(hit) = res
                    .addresses
                    .iter()
                    .find(|r| r.value.overlaps(&range.value))
                {
                    out.push(
                        at(
                            Finding::error(
                                "pool-overlaps-reserved",
                                format!(
                                    "pool `{}` range `{}` overlaps reserved range `{}` (`{}`, line {}); {} could hand a reserved address to any Service",
                                    pool.name(), range.value, res.name.value, hit.value, hit.pos.line,
                                    super::providers_at(reg, pool.cluster.as_ref()).first().copied().unwrap_or_default().title()
                                ),
                            ),
                            range,
                        )
                        .hint("shrink the pool so it stops before the reserved range (the pools `lbip export pools` writes never hold reserved addresses)"),
                    );
                }
            }
        }
    }
}

/// Blocks group services; an address in two blocks belongs to two groups, which makes the
/// free counts and `lbip suggest --block` answers overlap. Legal, so only a warning.
fn block_overlaps(reg: &Registry, out: &mut Vec<Finding>) {
    let all: Vec<(&str, &Located<AddrRange>)> = reg
        .blocks
        .iter()
        .flat_map(|b| b.addresses.iter().map(move |r| (b.name.value.as_str(), r)))
        .collect();
    for (i, (block, range)) in all.iter().enumerate() {
        if let Some((other_block, other)) = all[..i]
            .iter()
            .find(|(name, o)| name != block && o.value.overlaps(&range.value))
        {
            out.push(
                at(
                    Finding::warning(
                        "block-overlap",
                        format!(
                            "block `{block}` range `{}` overlaps block `{other_block}` (`{}`, line {}); an address in both counts for both",
                            range.value, other.value, other.pos.line
                        ),
                    ),
                    range,
                )
                .hint("make the blocks disjoint, so each address belongs to one group"),
            );
        }
    }
}

/// A block is a named part of the pools; addresses outside every pool can never be used.
fn blocks_inside_pools(reg: &Registry, out: &mut Vec<Finding>) {
    let pools: Vec<AddrRange> = reg
        .pools
        .iter()
        .flat_map(|p| p.ranges.ranges().copied())
        .collect();
    for block in &reg.blocks {
        for range in &block.addresses {
            let outside = subtract(&[range.value], &pools);
            if let Some(first) = outside.first() {
                out.push(
                    at(
                        Finding::error(
                            "block-outside-pool",
                            format!(
                                "block `{}` range `{}` is not inside any pool ({} outside, starting at {})",
                                block.name.value, range.value,
                                outside.iter().map(|r| r.len()).fold(0u128, u128::saturating_add),
                                first.first
                            ),
                        ),
                        range,
                    )
                    .hint("a block groups addresses of the pools; shrink it or widen a pool"),
                );
            }
        }
    }
}

fn duplicate_names(list: &[&NamedRanges], what: &str, out: &mut Vec<Finding>) {
    for (i, item) in list.iter().enumerate() {
        if let Some(first) = list[..i].iter().find(|o| o.name.value == item.name.value) {
            out.push(
                at(
                    Finding::error(
                        "duplicate-name",
                        format!(
                            "{what} name `{}` is already used on line {}",
                            item.name.value, first.name.pos.line
                        ),
                    ),
                    &item.name,
                )
                .hint(format!("give every {what} its own name")),
            );
        }
    }
}

/// Pools become Kubernetes objects (`lbip export pools`: IPAddressPools, Cilium pools,
/// ServiceGroups), whose names must be DNS-1123 subdomains; `-pinned` is appended to one of
/// them, so leave room for it.
fn pool_names_are_object_names(reg: &Registry, out: &mut Vec<Finding>) {
    for pool in &reg.pools {
        let name = &pool.ranges.name;
        if !super::names::is_dns1123_subdomain(&name.value) || name.value.len() > 253 - 7 {
            let mut f = at(
                Finding::error(
                    "bad-pool-name",
                    format!(
                        "pool name `{}` is not a Kubernetes object name (lowercase letters, digits, `-` and `.`, starting and ending with a letter or digit)",
                        name.value
                    ),
                ),
                name,
            );
            f = f.hint(format!(
                "pools become Kubernetes objects; try `{}`",
                suggest_name(&name.value)
            ));
            out.push(f);
        }
    }
}

fn suggest_name(name: &str) -> String {
    let s: String = name
        .to_ascii_lowercase()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                c
            } else {
                '-'
            }
        })
        .collect();
    s.trim_matches(|c| c == '-' || c == '.').to_string()
}

/// `block: name` must name a block; suggests the closest one.
pub fn unknown_block_hint(reg: &Registry, name: &str) -> String {
    let names: Vec<&str> = reg.blocks.iter().map(|b| b.name.value.as_str()).collect();
    match did_you_mean(name, &names) {
        Some(m) => format!("did you mean `{m}`?"),
        None if names.is_empty() => {
            "the registry has no `blocks`; remove `block:` or add the block".into()
        }
        None => format!("known blocks: {}", names.join(", ")),
    }
}

#[cfg(test)]
mod tests {
    use crate::registry::rules::test_support::found;

    #[test]
    fn overlapping_pools_are_reported_at_the_later_range() {
        let text = "pools:\n  - name: a\n    addresses: [10.0.0.0/24]\n  - name: b\n    addresses:\n      - 10.0.1.0/24\n      - 10.0.0.128-10.0.0.130\n";
        assert_eq!(found(text, "pool-overlap"), [(7, 9, None)]);
    }

    #[test]
    fn overlap_inside_one_pool_is_reported() {
        let text = "pools:\n  - name: a\n    addresses: [10.0.0.0/24, 10.0.0.5-10.0.0.6]\n";
        assert_eq!(found(text, "pool-overlap"), [(3, 30, None)]);
    }

    #[test]
    fn a_pool_over_a_reserved_range_is_an_error() {
        let text = "pools:\n  - name: a\n    addresses: [10.0.0.0/24]\nreserved:\n  - name: gw\n    addresses: [10.0.0.1/32]\n";
        assert_eq!(found(text, "pool-overlaps-reserved"), [(3, 17, None)]);
    }

    #[test]
    fn a_block_outside_the_pools_is_an_error() {
        let text = "pools:\n  - name: a\n    addresses: [10.0.0.0/28]\nblocks:\n  - name: web\n    addresses: [\"10.0.0.8-10.0.0.20\"]\n";
        assert_eq!(found(text, "block-outside-pool"), [(6, 17, None)]);
    }

    #[test]
    fn overlapping_blocks_are_a_warning_at_the_later_range() {
        let text = "pools:\n  - name: a\n    addresses: [10.0.0.0/24]\nblocks:\n  - name: web\n    addresses: [10.0.0.0/28]\n  - name: db\n    addresses: [\"10.0.0.10-10.0.0.20\"]\n";
        assert_eq!(found(text, "block-overlap"), [(8, 17, None)]);
        let disjoint = text.replace("10.0.0.10-", "10.0.0.16-");
        assert!(found(&disjoint, "block-overlap").is_empty());
    }

    #[test]
    fn duplicate_pool_and_block_names_are_errors() {
        let text = "pools:\n  - name: a\n    addresses: [10.0.0.0/28]\n  - name: a\n    addresses: [10.0.1.0/28]\nblocks:\n  - name: x\n    addresses: [10.0.0.0/30]\n  - name: x\n    addresses: [10.0.0.4/30]\n";
        assert_eq!(
            found(text, "duplicate-name"),
            [(4, 11, None), (9, 11, None)]
        );
    }

    #[test]
    fn a_pool_named_like_a_pinned_pool_clashes() {
        let text = "pools:\n  - name: a\n    addresses: [10.0.0.0/28]\n  - name: a-pinned\n    addresses: [10.0.1.0/28]\n";
        assert_eq!(found(text, "pool-name-clash"), [(4, 11, None)]);
    }

    #[test]
    fn pool_names_must_be_kubernetes_names() {
        let text = "pools:\n  - name: Home_Lab\n    addresses: [10.0.0.0/28]\n";
        assert_eq!(found(text, "bad-pool-name"), [(2, 11, None)]);
    }
}
