//! Manifest rewriting for the Helm post-renderer: split a rendered stream into documents,
//! find the Services, pin their IPs by editing only the keys lbip owns, and write every other
//! byte back as it came.
//!
//! How a document is handled:
//! 1. [`split`] cuts the stream at `---`/`...` lines without parsing (directives stay with
//!    the document they belong to).
//! 2. A cheap pre-filter ([`may_hold_a_service`]) skips every document whose text contains
//!    neither `Service` nor a backslash: without the word it cannot be or hold a `v1
//!    Service` (the word can only be hidden by a double-quoted escape, which needs a
//!    backslash). Skipped documents are written back as the input's own bytes.
//! 3. Candidates are parsed ([`syntax`]); a document whose root says `kind: Service` or
//!    holds an `items` list (what kubectl and Helm flatten as a list, at any depth) is
//!    resolved ([`resolve`]: aliases, merge keys, duplicate keys refused, expansion bounded).
//! 4. Each `v1 Service` in it goes through [`rewrite::decide`]; the edits are made in place
//!    ([`edit`]) and then proven ([`verify`]): the new text means what the old one did except
//!    for the owned keys, and a second run would change nothing. Documents without edits are
//!    again the input's bytes.

pub mod edit;
pub mod resolve;
pub mod rewrite;
pub mod split;
pub mod syntax;
mod verify;

pub use rewrite::Unpinned;

use crate::diagnostic::Finding;
use crate::registry::Registry;
use edit::{ServiceEdits, Step};
use memchr::memmem;
use resolve::Value;
use rewrite::{Decision, Problem};
use std::collections::BTreeSet;
use std::fmt;
use std::io::{self, Write};
use std::ops::Range;
use syntax::Doc;

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

/// True when the document's text could be or hold a `v1 Service` (see module docs).
pub fn may_hold_a_service(doc: &[u8]) -> bool {
    memmem::find(doc, b"Service").is_some() || memchr::memchr(b'\\', doc).is_some()
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
        let doc = match syntax::parse(seg) {
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
        let root = match candidate(&doc).and_then(|is| match is {
            true => resolve::resolve(&doc).map(Some),
            false => Ok(None),
        }) {
            Ok(Some(root)) => root,
            Ok(None) => {
                self.outcome.push_input(range);
                return;
            }
            Err(e) => {
                let label = self.label(index, &range, seg, None);
                self.problems.push(
                    Finding::error(
                        "manifest-ambiguous-yaml",
                        format!("{label}: {}", self.stream_lines(&e, range.start)),
                    )
                    .hint(e.hint()),
                );
                return;
            }
        };
        let label = self.label(index, &range, seg, Some((&doc, &root)));
        let mut edits = Vec::new();
        for (path, svc) in services(&doc, &root) {
            if let Some(e) = self.service(&doc, svc, &label) {
                edits.push(ServiceEdits { path, edits: e });
            }
        }
        if edits.is_empty() {
            self.outcome.push_input(range);
            return;
        }
        let edited = edit::apply(seg, &edits).map_err(|e| e.0).and_then(|text| {
            verify::edited(&doc, &root, &text, &edits, |d, r| self.settled(d, r))?;
            Ok(text)
        });
        match edited {
            Ok(text) => self.outcome.pieces.push(Piece::Text(text)),
            Err(why) => self.problems.push(
                Finding::error(
                    "manifest-edit-failed",
                    format!("{label}: lbip could not pin this document in place: {why}"),
                )
                .hint("this is a bug in lbip: please report it with the document; nothing was written"),
            ),
        }
    }

    /// The problem text of a resolution error, with the document's lines as stream lines.
    fn stream_lines(&self, e: &resolve::ResolveError, start: usize) -> String {
        let base = self.line_of(start) - 1;
        let mut e = e.clone();
        match &mut e {
            resolve::ResolveError::DuplicateKey { first, second, .. } => {
                *first += base;
                *second += base;
            }
            resolve::ResolveError::MergeOverridesKey {
                explicit, merge, ..
            } => {
                *explicit += base;
                *merge += base;
            }
            resolve::ResolveError::BadMerge { line }
            | resolve::ResolveError::ComplexKey { line }
            | resolve::ResolveError::Recursive { line }
            | resolve::ResolveError::Budget { line, .. } => *line += base,
        }
        format!("{e} (stream lines)")
    }

    /// True when every Service of a document (already edited) needs no edit and has no
    /// problem: what a second run would find.
    fn settled(&self, doc: &Doc<'_>, root: &Value) -> bool {
        services(doc, root).iter().all(|(_, svc)| {
            rewrite::view(doc, svc).is_ok_and(|view| {
                let d = rewrite::decide(&view, self.registry, self.opts.namespace.as_deref());
                d.edits.is_empty() && matches!(d.problem, None | Some(Problem::Unpinned { .. }))
            })
        })
    }

    /// Handles one Service: its warnings and problems are recorded; returns its edits.
    fn service(&mut self, doc: &Doc<'_>, svc: &Value, label: &str) -> Option<Vec<rewrite::Edit>> {
        let view = match rewrite::view(doc, svc) {
            Ok(v) => v,
            Err(e) => {
                self.problems.push(
                    Finding::error("service-invalid", format!("{label}: {e}"))
                        .hint("fix the chart template that renders this document"),
                );
                return None;
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
                    return None;
                }
                Unpinned::Warn => {
                    let lb = self.registry.providers.first().copied().unwrap_or_default();
                    self.outcome.findings.push(Finding::warning(
                        "service-unpinned",
                        format!("Service {who} ({label}) is a LoadBalancer with no registry entry: {}, possibly one meant for another Service", lb.provider().behaviour().automatic.replace(" would ", " will ")),
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
                return None;
            }
            Some(Problem::Other {
                code,
                message,
                hint,
            }) => {
                self.problems.push(
                    Finding::error(code, format!("Service {who} ({label}) {message}")).hint(hint),
                );
                return None;
            }
        }
        if edits.is_empty() {
            return None;
        }
        for description in descriptions {
            self.outcome.changes.push(Change {
                document: label.to_string(),
                service: who.clone(),
                description,
            });
        }
        Some(edits)
    }

    fn finish(mut self) -> Result<Outcome, PostRenderError> {
        if !self.unpinned_errors.is_empty() {
            let lb = self.registry.providers.first().copied().unwrap_or_default();
            let mut suggested = BTreeSet::new();
            for (who, label, _ns) in std::mem::take(&mut self.unpinned_errors) {
                let free = self.registry.free_addresses(None, &suggested).next();
                let hint = match free {
                    Some(ip) => {
                        suggested.insert(ip);
                        format!(
                            "add it to the registry, e.g. with the free address {ip}; or pass `--unpinned warn` to let {} choose",
                            lb.title()
                        )
                    }
                    None => format!(
                        "add it to the registry (no free address is left in the pools); or pass `--unpinned warn` to let {} choose",
                        lb.title()
                    ),
                };
                self.problems.push(Finding::error(
                    "service-unpinned",
                    format!("Service {who} ({label}) is a LoadBalancer with no registry entry: {}, possibly one meant for another Service", lb.provider().behaviour().automatic),
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
        parsed: Option<(&Doc<'_>, &Value)>,
    ) -> String {
        if let Some(src) = seg
            .trim_start_matches('\u{feff}')
            .lines()
            .take_while(|l| {
                l.starts_with('#')
                    || l.starts_with("---")
                    || l.starts_with('%')
                    || l.trim().is_empty()
            })
            .find_map(|l| l.strip_prefix("# Source: "))
        {
            return src.trim().to_string();
        }
        if let Some((doc, root)) = parsed {
            let named = |v: &Value| {
                v.get("metadata")
                    .and_then(|m| m.get("annotations"))
                    .and_then(|a| a.get(HELM4_FILENAME_ANNOTATION))
                    .and_then(|f| f.as_str(doc))
                    .map(str::to_string)
            };
            if let Some(f) =
                named(root).or_else(|| services(doc, root).iter().find_map(|(_, s)| named(s)))
            {
                return f;
            }
        }
        // A document that did not parse: find the annotation by its text.
        if parsed.is_none()
            && let Some(at) = seg.find(HELM4_FILENAME_ANNOTATION)
        {
            let rest = &seg[at + HELM4_FILENAME_ANNOTATION.len()..];
            let value = rest.lines().next().unwrap_or("");
            let value = value.trim_start_matches(['"', '\'', ':', ' ']);
            let value = value.trim_end_matches(['"', '\'', ' ', ',', '}', '\r']);
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

/// True when the document must be resolved: its root says `kind: Service` (under any of its
/// duplicate keys) or holds an `items` list.
fn candidate(doc: &Doc<'_>) -> Result<bool, resolve::ResolveError> {
    let is_service = resolve::root_values(doc, "kind")?
        .iter()
        .any(|&k| doc.node(k).scalar().is_some_and(|(v, _)| v == "Service"));
    let is_list = resolve::root_values(doc, "items")?
        .iter()
        .any(|&i| matches!(doc.node(i).kind, syntax::NodeKind::Seq { .. }));
    Ok(is_service || is_list)
}

/// Every `v1 Service` in a resolved document, with its path from the root: the root itself,
/// or the items of a list, flattened at any depth as kubectl and Helm do (any object with an
/// `items` list is a list to them).
pub fn services<'v>(doc: &Doc<'_>, root: &'v Value) -> Vec<(Vec<Step>, &'v Value)> {
    let mut out = Vec::new();
    collect_services(doc, root, &mut Vec::new(), &mut out);
    out
}

fn collect_services<'v>(
    doc: &Doc<'_>,
    node: &'v Value,
    path: &mut Vec<Step>,
    out: &mut Vec<(Vec<Step>, &'v Value)>,
) {
    if let Some(items @ Value::Seq { .. }) = node.get("items") {
        path.push(Step::Key("items".into()));
        for (i, item) in items.items().iter().enumerate() {
            path.push(Step::Index(i));
            collect_services(doc, item, path, out);
            path.pop();
        }
        path.pop();
        return;
    }
    if is_kind(doc, node, "Service") {
        out.push((path.clone(), node));
    }
}

/// True when `node` is `apiVersion: v1` and `kind: <kind>`.
fn is_kind(doc: &Doc<'_>, node: &Value, kind: &str) -> bool {
    node.get("kind").and_then(|k| k.as_str(doc)) == Some(kind)
        && node.get("apiVersion").and_then(|v| v.as_str(doc)) == Some("v1")
}
