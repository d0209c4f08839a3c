//! Kinds the server stores without modelling them: what charts create next to their Services
//! (ConfigMaps, Secrets, ServiceAccounts, RBAC, workloads, ...), so that real Helm can install,
//! upgrade and uninstall a chart here. They get the generic API semantics of [`crate::cluster`]
//! (create, get, list with selectors, update, every patch type, delete, watch) and no
//! controller; the only server-side behaviour is what the API server itself does on write
//! (see [`defaults`]).
//!
//! Helm keeps its releases in Secrets (`sh.helm.release.v1.<name>.v<revision>`, labelled
//! `owner=helm`, `name`, `status`, `version`) and finds them by label selector, so release
//! storage needs nothing beyond this table.

use serde_json::{Value, json};

use crate::resources::{ResourceDef, def as kind};

/// Every namespaced kind the example charts and `helm create`'s chart use, plus their usual
/// neighbours. (Cluster-scoped kinds, e.g. ClusterRole, are not served: see README.)
pub const KINDS: [ResourceDef; 16] = [
    kind(
        "",
        "v1",
        "configmaps",
        "configmap",
        "ConfigMap",
        &["cm"],
        false,
    ),
    kind("", "v1", "secrets", "secret", "Secret", &[], false),
    kind(
        "",
        "v1",
        "serviceaccounts",
        "serviceaccount",
        "ServiceAccount",
        &["sa"],
        false,
    ),
    kind(
        "",
        "v1",
        "persistentvolumeclaims",
        "persistentvolumeclaim",
        "PersistentVolumeClaim",
        &["pvc"],
        true,
    ),
    kind("", "v1", "pods", "pod", "Pod", &["po"], true),
    kind(
        "",
        "v1",
        "endpoints",
        "endpoints",
        "Endpoints",
        &["ep"],
        false,
    ),
    kind(
        "apps",
        "v1",
        "statefulsets",
        "statefulset",
        "StatefulSet",
        &["sts"],
        true,
    ),
    kind(
        "apps",
        "v1",
        "replicasets",
        "replicaset",
        "ReplicaSet",
        &["rs"],
        true,
    ),
    kind("batch", "v1", "jobs", "job", "Job", &[], true),
    kind(
        "batch",
        "v1",
        "cronjobs",
        "cronjob",
        "CronJob",
        &["cj"],
        true,
    ),
    kind(
        "rbac.authorization.k8s.io",
        "v1",
        "roles",
        "role",
        "Role",
        &[],
        false,
    ),
    kind(
        "rbac.authorization.k8s.io",
        "v1",
        "rolebindings",
        "rolebinding",
        "RoleBinding",
        &[],
        false,
    ),
    kind(
        "networking.k8s.io",
        "v1",
        "ingresses",
        "ingress",
        "Ingress",
        &["ing"],
        true,
    ),
    kind(
        "networking.k8s.io",
        "v1",
        "networkpolicies",
        "networkpolicy",
        "NetworkPolicy",
        &["netpol"],
        false,
    ),
    kind(
        "policy",
        "v1",
        "poddisruptionbudgets",
        "poddisruptionbudget",
        "PodDisruptionBudget",
        &["pdb"],
        true,
    ),
    kind(
        "autoscaling",
        "v2",
        "horizontalpodautoscalers",
        "horizontalpodautoscaler",
        "HorizontalPodAutoscaler",
        &["hpa"],
        true,
    ),
];

/// API groups whose kinds are compiled into the API server, so they take strategic merge
/// patches (custom resources answer 415 to those).
pub const BUILTIN_GROUPS: [&str; 7] = [
    "",
    "apps",
    "batch",
    "rbac.authorization.k8s.io",
    "networking.k8s.io",
    "policy",
    "autoscaling",
];

/// What the API server does to these kinds on every write: a Secret's `stringData` is
/// base64-encoded into `data` (and never stored), its `type` defaults to `Opaque`.
pub fn defaults(def: &ResourceDef, obj: &mut Value) {
    if def.kind != "Secret" || !def.group.is_empty() {
        return;
    }
    if let Some(Value::Object(plain)) = obj.as_object_mut().and_then(|o| o.remove("stringData")) {
        let data = &mut obj["data"];
        if !data.is_object() {
            *data = json!({});
        }
        for (k, v) in plain {
            let text = match v {
                Value::String(s) => s,
                other => other.to_string(),
            };
            data[k] = json!(base64_encode(text.as_bytes()));
        }
    }
    if obj.get("type").is_none_or(|t| t.is_null() || t == "") {
        obj["type"] = json!("Opaque");
    }
}

fn base64_encode(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_string_data_becomes_data() {
        let def = &KINDS[1];
        let mut s = json!({"stringData": {"password": "hunter2"}, "data": {"a": "Yg=="}});
        defaults(def, &mut s);
        assert_eq!(
            s,
            json!({"data": {"a": "Yg==", "password": "aHVudGVyMg=="}, "type": "Opaque"})
        );
        let mut cm = json!({"stringData": {"x": "y"}});
        defaults(&KINDS[0], &mut cm);
        assert!(
            cm.get("stringData").is_some(),
            "only Secrets have stringData"
        );
    }
}
