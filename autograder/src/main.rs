//! `vmlab`: run guests, assemble, list labs and grade submissions.

use clap::{Parser, Subcommand};
use std::process::ExitCode;

/// vmlab's command line.
#[derive(Parser, Debug)]
#[command(name = "vmlab", version, about = "vmlab: an x86 machine and VMM lab for a course on virtual machines")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {}
}
