//! `kubectl lbip apply`: the stabilizer. Plans, shows the plan as a diff, then patches in
//! a safe order and waits for MetalLB to confirm each IP.

use super::{Ctx, Failure, Outcome, Output, parse_duration, render};
use crate::cluster::{self, ApplyOptions, ApplyReport, Progress, Replanner};
use crate::faces::exit;
use crate::plan::{self, EvictPolicy, Observed, Plan, PlanOptions};
use serde::Serialize;
use std::io::{BufRead, IsTerminal, Write};
use std::time::Duration;

/// Flags apply and reassign share.
#[derive(Debug, Clone, clap::Args)]
pub struct ApplyFlags {
    /// Show the plan and stop
    #[arg(long)]
    pub dry_run: bool,
    /// Do not ask for confirmation (never asked when stdin is not a terminal)
    #[arg(short = 'y', long)]
    pub yes: bool,
    /// How long to wait for MetalLB per step, e.g. `60s` or `2m`
    #[arg(long, default_value = "60s", value_parser = parse_duration, value_name = "DURATION")]
    pub timeout: Duration,
}

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub flags: ApplyFlags,
    /// Unregistered Services on IPs the registry needs: `pin` them to a free non-registry
    /// address first, or `skip` them (and report the entry they block)
    #[arg(long, value_enum, default_value_t = EvictArg::Pin, value_name = "POLICY")]
    pub evict_unpinned: EvictArg,
}

/// `--evict-unpinned`: the command-line spelling of the planner's [`EvictPolicy`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum EvictArg {
    /// Pin the squatter to a free address that no registry entry uses
    Pin,
    /// Never touch unregistered Services; report the entry they block
    Skip,
}

impl From<EvictArg> for EvictPolicy {
    fn from(arg: EvictArg) -> EvictPolicy {
        match arg {
            EvictArg::Pin => EvictPolicy::Pin,
            EvictArg::Skip => EvictPolicy::Skip,
        }
    }
}

pub async fn run(ctx: &Ctx, args: Args) -> Outcome {
    // Who holds an IP anywhere, and the pools; apply needs no Events.
    let observed = ctx.observe(|r| r.planning()).await?;
    let options = PlanOptions {
        evict_unpinned: args.evict_unpinned.into(),
        ..Default::default()
    };
    let plan = plan::plan(&ctx.registry, &observed, &options);
    let elsewhere = plan::hints::differing_elsewhere(&ctx.registry, &observed, &options);
    execute(ctx, &observed, &plan, &options, &elsewhere, &args.flags).await
}

#[derive(Serialize)]
struct ApplyOutput<'a> {
    plan: &'a Plan,
    /// Registered Services outside the namespaces apply acted in that differ from the
    /// registry (`-A` would include them).
    elsewhere: &'a [String],
    dry_run: bool,
    report: Option<&'a ApplyReport>,
    status: Vec<plan::ServiceStatus>,
}

/// Shows the plan, asks when appropriate, applies it and prints the final status.
/// `options` are the plan's (apply plans the rest again with them when the cluster changes);
/// `elsewhere`: registered Services outside the scope that differ (said, never touched).
pub(super) async fn execute(
    ctx: &Ctx,
    observed: &Observed,
    plan: &Plan,
    options: &PlanOptions,
    elsewhere: &[String],
    flags: &ApplyFlags,
) -> Outcome {
    let structured = matches!(ctx.global.output, Output::Json | Output::Yaml);
    let mut blocked_code = if plan.blocked.is_empty() {
        exit::OK
    } else {
        exit::FINDINGS
    };
    for w in &plan.warnings {
        eprintln!("warning: {w}");
    }
    if !structured {
        print!("{}", render::plan_diff(plan, observed, &observed.scope));
        if !elsewhere.is_empty() {
            print!("{}", render::elsewhere_note(elsewhere, plan.is_empty()));
        }
    }
    if flags.dry_run || plan.steps.is_empty() {
        if structured {
            let out = ApplyOutput {
                plan,
                elsewhere,
                dry_run: flags.dry_run,
                report: None,
                status: plan::analyze(&ctx.registry, observed),
            };
            print!("{}", render::structured(&out, ctx.global.output));
        }
        return Ok(blocked_code);
    }
    if std::io::stdin().is_terminal() && !flags.yes && !confirm(plan.steps.len())? {
        eprintln!("Nothing applied.");
        return Ok(exit::ERROR);
    }
    let tty = std::io::stderr().is_terminal();
    let mut show = |p: Progress| {
        if tty {
            show_progress(p);
        }
    };
    let opts = ApplyOptions {
        timeout: flags.timeout,
        conflict_retries: 3,
        style: ctx.registry.pin_style(),
        wait_for_last: true,
        replans: 3,
    };
    let replanner = Replanner {
        registry: &ctx.registry,
        options,
    };
    let report = cluster::apply(&ctx.conn, observed, plan, &replanner, &opts, &mut show).await;
    if !report.replans.is_empty() {
        // Said whatever the output: the plan shown is not what was applied.
        eprint!("{}", render::replans(&report, observed));
        if report.failed.is_none() {
            blocked_code = if report.blocked.is_empty() {
                exit::OK
            } else {
                exit::FINDINGS
            };
        }
    }
    let after = ctx.observe(|r| r.pools().events(ctx.shows_events())).await;
    let status = match &after {
        Ok(o) => plan::analyze(&ctx.registry, o),
        Err(_) => Vec::new(),
    };
    if structured {
        let out = ApplyOutput {
            plan,
            elsewhere,
            dry_run: false,
            report: Some(&report),
            status,
        };
        print!("{}", render::structured(&out, ctx.global.output));
    } else {
        if report.is_success() {
            println!("\nApplied {} step(s).", report.applied.len());
        }
        if !status.is_empty() {
            println!();
            print!(
                "{}",
                render::status_table(&status, ctx.global.output == Output::Wide)
            );
        }
    }
    if report.failed.is_some() {
        eprint!(
            "{}",
            render::failure_report(&report, &super::resume_command())
        );
        return Ok(exit::ERROR);
    }
    after?;
    Ok(blocked_code)
}

fn confirm(steps: usize) -> Result<bool, Failure> {
    eprint!("Apply {steps} step(s)? [y/N] ");
    std::io::stderr().flush()?;
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;
    Ok(matches!(
        line.trim().to_ascii_lowercase().as_str(),
        "y" | "yes"
    ))
}

fn show_progress(p: Progress) {
    match p {
        Progress::Patching { index, total, step } => eprint!(
            "[{}/{}] {} {} -> {} ... ",
            index + 1,
            total,
            step.action.as_str(),
            step.key(),
            render::ips(&step.to, "<pending>")
        ),
        Progress::Conflict { attempt, .. } => {
            eprint!("changed meanwhile, re-planned (retry {attempt}) ... ")
        }
        Progress::Waiting { .. } => eprint!("waiting for MetalLB ... "),
        Progress::Done { elapsed, .. } => eprintln!("done ({:.1}s)", elapsed.as_secs_f64()),
        Progress::Replanned { reason, steps } => {
            eprintln!("changed meanwhile: {reason}; planned the rest again ({steps} step(s))")
        }
        Progress::Reverting { step } => eprint!(
            "lost its IP, moving it back to {} ... ",
            render::ips(&step.to, "<pending>")
        ),
    }
}
