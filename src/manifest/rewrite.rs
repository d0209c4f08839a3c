//! What the post-renderer does to one Service, decided from plain data.
//!
//! [`ServiceView`] is what a Service says about itself (read from the resolved manifest),
//! and [`decide`] turns it plus the registry into a [`Decision`] (edits, warnings, or a
//! problem); [`super::edit`] performs the edits on the document's text. Keeping the decision
//! pure makes every rule testable without YAML.

use super::resolve::Value;
use super::syntax::Doc;
use crate::diagnostic::{Finding, Severity};
use crate::provider::{KeyRole, ProviderKind, pins};
use crate::registry::{Entry, Registry};

/// What to do with a LoadBalancer Service that has no registry entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Unpinned {
    /// Stop: name every such Service and suggest a free IP for each (the default).
    #[default]
    Fail,
    /// Pass it through with a warning.
    Warn,
    /// Pass it through silently.
    Allow,
}

/// What a Service manifest says, as far as pinning cares.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ServiceView {
    pub name: String,
    /// `metadata.namespace`, when the chart writes it.
    pub namespace: Option<String>,
    /// `spec.type`, `ClusterIP` when absent.
    pub service_type: String,
    /// Annotation keys and their string values, in manifest order.
    pub annotations: Vec<(String, String)>,
    /// `spec.loadBalancerIP` when the key is present (possibly empty).
    pub load_balancer_ip: Option<String>,
    pub load_balancer_class: Option<String>,
    /// `spec.clusterIP: None`: a headless Service cannot become a LoadBalancer.
    pub headless: bool,
}

/// One change to a Service manifest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Edit {
    SetAnnotation { key: String, value: String },
    RemoveAnnotation { key: String },
    RemoveLoadBalancerIp,
    SetTypeLoadBalancer,
}

/// What to do with one Service.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Decision {
    pub edits: Vec<Edit>,
    /// Human descriptions of the edits, in the same order (for `--check` and Ansible).
    pub descriptions: Vec<String>,
    /// Warnings; the caller prefixes them with the Service and document.
    pub warnings: Vec<Finding>,
    pub problem: Option<Problem>,
}

/// Why a Service cannot be rendered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    /// A LoadBalancer Service with no registry entry; `requested` is what the chart asks for.
    Unpinned { namespace: Option<String> },
    /// The namespace is unknown and the name matches these registry entries.
    NamespaceUnknown { matches: Vec<String> },
    /// Any other reason, with a hint.
    Other {
        code: &'static str,
        message: String,
        hint: String,
    },
}

/// The namespace a Service will land in: its own, else the one the caller passed.
pub fn namespace_of(view: &ServiceView, fallback: Option<&str>) -> Option<String> {
    view.namespace
        .clone()
        .filter(|n| !n.is_empty())
        .or_else(|| fallback.map(str::to_string))
}

impl Unpinned {
    /// The policy names every face accepts.
    pub const NAMES: [&'static str; 3] = ["fail", "warn", "allow"];

    pub fn as_str(self) -> &'static str {
        match self {
            Unpinned::Fail => "fail",
            Unpinned::Warn => "warn",
            Unpinned::Allow => "allow",
        }
    }
}

impl std::str::FromStr for Unpinned {
    type Err = String;
    /// A policy name, any case (Ansible passes free-form values as they were typed).
    fn from_str(s: &str) -> Result<Unpinned, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "fail" => Ok(Unpinned::Fail),
            "warn" => Ok(Unpinned::Warn),
            "allow" => Ok(Unpinned::Allow),
            // The value is not echoed: a module's messages never quote option values.
            _ => Err(format!(
                "must be one of {}, got another string",
                Unpinned::NAMES.join(", ")
            )),
        }
    }
}

/// Decides what to do with one Service.
pub fn decide(
    view: &ServiceView,
    registry: &Registry,
    namespace_fallback: Option<&str>,
) -> Decision {
    let mut d = Decision::default();
    let is_lb = view.service_type == "LoadBalancer";
    // The one rule for "is this Service MetalLB's" (the cluster faces use it too).
    let not_metallbs = crate::provider::class_mismatch(
        &registry.providers,
        view.load_balancer_class.as_deref(),
        registry.load_balancer_class.as_deref(),
    );
    let namespace = namespace_of(view, namespace_fallback);
    let entry: Option<&Entry> = match &namespace {
        Some(ns) => registry.lookup(ns, &view.name),
        None => {
            let named = registry.entries_named(&view.name);
            let matters = is_lb || named.iter().any(|e| e.force_load_balancer);
            if matters && !named.is_empty() {
                d.problem = Some(Problem::NamespaceUnknown {
                    matches: named.iter().map(|e| e.qualified_name()).collect(),
                });
                return d;
            }
            None
        }
    };
    let Some(entry) = entry else {
        // A LoadBalancer another load balancer handles takes no address from our pools.
        if is_lb && not_metallbs.is_none() {
            d.problem = Some(match requested_registered_ip(view, registry) {
                // Asking for someone's address is refused whatever `--unpinned` says.
                Some(problem) => problem,
                None => Problem::Unpinned { namespace },
            });
        }
        return d;
    };
    if !is_lb && !entry.force_load_balancer {
        d.warnings.push(Finding::warning(
            "registered-not-load-balancer",
            format!(
                "is in the registry (as `{}`) but is of type {}, so {} gives it no address",
                entry.id(),
                view.service_type,
                registry.providers.first().copied().unwrap_or_default().title()
            ),
        ).hint("set `forceLoadBalancer: true` on the registry entry to make it a LoadBalancer, or remove the entry"));
        return d;
    }
    if !is_lb {
        if view.headless {
            d.problem = Some(Problem::Other {
                code: "headless-cannot-be-load-balancer",
                message: format!(
                    "is headless (`clusterIP: None`), so `forceLoadBalancer` of registry entry `{}` cannot make it a LoadBalancer",
                    entry.id()
                ),
                hint: "remove `forceLoadBalancer` from the entry, or give the chart a non-headless Service".into(),
            });
            return d;
        }
        d.push(
            Edit::SetTypeLoadBalancer,
            format!(
                "set spec.type: LoadBalancer (was {}; forceLoadBalancer)",
                view.service_type
            ),
        );
    }
    pin(view, registry, entry, &mut d);
    if let Some(why) = not_metallbs {
        // The face puts `Service ns/name (document)` in front, like every warning here.
        let mut f = crate::provider::foreign_class_finding(
            &registry.providers,
            Severity::Warning,
            "",
            &why,
        );
        f.message = f.message.trim_start().to_string();
        d.warnings.push(f);
    }
    d
}

/// The finding code for a Service MetalLB does not handle because of its class (the same
/// code the cluster faces use).
pub const FOREIGN_CLASS: &str = crate::plan::analyze::codes::FOREIGN_CLASS;

impl Decision {
    fn push(&mut self, edit: Edit, description: String) {
        self.edits.push(edit);
        self.descriptions.push(description);
    }
}

/// An unregistered Service that asks (by annotation or `spec.loadBalancerIP`) for an
/// address the registry gives to another Service, here or in another cluster: it would take
/// that address, or be refused only once the owner holds it.
fn requested_registered_ip(view: &ServiceView, registry: &Registry) -> Option<Problem> {
    let annotations: std::collections::BTreeMap<String, String> =
        view.annotations.iter().cloned().collect();
    let asked = registry.providers.iter().flat_map(|k| {
        match k.provider().request(
            &annotations,
            view.load_balancer_ip.as_deref(),
            crate::provider::Reader {
                kind: *k,
                ..Default::default()
            },
        ) {
            crate::provider::Request::Ips { ips, source } => {
                ips.into_iter().map(|ip| (ip, source.clone())).collect()
            }
            _ => Vec::new(),
        }
    });
    for (ip, source) in asked {
        let owner = registry
            .owners_of(ip)
            .first()
            .map(|e| format!("`{}` ({})", e.id(), e.qualified_name()))
            .or_else(|| {
                registry.owner_elsewhere(ip).map(|e| {
                    format!(
                        "`{}` ({}) of cluster `{}`",
                        e.id(),
                        e.qualified_name(),
                        e.cluster.as_ref().map_or("?", |c| c.value.as_str())
                    )
                })
            });
        if let Some(owner) = owner {
            return Some(Problem::Other {
                code: "service-takes-registered-ip",
                message: format!(
                    "is a LoadBalancer with no registry entry, and its `{source}` asks for {ip}, which the registry gives to {owner}"
                ),
                hint: "remove the address from the chart's values, or give this Service its own registry entry (`lbip suggest` finds a free address)".to_string(),
            });
        }
    }
    None
}

/// The pin for a registered Service: the registry's annotations for its load balancer(s),
/// and every key that would make one of them read a different request, ignore the pin, or
/// reject the Service removed, each with a warning ([`pins::pin_changes`], the decision the
/// cluster plan makes too).
fn pin(view: &ServiceView, registry: &Registry, entry: &Entry, d: &mut Decision) {
    let style = registry.pin_style();
    let changes = pins::pin_changes(
        &style,
        &registry.want_of(entry),
        &view.annotations,
        view.load_balancer_ip.as_deref(),
    );
    let id = entry.id();
    let title = |p: ProviderKind| p.title();
    // Overridden values first, in the Service's order, then removals, spec, new keys.
    for s in changes.set.iter().filter(|s| s.was.is_some()) {
        let (key, value, was) = (&s.key, &s.value, s.was.as_deref().unwrap_or(""));
        let (code, message) = match s.role {
            KeyRole::Pin => (
                "pin-overridden",
                format!(
                    "the chart pins `{key}: {was}`; the registry entry `{id}` says {value}, which wins"
                ),
            ),
            _ => (
                "shared-key-overridden",
                format!(
                    "the chart sets `{key}: {was}`; the registry entry `{id}` says `{value}`, which wins"
                ),
            ),
        };
        let w = Finding::warning(code, message);
        d.warnings.push(match s.role {
            KeyRole::Pin => w.hint(
                "drop the IP from the chart's values; the registry is the single source of truth",
            ),
            _ => w,
        });
        d.push(
            Edit::SetAnnotation {
                key: key.clone(),
                value: value.clone(),
            },
            format!("set annotation {key}: {value} (was {was})"),
        );
    }
    for r in &changes.remove {
        let (key, was) = (&r.key, &r.was);
        let (code, message, hint) = match &r.why {
            pins::Why::NotShared => (
                "shared-key-removed",
                format!(
                    "removed `{key}: {was}`: the registry entry `{id}` has no sharedKey, so its IP is not shared"
                ),
                Some(
                    "add `sharedKey` to the registry entry if the IP really is shared".to_string(),
                ),
            ),
            pins::Why::OtherSpelling { instead, .. } if r.provider == ProviderKind::Metallb => (
                "other-prefix-removed",
                format!(
                    "removed `{key}: {was}`: the registry pins with the `{}` prefix, and a second `{}` key under `{}` could be read instead by another MetalLB version",
                    style.prefix,
                    instead.split_once('/').map_or(instead.as_str(), |(_, s)| s),
                    key.split_once('/').map_or("", |(p, _)| p),
                ),
                None,
            ),
            pins::Why::OtherSpelling { instead, .. } => (
                "other-spelling-removed",
                format!(
                    "removed `{key}: {was}`: lbip writes {}'s key as `{instead}`, and a second spelling could be read instead",
                    title(r.provider)
                ),
                None,
            ),
            pins::Why::PoolSelect if r.provider == ProviderKind::Metallb => (
                "address-pool-removed",
                format!(
                    "removed `{key}: {was}`: the pinned IP already chooses the pool, and MetalLB rejects the Service when the pool does not hold that IP"
                ),
                None,
            ),
            pins::Why::PoolSelect => (
                "pool-select-removed",
                format!(
                    "removed `{key}: {was}`: the pinned IP already chooses the pool, and {} ignores or refuses a pool choice next to it",
                    title(r.provider)
                ),
                None,
            ),
            pins::Why::Foreign { .. } => (
                "foreign-provider-key-removed",
                format!(
                    "removed `{key}: {was}`: a {} key, and the registry's load balancer is {}",
                    title(r.provider),
                    providers_text(&style.providers)
                ),
                Some(format!(
                    "stop setting it in the chart's values (during a switch-over, list both load balancers in provider.kind: [{}, {}])",
                    style.providers[0], r.provider
                )),
            ),
            pins::Why::Misspelled { meant } => (
                "misspelled-annotation",
                format!(
                    "removed `{key}: {was}`: no {} release reads this key (the real one is `{meant}`)",
                    title(r.provider)
                ),
                Some("fix the chart's values so they no longer set it".to_string()),
            ),
        };
        let w = Finding::warning(code, message);
        d.warnings.push(match hint {
            Some(h) => w.hint(h),
            None => w,
        });
        let note = match &r.why {
            pins::Why::Misspelled { .. } => "; misspelled",
            _ => "",
        };
        d.push(
            Edit::RemoveAnnotation { key: key.clone() },
            format!("remove annotation {key} (was {was}{note})"),
        );
    }
    if let Some(ip) = &changes.clear_spec_ip {
        if !ip.trim().is_empty() {
            let why = match style.providers[0] {
                ProviderKind::Metallb => format!(
                    "MetalLB rejects a Service that has both it and `{}`, even when they are equal",
                    style.prefix.load_balancer_ips()
                ),
                ProviderKind::Cilium => {
                    "Cilium LB IPAM adds it to the annotation's addresses, so it would be requested too".to_string()
                }
                p => format!("{} reads its annotation instead, so it only misleads", p.title()),
            };
            d.warnings.push(
                Finding::warning(
                    "spec-load-balancer-ip-removed",
                    format!("removed `spec.loadBalancerIP: {ip}`: {why}"),
                )
                .hint(
                    "stop setting loadBalancerIP in the chart's values; the registry pins the IP",
                ),
            );
        }
        d.push(
            Edit::RemoveLoadBalancerIp,
            format!("remove spec.loadBalancerIP (was {ip:?})"),
        );
    }
    for s in changes.set.iter().filter(|s| s.was.is_none()) {
        d.push(
            Edit::SetAnnotation {
                key: s.key.clone(),
                value: s.value.clone(),
            },
            format!("set annotation {}: {}", s.key, s.value),
        );
    }
}

/// `MetalLB`, or `MetalLB and Cilium LB IPAM` during a switch-over.
fn providers_text(kinds: &[ProviderKind]) -> String {
    kinds
        .iter()
        .map(|k| k.title())
        .collect::<Vec<_>>()
        .join(" and ")
}

/// Reads what a resolved Service manifest says. Errors are messages about its shape.
pub fn view(doc: &Doc<'_>, svc: &Value) -> Result<ServiceView, String> {
    let metadata = svc
        .get("metadata")
        .filter(|m| m.is_map())
        .ok_or("a Service without a `metadata` mapping")?;
    let name = metadata
        .get("name")
        .and_then(|n| n.as_str(doc))
        .filter(|n| !n.is_empty())
        .ok_or("a Service without `metadata.name`")?
        .to_string();
    let namespace = metadata
        .get("namespace")
        .and_then(|n| n.as_str(doc))
        .map(str::to_string);
    let mut annotations = Vec::new();
    match metadata.get("annotations") {
        None => {}
        Some(a) if a.is_null() => {}
        Some(a) if a.is_map() => {
            for (k, v) in a.entries() {
                annotations.push((k.clone(), v.as_str(doc).unwrap_or("").to_string()));
            }
        }
        Some(_) => {
            return Err(format!(
                "Service {name}: `metadata.annotations` is not a mapping"
            ));
        }
    }
    let spec = svc.get("spec");
    if spec.is_some_and(|s| !s.is_map() && !s.is_null()) {
        return Err(format!("Service {name}: `spec` is not a mapping"));
    }
    let field = |k: &str| spec.and_then(|s| s.get(k));
    let service_type = field("type")
        .and_then(|t| t.as_str(doc))
        .unwrap_or("ClusterIP")
        .to_string();
    let load_balancer_ip = field("loadBalancerIP").map(|n| n.as_str(doc).unwrap_or("").to_string());
    let load_balancer_class = field("loadBalancerClass")
        .and_then(|c| c.as_str(doc))
        .map(str::to_string);
    let headless = field("clusterIP").and_then(|c| c.as_str(doc)) == Some("None");
    Ok(ServiceView {
        name,
        namespace,
        service_type,
        annotations,
        load_balancer_ip,
        load_balancer_class,
        headless,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::Loaded;

    fn registry() -> Registry {
        Loaded::from_text(include_str!("../../examples/registry.yaml"), "r.yaml")
            .unwrap()
            .require_valid()
            .unwrap()
    }

    fn lb(name: &str, ns: Option<&str>) -> ServiceView {
        ServiceView {
            name: name.into(),
            namespace: ns.map(str::to_string),
            service_type: "LoadBalancer".into(),
            ..ServiceView::default()
        }
    }

    #[test]
    fn a_registered_service_is_pinned_and_nothing_else_is_touched() {
        let d = decide(&lb("mlflow", Some("mlflow")), &registry(), None);
        assert_eq!(
            d.edits,
            [Edit::SetAnnotation {
                key: "metallb.io/loadBalancerIPs".into(),
                value: "192.168.1.215".into()
            }]
        );
        assert!(d.warnings.is_empty() && d.problem.is_none());
    }

    #[test]
    fn the_fallback_namespace_only_applies_without_metadata_namespace() {
        let reg = registry();
        let d = decide(&lb("seldon-mesh", None), &reg, Some("financial-inference"));
        assert!(
            matches!(&d.edits[0], Edit::SetAnnotation { value, .. } if value == "192.168.1.221")
        );
        let d = decide(
            &lb("seldon-mesh", Some("seldon-system")),
            &reg,
            Some("financial-inference"),
        );
        assert!(
            matches!(&d.edits[0], Edit::SetAnnotation { value, .. } if value == "192.168.1.202")
        );
        let d = decide(&lb("seldon-mesh", None), &reg, None);
        assert!(
            matches!(d.problem, Some(Problem::NamespaceUnknown { ref matches }) if matches.len() == 2)
        );
    }

    #[test]
    fn a_load_balancer_of_another_class_is_not_metallbs_business() {
        let mut v = lb("random", Some("apps"));
        v.load_balancer_class = Some("io.cilium/bgp-control-plane".into());
        assert_eq!(decide(&v, &registry(), None), Decision::default());
        let mut r = registry();
        r.load_balancer_class = Some("metallb.io/l2".into());
        // MetalLB with --lb-class handles only its own class: an unclassed one is not its.
        v.load_balancer_class = None;
        assert_eq!(decide(&v, &r, None), Decision::default());
        v.load_balancer_class = Some("metallb.io/l2".into());
        assert!(matches!(
            decide(&v, &r, None).problem,
            Some(Problem::Unpinned { .. })
        ));
        // A registered one is pinned, with the shared words about its class.
        let mut m = lb("mlflow", Some("mlflow"));
        m.load_balancer_class = Some("io.cilium/bgp-control-plane".into());
        let d = decide(&m, &registry(), None);
        assert_eq!(d.edits.len(), 1);
        assert_eq!(d.warnings[0].code, FOREIGN_CLASS);
        assert!(
            d.warnings[0].message.starts_with(
                "sets spec.loadBalancerClass `io.cilium/bgp-control-plane`, so MetalLB"
            )
        );
    }

    #[test]
    fn an_unregistered_cluster_ip_service_is_none_of_our_business() {
        let mut v = lb("random", Some("apps"));
        v.service_type = "ClusterIP".into();
        assert_eq!(decide(&v, &registry(), None), Decision::default());
        v.service_type = "LoadBalancer".into();
        assert!(matches!(
            decide(&v, &registry(), None).problem,
            Some(Problem::Unpinned { .. })
        ));
    }
}
