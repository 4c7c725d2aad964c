//! GDB remote serial protocol framing: `$body#xx` packets with their checksum,
//! `+`/`-` acknowledgements and the 0x03 interrupt byte, over one TCP connection.

use std::io::{self, ErrorKind, Read, Write};
use std::net::TcpStream;

/// The interrupt byte gdb sends on Ctrl-C.
const INTERRUPT: u8 = 0x03;
/// The longest packet body accepted; longer ones are NAKed.
pub const MAX_PACKET: usize = 0x4000;

/// What arrived from gdb.
#[derive(Debug, PartialEq, Eq)]
pub enum Incoming {
    /// A packet body whose checksum matched (already acknowledged).
    Packet(Vec<u8>),
    /// Ctrl-C.
    Interrupt,
}

/// The sum of the bytes modulo 256, as the protocol checks it.
pub fn checksum(body: &[u8]) -> u8 {
    body.iter().fold(0u8, |a, &b| a.wrapping_add(b))
}

/// `$body#xx`.
pub fn frame(body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(body.len() + 4);
    out.push(b'$');
    out.extend_from_slice(body);
    out.extend_from_slice(format!("#{:02x}", checksum(body)).as_bytes());
    out
}

/// Splits the next complete packet or interrupt off the front of `buf`: `None`
/// while more bytes are needed; a packet with a bad checksum or an over-long body
/// comes back as `Err(())` (to be NAKed). Acknowledgements and noise are skipped.
pub fn parse(buf: &mut Vec<u8>) -> Option<Result<Incoming, ()>> {
    loop {
        let first = *buf.first()?;
        match first {
            INTERRUPT => {
                buf.remove(0);
                return Some(Ok(Incoming::Interrupt));
            }
            b'$' => break,
            _ => {
                buf.remove(0);
            }
        }
    }
    let Some(hash) = buf.iter().position(|&b| b == b'#') else {
        if buf.len() > MAX_PACKET + 4 {
            buf.clear();
            return Some(Err(()));
        }
        return None;
    };
    if buf.len() < hash + 3 {
        return None;
    }
    let raw: Vec<u8> = buf.drain(..hash + 3).collect();
    let body = &raw[1..hash];
    let sum = std::str::from_utf8(&raw[hash + 1..])
        .ok()
        .and_then(|s| u8::from_str_radix(s, 16).ok());
    if sum != Some(checksum(body)) || body.len() > MAX_PACKET {
        return Some(Err(()));
    }
    Some(Ok(Incoming::Packet(unescape(body))))
}

/// Undoes the `}` escape (the next byte XOR 0x20).
fn unescape(body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(body.len());
    let mut it = body.iter();
    while let Some(&b) = it.next() {
        if b == b'}' {
            if let Some(&n) = it.next() {
                out.push(n ^ 0x20);
            }
        } else {
            out.push(b);
        }
    }
    out
}

/// One gdb connection.
pub struct Conn {
    stream: TcpStream,
    buf: Vec<u8>,
}

impl Conn {
    pub fn new(stream: TcpStream) -> Conn {
        Conn {
            stream,
            buf: Vec::new(),
        }
    }

    /// Sends a packet (gdb's `+` comes back and is skipped by the next read).
    pub fn send(&mut self, body: &str) -> io::Result<()> {
        self.stream.write_all(&frame(body.as_bytes()))?;
        self.stream.flush()
    }

    fn fill(&mut self) -> io::Result<usize> {
        let mut chunk = [0u8; 4096];
        let n = self.stream.read(&mut chunk)?;
        self.buf.extend_from_slice(&chunk[..n]);
        Ok(n)
    }

    /// Waits for the next packet or interrupt; `None` when gdb hung up.
    pub fn next(&mut self) -> io::Result<Option<Incoming>> {
        loop {
            match parse(&mut self.buf) {
                Some(Ok(p)) => {
                    if matches!(p, Incoming::Packet(_)) {
                        self.stream.write_all(b"+")?;
                    }
                    return Ok(Some(p));
                }
                Some(Err(())) => self.stream.write_all(b"-")?,
                None => {
                    if self.fill()? == 0 {
                        return Ok(None);
                    }
                }
            }
        }
    }

    /// While the guest runs: whether gdb sent Ctrl-C (other bytes wait in the
    /// buffer); a hang-up or a broken connection reads as an interrupt.
    pub fn interrupted(&mut self) -> io::Result<bool> {
        self.stream.set_nonblocking(true)?;
        let r = self.fill();
        self.stream.set_nonblocking(false)?;
        match r {
            Ok(0) => return Ok(true),
            Ok(_) => {}
            Err(e) if e.kind() == ErrorKind::WouldBlock => {}
            Err(_) => return Ok(true),
        }
        if let Some(i) = self.buf.iter().position(|&b| b == INTERRUPT) {
            self.buf.remove(i);
            return Ok(true);
        }
        Ok(false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_and_parses() {
        assert_eq!(frame(b"OK"), b"$OK#9a");
        let mut buf = b"+$g#67$m0,4#fd".to_vec();
        assert_eq!(parse(&mut buf), Some(Ok(Incoming::Packet(b"g".to_vec()))));
        assert_eq!(
            parse(&mut buf),
            Some(Ok(Incoming::Packet(b"m0,4".to_vec())))
        );
        assert_eq!(parse(&mut buf), None);
    }

    #[test]
    fn bad_checksums_partial_packets_and_interrupts() {
        let mut buf = b"$g#00".to_vec();
        assert_eq!(parse(&mut buf), Some(Err(())));
        let mut buf = b"$g#6".to_vec();
        assert_eq!(parse(&mut buf), None);
        let mut buf = b"$g#zz".to_vec();
        assert_eq!(parse(&mut buf), Some(Err(())));
        let mut buf = vec![3];
        assert_eq!(parse(&mut buf), Some(Ok(Incoming::Interrupt)));
        let mut buf = b"$X0,1:}]#00".to_vec();
        let sum = checksum(b"X0,1:}]");
        buf.truncate(buf.len() - 2);
        buf.extend_from_slice(format!("{sum:02x}").as_bytes());
        assert_eq!(
            parse(&mut buf),
            Some(Ok(Incoming::Packet(b"X0,1:}".to_vec())))
        );
    }
}
