//! Splitting a YAML stream into documents without parsing it.
//!
//! A document boundary in YAML is purely lexical: a line that starts with `---` followed by
//! a space, a tab or the end of the line starts a document, and a line that starts with
//! `...` likewise ends one. No scalar may contain such a line at column 0 (the spec forbids
//! it even inside quotes and block scalars), so finding them needs no parser. Each document
//! keeps its own separator line and the comments before its content (Helm 3's
//! `# Source: chart/templates/x.yaml`), so writing every range back in order reproduces the
//! input exactly.

use memchr::memmem;
use std::ops::Range;

/// Byte ranges of the documents in `input`, in order; together they cover the whole input.
///
/// Every `---` line starts a new range (it stays at the range's start); a `...` line ends
/// the current range (it stays at the range's end). Ranges may hold only comments or blank
/// lines (e.g. text before the first `---`).
pub fn split(input: &[u8]) -> Vec<Range<usize>> {
    let mut cuts: Vec<usize> = Vec::new();
    // A marker is at the input's start or right after a newline.
    let mut consider = |line_start: usize| {
        let rest = &input[line_start..];
        if let Some(kind) = marker(rest) {
            match kind {
                Marker::Start => cuts.push(line_start),
                Marker::End => cuts.push(line_end(input, line_start)),
            }
        }
    };
    consider(0);
    for finder in [
        memmem::find_iter(input, b"\n---"),
        memmem::find_iter(input, b"\n..."),
    ] {
        for nl in finder {
            consider(nl + 1);
        }
    }
    cuts.sort_unstable();
    cuts.dedup();
    let mut ranges = Vec::with_capacity(cuts.len() + 1);
    let mut start = 0;
    for cut in cuts {
        if cut > start {
            ranges.push(start..cut);
            start = cut;
        }
    }
    if start < input.len() || ranges.is_empty() {
        ranges.push(start..input.len());
    }
    ranges
}

enum Marker {
    Start,
    End,
}

fn marker(line: &[u8]) -> Option<Marker> {
    let kind = match line.get(..3)? {
        b"---" => Marker::Start,
        b"..." => Marker::End,
        _ => return None,
    };
    match line.get(3) {
        None | Some(b' ' | b'\t' | b'\n' | b'\r') => Some(kind),
        _ => None,
    }
}

/// The index just past the newline ending the line that starts at `start`.
fn line_end(input: &[u8], start: usize) -> usize {
    memchr::memchr(b'\n', &input[start..]).map_or(input.len(), |i| start + i + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(s: &str) -> Vec<&str> {
        split(s.as_bytes()).into_iter().map(|r| &s[r]).collect()
    }

    #[test]
    fn helm3_documents_keep_their_separator_and_source_comment() {
        let s = "---\n# Source: a/templates/x.yaml\nkind: A\n---\n# Source: a/templates/y.yaml\nkind: B\n";
        assert_eq!(
            parts(s),
            [
                "---\n# Source: a/templates/x.yaml\nkind: A\n",
                "---\n# Source: a/templates/y.yaml\nkind: B\n"
            ]
        );
    }

    #[test]
    fn helm4_documents_have_no_leading_separator() {
        let s = "kind: A\n---\nkind: B\n";
        assert_eq!(parts(s), ["kind: A\n", "---\nkind: B\n"]);
    }

    #[test]
    fn only_real_markers_split() {
        let s = "a: |\n  ---\n  text\nb: ----\n---x: 1\n--- # c\nc: 1\n...\nd: 2\n--- {e: 1}";
        assert_eq!(
            parts(s),
            [
                "a: |\n  ---\n  text\nb: ----\n---x: 1\n",
                "--- # c\nc: 1\n...\n",
                "d: 2\n",
                "--- {e: 1}"
            ]
        );
    }

    #[test]
    fn ranges_cover_everything() {
        for s in [
            "",
            "---",
            "---\n",
            "\n---\n---\n",
            "...\n...",
            "a\r\n---\r\nb",
        ] {
            assert_eq!(parts(s).concat(), s);
        }
    }
}
