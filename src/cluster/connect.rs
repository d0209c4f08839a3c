//! A kube-rs client from kubectl's flags (reference: kubectl plugin conventions).

use super::error::{ClusterError, Op};
use super::secrets;
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Client, Config};
use std::path::PathBuf;
use std::time::Duration;

/// kubectl's connection flags.
#[derive(Debug, Clone, Default)]
pub struct KubeOptions {
    pub kubeconfig: Option<PathBuf>,
    pub context: Option<String>,
    pub cluster: Option<String>,
    pub user: Option<String>,
    /// `--request-timeout`: bounds connecting and each read/write.
    pub request_timeout: Option<Duration>,
}

/// A client plus what messages need to name: the server and the context.
#[derive(Clone)]
pub struct Connection {
    pub client: Client,
    /// The context's namespace, else `default` (what `-n` defaults to).
    pub default_namespace: String,
    pub server: String,
    pub context: String,
}

impl Connection {
    /// Maps a kube-rs error for `op` against this server and context.
    pub fn error(&self, err: kube::Error, op: Op) -> ClusterError {
        ClusterError::from_kube(err, op, &self.server, &self.context)
    }
}

/// rustls panics when two crypto providers are compiled in and none is chosen; pick ring
/// before anything builds a TLS config. Safe to call more than once.
pub fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// Loads the kubeconfig the way kubectl does and builds a client.
pub async fn connect(opts: &KubeOptions) -> Result<Connection, ClusterError> {
    install_crypto_provider();
    let kopts = KubeConfigOptions {
        context: opts.context.clone(),
        cluster: opts.cluster.clone(),
        user: opts.user.clone(),
    };
    // A kubeconfig parse error quotes the file's lines, tokens included: `error_chain` keeps
    // only the first line of each message, and every kubeconfig secret is stripped from it.
    let config_err = |e: &dyn std::error::Error| ClusterError::Config {
        message: secrets::redact_kubeconfig_secrets(
            &format!(
                "cannot load the Kubernetes configuration{}: {}",
                match &opts.kubeconfig {
                    Some(p) => format!(" from {}", p.display()),
                    None => String::new(),
                },
                super::error::error_chain(e)
            ),
            opts.kubeconfig.as_deref(),
        ),
    };
    let (mut cfg, context) = match (&opts.kubeconfig, &opts.context) {
        (Some(path), _) => {
            let kc = Kubeconfig::read_from(path).map_err(|e| config_err(&e))?;
            let context = opts.context.clone().or(kc.current_context.clone());
            let cfg = Config::from_custom_kubeconfig(kc, &kopts)
                .await
                .map_err(|e| config_err(&e))?;
            (cfg, context)
        }
        (None, Some(ctx)) => {
            let cfg = Config::from_kubeconfig(&kopts)
                .await
                .map_err(|e| config_err(&e))?;
            (cfg, Some(ctx.clone()))
        }
        (None, None) => {
            let context = Kubeconfig::read().ok().and_then(|k| k.current_context);
            let cfg = Config::infer().await.map_err(|e| config_err(&e))?;
            (cfg, context.or(Some("in-cluster".into())))
        }
    };
    if let Some(t) = opts.request_timeout {
        cfg.connect_timeout = Some(t);
        cfg.read_timeout = Some(t);
        cfg.write_timeout = Some(t);
    }
    let server = cfg
        .cluster_url
        .to_string()
        .trim_end_matches('/')
        .to_string();
    let default_namespace = cfg.default_namespace.clone();
    let client = Client::try_from(cfg).map_err(|e| config_err(&e))?;
    Ok(Connection {
        client,
        default_namespace,
        server,
        context: context.unwrap_or_else(|| "(none)".into()),
    })
}
