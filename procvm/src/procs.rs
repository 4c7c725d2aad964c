//! The process system calls: fork (and clone and vfork as fork), execve from the
//! in-memory file system, wait4, kill with the default action, the pids, and pipes
//! and dup2 between processes.

use alloc::string::String;
use alloc::vec::Vec;
use emulator_core::Gpr;

use crate::elf::{self, Program};
use crate::fs::{errno as fserr, Open};
use crate::space::{errno, Space, PAGE};
use crate::task::{State, Task};
use crate::{kernel, stack, uaccess, Exit, Flow, Process};

const ECHILD: i32 = 10;
const EACCES: i32 = 13;
const ENOEXEC: i32 = 8;
const ESRCH: i32 = 3;
const EAGAIN: i32 = 11;
/// Most processes a run may have in its table.
const MAX_TASKS: usize = 64;

const CLONE_VM: u32 = 0x100;
const CLONE_VFORK: u32 = 0x4000;
const CLONE_THREAD: u32 = 0x1_0000;
const CLONE_PARENT_SETTID: u32 = 0x10_0000;
const CLONE_CHILD_CLEARTID: u32 = 0x20_0000;
const CLONE_CHILD_SETTID: u32 = 0x100_0000;

/// A system call's answer: a value, an errno, or something for the scheduler.
pub(crate) type Answer = Result<Result<i32, i32>, Flow>;

/// Signals whose default action is to ignore them (SIGCHLD, SIGCONT, SIGURG, SIGWINCH).
fn ignored_by_default(sig: u32) -> bool {
    matches!(sig, 17 | 18 | 23 | 28)
}

impl Process {
    /// Replaces the running process's image with `prog` (from `file`): a fresh
    /// address space, registers and stack with `args` and `env`.
    pub(crate) fn exec_image(
        &mut self,
        file: &[u8],
        prog: &Program,
        args: &[String],
        env: &[String],
        exe: String,
    ) -> Result<(), i32> {
        self.space.clear_user(&mut self.m);
        let dir = self.space.cur.dir;
        *self.m.cpu_mut() = kernel::user_entry(prog.entry, 0, dir, self.cfg.ring0);
        let _ = kernel::set_all_tls(&mut self.m, &[0; kernel::TLS_COUNT as usize]);
        let mut end = 0u32;
        for s in &prog.segments {
            let seg_end = s.vaddr + s.mem_size;
            self.space.map_range(&mut self.m, s.vaddr, seg_end, true)?;
            let bytes = &file[s.file_offset as usize..(s.file_offset + s.file_size) as usize];
            Space::poke(&mut self.m, s.vaddr, bytes)?;
            end = end.max(seg_end);
        }
        for s in &prog.segments {
            if !s.writable {
                self.space
                    .protect_range(&mut self.m, s.vaddr, s.vaddr + s.mem_size, false)?;
            }
        }
        let brk = end.checked_add(PAGE - 1).map_or(end, |e| e & !(PAGE - 1));
        self.space.cur.brk_start = brk;
        self.space.cur.brk = brk;
        self.tasks[self.cur].exe = exe;
        let esp = stack::build(self, prog, args, env)?;
        self.m.cpu_mut().gpr[Gpr::Esp as usize] = esp;
        Ok(())
    }

    /// fork(2), vfork(2) and clone(2) without CLONE_VM (or with CLONE_VFORK, run as a
    /// fork): a child with a copy of the address space and descriptors.
    pub(crate) fn sys_fork(&mut self, flags: u32, newsp: u32, ptid: u32, ctid: u32) -> Answer {
        if flags & CLONE_THREAD != 0 || (flags & CLONE_VM != 0 && flags & CLONE_VFORK == 0) {
            return Ok(Err(errno::EINVAL)); // threads are not emulated
        }
        if self.tasks.len() >= MAX_TASKS {
            return Ok(Err(EAGAIN));
        }
        let layout = match self.space.fork(&mut self.m) {
            Ok(l) => l,
            Err(e) => return Ok(Err(e)),
        };
        let parent = &self.tasks[self.cur];
        let mut cpu = self.m.cpu().clone();
        cpu.gpr[Gpr::Eax as usize] = 0;
        cpu.cr3 = layout.dir;
        let mut kstack = kernel::kernel_stack(&self.m);
        if newsp != 0 && kstack.len() >= 16 {
            // The user ESP the stub's iret restores is the fourth word of the frame.
            kstack[12..16].copy_from_slice(&newsp.to_le_bytes());
        }
        let pid = self.tasks.iter().map(|t| t.pid).max().unwrap_or(0) + 1;
        let ns_pid = self.tasks.iter().map(|t| t.ns_pid).max().unwrap_or(0) + 1;
        let child = Task {
            pid,
            ns_pid,
            ppid: parent.pid,
            state: State::Ready,
            exit: None,
            exe: parent.exe.clone(),
            instructions: 0,
            syscalls: 0,
            pages_at_exit: None,
            tid_address: if flags & CLONE_CHILD_CLEARTID != 0 {
                ctid
            } else {
                parent.tid_address
            },
            pending_kill: None,
            set_tid_at: (flags & CLONE_CHILD_SETTID != 0).then_some(ctid),
            cpu,
            kstack,
            tls: kernel::tls(&self.m),
            layout,
            view: Some(self.fs.view.clone()),
        };
        self.tasks.push(child);
        let vpid = self.vpid(self.tasks.len() - 1);
        if flags & CLONE_PARENT_SETTID != 0 {
            if let Err(e) = uaccess::write_u32(&mut self.m, ptid, vpid) {
                return Ok(Err(e));
            }
        }
        Ok(Ok(vpid as i32))
    }

    /// Reads a NULL-terminated array of string pointers (argv, envp).
    fn string_array(&self, at: u32) -> Result<Vec<String>, i32> {
        let mut out = Vec::new();
        if at == 0 {
            return Ok(out);
        }
        let mut total = 0usize;
        for i in 0..1024u32 {
            let p = uaccess::read_u32(&self.m, at.wrapping_add(4 * i))?;
            if p == 0 {
                return Ok(out);
            }
            let s = uaccess::read_cstr(&self.m, p, 128 * 1024)?;
            total += s.len() + 1;
            if total > 64 * 1024 {
                return Err(7); // E2BIG
            }
            out.push(s);
        }
        Err(7)
    }

    /// execve(2) of a static program in the in-memory file system.
    pub(crate) fn sys_execve(&mut self, path: u32, argv: u32, envp: u32) -> Answer {
        let read = || -> Result<(String, Vec<String>, Vec<String>), i32> {
            let p = uaccess::read_cstr(&self.m, path, 4096)?;
            Ok((p, self.string_array(argv)?, self.string_array(envp)?))
        };
        let (p, args, env) = match read() {
            Ok(x) => x,
            Err(e) => return Ok(Err(e)),
        };
        let full = self.fs.path(&p);
        let Some(file) = self.fs.files.get(&full).cloned() else {
            return Ok(Err(if self.fs.dirs.contains_key(&full) {
                EACCES
            } else {
                fserr::ENOENT
            }));
        };
        let prog = match elf::parse(&file) {
            Ok(prog) => prog,
            Err(_) => return Ok(Err(ENOEXEC)),
        };
        // Past this point the old image is gone: a failure ends the process.
        match self.exec_image(&file, &prog, &args, &env, full) {
            Ok(()) => Err(Flow::Go),
            Err(e) => Err(Flow::End(Exit::Signal {
                signal: 9,
                reason: alloc::format!(
                    "execve of {p}: the new image did not fit ({})",
                    crate::syscall::errno_name(e)
                ),
            })),
        }
    }

    /// wait4(2) and waitpid(2): collects an ended child, waiting for one if needed.
    pub(crate) fn sys_wait4(&mut self, pid: u32, status: u32, options: u32) -> Answer {
        const WNOHANG: u32 = 1;
        let me = self.tasks[self.cur].pid;
        let want = pid as i32;
        let children: Vec<usize> = (0..self.tasks.len())
            .filter(|&i| self.tasks[i].ppid == me && self.tasks[i].state != State::Reaped)
            .filter(|&i| want <= 0 || self.vpid(i) == want as u32)
            .collect();
        if children.is_empty() {
            return Ok(Err(ECHILD));
        }
        let Some(&z) = children
            .iter()
            .find(|&&i| self.tasks[i].state == State::Zombie)
        else {
            return if options & WNOHANG != 0 {
                Ok(Ok(0))
            } else {
                Err(Flow::Block)
            };
        };
        let word = self.tasks[z].exit.as_ref().map_or(0, Exit::wait_status);
        if status != 0 {
            if let Err(e) = uaccess::write_u32(&mut self.m, status, word) {
                return Ok(Err(e));
            }
        }
        self.tasks[z].state = State::Reaped;
        Ok(Ok(self.vpid(z) as i32))
    }

    /// kill(2), tkill(2), tgkill(2): signal 0 checks, an ignored signal does nothing,
    /// any other ends the target (no handlers are emulated).
    pub(crate) fn sys_kill(&mut self, pid: u32, sig: u32) -> Answer {
        if sig > 64 {
            return Ok(Err(errno::EINVAL));
        }
        if pid as i32 <= 0 {
            return Ok(Err(errno::EINVAL)); // process groups are not emulated
        }
        let Some(t) = self.by_vpid(pid).filter(|&i| self.tasks[i].live()) else {
            return Ok(Err(ESRCH));
        };
        if sig == 0 || ignored_by_default(sig) {
            return Ok(Ok(0));
        }
        let exit = Exit::Signal {
            signal: sig as u8,
            reason: alloc::format!("signal {sig} from pid {}", self.vpid(self.cur)),
        };
        if t == self.cur {
            return Err(Flow::End(exit));
        }
        self.tasks[t].pending_kill = Some(exit);
        Ok(Ok(0))
    }

    /// pipe(2) and pipe2(2).
    pub(crate) fn sys_pipe(&mut self, fds: u32) -> Result<i32, i32> {
        let (r, w) = self.fs.pipe()?;
        let mut b = [0u8; 8];
        b[..4].copy_from_slice(&r.to_le_bytes());
        b[4..].copy_from_slice(&w.to_le_bytes());
        if let Err(e) = uaccess::write(&mut self.m, fds, &b) {
            let _ = self.fs.close(r as u32);
            let _ = self.fs.close(w as u32);
            return Err(e);
        }
        Ok(0)
    }

    /// Whether any live process holds the `write` end of pipe `id` open.
    pub(crate) fn pipe_end_open(&self, id: u32, write: bool) -> bool {
        let holds = |fds: &[Option<Open>]| {
            fds.iter().any(
                |o| matches!(o, Some(Open::Pipe { id: i, write: w }) if *i == id && *w == write),
            )
        };
        holds(&self.fs.view.fds)
            || self.tasks.iter().enumerate().any(|(i, t)| {
                i != self.cur && t.live() && t.view.as_ref().is_some_and(|v| holds(&v.fds))
            })
    }
}
