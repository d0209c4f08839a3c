//! Seeding from YAML: files or directories of multi-document manifests, including `List`s and
//! objects that carry `status`, so a test cluster can start in any state a real one could be in.

use std::path::Path;

use anyhow::{Context, Result, bail};
use serde_json::Value;

use crate::cluster::State;
use crate::resources;

/// Parses multi-document YAML (or JSON) into objects, flattening `kind: List`.
pub fn parse_docs(text: &str) -> Result<Vec<Value>> {
    let docs: Vec<Value> = serde_saphyr::from_multiple(text).context("parsing YAML")?;
    let mut out = Vec::new();
    for d in docs {
        match d {
            Value::Null => {}
            Value::Object(ref m) if m.get("kind").and_then(Value::as_str) == Some("List") => {
                out.extend(
                    m.get("items")
                        .and_then(Value::as_array)
                        .cloned()
                        .unwrap_or_default(),
                );
            }
            other => out.push(other),
        }
    }
    Ok(out)
}

/// Reads a file, or every `*.yaml`, `*.yml` and `*.json` file of a directory in name order.
pub fn load_path(path: &Path) -> Result<Vec<Value>> {
    let mut files = Vec::new();
    if path.is_dir() {
        for e in std::fs::read_dir(path).with_context(|| format!("reading {}", path.display()))? {
            let p = e?.path();
            if matches!(
                p.extension().and_then(|x| x.to_str()),
                Some("yaml" | "yml" | "json")
            ) {
                files.push(p);
            }
        }
        files.sort();
    } else {
        files.push(path.to_path_buf());
    }
    let mut out = Vec::new();
    for f in files {
        let text =
            std::fs::read_to_string(&f).with_context(|| format!("reading {}", f.display()))?;
        out.extend(parse_docs(&text).with_context(|| format!("in {}", f.display()))?);
    }
    Ok(out)
}

/// Stores seed objects as they are (status included); `Namespace` objects declare namespaces.
pub(crate) fn seed(state: &mut State, docs: Vec<Value>) -> Result<()> {
    for d in docs {
        let api_version = d
            .get("apiVersion")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        let kind = d
            .get("kind")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        if kind == "Namespace" {
            crate::namespaces::declare(&mut state.store, &d)
                .map_err(|e| anyhow::anyhow!("seeding Namespace: {}", e.message))?;
            continue;
        }
        let Some(def) = resources::by_kind(&api_version, &kind) else {
            bail!("cannot seed {api_version} {kind}: the test server does not serve that kind");
        };
        state
            .seed(def, d)
            .map_err(|e| anyhow::anyhow!("seeding {kind}: {}", e.message))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn multi_document_and_lists() {
        let docs = parse_docs("---\na: 1\n---\n---\nkind: List\nitems:\n- b: 2\n- c: 3\n").unwrap();
        assert_eq!(docs.len(), 3);
        assert_eq!(docs[2]["c"], 3);
    }
}
