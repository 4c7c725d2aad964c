//! The scheduler: round robin over the process table with a time slice counted in
//! instructions, so every run is the same; a blocked system call is made again when
//! its process is picked; a cgroup-like CPU quota holds all processes back once they
//! used their share of a period, and the time they wait is counted.

use emulator_core::StopReason;

use crate::task::State;
use crate::{kernel, CpuQuota, Exit, Flow, Process};

/// Instructions a process runs before the next one is picked.
pub const SLICE: u64 = 20_000;

/// Virtual time and the quota's state.
#[derive(Clone, Debug)]
pub(crate) struct Clock {
    quota: Option<CpuQuota>,
    /// Virtual nanoseconds in which no instruction ran (throttled).
    idle: u64,
    period_start: u64,
    used: u64,
    /// Virtual nanoseconds the quota held the processes back.
    pub throttled_ns: u64,
    /// Periods in which the quota ran out.
    pub throttled_periods: u64,
    /// Context switches.
    pub switches: u64,
}

impl Clock {
    pub(crate) fn new(quota: Option<CpuQuota>) -> Clock {
        Clock {
            quota: quota.filter(|q| q.quota > 0 && q.period > 0),
            idle: 0,
            period_start: 0,
            used: 0,
            throttled_ns: 0,
            throttled_periods: 0,
            switches: 0,
        }
    }

    /// Virtual nanoseconds since the start: one an instruction, plus throttled time.
    pub(crate) fn now(&self, icount: u64) -> u64 {
        icount + self.idle
    }

    /// Instructions the processes may run now; waits (in virtual time) for the next
    /// period when the quota of this one is used up.
    fn allowance(&mut self, icount: u64) -> u64 {
        let Some(q) = self.quota else {
            return u64::MAX;
        };
        let now = self.now(icount);
        if now >= self.period_start + q.period {
            self.period_start = now - (now - self.period_start) % q.period;
            self.used = 0;
        }
        if self.used >= q.quota {
            let wake = self.period_start + q.period;
            self.idle += wake - now;
            self.throttled_ns += wake - now;
            self.throttled_periods += 1;
            self.period_start = wake;
            self.used = 0;
        }
        q.quota - self.used
    }
}

impl Process {
    /// Runs until no process is left; answers how the first one ended.
    pub(crate) fn run_all(&mut self) -> Exit {
        let mut blocked_in_a_row = 0usize;
        loop {
            let live = self.tasks.iter().filter(|t| t.live()).count();
            if live == 0 {
                break;
            }
            if self.paused || self.pause_at.is_some_and(|n| self.syscalls >= n) {
                self.paused = true;
                break;
            }
            if self.m.icount() >= self.cfg.max_insns {
                self.end_all(Exit::Budget);
                break;
            }
            let n = self.tasks.len();
            let Some(next) = (1..=n)
                .map(|k| (self.cur + k) % n)
                .find(|&i| self.tasks[i].live())
            else {
                break;
            };
            self.switch_to(next);
            if let Some(exit) = self.tasks[next].pending_kill.take() {
                self.end_current(exit);
                continue;
            }
            if self.tasks[next].state == State::Blocked {
                self.syscalls -= 1;
                self.tasks[next].syscalls -= 1;
                match self.syscall() {
                    Flow::Block => {
                        blocked_in_a_row += 1;
                        if blocked_in_a_row > 2 * live {
                            self.end_all(Exit::Signal {
                                signal: 9,
                                reason: "every process waits for another (a deadlock)".into(),
                            });
                            break;
                        }
                        continue;
                    }
                    Flow::End(e) => {
                        self.end_current(e);
                        continue;
                    }
                    Flow::Go => self.tasks[next].state = State::Ready,
                }
            }
            blocked_in_a_row = 0;
            self.run_slice();
        }
        self.tasks[0].exit.clone().unwrap_or(Exit::Budget)
    }

    /// Runs the current process for one slice, answering its traps.
    fn run_slice(&mut self) {
        let mut left = SLICE;
        while left > 0 {
            let budget = self.cfg.max_insns.saturating_sub(self.m.icount());
            let allowed = self.clock.allowance(self.m.icount());
            let step = left.min(budget).min(allowed);
            if step == 0 {
                return;
            }
            let before = self.m.icount();
            let stop = self.m.run(step);
            let ran = self.m.icount() - before;
            self.clock.used += ran;
            self.tasks[self.cur].instructions += ran;
            left = left.saturating_sub(ran.max(1));
            match stop {
                StopReason::Halted => {}
                StopReason::BudgetExhausted => continue,
                StopReason::TripleFault => {
                    return self.end_current(Exit::Signal {
                        signal: 9,
                        reason: "the CPU shut down (triple fault)".into(),
                    })
                }
                other => {
                    return self.end_current(Exit::Signal {
                        signal: 9,
                        reason: alloc::format!("the machine stopped: {}", other.name()),
                    })
                }
            }
            let eip = self.m.cpu().eip;
            let Some(vector) = kernel::stub_vector(eip) else {
                return self.end_current(Exit::Signal {
                    signal: 9,
                    reason: alloc::format!("the CPU halted outside the trap stubs at {eip:#x}"),
                });
            };
            self.m.cpu_mut().halted = false;
            let flow = self.trap(vector);
            self.peak_pages = self.peak_pages.max(self.space.used);
            match flow {
                Flow::Go if self.pause_at.is_some_and(|n| self.syscalls >= n) => {
                    self.paused = true;
                    return;
                }
                Flow::Go => {}
                Flow::Block => {
                    self.tasks[self.cur].state = State::Blocked;
                    return;
                }
                Flow::End(e) => return self.end_current(e),
            }
        }
    }

    /// Ends the running process: frees its memory, closes its files, hands its
    /// children to the first process (or ends them, when the first process of a PID
    /// namespace ends), and leaves its status for its parent.
    pub(crate) fn end_current(&mut self, exit: Exit) {
        let cur = self.cur;
        let mut layout = self.space.cur.clone();
        self.tasks[cur].pages_at_exit = Some(layout.pages);
        self.space.drop_layout(&mut self.m, &mut layout);
        self.space.cur = layout;
        self.fs.view.fds.clear();
        let pid = self.tasks[cur].pid;
        let first = self.tasks[0].pid;
        for i in 0..self.tasks.len() {
            if self.tasks[i].ppid != pid || i == cur || self.tasks[i].state == State::Reaped {
                continue;
            }
            if cur == 0 && self.cfg.pid_ns {
                // The namespace's init is gone: its processes go with it.
                if self.tasks[i].live() {
                    self.tasks[i].pending_kill = Some(Exit::Signal {
                        signal: 9,
                        reason: "the PID namespace's first process ended".into(),
                    });
                }
            } else if self.tasks[0].live() && cur != 0 {
                self.tasks[i].ppid = first;
            } else {
                self.tasks[i].ppid = 1;
            }
            if self.tasks[i].state == State::Zombie && self.tasks[i].ppid == 1 {
                self.tasks[i].state = State::Reaped;
            }
        }
        let t = &mut self.tasks[cur];
        t.exit = Some(exit);
        let parent_here = self
            .tasks
            .iter()
            .any(|p| p.pid == self.tasks[cur].ppid && p.live());
        self.tasks[cur].state = if parent_here {
            State::Zombie
        } else {
            State::Reaped
        };
    }

    /// Ends every process that is still live with `exit`.
    fn end_all(&mut self, exit: Exit) {
        for i in 0..self.tasks.len() {
            if self.tasks[i].live() {
                self.switch_to(i);
                self.end_current(exit.clone());
            }
        }
    }
}
