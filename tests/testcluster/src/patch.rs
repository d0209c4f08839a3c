//! The four PATCH flavours: JSON merge patch (RFC 7386), JSON patch (RFC 6902), strategic merge
//! patch (what `kubectl apply` sends for built-in kinds) and server-side apply bodies.

use serde_json::{Map, Value};

use crate::error::ApiError;

/// A PATCH request's `Content-Type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PatchType {
    Merge,
    Strategic,
    Json,
    Apply,
}

impl PatchType {
    pub fn from_content_type(ct: &str) -> Option<PatchType> {
        match ct.split(';').next().unwrap_or("").trim() {
            "application/merge-patch+json" => Some(PatchType::Merge),
            "application/strategic-merge-patch+json" => Some(PatchType::Strategic),
            "application/json-patch+json" => Some(PatchType::Json),
            "application/apply-patch+yaml" => Some(PatchType::Apply),
            _ => None,
        }
    }
}

/// Parses a request body that may be JSON or (for apply) YAML.
pub fn parse_body(body: &[u8], allow_yaml: bool) -> Result<Value, ApiError> {
    match serde_json::from_slice(body) {
        Ok(v) => Ok(v),
        Err(e) if !allow_yaml => Err(ApiError::bad_request(format!("invalid JSON body: {e}"))),
        Err(_) => {
            let text =
                std::str::from_utf8(body).map_err(|e| ApiError::bad_request(e.to_string()))?;
            serde_saphyr::from_str(text)
                .map_err(|e| ApiError::bad_request(format!("invalid YAML body: {e}")))
        }
    }
}

/// Applies a patch of the given type to `doc` (not used for [`PatchType::Apply`], which the
/// caller treats as an upsert merged like a merge patch).
pub fn apply(doc: &mut Value, ty: PatchType, patch: &Value) -> Result<(), ApiError> {
    match ty {
        PatchType::Merge | PatchType::Apply => {
            json_patch::merge(doc, patch);
            Ok(())
        }
        PatchType::Json => {
            let ops: json_patch::Patch = serde_json::from_value(patch.clone())
                .map_err(|e| ApiError::bad_request(format!("invalid JSON patch: {e}")))?;
            json_patch::patch(doc, &ops)
                .map_err(|e| ApiError::new(422, "Invalid", format!("the JSON patch failed: {e}")))
        }
        PatchType::Strategic => {
            let (Some(d), Some(p)) = (doc.as_object_mut(), patch.as_object()) else {
                return Err(ApiError::bad_request(
                    "strategic merge patch must be a JSON object",
                ));
            };
            merge_map(d, p, "");
            Ok(())
        }
    }
}

/// The merge key of a list field, from the Kubernetes API's `patchMergeKey` tags. `path` is the
/// dotted chain of object keys leading to the list (list indexes left out).
pub(crate) fn merge_key(path: &str) -> Option<&'static str> {
    let field = path.rsplit('.').next().unwrap_or(path);
    match field {
        "ports" if path.ends_with("containers.ports") || path.ends_with("initContainers.ports") => {
            Some("containerPort")
        }
        "ports" => Some("port"),
        "containers"
        | "initContainers"
        | "ephemeralContainers"
        | "env"
        | "volumes"
        | "imagePullSecrets"
        | "hostAliases"
        | "conditions" => Some(match field {
            "hostAliases" => "ip",
            "conditions" => "type",
            _ => "name",
        }),
        "volumeMounts" => Some("mountPath"),
        "volumeDevices" => Some("devicePath"),
        "ownerReferences" => Some("uid"),
        _ => None,
    }
}

/// Primitive lists that merge as sets rather than being replaced.
pub(crate) fn merges_as_set(path: &str) -> bool {
    path == "metadata.finalizers"
}

fn child(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

fn merge_map(orig: &mut Map<String, Value>, patch: &Map<String, Value>, path: &str) {
    if patch.get("$patch").and_then(Value::as_str) == Some("replace") {
        *orig = strip(patch);
        return;
    }
    if let Some(keep) = patch.get("$retainKeys").and_then(Value::as_array) {
        orig.retain(|k, _| keep.iter().any(|x| x.as_str() == Some(k)));
    }
    for (k, v) in patch {
        if let Some(field) = k.strip_prefix("$deleteFromPrimitiveList/") {
            if let (Some(Value::Array(list)), Some(gone)) = (orig.get_mut(field), v.as_array()) {
                list.retain(|x| !gone.contains(x));
            }
            continue;
        }
        if k.starts_with('$') {
            continue;
        }
        let p = child(path, k);
        match v {
            Value::Null => {
                orig.remove(k);
            }
            Value::Object(pm) if pm.get("$patch").and_then(Value::as_str) == Some("delete") => {
                orig.remove(k);
            }
            Value::Object(pm) => match orig.get_mut(k) {
                Some(Value::Object(om)) => merge_map(om, pm, &p),
                _ => {
                    orig.insert(k.clone(), Value::Object(strip(pm)));
                }
            },
            Value::Array(pl) => {
                let merged = match (orig.remove(k), merge_key(&p)) {
                    (Some(Value::Array(ol)), Some(key)) => merge_list(ol, pl, key, &p),
                    (Some(Value::Array(mut ol)), None) if merges_as_set(&p) => {
                        ol.extend(
                            pl.iter()
                                .filter(|x| !ol.contains(x))
                                .cloned()
                                .collect::<Vec<_>>(),
                        );
                        ol
                    }
                    _ => pl
                        .iter()
                        .filter(|x| !is_directive(x))
                        .map(strip_value)
                        .collect(),
                };
                orig.insert(k.clone(), Value::Array(merged));
            }
            other => {
                orig.insert(k.clone(), other.clone());
            }
        }
    }
    for (k, v) in patch {
        if let (Some(field), Some(order)) = (k.strip_prefix("$setElementOrder/"), v.as_array())
            && let Some(Value::Array(list)) = orig.get_mut(field)
        {
            reorder(list, order, merge_key(&child(path, field)));
        }
    }
}

fn merge_list(mut orig: Vec<Value>, patch: &[Value], key: &str, path: &str) -> Vec<Value> {
    if patch
        .iter()
        .any(|x| x.get("$patch").and_then(Value::as_str) == Some("replace"))
    {
        return patch
            .iter()
            .filter(|x| !is_directive(x))
            .map(strip_value)
            .collect();
    }
    for item in patch {
        let Some(pm) = item.as_object() else {
            orig.push(item.clone());
            continue;
        };
        let id = pm.get(key);
        let pos = orig.iter().position(|o| id.is_some() && o.get(key) == id);
        if pm.get("$patch").and_then(Value::as_str) == Some("delete") {
            orig.retain(|o| id.is_none() || o.get(key) != id);
            continue;
        }
        match pos {
            Some(i) => {
                if let Some(om) = orig[i].as_object_mut() {
                    merge_map(om, pm, path);
                }
            }
            None => orig.push(Value::Object(strip(pm))),
        }
    }
    orig
}

/// `$setElementOrder`: listed items first in the given order, then the rest as they were.
fn reorder(list: &mut Vec<Value>, order: &[Value], key: Option<&str>) {
    let ident = |v: &Value| match key {
        Some(k) => v.get(k).cloned(),
        None => Some(v.clone()),
    };
    let mut rest = std::mem::take(list);
    for o in order {
        let want = ident(o);
        if let Some(i) = rest.iter().position(|x| ident(x) == want) {
            list.push(rest.remove(i));
        }
    }
    list.extend(rest);
}

fn is_directive(v: &Value) -> bool {
    v.as_object().is_some_and(|m| m.contains_key("$patch"))
}

fn strip(m: &Map<String, Value>) -> Map<String, Value> {
    m.iter()
        .filter(|(k, _)| !k.starts_with('$'))
        .map(|(k, v)| (k.clone(), strip_value(v)))
        .collect()
}

fn strip_value(v: &Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(strip(m)),
        Value::Array(a) => Value::Array(
            a.iter()
                .filter(|x| !is_directive(x))
                .map(strip_value)
                .collect(),
        ),
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn smp(doc: Value, patch: Value) -> Value {
        let mut d = doc;
        apply(&mut d, PatchType::Strategic, &patch).unwrap();
        d
    }

    #[test]
    fn kubectl_port_change_is_merged_by_port() {
        let svc = json!({"spec": {"ports": [
            {"name": "http", "port": 8080, "protocol": "TCP", "targetPort": 8080, "nodePort": 31000},
            {"name": "metrics", "port": 9100, "protocol": "TCP"}]}});
        let patch = json!({"spec": {
            "$setElementOrder/ports": [{"port": 9090}, {"port": 9100}],
            "ports": [{"name": "http", "port": 9090, "targetPort": 9090}, {"$patch": "delete", "port": 8080}]}});
        let out = smp(svc, patch);
        assert_eq!(
            out["spec"]["ports"],
            json!([{"name": "http", "port": 9090, "targetPort": 9090},
                   {"name": "metrics", "port": 9100, "protocol": "TCP"}])
        );
    }

    #[test]
    fn containers_merge_by_name_and_directives() {
        let d = json!({"metadata": {"finalizers": ["a"], "labels": {"x": "1", "y": "2"}},
            "spec": {"template": {"spec": {"containers": [{"name": "c", "image": "old", "ports": [{"containerPort": 80}]}]}}}});
        let p = json!({"metadata": {"finalizers": ["b"], "labels": {"x": null},
                "$deleteFromPrimitiveList/finalizers": ["a"]},
            "spec": {"template": {"spec": {"containers": [{"name": "c", "image": "new", "ports": [{"containerPort": 81}]}]}}}});
        let out = smp(d, p);
        assert_eq!(out["metadata"]["finalizers"], json!(["b"]));
        assert_eq!(out["metadata"]["labels"], json!({"y": "2"}));
        let c = &out["spec"]["template"]["spec"]["containers"][0];
        assert_eq!(c["image"], "new");
        assert_eq!(
            c["ports"],
            json!([{"containerPort": 80}, {"containerPort": 81}])
        );
    }

    #[test]
    fn retain_keys_and_replace() {
        let d = json!({"spec": {"strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1}}}});
        let p = json!({"spec": {"strategy": {"$retainKeys": ["type"], "type": "Recreate"}}});
        assert_eq!(smp(d, p)["spec"]["strategy"], json!({"type": "Recreate"}));
        let d = json!({"spec": {"selector": {"a": "1", "b": "2"}}});
        let p = json!({"spec": {"selector": {"$patch": "replace", "c": "3"}}});
        assert_eq!(smp(d, p)["spec"]["selector"], json!({"c": "3"}));
    }

    #[test]
    fn json_and_merge_patch() {
        let mut d = json!({"metadata": {"annotations": {"a": "1"}}});
        apply(
            &mut d,
            PatchType::Merge,
            &json!({"metadata": {"annotations": {"a": null, "b": "2"}}}),
        )
        .unwrap();
        assert_eq!(d["metadata"]["annotations"], json!({"b": "2"}));
        apply(
            &mut d,
            PatchType::Json,
            &json!([{"op": "replace", "path": "/metadata/annotations/b", "value": "3"}]),
        )
        .unwrap();
        assert_eq!(d["metadata"]["annotations"]["b"], "3");
        let bad = apply(
            &mut d,
            PatchType::Json,
            &json!([{"op": "remove", "path": "/nope"}]),
        )
        .unwrap_err();
        assert_eq!(bad.code, 422);
    }

    #[test]
    fn apply_body_may_be_yaml() {
        let v = parse_body(b"a: 1\nb: [x]\n", true).unwrap();
        assert_eq!(v, json!({"a": 1, "b": ["x"]}));
        assert!(parse_body(b"a: 1", false).is_err());
    }
}
