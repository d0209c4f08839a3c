//! Manifest rewriting for the Helm post-renderer: split a rendered stream into documents,
//! find the Services, pin their IPs, and write everything else back byte for byte.
//!
//! How a document is handled:
//! 1. [`split`] cuts the stream at `---`/`...` lines without parsing.
//! 2. A cheap pre-filter ([`may_hold_a_service`]) skips every document whose text contains
//!    none of `Service`, `List` or a backslash: without one of those words it cannot be a
//!    `v1 Service` or a `v1 List` (the words can only be hidden by a double-quoted escape,
//!    which needs a backslash). Skipped documents are written back as the input's own bytes.
//! 3. Candidates are parsed ([`tree`]); those that are a `v1 Service` or a `v1 List` holding
//!    Services go through [`rewrite::decide`]. Only documents with edits are written anew;
//!    the rest are again the input's bytes.

pub mod rewrite;
pub mod split;

pub mod tree;

pub use rewrite::Unpinned;

use crate::diagnostic::Finding;
use crate::registry::Registry;
use memchr::memmem;
use rewrite::{Decision, Problem};
use std::collections::BTreeSet;
use std::fmt;
use std::io::{self, Write};
use std::ops::Range;
use tree::{Kind, Node};

/// Helm 4 puts this annotation on every object; lbip keeps it (Helm 4 regroups by it).
pub const HELM4_FILENAME_ANNOTATION: &str = "postrenderer.helm.sh/postrender-filename";

/// How to post-render.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// The namespace for Services without `metadata.namespace` (`--namespace`, else
    /// `$HELM_NAMESPACE`; the face resolves it).
    pub namespace: Option<String>,
    pub unpinned: Unpinned,
}

/// A successful post-render.
#[derive(Debug, Clone, Default)]
pub struct Outcome {
    pieces: Vec<Piece>,
    /// Warnings, each naming its Service and document.
    pub findings: Vec<Finding>,
    /// What changed, per Service.
    pub changes: Vec<Change>,
    /// LoadBalancer Services with no registry entry that the policy let through.
    pub unpinned: Vec<String>,
}

/// One change to one Service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    /// The document: its `# Source:` path, Helm 4 filename, or `document N (line L)`.
    pub document: String,
    /// `namespace/name`, or `name` when the namespace is unknown.
    pub service: String,
    pub description: String,
}

impl fmt::Display for Change {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Service {} ({}): {}",
            self.service, self.document, self.description
        )
    }
}

#[derive(Debug, Clone)]
enum Piece {
    /// Bytes of the input, unchanged.
    Input(Range<usize>),
    /// A rewritten document.
    Text(String),
}

impl Outcome {
    /// Writes the output stream (the input's unchanged ranges and the rewritten documents).
    pub fn write_to(&self, input: &[u8], w: &mut dyn Write) -> io::Result<()> {
        for p in &self.pieces {
            match p {
                Piece::Input(r) => w.write_all(&input[r.clone()])?,
                Piece::Text(t) => w.write_all(t.as_bytes())?,
            }
        }
        Ok(())
    }

    /// The output stream as bytes.
    pub fn to_bytes(&self, input: &[u8]) -> Vec<u8> {
        let mut out = Vec::with_capacity(input.len() + 256);
        self.write_to(input, &mut out).expect("writing to a Vec");
        out
    }

    /// True when the output equals the input and no LoadBalancer Service is unpinned.
    pub fn fully_pinned(&self) -> bool {
        self.changes.is_empty() && self.unpinned.is_empty()
    }

    fn push_input(&mut self, r: Range<usize>) {
        if let Some(Piece::Input(prev)) = self.pieces.last_mut()
            && prev.end == r.start
        {
            prev.end = r.end;
            return;
        }
        self.pieces.push(Piece::Input(r));
    }
}

/// Why the stream cannot be post-rendered: every problem found, each naming its document.
#[derive(Debug, Clone)]
pub struct PostRenderError {
    pub problems: Vec<Finding>,
}

impl fmt::Display for PostRenderError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, p) in self.problems.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{}", crate::diagnostic::render_line(p))?;
        }
        Ok(())
    }
}

impl std::error::Error for PostRenderError {}

/// True when the document's text could be a `v1 Service` or a `v1 List` (see module docs).
pub fn may_hold_a_service(doc: &[u8]) -> bool {
    memmem::find(doc, b"Service").is_some()
        || memmem::find(doc, b"List").is_some()
        || memchr::memchr(b'\\', doc).is_some()
}

/// Post-renders a stream: see the module docs. Deterministic: the same input, registry and
/// options always give the same output; running it on its own output changes nothing.
pub fn post_render(
    input: &[u8],
    registry: &Registry,
    opts: &Options,
) -> Result<Outcome, PostRenderError> {
    let text = match std::str::from_utf8(input) {
        Ok(t) => t,
        Err(e) => {
            let at = e.valid_up_to();
            let line = 1 + memchr::memchr_iter(b'\n', &input[..at]).count();
            return Err(PostRenderError {
                problems: vec![
                    Finding::error(
                        "manifest-not-utf8",
                        format!("the manifest stream is not UTF-8 (invalid byte at line {line}, byte offset {at})"),
                    )
                    .hint("Kubernetes manifests must be UTF-8 text"),
                ],
            });
        }
    };
    let mut run = Run {
        input: text,
        registry,
        opts,
        outcome: Outcome::default(),
        problems: Vec::new(),
        unpinned_errors: Vec::new(),
    };
    for (index, range) in split::split(input).into_iter().enumerate() {
        run.document(index, range);
    }
    run.finish()
}

struct Run<'r> {
    input: &'r str,
    registry: &'r Registry,
    opts: &'r Options,
    outcome: Outcome,
    problems: Vec<Finding>,
    /// (service label, document label) of unregistered LoadBalancer Services under `fail`.
    unpinned_errors: Vec<(String, String, Option<String>)>,
}

impl Run<'_> {
    fn document(&mut self, index: usize, range: Range<usize>) {
        let seg = &self.input[range.clone()];
        if !may_hold_a_service(seg.as_bytes()) {
            self.outcome.push_input(range);
            return;
        }
        let doc = match tree::parse(seg) {
            Ok(Some(doc)) => doc,
            Ok(None) => {
                self.outcome.push_input(range);
                return;
            }
            Err(e) => {
                let label = self.label(index, &range, seg, None);
                let line = self.line_of(range.start) + e.line.saturating_sub(1);
                self.problems.push(
                    Finding::error(
                        "manifest-invalid-yaml",
                        format!(
                            "{label}: invalid YAML at stream line {line}, column {}: {}",
                            e.column, e.message
                        ),
                    )
                    .hint("fix the chart template that renders this document"),
                );
                return;
            }
        };
        let mut doc = doc;
        let mut root = std::mem::replace(&mut doc.root, Node::new_map());
        let label = self.label(index, &range, seg, Some((&doc, &root)));
        let mut changed = false;
        if is_kind(&doc, &root, "Service") {
            changed |= self.service(&doc, &mut root, &label);
        } else if (is_kind(&doc, &root, "List") || is_kind(&doc, &root, "ServiceList"))
            && let Some(items) = doc.get_mut(&mut root, "items")
            && let Kind::Seq(items) = &mut items.kind
        {
            {
                for item in items.iter_mut() {
                    doc.materialize(&mut item.node);
                    if is_kind(&doc, &item.node, "Service") {
                        changed |= self.service(&doc, &mut item.node, &label);
                    }
                }
            }
        }
        if !changed {
            self.outcome.push_input(range);
            return;
        }
        doc.root = root;
        let mut out = String::with_capacity(seg.len() + 128);
        let head = &seg[..doc.root_line_start];
        out.push_str(head);
        if head.is_empty() && seg.starts_with("---") {
            out.push_str("---\n");
        }
        out.push_str(&tree::emit(&doc));
        if let Some(last) = seg.trim_end().lines().last()
            && last.starts_with("...")
        {
            out.push_str(last);
            out.push('\n');
        }
        self.outcome.pieces.push(Piece::Text(out));
    }

    /// Handles one Service; true when it was changed.
    fn service<'a>(&mut self, doc: &tree::Doc<'a>, svc: &mut Node<'a>, label: &str) -> bool {
        let view = match rewrite::view(doc, svc) {
            Ok(v) => v,
            Err(e) => {
                self.problems.push(
                    Finding::error("service-invalid", format!("{label}: {e}"))
                        .hint("fix the chart template that renders this document"),
                );
                return false;
            }
        };
        let ns = rewrite::namespace_of(&view, self.opts.namespace.as_deref());
        let who = match &ns {
            Some(ns) => format!("{ns}/{}", view.name),
            None => view.name.clone(),
        };
        let Decision {
            edits,
            descriptions,
            warnings,
            problem,
        } = rewrite::decide(&view, self.registry, self.opts.namespace.as_deref());
        for mut w in warnings {
            w.message = format!("Service {who} ({label}) {}", w.message);
            self.outcome.findings.push(w);
        }
        match problem {
            None => {}
            Some(Problem::Unpinned { namespace }) => match self.opts.unpinned {
                Unpinned::Fail => {
                    self.unpinned_errors
                        .push((who.clone(), label.to_string(), namespace));
                    return false;
                }
                Unpinned::Warn => {
                    self.outcome.findings.push(Finding::warning(
                        "service-unpinned",
                        format!("Service {who} ({label}) is a LoadBalancer with no registry entry: MetalLB will give it the first free address, possibly one meant for another Service"),
                    ).hint("add it to the registry"));
                    self.outcome.unpinned.push(who.clone());
                }
                Unpinned::Allow => self.outcome.unpinned.push(who.clone()),
            },
            Some(Problem::NamespaceUnknown { matches }) => {
                self.problems.push(Finding::error(
                    "namespace-unknown",
                    format!(
                        "Service {who} ({label}) has no metadata.namespace and no namespace was given, and the registry has {} entr{} named `{}` ({}); lbip never guesses which one",
                        matches.len(),
                        if matches.len() == 1 { "y" } else { "ies" },
                        view.name,
                        matches.join(", ")
                    ),
                ).hint("pass the release namespace: `helm install ... --post-renderer-args --namespace=<ns>` (Helm 4: the same args after `--post-renderer lbip`), or export HELM_NAMESPACE"));
                return false;
            }
            Some(Problem::Other {
                code,
                message,
                hint,
            }) => {
                self.problems.push(
                    Finding::error(code, format!("Service {who} ({label}) {message}")).hint(hint),
                );
                return false;
            }
        }
        if edits.is_empty() {
            return false;
        }
        rewrite::apply(doc, svc, &edits);
        for description in descriptions {
            self.outcome.changes.push(Change {
                document: label.to_string(),
                service: who.clone(),
                description,
            });
        }
        true
    }

    fn finish(mut self) -> Result<Outcome, PostRenderError> {
        if !self.unpinned_errors.is_empty() {
            let mut suggested = BTreeSet::new();
            for (who, label, _ns) in std::mem::take(&mut self.unpinned_errors) {
                let free = self.registry.free_addresses(None, &suggested).next();
                let hint = match free {
                    Some(ip) => {
                        suggested.insert(ip);
                        format!("add it to the registry, e.g. with the free address {ip}; or pass `--unpinned warn` to let MetalLB choose")
                    }
                    None => "add it to the registry (no free address is left in the pools); or pass `--unpinned warn` to let MetalLB choose".to_string(),
                };
                self.problems.push(Finding::error(
                    "service-unpinned",
                    format!("Service {who} ({label}) is a LoadBalancer with no registry entry: MetalLB would give it the first free address, possibly one meant for another Service"),
                ).hint(hint));
            }
        }
        if self.problems.is_empty() {
            Ok(self.outcome)
        } else {
            Err(PostRenderError {
                problems: self.problems,
            })
        }
    }

    /// How a document is named in messages: its `# Source:` path, its Helm 4 filename
    /// annotation, else its position.
    fn label(
        &self,
        index: usize,
        range: &Range<usize>,
        seg: &str,
        parsed: Option<(&tree::Doc<'_>, &Node<'_>)>,
    ) -> String {
        if let Some(src) = seg
            .lines()
            .take_while(|l| l.starts_with('#') || l.starts_with("---") || l.trim().is_empty())
            .find_map(|l| l.strip_prefix("# Source: "))
        {
            return src.trim().to_string();
        }
        if let Some((doc, root)) = parsed
            && let Some(f) = doc
                .get(root, "metadata")
                .and_then(|m| doc.get(m, "annotations"))
                .and_then(|a| doc.get(a, HELM4_FILENAME_ANNOTATION))
                .and_then(Node::as_str)
        {
            return f.to_string();
        }
        // A document that did not parse: find the annotation by its text.
        if parsed.is_none()
            && let Some(at) = seg.find(HELM4_FILENAME_ANNOTATION)
        {
            let rest = &seg[at + HELM4_FILENAME_ANNOTATION.len()..];
            let value = rest.lines().next().unwrap_or("");
            let value = value.trim_start_matches(['"', '\'', ':', ' ']);
            let value = value.trim_end_matches(['"', '\'', ' ', ',', '}']);
            if !value.is_empty() {
                return value.to_string();
            }
        }
        format!(
            "document {} at line {}",
            index + 1,
            self.line_of(range.start) + leading_blank_lines(seg)
        )
    }

    fn line_of(&self, offset: usize) -> usize {
        1 + memchr::memchr_iter(b'\n', &self.input.as_bytes()[..offset]).count()
    }
}

fn leading_blank_lines(seg: &str) -> usize {
    seg.lines()
        .take_while(|l| l.starts_with("---") && l.trim() == "---")
        .count()
}

/// True when `node` is `apiVersion: v1` and `kind: <kind>`.
fn is_kind(doc: &tree::Doc<'_>, node: &Node<'_>, kind: &str) -> bool {
    doc.get(node, "kind").and_then(Node::as_str) == Some(kind)
        && doc.get(node, "apiVersion").and_then(Node::as_str) == Some("v1")
}
