//! Browser tests of the lab's pictures (page walk, shadow paging, the nested walk,
//! the cost bars, the shadow/nested crossover) and of the trap log's per-step filter, each checked against what
//! the lab's own text panels say, with screenshots.

use crate::browser::Browser;
use crate::ui_tests::{open, stopped, tid, wait_text, WAIT};
use anyhow::{ensure, Context, Result};
use serde_json::{json, Value};

fn js(b: &Browser, script: &str) -> Result<Value> {
    b.execute(script, vec![])
}

/// Opens `demo` at step `step` (counted from 1) and waits until it stopped there.
fn open_step(b: &Browser, demo: &str, step: usize) -> Result<()> {
    open(b, &format!("demo={demo}&step={}", step - 1))?;
    wait_text(b, "demo-step-count", &format!("step {step} of"))?;
    stopped(b)
}

/// Waits until every lit element of picture `testid` has lit, and checks that
/// they light one after another in their order; returns how many there are.
fn lit_in_order(b: &Browser, testid: &str) -> Result<usize> {
    let script = format!(
        "const lit = [...document.querySelectorAll('[data-testid={testid}] .lit')];
         const delays = lit.map(g => [Number(g.dataset.order), parseFloat(getComputedStyle(g).animationDelay)]);
         const done = lit.every(g => getComputedStyle(g).opacity === '1');
         return {{ delays, done }};"
    );
    let mut last = json!(null);
    b.wait_until(&format!("{testid} to light up"), WAIT, |_| {
        last = js(b, &script)?;
        Ok(last["done"] == json!(true))
    })
    .with_context(|| format!("{last}"))?;
    let mut delays: Vec<(u64, f64)> = last["delays"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|d| Some((d[0].as_u64()?, d[1].as_f64()?)))
                .collect()
        })
        .unwrap_or_default();
    delays.sort_by_key(|d| d.0);
    ensure!(
        delays.windows(2).all(|w| w[0].1 < w[1].1),
        "{testid}: not lit one after another: {delays:?}"
    );
    Ok(delays.len())
}

/// Screenshots the picture in the page and in presentation mode.
fn screenshots(b: &Browser, name: &str, panel: &str) -> Result<()> {
    js(
        b,
        &format!("document.querySelector('[data-testid={panel}]').scrollIntoView();"),
    )?;
    b.screenshot(&format!("picture-{name}"))?;
    b.click_testid("btn-presentation")?;
    b.wait_for(&format!(".lab.presentation {}", tid(panel)))?;
    b.screenshot(&format!("picture-{name}-presentation"))?;
    b.click_testid("btn-presentation")?;
    Ok(())
}

/// The page-walk picture of 0x400000 in the page-walk demo: its bit fields are the
/// indices the walk's text names, six arrows light in order, each entry's lit flag
/// badges are the bits set in the entry the walk read, and the frame is the walk's result.
pub fn page_walk(b: &Browser) -> Result<()> {
    open_step(b, "page-walk", 3)?;
    b.wait_for(&tid("walk-picture"))?;
    let got = js(
        b,
        "const svg = document.querySelector('[data-testid=walk-picture]');
         const fields = [...svg.querySelectorAll('[data-field]')].map(g => Number(g.dataset.value));
         const lit = [...svg.querySelectorAll('.lit')].map(g => Number(g.dataset.order));
         const entries = [...document.querySelectorAll('[data-testid=walk-step]')]
           .map(e => parseInt(e.textContent.trim().split('= ')[1], 16));
         const badges = [...svg.querySelectorAll('.flag')].map(g => g.classList.contains('on'));
         const walkText = document.querySelector('[data-testid=walk] .mono').textContent;
         const result = document.querySelector('[data-testid=walk-result]').textContent;
         const frame = svg.querySelector('[data-box=\"3\"]').nextElementSibling.nextElementSibling.textContent;
         return { fields, lit, entries, badges, walkText, result, frame,
                  label: svg.getAttribute('aria-labelledby'), desc: svg.querySelector('desc').textContent };",
    )?;
    let walk_text = got["walkText"].as_str().unwrap_or_default();
    // "linear 00400000 = PDE 1 | PTE 0 | offset 000"
    let numbers: Vec<u64> = walk_text
        .split(['=', '|'])
        .skip(1)
        .filter_map(|part| part.split_whitespace().last())
        .zip([10, 10, 16])
        .filter_map(|(n, radix)| u64::from_str_radix(n, radix).ok())
        .collect();
    ensure!(
        got["fields"] == json!(numbers),
        "bit fields {} differ from the walk's {walk_text:?}",
        got["fields"]
    );
    ensure!(
        numbers == [1, 0, 0],
        "0x400000 is PDE 1, PTE 0: {walk_text}"
    );
    ensure!(
        got["lit"] == json!([1, 2, 3, 4, 5, 6]),
        "the arrows lit in order: {}",
        got["lit"]
    );
    ensure!(lit_in_order(b, "walk-picture")? == 6, "six arrows light");
    let entries: Vec<u64> = got["entries"]
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_u64).collect())
        .unwrap_or_default();
    ensure!(entries.len() == 2, "two entries read: {}", got["entries"]);
    let badges = got["badges"].as_array().cloned().unwrap_or_default();
    ensure!(
        badges.len() == 18,
        "nine badges per entry: {}",
        badges.len()
    );
    for (i, entry) in entries.iter().enumerate() {
        for bit in 0..9 {
            let set = entry >> bit & 1 == 1;
            ensure!(
                badges[i * 9 + bit] == json!(set),
                "entry {i} ({entry:08x}): badge of bit {bit} is {}",
                badges[i * 9 + bit]
            );
        }
    }
    let result = got["result"].as_str().unwrap_or_default();
    let frame = got["frame"].as_str().unwrap_or_default();
    ensure!(
        result.contains(frame) && frame == "000b8000",
        "the frame box reads {frame:?}, the walk {result:?}"
    );
    ensure!(
        got["label"] == json!("walk-picture-title walk-picture-desc")
            && got["desc"]
                .as_str()
                .unwrap_or_default()
                .contains("Linear 00400000"),
        "the text alternative: {got}"
    );
    screenshots(b, "walk", "panel-walk")
}

/// The shadow-paging picture at the true fault: three columns; the page the guest
/// does not map carries a true-fault badge, and each hidden-fault badge counts the
/// shadow fills the log lists for its page.
pub fn shadow(b: &Browser) -> Result<()> {
    open_step(b, "shadow-paging", 4)?;
    wait_text(b, "status", "stopped: trap")?;
    b.wait_for("[data-testid=shadow-picture] .row[data-linear=\"00300000\"] .true-fault")?;
    // the step's filter shows fills and faults only; the badges count them all
    let got = js(
        b,
        "const svg = document.querySelector('[data-testid=shadow-picture]');
         const heads = [...svg.querySelectorAll('text.head')].map(t => t.textContent);
         const rows = [...svg.querySelectorAll('.row')].map(r => ({
           linear: r.dataset.linear,
           cols: [...r.querySelectorAll('rect[data-col]')].length,
           cells: [...r.querySelectorAll('text.mono')].map(t => t.textContent),
           hidden: (r.querySelector('.hidden-fault text') || {}).textContent || '',
           truth: (r.querySelector('.true-fault text') || {}).textContent || '',
         }));
         const log = [...document.querySelectorAll('[data-testid=log-entry]')]
           .map(e => [e.dataset.reason, e.textContent]);
         return { heads, rows, log, filter: document.querySelector('[data-testid=log-filter]').dataset.value };",
    )?;
    ensure!(
        got["heads"] == json!(["guest-virtual", "guest-physical", "host-physical"]),
        "columns: {}",
        got["heads"]
    );
    ensure!(
        got["filter"] == json!("exit:shadow-fill,exit:page-fault"),
        "the step's log filter: {}",
        got["filter"]
    );
    let rows = got["rows"].as_array().cloned().unwrap_or_default();
    let log = got["log"].as_array().cloned().unwrap_or_default();
    let fault = rows
        .iter()
        .find(|r| r["linear"] == json!("00300000"))
        .with_context(|| format!("no row for 00300000: {rows:?}"))?;
    ensure!(
        fault["truth"] == json!("true ×1"),
        "the true fault: {fault}"
    );
    let mut hidden_seen = 0;
    let mut shadowed = 0;
    for r in &rows {
        ensure!(r["cols"] == json!(3), "three cells per row: {r}");
        // the guest's RAM lives elsewhere in host memory: a shadowed page's host
        // frame is never its guest-physical frame
        let cells = r["cells"].as_array().cloned().unwrap_or_default();
        if let [_, guest, host] = cells.as_slice() {
            let hex = |v: &Value| {
                v.as_str()
                    .is_some_and(|t| t.len() == 8 && t.chars().all(|c| c.is_ascii_hexdigit()))
            };
            if hex(guest) && hex(host) {
                ensure!(guest != host, "host-physical = guest-physical: {r}");
                shadowed += 1;
            }
        }
        let page = r["linear"].as_str().unwrap_or_default();
        let fills = log
            .iter()
            .filter(|e| {
                e[0] == json!("exit:shadow-fill")
                    && e[1]
                        .as_str()
                        .is_some_and(|t| t.contains(&format!("for 0x{page}")))
            })
            .count();
        let badge = r["hidden"].as_str().unwrap_or_default();
        let want = if fills == 0 {
            String::new()
        } else {
            format!("hidden ×{fills}")
        };
        ensure!(
            badge == want,
            "{page}: badge {badge:?}, {fills} fills in the log"
        );
        hidden_seen += fills;
    }
    ensure!(hidden_seen >= 2, "hidden faults drawn: {hidden_seen}");
    ensure!(shadowed >= 1, "a shadowed page with both frames: {rows:?}");
    screenshots(b, "shadow", "panel-shadow")
}

/// The nested picture: the two-dimensional walk of 0x400000 lights 8 references in
/// order, and at the end of the demo the core's counters give the same 8 per walk.
pub fn nested(b: &Browser) -> Result<()> {
    open_step(b, "nested-paging", 2)?;
    b.wait_for(&tid("nested-picture"))?;
    let lit = js(
        b,
        "return [...document.querySelectorAll('[data-testid=nested-picture] .ref.lit')].map(g => Number(g.dataset.order));",
    )?;
    ensure!(
        lit == json!([1, 2, 3, 4, 5, 6, 7, 8]),
        "lit references: {lit}"
    );
    ensure!(
        lit_in_order(b, "nested-picture")? == 8,
        "eight references light"
    );
    let text = js(
        b,
        "return document.querySelector('[data-testid=panel-nested]').textContent;",
    )?;
    let text = text.as_str().unwrap_or_default();
    ensure!(
        text.contains("(4 + 1) × (4 + 1) − 1 = 24") && text.contains("(2 + 1) × (4 + 1) − 1 = 14"),
        "the note on 4-level tables: {text}"
    );
    screenshots(b, "nested", "panel-nested")?;
    b.click_testid("demo-next")?;
    wait_text(b, "demo-step-count", "step 3 of")?;
    wait_text(b, "status", "halted")?;
    let counter = |name: &str| -> Result<u64> {
        let v = js(
            b,
            &format!("const c = document.querySelector('[data-testid=counter][data-name=\"{name}\"] td'); return c ? c.textContent : '';"),
        )?;
        v.as_str()
            .and_then(|s| s.trim().parse().ok())
            .with_context(|| format!("counter {name} reads {v}"))
    };
    let (walks, refs) = (counter("nested.walks")?, counter("nested.references")?);
    ensure!(
        walks > 0 && refs == walks * 8,
        "the core counted {refs} references in {walks} walks; the picture lights 8 per walk"
    );
    Ok(())
}

/// The cost picture of the side-by-side step: one bar per mode; the guest-work
/// segment is the mode's instruction count and every exit reason the comparison
/// counted has a segment of non-zero width.
pub fn cost(b: &Browser) -> Result<()> {
    open_step(b, "side-by-side", 2)?;
    b.wait_for(&tid("cost-picture"))?;
    b.wait_until("a bar per mode", WAIT, |s| {
        Ok(s.find_all("[data-testid=cost-picture] .bar")?.len() >= 3)
    })?;
    let got = js(
        b,
        "const modes = [...document.querySelectorAll('[data-testid=panel-compare] th[scope=col]')].map(t => t.textContent);
         const rows = {};
         for (const tr of document.querySelectorAll('[data-testid=panel-compare] tr')) {
           const th = tr.querySelector('th[scope=row]');
           if (th) rows[th.textContent] = [...tr.querySelectorAll('td')].map(t => t.textContent);
         }
         const bars = [...document.querySelectorAll('[data-testid=cost-picture] .bar')].map(g => ({
           mode: g.dataset.mode,
           segments: [...g.querySelectorAll('.segment')].map(r => [r.dataset.name, Number(r.dataset.cycles), r.getBoundingClientRect().width]),
         }));
         return { modes, rows, bars };",
    )?;
    let modes = got["modes"].as_array().cloned().unwrap_or_default();
    let bars = got["bars"].as_array().cloned().unwrap_or_default();
    ensure!(modes.len() >= 3 && bars.len() == modes.len(), "{got}");
    let mut exit_segments = 0;
    for (i, (mode, bar)) in modes.iter().zip(&bars).enumerate() {
        ensure!(
            bar["mode"] == *mode,
            "bar {i} is {}, column {mode}",
            bar["mode"]
        );
        let segments = bar["segments"].as_array().cloned().unwrap_or_default();
        let cell = |row: &str| -> u64 {
            got["rows"][row][i]
                .as_str()
                .and_then(|s| s.trim().parse().ok())
                .unwrap_or(0)
        };
        ensure!(
            segments.first().is_some_and(|s| s[0] == json!("guest work")
                && s[1].as_u64() == Some(cell("instructions"))
                && s[2].as_f64() > Some(0.0)),
            "{mode}: guest work {:?}, {} instructions",
            segments.first(),
            cell("instructions")
        );
        let reasons: Vec<String> = got["rows"]
            .as_object()
            .map(|o| {
                o.keys()
                    .filter_map(|k| k.strip_prefix("vmm.exit_cycles."))
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default();
        for reason in reasons {
            let cycles = cell(&format!("vmm.exit_cycles.{reason}"));
            if cycles == 0 {
                continue;
            }
            let seg = segments.iter().find(|s| s[0] == json!(reason));
            ensure!(
                seg.is_some_and(|s| s[1].as_u64() == Some(cycles) && s[2].as_f64() > Some(0.0)),
                "{mode}: {reason} cost {cycles} cycles, its segment is {seg:?}"
            );
            exit_segments += 1;
        }
    }
    ensure!(exit_segments >= 2, "exit segments checked: {exit_segments}");
    screenshots(b, "cost", "panel-cost")
}

/// The crossover of the shadow-vs-nested demo's last step: two phases of three bars,
/// nested paging cheapest on CR3 switches and shadow paging cheaper on TLB misses,
/// each bar's segments adding up to its total and the hidden table giving the same
/// figures.
pub fn crossover(b: &Browser) -> Result<()> {
    open_step(b, "shadow-vs-nested", 7)?;
    b.wait_for(&tid("crossover-picture"))?;
    b.wait_until("six bars", WAIT, |s| {
        Ok(s.find_all("[data-testid=crossover-picture] .bar")?.len() >= 6)
    })?;
    let got = js(
        b,
        "const phases = [...document.querySelectorAll('[data-testid=crossover-picture] .phase')].map(p => ({
           name: p.dataset.phase,
           bars: [...p.querySelectorAll('.bar')].map(g => ({
             mode: g.dataset.mode,
             total: Number(g.dataset.total),
             sum: [...g.querySelectorAll('.segment')].reduce((a, r) => a + Number(r.dataset.cycles), 0),
             width: [...g.querySelectorAll('.segment')].reduce((a, r) => a + r.getBoundingClientRect().width, 0),
           })),
         }));
         const table = [...document.querySelectorAll('[data-testid=crossover-table] tr')].slice(1)
           .map(tr => [...tr.querySelectorAll('td')].slice(0, 3).map(t => t.textContent));
         return { phases, table };",
    )?;
    let phases = got["phases"].as_array().cloned().unwrap_or_default();
    ensure!(phases.len() == 2, "{got}");
    let total = |p: &Value, mode: &str| -> Result<u64> {
        p["bars"]
            .as_array()
            .and_then(|bars| bars.iter().find(|b| b["mode"] == json!(mode)))
            .and_then(|b| b["total"].as_u64())
            .with_context(|| format!("no {mode} bar in {p}"))
    };
    let mut rows = 0;
    for p in &phases {
        let bars = p["bars"].as_array().cloned().unwrap_or_default();
        ensure!(bars.len() == 3, "three bars per phase: {p}");
        for bar in &bars {
            ensure!(
                bar["sum"] == bar["total"] && bar["width"].as_f64() > Some(0.0),
                "segments of {bar}"
            );
            let row = [
                p["name"].clone(),
                bar["mode"].clone(),
                json!(bar["total"].to_string()),
            ];
            ensure!(
                got["table"]
                    .as_array()
                    .is_some_and(|t| t.contains(&json!(row))),
                "the table lacks {row:?}: {}",
                got["table"]
            );
            rows += 1;
        }
    }
    ensure!(rows == 6, "{rows} bars");
    let (cr3, tlb) = (&phases[0], &phases[1]);
    let nested = total(cr3, "hw-assist")?;
    ensure!(
        nested < total(cr3, "trap-emulate")? && nested < total(cr3, "hw-assist-shadow")?,
        "nested paging is cheapest on CR3 switches: {cr3}"
    );
    let nested = total(tlb, "hw-assist")?;
    ensure!(
        total(tlb, "trap-emulate")? < nested && total(tlb, "hw-assist-shadow")? < nested,
        "shadow paging is cheaper on TLB misses: {tlb}"
    );
    screenshots(b, "crossover", "panel-crossover")
}

/// A step's log filter: the popf demo's report step shows only Popek–Goldberg
/// entries and says so in its menu; choosing "all" shows every entry again; the
/// log's text wraps inside its panel.
pub fn log_filter(b: &Browser) -> Result<()> {
    open_step(b, "popf", 3)?;
    wait_text(b, "status", "halted")?;
    let state = || -> Result<Value> {
        js(
            b,
            "const f = document.querySelector('[data-testid=log-filter]');
             const rows = [...document.querySelectorAll('[data-testid=log-entry]')].map(e => e.dataset.reason);
             const panel = document.querySelector('[data-testid=panel-log]');
             const cut = [...panel.querySelectorAll('.log td')].filter(td => td.scrollWidth > td.clientWidth + 1).length;
             return { value: f.dataset.value, label: f.selectedOptions[0].textContent, rows, cut,
                      wide: panel.scrollWidth > panel.clientWidth + 1 };",
        )
    };
    let s = state()?;
    let rows = s["rows"].as_array().cloned().unwrap_or_default();
    ensure!(
        s["value"] == json!("popek-goldberg") && !rows.is_empty(),
        "the step's filter: {s}"
    );
    ensure!(
        rows.iter().all(|r| *r == json!("popek-goldberg")),
        "only Popek–Goldberg entries: {s}"
    );
    b.screenshot("log-filter-step")?;
    b.execute(
        "const s = document.querySelector('[data-testid=log-filter]');
         s.value = '';
         s.dispatchEvent(new Event('change', { bubbles: true }));",
        vec![],
    )?;
    let mut all = json!(null);
    b.wait_until("every entry", WAIT, |_| {
        all = state()?;
        Ok(all["rows"].as_array().is_some_and(|r| r.len() > rows.len()))
    })
    .with_context(|| format!("after choosing all: {all}"))?;
    ensure!(
        all["cut"] == json!(0) && all["wide"] == json!(false),
        "log lines are cut off or the panel scrolls sideways: {all}"
    );
    b.click_testid("btn-presentation")?;
    b.wait_for(".lab.presentation")?;
    let present = state()?;
    ensure!(
        present["cut"] == json!(0) && present["wide"] == json!(false),
        "presentation: log lines cut off: {present}"
    );
    b.screenshot("log-filter-all-presentation")?;
    b.click_testid("btn-presentation")?;
    Ok(())
}
