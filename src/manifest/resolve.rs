//! What a document means, as a Kubernetes decoder reads it: aliases followed, merge keys
//! (`<<`) applied, duplicate keys refused, all within an expansion budget.
//!
//! Three rules here close ways of getting a Service past the post-renderer unpinned:
//!
//! - **Duplicate keys are errors.** Kubernetes' decoders keep the last of two equal keys;
//!   a reader that kept the first would see `type: ClusterIP` where the cluster gets
//!   `type: LoadBalancer`.
//! - **An explicit key that a later merge also sets is an error.** The YAML merge-key
//!   spec (and go-yaml v3, which kyaml and so Helm 4 use) let the explicit key win; go-yaml
//!   v2 (sigs.k8s.io/yaml, which kubectl and Helm 3 use) applies merges in place, so a `<<`
//!   after the key overrides it. Two decoders disagreeing is never a document to pin.
//! - **Expansion has a budget.** Aliases can make a small document huge (a "billion laughs"
//!   bomb) and nested merges double the work per level. The budget is go-yaml's own
//!   (`document contains excessive aliasing`: more than 100 expanded nodes, more than 1,000
//!   decoded nodes and an alias ratio above a limit that falls from 99 % at 400,000 nodes to
//!   10 % at 4,000,000), plus a nesting limit, so a bomb fails in milliseconds.

use super::syntax::{Doc, NodeId, NodeKind};
use serde_saphyr::granit_parser::ScalarStyle;
use std::collections::HashMap;
use std::fmt;

/// A resolved node. Scalars and collections keep the syntax node they were read from (for
/// their text, style and line), whether reached directly or through an alias.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null {
        node: NodeId,
    },
    Scalar {
        node: NodeId,
    },
    Seq {
        node: NodeId,
        items: Vec<Value>,
    },
    Map {
        node: NodeId,
        /// Own keys in document order, then merged keys no own key overrides.
        entries: Vec<(String, Value)>,
    },
}

impl Value {
    pub fn node(&self) -> NodeId {
        match self {
            Value::Null { node }
            | Value::Scalar { node }
            | Value::Seq { node, .. }
            | Value::Map { node, .. } => *node,
        }
    }

    /// The value of `key` in a mapping.
    pub fn get(&self, key: &str) -> Option<&Value> {
        match self {
            Value::Map { entries, .. } => entries.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    /// A scalar's string value (`None` for nulls and collections).
    pub fn as_str<'d>(&self, doc: &'d Doc<'_>) -> Option<&'d str> {
        match self {
            Value::Scalar { node } => doc.node(*node).scalar().map(|(v, _)| v),
            _ => None,
        }
    }

    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null { .. })
    }

    pub fn is_map(&self) -> bool {
        matches!(self, Value::Map { .. })
    }

    /// The mapping's entries (empty for anything else).
    pub fn entries(&self) -> &[(String, Value)] {
        match self {
            Value::Map { entries, .. } => entries,
            _ => &[],
        }
    }

    pub fn items(&self) -> &[Value] {
        match self {
            Value::Seq { items, .. } => items,
            _ => &[],
        }
    }
}

/// Why a document cannot be read safely. Lines are 1-based, within the parsed text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ResolveError {
    DuplicateKey {
        key: String,
        first: usize,
        second: usize,
    },
    /// An explicit key before a merge key that sets the same key.
    MergeOverridesKey {
        key: String,
        explicit: usize,
        merge: usize,
    },
    /// A merge key whose value is not a mapping or a list of mappings.
    BadMerge { line: usize },
    /// A mapping key that is a collection (Kubernetes keys are strings).
    ComplexKey { line: usize },
    /// An alias inside the node it names.
    Recursive { line: usize },
    /// Too much alias expansion (go-yaml's rule), or too deep.
    Budget { reason: String, line: usize },
}

impl fmt::Display for ResolveError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ResolveError::DuplicateKey { key, first, second } => write!(
                f,
                "mapping key `{key}` appears twice (lines {first} and {second}); Kubernetes keeps the second, other readers the first"
            ),
            ResolveError::MergeOverridesKey {
                key,
                explicit,
                merge,
            } => write!(
                f,
                "key `{key}` (line {explicit}) is also set by the merge key `<<` after it (line {merge}); YAML decoders disagree on which wins (go-yaml v2, used by kubectl and Helm 3, takes the merge; go-yaml v3 and the YAML spec take the key)"
            ),
            ResolveError::BadMerge { line } => write!(
                f,
                "the merge key `<<` at line {line} needs a mapping or a list of mappings"
            ),
            ResolveError::ComplexKey { line } => write!(
                f,
                "a mapping key at line {line} is a collection; Kubernetes keys are strings"
            ),
            ResolveError::Recursive { line } => {
                write!(f, "the alias at line {line} is inside the node it names")
            }
            ResolveError::Budget { reason, line } => write!(f, "{reason} (from line {line})"),
        }
    }
}

impl ResolveError {
    /// A hint for the person who wrote the chart.
    pub fn hint(&self) -> &'static str {
        match self {
            ResolveError::DuplicateKey { .. } => "remove one of the two keys",
            ResolveError::MergeOverridesKey { .. } => {
                "put the `<<` merge first in the mapping, or drop the key from one of the two places"
            }
            ResolveError::Budget { .. } => {
                "expand the aliases in the chart template; no Kubernetes object needs this many"
            }
            _ => "fix the chart template that renders this document",
        }
    }
}

/// Alias expansion stops being allowed above these ratios, like go-yaml (v2.2.8+, v3).
const ALIAS_RATIO_RANGE_LOW: usize = 400_000;
const ALIAS_RATIO_RANGE_HIGH: usize = 4_000_000;
/// Resolved values nest at most this deep (aliases can nest deeper than the text does).
pub const DEPTH_LIMIT: usize = 512;

fn allowed_alias_ratio(decoded: usize) -> f64 {
    if decoded <= ALIAS_RATIO_RANGE_LOW {
        0.99
    } else if decoded >= ALIAS_RATIO_RANGE_HIGH {
        0.10
    } else {
        let range = (ALIAS_RATIO_RANGE_HIGH - ALIAS_RATIO_RANGE_LOW) as f64;
        0.99 - 0.89 * ((decoded - ALIAS_RATIO_RANGE_LOW) as f64 / range)
    }
}

/// Counts decoded nodes, and nodes decoded through an alias or merge, as go-yaml does.
#[derive(Debug, Default)]
struct Budget {
    decoded: usize,
    aliased: usize,
}

impl Budget {
    fn charge(
        &mut self,
        doc: &Doc<'_>,
        node: NodeId,
        under_alias: bool,
    ) -> Result<(), ResolveError> {
        self.decoded += 1;
        if under_alias {
            self.aliased += 1;
        }
        if self.aliased > 100
            && self.decoded > 1000
            && self.aliased as f64 / self.decoded as f64 > allowed_alias_ratio(self.decoded)
        {
            return Err(ResolveError::Budget {
                reason: format!(
                    "the document contains excessive aliasing: {} of {} nodes come from aliases or merge keys (go-yaml refuses the same)",
                    self.aliased, self.decoded
                ),
                line: doc.node(node).line,
            });
        }
        Ok(())
    }
}

/// Resolves the whole document.
pub fn resolve(doc: &Doc<'_>) -> Result<Value, ResolveError> {
    Resolver {
        doc,
        budget: Budget::default(),
        key_cache: HashMap::new(),
    }
    .value(doc.root, 0, false)
}

/// Resolves one node (and everything under it) on its own budget.
pub fn resolve_node(doc: &Doc<'_>, id: NodeId) -> Result<Value, ResolveError> {
    Resolver {
        doc,
        budget: Budget::default(),
        key_cache: HashMap::new(),
    }
    .value(id, 0, false)
}

/// Resolves only what a root-level `key` says (aliases and merges followed): every value the
/// key has, duplicates included, so a caller can decide cheaply whether a document needs
/// full resolution. Within the same budget.
pub fn root_values(doc: &Doc<'_>, key: &str) -> Result<Vec<NodeId>, ResolveError> {
    let mut r = Resolver {
        doc,
        budget: Budget::default(),
        key_cache: HashMap::new(),
    };
    let mut out = Vec::new();
    r.collect_key(doc.root, key, 0, false, &mut out)?;
    Ok(out)
}

struct Resolver<'d, 'a> {
    doc: &'d Doc<'a>,
    budget: Budget,
    /// Resolved key strings per key node.
    key_cache: HashMap<NodeId, String>,
}

impl Resolver<'_, '_> {
    fn depth_check(&self, node: NodeId, depth: usize) -> Result<(), ResolveError> {
        if depth > DEPTH_LIMIT {
            return Err(ResolveError::Budget {
                reason: format!("the document nests deeper than {DEPTH_LIMIT} levels"),
                line: self.doc.node(node).line,
            });
        }
        Ok(())
    }

    /// Follows an alias, refusing one that sits inside the node it names.
    fn follow(&self, id: NodeId) -> Result<(NodeId, bool), ResolveError> {
        let NodeKind::Alias { target } = self.doc.node(id).kind else {
            return Ok((id, false));
        };
        let mut at = self.doc.node(id).parent;
        while let Some(p) = at {
            if p == target {
                return Err(ResolveError::Recursive {
                    line: self.doc.node(id).line,
                });
            }
            at = self.doc.node(p).parent;
        }
        Ok((target, true))
    }

    fn value(
        &mut self,
        id: NodeId,
        depth: usize,
        under_alias: bool,
    ) -> Result<Value, ResolveError> {
        self.depth_check(id, depth)?;
        let (id, aliased) = self.follow(id)?;
        let under_alias = under_alias || aliased;
        self.budget.charge(self.doc, id, under_alias)?;
        let node = self.doc.node(id);
        Ok(match &node.kind {
            NodeKind::Scalar { .. } if node.is_null() => Value::Null { node: id },
            NodeKind::Scalar { .. } => Value::Scalar { node: id },
            NodeKind::Alias { .. } => unreachable!("followed above"),
            NodeKind::Seq { items, .. } => {
                let mut out = Vec::with_capacity(items.len());
                for item in items.clone() {
                    out.push(self.value(item, depth + 1, under_alias)?);
                }
                Value::Seq {
                    node: id,
                    items: out,
                }
            }
            NodeKind::Map { .. } => Value::Map {
                node: id,
                entries: self.map_entries(id, depth, under_alias)?,
            },
        })
    }

    /// The string a key node stands for.
    fn key(&mut self, key: NodeId) -> Result<String, ResolveError> {
        if let Some(k) = self.key_cache.get(&key) {
            return Ok(k.clone());
        }
        let (target, _) = self.follow(key)?;
        let node = self.doc.node(target);
        let text = match node.scalar() {
            Some((v, _)) => v.to_string(),
            None => {
                return Err(ResolveError::ComplexKey {
                    line: self.doc.node(key).line,
                });
            }
        };
        self.key_cache.insert(key, text.clone());
        Ok(text)
    }

    /// A mapping's entries: own keys (duplicates refused), then what merge keys bring.
    fn map_entries(
        &mut self,
        id: NodeId,
        depth: usize,
        under_alias: bool,
    ) -> Result<Vec<(String, Value)>, ResolveError> {
        let NodeKind::Map { entries, .. } = &self.doc.node(id).kind else {
            return Ok(Vec::new());
        };
        let entries = entries.clone();
        let mut own: Vec<(String, Value)> = Vec::with_capacity(entries.len());
        let mut own_lines: HashMap<String, usize> = HashMap::new();
        let mut merges: Vec<(NodeId, NodeId)> = Vec::new();
        for (k, v) in entries {
            if self.is_merge_key(k) {
                if let Some((first, _)) = merges.first() {
                    return Err(ResolveError::DuplicateKey {
                        key: "<<".into(),
                        first: self.doc.node(*first).line,
                        second: self.doc.node(k).line,
                    });
                }
                merges.push((k, v));
                continue;
            }
            let key = self.key(k)?;
            let line = self.doc.node(k).line;
            if let Some(first) = own_lines.get(&key) {
                return Err(ResolveError::DuplicateKey {
                    key,
                    first: *first,
                    second: line,
                });
            }
            own_lines.insert(key.clone(), line);
            own.push((key, self.value(v, depth + 1, under_alias)?));
        }
        let Some((merge_key, merge_value)) = merges.first().copied() else {
            return Ok(own);
        };
        let merge_line = self.doc.node(merge_key).line;
        let merge_at = self.doc.node(merge_key).span.start;
        for (key, value) in self.merged(merge_value, depth, under_alias)? {
            match own.iter().position(|(k, _)| *k == key) {
                Some(_) => {
                    // An explicit key after the merge wins everywhere; before it, decoders
                    // disagree.
                    let explicit_line = own_lines[&key];
                    let explicit_at = self.key_start(id, &key);
                    if explicit_at.is_some_and(|at| at < merge_at) {
                        return Err(ResolveError::MergeOverridesKey {
                            key,
                            explicit: explicit_line,
                            merge: merge_line,
                        });
                    }
                }
                None => own.push((key, value)),
            }
        }
        Ok(own)
    }

    /// Where the own key `key` of mapping `id` starts.
    fn key_start(&mut self, id: NodeId, key: &str) -> Option<usize> {
        let NodeKind::Map { entries, .. } = &self.doc.node(id).kind else {
            return None;
        };
        for (k, _) in entries.clone() {
            if !self.is_merge_key(k) && self.key(k).ok().as_deref() == Some(key) {
                return Some(self.doc.node(k).span.start);
            }
        }
        None
    }

    /// The entries a merge key's value contributes, earlier maps winning (as every decoder
    /// does for `<<: [*a, *b]`).
    fn merged(
        &mut self,
        value: NodeId,
        depth: usize,
        under_alias: bool,
    ) -> Result<Vec<(String, Value)>, ResolveError> {
        self.depth_check(value, depth)?;
        let line = self.doc.node(value).line;
        let (target, aliased) = self.follow(value)?;
        let sources: Vec<(NodeId, bool)> = match &self.doc.node(target).kind {
            NodeKind::Map { .. } => vec![(target, aliased)],
            NodeKind::Seq { items, .. } => {
                let mut out = Vec::new();
                for item in items.clone() {
                    let (t, a) = self.follow(item)?;
                    if !matches!(self.doc.node(t).kind, NodeKind::Map { .. }) {
                        return Err(ResolveError::BadMerge { line });
                    }
                    out.push((t, a || aliased));
                }
                out
            }
            _ => return Err(ResolveError::BadMerge { line }),
        };
        let mut out: Vec<(String, Value)> = Vec::new();
        for (source, aliased) in sources {
            let under = under_alias || aliased;
            self.budget.charge(self.doc, source, under)?;
            for (k, v) in self.map_entries(source, depth + 1, under)? {
                if !out.iter().any(|(o, _)| *o == k) {
                    out.push((k, v));
                }
            }
        }
        Ok(out)
    }

    fn is_merge_key(&self, key: NodeId) -> bool {
        let node = self.doc.node(key);
        match node.scalar() {
            Some(("<<", ScalarStyle::Plain)) => node.tag.is_none_or(|t| t == "!!merge"),
            Some(("<<", _)) => node.tag == Some("!!merge"),
            _ => false,
        }
    }

    /// Every value `key` has in the mapping `id` (own entries, then merges), unresolved.
    fn collect_key(
        &mut self,
        id: NodeId,
        key: &str,
        depth: usize,
        under_alias: bool,
        out: &mut Vec<NodeId>,
    ) -> Result<(), ResolveError> {
        self.depth_check(id, depth)?;
        let (id, aliased) = self.follow(id)?;
        let under_alias = under_alias || aliased;
        self.budget.charge(self.doc, id, under_alias)?;
        let NodeKind::Map { entries, .. } = &self.doc.node(id).kind else {
            return Ok(());
        };
        for (k, v) in entries.clone() {
            if self.is_merge_key(k) {
                let (t, a) = self.follow(v)?;
                let sources: Vec<NodeId> = match &self.doc.node(t).kind {
                    NodeKind::Seq { items, .. } => items.clone(),
                    _ => vec![t],
                };
                for s in sources {
                    self.collect_key(s, key, depth + 1, under_alias || a, out)?;
                }
            } else if self.key(k).is_ok_and(|text| text == key) {
                out.push(self.follow(v)?.0);
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::syntax::parse;

    fn resolved(text: &str) -> Result<String, ResolveError> {
        let doc = parse(text).unwrap().unwrap();
        let v = resolve(&doc)?;
        Ok(render(&doc, &v))
    }

    /// A compact rendering for assertions.
    fn render(doc: &Doc<'_>, v: &Value) -> String {
        match v {
            Value::Null { .. } => "null".into(),
            Value::Scalar { .. } => v.as_str(doc).unwrap().to_string(),
            Value::Seq { items, .. } => format!(
                "[{}]",
                items
                    .iter()
                    .map(|i| render(doc, i))
                    .collect::<Vec<_>>()
                    .join(",")
            ),
            Value::Map { entries, .. } => format!(
                "{{{}}}",
                entries
                    .iter()
                    .map(|(k, v)| format!("{k}:{}", render(doc, v)))
                    .collect::<Vec<_>>()
                    .join(",")
            ),
        }
    }

    #[test]
    fn aliases_and_merges_resolve_with_explicit_keys_after_the_merge_winning() {
        assert_eq!(
            resolved("a: &x {p: 1, q: 2}\nb:\n  <<: *x\n  q: 3\nc: *x\n").unwrap(),
            "{a:{p:1,q:2},b:{q:3,p:1},c:{p:1,q:2}}"
        );
        assert_eq!(
            resolved("a: &x {p: 1}\nb: &y {p: 2, r: 3}\nc: {<<: [*x, *y]}\n").unwrap(),
            "{a:{p:1},b:{p:2,r:3},c:{p:1,r:3}}"
        );
    }

    #[test]
    fn duplicate_keys_name_both_lines_even_spelled_differently() {
        let e = resolved("spec:\n  type: ClusterIP\n  \"type\": LoadBalancer\n").unwrap_err();
        assert_eq!(
            e,
            ResolveError::DuplicateKey {
                key: "type".into(),
                first: 2,
                second: 3
            }
        );
        let e = resolved("a: &k type\nspec: {type: x, *k : y}\n").unwrap_err();
        assert!(matches!(e, ResolveError::DuplicateKey { .. }), "{e}");
    }

    #[test]
    fn a_key_before_a_merge_that_sets_it_is_ambiguous() {
        let e = resolved("b: &b {type: LoadBalancer}\nspec:\n  type: ClusterIP\n  <<: *b\n")
            .unwrap_err();
        assert!(
            matches!(e, ResolveError::MergeOverridesKey { ref key, .. } if key == "type"),
            "{e}"
        );
    }

    #[test]
    fn nested_merges_that_double_per_level_fail_fast() {
        let mut text = String::from("l0: &l0 {a: 1, b: 2}\n");
        for i in 1..=40 {
            text.push_str(&format!(
                "l{i}: &l{i} {{<<: [*l{p}, *l{p}], k{i}: v}}\n",
                p = i - 1
            ));
        }
        let started = std::time::Instant::now();
        let e = resolved(&text).unwrap_err();
        assert!(matches!(e, ResolveError::Budget { .. }), "{e}");
        assert!(started.elapsed() < std::time::Duration::from_secs(1));
    }

    #[test]
    fn a_billion_laughs_fails_with_go_yamls_reason() {
        let mut text = String::from("a: &a [x,x,x,x,x,x,x,x,x]\n");
        let names = ["a", "b", "c", "d", "e", "f", "g", "h", "i"];
        for w in names.windows(2) {
            let items = vec![format!("*{}", w[0]); 9].join(",");
            text.push_str(&format!("{}: &{} [{items}]\n", w[1], w[1]));
        }
        let e = resolved(&text).unwrap_err();
        assert!(e.to_string().contains("excessive aliasing"), "{e}");
    }

    #[test]
    fn merge_values_must_be_mappings() {
        assert!(matches!(
            resolved("a: &x 1\nb: {<<: *x}\n").unwrap_err(),
            ResolveError::BadMerge { .. }
        ));
    }
}
