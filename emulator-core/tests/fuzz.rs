//! Random instruction streams from random states, in real and protected mode, with
//! random descriptor tables and page tables underneath: the core must neither panic
//! nor run past its budget. `VMLAB_FUZZ_STREAMS` sets the number of streams (default
//! 1000; each runs at most 400 instructions).

use emulator_core::{FlatEntry, Machine, MachineConfig, StopReason};

/// xorshift64*: a small deterministic generator.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn byte(&mut self) -> u8 {
        self.next() as u8
    }
}

#[test]
fn random_streams_never_panic_or_overrun() {
    let streams: u64 = std::env::var("VMLAB_FUZZ_STREAMS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1000);
    const BUDGET: u64 = 400;
    let mut rng = Rng(0x766d_6c61_6221);
    let mut m = Machine::new(MachineConfig {
        ram_mib: 1,
        ..MachineConfig::default()
    })
    .unwrap();
    let mut total = 0u64;
    let mut stops = [0u64; 8];
    for _ in 0..streams {
        // Random low memory: IVT/IDT, GDT-like data, page tables, stacks.
        let mut low = vec![0u8; 0x1_0000];
        for b in low.iter_mut() {
            *b = rng.byte();
        }
        let code: Vec<u8> = (0..256).map(|_| rng.byte()).collect();
        m.write_phys(0, &low).unwrap();
        let entry = if rng.next() & 1 == 0 {
            FlatEntry::Real16
        } else {
            FlatEntry::Protected32
        };
        m.load_flat(0x8000, &code, entry).unwrap();
        {
            let c = m.cpu_mut();
            for r in c.gpr.iter_mut() {
                *r = rng.next() as u32;
            }
            c.gpr[4] = 0x7000 + (rng.next() as u32 & 0xff0);
            c.eflags = (rng.next() as u32 & 0x0cd5) | 2;
            if rng.next() & 3 == 0 {
                c.cr3 = rng.next() as u32 & 0xf000;
                c.cr0 |= 0x8000_0000 * (c.cr0 & 1);
            }
            if rng.next() & 1 == 0 {
                c.cr4 = 0x10;
            }
        }
        let before = m.icount();
        let stop = m.run(BUDGET);
        let ran = m.icount() - before;
        assert!(
            ran <= BUDGET,
            "ran {ran} instructions on a budget of {BUDGET}"
        );
        total += ran;
        let k = match stop {
            StopReason::BudgetExhausted => 0,
            StopReason::Halted => 1,
            StopReason::TripleFault => 2,
            StopReason::DebugExit(_) => 3,
            _ => 4,
        };
        stops[k] += 1;
        // The state stays usable: a snapshot round-trips.
        if rng.next().is_multiple_of(64) {
            let s = m.snapshot();
            m.restore(&s).unwrap();
            assert_eq!(m.snapshot(), s);
        }
    }
    eprintln!(
        "{streams} streams, {total} instructions; stops: budget {} halted {} triple {} exit {} other {}",
        stops[0], stops[1], stops[2], stops[3], stops[4]
    );
    assert!(total > streams, "the streams executed instructions");
}
