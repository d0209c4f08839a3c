//! Two clusters on one segment share one registry (issue 12, "Clusters"): two test servers
//! at once, reached through two contexts of one kubeconfig. Cluster `home`'s IPAddressPool was
//! copied too wide and covers the addresses the registry gives to cluster `lab`, so a Service
//! in `home` holds `lab`'s Grafana address: `check --all-clusters` reports the conflict on both
//! sides, `apply` in `lab` refuses to take the address while `home` holds it, `apply` in
//! `home` moves its squatter off, and then `lab` can pin Grafana.

mod kubectl_support;

use kubectl_support::*;
use lbip_testcluster::{Options, TestCluster, Verb};
use std::path::PathBuf;
use std::process::Command;

const REGISTRY: &str = "provider:
  kind: metallb
clusters:
  - {name: home, context: k3s-home}
  - {name: lab, context: k3s-lab}
pools:
  - {name: home, cluster: home, addresses: [192.168.1.200-192.168.1.219]}
  - {name: lab, cluster: lab, addresses: [192.168.1.220-192.168.1.239]}
services:
  mlflow: {cluster: home, namespace: mlflow, ip: 192.168.1.215, ports: [5000]}
  grafana: {cluster: lab, namespace: monitoring, ip: 192.168.1.221, ports: [3000]}
";

fn pool(name: &str, range: &str) -> String {
    format!(
        "apiVersion: metallb.io/v1beta1\nkind: IPAddressPool\nmetadata: {{name: {name}, namespace: metallb-system}}\nspec: {{addresses: ['{range}']}}\n---\napiVersion: metallb.io/v1beta1\nkind: L2Advertisement\nmetadata: {{name: {name}, namespace: metallb-system}}\n---\n"
    )
}

fn service(ns: &str, name: &str, annotations: &str, ip: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Service\nmetadata: {{name: {name}, namespace: {ns}, annotations: {{{annotations}}}}}\nspec: {{type: LoadBalancer, ports: [{{port: 80}}]}}\nstatus: {{loadBalancer: {{ingress: [{{ip: {ip}}}]}}}}\n---\n"
    )
}

struct Segment {
    home: TestCluster,
    lab: TestCluster,
    _dir: tempfile::TempDir,
    kubeconfig: PathBuf,
    registry: PathBuf,
}

impl Segment {
    fn new() -> Segment {
        let home = TestCluster::start_blocking(Options::default().seed_yaml(&format!(
            "{}{}{}",
            pool("homelab", "192.168.1.200-192.168.1.239"),
            service(
                "mlflow",
                "mlflow",
                "metallb.io/loadBalancerIPs: 192.168.1.215",
                "192.168.1.215"
            ),
            service("apps", "scratch", "", "192.168.1.221"),
        )))
        .unwrap();
        let lab = TestCluster::start_blocking(Options::default().seed_yaml(&format!(
            "{}{}",
            pool("lab", "192.168.1.220-192.168.1.239"),
            service("monitoring", "grafana", "", "192.168.1.222"),
        )))
        .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let kubeconfig = dir.path().join("kubeconfig");
        std::fs::write(
            &kubeconfig,
            format!(
                "apiVersion: v1\nkind: Config\nclusters:\n- name: home\n  cluster: {{server: '{}', certificate-authority-data: {}}}\n- name: lab\n  cluster: {{server: '{}', certificate-authority-data: {}}}\nusers:\n- name: admin\n  user: {{token: lbip-test-token}}\ncontexts:\n- {{name: k3s-home, context: {{cluster: home, user: admin}}}}\n- {{name: k3s-lab, context: {{cluster: lab, user: admin}}}}\ncurrent-context: k3s-home\n",
                home.url(),
                home.ca_data(),
                lab.url(),
                lab.ca_data()
            ),
        )
        .unwrap();
        let registry = dir.path().join("lbip.yaml");
        std::fs::write(&registry, REGISTRY).unwrap();
        Segment {
            home,
            lab,
            _dir: dir,
            kubeconfig,
            registry,
        }
    }

    fn lbip(&self, args: &[&str]) -> Run {
        Command::new(lbip_bin())
            .arg("cluster")
            .args(args)
            .arg("--kubeconfig")
            .arg(&self.kubeconfig)
            .arg("-r")
            .arg(&self.registry)
            .env_remove("KUBECONFIG")
            .output()
            .unwrap()
            .into()
    }
}

#[test]
fn one_address_is_never_handed_out_by_two_clusters() {
    let seg = Segment::new();
    // Both sides of the conflict, in one table.
    let check = seg.lbip(&["check", "--all-clusters"]);
    assert_eq!(check.code, 1, "{check:?}");
    assert!(
        check.stdout.contains("apps/scratch: holds 192.168.1.221, which the registry gives to monitoring/grafana in cluster `lab` (`grafana`)"),
        "{check:?}"
    );
    assert!(
        check.stdout.contains("monitoring/grafana: its registry IP 192.168.1.221 is held in cluster `home` by apps/scratch"),
        "{check:?}"
    );
    let status = seg.lbip(&["status", "--all-clusters"]);
    assert!(status.stdout.starts_with("CLUSTER"), "{status:?}");
    assert!(
        status
            .stdout
            .lines()
            .any(|l| l.starts_with("lab ") && l.contains("grafana") && l.contains("conflict")),
        "{status:?}"
    );
    // who-has searches every cluster.
    let who = seg.lbip(&["who-has", "192.168.1.221"]);
    assert!(
        who.stdout
            .lines()
            .any(|l| l.starts_with("home") && l.contains("scratch")),
        "{who:?}"
    );
    assert!(
        who.stdout
            .contains("monitoring/grafana (grafana, cluster lab)"),
        "{who:?}"
    );

    // lab cannot take the address while home holds it: nothing is patched there.
    seg.lab.request_log().clear();
    let blocked = seg.lbip(&["apply", "-A", "--context", "k3s-lab", "--timeout", "10s"]);
    assert_eq!(blocked.code, 1, "{blocked:?}");
    assert!(
        blocked
            .stdout
            .contains("192.168.1.221 is held in cluster `home` by apps/scratch"),
        "{blocked:?}"
    );
    assert!(seg.lab.request_log().mutating().is_empty(), "{blocked:?}");
    assert_eq!(seg.lab.lb_ips("monitoring", "grafana"), ["192.168.1.222"]);

    // home moves its squatter off lab's address (to one of home's own pool), ...
    let home = seg.lbip(&["apply", "-A", "--timeout", "10s"]);
    assert_eq!(home.code, 0, "{home:?}");
    let scratch = seg.home.lb_ips("apps", "scratch");
    assert_eq!(scratch.len(), 1);
    let moved: std::net::Ipv4Addr = scratch[0].parse().unwrap();
    assert!(
        moved.octets()[3] < 220,
        "moved into home's own range: {moved}"
    );
    assert_eq!(seg.home.request_log().count(Verb::Patch, "services"), 1);
    // ... and then lab pins Grafana, and both clusters are fine.
    let lab = seg.lbip(&["apply", "-A", "--context", "k3s-lab", "--timeout", "10s"]);
    assert_eq!(lab.code, 0, "{lab:?}");
    assert_eq!(seg.lab.lb_ips("monitoring", "grafana"), ["192.168.1.221"]);
    // What is left is what was always true: the squatter is not in the registry (now pinned
    // to an address of its own cluster, so it cannot wander again).
    let check = seg.lbip(&["check", "--all-clusters"]);
    assert_eq!(check.code, 1, "{check:?}");
    assert_eq!(
        check.stdout.trim(),
        "unpinned   apps/scratch: LoadBalancer Service is not in the registry; MetalLB hands it whatever is free first",
        "{check:?}"
    );
}

#[test]
fn a_context_that_is_none_of_the_registrys_clusters_is_refused() {
    let seg = Segment::new();
    let other = seg._dir.path().join("other");
    let text = std::fs::read_to_string(&seg.kubeconfig)
        .unwrap()
        .replace("name: k3s-lab", "name: somewhere-else")
        .replace(
            "current-context: k3s-home",
            "current-context: somewhere-else",
        );
    std::fs::write(&other, text).unwrap();
    let run: Run = Command::new(lbip_bin())
        .args(["cluster", "status", "--kubeconfig"])
        .arg(&other)
        .arg("-r")
        .arg(&seg.registry)
        .output()
        .unwrap()
        .into();
    assert_eq!(run.code, 2, "{run:?}");
    assert!(
        run.stderr.contains("the kubeconfig context `somewhere-else` is none of the registry's clusters: home (context k3s-home), lab (context k3s-lab)"),
        "{run:?}"
    );
}
