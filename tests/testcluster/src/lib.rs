//! A Kubernetes API test server with a MetalLB simulator, for lbip's tests.
//!
//! [`TestCluster::start`] serves HTTPS on 127.0.0.1 with a fresh CA and writes a k3s-style
//! kubeconfig; real `kubectl` and kube-rs work against it. Services, Events, MetalLB pools and
//! advertisements, Deployments and DaemonSets are stored as JSON. After every write the
//! simulated MetalLB controller (and, optionally, k3s ServiceLB) reconcile synchronously, so
//! when a write's response has been sent the cluster has settled: tests need no sleeps.
//!
//! Test hooks: [`TestCluster::request_log`], [`TestCluster::inject`] (fail, delay or drop
//! requests) and [`TestCluster::deny`] (RBAC-like 403s).

mod cluster;
mod discovery;
mod error;
mod events;
mod faults;
mod generic;
mod http;
pub mod metallb;
mod namespaces;
mod openapi_v2;
mod paging;
mod patch;
mod protobuf;
mod resources;
mod seed;
mod selector;
mod servicelb;
mod ssa;
mod store;
mod table;
mod tls;

use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use anyhow::{Context, Result};
use serde_json::Value;
use tokio::net::TcpListener;
use tokio::sync::oneshot;

pub use error::ApiError;
pub use faults::{Denial, Fault, FaultAction, LoggedRequest, RequestLog, Verb};
pub use metallb::MetallbVersion;
pub use seed::{load_path, parse_docs};
pub use servicelb::LABEL as SERVICELB_LABEL;
pub use tls::Auth;

use cluster::{PatchRequest, State};
use faults::Hooks;
use http::Shared;
use patch::PatchType;
use resources::{ResourceDef, SERVICES};

/// The field manager recorded for writes made through the Rust helpers.
const MANAGER: &str = "lbip-testcluster";

/// How to start a test cluster.
#[derive(Debug, Clone)]
pub struct Options {
    pub auth: Auth,
    /// The user named in RBAC denials.
    pub user: String,
    /// The MetalLB release to emulate; `None` runs no MetalLB at all.
    pub metallb: Option<MetallbVersion>,
    /// Run k3s ServiceLB next to MetalLB, writing these node IPs into Service status.
    pub servicelb: Option<Vec<String>>,
    /// YAML files or directories to seed from, in order.
    pub seed_paths: Vec<PathBuf>,
    /// YAML documents to seed from, after `seed_paths`.
    pub seed_yaml: Vec<String>,
    /// Where to write the kubeconfig; a temporary directory owned by the handle otherwise.
    pub kubeconfig: Option<PathBuf>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            auth: Auth::Token("lbip-test-token".to_string()),
            user: "lbip-test".to_string(),
            metallb: Some(MetallbVersion::default()),
            servicelb: None,
            seed_paths: Vec::new(),
            seed_yaml: Vec::new(),
            kubeconfig: None,
        }
    }
}

impl Options {
    pub fn seed_yaml(mut self, yaml: &str) -> Self {
        self.seed_yaml.push(yaml.to_string());
        self
    }

    pub fn seed_path(mut self, path: impl Into<PathBuf>) -> Self {
        self.seed_paths.push(path.into());
        self
    }

    pub fn metallb_version(mut self, version: &str) -> Self {
        self.metallb = Some(version.parse().expect("MetalLB version X.Y.Z"));
        self
    }

    pub fn client_cert(mut self) -> Self {
        self.auth = Auth::ClientCert;
        self
    }

    /// k3s ServiceLB with one node, 10.0.0.11.
    pub fn servicelb(mut self) -> Self {
        self.servicelb = Some(vec!["10.0.0.11".to_string()]);
        self
    }
}

/// A running test server. Dropping it stops accepting connections.
pub struct TestCluster {
    shared: Arc<Shared>,
    url: String,
    kubeconfig: PathBuf,
    _dir: Option<tempfile::TempDir>,
    shutdown: Option<oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

fn meta(obj: &Value, field: &str) -> String {
    obj.pointer(&format!("/metadata/{field}"))
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string()
}

fn def_of(obj: &Value) -> Result<&'static ResourceDef, ApiError> {
    let api_version = obj
        .get("apiVersion")
        .and_then(Value::as_str)
        .unwrap_or("v1");
    let kind = obj.get("kind").and_then(Value::as_str).unwrap_or("Service");
    resources::by_kind(api_version, kind)
        .ok_or_else(|| ApiError::bad_request(format!("unknown kind {api_version} {kind}")))
}

impl TestCluster {
    /// Starts the server on the current tokio runtime.
    pub async fn start(opts: Options) -> Result<TestCluster> {
        let (cluster, serve) = Self::prepare(opts).await?;
        tokio::spawn(serve);
        Ok(cluster)
    }

    /// Starts the server on its own runtime thread, for synchronous tests (e.g. ones that run
    /// the lbip binary as a subprocess).
    pub fn start_blocking(opts: Options) -> Result<TestCluster> {
        let (tx, rx) = std::sync::mpsc::channel();
        let thread = std::thread::spawn(move || {
            let rt = match tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
            {
                Ok(rt) => rt,
                Err(e) => {
                    let _ = tx.send(Err(e.into()));
                    return;
                }
            };
            rt.block_on(async move {
                match Self::prepare(opts).await {
                    Ok((cluster, serve)) => {
                        if tx.send(Ok(cluster)).is_ok() {
                            serve.await;
                        }
                    }
                    Err(e) => {
                        let _ = tx.send(Err(e));
                    }
                }
            });
        });
        let mut cluster = rx.recv().context("test server thread died")??;
        cluster.thread = Some(thread);
        Ok(cluster)
    }

    async fn prepare(
        opts: Options,
    ) -> Result<(TestCluster, impl Future<Output = ()> + Send + 'static)> {
        let pki = tls::Pki::generate()?;
        let servicelb = opts
            .servicelb
            .clone()
            .map(|node_ips| servicelb::ServiceLb { node_ips });
        let mut state = State::new(opts.metallb, servicelb);
        let mut docs = Vec::new();
        for p in &opts.seed_paths {
            docs.extend(seed::load_path(p)?);
        }
        for y in &opts.seed_yaml {
            docs.extend(seed::parse_docs(y)?);
        }
        seed::seed(&mut state, docs)?;
        state.finish_seeding();

        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let url = format!("https://127.0.0.1:{}", listener.local_addr()?.port());
        let (dir, kubeconfig) = match &opts.kubeconfig {
            Some(p) => (None, p.clone()),
            None => {
                let d = tempfile::tempdir()?;
                let p = d.path().join("kubeconfig.yaml");
                (Some(d), p)
            }
        };
        std::fs::write(&kubeconfig, pki.kubeconfig(&url, &opts.auth))
            .with_context(|| format!("writing {}", kubeconfig.display()))?;
        let token = match &opts.auth {
            Auth::Token(t) => t.clone(),
            // No token is handed out, so none may work.
            Auth::ClientCert => String::from("\u{0}no-token"),
        };
        let shared = Arc::new(Shared {
            state: Mutex::new(state),
            hooks: Mutex::new(Hooks::default()),
            log: RequestLog::default(),
            token,
            user: opts.user.clone(),
            continue_floor: Default::default(),
            trace: std::env::var_os("LBIP_TESTCLUSTER_TRACE").is_some_and(|v| !v.is_empty()),
        });
        let (stop, stopped) = oneshot::channel();
        let serve = http::serve(listener, pki.server_config()?, shared.clone(), stopped);
        let cluster = TestCluster {
            shared,
            url,
            kubeconfig,
            _dir: dir,
            shutdown: Some(stop),
            thread: None,
        };
        Ok((cluster, serve))
    }

    /// `https://127.0.0.1:PORT`.
    pub fn url(&self) -> &str {
        &self.url
    }

    pub fn kubeconfig_path(&self) -> &Path {
        &self.kubeconfig
    }

    /// The CA certificate as the kubeconfig holds it (`certificate-authority-data`, base64
    /// PEM), for tests that write kubeconfigs of their own naming several servers.
    pub fn ca_data(&self) -> String {
        std::fs::read_to_string(&self.kubeconfig)
            .unwrap_or_default()
            .lines()
            .find_map(|l| l.trim().strip_prefix("certificate-authority-data: "))
            .unwrap_or_default()
            .to_string()
    }

    pub fn request_log(&self) -> RequestLog {
        self.shared.log.clone()
    }

    pub fn inject(&self, fault: Fault) {
        self.shared.hooks.lock().unwrap().add_fault(fault);
    }

    /// Denies `verb` on `resource` (plural, e.g. `services`) in `namespace` or everywhere.
    pub fn deny(&self, verb: Verb, resource: &str, namespace: Option<&str>) {
        let d = Denial {
            verb,
            resource: resource.to_string(),
            namespace: namespace.map(str::to_string),
        };
        self.shared.hooks.lock().unwrap().deny(d);
    }

    /// Expires every continue token handed out so far: the next page asked for with one gets
    /// `410 Expired`, as after an etcd compaction.
    pub fn expire_continue_tokens(&self) {
        let rv = self.resource_version() + 1;
        self.shared
            .continue_floor
            .store(rv, std::sync::atomic::Ordering::Relaxed);
    }

    /// Removes all faults and denials.
    pub fn clear_hooks(&self) {
        self.shared.hooks.lock().unwrap().clear();
    }

    /// Returns at once: controllers run synchronously inside each write, so the cluster is
    /// always settled. Kept so tests can state the intent.
    pub async fn settle(&self) {
        tokio::task::yield_now().await;
    }

    fn with_state<T>(&self, f: impl FnOnce(&mut State) -> T) -> T {
        f(&mut self.shared.state.lock().unwrap())
    }

    /// Every object of a kind, e.g. `objects("metallb.io/v1beta1", "IPAddressPool")`.
    pub fn objects(&self, api_version: &str, kind: &str) -> Vec<Value> {
        let Some(def) = resources::by_kind(api_version, kind) else {
            return Vec::new();
        };
        self.with_state(|s| s.store.list(def, None).into_iter().cloned().collect())
    }

    pub fn get_object(&self, api_version: &str, kind: &str, ns: &str, name: &str) -> Option<Value> {
        let def = resources::by_kind(api_version, kind)?;
        self.with_state(|s| s.store.get(def, ns, name).cloned())
    }

    pub fn services(&self) -> Vec<Value> {
        self.objects("v1", "Service")
    }

    pub fn get_service(&self, ns: &str, name: &str) -> Option<Value> {
        self.get_object("v1", "Service", ns, name)
    }

    /// The IPs in `status.loadBalancer.ingress`.
    pub fn lb_ips(&self, ns: &str, name: &str) -> Vec<String> {
        self.get_service(ns, name)
            .and_then(|s| {
                s.pointer("/status/loadBalancer/ingress")
                    .and_then(Value::as_array)
                    .cloned()
            })
            .unwrap_or_default()
            .iter()
            .filter_map(|i| i.get("ip").and_then(Value::as_str).map(str::to_string))
            .collect()
    }

    /// All Events, oldest first.
    pub fn events(&self) -> Vec<Value> {
        let mut evs = self.objects("v1", "Event");
        evs.sort_by_key(|e| meta(e, "resourceVersion").parse::<u64>().unwrap_or(0));
        evs
    }

    /// Events about one object, oldest first.
    pub fn events_for(&self, ns: &str, name: &str) -> Vec<Value> {
        self.events()
            .into_iter()
            .filter(|e| {
                e.pointer("/involvedObject/namespace") == Some(&ns.into())
                    && e.pointer("/involvedObject/name") == Some(&name.into())
            })
            .collect()
    }

    /// `(reason, message)` of the events about one object, oldest first.
    pub fn event_reasons(&self, ns: &str, name: &str) -> Vec<(String, String)> {
        let s = |v: &Value| v.as_str().unwrap_or_default().to_string();
        self.events_for(ns, name)
            .iter()
            .map(|e| (s(&e["reason"]), s(&e["message"])))
            .collect()
    }

    /// Creates any served object through the API semantics (defaults, admission, controllers).
    pub fn create(&self, obj: Value) -> Result<Value, ApiError> {
        let def = def_of(&obj)?;
        let ns = Some(meta(&obj, "namespace"))
            .filter(|n| !n.is_empty())
            .unwrap_or_else(|| "default".to_string());
        self.with_state(|s| s.create(def, &ns, obj, Some(MANAGER)))
    }

    pub fn create_service(&self, mut svc: Value) -> Result<Value, ApiError> {
        svc["apiVersion"] = "v1".into();
        svc["kind"] = "Service".into();
        self.create(svc)
    }

    /// A JSON merge patch, as `kubectl annotate` sends it.
    pub fn patch_service(
        &self,
        ns: &str,
        name: &str,
        merge_patch: Value,
    ) -> Result<Value, ApiError> {
        self.with_state(|s| {
            s.patch(
                SERVICES,
                ns,
                name,
                PatchRequest {
                    ty: PatchType::Merge,
                    body: &merge_patch,
                    status: false,
                    manager: Some(MANAGER),
                    force: false,
                },
            )
            .map(|r| r.0)
        })
    }

    /// Replaces `status` through the status subresource (e.g. `{"loadBalancer": {}}` to clear
    /// an IP), as a PUT to `/status` does.
    pub fn set_service_status(
        &self,
        ns: &str,
        name: &str,
        status: Value,
    ) -> Result<Value, ApiError> {
        self.with_state(|s| {
            let mut obj = s.get(SERVICES, ns, name)?;
            obj["status"] = status;
            s.update(SERVICES, ns, name, obj, true, None)
        })
    }

    pub fn delete(
        &self,
        api_version: &str,
        kind: &str,
        ns: &str,
        name: &str,
    ) -> Result<Value, ApiError> {
        let def = resources::by_kind(api_version, kind)
            .ok_or_else(|| ApiError::bad_request(format!("unknown kind {kind}")))?;
        self.with_state(|s| s.delete(def, ns, name))
    }

    pub fn delete_service(&self, ns: &str, name: &str) -> Result<Value, ApiError> {
        self.delete("v1", "Service", ns, name)
    }

    /// Applies YAML documents in order, each as a server-side-apply upsert (created, or merged
    /// into the existing object). `status` is ignored as by the API; seed through
    /// [`Options::seed_yaml`] to start from objects that carry status.
    pub fn apply_yaml(&self, yaml: &str) -> Result<Vec<Value>> {
        let mut out = Vec::new();
        for doc in seed::parse_docs(yaml)? {
            let def = def_of(&doc)?;
            let ns = Some(meta(&doc, "namespace"))
                .filter(|n| !n.is_empty())
                .unwrap_or_else(|| "default".to_string());
            let name = meta(&doc, "name");
            let (v, _) = self.with_state(|s| {
                s.patch(
                    def,
                    &ns,
                    &name,
                    PatchRequest {
                        ty: PatchType::Apply,
                        body: &doc,
                        status: false,
                        manager: Some(MANAGER),
                        // A test states the cluster it wants: take over any field.
                        force: true,
                    },
                )
            })?;
            out.push(v);
        }
        Ok(out)
    }

    /// Restarts the MetalLB controller: its allocations are forgotten and rebuilt from
    /// `status.loadBalancer.ingress`, Services holding an IP first (MetalLB >= 0.14.2).
    pub fn restart_metallb(&self) {
        self.with_state(|s| {
            if let Some(m) = s.metallb.as_mut() {
                m.restart(&mut s.store);
            }
        });
    }

    /// The current global resourceVersion.
    pub fn resource_version(&self) -> u64 {
        self.with_state(|s| s.store.resource_version())
    }

    /// Stops accepting connections and, for [`TestCluster::start_blocking`], ends its thread.
    pub fn shutdown(self) {}
}

impl Drop for TestCluster {
    fn drop(&mut self) {
        if let Some(stop) = self.shutdown.take() {
            let _ = stop.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
