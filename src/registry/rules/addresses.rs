//! Rules about each entry's IPs: inside a pool, outside reserved ranges, not `.0`/`.255`
//! when the pool avoids them, inside the declared block.

use super::pools::unknown_block_hint;
use super::{at, behaviour_at, providers_at};
use crate::diagnostic::Finding;
use crate::provider::ProviderKind;
use crate::registry::model::{Entry, Located, Registry};
use crate::registry::query::is_buggy;
use std::net::IpAddr;

pub fn check(reg: &Registry) -> Vec<Finding> {
    let mut out = Vec::new();
    // A registry without pools (a first draft, e.g. from `kubectl lbip import`) cannot be
    // checked against the load balancer's pools: say so once instead of flagging every IP.
    let has_pools = !reg.pools.is_empty();
    if !has_pools && !reg.services.is_empty() {
        let list = behaviour_at(reg, None).list_pools;
        out.push(
            Finding::warning(
                "no-pools",
                "the registry lists no `pools`, so no IP is checked against the load balancer's pools and `lbip export pools` writes no pool",
            )
            .hint(format!("copy the pools from `{list}` into `pools:`")),
        );
    }
    for entry in &reg.services {
        for ip in &entry.ips {
            if has_pools {
                ip_in_pools(reg, entry, ip, &mut out);
            }
            reserved(reg, entry, ip, &mut out);
        }
        declared_block(reg, entry, &mut out);
        dual_stack_in_one_pool(reg, entry, &mut out);
    }
    out
}

/// MetalLB serves a dual-stack request from one pool that holds both addresses (the others
/// take each address from any pool that has it).
fn dual_stack_in_one_pool(reg: &Registry, entry: &Entry, out: &mut Vec<Finding>) {
    let [a, b] = entry.ips.as_slice() else { return };
    let one_pool = providers_at(reg, entry.cluster.as_ref())
        .into_iter()
        .find(|k| k.provider().behaviour().dual_stack_one_pool);
    let Some(provider) = one_pool else { return };
    if let (Some(pa), Some(pb)) = (reg.pool_of(a.value), reg.pool_of(b.value))
        && pa.name() != pb.name()
    {
        out.push(
            at(
                Finding::error(
                    "ips-split-pools",
                    format!(
                        "`{}` of `{}` is in pool `{}` but `{}` is in pool `{}`; {} serves a dual-stack Service from one pool holding both addresses",
                        b.value,
                        entry.id(),
                        pb.name(),
                        a.value,
                        pa.name(),
                        provider.title()
                    ),
                ),
                b,
            )
            .for_id(entry.id())
            .hint("put an IPv4 and an IPv6 range in the same pool"),
        );
    }
}

fn ip_in_pools(reg: &Registry, entry: &Entry, ip: &Located<IpAddr>, out: &mut Vec<Finding>) {
    let id = entry.id();
    let addr = ip.value;
    let cluster = reg.cluster_named(entry.cluster.as_ref());
    let own_pool = reg.pools_of_cluster(cluster).find(|p| p.contains(addr));
    if own_pool.is_none()
        && let (Some(c), Some(other)) = (cluster, reg.pool_of(addr))
    {
        let other_cluster = reg
            .cluster_named(other.cluster.as_ref())
            .map_or("another cluster".to_string(), |o| {
                format!("cluster `{}`", o.name())
            });
        out.push(
            at(
                Finding::error(
                    "ip-outside-cluster-pools",
                    format!(
                        "`{addr}` of `{id}` (cluster `{}`) is in pool `{}` of {other_cluster}, not in a pool of its own cluster; its load balancer refuses it, or both clusters would answer for it",
                        c.name(),
                        other.name()
                    ),
                ),
                ip,
            )
            .for_id(id)
            .hint("pick an address from a pool of the entry's cluster (`lbip suggest`), or fix `cluster:`"),
        );
        return;
    }
    match own_pool {
        None => {
            let pools: Vec<String> = reg
                .pools
                .iter()
                .map(|p| {
                    let ranges: Vec<String> = p.ranges.ranges().map(|r| r.to_string()).collect();
                    format!("{} ({})", p.name(), ranges.join(", "))
                })
                .collect();
            let hint = format!("pools: {}; run `lbip suggest` for a free address", pools.join("; "));
            let then = behaviour_at(reg, entry.cluster.as_ref()).outside_pools;
            out.push(
                at(
                    Finding::error(
                        "ip-outside-pool",
                        format!("`{addr}` of `{id}` is outside every pool; {then}"),
                    ),
                    ip,
                )
                .for_id(id)
                .hint(hint),
            );
        }
        Some(pool) if pool.avoid_buggy_ips && is_buggy(addr) => out.push(
            at(
                Finding::error(
                    "ip-buggy",
                    format!(
                        "`{addr}` of `{id}` ends in .0 or .255, which pool `{}` avoids (avoidBuggyIPs: true){}",
                        pool.name(),
                        if providers_at(reg, entry.cluster.as_ref()).contains(&ProviderKind::Metallb) {
                            "; MetalLB refuses it"
                        } else {
                            ""
                        }
                    ),
                ),
                ip,
            )
            .for_id(id)
            .hint("pick another address (`lbip suggest`) or set avoidBuggyIPs: false on the pool"),
        ),
        Some(_) => {}
    }
}

fn reserved(reg: &Registry, entry: &Entry, ip: &Located<IpAddr>, out: &mut Vec<Finding>) {
    let (id, addr) = (entry.id(), ip.value);
    if let Some(res) = reg.reserved_range_of(addr) {
        out.push(
            at(
                Finding::error(
                    "ip-reserved",
                    format!(
                        "`{addr}` of `{id}` is inside reserved range `{}` (line {})",
                        res.name.value, res.name.pos.line
                    ),
                ),
                ip,
            )
            .for_id(id)
            .hint("reserved addresses belong to DHCP, gateways or nodes; run `lbip suggest` for a free address"),
        );
    }
}

fn declared_block(reg: &Registry, entry: &Entry, out: &mut Vec<Finding>) {
    let id = entry.id();
    let Some(block_name) = &entry.block else {
        // No block declared: worth a note when the registry groups addresses in blocks and
        // this one falls in none of them.
        if !reg.blocks.is_empty() {
            for ip in &entry.ips {
                if !reg.blocks.iter().any(|b| b.contains(ip.value))
                    && reg.pool_of(ip.value).is_some()
                {
                    out.push(
                        at(
                            Finding::info(
                                "ip-outside-blocks",
                                format!("`{}` of `{id}` lies in no block", ip.value),
                            ),
                            ip,
                        )
                        .for_id(id),
                    );
                }
            }
        }
        return;
    };
    let Some(block) = reg.block(&block_name.value) else {
        out.push(
            at(
                Finding::error(
                    "unknown-block",
                    format!(
                        "`{id}` names block `{}`, which the registry does not define",
                        block_name.value
                    ),
                ),
                block_name,
            )
            .for_id(id)
            .hint(unknown_block_hint(reg, &block_name.value)),
        );
        return;
    };
    for ip in &entry.ips {
        // A block of one family says nothing about the other family's address.
        let family_covered = block.ranges().any(|r| r.is_ipv4() == ip.value.is_ipv4());
        if family_covered && !block.contains(ip.value) {
            let ranges: Vec<String> = block.ranges().map(|r| r.to_string()).collect();
            out.push(
                at(
                    Finding::error(
                        "ip-outside-block",
                        format!(
                            "`{}` of `{id}` is outside its block `{}` ({})",
                            ip.value,
                            block.name.value,
                            ranges.join(", ")
                        ),
                    ),
                    ip,
                )
                .for_id(id)
                .hint(format!(
                    "run `lbip suggest --block {}` for a free address in the block, or change `block:`",
                    block.name.value
                )),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::registry::rules::test_support::{HEAD, found};

    fn svc(body: &str) -> String {
        format!("{HEAD}  web:\n    namespace: web\n{body}")
    }

    #[test]
    fn an_ip_outside_every_pool_is_reported_at_the_ip() {
        let t = svc("    ip: 10.0.1.5\n");
        assert_eq!(found(&t, "ip-outside-pool"), [(14, 9, Some("web".into()))]);
    }

    #[test]
    fn a_registry_without_pools_gets_one_warning_instead_of_one_error_per_ip() {
        let t = "services:\n  web:\n    namespace: web\n    ip: 10.0.1.5\n  db:\n    namespace: db\n    ip: 10.0.1.6\n";
        let all = crate::registry::rules::test_support::all(t);
        let codes: Vec<&str> = all.iter().map(|f| f.code).collect();
        assert_eq!(codes, ["no-pools"]);
        assert_eq!((all[0].line, all[0].column), (None, None));
    }

    #[test]
    fn a_reserved_ip_is_reported() {
        let t = svc("    ips: [10.0.0.3]\n");
        assert_eq!(found(&t, "ip-reserved"), [(14, 11, Some("web".into()))]);
    }

    #[test]
    fn buggy_ips_are_errors_only_when_the_pool_avoids_them() {
        let t = svc("    ip: 10.0.0.255\n");
        assert_eq!(found(&t, "ip-buggy"), [(14, 9, Some("web".into()))]);
        let relaxed = t.replace("avoidBuggyIPs: true", "avoidBuggyIPs: false");
        assert!(found(&relaxed, "ip-buggy").is_empty());
    }

    #[test]
    fn an_ip_outside_its_block_is_reported() {
        let t = svc("    ip: 10.0.0.20\n    block: web\n");
        assert_eq!(found(&t, "ip-outside-block"), [(14, 9, Some("web".into()))]);
        let inside = svc("    ip: 10.0.0.19\n    block: web\n");
        assert!(found(&inside, "ip-outside-block").is_empty());
    }

    #[test]
    fn an_unknown_block_suggests_the_closest_name() {
        let t = svc("    ip: 10.0.0.12\n    block: wbe\n");
        assert_eq!(found(&t, "unknown-block"), [(15, 12, Some("web".into()))]);
        let f = crate::registry::rules::test_support::all(&t)
            .into_iter()
            .find(|f| f.code == "unknown-block")
            .unwrap();
        assert_eq!(f.hint.as_deref(), Some("did you mean `web`?"));
    }

    #[test]
    fn dual_stack_addresses_must_share_a_pool() {
        // A second pool `six` (lines 5-6) holds the IPv6 address; services start at line 14.
        let head = HEAD.replacen(
            "reserved:",
            "  - name: six\n    addresses: [\"fd00::/120\"]\nreserved:",
            1,
        );
        let t = format!("{head}  web:\n    namespace: web\n    ips: [10.0.0.12, \"fd00::12\"]\n");
        assert_eq!(found(&t, "ips-split-pools"), [(16, 22, Some("web".into()))]);
        let together = t
            .replace("[10.0.0.0/24]", "[10.0.0.0/24, \"fd00:1::/120\"]")
            .replace("fd00::12", "fd00:1::12");
        assert!(found(&together, "ips-split-pools").is_empty());
    }

    #[test]
    fn an_ip_in_no_block_is_noted() {
        let t = svc("    ip: 10.0.0.40\n");
        assert_eq!(
            found(&t, "ip-outside-blocks"),
            [(14, 9, Some("web".into()))]
        );
    }
}
