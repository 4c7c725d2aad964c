//! `vmlab`: run guests, assemble, list labs and grade submissions.

mod asm;
mod batch;
mod bundle;
mod check_lab;
mod disk;
mod formats;
mod gdb;
mod grade;
mod host;
mod host_net;
mod introspect;
mod jvm;
mod jvm_step;
mod labs;
mod linux;
mod linux_compare;
mod migrate;
mod net;
mod net_vms;
mod pack;
mod pack_demo;
mod run;
mod run_nic;
mod run_report;
mod run_tsc;
mod scenario_cmd;
mod translate;

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
    /// List the labs.
    Labs(labs::Args),
    /// Check that a lab can grade: manifest, hidden tests, reference full marks, starter less.
    CheckLab(check_lab::Args),
    /// Grade a submission and write the result file of Gradescope, PrairieLearn or GitHub Classroom.
    Grade(grade::Args),
    /// Pack a lab's Gradescope autograder (setup.sh, run_autograder) into a folder or zip.
    GradescopeBundle(bundle::BundleArgs),
    /// Pack a lab's PrairieLearn external grader (Dockerfile, entrypoint) into a folder.
    PrairielearnBundle(bundle::BundleArgs),
    /// Write a course pack (the labs' visible parts, demos and index.json) for a static site.
    Pack(pack::Args),
    /// Run a guest with the serial console on the terminal.
    Run(run::RunArgs),
    /// Inspect a disk image (raw or qcow2): info, check, map.
    Disk(disk::DiskArgs),
    /// Run a virtual-network scenario (switches, flows, NAT, VXLAN) and print its tables and counters.
    Net(net::Args),
    /// Live-migrate a running guest to a second machine over a modeled link (pre-copy or post-copy).
    Migrate(migrate::MigrateArgs),
    /// Run a guest fault-tolerantly (primary and backup by record/replay) and kill the primary.
    Ft(migrate::FtArgs),
    /// Run a multi-VM host scenario (page sharing, ballooning, swapping, credit scheduler, virtual time) and print per-VM memory and CPU tables.
    Host(host::Args),
    /// Run a guest with the translating tier and print the regions it translated: x86, IR before and after the passes.
    Translate(translate::TranslateArgs),
    /// Run javac-compiled classes on vmlab's JVM (interpreter, mark-sweep or copying collector).
    Jvm(jvm::JvmArgs),
    /// Run a kernel, then read its process list and current process from its memory through a profile.
    Introspect(introspect::Args),
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            use clap::error::ErrorKind;
            let args: Vec<String> = std::env::args().collect();
            let run_json =
                args.get(1).is_some_and(|a| a == "run") && args.iter().any(|a| a == "--json");
            if run_json && !matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion) {
                // `vmlab run --json` answers in JSON even when its options are wrong.
                let message = e.render().to_string();
                let first = message.lines().next().unwrap_or_default();
                let first = first.strip_prefix("error: ").unwrap_or(first);
                println!("{}", run_report::error(first, run::EXIT_BAD_INPUT));
            }
            e.exit()
        }
    };
    match cli.command {
        Command::Asm(a) => asm::run(&a),
        Command::Labs(args) => labs::run(args),
        Command::CheckLab(args) => check_lab::run(args),
        Command::Grade(args) => grade::run(args),
        Command::GradescopeBundle(args) => bundle::run(args, bundle::Platform::Gradescope),
        Command::PrairielearnBundle(args) => bundle::run(args, bundle::Platform::Prairielearn),
        Command::Pack(args) => pack::run(args),
        Command::Run(args) => run::main(args),
        Command::Disk(args) => disk::main(args),
        Command::Net(args) => net::run(args),
        Command::Host(args) => host::run(args),
        Command::Translate(args) => translate::main(args),
        Command::Migrate(args) => migrate::migrate(args),
        Command::Ft(args) => migrate::ft(args),
        Command::Jvm(args) => jvm::run(args),
        Command::Introspect(args) => introspect::run(args),
    }
}
