//! Headless Chromium under chromedriver, and the runner for named browser tests.
//!
//! A [`Browser`] owns the chromedriver process (in its own process group, with
//! Chromium under it) and a fresh profile; dropping it ends the session and
//! kills the group, so nothing outlives a run, failed or not.

use crate::check::Tally;
use crate::tools;
use crate::webdriver::{self, Session};
use anyhow::{bail, Context, Result};
use serde_json::json;
use std::fs;
use std::net::{Ipv4Addr, TcpListener};
use std::ops::Deref;
use std::os::unix::process::CommandExt;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Chromium's flags for a headless run on a machine without network access.
const CHROMIUM_FLAGS: &[&str] = &[
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
    "--window-size=1280,800",
];

/// A headless Chromium session pointed at a served site.
#[derive(Debug)]
pub struct Browser {
    session: Session,
    /// Dropped after `session` (field order), so the session is closed first.
    _driver: Driver,
    site: String,
}

/// The chromedriver process group and the browser profile it uses.
#[derive(Debug)]
struct Driver {
    child: Child,
    profile: PathBuf,
}

impl Browser {
    /// Starts chromedriver on a free loopback port and opens a Chromium session
    /// with a fresh profile; `site` is the base URL of the served site.
    pub fn launch(site: &str) -> Result<Browser> {
        let port = free_port()?;
        let work = crate::target_dir().join("browser");
        fs::create_dir_all(&work)?;
        let profile = work.join(format!("profile-{}-{port}", std::process::id()));
        if profile.exists() {
            fs::remove_dir_all(&profile)?;
        }
        let log = work.join("chromedriver.log");
        let log_file = fs::File::create(&log)?;
        let child = Command::new(tools::CHROMEDRIVER.provides)
            .arg(format!("--port={port}"))
            .arg(format!("--log-path={}", log.display()))
            .stdin(Stdio::null())
            .stdout(log_file.try_clone()?)
            .stderr(log_file)
            .process_group(0)
            .spawn()
            .context("starting chromedriver")?;
        // From here on, dropping `driver` stops chromedriver and removes the profile.
        let mut driver = Driver { child, profile };
        let server = format!("http://127.0.0.1:{port}");
        wait_ready(&server, &mut driver.child)
            .with_context(|| format!("chromedriver did not start; see {}", log.display()))?;
        let mut args: Vec<String> = CHROMIUM_FLAGS.iter().map(|s| s.to_string()).collect();
        args.push(format!("--user-data-dir={}", driver.profile.display()));
        let capabilities = json!({
            "browserName": "chrome",
            "pageLoadStrategy": "normal",
            "goog:chromeOptions": { "binary": tools::CHROMIUM.provides, "args": args },
            "goog:loggingPrefs": { "browser": "ALL" },
        });
        let session = Session::start(&server, capabilities)?;
        Ok(Browser {
            session,
            _driver: driver,
            site: site.trim_end_matches('/').to_owned(),
        })
    }

    /// The full URL of a path on the served site (`"/"` for the lab).
    pub fn url(&self, path: &str) -> String {
        format!("{}/{}", self.site, path.trim_start_matches('/'))
    }

    /// Opens a path of the served site.
    pub fn open(&self, path: &str) -> Result<()> {
        self.goto(&self.url(path))
    }
}

impl Deref for Browser {
    type Target = Session;
    fn deref(&self) -> &Session {
        &self.session
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        // Close Chromium politely; the driver's group kill covers a failure.
        let _ = self.session.quit();
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        // chromedriver leads its own process group, and Chromium runs inside it.
        let group = format!("-{}", self.child.id());
        let _ = Command::new("kill")
            .args(["-KILL", "--", &group])
            .stderr(Stdio::null())
            .status();
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = fs::remove_dir_all(&self.profile);
    }
}

/// Waits until chromedriver answers `/status` with `ready`.
fn wait_ready(server: &str, driver: &mut Child) -> Result<()> {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(Duration::from_secs(2)))
        .build()
        .into();
    let start = Instant::now();
    loop {
        if let Some(status) = driver.try_wait()? {
            bail!("chromedriver exited with {status}");
        }
        let ready = agent
            .get(format!("{server}/status"))
            .call()
            .ok()
            .and_then(|mut r| r.body_mut().read_json::<serde_json::Value>().ok())
            .and_then(|v| v.pointer("/value/ready").and_then(|r| r.as_bool()));
        if ready == Some(true) {
            return Ok(());
        }
        if start.elapsed() > Duration::from_secs(30) {
            bail!("no answer from {server}/status after 30 s");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A free TCP port on the loopback interface.
pub fn free_port() -> Result<u16> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?;
    Ok(listener.local_addr()?.port())
}

/// A named browser test: it gets a launched browser and fails by returning an error.
#[derive(Clone, Copy, Debug)]
pub struct BrowserTest {
    /// The name shown in the report (and used by `--filter`).
    pub name: &'static str,
    /// The test body.
    pub run: fn(&Browser) -> Result<()>,
}

/// Runs the tests whose name contains `filter` in one browser, each from a
/// blank page; a failing test leaves a screenshot `FAILED-NAME.png` and the
/// browser console in the report. Returns the tally.
pub fn run_tests(site: &str, tests: &[BrowserTest], filter: Option<&str>) -> Result<Tally> {
    let selected: Vec<&BrowserTest> = tests
        .iter()
        .filter(|t| filter.is_none_or(|f| t.name.contains(f)))
        .collect();
    println!("running {} browser tests against {site}", selected.len());
    let browser = Browser::launch(site)?;
    let mut tally = Tally::default();
    for test in selected {
        let start = Instant::now();
        let outcome = browser
            .goto("about:blank")
            .and_then(|()| browser.console_log().map(drop))
            .and_then(|()| {
                catch_unwind(AssertUnwindSafe(|| (test.run)(&browser)))
                    .unwrap_or_else(|_| bail!("the test panicked"))
            });
        let secs = start.elapsed().as_secs_f32();
        match outcome {
            Ok(()) => {
                println!("test browser::{} ... ok ({secs:.1} s)", test.name);
                tally.passed += 1;
            }
            Err(e) => {
                println!("test browser::{} ... FAILED ({secs:.1} s)", test.name);
                println!("    {e:#}");
                match browser.screenshot(&format!("FAILED-{}", test.name)) {
                    Ok(file) => println!("    screenshot: {}", webdriver::shown(&file)),
                    Err(e) => println!("    no screenshot: {e:#}"),
                }
                if let Ok(lines) = browser.console_log() {
                    for line in lines {
                        println!("    console: {line}");
                    }
                }
                tally.failed += 1;
                tally.failures.push(format!("browser::{}", test.name));
            }
        }
    }
    println!(
        "browser tests: {} passed, {} failed",
        tally.passed, tally.failed
    );
    Ok(tally)
}
