//! `kubectl lbip check`: status for cron, CI and alerting. Exit 0 when every Service in
//! scope is ok, 1 when anything is not (each problem listed on stdout), 2 on errors.

use super::{Ctx, Outcome, Output, render};
use crate::faces::exit;
use crate::plan;
use serde::Serialize;

#[derive(Debug, clap::Args)]
pub struct Args {}

#[derive(Serialize)]
struct CheckResult<'a> {
    ok: bool,
    services: usize,
    problems: Vec<&'a plan::ServiceStatus>,
    /// What to run next (`kubectl lbip apply -A --dry-run` shows the fix), when not ok.
    fix: Option<String>,
}

pub async fn run(ctx: &Ctx, _args: Args) -> Outcome {
    // Events explain pending Services in the findings check prints.
    let rows = ctx.rows(true).await?;
    let problems: Vec<&plan::ServiceStatus> = rows.iter().filter(|r| !r.is_ok()).collect();
    match ctx.global.output {
        Output::Json | Output::Yaml => {
            let result = CheckResult {
                ok: problems.is_empty(),
                services: rows.len(),
                problems: problems.clone(),
                fix: (!problems.is_empty()).then(|| ctx.fix_hint(&rows)),
            };
            print!("{}", render::structured(&result, ctx.global.output));
        }
        Output::Name => print!(
            "{}",
            render::names(
                problems
                    .iter()
                    .filter(|r| !r.states.contains(&plan::State::Missing))
                    .map(|r| r.name.as_str())
            )
        ),
        _ => {
            let width = problems
                .iter()
                .map(|r| r.state_text().len())
                .max()
                .unwrap_or(0);
            for r in &problems {
                for f in &r.findings {
                    println!("{:<width$}   {}", r.state_text(), f.message);
                }
            }
            if problems.is_empty() {
                eprintln!("ok: {} Service(s) match the registry", rows.len());
            } else {
                eprintln!(
                    "{} of {} Service(s) are not ok; {}",
                    problems.len(),
                    rows.len(),
                    ctx.fix_hint(&rows)
                );
            }
        }
    }
    Ok(if problems.is_empty() {
        exit::OK
    } else {
        exit::FINDINGS
    })
}
