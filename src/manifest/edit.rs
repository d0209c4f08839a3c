//! In-place edits: the post-renderer changes only the bytes of the keys it owns.
//!
//! A changed Service keeps everything lbip does not own exactly as the chart wrote it: style
//! (flow or block), quoting, comments, indentation and line endings. Each [`Edit`] becomes a
//! text patch on the document:
//!
//! - replacing a value rewrites only the value's token (a block scalar with its header);
//! - removing an entry removes its lines (block) or the entry and one comma (flow);
//! - adding an entry adds one line after the mapping's last entry, indented like its first,
//!   with the document's line break (block), or `, key: value` (flow);
//! - a missing `annotations:`/`spec:` is added the same way, with the nested entries.
//!
//! **Edits never change what another node resolves to.** A node reached through an alias,
//! a key provided by a merge key (`<<`), or a node that an alias elsewhere names (or that
//! holds such a node) is first *unshared*: the alias is replaced by a copy of what it
//! names, or the merge by the entries it brings (written in flow style, values resolved),
//! and the document is parsed again. Only then is the edit made in place. So lbip never pins
//! one Service by editing the anchored annotations another Service also uses.

use super::resolve::{self, Value};
use super::rewrite::Edit;
use super::syntax::{self, Doc, NodeId, NodeKind};
use serde_saphyr::granit_parser::ScalarStyle;
use std::fmt::Write as _;
use std::ops::Range;

/// One step from the document root to a node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    Key(String),
    Index(usize),
}

/// The edits of one Service, found at `path` from the document root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceEdits {
    pub path: Vec<Step>,
    pub edits: Vec<Edit>,
}

/// Why a document could not be edited. Every case is a bug in lbip or a document shape it
/// does not know; the caller refuses the stream rather than writing something unverified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EditError(pub String);

/// A replacement of `range` by `text` (an insertion when the range is empty).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Patch {
    range: Range<usize>,
    text: String,
}

impl Patch {
    fn insert(at: usize, text: String) -> Patch {
        Patch {
            range: at..at,
            text,
        }
    }
}

/// What has to happen before an edit can be made in place.
enum Blocked {
    /// Patches that unshare something; after them the document is parsed again.
    Unshare(Vec<Patch>),
    Fail(EditError),
}

impl From<EditError> for Blocked {
    fn from(e: EditError) -> Self {
        Blocked::Fail(e)
    }
}

fn fail<T>(message: impl Into<String>) -> Result<T, Blocked> {
    Err(Blocked::Fail(EditError(message.into())))
}

/// Applies the edits to the document `text` and returns the new text.
pub fn apply(text: &str, services: &[ServiceEdits]) -> Result<String, EditError> {
    let mut text = text.to_string();
    // Each unsharing round removes at least one alias or merge key; the document has fewer of
    // those than bytes.
    for _ in 0..=text.len() {
        let doc = match syntax::parse(&text) {
            Ok(Some(doc)) => doc,
            Ok(None) => return Err(EditError("the document has no content".into())),
            Err(e) => {
                return Err(EditError(format!(
                    "the document stopped parsing while it was unshared (line {}: {})",
                    e.line, e.message
                )));
            }
        };
        match patches(&doc, services) {
            Ok(patches) => return apply_patches(&text, patches),
            Err(Blocked::Unshare(p)) => text = apply_patches(&text, p)?,
            Err(Blocked::Fail(e)) => return Err(e),
        }
    }
    Err(EditError("unsharing did not finish".into()))
}

fn apply_patches(text: &str, mut patches: Vec<Patch>) -> Result<String, EditError> {
    // Insertions sort before a replacement starting at the same offset (stable: in order).
    patches.sort_by_key(|p| (p.range.start, p.range.end));
    let mut out = String::with_capacity(text.len() + 256);
    let mut at = 0;
    for p in patches {
        if p.range.start < at {
            return Err(EditError(format!(
                "two edits overlap at byte {} of the document",
                p.range.start
            )));
        }
        out.push_str(&text[at..p.range.start]);
        out.push_str(&p.text);
        at = p.range.end;
    }
    out.push_str(&text[at..]);
    Ok(out)
}

/// Every patch for every Service, or what must be unshared first.
fn patches(doc: &Doc<'_>, services: &[ServiceEdits]) -> Result<Vec<Patch>, Blocked> {
    let shares = Sharing::of(doc);
    let mut out = Vec::new();
    for s in services {
        let svc = locate(doc, &s.path)?;
        let annotations: Vec<&Edit> = s
            .edits
            .iter()
            .filter(|e| {
                matches!(
                    e,
                    Edit::SetAnnotation { .. } | Edit::RemoveAnnotation { .. }
                )
            })
            .collect();
        if !annotations.is_empty() {
            let Some(metadata) = child(doc, svc, "metadata")? else {
                return fail("the Service has no metadata mapping to edit");
            };
            let sets: Vec<(String, String)> = annotations
                .iter()
                .filter_map(|e| match e {
                    Edit::SetAnnotation { key, value } => Some((key.clone(), value.clone())),
                    _ => None,
                })
                .collect();
            let removes: Vec<&str> = annotations
                .iter()
                .filter_map(|e| match e {
                    Edit::RemoveAnnotation { key } => Some(key.as_str()),
                    _ => None,
                })
                .collect();
            out.extend(edit_child_map(
                doc,
                &shares,
                metadata,
                "annotations",
                &sets,
                &removes,
            )?);
        }
        let mut spec_sets = Vec::new();
        let mut spec_removes = Vec::new();
        for e in &s.edits {
            match e {
                Edit::SetTypeLoadBalancer => {
                    spec_sets.push(("type".to_string(), "LoadBalancer".to_string()))
                }
                Edit::RemoveLoadBalancerIp => spec_removes.push("loadBalancerIP"),
                _ => {}
            }
        }
        if !spec_sets.is_empty() || !spec_removes.is_empty() {
            out.extend(edit_child_map(
                doc,
                &shares,
                svc,
                "spec",
                &spec_sets,
                &spec_removes,
            )?);
        }
    }
    Ok(out)
}

/// Alias targets: nodes some alias names.
struct Sharing {
    /// `(target, alias)` pairs.
    pairs: Vec<(NodeId, NodeId)>,
}

impl Sharing {
    fn of(doc: &Doc<'_>) -> Sharing {
        Sharing {
            pairs: doc.aliases.iter().map(|a| (doc.target(*a), *a)).collect(),
        }
    }

    /// Fails with the unsharing needed when `node` is named by an alias, sits inside a node
    /// that is, or (`whole`: the node is replaced or removed) holds one.
    fn check(&self, doc: &Doc<'_>, node: NodeId, whole: bool) -> Result<(), Blocked> {
        let mut targets: Vec<NodeId> = Vec::new();
        // `node` or an ancestor is named by an alias: editing it would edit the alias too.
        let mut at = Some(node);
        while let Some(n) = at {
            if self.pairs.iter().any(|(t, _)| *t == n) {
                targets.push(n);
            }
            at = doc.node(n).parent;
        }
        // A removed or replaced node takes the anchors inside it along.
        if whole {
            for (t, _) in &self.pairs {
                if is_within(doc, *t, node) && !targets.contains(t) {
                    targets.push(*t);
                }
            }
        }
        if targets.is_empty() {
            return Ok(());
        }
        let mut patches = Vec::new();
        for (t, alias) in &self.pairs {
            if targets.contains(t) {
                patches.push(copy_of_alias(doc, *alias)?);
            }
        }
        Err(Blocked::Unshare(patches))
    }
}

fn is_within(doc: &Doc<'_>, node: NodeId, ancestor: NodeId) -> bool {
    let mut at = Some(node);
    while let Some(n) = at {
        if n == ancestor {
            return true;
        }
        at = doc.node(n).parent;
    }
    false
}

/// The patch replacing an alias by a flow-style copy of what it names.
fn copy_of_alias(doc: &Doc<'_>, alias: NodeId) -> Result<Patch, Blocked> {
    let value = resolve::resolve_node(doc, alias)
        .map_err(|e| Blocked::Fail(EditError(format!("cannot expand an alias: {e}"))))?;
    Ok(Patch {
        range: doc.node(alias).span.clone(),
        text: flow(doc, &value),
    })
}

/// The Service mapping at `path` (unsharing aliases and merges on the way).
fn locate(doc: &Doc<'_>, path: &[Step]) -> Result<NodeId, Blocked> {
    let mut at = doc.root;
    if let NodeKind::Alias { .. } = doc.node(at).kind {
        return fail("the document's root is an alias");
    }
    for step in path {
        at = match step {
            Step::Key(k) => match child(doc, at, k)? {
                Some(v) => v,
                _ => return fail(format!("`{k}` is missing on the way to a Service")),
            },
            Step::Index(i) => match &doc.node(at).kind {
                NodeKind::Seq { items, .. } => match items.get(*i) {
                    Some(item) => unalias(doc, *item)?,
                    None => return fail("a list item is missing on the way to a Service"),
                },
                _ => return fail("a list is missing on the way to a Service"),
            },
        };
    }
    Ok(at)
}

/// `node` itself, or the unsharing of the alias it is.
fn unalias(doc: &Doc<'_>, node: NodeId) -> Result<NodeId, Blocked> {
    match doc.node(node).kind {
        NodeKind::Alias { .. } => Err(Blocked::Unshare(vec![copy_of_alias(doc, node)?])),
        _ => Ok(node),
    }
}

/// The value node of the own entry `key` in `map` (never an alias): `None` when absent; the
/// unsharing needed when the value comes from a merge key or is an alias.
fn child(doc: &Doc<'_>, map: NodeId, key: &str) -> Result<Option<NodeId>, Blocked> {
    match entry(doc, map, key)? {
        Some(i) => {
            let (_, v) = map_entries(doc, map)[i];
            Ok(Some(unalias(doc, v)?))
        }
        None if merged_keys(doc, map)?.iter().any(|k| k == key) => {
            Err(Blocked::Unshare(vec![expand_merge(doc, map)?]))
        }
        None => Ok(None),
    }
}

fn map_entries<'d>(doc: &'d Doc<'_>, map: NodeId) -> &'d [(NodeId, NodeId)] {
    match &doc.node(map).kind {
        NodeKind::Map { entries, .. } => entries,
        _ => &[],
    }
}

/// The index of the own entry `key` of `map`.
fn entry(doc: &Doc<'_>, map: NodeId, key: &str) -> Result<Option<usize>, Blocked> {
    for (i, (k, _)) in map_entries(doc, map).iter().enumerate() {
        if is_merge_key(doc, *k) {
            continue;
        }
        match doc.node(doc.target(*k)).scalar() {
            Some((text, _)) if text == key => return Ok(Some(i)),
            Some(_) => {}
            None => return fail("a mapping key is a collection"),
        }
    }
    Ok(None)
}

fn is_merge_key(doc: &Doc<'_>, key: NodeId) -> bool {
    let n = doc.node(key);
    matches!(n.scalar(), Some(("<<", ScalarStyle::Plain))) && n.tag.is_none_or(|t| t == "!!merge")
        || matches!(n.scalar(), Some(("<<", _))) && n.tag == Some("!!merge")
}

/// The index of the merge key entry of `map`.
fn merge_entry(doc: &Doc<'_>, map: NodeId) -> Option<usize> {
    map_entries(doc, map)
        .iter()
        .position(|(k, _)| is_merge_key(doc, *k))
}

/// Keys `map` gets from its merge key and does not set itself.
fn merged_keys(doc: &Doc<'_>, map: NodeId) -> Result<Vec<String>, Blocked> {
    if merge_entry(doc, map).is_none() {
        return Ok(Vec::new());
    }
    let own: Vec<String> = map_entries(doc, map)
        .iter()
        .filter(|(k, _)| !is_merge_key(doc, *k))
        .filter_map(|(k, _)| {
            doc.node(doc.target(*k))
                .scalar()
                .map(|(t, _)| t.to_string())
        })
        .collect();
    let value = resolve::resolve_node(doc, map)
        .map_err(|e| Blocked::Fail(EditError(format!("cannot resolve a merge key: {e}"))))?;
    Ok(value
        .entries()
        .iter()
        .map(|(k, _)| k.clone())
        .filter(|k| !own.contains(k))
        .collect())
}

/// The patch replacing `map`'s merge key entry by the entries it brings (those no own key
/// overrides), values written in flow style.
fn expand_merge(doc: &Doc<'_>, map: NodeId) -> Result<Patch, Blocked> {
    let Some(i) = merge_entry(doc, map) else {
        return fail("no merge key to expand");
    };
    let (k, v) = map_entries(doc, map)[i];
    let own: Vec<String> = map_entries(doc, map)
        .iter()
        .filter(|(k, _)| !is_merge_key(doc, *k))
        .filter_map(|(k, _)| {
            doc.node(doc.target(*k))
                .scalar()
                .map(|(t, _)| t.to_string())
        })
        .collect();
    let value = resolve::resolve_node(doc, map)
        .map_err(|e| Blocked::Fail(EditError(format!("cannot resolve a merge key: {e}"))))?;
    let brought: Vec<String> = value
        .entries()
        .iter()
        .filter(|(key, _)| !own.contains(key))
        .map(|(key, value)| format!("{}: {}", key_text(key), flow(doc, value)))
        .collect();
    let flow_map = doc.node(map).is_flow();
    let start = doc.node(k).start;
    let end = doc.content_end(v);
    if brought.is_empty() {
        // Nothing left to bring: the merge key goes like any removed entry.
        return Ok(remove_entries(doc, map, &[i])?.remove(0));
    }
    let sep = if flow_map {
        ", ".to_string()
    } else {
        format!("{}{}", doc.newline(), " ".repeat(doc.node(k).col))
    };
    Ok(Patch {
        range: start..end,
        text: brought.join(&sep),
    })
}

/// Sets and removes keys of the mapping under `key` in `parent` (creating it when a key is
/// set and the mapping is missing or null).
fn edit_child_map(
    doc: &Doc<'_>,
    shares: &Sharing,
    parent: NodeId,
    key: &str,
    sets: &[(String, String)],
    removes: &[&str],
) -> Result<Vec<Patch>, Blocked> {
    match child(doc, parent, key)? {
        None => {
            if sets.is_empty() {
                return Ok(Vec::new());
            }
            shares.check(doc, parent, false)?;
            Ok(vec![insert_nested(doc, parent, key, sets)?])
        }
        Some(node) => match &doc.node(node).kind {
            NodeKind::Map { .. } => edit_map(doc, shares, node, sets, removes),
            NodeKind::Scalar { .. } if doc.node(node).is_null() => {
                if sets.is_empty() {
                    return Ok(Vec::new());
                }
                shares.check(doc, node, true)?;
                Ok(vec![fill_null(doc, parent, node, sets)])
            }
            _ => fail(format!("`{key}` is not a mapping")),
        },
    }
}

/// Replaces, removes and adds entries of the mapping `map`.
fn edit_map(
    doc: &Doc<'_>,
    shares: &Sharing,
    map: NodeId,
    sets: &[(String, String)],
    removes: &[&str],
) -> Result<Vec<Patch>, Blocked> {
    let mut patches = Vec::new();
    let mut inserts: Vec<(String, String)> = Vec::new();
    let merged = merged_keys(doc, map)?;
    let touched = sets
        .iter()
        .map(|(k, _)| k.as_str())
        .chain(removes.iter().copied());
    if touched.clone().any(|k| merged.iter().any(|m| m == k)) {
        return Err(Blocked::Unshare(vec![expand_merge(doc, map)?]));
    }
    shares.check(doc, map, false)?;
    for (key, value) in sets {
        match entry(doc, map, key)? {
            Some(i) => {
                let (_, v) = map_entries(doc, map)[i];
                shares.check(doc, v, true)?;
                let style = doc.node(v).scalar().map(|(_, s)| s);
                patches.push(Patch {
                    range: doc.node(v).start..doc.content_end(v),
                    text: scalar_text(value, style),
                });
            }
            None => inserts.push((key.clone(), value.clone())),
        }
    }
    let mut removed = Vec::new();
    for key in removes {
        if let Some(i) = entry(doc, map, key)? {
            let (k, v) = map_entries(doc, map)[i];
            shares.check(doc, k, true)?;
            shares.check(doc, v, true)?;
            removed.push(i);
        }
    }
    removed.sort_unstable();
    let count = map_entries(doc, map).len();
    if doc.node(map).is_flow() && !removed.is_empty() && removed.len() == count {
        // Nothing survives: write the new entries between the brackets.
        let span = doc.node(map).span.clone();
        let inner = Quoting::of(doc, map).flow_entries(&inserts);
        patches.push(Patch {
            range: span.start + 1..span.end - 1,
            text: inner,
        });
        return Ok(patches);
    }
    patches.extend(remove_entries(doc, map, &removed)?);
    if !inserts.is_empty() {
        patches.push(insert_entries(doc, map, &inserts, &removed)?);
    }
    Ok(patches)
}

/// Patches removing the entries at `indices` (sorted) of `map`.
fn remove_entries(doc: &Doc<'_>, map: NodeId, indices: &[usize]) -> Result<Vec<Patch>, Blocked> {
    let entries = map_entries(doc, map);
    let mut out = Vec::new();
    if doc.node(map).is_flow() {
        // Runs of consecutive removed entries go with the comma after them, or, at the end,
        // with the comma before them.
        let mut i = 0;
        while i < indices.len() {
            let first = indices[i];
            let mut last = first;
            while i + 1 < indices.len() && indices[i + 1] == last + 1 {
                i += 1;
                last = indices[i];
            }
            i += 1;
            let range = if last + 1 < entries.len() {
                doc.node(entries[first].0).start..doc.node(entries[last + 1].0).start
            } else if first > 0 {
                doc.content_end(entries[first - 1].1)..doc.content_end(entries[last].1)
            } else {
                doc.node(entries[first].0).start..doc.content_end(entries[last].1)
            };
            out.push(Patch {
                range,
                text: String::new(),
            });
        }
        return Ok(out);
    }
    for &i in indices {
        let (k, v) = entries[i];
        let key_start = doc.node(k).start;
        let line_start = doc.line_start(key_start);
        let prefix = &doc.text[line_start..key_start];
        let prefix = prefix.trim_start_matches([' ', '\t']);
        if !(prefix.is_empty() || prefix == "? ") {
            return fail("an entry to remove shares its line with other content");
        }
        let end = doc.line_end(doc.content_end(v).max(doc.node(k).span.end));
        out.push(Patch {
            range: head_comment_start(doc, line_start, doc.node(k).col)..end,
            text: String::new(),
        });
    }
    Ok(out)
}

/// Where an entry's head comment starts: the comment lines directly above its line (no
/// blank line between) at the key's own indentation, which talk about that entry and go
/// with it when it is removed (go-yaml v3 calls them the key's head comment).
fn head_comment_start(doc: &Doc<'_>, line_start: usize, key_col: usize) -> usize {
    let mut start = line_start;
    while start > 0 {
        let prev = doc.line_start(start - 1);
        let line = doc.text[prev..start].trim_end_matches(['\n', '\r']);
        let content = line.trim_start_matches(' ');
        if content.starts_with('#') && line.len() - content.len() == key_col {
            start = prev;
        } else {
            break;
        }
    }
    start
}

/// The patch adding `(key, value)` entries at the end of `map` (`removed`: entries removed
/// in the same edit, so a flow mapping knows which comma survives).
fn insert_entries(
    doc: &Doc<'_>,
    map: NodeId,
    entries: &[(String, String)],
    removed: &[usize],
) -> Result<Patch, Blocked> {
    let q = Quoting::of(doc, map);
    let lines: Vec<String> = entries.iter().map(|(k, v)| q.entry(k, v)).collect();
    insert_texts(doc, map, &lines, removed)
}

/// Adds already written `key: value` texts at the end of `map`.
fn insert_texts(
    doc: &Doc<'_>,
    map: NodeId,
    texts: &[String],
    removed: &[usize],
) -> Result<Patch, Blocked> {
    let all = map_entries(doc, map);
    let survivors: Vec<usize> = (0..all.len()).filter(|i| !removed.contains(i)).collect();
    if doc.node(map).is_flow() {
        let joined = texts.join(", ");
        return Ok(match survivors.last() {
            Some(&last) => Patch::insert(doc.content_end(all[last].1), format!(", {joined}")),
            None => Patch::insert(doc.node(map).span.start + 1, joined),
        });
    }
    let Some(&(first_key, _)) = all.first() else {
        return fail("a block mapping without entries");
    };
    let (last_key, last_value) = *all.last().expect("not empty");
    let end = doc.content_end(last_value).max(doc.node(last_key).span.end);
    let at = doc.line_end(end);
    let nl = doc.newline();
    let indent = " ".repeat(doc.node(first_key).col);
    // At the end of a text without a final line break, each line starts with one instead.
    let at_eof_without_newline = at == doc.text.len() && !doc.text.ends_with('\n');
    let mut text = String::new();
    for t in texts {
        if at_eof_without_newline {
            text.push_str(nl);
        }
        text.push_str(&indent);
        text.push_str(t);
        if !at_eof_without_newline {
            text.push_str(nl);
        }
    }
    Ok(Patch::insert(at, text))
}

/// The patch adding `key:` with a nested mapping of `sets` to `parent`.
fn insert_nested(
    doc: &Doc<'_>,
    parent: NodeId,
    key: &str,
    sets: &[(String, String)],
) -> Result<Patch, Blocked> {
    let q = Quoting::of(doc, parent);
    if doc.node(parent).is_flow() {
        let inner = q.flow_entries(sets);
        return insert_texts(doc, parent, &[format!("{}: {{{inner}}}", q.key(key))], &[]);
    }
    let Some(&(first_key, _)) = map_entries(doc, parent).first() else {
        return fail("a block mapping without entries");
    };
    let indent = doc.node(first_key).col + indent_step(doc, parent);
    let nl = doc.newline();
    let mut text = format!("{}:", q.key(key));
    for (k, v) in sets {
        let _ = write!(text, "{nl}{}{}", " ".repeat(indent), q.entry(k, v));
    }
    insert_texts(doc, parent, &[text], &[])
}

/// The patch giving the null value `node` of `parent` the entries `sets`.
fn fill_null(doc: &Doc<'_>, parent: NodeId, node: NodeId, sets: &[(String, String)]) -> Patch {
    let n = doc.node(node);
    let q = Quoting::of(doc, parent);
    let empty = n.span.is_empty() && n.tag.is_none() && n.anchor.is_none();
    if empty && !doc.node(parent).is_flow() {
        // `annotations:` with nothing after it: the entries go on the lines below.
        let key = map_entries(doc, parent)
            .iter()
            .find(|(_, v)| *v == node)
            .map(|(k, _)| *k)
            .unwrap_or(node);
        let indent = doc.node(key).col + indent_step(doc, parent);
        let nl = doc.newline();
        let line_end = doc.line_end(n.span.end);
        let at_eof = line_end == doc.text.len() && !doc.text.ends_with('\n');
        let mut text = String::new();
        for (i, (k, v)) in sets.iter().enumerate() {
            if at_eof || i > 0 {
                text.push_str(nl);
            }
            let _ = write!(text, "{}{}", " ".repeat(indent), q.entry(k, v));
        }
        if !at_eof {
            text.push_str(nl);
        }
        return Patch::insert(line_end, text);
    }
    let inner = format!("{{{}}}", q.flow_entries(sets));
    if empty {
        // `{annotations: }` in flow style: the empty value sits before the colon.
        let colon = doc.text[n.span.end..]
            .find(':')
            .map_or(n.span.end, |i| n.span.end + i + 1);
        return Patch::insert(colon, format!(" {inner}"));
    }
    Patch {
        range: n.start..doc.content_end(node),
        text: inner,
    }
}

/// How many columns a nested block mapping is indented by in this document: what `map`'s own
/// nested block collections use, else what the document uses elsewhere, else 2.
fn indent_step(doc: &Doc<'_>, map: NodeId) -> usize {
    let step_of = |m: NodeId| -> Option<usize> {
        let entries = map_entries(doc, m);
        let key_col = doc.node(entries.first()?.0).col;
        entries.iter().find_map(|(_, v)| {
            let v = doc.node(*v);
            let nested = matches!(v.kind, NodeKind::Map { flow: false, .. });
            match &v.kind {
                NodeKind::Map { entries: inner, .. } if nested => {
                    let c = doc.node(inner.first()?.0).col;
                    (c > key_col).then(|| c - key_col)
                }
                _ => None,
            }
        })
    };
    step_of(map)
        .or_else(|| (0..doc.nodes.len()).find_map(step_of))
        .unwrap_or(2)
}

/// How new keys and values are written into a mapping: like JSON (double-quoted) when every
/// key of the mapping is, else plain where that reads back as the same string.
#[derive(Clone, Copy)]
struct Quoting {
    json: bool,
}

impl Quoting {
    fn of(doc: &Doc<'_>, map: NodeId) -> Quoting {
        let entries = map_entries(doc, map);
        Quoting {
            json: !entries.is_empty()
                && entries.iter().all(|(k, _)| {
                    matches!(doc.node(*k).scalar(), Some((_, ScalarStyle::DoubleQuoted)))
                }),
        }
    }

    fn key(self, key: &str) -> String {
        if self.json {
            double_quoted(key)
        } else {
            key_text(key)
        }
    }

    fn value(self, value: &str) -> String {
        if self.json {
            double_quoted(value)
        } else {
            scalar_text(value, None)
        }
    }

    /// `key: value` texts.
    fn entry(self, key: &str, value: &str) -> String {
        format!("{}: {}", self.key(key), self.value(value))
    }

    /// `k: v, k: v` of `sets`.
    fn flow_entries(self, sets: &[(String, String)]) -> String {
        sets.iter()
            .map(|(k, v)| self.entry(k, v))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// A mapping key as lbip writes it: plain when that reads back as the same string.
fn key_text(key: &str) -> String {
    if is_safe_plain(key) {
        key.to_string()
    } else {
        double_quoted(key)
    }
}

/// A new scalar value, quoted like the value it replaces (`style`), else plain when that
/// reads back as the same string, else double-quoted.
fn scalar_text(value: &str, style: Option<ScalarStyle>) -> String {
    match style {
        Some(ScalarStyle::SingleQuoted) if !value.contains(['\n', '\r']) => {
            format!("'{}'", value.replace('\'', "''"))
        }
        Some(ScalarStyle::DoubleQuoted) => double_quoted(value),
        _ if is_safe_plain(value) => value.to_string(),
        _ => double_quoted(value),
    }
}

/// A resolved node written in flow style on one line: scalars keep their source text when
/// that is one line and valid in flow context, else become an equivalent double-quoted
/// scalar; aliases are expanded; anchors are left out (the copy defines none).
pub fn flow(doc: &Doc<'_>, value: &Value) -> String {
    let mut out = String::new();
    write_flow(doc, value, &mut out);
    out
}

fn write_flow(doc: &Doc<'_>, value: &Value, out: &mut String) {
    let node = doc.node(value.node());
    if let Some(tag) = node.tag {
        out.push_str(tag);
        out.push(' ');
    }
    match value {
        Value::Null { .. } => out.push_str(if doc.raw(value.node()).is_empty() {
            "null"
        } else {
            doc.raw(value.node())
        }),
        Value::Scalar { node: id } => {
            let raw = doc.raw(*id);
            let (text, style) = node.scalar().expect("a scalar");
            let one_line = !raw.contains(['\n', '\r']);
            let keep = match style {
                ScalarStyle::Plain => one_line && !raw.contains([',', '[', ']', '{', '}']),
                ScalarStyle::SingleQuoted | ScalarStyle::DoubleQuoted => one_line,
                _ => false,
            };
            if keep {
                out.push_str(raw);
            } else {
                out.push_str(&double_quoted(text));
            }
        }
        Value::Seq { items, .. } => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_flow(doc, item, out);
            }
            out.push(']');
        }
        Value::Map { entries, .. } => {
            out.push('{');
            for (i, (k, v)) in entries.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                out.push_str(&key_text(k));
                out.push_str(": ");
                write_flow(doc, v, out);
            }
            out.push('}');
        }
    }
}

/// True when `s` written plain reads back as the same string under YAML 1.1 and 1.2 (what
/// Kubernetes' YAML libraries resolve): letters, digits and `.-_/` only, starting with a
/// letter, and not a boolean or null word; or an IPv4 address list (`1.2.3.4,5.6.7.8`).
pub fn is_safe_plain(s: &str) -> bool {
    let Some(first) = s.chars().next() else {
        return false;
    };
    let ipv4_list = s
        .split(',')
        .all(|p| p.parse::<std::net::Ipv4Addr>().is_ok());
    if ipv4_list {
        return true;
    }
    let lower = s.to_ascii_lowercase();
    let reserved = [
        "y", "n", "yes", "no", "on", "off", "true", "false", "null", "nan", "inf",
    ];
    first.is_ascii_alphabetic()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | '/'))
        && !reserved.contains(&lower.as_str())
}

/// `s` as a YAML double-quoted scalar.
pub fn double_quoted(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if (c as u32) < 0x20 || c == '\u{7f}' => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            '\u{85}' | '\u{2028}' | '\u{2029}' | '\u{feff}' => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(key: &str, value: &str) -> Edit {
        Edit::SetAnnotation {
            key: key.into(),
            value: value.into(),
        }
    }

    fn edit(text: &str, edits: Vec<Edit>) -> String {
        apply(
            text,
            &[ServiceEdits {
                path: Vec::new(),
                edits,
            }],
        )
        .unwrap()
    }

    const IPS: &str = "metallb.io/loadBalancerIPs";

    #[test]
    fn a_block_mapping_gets_one_line_indented_like_its_first_entry() {
        let text = "metadata:\n    name: x # n\n    annotations:\n        a: 'b'\nspec:\n    type: LoadBalancer\n";
        assert_eq!(
            edit(text, vec![set(IPS, "192.168.1.215")]),
            "metadata:\n    name: x # n\n    annotations:\n        a: 'b'\n        metallb.io/loadBalancerIPs: 192.168.1.215\nspec:\n    type: LoadBalancer\n"
        );
    }

    #[test]
    fn missing_annotations_are_added_with_the_documents_indentation_and_line_breaks() {
        let text = "metadata:\r\n   name: x\r\n   labels: {app: x}\r\nspec: {}\r\n";
        assert_eq!(
            edit(text, vec![set(IPS, "fd00::1")]),
            "metadata:\r\n   name: x\r\n   labels: {app: x}\r\n   annotations:\r\n      metallb.io/loadBalancerIPs: \"fd00::1\"\r\nspec: {}\r\n"
        );
    }

    #[test]
    fn flow_mappings_stay_flow() {
        let text = "{metadata: {name: x, annotations: {a: b}}, spec: {type: LoadBalancer, loadBalancerIP: 1.2.3.4}}";
        assert_eq!(
            edit(text, vec![set(IPS, "1.2.3.5"), Edit::RemoveLoadBalancerIp]),
            "{metadata: {name: x, annotations: {a: b, metallb.io/loadBalancerIPs: 1.2.3.5}}, spec: {type: LoadBalancer}}"
        );
        assert_eq!(
            edit("{metadata: {name: x}}", vec![set(IPS, "1.2.3.5")]),
            "{metadata: {name: x, annotations: {metallb.io/loadBalancerIPs: 1.2.3.5}}}"
        );
    }

    #[test]
    fn replaced_values_keep_their_quoting_and_removed_keys_take_their_lines() {
        let text = "metadata:\n  name: x\n  annotations:\n    metallb.io/loadBalancerIPs: '1.2.3.4' # old\n    metallb.universe.tf/loadBalancer-ips: |\n      1.2.3.4\n    keep: me\n";
        assert_eq!(
            edit(
                text,
                vec![
                    set(IPS, "1.2.3.5"),
                    Edit::RemoveAnnotation {
                        key: "metallb.universe.tf/loadBalancer-ips".into()
                    }
                ]
            ),
            "metadata:\n  name: x\n  annotations:\n    metallb.io/loadBalancerIPs: '1.2.3.5' # old\n    keep: me\n"
        );
    }

    #[test]
    fn null_annotations_are_filled_in_place() {
        assert_eq!(
            edit(
                "metadata:\n  annotations: # none\n  name: x\n",
                vec![set(IPS, "1.2.3.4")]
            ),
            "metadata:\n  annotations: # none\n    metallb.io/loadBalancerIPs: 1.2.3.4\n  name: x\n"
        );
        assert_eq!(
            edit(
                "metadata:\n  name: x\n  annotations: ~\n",
                vec![set(IPS, "1.2.3.4")]
            ),
            "metadata:\n  name: x\n  annotations: {metallb.io/loadBalancerIPs: 1.2.3.4}\n"
        );
    }

    #[test]
    fn an_aliased_mapping_is_copied_before_it_is_changed() {
        let text = "a: &ann {x: y}\nmetadata:\n  name: b\n  annotations: *ann\n";
        assert_eq!(
            edit(text, vec![set(IPS, "1.2.3.4")]),
            "a: &ann {x: y}\nmetadata:\n  name: b\n  annotations: {x: y, metallb.io/loadBalancerIPs: 1.2.3.4}\n"
        );
    }

    #[test]
    fn an_anchored_mapping_others_alias_is_unshared_first() {
        let text = "metadata:\n  name: a\n  annotations: &ann\n    x: y\nother: *ann\n";
        assert_eq!(
            edit(text, vec![set(IPS, "1.2.3.4")]),
            "metadata:\n  name: a\n  annotations: &ann\n    x: y\n    metallb.io/loadBalancerIPs: 1.2.3.4\nother: {x: y}\n"
        );
    }

    #[test]
    fn a_merged_key_is_expanded_before_it_is_removed() {
        let text = "base: &b {loadBalancerIP: 1.2.3.4, ports: [80]}\nspec:\n  <<: *b\n  type: LoadBalancer\n";
        assert_eq!(
            edit(text, vec![Edit::RemoveLoadBalancerIp]),
            "base: &b {loadBalancerIP: 1.2.3.4, ports: [80]}\nspec:\n  ports: [80]\n  type: LoadBalancer\n"
        );
    }

    #[test]
    fn a_document_without_a_final_newline_keeps_having_none() {
        assert_eq!(
            edit("metadata:\n  name: x", vec![set(IPS, "1.2.3.4")]),
            "metadata:\n  name: x\n  annotations:\n    metallb.io/loadBalancerIPs: 1.2.3.4"
        );
    }
}
