//! Runs the Kubernetes API test server from a shell:
//!
//! ```text
//! cargo run --example testcluster -- --seed examples/cluster --kubeconfig /tmp/kc.yaml
//! ready https://127.0.0.1:41234 kubeconfig=/tmp/kc.yaml
//! ```
//!
//! It prints one `ready URL kubeconfig=PATH` line on stdout once it accepts connections, then
//! serves until killed.

use std::io::Write;
use std::path::PathBuf;

use clap::Parser;
use lbip_testcluster::{Auth, Options, TestCluster};

#[derive(Parser)]
#[command(about = "Kubernetes API test server with a MetalLB simulator")]
struct Cli {
    /// YAML file or directory of YAML files to seed the cluster with (repeatable).
    #[arg(long)]
    seed: Vec<PathBuf>,
    /// Where to write the kubeconfig.
    #[arg(long)]
    kubeconfig: PathBuf,
    /// Authenticate with a bearer token (the default).
    #[arg(long, conflicts_with = "client_cert")]
    token_auth: bool,
    /// Authenticate with a client certificate instead of a token.
    #[arg(long)]
    client_cert: bool,
    /// MetalLB version to emulate (0.14.8 and older ignore metallb.io/* annotations).
    #[arg(long, default_value = "0.14.9")]
    metallb_version: String,
    /// Also run k3s ServiceLB, which fights MetalLB over Service status.
    #[arg(long)]
    servicelb: bool,
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let mut opts = Options {
        kubeconfig: Some(cli.kubeconfig.clone()),
        seed_paths: cli.seed,
        metallb: Some(cli.metallb_version.parse().map_err(anyhow::Error::msg)?),
        ..Options::default()
    };
    if cli.client_cert {
        opts.auth = Auth::ClientCert;
    }
    if cli.servicelb {
        opts = opts.servicelb();
    }
    let cluster = TestCluster::start_blocking(opts)?;
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "ready {} kubeconfig={}",
        cluster.url(),
        cli.kubeconfig.display()
    )?;
    out.flush()?;
    drop(out);
    loop {
        std::thread::park();
    }
}
