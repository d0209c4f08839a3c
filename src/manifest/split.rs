//! Splitting a YAML stream into documents without parsing it.
//!
//! A document boundary in YAML is purely lexical: a line that starts with `---` followed by
//! a space, a tab or the end of the line starts a document, and a line that starts with
//! `...` likewise ends one. No scalar may contain such a line at column 0 (the spec forbids
//! it even inside quotes and block scalars), so finding them needs no parser. Each document
//! keeps its own separator line and the comments before its content (Helm 3's
//! `# Source: chart/templates/x.yaml`), so writing every range back in order reproduces the
//! input exactly.
//!
//! Directives (`%YAML`, `%TAG`) belong to the document after them: they may only appear at
//! the start of the stream or after a `...` end marker, before that document's `---`, and
//! a `%TAG` handle means nothing without them. So the text between a document's end (or the
//! stream's start) and the next `---` goes with the next document when it holds a directive
//! (and nothing but directives, comments and blank lines). A byte order mark at the start of
//! the stream does not hide a `---` after it.

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
    consider(bom_len(input));
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
    // Directives go with the document they introduce: drop the cut before its `---`.
    let mut kept: Vec<usize> = Vec::with_capacity(cuts.len());
    let mut prev = 0;
    for cut in cuts {
        let between = &input[prev..cut];
        let starts_document = matches!(marker(&input[cut..]), Some(Marker::Start));
        if starts_document && holds_only_directives(between) && prev_ends_document(input, prev) {
            continue;
        }
        kept.push(cut);
        prev = cut;
    }
    let cuts = kept;
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

/// The length of a UTF-8 byte order mark at the start of `input` (0 or 3).
fn bom_len(input: &[u8]) -> usize {
    if input.starts_with(b"\xef\xbb\xbf") {
        3
    } else {
        0
    }
}

/// True when `text` has at least one directive line and otherwise only comments and blank
/// lines.
fn holds_only_directives(text: &[u8]) -> bool {
    let text = &text[bom_len(text)..];
    let mut directive = false;
    for line in text.split(|b| *b == b'\n') {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        match line.first() {
            Some(b'%') => directive = true,
            Some(b'#') | None => {}
            Some(_) if line.iter().all(|b| matches!(b, b' ' | b'\t')) => {}
            Some(_) => return false,
        }
    }
    directive
}

/// True when the range starting at `at` follows a document end: the stream's start, or a
/// `...` line just before it.
fn prev_ends_document(input: &[u8], at: usize) -> bool {
    if at == 0 {
        return true;
    }
    let before = &input[..at];
    let before = before.strip_suffix(b"\n").unwrap_or(before);
    let line_start = memchr::memrchr(b'\n', before).map_or(0, |i| i + 1);
    matches!(marker(&input[line_start..]), Some(Marker::End))
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
    fn directives_stay_with_the_document_they_introduce() {
        let s = "a: 1\n...\n%TAG !e! tag:example.com,2000:\n# c\n--- !e!x\nb: 2\n";
        assert_eq!(
            parts(s),
            [
                "a: 1\n...\n",
                "%TAG !e! tag:example.com,2000:\n# c\n--- !e!x\nb: 2\n"
            ]
        );
        let s = "%YAML 1.2\n---\na: 1\n";
        assert_eq!(parts(s), ["%YAML 1.2\n---\na: 1\n"]);
        // Without a `...` before it a `%` line is content of the previous document.
        let s = "a: |\n%x\n---\nb: 1\n";
        assert_eq!(parts(s), ["a: |\n%x\n", "---\nb: 1\n"]);
    }

    #[test]
    fn a_byte_order_mark_does_not_hide_the_first_marker() {
        let s = "\u{feff}---\na: 1\n---\nb: 2\n";
        assert_eq!(parts(s), ["\u{feff}", "---\na: 1\n", "---\nb: 2\n"]);
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
