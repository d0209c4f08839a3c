//! The registry's clusters: one connection per cluster, through its kubeconfig context.
//!
//! Several clusters on one segment share the registry's addresses. A command that acts on
//! one of them reads the others' Services too (one paginated LIST each, concurrently), so an
//! address another cluster holds is never handed out here as well; `--all-clusters` reads
//! every cluster the same way.

use super::connect::{Connection, KubeOptions, connect};
use super::error::ClusterError;
use super::read;
use crate::plan::Scope;
use crate::plan::observed::OtherCluster;
use crate::registry::{Cluster, Registry};

/// The connection options for `cluster`: its context, and everything else as the command
/// was given (kubeconfig file, request timeout); `--cluster`/`--user` name the current
/// context's kubeconfig entries, so they do not carry over.
pub fn options_for(base: &KubeOptions, cluster: &Cluster) -> KubeOptions {
    KubeOptions {
        kubeconfig: base.kubeconfig.clone(),
        context: Some(cluster.context().to_string()),
        cluster: None,
        user: None,
        request_timeout: base.request_timeout,
        names: base.names,
    }
}

/// Connects to every cluster of the registry, concurrently, in the registry's order.
pub async fn connect_all(
    registry: &Registry,
    base: &KubeOptions,
) -> Vec<(String, Result<Connection, ClusterError>)> {
    let mut set = tokio::task::JoinSet::new();
    for (i, c) in registry.clusters.iter().enumerate() {
        let opts = options_for(base, c);
        let name = c.name().to_string();
        set.spawn(async move { (i, name, connect(&opts).await) });
    }
    let mut out: Vec<(usize, String, Result<Connection, ClusterError>)> =
        set.join_all().await.into_iter().collect();
    out.sort_by_key(|(i, _, _)| *i);
    out.into_iter().map(|(_, n, c)| (n, c)).collect()
}

/// Reads the LoadBalancer Services of every cluster of `registry` but `current`,
/// concurrently. A cluster that cannot be read is reported as such (the caller warns); it
/// never stops the command.
pub async fn read_others(
    registry: &Registry,
    current: &str,
    base: &KubeOptions,
) -> Vec<OtherCluster> {
    let mut set = tokio::task::JoinSet::new();
    for (i, c) in registry.clusters.iter().enumerate() {
        if c.name() == current {
            continue;
        }
        let opts = options_for(base, c);
        let name = c.name().to_string();
        set.spawn(async move {
            let read = async {
                let conn = connect(&opts).await?;
                read::services(&conn, &Scope::all(), true).await
            };
            let other = match read.await {
                Ok(services) => OtherCluster {
                    name,
                    services: services
                        .into_iter()
                        .filter(|s| s.is_load_balancer())
                        .collect(),
                    unreadable: None,
                },
                Err(e) => OtherCluster {
                    name,
                    services: Vec::new(),
                    unreadable: Some(e.to_string()),
                },
            };
            (i, other)
        });
    }
    let mut out: Vec<(usize, OtherCluster)> = set.join_all().await;
    out.sort_by_key(|(i, _)| *i);
    out.into_iter().map(|(_, o)| o).collect()
}
