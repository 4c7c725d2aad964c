//! Browser tests of the translation lab (`xlate-alu`): its statement and Rust starter,
//! its visible tests run in the page with the translator's own lowering (full marks)
//! and with the starter (less), and a block's IR from both lowerings, with screenshots.

use std::time::Duration;

use crate::browser::Browser;
use crate::ui_tests::{
    click_centered, fresh_lab, js, rust_starter_graded_natively, select, shown_score, tid,
    visible_points, wait_text,
};
use anyhow::{ensure, Result};

/// The lab opens with its statement and starter; "Run visible tests" says the Rust is
/// graded natively; the page's own run gives the translator's lowering full marks and
/// the starter less; the carry-chain block's IR reads CF in the translator's lowering
/// and not in the starter's, whose run differs from the interpreter.
pub fn lab(b: &Browser) -> Result<()> {
    fresh_lab(b, "xlate-alu")?;
    let statement = b.text_testid("lab-statement")?;
    ensure!(
        statement.contains("loads first, then the store"),
        "the statement gives the tier's rules: {statement}"
    );
    rust_starter_graded_natively(b, "xlate-alu", "impl AluFamily")?;

    click_centered(b, &tid("xlate-lab-run"))?;
    b.wait_for_within(&tid("xlate-lab-starter-score"), Duration::from_secs(180))?;
    let max = visible_points("xlate-alu")?;
    let (t, tmax) = shown_score(b, "xlate-lab-translator-score")?;
    ensure!(
        t == max && tmax == max,
        "the translator's lowering scores {t}/{tmax}, not {max}"
    );
    let (s, smax) = shown_score(b, "xlate-lab-starter-score")?;
    ensure!(
        s < smax && smax == max,
        "the starter scores {s}/{smax}, less than {max}"
    );
    wait_text(b, "xlate-lab-starter", "declined")?;
    js(
        b,
        "document.querySelector('[data-testid=xlate-lab-run]').scrollIntoView({ block: 'start' }); window.scrollBy(0, -90);",
    )?;
    b.screenshot("xlatelab-scores")?;

    // The block `add eax, ecx; adc edx, ebx`: the carry in is `cond.b`.
    select(b, "xlate-lab-block", "1")?;
    wait_text(b, "xlate-lab-x86", "adc edx, ebx")?;
    let ir = b.text_testid("xlate-lab-ir-translator-ir")?;
    ensure!(ir.contains("cond.b"), "the translator reads CF: {ir}");
    let ir = b.text_testid("xlate-lab-ir-starter-ir")?;
    ensure!(!ir.contains("cond.b"), "the starter forgets CF: {ir}");
    wait_text(
        b,
        "xlate-lab-ir-translator-verdict",
        "same state as the interpreter",
    )?;
    wait_text(b, "xlate-lab-ir-starter-verdict", "expected edx")?;
    js(
        b,
        "document.querySelector('[data-testid=xlate-lab-block]').scrollIntoView({ block: 'start' }); window.scrollBy(0, -90);",
    )?;
    b.screenshot("xlatelab-block-ir")?;
    Ok(())
}
