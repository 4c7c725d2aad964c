//! The architectural CPU state as plain data: registers, flags, segments, control registers.
//!
//! Nothing here caches or counts; a test compares two `CpuState`s whole and a
//! snapshot serializes one as is.

use serde::{Deserialize, Serialize};

/// General-purpose register numbers in the SDM's encoding order.
#[allow(missing_docs)]
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[repr(u8)]
pub enum Gpr {
    Eax = 0,
    Ecx = 1,
    Edx = 2,
    Ebx = 3,
    Esp = 4,
    Ebp = 5,
    Esi = 6,
    Edi = 7,
}

/// Segment register numbers in the SDM's encoding order.
#[allow(missing_docs)]
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[repr(u8)]
pub enum SegReg {
    Es = 0,
    Cs = 1,
    Ss = 2,
    Ds = 3,
    Fs = 4,
    Gs = 5,
}

impl SegReg {
    /// All six, in encoding order.
    pub const ALL: [SegReg; 6] = [
        SegReg::Es,
        SegReg::Cs,
        SegReg::Ss,
        SegReg::Ds,
        SegReg::Fs,
        SegReg::Gs,
    ];
    /// The assembler name (`es`, `cs`, …).
    pub const fn name(self) -> &'static str {
        match self {
            SegReg::Es => "es",
            SegReg::Cs => "cs",
            SegReg::Ss => "ss",
            SegReg::Ds => "ds",
            SegReg::Fs => "fs",
            SegReg::Gs => "gs",
        }
    }
}

/// EFLAGS bits (SDM vol. 1, 3.4.3).
pub mod flags {
    /// Carry.
    pub const CF: u32 = 1 << 0;
    /// Always 1.
    pub const RESERVED1: u32 = 1 << 1;
    /// Parity (of the low byte of the result).
    pub const PF: u32 = 1 << 2;
    /// Auxiliary carry (BCD).
    pub const AF: u32 = 1 << 4;
    /// Zero.
    pub const ZF: u32 = 1 << 6;
    /// Sign.
    pub const SF: u32 = 1 << 7;
    /// Trap (single step).
    pub const TF: u32 = 1 << 8;
    /// Interrupt enable.
    pub const IF: u32 = 1 << 9;
    /// Direction.
    pub const DF: u32 = 1 << 10;
    /// Overflow.
    pub const OF: u32 = 1 << 11;
    /// I/O privilege level (two bits).
    pub const IOPL: u32 = 3 << 12;
    /// Nested task.
    pub const NT: u32 = 1 << 14;
    /// Resume.
    pub const RF: u32 = 1 << 16;
    /// Virtual-8086 mode.
    pub const VM: u32 = 1 << 17;
    /// Alignment check.
    pub const AC: u32 = 1 << 18;
    /// Virtual interrupt flag.
    pub const VIF: u32 = 1 << 19;
    /// Virtual interrupt pending.
    pub const VIP: u32 = 1 << 20;
    /// CPUID is available when software can toggle this bit.
    pub const ID: u32 = 1 << 21;
    /// The six arithmetic status flags.
    pub const STATUS: u32 = CF | PF | AF | ZF | SF | OF;
}

/// CR0 bits.
pub mod cr0 {
    /// Protection enable.
    pub const PE: u32 = 1 << 0;
    /// Monitor coprocessor.
    pub const MP: u32 = 1 << 1;
    /// FPU emulation.
    pub const EM: u32 = 1 << 2;
    /// Task switched.
    pub const TS: u32 = 1 << 3;
    /// Extension type (always 1 on i486+).
    pub const ET: u32 = 1 << 4;
    /// Numeric error.
    pub const NE: u32 = 1 << 5;
    /// Write protect (supervisor writes honour R/W).
    pub const WP: u32 = 1 << 16;
    /// Alignment mask.
    pub const AM: u32 = 1 << 18;
    /// Not write-through.
    pub const NW: u32 = 1 << 29;
    /// Cache disable.
    pub const CD: u32 = 1 << 30;
    /// Paging.
    pub const PG: u32 = 1 << 31;
}

/// CR4 bits the machine implements.
pub mod cr4 {
    /// Virtual-8086 mode extensions.
    pub const VME: u32 = 1 << 0;
    /// Protected-mode virtual interrupts.
    pub const PVI: u32 = 1 << 1;
    /// Time stamp disable (RDTSC privileged).
    pub const TSD: u32 = 1 << 2;
    /// Debugging extensions.
    pub const DE: u32 = 1 << 3;
    /// Page size extension (4 MiB pages).
    pub const PSE: u32 = 1 << 4;
    /// Page global enable.
    pub const PGE: u32 = 1 << 7;
}

/// A segment register: the visible selector and the hidden descriptor cache.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default, Serialize, Deserialize)]
pub struct Segment {
    /// The selector (index, TI, RPL).
    pub selector: u16,
    /// Base linear address.
    pub base: u32,
    /// Effective limit in bytes (granularity already applied).
    pub limit: u32,
    /// Descriptor attributes as in bits 8..23 of the descriptor's high dword:
    /// bits 0..3 type, 4 S, 5..6 DPL, 7 P, 12 AVL, 14 D/B, 15 G.
    pub attrs: u16,
}

impl Segment {
    /// A real-mode segment for `selector` (base = selector × 16, 64 KiB limit, data RW).
    pub const fn real_mode(selector: u16) -> Self {
        Segment {
            selector,
            base: (selector as u32) << 4,
            limit: 0xffff,
            attrs: 0x93,
        }
    }
    /// Descriptor privilege level.
    pub const fn dpl(&self) -> u8 {
        ((self.attrs >> 5) & 3) as u8
    }
    /// Present bit.
    pub const fn present(&self) -> bool {
        self.attrs & 0x80 != 0
    }
    /// D/B bit: 32-bit default operand size (code) or 32-bit stack (SS).
    pub const fn big(&self) -> bool {
        self.attrs & 0x4000 != 0
    }
}

/// GDTR or IDTR.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default, Serialize, Deserialize)]
pub struct TableReg {
    /// Linear base address.
    pub base: u32,
    /// Limit in bytes.
    pub limit: u16,
}

/// The whole architectural state of the CPU.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct CpuState {
    /// EAX, ECX, EDX, EBX, ESP, EBP, ESI, EDI (index with [`Gpr`]).
    pub gpr: [u32; 8],
    /// Instruction pointer (offset in CS).
    pub eip: u32,
    /// EFLAGS, fully materialised.
    pub eflags: u32,
    /// ES, CS, SS, DS, FS, GS (index with [`SegReg`]).
    pub seg: [Segment; 6],
    /// Global descriptor table register.
    pub gdtr: TableReg,
    /// Interrupt descriptor table register.
    pub idtr: TableReg,
    /// Local descriptor table register (selector and cached descriptor).
    pub ldtr: Segment,
    /// Task register (selector and cached descriptor).
    pub tr: Segment,
    /// CR0.
    pub cr0: u32,
    /// CR2: the linear address of the last page fault.
    pub cr2: u32,
    /// CR3: the page directory base.
    pub cr3: u32,
    /// CR4.
    pub cr4: u32,
    /// DR0–DR7 (DR4/DR5 alias DR6/DR7).
    pub dr: [u32; 8],
    /// Current privilege level.
    pub cpl: u8,
    /// Waiting in HLT for an interrupt.
    pub halted: bool,
    /// Interrupts are inhibited for one instruction (after STI or MOV/POP SS).
    pub interrupt_shadow: bool,
    /// Time stamp counter (derived from retired instructions; virtual time).
    pub tsc: u64,
    /// The x87 FPU.
    #[serde(default)]
    pub fpu: crate::cpu::x87::Fpu,
}

impl CpuState {
    /// The state after RESET (SDM vol. 3, 9.1.1): CS:EIP = F000:FFF0 with CS base FFFF0000.
    pub fn reset() -> Self {
        let mut seg = [Segment::real_mode(0); 6];
        seg[SegReg::Cs as usize] = Segment {
            selector: 0xf000,
            base: 0xffff_0000,
            limit: 0xffff,
            attrs: 0x9b,
        };
        CpuState {
            gpr: [0, 0, 0x0000_0400, 0, 0, 0, 0, 0], // EDX = family 4 signature
            eip: 0xfff0,
            eflags: flags::RESERVED1,
            seg,
            gdtr: TableReg {
                base: 0,
                limit: 0xffff,
            },
            idtr: TableReg {
                base: 0,
                limit: 0x3ff,
            },
            ldtr: Segment {
                selector: 0,
                base: 0,
                limit: 0xffff,
                attrs: 0x82,
            },
            tr: Segment {
                selector: 0,
                base: 0,
                limit: 0xffff,
                attrs: 0x8b,
            },
            cr0: cr0::ET | cr0::CD | cr0::NW,
            cr2: 0,
            cr3: 0,
            cr4: 0,
            dr: [0, 0, 0, 0, 0xffff_0ff0, 0x400, 0xffff_0ff0, 0x400],
            cpl: 0,
            halted: false,
            interrupt_shadow: false,
            tsc: 0,
            fpu: crate::cpu::x87::Fpu::reset(),
        }
    }
    /// A general-purpose register.
    #[inline]
    pub fn reg(&self, r: Gpr) -> u32 {
        self.gpr[r as usize]
    }
    /// A segment register.
    #[inline]
    pub fn sreg(&self, s: SegReg) -> &Segment {
        &self.seg[s as usize]
    }
    /// Protected mode (CR0.PE).
    #[inline]
    pub fn protected_mode(&self) -> bool {
        self.cr0 & cr0::PE != 0
    }
    /// Paging enabled (CR0.PG).
    #[inline]
    pub fn paging(&self) -> bool {
        self.cr0 & cr0::PG != 0
    }
    /// Virtual-8086 mode (EFLAGS.VM).
    #[inline]
    pub fn v86(&self) -> bool {
        self.eflags & flags::VM != 0
    }
    /// I/O privilege level.
    #[inline]
    pub fn iopl(&self) -> u8 {
        ((self.eflags >> 12) & 3) as u8
    }
}

impl Default for CpuState {
    fn default() -> Self {
        Self::reset()
    }
}
