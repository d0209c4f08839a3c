//! The object store: every object as JSON, one global resourceVersion counter, and a bounded
//! history of changes that watches replay and follow.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};
use tokio::sync::broadcast;

use crate::error::ApiError;
use crate::resources::ResourceDef;

/// Changes kept for watches; a watch from an older resourceVersion gets 410 Gone, like an
/// API server whose etcd history was compacted.
const HISTORY: usize = 4096;

/// One change, as a watch stream reports it.
#[derive(Debug, Clone)]
pub struct WatchEvent {
    pub rv: u64,
    pub resource: &'static str,
    pub namespace: String,
    pub event_type: &'static str,
    pub object: Value,
}

pub struct Store {
    objects: BTreeMap<&'static str, BTreeMap<(String, String), Value>>,
    declared_namespaces: BTreeSet<String>,
    /// Labels of declared namespaces (see `namespaces`).
    namespace_labels: BTreeMap<String, serde_json::Map<String, Value>>,
    rv: u64,
    uids: u64,
    history: VecDeque<Arc<WatchEvent>>,
    tx: broadcast::Sender<Arc<WatchEvent>>,
    /// When the store was made: the creation time of the implicit namespaces.
    created: String,
}

impl Default for Store {
    fn default() -> Self {
        Store {
            objects: BTreeMap::new(),
            declared_namespaces: ["default", "kube-system", "metallb-system"]
                .map(String::from)
                .into(),
            namespace_labels: BTreeMap::new(),
            rv: 100,
            uids: 0,
            history: VecDeque::new(),
            tx: broadcast::channel(HISTORY).0,
            created: now_rfc3339(),
        }
    }
}

fn meta<'a>(obj: &'a Value, field: &str) -> &'a str {
    obj.get("metadata")
        .and_then(|m| m.get(field))
        .and_then(Value::as_str)
        .unwrap_or("")
}

impl Store {
    /// A copy for a dry run: same objects and counters, but no history and no watchers, so
    /// nothing done to it is ever seen.
    pub fn snapshot(&self) -> Store {
        Store {
            objects: self.objects.clone(),
            declared_namespaces: self.declared_namespaces.clone(),
            namespace_labels: self.namespace_labels.clone(),
            rv: self.rv,
            uids: self.uids,
            history: VecDeque::new(),
            tx: broadcast::channel(1).0,
            created: self.created.clone(),
        }
    }

    pub fn created(&self) -> &str {
        &self.created
    }

    pub fn resource_version(&self) -> u64 {
        self.rv
    }

    pub fn get(&self, def: &ResourceDef, ns: &str, name: &str) -> Option<&Value> {
        self.objects
            .get(def.plural)?
            .get(&(ns.to_string(), name.to_string()))
    }

    /// Objects of one kind, in one namespace or all, ordered by namespace then name.
    pub fn list(&self, def: &ResourceDef, ns: Option<&str>) -> Vec<&Value> {
        self.objects
            .get(def.plural)
            .into_iter()
            .flat_map(|m| m.iter())
            .filter(|((n, _), _)| ns.is_none_or(|want| want == n))
            .map(|(_, v)| v)
            .collect()
    }

    /// Namespaces exist implicitly: the defaults, declared ones, and any that holds an object.
    pub fn namespaces(&self) -> BTreeSet<String> {
        let mut all = self.declared_namespaces.clone();
        for m in self.objects.values() {
            all.extend(m.keys().map(|(ns, _)| ns.clone()));
        }
        all
    }

    pub fn declare_namespace(&mut self, ns: &str) {
        self.declared_namespaces.insert(ns.to_string());
    }

    /// The labels a namespace was given (without `kubernetes.io/metadata.name`).
    pub fn declared_labels(&self, ns: &str) -> Option<&serde_json::Map<String, Value>> {
        self.namespace_labels.get(ns)
    }

    pub fn set_namespace_labels(&mut self, ns: &str, labels: serde_json::Map<String, Value>) {
        self.namespace_labels.insert(ns.to_string(), labels);
    }

    /// Stores a new object, filling the server-owned metadata (kept when a seed provides it).
    pub fn insert(&mut self, def: &'static ResourceDef, mut obj: Value) -> Result<Value, ApiError> {
        let (ns, name) = (
            meta(&obj, "namespace").to_string(),
            meta(&obj, "name").to_string(),
        );
        if name.is_empty() {
            return Err(ApiError::invalid(
                &def.qualified(),
                "",
                "metadata.name: Required value: name or generateName is required",
            ));
        }
        if self.get(def, &ns, &name).is_some() {
            return Err(ApiError::already_exists(&def.qualified(), &name));
        }
        self.uids += 1;
        self.rv += 1;
        obj["apiVersion"] = json!(def.api_version());
        obj["kind"] = json!(def.kind);
        let m = &mut obj["metadata"];
        if m.get("uid").is_none() {
            m["uid"] = json!(format!("00000000-0000-4000-8000-{:012x}", self.uids));
        }
        if m.get("creationTimestamp").is_none_or(Value::is_null) {
            m["creationTimestamp"] = json!(now_rfc3339());
        }
        m["resourceVersion"] = json!(self.rv.to_string());
        m["generation"] = json!(1);
        self.objects
            .entry(def.plural)
            .or_default()
            .insert((ns, name), obj.clone());
        self.record(def, "ADDED", &obj);
        Ok(obj)
    }

    /// Replaces an existing object with a new version: a new resourceVersion, and a new
    /// generation when the spec changed. Returns the stored object.
    pub fn replace(&mut self, def: &'static ResourceDef, mut obj: Value) -> Value {
        let key = (
            meta(&obj, "namespace").to_string(),
            meta(&obj, "name").to_string(),
        );
        let old = self
            .objects
            .entry(def.plural)
            .or_default()
            .get(&key)
            .cloned()
            .unwrap_or(Value::Null);
        self.rv += 1;
        let generation = old
            .pointer("/metadata/generation")
            .and_then(Value::as_i64)
            .unwrap_or(1);
        let bump = i64::from(old.get("spec") != obj.get("spec"));
        obj["apiVersion"] = json!(def.api_version());
        obj["kind"] = json!(def.kind);
        for field in ["uid", "creationTimestamp"] {
            if let Some(v) = old.get("metadata").and_then(|m| m.get(field)) {
                obj["metadata"][field] = v.clone();
            }
        }
        obj["metadata"]["generation"] = json!(generation + bump);
        obj["metadata"]["resourceVersion"] = json!(self.rv.to_string());
        self.objects
            .entry(def.plural)
            .or_default()
            .insert(key, obj.clone());
        self.record(def, "MODIFIED", &obj);
        obj
    }

    pub fn remove(&mut self, def: &'static ResourceDef, ns: &str, name: &str) -> Option<Value> {
        let mut obj = self
            .objects
            .get_mut(def.plural)?
            .remove(&(ns.to_string(), name.to_string()))?;
        self.rv += 1;
        obj["metadata"]["resourceVersion"] = json!(self.rv.to_string());
        self.record(def, "DELETED", &obj);
        Some(obj)
    }

    fn record(&mut self, def: &'static ResourceDef, event_type: &'static str, obj: &Value) {
        let ev = Arc::new(WatchEvent {
            rv: self.rv,
            resource: def.plural,
            namespace: meta(obj, "namespace").to_string(),
            event_type,
            object: obj.clone(),
        });
        if self.history.len() == HISTORY {
            self.history.pop_front();
        }
        self.history.push_back(ev.clone());
        // Nobody listening is fine.
        let _ = self.tx.send(ev);
    }

    /// Subscribes to future changes. Call it under the same lock as [`Store::since`] so that
    /// nothing falls between the replayed history and the live stream.
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<WatchEvent>> {
        self.tx.subscribe()
    }

    /// The oldest resourceVersion still in the kept history: watches and continue tokens
    /// from before it are expired (as after an etcd compaction).
    pub fn compacted_before(&self) -> u64 {
        self.history.front().map_or(self.rv, |e| e.rv - 1)
    }

    /// Changes after `rv`, or `None` when that version is older than the kept history.
    pub fn since(&self, rv: u64) -> Option<Vec<Arc<WatchEvent>>> {
        if rv < self.compacted_before() {
            return None;
        }
        Some(self.history.iter().filter(|e| e.rv > rv).cloned().collect())
    }
}

/// The current UTC time as RFC 3339 with seconds, the way Kubernetes timestamps look.
pub fn now_rfc3339() -> String {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let (days, rem) = (secs / 86_400, secs % 86_400);
    // Civil-from-days (Howard Hinnant's algorithm), so no date crate is needed.
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resources::SERVICES;

    #[test]
    fn versions_history_and_gone() {
        let mut s = Store::default();
        let a = s
            .insert(
                SERVICES,
                json!({"metadata": {"name": "a", "namespace": "n"}, "spec": {"x": 1}}),
            )
            .unwrap();
        let rv_a: u64 = a["metadata"]["resourceVersion"]
            .as_str()
            .unwrap()
            .parse()
            .unwrap();
        assert_eq!(a["kind"], "Service");
        assert!(s.insert(SERVICES, a.clone()).is_err());
        let mut b = a.clone();
        b["spec"]["x"] = json!(2);
        let b = s.replace(SERVICES, b);
        assert_eq!(b["metadata"]["generation"], 2);
        assert_eq!(b["metadata"]["uid"], a["metadata"]["uid"]);
        let ev = s.since(rv_a).unwrap();
        assert_eq!(ev.len(), 1);
        assert_eq!(ev[0].event_type, "MODIFIED");
        assert!(s.since(1).is_none());
        assert!(s.remove(SERVICES, "n", "a").is_some());
        assert!(s.namespaces().contains("metallb-system"));
    }

    #[test]
    fn timestamp_shape() {
        let t = now_rfc3339();
        assert_eq!(t.len(), 20);
        assert!(t.starts_with("20") && t.ends_with('Z'));
    }
}
