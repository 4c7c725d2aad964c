//! Guest-lab tests that run the submission as a VM of vmlab's multi-VM host: the
//! host sets balloon targets in turn, and the test checks the balloon's size, the
//! frames the host reclaimed, that no given page was written, and the workload.

use emulator_core::ExecMode;
use serde::Deserialize;
use vmlab_host::guest::{self, Workload, REGION_START};
use vmlab_host::host::CYCLES_PER_MS;
use vmlab_host::{balloon, Host, HostConfig, Vm, VmSpec, VmState};

use crate::manifest::LabManifest;
use crate::spec::TestSpec;
use crate::TestOutcome;

/// Most problems listed in one test's message.
const MAX_PROBLEMS: usize = 8;
/// Longest run a test may ask for, in milliseconds of guest time.
pub const MAX_RUN_MS: u32 = 1000;

/// One period of a test: the target the host sets and how long it waits.
#[derive(Clone, Copy, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BalloonStep {
    /// The balloon's target, in pages.
    pub target: u32,
    /// How long the guest runs with it, in milliseconds of guest time.
    pub ms: u32,
}

/// A test's `balloon = { … }`: the guest's workload and the host's targets.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BalloonRun {
    /// The targets, in order.
    pub steps: Vec<BalloonStep>,
    /// Pages of the cache the same in every VM.
    #[serde(default = "shared")]
    pub shared_pages: u32,
    /// Pages of the cache private to the VM.
    #[serde(default = "private")]
    pub private_pages: u32,
    /// Cache pages the guest rewrites every round (it keeps using its cache).
    #[serde(default)]
    pub dirty_pages: u32,
    /// Work loop iterations per round.
    #[serde(default = "work")]
    pub work: u32,
}

fn shared() -> u32 {
    32
}
fn private() -> u32 {
    32
}
fn work() -> u32 {
    100
}

/// Most cache pages a test's workload may have (256 MiB).
const MAX_CACHE_PAGES: u32 = 0x1_0000;
/// Most work loop iterations per round.
const MAX_WORK: u32 = 1_000_000;

/// The host runs the guest in chunks of this part of a millisecond, checking between.
const CHUNKS_PER_MS: u32 = 2;
/// Chunks a step goes on after the balloon and the cache reached their sizes.
const SETTLE_CHUNKS: u32 = 1;

/// The VM's name on the test's host.
const VM_NAME: &str = "student";

/// Runs the submission `source` as `run` says and checks the balloon and the workload.
pub fn run_test(lab: &LabManifest, run: &BalloonRun, source: &[u8], t: &TestSpec) -> TestOutcome {
    match run_checked(lab, run, source, t) {
        Ok(problems) if problems.is_empty() => TestOutcome::passed(t),
        Ok(mut problems) => {
            if problems.len() > MAX_PROBLEMS {
                let more = problems.len() - MAX_PROBLEMS;
                problems.truncate(MAX_PROBLEMS);
                problems.push(format!("… and {more} more"));
            }
            TestOutcome::failed(t, problems.join("\n"))
        }
        Err(e) => TestOutcome::failed(t, e),
    }
}

fn run_checked(
    lab: &LabManifest,
    run: &BalloonRun,
    source: &[u8],
    t: &TestSpec,
) -> Result<Vec<String>, String> {
    let e = &t.expect;
    if !e.regs.is_empty() || !e.mem.is_empty() || !e.pages.is_empty() || e.serial.is_some() {
        return Err("test error: a balloon test checks the balloon and the workload only".into());
    }
    if t.mode == ExecMode::Bare {
        return Err("test error: a balloon test runs the guest as a VM: give a VMM mode".into());
    }
    let total_ms: u32 = run.steps.iter().map(|s| s.ms).fold(0, u32::saturating_add);
    let budget = t.budget.unwrap_or(lab.machine.budget);
    if run.steps.is_empty() || total_ms > MAX_RUN_MS || u64::from(total_ms) * CYCLES_PER_MS > budget
    {
        return Err(format!(
            "test error: the steps run {total_ms} ms; between 1 ms and {MAX_RUN_MS} ms, and at most the budget of {budget} cycles"
        ));
    }
    let cache = run.shared_pages.saturating_add(run.private_pages);
    if cache > MAX_CACHE_PAGES || run.dirty_pages > cache || run.work > MAX_WORK {
        return Err(format!(
            "test error: the cache is {cache} pages (at most {MAX_CACHE_PAGES}), dirty_pages {} (at most the cache), work {} (at most {MAX_WORK})",
            run.dirty_pages, run.work
        ));
    }
    let source = std::str::from_utf8(source).map_err(|_| {
        "a balloon test assembles the submission's source; this one is not text (a binary?)"
            .to_string()
    })?;
    let reference = source.starts_with("; reference solution:");
    let includes_driver = source.lines().any(|l| {
        let l = l.trim_start().to_ascii_lowercase();
        l.starts_with("%include") && l.contains("balloon_driver.inc")
    });
    if includes_driver && !reference {
        return Err(
            "the submission includes vmlab's own driver (balloon_driver.inc): write `balloon_step` yourself"
                .into(),
        );
    }
    let ram_mib = t.ram_mib.unwrap_or(lab.machine.ram_mib);
    let workload = Workload {
        shared_pages: run.shared_pages,
        private_pages: run.private_pages,
        dirty_pages: run.dirty_pages,
        work: run.work,
        tick_div: 1193,
    };
    let mut host = Host::new(HostConfig {
        scan_per_slice: 0,
        ..HostConfig::default()
    });
    let image = guest::assemble_source(
        "submission.asm",
        source,
        &workload,
        host.next_id(),
        ram_mib,
        reference,
    )
    .map_err(|e| format!("the submission: {e}"))?;
    let spec = VmSpec {
        mode: t.mode,
        workload: workload.clone(),
        ..VmSpec::new(VM_NAME, ram_mib)
    };
    let v = host
        .create_with_image(spec, image)
        .map_err(|e| format!("test setup: {e}"))?;
    let layout = Layout::new(ram_mib, &workload, host.next_id() - 1);
    let mut problems = Vec::new();
    for (k, step) in run.steps.iter().enumerate() {
        balloon::set_target(&mut host.vms[v], step.target);
        let rounds0 = host.vms[v].read_u32(layout.rounds_addr(&host.vms[v]));
        let what = format!("step {} (target {} pages)", k + 1, step.target);
        let mut settled = 0;
        for _ in 0..step.ms * CHUNKS_PER_MS {
            host.run_until(host.now + CYCLES_PER_MS / u64::from(CHUNKS_PER_MS));
            if let Some(p) = written_gift(&host.vms[v]) {
                problems.push(format!(
                    "{what}: the guest wrote page {p:#x} after giving it to the balloon: the host had reclaimed its frame"
                ));
                return Ok(problems);
            }
            if host.vms[v].state != VmState::Running {
                let why = host
                    .events
                    .iter()
                    .rev()
                    .find(|ev| ev.what.starts_with("guest stopped"))
                    .map_or("it stopped".to_string(), |ev| ev.what.clone());
                problems.push(format!("{what}: the guest no longer runs: {why}"));
                return Ok(problems);
            }
            // Once the balloon and the cache are where they should be, a little more
            // time shows whether they stay there.
            if layout.settled(&host.vms[v], step) {
                settled += 1;
                if settled > SETTLE_CHUNKS {
                    break;
                }
            } else {
                settled = 0;
            }
        }
        let vm = &host.vms[v];
        if vm.read_u32(layout.rounds_addr(vm)) == rounds0 {
            problems.push(format!(
                "{what}: the guest's main loop made no round (is the driver stuck in a loop?)"
            ));
            return Ok(problems);
        }
        check_step(vm, &layout, step, &what, &mut problems);
        if !problems.is_empty() {
            return Ok(problems);
        }
    }
    Ok(problems)
}

/// Where the guest keeps its cache and balloon, and what its cache holds.
struct Layout {
    region_end: u32,
    shared_end: u32,
    fill_end: u32,
    capacity: u32,
    vm_id: u32,
}

impl Layout {
    fn new(ram_mib: u32, w: &Workload, vm_id: u32) -> Layout {
        let capacity = Workload::region_pages(ram_mib);
        let region_end = REGION_START + (capacity << 12);
        let shared_end = REGION_START + (w.shared_pages << 12);
        Layout {
            region_end,
            shared_end,
            fill_end: shared_end + (w.private_pages << 12),
            capacity,
            vm_id: vm_id & 0x3f,
        }
    }

    /// The balloon holds what `step` asks (or all it can), and the cache fills the rest.
    fn settled(&self, vm: &Vm, step: &BalloonStep) -> bool {
        let held = vm.ballooned.iter().filter(|b| **b).count() as u32;
        held == step.target.min(self.capacity)
            && vm.guest_balloon() == held
            && vm.read_u32(vm.image.fill_top) == self.full(held)
    }

    /// Where the cache ends when it fills what a balloon of `held` pages leaves.
    fn full(&self, held: u32) -> u32 {
        let room = self.capacity.saturating_sub(held);
        REGION_START + (((self.fill_end - REGION_START) >> 12).min(room) << 12)
    }

    /// The guest's main-loop round counter.
    fn rounds_addr(&self, vm: &Vm) -> u32 {
        vm.image.rounds
    }

    /// The word every dword of cache page `addr` holds.
    fn pattern(&self, addr: u32) -> u32 {
        let mut x = addr >> 12;
        if addr >= self.shared_end {
            x ^= (self.vm_id << 20) | 0x5a00_0000;
        }
        x.wrapping_mul(0x9e37_79b1) | 1
    }
}

/// The first page the host reclaimed that now has a frame again: the guest wrote it.
fn written_gift(vm: &Vm) -> Option<u32> {
    let ram = vm.machine.pooled_ram()?;
    vm.ballooned
        .iter()
        .enumerate()
        .find(|(gfn, b)| **b && ram.slot(*gfn).is_some())
        .map(|(gfn, _)| (gfn as u32) << 12)
}

fn check_step(vm: &Vm, l: &Layout, step: &BalloonStep, what: &str, problems: &mut Vec<String>) {
    let want = step.target.min(l.capacity);
    let held: Vec<u32> = vm
        .ballooned
        .iter()
        .enumerate()
        .filter(|(_, b)| **b)
        .map(|(gfn, _)| (gfn as u32) << 12)
        .collect();
    let most = if step.target > l.capacity {
        format!(" (the most the guest can give: {} pages)", l.capacity)
    } else {
        String::new()
    };
    if held.len() as u32 != want {
        problems.push(format!(
            "{what}: the host holds {} pages of the balloon; expected {want}{most}",
            held.len()
        ));
    }
    if let Some(p) = held
        .iter()
        .find(|&&p| !(REGION_START..l.region_end).contains(&p))
    {
        problems.push(format!(
            "{what}: the guest gave page {p:#x}, outside the region of its cache and balloon ({REGION_START:#x} to {:#x})",
            l.region_end
        ));
    }
    let reported = vm.guest_balloon();
    if reported as usize != held.len() {
        problems.push(format!(
            "{what}: the guest's `balloon` count says {reported} pages; the host holds {}",
            held.len()
        ));
    }
    let fill_top = vm.read_u32(vm.image.fill_top);
    let lowest_gift = held.first().copied().unwrap_or(l.region_end);
    if fill_top > lowest_gift {
        problems.push(format!(
            "{what}: the cache is filled up to {fill_top:#x}, above the balloon's page {lowest_gift:#x}: lower `fill_top` when the balloon takes cache pages"
        ));
    }
    let full = l.full(held.len() as u32);
    if fill_top != full && fill_top <= lowest_gift {
        problems.push(format!(
            "{what}: the cache is filled up to {fill_top:#x}; with the balloon at {} pages it should reach {full:#x}",
            held.len()
        ));
    }
    let mut page = [0u8; 4096];
    let mut addr = REGION_START;
    while addr < fill_top.min(l.fill_end).min(l.region_end) {
        if !vm.ballooned[(addr >> 12) as usize] {
            vm.machine.peek_phys(addr, &mut page);
            let want = l.pattern(addr);
            if let Some(i) = page
                .chunks_exact(4)
                .position(|w| u32::from_le_bytes([w[0], w[1], w[2], w[3]]) != want)
            {
                problems.push(format!(
                    "{what}: the cache page at {addr:#x} lost its contents (dword {i} is not {want:#010x}): the workload's data is wrong"
                ));
                break;
            }
        }
        addr += 4096;
    }
}
