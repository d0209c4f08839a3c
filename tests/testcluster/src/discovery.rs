//! Legacy discovery documents and the OpenAPI v3 stub: the smallest set with which kubectl
//! resolves `svc`/`ev`, lists CRs and runs `apply` with its default validation.

use serde_json::{Value, json};

use crate::resources::{self, ResourceDef};

const VERBS: [&str; 7] = [
    "create", "delete", "get", "list", "patch", "update", "watch",
];

pub fn version() -> Value {
    json!({
        "major": "1", "minor": "32", "gitVersion": "v1.32.4+k3s1", "gitCommit": "0000000000000000000000000000000000000000",
        "gitTreeState": "clean", "buildDate": "2025-04-01T00:00:00Z", "goVersion": "go1.23.6",
        "compiler": "gc", "platform": "linux/amd64",
    })
}

pub fn api() -> Value {
    json!({"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": "127.0.0.1:6443"}]})
}

/// Group versions other than core `v1`, each listed once.
fn group_versions() -> Vec<(&'static str, &'static str)> {
    let mut out: Vec<(&str, &str)> = Vec::new();
    for d in resources::all().filter(|d| !d.group.is_empty()) {
        if !out.contains(&(d.group, d.version)) {
            out.push((d.group, d.version));
        }
    }
    out
}

pub fn apis() -> Value {
    let groups: Vec<Value> = group_versions()
        .into_iter()
        .map(|(g, v)| {
            let gv = json!({"groupVersion": format!("{g}/{v}"), "version": v});
            json!({"name": g, "versions": [gv], "preferredVersion": gv})
        })
        .collect();
    json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": groups})
}

fn entry(d: &ResourceDef) -> Vec<Value> {
    let mut out = vec![json!({
        "name": d.plural, "singularName": d.singular, "namespaced": true, "kind": d.kind,
        "verbs": VERBS, "shortNames": d.short_names,
    })];
    if d.status {
        out.push(
            json!({"name": format!("{}/status", d.plural), "singularName": "", "namespaced": true,
            "kind": d.kind, "verbs": ["get", "patch", "update"]}),
        );
    }
    out
}

/// `/api/v1` or `/apis/<group>/<version>`; `None` for an unknown group version.
pub fn resource_list(group: &str, version: &str) -> Option<Value> {
    let mut resources: Vec<Value> = resources::all()
        .filter(|d| d.group == group && d.version == version)
        .flat_map(entry)
        .collect();
    if group.is_empty() && version == "v1" {
        resources.push(
            json!({"name": "namespaces", "singularName": "namespace", "namespaced": false,
            "kind": "Namespace", "verbs": ["get", "list"], "shortNames": ["ns"]}),
        );
    }
    if resources.is_empty() {
        return None;
    }
    let gv = if group.is_empty() {
        version.to_string()
    } else {
        format!("{group}/{version}")
    };
    Some(
        json!({"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": gv, "resources": resources}),
    )
}

fn openapi_path(group: &str, version: &str) -> String {
    if group.is_empty() {
        format!("api/{version}")
    } else {
        format!("apis/{group}/{version}")
    }
}

pub fn openapi_index() -> Value {
    let mut paths = serde_json::Map::new();
    let mut gvs = vec![("", "v1")];
    gvs.extend(group_versions());
    for (g, v) in gvs {
        let p = openapi_path(g, v);
        paths.insert(
            p.clone(),
            json!({"serverRelativeURL": format!("/openapi/v3/{p}")}),
        );
    }
    json!({"paths": paths})
}

/// One OpenAPI v3 document per group version: only a PATCH operation per kind, tagged with
/// its GVK and an inline `fieldValidation` parameter. That is all kubectl looks for to decide
/// that the server validates fields; no schemas are needed.
pub fn openapi_doc(path: &str) -> Option<Value> {
    let mut paths = serde_json::Map::new();
    for d in resources::all().filter(|d| openapi_path(d.group, d.version) == path) {
        paths.insert(
            format!("/{path}/namespaces/{{namespace}}/{}/{{name}}", d.plural),
            json!({"patch": {
                "x-kubernetes-group-version-kind": {"group": d.group, "version": d.version, "kind": d.kind},
                "parameters": [{"name": "fieldValidation", "in": "query", "schema": {"type": "string"}}],
            }}),
        );
    }
    if path == "api/v1" {
        paths.insert(
            "/api/v1/namespaces/{name}".to_string(),
            json!({"patch": {
                "x-kubernetes-group-version-kind": {"group": "", "version": "v1", "kind": "Namespace"},
                "parameters": [{"name": "fieldValidation", "in": "query", "schema": {"type": "string"}}],
            }}),
        );
    }
    (!paths.is_empty()).then(|| json!({"openapi": "3.0.0", "info": {"title": "Kubernetes", "version": "v1.32.4+k3s1"}, "paths": paths}))
}
