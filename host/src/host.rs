//! The host: its VMs and their life cycle, one pool of frames, one CPU shared by the credit scheduler, virtual time per VM, and the timeline of what happened.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use emulator_core::vmm::ExitReason;
use emulator_core::StopReason;

use crate::guest::GuestImage;
use crate::sched::CreditScheduler;
use crate::share::Scanner;
use crate::time::{self, TimePolicy};
use crate::vm::{Vm, VmSpec, VmState};
use crate::{balloon, pool, swap};

/// Cycles per millisecond of the 100 MHz virtual CPU.
pub const CYCLES_PER_MS: u64 = 100_000;

/// How the host is set up.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HostConfig {
    /// The pool of host frames, in MiB (may be smaller than the guests' RAM together).
    pub pool_mib: u32,
    /// The scheduler's accounting period and longest slice, in cycles.
    pub sched: CreditScheduler,
    /// Frames the sharing scanner looks at per slice (0: no sharing).
    pub scan_per_slice: usize,
    /// What a descheduled VM's clock does.
    pub time: TimePolicy,
}

impl Default for HostConfig {
    fn default() -> Self {
        HostConfig {
            pool_mib: 256,
            sched: CreditScheduler {
                period: 30 * CYCLES_PER_MS,
                slice: CYCLES_PER_MS,
            },
            scan_per_slice: 256,
            time: TimePolicy::CatchUp,
        }
    }
}

/// One entry of the host's timeline.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HostEvent {
    /// Host time, in cycles.
    pub at: u64,
    /// The VM it concerns (empty: the host).
    pub vm: String,
    /// What happened.
    pub what: String,
}

/// The host.
#[derive(Debug)]
pub struct Host {
    /// How it is set up.
    pub config: HostConfig,
    /// Its VMs, destroyed ones included (their index stays theirs).
    pub vms: Vec<Vm>,
    /// Host time, in cycles.
    pub now: u64,
    /// Cycles no VM could run.
    pub idle: u64,
    /// The most host frames in use at once.
    pub peak_frames: u64,
    /// The most frames the guests would have used without sharing.
    pub peak_unshared: u64,
    /// The page-sharing scanner.
    pub scanner: Scanner,
    /// What happened, in order (the most recent [`MAX_EVENTS`]).
    pub events: Vec<HostEvent>,
    /// The VMs that left for another host (their entries stay, destroyed).
    pub departed: Vec<usize>,
    next_refill: u64,
    /// Per VM: virtual time still to catch up (cycles).
    lag: Vec<u64>,
}

/// Most timeline entries kept.
pub const MAX_EVENTS: usize = 4096;

impl Host {
    /// A host with no VMs.
    pub fn new(config: HostConfig) -> Host {
        Host {
            config,
            vms: Vec::new(),
            now: 0,
            idle: 0,
            peak_frames: 0,
            peak_unshared: 0,
            scanner: Scanner::default(),
            events: Vec::new(),
            departed: Vec::new(),
            next_refill: 0,
            lag: Vec::new(),
        }
    }

    /// The pool's size in frames.
    pub fn pool_frames(&self) -> u64 {
        u64::from(self.config.pool_mib) << 8
    }

    fn log(&mut self, vm: Option<usize>, what: String) {
        if self.events.len() >= MAX_EVENTS {
            self.events.remove(0);
        }
        let vm = vm
            .and_then(|i| self.vms.get(i))
            .map(|v| v.spec.name.clone())
            .unwrap_or_default();
        self.events.push(HostEvent {
            at: self.now,
            vm,
            what,
        });
    }

    /// The index of the VM called `name`.
    pub fn find(&self, name: &str) -> Option<usize> {
        self.vms.iter().position(|v| v.spec.name == name)
    }

    fn vm_index(&self, name: &str) -> Result<usize, String> {
        self.live(name)
            .ok_or_else(|| format!("no VM called {name}"))
    }

    /// The index of the VM called `name` that is not destroyed (a VM that moved away
    /// and came back has a destroyed entry of that name too).
    pub fn live(&self, name: &str) -> Option<usize> {
        self.vms
            .iter()
            .position(|v| v.spec.name == name && v.state != VmState::Destroyed)
    }

    /// Takes in `vm`, moved here from another host with its machine as it stands
    /// (its clock is not touched); `what` goes to the timeline. Returns its index.
    pub fn adopt(&mut self, vm: Vm, what: String) -> Result<usize, String> {
        if self.live(&vm.spec.name).is_some() {
            return Err(format!("vm {}: a VM of that name runs here", vm.spec.name));
        }
        self.vms.push(vm);
        self.lag.push(0);
        let i = self.vms.len() - 1;
        self.log(Some(i), what);
        Ok(i)
    }

    /// Lets VM `name` go (it moved to another host or its copy here died): like
    /// [`Host::destroy`], with `what` in the timeline.
    pub fn depart(&mut self, name: &str, what: String) -> Result<(), String> {
        let i = self.vm_index(name)?;
        self.release(i);
        self.departed.push(i);
        self.log(Some(i), what);
        Ok(())
    }

    /// Creates a VM, runnable from now; returns its index.
    pub fn create(&mut self, spec: VmSpec) -> Result<usize, String> {
        if self.find(&spec.name).is_some() {
            return Err(format!("vm {}: a VM of that name exists", spec.name));
        }
        let id = self.vms.len() as u32 + 1;
        let vm = Vm::create(spec, id)?;
        self.add(vm)
    }

    /// Creates a VM that runs `image` (assembled for VM number [`Host::next_id`]).
    pub fn create_with_image(&mut self, spec: VmSpec, image: GuestImage) -> Result<usize, String> {
        if self.find(&spec.name).is_some() {
            return Err(format!("vm {}: a VM of that name exists", spec.name));
        }
        let vm = Vm::with_image(spec, image)?;
        self.add(vm)
    }

    /// The number the next VM created gets (its guest's `VM_ID`).
    pub fn next_id(&self) -> u32 {
        self.vms.len() as u32 + 1
    }

    /// Adds a VM, its guest frames placed in a machine range of its own.
    fn add(&mut self, mut vm: Vm) -> Result<usize, String> {
        let frames = vm.spec.ram_mib << 8;
        let base = crate::share::home_base(&self.vms, frames)?;
        vm.machine
            .place_p2m(base)
            .map_err(|e| format!("vm {}: {e}", vm.spec.name))?;
        vm.machine.cpu_mut().tsc = self.now;
        vm.last_ran = self.now;
        self.vms.push(vm);
        self.lag.push(0);
        let i = self.vms.len() - 1;
        let ram = self.vms[i].spec.ram_mib;
        self.log(Some(i), format!("created ({ram} MiB)"));
        Ok(i)
    }

    /// Pauses a VM: it gets no slices until resumed.
    pub fn pause(&mut self, name: &str) -> Result<(), String> {
        let i = self.vm_index(name)?;
        if self.vms[i].state == VmState::Running {
            self.vms[i].state = VmState::Paused;
        }
        self.log(Some(i), "paused".into());
        Ok(())
    }

    /// Resumes a paused VM.
    pub fn resume(&mut self, name: &str) -> Result<(), String> {
        let i = self.vm_index(name)?;
        if self.vms[i].state == VmState::Paused {
            self.vms[i].state = VmState::Running;
        }
        self.log(Some(i), "resumed".into());
        Ok(())
    }

    /// Takes a snapshot of a VM (kept with it); returns its RAM size in bytes.
    pub fn snapshot(&mut self, name: &str) -> Result<usize, String> {
        let i = self.vm_index(name)?;
        let s = self.vms[i].machine.snapshot();
        let bytes = s.ram().len();
        self.vms[i].snapshots.push(s);
        self.log(Some(i), format!("snapshot ({} KiB of RAM)", bytes >> 10));
        Ok(bytes)
    }

    /// Destroys a VM: its frames go back to the pool.
    pub fn destroy(&mut self, name: &str) -> Result<(), String> {
        let i = self.vm_index(name)?;
        self.release(i);
        self.log(Some(i), "destroyed".into());
        Ok(())
    }

    /// Marks VM `i` destroyed and gives its frames back to the pool.
    fn release(&mut self, i: usize) {
        let vm = &mut self.vms[i];
        vm.state = VmState::Destroyed;
        vm.swap.clear();
        if let Some(ram) = vm.machine.pooled_ram_mut() {
            for gfn in 0..ram.frame_count() {
                ram.replace(gfn, None);
            }
        }
    }

    /// Sets a VM's balloon target in MiB.
    pub fn balloon(&mut self, name: &str, mib: u32) -> Result<(), String> {
        let i = self.vm_index(name)?;
        balloon::set_target(&mut self.vms[i], mib.saturating_mul(256));
        self.log(Some(i), format!("balloon target {mib} MiB"));
        Ok(())
    }

    /// Runs the VMs until host time `until` (cycles).
    pub fn run_until(&mut self, until: u64) {
        while self.now < until {
            if self.now >= self.next_refill {
                self.config.sched.refill(&mut self.vms);
                self.next_refill = self.now + self.config.sched.period.max(1);
            }
            if self.config.scan_per_slice > 0 {
                self.scanner.scan(&mut self.vms, self.config.scan_per_slice);
            }
            let Some(v) = self.config.sched.pick(&self.vms) else {
                let to = until.min(self.next_refill);
                self.idle += to - self.now;
                self.now = to;
                continue;
            };
            let budget = self.config.sched.budget(&self.vms[v]).min(until - self.now);
            let swapped_in = swap::swap_in_all(&mut self.vms[v]);
            let pool = self.pool_frames();
            swap::enforce(&mut self.vms, pool, v);
            if swapped_in > 0 {
                self.log(Some(v), format!("{swapped_in} pages swapped in"));
            }
            let used = self.run_slice(v, budget).max(1);
            self.now += used;
            for (i, other) in self.vms.iter_mut().enumerate() {
                if i != v && other.state == VmState::Running {
                    other.cpu.steal += used;
                }
            }
            let (given, taken) = balloon::settle(&mut self.vms[v]);
            if given + taken > 0 {
                self.log(
                    Some(v),
                    format!("balloon: {given} pages reclaimed, {taken} returned"),
                );
            }
            self.note_peak();
        }
    }

    fn note_peak(&mut self) {
        if pool::frames_backed(&self.vms) > self.peak_frames {
            self.peak_frames = self.peak_frames.max(pool::frames_in_use(&self.vms));
        }
        self.peak_unshared = self
            .peak_unshared
            .max(pool::frames_without_sharing(&self.vms));
    }

    /// Runs VM `v` for about `budget` cycles; returns the host cycles it used.
    fn run_slice(&mut self, v: usize, budget: u64) -> u64 {
        let policy = self.config.time;
        let now = self.now;
        let vm = &mut self.vms[v];
        let tick = time::tick_cycles(vm.spec.workload.tick_div);
        let behind = now.saturating_sub(vm.tsc() + self.lag[v]);
        vm.cpu.ticks_missed += behind.checked_div(tick).unwrap_or(0);
        match policy {
            TimePolicy::Frozen => {}
            TimePolicy::LostTicks => {
                vm.machine.cpu_mut().tsc += behind;
                vm.cpu.tsc_offset += behind;
            }
            TimePolicy::CatchUp => self.lag[v] += behind,
        }
        let mut used = 0;
        let mut stop = None;
        while used < budget {
            let mut chunk = budget - used;
            if policy == TimePolicy::CatchUp && tick > 1 && self.lag[v] > 0 {
                // an eighth of a period run, then up to seven eighths skipped: the
                // clock runs at up to 8x until it has caught up, one tick at a time
                let run = (tick / 8).max(1);
                let step = self.lag[v].min(tick - run);
                vm.machine.cpu_mut().tsc += step;
                vm.cpu.tsc_offset += step;
                self.lag[v] -= step;
                chunk = chunk.min(run);
            }
            let t0 = vm.tsc();
            // a halted guest waits for its timer within the slice, not past it
            vm.machine.set_time_limit(Some(t0.saturating_add(chunk)));
            let r = vm.machine.run(chunk);
            vm.machine.set_time_limit(None);
            let ran = vm.tsc().saturating_sub(t0).min(budget - used);
            used += ran;
            if r != StopReason::BudgetExhausted {
                stop = Some(r);
                break;
            }
            if ran == 0 {
                break;
            }
        }
        vm.cpu.run += used;
        vm.cpu.slices += 1;
        vm.credit -= used as i64;
        vm.period_used += used;
        vm.last_ran = now + used;
        if let Some(v) = vm.machine.vmm() {
            vm.mem.share_breaks = v.exits.count(ExitReason::ShareBreak);
        }
        if let Some(r) = stop {
            vm.state = VmState::Stopped;
            self.log(Some(v), format!("guest stopped: {}", r.name()));
        }
        used
    }

    /// A VM's virtual time lag behind the host (cycles not yet caught up or frozen).
    pub fn lag(&self, v: usize) -> u64 {
        let Some(vm) = self.vms.get(v) else {
            return 0;
        };
        self.now.saturating_sub(vm.tsc())
    }
}
