//! The registry as the rest of lbip sees it: plain data, already parsed.
//!
//! Every value that a lint rule may complain about carries the [`Pos`] it was read from, so
//! a finding can point at `file:line:col` of the offending value.

use super::ranges::AddrRange;
use super::tree::Pos;
use crate::metallb::Prefix;
use crate::provider::ProviderKind;
use std::collections::BTreeMap;
use std::fmt;
use std::net::IpAddr;

/// A value and where it was written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Located<T> {
    pub value: T,
    pub pos: Pos,
}

impl<T> Located<T> {
    pub fn new(value: T, pos: Pos) -> Self {
        Located { value, pos }
    }
}

/// The whole registry file.
#[derive(Debug, Clone)]
pub struct Registry {
    /// Which annotation prefix the cluster's MetalLB reads.
    pub prefix: Prefix,
    /// `provider.loadBalancerClass`: the class MetalLB runs with (`--lb-class`); `None` when
    /// it runs without one, and so handles only Services that set no class.
    pub load_balancer_class: Option<String>,
    /// `provider.kind`: the load balancer(s) that hand out the addresses; two during a
    /// switch from one to the other (every pin is then written for both). Never empty.
    pub providers: Vec<ProviderKind>,
    /// `clusters:`: the clusters that share the registry's addresses (empty: one cluster,
    /// the one the kubeconfig points at).
    pub clusters: Vec<Cluster>,
    pub pools: Vec<Pool>,
    pub reserved: Vec<NamedRanges>,
    pub blocks: Vec<NamedRanges>,
    /// Entries in file order.
    pub services: Vec<Entry>,
    /// In a cluster's view ([`Registry::for_cluster`]): the other clusters' entries, so an
    /// address the registry gives to another cluster is recognised; empty otherwise.
    pub elsewhere: Vec<Entry>,
}

impl Default for Registry {
    fn default() -> Registry {
        Registry {
            prefix: Prefix::default(),
            load_balancer_class: None,
            providers: vec![ProviderKind::default()],
            clusters: Vec::new(),
            pools: Vec::new(),
            reserved: Vec::new(),
            blocks: Vec::new(),
            services: Vec::new(),
            elsewhere: Vec::new(),
        }
    }
}

/// A cluster that takes addresses from the registry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cluster {
    pub name: Located<String>,
    /// The kubeconfig context that reaches it; the cluster's name when not given.
    pub context: Option<Located<String>>,
    /// The load balancer(s) it runs, when not the registry's `provider.kind`.
    pub providers: Option<Located<Vec<ProviderKind>>>,
}

impl Cluster {
    pub fn name(&self) -> &str {
        &self.name.value
    }
    /// The kubeconfig context for this cluster.
    pub fn context(&self) -> &str {
        self.context
            .as_ref()
            .map_or(self.name.value.as_str(), |c| c.value.as_str())
    }
}

/// A named list of address ranges (a reserved range or a block).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NamedRanges {
    pub name: Located<String>,
    pub addresses: Vec<Located<AddrRange>>,
}

impl NamedRanges {
    pub fn contains(&self, ip: IpAddr) -> bool {
        self.addresses.iter().any(|r| r.value.contains(ip))
    }
    pub fn ranges(&self) -> impl Iterator<Item = &AddrRange> {
        self.addresses.iter().map(|r| &r.value)
    }
}

/// A MetalLB address pool the registry hands IPs out of.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pool {
    pub ranges: NamedRanges,
    /// The cluster the pool belongs to (`cluster:`; required with two clusters or more).
    pub cluster: Option<Located<String>>,
    /// As in MetalLB: `.0` and `.255` addresses are never handed out.
    pub avoid_buggy_ips: bool,
}

impl Pool {
    pub fn name(&self) -> &str {
        &self.ranges.name.value
    }
    pub fn contains(&self, ip: IpAddr) -> bool {
        self.ranges.contains(ip)
    }
}

/// How an entry is pinned.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PinBy {
    /// `<prefix>/loadBalancerIPs` on the Service (post-renderer, kubectl apply).
    #[default]
    Annotation,
    /// A dedicated /32 (or /128) MetalLB pool with `serviceAllocation`, for Services an
    /// operator creates that no post-renderer sees.
    Pool,
}

/// A port a Service exposes, as far as IP sharing cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PortSpec {
    pub port: u16,
    pub protocol: Protocol,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub enum Protocol {
    #[default]
    Tcp,
    Udp,
    Sctp,
}

impl Protocol {
    pub fn as_str(self) -> &'static str {
        match self {
            Protocol::Tcp => "TCP",
            Protocol::Udp => "UDP",
            Protocol::Sctp => "SCTP",
        }
    }
    pub fn parse(s: &str) -> Option<Protocol> {
        match s.to_ascii_uppercase().as_str() {
            "TCP" => Some(Protocol::Tcp),
            "UDP" => Some(Protocol::Udp),
            "SCTP" => Some(Protocol::Sctp),
            _ => None,
        }
    }
}

impl fmt::Display for PortSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.port, self.protocol.as_str())
    }
}

/// One registry entry: which Service gets which IP.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The registry id (the key under `services:`), positioned at the key.
    pub id: Located<String>,
    pub namespace: Located<String>,
    /// The Service's name; defaults to the id (then positioned at the id).
    pub name: Located<String>,
    /// One IP, or one per family for dual stack. Empty only when the file was invalid.
    pub ips: Vec<Located<IpAddr>>,
    pub block: Option<Located<String>>,
    pub ports: Vec<Located<PortSpec>>,
    pub hostname: Option<Located<String>>,
    /// An explicit URL for docs and facts; otherwise one is derived (see [`Entry::url`]).
    pub url: Option<Located<String>>,
    pub shared_key: Option<Located<String>>,
    pub force_load_balancer: bool,
    pub pin_by: Located<PinBy>,
    pub match_labels: Located<BTreeMap<String, String>>,
    /// The cluster the Service runs in (`cluster:`; required with two clusters or more).
    pub cluster: Option<Located<String>>,
}

impl Entry {
    pub fn id(&self) -> &str {
        &self.id.value
    }
    pub fn namespace(&self) -> &str {
        &self.namespace.value
    }
    pub fn name(&self) -> &str {
        &self.name.value
    }
    /// `namespace/name`, the way Kubernetes people write a Service.
    pub fn qualified_name(&self) -> String {
        format!("{}/{}", self.namespace.value, self.name.value)
    }
    /// The IPs, IPv4 first.
    pub fn ip_values(&self) -> Vec<IpAddr> {
        let mut ips: Vec<IpAddr> = self.ips.iter().map(|i| i.value).collect();
        ips.sort_by_key(|ip| !ip.is_ipv4());
        ips
    }
    /// The first IP (IPv4 when there is one): what single-IP exports show.
    pub fn primary_ip(&self) -> Option<IpAddr> {
        self.ip_values().first().copied()
    }
    pub fn shared_key(&self) -> Option<&str> {
        self.shared_key
            .as_ref()
            .map(|k| k.value.as_str())
            .filter(|k| !k.is_empty())
    }
    pub fn hostname(&self) -> Option<&str> {
        self.hostname.as_ref().map(|h| h.value.as_str())
    }
    /// The URL people open: the explicit `url`, else `scheme://host[:port]` from the
    /// hostname (or IP) and the first port; `https` for 443, `http` otherwise.
    pub fn url(&self) -> Option<String> {
        if let Some(u) = &self.url {
            return Some(u.value.clone());
        }
        let host = match (self.hostname(), self.primary_ip()) {
            (Some(h), _) => h.to_string(),
            (None, Some(IpAddr::V6(v6))) => format!("[{v6}]"),
            (None, Some(ip)) => ip.to_string(),
            (None, None) => return None,
        };
        let port = self.ports.first().map(|p| p.value.port);
        Some(match port {
            Some(443) => format!("https://{host}"),
            Some(80) | None => format!("http://{host}"),
            Some(p) => format!("http://{host}:{p}"),
        })
    }
}
