//! API semantics on top of the store: what create, update, patch and delete do to an object
//! (defaults, status subresource, resourceVersion checks, admission), and which simulated
//! controllers react afterwards.

use serde_json::{Value, json};

use crate::error::ApiError;
use crate::metallb::allocator::Pool;
use crate::metallb::controller::{MetalLb, load_pools};
use crate::metallb::{self, MetallbVersion};
use crate::patch::{self, PatchType};
use crate::resources::{POOLS, ResourceDef, SERVICES};
use crate::servicelb::ServiceLb;
use crate::store::{Store, now_rfc3339};

/// A PATCH: its type and body, whether it targets `/status`, and the field manager.
pub struct PatchRequest<'a> {
    pub ty: PatchType,
    pub body: &'a Value,
    pub status: bool,
    pub manager: Option<&'a str>,
}

pub struct State {
    pub store: Store,
    pub metallb: Option<MetalLb>,
    pub servicelb: Option<ServiceLb>,
    /// MetalLB's validating webhook for pools; on whenever MetalLB runs.
    pool_webhook: bool,
    next_cluster_ip: u32,
    next_node_port: u32,
}

fn meta_str<'a>(obj: &'a Value, field: &str) -> &'a str {
    obj.get("metadata")
        .and_then(|m| m.get(field))
        .and_then(Value::as_str)
        .unwrap_or("")
}

impl State {
    pub fn new(metallb: Option<MetallbVersion>, servicelb: Option<ServiceLb>) -> State {
        State {
            store: Store::default(),
            pool_webhook: metallb.is_some(),
            metallb: metallb.map(MetalLb::new),
            servicelb,
            next_cluster_ip: 10,
            next_node_port: 30000,
        }
    }

    /// A throw-away copy for `dryRun=All`: admission runs, controllers do not, and nothing
    /// reaches the real store or its watchers.
    pub fn dry_run_copy(&self) -> State {
        State {
            store: self.store.snapshot(),
            metallb: None,
            servicelb: None,
            pool_webhook: self.pool_webhook,
            next_cluster_ip: self.next_cluster_ip,
            next_node_port: self.next_node_port,
        }
    }

    pub fn create(
        &mut self,
        def: &'static ResourceDef,
        ns: &str,
        mut obj: Value,
        manager: Option<&str>,
    ) -> Result<Value, ApiError> {
        if !obj.is_object() {
            return Err(ApiError::bad_request(
                "the body of the request must be an object",
            ));
        }
        let body_ns = meta_str(&obj, "namespace");
        if !body_ns.is_empty() && body_ns != ns {
            return Err(ApiError::bad_request(
                "the namespace of the provided object does not match the namespace sent on the request",
            ));
        }
        obj["metadata"]["namespace"] = json!(ns);
        obj["apiVersion"] = json!(def.api_version());
        if meta_str(&obj, "name").is_empty() && !meta_str(&obj, "generateName").is_empty() {
            let name = format!(
                "{}{:05x}",
                meta_str(&obj, "generateName"),
                self.store.resource_version() + 1
            );
            obj["metadata"]["name"] = json!(name);
        }
        if let Some(m) = obj["metadata"].as_object_mut() {
            m.remove("resourceVersion");
            m.remove("uid");
            m.remove("creationTimestamp");
        }
        if def.status
            && let Some(m) = obj.as_object_mut()
        {
            // Like the real API server, a create never sets status.
            m.remove("status");
        }
        record_manager(&mut obj, manager, "Update");
        self.defaults(def, &mut obj, None);
        self.admit(def, &obj)?;
        let created = self.store.insert(def, obj)?;
        self.react(def, ns, meta_str(&created, "name"), false);
        Ok(created)
    }

    pub fn update(
        &mut self,
        def: &'static ResourceDef,
        ns: &str,
        name: &str,
        mut obj: Value,
        status: bool,
    ) -> Result<Value, ApiError> {
        let current = self.get(def, ns, name)?;
        if meta_str(&obj, "name") != name {
            return Err(ApiError::bad_request(
                "the name of the object does not match the name on the URL",
            ));
        }
        let rv = meta_str(&obj, "resourceVersion");
        if !rv.is_empty() && rv != meta_str(&current, "resourceVersion") {
            return Err(ApiError::conflict(&def.qualified(), name));
        }
        obj["metadata"]["namespace"] = json!(ns);
        self.write(def, current, obj, status, None).map(|(v, _)| v)
    }

    /// Returns the object and whether it was created (server-side apply is an upsert).
    pub fn patch(
        &mut self,
        def: &'static ResourceDef,
        ns: &str,
        name: &str,
        req: PatchRequest,
    ) -> Result<(Value, bool), ApiError> {
        let PatchRequest {
            ty,
            body: patch,
            status,
            manager,
        } = req;
        if ty == PatchType::Strategic && !def.builtin() {
            return Err(ApiError::new(
                415,
                "UnsupportedMediaType",
                "the body of the request was in an unknown format - accepted media types include: \
                 application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml",
            ));
        }
        let current = match (self.store.get(def, ns, name).cloned(), ty) {
            (Some(c), _) => c,
            (None, PatchType::Apply) if !status => {
                let mut obj = patch.clone();
                obj["metadata"]["name"] = json!(name);
                return self.create(def, ns, obj, manager).map(|v| (v, true));
            }
            (None, _) => return Err(ApiError::not_found(&def.qualified(), name)),
        };
        if let Some(rv) = patch
            .pointer("/metadata/resourceVersion")
            .and_then(Value::as_str)
            && rv != meta_str(&current, "resourceVersion")
        {
            return Err(ApiError::conflict(&def.qualified(), name));
        }
        let mut doc = current.clone();
        patch::apply(&mut doc, ty, patch)?;
        let op = if ty == PatchType::Apply {
            "Apply"
        } else {
            "Update"
        };
        self.write(def, current, doc, status, manager.map(|m| (m, op)))
            .map(|(v, _)| (v, false))
    }

    /// Stores `next` as the new version of `current`: only status through the status
    /// subresource, everything but status otherwise. A no-op write is not stored.
    fn write(
        &mut self,
        def: &'static ResourceDef,
        current: Value,
        next: Value,
        status: bool,
        manager: Option<(&str, &str)>,
    ) -> Result<(Value, bool), ApiError> {
        let mut obj = if status {
            let mut o = current.clone();
            o["status"] = next.get("status").cloned().unwrap_or(json!({}));
            o
        } else {
            let mut o = next;
            if def.status {
                match current.get("status") {
                    Some(s) => o["status"] = s.clone(),
                    None => {
                        o.as_object_mut().map(|m| m.remove("status"));
                    }
                }
            }
            o
        };
        obj["metadata"]["resourceVersion"] = current["metadata"]["resourceVersion"].clone();
        self.defaults(def, &mut obj, Some(&current));
        if obj == current {
            return Ok((current, false));
        }
        if let Some((m, op)) = manager {
            record_manager(&mut obj, Some(m), op);
        }
        self.admit(def, &obj)?;
        let stored = self.store.replace(def, obj);
        let (ns, name) = (
            meta_str(&stored, "namespace").to_string(),
            meta_str(&stored, "name").to_string(),
        );
        self.react(def, &ns, &name, false);
        Ok((stored, true))
    }

    pub fn delete(
        &mut self,
        def: &'static ResourceDef,
        ns: &str,
        name: &str,
    ) -> Result<Value, ApiError> {
        let gone = self
            .store
            .remove(def, ns, name)
            .ok_or_else(|| ApiError::not_found(&def.qualified(), name))?;
        self.react(def, ns, name, true);
        Ok(gone)
    }

    pub fn get(&self, def: &ResourceDef, ns: &str, name: &str) -> Result<Value, ApiError> {
        self.store
            .get(def, ns, name)
            .cloned()
            .ok_or_else(|| ApiError::not_found(&def.qualified(), name))
    }

    /// Inserts an object as found in a seed file: status and metadata are kept, so a seed can
    /// describe a cluster that already runs. Controllers run later, in [`State::finish_seeding`].
    pub fn seed(&mut self, def: &'static ResourceDef, mut obj: Value) -> Result<(), ApiError> {
        if meta_str(&obj, "namespace").is_empty() {
            obj["metadata"]["namespace"] = json!("default");
        }
        self.defaults(def, &mut obj, None);
        self.admit(def, &obj)?;
        self.store.insert(def, obj).map(drop)
    }

    /// After seeding: the MetalLB controller starts (rebuilding its state from Service status)
    /// and ServiceLB, if enabled, claims every LoadBalancer Service.
    pub fn finish_seeding(&mut self) {
        if let Some(m) = self.metallb.as_mut() {
            metallb::ensure_controller_deployment(&mut self.store, m.version());
            m.restart(&mut self.store);
        }
        if let Some(s) = &self.servicelb {
            let keys: Vec<(String, String)> = self
                .store
                .list(SERVICES, None)
                .into_iter()
                .map(|v| {
                    (
                        meta_str(v, "namespace").to_string(),
                        meta_str(v, "name").to_string(),
                    )
                })
                .collect();
            for (ns, name) in keys {
                s.service_changed(&mut self.store, &ns, &name);
            }
        }
    }

    fn react(&mut self, def: &ResourceDef, ns: &str, name: &str, deleted: bool) {
        if def == SERVICES {
            if let Some(m) = self.metallb.as_mut() {
                if deleted {
                    m.service_deleted(&mut self.store, ns, name);
                } else {
                    m.service_changed(&mut self.store, ns, name);
                }
            }
            // ServiceLB reacts after MetalLB, so its node IPs are what a client reads last.
            if let Some(s) = &self.servicelb {
                if deleted {
                    s.service_deleted(&mut self.store, ns, name);
                } else {
                    s.service_changed(&mut self.store, ns, name);
                }
            }
        } else if def == POOLS
            && let Some(m) = self.metallb.as_mut()
        {
            m.resync(&mut self.store);
        }
    }

    /// Admission: MetalLB's validating webhook for IPAddressPools.
    fn admit(&self, def: &ResourceDef, obj: &Value) -> Result<(), ApiError> {
        if def != POOLS || !self.pool_webhook {
            return Ok(());
        }
        let deny = |msg: String| {
            ApiError::new(
                403,
                "Forbidden",
                format!(
                    "admission webhook \"ipaddresspoolvalidationwebhook.metallb.io\" denied the request: {msg}"
                ),
            )
        };
        if meta_str(obj, "namespace") != metallb::NAMESPACE {
            return Err(deny(format!(
                "resource must be created in {} namespace",
                metallb::NAMESPACE
            )));
        }
        let pool = Pool::parse(obj).map_err(deny)?;
        let others = load_pools(&self.store);
        pool.check_overlaps(others.iter()).map_err(deny)
    }

    /// Server-side defaults; for Services the cluster IP, families, policies and node ports,
    /// kept from the previous version on update.
    fn defaults(&mut self, def: &ResourceDef, obj: &mut Value, old: Option<&Value>) {
        if def != SERVICES {
            return;
        }
        let old_spec = old
            .and_then(|o| o.get("spec"))
            .cloned()
            .unwrap_or(json!({}));
        let spec = &mut obj["spec"];
        let keep = |spec: &mut Value, field: &str, fallback: Value| {
            if spec.get(field).is_none_or(|v| v.is_null() || v == "") {
                spec[field] = old_spec.get(field).cloned().unwrap_or(fallback);
            }
        };
        keep(spec, "type", json!("ClusterIP"));
        // Families as a dual-stack cluster defaults them: `ipFamilies` as given, else both for
        // a policy that asks for dual stack, else IPv4; one cluster IP per family.
        keep(spec, "ipFamilyPolicy", json!("SingleStack"));
        let dual = matches!(
            spec["ipFamilyPolicy"].as_str(),
            Some("RequireDualStack" | "PreferDualStack")
        );
        keep(
            spec,
            "ipFamilies",
            if dual {
                json!(["IPv4", "IPv6"])
            } else {
                json!(["IPv4"])
            },
        );
        if spec.get("clusterIP").is_none_or(|v| v.is_null() || v == "")
            && old_spec.get("clusterIP").is_none()
        {
            self.next_cluster_ip += 1;
            let n = self.next_cluster_ip;
            let ips: Vec<String> = spec["ipFamilies"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|f| match f.as_str() {
                    Some("IPv6") => format!("fd00:43::{n:x}"),
                    _ => format!("10.43.{}.{}", n / 250, n % 250 + 1),
                })
                .collect();
            spec["clusterIP"] = json!(ips.first().cloned().unwrap_or_default());
            spec["clusterIPs"] = json!(ips);
        }
        keep(spec, "clusterIP", Value::Null);
        let cip = spec["clusterIP"].clone();
        keep(spec, "clusterIPs", json!([cip]));
        keep(spec, "sessionAffinity", json!("None"));
        keep(spec, "internalTrafficPolicy", json!("Cluster"));
        let ty = spec["type"].as_str().unwrap_or_default().to_string();
        let external = ty == "LoadBalancer" || ty == "NodePort";
        if external {
            keep(spec, "externalTrafficPolicy", json!("Cluster"));
        }
        if ty == "LoadBalancer" {
            keep(spec, "allocateLoadBalancerNodePorts", json!(true));
        }
        let old_ports = old_spec
            .get("ports")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        if let Some(ports) = spec.get_mut("ports").and_then(Value::as_array_mut) {
            for p in ports {
                if p.get("protocol").is_none() {
                    p["protocol"] = json!("TCP");
                }
                if p.get("targetPort").is_none() {
                    p["targetPort"] = p["port"].clone();
                }
                if external && p.get("nodePort").is_none() {
                    let prev = old_ports
                        .iter()
                        .find(|o| o["port"] == p["port"] && o["protocol"] == p["protocol"]);
                    p["nodePort"] = match prev.and_then(|o| o.get("nodePort")) {
                        Some(np) => np.clone(),
                        None => {
                            self.next_node_port += 1;
                            json!(self.next_node_port)
                        }
                    };
                }
            }
        }
        if obj.get("status").is_none() {
            obj["status"] = json!({"loadBalancer": {}});
        }
    }
}

/// Records who wrote the object in `metadata.managedFields` (manager and operation only; field
/// ownership is not tracked).
fn record_manager(obj: &mut Value, manager: Option<&str>, operation: &str) {
    let Some(manager) = manager else { return };
    let api_version = obj.get("apiVersion").cloned().unwrap_or(Value::Null);
    let entry = json!({"manager": manager, "operation": operation, "apiVersion": api_version,
        "time": now_rfc3339(), "fieldsType": "FieldsV1",
        "fieldsV1": {}});
    let list = &mut obj["metadata"]["managedFields"];
    if !list.is_array() {
        *list = json!([]);
    }
    if let Some(items) = list.as_array_mut() {
        items.retain(|e| !(e["manager"] == manager && e["operation"] == operation));
        items.push(entry);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dry_run_leaves_the_live_state_alone() {
        let mut live = State::new(Some(MetallbVersion::default()), None);
        let svc = json!({"metadata": {"name": "a"}, "spec": {"type": "LoadBalancer", "ports": [{"port": 80}]}});
        live.create(SERVICES, "n", svc, None).unwrap();
        let rv = live.store.resource_version();
        let body = json!({"metadata": {"annotations": {"x": "y"}}});
        let req = PatchRequest {
            ty: PatchType::Merge,
            body: &body,
            status: false,
            manager: None,
        };
        let (out, _) = live.dry_run_copy().patch(SERVICES, "n", "a", req).unwrap();
        assert_eq!(out["metadata"]["annotations"]["x"], "y");
        assert_eq!(live.store.resource_version(), rv);
        assert!(
            live.store.get(SERVICES, "n", "a").unwrap()["metadata"]
                .get("annotations")
                .is_none()
        );
    }
}
