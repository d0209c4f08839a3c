//! What the kube-rs tests share: a client for a test cluster, from its kubeconfig.

use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Client, Config};
use lbip_testcluster::TestCluster;

/// A kube-rs client with the cluster's generated kubeconfig, as lbip builds its own.
pub async fn client(c: &TestCluster) -> Client {
    let kc = Kubeconfig::read_from(c.kubeconfig_path()).unwrap();
    let cfg = Config::from_custom_kubeconfig(kc, &KubeConfigOptions::default())
        .await
        .unwrap();
    Client::try_from(cfg).unwrap()
}
