//! Which IPAddressPool MetalLB lets a Service take an address from: a pool's
//! `spec.serviceAllocation` (MetalLB's `isPoolCompatibleWithService`, reference: metallb.md
//! §2). It restricts explicit requests too (`pool X not compatible for ip assignment`), so a
//! planner that moves a Service to an address must pick it from a pool that admits the
//! Service. `autoAssign` and `priority` only matter for automatic allocation and play no part
//! here.
//!
//! The rule: when the pool lists `namespaces` or `namespaceSelectors`, the Service's namespace
//! must be listed or have labels one of the selectors matches (MetalLB resolves the selectors
//! to namespace names when it loads the pool); when it has `serviceSelectors`, the Service's
//! labels must match one of them. A part that is not set is not checked.

use super::observed::{ObservedPool, ObservedService};
use serde::Serialize;
use serde_json::Value;
use std::collections::BTreeMap;

/// The strings of a JSON array (others left out).
fn strings(v: Option<&Value>) -> Vec<String> {
    v.and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

/// Labels of every namespace, when they were read.
pub type NamespaceLabels = BTreeMap<String, BTreeMap<String, String>>;

/// `spec.serviceAllocation` of an IPAddressPool.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct ServiceAllocation {
    pub priority: i64,
    pub namespaces: Vec<String>,
    pub namespace_selectors: Vec<Selector>,
    pub service_selectors: Vec<Selector>,
}

/// A Kubernetes `LabelSelector` (`matchLabels` and `matchExpressions`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct Selector {
    pub match_labels: BTreeMap<String, String>,
    pub match_expressions: Vec<Requirement>,
    /// An expression with an unknown operator: Kubernetes refuses such a selector, so it
    /// matches nothing here.
    pub invalid: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Requirement {
    pub key: String,
    pub operator: Operator,
    pub values: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Operator {
    In,
    NotIn,
    Exists,
    DoesNotExist,
}

impl Selector {
    /// From the JSON of a `LabelSelector`.
    pub fn from_json(v: &Value) -> Selector {
        let mut s = Selector::default();
        if let Some(m) = v.get("matchLabels").and_then(Value::as_object) {
            for (k, val) in m {
                s.match_labels
                    .insert(k.clone(), val.as_str().unwrap_or_default().to_string());
            }
        }
        for e in v
            .get("matchExpressions")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let operator = match e.get("operator").and_then(Value::as_str) {
                Some("In") => Operator::In,
                Some("NotIn") => Operator::NotIn,
                Some("Exists") => Operator::Exists,
                Some("DoesNotExist") => Operator::DoesNotExist,
                _ => {
                    s.invalid = true;
                    continue;
                }
            };
            s.match_expressions.push(Requirement {
                key: e
                    .get("key")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string(),
                operator,
                values: strings(e.get("values")),
            });
        }
        s
    }

    /// Whether `labels` match (an empty selector matches everything, as in Kubernetes).
    pub fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        !self.invalid
            && self
                .match_labels
                .iter()
                .all(|(k, v)| labels.get(k) == Some(v))
            && self.match_expressions.iter().all(|r| {
                let value = labels.get(&r.key);
                match r.operator {
                    Operator::In => value.is_some_and(|v| r.values.contains(v)),
                    Operator::NotIn => value.is_none_or(|v| !r.values.contains(v)),
                    Operator::Exists => value.is_some(),
                    Operator::DoesNotExist => value.is_none(),
                }
            })
    }
}

impl ServiceAllocation {
    /// From the JSON of `spec.serviceAllocation`.
    pub fn from_json(v: &Value) -> ServiceAllocation {
        let selectors = |key: &str| -> Vec<Selector> {
            v.get(key)
                .and_then(Value::as_array)
                .map(|a| a.iter().map(Selector::from_json).collect())
                .unwrap_or_default()
        };
        ServiceAllocation {
            priority: v.get("priority").and_then(Value::as_i64).unwrap_or(0),
            namespaces: strings(v.get("namespaces")),
            namespace_selectors: selectors("namespaceSelectors"),
            service_selectors: selectors("serviceSelectors"),
        }
    }
}

/// Whether a pool admits a Service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Admission {
    Yes,
    /// Why not, in words (`namespace web is not in pool team-a's serviceAllocation`).
    No(String),
    /// The pool selects namespaces by label and the labels were not read.
    Unknown(String),
}

impl Admission {
    pub fn is_yes(&self) -> bool {
        matches!(self, Admission::Yes)
    }
}

/// Whether `pool` admits `svc` (see the module docs). `namespaces` are the namespace labels,
/// read when some pool selects namespaces by label.
pub fn admits(
    pool: &ObservedPool,
    svc: &ObservedService,
    namespaces: Option<&NamespaceLabels>,
) -> Admission {
    let Some(a) = &pool.service_allocation else {
        return Admission::Yes;
    };
    let who = svc.key();
    let restricts_namespace = !a.namespaces.is_empty() || !a.namespace_selectors.is_empty();
    if restricts_namespace && !a.namespaces.contains(&svc.namespace) {
        if a.namespace_selectors.is_empty() {
            return Admission::No(format!(
                "IPAddressPool {} admits only namespaces {} (serviceAllocation), not {}",
                pool.name,
                a.namespaces.join(", "),
                svc.namespace
            ));
        }
        let Some(labels) =
            namespaces.map(|all| all.get(&svc.namespace).cloned().unwrap_or_default())
        else {
            return Admission::Unknown(format!(
                "IPAddressPool {} selects namespaces by label and the namespaces' labels could not be read",
                pool.name
            ));
        };
        if !a.namespace_selectors.iter().any(|s| s.matches(&labels)) {
            return Admission::No(format!(
                "the labels of namespace {} match no namespaceSelector of IPAddressPool {} (serviceAllocation)",
                svc.namespace, pool.name
            ));
        }
    }
    if !a.service_selectors.is_empty()
        && !a.service_selectors.iter().any(|s| s.matches(&svc.labels))
    {
        return Admission::No(format!(
            "the labels of {who} match no serviceSelector of IPAddressPool {} (serviceAllocation)",
            pool.name
        ));
    }
    Admission::Yes
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn selectors_read_every_operator_like_kubernetes() {
        let s = Selector::from_json(&json!({
            "matchLabels": {"team": "a"},
            "matchExpressions": [
                {"key": "tier", "operator": "In", "values": ["web", "api"]},
                {"key": "legacy", "operator": "DoesNotExist"},
                {"key": "env", "operator": "NotIn", "values": ["prod"]},
                {"key": "owner", "operator": "Exists"}
            ]
        }));
        assert!(s.matches(&labels(&[("team", "a"), ("tier", "web"), ("owner", "x")])));
        assert!(!s.matches(&labels(&[("team", "a"), ("tier", "db"), ("owner", "x")])));
        assert!(!s.matches(&labels(&[
            ("team", "a"),
            ("tier", "web"),
            ("owner", "x"),
            ("legacy", "1")
        ])));
        assert!(!s.matches(&labels(&[
            ("team", "a"),
            ("tier", "web"),
            ("owner", "x"),
            ("env", "prod")
        ])));
        assert!(!s.matches(&labels(&[("team", "a"), ("tier", "web")])));
        assert!(Selector::from_json(&json!({})).matches(&labels(&[])));
        let bad =
            Selector::from_json(&json!({"matchExpressions": [{"key": "a", "operator": "Gt"}]}));
        assert!(!bad.matches(&labels(&[("a", "1")])));
    }
}
