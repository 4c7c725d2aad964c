//! The dirty log and the touch log against the pages a guest is known to write and
//! read, with the fast tier on and off.

use std::collections::BTreeSet;

use emulator_core::vmm::exit::ExitReason;
use emulator_core::{ExecMode, FlatEntry, GuestPaging, Machine, MachineConfig, StopReason};

/// Writes a dword to page 0x100 + (i mod 16) and a byte to page 0x140 + (i mod 16),
/// reads page 0x200, `ITER` times, then halts.
const WRITER: &str = "bits 32
org 0x10000
    xor ecx, ecx
again:
    mov ebx, ecx
    and ebx, 0xf
    shl ebx, 12
    mov [ebx + 0x100000], ecx
    mov [ebx + 0x140ffd], cl
    mov eax, [0x200000]
    inc ecx
    cmp ecx, 4000
    jne again
    hlt
";

/// [`WRITER`] with paging on: an identity map of the first 4 MiB (directory at
/// 0x80000, table at 0x81000) first.
fn paged_writer() -> String {
    let body = WRITER.replace("bits 32\norg 0x10000\n", "");
    format!(
        "bits 32
org 0x10000
    mov edi, 0x81000
    mov eax, 0x003
    mov ecx, 1024
map:
    mov [edi], eax
    add eax, 0x1000
    add edi, 4
    loop map
    mov dword [0x80000], 0x81003
    mov eax, 0x80000
    mov cr3, eax
    mov eax, cr0
    or eax, 0x80000000
    mov cr0, eax
{body}"
    )
}

fn machine(fast: bool) -> Machine {
    machine_in(ExecMode::Bare, fast, WRITER)
}

fn machine_in(mode: ExecMode, fast: bool, src: &str) -> Machine {
    let bytes = vmlab_asm::assemble("w.asm", src, &vmlab_asm::Options::default())
        .expect("assembles")
        .bytes;
    let mut m = Machine::new(MachineConfig {
        ram_mib: 4,
        mode,
        ..MachineConfig::default()
    })
    .expect("machine");
    m.set_fast_tier(fast);
    m.load_flat(0x10000, &bytes, FlatEntry::Protected32)
        .expect("loads");
    m
}

#[test]
fn the_dirty_log_holds_exactly_the_pages_written_in_each_round() {
    let written: BTreeSet<u32> = (0..16).flat_map(|k| [0x100 + k, 0x140 + k]).collect();
    for fast in [true, false] {
        let mut m = machine(fast);
        // the loader's own writes come before the log starts
        m.start_dirty_log();
        assert!(m.take_dirty_log().is_empty());
        let mut rounds = 0;
        loop {
            let r = m.run(5_000);
            let log: BTreeSet<u32> = m.take_dirty_log().into_iter().collect();
            if r == StopReason::Halted {
                break;
            }
            assert_eq!(r, StopReason::BudgetExhausted);
            // 5000 instructions are 625 iterations: every one of the 32 pages again
            assert_eq!(log, written, "fast tier {fast}, round {rounds}");
            rounds += 1;
        }
        assert!(rounds >= 4, "{rounds} rounds");
        m.stop_dirty_log();
        m.write_phys(0x300000, &[1]).expect("fits");
        m.start_dirty_log();
        assert!(m.take_dirty_log().is_empty(), "nothing logged while off");
    }
}

#[test]
fn the_touch_log_sees_code_reads_and_writes() {
    let mut m = machine(true);
    m.start_touch_log();
    m.run(1_000);
    let log: BTreeSet<u32> = m.take_touch_log().into_iter().collect();
    assert!(log.contains(&0x10), "code page: {log:x?}");
    assert!(log.contains(&0x200), "page read");
    assert!(
        log.contains(&0x100) && log.contains(&0x140),
        "pages written"
    );
    assert!(!log.contains(&0x300), "untouched page");
}

fn dirty_log_exits(m: &Machine) -> u64 {
    m.vmm()
        .and_then(|v| v.exits.by_reason.get(&ExitReason::DirtyLog).copied())
        .unwrap_or(0)
}

#[test]
fn under_hw_assist_the_first_write_to_each_frame_in_a_round_is_a_dirty_log_exit() {
    let written: BTreeSet<u32> = (0..16).flat_map(|k| [0x100 + k, 0x140 + k]).collect();
    for paging in [GuestPaging::Nested, GuestPaging::Shadow] {
        let mut m = machine_in(ExecMode::HwAssist { paging }, true, &paged_writer());
        m.run(10_000);
        assert_eq!(
            dirty_log_exits(&m),
            0,
            "{paging:?}: none before the log starts"
        );
        m.start_dirty_log();
        for round in 0..4 {
            let before = dirty_log_exits(&m);
            assert_eq!(m.run(5_000), StopReason::BudgetExhausted);
            let log: BTreeSet<u32> = m.take_dirty_log().into_iter().collect();
            assert_eq!(log, written, "{paging:?}, round {round}");
            // one exit per frame written in the round, no more
            assert_eq!(
                dirty_log_exits(&m) - before,
                32,
                "{paging:?}, round {round}"
            );
        }
        m.stop_dirty_log();
        let before = dirty_log_exits(&m);
        m.run(5_000);
        assert_eq!(dirty_log_exits(&m), before, "{paging:?}: none once stopped");
    }
}

#[test]
fn dirty_logging_leaves_the_guest_s_results_unchanged() {
    for mode in [ExecMode::Bare, ExecMode::HW_ASSIST] {
        let mut plain = machine_in(mode, true, &paged_writer());
        let mut logged = machine_in(mode, true, &paged_writer());
        logged.start_dirty_log();
        assert_eq!(plain.run(1_000_000), StopReason::Halted);
        while logged.run(3_000) == StopReason::BudgetExhausted {
            logged.take_dirty_log();
        }
        let (a, b) = (plain.snapshot(), logged.snapshot());
        assert_eq!(a.cpu(), b.cpu(), "{mode:?}");
        assert!(a.ram() == b.ram(), "{mode:?}: RAM differs");
    }
}
