//! What the post-renderer does to one Service, decided from plain data.
//!
//! [`ServiceView`] is what a Service says about itself (read from the resolved manifest),
//! and [`decide`] turns it plus the registry into a [`Decision`] (edits, warnings, or a
//! problem); [`super::edit`] performs the edits on the document's text. Keeping the decision
//! pure makes every rule testable without YAML.

use super::resolve::Value;
use super::syntax::Doc;
use crate::diagnostic::Finding;
use crate::metallb::{self, KeyKind, Prefix, Suffix};
use crate::registry::{Entry, Registry};
use std::collections::BTreeSet;
use std::net::IpAddr;

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
    let not_metallbs = metallb::class_mismatch(
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
        // A LoadBalancer another load balancer handles takes no address from MetalLB's pools.
        if is_lb && not_metallbs.is_none() {
            d.problem = Some(Problem::Unpinned { namespace });
        }
        return d;
    };
    if !is_lb && !entry.force_load_balancer {
        d.warnings.push(Finding::warning(
            "registered-not-load-balancer",
            format!(
                "is in the registry (as `{}`) but is of type {}, so MetalLB gives it no address",
                entry.id(),
                view.service_type
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
    pin(view, registry.prefix, entry, &mut d);
    if let Some(why) = not_metallbs {
        d.warnings.push(
            Finding::warning(FOREIGN_CLASS, format!("{why}; its registry IP will not be handed out by MetalLB"))
                .hint("remove spec.loadBalancerClass from the chart values, or set provider.loadBalancerClass in the registry to the class MetalLB runs with"),
        );
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

/// The pin for a registered Service: write the registry's annotations, remove everything
/// that would make MetalLB read a different request, ignore the pin, or reject the Service.
fn pin(view: &ServiceView, prefix: Prefix, entry: &Entry, d: &mut Decision) {
    let ips = entry.ip_values();
    let wanted_ips = metallb::format_ip_list(&ips);
    let wanted_set: BTreeSet<IpAddr> = ips.iter().copied().collect();
    let ips_key = prefix.load_balancer_ips();
    let shared_key_key = prefix.allow_shared_ip();
    let mut has_ips = false;
    let mut has_shared = false;
    for (key, value) in &view.annotations {
        match metallb::classify(key) {
            Some(KeyKind::Exact(p, Suffix::LoadBalancerIps)) if p == prefix => {
                has_ips = true;
                let same = metallb::parse_ip_list(value)
                    .map(|v| v.into_iter().collect::<BTreeSet<_>>() == wanted_set)
                    .unwrap_or(false);
                if !same {
                    d.warnings.push(Finding::warning(
                        "pin-overridden",
                        format!("the chart pins `{key}: {value}`; the registry entry `{}` says {wanted_ips}, which wins", entry.id()),
                    ).hint("drop the IP from the chart's values; the registry is the single source of truth"));
                    d.push(
                        Edit::SetAnnotation {
                            key: key.clone(),
                            value: wanted_ips.clone(),
                        },
                        format!("set annotation {key}: {wanted_ips} (was {value})"),
                    );
                }
            }
            Some(KeyKind::Exact(p, Suffix::AllowSharedIp)) if p == prefix => {
                has_shared = true;
                match entry.shared_key() {
                    Some(k) if k == value => {}
                    Some(k) => {
                        d.warnings.push(Finding::warning(
                            "shared-key-overridden",
                            format!("the chart sets `{key}: {value}`; the registry entry `{}` says `{k}`, which wins", entry.id()),
                        ));
                        d.push(
                            Edit::SetAnnotation {
                                key: key.clone(),
                                value: k.to_string(),
                            },
                            format!("set annotation {key}: {k} (was {value})"),
                        );
                    }
                    None => {
                        d.warnings.push(Finding::warning(
                            "shared-key-removed",
                            format!("removed `{key}: {value}`: the registry entry `{}` has no sharedKey, so its IP is not shared", entry.id()),
                        ).hint("add `sharedKey` to the registry entry if the IP really is shared"));
                        d.push(
                            Edit::RemoveAnnotation { key: key.clone() },
                            format!("remove annotation {key} (was {value})"),
                        );
                    }
                }
            }
            Some(KeyKind::Exact(p, s @ (Suffix::LoadBalancerIps | Suffix::AllowSharedIp))) => {
                d.warnings.push(Finding::warning(
                    "other-prefix-removed",
                    format!("removed `{key}: {value}`: the registry pins with the `{prefix}` prefix, and a second `{}` key under `{p}` could be read instead by another MetalLB version", s.as_str()),
                ));
                d.push(
                    Edit::RemoveAnnotation { key: key.clone() },
                    format!("remove annotation {key} (was {value})"),
                );
            }
            Some(KeyKind::Exact(_, Suffix::AddressPool)) => {
                d.warnings.push(Finding::warning(
                    "address-pool-removed",
                    format!("removed `{key}: {value}`: the pinned IP already chooses the pool, and MetalLB rejects the Service when the pool does not hold that IP"),
                ));
                d.push(
                    Edit::RemoveAnnotation { key: key.clone() },
                    format!("remove annotation {key} (was {value})"),
                );
            }
            Some(KeyKind::Exact(_, Suffix::IpAllocatedFromPool)) | None => {}
            Some(KeyKind::Misspelled { meant }) => {
                let right = format!("{prefix}/{}", meant.as_str());
                d.warnings.push(Finding::warning(
                    "misspelled-annotation",
                    format!("removed `{key}: {value}`: no MetalLB release reads this key (the real one is `{right}`)"),
                ).hint("fix the chart's values so they no longer set it"));
                d.push(
                    Edit::RemoveAnnotation { key: key.clone() },
                    format!("remove annotation {key} (was {value}; misspelled)"),
                );
            }
        }
    }
    if let Some(ip) = &view.load_balancer_ip {
        if !ip.trim().is_empty() {
            d.warnings.push(Finding::warning(
                "spec-load-balancer-ip-removed",
                format!("removed `spec.loadBalancerIP: {ip}`: MetalLB rejects a Service that has both it and `{ips_key}`, even when they are equal"),
            ).hint("stop setting loadBalancerIP in the chart's values; the registry pins the IP"));
        }
        d.push(
            Edit::RemoveLoadBalancerIp,
            format!("remove spec.loadBalancerIP (was {ip:?})"),
        );
    }
    if !has_ips {
        d.push(
            Edit::SetAnnotation {
                key: ips_key.clone(),
                value: wanted_ips.clone(),
            },
            format!("set annotation {ips_key}: {wanted_ips}"),
        );
    }
    if let (Some(k), false) = (entry.shared_key(), has_shared) {
        d.push(
            Edit::SetAnnotation {
                key: shared_key_key.clone(),
                value: k.to_string(),
            },
            format!("set annotation {shared_key_key}: {k}"),
        );
    }
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
