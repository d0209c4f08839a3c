//! Reading the registry: file → positioned tree → [`Registry`] plus findings.
//!
//! This step checks the *shape* of the file (known keys, value types, parsable addresses)
//! and keeps going after a problem, so one `lbip lint` run reports every defect. The
//! semantic rules (pools, overlaps, duplicates) live in `rules.rs`.

use super::model::*;
use super::ranges::AddrRange;
use super::tree::{self, Key, Node, Pos, Value};
use crate::diagnostic::{Finding, did_you_mean};
use crate::metallb::Prefix;
use crate::provider::ProviderKind;
use std::collections::BTreeMap;
use std::net::IpAddr;

/// Why a registry could not be read at all (exit code 2), as opposed to lint findings.
#[derive(Debug)]
pub enum LoadError {
    Read {
        path: String,
        error: std::io::Error,
    },
    Syntax {
        path: String,
        line: Option<u32>,
        column: Option<u32>,
        message: String,
    },
}

impl std::fmt::Display for LoadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LoadError::Read { path, error } => write!(
                f,
                "cannot read registry {path}: {error}\n  = help: pass the registry with -r/--registry PATH or set LBIP_REGISTRY"
            ),
            LoadError::Syntax {
                path,
                line: Some(l),
                column: Some(c),
                message,
            } => write!(
                f,
                "{path}:{l}:{c}: error: the registry is not valid YAML: {message}"
            ),
            LoadError::Syntax { path, message, .. } => {
                write!(
                    f,
                    "{path}: error: the registry is not valid YAML: {message}"
                )
            }
        }
    }
}

impl std::error::Error for LoadError {}

/// Parses registry text. `path` only names the file in messages.
pub fn parse(text: &str, path: &str) -> Result<(Registry, Vec<Finding>), LoadError> {
    let root = tree::parse(text).map_err(|e| {
        let loc = e.location();
        // serde-saphyr's Display quotes a snippet with its own location; the first line
        // is the message itself.
        let message = e.to_string();
        let message = message.lines().next().unwrap_or_default().to_string();
        LoadError::Syntax {
            path: path.to_string(),
            line: loc.map(|l| l.line() as u32),
            column: loc.map(|l| l.column() as u32),
            message,
        }
    })?;
    let mut r = Reader::default();
    let registry = r.registry(&root);
    Ok((registry, r.findings))
}

const TOP_KEYS: &[&str] = &[
    "provider", "clusters", "pools", "reserved", "blocks", "services",
];
const PROVIDER_KEYS: &[&str] = &["kind", "annotationPrefix", "loadBalancerClass"];
const CLUSTER_KEYS: &[&str] = &["name", "context", "provider"];
const POOL_KEYS: &[&str] = &["name", "addresses", "avoidBuggyIPs", "cluster"];
const RANGES_KEYS: &[&str] = &["name", "addresses"];
const SERVICE_KEYS: &[&str] = &[
    "namespace",
    "name",
    "ip",
    "ips",
    "block",
    "ports",
    "hostname",
    "url",
    "sharedKey",
    "forceLoadBalancer",
    "pinBy",
    "matchLabels",
    "cluster",
];

#[derive(Default)]
struct Reader {
    findings: Vec<Finding>,
    /// Where `provider.annotationPrefix` was set, to warn when no cluster runs MetalLB.
    prefix_at: Option<Pos>,
}

impl Reader {
    fn error(&mut self, pos: Pos, code: &'static str, msg: String) -> &mut Finding {
        self.findings
            .push(Finding::error(code, msg).at(pos.line, pos.column));
        self.findings.last_mut().expect("just pushed")
    }

    /// `<subject> must <requirement>, found <what the node is>` at the node, for entry `id`.
    fn wrong_type(
        &mut self,
        node: &Node,
        subject: &str,
        requirement: &str,
        id: Option<&str>,
    ) -> &mut Finding {
        let kind = node.value.kind();
        let f = self.error(
            node.pos,
            "wrong-type",
            format!("{subject} must {requirement}, found {kind}"),
        );
        f.id = id.map(str::to_string);
        f
    }

    /// Returns the entries of a mapping node, reporting keys outside `known`.
    fn mapping<'a>(
        &mut self,
        node: &'a Node,
        what: &str,
        known: &[&str],
        id: Option<&str>,
    ) -> Vec<&'a (Key, Node)> {
        let Value::Map(entries) = &node.value else {
            if node.value != Value::Null {
                self.wrong_type(node, what, "be a mapping", None);
            }
            return Vec::new();
        };
        let mut out = Vec::new();
        for entry in entries {
            let (key, _) = entry;
            if known.contains(&key.name.as_str()) {
                out.push(entry);
                continue;
            }
            let finding = self.error(
                key.pos,
                "unknown-key",
                format!("unknown key `{}` in {what}", key.name),
            );
            if let Some(id) = id {
                finding.id = Some(id.to_string());
            }
            finding.hint = Some(match did_you_mean(&key.name, known) {
                Some(m) => format!("did you mean `{m}`?"),
                None => format!("known keys here: {}", known.join(", ")),
            });
        }
        out
    }

    fn registry(&mut self, root: &Node) -> Registry {
        // The registry may sit under one `lbip:` key, so it can live in Ansible group_vars.
        let root = match &root.value {
            Value::Map(entries) if entries.len() == 1 && entries[0].0.name == "lbip" => {
                &entries[0].1
            }
            _ => root,
        };
        let mut reg = Registry::default();
        if root.value == Value::Null {
            self.error(root.pos, "empty-registry", "the registry is empty".into())
                .hint = Some("start from examples/registry.yaml".into());
            return reg;
        }
        for (key, value) in self.mapping(root, "the registry", TOP_KEYS, None) {
            match key.name.as_str() {
                "provider" => {
                    (reg.prefix, reg.load_balancer_class, reg.providers) = self.provider(value);
                }
                "clusters" => {
                    reg.clusters = self
                        .list(value, "clusters")
                        .into_iter()
                        .filter_map(|n| self.cluster(n))
                        .collect()
                }
                "pools" => {
                    reg.pools = self
                        .list(value, "pools")
                        .into_iter()
                        .filter_map(|n| self.pool(n))
                        .collect()
                }
                "reserved" => reg.reserved = self.named_list(value, "reserved"),
                "blocks" => reg.blocks = self.named_list(value, "blocks"),
                "services" => reg.services = self.services(value),
                _ => unreachable!("filtered by mapping()"),
            }
        }
        self.unused_prefix(&reg);
        reg
    }

    /// `annotationPrefix` only chooses MetalLB's annotation; with no MetalLB anywhere it is
    /// a leftover that does nothing.
    fn unused_prefix(&mut self, reg: &Registry) {
        let Some(pos) = self.prefix_at else { return };
        let metallb_somewhere = reg.providers.contains(&ProviderKind::Metallb)
            && (reg.clusters.is_empty() || reg.clusters.iter().any(|c| c.providers.is_none()))
            || reg.clusters.iter().any(|c| {
                c.providers
                    .as_ref()
                    .is_some_and(|p| p.value.contains(&ProviderKind::Metallb))
            });
        if !metallb_somewhere {
            let f = Finding::warning(
                "annotation-prefix-unused",
                "`annotationPrefix` chooses MetalLB's annotation, but no cluster of this registry runs MetalLB".to_string(),
            )
            .at(pos.line, pos.column)
            .hint("remove it, or add `metallb` to `provider.kind`");
            self.findings.push(f);
        }
    }

    fn provider(&mut self, node: &Node) -> (Prefix, Option<String>, Vec<ProviderKind>) {
        let mut prefix = Prefix::default();
        let mut class = None;
        let mut kinds = vec![ProviderKind::default()];
        for (key, value) in self.mapping(node, "provider", PROVIDER_KEYS, None) {
            if key.name == "kind" {
                if let Some(k) = self.provider_kinds(value) {
                    kinds = k.value;
                }
                continue;
            }
            if key.name == "loadBalancerClass" {
                class = self
                    .string(value, "loadBalancerClass", None)
                    .filter(|c| !c.trim().is_empty());
                continue;
            }
            if key.name == "annotationPrefix"
                && let Some(text) = self.string(value, "annotationPrefix", None)
            {
                self.prefix_at = Some(value.pos);
                match Prefix::parse(&text) {
                    Some(p) => prefix = p,
                    None => {
                        self.error(
                            value.pos,
                            "bad-value",
                            format!("annotationPrefix `{text}` is not a MetalLB annotation prefix"),
                        )
                        .hint = Some(
                            "use `metallb.io` (MetalLB >= 0.14.9) or `metallb.universe.tf` (older MetalLB)"
                                .into(),
                        );
                    }
                }
            }
        }
        (prefix, class, kinds)
    }

    /// `kind: cilium`, or two kinds for a switch-over (`kind: [metallb, cilium]`).
    fn provider_kinds(&mut self, node: &Node) -> Option<Located<Vec<ProviderKind>>> {
        let items: Vec<&Node> = match &node.value {
            Value::Seq(items) => items.iter().collect(),
            _ => vec![node],
        };
        let names: Vec<&str> = ProviderKind::ALL.iter().map(|k| k.as_str()).collect();
        let mut kinds = Vec::new();
        for item in &items {
            let Some(text) = item.value.scalar_text() else {
                self.wrong_type(item, "a provider kind", "be a string", None);
                return None;
            };
            match ProviderKind::parse(text.trim()) {
                Some(k) if kinds.contains(&k) => {
                    self.error(
                        item.pos,
                        "bad-value",
                        format!("provider `{text}` is listed twice"),
                    );
                    return None;
                }
                Some(k) => kinds.push(k),
                None => {
                    let f = self.error(
                        item.pos,
                        "bad-value",
                        format!("`{text}` is not a load balancer lbip knows"),
                    );
                    f.hint = Some(match did_you_mean(&text, &names) {
                        Some(m) => format!("did you mean `{m}`? (one of {})", names.join(", ")),
                        None => format!("use one of {}", names.join(", ")),
                    });
                    return None;
                }
            }
        }
        match kinds.len() {
            0 => {
                self.error(node.pos, "bad-value", "`kind` lists no provider".into());
                None
            }
            1 | 2 => Some(Located::new(kinds, node.pos)),
            _ => {
                self.error(
                    items[2].pos,
                    "bad-value",
                    "`kind` lists more than two providers; a switch-over goes from one to another"
                        .into(),
                )
                .hint =
                    Some("list the provider the cluster runs now and the one it moves to".into());
                None
            }
        }
    }

    fn cluster(&mut self, node: &Node) -> Option<Cluster> {
        let entries = self.mapping(node, "a cluster", CLUSTER_KEYS, None);
        let mut name = None;
        let mut context = None;
        let mut providers = None;
        for (key, value) in entries.iter().map(|e| (&e.0, &e.1)) {
            match key.name.as_str() {
                "name" => {
                    name = self
                        .string(value, "name", None)
                        .map(|s| Located::new(s, value.pos))
                }
                "context" => {
                    context = self
                        .string(value, "context", None)
                        .map(|s| Located::new(s, value.pos))
                }
                "provider" => providers = self.provider_kinds(value),
                _ => {}
            }
        }
        let Some(name) = name else {
            self.error(node.pos, "missing-key", "this cluster has no `name`".into())
                .hint =
                Some("add `name: <cluster>`; entries and pools name it in `cluster:`".into());
            return None;
        };
        Some(Cluster {
            name,
            context,
            providers,
        })
    }

    fn list<'a>(&mut self, node: &'a Node, what: &str) -> Vec<&'a Node> {
        match &node.value {
            Value::Seq(items) => items.iter().collect(),
            Value::Null => Vec::new(),
            _ => {
                self.wrong_type(node, &format!("`{what}`"), "be a list", None);
                Vec::new()
            }
        }
    }

    fn string(&mut self, node: &Node, what: &str, id: Option<&str>) -> Option<String> {
        match &node.value {
            Value::Str(s) => Some(s.clone()),
            _ => {
                self.wrong_type(node, &format!("`{what}`"), "be a string", id);
                None
            }
        }
    }

    fn boolean(&mut self, node: &Node, what: &str, id: Option<&str>) -> bool {
        match &node.value {
            Value::Bool(b) => *b,
            _ => {
                self.wrong_type(node, &format!("`{what}`"), "be true or false", id);
                false
            }
        }
    }

    fn named_list(&mut self, node: &Node, what: &str) -> Vec<NamedRanges> {
        self.list(node, what)
            .into_iter()
            .filter_map(|n| {
                let entries = self.mapping(n, &format!("a `{what}` entry"), RANGES_KEYS, None);
                self.named_ranges(n, &entries, what)
            })
            .collect()
    }

    fn named_ranges(
        &mut self,
        node: &Node,
        entries: &[&(Key, Node)],
        what: &str,
    ) -> Option<NamedRanges> {
        let mut name = None;
        let mut addresses = Vec::new();
        let mut saw_addresses = false;
        for (key, value) in entries.iter().map(|e| (&e.0, &e.1)) {
            match key.name.as_str() {
                "name" => {
                    name = self
                        .string(value, "name", None)
                        .map(|s| Located::new(s, value.pos))
                }
                "addresses" => {
                    saw_addresses = true;
                    for item in self.list(value, "addresses") {
                        if let Some(r) = self.range(item) {
                            addresses.push(r);
                        }
                    }
                }
                _ => {}
            }
        }
        if !saw_addresses {
            self.error(
                node.pos,
                "missing-key",
                format!("this `{what}` entry has no `addresses`"),
            );
        }
        let Some(name) = name else {
            self.error(
                node.pos,
                "missing-key",
                format!("this `{what}` entry has no `name`"),
            );
            return None;
        };
        Some(NamedRanges { name, addresses })
    }

    fn range(&mut self, node: &Node) -> Option<Located<AddrRange>> {
        let text = node.value.scalar_text()?;
        match AddrRange::parse(&text) {
            Ok((range, None)) => Some(Located::new(range, node.pos)),
            Ok((range, Some(widened))) => {
                self.error(
                    node.pos,
                    "host-bits-set",
                    format!(
                        "`{text}` has host bits set: load balancers silently use the whole {} ({} addresses)",
                        widened.widened_to,
                        range.len()
                    ),
                )
                .hint = Some(format!(
                    "write `{}` if you mean the whole network, or a range like `first-last` for part of it",
                    widened.widened_to
                ));
                Some(Located::new(range, node.pos))
            }
            Err(msg) => {
                self.error(node.pos, "bad-range", msg).hint = Some(
                    "write a CIDR like 192.168.1.0/24 or a range like 192.168.1.200-192.168.1.250"
                        .into(),
                );
                None
            }
        }
    }

    fn pool(&mut self, node: &Node) -> Option<Pool> {
        let entries = self.mapping(node, "a pool", POOL_KEYS, None);
        let mut avoid_buggy_ips = false;
        let mut cluster = None;
        for (key, value) in entries.iter().map(|e| (&e.0, &e.1)) {
            match key.name.as_str() {
                "avoidBuggyIPs" => avoid_buggy_ips = self.boolean(value, "avoidBuggyIPs", None),
                "cluster" => {
                    cluster = self
                        .string(value, "cluster", None)
                        .map(|s| Located::new(s, value.pos))
                }
                _ => {}
            }
        }
        let ranges = self.named_ranges(node, &entries, "pools")?;
        Some(Pool {
            ranges,
            cluster,
            avoid_buggy_ips,
        })
    }

    fn services(&mut self, node: &Node) -> Vec<Entry> {
        let Value::Map(entries) = &node.value else {
            if node.value != Value::Null {
                self.wrong_type(
                    node,
                    "`services`",
                    "be a mapping from registry id to entry",
                    None,
                )
                .hint = Some(
                    "write `services:` then `  mlflow: {namespace: mlflow, ip: 192.168.1.215}`"
                        .into(),
                );
            }
            return Vec::new();
        };
        entries
            .iter()
            .filter_map(|(key, value)| self.entry(key, value))
            .collect()
    }

    fn entry(&mut self, id_key: &Key, node: &Node) -> Option<Entry> {
        let id = id_key.name.as_str();
        let what = format!("service `{id}`");
        let entries = self.mapping(node, &what, SERVICE_KEYS, Some(id));
        let mut namespace = None;
        let mut name = None;
        let mut ip_node = None;
        let mut ips_node = None;
        let mut entry = Entry {
            id: Located::new(id.to_string(), id_key.pos),
            namespace: Located::new(String::new(), id_key.pos),
            name: Located::new(id.to_string(), id_key.pos),
            ips: Vec::new(),
            block: None,
            ports: Vec::new(),
            hostname: None,
            url: None,
            shared_key: None,
            force_load_balancer: false,
            pin_by: Located::new(PinBy::Annotation, id_key.pos),
            match_labels: Located::new(BTreeMap::new(), id_key.pos),
            cluster: None,
        };
        let located = |s: Option<String>, n: &Node| s.map(|s| Located::new(s, n.pos));
        for (key, value) in entries.iter().map(|e| (&e.0, &e.1)) {
            let some_id = Some(id);
            match key.name.as_str() {
                "namespace" => namespace = located(self.string(value, "namespace", some_id), value),
                "name" => name = located(self.string(value, "name", some_id), value),
                "ip" => ip_node = Some((key, value)),
                "ips" => ips_node = Some((key, value)),
                "block" => entry.block = located(self.string(value, "block", some_id), value),
                "hostname" => {
                    entry.hostname = located(self.string(value, "hostname", some_id), value)
                }
                "url" => entry.url = located(self.string(value, "url", some_id), value),
                // `sharedKey: null` (as in the documented format) means no key.
                "sharedKey" if value.value != Value::Null => {
                    entry.shared_key = value
                        .value
                        .scalar_text()
                        .map(|s| Located::new(s, value.pos));
                }
                "forceLoadBalancer" => {
                    entry.force_load_balancer = self.boolean(value, "forceLoadBalancer", some_id)
                }
                "ports" => entry.ports = self.ports(value, id),
                "pinBy" => {
                    if let Some(text) = self.string(value, "pinBy", some_id) {
                        let pin = match text.as_str() {
                            "annotation" => Some(PinBy::Annotation),
                            "pool" => Some(PinBy::Pool),
                            _ => None,
                        };
                        match pin {
                            Some(p) => entry.pin_by = Located::new(p, value.pos),
                            None => {
                                let f = self.error(
                                    value.pos,
                                    "bad-value",
                                    format!("pinBy `{text}` is not `annotation` or `pool`"),
                                );
                                f.id = Some(id.to_string());
                            }
                        }
                    }
                }
                "matchLabels" => entry.match_labels = self.labels(value, id),
                "cluster" => entry.cluster = located(self.string(value, "cluster", some_id), value),
                _ => {}
            }
        }
        match namespace {
            Some(ns) => entry.namespace = ns,
            None => {
                let f = self.error(
                    id_key.pos,
                    "missing-key",
                    format!("service `{id}` has no `namespace`"),
                );
                f.id = Some(id.to_string());
                f.hint = Some("add `namespace: <the Service's namespace>`".into());
            }
        }
        if let Some(n) = name {
            entry.name = n;
        }
        entry.ips = self.entry_ips(id, id_key, ip_node, ips_node);
        Some(entry)
    }

    fn entry_ips(
        &mut self,
        id: &str,
        id_key: &Key,
        ip: Option<(&Key, &Node)>,
        ips: Option<(&Key, &Node)>,
    ) -> Vec<Located<IpAddr>> {
        match (ip, ips) {
            (Some((k, _)), Some(_)) => {
                let f = self.error(
                    k.pos,
                    "ip-and-ips",
                    format!("service `{id}` has both `ip` and `ips`"),
                );
                f.id = Some(id.to_string());
                f.hint = Some("keep one: `ip` for one address, `ips` for dual stack".into());
                Vec::new()
            }
            (None, None) => {
                let f = self.error(
                    id_key.pos,
                    "missing-key",
                    format!("service `{id}` has no `ip`"),
                );
                f.id = Some(id.to_string());
                f.hint = Some("run `lbip suggest` for a free address".into());
                Vec::new()
            }
            (Some((_, node)), None) => self.ip(node, id).into_iter().collect(),
            (None, Some((_, node))) => {
                let items = self.list(node, "ips");
                let ips: Vec<Located<IpAddr>> =
                    items.iter().filter_map(|n| self.ip(n, id)).collect();
                if items.len() > 2 {
                    let f = self.error(
                        items[2].pos,
                        "bad-ips",
                        format!(
                            "service `{id}` lists {} addresses; a Service takes one, or two of different families",
                            items.len()
                        ),
                    );
                    f.id = Some(id.to_string());
                } else if ips.len() == 2 && ips[0].value.is_ipv4() == ips[1].value.is_ipv4() {
                    let f = self.error(
                        ips[1].pos,
                        "bad-ips",
                        format!(
                            "service `{id}` has two {} addresses; dual stack needs one IPv4 and one IPv6",
                            if ips[0].value.is_ipv4() { "IPv4" } else { "IPv6" }
                        ),
                    );
                    f.id = Some(id.to_string());
                } else if items.is_empty() {
                    let f = self.error(
                        node.pos,
                        "missing-key",
                        format!("service `{id}` has an empty `ips` list"),
                    );
                    f.id = Some(id.to_string());
                }
                ips
            }
        }
    }

    fn ip(&mut self, node: &Node, id: &str) -> Option<Located<IpAddr>> {
        let text = match node.value.scalar_text() {
            Some(t) => t,
            None => {
                self.wrong_type(node, "an IP address", "be a string", Some(id));
                return None;
            }
        };
        match text.trim().parse::<IpAddr>() {
            Ok(ip) => Some(Located::new(ip, node.pos)),
            Err(_) => {
                let f = self.error(node.pos, "bad-ip", format!("`{text}` is not an IP address"));
                f.id = Some(id.to_string());
                f.hint = Some(if text.contains('/') || text.contains('-') {
                    "a service gets single addresses, not a CIDR or a range".into()
                } else {
                    "write an IPv4 address like 192.168.1.215 or an IPv6 address like fd00::215"
                        .into()
                });
                None
            }
        }
    }

    fn ports(&mut self, node: &Node, id: &str) -> Vec<Located<PortSpec>> {
        let mut out = Vec::new();
        for item in self.list(node, "ports") {
            let text = item.value.scalar_text().unwrap_or_default();
            let (num, proto) = match text.split_once('/') {
                Some((n, p)) => (n, Protocol::parse(p)),
                None => (text.as_str(), Some(Protocol::Tcp)),
            };
            match (num.trim().parse::<u16>(), proto) {
                (Ok(port), Some(protocol)) if port > 0 => {
                    out.push(Located::new(PortSpec { port, protocol }, item.pos))
                }
                _ => {
                    let f = self.error(item.pos, "bad-port", format!("`{text}` is not a port"));
                    f.id = Some(id.to_string());
                    f.hint = Some("write a number from 1 to 65535, optionally with /TCP, /UDP or /SCTP, like 53/UDP".into());
                }
            }
        }
        out
    }

    fn labels(&mut self, node: &Node, id: &str) -> Located<BTreeMap<String, String>> {
        let mut labels = BTreeMap::new();
        match &node.value {
            Value::Map(entries) => {
                for (k, v) in entries {
                    match v.value.scalar_text() {
                        Some(text) => {
                            labels.insert(k.name.clone(), text);
                        }
                        None => {
                            let subject = format!("label `{}`", k.name);
                            self.wrong_type(v, &subject, "have a string value", Some(id));
                        }
                    }
                }
            }
            Value::Null => {}
            _ => {
                self.wrong_type(node, "`matchLabels`", "be a mapping", Some(id));
            }
        }
        Located::new(labels, node.pos)
    }
}
