//! The command line: one subcommand per tool. The binary's edge: it may use every module, and
//! turns errors into one clear message and a failing exit code.

pub mod sim;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// ipo-top: a terminal dashboard for call-centre supervisors on Avaya IP Office (MTCTI3).
#[derive(Debug, Parser)]
#[command(name = "ipo-top", version, about, long_about = None)]
pub struct Cli {
    /// What to run.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run an IP Office simulator: a living call centre served over MTCTI3 (wss), for trying
    /// ipo-top without a PBX.
    Sim(sim::SimArgs),
}

/// Parses the command line and runs the subcommand.
pub fn run() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Sim(args) => sim::run(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("ipo-top: {e:#}");
            ExitCode::FAILURE
        }
    }
}
