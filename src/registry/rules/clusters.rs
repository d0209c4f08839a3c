//! Rules about `clusters:`: several clusters on one L2 segment take their addresses from one
//! registry, so each address may be handed out by one cluster only. Every pool and entry
//! belongs to exactly one cluster (named in `cluster:`, implied when there is only one),
//! pools of two clusters never overlap (`pools::pool_overlaps` says so across clusters),
//! and an address is never given to entries of two clusters (`sharing`).

use super::at;
use crate::diagnostic::{Finding, did_you_mean};
use crate::registry::model::{Located, Registry};

pub fn check(reg: &Registry) -> Vec<Finding> {
    let mut out = Vec::new();
    names_and_contexts(reg, &mut out);
    let names: Vec<&str> = reg.clusters.iter().map(|c| c.name()).collect();
    let owners = reg
        .pools
        .iter()
        .map(|p| {
            (
                format!("pool `{}`", p.name()),
                p.cluster.as_ref(),
                &p.ranges.name,
                None,
            )
        })
        .chain(reg.services.iter().map(|e| {
            (
                format!("service `{}`", e.id()),
                e.cluster.as_ref(),
                &e.id,
                Some(e.id()),
            )
        }));
    for (what, cluster, at_name, id) in owners {
        let before = out.len();
        membership(reg, &names, &what, cluster, at_name, &mut out);
        if let (Some(id), Some(f)) = (id, out.get_mut(before)) {
            f.id = Some(id.to_string());
        }
    }
    out
}

fn names_and_contexts(reg: &Registry, out: &mut Vec<Finding>) {
    for (i, c) in reg.clusters.iter().enumerate() {
        if let Some(first) = reg.clusters[..i].iter().find(|o| o.name() == c.name()) {
            out.push(
                at(
                    Finding::error(
                        "duplicate-cluster",
                        format!(
                            "cluster `{}` is defined twice (first at line {})",
                            c.name(),
                            first.name.pos.line
                        ),
                    ),
                    &c.name,
                )
                .hint("give each cluster its own name"),
            );
        } else if let Some(first) = reg.clusters[..i]
            .iter()
            .find(|o| o.context() == c.context())
        {
            let pos = c.context.as_ref().unwrap_or(&c.name);
            out.push(
                at(
                    Finding::error(
                        "duplicate-cluster-context",
                        format!(
                            "clusters `{}` and `{}` (line {}) both use kubeconfig context `{}`; lbip could not tell which cluster a command talks to",
                            c.name(),
                            first.name(),
                            first.name.pos.line,
                            c.context()
                        ),
                    ),
                    pos,
                )
                .hint("set `context:` to the kubeconfig context of each cluster (`kubectl config get-contexts`)"),
            );
        }
    }
}

/// A pool or entry names a cluster that exists, and names one when several do.
fn membership(
    reg: &Registry,
    names: &[&str],
    what: &str,
    cluster: Option<&Located<String>>,
    at_name: &Located<String>,
    out: &mut Vec<Finding>,
) {
    match cluster {
        Some(c) if reg.clusters.is_empty() => out.push(
            at(
                Finding::error(
                    "unknown-cluster",
                    format!(
                        "{what} names cluster `{}`, but the registry has no `clusters:`",
                        c.value
                    ),
                ),
                c,
            )
            .hint("add `clusters: [{name: <cluster>, context: <kubeconfig context>}]`, or drop `cluster:`"),
        ),
        Some(c) if reg.cluster(&c.value).is_none() => {
            let hint = match did_you_mean(&c.value, names) {
                Some(m) => format!("did you mean `{m}`?"),
                None => format!("clusters here: {}", names.join(", ")),
            };
            out.push(
                at(
                    Finding::error(
                        "unknown-cluster",
                        format!("{what} names cluster `{}`, which is not in `clusters:`", c.value),
                    ),
                    c,
                )
                .hint(hint),
            );
        }
        None if reg.clusters.len() > 1 => out.push(
            at(
                Finding::error(
                    "cluster-missing",
                    format!(
                        "{what} names no cluster, and the registry has {} ({})",
                        names.len(),
                        names.join(", ")
                    ),
                ),
                at_name,
            )
            .hint("add `cluster: <name>`: each address is handed out by one cluster"),
        ),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::found;

    const TWO: &str = "clusters:
  - {name: home, context: k3s-home}
  - {name: lab, context: k3s-lab, provider: cilium}
pools:
  - {name: home, cluster: home, addresses: [10.0.0.0/25]}
  - {name: lab, cluster: lab, addresses: [10.0.0.128/25]}
services:
";

    #[test]
    fn entries_and_pools_name_a_known_cluster_when_there_are_several() {
        let text = format!(
            "{TWO}  a: {{namespace: x, ip: 10.0.0.10, cluster: home}}\n  b: {{namespace: x, ip: 10.0.0.200}}\n  c: {{namespace: x, ip: 10.0.0.201, cluster: labb}}\n"
        );
        assert_eq!(found(&text, "cluster-missing"), [(9, 3, Some("b".into()))]);
        let unknown = found(&text, "unknown-cluster");
        assert_eq!(unknown.len(), 1);
        assert_eq!((unknown[0].0, unknown[0].2.as_deref()), (10, Some("c")));
    }

    #[test]
    fn an_address_is_handed_out_by_one_cluster_only() {
        // Two entries of two clusters on one address (a shared key does not help), an entry
        // whose address sits in the other cluster's pool, and pools of two clusters that
        // overlap.
        let text = format!(
            "{TWO}  a: {{namespace: x, ip: 10.0.0.10, cluster: home, sharedKey: k}}\n  b: {{namespace: y, ip: 10.0.0.10, cluster: lab, sharedKey: k}}\n  c: {{namespace: z, ip: 10.0.0.11, cluster: lab}}\n"
        );
        assert_eq!(
            found(&text, "ip-in-two-clusters"),
            [(9, 25, Some("b".into()))]
        );
        assert_eq!(
            found(&text, "ip-outside-cluster-pools"),
            [(9, 25, Some("b".into())), (10, 25, Some("c".into()))]
        );
        let overlapping = TWO.replace("10.0.0.128/25", "10.0.0.64/26");
        assert_eq!(found(&overlapping, "cluster-pool-overlap"), [(6, 43, None)]);
        // In one registry without clusters, the same overlap is MetalLB's own refusal.
        let one = "pools:\n  - {name: a, addresses: [10.0.0.0/25]}\n  - {name: b, addresses: [10.0.0.64/26]}\n";
        assert_eq!(found(one, "pool-overlap").len(), 1);
    }

    #[test]
    fn duplicate_names_and_contexts_are_errors() {
        let text = "clusters:\n  - {name: a}\n  - {name: a}\n  - {name: b, context: a}\n";
        assert_eq!(found(text, "duplicate-cluster").len(), 1);
        assert_eq!(found(text, "duplicate-cluster-context").len(), 1);
    }
}
