//! virtio-blk (virtio 1.x §5.2): requests (header, data, status byte) taken from the
//! request queue and served from the same [`BlockStore`] the ATA drive uses.

use alloc::boxed::Box;
use alloc::format;
use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;
use serde::{Deserialize, Serialize};

use super::busy::{Busy, ServiceTime};
use super::queue::{self, Desc, Dma};
use super::transport::Transport;
use crate::devices::BlockStore;

/// The legacy PCI device ID of a block device (transitional: 0x1000 + type − 1).
pub const DEVICE_ID: u16 = 0x1001;
/// The virtio device type (the PCI subsystem ID of a legacy device).
pub const DEVICE_TYPE: u16 = 2;
/// Feature bit: the device understands `T_FLUSH`.
pub const F_FLUSH: u32 = 1 << 9;
/// The features the device offers: flush and event indexes.
pub const FEATURES: u32 = F_FLUSH | queue::F_RING_EVENT_IDX;
/// The request queue's size.
pub const QUEUE_SIZE: u16 = 128;
/// The most data one request may move (larger ones fail with `S_IOERR`).
pub const MAX_REQUEST: usize = 4 << 20;

/// Request types.
pub const T_IN: u32 = 0;
/// Write sectors.
pub const T_OUT: u32 = 1;
/// Flush the write cache.
pub const T_FLUSH: u32 = 4;
/// The device's ID string (20 bytes).
pub const T_GET_ID: u32 = 8;
/// Status: done.
pub const S_OK: u8 = 0;
/// Status: the request failed.
pub const S_IOERR: u8 = 1;
/// Status: unknown request type.
pub const S_UNSUPP: u8 = 2;

/// The last request served, for the devices panel.
#[derive(Clone, PartialEq, Eq, Debug, Default, Serialize, Deserialize)]
pub struct LastRequest {
    /// The chain's head descriptor.
    pub head: u16,
    /// Its descriptors.
    pub chain: Vec<Desc>,
    /// Request type.
    pub kind: u32,
    /// First sector.
    pub sector: u64,
    /// Data bytes.
    pub bytes: u32,
    /// The status byte returned.
    pub status: u8,
}

/// The device's registers, queues and counters.
#[derive(Clone, PartialEq, Eq, Debug, Default, Serialize, Deserialize)]
pub struct VirtioBlkState {
    /// The PCI transport.
    pub transport: Transport,
    /// Requests served.
    pub requests: u64,
    /// Sectors read since power-on.
    pub sectors_read: u64,
    /// Sectors written since power-on.
    pub sectors_written: u64,
    /// The last request.
    pub last: Option<LastRequest>,
    /// The last host error (a bad image, a failed file access).
    pub host_error: Option<String>,
    /// The service-time model, the round in progress and the busy device's counters.
    #[serde(default)]
    pub busy: Busy,
}

/// A virtio block device over a disk.
#[derive(Debug)]
pub struct VirtioBlk {
    state: VirtioBlkState,
    disk: Box<dyn BlockStore>,
}

impl VirtioBlk {
    /// A device over `disk`, reset.
    pub fn new(disk: Box<dyn BlockStore>) -> VirtioBlk {
        VirtioBlk {
            state: VirtioBlkState {
                transport: Transport::new(FEATURES, &[QUEUE_SIZE]),
                ..VirtioBlkState::default()
            },
            disk,
        }
    }

    /// The registers and counters.
    pub fn state(&self) -> &VirtioBlkState {
        &self.state
    }

    /// Device reset.
    pub fn reset(&mut self) {
        self.state.transport.reset();
    }

    /// Restores from a snapshot.
    pub fn restore(&mut self, s: &VirtioBlkState) {
        let mut t = self.state.transport.clone();
        t.restore(&s.transport);
        self.state = s.clone();
        self.state.transport = t;
    }

    /// The device configuration: capacity in sectors (u64), size_max and seg_max (0).
    fn config(&self) -> [u8; 16] {
        let mut c = [0u8; 16];
        c[0..8].copy_from_slice(&self.disk.sectors().to_le_bytes());
        c
    }

    /// A read of BAR 0.
    pub fn read(&mut self, offset: u16, size: u8) -> u32 {
        let c = self.config();
        self.state.transport.read(offset, size, &c)
    }

    /// A write to BAR 0; a reset drops the requests in service.
    pub fn write(&mut self, offset: u16, size: u8, value: u32) {
        self.state.transport.write(offset, size, value);
        self.state.busy.after_write(&self.state.transport);
    }

    /// Sets the service time of each request (zero: served at the notify).
    pub fn set_service(&mut self, service: ServiceTime) {
        self.state.busy.service = service;
    }

    /// When the requests in service complete.
    pub fn deadline(&self) -> Option<u64> {
        self.state.busy.deadline()
    }

    /// A read of the modern interface's memory BAR.
    pub fn modern_read(&mut self, offset: u32, size: u8) -> u32 {
        let c = self.config();
        self.state.transport.modern_read(offset, size, &c)
    }

    /// A write to the modern interface's memory BAR; a reset drops the requests in
    /// service.
    pub fn modern_write(&mut self, offset: u32, size: u8, value: u32) {
        self.state.transport.modern_write(offset, size, value);
        self.state.busy.after_write(&self.state.transport);
    }

    /// The INTx level.
    pub fn irq_level(&self) -> bool {
        self.state.transport.irq_level()
    }

    /// Whether a notified queue or a finished round waits for [`VirtioBlk::service`]
    /// at guest cycle `now`.
    pub fn has_pending(&self, now: u64) -> bool {
        self.state.transport.pending != 0 || self.state.busy.due(now)
    }

    /// Serves every notified queue and ends a round due at `now`; an error in the
    /// rings stops the device.
    pub fn service(&mut self, dma: &mut Dma, now: u64) {
        let mut busy = core::mem::take(&mut self.state.busy);
        let mut t = core::mem::take(&mut self.state.transport);
        let mut serve = |dma: &mut Dma, head: u16, chain: Vec<Desc>| {
            let written = self.request(dma, head, chain)?;
            let moved = self.state.last.as_ref().map_or(0, |l| u64::from(l.bytes));
            Ok((written, moved))
        };
        if t.live() {
            if let Err(e) = busy.tick(&mut t, dma, now, &mut serve) {
                t.device_error(format!("queue 0: {e}"));
            }
        }
        while let Some(q) = t.take_pending() {
            if !t.live() {
                continue;
            }
            if let Err(e) = busy.notified(&mut t, dma, q, now, &mut serve) {
                t.device_error(format!("queue {q}: {e}"));
            }
        }
        if !t.live() {
            busy.round = None;
        }
        self.state.busy = busy;
        self.state.transport = t;
    }

    /// Serves one request; returns the bytes written into device-writable buffers.
    fn request(&mut self, dma: &mut Dma, head: u16, chain: Vec<Desc>) -> Result<u32, String> {
        let split = chain.iter().position(Desc::writable).unwrap_or(chain.len());
        let (readable, writable) = chain.split_at(split);
        let status_at = match writable.last() {
            Some(d) if d.len > 0 => d.addr + u64::from(d.len) - 1,
            _ => return Err(format!("request {head} has no device-writable status byte")),
        };
        let mut header = [0u8; 16];
        let in_len: u64 = readable.iter().map(|d| u64::from(d.len)).sum();
        if in_len < 16 {
            return Err(format!("request {head}'s header is {in_len} bytes, not 16"));
        }
        gather(dma, readable, 0, &mut header)?;
        let kind = u32::from_le_bytes([header[0], header[1], header[2], header[3]]);
        let mut s = [0u8; 8];
        s.copy_from_slice(&header[8..16]);
        let sector = u64::from_le_bytes(s);
        let out_len = in_len - 16;
        let room: u64 = writable.iter().map(|d| u64::from(d.len)).sum::<u64>() - 1;
        let (status, written, bytes) = match kind {
            T_IN => {
                let (st, n) = self.read_into(dma, writable, sector, room)?;
                (st, if st == 0 { n + 1 } else { 1 }, n)
            }
            T_OUT => (self.write_from(dma, readable, sector, out_len)?, 1, out_len),
            T_FLUSH => (S_OK, 1, 0),
            T_GET_ID => {
                let mut id = [0u8; 20];
                id[..16].copy_from_slice(b"vmlab virtio-blk");
                let n = (room as usize).min(20);
                scatter(dma, writable, &id[..n])?;
                (S_OK, n as u64 + 1, n as u64)
            }
            _ => (S_UNSUPP, 1, 0),
        };
        dma.write(status_at, &[status], "the status byte")?;
        self.state.requests += 1;
        self.state.last = Some(LastRequest {
            head,
            chain: chain.to_vec(),
            kind,
            sector,
            bytes: bytes as u32,
            status,
        });
        Ok(written as u32)
    }

    /// Checks a data length and sector range: the sector count, or why it fails.
    fn span(&self, sector: u64, len: u64) -> Option<u64> {
        let n = len / 512;
        (len.is_multiple_of(512)
            && len as usize <= MAX_REQUEST
            && sector
                .checked_add(n)
                .is_some_and(|e| e <= self.disk.sectors()))
        .then_some(n)
    }

    fn read_into(
        &mut self,
        dma: &mut Dma,
        writable: &[Desc],
        sector: u64,
        len: u64,
    ) -> Result<(u8, u64), String> {
        let Some(n) = self.span(sector, len) else {
            return Ok((S_IOERR, 0));
        };
        let mut buf = vec![0u8; len as usize];
        if let Err(e) = self.disk.read_sectors(sector, &mut buf) {
            self.state.host_error = Some(e);
            return Ok((S_IOERR, 0));
        }
        scatter(dma, writable, &buf)?;
        self.state.sectors_read += n;
        Ok((S_OK, len))
    }

    fn write_from(
        &mut self,
        dma: &mut Dma,
        readable: &[Desc],
        sector: u64,
        len: u64,
    ) -> Result<u8, String> {
        let Some(n) = self.span(sector, len) else {
            return Ok(S_IOERR);
        };
        let mut buf = vec![0u8; len as usize];
        gather(dma, readable, 16, &mut buf)?;
        if let Err(e) = self.disk.write_sectors(sector, &buf) {
            self.state.host_error = Some(e);
            return Ok(S_IOERR);
        }
        self.state.sectors_written += n;
        Ok(S_OK)
    }
}

/// Fills `out` from the byte stream of `descs`, starting `skip` bytes in.
fn gather(dma: &mut Dma, descs: &[Desc], mut skip: u64, out: &mut [u8]) -> Result<(), String> {
    let mut done = 0;
    for d in descs {
        if done == out.len() {
            break;
        }
        let len = u64::from(d.len);
        if skip >= len {
            skip -= len;
            continue;
        }
        let n = ((len - skip) as usize).min(out.len() - done);
        dma.read(d.addr + skip, &mut out[done..done + n], "a request buffer")?;
        done += n;
        skip = 0;
    }
    Ok(())
}

/// Writes `data` into the byte stream of `descs`.
fn scatter(dma: &mut Dma, descs: &[Desc], data: &[u8]) -> Result<(), String> {
    let mut done = 0;
    for d in descs {
        if done == data.len() {
            break;
        }
        let n = (d.len as usize).min(data.len() - done);
        dma.write(d.addr, &data[done..done + n], "a request buffer")?;
        done += n;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::devices::virtio::busy::Round;
    use crate::devices::virtio::modern::common;
    use crate::devices::virtio::transport::{reg, status};

    #[derive(Debug)]
    struct Blank;

    impl BlockStore for Blank {
        fn sectors(&self) -> u64 {
            8
        }
        fn read_sectors(&mut self, _: u64, buf: &mut [u8]) -> Result<(), String> {
            buf.fill(0);
            Ok(())
        }
        fn write_sectors(&mut self, _: u64, _: &[u8]) -> Result<(), String> {
            Ok(())
        }
    }

    /// A device with a round in service, reset through `reset_by`.
    fn reset_drops_the_round(reset_by: impl Fn(&mut VirtioBlk)) -> Option<Round> {
        let mut d = VirtioBlk::new(Box::new(Blank));
        d.write(reg::STATUS, 1, u32::from(status::DRIVER_OK));
        d.state.busy.round = Some(Round {
            due: 1000,
            done: vec![(0, 1)],
            ..Round::default()
        });
        d.write(reg::STATUS, 1, u32::from(status::DRIVER_OK));
        assert!(
            d.state.busy.round.is_some(),
            "a status write keeps the round"
        );
        reset_by(&mut d);
        d.state.busy.round
    }

    #[test]
    fn a_reset_through_either_interface_drops_the_requests_in_service() {
        assert_eq!(reset_drops_the_round(|d| d.write(reg::STATUS, 1, 0)), None);
        assert_eq!(
            reset_drops_the_round(|d| d.modern_write(common::DEVICE_STATUS, 1, 0)),
            None
        );
    }
}
