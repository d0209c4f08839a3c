//! `state: facts`: the registry as Ansible facts; no cluster.
//!
//! `ansible_facts.lbip.services.<id>` holds every entry, and the flat `<id>_loadbalancer_ip`
//! variables of the old hand-kept vars file are facts too, so templates written against it
//! (`{{ mlflow_loadbalancer_ip }}`) keep working unchanged.

use super::args::ModuleArgs;
use super::result::ModuleResult;
use super::valid_registry;
use crate::registry::export::ansible_vars::var_name;
use crate::registry::{Entry, Registry};
use serde_json::{Map, Value, json};

pub fn run(args: &ModuleArgs) -> ModuleResult {
    let (registry, warnings, path) = match valid_registry(args) {
        Ok(r) => r,
        Err(failed) => return *failed,
    };
    // Every cluster's addresses, or one cluster's with option `cluster`.
    let registry = match &args.cluster {
        Some(name) => match registry.view_named(
            Some(name),
            "facts need to know which one: set option cluster",
        ) {
            Ok(view) => view,
            Err(msg) => return ModuleResult::fail(msg),
        },
        None => registry,
    };
    let mut result = ModuleResult::ok(format!(
        "{} service(s) from {path} as facts",
        registry.services.len()
    ))
    .with_findings(warnings);
    result.ansible_facts = Some(facts(&registry, &path));
    result
}

/// The facts: `lbip` plus the flat variables.
pub fn facts(registry: &Registry, path: &str) -> Map<String, Value> {
    let services: Map<String, Value> = registry
        .services
        .iter()
        .map(|e| (e.id().to_string(), entry_fact(e)))
        .collect();
    let mut facts = Map::new();
    facts.insert(
        "lbip".to_string(),
        json!({
            "registry": path,
            "annotation_prefix": registry.prefix.as_str(),
            "services": services,
        }),
    );
    // The same variables, named the same way, as `lbip export ansible-vars` writes.
    for entry in &registry.services {
        let var = var_name(entry.id());
        let ips: Vec<String> = entry.ip_values().iter().map(ToString::to_string).collect();
        if let Some(primary) = ips.first() {
            facts.insert(format!("{var}_loadbalancer_ip"), json!(primary));
        }
        if ips.len() > 1 {
            facts.insert(format!("{var}_loadbalancer_ips"), json!(ips));
        }
    }
    facts
}

fn entry_fact(e: &Entry) -> Value {
    let ips: Vec<String> = e.ip_values().iter().map(ToString::to_string).collect();
    let ports: Vec<Value> = e
        .ports
        .iter()
        .map(|p| json!({"port": p.value.port, "protocol": p.value.protocol.as_str()}))
        .collect();
    json!({
        "id": e.id(),
        "ip": e.primary_ip().map(|ip| ip.to_string()),
        "ips": ips,
        "namespace": e.namespace(),
        "name": e.name(),
        "hostname": e.hostname(),
        "url": e.url(),
        "ports": ports,
        "block": e.block.as_ref().map(|b| b.value.clone()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::Loaded;

    const REGISTRY: &str = "\
pools:
  - name: homelab
    addresses: [\"192.168.1.200-192.168.1.250\"]
services:
  mlflow:
    namespace: mlflow
    ip: 192.168.1.215
    ports: [5000]
    hostname: mlflow.test
  financial-seldon-mesh:
    namespace: financial-inference
    name: seldon-mesh
    ip: 192.168.1.221
    ports: [80]
";

    #[test]
    fn facts_hold_every_entry_and_the_old_flat_variables() {
        let loaded = Loaded::from_text(REGISTRY, "lbip.yaml").unwrap();
        let registry = loaded.require_valid().unwrap();
        let f = facts(&registry, "lbip.yaml");
        assert_eq!(f["mlflow_loadbalancer_ip"], json!("192.168.1.215"));
        assert_eq!(
            f["financial_seldon_mesh_loadbalancer_ip"],
            json!("192.168.1.221")
        );
        let mlflow = &f["lbip"]["services"]["mlflow"];
        assert_eq!(mlflow["ips"], json!(["192.168.1.215"]));
        assert_eq!(mlflow["url"], json!("http://mlflow.test:5000"));
        assert_eq!(mlflow["ports"], json!([{"port": 5000, "protocol": "TCP"}]));
        let mesh = &f["lbip"]["services"]["financial-seldon-mesh"];
        assert_eq!(mesh["name"], json!("seldon-mesh"));
        assert_eq!(mesh["namespace"], json!("financial-inference"));
        assert_eq!(mesh["hostname"], Value::Null);
        assert_eq!(mesh["url"], json!("http://192.168.1.221"));
        assert!(f.get("mlflow_loadbalancer_ips").is_none(), "single-stack");
    }

    #[test]
    fn dual_stack_entries_also_get_the_ips_list() {
        let text = REGISTRY
            .replace(
                "[\"192.168.1.200-192.168.1.250\"]",
                "[\"192.168.1.200-192.168.1.250\", \"fd00::200-fd00::250\"]",
            )
            .replace("ip: 192.168.1.215", "ips: [fd00::215, 192.168.1.215]");
        let registry = Loaded::from_text(&text, "lbip.yaml")
            .unwrap()
            .require_valid()
            .unwrap();
        let f = facts(&registry, "lbip.yaml");
        assert_eq!(f["mlflow_loadbalancer_ip"], json!("192.168.1.215"));
        assert_eq!(
            f["mlflow_loadbalancer_ips"],
            json!(["192.168.1.215", "fd00::215"])
        );
        assert_eq!(
            f["lbip"]["services"]["mlflow"]["ips"],
            json!(["192.168.1.215", "fd00::215"])
        );
    }
}
