//! `--all-clusters`: `status` and `check` over every cluster of the registry's `clusters:`,
//! each read through its own kubeconfig context, concurrently, and analysed with its own view
//! of the registry; each cluster's analysis knows what the others hold, so an address two
//! clusters hand out is a `conflict` on both sides.

use super::{Ctx, Failure};
use crate::cluster::{self, ObserveOptions, clusters};
use crate::plan::observed::OtherCluster;
use crate::plan::{self, Observed, ServiceStatus};

pub async fn rows(ctx: &Ctx, events: bool) -> Result<Vec<ServiceStatus>, Failure> {
    let base = Ctx::kube_options(&ctx.global);
    let mut set = tokio::task::JoinSet::new();
    for (i, (name, conn)) in clusters::connect_all(&ctx.full, &base)
        .await
        .into_iter()
        .enumerate()
    {
        let view = ctx
            .full
            .for_cluster(&name)
            .expect("a cluster of the registry");
        let opts = ObserveOptions::new(ctx.scope.clone(), &view)
            .pools()
            .events(events);
        set.spawn(async move {
            let observed = match conn {
                Ok(conn) => cluster::observe(&conn, &opts).await,
                Err(e) => Err(e),
            };
            (i, name, view, observed)
        });
    }
    let mut read = set.join_all().await;
    read.sort_by_key(|(i, ..)| *i);
    let mut clusters: Vec<(String, crate::registry::Registry, Observed)> = Vec::new();
    for (_, name, view, observed) in read {
        let context = ctx
            .full
            .cluster(&name)
            .map(|c| c.context().to_string())
            .unwrap_or_default();
        let observed = observed.map_err(|e| {
            Failure(format!(
                "cannot read cluster `{name}` (context {context}), so no cluster's status is shown: {e}"
            ))
        })?;
        clusters.push((name, view, observed));
    }
    let others = |me: &str| -> Vec<OtherCluster> {
        clusters
            .iter()
            .filter(|(name, ..)| name != me)
            .map(|(name, _, o)| OtherCluster {
                name: name.clone(),
                services: o
                    .services
                    .iter()
                    .filter(|s| s.is_load_balancer())
                    .cloned()
                    .collect(),
                unreadable: None,
            })
            .collect()
    };
    let mut rows = Vec::new();
    for (name, view, observed) in &clusters {
        let mut observed = observed.clone();
        observed.other_clusters = others(name);
        rows.extend(plan::analyze(view, &observed).into_iter().map(|mut r| {
            r.cluster = Some(name.clone());
            r
        }));
    }
    Ok(rows)
}
