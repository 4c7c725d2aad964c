//! Runs one guest-lab test: builds the machine, places the inputs, runs the image
//! under the budget and compares what can be observed with what the test expects.

use emulator_core::{FlatEntry, Gpr, MachineConfig, StopReason};

use crate::manifest::LabManifest;
use crate::paging::{translate, Translation};
use crate::regs::Reg;
use crate::spec::{StopExpect, TestSpec};
use crate::target::{Assembler, GuestMachine, MachineFactory};
use crate::TestOutcome;

/// Where `call` tests return to: a HLT the harness places in memory.
pub const RETURN_STUB: u32 = 0x8000;
/// ESP at the start of every test (a `call` test's return address sits just below).
pub const STACK_TOP: u32 = 0x9_0000;

/// Most differences listed in one test's message.
const MAX_PROBLEMS: usize = 8;

/// A submission after the checks that come before any test runs.
#[derive(Clone, Debug)]
pub enum Prepared {
    /// A flat image, ready to load.
    Image(Vec<u8>),
    /// Why no test can run (every test fails with this message).
    Rejected(String),
}

/// Checks a submission's size and text, then assembles it (or takes it as a flat
/// binary when `binary` is set).
pub fn prepare(
    lab: &LabManifest,
    asm: &dyn Assembler,
    submission: &[u8],
    binary: bool,
) -> Prepared {
    let max = lab.grading.max_submission_bytes;
    if submission.is_empty() {
        return Prepared::Rejected("the submission is empty (0 bytes)".into());
    }
    if submission.len() > max {
        return Prepared::Rejected(format!(
            "the submission is {} bytes; at most {max} bytes are accepted",
            submission.len()
        ));
    }
    let image = if binary {
        submission.to_vec()
    } else {
        let text = match std::str::from_utf8(submission) {
            Ok(t) => t,
            Err(e) => {
                return Prepared::Rejected(format!(
                    "the submission is not assembly source: it is not UTF-8 text (bad byte at offset {})",
                    e.valid_up_to()
                ))
            }
        };
        if text.contains('\0') {
            return Prepared::Rejected(
                "the submission is not assembly source: it contains NUL bytes (a binary file?)"
                    .into(),
            );
        }
        if text.trim().is_empty() {
            return Prepared::Rejected("the submission contains no code (only whitespace)".into());
        }
        match asm.assemble("submission.asm", text) {
            Ok(img) => img,
            Err(msg) => {
                return Prepared::Rejected(format!("the submission does not assemble:\n{msg}"))
            }
        }
    };
    if image.is_empty() {
        return Prepared::Rejected("the program assembles to 0 bytes".into());
    }
    if image.len() > lab.grading.max_image_bytes {
        return Prepared::Rejected(format!(
            "the program is {} bytes; at most {} bytes are accepted",
            image.len(),
            lab.grading.max_image_bytes
        ));
    }
    Prepared::Image(image)
}

/// Runs every test on a prepared submission (`source`: the submission as given).
pub fn run_all(
    lab: &LabManifest,
    factory: &dyn MachineFactory,
    prepared: &Prepared,
    source: &[u8],
    tests: &[TestSpec],
) -> Vec<TestOutcome> {
    tests
        .iter()
        .map(|t| run_prepared(lab, factory, prepared, source, t))
        .collect()
}

/// Runs one test on a prepared submission; tests that assemble the submission
/// themselves (balloon tests, with their workload's parameters) take `source`.
pub fn run_prepared(
    lab: &LabManifest,
    factory: &dyn MachineFactory,
    prepared: &Prepared,
    source: &[u8],
    t: &TestSpec,
) -> TestOutcome {
    match (prepared, &t.balloon) {
        (Prepared::Image(_), Some(run)) => crate::balloon_test::run_test(lab, run, source, t),
        (Prepared::Image(img), None) => run_test(lab, factory, img, t),
        (Prepared::Rejected(why), _) => TestOutcome::failed(t, why.clone()),
    }
}

/// Runs one test on a flat image.
pub fn run_test(
    lab: &LabManifest,
    factory: &dyn MachineFactory,
    image: &[u8],
    t: &TestSpec,
) -> TestOutcome {
    if let Some(way) = &t.linux {
        return crate::linux_test::run_test(lab, way, image, t);
    }
    match run_checked(lab, factory, image, t) {
        Ok(problems) if problems.is_empty() => TestOutcome::passed(t),
        Ok(problems) => TestOutcome::failed(t, problems.join("\n")),
        Err(setup) => TestOutcome::failed(t, setup),
    }
}

/// The machine a test runs on: the lab's RAM, CPUs and quantum (or the test's), the
/// test's mode.
pub fn machine_config(lab: &LabManifest, t: &TestSpec) -> MachineConfig {
    let mut cfg = MachineConfig {
        ram_mib: t.ram_mib.unwrap_or(lab.machine.ram_mib),
        mode: t.mode,
        event_capacity: 1024,
        serial_capacity: lab.machine.serial_capacity,
        ..MachineConfig::default()
    };
    cfg.cpus = t.cpus.unwrap_or(lab.machine.cpus);
    cfg.quantum = t.quantum.unwrap_or(lab.machine.quantum);
    cfg
}

/// Loads `image` at the lab's address and places a test's inputs: memory, the
/// stack, the call of a routine, registers and serial input. The grader and the
/// browser's "debug this test" start a test's run from here.
pub fn set_up(
    lab: &LabManifest,
    m: &mut dyn GuestMachine,
    image: &[u8],
    t: &TestSpec,
) -> Result<(), String> {
    let load = lab.machine.load;
    let entry = lab.machine.entry;
    m.load_flat(load, image, entry)
        .map_err(|e| format!("could not load the program at {load:#x}: {e}"))?;
    for mem in &t.mem {
        let bytes = mem.to_bytes()?;
        m.write_phys(mem.addr, &bytes)
            .map_err(|e| format!("test setup: memory at {:#x}: {e}", mem.addr))?;
    }
    if entry == FlatEntry::Protected32 {
        m.cpu_mut().gpr[Gpr::Esp as usize] = STACK_TOP;
    }
    if let Some(n) = t.call {
        let entry = routine_entry(image, load, n)?;
        m.write_phys(RETURN_STUB, &[0xf4])
            .map_err(|e| format!("test setup: return stub: {e}"))?;
        m.write_phys(STACK_TOP - 4, &RETURN_STUB.to_le_bytes())
            .map_err(|e| format!("test setup: stack: {e}"))?;
        let cpu = m.cpu_mut();
        cpu.gpr[Gpr::Esp as usize] = STACK_TOP - 4;
        cpu.eip = entry;
    }
    for (name, value) in &t.regs {
        let reg =
            Reg::parse(name).ok_or_else(|| format!("test setup: unknown register {name:?}"))?;
        reg.set(m.cpu_mut(), *value)?;
    }
    if !t.serial_input.is_empty() {
        m.push_serial_input(t.serial_input.as_bytes());
    }
    if let Some(d) = &t.disk {
        m.attach_virtio_disk(d.image()?)
            .map_err(|e| format!("test setup: the virtio disk: {e}"))?;
    }
    Ok(())
}

fn run_checked(
    lab: &LabManifest,
    factory: &dyn MachineFactory,
    image: &[u8],
    t: &TestSpec,
) -> Result<Vec<String>, String> {
    let cfg = MachineConfig {
        event_capacity: 1024,
        ..machine_config(lab, t)
    };
    let mut m = factory
        .create(cfg)
        .map_err(|e| format!("could not build the machine ({} mode): {e}", t.mode.name()))?;
    set_up(lab, &mut *m, image, t)?;
    let budget = t.budget.unwrap_or(lab.machine.budget);
    let stop = m.run(budget);
    let mut problems = Vec::new();
    check_stop(&*m, t, stop, budget, &mut problems);
    check_observations(&*m, t, &mut problems);
    if problems.len() > MAX_PROBLEMS {
        let more = problems.len() - MAX_PROBLEMS;
        problems.truncate(MAX_PROBLEMS);
        problems.push(format!("… and {more} more differences"));
    }
    Ok(problems)
}

/// The address routine `n` of the image's dword table points at.
fn routine_entry(image: &[u8], load: u32, n: u32) -> Result<u32, String> {
    let at = (n as usize) * 4;
    let bytes = image
        .get(at..at + 4)
        .ok_or_else(|| {
            format!(
                "the program is {} bytes, too short to hold routine table entry {n} (a `dd` at offset {at})",
                image.len()
            )
        })?;
    let entry = u32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]);
    let end = load.saturating_add(image.len() as u32);
    if entry < load && (entry as usize) < image.len() {
        return Err(format!(
            "routine table entry {n} is {entry:#x}, an offset into the program rather than an address: is `org {load:#x}` missing?"
        ));
    }
    if entry < load || entry >= end {
        return Err(format!(
            "routine table entry {n} is {entry:#x}, outside the program ({load:#x}..{end:#x}); keep the `dd` table at the very start"
        ));
    }
    Ok(entry)
}

fn check_stop(
    m: &dyn GuestMachine,
    t: &TestSpec,
    stop: StopReason,
    budget: u64,
    problems: &mut Vec<String>,
) {
    let eip = m.cpu().eip;
    let (cpl, ring) = (m.guest_cpl(), m.cpu().cpl);
    let where_ = format!(
        "EIP = {eip:#010x}, CPL {cpl}{}, after {} instruction(s)",
        if cpl == ring {
            String::new()
        } else {
            format!(" (ring {ring} on the hardware)")
        },
        m.icount()
    );
    match stop {
        StopReason::BudgetExhausted => problems.push(format!(
            "did not finish within {budget} instructions (an endless loop, or waiting for something that never comes?); stopped at {where_}"
        )),
        StopReason::TripleFault => {
            let last = m.recent_exceptions(4);
            problems.push(format!(
                "the machine triple-faulted (an exception while delivering a double fault; a real PC resets) at {where_}{}",
                if last.is_empty() {
                    String::new()
                } else {
                    format!("; the last exceptions: {}", last.join(", "))
                }
            ))
        }
        StopReason::Halted => match t.expect.stop {
            StopExpect::DebugExit => problems.push(format!(
                "halted at {where_}; expected a write to the debug-exit port 0xf4"
            )),
            StopExpect::Halted | StopExpect::Any => {
                if t.call.is_some() && eip != RETURN_STUB + 1 {
                    problems.push(format!(
                        "the routine halted at {where_} instead of returning to its caller with `ret`"
                    ));
                }
            }
        },
        StopReason::DebugExit(v) => match t.expect.stop {
            StopExpect::Halted => problems.push(format!(
                "stopped by a write of {v:#x} to the debug-exit port at {where_}; expected HLT"
            )),
            StopExpect::DebugExit | StopExpect::Any => {
                if let Some(want) = t.expect.exit_code {
                    if want != v {
                        problems.push(format!(
                            "debug-exit value: expected {want:#x}, got {v:#x}"
                        ));
                    }
                }
            }
        },
        other => {
            if t.expect.stop != StopExpect::Any {
                problems.push(format!("stopped unexpectedly ({}) at {where_}", other.name()));
            }
        }
    }
}

fn check_observations(m: &dyn GuestMachine, t: &TestSpec, problems: &mut Vec<String>) {
    let cpu = m.cpu().clone();
    for (name, want) in &t.expect.regs {
        let Some(reg) = Reg::parse(name) else {
            problems.push(format!("test error: unknown register {name:?}"));
            continue;
        };
        let (value, mask) = want.parts();
        let got = match reg {
            Reg::Cpl => u32::from(m.guest_cpl()),
            _ => reg.get(&cpu),
        };
        if got & mask != value {
            if mask == u32::MAX {
                problems.push(format!(
                    "{name}: expected {value:#010x} ({value}), got {got:#010x} ({got})"
                ));
            } else {
                problems.push(format!(
                    "{name}: expected bits {mask:#010x} to be {value:#010x}, got {:#010x} (whole register {got:#010x})",
                    got & mask
                ));
            }
        }
    }
    let serial = m.serial_output();
    if let Some(want) = &t.expect.serial {
        if let Some(p) = serial_diff(want.as_bytes(), &serial) {
            problems.push(p);
        }
    }
    for s in &t.expect.serial_contains {
        if !contains(&serial, s.as_bytes()) {
            problems.push(format!(
                "serial output should contain {}; it is {}",
                show(s.as_bytes()),
                show(&serial)
            ));
        }
    }
    for s in &t.expect.serial_absent {
        if contains(&serial, s.as_bytes()) {
            problems.push(format!(
                "serial output should not contain {}; it is {}",
                show(s.as_bytes()),
                show(&serial)
            ));
        }
    }
    for mem in &t.expect.mem {
        let Ok(want) = mem.to_bytes() else {
            problems.push(format!("test error: bad memory entry at {:#x}", mem.addr));
            continue;
        };
        let mut got = vec![0u8; want.len()];
        m.peek_phys(mem.addr, &mut got);
        if got != want {
            let first = got.iter().zip(&want).position(|(a, b)| a != b).unwrap_or(0);
            problems.push(format!(
                "memory at {:#x}: expected {}, got {} (first difference at {:#x})",
                mem.addr,
                show_bytes(&want),
                show_bytes(&got),
                mem.addr as usize + first
            ));
        }
    }
    for p in &t.expect.pages {
        let got = translate(m, &cpu, p.linear);
        let problem = match got {
            Translation::Mapped {
                phys,
                writable,
                user,
                ..
            } => {
                if !p.present {
                    Some("mapped, but it must not be present".to_string())
                } else {
                    let mut wrong = Vec::new();
                    if let Some(want) = p.phys {
                        if want != phys {
                            wrong.push(format!("physical address {want:#010x}"));
                        }
                    }
                    if let Some(want) = p.writable {
                        if want != writable {
                            wrong.push(if want { "read/write" } else { "read-only" }.into());
                        }
                    }
                    if let Some(want) = p.user {
                        if want != user {
                            wrong.push(if want { "user" } else { "supervisor" }.into());
                        }
                    }
                    (!wrong.is_empty()).then(|| format!("expected {}", wrong.join(", ")))
                }
            }
            Translation::NotPresent { .. } if !p.present => None,
            Translation::NotPresent { .. } => Some("it must be mapped".to_string()),
            Translation::PagingOff => Some("paging must be enabled".to_string()),
        };
        if let Some(why) = problem {
            problems.push(format!(
                "page table: linear {:#010x} translates to {got}; {why} (CR3 = {:#010x})",
                p.linear, cpu.cr3
            ));
        }
    }
    for e in &t.expect.exits {
        let Some(n) = m.vm_exits(&e.reason) else {
            problems.push(format!(
                "VM exits for `{}` cannot be counted in {} mode",
                e.reason,
                t.mode.name()
            ));
            continue;
        };
        if let Err(bound) = e.count.check(n) {
            problems.push(format!(
                "VM exits for `{}`: expected {bound}, got {n}",
                e.reason
            ));
        }
    }
    check_disk(m, t, problems);
    if let Some(bound) = &t.expect.sensitive {
        let Some(reports) = m.sensitive_reports() else {
            problems.push(format!(
                "sensitive-instruction reports cannot be read in {} mode",
                t.mode.name()
            ));
            return;
        };
        if let Err(b) = bound.check(reports.len() as u64) {
            let listed: Vec<&str> = reports.iter().take(3).map(String::as_str).collect();
            problems.push(format!(
                "sensitive-instruction reports from the VMM: expected {b}, got {}{}",
                reports.len(),
                if listed.is_empty() {
                    String::new()
                } else {
                    format!(": {}", listed.join("; "))
                }
            ));
        }
    }
}

/// The test's disk against `disk_changed` and `disk_copies`.
fn check_disk(m: &dyn GuestMachine, t: &TestSpec, problems: &mut Vec<String>) {
    let e = &t.expect;
    if e.disk_changed.is_none() && e.disk_copies.is_empty() {
        return;
    }
    let (Some(start), Some(now)) = (t.disk.map(|d| d.image()), m.disk_image()) else {
        problems.push("test error: disk checks without a `disk` on the test".into());
        return;
    };
    let Ok(start) = start else {
        problems.push("test error: the test's disk cannot be built".into());
        return;
    };
    let sector = |img: &[u8], n: u32| -> Option<Vec<u8>> {
        let at = n as usize * 512;
        img.get(at..at + 512).map(<[u8]>::to_vec)
    };
    if let Some(want) = &e.disk_changed {
        let mut want = want.clone();
        want.sort_unstable();
        let changed: Vec<u32> = (0..(start.len() / 512) as u32)
            .filter(|&n| sector(&start, n) != sector(&now, n))
            .collect();
        if changed != want {
            let list = |v: &[u32]| {
                if v.is_empty() {
                    "none".to_string()
                } else {
                    v.iter().map(u32::to_string).collect::<Vec<_>>().join(", ")
                }
            };
            problems.push(format!(
                "disk: sectors changed: {}; expected {}",
                list(&changed),
                list(&want)
            ));
        }
    }
    for c in &e.disk_copies {
        match (sector(&start, c.from), sector(&now, c.to)) {
            (Some(a), Some(b)) if a == b => {}
            (Some(a), Some(b)) => {
                let first = a.iter().zip(&b).position(|(x, y)| x != y).unwrap_or(0);
                problems.push(format!(
                    "disk: sector {} does not hold what sector {} held: byte {first} is {:#04x}, expected {:#04x}",
                    c.to, c.from, b[first], a[first]
                ));
            }
            _ => problems.push(format!(
                "test error: sector {} or {} is past the end of the disk",
                c.from, c.to
            )),
        }
    }
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    needle.is_empty() || hay.windows(needle.len()).any(|w| w == needle)
}

/// Where two serial outputs first differ, with context, or `None` when equal.
fn serial_diff(want: &[u8], got: &[u8]) -> Option<String> {
    if want == got {
        return None;
    }
    let at = want
        .iter()
        .zip(got)
        .position(|(a, b)| a != b)
        .unwrap_or(want.len().min(got.len()));
    let from = at.saturating_sub(20);
    let ctx = |s: &[u8]| show(s.get(from..s.len().min(at + 40)).unwrap_or(&[]));
    Some(format!(
        "serial output differs at byte {at} (expected {} bytes, got {}):\n  expected …{}\n  got      …{}",
        want.len(),
        got.len(),
        ctx(want),
        ctx(got)
    ))
}

/// Bytes as a quoted, escaped string, cut after 200 characters.
pub fn show(bytes: &[u8]) -> String {
    const LIMIT: usize = 200;
    let cut = bytes.len() > LIMIT;
    let text = String::from_utf8_lossy(&bytes[..bytes.len().min(LIMIT)]);
    format!(
        "\"{}\"{}",
        text.escape_debug(),
        if cut {
            format!("… ({} bytes in all)", bytes.len())
        } else {
            String::new()
        }
    )
}

fn show_bytes(bytes: &[u8]) -> String {
    let hex: Vec<String> = bytes.iter().take(32).map(|b| format!("{b:02x}")).collect();
    let printable = bytes
        .iter()
        .all(|b| b.is_ascii_graphic() || *b == b' ' || *b == 0);
    format!(
        "[{}{}]{}",
        hex.join(" "),
        if bytes.len() > 32 { " …" } else { "" },
        if printable && bytes.iter().any(|b| *b != 0) {
            format!(" {}", show(bytes))
        } else {
            String::new()
        }
    )
}
