//! Reads: one paginated LIST per kind a command needs (per selected namespace when the scope
//! names namespaces), whatever the number of Services, and nothing the command does not use.
//!
//! Lists come in pages of [`PAGE_SIZE`] (kubectl's `--chunk-size` default), so a big cluster
//! is never answered in one huge response. A page asked for with a continue token the server
//! no longer knows (`410 Expired`, after an etcd compaction) makes the list start over as one
//! unpaginated LIST, as client-go's pager does.

use super::connect::Connection;
use super::error::{ClusterError, Op};
use crate::plan::Scope;
use crate::plan::observed::{
    MetallbInstall, Observed, ObservedAdvertisement, ObservedEvent, ObservedPool, ObservedService,
};
use k8s_openapi::api::apps::v1::{DaemonSet, Deployment};
use k8s_openapi::api::core::v1::{Event, Namespace, Service};
use kube::api::{Api, DynamicObject, ListParams};
use kube::discovery::ApiResource;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

/// Items per LIST request.
pub const PAGE_SIZE: u32 = 500;

/// What a command reads. Services are always read; everything else only when asked for.
#[derive(Debug, Clone, Default)]
pub struct ObserveOptions {
    pub scope: Scope,
    /// The class the load balancer answers for (registry `provider.loadBalancerClass`): it
    /// decides which LoadBalancers are its own ([`Observed::class_mismatch`]).
    pub metallb_class: Option<String>,
    /// The registry's load balancer(s): how requests are read.
    pub providers: Vec<crate::provider::ProviderKind>,
    /// Read Services in every namespace even when the scope names some, so a command that
    /// moves IPs sees who holds them elsewhere (apply, reassign).
    pub all_services: bool,
    /// IPAddressPools.
    pub pools: bool,
    /// What a planner needs to know which pool admits which Service: with `pools`, the
    /// namespaces' labels when (and only when) some pool selects namespaces by label.
    pub pool_admission: bool,
    /// Events about Services (MetalLB's reasons for a pending Service).
    pub events: bool,
    /// The MetalLB controller Deployment (its version), looked for only in the namespaces the
    /// pools live in (MetalLB's own; `metallb-system` when there are none).
    pub metallb_controller: bool,
    /// The doctor's extra reads: L2/BGP advertisements and k3s ServiceLB DaemonSets.
    pub environment: bool,
}

impl ObserveOptions {
    /// Services in `scope` and nothing else, read for the registry's load balancer(s) and
    /// class (`provider.kind`, `provider.loadBalancerClass`); add reads with the builder
    /// methods.
    pub fn new(scope: Scope, registry: &crate::registry::Registry) -> ObserveOptions {
        ObserveOptions {
            scope,
            metallb_class: registry.load_balancer_class.clone(),
            providers: registry.providers.clone(),
            ..Default::default()
        }
    }
    pub fn all_services(mut self) -> Self {
        self.all_services = true;
        self
    }
    pub fn pools(mut self) -> Self {
        self.pools = true;
        self
    }
    /// Everything a command that plans moves reads: Services everywhere, pools, admission.
    pub fn planning(mut self) -> Self {
        self.all_services = true;
        self.pools = true;
        self.pool_admission = true;
        self
    }
    pub fn events(mut self, yes: bool) -> Self {
        self.events = yes;
        self
    }
    pub fn metallb_controller(mut self) -> Self {
        self.pools = true;
        self.metallb_controller = true;
        self
    }
    pub fn environment(mut self) -> Self {
        self.environment = true;
        self.metallb_controller().events(true)
    }
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

/// Every item of one LIST, page by page.
async fn list_pages<K>(
    conn: &Connection,
    api: &Api<K>,
    params: &ListParams,
    op: &Op,
) -> Result<Vec<K>, ClusterError>
where
    K: Clone + serde::de::DeserializeOwned + std::fmt::Debug,
{
    let mut items = Vec::new();
    let mut page_params = params.clone().limit(PAGE_SIZE);
    loop {
        match api.list(&page_params).await {
            Ok(page) => {
                items.extend(page.items);
                match page.metadata.continue_ {
                    Some(token) if !token.is_empty() => {
                        page_params = page_params.continue_token(&token);
                    }
                    _ => return Ok(items),
                }
            }
            Err(kube::Error::Api(status))
                if status.code == 410 && page_params.continue_token.is_some() =>
            {
                // The pages read so far may be inconsistent with what a new token would
                // return: start over with one consistent, unpaginated list.
                return api
                    .list(params)
                    .await
                    .map(|l| l.items)
                    .map_err(|e| conn.error(e, op.clone()));
            }
            Err(e) => return Err(conn.error(e, op.clone())),
        }
    }
}

/// Lists `K` in every namespace (`None`), or once per given namespace.
async fn list<K>(
    conn: &Connection,
    namespaces: Option<&[String]>,
    resource: &str,
    params: &ListParams,
    make: impl Fn(Option<&str>) -> Api<K>,
) -> Result<Vec<K>, ClusterError>
where
    K: Clone + serde::de::DeserializeOwned + std::fmt::Debug,
{
    match namespaces {
        None => list_pages(conn, &make(None), params, &Op::new("list", resource, None)).await,
        Some(namespaces) => {
            let mut out = Vec::new();
            for ns in namespaces {
                let op = Op::new("list", resource, Some(ns));
                out.extend(list_pages(conn, &make(Some(ns)), params, &op).await?);
            }
            Ok(out)
        }
    }
}

fn core_api<K>(conn: &Connection) -> impl Fn(Option<&str>) -> Api<K> + '_
where
    K: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope>,
    <K as kube::Resource>::DynamicType: Default,
{
    move |ns| match ns {
        Some(ns) => Api::namespaced(conn.client.clone(), ns),
        None => Api::all(conn.client.clone()),
    }
}

/// The Services of `scope` (or of every namespace with `all`), as the planner sees them.
pub async fn services(
    conn: &Connection,
    scope: &Scope,
    all: bool,
) -> Result<Vec<ObservedService>, ClusterError> {
    let namespaces: Option<Vec<String>> = match (&scope.namespaces, all) {
        (Some(set), false) => Some(set.iter().cloned().collect()),
        _ => None,
    };
    let items: Vec<Service> = list(
        conn,
        namespaces.as_deref(),
        "services",
        &ListParams::default(),
        core_api(conn),
    )
    .await?;
    Ok(items.iter().map(ObservedService::from_k8s).collect())
}

/// Everything the planner needs, read from the cluster.
pub async fn observe(conn: &Connection, opts: &ObserveOptions) -> Result<Observed, ClusterError> {
    let client = &conn.client;
    let scope_namespaces: Option<Vec<String>> = opts
        .scope
        .namespaces
        .as_ref()
        .map(|set| set.iter().cloned().collect());
    let mut observed = Observed::new(
        opts.scope.clone(),
        services(conn, &opts.scope, opts.all_services).await?,
    );
    observed.metallb_class = opts.metallb_class.clone();
    if !opts.providers.is_empty() {
        observed.providers = opts.providers.clone();
    }
    if opts.pools {
        let ar = metallb_resource("IPAddressPool", "ipaddresspools");
        let pools = list(
            conn,
            None,
            "ipaddresspools.metallb.io",
            &ListParams::default(),
            |_| Api::<DynamicObject>::all_with(client.clone(), &ar),
        )
        .await;
        match pools {
            Ok(items) => observed.pools = Some(items.iter().map(pool).collect()),
            // No MetalLB CRDs: nothing to read, which doctor reports.
            Err(e) if e.is_not_found() => {}
            // Not allowed to read pools: the commands degrade to "pools unknown" and say so.
            Err(e) if e.is_forbidden() => observed.pools_unreadable = Some(e.summary()),
            Err(e) => return Err(e),
        }
    }
    // Namespace labels only matter to pools that select namespaces by label: one LIST of
    // namespaces, and only then. Not allowed: those pools' admission stays unknown.
    if opts.pool_admission
        && observed
            .pools
            .iter()
            .flatten()
            .any(ObservedPool::selects_namespaces)
    {
        match namespace_labels(conn).await {
            Ok(labels) => observed.namespace_labels = Some(labels),
            Err(e) if e.is_forbidden() => {}
            Err(e) => return Err(e),
        }
    }
    if opts.events {
        // Only events about Services: the server filters, so busy clusters stay cheap.
        let about_services = ListParams::default().fields("involvedObject.kind=Service");
        let events: Vec<Event> = list(
            conn,
            scope_namespaces.as_deref(),
            "events",
            &about_services,
            core_api(conn),
        )
        .await?;
        observed.events = events.iter().filter_map(ObservedEvent::from_k8s).collect();
    }
    if opts.metallb_controller {
        observed.metallb = metallb_controller(conn, &observed).await?;
    }
    if opts.environment {
        read_environment(conn, &mut observed).await?;
    }
    Ok(observed)
}

/// The namespaces MetalLB lives in: where its pools are (its webhook admits pools only in
/// its own namespace), else the default install's.
fn metallb_namespaces(observed: &Observed) -> Vec<String> {
    let from_pools: BTreeSet<String> = observed
        .pools
        .iter()
        .flatten()
        .map(|p| p.namespace.clone())
        .collect();
    if from_pools.is_empty() {
        vec!["metallb-system".to_string()]
    } else {
        from_pools.into_iter().collect()
    }
}

/// The MetalLB controller Deployment, read only in MetalLB's namespaces: never every
/// Deployment of the cluster.
async fn metallb_controller(
    conn: &Connection,
    observed: &Observed,
) -> Result<Option<MetallbInstall>, ClusterError> {
    let namespaces = metallb_namespaces(observed);
    let deployments: Vec<Deployment> = list(
        conn,
        Some(&namespaces),
        "deployments.apps",
        &ListParams::default(),
        core_api(conn),
    )
    .await?;
    Ok(deployments.iter().find_map(metallb_install))
}

async fn read_environment(conn: &Connection, observed: &mut Observed) -> Result<(), ClusterError> {
    let client = &conn.client;
    if observed.pools.is_some() {
        for (kind, plural) in [
            ("L2Advertisement", "l2advertisements"),
            ("BGPAdvertisement", "bgpadvertisements"),
        ] {
            let ar = metallb_resource(kind, plural);
            let items = list(
                conn,
                None,
                &format!("{plural}.metallb.io"),
                &ListParams::default(),
                |_| Api::<DynamicObject>::all_with(client.clone(), &ar),
            )
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
    let daemonsets: Vec<DaemonSet> = list(
        conn,
        Some(&["kube-system".to_string()]),
        "daemonsets.apps",
        &ListParams::default(),
        core_api(conn),
    )
    .await?;
    observed.servicelb = daemonsets
        .iter()
        .filter_map(|d| d.metadata.name.as_deref())
        .filter(|n| n.starts_with("svclb-"))
        .map(|n| format!("kube-system/{n}"))
        .collect();
    Ok(())
}

/// The MetalLB controller: a Deployment running a `metallb/controller` image.
fn metallb_install(d: &Deployment) -> Option<MetallbInstall> {
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
            .filter(|v| v.is_object())
            .map(crate::plan::admission::ServiceAllocation::from_json),
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

/// Labels of every namespace (for pools that select namespaces by label).
async fn namespace_labels(
    conn: &Connection,
) -> Result<BTreeMap<String, BTreeMap<String, String>>, ClusterError> {
    let api: Api<Namespace> = Api::all(conn.client.clone());
    let items = list_pages(
        conn,
        &api,
        &ListParams::default(),
        &Op::new("list", "namespaces", None),
    )
    .await?;
    Ok(items
        .into_iter()
        .map(|n| {
            (
                n.metadata.name.unwrap_or_default(),
                n.metadata.labels.unwrap_or_default(),
            )
        })
        .collect())
}
