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
use crate::ssa;
use crate::store::Store;

/// A PATCH: its type and body, whether it targets `/status`, the field manager, and (for
/// server-side apply) whether to take over conflicting fields.
pub struct PatchRequest<'a> {
    pub ty: PatchType,
    pub body: &'a Value,
    pub status: bool,
    pub manager: Option<&'a str>,
    pub force: bool,
}

/// The field manager of a write that names none (a real API server derives it from the
/// User-Agent, which the HTTP front passes when there is one).
const UNKNOWN_MANAGER: &str = "unknown";

/// Who owns what after a write to the main resource.
enum Ownership<'a> {
    /// An update by this manager: it takes the fields it changed.
    Update(&'a str),
    /// Server-side apply already worked out `metadata.managedFields`.
    Applied,
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
        self.prepare_create(def, ns, &mut obj)?;
        if let Some(m) = obj["metadata"].as_object_mut() {
            m.remove("managedFields");
        }
        ssa::record_update(None, &mut obj, manager.unwrap_or(UNKNOWN_MANAGER));
        self.insert_new(def, ns, obj)
    }

    /// What the server does to a new object before anything else: the namespace from the
    /// URL, a name from generateName, server-owned metadata and status dropped.
    fn prepare_create(
        &mut self,
        def: &'static ResourceDef,
        ns: &str,
        obj: &mut Value,
    ) -> Result<(), ApiError> {
        if !obj.is_object() {
            return Err(ApiError::bad_request(
                "the body of the request must be an object",
            ));
        }
        let body_ns = meta_str(obj, "namespace");
        if !body_ns.is_empty() && body_ns != ns {
            return Err(ApiError::bad_request(
                "the namespace of the provided object does not match the namespace sent on the request",
            ));
        }
        obj["metadata"]["namespace"] = json!(ns);
        obj["apiVersion"] = json!(def.api_version());
        if meta_str(obj, "name").is_empty() && !meta_str(obj, "generateName").is_empty() {
            let name = format!(
                "{}{:05x}",
                meta_str(obj, "generateName"),
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
        Ok(())
    }

    /// The end of every create: defaults, admission, storage, controllers.
    fn insert_new(
        &mut self,
        def: &'static ResourceDef,
        ns: &str,
        mut obj: Value,
    ) -> Result<Value, ApiError> {
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
        manager: Option<&str>,
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
        let manager = manager.unwrap_or(UNKNOWN_MANAGER);
        self.write(def, current, obj, status, Ownership::Update(manager))
            .map(|(v, _)| v)
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
            force,
        } = req;
        if ty == PatchType::Strategic && !def.builtin() {
            return Err(ApiError::new(
                415,
                "UnsupportedMediaType",
                "the body of the request was in an unknown format - accepted media types include: \
                 application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml",
            ));
        }
        let existing = self.store.get(def, ns, name).cloned();
        if let (Some(current), Some(rv)) = (
            &existing,
            patch
                .pointer("/metadata/resourceVersion")
                .and_then(Value::as_str),
        ) && rv != meta_str(current, "resourceVersion")
        {
            return Err(ApiError::conflict(&def.qualified(), name));
        }
        if ty == PatchType::Apply && !status {
            // Server-side apply: an upsert with field ownership (see `ssa`).
            let mut config = patch.clone();
            if let Some(m) = config["metadata"].as_object_mut() {
                m.remove("managedFields");
                m.remove("resourceVersion");
            }
            let manager = manager.unwrap_or_default();
            let obj = ssa::apply(
                existing.as_ref(),
                &config,
                manager,
                force,
                &def.qualified(),
                name,
            )?;
            return match existing {
                None => {
                    let mut obj = obj;
                    obj["metadata"]["name"] = json!(name);
                    self.prepare_create(def, ns, &mut obj)?;
                    self.insert_new(def, ns, obj).map(|v| (v, true))
                }
                Some(current) => self
                    .write(def, current, obj, false, Ownership::Applied)
                    .map(|(v, _)| (v, false)),
            };
        }
        let Some(current) = existing else {
            return Err(ApiError::not_found(&def.qualified(), name));
        };
        let mut doc = current.clone();
        patch::apply(&mut doc, ty, patch)?;
        let manager = manager.unwrap_or(UNKNOWN_MANAGER);
        self.write(def, current, doc, status, Ownership::Update(manager))
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
        ownership: Ownership,
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
        // Status writes and updates keep the stored ownership (clients cannot rewrite it
        // here); an apply brings its own.
        if status || matches!(ownership, Ownership::Update(_)) {
            match current.pointer("/metadata/managedFields") {
                Some(m) => obj["metadata"]["managedFields"] = m.clone(),
                None => {
                    obj["metadata"]
                        .as_object_mut()
                        .map(|m| m.remove("managedFields"));
                }
            }
        }
        self.defaults(def, &mut obj, Some(&current));
        if ssa::same_ignoring_times(&obj, &current) {
            return Ok((current, false));
        }
        if let (false, Ownership::Update(m)) = (status, ownership) {
            ssa::record_update(Some(&current), &mut obj, m);
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
        crate::generic::defaults(def, obj);
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
        drop_type_dependent_fields(spec, &old_spec, &ty);
        let old_ports = ports_of(&old_spec);
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

/// A Service spec's ports (none when it has no list).
fn ports_of(spec: &Value) -> Vec<Value> {
    spec.get("ports")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default()
}

/// When a Service's type changes, the API server drops the fields the new type does not
/// allow if they were only carried over from the old version (`dropTypeDependentFields` in
/// pkg/registry/core/service/strategy.go): node ports and the external traffic policy when it
/// stops being NodePort or LoadBalancer, the LoadBalancer-only fields when it stops being one.
fn drop_type_dependent_fields(spec: &mut Value, old_spec: &Value, ty: &str) {
    let old_ty = old_spec
        .get("type")
        .and_then(Value::as_str)
        .unwrap_or("ClusterIP");
    if old_ty == ty {
        return;
    }
    let unchanged = |spec: &Value, field: &str| spec.get(field) == old_spec.get(field);
    let external = |t: &str| t == "LoadBalancer" || t == "NodePort";
    if external(old_ty) && !external(ty) {
        let old_ports = ports_of(old_spec);
        if let Some(ports) = spec.get_mut("ports").and_then(Value::as_array_mut) {
            for p in ports {
                let carried = old_ports
                    .iter()
                    .any(|o| o["port"] == p["port"] && o.get("nodePort") == p.get("nodePort"));
                if carried && let Some(m) = p.as_object_mut() {
                    m.remove("nodePort");
                }
            }
        }
        for field in ["externalTrafficPolicy", "healthCheckNodePort"] {
            if unchanged(spec, field) {
                spec.as_object_mut().map(|m| m.remove(field));
            }
        }
    }
    if old_ty == "LoadBalancer" && ty != "LoadBalancer" {
        for field in ["allocateLoadBalancerNodePorts", "loadBalancerClass"] {
            if unchanged(spec, field) {
                spec.as_object_mut().map(|m| m.remove(field));
            }
        }
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
            force: false,
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
