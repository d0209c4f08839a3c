//! Which keys a pinned Service must carry and which it must lose: the one decision behind
//! the post-renderer (on a manifest) and the cluster plan (on a live Service), so both write
//! and remove exactly the same keys.
//!
//! For the registry's load balancer(s), a Service gets the pin (and sharing) annotations
//! they read, in the spellings lbip writes. Every other key an implementation would read as
//! a request is removed: another spelling of the same key (MetalLB's other prefix), a
//! sharing key the entry does not have, a pool or group choice (the pinned address already
//! makes it, and a mismatch refuses the Service), any key of a load balancer the registry
//! does not name (a leftover of another chart or a past migration), and misspellings (read
//! by nobody). Keys an implementation writes itself, and unrelated keys, stay.
//! `spec.loadBalancerIP` goes too: MetalLB refuses it next to the annotation, Cilium merges
//! it into the request, kube-vip and PureLB ignore it next to their annotation.

use super::{KeyRole, ProviderKind, Want, classify_any};
use crate::metallb::Prefix;

/// How lbip writes pins for a registry: its load balancer(s) and MetalLB's prefix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PinStyle {
    /// The registry's `provider.kind`: the first hands addresses out now; with two, pins are
    /// written for both (a switch-over).
    pub providers: Vec<ProviderKind>,
    pub prefix: Prefix,
}

impl Default for PinStyle {
    fn default() -> PinStyle {
        PinStyle {
            providers: vec![ProviderKind::default()],
            prefix: Prefix::default(),
        }
    }
}

/// An annotation to write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Set {
    pub key: String,
    pub value: String,
    /// What it said before, when it was there.
    pub was: Option<String>,
    pub provider: ProviderKind,
    pub role: KeyRole,
}

/// An annotation to remove, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Removal {
    pub key: String,
    pub was: String,
    pub provider: ProviderKind,
    pub why: Why,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Why {
    /// Another spelling of a key lbip writes for this load balancer (MetalLB's other
    /// prefix); `instead` is the one lbip writes.
    OtherSpelling { role: KeyRole, instead: String },
    /// A sharing key (or scope) the registry entry does not have.
    NotShared,
    /// A pool or group choice.
    PoolSelect,
    /// A request, sharing or pool key of a load balancer the registry does not name.
    Foreign { role: KeyRole },
    /// No release of it reads this key; `meant` is the real one.
    Misspelled { meant: String },
}

/// Everything that changes on one Service.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PinChanges {
    /// In the Service's key order, then the new keys in the order lbip writes them.
    pub set: Vec<Set>,
    pub remove: Vec<Removal>,
    /// `spec.loadBalancerIP` (its value, possibly empty) goes.
    pub clear_spec_ip: Option<String>,
}

impl PinChanges {
    pub fn is_empty(&self) -> bool {
        self.set.is_empty() && self.remove.is_empty() && self.clear_spec_ip.is_none()
    }
}

/// What must change on a Service with `annotations` (in its order) and `spec_ip`, so that
/// the load balancer(s) of `style` read exactly `want`.
pub fn pin_changes(
    style: &PinStyle,
    want: &Want,
    annotations: &[(String, String)],
    spec_ip: Option<&str>,
) -> PinChanges {
    let wanted: Vec<(String, String, ProviderKind)> = style
        .providers
        .iter()
        .flat_map(|k| {
            k.provider()
                .pin_annotations(want, style.prefix)
                .into_iter()
                .map(move |(key, value)| (key, value, *k))
        })
        .collect();
    let mut out = PinChanges::default();
    for (key, value) in annotations {
        if let Some((_, wv, p)) = wanted.iter().find(|(k, _, _)| k == key) {
            let role = p.provider().classify(key).unwrap_or(KeyRole::Pin);
            let same = match role {
                KeyRole::Pin => p.provider().same_pin(value, wv),
                _ => value == wv,
            };
            if !same {
                out.set.push(Set {
                    key: key.clone(),
                    value: wv.clone(),
                    was: Some(value.clone()),
                    provider: *p,
                    role,
                });
            }
            continue;
        }
        let Some((p, role)) = classify_any(key) else {
            continue;
        };
        let ours = style.providers.contains(&p);
        let why = match role {
            KeyRole::Output => continue,
            KeyRole::Misspelled { meant } => Why::Misspelled {
                meant: match p {
                    // MetalLB's real key is under the registry's prefix.
                    ProviderKind::Metallb => {
                        meant.replacen(Prefix::default().as_str(), style.prefix.as_str(), 1)
                    }
                    _ => meant,
                },
            },
            KeyRole::PoolSelect if ours => Why::PoolSelect,
            role if !ours => Why::Foreign { role },
            KeyRole::Sharing | KeyRole::SharingScope if want.shared_key.is_none() => Why::NotShared,
            role => {
                let instead = wanted
                    .iter()
                    .find(|(k, _, wp)| *wp == p && p.provider().classify(k).as_ref() == Some(&role))
                    .map(|(k, _, _)| k.clone())
                    .unwrap_or_default();
                Why::OtherSpelling { role, instead }
            }
        };
        out.remove.push(Removal {
            key: key.clone(),
            was: value.clone(),
            provider: p,
            why,
        });
    }
    for (key, value, p) in &wanted {
        if !annotations.iter().any(|(k, _)| k == key) {
            out.set.push(Set {
                key: key.clone(),
                value: value.clone(),
                was: None,
                provider: *p,
                role: p.provider().classify(key).unwrap_or(KeyRole::Pin),
            });
        }
    }
    out.clear_spec_ip = spec_ip.map(str::to_string);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn a(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn want(ip: &str) -> Want {
        Want {
            ips: vec![ip.parse().unwrap()],
            ..Want::default()
        }
    }

    #[test]
    fn metallb_pins_and_strips_what_it_would_read_instead() {
        let style = PinStyle::default();
        let c = pin_changes(
            &style,
            &want("10.0.0.5"),
            &a(&[
                ("metallb.universe.tf/loadBalancerIPs", "10.0.0.1"),
                ("metallb.universe.tf/loadBalancer-ips", "10.0.0.1"),
                ("metallb.io/address-pool", "lab"),
                ("metallb.io/allow-shared-ip", "x"),
                ("metallb.io/ip-allocated-from-pool", "lab"),
                ("lbipam.cilium.io/ips", "10.0.0.1"),
                ("team", "ml"),
            ]),
            Some("10.0.0.1"),
        );
        let removed: Vec<(&str, &Why)> =
            c.remove.iter().map(|r| (r.key.as_str(), &r.why)).collect();
        assert_eq!(removed.len(), 5, "{removed:?}");
        assert!(
            matches!(removed[0].1, Why::OtherSpelling { instead, .. } if instead == "metallb.io/loadBalancerIPs")
        );
        assert!(matches!(removed[1].1, Why::Misspelled { .. }));
        assert!(matches!(removed[2].1, Why::PoolSelect));
        assert!(matches!(removed[3].1, Why::NotShared));
        assert!(matches!(removed[4].1, Why::Foreign { .. }));
        assert_eq!(c.set.len(), 1);
        assert_eq!(
            (c.set[0].key.as_str(), c.set[0].value.as_str()),
            ("metallb.io/loadBalancerIPs", "10.0.0.5")
        );
        assert_eq!(c.clear_spec_ip.as_deref(), Some("10.0.0.1"));
    }

    #[test]
    fn a_switch_over_writes_both_pins_and_keeps_them_next_time() {
        let style = PinStyle {
            providers: vec![ProviderKind::Metallb, ProviderKind::Cilium],
            prefix: Prefix::default(),
        };
        let c = pin_changes(&style, &want("10.0.0.5"), &[], None);
        let keys: Vec<&str> = c.set.iter().map(|s| s.key.as_str()).collect();
        assert_eq!(
            keys,
            [
                "metallb.io/loadBalancerIPs",
                "lbipam.cilium.io/ips",
                "io.cilium/lb-ipam-ips"
            ]
        );
        let after: Vec<(String, String)> = c
            .set
            .iter()
            .map(|s| (s.key.clone(), s.value.clone()))
            .collect();
        assert!(pin_changes(&style, &want("10.0.0.5"), &after, None).is_empty());
    }

    #[test]
    fn a_spaced_kube_vip_pin_is_rewritten_but_an_equal_metallb_one_is_kept() {
        let kv = PinStyle {
            providers: vec![ProviderKind::KubeVip],
            prefix: Prefix::default(),
        };
        let w = Want {
            ips: vec!["10.0.0.5".parse().unwrap(), "fd00::5".parse().unwrap()],
            ..Want::default()
        };
        let c = pin_changes(
            &kv,
            &w,
            &a(&[("kube-vip.io/loadbalancerIPs", "10.0.0.5, fd00::5")]),
            None,
        );
        assert_eq!(c.set[0].value, "10.0.0.5,fd00::5");
        let mlb = pin_changes(
            &PinStyle::default(),
            &w,
            &a(&[("metallb.io/loadBalancerIPs", "fd00::5, 10.0.0.5")]),
            None,
        );
        assert!(mlb.is_empty(), "{mlb:?}");
    }
}
