//! `cargo xtask test`: every check in order, each under its own heading, then one
//! closing line `N passed, N failed`.
//!
//! Tests are counted one by one (libtest's summaries for the native tests, the
//! browser runner's for the browser tests); a gate that is not a test suite
//! (fmt, clippy, a build, a missing tool) counts as one failure when it fails.

use crate::browser;
use crate::server::SiteServer;
use crate::wasm::Toolchain;
use crate::{browser_tests, site, step, tools};
use anyhow::{Context, Result};
use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::time::Instant;

/// What `cargo xtask test` runs.
#[derive(Debug)]
pub struct Options {
    /// Skip fmt, clippy and the native tests.
    pub browser_only: bool,
    /// Only the browser tests whose name contains this.
    pub filter: Option<String>,
}

/// Passed and failed counts, with the names of what failed.
#[derive(Debug, Default)]
pub struct Tally {
    /// Tests that passed.
    pub passed: u32,
    /// Tests (or gates) that failed.
    pub failed: u32,
    /// Names of the failures, for the summary.
    pub failures: Vec<String>,
}

impl Tally {
    fn add(&mut self, other: Tally) {
        self.passed += other.passed;
        self.failed += other.failed;
        self.failures.extend(other.failures);
    }

    fn gate(&mut self, name: &str, ok: bool) {
        if !ok {
            self.failed += 1;
            self.failures.push(name.to_owned());
        }
    }
}

/// Runs the checks; returns whether everything passed.
pub fn run(options: &Options) -> Result<bool> {
    let started = Instant::now();
    let mut total = Tally::default();
    let mut report: Vec<(&str, String)> = Vec::new();

    step::heading("tools");
    // One apt run for everything: the test tools and the Wasm toolchain's packages.
    let mut needed = vec![
        tools::NASM,
        tools::GDB,
        tools::GCC_MULTILIB,
        tools::QEMU_USER,
        tools::QEMU_UTILS,
        tools::TCPDUMP,
        tools::OPENJDK,
        tools::CHROMIUM,
        tools::CHROMEDRIVER,
        tools::NODEJS,
    ];
    needed.extend_from_slice(Toolchain::packages_needed());
    let tools_ok = report_err(tools::ensure(&needed));
    total.gate("tools", tools_ok);
    report.push(("tools", verdict(tools_ok)));

    if !options.browser_only {
        step::heading("cargo fmt --check");
        let fmt_ok = step::run(step::cargo().args(["fmt", "--all", "--check"]))?;
        total.gate("cargo fmt", fmt_ok);
        report.push(("fmt", verdict(fmt_ok)));

        step::heading("cargo clippy");
        let clippy_ok = step::run(step::cargo().args([
            "clippy",
            "--workspace",
            "--all-targets",
            "--",
            "-D",
            "warnings",
        ]))?;
        total.gate("cargo clippy", clippy_ok);
        report.push(("clippy", verdict(clippy_ok)));

        step::heading("native tests (cargo test --workspace)");
        let native = native_tests()?;
        report.push((
            "native tests",
            format!("{} passed, {} failed", native.passed, native.failed),
        ));
        total.add(native);

        step::heading("translating tier under Node.js (differential)");
        match crate::bench_wasm::node_differential() {
            Ok((passed, failed)) => {
                report.push((
                    "translate under Node.js",
                    format!("{passed} passed, {failed} failed"),
                ));
                total.add(Tally {
                    passed,
                    failed,
                    failures: (failed > 0)
                        .then(|| "translating tier under Node.js".to_owned())
                        .into_iter()
                        .collect(),
                });
            }
            Err(e) => {
                println!("error: {e:#}");
                report.push(("translate under Node.js", "could not run".into()));
                total.gate("translating tier under Node.js", false);
            }
        }
    }

    let site = Toolchain::ensure().and_then(|toolchain| site::build(&toolchain, true));
    match site {
        Ok(site) => {
            report.push(("wasm build", verdict(true)));
            step::heading("web bundle holds no hidden tests");
            let ok = secrecy(
                "web bundle secrecy",
                crate::bundle::check(&site),
                &mut total,
            );
            report.push(("bundle secrecy", verdict(ok)));
            step::heading("dist folder holds no hidden tests");
            let dist = crate::dist::default_out();
            let dist_tally =
                crate::dist::assemble(&site, &dist, "/").and_then(|_| crate::bundle::check(&dist));
            let ok = secrecy("dist secrecy", dist_tally, &mut total);
            report.push(("dist secrecy", verdict(ok)));
            step::heading("browser tests");
            let browser = SiteServer::bind(&site, 0)
                .map(SiteServer::spawn)
                .and_then(|server| {
                    browser::run_tests(server.url(), browser_tests::ALL, options.filter.as_deref())
                });
            match browser {
                Ok(tally) => {
                    report.push((
                        "browser tests",
                        format!("{} passed, {} failed", tally.passed, tally.failed),
                    ));
                    total.add(tally);
                }
                Err(e) => {
                    println!("error: {e:#}");
                    report.push(("browser tests", "could not run".into()));
                    total.gate("browser tests", false);
                }
            }
        }
        Err(e) => {
            println!("error: {e:#}");
            report.push(("wasm build", verdict(false)));
            report.push(("browser tests", "not run (no site)".into()));
            total.gate("wasm build", false);
        }
    }

    step::heading("summary");
    for (name, result) in &report {
        println!("  {name:<14} {result}");
    }
    for failure in &total.failures {
        println!("  FAILED: {failure}");
    }
    println!("  took {:.0} s", started.elapsed().as_secs_f64());
    println!("{} passed, {} failed", total.passed, total.failed);
    Ok(total.failed == 0)
}

/// Adds a secrecy check's outcome to `total` (an error counts as the failure
/// `name`); returns whether it passed.
fn secrecy(name: &str, outcome: Result<Tally>, total: &mut Tally) -> bool {
    match outcome {
        Ok(tally) => {
            let ok = tally.failed == 0;
            total.add(tally);
            ok
        }
        Err(e) => {
            println!("error: {e:#}");
            total.gate(name, false);
            false
        }
    }
}

fn verdict(ok: bool) -> String {
    if ok { "ok" } else { "FAILED" }.to_owned()
}

fn report_err(result: Result<()>) -> bool {
    match result {
        Ok(()) => true,
        Err(e) => {
            println!("error: {e:#}");
            false
        }
    }
}

/// Runs the workspace's native tests, echoing their output and counting the results.
fn native_tests() -> Result<Tally> {
    let mut cmd = step::cargo();
    cmd.args(["test", "--workspace", "--no-fail-fast"]);
    println!("$ {}", step::display(&cmd));
    let mut child = cmd
        .stdout(Stdio::piped())
        .spawn()
        .context("starting cargo test")?;
    let mut tally = Tally::default();
    if let Some(stdout) = child.stdout.take() {
        for line in BufReader::new(stdout).lines() {
            let line = line?;
            println!("{line}");
            if let Some((passed, failed)) = parse_summary(&line) {
                tally.passed += passed;
                tally.failed += failed;
            } else if let Some(name) = parse_failed_test(&line) {
                tally.failures.push(name.to_owned());
            }
        }
    }
    let status = child.wait()?;
    if !status.success() && tally.failed == 0 {
        // A build error or a crashed test binary: no summary says what failed.
        tally.gate("cargo test (build or test binary)", false);
    }
    Ok(tally)
}

/// `test result: ok. 12 passed; 0 failed; …` → `(12, 0)`.
fn parse_summary(line: &str) -> Option<(u32, u32)> {
    let rest = line.trim().strip_prefix("test result: ")?;
    let (_verdict, counts) = rest.split_once(". ")?;
    let mut passed = None;
    let mut failed = None;
    for part in counts.split(';') {
        let mut words = part.split_whitespace();
        let n = words.next()?.parse::<u32>().ok();
        match words.next() {
            Some("passed") => passed = n,
            Some("failed") => failed = n,
            _ => {}
        }
    }
    Some((passed?, failed?))
}

/// `test a::b ... FAILED` → `a::b`.
fn parse_failed_test(line: &str) -> Option<&str> {
    line.strip_prefix("test ")?.strip_suffix(" ... FAILED")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn libtest_summaries_are_counted() {
        assert_eq!(
            parse_summary(
                "test result: ok. 12 passed; 0 failed; 1 ignored; 0 measured; 0 filtered out; finished in 0.01s"
            ),
            Some((12, 0))
        );
        assert_eq!(
            parse_summary("test result: FAILED. 3 passed; 2 failed; 0 ignored; 0 measured; 0 filtered out; finished in 1.20s"),
            Some((3, 2))
        );
        assert_eq!(parse_summary("running 3 tests"), None);
        assert_eq!(parse_summary("test result: garbled"), None);
    }

    #[test]
    fn failed_test_names_are_picked_out() {
        assert_eq!(
            parse_failed_test("test exec::alu::adc_sets_cf ... FAILED"),
            Some("exec::alu::adc_sets_cf")
        );
        assert_eq!(parse_failed_test("test exec::alu::adc ... ok"), None);
    }

    #[test]
    fn a_failed_gate_counts_once() {
        let mut t = Tally::default();
        t.gate("fmt", true);
        t.gate("clippy", false);
        assert_eq!((t.passed, t.failed), (0, 1));
        assert_eq!(t.failures, vec!["clippy".to_owned()]);
    }
}
