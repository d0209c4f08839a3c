//! k3s ServiceLB (klipper-lb) running next to MetalLB: for every LoadBalancer Service it
//! creates a `svclb-*` DaemonSet and writes the node IPs into the Service's status. MetalLB
//! sees those IPs as not in its config and answers `ClearAssignment`, and the two keep
//! overwriting each other: the misconfiguration a doctor command has to detect.

use serde_json::{Value, json};

use crate::events::{self, SERVICELB};
use crate::resources::{DAEMONSETS, SERVICES};
use crate::store::Store;

pub const LABEL: &str = "svccontroller.k3s.cattle.io/svcname";

pub struct ServiceLb {
    pub node_ips: Vec<String>,
}

fn daemonset_name(svc: &Value) -> String {
    let name = svc
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let uid = svc
        .pointer("/metadata/uid")
        .and_then(Value::as_str)
        .unwrap_or_default();
    // k3s appends the first 8 characters of the Service UID.
    let hash: String = uid.chars().filter(|c| *c != '-').rev().take(8).collect();
    format!("svclb-{name}-{hash}")
}

impl ServiceLb {
    pub fn service_changed(&self, store: &mut Store, ns: &str, name: &str) {
        let Some(svc) = store.get(SERVICES, ns, name).cloned() else {
            return;
        };
        let is_lb = svc.pointer("/spec/type").and_then(Value::as_str) == Some("LoadBalancer")
            && svc
                .pointer("/spec/loadBalancerClass")
                .is_none_or(Value::is_null);
        if !is_lb {
            self.service_deleted(store, ns, name);
            return;
        }
        let ds_name = daemonset_name(&svc);
        if store.get(DAEMONSETS, "kube-system", &ds_name).is_none() {
            let labels = json!({LABEL: name, "svccontroller.k3s.cattle.io/svcnamespace": ns});
            let ds = json!({
                "metadata": {"name": ds_name, "namespace": "kube-system", "labels": labels},
                "spec": {
                    "selector": {"matchLabels": {"app": ds_name}},
                    "template": {
                        "metadata": {"labels": {"app": ds_name, LABEL: name}},
                        "spec": {"containers": [{"name": "lb-tcp", "image": "rancher/klipper-lb:v0.4.9"}]},
                    },
                },
                "status": {"desiredNumberScheduled": self.node_ips.len(), "numberReady": self.node_ips.len()},
            });
            // Checked just above that the name is free.
            let _ = store.insert(DAEMONSETS, ds);
            let msg = format!("Applied LoadBalancer DaemonSet kube-system/{ds_name}");
            events::emit(store, &svc, "Normal", "AppliedDaemonSet", &msg, SERVICELB);
        }
        let ingress: Vec<Value> = self
            .node_ips
            .iter()
            .map(|ip| json!({"ip": ip, "ipMode": "VIP"}))
            .collect();
        if svc.pointer("/status/loadBalancer/ingress") != Some(&json!(ingress)) {
            let mut next = svc.clone();
            next["status"]["loadBalancer"] = json!({"ingress": ingress});
            let svc = store.replace(SERVICES, next);
            let msg = format!(
                "Updated LoadBalancer with new IPs: [] -> {:?}",
                self.node_ips
            );
            events::emit(
                store,
                &svc,
                "Normal",
                "UpdatedLoadBalancer",
                &msg,
                SERVICELB,
            );
        }
    }

    pub fn service_deleted(&self, store: &mut Store, ns: &str, name: &str) {
        let owned: Vec<String> = store
            .list(DAEMONSETS, Some("kube-system"))
            .into_iter()
            .filter(|d| {
                d.pointer(&format!("/metadata/labels/{}", LABEL.replace('/', "~1")))
                    .and_then(Value::as_str)
                    == Some(name)
                    && d.pointer("/metadata/labels/svccontroller.k3s.cattle.io~1svcnamespace")
                        .and_then(Value::as_str)
                        == Some(ns)
            })
            .filter_map(|d| {
                d.pointer("/metadata/name")
                    .and_then(Value::as_str)
                    .map(str::to_string)
            })
            .collect();
        for ds in owned {
            store.remove(DAEMONSETS, "kube-system", &ds);
        }
    }
}
