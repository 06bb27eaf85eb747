//! The `ipo-top` binary: a terminal dashboard for call-centre supervisors on Avaya IP Office,
//! and the tools around it (see `ipo-top --help`).

mod cli;

fn main() -> std::process::ExitCode {
    cli::run()
}
