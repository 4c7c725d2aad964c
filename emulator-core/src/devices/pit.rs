//! The 8254 programmable interval timer at ports 0x40–0x43; channel 0 drives IRQ 0.
//!
//! Time is virtual. The CPU is nominally 100 MHz and retires one instruction per
//! cycle, so after `n` instructions the PIT, clocked at 1.193182 MHz, has seen exactly
//! `floor(n × 1_193_182 / 100_000_000)` input clocks ([`ticks_at`]). The tick count is
//! always recomputed from the absolute instruction count, so no rounding error
//! accumulates. The counters are evaluated lazily from the tick at which each count was
//! loaded; nothing runs per instruction.
//!
//! Implemented: modes 0 (interrupt on terminal count), 2 (rate generator),
//! 3 (square wave) and 4 (software strobe); lobyte, hibyte and lobyte/hibyte access;
//! binary and BCD counting; the counter latch command; the read-back command with
//! status. Modes 1 and 5 wait for a gate trigger, and no gate input is wired on this
//! platform, so they load but never start. A count is loaded at the tick in which its
//! last byte is written, and a new count takes effect at once (a real 8254 waits for the
//! next clock, or for the end of the current period in modes 2 and 3).

use serde::{Deserialize, Serialize};

use super::{IrqSink, PortDevice};

/// The PIT's input clock in Hz.
pub const PIT_HZ: u64 = 1_193_182;
/// The nominal virtual CPU clock in Hz (one instruction per cycle).
pub const CPU_HZ: u64 = 100_000_000;

/// PIT input clocks elapsed after `icount` instructions.
pub fn ticks_at(icount: u64) -> u64 {
    (u128::from(icount) * u128::from(PIT_HZ) / u128::from(CPU_HZ)) as u64
}

/// The first instruction count at which [`ticks_at`] reaches `tick`.
pub fn icount_for_tick(tick: u64) -> u64 {
    let n = u128::from(tick) * u128::from(CPU_HZ);
    let d = u128::from(PIT_HZ);
    u64::try_from(n.div_ceil(d)).unwrap_or(u64::MAX)
}

/// One counter's registers.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct PitChannelState {
    /// Counter mode 0–5 (6 and 7 are stored as 2 and 3).
    pub mode: u8,
    /// Read/write access: 1 = lobyte, 2 = hibyte, 3 = lobyte then hibyte.
    pub access: u8,
    /// BCD counting.
    pub bcd: bool,
    /// The count register as last written (0 stands for 65536, or 10000 in BCD).
    pub reload: u16,
    /// PIT tick at which the current count was loaded; `None` until a count is written
    /// after the control word.
    pub load_tick: Option<u64>,
    /// The next write in lobyte/hibyte access is the high byte.
    pub write_high: bool,
    /// The low byte held while waiting for the high byte.
    pub write_low_byte: u8,
    /// The next read in lobyte/hibyte access is the high byte.
    pub read_high: bool,
    /// The output latch, when the count was latched.
    pub latched_count: Option<u16>,
    /// The status latch (read-back command), read before a latched count.
    pub latched_status: Option<u8>,
}

impl Default for PitChannelState {
    fn default() -> Self {
        PitChannelState {
            mode: 0,
            access: 3,
            bcd: false,
            reload: 0,
            load_tick: None,
            write_high: false,
            write_low_byte: 0,
            read_high: false,
            latched_count: None,
            latched_status: None,
        }
    }
}

impl PitChannelState {
    /// The initial count as a number of clocks (0 written means the maximum).
    fn period(&self) -> u64 {
        match (self.reload, self.bcd) {
            (0, false) => 0x1_0000,
            (0, true) => 10_000,
            (r, false) => u64::from(r),
            (r, true) => u64::from(from_bcd(r)).max(1),
        }
    }

    /// The counting element and the OUT pin at `tick`.
    fn at(&self, tick: u64) -> (u16, bool) {
        let Some(load) = self.load_tick else {
            return (self.reload, self.mode != 0);
        };
        let n = self.period();
        let e = tick.saturating_sub(load);
        let modulus = if self.bcd { 10_000 } else { 0x1_0000 };
        let (count, out) = match self.mode {
            0 => ((n + modulus - e % modulus) % modulus, e >= n),
            4 => ((n + modulus - e % modulus) % modulus, e != n),
            2 => {
                let p = e % n;
                (n - p, p != n - 1)
            }
            3 => {
                let high = n.div_ceil(2);
                let p = e % n;
                let q = if p < high { p } else { p - high };
                ((n & !1).saturating_sub(2 * q), p < high)
            }
            _ => (u64::from(self.reload), true),
        };
        let count = (count % modulus) as u16;
        (if self.bcd { to_bcd(count) } else { count }, out)
    }

    /// The first rising edge of OUT strictly after `tick`, if any.
    fn next_rising_edge(&self, tick: u64) -> Option<u64> {
        let load = self.load_tick?;
        let n = self.period();
        match self.mode {
            0 => Some(load + n).filter(|&t| t > tick),
            4 => Some(load + n + 1).filter(|&t| t > tick),
            2 | 3 => {
                let k = if tick < load {
                    1
                } else {
                    (tick - load) / n + 1
                };
                Some(load + k * n)
            }
            _ => None,
        }
    }

    fn status(&self, tick: u64) -> u8 {
        let (_, out) = self.at(tick);
        (u8::from(out) << 7)
            | (u8::from(self.load_tick.is_none()) << 6)
            | (self.access << 4)
            | (self.mode << 1)
            | u8::from(self.bcd)
    }

    fn latch_count(&mut self, tick: u64) {
        if self.latched_count.is_none() {
            self.latched_count = Some(self.at(tick).0);
            self.read_high = false;
        }
    }

    fn read_byte(&mut self, tick: u64) -> u8 {
        if let Some(s) = self.latched_status.take() {
            return s;
        }
        let value = self.latched_count.unwrap_or_else(|| self.at(tick).0);
        let (byte, done) = match self.access {
            1 => (value as u8, true),
            2 => ((value >> 8) as u8, true),
            _ if self.read_high => ((value >> 8) as u8, true),
            _ => (value as u8, false),
        };
        if self.access == 3 {
            self.read_high = !self.read_high;
        }
        if done {
            self.latched_count = None;
        }
        byte
    }

    fn write_byte(&mut self, value: u8, tick: u64) {
        let reload = match self.access {
            1 => u16::from(value),
            2 => u16::from(value) << 8,
            _ if !self.write_high => {
                self.write_low_byte = value;
                self.write_high = true;
                return;
            }
            _ => {
                self.write_high = false;
                u16::from(self.write_low_byte) | (u16::from(value) << 8)
            }
        };
        self.reload = reload;
        self.load_tick = Some(tick);
    }

    fn control(&mut self, value: u8) {
        let mode = (value >> 1) & 7;
        *self = PitChannelState {
            mode: if mode >= 6 { mode - 4 } else { mode },
            access: (value >> 4) & 3,
            bcd: value & 1 != 0,
            reload: self.reload,
            ..PitChannelState::default()
        };
    }
}

fn from_bcd(v: u16) -> u16 {
    (v & 0xf) + ((v >> 4) & 0xf) * 10 + ((v >> 8) & 0xf) * 100 + ((v >> 12) & 0xf) * 1000
}

fn to_bcd(v: u16) -> u16 {
    let v = v % 10_000;
    (v % 10) | ((v / 10 % 10) << 4) | ((v / 100 % 10) << 8) | ((v / 1000) << 12)
}

/// The PIT's registers: three counters plus the last tick processed for IRQ 0.
#[derive(Clone, PartialEq, Eq, Debug, Default, Serialize, Deserialize)]
pub struct PitState {
    /// Counters 0, 1 and 2.
    pub channels: [PitChannelState; 3],
    /// The PIT tick of the current access (set by the platform before each access).
    pub now_tick: u64,
    /// The last tick for which channel 0's output edges were delivered.
    pub irq_tick: u64,
}

/// The 8254, addressed at offsets 0–2 (counters) and 3 (control word).
#[derive(Clone, PartialEq, Eq, Debug, Default)]
pub struct Pit {
    s: PitState,
}

impl Pit {
    /// A PIT with no counts loaded.
    pub fn new() -> Self {
        Pit::default()
    }

    /// The registers, for snapshots.
    pub fn state(&self) -> &PitState {
        &self.s
    }

    /// Restores the registers.
    pub fn restore(&mut self, s: &PitState) {
        self.s = s.clone();
    }

    /// Sets the current time (in PIT ticks) for the following register accesses.
    pub fn set_now(&mut self, tick: u64) {
        self.s.now_tick = tick;
    }

    /// The counting element and OUT of counter `channel` (0–2) now.
    pub fn counter(&self, channel: usize) -> Option<(u16, bool)> {
        self.s.channels.get(channel).map(|c| c.at(self.s.now_tick))
    }

    /// Delivers channel 0's rising edges up to `tick` as IRQ 0 pulses (several edges
    /// since the last call make one request, as the PIC's IRR holds one bit).
    pub fn advance(&mut self, tick: u64, irq: &mut dyn IrqSink) {
        self.set_now(tick);
        if tick <= self.s.irq_tick {
            // No time passed (or the caller's clock went back, as after a reset to tick 0).
            self.s.irq_tick = tick;
            return;
        }
        if let Some(edge) = self.s.channels[0].next_rising_edge(self.s.irq_tick) {
            if edge <= tick {
                irq.set_irq(0, true);
                irq.set_irq(0, false);
            }
        }
        self.s.irq_tick = tick;
    }

    /// The tick of channel 0's next rising edge after the last one delivered.
    pub fn next_irq_tick(&self) -> Option<u64> {
        self.s.channels[0].next_rising_edge(self.s.irq_tick)
    }

    /// Back to the power-on state: no counter programmed. The PIT keeps no clock of
    /// its own; the next [`Pit::set_now`] or [`Pit::advance`] gives the time, which in a
    /// machine goes on across a reset.
    pub fn reset(&mut self) {
        self.s = PitState::default();
    }

    fn control_word(&mut self, value: u8) {
        let tick = self.s.now_tick;
        match value >> 6 {
            3 => {
                for (i, ch) in self.s.channels.iter_mut().enumerate() {
                    if value & (2 << i) == 0 {
                        continue;
                    }
                    if value & 0x20 == 0 {
                        ch.latch_count(tick);
                    }
                    if value & 0x10 == 0 && ch.latched_status.is_none() {
                        ch.latched_status = Some(ch.status(tick));
                    }
                }
            }
            sc => {
                let ch = &mut self.s.channels[usize::from(sc)];
                if value & 0x30 == 0 {
                    ch.latch_count(tick);
                } else {
                    ch.control(value);
                }
            }
        }
    }
}

impl PortDevice for Pit {
    fn read(&mut self, offset: u16, _size: u8) -> u32 {
        let tick = self.s.now_tick;
        match self.s.channels.get_mut(usize::from(offset)) {
            Some(ch) => u32::from(ch.read_byte(tick)),
            None => 0xff,
        }
    }
    fn write(&mut self, offset: u16, _size: u8, value: u32) {
        let tick = self.s.now_tick;
        match self.s.channels.get_mut(usize::from(offset)) {
            Some(ch) => ch.write_byte(value as u8, tick),
            None => self.control_word(value as u8),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec::Vec;

    #[derive(Default)]
    struct Pulses(Vec<(u8, bool)>);
    impl IrqSink for Pulses {
        fn set_irq(&mut self, irq: u8, level: bool) {
            self.0.push((irq, level));
        }
    }

    fn program(pit: &mut Pit, ch: u16, control: u8, count: u16) {
        pit.write(3, 1, u32::from(control));
        match (control >> 4) & 3 {
            1 => pit.write(ch, 1, u32::from(count & 0xff)),
            2 => pit.write(ch, 1, u32::from(count >> 8)),
            _ => {
                pit.write(ch, 1, u32::from(count & 0xff));
                pit.write(ch, 1, u32::from(count >> 8));
            }
        }
    }

    fn read16(pit: &mut Pit, ch: u16) -> u16 {
        let lo = pit.read(ch, 1);
        let hi = pit.read(ch, 1);
        (lo | hi << 8) as u16
    }

    #[test]
    fn time_base_is_exact() {
        assert_eq!(ticks_at(0), 0);
        assert_eq!(ticks_at(100_000_000), PIT_HZ);
        assert_eq!(ticks_at(100_000_000 * 3600), PIT_HZ * 3600);
        assert_eq!(ticks_at(83), 0);
        assert_eq!(ticks_at(84), 1);
        for t in [1u64, 2, 65536, 1_193_182, 99_999_999_999] {
            let n = icount_for_tick(t);
            assert!(ticks_at(n) >= t, "{t}");
            assert!(ticks_at(n - 1) < t, "{t}");
        }
        assert_eq!(
            ticks_at(u64::MAX),
            (u128::from(u64::MAX) * 1_193_182 / 100_000_000) as u64
        );
    }

    #[test]
    fn mode2_rate_generator_counts_and_fires_each_period() {
        let mut pit = Pit::new();
        pit.set_now(1000);
        program(&mut pit, 0, 0x34, 100);
        assert_eq!(pit.counter(0), Some((100, true)));
        pit.set_now(1030);
        assert_eq!(read16(&mut pit, 0), 70);
        pit.set_now(1099);
        assert_eq!(pit.counter(0), Some((1, false)));
        assert_eq!(pit.next_irq_tick(), Some(1100));
        let mut irq = Pulses::default();
        pit.advance(1099, &mut irq);
        assert!(irq.0.is_empty());
        pit.advance(1100, &mut irq);
        assert_eq!(irq.0, [(0, true), (0, false)]);
        assert_eq!(pit.next_irq_tick(), Some(1200));
        // Many periods at once make one request.
        irq.0.clear();
        pit.advance(1750, &mut irq);
        assert_eq!(irq.0.len(), 2);
        assert_eq!(pit.next_irq_tick(), Some(1800));
    }

    #[test]
    fn mode3_square_wave() {
        let mut pit = Pit::new();
        program(&mut pit, 0, 0x36, 10);
        pit.set_now(0);
        assert_eq!(pit.counter(0), Some((10, true)));
        pit.set_now(2);
        assert_eq!(pit.counter(0), Some((6, true)));
        pit.set_now(5);
        assert_eq!(pit.counter(0), Some((10, false)));
        pit.set_now(9);
        assert_eq!(pit.counter(0), Some((2, false)));
        assert_eq!(pit.next_irq_tick(), Some(10));
        // Odd counts: high one clock longer than low.
        program(&mut pit, 0, 0x36, 5);
        let outs: Vec<bool> = (9..15)
            .map(|t| {
                pit.set_now(t);
                pit.counter(0).map(|c| c.1).unwrap_or_default()
            })
            .collect();
        assert_eq!(outs, [true, true, true, false, false, true]);
    }

    #[test]
    fn mode0_fires_once_and_wraps() {
        let mut pit = Pit::new();
        pit.set_now(10);
        program(&mut pit, 0, 0x30, 5);
        assert_eq!(pit.counter(0), Some((5, false)));
        let mut irq = Pulses::default();
        pit.advance(14, &mut irq);
        assert!(irq.0.is_empty());
        pit.advance(15, &mut irq);
        assert_eq!(irq.0.len(), 2);
        assert_eq!(pit.counter(0), Some((0, true)));
        pit.set_now(16);
        assert_eq!(pit.counter(0), Some((0xffff, true)));
        assert_eq!(pit.next_irq_tick(), None);
        // A control word drops OUT and stops counting until a count is written.
        pit.write(3, 1, 0x30);
        assert_eq!(pit.counter(0).map(|c| c.1), Some(false));
        assert_eq!(pit.next_irq_tick(), None);
    }

    #[test]
    fn mode4_strobe_pulses_after_count() {
        let mut pit = Pit::new();
        program(&mut pit, 0, 0x38, 3);
        pit.set_now(3);
        assert_eq!(pit.counter(0).map(|c| c.1), Some(false));
        pit.set_now(4);
        assert_eq!(pit.counter(0).map(|c| c.1), Some(true));
        assert_eq!(pit.next_irq_tick(), Some(4));
    }

    #[test]
    fn modes_1_and_5_wait_for_a_gate() {
        let mut pit = Pit::new();
        program(&mut pit, 0, 0x32, 3);
        pit.set_now(100);
        assert_eq!(pit.counter(0), Some((3, true)));
        assert_eq!(pit.next_irq_tick(), None);
    }

    #[test]
    fn lobyte_and_hibyte_access() {
        let mut pit = Pit::new();
        program(&mut pit, 1, 0x54, 0x0012); // channel 1, lobyte, mode 2
        assert_eq!(pit.state().channels[1].reload, 0x12);
        pit.set_now(2);
        assert_eq!(pit.read(1, 1), 0x10);
        assert_eq!(pit.read(1, 1), 0x10, "lobyte reads do not toggle");
        program(&mut pit, 2, 0xa4, 0x3400); // channel 2, hibyte, mode 2
        assert_eq!(pit.state().channels[2].reload, 0x3400);
        assert_eq!(pit.read(2, 1), 0x34);
    }

    #[test]
    fn latch_command_freezes_the_count() {
        let mut pit = Pit::new();
        program(&mut pit, 0, 0x34, 1000);
        pit.set_now(100);
        pit.write(3, 1, 0x00); // latch channel 0
        pit.set_now(300);
        assert_eq!(pit.read(0, 1), 900 & 0xff);
        pit.write(3, 1, 0x00); // ignored: the latch is half read
        assert_eq!(pit.read(0, 1), 900 >> 8);
        assert_eq!(read16(&mut pit, 0), 700, "released after both bytes");
    }

    #[test]
    fn read_back_status_and_count() {
        let mut pit = Pit::new();
        pit.write(3, 1, 0x34);
        pit.write(3, 1, 0xe2); // read-back: status only, channel 0
        assert_eq!(pit.read(0, 1), 0x40 | 0x34 | 0x80, "null count, OUT high");
        pit.write(0, 1, 50);
        pit.write(0, 1, 0);
        pit.set_now(20);
        pit.write(3, 1, 0xc2); // count and status
        pit.set_now(40);
        assert_eq!(pit.read(0, 1), 0xb4);
        assert_eq!(read16(&mut pit, 0), 30);
        assert_eq!(read16(&mut pit, 0), 10);
        assert_eq!(pit.read(3, 1), 0xff, "control register is write-only");
    }

    #[test]
    fn bcd_counting() {
        let mut pit = Pit::new();
        program(&mut pit, 0, 0x35, 0x1000); // mode 2, BCD, 1000
        pit.set_now(1);
        assert_eq!(read16(&mut pit, 0), 0x0999);
        assert_eq!(pit.next_irq_tick(), Some(1000));
        program(&mut pit, 0, 0x35, 0); // 0 = 10000 in BCD
        assert_eq!(pit.next_irq_tick(), Some(10_001));
    }

    #[test]
    fn zero_count_means_65536() {
        let mut pit = Pit::new();
        program(&mut pit, 0, 0x34, 0);
        assert_eq!(pit.next_irq_tick(), Some(65536));
        pit.set_now(1);
        assert_eq!(read16(&mut pit, 0), 0xffff);
    }

    #[test]
    fn reset_forgets_the_programming_and_follows_the_given_time() {
        let mut pit = Pit::new();
        let mut irq = Pulses::default();
        pit.advance(5000, &mut irq);
        pit.reset();
        program(&mut pit, 0, 0x34, 10);
        assert_eq!(pit.next_irq_tick(), Some(10));
        pit.advance(10, &mut irq);
        assert_eq!(irq.0.len(), 2, "fires 10 ticks after the reset");
    }

    #[test]
    fn snapshot_roundtrip_continues_identically() {
        let mut a = Pit::new();
        program(&mut a, 0, 0x34, 77);
        a.set_now(33);
        let mut b = Pit::new();
        b.restore(a.state());
        assert_eq!(a, b);
        a.set_now(50);
        b.set_now(50);
        assert_eq!(read16(&mut a, 0), read16(&mut b, 0));
    }
}
