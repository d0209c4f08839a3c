//! The MetalLB simulator: how a MetalLB controller of a given version reads Services, and the
//! `metallb-system/controller` Deployment that tells a client which version runs.
//!
//! `allocator` holds the pools and the address bookkeeping (MetalLB's `internal/allocator`);
//! `controller` reconciles Services against it (MetalLB's `controller/service.go`).

pub mod allocator;
pub mod controller;

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

use serde_json::{Map, Value, json};

use crate::resources::DEPLOYMENTS;
use crate::store::Store;

/// The namespace MetalLB runs in; pools elsewhere are refused, as MetalLB's webhook does.
pub const NAMESPACE: &str = "metallb-system";

/// The emulated MetalLB release: it decides which annotation prefixes are read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct MetallbVersion(pub u32, pub u32, pub u32);

impl MetallbVersion {
    /// The first release that reads `metallb.io/*` keys (PR #2495).
    pub const METALLB_IO_PREFIX: MetallbVersion = MetallbVersion(0, 14, 9);

    /// The prefix of the annotations this version writes and names in messages.
    pub fn prefix(self) -> &'static str {
        if self >= Self::METALLB_IO_PREFIX {
            "metallb.io"
        } else {
            "metallb.universe.tf"
        }
    }
}

impl Default for MetallbVersion {
    fn default() -> Self {
        MetallbVersion(0, 14, 9)
    }
}

impl FromStr for MetallbVersion {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let parts: Vec<u32> = s
            .trim_start_matches('v')
            .split('.')
            .map(|p| {
                p.parse()
                    .map_err(|_| format!("invalid MetalLB version {s:?}"))
            })
            .collect::<Result<_, _>>()?;
        match parts[..] {
            [a, b, c] => Ok(MetallbVersion(a, b, c)),
            _ => Err(format!("invalid MetalLB version {s:?}, want X.Y.Z")),
        }
    }
}

impl fmt::Display for MetallbVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.0, self.1, self.2)
    }
}

fn annotations(svc: &Value) -> Option<&Map<String, Value>> {
    svc.pointer("/metadata/annotations")
        .and_then(Value::as_object)
}

/// MetalLB's `valueForAnnotation`: an exact, case-sensitive lookup where a present `metallb.io`
/// key (even empty) beats the `metallb.universe.tf` one; versions before 0.14.9 know only the
/// latter.
pub fn annotation(svc: &Value, suffix: &str, version: MetallbVersion) -> Option<String> {
    let anns = annotations(svc)?;
    let get = |k: String| {
        anns.get(&k)
            .map(|v| v.as_str().unwrap_or_default().to_string())
    };
    if version >= MetallbVersion::METALLB_IO_PREFIX
        && let Some(v) = get(format!("metallb.io/{suffix}"))
    {
        return Some(v);
    }
    get(format!("metallb.universe.tf/{suffix}"))
}

/// Go's `%q` of a list of IPs: `["1.2.3.4" "5.6.7.8"]`, as MetalLB's messages print them.
pub fn quote_ips(ips: &[IpAddr]) -> String {
    let items: Vec<String> = ips.iter().map(|ip| format!("\"{ip}\"")).collect();
    format!("[{}]", items.join(" "))
}

/// The IPs a Service asks for (MetalLB's `getDesiredLbIPs`).
pub fn desired_ips(svc: &Value, version: MetallbVersion) -> Result<Vec<IpAddr>, String> {
    let key = format!("{}/loadBalancerIPs", version.prefix());
    let ann = annotation(svc, "loadBalancerIPs", version).filter(|s| !s.is_empty());
    let spec = svc
        .pointer("/spec/loadBalancerIP")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty());
    match (ann, spec) {
        (Some(_), Some(_)) => Err(format!(
            "service can not have both {key} and svc.Spec.LoadBalancerIP"
        )),
        (Some(a), None) => {
            let ips: Vec<IpAddr> = a
                .split(',')
                .map(|s| {
                    s.trim()
                        .parse()
                        .map_err(|_| format!("invalid {key}: {a:?}"))
                })
                .collect::<Result<_, _>>()?;
            if ips.len() > 2 {
                return Err(format!("more than two addresses {a:?}"));
            }
            if ips.len() == 2 && ips[0].is_ipv4() == ips[1].is_ipv4() {
                return Err(format!("{a:?} has the same family"));
            }
            Ok(ips)
        }
        (None, Some(s)) => s
            .parse()
            .map(|ip| vec![ip])
            .map_err(|_| format!("invalid spec.loadBalancerIP {s:?}")),
        (None, None) => Ok(Vec::new()),
    }
}

/// What the allocator needs to know about a Service.
#[derive(Debug, Clone, PartialEq)]
pub struct SvcInfo {
    /// `namespace/name`, as MetalLB keys Services.
    pub key: String,
    pub namespace: String,
    pub labels: Map<String, Value>,
    /// `TCP/80` style, as MetalLB prints ports.
    pub ports: Vec<String>,
    pub sharing: String,
    /// Services may share an IP only with equal backend keys: the selector for
    /// `externalTrafficPolicy: Local`, empty for `Cluster`.
    pub backend: String,
    /// The address families, `true` for IPv6, in `spec.ipFamilies` order (MetalLB's
    /// `ipfamily.ForService`: two families is dual stack, one address of each).
    pub families: Vec<bool>,
    /// The labels of the Service's namespace (for `serviceAllocation.namespaceSelectors`).
    pub namespace_labels: Map<String, Value>,
}

/// The families of a Service: `spec.ipFamilies`, else those of `spec.clusterIPs`.
fn families(svc: &Value) -> Vec<bool> {
    let listed: Vec<bool> = svc
        .pointer("/spec/ipFamilies")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|f| match f.as_str() {
            Some("IPv4") => Some(false),
            Some("IPv6") => Some(true),
            _ => None,
        })
        .collect();
    let mut out = if listed.is_empty() {
        svc.pointer("/spec/clusterIPs")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|ip| ip.as_str()?.parse::<IpAddr>().ok())
            .map(|ip| ip.is_ipv6())
            .collect()
    } else {
        listed
    };
    out.dedup();
    if out.is_empty() {
        out.push(false);
    }
    out
}

impl SvcInfo {
    pub fn new(
        svc: &Value,
        version: MetallbVersion,
        namespace_labels: Map<String, Value>,
    ) -> SvcInfo {
        let ns = svc
            .pointer("/metadata/namespace")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let name = svc
            .pointer("/metadata/name")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let ports = svc
            .pointer("/spec/ports")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .map(|p| {
                format!(
                    "{}/{}",
                    p.get("protocol").and_then(Value::as_str).unwrap_or("TCP"),
                    p["port"]
                )
            })
            .collect();
        let local = svc
            .pointer("/spec/externalTrafficPolicy")
            .and_then(Value::as_str)
            == Some("Local");
        let backend = match svc.pointer("/spec/selector").and_then(Value::as_object) {
            Some(sel) if local => sel
                .iter()
                .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or("")))
                .collect::<Vec<_>>()
                .join(","),
            _ => String::new(),
        };
        SvcInfo {
            key: format!("{ns}/{name}"),
            namespace: ns.to_string(),
            labels: svc
                .pointer("/metadata/labels")
                .and_then(Value::as_object)
                .cloned()
                .unwrap_or_default(),
            ports,
            sharing: annotation(svc, "allow-shared-ip", version).unwrap_or_default(),
            backend,
            families: families(svc),
            namespace_labels,
        }
    }
}

/// Creates `metallb-system/controller` with the version's image unless one exists, so a client
/// can read the running MetalLB version the way it would on a real cluster.
pub fn ensure_controller_deployment(store: &mut Store, version: MetallbVersion) {
    if store.get(DEPLOYMENTS, NAMESPACE, "controller").is_some() {
        return;
    }
    let labels = json!({"app": "metallb", "component": "controller"});
    let dep = json!({
        "metadata": {"name": "controller", "namespace": NAMESPACE, "labels": labels},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {"containers": [{"name": "controller", "image": format!("quay.io/metallb/controller:v{version}")}]},
            },
        },
        "status": {"replicas": 1, "readyReplicas": 1, "availableReplicas": 1},
    });
    // Checked just above that the name is free.
    let _ = store.insert(DEPLOYMENTS, dep);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn svc(anns: Value, lb_ip: &str) -> Value {
        json!({"metadata": {"name": "s", "namespace": "n", "annotations": anns}, "spec": {"loadBalancerIP": lb_ip}})
    }

    #[test]
    fn annotation_precedence_and_versions() {
        let new = MetallbVersion::default();
        let old: MetallbVersion = "0.14.8".parse().unwrap();
        let s = svc(
            json!({"metallb.io/loadBalancerIPs": "1.1.1.1", "metallb.universe.tf/loadBalancerIPs": "2.2.2.2"}),
            "",
        );
        assert_eq!(
            desired_ips(&s, new).unwrap(),
            vec!["1.1.1.1".parse::<IpAddr>().unwrap()]
        );
        assert_eq!(
            desired_ips(&s, old).unwrap(),
            vec!["2.2.2.2".parse::<IpAddr>().unwrap()]
        );
        let only_new = svc(json!({"metallb.io/loadBalancerIPs": "1.1.1.1"}), "");
        assert!(desired_ips(&only_new, old).unwrap().is_empty());
        let misspelled = svc(
            json!({"metallb.universe.tf/loadBalancer-ips": "1.1.1.1"}),
            "",
        );
        assert!(desired_ips(&misspelled, new).unwrap().is_empty());
        let both = svc(json!({"metallb.io/loadBalancerIPs": "1.1.1.1"}), "1.1.1.1");
        assert_eq!(
            desired_ips(&both, new).unwrap_err(),
            "service can not have both metallb.io/loadBalancerIPs and svc.Spec.LoadBalancerIP"
        );
        assert!(
            desired_ips(
                &svc(json!({"metallb.io/loadBalancerIPs": "1.1.1.0/24"}), ""),
                new
            )
            .is_err()
        );
        assert!(
            desired_ips(
                &svc(json!({"metallb.io/loadBalancerIPs": "1.1.1.1,2.2.2.2"}), ""),
                new
            )
            .is_err()
        );
        assert_eq!(
            desired_ips(&svc(json!({}), "3.3.3.3"), new).unwrap().len(),
            1
        );
        assert_eq!(quote_ips(&["1.2.3.4".parse().unwrap()]), r#"["1.2.3.4"]"#);
        assert_eq!(old.to_string(), "0.14.8");
        assert!("0.14".parse::<MetallbVersion>().is_err());
    }
}
