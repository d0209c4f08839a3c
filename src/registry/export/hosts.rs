//! `/etc/hosts` lines for entries with a hostname, inside `# BEGIN lbip` / `# END lbip`
//! markers so `--write` can replace exactly its own block and nothing else.

use crate::registry::model::Registry;

pub const BEGIN: &str = "# BEGIN lbip";
pub const END: &str = "# END lbip";

/// The marked block: one `ip hostname` line per address of each entry with a hostname.
pub fn render(registry: &Registry) -> String {
    let mut out = format!(
        "{BEGIN}\n# Written by `lbip export hosts`; edits inside this block are replaced.\n"
    );
    let mut seen = std::collections::BTreeSet::new();
    for entry in &registry.services {
        let Some(host) = entry.hostname() else {
            continue;
        };
        for ip in entry.ip_values() {
            // Entries sharing an IP may share a hostname; one line is enough.
            if seen.insert((ip, host.to_ascii_lowercase())) {
                out.push_str(&format!("{ip} {host}\n"));
            }
        }
    }
    out.push_str(END);
    out.push('\n');
    out
}

/// Why a file's lbip block cannot be replaced safely.
#[derive(Debug, PartialEq, Eq)]
pub enum SpliceError {
    /// `# BEGIN lbip` without a following `# END lbip` (line of the BEGIN marker).
    Unterminated(usize),
    /// More than one lbip block (line of the second BEGIN marker).
    Duplicate(usize),
}

impl std::fmt::Display for SpliceError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SpliceError::Unterminated(l) => write!(
                f,
                "line {l} has `{BEGIN}` but no `{END}` follows; add the END marker where the block should stop (the file was not changed)"
            ),
            SpliceError::Duplicate(l) => write!(
                f,
                "line {l} starts a second lbip block; remove one of them (the file was not changed)"
            ),
        }
    }
}

/// `existing` with its lbip block replaced by `block` (appended when there is none).
/// Everything outside the block is kept byte for byte, line endings included.
pub fn splice(existing: &str, block: &str) -> Result<String, SpliceError> {
    let is = |line: &str, marker: &str| line.trim_end_matches(['\r', '\n']).trim_end() == marker;
    let mut begin = None; // (byte offset, line number)
    let mut span = None; // (start, end) byte offsets of the whole block, END line included
    let mut offset = 0;
    for (n, line) in existing.split_inclusive('\n').enumerate() {
        let line_no = n + 1;
        if is(line, BEGIN) {
            if span.is_some() || begin.is_some() {
                return Err(SpliceError::Duplicate(line_no));
            }
            begin = Some((offset, line_no));
        } else if is(line, END)
            && let Some((start, _)) = begin.take()
        {
            span = Some((start, offset + line.len()));
        }
        offset += line.len();
    }
    if let Some((_, line_no)) = begin {
        return Err(SpliceError::Unterminated(line_no));
    }
    Ok(match span {
        Some((start, end)) => {
            let mut block = block.to_string();
            // Keep the file's own ending after END (none at end of file, CRLF...).
            let old_end = &existing[start..end];
            if !old_end.ends_with('\n') {
                block.pop();
            } else if old_end.ends_with("\r\n") {
                block = block.replace('\n', "\r\n");
            }
            format!("{}{}{}", &existing[..start], block, &existing[end..])
        }
        None => {
            let sep = if existing.is_empty() || existing.ends_with('\n') {
                ""
            } else {
                "\n"
            };
            format!("{existing}{sep}{block}")
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const BLOCK: &str = "# BEGIN lbip\n10.0.0.1 a.test\n# END lbip\n";

    #[test]
    fn a_missing_block_is_appended_after_the_last_line() {
        assert_eq!(
            splice("127.0.0.1 localhost", BLOCK).unwrap(),
            format!("127.0.0.1 localhost\n{BLOCK}")
        );
        assert_eq!(splice("", BLOCK).unwrap(), BLOCK);
    }

    #[test]
    fn only_the_block_is_replaced_and_twice_is_the_same() {
        let file = "127.0.0.1 localhost\r\n# BEGIN lbip\nold\n# END lbip\n::1 localhost # keep\n\n";
        let once = splice(file, BLOCK).unwrap();
        assert_eq!(
            once,
            format!("127.0.0.1 localhost\r\n{BLOCK}::1 localhost # keep\n\n")
        );
        assert_eq!(splice(&once, BLOCK).unwrap(), once);
    }

    #[test]
    fn a_broken_block_is_refused() {
        assert_eq!(
            splice("a\n# BEGIN lbip\nx\n", BLOCK),
            Err(SpliceError::Unterminated(2))
        );
        let two = format!("{BLOCK}{BLOCK}");
        assert_eq!(splice(&two, BLOCK), Err(SpliceError::Duplicate(4)));
    }
}
