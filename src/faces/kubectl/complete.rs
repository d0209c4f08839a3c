//! `kubectl_complete-lbip`: kubectl (>= 1.26) runs it with the words after `kubectl lbip`
//! and expects candidates, one per line, then a directive line (`:4` = no file completion).

use super::Plugin;
use crate::faces::exit;
use clap::CommandFactory;
use std::ffi::OsString;
use std::process::ExitCode;

/// The candidates for the last word, given the words before it.
pub fn candidates(words: &[String]) -> Vec<String> {
    let cmd = Plugin::command();
    let current = words.last().cloned().unwrap_or_default();
    let sub = words[..words.len().saturating_sub(1)]
        .iter()
        .find_map(|w| cmd.get_subcommands().find(|s| s.get_name() == w));
    let mut out = Vec::new();
    if current.starts_with('-') || sub.is_some() {
        let args = cmd
            .get_arguments()
            .chain(sub.into_iter().flat_map(|s| s.get_arguments()));
        for a in args {
            if let Some(l) = a.get_long() {
                out.push(format!("--{l}"));
            }
        }
        if let Some(prev) = words.len().checked_sub(2).and_then(|i| words.get(i))
            && matches!(prev.as_str(), "-o" | "--output")
        {
            out = ["table", "wide", "json", "yaml", "name"]
                .map(String::from)
                .to_vec();
        }
    } else {
        out.extend(cmd.get_subcommands().map(|s| s.get_name().to_string()));
    }
    out.sort();
    out.dedup();
    out.retain(|c| c.starts_with(&current));
    out
}

pub fn run(args: Vec<OsString>) -> ExitCode {
    let words: Vec<String> = args
        .iter()
        .skip(1)
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    let words = if words.is_empty() {
        vec![String::new()]
    } else {
        words
    };
    for c in candidates(&words) {
        println!("{c}");
    }
    println!(":4");
    ExitCode::from(exit::OK)
}
