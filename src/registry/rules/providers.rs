//! Rules that hold for some load balancers only: what an entry asks for that the
//! implementation of its cluster cannot do (see each `provider` module for the sources).

use super::{at, providers_at};
use crate::diagnostic::Finding;
use crate::provider::ProviderKind;
use crate::registry::model::{Entry, PinBy, Registry};
use std::collections::HashMap;
use std::net::IpAddr;

pub fn check(reg: &Registry) -> Vec<Finding> {
    let mut out = Vec::new();
    for entry in &reg.services {
        pin_by_pool(reg, entry, &mut out);
    }
    shared_addresses(reg, &mut out);
    out
}

/// `pinBy: pool` gives an operator-created Service its address with no annotation, from a
/// pool that selects only that Service. MetalLB (`serviceAllocation`) and Cilium
/// (`serviceSelector`) can; kube-vip's ranges are per namespace and PureLB picks a group
/// by annotation, so there the entry would get an automatic address.
fn pin_by_pool(reg: &Registry, entry: &Entry, out: &mut Vec<Finding>) {
    if entry.pin_by.value != PinBy::Pool {
        return;
    }
    let Some(kind) = providers_at(reg, entry.cluster.as_ref())
        .into_iter()
        .find(|k| !k.provider().behaviour().pins_by_pool)
    else {
        return;
    };
    out.push(
        at(
            Finding::error(
                "pin-pool-unsupported",
                format!(
                    "`{}` has `pinBy: pool`, but {} cannot reserve a pool for one Service ({}), so the Service would get an automatic address",
                    entry.id(),
                    kind.title(),
                    match kind {
                        ProviderKind::KubeVip => "its ranges are chosen per namespace",
                        _ => "it picks a group by annotation only",
                    }
                ),
            ),
            &entry.pin_by,
        )
        .for_id(entry.id())
        .hint("use `pinBy: annotation` (the default) and let `lbip controller` put the pin back when an operator rewrites the Service"),
    );
}

/// Sharing one address under load balancers whose rules differ from MetalLB's.
fn shared_addresses(reg: &Registry, out: &mut Vec<Finding>) {
    let mut by_ip: HashMap<IpAddr, Vec<&Entry>> = HashMap::new();
    for entry in &reg.services {
        if entry.shared_key().is_some() {
            for ip in entry.ip_values() {
                by_ip.entry(ip).or_default().push(entry);
            }
        }
    }
    for entry in &reg.services {
        let Some(ip) = entry.ips.first() else {
            continue;
        };
        let sharers = by_ip.get(&ip.value).map_or(&[][..], Vec::as_slice);
        let Some(first) = sharers.first() else {
            continue;
        };
        if sharers.len() < 2 || first.id() == entry.id() {
            continue;
        }
        let kinds = providers_at(reg, entry.cluster.as_ref());
        if kinds.contains(&ProviderKind::KubeVip) {
            // Only the second and later sharers: one finding per extra Service.
            out.push(
                at(
                    Finding::warning(
                        "kube-vip-shared-address",
                        format!(
                            "`{}` shares `{}` with `{}`; kube-vip has no sharing key, so lbip pins both to the address and nothing checks their ports",
                            entry.id(),
                            ip.value,
                            first.id()
                        ),
                    ),
                    ip,
                )
                .for_id(entry.id())
                .hint("in kube-vip's service election mode give the Services one lease (annotation `kube-vip.io/leaseName`), so one node announces the address"),
            );
        }
        if kinds.contains(&ProviderKind::Cilium) {
            let same_number = entry.ports.iter().find_map(|p| {
                sharers
                    .iter()
                    .filter(|o| o.id() != entry.id())
                    .flat_map(|o| o.ports.iter())
                    .find(|q| q.value.port == p.value.port && q.value.protocol != p.value.protocol)
                    .map(|_| p)
            });
            if let Some(port) = same_number {
                out.push(
                    at(
                        Finding::warning(
                            "cilium-port-number-shared",
                            format!(
                                "`{}` shares `{}` using port {} with another protocol on the same number; Cilium releases before 1.17 compare port numbers only and refuse the second Service",
                                entry.id(),
                                ip.value,
                                port.value
                            ),
                        ),
                        port,
                    )
                    .for_id(entry.id())
                    .hint("run Cilium 1.17 or later, or give the Services distinct port numbers"),
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::registry::rules::test_support::{all, found};

    fn registry(kind: &str, services: &str) -> String {
        format!(
            "provider:\n  kind: {kind}\npools:\n  - name: lab\n    addresses: [10.0.0.0/24]\nservices:\n{services}"
        )
    }

    const POOL_PINNED: &str = "  mesh:\n    namespace: seldon\n    ip: 10.0.0.5\n    pinBy: pool\n    matchLabels: {app: mesh}\n";

    #[test]
    fn pin_by_pool_is_refused_where_the_load_balancer_cannot_do_it() {
        for kind in ["kube-vip", "purelb", "[metallb, purelb]"] {
            let t = registry(kind, POOL_PINNED);
            assert_eq!(
                found(&t, "pin-pool-unsupported"),
                [(10, 12, Some("mesh".into()))],
                "{kind}"
            );
        }
        for kind in ["metallb", "cilium", "[metallb, cilium]"] {
            assert!(found(&registry(kind, POOL_PINNED), "pin-pool-unsupported").is_empty());
        }
    }

    const SHARED: &str = "  dns-tcp:\n    namespace: dns\n    ip: 10.0.0.53\n    sharedKey: dns\n    ports: [53/TCP]\n  dns-udp:\n    namespace: dns\n    ip: 10.0.0.53\n    sharedKey: dns\n    ports: [53/UDP]\n";

    #[test]
    fn sharing_warnings_follow_the_load_balancer() {
        let kv = registry("kube-vip", SHARED);
        assert_eq!(
            found(&kv, "kube-vip-shared-address"),
            [(14, 9, Some("dns-udp".into()))]
        );
        assert!(found(&kv, "cilium-port-number-shared").is_empty());
        let cilium = registry("cilium", SHARED);
        assert_eq!(
            found(&cilium, "cilium-port-number-shared"),
            [(16, 13, Some("dns-udp".into()))]
        );
        let metallb = registry("metallb", SHARED);
        assert!(
            all(&metallb)
                .iter()
                .all(|f| f.severity != crate::diagnostic::Severity::Error
                    && f.severity != crate::diagnostic::Severity::Warning),
            "{:?}",
            all(&metallb)
        );
    }

    #[test]
    fn an_annotation_prefix_without_metallb_is_a_leftover() {
        let t = "provider:\n  kind: cilium\n  annotationPrefix: metallb.io\npools:\n  - name: lab\n    addresses: [10.0.0.0/24]\n";
        assert_eq!(found(t, "annotation-prefix-unused"), [(3, 21, None)]);
        let with_metallb_cluster = "provider:\n  kind: cilium\n  annotationPrefix: metallb.io\nclusters:\n  - {name: a, provider: metallb}\n  - {name: b}\n";
        assert!(found(with_metallb_cluster, "annotation-prefix-unused").is_empty());
        let metallb = "provider:\n  annotationPrefix: metallb.io\n";
        assert!(found(metallb, "annotation-prefix-unused").is_empty());
    }

    #[test]
    fn messages_speak_of_the_registry_load_balancer() {
        let t = registry(
            "purelb",
            "  a:\n    namespace: x\n    ip: 10.0.1.1\n  b:\n    namespace: y\n    ip: 10.0.0.9\n  c:\n    namespace: z\n    ip: 10.0.0.9\n",
        );
        let findings = all(&t);
        let outside = findings
            .iter()
            .find(|f| f.code == "ip-outside-pool")
            .unwrap();
        assert!(
            outside.message.contains("PureLB refuses it"),
            "{}",
            outside.message
        );
        let dup = findings.iter().find(|f| f.code == "duplicate-ip").unwrap();
        assert!(dup.message.contains("PureLB gives it"), "{}", dup.message);
        assert!(findings.iter().all(|f| !f.message.contains("MetalLB")));
    }

    #[test]
    fn kube_vip_pools_never_count_dot_zero_or_255() {
        let t =
            "provider:\n  kind: kube-vip\npools:\n  - name: lab\n    addresses: [10.0.0.0/24]\n";
        let free = all(t).into_iter().find(|f| f.code == "pool-free").unwrap();
        assert!(free.message.contains("254 of 254"), "{}", free.message);
        let metallb = t.replace("kube-vip", "metallb");
        let free = all(&metallb)
            .into_iter()
            .find(|f| f.code == "pool-free")
            .unwrap();
        assert!(free.message.contains("256 of 256"), "{}", free.message);
    }
}
