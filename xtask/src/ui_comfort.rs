//! Browser tests of the lab's comfort controls: the light and dark themes, the font
//! size, settings that survive a reload, the trap log saved as CSV and JSON, and the
//! machine saved to a file and loaded back.

use crate::browser::Browser;
use crate::ui_tests::{js, open, reg, select, stopped, tid, wait_text, WAIT};
use anyhow::{bail, ensure, Context, Result};
use serde_json::{json, Value};

/// Records every file the page offers for download in `window.__downloads`
/// (`{name, text, bytes}` once the blob is read) instead of saving it.
pub(crate) const CAPTURE_DOWNLOADS: &str = "
    window.__downloads = [];
    const blobs = {};
    const create = URL.createObjectURL.bind(URL);
    URL.createObjectURL = (blob) => { const u = create(blob); blobs[u] = blob; return u; };
    HTMLAnchorElement.prototype.click = function () {
        const d = { name: this.download };
        window.__downloads.push(d);
        const blob = blobs[this.href];
        blob.arrayBuffer().then((buf) => {
            d.bytes = Array.from(new Uint8Array(buf));
            d.text = new TextDecoder().decode(buf);
        });
    };";

/// The page's look: the root's theme, the body's background and text colours, the
/// body's and the lab root's font sizes in px.
#[derive(Debug, PartialEq)]
struct Look {
    theme: String,
    background: String,
    color: String,
    body_px: f64,
    lab_px: f64,
}

fn look(b: &Browser) -> Result<Look> {
    let v = js(
        b,
        "const body = getComputedStyle(document.body);
         const lab = getComputedStyle(document.querySelector('[data-testid=lab-root]'));
         return [document.documentElement.dataset.theme || '', body.backgroundColor, body.color,
                 parseFloat(body.fontSize), parseFloat(lab.fontSize)];",
    )?;
    let s = |i: usize| v[i].as_str().unwrap_or_default().to_string();
    let f = |i: usize| v[i].as_f64().unwrap_or(0.0);
    Ok(Look {
        theme: s(0),
        background: s(1),
        color: s(2),
        body_px: f(3),
        lab_px: f(4),
    })
}

/// The relative luminance (0 black … 1 white) of a computed `rgb(r, g, b)` colour.
fn luminance(css: &str) -> Result<f64> {
    let inner = css
        .trim_start_matches("rgba(")
        .trim_start_matches("rgb(")
        .trim_end_matches(')');
    let c: Vec<f64> = inner
        .split(',')
        .take(3)
        .map(|p| p.trim().parse::<f64>())
        .collect::<Result<_, _>>()
        .with_context(|| format!("the colour {css:?}"))?;
    ensure!(c.len() == 3, "the colour {css:?}");
    let lin = |v: f64| {
        let v = v / 255.0;
        if v <= 0.03928 {
            v / 12.92
        } else {
            ((v + 0.055) / 1.055).powf(2.4)
        }
    };
    Ok(0.2126 * lin(c[0]) + 0.7152 * lin(c[1]) + 0.0722 * lin(c[2]))
}

/// Forgets the kept display settings and reloads, so later tests see the defaults.
fn forget_settings(b: &Browser) -> Result<()> {
    js(b, "localStorage.removeItem('vmlab.settings');")?;
    open(b, "demo=fetch-decode-execute")
}

/// The theme menu switches every colour through the CSS variables, "system" follows
/// `prefers-color-scheme`, A+ / A− scale the whole lab (presentation mode too), and
/// both choices survive a reload. Screenshots at 1280×720 of the lab and of a demo in
/// presentation mode, in each theme.
pub fn themes_and_font_size(b: &Browser) -> Result<()> {
    b.set_viewport(1280, 720)?;
    let r = themes_and_font_size_checks(b);
    let cleanup = forget_settings(b);
    b.set_viewport(1280, 800)?;
    r.and(cleanup)
}

fn themes_and_font_size_checks(b: &Browser) -> Result<()> {
    // Local storage belongs to the site: open it before clearing the settings.
    open(b, "demo=fetch-decode-execute")?;
    forget_settings(b)?;
    let system_dark = js(
        b,
        "return matchMedia('(prefers-color-scheme: dark)').matches;",
    )?
    .as_bool()
    .unwrap_or(false);
    let first = look(b)?;
    let want = if system_dark { "dark" } else { "light" };
    ensure!(
        first.theme == want,
        "with no choice the theme follows the system ({want}): {first:?}"
    );
    select(b, "theme-select", "light")?;
    let light = look(b)?;
    select(b, "theme-select", "dark")?;
    let dark = look(b)?;
    ensure!(
        light.theme == "light" && dark.theme == "dark",
        "{light:?} {dark:?}"
    );
    let (lb, lf) = (luminance(&light.background)?, luminance(&light.color)?);
    let (db, df) = (luminance(&dark.background)?, luminance(&dark.color)?);
    ensure!(
        lb > 0.8 && lf < 0.1,
        "light: dark text on a light page ({light:?})"
    );
    ensure!(
        db < 0.05 && df > 0.6,
        "dark: light text on a dark page ({dark:?})"
    );
    // A panel's colour comes from the same variables.
    let panel_bg = js(
        b,
        "return getComputedStyle(document.querySelector('[data-testid=panel-registers]')).backgroundColor;",
    )?;
    ensure!(
        luminance(panel_bg.as_str().unwrap_or_default())? < 0.05,
        "a panel in the dark theme is dark: {panel_bg}"
    );
    b.screenshot("theme-dark-lab-1280x720")?;
    // Font size: two steps up scale the body by 1.2.
    let base = dark.body_px;
    b.click_testid("btn-font-larger")?;
    b.click_testid("btn-font-larger")?;
    wait_text(b, "font-scale", "120%")?;
    let bigger = look(b)?;
    ensure!(
        (bigger.body_px - base * 1.2).abs() < 0.1,
        "A+ twice: body text {} px, want {} px",
        bigger.body_px,
        base * 1.2
    );
    // Both settings survive a reload.
    open(b, "demo=fetch-decode-execute")?;
    let again = look(b)?;
    ensure!(
        again.theme == "dark" && (again.body_px - bigger.body_px).abs() < 0.1,
        "after a reload: {again:?}, before: {bigger:?}"
    );
    wait_text(b, "font-scale", "120%")?;
    let chosen = js(
        b,
        "return document.querySelector('[data-testid=theme-select]').value;",
    )?;
    ensure!(chosen == json!("dark"), "the menu shows {chosen}");
    // Presentation mode scales with the same control: 20 px × 1.2.
    b.click_testid("btn-presentation")?;
    b.wait_for(".lab.presentation")?;
    let present = look(b)?;
    ensure!(
        (present.lab_px - 24.0).abs() < 0.1,
        "presentation at 120%: {} px",
        present.lab_px
    );
    // The controls stay in reach in a demo's presentation view, which hides the header.
    b.wait_for(".lab.presentation.demo-focus")?;
    b.click_testid("btn-font-smaller")?;
    b.click_testid("btn-font-smaller")?;
    wait_text(b, "font-scale", "100%")?;
    ensure!(
        (look(b)?.lab_px - 20.0).abs() < 0.1,
        "presentation at 100% is 20 px"
    );
    b.screenshot("theme-dark-presentation-1280x720")?;
    b.click_testid("btn-presentation")?;
    select(b, "theme-select", "light")?;
    b.screenshot("theme-light-lab-1280x720")?;
    b.click_testid("btn-presentation")?;
    b.wait_for(".lab.presentation")?;
    b.screenshot("theme-light-presentation-1280x720")?;
    b.click_testid("btn-presentation")?;
    // Back to the system's choice.
    select(b, "theme-select", "system")?;
    ensure!(look(b)?.theme == want, "system again follows the system");
    Ok(())
}

/// Waits for the `n`-th captured download to be read, and returns it.
pub(crate) fn download(b: &Browser, n: usize) -> Result<Value> {
    let mut last = Value::Null;
    b.wait_until(&format!("download {n}"), WAIT, |s| {
        last = s.execute(
            "const d = (window.__downloads || [])[arguments[0]]; return d && d.bytes ? d : null;",
            vec![json!(n)],
        )?;
        Ok(!last.is_null())
    })?;
    Ok(last)
}

/// RFC 4180 records: fields split at commas outside quotes, `""` inside quotes is a
/// quote, records end at CRLF outside quotes.
fn csv_records(text: &str) -> Vec<Vec<String>> {
    let mut records = Vec::new();
    let (mut record, mut field, mut in_quotes, mut prev_quote) =
        (Vec::new(), String::new(), false, false);
    for c in text.chars() {
        if in_quotes {
            if c == '"' {
                in_quotes = false;
                prev_quote = true;
            } else {
                field.push(c);
            }
            continue;
        }
        match c {
            '"' => {
                if prev_quote {
                    field.push('"');
                }
                in_quotes = true;
            }
            ',' => record.push(std::mem::take(&mut field)),
            '\r' => {}
            '\n' => {
                record.push(std::mem::take(&mut field));
                records.push(std::mem::take(&mut record));
            }
            c => field.push(c),
        }
        prev_quote = false;
    }
    records
}

/// The log saved as CSV and as JSON holds exactly the log's entries, in order.
pub fn trap_log_export(b: &Browser) -> Result<()> {
    open(b, "demo=trap-emulate")?;
    b.click_testid("btn-run")?;
    stopped(b).or_else(|_| wait_text(b, "status", "halted"))?;
    b.wait_for("[data-testid=log-entry]")?;
    js(b, CAPTURE_DOWNLOADS)?;
    // The rows the panel shows, newest first: icount, address, reason, text.
    let shown = js(
        b,
        "return Array.from(document.querySelectorAll('[data-testid=log-entry]'))
            .map((tr) => Array.from(tr.cells).map((c) => c.textContent));",
    )?;
    let shown: Vec<Vec<String>> = serde_json::from_value(shown)?;
    let total: usize = b
        .text_testid("log-count")?
        .split_whitespace()
        .collect::<Vec<_>>()
        .windows(2)
        .find(|w| w[1] == "entries")
        .and_then(|w| w[0].parse().ok())
        .context("the log's entry count")?;
    ensure!(total > 0 && !shown.is_empty(), "the log has entries");
    b.click_testid("btn-log-csv")?;
    let csv = download(b, 0)?;
    ensure!(csv["name"] == json!("trap-log.csv"), "{}", csv["name"]);
    let text = csv["text"].as_str().unwrap_or_default();
    let mut records = csv_records(text).into_iter();
    let header = records.next().unwrap_or_default();
    ensure!(
        header == ["icount", "linear_eip", "reason", "text"],
        "CSV header {header:?}"
    );
    let rows: Vec<Vec<String>> = records.collect();
    ensure!(
        rows.len() == total,
        "the CSV has {} rows, the log {total} entries",
        rows.len()
    );
    for (row, cells) in rows.iter().rev().zip(&shown) {
        let got: Vec<&str> = row.iter().map(String::as_str).collect();
        let want: Vec<&str> = cells.iter().map(|c| c.trim()).collect();
        ensure!(got == want, "CSV row {got:?}, the panel shows {want:?}");
    }
    b.click_testid("btn-log-json")?;
    let file = download(b, 1)?;
    ensure!(file["name"] == json!("trap-log.json"), "{}", file["name"]);
    let entries: Vec<Value> = serde_json::from_str(file["text"].as_str().unwrap_or_default())
        .context("the JSON export parses")?;
    ensure!(entries.len() == total, "JSON has {} entries", entries.len());
    for (e, cells) in entries.iter().rev().zip(&shown) {
        ensure!(
            e["icount"].as_u64().map(|n| n.to_string()).as_deref() == Some(cells[0].trim())
                && e["reason"].as_str() == Some(cells[2].trim())
                && e["text"].as_str() == Some(cells[3].trim()),
            "JSON entry {e} against {cells:?}"
        );
    }
    Ok(())
}

/// Hands `bytes` to the machine file picker as a file named `name`.
fn pick_machine_file(b: &Browser, name: &str, bytes: &[u8]) -> Result<()> {
    crate::ui_tests::pick_file(b, "machine-file", name, bytes)
}

/// The registers the test compares.
const REGS: &[&str] = &["eip", "eax", "ebx", "ecx", "edx", "esp", "icount"];

fn regs(b: &Browser) -> Result<Vec<String>> {
    REGS.iter().map(|r| reg(b, r)).collect()
}

/// Saving the machine offers a file; after more steps, loading it puts EIP, the
/// registers and the instruction count back. A truncated or foreign file is refused
/// with a message.
pub fn machine_file_round_trip(b: &Browser) -> Result<()> {
    open(b, "demo=fetch-decode-execute")?;
    for _ in 0..4 {
        b.click_testid("btn-step")?;
    }
    crate::ui_tests::wait_reg(b, "icount", "four steps", |v| v == "4")?;
    let saved = regs(b)?;
    js(b, CAPTURE_DOWNLOADS)?;
    b.click_testid("btn-save-machine")?;
    let file = download(b, 0)?;
    ensure!(
        file["name"] == json!("machine.vmlab-snapshot"),
        "{}",
        file["name"]
    );
    let bytes: Vec<u8> = serde_json::from_value(file["bytes"].clone())?;
    ensure!(
        bytes.starts_with(b"vmlab-snapshot 2\n"),
        "the file's header"
    );
    for _ in 0..3 {
        b.click_testid("btn-step")?;
    }
    crate::ui_tests::wait_reg(b, "icount", "three more steps", |v| v == "7")?;
    ensure!(regs(b)? != saved, "the machine moved on");
    pick_machine_file(b, "m.vmlab-snapshot", &bytes)?;
    crate::ui_tests::wait_reg(b, "icount", "the saved machine", |v| v == "4")?;
    let back = regs(b)?;
    ensure!(back == saved, "loaded {back:?}, saved {saved:?} ({REGS:?})");
    // It runs on from there: one more step is instruction 5.
    b.click_testid("btn-step")?;
    crate::ui_tests::wait_reg(b, "icount", "a step after the load", |v| v == "5")?;
    pick_machine_file(b, "cut.vmlab-snapshot", &bytes[..bytes.len() / 2])?;
    wait_text(b, "status", "truncated or damaged")?;
    pick_machine_file(b, "notes.txt", b"hello")?;
    wait_text(b, "status", "not a vmlab machine snapshot")?;
    ensure!(
        reg(b, "icount")? == "5",
        "a refused file leaves the machine"
    );
    if b.find(&tid("load-error"))?.is_some() {
        bail!("the page failed");
    }
    Ok(())
}

/// Opens the lab at `hash` with the theme `theme` kept from an earlier visit.
fn open_in_theme(b: &Browser, theme: &str, hash: &str) -> Result<()> {
    b.execute(
        "localStorage.setItem('vmlab.settings', JSON.stringify({ theme: arguments[0], scale: 100 }));",
        vec![json!(theme)],
    )?;
    open(b, hash)?;
    let shown = js(b, "return document.documentElement.dataset.theme;")?;
    ensure!(
        shown == json!(theme),
        "the page shows theme {shown}, not {theme}"
    );
    Ok(())
}

/// axe-core finds no serious or critical violation on the main views (the lab, a
/// lab assignment, a demo in presentation mode), in each theme.
pub fn axe_audit(b: &Browser) -> Result<()> {
    let axe = crate::axe::script()?;
    b.set_viewport(1280, 720)?;
    let r = axe_views(b, &axe);
    let cleanup = forget_settings(b);
    b.set_viewport(1280, 800)?;
    r.and(cleanup)
}

fn axe_views(b: &Browser, axe: &str) -> Result<()> {
    open(b, "demo=fetch-decode-execute")?;
    for theme in ["light", "dark"] {
        open_in_theme(b, theme, "demo=fetch-decode-execute")?;
        crate::axe::audit(b, axe, &format!("the lab ({theme})"))?;
        open_in_theme(b, theme, "lab=asm-warmup")?;
        b.wait_for(&tid("lab-page"))?;
        crate::axe::audit(b, axe, &format!("a lab assignment ({theme})"))?;
        b.screenshot(&format!("theme-{theme}-assignment-1280x720"))?;
        open_in_theme(b, theme, "demo=page-walk&step=3")?;
        b.click_testid("btn-presentation")?;
        b.wait_for(".lab.presentation")?;
        crate::axe::audit(b, axe, &format!("a demo in presentation mode ({theme})"))?;
        b.click_testid("btn-presentation")?;
    }
    Ok(())
}
