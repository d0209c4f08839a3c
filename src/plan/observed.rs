//! The cluster as the planner sees it: plain data read from Kubernetes objects.
//!
//! `cluster::observe` fills an [`Observed`] with one LIST per kind; everything after that
//! (analysis, planning, doctor, import) is a pure function of it, so it is tested without a
//! cluster and reused by the Ansible module.

use crate::metallb;
use crate::provider::Reader;
use k8s_openapi::api::core::v1::{Event, Service};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

/// A Service as MetalLB sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ObservedService {
    pub namespace: String,
    pub name: String,
    /// `spec.type`: only `LoadBalancer` Services get an IP from MetalLB.
    #[serde(rename = "type")]
    pub service_type: String,
    /// `spec.loadBalancerClass`: MetalLB ignores Services that set one (unless run with
    /// `--lb-class`).
    pub load_balancer_class: Option<String>,
    pub annotations: BTreeMap<String, String>,
    pub labels: BTreeMap<String, String>,
    /// `spec.loadBalancerIP` (deprecated by Kubernetes, still read by MetalLB).
    pub spec_load_balancer_ip: Option<String>,
    /// `status.loadBalancer.ingress[].ip`: what MetalLB assigned.
    pub assigned: Vec<IpAddr>,
    /// `status.loadBalancer.ingress[].hostname`, for the odd load balancer that reports one.
    pub ingress_hostnames: Vec<String>,
    /// `port/PROTOCOL`, in spec order.
    pub ports: Vec<String>,
    pub resource_version: Option<String>,
    /// The IP families of the Service (`spec.ipFamilies`, else those of its cluster IPs):
    /// MetalLB gives it exactly one address per family, and refuses a request that differs.
    pub ip_families: Vec<IpFamily>,
}

/// An IP family, as Kubernetes spells it in `spec.ipFamilies`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub enum IpFamily {
    #[serde(rename = "IPv4")]
    V4,
    #[serde(rename = "IPv6")]
    V6,
}

impl IpFamily {
    pub fn of(ip: IpAddr) -> IpFamily {
        if ip.is_ipv4() {
            IpFamily::V4
        } else {
            IpFamily::V6
        }
    }
    fn parse(text: &str) -> Option<IpFamily> {
        match text {
            "IPv4" => Some(IpFamily::V4),
            "IPv6" => Some(IpFamily::V6),
            _ => None,
        }
    }
}

/// The families of a Service spec: `ipFamilies` when set, else its cluster IPs' (a Service
/// the API server has not defaulted yet is IPv4, the default of single-stack clusters).
fn families_of(spec: &k8s_openapi::api::core::v1::ServiceSpec) -> Vec<IpFamily> {
    let mut out: Vec<IpFamily> = spec
        .ip_families
        .iter()
        .flatten()
        .filter_map(|f| IpFamily::parse(f))
        .collect();
    if out.is_empty() {
        out = spec
            .cluster_ips
            .iter()
            .flatten()
            .chain(spec.cluster_ip.iter())
            .filter_map(|ip| ip.parse::<IpAddr>().ok())
            .map(IpFamily::of)
            .collect();
    }
    out.dedup();
    out.truncate(2);
    if out.is_empty() {
        out.push(IpFamily::V4);
    }
    out
}

impl ObservedService {
    /// `namespace/name`.
    pub fn key(&self) -> String {
        format!("{}/{}", self.namespace, self.name)
    }
    pub fn is_load_balancer(&self) -> bool {
        self.service_type == "LoadBalancer"
    }
    /// What MetalLB will actually request for this Service.
    pub fn request(&self, reader: Reader) -> crate::provider::Request {
        reader.kind.provider().request(
            &self.annotations,
            self.spec_load_balancer_ip.as_deref(),
            reader,
        )
    }
    /// The requested IPs (empty when nothing, or nothing valid, is requested).
    pub fn requested_ips(&self, reader: Reader) -> Vec<IpAddr> {
        match self.request(reader) {
            crate::provider::Request::Ips { ips, .. } => sorted(ips),
            _ => Vec::new(),
        }
    }
    /// Builds the model from a Kubernetes Service object.
    pub fn from_k8s(svc: &Service) -> ObservedService {
        let meta = &svc.metadata;
        let spec = svc.spec.clone().unwrap_or_default();
        let ip_families = families_of(&spec);
        let ingress = svc
            .status
            .as_ref()
            .and_then(|s| s.load_balancer.as_ref())
            .and_then(|lb| lb.ingress.clone())
            .unwrap_or_default();
        let assigned = sorted(
            ingress
                .iter()
                .filter_map(|i| i.ip.as_deref())
                .filter_map(|ip| ip.parse().ok())
                .collect(),
        );
        let ports = spec
            .ports
            .unwrap_or_default()
            .iter()
            .map(|p| format!("{}/{}", p.port, p.protocol.as_deref().unwrap_or("TCP")))
            .collect();
        ObservedService {
            ip_families,
            namespace: meta.namespace.clone().unwrap_or_default(),
            name: meta.name.clone().unwrap_or_default(),
            service_type: spec.type_.unwrap_or_else(|| "ClusterIP".into()),
            load_balancer_class: spec.load_balancer_class,
            annotations: meta.annotations.clone().unwrap_or_default(),
            labels: meta.labels.clone().unwrap_or_default(),
            spec_load_balancer_ip: spec.load_balancer_ip.filter(|s| !s.is_empty()),
            assigned,
            ingress_hostnames: ingress.iter().filter_map(|i| i.hostname.clone()).collect(),
            ports,
            resource_version: meta.resource_version.clone(),
        }
    }
}

/// IPv4 first, then IPv6, each ascending: the order lbip compares and prints IP sets in.
pub fn sorted(mut ips: Vec<IpAddr>) -> Vec<IpAddr> {
    ips.sort_by_key(|ip| (!ip.is_ipv4(), *ip));
    ips.dedup();
    ips
}

/// A MetalLB `IPAddressPool`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ObservedPool {
    pub namespace: String,
    pub name: String,
    /// `spec.addresses` as written (CIDRs or `a-b` ranges).
    pub addresses: Vec<String>,
    pub auto_assign: bool,
    pub avoid_buggy_ips: bool,
    /// `spec.serviceAllocation`: only the Services it admits get IPs from the pool, whether
    /// allocated or requested (see `admission`).
    pub service_allocation: Option<super::admission::ServiceAllocation>,
    pub labels: BTreeMap<String, String>,
}

impl ObservedPool {
    /// The pool's ranges; entries that do not parse are left out (MetalLB rejects them too).
    pub fn ranges(&self) -> Vec<crate::registry::ranges::AddrRange> {
        self.addresses
            .iter()
            .filter_map(|a| crate::registry::ranges::AddrRange::parse(a).ok())
            .map(|(range, _)| range)
            .collect()
    }
    pub fn contains(&self, ip: IpAddr) -> bool {
        self.ranges().iter().any(|r| r.contains(ip))
    }
    /// Whether MetalLB hands `ip` out of this pool: covered, and not a `.0`/`.255` the pool
    /// avoids.
    pub fn can_assign(&self, ip: IpAddr) -> bool {
        let buggy = self.avoid_buggy_ips
            && matches!(ip, IpAddr::V4(v4) if matches!(v4.octets()[3], 0 | 255));
        !buggy && self.contains(ip)
    }
    /// Whether some pool selects namespaces by label (then their labels must be read).
    pub fn selects_namespaces(&self) -> bool {
        self.service_allocation
            .as_ref()
            .is_some_and(|a| !a.namespace_selectors.is_empty())
    }
}

/// An `L2Advertisement` or `BGPAdvertisement`: which pools it announces.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ObservedAdvertisement {
    pub kind: String,
    pub namespace: String,
    pub name: String,
    /// `spec.ipAddressPools`; empty together with no selector means "every pool".
    pub pools: Vec<String>,
    /// `spec.ipAddressPoolSelectors` is set (treated as matching by label, see doctor).
    pub pool_selectors: Vec<BTreeMap<String, String>>,
}

impl ObservedAdvertisement {
    pub fn announces(&self, pool: &ObservedPool) -> bool {
        if self.pools.is_empty() && self.pool_selectors.is_empty() {
            return true;
        }
        self.pools.iter().any(|p| p == &pool.name)
            || self
                .pool_selectors
                .iter()
                .any(|sel| sel.iter().all(|(k, v)| pool.labels.get(k) == Some(v)))
    }
}

/// A Kubernetes Event about a Service.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ObservedEvent {
    pub namespace: String,
    /// The Service the event is about.
    pub service: String,
    pub reason: String,
    pub message: String,
    #[serde(rename = "type")]
    pub event_type: String,
    /// RFC 3339 time of the last occurrence, when the server gave one.
    pub last_seen: Option<String>,
    /// Orders events within one second (timestamps have second resolution).
    #[serde(skip)]
    pub sequence: u64,
}

impl ObservedEvent {
    /// `None` for events not about a Service.
    pub fn from_k8s(ev: &Event) -> Option<ObservedEvent> {
        if ev.involved_object.kind.as_deref() != Some("Service") {
            return None;
        }
        let last_seen = ev
            .last_timestamp
            .as_ref()
            .map(|t| t.0.to_string())
            .or_else(|| ev.event_time.as_ref().map(|t| t.0.to_string()))
            .or_else(|| {
                ev.metadata
                    .creation_timestamp
                    .as_ref()
                    .map(|t| t.0.to_string())
            });
        Some(ObservedEvent {
            namespace: ev
                .involved_object
                .namespace
                .clone()
                .or_else(|| ev.metadata.namespace.clone())
                .unwrap_or_default(),
            service: ev.involved_object.name.clone().unwrap_or_default(),
            reason: ev.reason.clone().unwrap_or_default(),
            message: ev.message.clone().unwrap_or_default(),
            event_type: ev.type_.clone().unwrap_or_default(),
            last_seen,
            sequence: ev
                .metadata
                .resource_version
                .as_deref()
                .and_then(|v| v.parse().ok())
                .unwrap_or(0),
        })
    }
}

/// The MetalLB controller Deployment, when one was found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MetallbInstall {
    pub namespace: String,
    pub deployment: String,
    pub image: String,
    /// The image tag, e.g. `v0.14.8` (`None` for a digest or `latest`).
    pub version: Option<String>,
}

/// Which Services a command looks at (and may change): namespaces and a label selector.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct Scope {
    /// `None`: every namespace.
    pub namespaces: Option<BTreeSet<String>>,
    pub selector: Option<LabelSelector>,
}

impl Scope {
    pub fn all() -> Scope {
        Scope::default()
    }
    pub fn namespace(ns: &str) -> Scope {
        Scope {
            namespaces: Some([ns.to_string()].into()),
            selector: None,
        }
    }
    pub fn includes(&self, namespace: &str) -> bool {
        self.namespaces
            .as_ref()
            .is_none_or(|set| set.contains(namespace))
    }
    pub fn includes_service(&self, svc: &ObservedService) -> bool {
        self.includes(&svc.namespace)
            && self
                .selector
                .as_ref()
                .is_none_or(|sel| sel.matches(&svc.labels))
    }
}

/// An equality-based label selector (`-l app=web,tier!=db,canary,!legacy`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LabelSelector {
    pub text: String,
    terms: Vec<(String, SelectorOp)>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
enum SelectorOp {
    Equals(String),
    NotEquals(String),
    Exists,
    NotExists,
}

impl LabelSelector {
    pub fn parse(text: &str) -> Result<LabelSelector, String> {
        let mut terms = Vec::new();
        for term in text.split(',').map(str::trim).filter(|t| !t.is_empty()) {
            if term.contains(" in ") || term.contains(" notin ") || term.contains('(') {
                return Err(format!(
                    "label selector `{term}`: only `k=v`, `k!=v`, `k` and `!k` are supported"
                ));
            }
            let parsed = if let Some((k, v)) = term.split_once("!=") {
                (k, SelectorOp::NotEquals(v.trim().into()))
            } else if let Some((k, v)) = term.split_once("==").or_else(|| term.split_once('=')) {
                (k, SelectorOp::Equals(v.trim().into()))
            } else if let Some(k) = term.strip_prefix('!') {
                (k, SelectorOp::NotExists)
            } else {
                (term, SelectorOp::Exists)
            };
            terms.push((parsed.0.trim().to_string(), parsed.1));
        }
        Ok(LabelSelector {
            text: text.to_string(),
            terms,
        })
    }
    pub fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        self.terms.iter().all(|(k, op)| match op {
            SelectorOp::Equals(v) => labels.get(k) == Some(v),
            SelectorOp::NotEquals(v) => labels.get(k) != Some(v),
            SelectorOp::Exists => labels.contains_key(k),
            SelectorOp::NotExists => !labels.contains_key(k),
        })
    }
}

/// Everything read from the cluster for one command.
#[derive(Debug, Clone, Serialize)]
pub struct Observed {
    pub scope: Scope,
    /// The `spec.loadBalancerClass` the load balancer answers for (registry
    /// `provider.loadBalancerClass`, e.g. MetalLB's `--lb-class`); `None`: its default.
    pub metallb_class: Option<String>,
    /// The registry's load balancer(s) (`provider.kind`); the first hands addresses out.
    pub providers: Vec<crate::provider::ProviderKind>,
    /// Every Service read (LoadBalancer or not); may cover more than `scope` so that
    /// squatters in other namespaces are seen, but only Services in scope are changed.
    pub services: Vec<ObservedService>,
    /// `None` when the MetalLB CRDs are not installed, or the pools could not be read.
    pub pools: Option<Vec<ObservedPool>>,
    /// Why the pools could not be read (a 403), when so: commands then say "pools unknown".
    pub pools_unreadable: Option<String>,
    /// Namespace labels, read only when some pool selects namespaces by label.
    pub namespace_labels: Option<super::admission::NamespaceLabels>,
    pub advertisements: Vec<ObservedAdvertisement>,
    pub events: Vec<ObservedEvent>,
    /// Filled by the doctor's extra reads.
    pub metallb: Option<MetallbInstall>,
    /// `namespace/name` of k3s ServiceLB (`svclb-*`) DaemonSets, filled by the doctor.
    pub servicelb: Vec<String>,
    /// The registry's other clusters, read too when it has several (their Services only):
    /// an address one of them holds is never handed out here as well.
    pub other_clusters: Vec<OtherCluster>,
}

/// Another cluster of the registry, as far as its addresses matter here.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OtherCluster {
    pub name: String,
    /// Its LoadBalancer Services (empty when it could not be read).
    pub services: Vec<ObservedService>,
    /// Why it could not be read, when so.
    pub unreadable: Option<String>,
}

impl Observed {
    pub fn new(scope: Scope, services: Vec<ObservedService>) -> Observed {
        Observed {
            scope,
            metallb_class: None,
            providers: vec![crate::provider::ProviderKind::default()],
            services,
            pools: None,
            pools_unreadable: None,
            namespace_labels: None,
            advertisements: Vec::new(),
            events: Vec::new(),
            metallb: None,
            servicelb: Vec::new(),
            other_clusters: Vec::new(),
        }
    }

    /// Services of the other clusters that hold `ip`, with their cluster's name.
    pub fn holders_elsewhere(&self, ip: IpAddr) -> Vec<(&str, &ObservedService)> {
        self.other_clusters
            .iter()
            .flat_map(|c| c.services.iter().map(move |s| (c.name.as_str(), s)))
            .filter(|(_, s)| s.is_load_balancer() && s.assigned.contains(&ip))
            .collect()
    }
    /// LoadBalancer Services MetalLB handles (their `loadBalancerClass` is the one MetalLB
    /// runs with: [`crate::metallb::class_mismatch`], the rule every face uses).
    pub fn load_balancers(&self) -> impl Iterator<Item = &ObservedService> {
        self.services
            .iter()
            .filter(|s| s.is_load_balancer() && self.class_mismatch(s).is_none())
    }
    /// Why MetalLB does not handle `svc` because of its class, or `None` when it does.
    pub fn class_mismatch(&self, svc: &ObservedService) -> Option<String> {
        crate::provider::class_mismatch(
            &self.providers,
            svc.load_balancer_class.as_deref(),
            self.metallb_class.as_deref(),
        )
    }
    pub fn service(&self, namespace: &str, name: &str) -> Option<&ObservedService> {
        self.services
            .iter()
            .find(|s| s.namespace == namespace && s.name == name)
    }
    /// How to read Services' requests: as the registry's (first) load balancer does, and for
    /// MetalLB as the controller's version does when known, else the current release (which
    /// reads both prefixes).
    pub fn reader(&self) -> Reader {
        Reader {
            kind: self.providers.first().copied().unwrap_or_default(),
            metallb: self
                .metallb
                .as_ref()
                .and_then(|m| m.version.as_deref())
                .and_then(metallb::Reader::for_version)
                .unwrap_or(metallb::Reader::Current),
        }
    }
    /// Every IP some LoadBalancer Service holds or requests, here or (held) in another
    /// cluster of the registry: none of them is free for a scratch or evict address.
    pub fn ips_in_use(&self) -> BTreeSet<IpAddr> {
        let reader = self.reader();
        let elsewhere = self
            .other_clusters
            .iter()
            .flat_map(|c| c.services.iter().flat_map(|s| s.assigned.iter().copied()));
        self.load_balancers()
            .flat_map(|s| {
                s.assigned
                    .iter()
                    .copied()
                    .chain(s.requested_ips(reader))
                    .collect::<Vec<_>>()
            })
            .chain(elsewhere)
            .collect()
    }
    /// Services holding `ip` right now.
    pub fn holders_of(&self, ip: IpAddr) -> Vec<&ObservedService> {
        self.load_balancers()
            .filter(|s| s.assigned.contains(&ip))
            .collect()
    }
    /// The newest event about a Service, if any.
    pub fn last_event(&self, namespace: &str, name: &str) -> Option<&ObservedEvent> {
        self.events
            .iter()
            .filter(|e| e.namespace == namespace && e.service == name)
            .max_by_key(|e| (e.last_seen.clone(), e.sequence))
    }
    /// The cluster pool holding `ip`.
    pub fn pool_of(&self, ip: IpAddr) -> Option<&ObservedPool> {
        self.pools.as_ref()?.iter().find(|p| p.contains(ip))
    }
}
