//! Browser tests of course packs: a lab and a demo published next to the site, with
//! no rebuild, show in the menus, open, run, and open from share links.

use crate::browser::Browser;
use crate::ui_tests::{open, select, stopped, tid, wait_reg, wait_text};
use anyhow::{ensure, Context, Result};
use serde_json::json;

/// The id of the lab the pack test publishes.
const PACK_LAB: &str = "pack-warmup";

/// The id of the demo the pack test publishes, and the built-in demo it copies.
const PACK_DEMO: &str = "pack-fetch";
const DEMO_FROM: &str = "fetch-decode-execute";

/// Writes a course pack into the served site's `packs/` folder, in `vmlab pack`'s
/// layout: the warm-up lab's visible parts and the fetch-decode-execute demo, each
/// under a new id and title.
fn write_pack(site: &std::path::Path) -> Result<std::path::PathBuf> {
    let packs = site.join("packs");
    let _ = std::fs::remove_dir_all(&packs);
    let dir = packs.join("labs").join(PACK_LAB);
    std::fs::create_dir_all(dir.join("tests"))?;
    let src = crate::workspace_root().join("assignments/labs/asm-warmup");
    for f in ["statement.md", "starter.asm", "tests/visible.toml"] {
        std::fs::copy(src.join(f), dir.join(f)).with_context(|| format!("copying {f}"))?;
    }
    let manifest = std::fs::read_to_string(src.join("lab.toml"))?;
    let manifest = manifest
        .replace("id = \"asm-warmup\"", &format!("id = \"{PACK_LAB}\""))
        .replace("title = \"", "title = \"Course pack: ");
    ensure!(manifest.contains(PACK_LAB), "the pack lab's id was set");
    std::fs::write(dir.join("lab.toml"), manifest)?;
    let demo = packs.join("demos").join(PACK_DEMO);
    std::fs::create_dir_all(&demo)?;
    let src = crate::workspace_root().join("demos").join(DEMO_FROM);
    std::fs::copy(src.join("fetch.asm"), demo.join("fetch.asm")).context("copying fetch.asm")?;
    let manifest = std::fs::read_to_string(src.join("demo.toml"))?;
    let manifest = manifest.replacen("title = \"", "title = \"Course pack: ", 1);
    std::fs::write(demo.join("demo.toml"), manifest)?;
    std::fs::write(
        packs.join("index.json"),
        json!({ "format": "vmlab-pack 1", "labs": [PACK_LAB], "demos": [PACK_DEMO] }).to_string(),
    )?;
    Ok(packs)
}

/// A lab published in the site's `packs/` folder, with no rebuild, shows in the lab
/// menu, opens, and runs its visible tests: the reference passes them all.
pub fn course_pack_lab(b: &Browser) -> Result<()> {
    let packs = write_pack(&crate::target_dir().join("site"))?;
    let r = course_pack_checks(b);
    restore_default_pack(&packs);
    r
}

/// Puts the site's own empty pack index back after a test's pack.
fn restore_default_pack(packs: &std::path::Path) {
    let _ = std::fs::remove_dir_all(packs);
    let index = crate::workspace_root().join("www/packs/index.json");
    if std::fs::create_dir_all(packs).is_ok() {
        let _ = std::fs::copy(index, packs.join("index.json"));
    }
}

fn course_pack_checks(b: &Browser) -> Result<()> {
    open(b, "")?;
    let option = format!("[data-testid=lab-menu] option[value={PACK_LAB}]");
    b.wait_for(&option)?;
    ensure!(
        b.text(&option)?.starts_with("Course pack: "),
        "the menu shows the pack's title"
    );
    select(b, "lab-menu", PACK_LAB)?;
    b.wait_for(&format!("[data-testid=lab-page][data-lab=\"{PACK_LAB}\"]"))?;
    let solution = std::fs::read_to_string(
        crate::workspace_root().join("assignments/labs/asm-warmup/solution.asm"),
    )?;
    crate::ui_tests::set_source(b, &solution)?;
    b.click_testid("lab-run-tests")?;
    b.wait_for_within(&tid("lab-results"), std::time::Duration::from_secs(30))?;
    let tests = b.find_all("[data-testid=lab-test]")?;
    ensure!(!tests.is_empty(), "per-test results are listed");
    for t in &tests {
        ensure!(
            t.attribute("data-passed")?.as_deref() == Some("true"),
            "a visible test failed: {}",
            t.text()?
        );
    }
    wait_text(
        b,
        "status",
        &format!("{0} of {0} visible tests passed", tests.len()),
    )?;
    b.screenshot("course-pack-lab")?;
    Ok(())
}

/// A demo published in the site's `packs/` folder shows in the demo menu, steps
/// through to its end with each step's claims (stop, EIP at its label, serial output)
/// holding, and share links to the pack demo and the pack lab open them.
pub fn course_pack_demo_and_links(b: &Browser) -> Result<()> {
    let packs = write_pack(&crate::target_dir().join("site"))?;
    let r = pack_demo(&packs).and_then(|(manifest, symbols)| {
        pack_demo_checks(b, &manifest, &symbols)?;
        pack_link_checks(b, &manifest)
    });
    restore_default_pack(&packs);
    r
}

/// The pack demo's manifest and its guest's labels, read from the written pack.
fn pack_demo(packs: &std::path::Path) -> Result<(vmlab_demos::Manifest, Vec<(String, u32)>)> {
    let dir = packs.join("demos").join(PACK_DEMO);
    let manifest = vmlab_demos::Manifest::parse(&std::fs::read_to_string(dir.join("demo.toml"))?)
        .map_err(anyhow::Error::msg)?;
    let source = std::fs::read_to_string(dir.join(&manifest.guest))?;
    let include = |f: &str| vmlab_demos::include(f).map(str::to_string);
    let opts = vmlab_asm::Options {
        include: Some(&include),
        ..vmlab_asm::Options::default()
    };
    let out = vmlab_asm::assemble(&manifest.guest, &source, &opts)
        .map_err(|e| anyhow::anyhow!("the pack demo does not assemble:\n{e}"))?;
    Ok((manifest, out.symbols))
}

fn pack_demo_checks(
    b: &Browser,
    manifest: &vmlab_demos::Manifest,
    symbols: &[(String, u32)],
) -> Result<()> {
    open(b, "")?;
    let option = format!("[data-testid=demo-menu] option[value={PACK_DEMO}]");
    b.wait_for(&option)?;
    ensure!(
        b.text(&option)?.starts_with("Course pack: "),
        "the demo menu shows the pack demo's title"
    );
    select(b, "demo-menu", PACK_DEMO)?;
    let total = manifest.steps.len();
    for (i, step) in manifest.steps.iter().enumerate() {
        let at = format!("{PACK_DEMO} step {}", i + 1);
        if i > 0 {
            b.click_testid("demo-next")?;
        }
        wait_text(b, "demo-step-count", &format!("step {} of {total}", i + 1))
            .with_context(|| at.clone())?;
        ensure!(
            b.text_testid("demo-step-title")? == step.title,
            "{at}: the narration shows {:?}",
            step.title
        );
        stopped(b).with_context(|| at.clone())?;
        if let Some(stop) = &step.expect.stop {
            wait_text(b, "status", &format!("stopped: {stop}")).with_context(|| at.clone())?;
        }
        if let Some(label) = &step.expect.at {
            let addr = symbols
                .iter()
                .find(|(n, _)| n == label)
                .map(|(_, a)| format!("{a:08x}"))
                .with_context(|| format!("{at}: no label {label}"))?;
            wait_reg(b, "eip", &format!("{at}: EIP at {label} ({addr})"), |v| {
                v.eq_ignore_ascii_case(&addr)
            })?;
        }
        if let Some(text) = &step.expect.serial {
            wait_text(b, "serial-output", text).with_context(|| at.clone())?;
        }
    }
    b.screenshot("course-pack-demo")?;
    Ok(())
}

fn pack_link_checks(b: &Browser, manifest: &vmlab_demos::Manifest) -> Result<()> {
    // The page reads the link before the pack arrives; it opens the item after.
    open(b, &format!("demo={PACK_DEMO}&step=1"))?;
    let second = manifest
        .steps
        .get(1)
        .context("the demo has a second step")?;
    wait_text(b, "demo-step-title", &second.title)?;
    stopped(b)?;
    open(b, &format!("lab={PACK_LAB}"))?;
    b.wait_for(&format!("[data-testid=lab-page][data-lab=\"{PACK_LAB}\"]"))?;
    b.wait_for(&tid("lab-run-tests"))?;
    b.screenshot("course-pack-lab-link")?;
    Ok(())
}
