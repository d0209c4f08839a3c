//! Reads: one LIST per kind (per selected namespace when the scope names namespaces),
//! whatever the number of Services.

use super::connect::Connection;
use super::error::{ClusterError, Op};
use crate::plan::Scope;
use crate::plan::observed::{
    MetallbInstall, Observed, ObservedAdvertisement, ObservedEvent, ObservedPool, ObservedService,
};
use k8s_openapi::api::apps::v1::{DaemonSet, Deployment};
use k8s_openapi::api::core::v1::{Event, Service};
use kube::api::{Api, DynamicObject, ListParams};
use kube::discovery::ApiResource;
use serde_json::Value;
use std::collections::BTreeMap;

#[derive(Debug, Clone, Default)]
pub struct ObserveOptions {
    pub scope: Scope,
    /// Read Services in every namespace even when the scope names some, so a command that
    /// moves IPs sees who holds them elsewhere (apply, reassign).
    pub all_services: bool,
    pub events: bool,
    /// The doctor's extra reads: advertisements, the MetalLB Deployment, ServiceLB.
    pub environment: bool,
}

fn metallb_resource(kind: &str, plural: &str) -> ApiResource {
    ApiResource {
        group: "metallb.io".into(),
        version: "v1beta1".into(),
        api_version: "metallb.io/v1beta1".into(),
        kind: kind.into(),
        plural: plural.into(),
    }
}

/// Lists `K` in every namespace, or once per namespace of the scope.
async fn list<K>(
    conn: &Connection,
    scope_namespaces: Option<&Vec<String>>,
    resource: &str,
    make: impl Fn(Option<&str>) -> Api<K>,
) -> Result<Vec<K>, ClusterError>
where
    K: Clone + serde::de::DeserializeOwned + std::fmt::Debug,
{
    list_with(
        conn,
        scope_namespaces,
        resource,
        &ListParams::default(),
        make,
    )
    .await
}

async fn list_with<K>(
    conn: &Connection,
    scope_namespaces: Option<&Vec<String>>,
    resource: &str,
    lp: &ListParams,
    make: impl Fn(Option<&str>) -> Api<K>,
) -> Result<Vec<K>, ClusterError>
where
    K: Clone + serde::de::DeserializeOwned + std::fmt::Debug,
{
    match scope_namespaces {
        None => make(None)
            .list(lp)
            .await
            .map(|l| l.items)
            .map_err(|e| conn.error(e, Op::new("list", resource, None))),
        Some(namespaces) => {
            let mut out = Vec::new();
            for ns in namespaces {
                let items = make(Some(ns))
                    .list(lp)
                    .await
                    .map_err(|e| conn.error(e, Op::new("list", resource, Some(ns))))?;
                out.extend(items.items);
            }
            Ok(out)
        }
    }
}

/// Everything the planner needs, read from the cluster.
pub async fn observe(conn: &Connection, opts: &ObserveOptions) -> Result<Observed, ClusterError> {
    let client = &conn.client;
    let namespaces: Option<Vec<String>> = opts
        .scope
        .namespaces
        .as_ref()
        .map(|set| set.iter().cloned().collect());
    let service_namespaces = if opts.all_services {
        None
    } else {
        namespaces.as_ref()
    };
    let services: Vec<Service> = list(conn, service_namespaces, "services", |ns| match ns {
        Some(ns) => Api::namespaced(client.clone(), ns),
        None => Api::all(client.clone()),
    })
    .await?;
    let mut observed = Observed::new(
        opts.scope.clone(),
        services.iter().map(ObservedService::from_k8s).collect(),
    );
    let pools_ar = metallb_resource("IPAddressPool", "ipaddresspools");
    let pools = list(conn, None, "ipaddresspools.metallb.io", |_| {
        Api::<DynamicObject>::all_with(client.clone(), &pools_ar)
    })
    .await;
    observed.pools = match pools {
        Ok(items) => Some(items.iter().map(pool).collect()),
        // No MetalLB CRDs: nothing to read, which doctor reports.
        Err(e) if e.is_not_found() => None,
        Err(e) => return Err(e),
    };
    if opts.events {
        // Only events about Services: the server filters, so busy clusters stay cheap.
        let about_services = ListParams::default().fields("involvedObject.kind=Service");
        let events: Vec<Event> = list_with(
            conn,
            namespaces.as_ref(),
            "events",
            &about_services,
            |ns| match ns {
                Some(ns) => Api::namespaced(client.clone(), ns),
                None => Api::all(client.clone()),
            },
        )
        .await?;
        observed.events = events.iter().filter_map(ObservedEvent::from_k8s).collect();
    }
    if opts.environment {
        read_environment(conn, &mut observed).await?;
    }
    Ok(observed)
}

async fn read_environment(conn: &Connection, observed: &mut Observed) -> Result<(), ClusterError> {
    let client = &conn.client;
    if observed.pools.is_some() {
        for (kind, plural) in [
            ("L2Advertisement", "l2advertisements"),
            ("BGPAdvertisement", "bgpadvertisements"),
        ] {
            let ar = metallb_resource(kind, plural);
            let items = list(conn, None, &format!("{plural}.metallb.io"), |_| {
                Api::<DynamicObject>::all_with(client.clone(), &ar)
            })
            .await;
            match items {
                Ok(items) => observed
                    .advertisements
                    .extend(items.iter().map(|o| advertisement(kind, o))),
                Err(e) if e.is_not_found() => {}
                Err(e) => return Err(e),
            }
        }
    }
    let deployments: Vec<Deployment> =
        list(conn, None, "deployments.apps", |_| Api::all(client.clone())).await?;
    observed.metallb = deployments.iter().find_map(metallb_controller);
    let daemonsets: Vec<DaemonSet> = list(
        conn,
        Some(&vec!["kube-system".to_string()]),
        "daemonsets.apps",
        |ns| Api::namespaced(client.clone(), ns.unwrap_or("kube-system")),
    )
    .await?;
    observed.servicelb = daemonsets
        .iter()
        .filter(|d| {
            d.metadata
                .name
                .as_deref()
                .is_some_and(|n| n.starts_with("svclb-"))
        })
        .map(|d| {
            format!(
                "kube-system/{}",
                d.metadata.name.clone().unwrap_or_default()
            )
        })
        .collect();
    Ok(())
}

/// The MetalLB controller: a Deployment running a `metallb/controller` image.
fn metallb_controller(d: &Deployment) -> Option<MetallbInstall> {
    let containers = &d.spec.template.spec.as_ref()?.containers;
    let image = containers
        .iter()
        .filter_map(|c| c.image.clone())
        .find(|i| i.contains("metallb/controller") || i.contains("metallb-controller"))?;
    let tag = image
        .rsplit_once(':')
        .map(|(_, t)| t.to_string())
        .filter(|t| !t.contains('/'));
    let version = tag.filter(|t| crate::metallb::Reader::for_version(t).is_some());
    Some(MetallbInstall {
        namespace: d.metadata.namespace.clone().unwrap_or_default(),
        deployment: d.metadata.name.clone().unwrap_or_default(),
        image,
        version,
    })
}

fn strings(v: Option<&Value>) -> Vec<String> {
    v.and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|s| s.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default()
}

fn string_map(v: Option<&Value>) -> BTreeMap<String, String> {
    v.and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| v.as_str().map(|s| (k.clone(), s.to_string())))
                .collect()
        })
        .unwrap_or_default()
}

fn pool(o: &DynamicObject) -> ObservedPool {
    let spec = o.data.get("spec");
    ObservedPool {
        namespace: o.metadata.namespace.clone().unwrap_or_default(),
        name: o.metadata.name.clone().unwrap_or_default(),
        addresses: strings(spec.and_then(|s| s.get("addresses"))),
        auto_assign: spec
            .and_then(|s| s.get("autoAssign"))
            .and_then(Value::as_bool)
            .unwrap_or(true),
        avoid_buggy_ips: spec
            .and_then(|s| s.get("avoidBuggyIPs"))
            .and_then(Value::as_bool)
            .unwrap_or(false),
        service_allocation: spec
            .and_then(|s| s.get("serviceAllocation"))
            .is_some_and(|v| !v.is_null()),
        labels: o.metadata.labels.clone().unwrap_or_default(),
    }
}

fn advertisement(kind: &str, o: &DynamicObject) -> ObservedAdvertisement {
    let spec = o.data.get("spec");
    ObservedAdvertisement {
        kind: kind.to_string(),
        namespace: o.metadata.namespace.clone().unwrap_or_default(),
        name: o.metadata.name.clone().unwrap_or_default(),
        pools: strings(spec.and_then(|s| s.get("ipAddressPools"))),
        pool_selectors: spec
            .and_then(|s| s.get("ipAddressPoolSelectors"))
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .map(|sel| string_map(sel.get("matchLabels")))
                    .collect()
            })
            .unwrap_or_default(),
    }
}
