//! The MP table (Intel MultiProcessor Specification 1.4) that tells a guest how many
//! CPUs there are and where the local and I/O APICs answer.
//!
//! The floating pointer lies in the last KiB of base memory, one of the places the
//! specification has an operating system search, and the configuration table follows it.

use alloc::vec::Vec;

use super::{IO_APIC_BASE, LOCAL_APIC_BASE};

/// Where the MP floating pointer structure is written.
pub const MP_FLOATING_ADDR: u32 = 0x9_fc00;
/// The configuration table's address (right after the floating pointer).
const CONFIG_ADDR: u32 = MP_FLOATING_ADDR + 16;
/// The local APIC version the processor entries give.
const LAPIC_VERSION: u8 = 0x14;
/// The I/O APIC's ID (after the CPUs' IDs).
fn io_apic_id(cpus: u8) -> u8 {
    cpus
}

fn checksum(bytes: &[u8]) -> u8 {
    0u8.wrapping_sub(bytes.iter().fold(0u8, |s, b| s.wrapping_add(*b)))
}

/// The floating pointer and the configuration table for `cpus` CPUs (APIC IDs 0 to
/// `cpus - 1`, CPU 0 the bootstrap processor), to be written at [`MP_FLOATING_ADDR`].
pub fn build(cpus: u8) -> Vec<u8> {
    let mut entries: Vec<u8> = Vec::new();
    let mut count = 0u16;
    for id in 0..cpus {
        let flags = 1 | if id == 0 { 2 } else { 0 };
        entries.extend_from_slice(&[0, id, LAPIC_VERSION, flags]);
        entries.extend_from_slice(&0x0000_0630u32.to_le_bytes()); // family 6
        entries.extend_from_slice(&0x0000_0201u32.to_le_bytes()); // FPU, APIC
        entries.extend_from_slice(&[0; 8]);
        count += 1;
    }
    entries.extend_from_slice(&[1, 0]);
    entries.extend_from_slice(b"ISA   ");
    count += 1;
    let ioid = io_apic_id(cpus);
    entries.extend_from_slice(&[2, ioid, 0x11, 1]);
    entries.extend_from_slice(&IO_APIC_BASE.to_le_bytes());
    count += 1;
    for irq in 0u8..16 {
        if irq == 2 {
            continue; // the cascade
        }
        // ISA IRQ 0 (the PIT) arrives on input 2, as on PC chipsets
        let pin = super::io::isa_pin(irq) as u8;
        entries.extend_from_slice(&[3, 0, 0, 0, 0, irq, ioid, pin]);
        count += 1;
    }
    // LINT0: ExtINT (the 8259), LINT1: NMI, on every CPU
    entries.extend_from_slice(&[4, 3, 0, 0, 0, 0, 0xff, 0]);
    entries.extend_from_slice(&[4, 1, 0, 0, 0, 0, 0xff, 1]);
    count += 2;

    let mut table = Vec::new();
    table.extend_from_slice(b"PCMP");
    table.extend_from_slice(&((44 + entries.len()) as u16).to_le_bytes());
    table.extend_from_slice(&[4, 0]);
    table.extend_from_slice(b"VMLAB   ");
    table.extend_from_slice(b"SMP MACHINE ");
    table.extend_from_slice(&[0; 4]);
    table.extend_from_slice(&[0; 2]);
    table.extend_from_slice(&count.to_le_bytes());
    table.extend_from_slice(&LOCAL_APIC_BASE.to_le_bytes());
    table.extend_from_slice(&[0; 4]);
    table.extend_from_slice(&entries);
    table[7] = checksum(&table);

    let mut out = Vec::new();
    out.extend_from_slice(b"_MP_");
    out.extend_from_slice(&CONFIG_ADDR.to_le_bytes());
    out.extend_from_slice(&[1, 4, 0, 0, 0, 0, 0, 0]);
    out[10] = checksum(&out);
    out.extend_from_slice(&table);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sum(b: &[u8]) -> u8 {
        b.iter().fold(0u8, |s, x| s.wrapping_add(*x))
    }

    #[test]
    fn both_structures_check_and_list_every_cpu() {
        let t = build(4);
        assert_eq!(&t[0..4], b"_MP_");
        assert_eq!(sum(&t[0..16]), 0);
        let len = u16::from_le_bytes([t[20], t[21]]) as usize;
        let table = &t[16..16 + len];
        assert_eq!(&table[0..4], b"PCMP");
        assert_eq!(sum(table), 0);
        let count = u16::from_le_bytes([table[34], table[35]]) as usize;
        let (mut at, mut cpus, mut bsp) = (44, 0, 0);
        for _ in 0..count {
            match table[at] {
                0 => {
                    cpus += 1;
                    if table[at + 3] & 2 != 0 {
                        bsp += 1;
                    }
                    at += 20
                }
                _ => at += 8,
            }
        }
        assert_eq!((cpus, bsp, at), (4, 1, len));
        assert!(t.len() <= 1024, "fits in the last KiB of base memory");
    }
}
