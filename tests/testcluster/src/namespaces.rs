//! Namespaces: implicit (any namespace holding an object, plus `default`, `kube-system` and
//! `metallb-system`) or declared (created, or seeded as `kind: Namespace`), each with labels.
//! Labels matter to MetalLB pools that select namespaces (`serviceAllocation.
//! namespaceSelectors`); every namespace carries `kubernetes.io/metadata.name`, as the real
//! API server sets it.

use std::collections::HashMap;

use serde_json::{Map, Value, json};

use crate::error::ApiError;
use crate::patch::{self, PatchType};
use crate::store::Store;

/// A namespace's labels, with the one the API server always sets.
pub fn labels(store: &Store, name: &str) -> Map<String, Value> {
    let mut labels = store.declared_labels(name).cloned().unwrap_or_default();
    labels.insert("kubernetes.io/metadata.name".into(), json!(name));
    labels
}

/// The `Namespace` object as the API serves it.
pub fn object(store: &Store, name: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "Namespace",
        "metadata": {"name": name, "creationTimestamp": store.created(), "labels": labels(store, name)},
        "spec": {"finalizers": ["kubernetes"]}, "status": {"phase": "Active"}})
}

fn labels_of(obj: &Value) -> Map<String, Value> {
    obj.pointer("/metadata/labels")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default()
}

/// Declares a namespace from an object (seed or create), keeping its labels.
pub fn declare(store: &mut Store, obj: &Value) -> Result<String, ApiError> {
    let name = obj
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .filter(|n| !n.is_empty())
        .ok_or_else(|| {
            ApiError::invalid(
                "namespaces",
                "",
                "metadata.name: Required value: name or generateName is required",
            )
        })?
        .to_string();
    store.declare_namespace(&name);
    store.set_namespace_labels(&name, labels_of(obj));
    Ok(name)
}

/// `POST`, `GET` (one or all) and `PATCH` (labels) of namespaces; a server-side apply of a
/// namespace that does not exist creates it (Helm 4's `--create-namespace`). `object` decodes
/// a created namespace (JSON, YAML or client-go's protobuf).
pub fn handle(
    store: &mut Store,
    method: &hyper::Method,
    name: Option<String>,
    q: &HashMap<String, String>,
    content_type: &str,
    body: &[u8],
    decode: impl FnOnce(&[u8]) -> Result<Value, ApiError>,
) -> Result<(u16, Value), ApiError> {
    use hyper::Method;
    let patch_type = PatchType::from_content_type(content_type);
    match (method, name) {
        (&Method::POST, None) => {
            let v = decode(body)?;
            let n = v
                .pointer("/metadata/name")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string();
            if store.namespaces().contains(&n) {
                return Err(ApiError::already_exists("namespaces", &n));
            }
            let n = declare(store, &v)?;
            Ok((201, object(store, &n)))
        }
        (&Method::GET, None) => {
            let items: Vec<Value> = store
                .namespaces()
                .iter()
                .map(|n| object(store, n))
                .collect();
            let mut list = json!({"apiVersion": "v1", "kind": "NamespaceList",
                "metadata": {"resourceVersion": store.resource_version().to_string()}, "items": []});
            let page = crate::paging::page(
                items.iter().collect(),
                q,
                store.resource_version(),
                store.compacted_before(),
                false,
            )?;
            list["items"] = json!(page.items);
            if let Some(t) = page.continue_token {
                list["metadata"]["continue"] = json!(t);
            }
            Ok((200, list))
        }
        (&Method::GET, Some(n)) if store.namespaces().contains(&n) => Ok((200, object(store, &n))),
        // `kubectl label namespace`: a merge (or strategic merge) patch of the labels.
        (&Method::PATCH, Some(n)) if store.namespaces().contains(&n) => {
            let ty = PatchType::from_content_type(content_type).unwrap_or(PatchType::Merge);
            let p = patch::parse_body(body, ty == PatchType::Apply)?;
            let mut doc = object(store, &n);
            patch::apply(&mut doc, ty, &p)?;
            let mut labels = labels_of(&doc);
            labels.remove("kubernetes.io/metadata.name");
            store.declare_namespace(&n);
            store.set_namespace_labels(&n, labels);
            Ok((200, object(store, &n)))
        }
        (&Method::PATCH, Some(n)) if patch_type == Some(PatchType::Apply) => {
            let mut v = patch::parse_body(body, true)?;
            v["metadata"]["name"] = json!(n);
            let n = declare(store, &v)?;
            Ok((201, object(store, &n)))
        }
        (&Method::GET | &Method::PATCH, Some(n)) => Err(ApiError::not_found("namespaces", &n)),
        _ => Err(ApiError::new(
            405,
            "MethodNotAllowed",
            "the server does not allow this method on the requested resource",
        )),
    }
}
