//! Random instruction streams under the VMM: in every VMM mode the machine never
//! panics, `run(budget)` retires at most `budget` instructions, and a snapshot
//! taken mid-stream continues exactly as the original run did (the VMM's state,
//! its shadow tables included, is part of the snapshot).
//!
//! Each stream starts in flat protected mode (so trap-and-emulate deprivileges
//! it at once) with a guest IDT whose gates point into the random code, and
//! over-represents privileged, sensitive and control-transfer opcodes.
//! `VMLAB_VMM_FUZZ_ITERS=N` runs `N` streams per mode instead of the default.

use std::panic::{catch_unwind, AssertUnwindSafe};

use emulator_core::{
    ExecMode, FlatEntry, GuestPaging, GuestRing, Machine, MachineConfig, StopReason,
};

const DEFAULT_ITERS: u64 = 150;
const BUDGET: u64 = 400;
const CODE: u32 = 0x10000;
const CODE_LEN: usize = 0x2000;
const IDT: u32 = 0x8000;

struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1)
    }
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// Instruction encodings the VMM handles: privileged, sensitive, transfers, I/O.
const PIECES: &[&[u8]] = &[
    &[0xfa],                   // cli
    &[0xfb],                   // sti
    &[0xf4],                   // hlt
    &[0x9c],                   // pushf
    &[0x9d],                   // popf
    &[0xcf],                   // iret
    &[0xcb],                   // retf
    &[0xcd, 0x30],             // int 0x30
    &[0xcc],                   // int3
    &[0xe4, 0x80],             // in al, 0x80
    &[0xe6, 0x80],             // out 0x80, al
    &[0xee],                   // out dx, al
    &[0x6e],                   // outsb
    &[0xf3, 0x6c],             // rep insb
    &[0x0f, 0x20, 0xc0],       // mov eax, cr0
    &[0x0f, 0x22, 0xc0],       // mov cr0, eax
    &[0x0f, 0x22, 0xd8],       // mov cr3, eax
    &[0x0f, 0x22, 0xe0],       // mov cr4, eax
    &[0x0f, 0x20, 0xd0],       // mov eax, cr2
    &[0x0f, 0x01, 0x38],       // invlpg [eax]
    &[0x0f, 0x01, 0x10],       // lgdt [eax]
    &[0x0f, 0x01, 0x18],       // lidt [eax]
    &[0x0f, 0x01, 0x00],       // sgdt [eax]
    &[0x0f, 0x01, 0x08],       // sidt [eax]
    &[0x0f, 0x01, 0xe0],       // smsw eax
    &[0x0f, 0x01, 0xf0],       // lmsw ax
    &[0x0f, 0x00, 0xd8],       // ltr ax
    &[0x0f, 0x00, 0xd0],       // lldt ax
    &[0x0f, 0x00, 0xc8],       // str ax
    &[0x0f, 0x02, 0xc0],       // lar eax, eax
    &[0x0f, 0x06],             // clts
    &[0x0f, 0x09],             // wbinvd
    &[0x0f, 0x31],             // rdtsc
    &[0x0f, 0xa2],             // cpuid
    &[0x0f, 0x01, 0xc1],       // vmcall
    &[0x8e, 0xd8],             // mov ds, ax
    &[0x8e, 0xd0],             // mov ss, ax
    &[0x1f],                   // pop ds
    &[0x8c, 0xc8],             // mov ax, cs
    &[0xea, 0, 0, 1, 0, 8, 0], // jmp 0x08:0x10000
    &[0xb8, 0x10, 0, 0, 0],    // mov eax, 0x10
    &[0xb8, 0x00, 0x90, 0, 0], // mov eax, 0x9000
    &[0x50],                   // push eax
    &[0x6a, 0x08],             // push 8
    &[0x31, 0xc0],             // xor eax, eax
];

fn code(rng: &mut Rng) -> Vec<u8> {
    let mut c = Vec::with_capacity(CODE_LEN);
    while c.len() < CODE_LEN - 16 {
        if rng.below(4) == 0 {
            c.push(rng.next() as u8);
        } else {
            let p = PIECES[rng.below(PIECES.len() as u64) as usize];
            c.extend_from_slice(p);
        }
    }
    c.resize(CODE_LEN, 0x90);
    c
}

fn machine(mode: ExecMode, seed: u64) -> Machine {
    let mut rng = Rng::new(seed);
    let mut m = Machine::new(MachineConfig {
        ram_mib: 2,
        mode,
        event_capacity: 256,
        serial_capacity: 4096,
        ..MachineConfig::default()
    })
    .expect("machine");
    m.load_flat(CODE, &code(&mut rng), FlatEntry::Protected32)
        .expect("code fits");
    let mut idt = Vec::with_capacity(256 * 8);
    for _ in 0..256 {
        let target = CODE + rng.below(CODE_LEN as u64) as u32;
        let kind: u8 = if rng.below(4) == 0 { 0x8f } else { 0xee };
        idt.extend_from_slice(&(target as u16).to_le_bytes());
        idt.extend_from_slice(&0x08u16.to_le_bytes());
        idt.push(0);
        idt.push(kind);
        idt.extend_from_slice(&((target >> 16) as u16).to_le_bytes());
    }
    m.write_phys(IDT, &idt).expect("IDT fits");
    let cpu = m.cpu_mut();
    cpu.idtr.base = IDT;
    cpu.idtr.limit = 256 * 8 - 1;
    for g in cpu.gpr.iter_mut().take(4) {
        *g = (rng.next() as u32) & 0x001f_fffc;
    }
    m
}

fn stream(mode: ExecMode, seed: u64) {
    let mut m = machine(mode, seed);
    let mut snap = None;
    for i in 0..3 {
        let before = m.icount();
        let stop = m.run(BUDGET);
        assert!(
            m.icount() - before <= BUDGET,
            "seed {seed} {mode:?}: retired more than the budget"
        );
        if i == 0 {
            snap = Some((m.snapshot(), stop));
        }
        if stop != StopReason::BudgetExhausted {
            break;
        }
    }
    // replay from the snapshot: the same state after the same budget
    let (s, first_stop) = snap.expect("a snapshot");
    if first_stop == StopReason::BudgetExhausted {
        let mut a = machine(mode, seed);
        a.restore(&s).expect("restore");
        let mut b = machine(mode, seed);
        b.restore(&s).expect("restore");
        let (ra, rb) = (a.run(BUDGET), b.run(BUDGET));
        assert_eq!(ra, rb, "seed {seed} {mode:?}");
        assert_eq!(a.cpu(), b.cpu(), "seed {seed} {mode:?}: replay diverged");
        assert_eq!(
            a.vmm().map(|v| v.exits.total),
            b.vmm().map(|v| v.exits.total)
        );
    }
}

#[test]
fn random_streams_never_panic_under_any_vmm() {
    let iters = std::env::var("VMLAB_VMM_FUZZ_ITERS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(DEFAULT_ITERS);
    let modes = [
        ExecMode::TRAP_EMULATE,
        ExecMode::TrapEmulate {
            guest_ring: GuestRing::Ring3,
        },
        ExecMode::HwAssist {
            paging: GuestPaging::Nested,
        },
        ExecMode::HwAssist {
            paging: GuestPaging::Shadow,
        },
    ];
    let mut failures = Vec::new();
    for mode in modes {
        for seed in 0..iters {
            if let Err(e) = catch_unwind(AssertUnwindSafe(|| stream(mode, seed))) {
                let msg = e
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_default();
                failures.push(format!("{mode:?} seed {seed}: {msg}"));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
