//! A kube-rs client from kubectl's flags (`kubeconfig` resolves them exactly as kubectl does),
//! with lbip's retry policy (`retry`) and every message scrubbed of kubeconfig secrets
//! (`secrets`).

use super::error::{ClusterError, Op};
use super::kubeconfig::{self, FlagNames, NotFound, Selection};
use super::retry::ApiRetry;
use super::secrets;
use kube::client::ClientBuilder;
use kube::config::KubeConfigOptions;
use kube::{Client, Config};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
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
    /// How the face names these options in messages (kubectl's flags by default).
    pub names: FlagNames,
}

impl KubeOptions {
    fn selection(&self) -> Selection {
        Selection {
            kubeconfig: self.kubeconfig.clone(),
            context: self.context.clone(),
            cluster: self.cluster.clone(),
            user: self.user.clone(),
            names: self.names,
        }
    }
}

/// A client plus what messages need to name: the server and the context.
#[derive(Clone)]
pub struct Connection {
    pub client: Client,
    /// The context's namespace, else `default` (what `-n` defaults to).
    pub default_namespace: String,
    /// The server URL, credentials masked.
    pub server: String,
    /// The context as messages name it (`prod`, `prod with --cluster staging`, `in-cluster`).
    pub context: String,
    /// The kubectl flags that select the same entries, for commands in help lines.
    pub kubectl_flags: String,
    /// Secret values of the kubeconfig files read, removed from every message.
    secrets: Arc<[String]>,
    /// Set by the retry policy when it gave up on a request (how many retries it made).
    gave_up: Arc<AtomicU32>,
}

impl Connection {
    /// Maps a kube-rs error for `op` against this server and context, without secrets.
    pub fn error(&self, err: kube::Error, op: Op) -> ClusterError {
        let retries = self.gave_up.swap(0, Ordering::Relaxed);
        let target = super::error::Target {
            server: &self.server,
            context: &self.context,
            kubectl_flags: &self.kubectl_flags,
        };
        ClusterError::from_kube(err, op, &target, retries).redacted(&self.secrets)
    }
    /// A transport failure of `op` that kube-rs did not report as a `kube::Error`.
    pub fn unreachable(&self, op: Op, detail: String) -> ClusterError {
        ClusterError::Unreachable {
            at: Box::new(super::error::Endpoint {
                server: self.server.clone(),
                context: self.context.clone(),
                kubectl_flags: self.kubectl_flags.clone(),
            }),
            op,
            detail,
        }
        .redacted(&self.secrets)
    }
    /// `text` without the kubeconfig's secrets (for messages built from other sources).
    pub fn redact(&self, text: &str) -> String {
        secrets::redact_text(text, &self.secrets)
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
    let sel = opts.selection();
    let found = kubeconfig::find(
        opts.kubeconfig.as_deref(),
        std::env::var_os("KUBECONFIG"),
        std::env::home_dir(),
        opts.names,
    )
    .map_err(|message| ClusterError::Config { message })?;
    let (mut cfg, context, secrets) = match found {
        Ok(source) => {
            let secrets: Arc<[String]> = secrets::secrets_of_files(&source.files()).into();
            // A kubeconfig error may quote the file (a parser snippet, an exec command with
            // its environment): `error_chain` keeps the first line of each message and every
            // secret is removed from it.
            let config_err = |e: &dyn std::error::Error| ClusterError::Config {
                message: secrets::redact_text(
                    &format!(
                        "cannot load the Kubernetes configuration from {}: {}",
                        source.describe(),
                        super::error::error_chain(e)
                    ),
                    &secrets,
                ),
            };
            let mut kc = kubeconfig::read(&source).map_err(|e| config_err(&e))?;
            let chosen = kubeconfig::choose(&mut kc, &sel, &source).map_err(|message| {
                ClusterError::Config {
                    message: secrets::redact_text(&message, &secrets),
                }
            })?;
            let kopts = KubeConfigOptions {
                context: Some(chosen.context.clone()),
                cluster: sel.cluster.clone(),
                user: sel.user.clone(),
            };
            let cfg = Config::from_custom_kubeconfig(kc, &kopts)
                .await
                .map_err(|e| config_err(&e))?;
            (cfg, chosen.display, secrets)
        }
        Err(NotFound(why)) if sel.names_entries() => {
            return Err(ClusterError::Config {
                message: format!(
                    "{} names a kubeconfig entry, but there is no kubeconfig: {why}",
                    sel.given()
                ),
            });
        }
        Err(NotFound(why)) => match Config::incluster() {
            Ok(cfg) => (cfg, "in-cluster".to_string(), Arc::from(Vec::new())),
            Err(e) => {
                return Err(ClusterError::Config {
                    message: format!(
                        "no Kubernetes configuration: {why}, and lbip is not running inside a cluster ({})",
                        super::error::error_chain(&e)
                    ),
                });
            }
        },
    };
    if let Some(t) = opts.request_timeout {
        cfg.connect_timeout = Some(t);
        cfg.read_timeout = Some(t);
        cfg.write_timeout = Some(t);
    }
    // kube-rs's own retry layer would retry the same requests again (see `retry`).
    cfg.default_retry = false;
    let server = secrets::redact_text(cfg.cluster_url.to_string().trim_end_matches('/'), &secrets);
    let default_namespace = cfg.default_namespace.clone();
    let gave_up = Arc::new(AtomicU32::new(0));
    let client = ClientBuilder::try_from(cfg)
        .map_err(|e| ClusterError::Config {
            message: secrets::redact_text(
                &format!(
                    "cannot set up the Kubernetes client for {server} (context {context}): {}",
                    super::error::error_chain(&e)
                ),
                &secrets,
            ),
        })?
        // Retrying needs a service it can call again; kube's boxed stack is not `Clone`, so
        // a buffer (a handle to one worker task) sits between them.
        .with_layer(&tower::buffer::BufferLayer::new(64))
        .with_layer(&tower::retry::RetryLayer::new(ApiRetry::new(
            gave_up.clone(),
        )))
        .build();
    let kubectl_flags = match context.as_str() {
        "in-cluster" => String::new(),
        _ if sel.context.is_some() || sel.cluster.is_some() || sel.user.is_some() => {
            sel.kubectl_flags(None)
        }
        c => sel.kubectl_flags(Some(c)),
    };
    Ok(Connection {
        client,
        default_namespace,
        server,
        context,
        kubectl_flags,
        secrets,
        gave_up,
    })
}
