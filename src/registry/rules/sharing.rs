//! Rules about two entries on one IP. MetalLB lets Services share an address only when
//! both carry the same non-empty `allow-shared-ip` key and their (port, protocol) pairs
//! do not clash (reference: alloc.go `checkSharing`); Cilium and PureLB have the same rule
//! with their own keys, and kube-vip checks nothing, so the registry is the only guard.

use super::at;
use crate::diagnostic::Finding;
use crate::registry::model::{Entry, PinBy, Registry};
use std::collections::HashMap;
use std::net::IpAddr;

pub fn check(reg: &Registry) -> Vec<Finding> {
    let mut out = Vec::new();
    // The entries seen so far on each IP, in file order (a map, not a pairwise scan, so
    // thousands of entries stay instant).
    let mut owners: HashMap<IpAddr, Vec<&Entry>> = HashMap::new();
    for entry in &reg.services {
        for ip in &entry.ips {
            let seen = owners.entry(ip.value).or_default();
            let earlier = seen.clone();
            seen.push(entry);
            let Some(first) = earlier.first() else {
                continue;
            };
            let id = entry.id();
            let cluster = |e: &Entry| reg.cluster_named(e.cluster.as_ref()).map(|c| c.name());
            if let Some(other) = earlier.iter().find(|o| cluster(o) != cluster(entry)) {
                out.push(
                    at(
                        Finding::error(
                            "ip-in-two-clusters",
                            format!(
                                "`{}` of `{id}` (cluster `{}`) is also given to `{}` (cluster `{}`, line {}); two clusters on one segment would both answer for it",
                                ip.value,
                                cluster(entry).unwrap_or("-"),
                                other.id(),
                                cluster(other).unwrap_or("-"),
                                other.id.pos.line
                            ),
                        ),
                        ip,
                    )
                    .for_id(id)
                    .hint("give one of them another address (`lbip suggest --cluster <name>`)"),
                );
                continue;
            }
            let same_key =
                |o: &&Entry| entry.shared_key().is_some() && entry.shared_key() == o.shared_key();
            if let Some(other) = earlier.iter().find(|o| !same_key(o)) {
                let why = match (entry.shared_key(), other.shared_key()) {
                    (None, None) => "neither has a `sharedKey`".to_string(),
                    (Some(_), None) => format!("`{}` has no `sharedKey`", other.id()),
                    (None, Some(_)) => format!("`{id}` has no `sharedKey`"),
                    (Some(a), Some(b)) => format!("their sharedKeys differ (`{a}` vs `{b}`)"),
                };
                out.push(
                    at(
                        Finding::error(
                            "duplicate-ip",
                            format!(
                                "`{}` of `{id}` is also given to `{}` (line {}) and {why}; {}",
                                ip.value,
                                other.id(),
                                other.id.pos.line,
                                super::behaviour_at(reg, entry.cluster.as_ref()).duplicate
                            ),
                        ),
                        ip,
                    )
                    .for_id(id)
                    .hint("pick another address (`lbip suggest`), or give both entries the same `sharedKey` to share it on purpose"),
                );
                continue;
            }
            for other in &earlier {
                if let Some(port) = entry
                    .ports
                    .iter()
                    .find(|p| other.ports.iter().any(|q| q.value == p.value))
                {
                    out.push(
                        at(
                            Finding::error(
                                "shared-port-conflict",
                                format!(
                                    "`{id}` and `{}` share `{}` and both use port {}; {}",
                                    other.id(),
                                    ip.value,
                                    port.value,
                                    super::behaviour_at(reg, entry.cluster.as_ref()).port_clash
                                ),
                            ),
                            port,
                        )
                        .for_id(id)
                        .hint("Services sharing an IP need distinct ports (TCP/53 and UDP/53 may share)"),
                    );
                }
            }
            let pinned_by_pool = |e: &Entry| e.pin_by.value == PinBy::Pool;
            if pinned_by_pool(entry) || earlier.iter().any(|o| pinned_by_pool(o)) {
                out.push(
                    at(
                        Finding::error(
                            "pin-pool-shared",
                            format!(
                                "`{}` is shared by `{id}` and `{}`, and one of them has `pinBy: pool`, which gives the address a pool of its own",
                                ip.value,
                                first.id()
                            ),
                        ),
                        ip,
                    )
                    .for_id(id)
                    .hint("use `pinBy: annotation` for shared addresses"),
                );
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use crate::registry::rules::test_support::{HEAD, found};

    fn two(a: &str, b: &str) -> String {
        format!("{HEAD}  dns-tcp:\n    namespace: dns\n{a}  dns-udp:\n    namespace: dns\n{b}")
    }

    #[test]
    fn the_same_ip_twice_is_an_error_at_the_second() {
        let t = two("    ip: 10.0.0.50\n", "    ip: 10.0.0.50\n");
        assert_eq!(found(&t, "duplicate-ip"), [(17, 9, Some("dns-udp".into()))]);
    }

    #[test]
    fn a_common_shared_key_allows_sharing() {
        let t = two(
            "    ip: 10.0.0.50\n    sharedKey: dns\n    ports: [53/TCP]\n",
            "    ip: 10.0.0.50\n    sharedKey: dns\n    ports: [53/UDP]\n",
        );
        assert!(found(&t, "duplicate-ip").is_empty());
        assert!(found(&t, "shared-port-conflict").is_empty());
        let differ = t.replacen("sharedKey: dns\n", "sharedKey: other\n", 1);
        assert_eq!(
            found(&differ, "duplicate-ip"),
            [(19, 9, Some("dns-udp".into()))]
        );
        let empty = t.replace("sharedKey: dns", "sharedKey: \"\"");
        assert_eq!(found(&empty, "duplicate-ip").len(), 1);
    }

    #[test]
    fn shared_entries_with_the_same_port_and_protocol_clash() {
        let t = two(
            "    ip: 10.0.0.50\n    sharedKey: dns\n    ports: [53/UDP]\n",
            "    ip: 10.0.0.50\n    sharedKey: dns\n    ports: [80, \"53/udp\"]\n",
        );
        assert_eq!(
            found(&t, "shared-port-conflict"),
            [(21, 17, Some("dns-udp".into()))]
        );
    }

    #[test]
    fn pin_by_pool_cannot_share() {
        let t = two(
            "    ip: 10.0.0.50\n    sharedKey: dns\n    pinBy: pool\n    matchLabels: {a: b}\n",
            "    ip: 10.0.0.50\n    sharedKey: dns\n",
        );
        assert_eq!(
            found(&t, "pin-pool-shared"),
            [(20, 9, Some("dns-udp".into()))]
        );
    }
}
