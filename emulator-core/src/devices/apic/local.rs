//! One CPU's local APIC: ID, TPR/PPR, IRR/ISR/TMR, EOI, the spurious-vector
//! register, the LVT, the timer (one-shot and periodic on virtual time) and the ICR.

use serde::{Deserialize, Serialize};

/// Register offsets in the APIC page.
pub mod reg {
    /// Local APIC ID (bits 24–31).
    pub const ID: u32 = 0x20;
    /// Version and the number of LVT entries.
    pub const VERSION: u32 = 0x30;
    /// Task priority.
    pub const TPR: u32 = 0x80;
    /// Processor priority (read only).
    pub const PPR: u32 = 0xa0;
    /// End of interrupt (write only).
    pub const EOI: u32 = 0xb0;
    /// Logical destination.
    pub const LDR: u32 = 0xd0;
    /// Destination format.
    pub const DFR: u32 = 0xe0;
    /// Spurious-interrupt vector and the software-enable bit.
    pub const SVR: u32 = 0xf0;
    /// In-service register, 8 words.
    pub const ISR: u32 = 0x100;
    /// Trigger-mode register, 8 words.
    pub const TMR: u32 = 0x180;
    /// Interrupt-request register, 8 words.
    pub const IRR: u32 = 0x200;
    /// Error status.
    pub const ESR: u32 = 0x280;
    /// Interrupt command, low half (a write sends).
    pub const ICR_LOW: u32 = 0x300;
    /// Interrupt command, high half (destination).
    pub const ICR_HIGH: u32 = 0x310;
    /// The first LVT entry (timer); thermal, performance, LINT0, LINT1 and error follow.
    pub const LVT_TIMER: u32 = 0x320;
    /// The timer's initial count.
    pub const TIMER_INITIAL: u32 = 0x380;
    /// The timer's current count (read only).
    pub const TIMER_CURRENT: u32 = 0x390;
    /// The timer's divide configuration.
    pub const TIMER_DIVIDE: u32 = 0x3e0;
}

/// Index of each LVT entry in [`LocalApic::lvt`].
pub mod lvt {
    /// The timer.
    pub const TIMER: usize = 0;
    /// LINT0 (the 8259's INTR on CPU 0).
    pub const LINT0: usize = 3;
    /// LINT1.
    pub const LINT1: usize = 4;
    /// Entries in all.
    pub const COUNT: usize = 6;
}

/// An LVT or ICR entry's mask bit.
pub const MASKED: u32 = 1 << 16;
/// The LVT timer's periodic-mode bit.
pub const PERIODIC: u32 = 1 << 17;
/// The SVR's software-enable bit.
pub const SVR_ENABLE: u32 = 1 << 8;
/// The version register: version 0x14 (an integrated APIC), six LVT entries.
pub const VERSION: u32 = 0x0005_0014;

/// An IPI's delivery mode (ICR bits 8–10).
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Delivery {
    /// The vector, to each destination.
    Fixed,
    /// The vector, to the destination with the lowest priority (here: the first).
    LowestPriority,
    /// System management interrupt (not modelled: dropped).
    Smi,
    /// Non-maskable interrupt (vector 2).
    Nmi,
    /// INIT: the destination waits for a start-up IPI.
    Init,
    /// Start-up: a CPU waiting for it starts in real mode at vector × 0x1000.
    Startup,
    /// External interrupt (not valid in the ICR: dropped).
    ExtInt,
    /// A reserved encoding (dropped).
    Reserved,
}

impl Delivery {
    fn from_bits(b: u32) -> Delivery {
        match b & 7 {
            0 => Delivery::Fixed,
            1 => Delivery::LowestPriority,
            2 => Delivery::Smi,
            4 => Delivery::Nmi,
            5 => Delivery::Init,
            6 => Delivery::Startup,
            7 => Delivery::ExtInt,
            _ => Delivery::Reserved,
        }
    }
}

/// The ICR's destination shorthand (bits 18–19).
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Shorthand {
    /// The destination field names the targets.
    None,
    /// The sender itself.
    SelfOnly,
    /// Every CPU, the sender included.
    All,
    /// Every CPU but the sender.
    AllButSelf,
}

/// An inter-processor interrupt as written to the ICR.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct Icr {
    /// The vector (for SIPI: the start page number).
    pub vector: u8,
    /// The delivery mode.
    pub delivery: Delivery,
    /// Logical (true) or physical destination mode.
    pub logical: bool,
    /// The level bit: an INIT with it clear is the de-assert message (ignored).
    pub assert: bool,
    /// The trigger mode: level (true) or edge.
    pub level: bool,
    /// The destination shorthand.
    pub shorthand: Shorthand,
    /// The destination field (an APIC ID, or a logical mask).
    pub dest: u8,
}

impl Icr {
    /// Decodes the two ICR halves.
    pub fn decode(low: u32, high: u32) -> Icr {
        Icr {
            vector: low as u8,
            delivery: Delivery::from_bits(low >> 8),
            logical: low & (1 << 11) != 0,
            assert: low & (1 << 14) != 0,
            level: low & (1 << 15) != 0,
            shorthand: match (low >> 18) & 3 {
                0 => Shorthand::None,
                1 => Shorthand::SelfOnly,
                2 => Shorthand::All,
                _ => Shorthand::AllButSelf,
            },
            dest: (high >> 24) as u8,
        }
    }
}

/// A local APIC's registers and its timer, all serializable.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct LocalApic {
    /// The APIC ID (the CPU's index).
    pub id: u8,
    /// Task priority.
    pub tpr: u8,
    /// Spurious-interrupt vector register (bit 8: software enable).
    pub svr: u32,
    /// Interrupt requests, one bit per vector.
    pub irr: [u32; 8],
    /// Interrupts in service, one bit per vector.
    pub isr: [u32; 8],
    /// Trigger mode of the accepted interrupts (1: level).
    pub tmr: [u32; 8],
    /// Local vector table: timer, thermal, performance, LINT0, LINT1, error.
    pub lvt: [u32; lvt::COUNT],
    /// The interrupt command register (high half in the top 32 bits).
    pub icr: u64,
    /// Error status.
    pub esr: u32,
    /// Logical destination.
    pub ldr: u32,
    /// Destination format.
    pub dfr: u32,
    /// The timer's divide configuration register.
    pub divide: u32,
    /// The timer's initial count.
    pub initial_count: u32,
    /// Virtual time at which the current count was last loaded.
    pub timer_start: u64,
    /// Virtual time of the next timer interrupt (`u64::MAX` when none).
    pub timer_deadline: u64,
    /// Timer interrupts raised so far.
    pub timer_fired: u64,
    /// The CPU is held by INIT until a start-up IPI arrives.
    pub wait_for_sipi: bool,
    /// Interrupts this APIC accepted from other CPUs or itself (IPIs).
    pub ipis_received: u64,
}

impl LocalApic {
    /// A local APIC in its power-on state with APIC ID `id` (software-disabled).
    pub fn new(id: u8) -> LocalApic {
        LocalApic {
            id,
            tpr: 0,
            svr: 0xff,
            irr: [0; 8],
            isr: [0; 8],
            tmr: [0; 8],
            lvt: [MASKED; lvt::COUNT],
            icr: 0,
            esr: 0,
            ldr: 0,
            dfr: 0xffff_ffff,
            divide: 0,
            initial_count: 0,
            timer_start: 0,
            timer_deadline: u64::MAX,
            timer_fired: 0,
            wait_for_sipi: false,
            ipis_received: 0,
        }
    }

    /// INIT: every register back to power-on but the ID (and the counts).
    pub fn init(&mut self) {
        *self = LocalApic {
            timer_fired: self.timer_fired,
            ipis_received: self.ipis_received,
            ..LocalApic::new(self.id)
        };
    }

    /// The software-enable bit of the spurious-vector register.
    pub fn enabled(&self) -> bool {
        self.svr & SVR_ENABLE != 0
    }

    /// The 8259's INTR reaches this CPU: the APIC is software-disabled, or LINT0 is
    /// unmasked in ExtINT mode.
    pub fn passes_pic(&self) -> bool {
        let l = self.lvt[lvt::LINT0];
        !self.enabled() || (l & MASKED == 0 && (l >> 8) & 7 == 7)
    }

    /// Timer ticks per count (the divide configuration: 1 to 128).
    pub fn divisor(&self) -> u64 {
        let v = ((self.divide & 8) >> 1) | (self.divide & 3);
        if v == 7 {
            1
        } else {
            2 << v
        }
    }

    /// The timer's period (or one-shot length) in virtual time.
    pub fn period(&self) -> u64 {
        self.initial_count as u64 * self.divisor()
    }

    /// The timer's current count at virtual time `now`.
    pub fn current_count(&self, now: u64) -> u32 {
        let period = self.period();
        if period == 0 {
            return 0;
        }
        let elapsed = now.saturating_sub(self.timer_start);
        let periodic = self.lvt[lvt::TIMER] & PERIODIC != 0;
        if !periodic && elapsed >= period {
            return 0;
        }
        let done = (elapsed % period) / self.divisor();
        self.initial_count.saturating_sub(done as u32)
    }

    /// The highest vector set in a 256-bit register.
    fn highest(bits: &[u32; 8]) -> Option<u8> {
        (0..8)
            .rev()
            .find(|&w| bits[w] != 0)
            .map(|w| (w * 32 + 31 - bits[w].leading_zeros() as usize) as u8)
    }

    fn set(bits: &mut [u32; 8], v: u8, on: bool) {
        let (w, b) = ((v >> 5) as usize, 1u32 << (v & 31));
        if on {
            bits[w] |= b;
        } else {
            bits[w] &= !b;
        }
    }

    /// Processor priority: the task priority or the class of the highest interrupt
    /// in service, whichever is higher.
    pub fn ppr(&self) -> u8 {
        let isrv = LocalApic::highest(&self.isr).unwrap_or(0);
        if self.tpr >> 4 >= isrv >> 4 {
            self.tpr
        } else {
            isrv & 0xf0
        }
    }

    /// The vector this APIC would deliver now, if any (its class above the PPR's).
    pub fn pending(&self) -> Option<u8> {
        if !self.enabled() {
            return None;
        }
        let v = LocalApic::highest(&self.irr)?;
        (v >> 4 > self.ppr() >> 4).then_some(v)
    }

    /// The INTA cycle: the pending vector moves from IRR to ISR.
    pub fn acknowledge(&mut self) -> Option<u8> {
        let v = self.pending()?;
        LocalApic::set(&mut self.irr, v, false);
        LocalApic::set(&mut self.isr, v, true);
        Some(v)
    }

    /// Accepts a fixed interrupt on `vector` (edge, or level when `level`).
    /// Vectors 0–15 are illegal: the error status records them.
    pub fn accept(&mut self, vector: u8, level: bool) {
        if vector < 16 {
            self.esr |= 0x40;
            return;
        }
        LocalApic::set(&mut self.irr, vector, true);
        LocalApic::set(&mut self.tmr, vector, level);
    }

    /// An EOI: the highest in-service vector is done. Returns it when it was
    /// level-triggered (the I/O APIC must hear about it).
    pub fn eoi(&mut self) -> Option<u8> {
        let v = LocalApic::highest(&self.isr)?;
        LocalApic::set(&mut self.isr, v, false);
        let level = self.tmr[(v >> 5) as usize] & (1 << (v & 31)) != 0;
        level.then_some(v)
    }

    /// This APIC is a target of logical destination `dest` (flat or cluster model).
    pub fn matches_logical(&self, dest: u8) -> bool {
        let ldr = (self.ldr >> 24) as u8;
        if self.dfr >> 28 == 0xf {
            ldr & dest != 0
        } else {
            ldr >> 4 == dest >> 4 && ldr & dest & 0xf != 0
        }
    }

    /// Moves the timer's start and deadline `off` ticks later: the time its CPU was off
    /// did not count.
    pub fn delay(&mut self, off: u64) {
        self.timer_start = self.timer_start.saturating_add(off);
        if self.timer_deadline != u64::MAX {
            self.timer_deadline = self.timer_deadline.saturating_add(off).min(u64::MAX - 1);
        }
    }

    /// Brings the timer up to virtual time `now`; true when it raised its interrupt.
    /// A periodic timer reloads; expiries missed while the CPU was not looking merge
    /// into one interrupt, as a second request merges into a set IRR bit.
    pub fn advance(&mut self, now: u64) -> bool {
        if self.timer_deadline > now {
            return false;
        }
        let entry = self.lvt[lvt::TIMER];
        let raise = entry & MASKED == 0 && self.enabled();
        if raise {
            self.accept(entry as u8, false);
            self.timer_fired += 1;
        }
        let period = self.period();
        if entry & PERIODIC != 0 && period > 0 {
            let n = (now - self.timer_deadline) / period + 1;
            self.timer_start = self.timer_deadline + (n - 1) * period;
            self.timer_deadline = self.timer_start + period;
        } else {
            self.timer_deadline = u64::MAX;
        }
        raise
    }

    /// Reads the register at `offset` in the page (32-bit registers on 16-byte
    /// boundaries; other offsets read 0).
    pub fn read(&self, offset: u32, now: u64) -> u32 {
        let word = |bits: &[u32; 8]| bits[((offset >> 4) & 7) as usize];
        match offset & !0xf {
            reg::ID => (self.id as u32) << 24,
            reg::VERSION => VERSION,
            reg::TPR => self.tpr as u32,
            reg::PPR => self.ppr() as u32,
            reg::LDR => self.ldr,
            reg::DFR => self.dfr,
            reg::SVR => self.svr,
            o if (reg::ISR..reg::TMR).contains(&o) => word(&self.isr),
            o if (reg::TMR..reg::IRR).contains(&o) => word(&self.tmr),
            o if (reg::IRR..reg::ESR).contains(&o) => word(&self.irr),
            reg::ESR => self.esr,
            reg::ICR_LOW => self.icr as u32 & !(1 << 12),
            reg::ICR_HIGH => (self.icr >> 32) as u32,
            o if (reg::LVT_TIMER..reg::TIMER_INITIAL).contains(&o) => {
                self.lvt[((o - reg::LVT_TIMER) >> 4) as usize]
            }
            reg::TIMER_INITIAL => self.initial_count,
            reg::TIMER_CURRENT => self.current_count(now),
            reg::TIMER_DIVIDE => self.divide,
            _ => 0,
        }
    }

    /// Writes the register at `offset` at virtual time `now`. A write to the ICR's
    /// low half sends an IPI, which the caller delivers; an EOI of a level-triggered
    /// vector is returned for the I/O APIC.
    pub fn write(&mut self, offset: u32, value: u32, now: u64) -> Written {
        match offset & !0xf {
            reg::ID => self.id = (value >> 24) as u8,
            reg::TPR => self.tpr = value as u8,
            reg::EOI => return self.eoi().map_or(Written::Nothing, Written::LevelEoi),
            reg::LDR => self.ldr = value & 0xff00_0000,
            reg::DFR => self.dfr = value | 0x0fff_ffff,
            reg::SVR => {
                self.svr = value & 0x3ff;
                if !self.enabled() {
                    for e in self.lvt.iter_mut() {
                        *e |= MASKED;
                    }
                }
            }
            reg::ESR => self.esr = 0,
            reg::ICR_LOW => {
                self.icr = (self.icr & !0xffff_ffff) | (value & 0x000c_cfff) as u64;
                return Written::Ipi(Icr::decode(value, (self.icr >> 32) as u32));
            }
            reg::ICR_HIGH => {
                self.icr = (self.icr & 0xffff_ffff) | ((value & 0xff00_0000) as u64) << 32
            }
            o if (reg::LVT_TIMER..reg::TIMER_INITIAL).contains(&o) => {
                let i = ((o - reg::LVT_TIMER) >> 4) as usize;
                let mut v = value & 0x0003_17ff;
                if !self.enabled() {
                    v |= MASKED;
                }
                if let Some(e) = self.lvt.get_mut(i) {
                    *e = v;
                }
            }
            reg::TIMER_INITIAL => {
                self.initial_count = value;
                self.timer_start = now;
                self.timer_deadline = match self.period() {
                    0 => u64::MAX,
                    p => now + p,
                };
            }
            reg::TIMER_DIVIDE => {
                // keep the count where it is: restart from the current count
                let current = self.current_count(now);
                self.divide = value & 0xb;
                if self.timer_deadline != u64::MAX {
                    self.timer_start =
                        now.saturating_sub((self.initial_count - current) as u64 * self.divisor());
                    self.timer_deadline = now + current as u64 * self.divisor();
                }
            }
            _ => {}
        }
        Written::Nothing
    }
}

/// What a register write asks the machine to do.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Written {
    /// Nothing beyond the register change.
    Nothing,
    /// Send this IPI.
    Ipi(Icr),
    /// A level-triggered vector ended (the I/O APIC clears its remote IRR).
    LevelEoi(u8),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn priority_classes_gate_delivery_and_eoi_ends_the_highest() {
        let mut a = LocalApic::new(0);
        a.accept(0x41, false);
        assert_eq!(a.pending(), None, "software-disabled");
        a.write(reg::SVR, SVR_ENABLE | 0xff, 0);
        assert_eq!(a.pending(), Some(0x41));
        a.write(reg::TPR, 0x40, 0);
        assert_eq!(a.pending(), None, "class 4 is not above TPR class 4");
        a.write(reg::TPR, 0, 0);
        assert_eq!(a.acknowledge(), Some(0x41));
        a.accept(0x45, false);
        assert_eq!(a.pending(), None, "same class as the one in service");
        a.accept(0x51, false);
        assert_eq!(a.acknowledge(), Some(0x51));
        assert_eq!(a.read(reg::PPR, 0), 0x50);
        assert_eq!(a.write(reg::EOI, 0, 0), Written::Nothing);
        assert_eq!(a.read(reg::PPR, 0), 0x40);
        a.write(reg::EOI, 0, 0);
        assert_eq!(a.acknowledge(), Some(0x45));
        a.accept(3, false);
        assert_eq!(a.read(reg::ESR, 0), 0x40, "illegal vector");
    }

    #[test]
    fn timer_counts_down_and_reloads_when_periodic() {
        let mut a = LocalApic::new(0);
        a.write(reg::SVR, SVR_ENABLE, 0);
        a.write(reg::TIMER_DIVIDE, 0b0001, 0); // divide by 4
        a.write(reg::LVT_TIMER, PERIODIC | 0x30, 0);
        a.write(reg::TIMER_INITIAL, 100, 1000);
        assert_eq!(a.timer_deadline, 1400);
        assert_eq!(a.read(reg::TIMER_CURRENT, 1040), 90);
        assert!(!a.advance(1399));
        assert!(a.advance(1400));
        assert_eq!(a.timer_deadline, 1800);
        assert!(a.advance(2700), "missed expiries merge into one");
        assert_eq!(a.timer_deadline, 3000);
        assert_eq!(a.timer_fired, 2);
        a.write(reg::LVT_TIMER, 0x30, 3000);
        a.write(reg::TIMER_INITIAL, 10, 3000);
        assert!(a.advance(3040));
        assert_eq!(a.timer_deadline, u64::MAX, "one-shot");
        assert_eq!(a.read(reg::TIMER_CURRENT, 5000), 0);
    }

    #[test]
    fn a_delayed_timer_keeps_its_count_and_fires_late() {
        let mut a = LocalApic::new(0);
        a.write(reg::SVR, SVR_ENABLE, 0);
        a.write(reg::TIMER_DIVIDE, 0b1011, 0); // divide by 1
        a.write(reg::LVT_TIMER, PERIODIC | 0x30, 0);
        a.write(reg::TIMER_INITIAL, 100, 1000);
        assert_eq!(a.read(reg::TIMER_CURRENT, 1040), 60);
        a.delay(500);
        assert_eq!(
            a.read(reg::TIMER_CURRENT, 1540),
            60,
            "the time off did not count"
        );
        assert!(!a.advance(1599));
        assert!(a.advance(1600));
        assert_eq!(a.timer_deadline, 1700);
        a.write(reg::LVT_TIMER, 0x30, 1700);
        a.write(reg::TIMER_INITIAL, 10, 1700);
        assert!(a.advance(1710));
        a.delay(50);
        assert_eq!(a.timer_deadline, u64::MAX, "no deadline stays none");
    }

    #[test]
    fn icr_write_decodes_the_ipi() {
        let mut a = LocalApic::new(1);
        a.write(reg::ICR_HIGH, 2 << 24, 0);
        let w = a.write(reg::ICR_LOW, 0x0000_4608, 0);
        assert_eq!(
            w,
            Written::Ipi(Icr {
                vector: 8,
                delivery: Delivery::Startup,
                logical: false,
                assert: true,
                level: false,
                shorthand: Shorthand::None,
                dest: 2
            })
        );
        assert_eq!(Icr::decode(0x000c_4500, 0).shorthand, Shorthand::AllButSelf);
    }
}
