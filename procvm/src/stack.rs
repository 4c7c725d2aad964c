//! The initial stack Linux gives a new program: argc, argv, envp and the auxiliary
//! vector (AT_PHDR, AT_PAGESZ, AT_RANDOM, AT_ENTRY …), with their strings above.

use alloc::string::String;
use alloc::vec::Vec;

use crate::elf::Program;
use crate::space::{Space, PAGE, USER_TOP};
use crate::Process;

const AT_NULL: u32 = 0;
const AT_PHDR: u32 = 3;
const AT_PHENT: u32 = 4;
const AT_PHNUM: u32 = 5;
const AT_PAGESZ: u32 = 6;
const AT_BASE: u32 = 7;
const AT_FLAGS: u32 = 8;
const AT_ENTRY: u32 = 9;
const AT_UID: u32 = 11;
const AT_EUID: u32 = 12;
const AT_GID: u32 = 13;
const AT_EGID: u32 = 14;
const AT_PLATFORM: u32 = 15;
const AT_HWCAP: u32 = 16;
const AT_CLKTCK: u32 = 17;
const AT_SECURE: u32 = 23;
const AT_RANDOM: u32 = 25;
const AT_EXECFN: u32 = 31;

/// The user id and group id the process runs as.
pub const UID: u32 = 1000;

/// Maps the top of the stack, writes the start-up block, and answers the initial ESP.
pub(crate) fn build(
    p: &mut Process,
    prog: &Program,
    args: &[String],
    env: &[String],
) -> Result<u32, i32> {
    p.space
        .map_range(&mut p.m, USER_TOP - 32 * PAGE, USER_TOP, true)?;
    let mut strings: Vec<u8> = Vec::new();
    let mut offsets = Vec::new();
    let push_str = |s: &[u8], strings: &mut Vec<u8>| {
        let at = strings.len();
        strings.extend_from_slice(s);
        strings.push(0);
        at
    };
    for a in args {
        offsets.push(push_str(a.as_bytes(), &mut strings));
    }
    for e in env {
        offsets.push(push_str(e.as_bytes(), &mut strings));
    }
    let platform = push_str(b"i686", &mut strings);
    let execfn = push_str(p.tasks[p.cur].exe.as_bytes(), &mut strings);
    let random_at = strings.len();
    for i in 0..16u8 {
        strings.push(i.wrapping_mul(37).wrapping_add(11));
    }
    if strings.len() > 16 * PAGE as usize {
        return Err(7); // E2BIG
    }
    let str_base = (USER_TOP - 16 - strings.len() as u32) & !15;
    Space::poke(&mut p.m, str_base, &strings)?;
    let addr = |off: usize| str_base + off as u32;
    let argc = args.len();
    let mut words: Vec<u32> = Vec::new();
    words.push(argc as u32);
    words.extend(offsets[..argc].iter().map(|&o| addr(o)));
    words.push(0);
    words.extend(offsets[argc..].iter().map(|&o| addr(o)));
    words.push(0);
    let aux = [
        (AT_PHDR, prog.phdr),
        (AT_PHENT, 32),
        (AT_PHNUM, prog.phnum),
        (AT_PAGESZ, PAGE),
        (AT_BASE, 0),
        (AT_FLAGS, 0),
        (AT_ENTRY, prog.entry),
        (AT_UID, UID),
        (AT_EUID, UID),
        (AT_GID, UID),
        (AT_EGID, UID),
        (AT_HWCAP, 0),
        (AT_CLKTCK, 100),
        (AT_SECURE, 0),
        (AT_RANDOM, addr(random_at)),
        (AT_PLATFORM, addr(platform)),
        (AT_EXECFN, addr(execfn)),
        (AT_NULL, 0),
    ];
    for (k, v) in aux {
        words.push(k);
        words.push(v);
    }
    let esp = (str_base - 4 * words.len() as u32) & !15;
    let bytes: Vec<u8> = words.iter().flat_map(|w| w.to_le_bytes()).collect();
    Space::poke(&mut p.m, esp, &bytes)?;
    Ok(esp)
}
