//! The dirty log and the touch log against the pages a guest is known to write and
//! read, with the fast tier on and off.

use std::collections::BTreeSet;

use emulator_core::{FlatEntry, Machine, MachineConfig, StopReason};

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

fn machine(fast: bool) -> Machine {
    let bytes = vmlab_asm::assemble("w.asm", WRITER, &vmlab_asm::Options::default())
        .expect("assembles")
        .bytes;
    let mut m = Machine::new(MachineConfig {
        ram_mib: 4,
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
