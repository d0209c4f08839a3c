//! The bare-metal load balancers lbip pins for, behind one seam.
//!
//! Which implementation hands out a cluster's LoadBalancer addresses decides which
//! annotation pins an IP, which key shares one, which `loadBalancerClass` it answers for and
//! how it reads a request. Everything specific to one implementation lives in its module
//! (`metallb`, `cilium`, `kube_vip`, `purelb`, each with the sources it was checked against);
//! the rest of lbip asks through [`Provider`], and [`pins::pin_changes`] is the one place
//! that decides which keys a Service must carry and which it must lose, for the
//! post-renderer and the cluster plan alike.

pub mod cilium;
pub mod kube_vip;
pub mod metallb;
pub mod pins;
pub mod purelb;

use std::collections::BTreeMap;
use std::fmt;
use std::net::IpAddr;

/// A load balancer implementation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ProviderKind {
    /// MetalLB (metallb.io), the default.
    #[default]
    Metallb,
    /// Cilium's LB IPAM (cilium.io).
    Cilium,
    /// The kube-vip cloud provider (kube-vip.io).
    KubeVip,
    /// PureLB (purelb.io).
    Purelb,
}

impl ProviderKind {
    pub const ALL: [ProviderKind; 4] = [
        ProviderKind::Metallb,
        ProviderKind::Cilium,
        ProviderKind::KubeVip,
        ProviderKind::Purelb,
    ];

    /// The name the registry uses (`provider.kind`).
    pub fn as_str(self) -> &'static str {
        match self {
            ProviderKind::Metallb => "metallb",
            ProviderKind::Cilium => "cilium",
            ProviderKind::KubeVip => "kube-vip",
            ProviderKind::Purelb => "purelb",
        }
    }

    /// The name people know it by, for messages.
    pub fn title(self) -> &'static str {
        self.provider().title()
    }

    pub fn parse(s: &str) -> Option<ProviderKind> {
        ProviderKind::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// What lbip knows about this implementation.
    pub fn provider(self) -> &'static dyn Provider {
        match self {
            ProviderKind::Metallb => &metallb::MetalLb,
            ProviderKind::Cilium => &cilium::Cilium,
            ProviderKind::KubeVip => &kube_vip::KubeVip,
            ProviderKind::Purelb => &purelb::PureLb,
        }
    }
}

impl fmt::Display for ProviderKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What an annotation key is to one implementation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyRole {
    /// Requests addresses.
    Pin,
    /// Lets Services share an address (a sharing key).
    Sharing,
    /// Widens sharing to other namespaces (Cilium's `sharing-cross-namespace`).
    SharingScope,
    /// Picks a pool or group; a pinned address already picks it, and a mismatch refuses the
    /// Service.
    PoolSelect,
    /// Written by the implementation itself: never a request, never lbip's to change.
    Output,
    /// Looks like one of its keys, but it reads no such key; `meant` is the real one.
    Misspelled { meant: String },
}

/// The request an implementation derives from a Service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    /// Nothing requested: it picks an address itself.
    None,
    /// Exact addresses, and where they came from (an annotation key or `spec.loadBalancerIP`).
    Ips { ips: Vec<IpAddr>, source: String },
    /// The request cannot be honoured; the text says why, in the implementation's terms.
    Invalid(String),
}

/// How a Service is read: which implementation, and what is known of its version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reader {
    pub kind: ProviderKind,
    /// For MetalLB: which annotation prefixes the running release reads.
    pub metallb: metallb::Reader,
}

impl Default for Reader {
    fn default() -> Reader {
        Reader {
            kind: ProviderKind::Metallb,
            metallb: metallb::Reader::Current,
        }
    }
}

/// What a pin must say: the addresses, and how they are shared.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Want {
    /// IPv4 first.
    pub ips: Vec<IpAddr>,
    pub shared_key: Option<String>,
    /// Namespaces of the other Services sharing the key (Cilium must be told).
    pub share_namespaces: Vec<String>,
}

/// One load balancer implementation, as far as pinning cares.
pub trait Provider: Sync {
    fn kind(&self) -> ProviderKind;
    /// The name people know it by.
    fn title(&self) -> &'static str;
    /// The annotations that pin `want` for this implementation, in the order lbip writes
    /// them. `prefix` is the registry's MetalLB prefix (MetalLB only).
    fn pin_annotations(&self, want: &Want, prefix: metallb::Prefix) -> Vec<(String, String)>;
    /// What `key` is to this implementation; `None` when it is none of its keys.
    fn classify(&self, key: &str) -> Option<KeyRole>;
    /// Whether an existing pin value says exactly what `wanted` says, as this implementation
    /// parses it (MetalLB and Cilium trim and compare addresses; kube-vip's cloud provider
    /// and PureLB parse without trimming, so only the exact text is safe).
    fn same_pin(&self, value: &str, wanted: &str) -> bool {
        value == wanted
    }
    /// The request this implementation reads from a Service's annotations and
    /// `spec.loadBalancerIP`.
    fn request(
        &self,
        annotations: &BTreeMap<String, String>,
        spec_ip: Option<&str>,
        reader: Reader,
    ) -> Request;
    /// Whether it answers for a LoadBalancer Service of `class`, given the registry's
    /// `provider.loadBalancerClass` (`configured`).
    fn owns_class(&self, class: Option<&str>, configured: Option<&str>) -> bool;
    /// Which classes it answers for, in words (`Services without a class`).
    fn classes_text(&self, configured: Option<&str>) -> String;
    /// How it treats the registry mistakes lint reports, for the messages and for the rules
    /// that only apply to some implementations.
    fn behaviour(&self) -> &'static Behaviour;
}

/// How an implementation treats what lint checks, in its own terms. Each text finishes a
/// sentence that states the mistake (`... is outside every pool; <outside_pools>`).
#[derive(Debug)]
pub struct Behaviour {
    /// The command that lists its pools (a hint for copying them into the registry).
    pub list_pools: &'static str,
    /// What it gives a LoadBalancer Service that asks for no address (a whole clause).
    pub automatic: &'static str,
    /// What it does with a pinned address outside every pool.
    pub outside_pools: &'static str,
    /// What it does when two Services pin one address without sharing it.
    pub duplicate: &'static str,
    /// What it does when two Services sharing an address use one port.
    pub port_clash: &'static str,
    /// What it does with two pools that overlap.
    pub overlap: &'static str,
    /// Whether one pool must hold both addresses of a dual-stack Service.
    pub dual_stack_one_pool: bool,
    /// Whether it can give an operator-created Service its address from a pool of its own,
    /// with no annotation (`pinBy: pool`).
    pub pins_by_pool: bool,
    /// Whether automatic allocation always skips addresses ending in .0 and .255.
    pub skips_dot_zero_and_255: bool,
}

/// Whether a LoadBalancer Service of `class` belongs to one of `kinds` (the registry's
/// providers): the one rule every face uses. `None` when it does; else why not, in words.
pub fn class_mismatch(
    kinds: &[ProviderKind],
    service_class: Option<&str>,
    configured: Option<&str>,
) -> Option<String> {
    if kinds
        .iter()
        .any(|k| k.provider().owns_class(service_class, configured))
    {
        return None;
    }
    let primary = kinds.first().copied().unwrap_or_default();
    if primary == ProviderKind::Metallb {
        // MetalLB's own words (the ones users know from its `--lb-class` docs).
        return metallb::class_mismatch(service_class, configured);
    }
    let p = primary.provider();
    Some(match service_class {
        Some(c) => format!(
            "sets spec.loadBalancerClass `{c}`, which {} does not answer for (it handles {}), so it is left to another load balancer",
            p.title(),
            p.classes_text(configured)
        ),
        None => format!(
            "sets no spec.loadBalancerClass, but {} handles only {}",
            p.title(),
            p.classes_text(configured)
        ),
    })
}

/// The finding for a registered Service the registry's load balancer does not handle because
/// of its class, in the words every face uses; `why` is [`class_mismatch`]'s text. Each face
/// puts its own subject (`Service ns/name (document)`, `ns/name:`) in front and picks the
/// severity.
pub fn foreign_class_finding(
    kinds: &[ProviderKind],
    severity: crate::diagnostic::Severity,
    subject: &str,
    why: &str,
) -> crate::diagnostic::Finding {
    let title = kinds.first().copied().unwrap_or_default().title();
    crate::diagnostic::Finding {
        severity,
        ..crate::diagnostic::Finding::warning(
            crate::plan::analyze::codes::FOREIGN_CLASS,
            format!("{subject} {why}; {title} will not hand it its registry IP"),
        )
    }
    .hint("remove spec.loadBalancerClass from the Service (the chart's values), or set the registry's provider.loadBalancerClass to the class its load balancer answers for")
}

/// What `key` is to any implementation lbip knows, with the one it belongs to.
pub fn classify_any(key: &str) -> Option<(ProviderKind, KeyRole)> {
    ProviderKind::ALL
        .into_iter()
        .find_map(|k| k.provider().classify(key).map(|r| (k, r)))
}

/// The addresses of a comma-separated list, each trimmed (MetalLB's and Cilium's reading).
pub fn parse_trimmed_list(value: &str) -> Vec<Result<IpAddr, String>> {
    value
        .split(',')
        .map(|s| {
            s.trim()
                .parse::<IpAddr>()
                .map_err(|_| format!("`{}` is not an IP address", s.trim()))
        })
        .collect()
}

/// Folds a key for spotting misspellings: lower case, without `-`, `_` and `.`.
pub(crate) fn fold(s: &str) -> String {
    s.chars()
        .filter(|c| !matches!(c, '-' | '_' | '.'))
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_key_belongs_to_one_implementation() {
        assert_eq!(
            classify_any("lbipam.cilium.io/ips"),
            Some((ProviderKind::Cilium, KeyRole::Pin))
        );
        assert_eq!(
            classify_any("kube-vip.io/loadbalancerIPs"),
            Some((ProviderKind::KubeVip, KeyRole::Pin))
        );
        assert_eq!(
            classify_any("purelb.io/addresses"),
            Some((ProviderKind::Purelb, KeyRole::Pin))
        );
        assert_eq!(
            classify_any("metallb.io/loadBalancerIPs"),
            Some((ProviderKind::Metallb, KeyRole::Pin))
        );
        assert_eq!(classify_any("app.kubernetes.io/name"), None);
    }

    #[test]
    fn the_class_rule_asks_every_provider_of_the_registry() {
        use ProviderKind::*;
        assert_eq!(
            class_mismatch(&[Cilium], Some("io.cilium/l2-announcer"), None),
            None
        );
        assert_eq!(class_mismatch(&[Cilium], None, None), None);
        assert!(class_mismatch(&[Metallb], Some("io.cilium/l2-announcer"), None).is_some());
        // During a switch-over both answer.
        assert_eq!(
            class_mismatch(&[Metallb, Cilium], Some("io.cilium/l2-announcer"), None),
            None
        );
        assert_eq!(
            class_mismatch(&[Purelb], Some("purelb.io/purelbv2"), None),
            None
        );
        let why = class_mismatch(&[KubeVip], Some("purelb.io/purelbv2"), None).unwrap();
        assert!(why.contains("kube-vip does not answer for"), "{why}");
    }
}
