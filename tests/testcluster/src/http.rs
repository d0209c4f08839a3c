//! The HTTPS front: routing of Kubernetes API paths, authentication, the test hooks, list and
//! watch formatting, and turning results into responses.

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, StreamBody, combinators::BoxBody};
use hyper::body::{Frame, Incoming};
use hyper::header::{ACCEPT, CONTENT_TYPE, HeaderMap, HeaderValue};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use rustls::ServerConfig;
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::sync::{broadcast, mpsc, oneshot};
use tokio_rustls::TlsAcceptor;

use crate::cluster::{PatchRequest, State};
use crate::error::ApiError;
use crate::faults::{FaultAction, Hooks, LoggedRequest, RequestLog, Verb};
use crate::patch::{self, PatchType};
use crate::resources::{self, ResourceDef};
use crate::selector::{FieldSelector, Selector};
use crate::{discovery, namespaces, openapi_v2, paging, protobuf, table};

pub(crate) type Body = BoxBody<Bytes, Infallible>;

/// Everything request handlers share.
pub(crate) struct Shared {
    pub state: Mutex<State>,
    pub hooks: Mutex<Hooks>,
    pub log: RequestLog,
    /// Bearer token accepted besides client certificates signed by the CA.
    pub token: String,
    /// The user named in Forbidden messages.
    pub user: String,
    /// Continue tokens older than this resourceVersion are expired (`410`), besides those
    /// older than the kept history; raised by `TestCluster::expire_continue_tokens`.
    pub continue_floor: AtomicU64,
    /// Print every request and its status to stderr (`LBIP_TESTCLUSTER_TRACE=1`).
    pub trace: bool,
}

/// Returned by a handler to make hyper close the connection without a response.
#[derive(Debug)]
struct Dropped;

impl std::fmt::Display for Dropped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("connection dropped by fault injection")
    }
}

impl std::error::Error for Dropped {}

/// Accepts TLS connections until `shutdown` fires.
pub(crate) async fn serve(
    listener: TcpListener,
    tls: Arc<ServerConfig>,
    shared: Arc<Shared>,
    mut shutdown: oneshot::Receiver<()>,
) {
    let acceptor = TlsAcceptor::from(tls);
    loop {
        let (tcp, _) = tokio::select! {
            _ = &mut shutdown => return,
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(_) => continue,
            },
        };
        let (acceptor, shared) = (acceptor.clone(), shared.clone());
        tokio::spawn(async move {
            let Ok(tls) = acceptor.accept(tcp).await else {
                return;
            };
            let cert = tls
                .get_ref()
                .1
                .peer_certificates()
                .is_some_and(|c| !c.is_empty());
            let svc = service_fn(move |req| handle(shared.clone(), req, cert));
            // Connection errors (including deliberate drops) only end this connection.
            let _ = http1::Builder::new()
                .serve_connection(TokioIo::new(tls), svc)
                .await;
        });
    }
}

enum Route {
    Version,
    Api,
    Apis,
    ResourceList(String, String),
    OpenApiIndex,
    OpenApiDoc(String),
    OpenApiV2,
    Namespaces(Option<String>),
    Resource {
        def: &'static ResourceDef,
        ns: Option<String>,
        name: Option<String>,
        sub: Option<String>,
    },
    NotFound,
}

fn route(path: &str) -> Route {
    let segs: Vec<&str> = path.trim_matches('/').split('/').collect();
    match segs.as_slice() {
        ["version"] => Route::Version,
        ["api"] => Route::Api,
        ["apis"] => Route::Apis,
        ["api", v] => Route::ResourceList(String::new(), v.to_string()),
        ["apis", g, v] => Route::ResourceList(g.to_string(), v.to_string()),
        ["openapi", "v2"] => Route::OpenApiV2,
        ["openapi", "v3"] => Route::OpenApiIndex,
        ["openapi", "v3", rest @ ..] => Route::OpenApiDoc(rest.join("/")),
        ["api", v, rest @ ..] => resource_route("", v, rest),
        ["apis", g, v, rest @ ..] => resource_route(g, v, rest),
        _ => Route::NotFound,
    }
}

fn resource_route(group: &str, version: &str, rest: &[&str]) -> Route {
    let (ns, rest) = match rest {
        ["namespaces"] if group.is_empty() => return Route::Namespaces(None),
        ["namespaces", ns] if group.is_empty() => return Route::Namespaces(Some(ns.to_string())),
        ["namespaces", ns, rest @ ..] => (Some(ns.to_string()), rest),
        _ => (None, rest),
    };
    let (plural, name, sub) = match rest {
        [p] => (*p, None, None),
        [p, n] => (*p, Some(n.to_string()), None),
        [p, n, s] => (*p, Some(n.to_string()), Some(s.to_string())),
        _ => return Route::NotFound,
    };
    match resources::find(group, version, plural) {
        // Every kind is namespaced: a name needs a namespace.
        Some(def) if ns.is_some() || name.is_none() => Route::Resource { def, ns, name, sub },
        _ => Route::NotFound,
    }
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => match std::str::from_utf8(&bytes[i + 1..i + 3])
                .ok()
                .and_then(|h| u8::from_str_radix(h, 16).ok())
            {
                Some(b) => {
                    out.push(b);
                    i += 2;
                }
                None => out.push(b'%'),
            },
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn parse_query(q: &str) -> HashMap<String, String> {
    q.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (percent_decode(k), percent_decode(v))
        })
        .collect()
}

fn json_response(code: u16, v: &Value) -> Response<Body> {
    let mut r = Response::new(Full::new(Bytes::from(v.to_string())).boxed());
    *r.status_mut() = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    r.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    r
}

fn error_response(e: &ApiError) -> Response<Body> {
    let mut r = json_response(e.code, &e.to_json());
    if let Some(secs) = e.retry_after {
        r.headers_mut()
            .insert("Retry-After", HeaderValue::from(secs));
    }
    r
}

fn not_found() -> ApiError {
    ApiError::new(
        404,
        "NotFound",
        "the server could not find the requested resource",
    )
}

fn verb_of(method: &Method, has_name: bool, watch: bool) -> Verb {
    match *method {
        Method::POST => Verb::Create,
        Method::PUT => Verb::Update,
        Method::PATCH => Verb::Patch,
        Method::DELETE => Verb::Delete,
        _ if watch => Verb::Watch,
        _ if has_name => Verb::Get,
        _ => Verb::List,
    }
}

fn authenticated(shared: &Shared, headers: &HeaderMap, cert: bool) -> bool {
    let bearer = headers
        .get("authorization")
        .and_then(|h| h.to_str().ok())
        .and_then(|h| h.strip_prefix("Bearer "));
    cert || bearer == Some(shared.token.as_str())
}

async fn handle(
    shared: Arc<Shared>,
    req: Request<Incoming>,
    cert: bool,
) -> Result<Response<Body>, Dropped> {
    let (parts, body) = req.into_parts();
    let body = body
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    let (path, query) = (
        parts.uri.path().to_string(),
        parts.uri.query().unwrap_or("").to_string(),
    );
    let q = parse_query(&query);
    let route = route(&path);
    let watch = matches!(q.get("watch").map(String::as_str), Some("true" | "1"));
    let (resource, ns, name, sub) = match &route {
        Route::Resource { def, ns, name, sub } => {
            (Some(def.plural), ns.clone(), name.clone(), sub.clone())
        }
        Route::Namespaces(name) => (Some("namespaces"), None, name.clone(), None),
        _ => (None, None, None, None),
    };
    let verb = verb_of(&parts.method, name.is_some(), watch);
    let mut entry = LoggedRequest {
        method: parts.method.to_string(),
        path,
        query,
        verb,
        resource: resource.map(str::to_string),
        subresource: sub.clone(),
        namespace: ns.clone(),
        name: name.clone(),
        status: 0,
    };

    let outcome = if !authenticated(&shared, &parts.headers, cert) {
        Err(ApiError::unauthorized())
    } else {
        // RBAC first (a denied request never reaches a fault), then injected faults.
        let action = {
            let mut hooks = shared.hooks.lock().unwrap();
            if hooks.denied(verb, resource, ns.as_deref()) {
                let (qualified, group) = match &route {
                    Route::Resource { def, .. } => (def.qualified(), def.group),
                    _ => (resource.unwrap_or_default().to_string(), ""),
                };
                let who = name.as_deref().unwrap_or("");
                Some(Err(ApiError::forbidden(
                    &shared.user,
                    verb.as_str(),
                    &qualified,
                    group,
                    ns.as_deref(),
                    who,
                )))
            } else {
                hooks.fire(verb, resource, name.as_deref()).map(Ok)
            }
        };
        match action {
            Some(Err(forbidden)) => Err(forbidden),
            Some(Ok(FaultAction::Drop)) => {
                shared.log.push(entry);
                return Err(Dropped);
            }
            Some(Ok(FaultAction::Delay(d))) => {
                tokio::time::sleep(d).await;
                Ok(())
            }
            Some(Ok(FaultAction::Status(code))) => Err(injected(code)),
            Some(Ok(FaultAction::Create(obj))) => {
                create_racing(&shared, obj);
                Ok(())
            }
            None => Ok(()),
        }
    };
    let resp = match outcome {
        Err(e) => error_response(&e),
        Ok(()) => match dispatch(
            &shared,
            route,
            &parts.method,
            verb,
            &q,
            &parts.headers,
            &body,
        ) {
            Ok(r) => r,
            Err(e) => error_response(&e),
        },
    };
    entry.status = resp.status().as_u16();
    if shared.trace {
        let content_type = parts
            .headers
            .get(CONTENT_TYPE)
            .and_then(|h| h.to_str().ok());
        let agent = parts
            .headers
            .get("user-agent")
            .and_then(|h| h.to_str().ok());
        let accept = parts.headers.get(ACCEPT).and_then(|h| h.to_str().ok());
        eprintln!(
            "testcluster: {} {}{}{} -> {} ({}; accept {}; {})",
            entry.method,
            entry.path,
            if entry.query.is_empty() { "" } else { "?" },
            entry.query,
            entry.status,
            content_type.unwrap_or("-"),
            accept.unwrap_or("-"),
            agent.unwrap_or("-"),
        );
    }
    shared.log.push(entry);
    Ok(resp)
}

/// A `FaultAction::Create`: the object as another client would create it. A failure (the
/// object exists already, a bad kind) is ignored: the race did not happen.
fn create_racing(shared: &Shared, obj: Value) {
    let api_version = obj
        .get("apiVersion")
        .and_then(Value::as_str)
        .unwrap_or("v1");
    let kind = obj.get("kind").and_then(Value::as_str).unwrap_or("Service");
    let Some(def) = resources::by_kind(api_version, kind) else {
        return;
    };
    let ns = obj
        .pointer("/metadata/namespace")
        .and_then(Value::as_str)
        .filter(|n| !n.is_empty())
        .unwrap_or("default")
        .to_string();
    let _ = shared
        .state
        .lock()
        .unwrap()
        .create(def, &ns, obj, Some("racing-client"));
}

/// The `Status` an injected failure answers with.
fn injected(code: u16) -> ApiError {
    match code {
        409 => ApiError::new(
            409,
            "Conflict",
            "injected fault: the object has been modified; please apply your changes to the latest version and try again",
        ),
        403 => ApiError::new(403, "Forbidden", "injected fault: forbidden"),
        429 => ApiError::too_many_requests(1),
        401 => ApiError::unauthorized(),
        404 => ApiError::new(404, "NotFound", "injected fault: not found"),
        // What a real server answers for a continue token older than its history.
        410 => ApiError::new(410, "Expired", paging::EXPIRED),
        c => ApiError::new(c, "InternalError", "injected fault: internal error"),
    }
}

fn dispatch(
    shared: &Shared,
    route: Route,
    method: &Method,
    verb: Verb,
    q: &HashMap<String, String>,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Response<Body>, ApiError> {
    let ok = |v: Value| Ok(json_response(200, &v));
    match route {
        Route::Version => ok(discovery::version()),
        Route::Api => ok(discovery::api()),
        Route::Apis => ok(discovery::apis()),
        Route::ResourceList(g, v) => {
            discovery::resource_list(&g, &v).map_or_else(|| Err(not_found()), ok)
        }
        Route::OpenApiIndex => ok(discovery::openapi_index()),
        Route::OpenApiV2 => {
            let accept = headers
                .get(ACCEPT)
                .and_then(|h| h.to_str().ok())
                .unwrap_or("");
            let (content_type, body) = openapi_v2::document(accept);
            let mut r = Response::new(Full::new(Bytes::from(body)).boxed());
            r.headers_mut()
                .insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
            Ok(r)
        }
        Route::OpenApiDoc(p) => discovery::openapi_doc(&p).map_or_else(|| Err(not_found()), ok),
        Route::NotFound => Err(not_found()),
        Route::Namespaces(name) => {
            let mut state = shared.state.lock().unwrap();
            let ct = headers
                .get(CONTENT_TYPE)
                .and_then(|h| h.to_str().ok())
                .unwrap_or("");
            let (code, v) = namespaces::handle(&mut state.store, method, name, q, ct, body, |b| {
                request_object(headers, b)
            })?;
            Ok(json_response(code, &v))
        }
        Route::Resource { def, ns, name, sub } => {
            let status = match sub.as_deref() {
                None => false,
                Some("status") if def.status => true,
                Some(_) => return Err(not_found()),
            };
            // The field manager: `fieldManager`, else (for everything but apply, which must
            // name one) the User-Agent up to its first `/`, as a real API server does.
            let explicit_manager = q.get("fieldManager").map(String::as_str);
            let agent_manager = headers
                .get("user-agent")
                .and_then(|h| h.to_str().ok())
                .and_then(|a| a.split('/').next())
                .filter(|a| !a.is_empty());
            let manager = explicit_manager.or(agent_manager);
            let force = q.get("force").is_some_and(|f| f == "true");
            let accept = headers
                .get(ACCEPT)
                .and_then(|h| h.to_str().ok())
                .unwrap_or("");
            let dry_run = match q.get("dryRun").map(String::as_str) {
                None | Some("") => false,
                Some("All") => true,
                Some(other) => {
                    return Err(ApiError::bad_request(format!(
                        "unsupported dryRun value {other:?}, want All"
                    )));
                }
            };
            // Mutations run on the live state, or on a throw-away copy for a dry run.
            let write = |f: &mut dyn FnMut(&mut State) -> Result<Response<Body>, ApiError>| {
                let mut live = shared.state.lock().unwrap();
                if dry_run {
                    f(&mut live.dry_run_copy())
                } else {
                    f(&mut live)
                }
            };
            match (verb, ns, name) {
                (Verb::List, ns, _) => {
                    let (label, field) = selectors(q)?;
                    let state = shared.state.lock().unwrap();
                    let items: Vec<&Value> = state
                        .store
                        .list(def, ns.as_deref())
                        .into_iter()
                        .filter(|o| label.matches_object(o) && field.matches(o))
                        .collect();
                    let filtered = q.get("labelSelector").is_some_and(|s| !s.is_empty())
                        || q.get("fieldSelector").is_some_and(|s| !s.is_empty());
                    let expired_below = state
                        .store
                        .compacted_before()
                        .max(shared.continue_floor.load(Ordering::Relaxed));
                    let page = paging::page(
                        items,
                        q,
                        state.store.resource_version(),
                        expired_below,
                        filtered,
                    )?;
                    let mut list = if table::wanted(accept) {
                        table::table(def, &page.items, page.resource_version)
                    } else {
                        list_json(
                            &def.api_version(),
                            &format!("{}List", def.kind),
                            page.resource_version,
                            page.items.into_iter().cloned().collect(),
                        )
                    };
                    if let Some(t) = page.continue_token {
                        list["metadata"]["continue"] = json!(t);
                    }
                    if let Some(n) = page.remaining {
                        list["metadata"]["remainingItemCount"] = json!(n);
                    }
                    ok(list)
                }
                (Verb::Watch, ns, _) => watch(shared, def, ns, q, table::wanted(accept)),
                (Verb::Get, Some(ns), Some(name)) => {
                    let state = shared.state.lock().unwrap();
                    let obj = state.get(def, &ns, &name)?;
                    if table::wanted(accept) {
                        return ok(table::table(def, &[&obj], state.store.resource_version()));
                    }
                    ok(obj)
                }
                (Verb::Create, Some(ns), None) => {
                    let v = request_object(headers, body)?;
                    let mut v = Some(v);
                    write(&mut |s| {
                        let created = s.create(def, &ns, v.take().unwrap_or_default(), manager)?;
                        Ok(json_response(201, &created))
                    })
                }
                (Verb::Update, Some(ns), Some(name)) => {
                    let v = request_object(headers, body)?;
                    let mut v = Some(v);
                    write(&mut |s| {
                        let updated = s.update(
                            def,
                            &ns,
                            &name,
                            v.take().unwrap_or_default(),
                            status,
                            manager,
                        )?;
                        Ok(json_response(200, &updated))
                    })
                }
                (Verb::Patch, Some(ns), Some(name)) => {
                    let ct = headers
                        .get(CONTENT_TYPE)
                        .and_then(|h| h.to_str().ok())
                        .unwrap_or("");
                    let ty = PatchType::from_content_type(ct).ok_or_else(|| {
                        ApiError::new(
                            415,
                            "UnsupportedMediaType",
                            format!(
                                "the body of the request was in an unknown format - accepted media types include: \
                                 application/json-patch+json, application/merge-patch+json, \
                                 application/apply-patch+yaml, application/strategic-merge-patch+json (got {ct:?})"
                            ),
                        )
                    })?;
                    let p = patch::parse_body(body, ty == PatchType::Apply)?;
                    write(&mut |s| {
                        let req = PatchRequest {
                            ty,
                            body: &p,
                            status,
                            manager: if ty == PatchType::Apply {
                                explicit_manager
                            } else {
                                manager
                            },
                            force,
                        };
                        let (v, created) = s.patch(def, &ns, &name, req)?;
                        Ok(json_response(if created { 201 } else { 200 }, &v))
                    })
                }
                (Verb::Delete, Some(ns), Some(name)) => {
                    write(&mut |s| Ok(json_response(200, &s.delete(def, &ns, &name)?)))
                }
                _ => Err(method_not_allowed()),
            }
        }
    }
}

/// The object a POST or PUT sends: JSON, or Kubernetes protobuf from client-go's typed
/// clients (see [`protobuf`]).
fn request_object(headers: &HeaderMap, body: &[u8]) -> Result<Value, ApiError> {
    let content_type = headers
        .get(CONTENT_TYPE)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("");
    if content_type.starts_with(protobuf::MEDIA_TYPE) {
        protobuf::decode(body)
    } else {
        patch::parse_body(body, false)
    }
}

fn method_not_allowed() -> ApiError {
    ApiError::new(
        405,
        "MethodNotAllowed",
        "the server does not allow this method on the requested resource",
    )
}

fn selectors(q: &HashMap<String, String>) -> Result<(Selector, FieldSelector), ApiError> {
    Ok((
        Selector::parse(q.get("labelSelector").map_or("", String::as_str))?,
        FieldSelector::parse(q.get("fieldSelector").map_or("", String::as_str))?,
    ))
}

fn list_json(api_version: &str, kind: &str, rv: u64, items: Vec<Value>) -> Value {
    json!({"apiVersion": api_version, "kind": kind, "metadata": {"resourceVersion": rv.to_string()}, "items": items})
}

fn event_line(event_type: &str, object: &Value) -> Bytes {
    let mut line = json!({"type": event_type, "object": object}).to_string();
    line.push('\n');
    Bytes::from(line)
}

/// A watch: replays changes after `resourceVersion` (or the current objects as ADDED when it
/// is absent or 0), then streams live changes until `timeoutSeconds` or the client leaves.
fn watch(
    shared: &Shared,
    def: &'static ResourceDef,
    ns: Option<String>,
    q: &HashMap<String, String>,
    as_table: bool,
) -> Result<Response<Body>, ApiError> {
    let (label, field) = selectors(q)?;
    // After a Table list kubectl expects each event's object as a one-row Table.
    let line = move |event_type: &str, obj: &Value| {
        if as_table {
            event_line(event_type, &table::table(def, &[obj], 0))
        } else {
            event_line(event_type, obj)
        }
    };
    let timeout = Duration::from_secs(
        q.get("timeoutSeconds")
            .and_then(|t| t.parse().ok())
            .unwrap_or(1800),
    );
    let wanted = move |resource: &str, obj: &Value| {
        resource == def.plural
            && ns.as_deref().is_none_or(|n| {
                obj.pointer("/metadata/namespace").and_then(Value::as_str) == Some(n)
            })
            && label.matches_object(obj)
            && field.matches(obj)
    };
    let (initial, mut live) = {
        let state = shared.state.lock().unwrap();
        let live = state.store.subscribe();
        let initial: Vec<Bytes> = match q.get("resourceVersion").map(String::as_str) {
            None | Some("" | "0") => state
                .store
                .list(def, None)
                .into_iter()
                .filter(|o| wanted(def.plural, o))
                .map(|o| line("ADDED", o))
                .collect(),
            Some(rv) => {
                let rv: u64 = rv.parse().map_err(|_| {
                    ApiError::bad_request(format!("invalid resourceVersion {rv:?}"))
                })?;
                match state.store.since(rv) {
                    Some(evs) => evs
                        .iter()
                        .filter(|e| wanted(e.resource, &e.object))
                        .map(|e| line(e.event_type, &e.object))
                        .collect(),
                    None => {
                        let gone = ApiError::new(
                            410,
                            "Expired",
                            format!(
                                "too old resource version: {rv} ({})",
                                state.store.resource_version()
                            ),
                        );
                        vec![event_line("ERROR", &gone.to_json())]
                    }
                }
            }
        };
        (initial, live)
    };
    let (tx, rx) = mpsc::unbounded_channel::<Bytes>();
    tokio::spawn(async move {
        let expired = initial
            .first()
            .is_some_and(|l| l.starts_with(b"{\"type\":\"ERROR\""));
        for line in initial {
            if tx.send(line).is_err() {
                return;
            }
        }
        if expired {
            return;
        }
        let deadline = tokio::time::sleep(timeout);
        tokio::pin!(deadline);
        loop {
            tokio::select! {
                _ = &mut deadline => return,
                _ = tx.closed() => return,
                ev = live.recv() => match ev {
                    Ok(e) if wanted(e.resource, &e.object) => {
                        if tx.send(line(e.event_type, &e.object)).is_err() {
                            return;
                        }
                    }
                    Ok(_) => {}
                    // A watcher too slow to keep up is ended; clients re-list, as with a real server.
                    Err(broadcast::error::RecvError::Lagged(_) | broadcast::error::RecvError::Closed) => return,
                },
            }
        }
    });
    let stream = futures::stream::unfold(rx, |mut rx| async move {
        rx.recv()
            .await
            .map(|b| (Ok::<_, Infallible>(Frame::data(b)), rx))
    });
    let mut r = Response::new(BodyExt::boxed(StreamBody::new(stream)));
    r.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    Ok(r)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_and_queries() {
        assert!(matches!(route("/api/v1/namespaces/a/services/b/status"),
            Route::Resource { def, ns: Some(_), name: Some(_), sub: Some(_) } if def.plural == "services"));
        assert!(matches!(
            route("/api/v1/services"),
            Route::Resource {
                ns: None,
                name: None,
                ..
            }
        ));
        assert!(matches!(route("/api/v1/services/x"), Route::NotFound));
        assert!(matches!(
            route("/apis/metallb.io/v1beta1/namespaces/m/ipaddresspools"),
            Route::Resource { .. }
        ));
        assert!(matches!(
            route("/api/v1/namespaces/x"),
            Route::Namespaces(Some(_))
        ));
        assert!(matches!(route("/openapi/v2"), Route::OpenApiV2));
        let q = parse_query("labelSelector=app%3Dweb%2Ctier+in+%28a%29&watch=1");
        assert_eq!(q["labelSelector"], "app=web,tier in (a)");
        assert_eq!(percent_decode("%zz%4"), "%zz%4");
    }
}
