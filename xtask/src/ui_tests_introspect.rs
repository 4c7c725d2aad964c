//! Browser tests of introspection in the Host view: VMs running the teaching kernel show their process lists read from outside, the current process highlighted, and the semantic-gap note, with screenshots.

use crate::browser::Browser;
use crate::ui_tests::{open, select, tid, wait_text};
use crate::ui_tests_host::{press, show};
use anyhow::{ensure, Result};
use serde_json::json;

/// The rows of VM `vm`'s process table: (name, state, CR3, current).
fn rows(b: &Browser, vm: &str) -> Result<Vec<(String, String, String, bool)>> {
    let v = b.execute(
        "return [...document.querySelectorAll(`[data-testid^=host-vm-${arguments[0]}-proc-]`)]
             .map(r => [...r.querySelectorAll('td')].map(td => td.textContent)
                 .concat([r.dataset.current]));",
        vec![json!(vm)],
    )?;
    let mut out = Vec::new();
    for r in v.as_array().cloned().unwrap_or_default() {
        let cell = |i: usize| r[i].as_str().unwrap_or_default().to_string();
        out.push((cell(1), cell(2), cell(3), cell(6) == "true"));
    }
    Ok(out)
}

/// The introspection scenario: two kernels' process lists, live and at the end.
pub fn host_introspection(b: &Browser) -> Result<()> {
    open(b, "demo=fetch-decode-execute")?;
    select(b, "host-source", "scenario:introspection")?;
    wait_text(b, "host-status", "0 of 30 ms")?;
    press(b, "host-run-step")?;
    wait_text(b, "host-status", "10 of 30 ms")?;
    for vm in ["k1", "k2"] {
        b.wait_for(&tid(&format!("host-vm-{vm}-procs")))?;
        let r = rows(b, vm)?;
        let names: Vec<&str> = r.iter().map(|x| x.0.as_str()).collect();
        ensure!(names == ["A", "B"], "{vm}: processes {r:?}");
        let current: Vec<_> = r.iter().filter(|x| x.3).collect();
        ensure!(current.len() == 1, "{vm}: one current process: {r:?}");
        // The raw view (the CPU's CR3) and the profile's view agree on who runs.
        let gap = b.text_testid(&format!("host-vm-{vm}-gap"))?;
        ensure!(
            gap.contains(&format!("CR3 = {} ", current[0].2)),
            "{vm}: the current process's CR3 {} is not the CPU's: {gap}",
            current[0].2
        );
        ensure!(gap.contains("Semantic gap"), "{gap}");
    }
    ensure!(
        b.find_all(&tid("host-vm-g-procs"))?.is_empty(),
        "the balloon guest has no process table"
    );
    show(b, &tid("host-cards-part"))?;
    b.screenshot("lab-host-introspection-live")?;
    press(b, "host-run-end")?;
    wait_text(b, "host-status", "30 of 30 ms")?;
    let k1 = rows(b, "k1")?;
    ensure!(
        k1.iter().all(|x| x.1 == "exited"),
        "k1 ran to its end: {k1:?}"
    );
    let k2 = rows(b, "k2")?;
    ensure!(
        k2.iter().all(|x| x.1 == "runnable"),
        "k2 was paused with both processes alive: {k2:?}"
    );
    ensure!(
        b.find_all("tr.host-proc-current")?.len() == 2,
        "each kernel highlights its current process"
    );
    show(b, &tid("host-cards-part"))?;
    b.screenshot("lab-host-introspection-end")?;
    Ok(())
}
