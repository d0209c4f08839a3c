//! The proof every edited document passes before it is written: the new text parses, holds
//! no duplicate or ambiguous key, means exactly what the old text meant except for the keys
//! lbip owns, and a second run would not change it again. A document that fails is refused
//! (a bug in lbip), never written half-right.

use super::edit::{ServiceEdits, Step};
use super::resolve::{self, Value};
use super::rewrite::Edit;
use super::syntax::{self, Doc};
use serde_saphyr::granit_parser::ScalarStyle;
use std::collections::BTreeMap;

/// What a node means, independent of how it is written (the same for a plain scalar kept
/// as written and for one copied into a quoted string when it can only be a string).
#[derive(Debug, Clone, PartialEq)]
enum Canon {
    Null,
    /// A plain, untagged scalar that could resolve to a number, a boolean or a string.
    Plain(String),
    /// A string: quoted, block, or plain text that can only be a string.
    Str(String),
    Tagged(String, String),
    Seq(Vec<Canon>),
    /// Keys sorted: Kubernetes objects are unordered.
    Map(BTreeMap<String, Canon>),
}

fn canon(doc: &Doc<'_>, v: &Value) -> Canon {
    match v {
        Value::Null { .. } => Canon::Null,
        Value::Scalar { node } => {
            let n = doc.node(*node);
            let (text, style) = n.scalar().expect("a scalar");
            match n.tag {
                Some(tag) => Canon::Tagged(tag.to_string(), text.to_string()),
                None if style == ScalarStyle::Plain
                    && !text.contains([' ', ',', '[', ']', '{', '}', '\n']) =>
                {
                    Canon::Plain(text.to_string())
                }
                None => Canon::Str(text.to_string()),
            }
        }
        Value::Seq { items, .. } => Canon::Seq(items.iter().map(|i| canon(doc, i)).collect()),
        Value::Map { entries, .. } => Canon::Map(
            entries
                .iter()
                .map(|(k, v)| (k.clone(), canon(doc, v)))
                .collect(),
        ),
    }
}

/// Removes from the Service at `path` what its edits own, and the containers lbip may have
/// created or emptied (`annotations`, `spec`) when nothing else is left in them.
fn strip_owned(root: &mut Canon, service: &ServiceEdits) {
    let mut at = root;
    for step in &service.path {
        let next = match (step, at) {
            (Step::Key(k), Canon::Map(m)) => m.get_mut(k),
            (Step::Index(i), Canon::Seq(items)) => items.get_mut(*i),
            _ => None,
        };
        match next {
            Some(n) => at = n,
            None => return,
        }
    }
    let Canon::Map(svc) = at else { return };
    let keys: Vec<&str> = service
        .edits
        .iter()
        .filter_map(|e| match e {
            Edit::SetAnnotation { key, .. } | Edit::RemoveAnnotation { key } => Some(key.as_str()),
            _ => None,
        })
        .collect();
    if let Some(Canon::Map(meta)) = svc.get_mut("metadata") {
        strip(meta, "annotations", &keys);
    }
    let mut spec_keys = Vec::new();
    for e in &service.edits {
        match e {
            Edit::SetTypeLoadBalancer => spec_keys.push("type"),
            Edit::RemoveLoadBalancerIp => spec_keys.push("loadBalancerIP"),
            _ => {}
        }
    }
    strip(svc, "spec", &spec_keys);
}

/// Drops `keys` from the mapping under `container`, and the container when it is left empty
/// or null.
fn strip(parent: &mut BTreeMap<String, Canon>, container: &str, keys: &[&str]) {
    if let Some(Canon::Map(m)) = parent.get_mut(container) {
        for k in keys {
            m.remove(*k);
        }
    }
    let empty = match parent.get(container) {
        Some(Canon::Map(m)) => m.is_empty(),
        Some(Canon::Null) => true,
        _ => false,
    };
    if empty {
        parent.remove(container);
    }
}

/// Checks an edited document against the original (see the module docs). `settled` says
/// whether a resolved document needs no further edit.
pub(super) fn edited(
    before_doc: &Doc<'_>,
    before: &Value,
    after_text: &str,
    edits: &[ServiceEdits],
    settled: impl Fn(&Doc<'_>, &Value) -> bool,
) -> Result<(), String> {
    let after_doc = match syntax::parse(after_text) {
        Ok(Some(d)) => d,
        Ok(None) => return Err("the edited document is empty".into()),
        Err(e) => {
            return Err(format!(
                "the edited document does not parse (line {}: {})",
                e.line, e.message
            ));
        }
    };
    let after = resolve::resolve(&after_doc)
        .map_err(|e| format!("the edited document cannot be read: {e}"))?;
    let mut a = canon(before_doc, before);
    let mut b = canon(&after_doc, &after);
    for s in edits {
        strip_owned(&mut a, s);
        strip_owned(&mut b, s);
    }
    if a != b {
        return Err(
            "the edited document differs from the original beyond the keys lbip owns".into(),
        );
    }
    if !settled(&after_doc, &after) {
        return Err("a second run would change the edited document again".into());
    }
    Ok(())
}
