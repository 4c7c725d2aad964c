//! An ATA disk on the primary IDE channel in PIO mode, as on a PIIX: the task-file
//! registers at 0x1F0–0x1F7, device control at 0x3F6, IDENTIFY DEVICE, READ/WRITE
//! SECTORS (LBA28 and CHS) and IRQ 14, over a [`BlockStore`].

use alloc::boxed::Box;
use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;
use serde::{Deserialize, Serialize};

use super::BlockStore;

/// The command block's first port.
pub const ATA_PRIMARY: u16 = 0x1f0;
/// The control block port (alternate status / device control).
pub const ATA_PRIMARY_CONTROL: u16 = 0x3f6;
/// The primary channel's IRQ line.
pub const ATA_IRQ: u8 = 14;

/// Status register bits.
pub mod status {
    /// Busy.
    pub const BSY: u8 = 0x80;
    /// Device ready.
    pub const DRDY: u8 = 0x40;
    /// Device seek complete.
    pub const DSC: u8 = 0x10;
    /// Data request: the data port has a word for the host, or wants one.
    pub const DRQ: u8 = 0x08;
    /// The last command failed; the error register says why.
    pub const ERR: u8 = 0x01;
}

/// Error register: command aborted.
const ABRT: u8 = 0x04;
/// Error register: ID not found (sector out of range).
const IDNF: u8 = 0x10;
/// Error register: uncorrectable data error (the host store failed).
const UNC: u8 = 0x40;

/// The CHS geometry IDENTIFY reports: 16 heads, 63 sectors per track.
const HEADS: u64 = 16;
const SECTORS_PER_TRACK: u64 = 63;

/// What the data port is doing.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default, Serialize, Deserialize)]
pub enum Transfer {
    /// No data phase.
    #[default]
    None,
    /// The host reads the buffer (IDENTIFY, READ SECTORS).
    ToHost,
    /// The host fills the buffer (WRITE SECTORS).
    FromHost,
}

/// Every register of the drive, for snapshots and the devices panel.
#[derive(Clone, PartialEq, Eq, Debug, Default, Serialize, Deserialize)]
pub struct AtaState {
    /// Error register.
    pub error: u8,
    /// Features register (written).
    pub features: u8,
    /// Sector count register.
    pub count: u8,
    /// LBA low / sector number.
    pub lba_low: u8,
    /// LBA mid / cylinder low.
    pub lba_mid: u8,
    /// LBA high / cylinder high.
    pub lba_high: u8,
    /// Drive/head register.
    pub drive_head: u8,
    /// Status register.
    pub status: u8,
    /// Device control register (bit 1: interrupts disabled).
    pub control: u8,
    /// The interrupt request the drive holds (cleared by reading status).
    pub intrq: bool,
    /// The command running a data phase.
    pub command: u8,
    /// The data phase.
    pub transfer: Transfer,
    /// The sector buffer.
    pub buffer: Vec<u8>,
    /// The next byte of the buffer the data port moves.
    pub pos: usize,
    /// Sectors still to move after the one in the buffer.
    pub remaining: u32,
    /// The sector in the buffer.
    pub lba: u64,
    /// Sectors read since power-on.
    pub sectors_read: u64,
    /// Sectors written since power-on.
    pub sectors_written: u64,
    /// The last host error (a bad image, a failed file access), for the UI.
    pub host_error: Option<String>,
    /// The PIIX bus-master IDE registers behind BAR 4 (command, status, PRD table
    /// address, for each channel). They hold what the guest writes; no DMA runs.
    #[serde(default)]
    pub bus_master: [u8; 16],
}

/// The drive: registers plus the disk behind them.
#[derive(Debug)]
pub struct Ata {
    state: AtaState,
    disk: Box<dyn BlockStore>,
}

impl Ata {
    /// A drive over `disk`, ready.
    pub fn new(disk: Box<dyn BlockStore>) -> Ata {
        let mut a = Ata {
            state: AtaState::default(),
            disk,
        };
        a.reset();
        a
    }

    /// The power-on register values (the ATA signature: count 1, LBA 1, 0, 0).
    pub fn reset(&mut self) {
        let s = &mut self.state;
        let (read, written) = (s.sectors_read, s.sectors_written);
        *s = AtaState {
            error: 1,
            count: 1,
            lba_low: 1,
            status: status::DRDY | status::DSC,
            buffer: vec![0; 512],
            sectors_read: read,
            sectors_written: written,
            ..AtaState::default()
        };
    }

    /// The registers.
    pub fn state(&self) -> &AtaState {
        &self.state
    }

    /// Restores registers from a snapshot (the disk's contents are the host's).
    pub fn restore(&mut self, s: &AtaState) {
        self.state = s.clone();
        self.state.buffer.resize(512, 0);
        self.state.pos = self.state.pos.min(512);
    }

    /// A byte of the bus-master block (offset 0–15 from BAR 4).
    pub fn bus_master_read(&self, offset: u16) -> u8 {
        self.state
            .bus_master
            .get(usize::from(offset))
            .copied()
            .unwrap_or(0xff)
    }

    /// Writes a byte of the bus-master block: command bits 0 and 3, status bits 5
    /// and 6 (bits 1 and 2 clear when written as one), the PRD address dword-aligned.
    pub fn bus_master_write(&mut self, offset: u16, value: u8) {
        let Some(r) = self.state.bus_master.get_mut(usize::from(offset)) else {
            return;
        };
        *r = match offset % 8 {
            0 => value & 0x09,
            2 => (*r & !0x60 & !(value & 0x06)) | (value & 0x60),
            4 => value & 0xfc,
            5..=7 => value,
            _ => *r,
        };
    }

    /// The level of IRQ 14.
    pub fn irq_level(&self) -> bool {
        self.state.intrq && self.state.control & 0x02 == 0
    }

    fn slave_selected(&self) -> bool {
        self.state.drive_head & 0x10 != 0
    }

    /// A read of the command block (offset 0–7) or, at offset 8, the alternate status.
    pub fn read(&mut self, offset: u16, size: u8) -> u32 {
        if self.slave_selected() && offset != 0 {
            return 0; // no slave drive
        }
        let s = &mut self.state;
        match offset {
            0 => self.read_data(size),
            1 => u32::from(s.error),
            2 => u32::from(s.count),
            3 => u32::from(s.lba_low),
            4 => u32::from(s.lba_mid),
            5 => u32::from(s.lba_high),
            6 => u32::from(s.drive_head | 0xa0),
            7 => {
                s.intrq = false;
                u32::from(s.status)
            }
            _ => u32::from(s.status),
        }
    }

    /// A write to the command block (offset 0–7) or, at offset 8, device control.
    pub fn write(&mut self, offset: u16, size: u8, value: u32) {
        let v = value as u8;
        let slave = self.slave_selected();
        let s = &mut self.state;
        match offset {
            0 => self.write_data(size, value),
            1 => s.features = v,
            2 => s.count = v,
            3 => s.lba_low = v,
            4 => s.lba_mid = v,
            5 => s.lba_high = v,
            6 => s.drive_head = v,
            7 if !slave => self.command(v),
            7 => {}
            _ => {
                if v & 0x04 != 0 && s.control & 0x04 == 0 {
                    self.reset();
                }
                self.state.control = v;
            }
        }
    }

    fn read_data(&mut self, size: u8) -> u32 {
        let s = &mut self.state;
        if s.transfer != Transfer::ToHost {
            return 0;
        }
        let n = usize::from(size.clamp(1, 4));
        let v = (0..n).fold(0u32, |acc, i| {
            acc | u32::from(s.buffer.get(s.pos + i).copied().unwrap_or(0)) << (8 * i)
        });
        s.pos += n;
        if s.pos >= 512 {
            self.sector_done();
        }
        v
    }

    fn write_data(&mut self, size: u8, value: u32) {
        let s = &mut self.state;
        if s.transfer != Transfer::FromHost {
            return;
        }
        let n = usize::from(size.clamp(1, 4));
        for i in 0..n {
            if let Some(b) = s.buffer.get_mut(s.pos + i) {
                *b = (value >> (8 * i)) as u8;
            }
        }
        s.pos += n;
        if s.pos >= 512 {
            self.sector_done();
        }
    }

    /// The sector the task file names (LBA28 when bit 6 of drive/head is set, else CHS).
    fn task_lba(&self) -> Option<u64> {
        let s = &self.state;
        let dh = u64::from(s.drive_head);
        if dh & 0x40 != 0 {
            return Some(
                (dh & 0x0f) << 24
                    | u64::from(s.lba_high) << 16
                    | u64::from(s.lba_mid) << 8
                    | u64::from(s.lba_low),
            );
        }
        let cyl = u64::from(s.lba_high) << 8 | u64::from(s.lba_mid);
        let sector = u64::from(s.lba_low);
        (1..=SECTORS_PER_TRACK)
            .contains(&sector)
            .then(|| (cyl * HEADS + (dh & 0x0f)) * SECTORS_PER_TRACK + sector - 1)
    }

    /// Writes the sector now in the task file back into the registers.
    fn set_task_lba(&mut self, lba: u64) {
        let s = &mut self.state;
        if s.drive_head & 0x40 != 0 {
            s.lba_low = lba as u8;
            s.lba_mid = (lba >> 8) as u8;
            s.lba_high = (lba >> 16) as u8;
            s.drive_head = (s.drive_head & 0xf0) | ((lba >> 24) as u8 & 0x0f);
        } else {
            let cyl = lba / (HEADS * SECTORS_PER_TRACK);
            let rest = lba % (HEADS * SECTORS_PER_TRACK);
            s.lba_low = (rest % SECTORS_PER_TRACK + 1) as u8;
            s.lba_mid = cyl as u8;
            s.lba_high = (cyl >> 8) as u8;
            s.drive_head = (s.drive_head & 0xf0) | (rest / SECTORS_PER_TRACK) as u8;
        }
    }

    fn fail(&mut self, error: u8) {
        let s = &mut self.state;
        s.error = error;
        s.status = status::DRDY | status::DSC | status::ERR;
        s.transfer = Transfer::None;
        s.intrq = true;
    }

    fn finish(&mut self) {
        let s = &mut self.state;
        s.error = 0;
        s.status = status::DRDY | status::DSC;
        s.transfer = Transfer::None;
        s.intrq = true;
    }

    fn command(&mut self, cmd: u8) {
        self.state.command = cmd;
        self.state.intrq = false;
        let count = match self.state.count {
            0 => 256,
            n => u32::from(n),
        };
        match cmd {
            0xec => {
                self.state.buffer = self.identify();
                self.start(Transfer::ToHost, 0, 0);
                self.state.intrq = true;
            }
            0x20 | 0x21 | 0x30 | 0x31 => {
                let Some(lba) = self.task_lba() else {
                    return self.fail(IDNF | ABRT);
                };
                if lba + u64::from(count) > self.disk.sectors() {
                    return self.fail(IDNF);
                }
                if cmd < 0x30 {
                    self.start(Transfer::ToHost, lba, count - 1);
                    if self.load_sector(lba) {
                        self.state.intrq = true;
                    }
                } else {
                    self.start(Transfer::FromHost, lba, count - 1);
                }
            }
            0xe7 | 0x91 | 0xef | 0x10..=0x1f | 0x40 | 0x41 | 0x70..=0x7f | 0xe0..=0xe2 => {
                self.finish()
            }
            _ => self.fail(ABRT),
        }
    }

    fn start(&mut self, t: Transfer, lba: u64, remaining: u32) {
        let s = &mut self.state;
        s.transfer = t;
        s.pos = 0;
        s.lba = lba;
        s.remaining = remaining;
        s.error = 0;
        s.status = status::DRDY | status::DSC | status::DRQ;
    }

    /// Fills the buffer from sector `lba`; false (and the command failed) on a host error.
    fn load_sector(&mut self, lba: u64) -> bool {
        self.state.buffer.resize(512, 0);
        match self.disk.read_sectors(lba, &mut self.state.buffer) {
            Ok(()) => {
                self.state.sectors_read += 1;
                true
            }
            Err(e) => {
                self.state.host_error = Some(e);
                self.fail(UNC);
                false
            }
        }
    }

    /// The data port moved the whole sector.
    fn sector_done(&mut self) {
        let s = &mut self.state;
        s.pos = 0;
        match s.transfer {
            Transfer::None => {}
            Transfer::ToHost if s.command == 0xec => self.finish_quietly(),
            Transfer::ToHost => {
                let lba = s.lba + 1;
                self.set_task_lba(lba);
                if self.state.remaining == 0 {
                    self.finish_quietly();
                    return;
                }
                self.state.remaining -= 1;
                self.state.lba = lba;
                if self.load_sector(lba) {
                    self.state.intrq = true;
                }
            }
            Transfer::FromHost => {
                let lba = s.lba;
                let data = core::mem::take(&mut s.buffer);
                let r = self.disk.write_sectors(lba, &data);
                self.state.buffer = data;
                if let Err(e) = r {
                    self.state.host_error = Some(e);
                    return self.fail(UNC);
                }
                self.state.sectors_written += 1;
                self.set_task_lba(lba + 1);
                if self.state.remaining == 0 {
                    self.finish();
                    return;
                }
                self.state.remaining -= 1;
                self.state.lba = lba + 1;
                self.state.status |= status::DRQ;
                self.state.intrq = true;
            }
        }
    }

    /// The last sector went to the host: no interrupt follows it.
    fn finish_quietly(&mut self) {
        let s = &mut self.state;
        s.status = status::DRDY | status::DSC;
        s.transfer = Transfer::None;
    }

    /// The IDENTIFY DEVICE block: 256 little-endian words, ATA strings byte-swapped.
    fn identify(&self) -> Vec<u8> {
        let mut w = [0u16; 256];
        let sectors = self.disk.sectors().min(0x0fff_ffff);
        let cyl = (sectors / (HEADS * SECTORS_PER_TRACK)).clamp(1, 16383);
        w[0] = 0x0040; // fixed disk
        w[1] = cyl as u16;
        w[3] = HEADS as u16;
        w[6] = SECTORS_PER_TRACK as u16;
        put_string(&mut w[10..20], "VMLAB0001");
        put_string(&mut w[23..27], "1.0");
        put_string(&mut w[27..47], "vmlab ATA disk");
        w[47] = 0x8001; // one sector per READ/WRITE MULTIPLE
        w[49] = 0x0200; // LBA supported
        w[53] = 0x0001; // words 54-58 valid
        w[54] = cyl as u16;
        w[55] = HEADS as u16;
        w[56] = SECTORS_PER_TRACK as u16;
        let chs = cyl * HEADS * SECTORS_PER_TRACK;
        w[57] = chs as u16;
        w[58] = (chs >> 16) as u16;
        w[60] = sectors as u16;
        w[61] = (sectors >> 16) as u16;
        w[80] = 0x007e; // ATA-1 to ATA-6
        w.iter().flat_map(|x| x.to_le_bytes()).collect()
    }
}

/// An ATA string: two characters per word, the first in the high byte, space-padded.
fn put_string(words: &mut [u16], s: &str) {
    let b = s.as_bytes();
    for (i, w) in words.iter_mut().enumerate() {
        let hi = b.get(2 * i).copied().unwrap_or(b' ');
        let lo = b.get(2 * i + 1).copied().unwrap_or(b' ');
        *w = u16::from(hi) << 8 | u16::from(lo);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug)]
    struct Mem(Vec<u8>);

    impl BlockStore for Mem {
        fn sectors(&self) -> u64 {
            self.0.len() as u64 / 512
        }
        fn read_sectors(&mut self, lba: u64, buf: &mut [u8]) -> Result<(), String> {
            let at = lba as usize * 512;
            buf.copy_from_slice(self.0.get(at..at + buf.len()).ok_or("past the end")?);
            Ok(())
        }
        fn write_sectors(&mut self, lba: u64, data: &[u8]) -> Result<(), String> {
            let at = lba as usize * 512;
            self.0
                .get_mut(at..at + data.len())
                .ok_or("past the end")?
                .copy_from_slice(data);
            Ok(())
        }
    }

    fn drive() -> Ata {
        let disk: Vec<u8> = (0..8 * 512).map(|i| (i / 512) as u8 ^ i as u8).collect();
        Ata::new(Box::new(Mem(disk)))
    }

    fn lba_task(a: &mut Ata, lba: u32, count: u8) {
        a.write(2, 1, u32::from(count));
        a.write(3, 1, lba & 0xff);
        a.write(4, 1, (lba >> 8) & 0xff);
        a.write(5, 1, (lba >> 16) & 0xff);
        a.write(6, 1, 0xe0 | (lba >> 24));
    }

    #[test]
    fn identify_reports_size_and_strings() {
        let mut a = drive();
        a.write(7, 1, 0xec);
        assert!(a.irq_level());
        assert_eq!(a.read(7, 1) as u8 & status::DRQ, status::DRQ);
        assert!(!a.irq_level(), "reading status acknowledges");
        let words: Vec<u16> = (0..256).map(|_| a.read(0, 2) as u16).collect();
        assert_eq!(words[60], 8);
        assert_eq!(words[49] & 0x200, 0x200);
        assert_eq!(words[27], u16::from_be_bytes(*b"vm"));
        assert_eq!(a.read(7, 1) as u8, status::DRDY | status::DSC);
    }

    #[test]
    fn read_and_write_sectors_in_lba_and_chs() {
        let mut a = drive();
        lba_task(&mut a, 2, 2);
        a.write(7, 1, 0x20);
        let mut got = Vec::new();
        for _ in 0..2 {
            assert!(a.irq_level());
            a.read(7, 1);
            for _ in 0..128 {
                got.extend_from_slice(&a.read(0, 4).to_le_bytes());
            }
        }
        let want: Vec<u8> = (2 * 512..4 * 512)
            .map(|i| (i / 512) as u8 ^ i as u8)
            .collect();
        assert_eq!(got, want);
        assert_eq!(
            a.read(3, 1),
            4,
            "the task file points past the last sector read"
        );
        // WRITE SECTORS by CHS: cylinder 0, head 0, sector 6 = LBA 5.
        a.write(2, 1, 1);
        a.write(3, 1, 6);
        a.write(4, 1, 0);
        a.write(5, 1, 0);
        a.write(6, 1, 0xa0);
        a.write(7, 1, 0x30);
        assert!(
            !a.irq_level(),
            "no interrupt before the first sector of a write"
        );
        for i in 0..256u32 {
            a.write(0, 2, i);
        }
        assert!(a.irq_level());
        assert_eq!(a.read(7, 1) as u8, status::DRDY | status::DSC);
        lba_task(&mut a, 5, 1);
        a.write(7, 1, 0x20);
        assert_eq!(a.read(0, 2), 0);
        assert_eq!(a.read(0, 2), 1);
        assert_eq!(a.state().sectors_written, 1);
    }

    #[test]
    fn out_of_range_and_unknown_commands_fail() {
        let mut a = drive();
        lba_task(&mut a, 7, 2);
        a.write(7, 1, 0x20);
        assert_eq!(a.read(7, 1) as u8 & status::ERR, status::ERR);
        assert_eq!(a.read(1, 1) as u8, IDNF);
        a.write(7, 1, 0xff);
        assert_eq!(a.read(1, 1) as u8, ABRT);
        // The absent slave reads zero status.
        a.write(6, 1, 0xf0);
        assert_eq!(a.read(7, 1), 0);
        // Interrupts disabled by nIEN.
        a.write(6, 1, 0xe0);
        a.write(8, 1, 0x02);
        a.write(7, 1, 0xec);
        assert!(!a.irq_level());
    }
}
