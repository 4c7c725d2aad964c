//! Segment descriptors: the 8-byte entries of the GDT, LDT and IDT, their named
//! attribute bits, the segment caches they load, and the rule that nulls data
//! segments on a return to an outer ring. Segmentation, task switches,
//! virtual-8086 mode, the fast tier and the VMM all read descriptors here.

use crate::state::Segment;

/// Attribute bits as [`Segment::attrs`] holds them (bits 8..23 of a descriptor's
/// high dword).
pub mod attr {
    /// The four type bits.
    pub const TYPE: u16 = 0xf;
    /// Code or data: accessed.
    pub const ACCESSED: u16 = 1 << 0;
    /// Data: writable; code: readable.
    pub const WRITABLE: u16 = 1 << 1;
    /// Code: readable (the same bit as [`WRITABLE`]).
    pub const READABLE: u16 = WRITABLE;
    /// Data: expand-down.
    pub const EXPAND_DOWN: u16 = 1 << 2;
    /// Code: conforming (the same bit as [`EXPAND_DOWN`]).
    pub const CONFORMING: u16 = EXPAND_DOWN;
    /// A code segment (with [`CODE_OR_DATA`]).
    pub const CODE: u16 = 1 << 3;
    /// S: a code or data segment, not a system descriptor.
    pub const CODE_OR_DATA: u16 = 1 << 4;
    /// The descriptor privilege level (two bits).
    pub const DPL: u16 = 3 << 5;
    /// Present.
    pub const PRESENT: u16 = 1 << 7;
    /// D/B: 32-bit code, or a 32-bit stack.
    pub const BIG: u16 = 1 << 14;
    /// G: the limit counts 4 KiB units.
    pub const GRANULAR: u16 = 1 << 15;
}

/// A present, accessed, readable code segment at DPL 0.
pub const CODE_ATTRS: u16 =
    attr::PRESENT | attr::CODE_OR_DATA | attr::CODE | attr::READABLE | attr::ACCESSED;
/// A present, accessed, writable data segment at DPL 0.
pub const DATA_ATTRS: u16 = attr::PRESENT | attr::CODE_OR_DATA | attr::WRITABLE | attr::ACCESSED;

/// System descriptor types (the type bits with S clear).
pub mod system {
    /// An available 16-bit TSS.
    pub const TSS16: u8 = 1;
    /// An LDT.
    pub const LDT: u8 = 2;
    /// A busy 16-bit TSS.
    pub const TSS16_BUSY: u8 = 3;
    /// A 16-bit call gate.
    pub const CALL_GATE16: u8 = 4;
    /// A task gate.
    pub const TASK_GATE: u8 = 5;
    /// An available 32-bit TSS.
    pub const TSS32: u8 = 9;
    /// A busy 32-bit TSS.
    pub const TSS32_BUSY: u8 = 0xb;
    /// A 32-bit call gate.
    pub const CALL_GATE32: u8 = 0xc;
    /// A 32-bit interrupt gate.
    pub const INTERRUPT_GATE32: u8 = 0xe;
    /// A 32-bit trap gate.
    pub const TRAP_GATE32: u8 = 0xf;
    /// The busy bit of a TSS type.
    pub const BUSY: u8 = 2;
}

/// An 8-byte descriptor as two dwords.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Descriptor {
    /// Bits 0..31.
    pub lo: u32,
    /// Bits 32..63.
    pub hi: u32,
}

impl Descriptor {
    /// A segment descriptor with `base`, the 20-bit `limit` field (in pages when
    /// `attrs` has [`attr::GRANULAR`]) and `attrs` (see [`attr`]).
    pub const fn new_segment(base: u32, limit: u32, attrs: u16) -> Descriptor {
        Descriptor {
            lo: (limit & 0xffff) | (base << 16),
            hi: ((base >> 16) & 0xff)
                | (((attrs & 0xf0ff) as u32) << 8)
                | (limit & 0xf_0000)
                | (base & 0xff00_0000),
        }
    }
    /// A gate descriptor of system type `typ` (see [`system`]) to `selector:offset` at `dpl`.
    pub const fn new_gate(typ: u8, selector: u16, offset: u32, dpl: u8) -> Descriptor {
        Descriptor {
            lo: (offset & 0xffff) | ((selector as u32) << 16),
            hi: (offset & 0xffff_0000)
                | (attr::PRESENT as u32) << 8
                | ((dpl as u32 & 3) << 13)
                | ((typ as u32) << 8),
        }
    }
    /// The 8 bytes as one little-endian quadword.
    pub const fn to_u64(self) -> u64 {
        (self.lo as u64) | ((self.hi as u64) << 32)
    }
    /// The segment base.
    pub fn base(&self) -> u32 {
        (self.lo >> 16) | ((self.hi & 0xff) << 16) | (self.hi & 0xff00_0000)
    }
    /// The limit in bytes (granularity applied).
    pub fn limit(&self) -> u32 {
        let raw = (self.lo & 0xffff) | (self.hi & 0xf_0000);
        if self.attrs() & attr::GRANULAR != 0 {
            (raw << 12) | 0xfff
        } else {
            raw
        }
    }
    /// The attribute bits (see [`attr`]).
    pub fn attrs(&self) -> u16 {
        ((self.hi >> 8) & 0xf0ff) as u16
    }
    /// Present.
    pub fn present(&self) -> bool {
        self.attrs() & attr::PRESENT != 0
    }
    /// Descriptor privilege level.
    pub fn dpl(&self) -> u8 {
        dpl(self.attrs())
    }
    /// A system descriptor (S clear): TSS, LDT or gate.
    pub fn system(&self) -> bool {
        self.attrs() & attr::CODE_OR_DATA == 0
    }
    /// The four type bits.
    pub fn typ(&self) -> u8 {
        (self.attrs() & attr::TYPE) as u8
    }
    /// A code segment.
    pub fn is_code(&self) -> bool {
        code(self.attrs())
    }
    /// A data segment.
    pub fn is_data(&self) -> bool {
        !self.system() && self.attrs() & attr::CODE == 0
    }
    /// A conforming code segment.
    pub fn conforming(&self) -> bool {
        conforming(self.attrs())
    }
    /// Readable code or any data segment.
    pub fn readable(&self) -> bool {
        self.is_data() || (self.is_code() && self.attrs() & attr::READABLE != 0)
    }
    /// A writable data segment.
    pub fn writable_data(&self) -> bool {
        self.is_data() && self.attrs() & attr::WRITABLE != 0
    }
    /// Code or data with the accessed bit set.
    pub fn accessed(&self) -> bool {
        !self.system() && self.attrs() & attr::ACCESSED != 0
    }
    /// The high dword with the accessed bit set.
    pub fn hi_accessed(&self) -> u32 {
        self.hi | hi_bits(attr::ACCESSED)
    }
    /// A gate's target selector.
    pub fn gate_selector(&self) -> u16 {
        (self.lo >> 16) as u16
    }
    /// A gate's target offset.
    pub fn gate_offset(&self) -> u32 {
        (self.lo & 0xffff) | (self.hi & 0xffff_0000)
    }
    /// A system descriptor with a segment limit (a TSS or an LDT): what LSL may read.
    pub fn system_segment(&self) -> bool {
        self.system()
            && matches!(
                self.typ(),
                system::TSS16
                    | system::LDT
                    | system::TSS16_BUSY
                    | system::TSS32
                    | system::TSS32_BUSY
            )
    }
    /// A call gate's parameter count.
    pub fn gate_params(&self) -> u32 {
        self.hi & 0x1f
    }
    /// The segment register cache this descriptor loads, with `selector`.
    pub fn segment(&self, selector: u16) -> Segment {
        Segment {
            selector,
            base: self.base(),
            limit: self.limit(),
            attrs: self.attrs(),
        }
    }
}

/// Attribute bits where they sit in a descriptor's high dword.
#[inline]
pub const fn hi_bits(attrs: u16) -> u32 {
    (attrs as u32) << 8
}

/// The DPL of attribute bits.
#[inline]
pub const fn dpl(attrs: u16) -> u8 {
    ((attrs & attr::DPL) >> 5) as u8
}

/// Attribute bits of a code segment.
#[inline]
pub const fn code(attrs: u16) -> bool {
    attrs & (attr::CODE_OR_DATA | attr::CODE) == attr::CODE_OR_DATA | attr::CODE
}

/// Attribute bits of a conforming code segment.
#[inline]
pub const fn conforming(attrs: u16) -> bool {
    code(attrs) && attrs & attr::CONFORMING != 0
}

/// Attribute bits of a present, writable, expand-up data segment.
#[inline]
pub const fn writable_data_up(attrs: u16) -> bool {
    let mask = attr::PRESENT | attr::CODE_OR_DATA | attr::CODE | attr::EXPAND_DOWN | attr::WRITABLE;
    attrs & mask == attr::PRESENT | attr::CODE_OR_DATA | attr::WRITABLE
}

/// Attribute bits of an expand-down data segment.
#[inline]
pub const fn expand_down_data(attrs: u16) -> bool {
    attrs & (attr::CODE_OR_DATA | attr::CODE | attr::EXPAND_DOWN)
        == attr::CODE_OR_DATA | attr::EXPAND_DOWN
}

/// Attribute bits of a 32-bit TSS (available or busy).
#[inline]
pub const fn tss32(attrs: u16) -> bool {
    (attrs & attr::TYPE) as u8 & !system::BUSY == system::TSS32
}

/// A segment register as real or virtual-8086 mode loads it: base = selector ×
/// 16, 64 KiB, present, accessed read/write data (code for CS) at `dpl`.
#[inline]
pub const fn selector_x16(selector: u16, code: bool, dpl: u8) -> Segment {
    let attrs = if code { CODE_ATTRS } else { DATA_ATTRS };
    Segment {
        selector,
        base: (selector as u32) << 4,
        limit: 0xffff,
        attrs: attrs | ((dpl as u16) << 5),
    }
}

/// On a return to outer ring `cpl` (far RET, IRET), a data segment register whose
/// segment is data or non-conforming code with a DPL below `cpl` becomes null
/// (SDM vol. 2, RET and IRET).
pub fn null_for_outer_ring(seg: &mut Segment, cpl: u8) {
    if dpl(seg.attrs) < cpl && !conforming(seg.attrs) {
        *seg = Segment::default();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn built_descriptors_decode_to_what_they_were_built_from() {
        let attrs = attr::GRANULAR | attr::BIG | DATA_ATTRS | attr::DPL;
        let d = Descriptor::new_segment(0x1234_5678, 0xabcde, attrs);
        assert_eq!(
            (d.base(), d.limit(), d.attrs()),
            (0x1234_5678, 0xabcd_efff, attrs)
        );
        assert_eq!(d.dpl(), 3);
        let d = Descriptor::new_segment(0x3000, 0x67, attr::PRESENT | system::TSS32 as u16);
        assert_eq!(
            (d.base(), d.limit(), d.typ()),
            (0x3000, 0x67, system::TSS32)
        );
        let g = Descriptor::new_gate(system::INTERRUPT_GATE32, 0x08, 0xdead_4000, 3);
        assert_eq!((g.gate_selector(), g.gate_offset()), (0x08, 0xdead_4000));
        assert!(g.system() && g.present() && g.dpl() == 3 && g.typ() == system::INTERRUPT_GATE32);
        assert_eq!(
            Descriptor::new_segment(0, 0xfffff, 0xc09a).to_u64(),
            0x00cf_9a00_0000_ffff
        );
    }

    #[test]
    fn descriptors_decode_base_limit_and_rights() {
        let d = Descriptor {
            lo: 0x0000_ffff,
            hi: 0x00cf_9a00,
        };
        let s = d.segment(0x08);
        assert_eq!((s.base, s.limit, s.attrs), (0, 0xffff_ffff, 0xc09a));
        assert!(d.is_code() && !d.conforming() && d.readable() && d.present());
        assert!(!d.system() && !d.is_data() && !d.writable_data() && !d.accessed());
        assert_eq!(d.dpl(), 0);
        assert_eq!(d.hi_accessed(), 0x00cf_9b00);
        let gate = Descriptor {
            lo: 0x0008_1234,
            hi: 0x5678_ec03,
        };
        assert!(gate.system() && gate.present());
        assert_eq!(
            (
                gate.typ(),
                gate.dpl(),
                gate.gate_selector(),
                gate.gate_offset(),
                gate.gate_params()
            ),
            (system::CALL_GATE32, 3, 8, 0x5678_1234, 3)
        );
    }

    #[test]
    fn real_and_v86_segments_have_the_architectural_attributes() {
        assert_eq!(selector_x16(0x1234, false, 0).attrs, 0x93);
        assert_eq!(selector_x16(0x1234, false, 3).attrs, 0xf3);
        assert_eq!(selector_x16(0x1234, true, 3).attrs, 0xfb);
        assert_eq!(selector_x16(0x1234, true, 3).base, 0x12340);
        // the flat 4 GiB segments a loader enters protected mode with
        assert_eq!(attr::GRANULAR | attr::BIG | CODE_ATTRS, 0xc09b);
        assert_eq!(attr::GRANULAR | attr::BIG | DATA_ATTRS, 0xc093);
    }

    #[test]
    fn an_outer_return_nulls_inner_data_and_nonconforming_code_only() {
        let seg = |attrs: u16| Segment {
            selector: 0x10,
            base: 0x1000,
            limit: 0xfff,
            attrs,
        };
        for (attrs, cpl, nulled) in [
            (0x93, 3, true),  // ring-0 data
            (0xf3, 3, false), // ring-3 data
            (0x9b, 3, true),  // ring-0 non-conforming code
            (0x9f, 3, false), // ring-0 conforming code
            (0xb3, 1, false), // ring-1 data at ring 1
            (0xb3, 2, true),  // ring-1 data at ring 2
        ] {
            let mut s = seg(attrs);
            null_for_outer_ring(&mut s, cpl);
            assert_eq!(s == Segment::default(), nulled, "{attrs:#x} at {cpl}");
        }
    }
}
