//! Capture files in the classic libpcap format (microsecond timestamps, Ethernet link type), as `tcpdump -r` reads them.

use alloc::vec::Vec;

/// The libpcap magic number, written in the host's order by libpcap; we write little-endian.
pub const MAGIC: u32 = 0xa1b2_c3d4;
/// Link type of Ethernet frames.
pub const LINKTYPE_ETHERNET: u32 = 1;
/// Bytes kept of each frame.
pub const SNAPLEN: u32 = 65535;

/// A pcap file being written in memory.
#[derive(Clone, Debug)]
pub struct PcapWriter {
    bytes: Vec<u8>,
    records: u64,
}

impl Default for PcapWriter {
    fn default() -> Self {
        Self::new()
    }
}

impl PcapWriter {
    /// A file holding only the global header.
    pub fn new() -> Self {
        let mut bytes = Vec::with_capacity(24);
        bytes.extend_from_slice(&MAGIC.to_le_bytes());
        bytes.extend_from_slice(&2u16.to_le_bytes());
        bytes.extend_from_slice(&4u16.to_le_bytes());
        bytes.extend_from_slice(&0i32.to_le_bytes());
        bytes.extend_from_slice(&0u32.to_le_bytes());
        bytes.extend_from_slice(&SNAPLEN.to_le_bytes());
        bytes.extend_from_slice(&LINKTYPE_ETHERNET.to_le_bytes());
        PcapWriter { bytes, records: 0 }
    }
    /// Appends one frame seen at `micros` microseconds after the start.
    pub fn record(&mut self, micros: u64, frame: &[u8]) {
        let kept = frame.len().min(SNAPLEN as usize);
        let secs = (micros / 1_000_000) as u32;
        let usecs = (micros % 1_000_000) as u32;
        self.bytes.extend_from_slice(&secs.to_le_bytes());
        self.bytes.extend_from_slice(&usecs.to_le_bytes());
        self.bytes.extend_from_slice(&(kept as u32).to_le_bytes());
        self.bytes
            .extend_from_slice(&(frame.len() as u32).to_le_bytes());
        self.bytes.extend_from_slice(&frame[..kept]);
        self.records += 1;
    }
    /// Frames recorded.
    pub fn records(&self) -> u64 {
        self.records
    }
    /// The file's bytes.
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }
}

/// Reads the frames back from a file [`PcapWriter`] wrote (little-endian, microseconds):
/// `(micros, frame)` pairs, or where the file stops making sense.
pub fn read(file: &[u8]) -> Result<Vec<(u64, Vec<u8>)>, &'static str> {
    if file.len() < 24 {
        return Err("pcap global header truncated");
    }
    if file[..4] != MAGIC.to_le_bytes() {
        return Err("not a little-endian microsecond pcap file (magic)");
    }
    let mut at = 24;
    let mut out = Vec::new();
    while at < file.len() {
        let Some(h) = file.get(at..at + 16) else {
            return Err("pcap record header truncated");
        };
        let word = |i: usize| u32::from_le_bytes([h[i], h[i + 1], h[i + 2], h[i + 3]]);
        let micros = u64::from(word(0)) * 1_000_000 + u64::from(word(4));
        let len = word(8) as usize;
        let end = (at + 16)
            .checked_add(len)
            .ok_or("pcap record length too large")?;
        let Some(data) = file.get(at + 16..end) else {
            return Err("pcap record data truncated");
        };
        out.push((micros, data.to_vec()));
        at = end;
    }
    Ok(out)
}
