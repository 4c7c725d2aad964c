//! Copies between the host and the process's memory, page by page through the core's
//! page walk, with the checks a kernel makes: a bad pointer is EFAULT, never a panic.

use alloc::string::String;
use alloc::vec::Vec;
use emulator_core::Machine;

use crate::space::{errno::EFAULT, PAGE};

/// The physical address of user `addr`, if a ring-3 access (a write when `write`) may
/// reach it.
fn phys(m: &Machine, addr: u32, write: bool) -> Result<u32, i32> {
    let w = m.translate(addr);
    let leaf = w.leaf().ok_or(EFAULT)?;
    let pde = w.pde.ok_or(EFAULT)?;
    let ok = leaf.present && leaf.user && pde.user && (!write || (leaf.writable && pde.writable));
    match w.physical {
        Some(p) if ok => Ok(p),
        _ => Err(EFAULT),
    }
}

/// Reads `len` bytes of user memory.
pub fn read(m: &Machine, addr: u32, len: usize) -> Result<Vec<u8>, i32> {
    let mut out = alloc::vec![0u8; len];
    let mut done = 0usize;
    while done < len {
        let a = addr.checked_add(done as u32).ok_or(EFAULT)?;
        let p = phys(m, a, false)?;
        let n = ((PAGE - (a & 0xfff)) as usize).min(len - done);
        m.peek_phys(p, &mut out[done..done + n]);
        done += n;
    }
    Ok(out)
}

/// Writes `bytes` to user memory.
pub fn write(m: &mut Machine, addr: u32, bytes: &[u8]) -> Result<(), i32> {
    // Check every page first, so a bad pointer writes nothing.
    let mut done = 0usize;
    let mut pages = Vec::new();
    while done < bytes.len() {
        let a = addr.checked_add(done as u32).ok_or(EFAULT)?;
        let n = ((PAGE - (a & 0xfff)) as usize).min(bytes.len() - done);
        pages.push((phys(m, a, true)?, done, n));
        done += n;
    }
    for (p, at, n) in pages {
        m.write_phys(p, &bytes[at..at + n]).map_err(|_| EFAULT)?;
    }
    Ok(())
}

/// Reads a user u32.
pub fn read_u32(m: &Machine, addr: u32) -> Result<u32, i32> {
    let b = read(m, addr, 4)?;
    Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
}

/// Writes a user u32.
pub fn write_u32(m: &mut Machine, addr: u32, v: u32) -> Result<(), i32> {
    write(m, addr, &v.to_le_bytes())
}

/// Reads a NUL-terminated user string of at most `max` bytes (Linux's PATH_MAX is 4096).
pub fn read_cstr(m: &Machine, addr: u32, max: usize) -> Result<String, i32> {
    let mut out = Vec::new();
    let mut a = addr;
    while out.len() < max {
        let p = phys(m, a, false)?;
        let n = (PAGE - (a & 0xfff)) as usize;
        let mut chunk = alloc::vec![0u8; n.min(max - out.len())];
        m.peek_phys(p, &mut chunk);
        if let Some(z) = chunk.iter().position(|&b| b == 0) {
            out.extend_from_slice(&chunk[..z]);
            return Ok(String::from_utf8_lossy(&out).into_owned());
        }
        out.extend_from_slice(&chunk);
        a = a.checked_add(chunk.len() as u32).ok_or(EFAULT)?;
    }
    Err(36) // ENAMETOOLONG
}
