//! Browser tests of the lab's panels and controls: load, step, step back, run and
//! pause, breakpoints, every demo (with a screenshot each), the mode switch, the
//! editor's error markers, share links, the labs' visible tests.

use crate::browser::{Browser, BrowserTest};
use crate::webdriver::Session;
use anyhow::{bail, ensure, Context, Result};
use serde_json::{json, Value};
use std::time::Duration;

/// Every lab test, in the order they run.
pub const ALL: &[BrowserTest] = &[
    BrowserTest {
        name: "lab_panels_and_help",
        run: panels_and_help,
    },
    BrowserTest {
        name: "lab_step_and_step_back",
        run: step_and_step_back,
    },
    BrowserTest {
        name: "lab_keyboard_shortcuts",
        run: keyboard_shortcuts,
    },
    BrowserTest {
        name: "lab_run_and_pause",
        run: run_and_pause,
    },
    BrowserTest {
        name: "lab_breakpoints_and_run_to_cursor",
        run: breakpoints,
    },
    BrowserTest {
        name: "lab_memory_translate_and_log",
        run: memory_translate_and_log,
    },
    BrowserTest {
        name: "lab_mode_switch",
        run: mode_switch,
    },
    BrowserTest {
        name: "lab_tlb_toggle",
        run: tlb_toggle,
    },
    BrowserTest {
        name: "lab_vmm_settings",
        run: crate::ui_vmm_settings::vmm_settings,
    },
    BrowserTest {
        name: "lab_editor_error_markers",
        run: editor_error_markers,
    },
    BrowserTest {
        name: "lab_share_link_round_trip",
        run: share_link_round_trip,
    },
    BrowserTest {
        name: "lab_every_demo",
        run: every_demo,
    },
    BrowserTest {
        name: "lab_demo_focus_1280x720",
        run: demo_focus,
    },
    BrowserTest {
        name: "lab_visible_tests",
        run: lab_visible_tests,
    },
    BrowserTest {
        name: "lab_learning_switch_component",
        run: learning_switch_lab,
    },
    BrowserTest {
        name: "lab_virtio_blk_driver",
        run: crate::ui_tests_devices::virtio_blk_lab,
    },
    BrowserTest {
        name: "lab_debug_this_test",
        run: lab_debug_this_test,
    },
    BrowserTest {
        name: "lab_linux_process_vm",
        run: linux_process_vm,
    },
    BrowserTest {
        name: "lab_linux_syscall_demo",
        run: demo_syscall_emulation,
    },
    BrowserTest {
        name: "lab_linux_demo_chroot_namespaces",
        run: crate::ui_tests_procdemo::chroot_namespaces,
    },
    BrowserTest {
        name: "lab_linux_demo_container_vs_vm",
        run: crate::ui_tests_procdemo::container_vs_vm,
    },
    BrowserTest {
        name: "lab_linux_container_settings",
        run: crate::ui_tests_procdemo::container_settings,
    },
    BrowserTest {
        name: "lab_jvm_workbench",
        run: jvm_workbench,
    },
    BrowserTest {
        name: "lab_jvm_own_class_files",
        run: jvm_own_class_files,
    },
    BrowserTest {
        name: "lab_editor_gutter_scrolls",
        run: editor_gutter_scrolls,
    },
    BrowserTest {
        name: "lab_share_link_restores_the_program",
        run: lab_share_link,
    },
    BrowserTest {
        name: "lab_draft_survives_reselection",
        run: lab_draft,
    },
    BrowserTest {
        name: "lab_layout_small_and_presentation",
        run: layout,
    },
    BrowserTest {
        name: "dist_sub_path_and_offline",
        run: crate::dist_tests::served_under_a_sub_path_and_offline,
    },
    BrowserTest {
        name: "lab_reverse_continue",
        run: crate::ui_time_travel::reverse_continue,
    },
    BrowserTest {
        name: "lab_who_wrote_this",
        run: crate::ui_time_travel::who_wrote_this,
    },
    BrowserTest {
        name: "lab_picture_page_walk",
        run: crate::ui_pictures::page_walk,
    },
    BrowserTest {
        name: "lab_picture_shadow_paging",
        run: crate::ui_pictures::shadow,
    },
    BrowserTest {
        name: "lab_picture_nested_walk",
        run: crate::ui_pictures::nested,
    },
    BrowserTest {
        name: "lab_picture_cost",
        run: crate::ui_pictures::cost,
    },
    BrowserTest {
        name: "lab_picture_crossover",
        run: crate::ui_pictures::crossover,
    },
    BrowserTest {
        name: "lab_log_filter_per_step",
        run: crate::ui_pictures::log_filter,
    },
    BrowserTest {
        name: "comfort_themes_and_font_size_1280x720",
        run: crate::ui_comfort::themes_and_font_size,
    },
    BrowserTest {
        name: "comfort_trap_log_export",
        run: crate::ui_comfort::trap_log_export,
    },
    BrowserTest {
        name: "comfort_machine_file_round_trip",
        run: crate::ui_comfort::machine_file_round_trip,
    },
    BrowserTest {
        name: "comfort_axe_audit",
        run: crate::ui_comfort::axe_audit,
    },
    BrowserTest {
        name: "comfort_course_pack_lab",
        run: crate::ui_pack::course_pack_lab,
    },
    BrowserTest {
        name: "comfort_course_pack_demo_and_links",
        run: crate::ui_pack::course_pack_demo_and_links,
    },
    BrowserTest {
        name: "lab_host_view",
        run: crate::ui_tests_host::host_view,
    },
    BrowserTest {
        name: "lab_host_migration_and_ft",
        run: crate::ui_tests_host::host_migration_and_ft,
    },
    BrowserTest {
        name: "lab_host_vm_in_panels",
        run: crate::ui_tests_host::host_vm_in_panels,
    },
    BrowserTest {
        name: "lab_host_demos",
        run: crate::ui_tests_host::host_demos,
    },
    BrowserTest {
        name: "lab_host_scenario_migration",
        run: crate::ui_tests_host::host_scenario_migration,
    },
    BrowserTest {
        name: "lab_net_panel_scenario",
        run: crate::ui_tests_netpanel::net_panel_scenario,
    },
    BrowserTest {
        name: "lab_net_pcap_download",
        run: crate::ui_tests_netpanel::net_pcap_download,
    },
    BrowserTest {
        name: "lab_net_vm_in_panels",
        run: crate::ui_tests_netpanel::net_vm_in_panels,
    },
    BrowserTest {
        name: "lab_net_demos",
        run: crate::ui_tests_netpanel::net_demos,
    },
    BrowserTest {
        name: "lab_procvm_labs_container_or_vm",
        run: crate::ui_tests_proclab::container_or_vm,
    },
    BrowserTest {
        name: "lab_procvm_labs_memory_calls",
        run: crate::ui_tests_proclab::procvm_memory,
    },
    BrowserTest {
        name: "jvmlab_stack_machine_demo",
        run: crate::ui_tests_jvmlab::stack_machine_demo,
    },
    BrowserTest {
        name: "jvmlab_garbage_collection_demo",
        run: crate::ui_tests_jvmlab::garbage_collection_demo,
    },
    BrowserTest {
        name: "jvmlab_component_labs",
        run: crate::ui_tests_jvmlab::component_labs,
    },
    BrowserTest {
        name: "lab_smp_bringup",
        run: crate::ui_tests_smpk::smp_bringup_lab,
    },
    BrowserTest {
        name: "smp_ap_startup",
        run: crate::ui_tests_smpui::ap_startup,
    },
    BrowserTest {
        name: "smp_ipi_shootdown",
        run: crate::ui_tests_smpui::ipi_shootdown,
    },
    BrowserTest {
        name: "smp_posted_interrupts",
        run: crate::ui_tests_smpui::posted_interrupts,
    },
    BrowserTest {
        name: "smp_toolbar_cpus",
        run: crate::ui_tests_smpui::toolbar_cpus,
    },
    BrowserTest {
        name: "lab_xlate_tier_switch",
        run: crate::ui_tests_xlate::tier_switch,
    },
    BrowserTest {
        name: "lab_xlate_cache_panel",
        run: crate::ui_tests_xlate::cache_panel,
    },
    BrowserTest {
        name: "lab_xlate_demos",
        run: crate::ui_tests_xlate::demos,
    },
    BrowserTest {
        name: "lab_jvm_jit_view",
        run: crate::ui_tests_jit::jit_view,
    },
    BrowserTest {
        name: "lab_tsc_drift_and_sync",
        run: crate::ui_tests_tsc::tsc_drift_and_sync,
    },
    BrowserTest {
        name: "xlatelab_lab",
        run: crate::ui_tests_xlatelab::lab,
    },
    BrowserTest {
        name: "smp_lock_holder_preemption",
        run: crate::ui_tests_smplhp::lock_holder_demo,
    },
    BrowserTest {
        name: "smp_host_schedule_toolbar",
        run: crate::ui_tests_smplhp::host_schedule_toolbar,
    },
    BrowserTest {
        name: "disk_cow_demo",
        run: crate::ui_tests_disk::cow_demo,
    },
    BrowserTest {
        name: "disk_emulated_vs_virtio_demo",
        run: crate::ui_tests_disk::emulated_vs_virtio_demo,
    },
    BrowserTest {
        name: "disk_user_disks",
        run: crate::ui_tests_disk::user_disks,
    },
    BrowserTest {
        name: "jitdemo_step_into_compiled_code",
        run: crate::ui_tests_jitdemo::jit_demo,
    },
    BrowserTest {
        name: "jitdemo_by_hand",
        run: crate::ui_tests_jitdemo::jit_by_hand,
    },
    BrowserTest {
        name: "lab_host_introspection",
        run: crate::ui_tests_introspect::host_introspection,
    },
    BrowserTest {
        name: "lab_balloon_driver",
        run: crate::ui_tests_balloonlab::balloon_driver_lab,
    },
    BrowserTest {
        name: "precopylab_lab",
        run: crate::ui_tests_precopylab::lab,
    },
    BrowserTest {
        name: "virtio_interrupt_demo",
        run: crate::ui_tests_virtio1::interrupt_demo,
    },
    BrowserTest {
        name: "virtio_busy_demo",
        run: crate::ui_tests_virtio1::busy_demo,
    },
    BrowserTest {
        name: "lab_host_scenario_network",
        run: crate::ui_tests_hostnetui::host_scenario_network,
    },
];

/// A program that never stops on its own.
const FOREVER: &str = "bits 32\norg 0x10000\nstart:\n    inc eax\n    jmp start\n";

/// WebDriver key codes of the keys the lab binds.
mod key {
    pub const F1: &str = "\u{E031}";
    pub const F5: &str = "\u{E035}";
    pub const F10: &str = "\u{E03A}";
    pub const F11: &str = "\u{E03B}";
    pub const ESCAPE: &str = "\u{E00C}";
    pub use crate::webdriver::keys::SHIFT;
}

pub(crate) const WAIT: Duration = Duration::from_secs(10);
/// How long a settled page may take to lay out a demo step.
const LAYOUT_WAIT: Duration = Duration::from_secs(3);

pub(crate) fn tid(id: &str) -> String {
    Session::testid(id)
}

/// Opens the lab at `hash` and waits until the machine has drawn its first view.
pub(crate) fn open(b: &Browser, hash: &str) -> Result<()> {
    // A hash change alone would not reload the page.
    b.goto("about:blank")?;
    b.open(&format!("/#{hash}"))?;
    b.wait_for(&format!("{} .dline", tid("panel-disasm")))
        .context("the lab never showed a disassembly")?;
    Ok(())
}

/// Opens the lab, assembles `source` and waits for a fresh machine whose EIP is
/// `entry` (8 hex digits).
pub(crate) fn load_program(b: &Browser, source: &str, entry: &str) -> Result<()> {
    open(b, "")?;
    set_source(b, source)?;
    b.click_testid("btn-assemble")?;
    wait_reg(b, "eip", "the program loaded", |v| v == entry)?;
    b.wait_until("a fresh machine", WAIT, |_| Ok(reg(b, "icount")? == "0"))?;
    Ok(())
}

pub(crate) fn set_source(b: &Browser, source: &str) -> Result<()> {
    b.execute(
        "const t = document.querySelector('[data-testid=editor-text]');
         t.value = arguments[0];
         t.dispatchEvent(new InputEvent('input', { bubbles: true }));",
        vec![json!(source)],
    )?;
    Ok(())
}

pub(crate) fn select(b: &Browser, id: &str, value: &str) -> Result<()> {
    b.wait_for(&tid(id))?;
    b.execute(
        "const s = document.querySelector(arguments[0]);
         s.value = arguments[1];
         s.dispatchEvent(new Event('change', { bubbles: true }));",
        vec![json!(tid(id)), json!(value)],
    )?;
    Ok(())
}

/// Picks `value` in the select `id` and waits until the page shows it picked.
pub(crate) fn select_and_wait(b: &Browser, id: &str, value: &str) -> Result<()> {
    select(b, id, value)?;
    b.wait_until(&format!("{id} to read {value}"), WAIT, |_| {
        let v = b.execute(
            "return document.querySelector(arguments[0]).value;",
            vec![json!(tid(id))],
        )?;
        Ok(v.as_str() == Some(value))
    })?;
    Ok(())
}

pub(crate) fn set_input(b: &Browser, id: &str, value: &str) -> Result<()> {
    b.wait_for(&tid(id))?;
    b.execute(
        "document.querySelector(arguments[0]).value = arguments[1];",
        vec![json!(tid(id)), json!(value)],
    )?;
    Ok(())
}

pub(crate) fn js(b: &Browser, script: &str) -> Result<Value> {
    b.execute(script, vec![])
}

fn js_string(b: &Browser, script: &str) -> Result<String> {
    Ok(js(b, script)?.as_str().unwrap_or_default().to_string())
}

/// The value shown in a register row.
pub(crate) fn reg(b: &Browser, name: &str) -> Result<String> {
    let row = b.text_testid(&format!("reg-{name}"))?;
    Ok(row
        .split_whitespace()
        .nth(1)
        .unwrap_or_default()
        .to_string())
}

pub(crate) fn wait_reg(
    b: &Browser,
    name: &str,
    what: &str,
    pred: impl Fn(&str) -> bool,
) -> Result<String> {
    let mut last = String::new();
    b.wait_until(what, WAIT, |_| {
        last = reg(b, name)?;
        Ok(pred(&last))
    })
    .with_context(|| format!("{name} reads {last}"))?;
    Ok(last)
}

pub(crate) fn wait_text(b: &Browser, id: &str, needle: &str) -> Result<()> {
    let mut last = String::new();
    b.wait_until(&format!("{id} to contain {needle:?}"), WAIT, |_| {
        last = match b.find(&tid(id))? {
            Some(e) => e.text()?,
            None => String::new(),
        };
        Ok(last.contains(needle))
    })
    .with_context(|| format!("{id} reads {last:?}"))
}

pub(crate) fn count(b: &Browser, css: &str) -> Result<usize> {
    Ok(b.find_all(css)?.len())
}

pub(crate) fn stopped(b: &Browser) -> Result<()> {
    wait_text(b, "status", "stopped")
}

/// Every panel and control has its test id; the help overlay opens and closes;
/// presentation mode switches the page's class.
fn panels_and_help(b: &Browser) -> Result<()> {
    open(b, "demo=fetch-decode-execute")?;
    ensure!(b.title()? == "vmlab", "the page title is {:?}", b.title()?);
    for id in [
        "panel-registers",
        "panel-disasm",
        "panel-memory",
        "panel-pagetables",
        "panel-tlb",
        "panel-log",
        "panel-counters",
        "panel-serial",
        "panel-vga",
        "panel-editor",
        "controls",
        "btn-step",
        "btn-step-over",
        "btn-step-back",
        "btn-run",
        "btn-run-trap",
        "btn-run-cursor",
        "btn-reset",
        "mode-select",
        "speed-select",
        "btn-share",
        "btn-presentation",
        "btn-help",
        "demo-menu",
        "lab-menu",
        "demo-narration",
        "btn-assemble",
        "editor-text",
        "flags",
        "virt-cost",
        "vga-screen",
        "serial-output",
    ] {
        ensure!(
            b.find(&tid(id))?.is_some(),
            "no element with data-testid={id}"
        );
    }
    let unlabelled = js(
        b,
        "return [...document.querySelectorAll('button, select, input, textarea')]
            .filter(e => !e.getAttribute('aria-label') && !e.closest('label') && !e.textContent.trim())
            .map(e => e.outerHTML.slice(0, 80));",
    )?;
    ensure!(
        unlabelled.as_array().is_some_and(Vec::is_empty),
        "controls without a label: {unlabelled}"
    );
    b.click_testid("btn-help")?;
    b.wait_for(&tid("help-overlay"))?;
    ensure!(
        b.text_testid("help-overlay")?.contains("F10"),
        "the help lists F10"
    );
    b.click_testid("help-close")?;
    b.wait_until("the help to close", WAIT, |s| {
        Ok(s.find(&tid("help-overlay"))?.is_none())
    })?;
    b.click_testid("btn-presentation")?;
    b.wait_for(".lab.presentation")?;
    b.screenshot("lab-presentation")?;
    b.click_testid("btn-presentation")?;
    b.wait_until("normal view", WAIT, |s| {
        Ok(s.find(".lab.presentation")?.is_none())
    })?;
    Ok(())
}

/// Step changes EIP and highlights what changed; step back returns to the same state.
fn step_and_step_back(b: &Browser) -> Result<()> {
    open(b, "demo=fetch-decode-execute")?;
    let eip0 = wait_reg(b, "eip", "a loaded program", |v| v == "00010000")?;
    let esp0 = reg(b, "esp")?;
    b.click_testid("btn-step")?;
    let eip1 = wait_reg(b, "eip", "EIP to move", |v| v != eip0)?;
    ensure!(reg(b, "esp")? == "00090000", "MOV ESP ran");
    ensure!(
        b.find("[data-testid=reg-esp].changed")?.is_some(),
        "ESP is highlighted as changed"
    );
    b.click_testid("btn-step")?;
    wait_reg(b, "eip", "EIP to move again", |v| v != eip1)?;
    b.click_testid("btn-step-back")?;
    wait_reg(b, "eip", "EIP back at the second instruction", |v| {
        v == eip1
    })?;
    b.click_testid("btn-step-back")?;
    wait_reg(b, "eip", "EIP back at the start", |v| v == eip0)?;
    ensure!(reg(b, "esp")? == esp0, "ESP restored by the step back");
    // Step over a non-call is a plain step; reset returns to the start.
    b.click_testid("btn-step-over")?;
    wait_reg(b, "eip", "step over", |v| v == eip1)?;
    b.click_testid("btn-reset")?;
    wait_reg(b, "eip", "reset", |v| v == eip0)?;
    Ok(())
}

/// F11 steps, Shift+F11 steps back, F10 steps over, F1 opens the help.
fn keyboard_shortcuts(b: &Browser) -> Result<()> {
    open(b, "demo=fetch-decode-execute")?;
    let eip0 = wait_reg(b, "eip", "a loaded program", |v| v == "00010000")?;
    js(
        b,
        "document.activeElement && document.activeElement.blur();",
    )?;
    b.press_keys(&[key::F11])?;
    let eip1 = wait_reg(b, "eip", "F11 to step", |v| v != eip0)?;
    b.press_keys(&[key::F10])?;
    wait_reg(b, "eip", "F10 to step over", |v| v != eip1)?;
    b.press_keys(&[key::SHIFT, key::F11])?;
    wait_reg(b, "eip", "Shift+F11 to step back", |v| v == eip1)?;
    b.execute(
        "document.querySelector('[data-testid=btn-step]').focus();",
        vec![],
    )?;
    b.press_keys(&[crate::webdriver::keys::ENTER])?;
    wait_reg(b, "eip", "Enter on the focused Step button", |v| v != eip1)?;
    b.press_keys(&[key::F1])?;
    b.wait_for(&tid("help-overlay"))?;
    // No shortcut is advertised (in the help or a title) that does nothing.
    ensure!(
        js(
            b,
            "return document.body.innerHTML.includes('Ctrl+Shift+R');"
        )? == json!(false),
        "Ctrl+Shift+R is advertised"
    );
    b.press_keys(&[key::ESCAPE])?;
    b.wait_until("Escape to close the help", WAIT, |s| {
        Ok(s.find(&tid("help-overlay"))?.is_none())
    })?;
    // F5 runs the guest instead of reloading the page.
    js(
        b,
        "window.vmlabKept = 7; document.activeElement && document.activeElement.blur();
         window.addEventListener('keydown', e => { if (e.key === 'F5') window.vmlabF5 = e.defaultPrevented; });",
    )?;
    b.press_keys(&[key::F5])?;
    wait_text(b, "status", "halted")?;
    ensure!(
        js(b, "return window.vmlabKept;")? == json!(7),
        "F5 reloaded the page"
    );
    ensure!(
        js(b, "return window.vmlabF5;")? == json!(true),
        "F5's default action is not prevented (a passive listener?)"
    );
    Ok(())
}

/// Run keeps the page responsive and updates the registers; pause stops the guest.
fn run_and_pause(b: &Browser) -> Result<()> {
    load_program(b, FOREVER, "00010000")?;
    b.click_testid("btn-run")?;
    b.wait_for_text(&tid("btn-run"), "Pause")?;
    let first = wait_reg(b, "eax", "EAX to count while running", |v| v != "00000000")?;
    wait_reg(b, "eax", "EAX to keep counting", |v| v != first)?;
    // The page answers while the guest runs.
    ensure!(
        js(b, "return 1 + 1;")? == json!(2),
        "the page is responsive"
    );
    b.click_testid("btn-run")?;
    wait_text(b, "btn-run", "Run")?;
    stopped(b)?;
    wait_text(b, "status", "paused")?;
    let paused = reg(b, "eax")?;
    std::thread::sleep(Duration::from_millis(300));
    ensure!(reg(b, "eax")? == paused, "EAX is still after pause");
    Ok(())
}

/// A breakpoint set by clicking the gutter stops a run there; run to cursor stops
/// at the selected line.
fn breakpoints(b: &Browser) -> Result<()> {
    open(b, "demo=fetch-decode-execute")?;
    let lines = b.find_all(".dline")?;
    ensure!(
        lines.len() >= 8,
        "the disassembly shows {} lines",
        lines.len()
    );
    let target = lines[7]
        .attribute("data-addr")?
        .context("a line without data-addr")?;
    let cursor = lines[4]
        .attribute("data-addr")?
        .context("a line without data-addr")?;
    b.click(&format!(".dline[data-addr=\"{cursor}\"] .insn"))?;
    b.wait_for(&format!(".dline.cursor[data-addr=\"{cursor}\"]"))?;
    b.click_testid("btn-run-cursor")?;
    wait_reg(b, "eip", "run to cursor", |v| v == cursor)?;
    wait_text(b, "status", "at the cursor")?;
    b.click(&format!(
        ".dline[data-addr=\"{target}\"] [data-testid=bp-toggle]"
    ))?;
    b.wait_for(&format!(".dline.bp[data-addr=\"{target}\"]"))?;
    b.click_testid("btn-run")?;
    wait_reg(b, "eip", "the breakpoint", |v| v == target)?;
    wait_text(b, "status", "breakpoint")?;
    b.click(&format!(
        ".dline[data-addr=\"{target}\"] [data-testid=bp-toggle]"
    ))?;
    b.wait_until("the breakpoint removed", WAIT, |s| {
        Ok(s.find(".dline.bp")?.is_none())
    })?;
    b.click_testid("btn-run")?;
    wait_text(b, "serial-output", "fetch, decode, execute: done")?;
    Ok(())
}

/// Memory go-to (physical and linear), the translate walk, the page-table tree,
/// the TLB, the log's filter and click-to-jump, the counters and the VGA screen.
fn memory_translate_and_log(b: &Browser) -> Result<()> {
    open(b, "demo=page-walk&step=7")?;
    wait_text(b, "status", "halted")?;
    set_input(b, "memory-addr", "b8000")?;
    b.click_testid("memory-go")?;
    wait_text(b, "memory-rows", "000b8000")?;
    wait_text(b, "memory-rows", "48 1f 69 1f")?;
    select(b, "memory-space", "linear")?;
    set_input(b, "memory-addr", "400000")?;
    b.click_testid("memory-go")?;
    wait_text(b, "memory-rows", "00400000")?;
    wait_text(b, "memory-rows", "48 1f 69 1f")?;
    set_input(b, "translate-addr", "400004")?;
    b.click_testid("translate-go")?;
    wait_text(b, "walk-result", "000b8004")?;
    ensure!(count(b, "[data-testid=walk-step]")? == 2, "a two-step walk");
    ensure!(count(b, "[data-testid=pde]")? == 2, "two present PDEs");
    b.click("[data-testid=pde]")?;
    b.wait_for("[data-testid=pte]")?;
    wait_text(b, "vga-screen", "Hi!")?;
    ensure!(
        count(b, "[data-testid=tlb-entry]")? > 0,
        "the TLB holds entries"
    );
    ensure!(count(b, "[data-testid=counter]")? > 0, "counters are shown");
    wait_text(b, "flag-legend", "P present")?;
    b.screenshot("lab-page-walk-panels")?;
    // The fetch demo's guest writes to the serial port: its log has I/O entries.
    open(b, "demo=fetch-decode-execute&step=5")?;
    wait_text(b, "status", "halted")?;
    set_input(b, "serial-input", "typed by the test")?;
    js(
        b,
        "document.querySelector('[data-testid=serial-input]').form.requestSubmit();",
    )?;
    wait_text(b, "serial-output", "typed by the test")?;
    let entries = count(b, "[data-testid=log-entry]")?;
    ensure!(entries > 0, "the log has entries");
    let reason = b
        .find("[data-testid=log-entry]")?
        .context("a log entry")?
        .attribute("data-reason")?
        .context("a reason")?;
    select(b, "log-filter", &reason)?;
    b.wait_until("the filter", WAIT, |s| {
        let rows = s.find_all("[data-testid=log-entry]")?;
        let mut same = true;
        for r in &rows {
            same &= r.attribute("data-reason")?.as_deref() == Some(reason.as_str());
        }
        Ok(!rows.is_empty() && same)
    })?;
    b.click("[data-testid=log-entry]")?;
    b.wait_for(".dline.cursor")?;
    Ok(())
}

/// The mode switch reloads the program under the chosen VMM.
fn mode_switch(b: &Browser) -> Result<()> {
    open(b, "demo=trap-emulate")?;
    for mode in ["bare", "hw-assist", "hw-assist-shadow", "trap-emulate"] {
        b.click_testid("btn-step")?;
        b.wait_until("a step", WAIT, |_| Ok(reg(b, "icount")? != "0"))?;
        select(b, "mode-select", mode)?;
        b.wait_until(&format!("{mode} to load"), WAIT, |_| {
            Ok(reg(b, "icount")? == "0")
        })?;
        let shown = js_string(
            b,
            "return document.querySelector('[data-testid=mode-select]').value;",
        )?;
        ensure!(shown == mode, "the mode switch shows {shown}, not {mode}");
        b.click_testid("btn-run")?;
        stopped(b)?;
        wait_text(b, "serial-output", "VM")?;
    }
    Ok(())
}

/// The value of the counter row `name` (0 when the panel does not show it).
pub(crate) fn counter(b: &Browser, name: &str) -> Result<u64> {
    let v = js_string(
        b,
        &format!(
            "const r = document.querySelector('[data-testid=counter][data-name=\"{name}\"] td'); return r ? r.textContent : '0';"
        ),
    )?;
    Ok(v.trim().parse().unwrap_or(0))
}

/// The TLB toggle: flushing on every VM exit shows in the flush and miss counters,
/// and the setting holds across a reset.
fn tlb_toggle(b: &Browser) -> Result<()> {
    open(b, "demo=trap-emulate")?;
    b.click_testid("btn-run")?;
    stopped(b)?;
    ensure!(
        counter(b, "vmm.tlb_flushes")? == 0,
        "a tagged TLB is never flushed by exits"
    );
    let tagged_misses = counter(b, "tlb_misses")?;
    select(b, "tlb-select", "flush")?;
    b.click_testid("btn-reset")?;
    b.wait_until("the reset", WAIT, |_| Ok(reg(b, "icount")? == "0"))?;
    b.click_testid("btn-run")?;
    stopped(b)?;
    let shown = js_string(
        b,
        "return document.querySelector('[data-testid=tlb-select]').value;",
    )?;
    ensure!(
        shown == "flush",
        "the TLB select shows {shown} after a reset"
    );
    let flushes = counter(b, "vmm.tlb_flushes")?;
    let misses = counter(b, "tlb_misses")?;
    ensure!(flushes > 0, "every exit flushes: {flushes} flushes");
    ensure!(
        misses > tagged_misses,
        "flushes cost misses: {misses} vs {tagged_misses} tagged"
    );
    b.screenshot("lab-tlb-flush")?;
    Ok(())
}

/// Assembler errors mark their lines; a fixed program loads.
fn editor_error_markers(b: &Browser) -> Result<()> {
    open(b, "")?;
    set_source(b, "bits 32\nmov eax, 1\nfrobnicate eax\nhlt\n")?;
    b.click_testid("btn-assemble")?;
    b.wait_for("[data-testid=editor-error-line][data-line=\"3\"]")?;
    wait_text(b, "editor-errors", "line 3")?;
    ensure!(
        count(b, "[data-testid=editor-error-line]")? == 1,
        "exactly one line is marked"
    );
    b.screenshot("lab-editor-errors")?;
    set_source(b, "bits 32\norg 0x10000\nmov eax, 7\nhlt\n")?;
    b.click_testid("btn-assemble")?;
    b.wait_until("the markers to clear", WAIT, |s| {
        Ok(s.find("[data-testid=editor-error-line]")?.is_none())
    })?;
    b.click_testid("btn-step")?;
    wait_reg(b, "eax", "the new program", |v| v == "00000007")?;
    Ok(())
}

/// A share link carries the program, the demo step and the mode; opening it restores them.
fn share_link_round_trip(b: &Browser) -> Result<()> {
    open(b, "demo=page-walk")?;
    b.click_testid("demo-next")?;
    wait_text(b, "demo-step-count", "step 2 of")?;
    let marker = "; shared by the round-trip test";
    let source = js_string(
        b,
        "return document.querySelector('[data-testid=editor-text]').value;",
    )?;
    set_source(b, &format!("{source}\n{marker}\n"))?;
    let hash = share_hash(b)?;
    ensure!(
        hash.contains("demo=page-walk") && hash.contains("step=1"),
        "hash {hash}"
    );
    b.goto("about:blank")?;
    open(b, hash.trim_start_matches('#'))?;
    wait_text(b, "demo-step-count", "step 2 of")?;
    let restored = js_string(
        b,
        "return document.querySelector('[data-testid=editor-text]').value;",
    )?;
    ensure!(
        restored.contains(marker),
        "the program came back: {restored:?}"
    );
    wait_reg(b, "cr3", "the demo replayed to its step", |v| {
        v == "00080000"
    })?;
    Ok(())
}

/// Every demo opens, steps forward to its end and back, and leaves a screenshot; at
/// its last step the serial console shows what that step claims and the mode switch
/// shows the mode the step runs in.
fn every_demo(b: &Browser) -> Result<()> {
    for d in vmlab_demos::all().iter().filter(|d| is_machine(d)) {
        let demo = d.id;
        open(b, &format!("demo={demo}"))?;
        let count_text = b.text_testid("demo-step-count")?;
        let total: usize = count_text
            .rsplit(' ')
            .next()
            .and_then(|n| n.parse().ok())
            .with_context(|| format!("{demo}: step count reads {count_text:?}"))?;
        let mut titles = vec![b.text_testid("demo-step-title")?];
        for i in 2..=total {
            b.click_testid("demo-next")?;
            wait_text(b, "demo-step-count", &format!("step {i} of {total}"))?;
            titles.push(b.text_testid("demo-step-title")?);
            stopped(b).with_context(|| format!("{demo} step {i}"))?;
        }
        let mut distinct = titles.clone();
        distinct.sort();
        distinct.dedup();
        ensure!(
            distinct.len() == titles.len(),
            "{demo}: repeated step titles {titles:?}"
        );
        let last = total.saturating_sub(1);
        if let Some(text) = d.steps().get(last).and_then(|s| s.expect.serial.as_deref()) {
            wait_text(b, "serial-output", text).with_context(|| format!("{demo}: serial"))?;
        }
        shows_step_mode(b, d, last).with_context(|| format!("{demo}: the last step"))?;
        match demo {
            "fetch-decode-execute" => {
                wait_text(b, "serial-output", "fetch, decode, execute: done")?
            }
            "page-walk" => wait_text(b, "vga-screen", "Hi!")?,
            "popf" | "side-by-side" => {
                b.wait_for(&tid("panel-compare"))?;
                ensure!(
                    count(b, "[data-testid=compare-serial]")? == 4,
                    "{demo}: four modes (bare, trap-emulate, hw-assist, hw-assist-shadow)"
                );
            }
            _ => {}
        }
        b.screenshot(&format!("demo-{demo}"))?;
        if total > 1 {
            b.click_testid("demo-prev")?;
            wait_text(
                b,
                "demo-step-count",
                &format!("step {} of {total}", total - 1),
            )?;
            ensure!(
                b.text_testid("demo-step-title")? == titles[total - 2],
                "{demo}: previous goes back one step"
            );
        }
    }
    Ok(())
}

/// Whether `d` drives the machine (the other kinds have browser tests of their own).
fn is_machine(d: &vmlab_demos::Demo) -> bool {
    d.manifest.kind == vmlab_demos::manifest::Kind::Machine
}

/// The mode switch shows the mode step `i` of `demo` runs in (its own, or the demo's).
fn shows_step_mode(b: &Browser, demo: &vmlab_demos::Demo, i: usize) -> Result<()> {
    let shown = js_string(
        b,
        "return document.querySelector('[data-testid=mode-select]').value;",
    )?;
    let want = demo.manifest.mode_at(i);
    ensure!(
        shown == want,
        "the step runs in {want}, the mode switch shows {shown}"
    );
    Ok(())
}

/// Makes the page's viewport `width` × `height` (the window's frame is measured and added).
pub(crate) fn set_viewport(b: &Browser, width: u32, height: u32) -> Result<()> {
    b.set_window_size(width, height)?;
    let inner = js(b, "return [window.innerWidth, window.innerHeight];")?;
    let got = |i: usize| inner[i].as_u64().unwrap_or(0) as u32;
    let (w, h) = (got(0), got(1));
    b.set_window_size(
        width + width.saturating_sub(w),
        height + height.saturating_sub(h),
    )?;
    let inner = js(b, "return [window.innerWidth, window.innerHeight];")?;
    ensure!(
        inner == json!([width, height]),
        "the viewport is {inner}, not {width}×{height}"
    );
    Ok(())
}

/// In presentation mode at 1280×720, every step of every demo shows the panels its
/// manifest names inside the viewport, hides the editor, and never scrolls sideways;
/// a screenshot of each step is saved as `present-ID-N.png`.
fn demo_focus(b: &Browser) -> Result<()> {
    set_viewport(b, 1280, 720)?;
    let checked = demo_focus_steps(b);
    set_viewport(b, 1280, 800)?;
    let steps = checked?;
    ensure!(steps >= 31, "only {steps} steps checked");
    Ok(())
}

fn demo_focus_steps(b: &Browser) -> Result<usize> {
    let mut steps = 0;
    for demo in vmlab_demos::all().iter().filter(|d| is_machine(d)) {
        let id = demo.id;
        open(b, &format!("demo={id}"))?;
        b.click_testid("btn-presentation")?;
        b.wait_for(".lab.presentation.demo-focus")
            .with_context(|| format!("{id}: presentation mode focuses the step"))?;
        let total = demo.steps().len();
        for (i, step) in demo.steps().iter().enumerate() {
            let at = format!("{id} step {}", i + 1);
            if i > 0 {
                b.click_testid("demo-next")?;
            }
            wait_text(b, "demo-step-count", &format!("step {} of {total}", i + 1))?;
            stopped(b).with_context(|| at.clone())?;
            shows_step_mode(b, demo, i).with_context(|| at.clone())?;
            let focus: Vec<&str> = step.focus.iter().map(|p| p.testid()).collect();
            if focus.contains(&"panel-compare") {
                b.wait_for(&tid("panel-compare"))?;
            }
            if let Some(stop) = &step.expect.stop {
                wait_text(b, "status", &format!("stopped: {stop}")).with_context(|| at.clone())?;
            }
            let script = format!(
                "const ids = {};
                 const out = [];
                 let right = 0;
                 for (const id of ids) {{
                   const e = document.querySelector(`[data-testid=${{id}}]`);
                   if (!e) {{ out.push(id + ' is missing'); continue; }}
                   const r = e.getBoundingClientRect();
                   right = Math.max(right, r.right);
                   if (r.width < 200 || r.height < 100) out.push(`${{id}} is ${{r.width}}×${{r.height}}`);
                   if (r.left < 0 || r.top < 0 || r.right > innerWidth + 0.5 || r.bottom > innerHeight + 0.5)
                     out.push(`${{id}} at ${{r.left}},${{r.top}}–${{r.right}},${{r.bottom}} leaves the viewport`);
                 }}
                 if (right < innerWidth * 0.9) out.push(`the panels end at x = ${{right}}`);
                 for (const id of ids) {{
                   const e = document.querySelector(`[data-testid=${{id}}]`);
                   if (!e) continue;
                   for (const t of e.querySelectorAll('*')) {{
                     if (!t.getClientRects().length || t.closest('.vga')) continue;
                     if (![...t.childNodes].some(n => n.nodeType === 3 && n.textContent.trim())) continue;
                     const px = parseFloat(getComputedStyle(t).fontSize);
                     if (px < 19.5) {{ out.push(`${{id}}: text at ${{px}} px`); break; }}
                   }}
                 }}
                 const vga = document.querySelector('[data-testid=panel-vga]');
                 if (vga && ids.includes('panel-vga') && vga.getBoundingClientRect().width >= 1000) {{
                   const px = parseFloat(getComputedStyle(vga.querySelector('.vga')).fontSize);
                   if (px < 23) out.push(`VGA text at ${{px}} px`);
                 }}
                 const newest = document.querySelectorAll('[data-testid=log-entry].newest').length;
                 if (newest > 1) out.push(`${{newest}} log entries marked newest`);
                 const editor = document.querySelector('[data-testid=panel-editor]');
                 if (editor && editor.getClientRects().length) out.push('the editor is shown');
                 const d = document.documentElement;
                 if (d.scrollWidth > innerWidth) out.push(`the page is ${{d.scrollWidth}} px wide`);
                 if (d.scrollHeight > innerHeight) out.push(`the page is ${{d.scrollHeight}} px tall`);
                 return out.join('; ');",
                json!(focus)
            );
            let mut problems = String::new();
            let shown = b.wait_until("the step's panels on one screen", LAYOUT_WAIT, |_| {
                problems = js_string(b, &script)?;
                Ok(problems.is_empty())
            });
            b.screenshot(&format!("present-{id}-{}", i + 1))?;
            shown.with_context(|| format!("{at}: {problems}"))?;
            steps += 1;
        }
    }
    Ok(steps)
}

/// A lab opens with its statement and starter; its visible tests report per test.
fn lab_visible_tests(b: &Browser) -> Result<()> {
    open(b, "")?;
    let labs = js(
        b,
        "return [...document.querySelectorAll('[data-testid=lab-menu] option')].map(o => o.value).filter(v => v);",
    )?;
    let Some(first) = labs
        .as_array()
        .and_then(|a| a.first())
        .and_then(Value::as_str)
    else {
        bail!("the lab menu is empty");
    };
    let first = first.to_string();
    select(b, "lab-menu", &first)?;
    b.wait_for(&tid("lab-page"))?;
    ensure!(
        !b.text_testid("lab-statement")?.trim().is_empty(),
        "a statement is shown"
    );
    b.click_testid("lab-run-tests")?;
    b.wait_for_within(&tid("lab-results"), Duration::from_secs(30))?;
    ensure!(
        count(b, "[data-testid=lab-test]")? > 0,
        "per-test results are listed"
    );
    wait_text(b, "lab-score", "visible tests:")?;
    b.wait_for(&tid("lab-download"))?;
    b.screenshot(&format!("lab-{first}"))?;
    Ok(())
}

/// The learning-switch component lab opens with its statement (the forwarding
/// rules) and the Rust starter, and says its traces are graded natively.
fn learning_switch_lab(b: &Browser) -> Result<()> {
    fresh_lab(b, "learning-switch")?;
    let statement = b.text_testid("lab-statement")?;
    ensure!(
        statement.contains("Look up the flow table") && statement.contains("never learned"),
        "the statement gives the forwarding rules: {statement}"
    );
    rust_starter_graded_natively(b, "learning-switch", "impl FlowSwitch")?;
    b.screenshot("lab-learning-switch")?;
    Ok(())
}

/// The process-VM panel runs the assembly examples in the worker under the emulated
/// Linux and lists their system calls and processes.
fn linux_process_vm(b: &Browser) -> Result<()> {
    open(b, "")?;
    js(
        b,
        "document.querySelector('[data-testid=linux-hostname]').value = 'lecture-hall'; return null;",
    )?;
    click_centered(b, "[data-testid=linux-run-example]")?;
    wait_text(b, "linux-status", "exited with status 0")?;
    let out = b.text_testid("linux-stdout")?;
    ensure!(
        out.contains("hello from vmlab's process VM, running on host lecture-hall"),
        "the program's output, with the host name uname gave it: {out:?}"
    );
    let calls = b.text_testid("linux-strace")?;
    for call in ["write(1, ", "uname(", "exit_group(0)"] {
        ensure!(
            calls.contains(call),
            "the strace table shows {call}: {calls}"
        );
    }
    ensure!(
        count(b, "[data-testid=linux-strace] tbody tr")? == 5,
        "five system calls"
    );
    b.screenshot("lab-linux-process-vm")?;
    // The fork example in a PID namespace: two processes, the host's pids beside theirs.
    click_centered(b, "[data-testid=linux-pid-ns]")?;
    click_centered(b, "[data-testid=linux-run-fork]")?;
    wait_text(b, "linux-status", "in 2 processes")?;
    let out = b.text_testid("linux-stdout")?;
    ensure!(
        out.contains("parent: the child ended with status 3"),
        "the parent collected the child's status: {out:?}"
    );
    ensure!(
        count(b, "[data-testid=linux-processes] tbody tr")? == 2,
        "two rows in the process table"
    );
    let table = b.text_testid("linux-processes")?;
    for cell in ["pid inside", "exited with status 3", "/fork"] {
        ensure!(
            table.contains(cell),
            "the process table shows {cell}: {table}"
        );
    }
    let calls = b.text_testid("linux-strace")?;
    ensure!(
        calls.contains("fork()") && calls.contains("wait4(-1, "),
        "the strace table shows fork and wait4: {calls}"
    );
    b.screenshot("lab-linux-process-table")?;
    // The same program as a process, in a container, as a unikernel and as a VM.
    click_centered(b, "[data-testid=linux-compare]")?;
    click_centered(b, "[data-testid=linux-run-fork]")?;
    wait_text(b, "linux-ways", "unikernel")?;
    ensure!(
        count(b, "[data-testid=linux-ways] tbody tr")? == 4,
        "four ways side by side"
    );
    let ways = b.text_testid("linux-ways")?;
    ensure!(
        !ways.contains("no"),
        "every way printed what the process printed: {ways}"
    );
    b.screenshot("lab-linux-three-ways")?;
    Ok(())
}

/// The system-call demo: the handler at ring 0 has written the program's bytes; the
/// next step's IRET is back at ring 3 after the `int 0x80`.
fn demo_syscall_emulation(b: &Browser) -> Result<()> {
    open(b, "demo=syscall-emulation&step=3")?;
    wait_text(b, "demo-step-title", "The handler does the call's work")?;
    wait_text(b, "serial-output", "hello through int 0x80")?;
    b.screenshot("demo-syscall-emulation-handler")?;
    b.click_testid("demo-next")?;
    wait_text(b, "demo-step-title", "IRET returns to the program")?;
    wait_text(b, "status", "stopped")?;
    b.screenshot("demo-syscall-emulation-return")?;
    Ok(())
}

/// The JVM panel: an example steps bytecode by bytecode with its frames, then runs to
/// its end under the copying collector and prints what `java` prints on the same
/// class files, with collections counted and moved objects drawn in the heap.
fn jvm_workbench(b: &Browser) -> Result<()> {
    let examples = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../jvm/examples");
    let java = std::process::Command::new("java")
        .arg("-cp")
        .arg(&examples)
        .arg("Garbage")
        .output()
        .context("java runs (the xtask installs openjdk-17-jdk-headless)")?;
    let want = String::from_utf8_lossy(&java.stdout).into_owned();
    ensure!(
        java.status.success() && !want.is_empty(),
        "java ran the example"
    );
    open(b, "")?;
    select(b, "jvm-main", "Garbage")?;
    select(b, "jvm-gc", "copying")?;
    select(b, "jvm-heap-size", "48")?;
    click_centered(b, "[data-testid=jvm-load]")?;
    wait_text(b, "jvm-status", "running: 0 bytecodes")?;
    click_centered(b, "[data-testid=jvm-step]")?;
    wait_text(b, "jvm-status", "running: 1 bytecodes")?;
    let current = js_string(
        b,
        "return document.querySelector('[data-testid=jvm-code] li.current').textContent;",
    )?;
    ensure!(
        current.trim_start().starts_with("2 istore_1"),
        "the current instruction after bipush 7: {current:?}"
    );
    for _ in 0..3 {
        click_centered(b, "[data-testid=jvm-step-100]")?;
    }
    wait_text(b, "jvm-status", "running: 301 bytecodes")?;
    // Step on until the recursive insert is two frames deep.
    for _ in 0..400 {
        if count(b, "[data-testid=jvm-frames] tbody tr")? >= 3 {
            break;
        }
        click_centered(b, "[data-testid=jvm-step]")?;
    }
    let frames = b.text_testid("jvm-frames")?;
    ensure!(
        frames.contains("Garbage.main([Ljava/lang/String;)V"),
        "the frame stack shows main: {frames}"
    );
    ensure!(
        frames.contains("Tree.insert"),
        "the frame stack shows the recursive insert: {frames}"
    );
    b.screenshot("lab-jvm-frames")?;
    jvm_run_to_end(b, &want)?;
    let stats = b.text_testid("jvm-gc-stats")?;
    let collections: u64 = stats
        .lines()
        .find(|l| l.trim_start().starts_with("collections"))
        .and_then(|l| l.split_whitespace().last()?.parse().ok())
        .unwrap_or(0);
    ensure!(collections > 0, "the copying collector ran: {stats}");
    click_centered(b, "[data-testid=jvm-collect]")?;
    b.wait_until("moved objects in the heap picture", WAIT, |_| {
        Ok(count(b, "[data-testid=jvm-heap] rect[data-kind=moved]")? > 0)
    })?;
    b.screenshot("lab-jvm-heap")?;
    Ok(())
}

/// Runs the JVM panel's program to its end; its output must be `want` (java's).
fn jvm_run_to_end(b: &Browser, want: &str) -> Result<()> {
    click_centered(b, "[data-testid=jvm-run]")?;
    wait_text(b, "jvm-status", "finished after")?;
    let out = b.text_testid("jvm-stdout")?;
    ensure!(
        out.trim() == want.trim(),
        "the panel printed {out:?}, java {want:?}"
    );
    Ok(())
}

/// Hands `bytes` to the file input `id` as a file named `name`.
pub(crate) fn pick_file(b: &Browser, id: &str, name: &str, bytes: &[u8]) -> Result<()> {
    b.execute(
        "const input = document.querySelector(arguments[2]);
         const dt = new DataTransfer();
         dt.items.add(new File([new Uint8Array(arguments[0])], arguments[1]));
         input.files = dt.files;
         input.dispatchEvent(new Event('change', { bubbles: true }));",
        vec![json!(bytes), json!(name), json!(tid(id))],
    )?;
    Ok(())
}

/// Class files picked in the JVM panel: javac's output for a test program runs and
/// prints what `java` prints; a truncated class file is refused with its offset.
fn jvm_own_class_files(b: &Browser) -> Result<()> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let dir = root.join("target/jvm-browser-classes");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir)?;
    let javac = std::process::Command::new("javac")
        .arg("-d")
        .arg(&dir)
        .arg(root.join("jvm/java/Arith.java"))
        .status()
        .context("javac runs (the xtask installs openjdk-17-jdk-headless)")?;
    ensure!(javac.success(), "javac compiled Arith.java");
    let java = std::process::Command::new("java")
        .arg("-cp")
        .arg(&dir)
        .arg("Arith")
        .output()?;
    let want = String::from_utf8_lossy(&java.stdout).into_owned();
    let bytes = std::fs::read(dir.join("Arith.class"))?;
    open(b, "")?;
    b.wait_for(&tid("jvm-files"))?;
    pick_file(b, "jvm-files", "Arith.class", &bytes)?;
    b.wait_until("Arith offered as the program", WAIT, |_| {
        Ok(js_string(
            b,
            "return document.querySelector('[data-testid=jvm-main]').value;",
        )? == "Arith")
    })?;
    click_centered(b, "[data-testid=jvm-load]")?;
    wait_text(b, "jvm-status", "running: 0 bytecodes")?;
    jvm_run_to_end(b, &want)?;
    b.screenshot("lab-jvm-own-class")?;
    pick_file(b, "jvm-files", "Broken.class", &bytes[..100])?;
    wait_text(b, "jvm-error", "Broken.class: offset")?;
    Ok(())
}

/// A lab's file from the repository (the page-tables lab's starter and reference).
pub(crate) fn lab_file(lab: &str, file: &str) -> Result<String> {
    let path = crate::workspace_root()
        .join("assignments/labs")
        .join(lab)
        .join(file);
    std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))
}

pub(crate) fn editor_text(b: &Browser) -> Result<String> {
    js_string(
        b,
        "return document.querySelector('[data-testid=editor-text]').value;",
    )
}

/// Makes a share link and returns the URL's hash.
fn share_hash(b: &Browser) -> Result<String> {
    b.click_testid("btn-share")?;
    let mut hash = String::new();
    b.wait_until("a share link in the URL", WAIT, |_| {
        hash = js_string(b, "return location.hash;")?;
        Ok(hash.contains("p="))
    })?;
    Ok(hash)
}

/// The points of a lab's visible tests, from its test file.
pub(crate) fn visible_points(lab: &str) -> Result<f64> {
    let text = lab_file(lab, "tests/visible.toml")?;
    let mut sum = 0.0;
    for line in text.lines() {
        if let Some(v) = line.trim().strip_prefix("points = ") {
            sum += v.parse::<f64>().context("points")?;
        }
    }
    Ok(sum)
}

/// The `a / b` score a component lab's results block shows.
pub(crate) fn shown_score(b: &Browser, id: &str) -> Result<(f64, f64)> {
    let text = b.text_testid(id)?;
    let (_, nums) = text.rsplit_once(": ").context("a score")?;
    let (got, max) = nums.split_once(" / ").context("a score")?;
    Ok((got.trim().parse()?, max.trim().parse()?))
}

/// A component lab's editor holds its Rust starter (the starter's line with `marker`),
/// and "Run visible tests" says the Rust is graded natively.
pub(crate) fn rust_starter_graded_natively(b: &Browser, lab: &str, marker: &str) -> Result<()> {
    let starter = lab_file(lab, "starter.rs")?;
    let first = starter.lines().find(|l| l.contains(marker)).unwrap_or("?");
    ensure!(
        editor_text(b)?.contains(first),
        "the editor holds the Rust starter"
    );
    run_lab_tests(b)?;
    wait_text(b, "lab-results", "graded natively")?;
    Ok(())
}

/// Opens the lab page with an empty local storage (no drafts) and opens `lab`.
pub(crate) fn fresh_lab(b: &Browser, lab: &str) -> Result<()> {
    b.goto("about:blank")?;
    b.open("/")?;
    b.wait_for(&tid("lab-menu"))?;
    js(b, "localStorage.clear();")?;
    open(b, "")?;
    open_lab(b, lab)
}

/// Opens a lab from the menu and waits for its page.
fn open_lab(b: &Browser, lab: &str) -> Result<()> {
    select(b, "lab-menu", lab)?;
    b.wait_for(&format!("[data-testid=lab-page][data-lab=\"{lab}\"]"))?;
    Ok(())
}

/// Clicks an element after scrolling it to the middle of the window, clear of the
/// sticky toolbar.
pub(crate) fn click_centered(b: &Browser, css: &str) -> Result<()> {
    b.wait_for(css)?;
    b.execute(
        "document.querySelector(arguments[0]).scrollIntoView({ block: 'center' });",
        vec![json!(css)],
    )?;
    b.click(css)
}

pub(crate) fn run_lab_tests(b: &Browser) -> Result<()> {
    click_centered(b, &tid("lab-run-tests"))?;
    b.wait_for_within(&tid("lab-results"), Duration::from_secs(30))?;
    Ok(())
}

/// Opening Lab 2 loads the starter with the statement's registers (EBX, ECX, ESP),
/// so Step runs the lab's code and not the demo open before; "debug this test"
/// loads a test's setup, runs to the end and shows the final tables; an assembler
/// error is reported once, not in every test.
fn lab_debug_this_test(b: &Browser) -> Result<()> {
    open(b, "demo=fetch-decode-execute")?;
    js(b, "localStorage.clear();")?;
    open_lab(b, "page-tables")?;
    wait_reg(b, "ebx", "the lab's setup", |v| v == "00300000")?;
    ensure!(reg(b, "ecx")? == "00000002", "ECX = N = 2");
    ensure!(reg(b, "esp")? == "00090000", "ESP = 0x90000");
    wait_text(b, "lab-setup", "EBX = 00300000")?;
    wait_text(b, "panel-disasm", "n_user")?;
    b.click_testid("btn-step")?;
    wait_reg(b, "eip", "the starter's first instruction", |v| {
        v != "00010000"
    })?;

    set_source(b, &lab_file("page-tables", "solution.asm")?)?;
    run_lab_tests(b)?;
    wait_text(b, "lab-score", "visible tests: 11 / 11")?;
    let debug = b.find_all("[data-testid=lab-debug]")?;
    ensure!(
        debug.len() == count(b, "[data-testid=lab-test]")?,
        "every test has a debug action"
    );
    // The fourth test checks the mapping of 0xC0000000 to 0x100000.
    b.execute(
        "document.querySelector('[data-testid=lab-results]').scrollIntoView();",
        vec![],
    )?;
    b.screenshot("lab-results")?;
    click_centered(b, "[data-testid=lab-debug][data-test=\"3\"]")?;
    wait_text(b, "status", "halted")?;
    wait_text(b, "lab-setup", "Debugging test 4")?;
    ensure!(reg(b, "cr3")? == "00300000", "CR3 = EBX");
    ensure!(reg(b, "ebx")? == "00300000", "EBX as the test set it");
    wait_text(b, "walk-result", "00100123")?;
    ensure!(
        count(b, "[data-testid=guest-tables] [data-testid=pde]")? == 3,
        "three directory entries: identity, 0x40000000 and 0xC0000000"
    );
    b.screenshot("lab-debug-this-test")?;

    set_source(b, "bits 32\norg 0x10000\n    frobnicate eax\n    hlt\n")?;
    run_lab_tests(b)?;
    wait_text(b, "lab-error", "frobnicate")?;
    let shown = js(
        b,
        "return document.querySelector('[data-testid=lab-results]').textContent.split('does not assemble').length - 1;",
    )?;
    ensure!(
        shown == json!(1),
        "the assembler error is shown {shown} times"
    );
    let lines = js(
        b,
        "return document.querySelector('[data-testid=lab-error]').textContent.split('\\n').length;",
    )?;
    ensure!(
        lines.as_u64().is_some_and(|n| n >= 2),
        "the error keeps its line breaks"
    );
    Ok(())
}

/// The line numbers scroll with the text, and clicking an assembler error moves the
/// editor to its line.
fn editor_gutter_scrolls(b: &Browser) -> Result<()> {
    open(b, "")?;
    let mut source = String::from("bits 32\norg 0x10000\n");
    for i in 3..=200 {
        if i == 150 {
            source.push_str("    frobnicate eax\n");
        } else {
            source.push_str(&format!("    mov eax, {i}\n"));
        }
    }
    set_source(b, &source)?;
    b.click_testid("btn-assemble")?;
    b.wait_for("[data-testid=editor-error-line][data-line=\"150\"]")?;
    b.click("[data-testid=editor-error][data-line=\"150\"]")?;
    let aligned = "const g = document.querySelector('[data-testid=editor-gutter]');
        const t = document.querySelector('[data-testid=editor-text]');
        const n = g.children[arguments[0] - 1].getBoundingClientRect();
        const l = document.querySelector('[data-testid=editor-error-line][data-line=\"' + arguments[0] + '\"], [data-testid=editor-line][data-line=\"' + arguments[0] + '\"]').getBoundingClientRect();
        const box = t.getBoundingClientRect();
        return { top: t.scrollTop, gutter: g.scrollTop, delta: Math.abs(n.top - l.top),
                 visible: l.top >= box.top && l.bottom <= box.bottom };";
    let mut last = Value::Null;
    b.wait_until("the error's line in view, numbers in step", WAIT, |_| {
        last = b.execute(aligned, vec![json!(150)])?;
        Ok(last["top"].as_f64().is_some_and(|t| t > 0.0)
            && last["visible"] == json!(true)
            && last["delta"].as_f64().is_some_and(|d| d < 2.0))
    })
    .with_context(|| format!("after clicking the error: {last}"))?;
    b.screenshot("lab-editor-gutter-scrolled")?;
    js(
        b,
        "const g = document.querySelector('[data-testid=editor-gutter]');
         document.querySelector('[data-testid=editor-text]').scrollTop = g.children[59].offsetTop - g.children[0].offsetTop - 100;",
    )?;
    b.wait_until("the gutter to follow a scroll", WAIT, |_| {
        last = b.execute(aligned, vec![json!(60)])?;
        Ok(last["top"] == last["gutter"]
            && last["delta"].as_f64().is_some_and(|d| d < 2.0)
            && last["visible"] == json!(true))
    })
    .with_context(|| format!("after scrolling: {last}"))?;
    // Later tests start from a program that assembles.
    js(b, "localStorage.clear();")?;
    Ok(())
}

/// A share link made with a lab open brings back the program, not the starter, and
/// the visible tests grade it.
fn lab_share_link(b: &Browser) -> Result<()> {
    fresh_lab(b, "page-tables")?;
    let solution = lab_file("page-tables", "solution.asm")?;
    set_source(b, &solution)?;
    let hash = share_hash(b)?;
    ensure!(hash.contains("lab=page-tables"), "hash {hash}");
    // A fresh browser: no draft to fall back on.
    js(b, "localStorage.clear();")?;
    open(b, hash.trim_start_matches('#'))?;
    b.wait_for(&tid("lab-page"))?;
    ensure!(
        editor_text(b)? == solution,
        "the editor shows the shared program"
    );
    wait_reg(b, "ebx", "the lab's setup", |v| v == "00300000")?;
    run_lab_tests(b)?;
    wait_text(b, "lab-score", "visible tests: 11 / 11")?;
    ensure!(
        b.find("[data-testid=lab-test][data-passed=false]")?
            .is_none(),
        "every visible test passes on the shared program"
    );
    Ok(())
}

/// Work on a lab is kept as a draft: choosing the lab again brings it back, and the
/// starter replaces it only after the student confirms.
fn lab_draft(b: &Browser) -> Result<()> {
    fresh_lab(b, "page-tables")?;
    let starter = lab_file("page-tables", "starter.asm")?;
    ensure!(
        editor_text(b)? == starter,
        "a first visit opens the starter"
    );
    ensure!(b.find(&tid("lab-draft"))?.is_none(), "no draft yet");
    let mine = format!("{starter}; my own work\n");
    set_source(b, &mine)?;
    open_lab(b, "asm-warmup")?;
    ensure!(
        editor_text(b)? == lab_file("asm-warmup", "starter.asm")?,
        "another lab opens with its own starter"
    );
    open_lab(b, "page-tables")?;
    ensure!(editor_text(b)? == mine, "the draft came back");
    b.wait_for(&tid("lab-draft"))?;
    // After a reload too.
    open(b, "")?;
    open_lab(b, "page-tables")?;
    ensure!(editor_text(b)? == mine, "the draft survived a reload");
    b.click_testid("lab-starter")?;
    b.click_testid("lab-starter-cancel")?;
    ensure!(editor_text(b)? == mine, "cancel keeps the draft");
    b.click_testid("lab-starter")?;
    b.screenshot("lab-draft-confirm")?;
    b.click_testid("lab-starter-confirm")?;
    b.wait_until("the starter", WAIT, |_| Ok(editor_text(b)? == starter))?;
    ensure!(
        b.find(&tid("lab-draft"))?.is_none(),
        "the draft notice is gone"
    );
    Ok(())
}

/// No horizontal overflow and no control cut off at 1024×768 (a lab open) and in
/// presentation mode at 1280×720; the editor grows with the window; at 1280 the
/// disassembly's source and memory's ASCII need no horizontal scrolling.
fn layout(b: &Browser) -> Result<()> {
    let result = layout_checks(b);
    let restore = b.set_viewport(1280, 800);
    result.and(restore)
}

fn overflow(b: &Browser) -> Result<Value> {
    js(
        b,
        "const d = document.documentElement;
         const cut = [...document.querySelectorAll('header.top select, header.top label, nav.controls button, nav.controls select, [data-testid=lab-page] button')]
            .filter(e => { const r = e.getBoundingClientRect(); return r.width > 0 && (r.right > d.clientWidth + 0.5 || r.left < 0); })
            .map(e => e.dataset.testid || e.textContent.trim());
         return { scroll: d.scrollWidth, client: d.clientWidth, cut };",
    )
}

fn no_overflow(b: &Browser, what: &str) -> Result<()> {
    let o = overflow(b)?;
    ensure!(
        o["scroll"].as_f64() <= o["client"].as_f64(),
        "{what}: the page is {} px wide in a {} px window",
        o["scroll"],
        o["client"]
    );
    ensure!(
        o["cut"].as_array().is_some_and(Vec::is_empty),
        "{what}: controls cut off: {}",
        o["cut"]
    );
    Ok(())
}

fn editor_height(b: &Browser) -> Result<f64> {
    Ok(js(
        b,
        "return document.querySelector('[data-testid=editor-text]').getBoundingClientRect().height;",
    )?
    .as_f64()
    .unwrap_or(0.0))
}

fn layout_checks(b: &Browser) -> Result<()> {
    b.set_viewport(1024, 768)?;
    open(b, "demo=page-walk&step=5")?;
    js(b, "localStorage.clear();")?;
    open_lab(b, "page-tables")?;
    wait_reg(b, "ebx", "the lab's setup", |v| v == "00300000")?;
    no_overflow(b, "1024x768")?;
    b.screenshot("layout-1024x768")?;
    let small = editor_height(b)?;

    b.set_viewport(1280, 720)?;
    open(b, "demo=fetch-decode-execute")?;
    wait_text(b, "panel-disasm", "mov esp")?;
    for (panel, column) in [
        ("panel-disasm", "disasm-src"),
        ("panel-memory", "memory-rows"),
    ] {
        let fits = js(
            b,
            &format!(
                "const p = document.querySelector('[data-testid={panel}]');
                 const c = document.querySelector('[data-testid={column}]');
                 return p.scrollWidth <= p.clientWidth && c.getBoundingClientRect().right <= p.getBoundingClientRect().right;"
            ),
        )?;
        ensure!(fits == json!(true), "{panel} scrolls sideways at 1280x720");
    }
    // Presentation mode without a demo keeps the header and the menus; with a demo
    // open it shows only the step's panels (`lab_demo_focus_1280x720`).
    b.click_testid("demo-close")?;
    b.wait_until("the demo to close", WAIT, |s| {
        Ok(s.find("[data-testid=demo-narration]")?.is_none())
    })?;
    b.click_testid("btn-presentation")?;
    b.wait_for(".lab.presentation")?;
    no_overflow(b, "presentation at 1280x720")?;
    ensure!(
        js(
            b,
            "const p = document.querySelector('[data-testid=panel-disasm]'); return p.scrollWidth <= p.clientWidth;"
        )? == json!(true),
        "the disassembly scrolls sideways in presentation mode"
    );
    let tagline = js(
        b,
        "return document.querySelector('header.top .tagline').getBoundingClientRect().width;",
    )?;
    ensure!(
        tagline.as_f64().is_some_and(|w| w > 300.0),
        "the tagline is squeezed into {tagline} px"
    );
    b.screenshot("layout-presentation-1280x720")?;
    b.click_testid("btn-presentation")?;
    b.wait_until("normal view", WAIT, |s| {
        Ok(s.find(".lab.presentation")?.is_none())
    })?;
    let lower = editor_height(b)?;
    ensure!(
        (small - lower - 48.0).abs() < 2.0,
        "the editor does not follow the window's height: {small} px at 768, {lower} px at 720"
    );
    Ok(())
}
