//! What the kube-vip cloud provider (kube-vip-cloud-provider, "kvcp") and kube-vip read.
//!
//! Checked against kube-vip/kube-vip-cloud-provider `pkg/provider/loadBalancer.go`
//! (`syncLoadBalancer`, `parseAddrList`), `pkg/ipam` and kube-vip `pkg/manager`:
//!
//! - The pin is `kube-vip.io/loadbalancerIPs`: a comma list, one address per family. kvcp
//!   splits on `,` **without trimming**, and parses every labelled Service's value to build
//!   the in-use set, so one value with a space breaks allocation for the whole scope: lbip
//!   writes the list without spaces and treats a spaced value as invalid.
//! - A non-empty annotation is taken as is: kvcp checks it against no pool and no other
//!   Service (two Services pinned to one address are both announced). Without it, kvcp
//!   copies `spec.loadBalancerIP` into it, or allocates and writes both itself. lbip removes
//!   `spec.loadBalancerIP` so the annotation is the only request.
//! - There is no sharing annotation: `allow-share-<namespace>` in the `kubevip` ConfigMap
//!   stacks any Services whose port numbers do not overlap.
//! - Classes: Services without one (the stock service controller), or
//!   `kube-vip.io/kube-vip-class` with `KUBEVIP_ENABLE_LOADBALANCERCLASS=true`.

use super::{Behaviour, KeyRole, Provider, ProviderKind, Reader, Request, Want, fold};
use crate::metallb::{Prefix, format_ip_list};
use std::collections::BTreeMap;

pub const IPS: &str = "kube-vip.io/loadbalancerIPs";
/// The class kube-vip answers for when classes are enabled.
pub const CLASS: &str = "kube-vip.io/kube-vip-class";
/// Written by kvcp: the interface kube-vip announces on.
pub const SERVICE_INTERFACE: &str = "kube-vip.io/serviceInterface";

pub struct KubeVip;

static BEHAVIOUR: Behaviour = Behaviour {
    list_pools: "kubectl get configmap kubevip -n kube-system -o yaml",
    automatic: "kube-vip would give it the lowest free address of its range",
    outside_pools: "kube-vip takes a pin as it is, so nothing keeps the address from a host or DHCP lease outside the pools",
    duplicate: "kube-vip checks no conflict: both Services get it and both are announced",
    port_clash: "kube-vip checks no ports: both are announced and only one gets the traffic",
    overlap: "the kube-vip ranges would list the addresses twice",
    dual_stack_one_pool: false,
    pins_by_pool: false,
    skips_dot_zero_and_255: true,
};

impl Provider for KubeVip {
    fn kind(&self) -> ProviderKind {
        ProviderKind::KubeVip
    }
    fn title(&self) -> &'static str {
        "kube-vip"
    }
    fn pin_annotations(&self, want: &Want, _prefix: Prefix) -> Vec<(String, String)> {
        vec![(IPS.to_string(), format_ip_list(&want.ips))]
    }
    fn classify(&self, key: &str) -> Option<KeyRole> {
        Some(match key {
            IPS => KeyRole::Pin,
            SERVICE_INTERFACE => KeyRole::Output,
            _ => {
                let (prefix, suffix) = key.split_once('/')?;
                if !fold(prefix).contains("kubevip") {
                    return None;
                }
                match fold(suffix).as_str() {
                    "loadbalancerips" | "loadbalancerip" => KeyRole::Misspelled {
                        meant: IPS.to_string(),
                    },
                    _ => return None,
                }
            }
        })
    }
    fn request(
        &self,
        annotations: &BTreeMap<String, String>,
        spec_ip: Option<&str>,
        _reader: Reader,
    ) -> Request {
        match annotations.get(IPS).filter(|v| !v.is_empty()) {
            Some(value) => {
                // kvcp parses the list exactly as written.
                let parsed: Result<Vec<_>, _> = value
                    .split(',')
                    .map(|s| s.parse::<std::net::IpAddr>())
                    .collect();
                match parsed {
                    Ok(ips) => Request::Ips {
                        ips,
                        source: IPS.to_string(),
                    },
                    Err(_) => Request::Invalid(format!(
                        "{IPS} `{value}` does not parse as kube-vip's cloud provider reads it (a comma list of addresses, no spaces); it then fails every allocation in the scope"
                    )),
                }
            }
            None => match spec_ip.filter(|s| !s.is_empty()) {
                Some(ip) => match ip.parse() {
                    Ok(ip) => Request::Ips {
                        ips: vec![ip],
                        source: "spec.loadBalancerIP".into(),
                    },
                    Err(_) => Request::Invalid(format!("invalid spec.loadBalancerIP: {ip:?}")),
                },
                None => Request::None,
            },
        }
    }
    fn owns_class(&self, class: Option<&str>, configured: Option<&str>) -> bool {
        class == configured
    }
    fn classes_text(&self, configured: Option<&str>) -> String {
        match configured {
            None => "Services without a loadBalancerClass".into(),
            Some(c) => format!("Services of class `{c}`"),
        }
    }
    fn behaviour(&self) -> &'static Behaviour {
        &BEHAVIOUR
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_spaced_list_is_invalid_and_spec_counts_only_without_the_annotation() {
        let ann = |v: &str| BTreeMap::from([(IPS.to_string(), v.to_string())]);
        assert!(matches!(
            KubeVip.request(&ann("10.0.0.1, fd00::1"), None, Reader::default()),
            Request::Invalid(_)
        ));
        assert_eq!(
            KubeVip.request(
                &ann("10.0.0.1,fd00::1"),
                Some("10.0.0.9"),
                Reader::default()
            ),
            Request::Ips {
                ips: vec!["10.0.0.1".parse().unwrap(), "fd00::1".parse().unwrap()],
                source: IPS.into()
            }
        );
        assert!(matches!(
            KubeVip.request(&BTreeMap::new(), Some("10.0.0.9"), Reader::default()),
            Request::Ips { .. }
        ));
        assert!(!KubeVip.same_pin("10.0.0.1, fd00::1", "10.0.0.1,fd00::1"));
    }
}
