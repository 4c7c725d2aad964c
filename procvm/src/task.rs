//! The process table: one entry per process with the state saved while it is switched
//! out (registers, kernel stack, TLS descriptors, address space, file view), its pids
//! as the host and as its PID namespace number them, and the switch between two.

use alloc::string::String;
use alloc::vec::Vec;
use emulator_core::CpuState;
use serde::Serialize;

use crate::fs::View;
use crate::space::Layout;
use crate::{kernel, Exit, Process};

/// The first pid the host hands out (the processes of a run are numbered from here).
pub const HOST_PID_BASE: u32 = 4200;
/// The host pid of the process that started the first one (a shell).
pub const HOST_PARENT: u32 = HOST_PID_BASE - 1;

/// Where a process is in its life.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum State {
    /// Runs or may run.
    Ready,
    /// Waits in a system call (a pipe, a child) that is made again when it is picked.
    Blocked,
    /// Ended; its parent has not collected the status yet.
    Zombie,
    /// Ended and collected.
    Reaped,
}

/// One process.
#[derive(Clone, Debug)]
pub struct Task {
    /// Its pid as the host sees it.
    pub pid: u32,
    /// Its pid in its PID namespace (1 for the first process).
    pub ns_pid: u32,
    /// Its parent's host pid.
    pub ppid: u32,
    /// Where it is in its life.
    pub state: State,
    /// How it ended.
    pub exit: Option<Exit>,
    /// The program it runs (absolute path in the file system).
    pub exe: String,
    /// Instructions it retired.
    pub instructions: u64,
    /// System calls it made.
    pub syscalls: u64,
    /// User pages it had when it ended.
    pub pages_at_exit: Option<u32>,
    /// The address set_tid_address gave.
    pub tid_address: u32,
    /// A signal another process sent, acted on when it is next picked.
    pub pending_kill: Option<Exit>,
    /// Where to write its pid when it first runs (CLONE_CHILD_SETTID).
    pub set_tid_at: Option<u32>,
    pub(crate) cpu: CpuState,
    pub(crate) kstack: Vec<u8>,
    pub(crate) tls: [u64; kernel::TLS_COUNT as usize],
    pub(crate) layout: Layout,
    pub(crate) view: Option<View>,
}

impl Task {
    /// The first process (its live state is in the machine from the start).
    pub(crate) fn first() -> Task {
        Task {
            pid: HOST_PID_BASE,
            ns_pid: 1,
            ppid: HOST_PARENT,
            state: State::Ready,
            exit: None,
            exe: String::new(),
            instructions: 0,
            syscalls: 0,
            pages_at_exit: None,
            tid_address: 0,
            pending_kill: None,
            set_tid_at: None,
            cpu: CpuState::reset(),
            kstack: Vec::new(),
            tls: [0; kernel::TLS_COUNT as usize],
            layout: crate::space::Space::new(0, None).cur,
            view: None,
        }
    }

    /// Whether it may still run.
    pub fn live(&self) -> bool {
        matches!(self.state, State::Ready | State::Blocked)
    }
}

/// One row of the process table as views show it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ProcInfo {
    /// The host's pid.
    pub pid: u32,
    /// The pid inside the PID namespace, when there is one.
    pub ns_pid: Option<u32>,
    /// The parent's host pid.
    pub ppid: u32,
    /// The program.
    pub program: String,
    /// Where it is in its life.
    pub state: State,
    /// How it ended.
    pub exit: Option<Exit>,
    /// Instructions it retired.
    pub instructions: u64,
    /// System calls it made.
    pub syscalls: u64,
}

impl Process {
    /// The pid of task `i` as the processes see it.
    pub(crate) fn vpid(&self, i: usize) -> u32 {
        let t = &self.tasks[i];
        if self.cfg.pid_ns {
            t.ns_pid
        } else {
            t.pid
        }
    }

    /// The index of the task a process names `pid`, if it is in the table.
    pub(crate) fn by_vpid(&self, pid: u32) -> Option<usize> {
        (0..self.tasks.len()).find(|&i| self.vpid(i) == pid)
    }

    /// The parent pid of task `i` as it sees it: 0 for a parent outside its PID
    /// namespace.
    pub(crate) fn vppid(&self, i: usize) -> u32 {
        let ppid = self.tasks[i].ppid;
        match self.tasks.iter().position(|t| t.pid == ppid) {
            Some(p) => self.vpid(p),
            None if self.cfg.pid_ns => 0,
            None => ppid,
        }
    }

    /// The process table, as the host sees it.
    pub fn process_table(&self) -> Vec<ProcInfo> {
        self.tasks
            .iter()
            .map(|t| ProcInfo {
                pid: t.pid,
                ns_pid: self.cfg.pid_ns.then_some(t.ns_pid),
                ppid: t.ppid,
                program: t.exe.clone(),
                state: t.state.clone(),
                exit: t.exit.clone(),
                instructions: t.instructions,
                syscalls: t.syscalls,
            })
            .collect()
    }

    /// Makes task `next` the running one: saves the running one's registers, kernel
    /// stack, TLS descriptors, address space and file view, and puts `next`'s in.
    pub(crate) fn switch_to(&mut self, next: usize) {
        if next == self.cur {
            return;
        }
        let m = &mut self.m;
        let layout = core::mem::replace(&mut self.space.cur, self.tasks[next].layout.clone());
        let t = &mut self.tasks[self.cur];
        t.cpu = m.cpu().clone();
        t.kstack = kernel::kernel_stack(m);
        t.tls = kernel::tls(m);
        t.layout = layout;
        let view = self.tasks[next]
            .view
            .take()
            .unwrap_or_else(|| self.fs.view.clone());
        self.tasks[self.cur].view = Some(core::mem::replace(&mut self.fs.view, view));
        let n = &self.tasks[next];
        *m.cpu_mut() = n.cpu.clone();
        // The kernel stack and the GDT are below the first frame handed out, so
        // these writes cannot fail.
        let _ = kernel::set_kernel_stack(m, &n.kstack);
        let _ = kernel::set_all_tls(m, &n.tls);
        self.cur = next;
        self.clock.switches += 1;
        if let Some(at) = self.tasks[next].set_tid_at.take() {
            let pid = self.vpid(next);
            let _ = crate::uaccess::write_u32(&mut self.m, at, pid);
        }
    }
}
