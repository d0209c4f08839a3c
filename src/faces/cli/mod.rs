//! The `lbip` command line: one file per subcommand.

pub mod export;
pub mod lint;
pub mod man;
pub mod suggest;

use super::exit;
use clap::{CommandFactory, Parser, Subcommand};
use std::ffi::OsString;
use std::process::ExitCode;

/// Keep Kubernetes LoadBalancer IPs stable on MetalLB: one registry, enforced everywhere.
#[derive(Debug, Parser)]
#[command(name = "lbip", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check the registry like a compiler: every defect at its line and column
    Lint(lint::Args),
    /// Write the registry as /etc/hosts, dnsmasq, markdown, Ansible vars or MetalLB pools
    Export(export::Args),
    /// Print the next free addresses
    Suggest(suggest::Args),
    /// Helm post-renderer: pin registry IPs in a rendered manifest stream (stdin → stdout)
    PostRender(super::post_render::Args),
    /// Cluster commands (the same as `kubectl lbip ...`)
    #[command(disable_help_flag = true)]
    Cluster {
        /// Arguments for the kubectl plugin, e.g. `status -A`
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<OsString>,
    },
    /// Print a shell completion script
    Completions {
        /// bash, zsh, fish, elvish or powershell
        shell: clap_complete::Shell,
    },
    /// Write the man pages (lbip, its commands, kubectl-lbip and its commands) into a directory
    Man(man::Args),
    /// Print lbip's version
    Version,
}

/// Whether `word` belongs to lbip's command line: a flag, `help`, or a subcommand (or alias).
/// Such an argument is never read as an Ansible args file.
pub fn is_command_word(word: &std::ffi::OsStr) -> bool {
    let Some(word) = word.to_str() else {
        return false;
    };
    if word.starts_with('-') || word == "help" {
        return true;
    }
    Cli::command()
        .get_subcommands()
        .any(|c| c.get_name() == word || c.get_all_aliases().any(|a| a == word))
}

/// Runs the CLI face.
pub fn main(args: Vec<OsString>) -> ExitCode {
    let cli = match Cli::try_parse_from(&args) {
        Ok(cli) => cli,
        Err(e) => {
            let code = if e.use_stderr() {
                exit::ERROR
            } else {
                exit::OK
            };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    let result = match cli.command {
        Command::Lint(a) => lint::run(a),
        Command::Export(a) => export::run(a),
        Command::Suggest(a) => suggest::run(a),
        Command::PostRender(a) => return super::post_render::run(a),
        Command::Cluster { args: rest } => {
            let mut argv = vec![OsString::from("lbip cluster")];
            argv.extend(rest);
            return super::kubectl::main_with_args(argv);
        }
        Command::Completions { shell } => {
            clap_complete::generate(shell, &mut Cli::command(), "lbip", &mut std::io::stdout());
            Ok(exit::OK)
        }
        Command::Man(a) => man::run(a),
        Command::Version => {
            println!("{}", super::common::version_line());
            Ok(exit::OK)
        }
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(exit::ERROR)
        }
    }
}
