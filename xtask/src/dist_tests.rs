//! Browser test of the `cargo xtask dist` folder: served under a sub-path by a plain
//! static file server it loads and runs a demo, and with the server stopped it still does
//! and still has the region modules' printer.

use crate::browser::Browser;
use crate::server::SiteServer;
use crate::webdriver::Session;
use crate::{bundle, dist, site};
use anyhow::{ensure, Context, Result};
use std::time::Duration;

/// The sub-path the folder is served under, as a course site would be.
const BASE: &str = "/course/vmlab/";

/// What the fetch demo's guest prints when it has run to its end.
const DEMO_DONE: &str = "fetch, decode, execute: done";

const WAIT: Duration = Duration::from_secs(20);

/// The dist folder under a sub-path: loads and runs a demo, registers its service
/// worker, and after the server stops a reload still loads and runs the demo.
pub fn served_under_a_sub_path_and_offline(b: &Browser) -> Result<()> {
    let root = crate::target_dir().join("browser").join("dist-root");
    if root.exists() {
        std::fs::remove_dir_all(&root)?;
    }
    let out = root.join(BASE.trim_matches('/'));
    dist::assemble(&site::site_dir(), &out, BASE).context("assembling the dist folder")?;
    let secrecy = bundle::check(&out)?;
    ensure!(secrecy.failed == 0, "the dist folder leaks a hidden test");

    let server = SiteServer::bind(&root, 0)?.spawn();
    let lab = format!("{}{}", server.url(), BASE.trim_start_matches('/'));
    run_demo(b, &lab).context("served")?;
    b.wait_until("the service worker to control the page", WAIT, |s| {
        Ok(
            s.execute("return !!navigator.serviceWorker.controller;", vec![])?
                == serde_json::Value::Bool(true),
        )
    })?;
    let loaded = b.execute(
        "return performance.getEntriesByType('resource').map(e => new URL(e.name).pathname);",
        vec![],
    )?;
    for (prefix, ext) in [
        ("pkg/lab_ui.", ".js"),
        ("pkg/lab_ui_bg.", ".wasm"),
        ("lab.", ".css"),
    ] {
        let hashed = format!("{BASE}{prefix}");
        ensure!(
            loaded
                .as_array()
                .is_some_and(|paths| paths
                    .iter()
                    .filter_map(|p| p.as_str())
                    .any(|p| p.starts_with(&hashed)
                        && p.ends_with(ext)
                        && p.len() == hashed.len() + 10 + ext.len())),
            "the page did not load a hashed {hashed}*{ext}: {loaded}"
        );
    }
    b.screenshot("dist-served")?;

    drop(server);
    let refused = ureq::get(&lab).call();
    ensure!(
        refused.is_err(),
        "the server still answers after it stopped"
    );
    run_demo(b, &lab).context("offline, after the server stopped")?;
    // The region modules' printer, fetched only when a region is shown, is precached too.
    let printer = b.execute(
        "return fetch(document.querySelector('meta[name=vmlab-region-text]').content)
           .then((r) => (r.ok ? r.arrayBuffer() : null))
           .then((body) => (body ? body.byteLength : 0));",
        vec![],
    )?;
    ensure!(
        printer.as_u64().is_some_and(|n| n > 8),
        "offline, the page cannot fetch the region printer: {printer}"
    );
    b.screenshot("dist-offline")?;
    Ok(())
}

/// Opens the lab at `lab` on the fetch demo, runs it to its end and checks its output.
fn run_demo(b: &Browser, lab: &str) -> Result<()> {
    b.goto("about:blank")?;
    b.goto(&format!("{lab}#demo=fetch-decode-execute"))?;
    b.wait_for_within(&format!("{} .dline", Session::testid("panel-disasm")), WAIT)
        .context("the lab never showed a disassembly")?;
    b.click_testid("btn-run")?;
    let serial = Session::testid("serial-output");
    let mut last = String::new();
    b.wait_until("the demo's output", WAIT, |s| {
        last = match s.find(&serial)? {
            Some(e) => e.text()?,
            None => String::new(),
        };
        Ok(last.contains(DEMO_DONE))
    })
    .with_context(|| format!("the serial output reads {last:?}"))?;
    Ok(())
}
