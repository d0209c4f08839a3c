//! Rules about names: namespace and Service name must be names Kubernetes accepts, one
//! entry per Service, hostnames valid and unique, and `pinBy: pool` narrowed by labels.

use super::at;
use crate::diagnostic::Finding;
use crate::registry::model::{Entry, PinBy, Registry};
use std::collections::HashMap;

/// The first entry seen for each key, so each later duplicate is reported once, against it.
/// (Maps, not pairwise scans: a registry with thousands of entries stays instant.)
type FirstSeen<'a, K> = HashMap<K, &'a Entry>;

pub fn check(reg: &Registry) -> Vec<Finding> {
    let mut out = Vec::new();
    let mut services = FirstSeen::new();
    let mut hostnames = FirstSeen::new();
    let mut variables = FirstSeen::new();
    for entry in &reg.services {
        kubernetes_names(entry, &mut out);
        duplicate_service(entry, &mut services, &mut out);
        hostname(entry, &mut hostnames, &mut out);
        pin_by_pool_labels(entry, &mut out);
        ansible_var_clash(entry, &mut variables, &mut out);
    }
    out
}

/// `lbip export ansible-vars` turns ids into variable names (`-` → `_`); two ids that end up
/// as one variable would silently lose one IP.
fn ansible_var_clash<'a>(
    entry: &'a Entry,
    seen: &mut FirstSeen<'a, String>,
    out: &mut Vec<Finding>,
) {
    use crate::registry::export::ansible_vars::var_name;
    let var = var_name(entry.id());
    let other = *seen.entry(var.clone()).or_insert(entry);
    if !std::ptr::eq(other, entry) {
        out.push(
            at(
                Finding::error(
                    "ansible-var-clash",
                    format!(
                        "ids `{}` and `{}` (line {}) both become the Ansible variable `{var}_loadbalancer_ip`",
                        entry.id(),
                        other.id(),
                        other.id.pos.line
                    ),
                ),
                &entry.id,
            )
            .for_id(entry.id())
            .hint("rename one of the ids"),
        );
    }
}

/// `[a-z0-9]([-a-z0-9]*[a-z0-9])?`, at most 63 characters (namespaces).
pub fn is_dns1123_label(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !s.starts_with('-')
        && !s.ends_with('-')
}

/// Dot-separated DNS-1123 labels, at most 253 characters (object names such as pools).
pub fn is_dns1123_subdomain(s: &str) -> bool {
    s.len() <= 253 && s.split('.').all(is_dns1123_label)
}

/// A hostname for /etc/hosts and dnsmasq: dot-separated labels of letters, digits and `-`
/// (RFC 1123), at most 253 characters.
pub fn is_hostname(s: &str) -> bool {
    s.len() <= 253
        && s.split('.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
                && !l.starts_with('-')
                && !l.ends_with('-')
        })
}

fn kubernetes_names(entry: &Entry, out: &mut Vec<Finding>) {
    let id = entry.id();
    let ns = &entry.namespace;
    // An empty namespace means `namespace:` was missing, which the loader reported.
    if !ns.value.is_empty() && !is_dns1123_label(&ns.value) {
        out.push(
            at(
                Finding::error(
                    "bad-namespace",
                    format!(
                        "namespace `{}` of `{id}` is not a Kubernetes namespace name (a DNS-1123 label: at most 63 lowercase letters, digits and `-`, starting and ending with a letter or digit)",
                        ns.value
                    ),
                ),
                ns,
            )
            .for_id(id)
            .hint(format!("write it as Kubernetes shows it: `kubectl get ns` (perhaps `{}`)", as_label(&ns.value))),
        );
    }
    let name = &entry.name;
    // Kubernetes validates Service names as DNS-1035 labels: a DNS-1123 label that also
    // starts with a letter.
    let starts_with_letter = name.value.starts_with(|c: char| c.is_ascii_lowercase());
    if !is_dns1123_label(&name.value) || !starts_with_letter {
        let from_id = name.pos == entry.id.pos;
        out.push(
            at(
                Finding::error(
                    "bad-name",
                    format!(
                        "Service name `{}`{} is not a Kubernetes Service name (at most 63 lowercase letters, digits and `-`, starting with a letter and ending with a letter or digit)",
                        name.value,
                        if from_id { " (taken from the registry id)" } else { "" }
                    ),
                ),
                name,
            )
            .for_id(id)
            .hint(if from_id {
                "add `name:` with the Service's real name (`kubectl get svc -n <namespace>`)".to_string()
            } else {
                format!("write the name as Kubernetes shows it (perhaps `{}`)", as_label(&name.value))
            }),
        );
    }
}

fn as_label(s: &str) -> String {
    let l: String = s
        .to_ascii_lowercase()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    l.trim_matches('-').to_string()
}

fn duplicate_service<'a>(
    entry: &'a Entry,
    seen: &mut FirstSeen<'a, (&'a str, &'a str)>,
    out: &mut Vec<Finding>,
) {
    if entry.namespace.value.is_empty() {
        return;
    }
    let other = *seen
        .entry((entry.namespace(), entry.name()))
        .or_insert(entry);
    if !std::ptr::eq(other, entry) {
        out.push(
            at(
                Finding::error(
                    "duplicate-service",
                    format!(
                        "`{}` and `{}` (line {}) both describe the Service {}; it can have only one IP",
                        entry.id(),
                        other.id(),
                        other.id.pos.line,
                        entry.qualified_name()
                    ),
                ),
                &entry.name,
            )
            .for_id(entry.id())
            .hint("remove one entry, or fix `namespace:`/`name:` (the name defaults to the registry id)"),
        );
    }
}

fn hostname<'a>(entry: &'a Entry, seen: &mut FirstSeen<'a, String>, out: &mut Vec<Finding>) {
    let Some(host) = &entry.hostname else { return };
    let id = entry.id();
    if !is_hostname(&host.value) {
        out.push(
            at(
                Finding::error(
                    "bad-hostname",
                    format!("hostname `{}` of `{id}` is not a valid host name", host.value),
                ),
                host,
            )
            .for_id(id)
            .hint("use letters, digits and `-` in dot-separated labels, like `mlflow.test` (no scheme, port or path)"),
        );
        return;
    }
    // Entries sharing one IP may share a name too: the hosts line is the same.
    let other = *seen.entry(host.value.to_ascii_lowercase()).or_insert(entry);
    if !std::ptr::eq(other, entry) && other.ip_values() != entry.ip_values() {
        out.push(
            at(
                Finding::error(
                    "duplicate-hostname",
                    format!(
                        "hostname `{}` of `{id}` is also used by `{}` (line {}) with another IP; DNS and /etc/hosts would point it at one of them",
                        host.value,
                        other.id(),
                        other.id.pos.line
                    ),
                ),
                host,
            )
            .for_id(id)
            .hint("give each Service its own hostname"),
        );
    }
}

fn pin_by_pool_labels(entry: &Entry, out: &mut Vec<Finding>) {
    if entry.pin_by.value == PinBy::Pool && entry.match_labels.value.is_empty() {
        out.push(
            at(
                Finding::warning(
                    "pin-pool-without-labels",
                    format!(
                        "`{}` has `pinBy: pool` but no `matchLabels`: its pool would match every Service in namespace `{}`",
                        entry.id(),
                        entry.namespace()
                    ),
                ),
                &entry.pin_by,
            )
            .for_id(entry.id())
            .hint("add `matchLabels:` with labels only this Service carries (`kubectl get svc --show-labels`)"),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::rules::test_support::{HEAD, found};

    fn svc(id: &str, body: &str) -> String {
        format!("{HEAD}  {id}:\n{body}")
    }

    #[test]
    fn label_rules_follow_kubernetes() {
        assert!(is_dns1123_label("seldon-system"));
        assert!(!is_dns1123_label("Seldon"));
        assert!(!is_dns1123_label("-a"));
        assert!(!is_dns1123_label(&"a".repeat(64)));
        assert!(is_hostname("mlflow.test"));
        assert!(!is_hostname("http://mlflow.test"));
        assert!(!is_hostname("ml_flow.test"));
        assert!(!is_hostname("mlflow..test"));
    }

    #[test]
    fn a_bad_namespace_is_reported_at_the_value() {
        let t = svc("web", "    namespace: Web_Apps\n    ip: 10.0.0.12\n");
        assert_eq!(found(&t, "bad-namespace"), [(13, 16, Some("web".into()))]);
    }

    #[test]
    fn a_bad_name_is_reported_at_the_name_or_the_id() {
        let t = svc(
            "web",
            "    namespace: web\n    name: 1web\n    ip: 10.0.0.12\n",
        );
        assert_eq!(found(&t, "bad-name"), [(14, 11, Some("web".into()))]);
        let t = svc("Web", "    namespace: web\n    ip: 10.0.0.12\n");
        assert_eq!(found(&t, "bad-name"), [(12, 3, Some("Web".into()))]);
    }

    #[test]
    fn two_entries_for_one_service_are_an_error() {
        let t = format!(
            "{HEAD}  web:\n    namespace: web\n    ip: 10.0.0.12\n  web-again:\n    namespace: web\n    name: web\n    ip: 10.0.0.13\n"
        );
        assert_eq!(
            found(&t, "duplicate-service"),
            [(17, 11, Some("web-again".into()))]
        );
    }

    #[test]
    fn hostnames_must_be_valid_and_unique() {
        let t = format!(
            "{HEAD}  a:\n    namespace: web\n    ip: 10.0.0.12\n    hostname: web.test\n  b:\n    namespace: web\n    ip: 10.0.0.13\n    hostname: WEB.test\n  c:\n    namespace: web\n    ip: 10.0.0.14\n    hostname: https://c.test\n"
        );
        assert_eq!(
            found(&t, "duplicate-hostname"),
            [(19, 15, Some("b".into()))]
        );
        assert_eq!(found(&t, "bad-hostname"), [(23, 15, Some("c".into()))]);
    }

    #[test]
    fn ids_that_become_one_ansible_variable_clash() {
        let t = format!(
            "{HEAD}  my-app:\n    namespace: web\n    ip: 10.0.0.12\n  my_app:\n    namespace: web\n    name: other\n    ip: 10.0.0.13\n"
        );
        assert_eq!(
            found(&t, "ansible-var-clash"),
            [(15, 3, Some("my_app".into()))]
        );
    }

    #[test]
    fn pin_by_pool_without_labels_is_a_warning() {
        let t = svc(
            "op",
            "    namespace: op\n    ip: 10.0.0.12\n    pinBy: pool\n",
        );
        assert_eq!(
            found(&t, "pin-pool-without-labels"),
            [(15, 12, Some("op".into()))]
        );
        let with = svc(
            "op",
            "    namespace: op\n    ip: 10.0.0.12\n    pinBy: pool\n    matchLabels: {app: op}\n",
        );
        assert!(found(&with, "pin-pool-without-labels").is_empty());
    }
}
