//! The NE2000 register model: PROM, remote DMA, transmit, the receive ring and ISR.

use super::*;

const MAC: [u8; 6] = [0x52, 0x54, 0x00, 0x12, 0x34, 0x56];

/// A started card with a receive ring at pages 0x46–0x80, taking broadcasts, with
/// PRX and PTX unmasked.
fn started() -> Ne2000 {
    let mut n = Ne2000::new(MAC);
    n.write(0, 1, 0x21); // page 0, stop, abort DMA
    n.write(0x0e, 1, 0x49); // word-wide
    n.write(0x01, 1, 0x46);
    n.write(0x02, 1, 0x80);
    n.write(0x03, 1, 0x46);
    n.write(0x0c, 1, u32::from(RCR_AB));
    n.write(0x07, 1, 0xff);
    n.write(0x0f, 1, u32::from(ISR_PRX | ISR_PTX));
    n.write(0, 1, 0x61); // page 1
    for (i, b) in MAC.iter().enumerate() {
        n.write(1 + i as u16, 1, u32::from(*b));
    }
    n.write(0x07, 1, 0x46); // CURR
    n.write(0, 1, 0x22); // page 0, start
    n
}

/// Remote DMA of `len` bytes from `addr` through the data port, word by word.
fn remote_read(n: &mut Ne2000, addr: u16, len: u16) -> Vec<u8> {
    n.write(0x08, 1, u32::from(addr & 0xff));
    n.write(0x09, 1, u32::from(addr >> 8));
    n.write(0x0a, 1, u32::from(len & 0xff));
    n.write(0x0b, 1, u32::from(len >> 8));
    n.write(0, 1, 0x0a); // remote read, start
    let mut out = Vec::new();
    for _ in 0..len.div_ceil(2) {
        out.extend_from_slice(&(n.read(DATA_PORT, 2) as u16).to_le_bytes());
    }
    out.truncate(usize::from(len));
    out
}

#[test]
fn the_prom_holds_the_station_address_twice_over() {
    let mut n = Ne2000::new(MAC);
    let prom = remote_read(&mut n, 0, 32);
    for (i, b) in MAC.iter().enumerate() {
        assert_eq!((prom[2 * i], prom[2 * i + 1]), (*b, *b));
    }
    assert_eq!(prom[0x1c], 0x57);
    assert_ne!(n.read(0x07, 1) as u8 & ISR_RDC, 0, "remote DMA complete");
}

#[test]
fn a_frame_written_by_remote_dma_is_transmitted() {
    let mut n = started();
    let frame: Vec<u8> = (0..100u8).collect();
    n.write(0x08, 1, 0);
    n.write(0x09, 1, 0x40);
    n.write(0x0a, 1, 100);
    n.write(0x0b, 1, 0);
    n.write(0, 1, 0x12); // remote write, start
    for w in frame.chunks(2) {
        n.write(DATA_PORT, 2, u32::from(u16::from_le_bytes([w[0], w[1]])));
    }
    assert_ne!(n.read(0x07, 1) as u8 & ISR_RDC, 0);
    n.write(0x04, 1, 0x40);
    n.write(0x05, 1, 100);
    n.write(0x06, 1, 0);
    assert!(!n.irq_level());
    n.write(0, 1, 0x26); // transmit
    assert!(n.irq_level(), "PTX raises the line");
    assert_eq!(n.take_sent(), vec![frame]);
    assert_eq!(n.read(0x04, 1), 1, "TSR: transmitted");
    assert_eq!(n.read(0, 1) as u8 & CR_TXP, 0, "TXP clears");
    n.write(0x07, 1, u32::from(ISR_PTX));
    assert!(!n.irq_level(), "writing the bit back clears it");
    assert_eq!(n.state().interrupts, 1);
}

#[test]
fn received_frames_fill_the_ring_behind_their_headers_and_wrap() {
    let mut n = started();
    // 60 + 4 bytes: one page each. Fill the ring (58 pages) until it refuses.
    let mut frame = vec![0xffu8; 6];
    frame.extend_from_slice(&[7; 54]);
    for _ in 0..60 {
        n.deliver(&frame);
    }
    // 58 pages; CURR may not catch up with BNRY, so 57 frames fit.
    assert_eq!(n.state().received, 57);
    assert_eq!(n.state().dropped, 3);
    assert_ne!(n.state().isr & ISR_OVW, 0);
    let head = remote_read(&mut n, 0x4600, 4);
    assert_eq!(
        head,
        vec![0x21, 0x47, 64, 0],
        "status (multicast), next, length"
    );
    // The driver reads 56 frames; the next frame wraps round PSTOP.
    n.write(0x03, 1, 0x7e);
    let big: Vec<u8> = MAC
        .iter()
        .copied()
        .chain((0..500).map(|i| i as u8))
        .collect();
    n.deliver(&big);
    assert_eq!(n.state().received, 58);
    // The frame starts at page 0x7F and goes on at PSTART (two pages: 0x7F, then 0x46).
    assert_eq!(remote_read(&mut n, 0x7f00, 4), vec![0x01, 0x47, 254, 1]);
    let body = remote_read(&mut n, 0x7f04, 506);
    assert_eq!(body, big);
}

#[test]
fn the_filter_takes_our_address_and_broadcasts_only() {
    let mut n = started();
    n.deliver(&[0x02, 0, 0, 0, 0, 9, 1, 2, 3]);
    n.deliver(&[0x01, 0, 0x5e, 0, 0, 1, 1, 2, 3]);
    assert_eq!((n.state().received, n.state().dropped), (0, 2));
    n.deliver(&MAC);
    assert_eq!(n.state().received, 1);
    assert!(n.irq_level());
}

#[test]
fn the_reset_port_and_stop_set_rst() {
    let mut n = started();
    n.write(0x07, 1, 0xff);
    assert_eq!(n.read(0x07, 1) as u8 & ISR_RST, 0);
    n.read(RESET_PORT, 1);
    assert_ne!(n.read(0x07, 1) as u8 & ISR_RST, 0);
    assert_eq!(n.read(0, 1) as u8 & CR_STP, CR_STP);
    n.deliver(&MAC);
    assert_eq!(n.state().received, 0, "a stopped chip takes nothing");
}

#[test]
fn nothing_the_guest_writes_panics() {
    let mut n = Ne2000::new(MAC);
    for seed in 0u32..20000 {
        let x = seed.wrapping_mul(2654435761);
        let off = (x >> 8) as u16 % BAR0_SIZE;
        if x & 1 == 0 {
            n.write(off, [1, 2, 4][(x >> 1) as usize % 3], x >> 13);
        } else {
            n.read(off, 2);
        }
        if seed % 7 == 0 {
            n.deliver(&[0xff; 200]);
            n.take_sent();
        }
    }
}
