//! `vmlab`: run guests, assemble, list labs and grade submissions.

mod asm;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

/// vmlab's command line.
#[derive(Parser, Debug)]
#[command(
    name = "vmlab",
    version,
    about = "vmlab: an x86 machine and VMM lab for a course on virtual machines"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Assemble a NASM-syntax source into a flat binary.
    Asm(asm::AsmArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Asm(a) => asm::run(&a),
    }
}
