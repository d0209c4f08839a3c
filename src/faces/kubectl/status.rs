//! `kubectl lbip status`: where every LoadBalancer IP stands against the registry.

use super::{Ctx, Outcome, Output, render};
use crate::faces::exit;
use crate::plan;

#[derive(Debug, clap::Args)]
pub struct Args {}

pub async fn run(ctx: &Ctx, _args: Args) -> Outcome {
    let rows = ctx.rows(ctx.shows_events()).await?;
    let out = match ctx.global.output {
        Output::Table | Output::Wide => {
            if rows.is_empty() {
                eprintln!("No LoadBalancer Services or registry entries in scope.");
                String::new()
            } else {
                let not_ok = rows.iter().filter(|r| !r.is_ok()).count();
                if not_ok > 0 {
                    eprintln!(
                        "{not_ok} of {} Service(s) are not ok; {}",
                        rows.len(),
                        ctx.fix_hint(&rows)
                    );
                }
                render::status_table(&rows, ctx.global.output == Output::Wide)
            }
        }
        // Registry entries without a Service have no name to print.
        Output::Name => render::names(
            rows.iter()
                .filter(|r| !r.states.contains(&plan::State::Missing))
                .map(|r| r.name.as_str()),
        ),
        o => render::structured(&rows, o),
    };
    print!("{out}");
    Ok(exit::OK)
}
