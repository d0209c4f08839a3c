//! Field ownership and server-side apply: the subset of sigs.k8s.io/structured-merge-diff
//! that Helm 4 (which installs and upgrades with server-side apply) and kubectl need.
//!
//! Every write records, in `metadata.managedFields` (real `FieldsV1` format), which fields
//! its field manager set:
//! - an **Update** (create, PUT, merge/strategic/JSON patch) takes ownership of every field
//!   whose value it added or changed, away from any other manager (updates never conflict);
//! - an **Apply** (`application/apply-patch+yaml`) owns exactly the fields of its
//!   configuration. Fields it applied before and leaves out now are removed from the object
//!   unless another manager also owns them; setting a field another manager owns to a
//!   different value is a 409 conflict naming that manager, unless `force=true`, which takes
//!   the field over. Equal values are shared, not conflicts.
//!
//! Lists merge as the Kubernetes schemas say: by key for the associative lists of
//! [`crate::patch::merge_key`] (containers by name, ports by port, ...), as sets for
//! `metadata.finalizers`, and atomically (replaced whole) otherwise. Not modelled: field
//! validation (`fieldValidation` is ignored), per-version conversion of managed fields,
//! ownership of status through the status subresource, and `.` (a map owning itself).

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Value, json};

use crate::error::ApiError;
use crate::patch::{merge_key, merges_as_set};
use crate::store::now_rfc3339;

/// One step of a field path, as in `FieldsV1`: `f:<field>`, `k:<key of an associative list
/// item>`, `v:<value of a set item>`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Step {
    Field(String),
    Key(String),
    Value(String),
}

type Path = Vec<Step>;

impl Step {
    fn encode(&self) -> String {
        match self {
            Step::Field(f) => format!("f:{f}"),
            Step::Key(k) => format!("k:{k}"),
            Step::Value(v) => format!("v:{v}"),
        }
    }

    fn decode(s: &str) -> Option<Step> {
        let (tag, rest) = s.split_once(':')?;
        Some(match tag {
            "f" => Step::Field(rest.to_string()),
            "k" => Step::Key(rest.to_string()),
            "v" => Step::Value(rest.to_string()),
            _ => return None,
        })
    }
}

/// Fields never owned by anyone: identity and server-managed metadata, and status.
fn untracked(path: &[Step]) -> bool {
    match path {
        [Step::Field(f)] => matches!(f.as_str(), "apiVersion" | "kind" | "status"),
        [Step::Field(m), Step::Field(f), ..] if m == "metadata" => matches!(
            f.as_str(),
            "name"
                | "namespace"
                | "uid"
                | "resourceVersion"
                | "generation"
                | "creationTimestamp"
                | "managedFields"
                | "selfLink"
        ),
        _ => false,
    }
}

/// The dotted field names of a path, list steps left out: what [`merge_key`] expects.
fn dotted(path: &[Step]) -> String {
    path.iter()
        .filter_map(|s| match s {
            Step::Field(f) => Some(f.as_str()),
            _ => None,
        })
        .collect::<Vec<_>>()
        .join(".")
}

/// The key of an associative list item, as `FieldsV1` writes it: `{"name":"x"}`.
fn item_key(item: &Value, key: &str) -> Option<String> {
    item.get(key).map(|k| json!({ key: k }).to_string())
}

/// Every leaf field path of an object, with its value.
fn leaves(obj: &Value) -> BTreeMap<Path, Value> {
    let mut out = BTreeMap::new();
    walk(obj, &mut Vec::new(), &mut out);
    out.retain(|p, _| !untracked(p));
    out
}

fn walk(v: &Value, path: &mut Path, out: &mut BTreeMap<Path, Value>) {
    match v {
        Value::Object(m) if !m.is_empty() => {
            for (k, child) in m {
                path.push(Step::Field(k.clone()));
                walk(child, path, out);
                path.pop();
            }
        }
        Value::Array(items) if !items.is_empty() => {
            let name = dotted(path);
            if let Some(key) = merge_key(&name)
                && items.iter().all(|i| item_key(i, key).is_some())
            {
                for item in items {
                    path.push(Step::Key(item_key(item, key).unwrap_or_default()));
                    walk(item, path, out);
                    path.pop();
                }
            } else if merges_as_set(&name) {
                for item in items {
                    path.push(Step::Value(item.to_string()));
                    out.insert(path.clone(), item.clone());
                    path.pop();
                }
            } else {
                out.insert(path.clone(), v.clone());
            }
        }
        _ => {
            out.insert(path.clone(), v.clone());
        }
    }
}

/// The value at a path, if the object has one there.
fn value_at<'a>(obj: &'a Value, path: &[Step]) -> Option<&'a Value> {
    let Some((step, rest)) = path.split_first() else {
        return Some(obj);
    };
    let next = match step {
        Step::Field(f) => obj.get(f)?,
        Step::Key(k) | Step::Value(k) => {
            obj.as_array()?.iter().find(|i| matches_step(i, step, k))?
        }
    };
    value_at(next, rest)
}

fn matches_step(item: &Value, step: &Step, encoded: &str) -> bool {
    match step {
        Step::Key(_) => serde_json::from_str::<Map<String, Value>>(encoded)
            .is_ok_and(|want| want.iter().all(|(k, v)| item.get(k) == Some(v))),
        Step::Value(_) => serde_json::from_str::<Value>(encoded).is_ok_and(|v| v == *item),
        Step::Field(_) => false,
    }
}

/// Removes the field at a path (and maps or list items it leaves empty, as an applier that
/// set only that field expects).
fn remove_at(obj: &mut Value, path: &[Step]) {
    let Some((step, rest)) = path.split_first() else {
        return;
    };
    match step {
        Step::Field(f) => {
            let Some(m) = obj.as_object_mut() else { return };
            if rest.is_empty() {
                m.remove(f);
            } else if let Some(child) = m.get_mut(f) {
                remove_at(child, rest);
                if child.as_object().is_some_and(Map::is_empty)
                    || child.as_array().is_some_and(Vec::is_empty)
                {
                    m.remove(f);
                }
            }
        }
        Step::Key(k) | Step::Value(k) => {
            let Some(items) = obj.as_array_mut() else {
                return;
            };
            let Some(i) = items.iter().position(|it| matches_step(it, step, k)) else {
                return;
            };
            // Dropping a key field of an associative list item drops the item: without its
            // key it is no item at all (and the fields the server defaulted in it go too).
            let drops_key = match (step, rest) {
                (Step::Key(k), [Step::Field(f)]) => serde_json::from_str::<Map<String, Value>>(k)
                    .is_ok_and(|key| key.contains_key(f)),
                _ => false,
            };
            if rest.is_empty() || drops_key {
                items.remove(i);
            } else {
                remove_at(&mut items[i], rest);
                // An item left with only its key was set by nobody else: it goes too.
                if matches!(step, Step::Key(_))
                    && let Ok(key) = serde_json::from_str::<Map<String, Value>>(k)
                    && items[i]
                        .as_object()
                        .is_some_and(|m| m.keys().all(|f| key.contains_key(f)))
                {
                    items.remove(i);
                }
            }
        }
    }
}

/// One managedFields entry.
#[derive(Debug, Clone)]
struct Entry {
    manager: String,
    operation: String,
    /// The API version the manager wrote with (conflict messages name it).
    api_version: String,
    fields: BTreeSet<Path>,
}

fn entries(obj: &Value) -> Vec<Entry> {
    obj.pointer("/metadata/managedFields")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter(|e| e.get("subresource").is_none())
        .map(|e| Entry {
            manager: e["manager"].as_str().unwrap_or_default().to_string(),
            operation: e["operation"].as_str().unwrap_or_default().to_string(),
            api_version: e["apiVersion"].as_str().unwrap_or_default().to_string(),
            fields: decode_fields(&e["fieldsV1"]),
        })
        .collect()
}

fn decode_fields(v: &Value) -> BTreeSet<Path> {
    fn go(v: &Value, path: &mut Path, out: &mut BTreeSet<Path>) {
        let Some(m) = v.as_object() else { return };
        if m.is_empty() && !path.is_empty() {
            out.insert(path.clone());
        }
        for (k, child) in m {
            if let Some(step) = Step::decode(k) {
                path.push(step);
                go(child, path, out);
                path.pop();
            }
        }
    }
    let mut out = BTreeSet::new();
    go(v, &mut Vec::new(), &mut out);
    out
}

fn encode_fields(fields: &BTreeSet<Path>) -> Value {
    let mut root = json!({});
    for path in fields {
        let mut node = &mut root;
        for step in path {
            node = node
                .as_object_mut()
                .expect("field trees are objects")
                .entry(step.encode())
                .or_insert_with(|| json!({}));
        }
    }
    root
}

fn write_entries(obj: &mut Value, entries: &[Entry]) {
    // Status-subresource entries are kept as they were.
    let mut kept: Vec<Value> = obj
        .pointer("/metadata/managedFields")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter(|e| e.get("subresource").is_some())
        .cloned()
        .collect();
    let now = now_rfc3339();
    kept.extend(entries.iter().filter(|e| !e.fields.is_empty()).map(|e| {
        json!({"manager": e.manager, "operation": e.operation, "apiVersion": e.api_version,
            "time": now, "fieldsType": "FieldsV1", "fieldsV1": encode_fields(&e.fields)})
    }));
    obj["metadata"]["managedFields"] = Value::Array(kept);
}

/// Whether two versions of an object are the same but for the times in their managed
/// fields: such a write changes nothing and is not stored (no new resourceVersion).
pub fn same_ignoring_times(a: &Value, b: &Value) -> bool {
    let strip = |v: &Value| {
        let mut v = v.clone();
        if let Some(list) = v
            .pointer_mut("/metadata/managedFields")
            .and_then(Value::as_array_mut)
        {
            for e in list {
                e.as_object_mut().map(|m| m.remove("time"));
            }
        }
        v
    };
    strip(a) == strip(b)
}

/// Two paths overlap when one is a prefix of the other (an atomic list owns its items).
fn overlaps(a: &[Step], b: &[Step]) -> bool {
    let n = a.len().min(b.len());
    a[..n] == b[..n]
}

/// Records an Update by `manager`: it now owns every field whose value `new` added or
/// changed relative to `old` (taking it from the others); removed fields are owned by nobody.
pub fn record_update(old: Option<&Value>, new: &mut Value, manager: &str) {
    let mut list = old.map(entries).unwrap_or_default();
    let before = old.map(leaves).unwrap_or_default();
    let after = leaves(new);
    let changed: BTreeSet<Path> = after
        .iter()
        .filter(|(p, v)| before.get(*p) != Some(*v))
        .map(|(p, _)| p.clone())
        .collect();
    for e in &mut list {
        e.fields
            .retain(|p| value_at(new, p).is_some() && !changed.iter().any(|c| overlaps(c, p)));
    }
    let api_version = new["apiVersion"].as_str().unwrap_or_default().to_string();
    match list
        .iter_mut()
        .find(|e| e.manager == manager && e.operation == "Update")
    {
        Some(e) => {
            e.fields.extend(changed);
            e.api_version = api_version;
        }
        None => list.push(Entry {
            manager: manager.to_string(),
            operation: "Update".to_string(),
            api_version,
            fields: changed,
        }),
    }
    write_entries(new, &list);
}

/// Server-side apply of `config` by `manager` onto `live` (`None`: the object is created).
/// Returns the new object, managed fields updated.
pub fn apply(
    live: Option<&Value>,
    config: &Value,
    manager: &str,
    force: bool,
    resource: &str,
    name: &str,
) -> Result<Value, ApiError> {
    if manager.is_empty() {
        return Err(ApiError::new(
            400,
            "BadRequest",
            "PatchOptions.meta.k8s.io \"\" is invalid: fieldManager: Required value: is required for apply patch",
        ));
    }
    let mut obj = live.cloned().unwrap_or_else(|| json!({}));
    let mut list = live.map(entries).unwrap_or_default();
    let applied = leaves(config);
    let previous: BTreeSet<Path> = list
        .iter()
        .filter(|e| e.manager == manager && e.operation == "Apply")
        .flat_map(|e| e.fields.iter().cloned())
        .collect();

    // Conflicts: a different value in a field another manager owns.
    let mut conflicts: Vec<(String, String, Path)> = Vec::new();
    for (path, value) in &applied {
        if value_at(&obj, path).is_none_or(|current| current == value) {
            continue;
        }
        for e in list.iter_mut().filter(|e| e.manager != manager) {
            let owned: Vec<Path> = e
                .fields
                .iter()
                .filter(|p| overlaps(p, path))
                .cloned()
                .collect();
            if owned.is_empty() {
                continue;
            }
            if force {
                for p in owned {
                    e.fields.remove(&p);
                }
            } else {
                conflicts.push((e.manager.clone(), e.api_version.clone(), path.clone()));
            }
        }
    }
    if !conflicts.is_empty() {
        return Err(conflict_error(resource, name, &conflicts));
    }

    // Fields this manager no longer applies go, unless someone else owns them too.
    for path in previous.difference(&applied.keys().cloned().collect()) {
        let shared = list
            .iter()
            .any(|e| e.manager != manager && e.fields.iter().any(|p| overlaps(p, path)));
        if !shared {
            remove_at(&mut obj, path);
        }
    }
    merge(&mut obj, config, &mut Vec::new());

    list.retain(|e| !(e.manager == manager && e.operation == "Apply"));
    list.push(Entry {
        manager: manager.to_string(),
        operation: "Apply".to_string(),
        api_version: config["apiVersion"]
            .as_str()
            .unwrap_or_default()
            .to_string(),
        fields: applied.into_keys().collect(),
    });
    write_entries(&mut obj, &list);
    Ok(obj)
}

/// Merges an applied configuration into an object: maps field by field, associative lists
/// item by item, set lists as a union, everything else replaced.
fn merge(obj: &mut Value, config: &Value, path: &mut Vec<String>) {
    match (obj, config) {
        (Value::Object(o), Value::Object(c)) => {
            for (k, v) in c {
                path.push(k.clone());
                match o.get_mut(k) {
                    Some(existing) => merge(existing, v, path),
                    None => {
                        o.insert(k.clone(), v.clone());
                    }
                }
                path.pop();
            }
        }
        (Value::Array(o), Value::Array(c)) => {
            let name = path.join(".");
            if let Some(key) = merge_key(&name) {
                for item in c {
                    match o
                        .iter_mut()
                        .find(|i| item.get(key).is_some() && i.get(key) == item.get(key))
                    {
                        Some(existing) => merge(existing, item, path),
                        None => o.push(item.clone()),
                    }
                }
            } else if merges_as_set(&name) {
                for item in c {
                    if !o.contains(item) {
                        o.push(item.clone());
                    }
                }
            } else {
                *o = c.clone();
            }
        }
        (o, c) => *o = c.clone(),
    }
}

/// The 409 a real API server answers, e.g. `Apply failed with 1 conflict: conflict with
/// "lbip" using v1: .metadata.annotations.metallb.io/loadBalancerIPs`.
fn conflict_error(resource: &str, name: &str, conflicts: &[(String, String, Path)]) -> ApiError {
    let lines: Vec<String> = conflicts
        .iter()
        .map(|(m, v, p)| {
            let field: String = p
                .iter()
                .map(|s| match s {
                    Step::Field(f) => format!(".{f}"),
                    Step::Key(k) => format!("[{k}]"),
                    Step::Value(v) => format!("[{v}]"),
                })
                .collect();
            format!("conflict with \"{m}\" using {v}: {field}")
        })
        .collect();
    let n = conflicts.len();
    ApiError::new(
        409,
        "Conflict",
        format!(
            "Apply failed with {n} conflict{}: {}",
            if n == 1 { "" } else { "s" },
            lines.join("\n")
        ),
    )
    .with_details(resource, name)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn svc(annotations: Value, ports: Value) -> Value {
        json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s", "annotations": annotations},
            "spec": {"type": "LoadBalancer", "ports": ports}})
    }

    #[test]
    fn apply_removes_what_it_no_longer_sets_but_keeps_what_others_set() {
        let first = svc(
            json!({"a": "1", "b": "2"}),
            json!([{"port": 80}, {"port": 81}]),
        );
        let created = apply(None, &first, "helm", false, "services", "s").unwrap();
        // Someone else adds an annotation and a port.
        let mut touched = created.clone();
        touched["metadata"]["annotations"]["c"] = json!("3");
        touched["spec"]["ports"]
            .as_array_mut()
            .unwrap()
            .push(json!({"port": 9000}));
        record_update(Some(&created), &mut touched, "lbip");
        // Helm applies again without `b` and without port 81.
        let second = svc(json!({"a": "1"}), json!([{"port": 80}]));
        let out = apply(Some(&touched), &second, "helm", false, "services", "s").unwrap();
        assert_eq!(out["metadata"]["annotations"], json!({"a": "1", "c": "3"}));
        assert_eq!(out["spec"]["ports"], json!([{"port": 80}, {"port": 9000}]));
        let managers: Vec<&str> = out["metadata"]["managedFields"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["manager"].as_str().unwrap())
            .collect();
        assert_eq!(managers, ["lbip", "helm"]);
        let helm = &out["metadata"]["managedFields"][1]["fieldsV1"];
        assert!(
            helm["f:spec"]["f:ports"].get("k:{\"port\":80}").is_some(),
            "{helm}"
        );
    }

    #[test]
    fn a_different_value_in_someone_elses_field_conflicts_unless_forced() {
        let created = apply(
            None,
            &svc(json!({}), json!([])),
            "helm",
            false,
            "services",
            "s",
        )
        .unwrap();
        let mut pinned = created.clone();
        pinned["metadata"]["annotations"] = json!({"metallb.io/loadBalancerIPs": "192.168.1.201"});
        record_update(Some(&created), &mut pinned, "lbip");
        // The same value is shared, not a conflict.
        let same = svc(
            json!({"metallb.io/loadBalancerIPs": "192.168.1.201"}),
            json!([]),
        );
        assert!(apply(Some(&pinned), &same, "helm", false, "services", "s").is_ok());
        let other = svc(
            json!({"metallb.io/loadBalancerIPs": "192.168.1.215"}),
            json!([]),
        );
        let err = apply(Some(&pinned), &other, "helm", false, "services", "s").unwrap_err();
        assert_eq!(err.code, 409);
        assert!(
            err.message.contains(
                "conflict with \"lbip\" using v1: .metadata.annotations.metallb.io/loadBalancerIPs"
            ),
            "{}",
            err.message
        );
        let forced = apply(Some(&pinned), &other, "helm", true, "services", "s").unwrap();
        assert_eq!(
            forced["metadata"]["annotations"]["metallb.io/loadBalancerIPs"],
            "192.168.1.215"
        );
        assert!(
            apply(None, &same, "", false, "services", "s").is_err(),
            "manager required"
        );
    }

    #[test]
    fn fields_v1_round_trip_and_atomic_lists() {
        let obj = json!({"metadata": {"finalizers": ["a", "b"], "labels": {"x": "1"}},
            "spec": {"template": {"spec": {"containers": [{"name": "c", "args": ["--x"]}]}}}});
        let l = leaves(&obj);
        let paths: BTreeSet<Path> = l.keys().cloned().collect();
        assert_eq!(decode_fields(&encode_fields(&paths)), paths);
        let fields = encode_fields(&paths);
        assert!(
            fields["f:metadata"]["f:finalizers"]
                .get("v:\"a\"")
                .is_some(),
            "{fields}"
        );
        let c = &fields["f:spec"]["f:template"]["f:spec"]["f:containers"]["k:{\"name\":\"c\"}"];
        assert_eq!(c["f:args"], json!({}), "args is atomic: {fields}");
    }
}
