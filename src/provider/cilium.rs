//! What Cilium's LB IPAM reads from a Service.
//!
//! Checked against cilium/cilium `operator/pkg/lbipam/lbipam.go` (1.13 to main), its
//! `service_store.go` and `pkg/annotation/k8s.go`:
//!
//! - The pin is `lbipam.cilium.io/ips` since 1.16 and `io.cilium/lb-ipam-ips` since 1.13;
//!   main still reads both, taking the **first key present, even empty**. lbip writes both
//!   with one value, which every release reads the same way.
//! - Items are trimmed and parsed one by one; an unparsable item is skipped silently, and
//!   when none parses the Service gets an automatic address (a typo'd pin silently unpins).
//! - `spec.loadBalancerIP` is *merged* with the annotation (parsed first), not an error as
//!   in MetalLB; lbip removes it so the annotation is the only request.
//! - Sharing: `lbipam.cilium.io/sharing-key` (1.16; `io.cilium/lb-ipam-sharing-key` 1.15),
//!   and `lbipam.cilium.io/sharing-cross-namespace` (a comma list of namespaces or `*`,
//!   needed on both Services) for sharing across namespaces.
//! - Classes: Services without a class (unless `default-lb-service-ipam` is not `lbipam`,
//!   1.17+), `io.cilium/l2-announcer` and `io.cilium/bgp-control-plane` (when those features
//!   are on). `io.cilium/node` belongs to Node IPAM, which hands out node addresses.

use super::{Behaviour, KeyRole, Provider, ProviderKind, Reader, Request, Want, fold};
use crate::metallb::{Prefix, format_ip_list};
use std::collections::BTreeMap;

pub const IPS: &str = "lbipam.cilium.io/ips";
pub const IPS_ALIAS: &str = "io.cilium/lb-ipam-ips";
pub const SHARING_KEY: &str = "lbipam.cilium.io/sharing-key";
pub const SHARING_KEY_ALIAS: &str = "io.cilium/lb-ipam-sharing-key";
pub const SHARING_CROSS_NAMESPACE: &str = "lbipam.cilium.io/sharing-cross-namespace";
pub const SHARING_CROSS_NAMESPACE_ALIAS: &str = "io.cilium/lb-ipam-sharing-cross-namespace";
/// The classes LB IPAM answers for besides Services without one.
pub const CLASSES: [&str; 2] = ["io.cilium/l2-announcer", "io.cilium/bgp-control-plane"];
/// The Service condition that says whether a request was satisfied (1.15+; 1.13/1.14 used
/// `io.cilium/lb-ipam-request-satisfied`).
pub const REQUEST_SATISFIED: &str = "cilium.io/IPAMRequestSatisfied";

pub struct Cilium;

static BEHAVIOUR: Behaviour = Behaviour {
    list_pools: "kubectl get ciliumloadbalancerippools -o yaml",
    automatic: "Cilium would give it a free address of any pool that selects it",
    outside_pools: "Cilium sets the Service's condition `IPAMRequestSatisfied` to False (`no_pool`) and it stays pending",
    duplicate: "Cilium gives it to whichever Service comes first and marks the other `already_allocated`",
    port_clash: "Cilium refuses the second (`already_allocated_incompatible_service`)",
    overlap: "Cilium marks the later pool `PoolConflict` and disables it",
    dual_stack_one_pool: false,
    pins_by_pool: true,
    skips_dot_zero_and_255: false,
};

impl Provider for Cilium {
    fn kind(&self) -> ProviderKind {
        ProviderKind::Cilium
    }
    fn title(&self) -> &'static str {
        "Cilium LB IPAM"
    }
    fn pin_annotations(&self, want: &Want, _prefix: Prefix) -> Vec<(String, String)> {
        let ips = format_ip_list(&want.ips);
        let mut out = vec![(IPS.to_string(), ips.clone()), (IPS_ALIAS.to_string(), ips)];
        if let Some(k) = &want.shared_key {
            out.push((SHARING_KEY.to_string(), k.clone()));
            out.push((SHARING_KEY_ALIAS.to_string(), k.clone()));
            if !want.share_namespaces.is_empty() {
                let list = want.share_namespaces.join(",");
                out.push((SHARING_CROSS_NAMESPACE.to_string(), list.clone()));
                out.push((SHARING_CROSS_NAMESPACE_ALIAS.to_string(), list));
            }
        }
        out
    }
    fn classify(&self, key: &str) -> Option<KeyRole> {
        Some(match key {
            IPS | IPS_ALIAS => KeyRole::Pin,
            SHARING_KEY | SHARING_KEY_ALIAS => KeyRole::Sharing,
            SHARING_CROSS_NAMESPACE | SHARING_CROSS_NAMESPACE_ALIAS => KeyRole::SharingScope,
            _ => {
                let (prefix, suffix) = key.split_once('/')?;
                let p = fold(prefix);
                if !(p.contains("cilium") || p.contains("lbipam")) {
                    return None;
                }
                let meant = match fold(suffix).trim_start_matches("lbipam") {
                    "ips" | "ip" => IPS,
                    "sharingkey" => SHARING_KEY,
                    "sharingcrossnamespace" => SHARING_CROSS_NAMESPACE,
                    _ => return None,
                };
                KeyRole::Misspelled {
                    meant: meant.to_string(),
                }
            }
        })
    }
    /// Cilium trims each item and compares addresses.
    fn same_pin(&self, value: &str, wanted: &str) -> bool {
        let set = |v: &str| {
            super::parse_trimmed_list(v)
                .into_iter()
                .collect::<Result<std::collections::BTreeSet<_>, _>>()
                .ok()
        };
        set(value).is_some() && set(value) == set(wanted)
    }
    fn request(
        &self,
        annotations: &BTreeMap<String, String>,
        spec_ip: Option<&str>,
        _reader: Reader,
    ) -> Request {
        let mut ips = Vec::new();
        let mut source = Vec::new();
        if let Some(ip) = spec_ip.filter(|s| !s.trim().is_empty())
            && let Ok(ip) = ip.trim().parse()
        {
            ips.push(ip);
            source.push("spec.loadBalancerIP".to_string());
        }
        // The first key present wins, even when empty (`annotation.Get` with aliases).
        if let Some((key, value)) = [IPS, IPS_ALIAS]
            .iter()
            .find_map(|k| annotations.get(*k).map(|v| (*k, v)))
        {
            let parsed: Vec<_> = super::parse_trimmed_list(value)
                .into_iter()
                .filter_map(Result::ok)
                .collect();
            if !parsed.is_empty() {
                source.push(key.to_string());
            }
            ips.extend(parsed);
        }
        ips.dedup();
        if ips.is_empty() {
            Request::None
        } else {
            Request::Ips {
                ips,
                source: source.join(" and "),
            }
        }
    }
    fn owns_class(&self, class: Option<&str>, configured: Option<&str>) -> bool {
        match (class, configured) {
            (c, Some(k)) => c == Some(k),
            (None, None) => true,
            (Some(c), None) => CLASSES.contains(&c),
        }
    }
    fn classes_text(&self, configured: Option<&str>) -> String {
        match configured {
            Some(c) => format!("Services of class `{c}`"),
            None => format!(
                "Services without a loadBalancerClass and of class {}",
                CLASSES.map(|c| format!("`{c}`")).join(" or ")
            ),
        }
    }
    fn behaviour(&self) -> &'static Behaviour {
        &BEHAVIOUR
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ann(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn the_first_key_present_wins_and_spec_is_merged() {
        let r = Cilium.request(
            &ann(&[(IPS, ""), (IPS_ALIAS, "10.0.0.1")]),
            Some("10.0.0.2"),
            Reader::default(),
        );
        // `lbipam.cilium.io/ips: ""` hides the alias; the spec address still counts.
        assert_eq!(
            r,
            Request::Ips {
                ips: vec!["10.0.0.2".parse().unwrap()],
                source: "spec.loadBalancerIP".into()
            }
        );
        let typo = Cilium.request(&ann(&[(IPS, "10.0.0.x")]), None, Reader::default());
        assert_eq!(
            typo,
            Request::None,
            "an unparsable pin is an automatic address"
        );
    }

    #[test]
    fn both_spellings_are_written_and_misspellings_recognised() {
        let want = Want {
            ips: vec!["10.0.0.1".parse().unwrap()],
            shared_key: Some("dns".into()),
            share_namespaces: vec!["kube-system".into()],
        };
        let keys: Vec<String> = Cilium
            .pin_annotations(&want, Prefix::default())
            .into_iter()
            .map(|(k, _)| k)
            .collect();
        assert_eq!(
            keys,
            [
                IPS,
                IPS_ALIAS,
                SHARING_KEY,
                SHARING_KEY_ALIAS,
                SHARING_CROSS_NAMESPACE,
                SHARING_CROSS_NAMESPACE_ALIAS
            ]
        );
        assert_eq!(
            Cilium.classify("lbipam.cilium.io/IP"),
            Some(KeyRole::Misspelled { meant: IPS.into() })
        );
        assert_eq!(Cilium.classify("cilium.io/IPAMRequestSatisfied"), None);
    }
}
