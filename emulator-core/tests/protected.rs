//! Protected mode end to end: exceptions with their error codes, paging faults with CR2,
//! IRET to ring 3, INT from ring 3 through the TSS, a call gate, IOPL and the I/O bitmap.

mod common;

use emulator_core::{FlatEntry, Machine, MachineConfig, StopReason};

const LOG: u32 = 0x20000;

fn read_u32(m: &Machine, addr: u32) -> u32 {
    let mut b = [0u8; 4];
    m.peek_phys(addr, &mut b);
    u32::from_le_bytes(b)
}

#[test]
fn rings_gates_and_faults() {
    let bin = common::assemble("emulator-core/tests/asm/protected.asm", &[]);
    let mut m = Machine::new(MachineConfig::default()).unwrap();
    m.load_flat(0x1000, &bin, FlatEntry::Protected32).unwrap();
    let stop = m.run(1_000_000);
    let count = read_u32(&m, LOG);
    let log: Vec<(u32, u32, u32, u32)> = (0..count.min(64))
        .map(|i| {
            let e = LOG + 16 + 16 * i;
            (
                read_u32(&m, e),
                read_u32(&m, e + 4),
                read_u32(&m, e + 8),
                read_u32(&m, e + 12) & 0xffff,
            )
        })
        .collect();
    // (vector, error code, CR2 or None when not checked, CS of the interrupted code)
    let want: &[(u32, u32, Option<u32>, u32)] = &[
        (0, 0, None, 0x08),
        (6, 0, None, 0x08),
        (13, 0x1234, None, 0x08),
        (11, 0x30, None, 0x08),
        (14, 0, Some(0x7000), 0x08),
        (14, 3, Some(0x8000), 0x08),
        (14, 2, Some(0x60000), 0x08),
        (14, 0, Some(0x7000), 0x08),
        (6, 0, None, 0x08),
        (0x80, 0, None, 0x1b),
        (13, 0, None, 0x1b),
        (13, 0, None, 0x1b),
        (14, 5, Some(0x9000), 0x1b),
        (14, 7, Some(0x8000), 0x1b),
        (13, 0, None, 0x1b),
        (0xc0, 0x1b, Some(0x10), 0x08),
        (13, 0, None, 0x1b),
        (13, 0, None, 0x1b),
    ];
    for (i, (got, w)) in log.iter().zip(want).enumerate() {
        assert_eq!(
            (got.0, got.1, got.3),
            (w.0, w.1, w.3),
            "log entry {i}: {log:x?}"
        );
        if let Some(cr2) = w.2 {
            assert_eq!(got.2, cr2, "log entry {i} CR2/SS: {log:x?}");
        }
    }
    assert_eq!(log.len(), want.len(), "log: {log:x?}");
    // The REP MOVSB faulted with 0x800 bytes left and, restarted, finished the copy.
    assert_eq!(read_u32(&m, LOG + 4), 0x800);
    let mut copied = vec![0u8; 0x1000];
    m.peek_phys(0x5f800, &mut copied);
    assert!(copied.iter().enumerate().all(|(i, &b)| b == i as u8));
    assert_eq!(String::from_utf8_lossy(&m.serial_output()), "rOK\n");
    assert_eq!(stop, StopReason::Halted);
    assert_eq!(m.cpu().cpl, 0);
}
