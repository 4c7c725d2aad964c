//! Page-delta checkpoints (`History`) against whole-machine snapshots, and runs that
//! stop on a trap.

use emulator_core::{
    FlatEntry, History, HistoryLimits, Machine, MachineConfig, Snapshot, StopReason,
};

fn assemble(src: &str) -> Vec<u8> {
    match vmlab_asm::assemble("test.asm", src, &vmlab_asm::Options::default()) {
        Ok(o) => o.bytes,
        Err(e) => panic!("the test guest does not assemble:\n{e}"),
    }
}

/// Writes a counter to 64 pages in turn and a byte of it to 64 others (a dword store
/// that the fast tier runs, a byte store that the interpreter runs), then halts.
const WRITER: &str = "bits 32
org 0x10000
    xor ecx, ecx
again:
    mov ebx, ecx
    and ebx, 0x3f
    shl ebx, 12
    mov [ebx + 0x100000], ecx
    mov [ebx + 0x140ffd], cl
    inc ecx
    cmp ecx, 50000
    jne again
    hlt
";

fn machine(src: &str, origin: u32, entry: FlatEntry) -> Machine {
    let mut m = Machine::new(MachineConfig {
        ram_mib: 4,
        ..MachineConfig::default()
    })
    .expect("machine");
    m.load_flat(origin, &assemble(src), entry).expect("loads");
    m
}

const ROOMY: HistoryLimits = HistoryLimits {
    checkpoints: 1000,
    page_bytes: 64 << 20,
};

/// Runs the writer with a checkpoint every `every` instructions; returns the machine,
/// its history and a whole snapshot taken at each checkpoint.
fn recorded(every: u64, limits: HistoryLimits) -> (Machine, History, Vec<Snapshot>) {
    let mut m = machine(WRITER, 0x10000, FlatEntry::Protected32);
    let mut h = History::new(&mut m, limits);
    let mut whole = vec![m.snapshot()];
    loop {
        let r = m.run(every);
        h.record(&mut m);
        whole.push(m.snapshot());
        if r != StopReason::BudgetExhausted {
            assert_eq!(r, StopReason::Halted);
            break;
        }
    }
    (m, h, whole)
}

#[test]
fn restoring_any_checkpoint_in_any_order_gives_the_machine_as_it_was() {
    let (mut m, mut h, whole) = recorded(7_000, ROOMY);
    assert_eq!(h.icounts().len(), whole.len());
    for i in [3, 0, whole.len() - 1, 1, 5, 4, whole.len() - 2, 2] {
        h.restore(&mut m, i).expect("restores");
        assert_eq!(m.snapshot(), whole[i], "checkpoint {i}");
    }
    // From a restored checkpoint the machine runs on to the same next one.
    h.restore(&mut m, 2).expect("restores");
    m.run(7_000);
    assert_eq!(m.snapshot(), whole[3]);
    // Restoring after that run puts back the pages it wrote.
    h.restore(&mut m, 1).expect("restores");
    assert_eq!(m.snapshot(), whole[1]);
    assert!(h.restore(&mut m, whole.len()).is_err());
}

#[test]
fn checkpoints_hold_only_the_pages_written() {
    let (_, h, whole) = recorded(7_000, ROOMY);
    let ram = whole[0].ram().len();
    // The first holds all of RAM; each later one the code/stack pages and at most 128
    // data pages, far less than a copy of RAM each.
    assert!(h.page_bytes() >= ram);
    assert!(
        h.page_bytes() < ram + (whole.len() - 1) * 134 * 4096,
        "{} bytes for {} checkpoints",
        h.page_bytes(),
        whole.len()
    );
}

#[test]
fn limits_drop_the_oldest_checkpoints_and_the_rest_still_restore() {
    let (mut m, mut h, whole) = recorded(
        5_000,
        HistoryLimits {
            checkpoints: 4,
            page_bytes: 64 << 20,
        },
    );
    let icounts: Vec<u64> = h.icounts().collect();
    assert_eq!(icounts.len(), 4);
    let first = whole.len() - 4;
    assert_eq!(h.oldest_icount(), whole[first].icount());
    for i in [0, 3, 1, 2] {
        h.restore(&mut m, i).expect("restores");
        assert_eq!(m.snapshot(), whole[first + i], "checkpoint {i}");
    }
    assert_eq!(h.at_or_before(whole[first + 2].icount() + 1), Some(2));
    assert_eq!(h.at_or_before(0), None);
}

#[test]
fn recording_after_a_restore_drops_the_later_checkpoints() {
    let (mut m, mut h, whole) = recorded(7_000, ROOMY);
    h.restore(&mut m, 2).expect("restores");
    m.run(100);
    h.record(&mut m);
    assert_eq!(h.icounts().len(), 4);
    assert_eq!(h.current(), 3);
    h.restore(&mut m, 2).expect("restores");
    assert_eq!(m.snapshot(), whole[2]);
}

/// Real mode: INT 0x30 five times (the handler counts in DX), then HLT.
const INTS: &str = "bits 16
org 0x7c00
    xor ax, ax
    mov ds, ax
    mov word [0x30*4], handler
    mov word [0x30*4+2], 0
    mov cx, 5
again:
    int 0x30
    loop again
    hlt
handler:
    inc dx
    iret
";

#[test]
fn a_run_stops_after_each_trap_when_asked() {
    let mut m = machine(INTS, 0x7c00, FlatEntry::Real16);
    assert_eq!(m.run(10_000), StopReason::Halted, "no stop unless asked");

    let mut m = machine(INTS, 0x7c00, FlatEntry::Real16);
    m.set_stop_on_trap(true);
    let dx = m.cpu().gpr[2] & 0xffff;
    let handler = 0x7c00 + assemble(INTS).len() as u32 - 2;
    for n in 1..=5 {
        assert_eq!(m.run(10_000), StopReason::Trap, "trap {n}");
        assert_eq!(m.cpu().eip, handler, "stands at the handler");
        assert_eq!(
            m.cpu().gpr[2] & 0xffff,
            dx + n - 1,
            "DX before the handler ran"
        );
    }
    assert_eq!(m.run(10_000), StopReason::Halted);
    assert_eq!(m.cpu().gpr[2] & 0xffff, dx + 5);
}
