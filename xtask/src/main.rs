//! `cargo xtask serve | build-web | test`: vmlab's build, serve and test orchestration.
//!
//! Every step says what it does before doing it; tools that are missing are
//! installed with apt when running as root, or named so a developer can install them.

mod axe;
mod bench;
mod bench_bundle;
mod bench_disk;
mod bench_grade;
mod bench_guests;
mod bench_host;
mod bench_jvm;
mod bench_migrate;
mod bench_nic;
mod bench_smp;
mod bench_vmm;
mod bench_wasm;
mod bench_web;
mod bench_xlate;
mod browser;
mod browser_tests;
mod bundle;
mod bundle_report;
mod check;
mod corpus;
mod corpus_guests;
mod dist;
mod dist_tests;
mod server;
mod site;
mod step;
mod tools;
mod ui_comfort;
mod ui_pack;
mod ui_pictures;
mod ui_tests;
mod ui_tests_balloonlab;
mod ui_tests_devices;
mod ui_tests_disk;
mod ui_tests_host;
mod ui_tests_hostnetui;
mod ui_tests_introspect;
mod ui_tests_jit;
mod ui_tests_jitdemo;
mod ui_tests_jvmlab;
mod ui_tests_netpanel;
mod ui_tests_precopylab;
mod ui_tests_procdemo;
mod ui_tests_proclab;
mod ui_tests_smpk;
mod ui_tests_smplhp;
mod ui_tests_smpui;
mod ui_tests_tsc;
mod ui_tests_virtio1;
mod ui_tests_xlate;
mod ui_tests_xlatelab;
mod ui_time_travel;
mod ui_vmm_settings;
mod wasm;
mod webdriver;

use anyhow::Result;
use clap::{Parser, Subcommand};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// vmlab's developer commands.
#[derive(Parser, Debug)]
#[command(name = "cargo xtask", about = "Build, serve and test vmlab")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Build the browser lab (optimized) and serve it on 127.0.0.1.
    Serve {
        /// The TCP port to listen on.
        #[arg(long, default_value_t = 8080)]
        port: u16,
        /// Serve the debug build instead (quicker to build while working on the page).
        #[arg(long)]
        dev: bool,
    },
    /// Build the browser lab into target/site without serving it.
    BuildWeb {
        /// Build lab-ui with optimizations.
        #[arg(long)]
        release: bool,
    },
    /// Write the release site as a folder for any static host (hashed assets, offline service worker).
    Dist {
        /// The URL path the folder is served under (e.g. /course/vmlab/ or /REPO/ on GitHub Pages).
        #[arg(long, default_value = "/")]
        base_path: String,
        /// The folder to write (default target/dist).
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Measure vmlab against its peers (Unicorn, v86) and its performance targets.
    Bench {
        /// ITER of the mixed workload for vmlab and Unicorn.
        #[arg(long, default_value_t = 300)]
        iter: u32,
        /// ITER of the mixed workload for v86.
        #[arg(long, default_value_t = 3000)]
        v86_iter: u32,
        /// Runs per figure (medians are reported).
        #[arg(long, default_value_t = 3)]
        runs: usize,
        /// Skip the peers.
        #[arg(long)]
        no_peers: bool,
        /// Build the site first (release) and measure the lab in headless Chromium:
        /// bundle size, page load, Step latency, Run speed.
        #[arg(long)]
        web: bool,
        /// Only the translating tier's rows: v86 and the Wasm build's fast and
        /// translating tiers under Node.js.
        #[arg(long)]
        translate_only: bool,
    },
    /// Run every check: fmt, clippy, native tests, the Wasm build and the browser tests.
    Test {
        /// Only build the site and run the browser tests (skip fmt, clippy and native tests).
        #[arg(long)]
        browser_only: bool,
        /// Run only the browser tests whose name contains this text.
        #[arg(long)]
        filter: Option<String>,
    },
    /// Where the lab's Wasm bundle spends its bytes: sections, code by crate, largest functions.
    BundleReport {
        /// The module to measure (default: the release build's lab_ui.wasm, which keeps its names).
        #[arg(long)]
        wasm: Option<PathBuf>,
        /// How many of the largest functions to list.
        #[arg(long, default_value_t = 40)]
        top: usize,
        /// Print JSON instead of tables.
        #[arg(long)]
        json: bool,
    },
    /// The translating tier's differential over every guest and lab reference solution,
    /// in the Wasm build under Node.js (part of `test`).
    Corpus {
        /// Only the cases and labs whose name contains this.
        #[arg(long)]
        only: Option<String>,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let outcome = match cli.command {
        Command::Serve { port, dev } => serve(port, !dev).map(|()| true),
        Command::BuildWeb { release } => build_web(release).map(|_| true),
        Command::Dist { base_path, out } => dist::run(&dist::Options { base_path, out }),
        Command::Bench {
            iter,
            v86_iter,
            runs,
            no_peers,
            web,
            translate_only,
        } => bench::run(&bench::Options {
            iter,
            v86_iter,
            runs,
            no_peers,
            web,
            translate_only,
        }),
        Command::Test {
            browser_only,
            filter,
        } => check::run(&check::Options {
            browser_only,
            filter,
        }),
        Command::BundleReport { wasm, top, json } => bundle_report::run(wasm.as_deref(), top, json),
        Command::Corpus { only } => corpus::run(only.as_deref()),
    };
    match outcome {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Ensures the Wasm toolchain and builds the site into `target/site`.
fn build_web(release: bool) -> Result<PathBuf> {
    let toolchain = wasm::Toolchain::ensure()?;
    site::build(&toolchain, release)
}

fn serve(port: u16, release: bool) -> Result<()> {
    let site = build_web(release)?;
    step::heading(&format!("serving {}", site.display()));
    let server = server::SiteServer::bind(&site, port)?;
    println!("vmlab is at {}", server.url());
    println!("(Ctrl-C stops the server)");
    server.serve_forever();
    Ok(())
}

/// The workspace root (the parent of this crate's directory).
pub fn workspace_root() -> &'static Path {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest.parent().unwrap_or(manifest)
}

/// The workspace's `target/` directory (honours `CARGO_TARGET_DIR`).
pub fn target_dir() -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) => workspace_root().join(dir),
        None => workspace_root().join("target"),
    }
}
