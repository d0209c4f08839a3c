//! One YAML document as it is written: every node with its byte span, anchor, tag and style.
//!
//! The post-renderer edits documents in place (see [`super::edit`]), so it needs to know where
//! each node starts and ends in the text, not only what it means. This module only parses;
//! what the nodes mean (aliases followed, merge keys applied, duplicate keys refused, within an
//! expansion budget) is [`super::resolve`]'s job.

use serde_saphyr::granit_parser::{Event, Parser, ScalarStyle, StructureStyle, options};
use std::borrow::Cow;
use std::collections::HashMap;
use std::ops::Range;

/// Index of a node in [`Doc::nodes`].
pub type NodeId = usize;

/// Block and flow collections nest at most this deep (the parser refuses deeper input with
/// an error, instead of recursing until the stack overflows). No Kubernetes object nests
/// anywhere near it.
pub const NESTING_LIMIT: usize = 256;

/// One node of the document.
#[derive(Debug, Clone)]
pub struct Node<'a> {
    pub kind: NodeKind<'a>,
    /// The content's bytes, without anchor and tag: a scalar's token (a block scalar's lines,
    /// without its `|`/`>` header), a flow collection from its opening bracket to its closing
    /// one, a block collection from its first child to the end of its last.
    pub span: Range<usize>,
    /// Where the node starts, its properties (`&anchor`, `!tag`) and a block scalar's header
    /// included.
    pub start: usize,
    /// `&name` defined on this node, without the `&`.
    pub anchor: Option<&'a str>,
    /// The tag as written (`!!str`, `!e!foo`).
    pub tag: Option<&'a str>,
    /// 1-based line of the content's start, within the parsed text.
    pub line: usize,
    /// 0-based column (in characters) of the content's start.
    pub col: usize,
    pub parent: Option<NodeId>,
}

#[derive(Debug, Clone)]
pub enum NodeKind<'a> {
    Scalar {
        /// The value after escapes and folding.
        value: Cow<'a, str>,
        style: ScalarStyle,
    },
    Seq {
        items: Vec<NodeId>,
        flow: bool,
    },
    Map {
        /// `(key, value)` pairs in document order, duplicates and merge keys included.
        entries: Vec<(NodeId, NodeId)>,
        flow: bool,
    },
    Alias {
        /// The anchored node the alias names.
        target: NodeId,
    },
}

/// A parsed document.
#[derive(Debug, Clone)]
pub struct Doc<'a> {
    /// The text that was parsed (one stream segment).
    pub text: &'a str,
    pub nodes: Vec<Node<'a>>,
    pub root: NodeId,
    /// Every alias node, in document order.
    pub aliases: Vec<NodeId>,
}

/// Why a document could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    pub message: String,
    /// 1-based line within the parsed text.
    pub line: usize,
    /// 1-based column.
    pub column: usize,
}

impl<'a> Node<'a> {
    /// The scalar's value; `None` for collections and aliases.
    pub fn scalar(&self) -> Option<(&str, ScalarStyle)> {
        match &self.kind {
            NodeKind::Scalar { value, style } => Some((value.as_ref(), *style)),
            _ => None,
        }
    }

    /// True for a null scalar: plain and untagged `""`, `~`, `null`, `Null`, `NULL`, or
    /// tagged `!!null`.
    pub fn is_null(&self) -> bool {
        match &self.kind {
            NodeKind::Scalar { value, style } => {
                self.tag.is_some_and(|t| t == "!!null")
                    || (*style == ScalarStyle::Plain
                        && self.tag.is_none()
                        && matches!(value.as_ref(), "" | "~" | "null" | "Null" | "NULL"))
            }
            _ => false,
        }
    }

    pub fn is_flow(&self) -> bool {
        matches!(
            self.kind,
            NodeKind::Seq { flow: true, .. } | NodeKind::Map { flow: true, .. }
        )
    }
}

impl<'a> Doc<'a> {
    pub fn node(&self, id: NodeId) -> &Node<'a> {
        &self.nodes[id]
    }

    /// The raw source text of a scalar (`'0755'`, `1.10`), empty for an empty plain scalar.
    pub fn raw(&self, id: NodeId) -> &'a str {
        let n = &self.nodes[id];
        &self.text[n.span.clone()]
    }

    /// Follows an alias to the node it names (a non-alias is returned as is).
    pub fn target(&self, id: NodeId) -> NodeId {
        match self.nodes[id].kind {
            NodeKind::Alias { target } => target,
            _ => id,
        }
    }

    /// Where the node's content ends: for a block scalar, before the line break of its last
    /// line; for a block collection, where its last child's content ends; else its span's end.
    pub fn content_end(&self, id: NodeId) -> usize {
        content_end(self.text, &self.nodes, id)
    }

    /// The byte offset where the line holding `at` starts.
    pub fn line_start(&self, at: usize) -> usize {
        self.text[..at].rfind('\n').map_or(0, |i| i + 1)
    }

    /// The byte offset just past the line break ending the line that holds `at` (the end of
    /// the text when that line has none).
    pub fn line_end(&self, at: usize) -> usize {
        self.text[at..]
            .find('\n')
            .map_or(self.text.len(), |i| at + i + 1)
    }

    /// The line break the document uses (`\r\n` when its first line break is one).
    pub fn newline(&self) -> &'static str {
        match self.text.find('\n') {
            Some(i) if i > 0 && self.text.as_bytes()[i - 1] == b'\r' => "\r\n",
            _ => "\n",
        }
    }

    /// The 1-based line of byte offset `at`.
    pub fn line_of(&self, at: usize) -> usize {
        1 + self.text.as_bytes()[..at]
            .iter()
            .filter(|b| **b == b'\n')
            .count()
    }
}

/// Parses one document: the text of one stream segment (its `---` line, comments and
/// directives included). `Ok(None)` when it holds no node (only comments, or nothing).
pub fn parse(text: &str) -> Result<Option<Doc<'_>>, ParseError> {
    let opts = options! {
        emit_anchor_events: true,
        flow_nesting_limit: NESTING_LIMIT,
        block_nesting_limit: NESTING_LIMIT,
    };
    let mut b = Builder {
        nodes: Vec::new(),
        stack: Vec::new(),
        root: None,
        anchors: HashMap::new(),
        aliases: Vec::new(),
        last: None,
        documents: 0,
    };
    for ev in Parser::new_from_str_with_options(text, opts) {
        let (event, span) = ev.map_err(|e| ParseError {
            message: e.info().to_string(),
            line: e.marker().line(),
            column: e.marker().col() + 1,
        })?;
        let range = span.byte_range().unwrap_or(0..0);
        let tag = span
            .tag_span()
            .and_then(|t| t.byte_range())
            .map(|r| (r.clone(), &text[r]));
        let (line, col) = (span.start.line(), span.start.col());
        match event {
            Event::DocumentStart(..) => {
                b.documents += 1;
                if b.documents > 1 {
                    // The splitter gives one document per segment; a second one means a
                    // document marker the splitter did not see (it would be lost).
                    return Err(ParseError {
                        message: "a second document starts inside this one".into(),
                        line,
                        column: col + 1,
                    });
                }
            }
            Event::Scalar(value, style, anchor_id, _) => {
                let start = if matches!(style, ScalarStyle::Literal | ScalarStyle::Folded) {
                    block_header_start(text, range.start)
                } else {
                    range.start
                };
                let id = b.add(
                    NodeKind::Scalar { value, style },
                    range.clone(),
                    start,
                    tag,
                    line,
                    col,
                );
                b.anchor_id(anchor_id, id);
            }
            Event::Alias(anchor_id) => {
                let Some(&target) = b.anchors.get(&anchor_id) else {
                    return Err(ParseError {
                        message: "an alias names an anchor that is not defined before it".into(),
                        line,
                        column: col + 1,
                    });
                };
                let id = b.add(
                    NodeKind::Alias { target },
                    range.clone(),
                    range.start,
                    None,
                    line,
                    col,
                );
                b.aliases.push(id);
            }
            Event::Anchor(anchor_id, _) => {
                // The anchor event follows its node; `&name` is the span minus the `&`.
                if let Some(id) = b.anchors.get(&anchor_id).copied() {
                    let name = &text[range.start + 1..range.end];
                    let node = &mut b.nodes[id];
                    node.anchor = Some(name);
                    node.start = node.start.min(range.start);
                }
            }
            Event::SequenceStart(style, anchor_id, _)
            | Event::MappingStart(style, anchor_id, _) => {
                let flow = style == StructureStyle::Flow;
                let kind = if matches!(event, Event::SequenceStart(..)) {
                    NodeKind::Seq {
                        items: Vec::new(),
                        flow,
                    }
                } else {
                    NodeKind::Map {
                        entries: Vec::new(),
                        flow,
                    }
                };
                let id = b.add(kind, range.clone(), range.start, tag, line, col);
                b.anchor_id(anchor_id, id);
                b.stack.push(Open { id, key: None });
            }
            Event::SequenceEnd | Event::MappingEnd => {
                let Some(open) = b.stack.pop() else { continue };
                let end = if b.nodes[open.id].is_flow() {
                    range.end
                } else {
                    // A block collection ends where its last child ends.
                    let last = match &b.nodes[open.id].kind {
                        NodeKind::Seq { items, .. } => items.last().copied(),
                        NodeKind::Map { entries, .. } => entries.last().map(|(_, v)| *v),
                        _ => None,
                    };
                    last.map_or(b.nodes[open.id].span.end, |l| {
                        content_end(text, &b.nodes, l).max(b.nodes[l].span.end)
                    })
                };
                let node = &mut b.nodes[open.id];
                node.span.end = end.max(node.span.start);
                b.last = Some(open.id);
            }
            _ => {}
        }
    }
    Ok(b.root.map(|root| Doc {
        text,
        nodes: b.nodes,
        root,
        aliases: b.aliases,
    }))
}

/// See [`Doc::content_end`]. A block collection's span already ends where its last child's
/// content does (set when the collection closes).
fn content_end(text: &str, nodes: &[Node<'_>], id: NodeId) -> usize {
    let n = &nodes[id];
    match &n.kind {
        NodeKind::Scalar {
            style: ScalarStyle::Literal | ScalarStyle::Folded,
            ..
        } => {
            // A block scalar's span runs to the start of the next line's content; its own
            // content ends before the last line break inside the span.
            let span = &text[n.span.clone()];
            match span.trim_end_matches([' ', '\t']).rfind('\n') {
                Some(nl) => {
                    let at = n.span.start + nl;
                    if at > n.span.start && text.as_bytes()[at - 1] == b'\r' {
                        at - 1
                    } else {
                        at
                    }
                }
                None => n.span.end,
            }
        }
        _ => n.span.end,
    }
}

/// Where a block scalar's header (`|`, `>-`, `|2+`) starts: on the line before its content,
/// the last `|` or `>` outside a comment. Falls back to the content start.
fn block_header_start(text: &str, content_start: usize) -> usize {
    let before = &text[..content_start];
    let Some(header_end) = before.trim_end_matches([' ', '\t']).rfind('\n') else {
        return content_start;
    };
    let header_end = if header_end > 0 && before.as_bytes()[header_end - 1] == b'\r' {
        header_end - 1
    } else {
        header_end
    };
    let line_start = before[..header_end].rfind('\n').map_or(0, |i| i + 1);
    let line = &before[line_start..header_end];
    // Cut a trailing comment (` #` starts one) before looking for the indicator.
    let code = match line.find(" #").or_else(|| line.find("\t#")) {
        Some(c) => &line[..c],
        None => line,
    };
    match code.rfind(['|', '>']) {
        Some(i) => line_start + i,
        None => content_start,
    }
}

struct Open {
    id: NodeId,
    /// For mappings: the key waiting for its value.
    key: Option<NodeId>,
}

struct Builder<'a> {
    nodes: Vec<Node<'a>>,
    stack: Vec<Open>,
    root: Option<NodeId>,
    /// Parser anchor ids to the node that defined them.
    anchors: HashMap<usize, NodeId>,
    aliases: Vec<NodeId>,
    last: Option<NodeId>,
    documents: usize,
}

impl<'a> Builder<'a> {
    fn anchor_id(&mut self, anchor_id: usize, id: NodeId) {
        if anchor_id != 0 {
            self.anchors.insert(anchor_id, id);
        }
    }

    fn add(
        &mut self,
        kind: NodeKind<'a>,
        span: Range<usize>,
        start: usize,
        tag: Option<(Range<usize>, &'a str)>,
        line: usize,
        col: usize,
    ) -> NodeId {
        let id = self.nodes.len();
        let parent = self.stack.last().map(|o| o.id);
        let start = tag.as_ref().map_or(start, |(r, _)| r.start.min(start));
        self.nodes.push(Node {
            kind,
            span,
            start,
            anchor: None,
            tag: tag.map(|(_, t)| t),
            line,
            col,
            parent,
        });
        self.last = Some(id);
        match self.stack.last_mut() {
            None => {
                if self.root.is_none() {
                    self.root = Some(id);
                }
            }
            Some(open) => {
                let parent = open.id;
                match open.key.take() {
                    None if matches!(self.nodes[parent].kind, NodeKind::Map { .. }) => {
                        open.key = Some(id)
                    }
                    key => match &mut self.nodes[parent].kind {
                        NodeKind::Map { entries, .. } => {
                            entries.push((key.expect("a mapping value follows its key"), id))
                        }
                        NodeKind::Seq { items, .. } => items.push(id),
                        _ => {}
                    },
                }
            }
        }
        id
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(text: &str) -> Doc<'_> {
        parse(text).unwrap().unwrap()
    }

    fn entries<'d>(d: &'d Doc<'_>, id: NodeId) -> Vec<(&'d str, NodeId)> {
        match &d.node(id).kind {
            NodeKind::Map { entries, .. } => entries
                .iter()
                .map(|(k, v)| (d.node(*k).scalar().unwrap().0, *v))
                .collect(),
            _ => panic!("not a map"),
        }
    }

    #[test]
    fn spans_cover_scalars_block_scalars_and_collections() {
        let text = "a: &x 'q' # c\nb: |\n  l1\n  l2\nc:\n  d: [1, 2]\n  e: {f: g}\n";
        let d = doc(text);
        let e = entries(&d, d.root);
        assert_eq!(d.raw(e[0].1), "'q'");
        assert_eq!(&text[d.node(e[0].1).start..d.content_end(e[0].1)], "&x 'q'");
        assert_eq!(
            &text[d.node(e[1].1).start..d.content_end(e[1].1)],
            "|\n  l1\n  l2"
        );
        let c = entries(&d, e[2].1);
        assert_eq!(d.raw(c[0].1), "[1, 2]");
        assert_eq!(
            &text[d.node(e[2].1).start..d.content_end(e[2].1)],
            "d: [1, 2]\n  e: {f: g}"
        );
        assert_eq!(d.newline(), "\n");
    }

    #[test]
    fn crlf_block_scalars_end_before_the_line_break() {
        let text = "a: >-\r\n  x\r\nb: 1\r\n";
        let d = doc(text);
        let e = entries(&d, d.root);
        assert_eq!(
            &text[d.node(e[0].1).start..d.content_end(e[0].1)],
            ">-\r\n  x"
        );
        assert_eq!(d.newline(), "\r\n");
    }

    #[test]
    fn aliases_point_at_their_anchor_and_empty_values_are_null() {
        let d = doc("a: &m {x: 1}\nb: *m\nc:\n");
        let e = entries(&d, d.root);
        assert_eq!(d.target(e[1].1), e[0].1);
        assert_eq!(d.node(e[0].1).anchor, Some("m"));
        assert!(d.node(e[2].1).is_null());
        assert_eq!(d.aliases, vec![e[1].1]);
    }

    #[test]
    fn nesting_beyond_the_limit_is_an_error_not_a_stack_overflow() {
        let deep = "[".repeat(NESTING_LIMIT + 10);
        assert!(parse(&deep).is_err());
    }
}
