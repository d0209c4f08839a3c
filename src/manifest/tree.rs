//! A small YAML node tree that remembers how each node was written, and an emitter for it.
//!
//! Only documents the post-renderer must change are parsed into this tree, and only those
//! are written back. Writing back has to keep every value exactly as the chart wrote it
//! (`1.10` must not become `1.1`, `"0755"` must stay a string), so a scalar keeps its source
//! text and is written back verbatim whenever that text fits on one line; a multi-line
//! scalar (block or folded style, or a quoted scalar broken over lines) is written as an
//! equivalent double-quoted scalar, which holds any string exactly. Collections are written
//! in block style (flow collections become block collections: same data). Anchors, aliases,
//! tags and comments are kept. A generic serializer cannot do this: it would turn every
//! scalar into its typed value and back.

use serde_saphyr::granit_parser::{Event, Parser, Placement, ScalarStyle, options};
use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt::Write as _;

/// One YAML node and how it was written.
#[derive(Debug, Clone, PartialEq)]
pub struct Node<'a> {
    pub kind: Kind<'a>,
    /// `&name` defined on this node, without the `&`.
    pub anchor: Option<&'a str>,
    /// The tag as written (e.g. `!!str`).
    pub tag: Option<&'a str>,
    /// A comment on the same line as this node (`# ...`, as written).
    pub comment: Option<&'a str>,
    /// 1-based line where the node starts (0 for nodes lbip adds).
    pub line: usize,
    /// 0-based column where the node starts.
    pub col: usize,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Kind<'a> {
    Scalar {
        value: Cow<'a, str>,
        style: ScalarStyle,
        /// The source text, when the node came from the input.
        raw: Option<&'a str>,
    },
    Seq(Vec<Item<'a>>),
    Map(Vec<Entry<'a>>),
    Alias {
        id: usize,
        name: &'a str,
    },
}

/// A sequence item with the comment lines written above it.
#[derive(Debug, Clone, PartialEq)]
pub struct Item<'a> {
    pub comments: Vec<&'a str>,
    pub node: Node<'a>,
}

/// A mapping entry with the comment lines written above it.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry<'a> {
    pub comments: Vec<&'a str>,
    pub key: Node<'a>,
    pub value: Node<'a>,
}

/// A parsed document: its root, the anchored nodes (for resolving aliases), and comments
/// that follow the last node.
#[derive(Debug, Clone)]
pub struct Doc<'a> {
    pub root: Node<'a>,
    pub anchored: HashMap<usize, Node<'a>>,
    pub trailing_comments: Vec<&'a str>,
    /// Byte offset in the parsed text where the root node's line starts.
    pub root_line_start: usize,
}

/// Why a document could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    pub message: String,
    /// 1-based line within the parsed text.
    pub line: usize,
    pub column: usize,
}

impl<'a> Node<'a> {
    /// A plain string scalar that lbip adds (quoted on output when needed).
    pub fn new_str(value: impl Into<String>) -> Node<'a> {
        Node {
            kind: Kind::Scalar {
                value: Cow::Owned(value.into()),
                style: ScalarStyle::Plain,
                raw: None,
            },
            anchor: None,
            tag: None,
            comment: None,
            line: 0,
            col: 0,
        }
    }

    pub fn new_map() -> Node<'a> {
        Node {
            kind: Kind::Map(Vec::new()),
            anchor: None,
            tag: None,
            comment: None,
            line: 0,
            col: 0,
        }
    }

    /// The scalar's string value, `None` for collections, aliases and nulls.
    pub fn as_str(&self) -> Option<&str> {
        match &self.kind {
            Kind::Scalar { value, style, .. } => {
                if *style == ScalarStyle::Plain
                    && self.tag.is_none()
                    && matches!(value.as_ref(), "" | "~" | "null" | "Null" | "NULL")
                {
                    None
                } else {
                    Some(value)
                }
            }
            _ => None,
        }
    }

    pub fn is_null(&self) -> bool {
        matches!(self.kind, Kind::Scalar { .. }) && self.as_str().is_none()
    }
}

impl<'a> Doc<'a> {
    /// Follows an alias to the node it names.
    pub fn resolve<'n>(&'n self, node: &'n Node<'a>) -> &'n Node<'a> {
        match &node.kind {
            Kind::Alias { id, .. } => self.anchored.get(id).unwrap_or(node),
            _ => node,
        }
    }

    /// The value of `key` in the mapping `map` (aliases followed, `<<` merges honoured).
    pub fn get<'n>(&'n self, map: &'n Node<'a>, key: &str) -> Option<&'n Node<'a>> {
        let Kind::Map(entries) = &self.resolve(map).kind else {
            return None;
        };
        if let Some(e) = entries
            .iter()
            .find(|e| self.resolve(&e.key).as_str() == Some(key))
        {
            return Some(self.resolve(&e.value));
        }
        // Merge keys: explicit keys win, then merged maps in order.
        for e in entries.iter().filter(|e| is_merge_key(&e.key)) {
            let merged = self.resolve(&e.value);
            let sources: Vec<&Node<'a>> = match &merged.kind {
                Kind::Seq(items) => items.iter().map(|i| self.resolve(&i.node)).collect(),
                _ => vec![merged],
            };
            for s in sources {
                if let Some(v) = self.get(s, key) {
                    return Some(v);
                }
            }
        }
        None
    }

    /// Keys of a mapping, resolved, with their values (merged maps included after own keys).
    pub fn entries<'n>(&'n self, map: &'n Node<'a>) -> Vec<(&'n str, &'n Node<'a>)> {
        let mut out: Vec<(&str, &Node<'a>)> = Vec::new();
        let Kind::Map(entries) = &self.resolve(map).kind else {
            return out;
        };
        for e in entries {
            if is_merge_key(&e.key) {
                continue;
            }
            if let Some(k) = self.resolve(&e.key).as_str() {
                out.push((k, self.resolve(&e.value)));
            }
        }
        for e in entries.iter().filter(|e| is_merge_key(&e.key)) {
            let merged = self.resolve(&e.value);
            let sources: Vec<&Node<'a>> = match &merged.kind {
                Kind::Seq(items) => items.iter().map(|i| self.resolve(&i.node)).collect(),
                _ => vec![merged],
            };
            for s in sources {
                for (k, v) in self.entries(s) {
                    if !out.iter().any(|(o, _)| *o == k) {
                        out.push((k, v));
                    }
                }
            }
        }
        out
    }

    /// Makes `node` a real mapping this document owns (copying an aliased or merged one), so
    /// it can be changed without changing the anchored original.
    pub fn materialize(&self, node: &mut Node<'a>) {
        if let Kind::Alias { id, .. } = node.kind
            && let Some(target) = self.anchored.get(&id)
        {
            let mut copy = target.clone();
            copy.anchor = None;
            copy.comment = node.comment.or(copy.comment);
            *node = copy;
        }
        if let Kind::Map(_) = node.kind {
            let flattened = self.entries(node);
            let has_merge =
                matches!(&node.kind, Kind::Map(es) if es.iter().any(|e| is_merge_key(&e.key)));
            if has_merge {
                let own: Vec<Entry<'a>> = match &node.kind {
                    Kind::Map(es) => es
                        .iter()
                        .filter(|e| !is_merge_key(&e.key))
                        .cloned()
                        .collect(),
                    _ => unreachable!(),
                };
                let mut all = own;
                for (k, v) in flattened {
                    if !all.iter().any(|e| self.resolve(&e.key).as_str() == Some(k)) {
                        all.push(Entry {
                            comments: Vec::new(),
                            key: Node::new_str(k.to_string()),
                            value: strip_anchor(v.clone()),
                        });
                    }
                }
                node.kind = Kind::Map(all);
            }
        }
    }

    /// The mutable value of `key` in `map` (a mapping this document owns), materialized.
    pub fn get_mut<'n>(&self, map: &'n mut Node<'a>, key: &str) -> Option<&'n mut Node<'a>> {
        self.materialize(map);
        let Kind::Map(entries) = &mut map.kind else {
            return None;
        };
        let e = entries
            .iter_mut()
            .find(|e| self.resolve(&e.key).as_str() == Some(key))?;
        self.materialize(&mut e.value);
        Some(&mut e.value)
    }

    /// Sets `key` to `value` in `map`, replacing the value in place or appending the key.
    pub fn set(&self, map: &mut Node<'a>, key: &str, value: Node<'a>) {
        self.materialize(map);
        if let Kind::Scalar { .. } = map.kind
            && map.is_null()
        {
            // `annotations:` with nothing after it is an empty mapping to fill in.
            let comment = map.comment;
            *map = Node::new_map();
            map.comment = comment;
        }
        let Kind::Map(entries) = &mut map.kind else {
            return;
        };
        if let Some(e) = entries
            .iter_mut()
            .find(|e| self.resolve(&e.key).as_str() == Some(key))
        {
            let comment = e.value.comment;
            e.value = value;
            e.value.comment = comment;
        } else {
            entries.push(Entry {
                comments: Vec::new(),
                key: Node::new_str(key.to_string()),
                value,
            });
        }
    }

    /// Removes `key` from `map`; true when it was there.
    pub fn remove(&self, map: &mut Node<'a>, key: &str) -> bool {
        self.materialize(map);
        let Kind::Map(entries) = &mut map.kind else {
            return false;
        };
        let before = entries.len();
        entries.retain(|e| self.resolve(&e.key).as_str() != Some(key));
        before != entries.len()
    }
}

fn strip_anchor(mut n: Node<'_>) -> Node<'_> {
    n.anchor = None;
    n
}

fn is_merge_key(key: &Node<'_>) -> bool {
    matches!(&key.kind, Kind::Scalar { value, style: ScalarStyle::Plain, .. } if value == "<<")
}

/// Parses one YAML document (the text of one stream segment).
pub fn parse(text: &str) -> Result<Option<Doc<'_>>, ParseError> {
    let opts = options! { emit_anchor_events: true };
    let mut builder = Builder::new(text);
    for ev in Parser::new_from_str_with_options(text, opts) {
        let (event, span) = ev.map_err(|e| ParseError {
            message: e.info().to_string(),
            line: e.marker().line(),
            column: e.marker().col() + 1,
        })?;
        let range = span.byte_range().unwrap_or(0..0);
        let line = span.start.line();
        let col = span.start.col();
        match event {
            Event::Comment(_, placement) => {
                let raw = &text[range.clone()];
                builder.comment(raw, placement);
            }
            Event::Anchor(id, _) => {
                let name = &text[range.start + 1..range.end];
                builder.anchor(id, name);
            }
            Event::Scalar(value, style, id, _) => {
                let raw = &text[range.clone()];
                let tag = span.tag_span().and_then(|t| t.slice(text));
                let node = Node {
                    kind: Kind::Scalar {
                        value,
                        style,
                        raw: Some(raw),
                    },
                    anchor: None,
                    tag,
                    comment: None,
                    line,
                    col,
                };
                builder.start_root(range.start, span.tag_span().and_then(|t| t.byte_range()));
                builder.leaf(node, id);
            }
            Event::Alias(id) => {
                let name = &text[range.start + 1..range.end];
                let node = Node {
                    kind: Kind::Alias { id, name },
                    anchor: None,
                    tag: None,
                    comment: None,
                    line,
                    col,
                };
                builder.start_root(range.start, None);
                builder.leaf(node, 0);
            }
            Event::SequenceStart(_, id, _) | Event::MappingStart(_, id, _) => {
                let tag = span.tag_span().and_then(|t| t.slice(text));
                let kind = if matches!(event, Event::SequenceStart(..)) {
                    Kind::Seq(Vec::new())
                } else {
                    Kind::Map(Vec::new())
                };
                builder.start_root(range.start, span.tag_span().and_then(|t| t.byte_range()));
                builder.open(
                    Node {
                        kind,
                        anchor: None,
                        tag,
                        comment: None,
                        line,
                        col,
                    },
                    id,
                );
            }
            Event::SequenceEnd | Event::MappingEnd => builder.close(),
            Event::UnresolvedAlias(name) => {
                return Err(ParseError {
                    message: format!("unknown anchor `{name}`"),
                    line,
                    column: span.start.col() + 1,
                });
            }
            Event::DocumentStart(..) | Event::DocumentEnd | Event::StreamStart => {}
            _ => {}
        }
    }
    Ok(builder.finish())
}

/// Builds the tree from events; collections under construction live on a stack.
struct Builder<'a> {
    text: &'a str,
    stack: Vec<Open<'a>>,
    root: Option<Node<'a>>,
    anchored: HashMap<usize, Node<'a>>,
    pending_comments: Vec<&'a str>,
    root_line_start: Option<usize>,
    /// The anchor id of the node most recently finished (for `Anchor` events that follow it).
    last_id: usize,
}

struct Open<'a> {
    node: Node<'a>,
    id: usize,
    /// For mappings: the key waiting for its value.
    key: Option<(Vec<&'a str>, Node<'a>)>,
}

impl<'a> Builder<'a> {
    fn new(text: &'a str) -> Self {
        Builder {
            text,
            stack: Vec::new(),
            root: None,
            anchored: HashMap::new(),
            pending_comments: Vec::new(),
            root_line_start: None,
            last_id: 0,
        }
    }

    fn start_root(&mut self, start: usize, tag: Option<std::ops::Range<usize>>) {
        if self.root_line_start.is_none() && self.stack.is_empty() {
            let start = tag.map_or(start, |t| t.start.min(start));
            let line_start = self.text[..start].rfind('\n').map_or(0, |i| i + 1);
            self.root_line_start = Some(line_start);
            // Comments above the root are part of the document's head (kept verbatim).
            self.pending_comments.clear();
        }
    }

    fn comment(&mut self, raw: &'a str, placement: Placement) {
        if self.root_line_start.is_none() {
            return; // head comments, e.g. `# Source:`, are kept with the head text
        }
        if placement == Placement::Right
            && let Some(node) = self.last_node_mut()
            && node.comment.is_none()
        {
            node.comment = Some(raw);
            return;
        }
        self.pending_comments.push(raw);
    }

    /// The node most recently added (for same-line comments).
    fn last_node_mut(&mut self) -> Option<&mut Node<'a>> {
        let top = self.stack.last_mut()?;
        if let Some((_, key)) = &mut top.key {
            return Some(key);
        }
        match &mut top.node.kind {
            Kind::Map(es) => es.last_mut().map(|e| &mut e.value),
            Kind::Seq(items) => items.last_mut().map(|i| &mut i.node),
            _ => None,
        }
    }

    fn anchor(&mut self, id: usize, name: &'a str) {
        // The anchor event follows its node: an open collection or the last finished leaf.
        if let Some(top) = self.stack.last_mut()
            && top.id == id
        {
            top.node.anchor = Some(name);
            return;
        }
        if self.last_id == id {
            if let Some(node) = self.last_leaf_mut() {
                node.anchor = Some(name);
            }
            if let Some(n) = self.anchored.get_mut(&id) {
                n.anchor = Some(name);
            }
        }
    }

    fn last_leaf_mut(&mut self) -> Option<&mut Node<'a>> {
        if self.stack.is_empty() {
            return self.root.as_mut();
        }
        let top = self.stack.last_mut()?;
        if let Some((_, key)) = &mut top.key {
            return Some(key);
        }
        match &mut top.node.kind {
            Kind::Map(es) => es.last_mut().map(|e| &mut e.value),
            Kind::Seq(items) => items.last_mut().map(|i| &mut i.node),
            _ => None,
        }
    }

    fn leaf(&mut self, node: Node<'a>, id: usize) {
        if id != 0 {
            self.anchored.insert(id, node.clone());
        }
        self.last_id = id;
        self.add(node);
    }

    fn open(&mut self, node: Node<'a>, id: usize) {
        let comments = std::mem::take(&mut self.pending_comments);
        self.stack.push(Open {
            node,
            id,
            key: None,
        });
        // Comments seen before the collection started belong to its first child.
        self.pending_comments = comments;
        self.last_id = 0;
    }

    fn close(&mut self) {
        let Some(open) = self.stack.pop() else {
            return;
        };
        let node = open.node;
        if open.id != 0 {
            self.anchored.insert(open.id, node.clone());
        }
        self.last_id = 0;
        // Comments seen after the collection's last child belong to whatever follows it in
        // the parent (or to the document's tail), not to the collection's own key.
        let carry = std::mem::take(&mut self.pending_comments);
        self.add(node);
        self.pending_comments = carry;
    }

    fn add(&mut self, node: Node<'a>) {
        let comments = std::mem::take(&mut self.pending_comments);
        let Some(top) = self.stack.last_mut() else {
            self.pending_comments = comments;
            self.root = Some(node);
            return;
        };
        match &mut top.node.kind {
            Kind::Seq(items) => items.push(Item { comments, node }),
            Kind::Map(entries) => match top.key.take() {
                None => top.key = Some((comments, node)),
                Some((key_comments, key)) => {
                    let mut all = key_comments;
                    all.extend(comments);
                    entries.push(Entry {
                        comments: all,
                        key,
                        value: node,
                    })
                }
            },
            _ => {}
        }
    }

    fn finish(self) -> Option<Doc<'a>> {
        let root = self.root?;
        Some(Doc {
            root,
            anchored: self.anchored,
            trailing_comments: self.pending_comments,
            root_line_start: self.root_line_start.unwrap_or(0),
        })
    }
}

// ---------------------------------------------------------------------------------------
// Emitting

/// Writes `doc`'s root in block style, two spaces per level, ending with a newline.
pub fn emit(doc: &Doc<'_>) -> String {
    let mut out = String::new();
    emit_root(&doc.root, &mut out);
    for c in &doc.trailing_comments {
        out.push_str(c);
        out.push('\n');
    }
    out
}

fn emit_root(node: &Node<'_>, out: &mut String) {
    let props = props(node);
    match &node.kind {
        Kind::Map(es) if !es.is_empty() => {
            if !props.is_empty() {
                line_end(out, &props, node.comment);
            }
            emit_map(es, 0, out);
        }
        Kind::Seq(items) if !items.is_empty() => {
            if !props.is_empty() {
                line_end(out, &props, node.comment);
            }
            emit_seq(items, 0, out);
        }
        _ => {
            out.push_str(&inline(node));
            push_comment(out, node.comment);
            out.push('\n');
        }
    }
}

fn line_end(out: &mut String, text: &str, comment: Option<&str>) {
    out.push_str(text);
    push_comment(out, comment);
    out.push('\n');
}

fn push_comment(out: &mut String, comment: Option<&str>) {
    if let Some(c) = comment {
        out.push(' ');
        out.push_str(c);
    }
}

fn indent(out: &mut String, n: usize) {
    out.extend(std::iter::repeat_n(' ', n));
}

fn comments(out: &mut String, cs: &[&str], n: usize) {
    for c in cs {
        indent(out, n);
        out.push_str(c);
        out.push('\n');
    }
}

/// Anchor and tag, space separated (`&a !!map`), or empty.
fn props(node: &Node<'_>) -> String {
    let mut s = String::new();
    if let Some(a) = node.anchor {
        let _ = write!(s, "&{a}");
    }
    if let Some(t) = node.tag {
        if !s.is_empty() {
            s.push(' ');
        }
        s.push_str(t);
    }
    s
}

/// True when the node is written on the same line as its key or dash.
fn is_inline(node: &Node<'_>) -> bool {
    match &node.kind {
        Kind::Map(es) => es.is_empty(),
        Kind::Seq(items) => items.is_empty(),
        _ => true,
    }
}

/// A node written on one line: scalars, aliases, empty collections (with anchor and tag).
fn inline(node: &Node<'_>) -> String {
    let mut s = props(node);
    let body = match &node.kind {
        Kind::Scalar { value, style, raw } => scalar_text(value, *style, *raw),
        Kind::Alias { name, .. } => format!("*{name}"),
        Kind::Map(_) => "{}".to_string(),
        Kind::Seq(_) => "[]".to_string(),
    };
    if !s.is_empty() && !body.is_empty() {
        s.push(' ');
    }
    s.push_str(&body);
    s
}

fn emit_map(entries: &[Entry<'_>], n: usize, out: &mut String) {
    emit_map_rest(entries, n, out);
}

fn emit_entry(e: &Entry<'_>, n: usize, out: &mut String) {
    let key = inline(&e.key);
    let complex_key = !matches!(e.key.kind, Kind::Scalar { .. } | Kind::Alias { .. });
    if complex_key {
        // A collection as a key: write it in flow style after `? `.
        out.push_str("? ");
        out.push_str(&flow(&e.key));
        out.push('\n');
        indent(out, n);
        out.push(':');
    } else {
        out.push_str(&key);
        if matches!(e.key.kind, Kind::Alias { .. }) {
            out.push(' ');
        }
        out.push(':');
    }
    let comment = e.key.comment.or(e.value.comment);
    let v = &e.value;
    if is_inline(v) {
        let text = inline(v);
        if !text.is_empty() {
            out.push(' ');
            out.push_str(&text);
        }
        push_comment(out, comment);
        out.push('\n');
        return;
    }
    let p = props(v);
    if !p.is_empty() {
        out.push(' ');
        out.push_str(&p);
    }
    push_comment(out, comment);
    out.push('\n');
    match &v.kind {
        Kind::Map(es) => emit_map(es, n + 2, out),
        Kind::Seq(items) => {
            // Keep the chart's sequence style: `- ` under the key (compact, as kubectl and
            // kustomize write it) or indented below it.
            let first = &items[0].node;
            let compact = first.line > 0 && e.key.line > 0 && first.col <= e.key.col + 2;
            emit_seq(items, if compact { n } else { n + 2 }, out)
        }
        _ => unreachable!(),
    }
}

fn emit_seq(items: &[Item<'_>], n: usize, out: &mut String) {
    for item in items {
        comments(out, &item.comments, n);
        indent(out, n);
        let v = &item.node;
        if is_inline(v) {
            out.push_str("- ");
            out.push_str(&inline(v));
            push_comment(out, v.comment);
            out.push('\n');
            continue;
        }
        let p = props(v);
        match &v.kind {
            Kind::Map(es) if p.is_empty() && v.comment.is_none() && es[0].comments.is_empty() => {
                out.push_str("- ");
                emit_entry(&es[0], n + 2, out);
                emit_map_rest(&es[1..], n + 2, out);
            }
            Kind::Map(es) => {
                out.push('-');
                if !p.is_empty() {
                    out.push(' ');
                    out.push_str(&p);
                }
                push_comment(out, v.comment);
                out.push('\n');
                emit_map_rest(es, n + 2, out);
            }
            Kind::Seq(inner) => {
                out.push('-');
                if !p.is_empty() {
                    out.push(' ');
                    out.push_str(&p);
                }
                push_comment(out, v.comment);
                out.push('\n');
                emit_seq(inner, n + 2, out);
            }
            _ => unreachable!(),
        }
    }
}

fn emit_map_rest(entries: &[Entry<'_>], n: usize, out: &mut String) {
    for e in entries {
        comments(out, &e.comments, n);
        indent(out, n);
        emit_entry(e, n, out);
    }
}

/// A collection in flow style (only for the rare collection used as a mapping key).
fn flow(node: &Node<'_>) -> String {
    let mut s = props(node);
    if !s.is_empty() {
        s.push(' ');
    }
    match &node.kind {
        Kind::Map(es) => {
            s.push('{');
            let parts: Vec<String> = es
                .iter()
                .map(|e| format!("{}: {}", flow(&e.key), flow(&e.value)))
                .collect();
            s.push_str(&parts.join(", "));
            s.push('}');
        }
        Kind::Seq(items) => {
            s.push('[');
            let parts: Vec<String> = items.iter().map(|i| flow(&i.node)).collect();
            s.push_str(&parts.join(", "));
            s.push(']');
        }
        Kind::Scalar { value, .. } => s.push_str(&double_quoted(value)),
        Kind::Alias { name, .. } => {
            let _ = write!(s, "*{name}");
        }
    }
    s
}

/// The text a scalar is written with: its source text when that is one line, else an
/// equivalent double-quoted scalar; for scalars lbip adds, plain when that reads back as the
/// same string, else double-quoted.
fn scalar_text(value: &str, style: ScalarStyle, raw: Option<&str>) -> String {
    match raw {
        Some(raw)
            if !raw.contains('\n')
                && !matches!(style, ScalarStyle::Literal | ScalarStyle::Folded) =>
        {
            raw.to_string()
        }
        Some(_) => double_quoted(value),
        None if is_safe_plain(value) => value.to_string(),
        None => double_quoted(value),
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

    fn roundtrip(src: &str) -> String {
        let doc = parse(src).unwrap().unwrap();
        emit(&doc)
    }

    fn same_data(a: &str, b: &str) {
        let va: serde_json::Value = serde_saphyr::from_str(a).unwrap();
        let vb: serde_json::Value = serde_saphyr::from_str(b).unwrap();
        assert_eq!(va, vb, "\n--- a\n{a}\n--- b\n{b}");
    }

    #[test]
    fn block_documents_come_back_unchanged() {
        let src = "apiVersion: v1\nkind: Service\nmetadata:\n  name: mlflow # the name\n  labels:\n    app: mlflow\n    version: 1.10\n    mode: \"0755\"\n  # the annotations\n  annotations:\n    a: 'x'\nspec:\n  ports:\n    - port: 5000\n      name: http\n    - port: 9000\n  list:\n    - a\n    - b\n";
        assert_eq!(roundtrip(src), src);
    }

    #[test]
    fn flow_anchors_tags_and_block_scalars_keep_their_data() {
        let src = "{apiVersion: v1, kind: Service, metadata: &m {name: a, labels: {x: !!str 12}}, spec: {ports: [{port: 80}], other: *m, text: \"a\n  b\"}, script: |\n  line1\n  line2\n}\n";
        let src = src.replace("script: |\n  line1\n  line2\n}", "z: [1.10, '0755']}");
        let out = roundtrip(&src);
        same_data(&src, &out);
        assert!(out.contains("x: !!str 12"), "{out}");
        assert!(out.contains("metadata: &m\n"), "{out}");
        assert!(out.contains("other: *m\n"), "{out}");
        assert!(out.contains("z:\n  - 1.10\n  - '0755'\n"), "{out}");
        let block = "data:\n  script: |\n    echo \"hi\"\n    exit 0\n  folded: >\n    a\n    b\n";
        let out = roundtrip(block);
        same_data(block, &out);
    }

    #[test]
    fn safe_plain_is_conservative() {
        assert!(is_safe_plain("192.168.1.215"));
        assert!(is_safe_plain("LoadBalancer"));
        assert!(!is_safe_plain("true"));
        assert!(!is_safe_plain("1.10"));
        assert!(!is_safe_plain("fd00::1"));
        assert!(!is_safe_plain(""));
    }
}
