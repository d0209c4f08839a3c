//! `kubectl lbip version`: the plugin's version, without a registry or a cluster (krew and
//! people check that the plugin they installed is the one they meant).

use super::{Global, Outcome, Output};
use crate::faces::common::version_line;
use crate::faces::exit;

pub fn run(global: &Global) -> Outcome {
    let version = env!("CARGO_PKG_VERSION");
    match global.output {
        Output::Json => println!(
            "{}",
            serde_json::json!({"name": "lbip", "version": version})
        ),
        Output::Yaml => println!("name: lbip\nversion: {version}"),
        _ => println!("{}", version_line()),
    }
    Ok(exit::OK)
}
