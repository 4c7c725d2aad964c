//! The Linux i386 system-call interface the process VM emulates: the call table
//! (number, name, how its arguments print), and each call's effect. Unknown calls
//! return -ENOSYS and are recorded; a bad pointer returns -EFAULT.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use emulator_core::descriptor::{attr, Descriptor, DATA_ATTRS};
use emulator_core::Gpr;
use serde::Serialize;

use crate::fs::Open;
use crate::procs::Answer;
use crate::space::{errno, PAGE};
use crate::{kernel, uaccess, Exit, Flow, Process};

const ENOSYS: i32 = 38;
/// Bytes a pipe holds, as on Linux.
const PIPE_CAPACITY: usize = 65536;
/// Writes up to this size go into a pipe whole (POSIX's PIPE_BUF).
const PIPE_BUF: usize = 4096;

/// One system call as `--strace` shows it.
#[derive(Clone, Debug, Serialize)]
pub struct SyscallRecord {
    /// The calling process's pid, as it sees it.
    pub pid: u32,
    /// The call's number in EAX.
    pub nr: u32,
    /// Its name, or `syscall_N`.
    pub name: String,
    /// The arguments, decoded.
    pub args: String,
    /// The result (a negative value is -errno).
    pub ret: i32,
    /// Instructions the program had retired when it made the call.
    pub icount: u64,
}

impl core::fmt::Display for SyscallRecord {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "{}({}) = ", self.name, self.args)?;
        match self.ret {
            r if (-4095..0).contains(&r) => write!(f, "-1 {}", errno_name(-r)),
            r if !(0..=0xffff).contains(&r) => write!(f, "{:#x}", r as u32),
            r => write!(f, "{r}"),
        }
    }
}

/// The symbolic name of a Linux errno.
pub fn errno_name(e: i32) -> &'static str {
    match e {
        1 => "EPERM",
        2 => "ENOENT",
        3 => "ESRCH",
        8 => "ENOEXEC",
        10 => "ECHILD",
        11 => "EAGAIN",
        13 => "EACCES",
        7 => "E2BIG",
        9 => "EBADF",
        12 => "ENOMEM",
        14 => "EFAULT",
        20 => "ENOTDIR",
        21 => "EISDIR",
        22 => "EINVAL",
        24 => "EMFILE",
        25 => "ENOTTY",
        27 => "EFBIG",
        29 => "ESPIPE",
        30 => "EROFS",
        32 => "EPIPE",
        36 => "ENAMETOOLONG",
        38 => "ENOSYS",
        _ => "E?",
    }
}

/// How each argument prints.
#[derive(Clone, Copy)]
enum A {
    /// A number.
    Int,
    /// An address or flags in hex.
    Hex,
    /// A NUL-terminated path.
    Path,
    /// A buffer the program writes out, its length in the next argument.
    Buf,
}

/// The emulated calls: number, name, argument kinds.
const CALLS: &[(u32, &str, &[A])] = {
    use A::*;
    &[
        (1, "exit", &[Int]),
        (2, "fork", &[]),
        (3, "read", &[Int, Hex, Int]),
        (4, "write", &[Int, Buf, Int]),
        (5, "open", &[Path, Hex, Hex]),
        (6, "close", &[Int]),
        (7, "waitpid", &[Int, Hex, Hex]),
        (10, "unlink", &[Path]),
        (11, "execve", &[Path, Hex, Hex]),
        (12, "chdir", &[Path]),
        (13, "time", &[Hex]),
        (19, "lseek", &[Int, Int, Int]),
        (20, "getpid", &[]),
        (33, "access", &[Path, Hex]),
        (37, "kill", &[Int, Int]),
        (39, "mkdir", &[Path, Hex]),
        (41, "dup", &[Int]),
        (42, "pipe", &[Hex]),
        (45, "brk", &[Hex]),
        (54, "ioctl", &[Int, Hex, Hex]),
        (61, "chroot", &[Path]),
        (63, "dup2", &[Int, Int]),
        (64, "getppid", &[]),
        (78, "gettimeofday", &[Hex, Hex]),
        (85, "readlink", &[Path, Hex, Int]),
        (91, "munmap", &[Hex, Int]),
        (114, "wait4", &[Int, Hex, Hex, Hex]),
        (120, "clone", &[Hex, Hex, Hex, Hex, Hex]),
        (122, "uname", &[Hex]),
        (125, "mprotect", &[Hex, Int, Hex]),
        (140, "_llseek", &[Int, Int, Int, Hex, Int]),
        (146, "writev", &[Int, Hex, Int]),
        (174, "rt_sigaction", &[Int, Hex, Hex]),
        (175, "rt_sigprocmask", &[Int, Hex, Hex]),
        (183, "getcwd", &[Hex, Int]),
        (191, "ugetrlimit", &[Int, Hex]),
        (190, "vfork", &[]),
        (192, "mmap2", &[Hex, Int, Hex, Hex, Int, Int]),
        (195, "stat64", &[Path, Hex]),
        (196, "lstat64", &[Path, Hex]),
        (197, "fstat64", &[Int, Hex]),
        (199, "getuid32", &[]),
        (200, "getgid32", &[]),
        (201, "geteuid32", &[]),
        (202, "getegid32", &[]),
        (220, "getdents64", &[Int, Hex, Int]),
        (224, "gettid", &[]),
        (238, "tkill", &[Int, Int]),
        (243, "set_thread_area", &[Hex]),
        (252, "exit_group", &[Int]),
        (258, "set_tid_address", &[Hex]),
        (265, "clock_gettime", &[Int, Hex]),
        (295, "openat", &[Int, Path, Hex, Hex]),
        (270, "tgkill", &[Int, Int, Int]),
        (311, "set_robust_list", &[Hex, Int]),
        (330, "dup3", &[Int, Int, Hex]),
        (331, "pipe2", &[Hex, Hex]),
        (355, "getrandom", &[Hex, Int, Hex]),
        (383, "statx", &[Int, Path, Hex, Hex, Hex]),
        (403, "clock_gettime64", &[Int, Hex]),
    ]
};

/// The name of call `nr`.
pub fn name(nr: u32) -> String {
    CALLS
        .iter()
        .find(|c| c.0 == nr)
        .map_or_else(|| format!("syscall_{nr}"), |c| c.1.into())
}

/// The numbers and names of every emulated call.
pub fn table() -> impl Iterator<Item = (u32, &'static str)> {
    CALLS.iter().map(|c| (c.0, c.1))
}

impl Process {
    /// Virtual time: nanoseconds since the epoch (one an instruction, plus the time the
    /// CPU quota held the processes back, from 2026-01-01 00:00:00 UTC).
    fn now_ns(&self) -> u64 {
        1_767_225_600u64 * 1_000_000_000 + self.clock.now(self.m.icount())
    }

    fn describe(&self, nr: u32, a: &[u32; 6]) -> String {
        let Some(&(_, _, kinds)) = CALLS.iter().find(|c| c.0 == nr) else {
            return format!("{:#x}, {:#x}, {:#x}", a[0], a[1], a[2]);
        };
        let mut parts = Vec::new();
        for (i, k) in kinds.iter().enumerate() {
            parts.push(match k {
                A::Int => format!("{}", a[i] as i32),
                A::Hex => format!("{:#x}", a[i]),
                A::Path => match uaccess::read_cstr(&self.m, a[i], 4096) {
                    Ok(s) => format!("{s:?}"),
                    Err(_) => format!("{:#x}", a[i]),
                },
                A::Buf => {
                    let n = (a.get(i + 1).copied().unwrap_or(0) as usize).min(32);
                    match uaccess::read(&self.m, a[i], n) {
                        Ok(b) => format!("{:?}", String::from_utf8_lossy(&b)),
                        Err(_) => format!("{:#x}", a[i]),
                    }
                }
            });
        }
        parts.join(", ")
    }

    /// Answers the `int 0x80` the running process just made.
    pub(crate) fn syscall(&mut self) -> Flow {
        let c = self.m.cpu();
        let nr = c.gpr[Gpr::Eax as usize];
        let g = |r: Gpr| c.gpr[r as usize];
        let a = [
            g(Gpr::Ebx),
            g(Gpr::Ecx),
            g(Gpr::Edx),
            g(Gpr::Esi),
            g(Gpr::Edi),
            g(Gpr::Ebp),
        ];
        self.syscalls += 1;
        self.tasks[self.cur].syscalls += 1;
        let args = if self.cfg.trace {
            self.describe(nr, &a)
        } else {
            String::new()
        };
        let pid = self.vpid(self.cur);
        let (flow, ret) = match self.call(nr, &a) {
            Ok(Ok(v)) => (Flow::Go, Some(v)),
            Ok(Err(e)) => (Flow::Go, Some(-e)),
            Err(Flow::Block) => return Flow::Block,
            Err(flow) => (flow, None),
        };
        if self.cfg.trace {
            self.trace.push(SyscallRecord {
                pid,
                nr,
                name: name(nr),
                args,
                ret: ret.unwrap_or(0),
                icount: self.m.icount(),
            });
        }
        if let Some(r) = ret {
            self.m.cpu_mut().gpr[Gpr::Eax as usize] = r as u32;
        }
        flow
    }

    /// The call's effect: Ok(result or errno), or Err for the scheduler (the process
    /// ends, waits, or has a new image).
    fn call(&mut self, nr: u32, a: &[u32; 6]) -> Answer {
        let r = match nr {
            1 | 252 => return Err(Flow::End(Exit::Exited { status: a[0] as u8 })),
            2 | 190 => return self.sys_fork(0, 0, 0, 0),
            120 => return self.sys_fork(a[0], a[1], a[2], a[4]),
            11 => return self.sys_execve(a[0], a[1], a[2]),
            7 => return self.sys_wait4(a[0], a[1], a[2]),
            114 => return self.sys_wait4(a[0], a[1], a[2]),
            3 => return self.sys_read(a[0], a[1], a[2]),
            4 => {
                return match uaccess::read(&self.m, a[1], (a[2] as usize).min(1 << 24)) {
                    Ok(b) => self.write_out(a[0], &b),
                    Err(e) => Ok(Err(e)),
                }
            }
            146 => return self.sys_writev(a[0], a[1], a[2]),
            42 => self.sys_pipe(a[0]),
            331 => self.sys_pipe(a[0]),
            41 => self.fs.dup(a[0], None),
            63 => self.fs.dup(a[0], Some(a[1])),
            330 if a[0] == a[1] => Err(errno::EINVAL),
            330 => self.fs.dup(a[0], Some(a[1])),
            5 => self.path_arg(a[0]).and_then(|p| self.fs.open(&p, a[1])),
            295 => self.path_arg(a[1]).and_then(|p| self.fs.open(&p, a[2])),
            6 => self.fs.close(a[0]).map(|_| 0),
            19 => self
                .fs
                .seek(a[0], a[1] as i32 as i64, a[2])
                .map(|p| p.min(i32::MAX as u64) as i32),
            140 => {
                let off = ((a[1] as u64) << 32 | a[2] as u64) as i64;
                match self.fs.seek(a[0], off, a[4]) {
                    Ok(p) => uaccess::write(&mut self.m, a[3], &p.to_le_bytes()).map(|_| 0),
                    Err(e) => Err(e),
                }
            }
            20 | 224 => Ok(self.vpid(self.cur) as i32),
            64 => Ok(self.vppid(self.cur) as i32),
            199..=202 => Ok(crate::stack::UID as i32),
            33 => self
                .path_arg(a[0])
                .and_then(|p| self.fs.stat(&p).map(|_| 0)),
            45 => Ok(self.sys_brk(a[0]) as i32),
            54 => match (self.fs.get(a[0]), a[1]) {
                (Err(e), _) => Err(e),
                (Ok(_), _) => Err(crate::fs::errno::ENOTTY),
            },
            13 => {
                let secs = (self.now_ns() / 1_000_000_000) as u32;
                if a[0] != 0 {
                    if let Err(e) = uaccess::write_u32(&mut self.m, a[0], secs) {
                        return Ok(Err(e));
                    }
                }
                Ok(secs as i32)
            }
            78 => {
                let ns = self.now_ns();
                let tv = [
                    (ns / 1_000_000_000) as u32,
                    ((ns % 1_000_000_000) / 1000) as u32,
                ];
                let b: Vec<u8> = tv.iter().flat_map(|w| w.to_le_bytes()).collect();
                if a[0] == 0 {
                    Ok(0)
                } else {
                    uaccess::write(&mut self.m, a[0], &b).map(|_| 0)
                }
            }
            265 => {
                let ns = self.now_ns();
                let ts = [(ns / 1_000_000_000) as u32, (ns % 1_000_000_000) as u32];
                let b: Vec<u8> = ts.iter().flat_map(|w| w.to_le_bytes()).collect();
                uaccess::write(&mut self.m, a[1], &b).map(|_| 0)
            }
            403 => {
                let ns = self.now_ns();
                let mut b = Vec::new();
                b.extend_from_slice(&(ns / 1_000_000_000).to_le_bytes());
                b.extend_from_slice(&(ns % 1_000_000_000).to_le_bytes());
                uaccess::write(&mut self.m, a[1], &b).map(|_| 0)
            }
            85 => {
                let p = match self.path_arg(a[0]) {
                    Ok(p) => p,
                    Err(e) => return Ok(Err(e)),
                };
                if p == "/proc/self/exe" {
                    let t = self.tasks[self.cur].exe.clone().into_bytes();
                    let n = t.len().min(a[2] as usize);
                    uaccess::write(&mut self.m, a[1], &t[..n]).map(|_| n as i32)
                } else {
                    Err(errno::EINVAL)
                }
            }
            91 => self.sys_munmap(a[0], a[1]),
            122 => self.sys_uname(a[0]),
            125 => self.sys_mprotect(a[0], a[1], a[2]),
            174 | 175 => Ok(0),
            12 => self
                .path_arg(a[0])
                .and_then(|p| self.fs.chdir(&p))
                .map(|_| 0),
            39 => self
                .path_arg(a[0])
                .and_then(|p| self.fs.mkdir(&p))
                .map(|_| 0),
            10 => self
                .path_arg(a[0])
                .and_then(|p| self.fs.unlink(&p))
                .map(|_| 0),
            61 => self
                .path_arg(a[0])
                .and_then(|p| self.fs.chroot(&p))
                .map(|_| 0),
            183 => {
                let mut cwd = self.fs.getcwd().into_bytes();
                cwd.push(0);
                if cwd.len() > a[1] as usize {
                    Err(34) // ERANGE
                } else {
                    uaccess::write(&mut self.m, a[0], &cwd).map(|_| cwd.len() as i32)
                }
            }
            191 => {
                // RLIMIT_STACK is 8 MiB; every other limit is unlimited.
                let (cur, max) = if a[0] == 3 {
                    (8 << 20, u32::MAX)
                } else {
                    (u32::MAX, u32::MAX)
                };
                let b: Vec<u8> = [cur, max].iter().flat_map(|w| w.to_le_bytes()).collect();
                uaccess::write(&mut self.m, a[1], &b).map(|_| 0)
            }
            192 => self.sys_mmap2(a),
            195 | 196 => match self.path_arg(a[0]).and_then(|p| self.fs.stat(&p)) {
                Ok(st) => self.write_stat64(a[1], st),
                Err(e) => Err(e),
            },
            197 => match self.fs.stat_fd(a[0]) {
                Ok(st) => self.write_stat64(a[1], st),
                Err(e) => Err(e),
            },
            383 => self.sys_statx(a),
            220 => self.sys_getdents64(a[0], a[1], a[2]),
            243 => self.sys_set_thread_area(a[0]),
            258 => {
                self.tasks[self.cur].tid_address = a[0];
                Ok(self.vpid(self.cur) as i32)
            }
            311 => Err(ENOSYS),
            355 => {
                let n = (a[1] as usize).min(256);
                let mut b = alloc::vec![0u8; n];
                for x in b.iter_mut() {
                    self.rng ^= self.rng << 13;
                    self.rng ^= self.rng >> 7;
                    self.rng ^= self.rng << 17;
                    *x = self.rng as u8;
                }
                uaccess::write(&mut self.m, a[0], &b).map(|_| n as i32)
            }
            37 | 238 => return self.sys_kill(a[0], a[1]),
            270 => return self.sys_kill(a[1], a[2]),
            _ => Err(ENOSYS),
        };
        Ok(r)
    }

    fn path_arg(&self, addr: u32) -> Result<String, i32> {
        uaccess::read_cstr(&self.m, addr, 4096)
    }

    /// Writes to a descriptor; a pipe nobody reads ends the writer with SIGPIPE.
    fn write_out(&mut self, fd: u32, bytes: &[u8]) -> Answer {
        match self.fs.get(fd).cloned() {
            Err(e) => return Ok(Err(e)),
            Ok(Open::Stdout) => self.out.extend_from_slice(bytes),
            Ok(Open::Stderr) => self.err.extend_from_slice(bytes),
            Ok(Open::Pipe { id, write: true }) if !self.pipe_end_open(id, false) => {
                return Err(Flow::End(Exit::Signal {
                    signal: 13,
                    reason: alloc::format!("SIGPIPE: a write to a pipe nobody reads (fd {fd})"),
                }))
            }
            Ok(Open::Pipe { id, write: true }) => {
                // A full pipe makes the writer wait; up to PIPE_BUF bytes go in at once.
                let held = self.fs.pipes.get(&id).map_or(0, |b| b.len());
                let room = PIPE_CAPACITY.saturating_sub(held);
                if room == 0 || (bytes.len() <= PIPE_BUF && room < bytes.len()) {
                    return Err(Flow::Block);
                }
                let n = bytes.len().min(room);
                return Ok(self.fs.write_file(fd, &bytes[..n]).map(|_| n as i32));
            }
            Ok(_) => return Ok(self.fs.write_file(fd, bytes).map(|n| n.unwrap_or(0) as i32)),
        }
        Ok(Ok(bytes.len() as i32))
    }

    /// Reads; an empty pipe with a writer still open waits.
    fn sys_read(&mut self, fd: u32, buf: u32, len: u32) -> Answer {
        // Check the buffer before consuming input, so a bad pointer loses nothing.
        if let Err(e) = uaccess::read(&self.m, buf, (len as usize).min(1)) {
            return Ok(Err(e));
        }
        if let Ok(Open::Pipe { id, write: false }) = self.fs.get(fd).cloned() {
            let empty = self.fs.pipes.get(&id).is_none_or(|b| b.is_empty());
            if empty && len > 0 && self.pipe_end_open(id, true) {
                return Err(Flow::Block);
            }
        }
        let r = self
            .fs
            .read(fd, (len as usize).min(1 << 24))
            .and_then(|data| uaccess::write(&mut self.m, buf, &data).map(|_| data.len() as i32));
        Ok(r)
    }

    fn sys_writev(&mut self, fd: u32, iov: u32, cnt: u32) -> Answer {
        if cnt > 1024 {
            return Ok(Err(errno::EINVAL));
        }
        let gather = || -> Result<Vec<u8>, i32> {
            let mut all = Vec::new();
            for i in 0..cnt {
                let at = iov.wrapping_add(8 * i);
                let base = uaccess::read_u32(&self.m, at)?;
                let len = uaccess::read_u32(&self.m, at.wrapping_add(4))?;
                all.extend(uaccess::read(&self.m, base, (len as usize).min(1 << 24))?);
            }
            Ok(all)
        };
        match gather() {
            Ok(all) => self.write_out(fd, &all),
            Err(e) => Ok(Err(e)),
        }
    }

    /// Runs one memory call of the process's [`crate::memcalls::MemoryCalls`] on its
    /// areas and page tables, then drops stale translations.
    fn memory_call<T>(
        &mut self,
        call: impl FnOnce(
            &dyn crate::memcalls::MemoryCalls,
            &mut crate::memcalls::Areas,
            &mut crate::memory::Live<'_>,
        ) -> T,
    ) -> T {
        let mut areas = self.space.cur.areas();
        let mut live = crate::memory::Live {
            space: &mut self.space,
            m: &mut self.m,
        };
        let r = call(&*self.memory.0, &mut areas, &mut live);
        self.space.cur.set_areas(areas);
        self.m.cpu_mut();
        r
    }

    fn sys_brk(&mut self, want: u32) -> u32 {
        self.memory_call(|c, a, pm| c.brk(a, pm, want))
    }

    fn sys_mmap2(&mut self, a: &[u32; 6]) -> Result<i32, i32> {
        let args = crate::memcalls::MmapArgs {
            addr: a[0],
            len: a[1],
            prot: a[2],
            flags: a[3],
            fd: a[4],
            pgoff: a[5],
        };
        let data = if args.flags & crate::memcalls::MAP_ANONYMOUS == 0 {
            let Open::File { path, .. } = self.fs.get(args.fd)?.clone() else {
                return Err(crate::fs::errno::EBADF);
            };
            let file = self.fs.files.get(&path).ok_or(crate::fs::errno::EBADF)?;
            let off = (args.pgoff as usize)
                .saturating_mul(PAGE as usize)
                .min(file.len());
            let end = off.saturating_add(args.len as usize).min(file.len());
            Some(file[off..end].to_vec())
        } else {
            None
        };
        let start = self.memory_call(|c, ar, pm| c.mmap2(ar, pm, &args))?;
        if let Some(d) = data {
            crate::space::Space::poke(&mut self.m, start, &d)?;
        }
        Ok(start as i32)
    }

    fn sys_munmap(&mut self, addr: u32, len: u32) -> Result<i32, i32> {
        self.memory_call(|c, a, pm| c.munmap(a, pm, addr, len))
            .map(|v| v as i32)
    }

    fn sys_mprotect(&mut self, addr: u32, len: u32, prot: u32) -> Result<i32, i32> {
        if addr & (PAGE - 1) != 0 {
            return Err(errno::EINVAL);
        }
        let end = addr.checked_add(len).ok_or(errno::ENOMEM)?;
        self.space
            .protect_range(&mut self.m, addr, end, prot & 2 != 0)?;
        self.m.cpu_mut();
        Ok(0)
    }

    fn sys_uname(&mut self, buf: u32) -> Result<i32, i32> {
        let fields = [
            "Linux",
            self.cfg.hostname.as_str(),
            "6.1.0-vmlab",
            "#1 vmlab",
            "i686",
            "(none)",
        ];
        let mut b = alloc::vec![0u8; 65 * 6];
        for (i, f) in fields.iter().enumerate() {
            let n = f.len().min(64);
            b[65 * i..65 * i + n].copy_from_slice(&f.as_bytes()[..n]);
        }
        uaccess::write(&mut self.m, buf, &b).map(|_| 0)
    }

    fn write_stat64(&mut self, buf: u32, (mode, size): (u32, u64)) -> Result<i32, i32> {
        let mut b = [0u8; 96];
        b[16..20].copy_from_slice(&mode.to_le_bytes());
        b[20..24].copy_from_slice(&1u32.to_le_bytes());
        b[24..28].copy_from_slice(&crate::stack::UID.to_le_bytes());
        b[28..32].copy_from_slice(&crate::stack::UID.to_le_bytes());
        b[44..52].copy_from_slice(&size.to_le_bytes());
        b[52..56].copy_from_slice(&4096u32.to_le_bytes());
        b[56..64].copy_from_slice(&size.div_ceil(512).to_le_bytes());
        uaccess::write(&mut self.m, buf, &b).map(|_| 0)
    }

    fn sys_statx(&mut self, a: &[u32; 6]) -> Result<i32, i32> {
        const AT_EMPTY_PATH: u32 = 0x1000;
        let path = self.path_arg(a[1])?;
        let st = if path.is_empty() && a[2] & AT_EMPTY_PATH != 0 {
            self.fs.stat_fd(a[0])?
        } else {
            self.fs.stat(&path)?
        };
        let mut b = [0u8; 256];
        b[0..4].copy_from_slice(&0x7ffu32.to_le_bytes()); // STATX_BASIC_STATS
        b[4..8].copy_from_slice(&4096u32.to_le_bytes());
        b[16..20].copy_from_slice(&1u32.to_le_bytes());
        b[20..24].copy_from_slice(&crate::stack::UID.to_le_bytes());
        b[24..28].copy_from_slice(&crate::stack::UID.to_le_bytes());
        b[28..30].copy_from_slice(&(st.0 as u16).to_le_bytes());
        b[40..48].copy_from_slice(&st.1.to_le_bytes());
        b[48..56].copy_from_slice(&st.1.div_ceil(512).to_le_bytes());
        uaccess::write(&mut self.m, a[4], &b).map(|_| 0)
    }

    fn sys_getdents64(&mut self, fd: u32, buf: u32, len: u32) -> Result<i32, i32> {
        let Open::Dir { path, pos } = self.fs.get(fd)?.clone() else {
            return Err(crate::fs::errno::ENOTDIR);
        };
        let entries = self.fs.list(&path);
        let mut out = Vec::new();
        let mut next = pos;
        for (i, (name, dir)) in entries.iter().enumerate().skip(pos) {
            let reclen = (19 + name.len() + 1).next_multiple_of(8);
            if out.len() + reclen > len as usize {
                break;
            }
            let start = out.len();
            out.extend_from_slice(&(i as u64 + 1).to_le_bytes());
            out.extend_from_slice(&(i as u64 + 1).to_le_bytes());
            out.extend_from_slice(&(reclen as u16).to_le_bytes());
            out.push(if *dir { 4 } else { 8 });
            out.extend_from_slice(name.as_bytes());
            out.resize(start + reclen, 0);
            next = i + 1;
        }
        if next == pos && next < entries.len() {
            return Err(errno::EINVAL);
        }
        uaccess::write(&mut self.m, buf, &out)?;
        if let Ok(Open::Dir { pos, .. }) = self.fs.get(fd) {
            *pos = next;
        }
        Ok(out.len() as i32)
    }

    fn sys_set_thread_area(&mut self, u_info: u32) -> Result<i32, i32> {
        let b = uaccess::read(&self.m, u_info, 16)?;
        let w = |i: usize| u32::from_le_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]);
        let (mut entry, base, limit, fl) = (w(0), w(4), w(8), w(12));
        if entry == u32::MAX {
            entry = kernel::TLS_FIRST;
            uaccess::write_u32(&mut self.m, u_info, entry)?;
        }
        if !(kernel::TLS_FIRST..kernel::TLS_FIRST + kernel::TLS_COUNT).contains(&entry) {
            return Err(errno::EINVAL);
        }
        // flags: seg_32bit, contents (2 bits), read_exec_only, limit_in_pages, seg_not_present, useable
        let big = if fl & 1 != 0 { attr::BIG } else { 0 };
        let gran = if fl & 0x10 != 0 { attr::GRANULAR } else { 0 };
        let present = if fl & 0x20 == 0 { attr::PRESENT } else { 0 };
        let attrs = (DATA_ATTRS & !attr::PRESENT) | present | attr::DPL | big | gran;
        let d = Descriptor::new_segment(base, limit & 0xfffff, attrs);
        kernel::set_tls(&mut self.m, entry, d).map_err(|_| errno::EFAULT)?;
        Ok(0)
    }
}
