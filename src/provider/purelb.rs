//! What PureLB reads from a Service.
//!
//! Checked against purelb/purelb `pkg/apis/purelb/v2/{annotations.go,classes.go}` and
//! `internal/allocator/allocator.go` (v0.16/v0.17):
//!
//! - The pin is `purelb.io/addresses`: one address, or two of different families, comma
//!   separated and parsed **without trimming**; a present but empty value is an error. When
//!   present it beats `spec.loadBalancerIP` (which draws a `DeprecationWarning`), so lbip
//!   removes the spec field.
//! - `purelb.io/service-group` picks the ServiceGroup; next to an address it is ignored
//!   (`ConfigurationWarning`), so lbip removes it like MetalLB's `address-pool`.
//! - Sharing: `purelb.io/allow-shared-ip` (same key, no overlapping ports), as in MetalLB.
//! - Classes: `purelb.io/purelbv2` (v0.16+; `purelb.io/purelb` before), and Services without
//!   a class while `DEFAULT_ANNOUNCER=PureLB` (the default).
//! - PureLB writes `purelb.io/allocated-by`, `allocated-from`, `pool-type` and
//!   `announcing-IPv4/IPv6` itself.

use super::{Behaviour, KeyRole, Provider, ProviderKind, Reader, Request, Want, fold};
use crate::metallb::{Prefix, format_ip_list};
use std::collections::BTreeMap;

pub const ADDRESSES: &str = "purelb.io/addresses";
pub const SERVICE_GROUP: &str = "purelb.io/service-group";
pub const ALLOW_SHARED_IP: &str = "purelb.io/allow-shared-ip";
/// The classes PureLB answers for: v0.16+ and older.
pub const CLASSES: [&str; 2] = ["purelb.io/purelbv2", "purelb.io/purelb"];
const OUTPUTS: [&str; 6] = [
    "purelb.io/allocated-by",
    "purelb.io/allocated-from",
    "purelb.io/pool-type",
    "purelb.io/announcing-IPv4",
    "purelb.io/announcing-IPv6",
    "purelb.io/skip-ipv6-dad",
];

pub struct PureLb;

static BEHAVIOUR: Behaviour = Behaviour {
    list_pools: "kubectl get servicegroups -n purelb-system -o yaml",
    automatic: "PureLB would give it the lowest free address of its `default` group",
    outside_pools: "PureLB refuses it (`AllocationFailed`: the address does not belong to any group) and the Service stays pending",
    duplicate: "PureLB gives it to whichever Service comes first (`already in use`)",
    port_clash: "PureLB refuses the second",
    overlap: "two ServiceGroups would offer the same addresses",
    dual_stack_one_pool: false,
    pins_by_pool: false,
    skips_dot_zero_and_255: false,
};

impl Provider for PureLb {
    fn kind(&self) -> ProviderKind {
        ProviderKind::Purelb
    }
    fn title(&self) -> &'static str {
        "PureLB"
    }
    fn pin_annotations(&self, want: &Want, _prefix: Prefix) -> Vec<(String, String)> {
        let mut out = vec![(ADDRESSES.to_string(), format_ip_list(&want.ips))];
        if let Some(k) = &want.shared_key {
            out.push((ALLOW_SHARED_IP.to_string(), k.clone()));
        }
        out
    }
    fn classify(&self, key: &str) -> Option<KeyRole> {
        Some(match key {
            ADDRESSES => KeyRole::Pin,
            ALLOW_SHARED_IP => KeyRole::Sharing,
            SERVICE_GROUP => KeyRole::PoolSelect,
            k if OUTPUTS.contains(&k) => KeyRole::Output,
            _ => {
                let (prefix, suffix) = key.split_once('/')?;
                if !fold(prefix).contains("purelb") {
                    return None;
                }
                let meant = match fold(suffix).as_str() {
                    "addresses" | "address" | "addrs" => ADDRESSES,
                    "allowsharedip" => ALLOW_SHARED_IP,
                    "servicegroup" => SERVICE_GROUP,
                    _ => return None,
                };
                KeyRole::Misspelled {
                    meant: meant.to_string(),
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
        match annotations.get(ADDRESSES) {
            Some(value) => {
                let parsed: Result<Vec<std::net::IpAddr>, _> =
                    value.split(',').map(str::parse).collect();
                match parsed {
                    Ok(ips) if (1..=2).contains(&ips.len()) => Request::Ips {
                        ips,
                        source: ADDRESSES.to_string(),
                    },
                    _ => Request::Invalid(format!(
                        "invalid user-specified address: {ADDRESSES} `{value}` (PureLB reads one address, or two of different families, comma separated without spaces)"
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
        match (class, configured) {
            (c, Some(k)) => c == Some(k),
            (None, None) => true,
            (Some(c), None) => CLASSES.contains(&c),
        }
    }
    fn classes_text(&self, configured: Option<&str>) -> String {
        match configured {
            Some(c) => format!("Services of class `{c}`"),
            None => "Services without a loadBalancerClass and of class `purelb.io/purelbv2`".into(),
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
    fn an_empty_or_spaced_pin_is_invalid_and_beats_spec() {
        let ann = |v: &str| BTreeMap::from([(ADDRESSES.to_string(), v.to_string())]);
        for bad in ["", "10.0.0.1, fd00::1"] {
            assert!(matches!(
                PureLb.request(&ann(bad), Some("10.0.0.9"), Reader::default()),
                Request::Invalid(_)
            ));
        }
        assert_eq!(
            PureLb.classify("purelb.io/allocated-by"),
            Some(KeyRole::Output)
        );
        assert_eq!(
            PureLb.classify("purelb.io/Addresses"),
            Some(KeyRole::Misspelled {
                meant: ADDRESSES.into()
            })
        );
    }
}
