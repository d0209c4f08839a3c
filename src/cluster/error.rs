//! Cluster errors a person can act on: a 403 names the permission, a connection or TLS
//! failure names the server and context. Nothing here ever contains a token or key: we only
//! format our own fields, the server's status message and transport errors.

use std::fmt;

/// The API operation that failed, for messages (`list services in namespace mlflow`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Op {
    pub verb: &'static str,
    /// Plural resource, with its API group for non-core kinds (`ipaddresspools.metallb.io`).
    pub resource: String,
    /// `None` for all namespaces (cluster scope).
    pub namespace: Option<String>,
    /// The object name for get/patch/watch of one object.
    pub name: Option<String>,
}

impl Op {
    pub fn new(verb: &'static str, resource: &str, namespace: Option<&str>) -> Op {
        Op {
            verb,
            resource: resource.to_string(),
            namespace: namespace.map(String::from),
            name: None,
        }
    }
    pub fn named(mut self, name: &str) -> Op {
        self.name = Some(name.to_string());
        self
    }
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.verb, self.resource)?;
        if let Some(n) = &self.name {
            write!(f, " {n}")?;
        }
        match &self.namespace {
            Some(ns) => write!(f, " in namespace {ns}"),
            None => write!(f, " in all namespaces (cluster scope)"),
        }
    }
}

/// The server and context a request went to, for messages.
pub struct Target<'a> {
    pub server: &'a str,
    pub context: &'a str,
    /// kubectl flags selecting the same entries (`--context prod`), for help lines.
    pub kubectl_flags: &'a str,
}

/// Where a request went, for messages (boxed in errors: errors stay small).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    pub server: String,
    pub context: String,
    /// kubectl flags selecting the same entries, for the `kubectl ... get --raw` hint.
    pub kubectl_flags: String,
}

#[derive(Debug)]
pub enum ClusterError {
    /// The kubeconfig could not be read or has no usable context.
    Config { message: String },
    /// TCP/TLS/HTTP failure talking to the server.
    Unreachable {
        at: Box<Endpoint>,
        op: Op,
        detail: String,
    },
    Forbidden {
        op: Box<Op>,
        context: String,
        message: String,
    },
    /// 409: the object changed since it was read.
    Conflict { op: Op },
    /// Any other API error status; `retries` is how often it was retried in vain (429, 5xx).
    Api {
        op: Op,
        code: u16,
        message: String,
        retries: u32,
    },
    /// MetalLB did not report the expected IP in time.
    Timeout { what: String },
    /// The cluster changed under an apply in a way it could not plan around.
    Changed { what: String },
}

impl ClusterError {
    pub fn is_conflict(&self) -> bool {
        matches!(self, ClusterError::Conflict { .. })
    }
    /// The first line of the message (what happened, without the help).
    pub fn summary(&self) -> String {
        self.to_string()
            .lines()
            .next()
            .unwrap_or_default()
            .to_string()
    }
    pub fn is_forbidden(&self) -> bool {
        matches!(self, ClusterError::Forbidden { .. })
    }
    pub fn is_not_found(&self) -> bool {
        matches!(self, ClusterError::Api { code: 404, .. })
    }
    /// Maps a kube-rs error for `op` sent to `target`; `retries`: how often the retry policy
    /// resent the request before giving up (0 when it did not retry).
    pub fn from_kube(err: kube::Error, op: Op, target: &Target, retries: u32) -> ClusterError {
        match err {
            kube::Error::Api(status) => match status.code {
                403 => ClusterError::Forbidden {
                    op: Box::new(op),
                    context: target.context.to_string(),
                    message: status.message.clone(),
                },
                409 => ClusterError::Conflict { op },
                code => ClusterError::Api {
                    op,
                    code,
                    message: if status.message.is_empty() {
                        status.reason.clone()
                    } else {
                        status.message.clone()
                    },
                    retries,
                },
            },
            kube::Error::Auth(e) => ClusterError::Config {
                message: format!(
                    "cannot authenticate to {} (context {}): {}",
                    target.server,
                    target.context,
                    error_chain(&e)
                ),
            },
            other => ClusterError::Unreachable {
                at: Box::new(Endpoint {
                    server: target.server.to_string(),
                    context: target.context.to_string(),
                    kubectl_flags: target.kubectl_flags.to_string(),
                }),
                op,
                detail: error_chain(&other),
            },
        }
    }

    /// The same error with every secret in `secrets` (and URL credentials) removed from its
    /// text: transport errors and server messages may quote a URL or an auth plugin's output.
    pub fn redacted(self, secrets: &[String]) -> ClusterError {
        let r = |s: String| super::secrets::redact_text(&s, secrets);
        match self {
            ClusterError::Config { message } => ClusterError::Config {
                message: r(message),
            },
            ClusterError::Unreachable { mut at, op, detail } => {
                at.server = r(at.server);
                ClusterError::Unreachable {
                    at,
                    op,
                    detail: r(detail),
                }
            }
            ClusterError::Forbidden {
                op,
                context,
                message,
            } => ClusterError::Forbidden {
                op,
                context,
                message: r(message),
            },
            ClusterError::Api {
                op,
                code,
                message,
                retries,
            } => ClusterError::Api {
                op,
                code,
                message: r(message),
                retries,
            },
            ClusterError::Timeout { what } => ClusterError::Timeout { what: r(what) },
            ClusterError::Changed { what } => ClusterError::Changed { what: r(what) },
            other @ ClusterError::Conflict { .. } => other,
        }
    }
}

/// `kubectl <flags> <rest>`, without a double space when there are no flags.
pub fn kubectl_command(flags: &str, rest: &str) -> String {
    if flags.is_empty() {
        format!("kubectl {rest}")
    } else {
        format!("kubectl {flags} {rest}")
    }
}

/// The error and its sources, `: `-joined (hyper and rustls put the useful part deep).
pub fn error_chain(err: &dyn std::error::Error) -> String {
    // Only the first line of each message: parser errors append a snippet of the input,
    // which for a kubeconfig can hold a token.
    let first_line = |e: &dyn std::error::Error| {
        let text = e.to_string();
        text.lines().next().unwrap_or_default().to_string()
    };
    let mut parts = vec![first_line(err)];
    let mut source = err.source();
    while let Some(s) = source {
        let text = first_line(s);
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        source = s.source();
    }
    parts.join(": ")
}

impl fmt::Display for ClusterError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ClusterError::Config { message } => write!(
                f,
                "{message}\n  = help: check --kubeconfig/$KUBECONFIG and --context (`kubectl config get-contexts`)"
            ),
            ClusterError::Unreachable { at, op, detail } => {
                let Endpoint {
                    server,
                    context,
                    kubectl_flags,
                } = at.as_ref();
                let help = if detail.contains("certificate") {
                    "the server's TLS certificate is not trusted: check certificate-authority(-data) in the kubeconfig's cluster entry, or set tls-server-name to a name the certificate holds"
                } else {
                    "check the server address in the kubeconfig and that the API server is up"
                };
                write!(
                    f,
                    "cannot reach the Kubernetes API server {server} (context {context}) to {op}: {detail}\n  = help: {help}; `{}` should work too",
                    kubectl_command(kubectl_flags, "get --raw /version")
                )
            }
            ClusterError::Forbidden {
                op,
                context,
                message,
            } => {
                let scope = match &op.namespace {
                    Some(ns) => format!("a Role in namespace {ns}"),
                    None => "a ClusterRole with a ClusterRoleBinding".to_string(),
                };
                write!(
                    f,
                    "forbidden: your user (context {context}) may not {op}\n  server said: {message}\n  = help: grant verb `{}` on resource `{}` through {scope} (README: \"RBAC\")",
                    op.verb, op.resource
                )
            }
            ClusterError::Conflict { op } => write!(
                f,
                "conflict: the object changed while lbip worked ({op}); rerun the command"
            ),
            ClusterError::Api {
                op,
                code,
                message,
                retries,
            } => {
                write!(f, "the API server refused to {op}: HTTP {code}: {message}")?;
                if *retries > 0 {
                    write!(f, " (still so after {retries} retries with backoff)")?;
                }
                Ok(())
            }
            ClusterError::Timeout { what } | ClusterError::Changed { what } => write!(f, "{what}"),
        }
    }
}

impl std::error::Error for ClusterError {}
