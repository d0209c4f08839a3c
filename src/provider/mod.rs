//! The bare-metal load balancers lbip pins for, behind one seam.
//!
//! Which implementation hands out a cluster's LoadBalancer addresses decides which
//! annotation pins an IP, which key shares one, which `loadBalancerClass` it answers for and
//! which objects reserve addresses. Everything specific to one implementation lives in its
//! module; the rest of lbip asks through [`ProviderKind`].

use std::fmt;

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
        match self {
            ProviderKind::Metallb => "MetalLB",
            ProviderKind::Cilium => "Cilium LB IPAM",
            ProviderKind::KubeVip => "kube-vip",
            ProviderKind::Purelb => "PureLB",
        }
    }

    pub fn parse(s: &str) -> Option<ProviderKind> {
        ProviderKind::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

impl fmt::Display for ProviderKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
