//! Where every LoadBalancer Service stands against the registry: one [`ServiceStatus`] per
//! Service in scope and per registry entry, each with its states and findings.

use super::observed::{Observed, ObservedService, sorted};
use crate::diagnostic::{Finding, Severity};
use crate::metallb::{self, Prefix};
use crate::provider::pins::PinStyle;
use crate::provider::{KeyRole, ProviderKind, Reader, Request, Want};
use crate::registry::{Entry, PinBy, Registry};
use serde::Serialize;
use std::fmt;
use std::net::IpAddr;

/// One word for where a Service stands. A Service may be in several at once; they sort
/// worst first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum State {
    /// An address another cluster of the registry hands out too (both clusters answer for
    /// it on one segment), or would if this Service got its registry IP.
    Conflict,
    /// Holds an IP the registry gives to another entry.
    Stolen,
    /// No IP assigned.
    Pending,
    /// Registered, but assigned (or requested) differs from the registry.
    Drift,
    /// A LoadBalancer Service that is not in the registry.
    Unpinned,
    /// A registry entry with no Service in the cluster.
    Missing,
    /// Keys MetalLB reads differently than intended: annotation plus spec, misspelled or
    /// wrong-prefix key, deprecated key or field.
    Misconfigured,
    /// Registered, on its registry IP, requesting it with the right key.
    Ok,
}

impl State {
    pub fn as_str(self) -> &'static str {
        match self {
            State::Ok => "ok",
            State::Conflict => "conflict",
            State::Drift => "drift",
            State::Pending => "pending",
            State::Unpinned => "unpinned",
            State::Stolen => "stolen",
            State::Missing => "missing",
            State::Misconfigured => "misconfigured",
        }
    }
}

impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One row of `kubectl lbip status`.
#[derive(Debug, Clone, Serialize)]
pub struct ServiceStatus {
    /// The registry cluster, when rows of several clusters are shown together
    /// (`--all-clusters`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cluster: Option<String>,
    pub namespace: String,
    pub name: String,
    /// The registry id, when the Service is registered.
    pub registry_id: Option<String>,
    /// The registry's IPs for it (empty when unregistered).
    pub registry: Vec<IpAddr>,
    /// What MetalLB will read as the request.
    pub requested: Vec<IpAddr>,
    /// Where the request comes from: an annotation key or `spec.loadBalancerIP`.
    pub requested_from: Option<String>,
    /// `status.loadBalancer.ingress`.
    pub assigned: Vec<IpAddr>,
    pub ports: Vec<String>,
    pub states: Vec<State>,
    pub findings: Vec<Finding>,
    pub hostname: Option<String>,
    pub url: Option<String>,
    /// The cluster pool of the assigned (else registry) IP.
    pub pool: Option<String>,
    /// `Reason: message` of the newest event about the Service.
    pub last_event: Option<String>,
}

impl ServiceStatus {
    pub fn key(&self) -> String {
        format!("{}/{}", self.namespace, self.name)
    }
    pub fn is_ok(&self) -> bool {
        self.states == [State::Ok]
    }
    /// The states joined with `,` (e.g. `drift,misconfigured`).
    pub fn state_text(&self) -> String {
        self.states
            .iter()
            .map(|s| s.as_str())
            .collect::<Vec<_>>()
            .join(",")
    }
}

/// Finding codes the cluster faces use; the registry lint and the post-renderer use the
/// same codes for the same key problems.
pub mod codes {
    pub const ANNOTATION_AND_SPEC: &str = "annotation-and-spec";
    pub const MISSPELLED_ANNOTATION: &str = "misspelled-annotation";
    pub const WRONG_PREFIX: &str = "wrong-prefix";
    pub const DEPRECATED_ANNOTATION: &str = "deprecated-annotation";
    pub const DEPRECATED_SPEC_IP: &str = "deprecated-spec-ip";
    pub const INVALID_REQUEST: &str = "invalid-request";
    pub const STOLEN_IP: &str = "stolen-ip";
    pub const IP_DRIFT: &str = "ip-drift";
    pub const NOT_REQUESTED: &str = "not-requested";
    pub const NO_IP: &str = "no-ip";
    pub const NOT_IN_REGISTRY: &str = "not-in-registry";
    pub const MISSING_SERVICE: &str = "missing-service";
    pub const FOREIGN_CLASS: &str = "foreign-load-balancer-class";
    pub const MISSING_SHARED_KEY: &str = "missing-shared-key";
    pub const FOREIGN_PROVIDER_KEY: &str = "foreign-provider-key";
    pub const STOLEN_ACROSS_CLUSTERS: &str = "stolen-across-clusters";
    pub const CONFLICT_ACROSS_CLUSTERS: &str = "conflict-across-clusters";
}

pub(crate) fn ips_text(ips: &[IpAddr]) -> String {
    if ips.is_empty() {
        "no IP".into()
    } else {
        metallb::format_ip_list(ips)
    }
}

/// Problems with how a Service's MetalLB keys are written, whatever its IP.
pub fn key_findings(svc: &ObservedService, style: &PinStyle, reader: Reader) -> Vec<Finding> {
    let mut out = Vec::new();
    let who = svc.key();
    let prefix = style.prefix;
    let primary = reader.kind;
    let title = primary.title();
    let wanted = primary
        .provider()
        .pin_annotations(&Want::default(), prefix)
        .into_iter()
        .next()
        .map(|(k, _)| k)
        .unwrap_or_default();
    for key in svc.annotations.keys() {
        let Some((p, role)) = crate::provider::classify_any(key) else {
            continue;
        };
        let ours = style.providers.contains(&p);
        match role {
            KeyRole::Misspelled { meant } => {
                let meant = match p {
                    ProviderKind::Metallb => {
                        meant.replacen(Prefix::default().as_str(), prefix.as_str(), 1)
                    }
                    _ => meant,
                };
                out.push(
                    Finding::error(
                        codes::MISSPELLED_ANNOTATION,
                        format!(
                            "{who}: annotation `{key}` is not a key {} reads; it is silently ignored",
                            p.title()
                        ),
                    )
                    .hint(format!("did you mean `{meant}`? `kubectl lbip apply` rewrites it")),
                );
            }
            KeyRole::Pin | KeyRole::Sharing | KeyRole::PoolSelect if !ours => out.push(
                Finding::warning(
                    codes::FOREIGN_PROVIDER_KEY,
                    format!(
                        "{who}: annotation `{key}` is {}'s, and the registry's load balancer is {}: it is ignored here",
                        p.title(),
                        style
                            .providers
                            .iter()
                            .map(|k| k.title())
                            .collect::<Vec<_>>()
                            .join(" and ")
                    ),
                )
                .hint("`kubectl lbip apply` removes it (during a switch-over, list both in provider.kind)"),
            ),
            KeyRole::Pin if p == ProviderKind::Metallb => {
                // MetalLB's two prefixes: which one the running release reads.
                let Some(metallb::KeyKind::Exact(kp, _)) = metallb::classify(key) else {
                    continue;
                };
                if kp == prefix {
                    continue;
                }
                let mlb_wanted = prefix.load_balancer_ips();
                let read = !matches!(
                    (kp, reader.metallb),
                    (Prefix::MetallbIo, metallb::Reader::UniverseTfOnly)
                );
                let finding = if kp == Prefix::UniverseTf && read {
                    Finding::warning(
                        codes::DEPRECATED_ANNOTATION,
                        format!(
                            "{who}: annotation `{key}` is deprecated (MetalLB >= 0.14.9 reads `{mlb_wanted}`)"
                        ),
                    )
                } else if read {
                    Finding::warning(
                        codes::WRONG_PREFIX,
                        format!(
                            "{who}: annotation `{key}` does not use the registry's prefix `{}`",
                            prefix.as_str()
                        ),
                    )
                } else {
                    Finding::error(
                        codes::WRONG_PREFIX,
                        format!(
                            "{who}: annotation `{key}` is ignored by this MetalLB (older than 0.14.9 reads only `{mlb_wanted}`)"
                        ),
                    )
                };
                out.push(
                    finding.hint(format!("use `{mlb_wanted}`; `kubectl lbip apply` rewrites it")),
                );
            }
            _ => {}
        }
    }
    if let Some(ip) = &svc.spec_load_balancer_ip {
        let has_annotation = svc
            .annotations
            .keys()
            .any(|k| matches!(primary.provider().classify(k), Some(KeyRole::Pin)));
        match (primary, has_annotation) {
            (ProviderKind::Metallb, true) => out.push(
                Finding::error(
                    codes::ANNOTATION_AND_SPEC,
                    format!("{who}: has both a loadBalancerIPs annotation and spec.loadBalancerIP ({ip}); MetalLB rejects the Service even when they agree"),
                )
                .hint("remove spec.loadBalancerIP; `kubectl lbip apply` does"),
            ),
            (ProviderKind::Cilium, true) => out.push(
                Finding::warning(
                    codes::ANNOTATION_AND_SPEC,
                    format!("{who}: has both an IP annotation and spec.loadBalancerIP ({ip}); Cilium LB IPAM requests both"),
                )
                .hint("remove spec.loadBalancerIP; `kubectl lbip apply` does"),
            ),
            (_, true) => out.push(
                Finding::warning(
                    codes::ANNOTATION_AND_SPEC,
                    format!("{who}: has both `{wanted}` and spec.loadBalancerIP ({ip}); {title} reads the annotation, the spec field only misleads"),
                )
                .hint("remove spec.loadBalancerIP; `kubectl lbip apply` does"),
            ),
            (_, false) => out.push(
                Finding::warning(
                    codes::DEPRECATED_SPEC_IP,
                    format!("{who}: requests {ip} through spec.loadBalancerIP, which Kubernetes deprecated"),
                )
                .hint(format!("use the `{wanted}` annotation; `kubectl lbip apply` moves it")),
            ),
        }
    }
    let reported = out
        .iter()
        .any(|f| f.code == codes::ANNOTATION_AND_SPEC && f.is_error());
    if let Request::Invalid(why) = svc.request(reader)
        && !reported
    {
        out.push(
            Finding::error(
                codes::INVALID_REQUEST,
                format!("{who}: {title} rejects the request: {why}"),
            )
            .hint("fix the value; `kubectl lbip apply` writes the registry's IP"),
        );
    }
    out
}

/// The status of every Service in scope and every registry entry in scope.
pub fn analyze(registry: &Registry, observed: &Observed) -> Vec<ServiceStatus> {
    let reader = observed.reader();
    let mut rows = Vec::new();
    for svc in observed
        .services
        .iter()
        .filter(|s| s.is_load_balancer() && observed.scope.includes_service(s))
    {
        let entry = registry.lookup(&svc.namespace, &svc.name);
        if observed.class_mismatch(svc).is_some() && entry.is_none() {
            continue; // not MetalLB's and not ours
        }
        rows.push(service_row(registry, observed, svc, entry, reader));
    }
    for entry in &registry.services {
        // With a label selector, only Services that exist can match it.
        if !observed.scope.includes(entry.namespace())
            || observed.scope.selector.is_some()
            || observed
                .service(entry.namespace(), entry.name())
                .is_some_and(|s| s.is_load_balancer())
        {
            continue;
        }
        let what = match observed.service(entry.namespace(), entry.name()) {
            Some(s) => format!("is a {} Service, not a LoadBalancer", s.service_type),
            None => "does not exist".to_string(),
        };
        let mut row = entry_row(observed, entry);
        row.states = vec![State::Missing];
        row.findings.push(
            Finding::warning(
                codes::MISSING_SERVICE,
                format!(
                    "{}: registry entry `{}` (for {}) has no LoadBalancer Service: it {what}",
                    entry.qualified_name(),
                    entry.id(),
                    ips_text(&entry.ip_values())
                ),
            )
            .for_id(entry.id())
            .hint("deploy it, or remove the entry from the registry"),
        );
        rows.push(row);
    }
    rows.sort_by(|a, b| (&a.namespace, &a.name).cmp(&(&b.namespace, &b.name)));
    rows
}

fn entry_row(observed: &Observed, entry: &Entry) -> ServiceStatus {
    let ips = entry.ip_values();
    ServiceStatus {
        cluster: None,
        namespace: entry.namespace().to_string(),
        name: entry.name().to_string(),
        registry_id: Some(entry.id().to_string()),
        registry: ips.clone(),
        requested: Vec::new(),
        requested_from: None,
        assigned: Vec::new(),
        ports: entry.ports.iter().map(|p| p.value.to_string()).collect(),
        states: Vec::new(),
        findings: Vec::new(),
        hostname: entry.hostname().map(String::from),
        url: entry.url(),
        pool: ips
            .first()
            .and_then(|ip| observed.pool_of(*ip))
            .map(|p| p.name.clone()),
        last_event: None,
    }
}

fn service_row(
    registry: &Registry,
    observed: &Observed,
    svc: &ObservedService,
    entry: Option<&Entry>,
    reader: Reader,
) -> ServiceStatus {
    let who = svc.key();
    let (requested, requested_from) = match svc.request(reader) {
        Request::Ips { ips, source } => (sorted(ips), Some(source)),
        _ => (Vec::new(), None),
    };
    let mut findings = key_findings(svc, &registry.pin_style(), reader);
    let mut states = Vec::new();
    if !findings.is_empty() {
        states.push(State::Misconfigured);
    }
    // Registry IPs this Service holds although they belong to another entry.
    let stolen: Vec<(IpAddr, String)> = svc
        .assigned
        .iter()
        .filter_map(|ip| {
            let owners = registry.owners_of(*ip);
            let mine = entry.is_some_and(|e| owners.iter().any(|o| o.id() == e.id()));
            (!owners.is_empty() && !mine).then(|| (*ip, owners[0].qualified_name()))
        })
        .collect();
    for (ip, owner) in &stolen {
        let entry_id = registry.owners_of(*ip)[0].id().to_string();
        findings.push(
            Finding::error(
                codes::STOLEN_IP,
                format!("{who}: holds {ip}, which the registry gives to {owner} (`{entry_id}`)"),
            )
            .for_id(entry_id)
            .hint("`kubectl lbip apply` moves it off and gives the IP back"),
        );
    }
    if !stolen.is_empty() {
        states.push(State::Stolen);
    }
    // Addresses of the registry's other clusters: given to their entries, or held there.
    for ip in &svc.assigned {
        if registry.owners_of(*ip).is_empty()
            && let Some(owner) = registry.owner_elsewhere(*ip)
        {
            states.push(State::Stolen);
            findings.push(
                Finding::error(
                    codes::STOLEN_ACROSS_CLUSTERS,
                    format!(
                        "{who}: holds {ip}, which the registry gives to {} in cluster `{}` (`{}`)",
                        owner.qualified_name(),
                        owner.cluster.as_ref().map_or("-", |c| c.value.as_str()),
                        owner.id()
                    ),
                )
                .for_id(owner.id())
                .hint(
                    "`kubectl lbip apply` in this cluster moves it off the other cluster's address",
                ),
            );
        }
    }
    let wanted = entry.map(|e| e.ip_values()).unwrap_or_default();
    let mut seen_elsewhere = std::collections::BTreeSet::new();
    for ip in svc.assigned.iter().chain(&wanted) {
        for (cluster, holder) in observed.holders_elsewhere(*ip) {
            if !seen_elsewhere.insert((*ip, cluster, holder.key())) {
                continue;
            }
            let (what, hint) = if svc.assigned.contains(ip) {
                (
                    format!(
                        "{ip} is also assigned in cluster `{cluster}` to {}: two clusters answer for one address",
                        holder.key()
                    ),
                    "move one of them off it (`kubectl lbip apply` in the cluster whose registry IP it is not)",
                )
            } else {
                (
                    format!(
                        "its registry IP {ip} is held in cluster `{cluster}` by {}; lbip will not put it here while it is",
                        holder.key()
                    ),
                    "free the address in the other cluster first (`kubectl lbip apply` there moves a squatter off)",
                )
            };
            states.push(State::Conflict);
            findings.push(
                Finding::error(codes::CONFLICT_ACROSS_CLUSTERS, format!("{who}: {what}"))
                    .hint(hint),
            );
        }
    }
    if svc.assigned.is_empty() {
        states.push(State::Pending);
        let why = observed
            .last_event(&svc.namespace, &svc.name)
            .filter(|e| e.event_type == "Warning")
            .map(|e| format!(" (MetalLB: {}: {})", e.reason, e.message))
            .unwrap_or_default();
        findings.push(
            Finding::error(codes::NO_IP, format!("{who}: has no load balancer IP{why}"))
                .hint("`kubectl lbip doctor` checks pools and events"),
        );
    }
    match entry {
        None => {
            states.push(State::Unpinned);
            findings.push(
                Finding::warning(
                    codes::NOT_IN_REGISTRY,
                    format!("{who}: LoadBalancer Service is not in the registry; MetalLB hands it whatever is free first"),
                )
                .hint("add it to the registry (`kubectl lbip import` drafts entries)"),
            );
        }
        Some(e) => {
            let want = e.ip_values();
            if let Some(why) = observed.class_mismatch(svc) {
                states.push(State::Misconfigured);
                findings.push(
                    crate::provider::foreign_class_finding(
                        &registry.providers,
                        Severity::Error,
                        &format!("{who}:"),
                        &why,
                    )
                    .for_id(e.id()),
                );
            }
            if let Some(key) = e.shared_key() {
                let annotation = registry.prefix.allow_shared_ip();
                if svc.annotations.get(&annotation).map(String::as_str) != Some(key) {
                    states.push(State::Misconfigured);
                    findings.push(
                        Finding::error(
                            codes::MISSING_SHARED_KEY,
                            format!("{who}: the registry shares its IP under key `{key}`, but `{annotation}` is not set to it; MetalLB will not let it share"),
                        )
                        .for_id(e.id())
                        .hint("`kubectl lbip apply` sets it"),
                    );
                }
            }
            if !svc.assigned.is_empty() && svc.assigned != want {
                states.push(State::Drift);
                findings.push(
                    Finding::error(
                        codes::IP_DRIFT,
                        format!(
                            "{who}: has {}, the registry says {}",
                            ips_text(&svc.assigned),
                            ips_text(&want)
                        ),
                    )
                    .for_id(e.id())
                    .hint("`kubectl lbip apply` moves it to its registry IP"),
                );
            } else if requested != want
                && e.pin_by.value == PinBy::Annotation
                && !matches!(svc.request(reader), Request::Invalid(_))
            {
                states.push(State::Drift);
                let asks = match &requested_from {
                    Some(src) => format!("requests {} ({src})", ips_text(&requested)),
                    None => "requests no IP".into(),
                };
                findings.push(
                    Finding::error(
                        codes::NOT_REQUESTED,
                        format!("{who}: {asks}, the registry says {}; MetalLB may hand the IP to someone else", ips_text(&want)),
                    )
                    .for_id(e.id())
                    .hint(format!("set `{}: {}` (`kubectl lbip apply` does)", registry.prefix.load_balancer_ips(), metallb::format_ip_list(&want))),
                );
            }
        }
    }
    if states.is_empty() {
        states.push(State::Ok);
    }
    states.sort();
    states.dedup();
    let base = match entry {
        Some(e) => entry_row(observed, e),
        None => ServiceStatus {
            cluster: None,
            namespace: svc.namespace.clone(),
            name: svc.name.clone(),
            registry_id: None,
            registry: Vec::new(),
            requested: Vec::new(),
            requested_from: None,
            assigned: Vec::new(),
            ports: Vec::new(),
            states: Vec::new(),
            findings: Vec::new(),
            hostname: None,
            url: None,
            pool: None,
            last_event: None,
        },
    };
    let pool = svc
        .assigned
        .first()
        .and_then(|ip| observed.pool_of(*ip))
        .map(|p| p.name.clone())
        .or(base.pool.clone());
    ServiceStatus {
        requested,
        requested_from,
        assigned: svc.assigned.clone(),
        ports: svc.ports.clone(),
        states,
        findings,
        pool,
        last_event: observed
            .last_event(&svc.namespace, &svc.name)
            .map(|e| format!("{}: {}", e.reason, e.message)),
        ..base
    }
}
