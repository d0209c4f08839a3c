//! Test hooks: the request log, fault injection and RBAC-like denials.

use std::sync::{Arc, Mutex};
use std::time::Duration;

/// What a request does, as RBAC and the request log see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Verb {
    Get,
    List,
    Watch,
    Create,
    Update,
    Patch,
    Delete,
}

impl Verb {
    pub fn as_str(self) -> &'static str {
        match self {
            Verb::Get => "get",
            Verb::List => "list",
            Verb::Watch => "watch",
            Verb::Create => "create",
            Verb::Update => "update",
            Verb::Patch => "patch",
            Verb::Delete => "delete",
        }
    }

    pub fn is_mutating(self) -> bool {
        matches!(
            self,
            Verb::Create | Verb::Update | Verb::Patch | Verb::Delete
        )
    }
}

/// One request as the server saw it.
#[derive(Debug, Clone, PartialEq)]
pub struct LoggedRequest {
    pub method: String,
    pub path: String,
    pub query: String,
    pub verb: Verb,
    /// Plural resource (`services`), or `None` for discovery and OpenAPI requests.
    pub resource: Option<String>,
    pub subresource: Option<String>,
    pub namespace: Option<String>,
    pub name: Option<String>,
    /// HTTP status sent; 0 when the connection was dropped on purpose.
    pub status: u16,
}

/// Shared, clonable view of every request served, oldest first.
#[derive(Debug, Clone, Default)]
pub struct RequestLog(Arc<Mutex<Vec<LoggedRequest>>>);

impl RequestLog {
    pub fn entries(&self) -> Vec<LoggedRequest> {
        self.0.lock().unwrap().clone()
    }

    pub fn clear(&self) {
        self.0.lock().unwrap().clear();
    }

    /// Requests with this verb on this resource (discovery requests never match).
    pub fn count(&self, verb: Verb, resource: &str) -> usize {
        self.0
            .lock()
            .unwrap()
            .iter()
            .filter(|r| r.verb == verb && r.resource.as_deref() == Some(resource))
            .count()
    }

    /// Every create, update, patch and delete.
    pub fn mutating(&self) -> Vec<LoggedRequest> {
        self.0
            .lock()
            .unwrap()
            .iter()
            .filter(|r| r.verb.is_mutating())
            .cloned()
            .collect()
    }

    /// Requests on API resources, leaving out discovery and OpenAPI.
    pub fn api_calls(&self) -> Vec<LoggedRequest> {
        self.0
            .lock()
            .unwrap()
            .iter()
            .filter(|r| r.resource.is_some())
            .cloned()
            .collect()
    }

    pub(crate) fn push(&self, r: LoggedRequest) {
        self.0.lock().unwrap().push(r);
    }
}

/// What an injected fault does to the request it hits.
#[derive(Debug, Clone, PartialEq)]
pub enum FaultAction {
    /// Answer with this HTTP code and a matching `Status` (500, 409, 403, 429 with
    /// `Retry-After: 1`, or any other code as InternalError-like).
    Status(u16),
    /// Serve the request normally after a pause.
    Delay(Duration),
    /// Close the connection without answering.
    Drop,
    /// Before serving the request, create this object (any served kind, through the API
    /// semantics: defaults, admission, MetalLB), as another client racing the one under test
    /// would; then serve the request normally.
    Create(serde_json::Value),
}

/// A fault: fires on the `nth` matching request (1-based, counted from when it was added) and
/// the `times - 1` matching requests after it.
#[derive(Debug, Clone, PartialEq)]
pub struct Fault {
    pub verb: Option<Verb>,
    pub resource: Option<String>,
    pub name: Option<String>,
    pub nth: usize,
    pub times: usize,
    pub action: FaultAction,
    seen: usize,
}

impl Fault {
    /// A fault on every request of `verb` on `resource`; narrow it with the builder methods.
    pub fn on(verb: Verb, resource: &str) -> Fault {
        Fault {
            verb: Some(verb),
            resource: Some(resource.to_string()),
            name: None,
            nth: 1,
            times: 1,
            action: FaultAction::Status(500),
            seen: 0,
        }
    }

    /// A fault on any API request.
    pub fn any() -> Fault {
        Fault {
            verb: None,
            resource: None,
            ..Fault::on(Verb::Get, "")
        }
    }

    pub fn name(mut self, name: &str) -> Fault {
        self.name = Some(name.to_string());
        self
    }

    pub fn nth(mut self, n: usize) -> Fault {
        self.nth = n.max(1);
        self
    }

    pub fn times(mut self, n: usize) -> Fault {
        self.times = n;
        self
    }

    pub fn action(mut self, action: FaultAction) -> Fault {
        self.action = action;
        self
    }

    fn matches(&self, verb: Verb, resource: Option<&str>, name: Option<&str>) -> bool {
        resource.is_some()
            && self.verb.is_none_or(|v| v == verb)
            && self.resource.as_deref().is_none_or(|r| Some(r) == resource)
            && self.name.as_deref().is_none_or(|n| Some(n) == name)
    }
}

/// A denied `verb` on `resource`, in one namespace or all.
#[derive(Debug, Clone, PartialEq)]
pub struct Denial {
    pub verb: Verb,
    pub resource: String,
    pub namespace: Option<String>,
}

#[derive(Debug, Default)]
pub(crate) struct Hooks {
    faults: Vec<Fault>,
    denials: Vec<Denial>,
}

impl Hooks {
    pub fn add_fault(&mut self, f: Fault) {
        self.faults.push(f);
    }

    pub fn clear(&mut self) {
        self.faults.clear();
        self.denials.clear();
    }

    pub fn deny(&mut self, d: Denial) {
        self.denials.push(d);
    }

    pub fn denied(&self, verb: Verb, resource: Option<&str>, namespace: Option<&str>) -> bool {
        self.denials.iter().any(|d| {
            d.verb == verb
                && Some(d.resource.as_str()) == resource
                && d.namespace.as_deref().is_none_or(|n| Some(n) == namespace)
        })
    }

    /// Counts the request against every fault and returns the action of the first that fires.
    pub fn fire(
        &mut self,
        verb: Verb,
        resource: Option<&str>,
        name: Option<&str>,
    ) -> Option<FaultAction> {
        let mut hit = None;
        for f in self
            .faults
            .iter_mut()
            .filter(|f| f.matches(verb, resource, name))
        {
            f.seen += 1;
            if hit.is_none() && f.seen >= f.nth && f.seen < f.nth + f.times {
                hit = Some(f.action.clone());
            }
        }
        hit
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nth_and_times() {
        let mut h = Hooks::default();
        h.add_fault(
            Fault::on(Verb::Patch, "services")
                .name("a")
                .nth(2)
                .times(2)
                .action(FaultAction::Status(409)),
        );
        let fire = |h: &mut Hooks, n| h.fire(Verb::Patch, Some("services"), Some(n));
        assert_eq!(fire(&mut h, "a"), None);
        assert_eq!(fire(&mut h, "b"), None);
        assert_eq!(fire(&mut h, "a"), Some(FaultAction::Status(409)));
        assert_eq!(fire(&mut h, "a"), Some(FaultAction::Status(409)));
        assert_eq!(fire(&mut h, "a"), None);
        assert_eq!(h.fire(Verb::Get, None, None), None);
        h.deny(Denial {
            verb: Verb::Patch,
            resource: "services".into(),
            namespace: Some("x".into()),
        });
        assert!(h.denied(Verb::Patch, Some("services"), Some("x")));
        assert!(!h.denied(Verb::Patch, Some("services"), Some("y")));
    }
}
