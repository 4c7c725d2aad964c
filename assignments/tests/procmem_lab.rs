//! The procvm-memory lab: its programs behave under the process VM as under qemu-i386
//! (real Linux's memory calls), the reference gets full marks, the starter less, and a
//! munmap that forgets to unmap is caught by the pages left mapped.

use std::path::Path;

use assignments::component::procmem::{to_line, Call, Case, Done};
use assignments::native::component::{grade, BuildEnv};
use assignments::native::procmem::{programs, reference_run};
use assignments::native::{default_labs_dir, LabOnDisk};
use assignments::TestOutcome;
use vmlab_procvm::memcalls::{Areas, MmapArgs, MAP_FIXED};
use vmlab_procvm::memory::LinuxMemory;

fn lab() -> LabOnDisk {
    LabOnDisk::load(&default_labs_dir(), "procvm-memory").expect("lab loads")
}

fn work(name: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join(name)
}

fn grade_all(source: &str, dir: &str) -> Vec<TestOutcome> {
    let l = lab();
    let tests: Vec<_> = l.visible.iter().chain(&l.hidden).collect();
    grade(&l, source.as_bytes(), &tests, &BuildEnv::under(&work(dir)))
        .expect("the grader works")
        .outcomes
}

#[test]
fn every_program_runs_as_under_qemu() {
    let progs = programs(&lab(), &[], &work("procmem-programs")).expect("programs build");
    assert_eq!(progs.len(), 4);
    for p in &progs {
        let path = work("procmem-programs").join(format!("{}.elf", p.name));
        std::fs::write(&path, &p.elf).expect("write");
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        let q = std::process::Command::new("qemu-i386")
            .arg(&path)
            .output()
            .expect("qemu-i386 runs (cargo xtask test installs qemu-user)");
        let ours = reference_run(p).expect("runs");
        assert_eq!(
            String::from_utf8_lossy(&ours.stdout),
            String::from_utf8_lossy(&q.stdout),
            "{}",
            p.name
        );
        assert_eq!(Some(ours.exit.status()), q.status.code(), "{}", p.name);
        assert!(!ours.stdout.is_empty());
    }
}

#[test]
fn a_call_travels_as_a_line_and_comes_back_as_the_process_vm_answers_it() {
    let areas = Areas {
        brk_start: 0x0805_0000,
        brk: 0x0805_0000,
        mmap_next: 0xb000_0000,
    };
    // Pages mapped just under the mmap mark: a four-page mapping must go below them.
    let mapped = [(0x0804_8000, 0x0805_0000), (0xaffff000, 0xb000_0000)];
    let m = Call::Mmap2(MmapArgs {
        addr: 0,
        len: 0x3001,
        prot: 3,
        flags: 0x22,
        fd: u32::MAX,
        pgoff: 0,
    });
    let line = to_line(&areas, 100, &mapped, &m);
    let done = Case::from_line(&line).expect("parses").run(&LinuxMemory);
    assert_eq!(done.result, Ok(0xafffb000));
    assert_eq!(done.areas.mmap_next, 0xafffb000);
    let back = Done::from_line(&done.to_line()).expect("answer parses");
    assert_eq!(back, done);
    assert_eq!(
        done.to_line(),
        "=afffb000;8050000 8050000 afffb000;+afffb000-affff000:w"
    );
    // Two pages left under the memory cap: growing the heap by three maps nothing.
    let grow = to_line(&areas, 2, &mapped, &Call::Brk(0x0805_2001));
    let done = Case::from_line(&grow).expect("parses").run(&LinuxMemory);
    assert_eq!(done.result, Ok(0x0805_0000));
    use assignments::component::procmem::Change;
    let pages = 0x0805_0000..0x0805_2000;
    assert_eq!(
        done.changes,
        [
            Change::Map(pages.start, pages.end, true),
            Change::Unmap(pages.start, pages.end)
        ]
    );
    // MAP_FIXED outside user space.
    let fixed = Call::Mmap2(MmapArgs {
        addr: 0xbfff_f000,
        len: 0x2000,
        prot: 3,
        flags: 0x22 | MAP_FIXED,
        fd: u32::MAX,
        pgoff: 0,
    });
    let done = Case::from_line(&to_line(&areas, 100, &mapped, &fixed))
        .expect("parses")
        .run(&LinuxMemory);
    assert_eq!(done.result, Err(22));
    assert!(Case::from_line("1 2 3 4;5-;b 0").is_err());
    assert!(Done::from_line("=1;2 3 4;+1000-0:w").is_err());
}

#[test]
fn the_reference_gets_full_marks_and_the_starter_less() {
    let l = lab();
    let out = grade_all(
        &std::fs::read_to_string(l.solution_path()).expect("solution"),
        "procmem-reference",
    );
    for o in &out {
        assert!(o.passed, "{}: {}", o.name, o.message);
    }
    let out = grade_all(
        &std::fs::read_to_string(l.starter_path()).expect("starter"),
        "procmem-starter",
    );
    assert!(out.iter().all(|o| !o.passed), "{out:?}");
    let calls = &out[0];
    assert!(
        calls.message.contains("calls: standard output"),
        "{}",
        calls.message
    );
}

#[test]
fn a_munmap_that_keeps_its_pages_is_caught_by_the_pages_left_mapped() {
    let l = lab();
    let text = std::fs::read_to_string(l.solution_path()).expect("solution");
    let from = "        for p in each_page(addr, addr.saturating_add(len)) {\n            pages.unmap(p);\n        }\n        Ok(0)";
    assert!(text.contains(from));
    let out = grade_all(
        &text.replace(from, "        let _ = pages;\n        Ok(0)"),
        "procmem-leaky",
    );
    let churn = out
        .iter()
        .find(|o| o.name.starts_with("malloc_churn"))
        .expect("test");
    assert!(!churn.passed);
    assert!(
        churn.message.contains("pages mapped at the end: expected"),
        "{}",
        churn.message
    );
}
