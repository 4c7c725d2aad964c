//! The ring-0 side the process VM builds in guest RAM: a GDT with user and TLS
//! segments, an IDT whose every gate leads to a `hlt` stub the host answers, a TSS
//! with the kernel stack, and the CPU state that enters the program at ring 3.
//!
//! Physical (and linear, mapped one to one for ring 0 only) layout:
//!
//! | address | holds |
//! | --- | --- |
//! | 0x1000 | GDT |
//! | 0x2000 | IDT |
//! | 0x3000 | TSS |
//! | 0x4000 | one 8-byte stub per vector: `hlt`, drop the error code if any, `iret` |
//! | 0x5000 | page directory |
//! | 0x6000–0x8000 | kernel stack |

use emulator_core::descriptor::{attr, system, Descriptor, CODE_ATTRS, DATA_ATTRS};
use emulator_core::state::{cr0, flags};
use emulator_core::{CpuState, Machine, Segment, TableReg};

const GDT: u32 = 0x1000;
const IDT: u32 = 0x2000;
const TSS: u32 = 0x3000;
/// Where the per-vector stubs start.
pub const STUBS: u32 = 0x4000;
const KSTACK_TOP: u32 = 0x8000;
/// Kernel code and data selectors.
const KCODE: u16 = 0x08;
const KDATA: u16 = 0x10;
/// The user code and data selectors (RPL 3).
pub const UCODE: u16 = 0x1b;
/// The user data selector.
pub const UDATA: u16 = 0x23;
const TSS_SEL: u16 = 0x28;
/// The first GDT entry for thread-local storage, as Linux numbers them (6, 7 and 8).
pub const TLS_FIRST: u32 = 6;
/// How many TLS entries there are.
pub const TLS_COUNT: u32 = 3;
const GDT_ENTRIES: u32 = TLS_FIRST + TLS_COUNT;

/// Vectors that push an error code.
const fn has_error_code(v: u32) -> bool {
    matches!(v, 8 | 10..=14 | 17)
}

fn flat(dpl: u16, code: bool) -> u16 {
    attr::GRANULAR | attr::BIG | (dpl << 5) | if code { CODE_ATTRS } else { DATA_ATTRS }
}

/// Writes the GDT, IDT, TSS and stubs into the machine's RAM.
pub fn install(m: &mut Machine) -> Result<(), emulator_core::HostError> {
    let gdt = [
        Descriptor { lo: 0, hi: 0 },
        Descriptor::new_segment(0, 0xfffff, flat(0, true)),
        Descriptor::new_segment(0, 0xfffff, flat(0, false)),
        Descriptor::new_segment(0, 0xfffff, flat(3, true)),
        Descriptor::new_segment(0, 0xfffff, flat(3, false)),
        Descriptor::new_segment(TSS, 0x67, attr::PRESENT | system::TSS32_BUSY as u16),
    ];
    for (i, d) in gdt.iter().enumerate() {
        m.write_phys(GDT + 8 * i as u32, &d.to_u64().to_le_bytes())?;
    }
    for v in 0..256u32 {
        let dpl = if matches!(v, 3 | 4 | 0x80) { 3 } else { 0 };
        let gate = Descriptor::new_gate(system::INTERRUPT_GATE32, KCODE, STUBS + 8 * v, dpl);
        m.write_phys(IDT + 8 * v, &gate.to_u64().to_le_bytes())?;
        // hlt; [add esp, 4;] iret; nop padding
        let stub: [u8; 8] = if has_error_code(v) {
            [0xf4, 0x83, 0xc4, 0x04, 0xcf, 0x90, 0x90, 0x90]
        } else {
            [0xf4, 0xcf, 0x90, 0x90, 0x90, 0x90, 0x90, 0x90]
        };
        m.write_phys(STUBS + 8 * v, &stub)?;
    }
    // TSS: ESP0 at 4, SS0 at 8, the I/O map base past the limit (no port is allowed).
    m.write_phys(TSS + 4, &KSTACK_TOP.to_le_bytes())?;
    m.write_phys(TSS + 8, &(KDATA as u32).to_le_bytes())?;
    m.write_phys(TSS + 0x66, &0x68u16.to_le_bytes())?;
    Ok(())
}

/// Writes TLS entry `index` (TLS_FIRST..) of the GDT.
pub fn set_tls(m: &mut Machine, index: u32, d: Descriptor) -> Result<(), emulator_core::HostError> {
    m.write_phys(GDT + 8 * index, &d.to_u64().to_le_bytes())
}

/// The vector whose stub the CPU halted in, from EIP just past the `hlt`.
pub fn stub_vector(eip: u32) -> Option<u32> {
    let off = eip.checked_sub(STUBS + 1)?;
    (off % 8 == 0 && off / 8 < 256).then_some(off / 8)
}

/// The state at the program's entry: flat ring-3 segments (ring 0 for a program run
/// as a library OS would run it, `ring0`), paging on with the page directory at `dir`,
/// interrupts off, and the FPU as Linux starts a process (FNINIT's state).
pub fn user_entry(entry: u32, esp: u32, dir: u32, ring0: bool) -> CpuState {
    let mut c = CpuState::reset();
    let seg = |selector: u16, attrs: u16| Segment {
        selector,
        base: 0,
        limit: 0xffff_ffff,
        attrs,
    };
    let (code, data, dpl) = if ring0 {
        (KCODE, KDATA, 0)
    } else {
        (UCODE, UDATA, 3)
    };
    c.seg = [seg(data, flat(dpl, false)); 6];
    c.seg[emulator_core::SegReg::Cs as usize] = seg(code, flat(dpl, true));
    let null = Segment {
        selector: 0,
        base: 0,
        limit: 0,
        attrs: 0,
    };
    c.seg[emulator_core::SegReg::Fs as usize] = null;
    c.seg[emulator_core::SegReg::Gs as usize] = null;
    c.gdtr = TableReg {
        base: GDT,
        limit: (8 * GDT_ENTRIES - 1) as u16,
    };
    c.idtr = TableReg {
        base: IDT,
        limit: 0x7ff,
    };
    c.tr = Segment {
        selector: TSS_SEL,
        base: TSS,
        limit: 0x67,
        attrs: attr::PRESENT | system::TSS32_BUSY as u16,
    };
    c.cr0 = cr0::PE | cr0::PG | cr0::ET | cr0::NE | cr0::WP | cr0::MP;
    c.fpu = emulator_core::x87::Fpu::initialized();
    c.cr3 = dir;
    c.cpl = dpl as u8;
    c.eflags = flags::RESERVED1;
    c.eip = entry;
    c.gpr[emulator_core::Gpr::Esp as usize] = esp;
    c.gpr[emulator_core::Gpr::Edx as usize] = 0; // no atexit function from a loader
    c
}

/// Reads the TLS entries of the GDT (saved for a process that is switched out).
pub fn tls(m: &Machine) -> [u64; TLS_COUNT as usize] {
    let mut out = [0u64; TLS_COUNT as usize];
    for (i, d) in out.iter_mut().enumerate() {
        let mut b = [0u8; 8];
        m.peek_phys(GDT + 8 * (TLS_FIRST + i as u32), &mut b);
        *d = u64::from_le_bytes(b);
    }
    out
}

/// Writes back TLS entries saved by [`tls`].
pub fn set_all_tls(
    m: &mut Machine,
    tls: &[u64; TLS_COUNT as usize],
) -> Result<(), emulator_core::HostError> {
    for (i, d) in tls.iter().enumerate() {
        m.write_phys(GDT + 8 * (TLS_FIRST + i as u32), &d.to_le_bytes())?;
    }
    Ok(())
}

/// The bytes on the kernel stack from `esp` up (the trap frame of a process that is
/// switched out while it is in a stub).
pub fn kernel_stack(m: &Machine) -> alloc::vec::Vec<u8> {
    let c = m.cpu();
    let esp = c.gpr[emulator_core::Gpr::Esp as usize];
    if c.cpl != 0 || !(KSTACK_TOP - 0x2000..KSTACK_TOP).contains(&esp) {
        return alloc::vec::Vec::new();
    }
    let mut b = alloc::vec![0u8; (KSTACK_TOP - esp) as usize];
    m.peek_phys(esp, &mut b);
    b
}

/// Puts back a kernel stack saved by [`kernel_stack`].
pub fn set_kernel_stack(m: &mut Machine, bytes: &[u8]) -> Result<(), emulator_core::HostError> {
    m.write_phys(KSTACK_TOP - bytes.len() as u32, bytes)
}

/// The EIP and error code saved on the stack when the CPU entered `vector`'s stub (the
/// kernel stack from ring 3; the program's own stack from ring 0).
pub fn trap_frame(m: &Machine, vector: u32) -> (u32, u32) {
    let esp = m.cpu().gpr[emulator_core::Gpr::Esp as usize];
    let mut b = [0u8; 8];
    let _ = m.peek_linear(esp, &mut b);
    let a = u32::from_le_bytes([b[0], b[1], b[2], b[3]]);
    let c = u32::from_le_bytes([b[4], b[5], b[6], b[7]]);
    if has_error_code(vector) {
        (c, a)
    } else {
        (a, 0)
    }
}
