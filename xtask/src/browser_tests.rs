//! The browser tests: each drives the served lab in headless Chromium.

use crate::browser::{Browser, BrowserTest};
use crate::webdriver::{keys, Session};
use anyhow::{ensure, Result};

/// Every browser test, in the order they run.
pub const ALL: &[BrowserTest] = &[
    BrowserTest {
        name: "page_shows_registers_and_next_instruction",
        run: page_shows_registers_and_next_instruction,
    },
    BrowserTest {
        name: "step_executes_one_instruction",
        run: step_executes_one_instruction,
    },
    BrowserTest {
        name: "reset_reloads_the_program",
        run: reset_reloads_the_program,
    },
    BrowserTest {
        name: "step_button_works_from_the_keyboard",
        run: step_button_works_from_the_keyboard,
    },
];

/// Opens the lab and waits for it to show the machine.
fn open_lab(b: &Browser) -> Result<()> {
    b.open("/")?;
    b.wait_for(&Session::testid("btn-step"))?;
    Ok(())
}

/// Waits until the register `name` reads `value` (8 hex digits).
fn expect_reg(b: &Browser, name: &str, value: u32) -> Result<()> {
    b.wait_for_text(
        &Session::testid(&format!("reg-{name}")),
        &format!("{value:08x}"),
    )
}

/// The lab loads its Wasm module and shows the machine at the program's first instruction.
fn page_shows_registers_and_next_instruction(b: &Browser) -> Result<()> {
    open_lab(b)?;
    ensure!(b.title()? == "vmlab", "the page title is {:?}", b.title()?);
    let registers = b.find_all("[data-testid^=\"reg-\"]")?;
    ensure!(
        registers.len() == 10,
        "{} registers shown, not 10",
        registers.len()
    );
    let panel = b.wait_for(&Session::testid("panel-registers"))?;
    let label = panel.attribute("aria-label")?;
    ensure!(
        label.as_deref() == Some("Registers"),
        "the register panel's aria-label is {label:?}"
    );
    expect_reg(b, "eip", 0x1000)?;
    expect_reg(b, "eax", 0)?;
    b.wait_for_text(&Session::testid("next-insn"), "mov eax,1")?;
    let listing = b.text_testid("listing")?;
    ensure!(
        listing.contains("shl eax,4") && listing.contains("hlt"),
        "the program listing reads {listing:?}"
    );
    b.screenshot("first-page")?;
    Ok(())
}

/// Step runs exactly one instruction each click; the DOM shows the new registers.
fn step_executes_one_instruction(b: &Browser) -> Result<()> {
    open_lab(b)?;
    b.click_testid("btn-step")?;
    expect_reg(b, "eax", 1)?;
    expect_reg(b, "eip", 0x1005)?;
    b.wait_for_text(&Session::testid("next-insn"), "mov ebx,2")?;
    let changed = b.execute(
        "return [...document.querySelectorAll('tr.changed th')].map(th => th.textContent);",
        vec![],
    )?;
    ensure!(
        changed == serde_json::json!(["eax", "eip"]),
        "highlighted as changed: {changed}"
    );
    for _ in 0..4 {
        b.click_testid("btn-step")?;
    }
    expect_reg(b, "eax", 0x30)?;
    expect_reg(b, "ebx", 2)?;
    expect_reg(b, "ecx", 0x30)?;
    expect_reg(b, "eip", 0x1011)?;
    b.wait_for_text(&Session::testid("next-insn"), "hlt")?;
    b.screenshot("after-five-steps")?;
    b.click_testid("btn-step")?;
    b.wait_for_text(&Session::testid("status"), "6 instructions · halted")?;
    let step = b.wait_for(&Session::testid("btn-step"))?;
    ensure!(
        step.attribute("disabled")?.is_some(),
        "Step is still enabled after HLT"
    );
    Ok(())
}

/// Reset puts the program back at its first instruction.
fn reset_reloads_the_program(b: &Browser) -> Result<()> {
    open_lab(b)?;
    b.click_testid("btn-step")?;
    b.click_testid("btn-step")?;
    expect_reg(b, "ebx", 2)?;
    b.click_testid("btn-reset")?;
    expect_reg(b, "eax", 0)?;
    expect_reg(b, "ebx", 0)?;
    expect_reg(b, "eip", 0x1000)?;
    b.wait_for_text(&Session::testid("status"), "ready")?;
    Ok(())
}

/// The Step button is reachable and usable without a mouse.
fn step_button_works_from_the_keyboard(b: &Browser) -> Result<()> {
    open_lab(b)?;
    b.execute(
        "document.querySelector('[data-testid=\"btn-step\"]').focus();",
        vec![],
    )?;
    b.press_keys(&[keys::ENTER])?;
    expect_reg(b, "eax", 1)?;
    Ok(())
}
