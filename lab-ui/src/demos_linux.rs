//! The player of `kind = "linux"` demos: the worker command that runs a demo's
//! program in the setup its step names, as far as the steps up to it go.

use vmlab_demos::kind_linux::{parse_quota, LinuxRun as StepRun, Setup};
use vmlab_demos::manifest::Kind;

use crate::demos::Demo;
use crate::protocol::Command;
use crate::worker::linux::LinuxRun;
use crate::worker::linux_setup::{Container, LinuxMount, LinuxStop};

/// Whether `demo` drives the process VM.
pub fn is_linux(demo: &Demo) -> bool {
    demo.manifest.kind == Kind::Linux
}

/// The index of the step up to `upto` that last named a setup (the run starts there).
fn setup_at(demo: &Demo, upto: usize) -> Option<(usize, &str)> {
    demo.steps()
        .iter()
        .enumerate()
        .take(upto.saturating_add(1))
        .rev()
        .find_map(|(i, s)| Some((i, s.linux.as_ref()?.setup.as_deref()?)))
}

/// The container a setup describes.
fn container(s: &Setup) -> Container {
    Container {
        root: s.root.clone().unwrap_or_default(),
        naive_chroot: s.naive_chroot,
        mem_limit: s.mem_limit,
        cpu_quota: s.cpu_quota.as_deref().and_then(|q| parse_quota(q).ok()),
        mounts: s
            .mounts
            .iter()
            .map(|m| LinuxMount {
                source: m.source.clone(),
                target: m.target.clone(),
                read_only: m.read_only,
            })
            .collect(),
    }
}

/// The run that brings `demo` (its program assembled to `elf`) to step `upto`: the
/// program from its start in the step's setup, each step's run since that setup
/// was named, the four ways when the step compares them.
pub fn run_for(demo: &Demo, elf: &[u8], upto: usize) -> Option<LinuxRun> {
    let table = demo.manifest.linux.as_ref()?;
    let (first, name) = setup_at(demo, upto)?;
    let setup = table.setup.get(name)?;
    let stops = demo
        .steps()
        .iter()
        .take(upto.saturating_add(1))
        .skip(first)
        .filter_map(|s| s.linux.as_ref())
        .map(|l| match &l.run {
            StepRun::Look => LinuxStop::Syscalls(0),
            StepRun::Syscalls(n) => LinuxStop::Syscalls(u64::from(*n)),
            StepRun::ToSyscall(c) => LinuxStop::ToSyscall(c.clone()),
            StepRun::ToEnd => LinuxStop::End,
        })
        .collect();
    let compare = demo
        .steps()
        .get(upto)
        .and_then(|s| s.linux.as_ref())
        .is_some_and(|l| l.compare);
    Some(LinuxRun {
        name: demo.id.to_string(),
        elf: elf.to_vec(),
        args: table.args.clone(),
        hostname: setup.hostname.clone().unwrap_or_default(),
        pid_ns: setup.pid_ns,
        compare,
        container: container(setup),
        files: table
            .files
            .iter()
            .map(|(p, t)| (p.clone(), t.as_bytes().to_vec()))
            .collect(),
        stops,
    })
}

/// Assembles a Linux demo's program (a whole ELF file in assembly).
pub fn program(demo: &Demo) -> Result<Vec<u8>, String> {
    vmlab_asm::assemble(
        &demo.manifest.guest,
        demo.source,
        &vmlab_asm::Options::default(),
    )
    .map(|o| o.bytes)
    .map_err(|e| format!("{}: {e}", demo.manifest.guest))
}

/// The command that shows step `upto` of a Linux demo, or why there is none.
pub fn command(demo: &Demo, upto: usize) -> Result<Command, String> {
    let elf = program(demo)?;
    run_for(demo, &elf, upto)
        .map(Command::RunLinux)
        .ok_or_else(|| format!("{}: step {} names no setup", demo.id, upto + 1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_step_runs_from_the_last_setup_named_with_the_steps_since() {
        let d = crate::demos::find("chroot-namespaces").expect("the demo");
        assert!(is_linux(d));
        let elf = program(d).expect("assembles");
        let runs: Vec<LinuxRun> = (0..d.steps().len())
            .map(|i| run_for(d, &elf, i).expect("a run"))
            .collect();
        assert!(runs[0].container.root.is_empty(), "the host first");
        let boxed = runs
            .iter()
            .position(|r| r.pid_ns)
            .expect("a step in the container");
        assert_eq!(runs[boxed].stops.len(), 1, "the container run starts over");
        assert_eq!(runs[boxed].container.root, "/jail");
        assert_eq!(runs[boxed + 1].stops.len(), 2);
        assert!(runs.iter().any(|r| r.container.naive_chroot));
        assert!(runs[0].files.iter().any(|(p, _)| p == "/secret.txt"));
        assert!(!is_linux(
            crate::demos::find("popf").expect("a machine demo")
        ));
    }
}
