//! Browser tests of time travel: reverse continue to a breakpoint, and "who wrote
//! this?" on a memory byte and on a register, on a guest that writes one address
//! many times.

use crate::browser::Browser;
use crate::ui_tests::{load_program, reg, set_input, stopped, tid, wait_reg, wait_text, WAIT};
use anyhow::{ensure, Result};

/// Writes ECX to 0x20000 300,000 times (about 1.2 M instructions), then halts.
/// `again` (the write) is at 0x10002, the INC at 0x10008.
const WRITER: &str = "bits 32
org 0x10000
    xor ecx, ecx
again:
    mov [0x20000], ecx
    inc ecx
    cmp ecx, 300000
    jne again
    hlt
";
const WRITE: &str = "00010002";
const INC: &str = "00010008";

fn toggle_breakpoint(b: &Browser, addr: &str) -> Result<()> {
    b.click(&format!(
        ".dline[data-addr=\"{addr}\"] [data-testid=bp-toggle]"
    ))
}

/// Runs to the end with a breakpoint set afterwards on the write; reverse continue
/// goes back to its last hit, and again to the hit before.
pub fn reverse_continue(b: &Browser) -> Result<()> {
    load_program(b, WRITER, "00010000")?;
    b.click_testid("btn-run")?;
    wait_text(b, "status", "halted")?;
    wait_text(b, "history", "history from instruction 0")?;
    toggle_breakpoint(b, WRITE)?;
    b.wait_for(&format!(".dline.bp[data-addr=\"{WRITE}\"]"))?;
    b.click_testid("btn-reverse")?;
    wait_text(b, "status", "reversed to the breakpoint at 00010002")?;
    ensure!(reg(b, "eip")? == WRITE, "EIP is at the write");
    wait_reg(b, "ecx", "ECX of the last write", |v| v == "000493df")?;
    b.screenshot("lab-reverse-continue")?;
    b.click_testid("btn-reverse")?;
    wait_reg(b, "ecx", "ECX of the write before", |v| v == "000493de")?;
    ensure!(reg(b, "eip")? == WRITE, "EIP is at the write again");
    // Forward again: Run stops at the next hit.
    b.click_testid("btn-run")?;
    wait_reg(b, "ecx", "the next hit", |v| v == "000493df")?;
    stopped(b)?;
    Ok(())
}

/// After the run, a click on the written byte goes back to its last write; the
/// register button for ECX then goes back to the INC that set it.
pub fn who_wrote_this(b: &Browser) -> Result<()> {
    load_program(b, WRITER, "00010000")?;
    b.click_testid("btn-run")?;
    wait_text(b, "status", "halted")?;
    set_input(b, "memory-addr", "20000")?;
    b.click_testid("memory-go")?;
    let byte = "[data-testid=mem-byte][data-addr=\"00020000\"]";
    b.wait_for(byte)?;
    ensure!(
        b.text(byte)? == "df",
        "the byte holds the last value's low byte"
    );
    b.click(byte)?;
    wait_text(
        b,
        "status",
        "was last changed by the instruction at 00010002",
    )?;
    ensure!(reg(b, "eip")? == WRITE, "EIP is at the write");
    wait_reg(b, "ecx", "ECX of the last write", |v| v == "000493df")?;
    b.wait_until("the byte before the write", WAIT, |s| {
        Ok(s.text(byte)? == "de")
    })?;
    b.screenshot("lab-who-wrote-memory")?;
    b.click_testid("who-ecx")?;
    wait_reg(b, "eip", "the INC that set ECX", |v| v == INC)?;
    wait_reg(b, "ecx", "ECX before the INC", |v| v == "000493de")?;
    wait_text(b, "status", "ecx was last changed")?;
    b.screenshot("lab-who-wrote-register")?;
    ensure!(
        b.find(&tid("history"))?.is_some(),
        "the history's reach is shown"
    );
    Ok(())
}
