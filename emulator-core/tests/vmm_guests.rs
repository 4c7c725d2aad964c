//! The VMM model against the guests in `guests/`: the teaching kernel prints the
//! same in every mode, POPF misbehaves under trap-and-emulate and the report says
//! why, the paravirtual guest is identical everywhere, the red pill sees the VMM,
//! and every privileged instruction is exactly one exit of the right reason.
//!
//! The guests are assembled by the project's assembler (and cross-checked with nasm).

mod common;

use std::path::PathBuf;
use std::process::Command;

use emulator_core::vmm::{ExitReason, Vmm};
use emulator_core::{
    EventKind, ExecMode, FlatEntry, GuestPaging, GuestRing, Machine, MachineConfig, StopReason,
};

const BARE: ExecMode = ExecMode::Bare;
const TRAP: ExecMode = ExecMode::TRAP_EMULATE;
const NESTED: ExecMode = ExecMode::HwAssist {
    paging: GuestPaging::Nested,
};
const SHADOW: ExecMode = ExecMode::HwAssist {
    paging: GuestPaging::Shadow,
};
const ALL: [ExecMode; 4] = [BARE, TRAP, NESTED, SHADOW];

/// The guests of the VMM model.
const GUESTS: [&str; 6] = [
    "kernel/kernel",
    "vmm/privtour",
    "vmm/popf",
    "vmm/redpill",
    "vmm/paravirt",
    "vmm/flatpm",
];

fn source(path: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../guests")
        .join(format!("{path}.asm"))
}

/// Assembles `guests/<path>.asm` with the project's assembler (includes from
/// `guests/include/`).
fn rom(path: &str) -> Vec<u8> {
    common::assemble(&format!("guests/{path}.asm"), &[])
}

#[test]
fn project_assembler_matches_nasm_on_every_vmm_guest() {
    for path in GUESTS {
        let out = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
            .join(format!("{}-nasm.bin", path.replace('/', "-")));
        let status = Command::new("nasm")
            .args(["-f", "bin", "-I"])
            .arg(common::root().join("guests/include/"))
            .arg("-o")
            .arg(&out)
            .arg(source(path))
            .status()
            .expect("nasm is part of the development image (apt-get install nasm)");
        assert!(status.success(), "nasm failed on {path}");
        let reference = std::fs::read(&out).expect("nasm's output");
        assert!(rom(path) == reference, "{path}: vmlab-asm and nasm differ");
    }
}

fn machine(mode: ExecMode) -> Machine {
    Machine::new(MachineConfig {
        mode,
        event_capacity: 1 << 20,
        ..MachineConfig::default()
    })
    .expect("machine")
}

/// Runs a ROM to its debug exit; returns the machine and its serial output.
fn run(image: &[u8], mode: ExecMode) -> (Machine, String) {
    let mut m = machine(mode);
    m.load_rom(image).expect("ROM loads");
    let stop = m.run(60_000_000);
    let out = String::from_utf8_lossy(&m.serial_output()).into_owned();
    assert_eq!(
        stop,
        StopReason::DebugExit(0),
        "{mode:?} did not finish; serial so far:\n{out}"
    );
    (m, out)
}

fn vmm(m: &Machine) -> &Vmm {
    m.vmm().expect("a VMM in this mode")
}

/// The VM exits in the event ring: (instruction text, reason).
fn exits(m: &Machine) -> Vec<(String, ExitReason)> {
    m.events()
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::VmExit {
                instruction,
                reason,
                ..
            } => Some((instruction.clone(), *reason)),
            _ => None,
        })
        .collect()
}

const KERNEL_OUTPUT: &str = "vmlab teaching kernel
kernel: paging on, starting 2 processes
process A line 1 from ring 3
process B line 1 from ring 3
process A line 2 from ring 3
process B line 2 from ring 3
process A line 3 from ring 3
process B line 3 from ring 3
kernel: all processes exited; 6 lines written, 4 demand-zero page faults
";

#[test]
fn teaching_kernel_prints_the_same_in_every_mode() {
    let image = rom("kernel/kernel");
    let mut icounts = Vec::new();
    for mode in ALL {
        let (m, out) = run(&image, mode);
        assert_eq!(out, KERNEL_OUTPUT, "serial output under {mode:?}");
        icounts.push(m.icount());
    }
    assert!(
        icounts.windows(2).all(|w| w[0] == w[1]),
        "an emulated instruction retires as one, so every mode retires the same count: {icounts:?}"
    );
}

#[test]
fn trap_emulate_shadows_the_kernel_page_tables() {
    let image = rom("kernel/kernel");
    let (m, _) = run(&image, TRAP);
    let v = vmm(&m);
    let s = v.stats().shadow.expect("shadow statistics");
    assert_eq!(
        s.true_faults, 4,
        "exactly the guest's 4 demand-zero faults are true faults"
    );
    assert!(s.hidden_faults > s.true_faults, "{s:?}");
    assert!(s.tables_built > 0 && s.tables_dropped > 0, "{s:?}");
    assert_eq!(v.exits.count(ExitReason::PageFault), 4);
    assert_eq!(
        v.exits.count(ExitReason::Invlpg),
        4,
        "one INVLPG per demand-zero fault"
    );
    assert_eq!(m.cpu().cpl, 1, "the guest kernel ran at ring 1");
    // both processes' address spaces have shadows, with user pages in them
    let spaces = v.shadow.spaces();
    assert!(
        spaces.contains(&0x10000) && spaces.contains(&0x11000),
        "{spaces:x?}"
    );
    let cr3 = v.shadow.active().expect("an active shadow");
    let user_pages: Vec<_> = v
        .shadow
        .directory(cr3)
        .iter()
        .flat_map(|pde| v.shadow.table(cr3, pde.index))
        .filter(|pte| pte.user)
        .collect();
    assert!(
        !user_pages.is_empty(),
        "the running process has user pages shadowed"
    );
    // the kernel's own pages stay supervisor-only in the shadow
    assert!(v.shadow.table(cr3, 0).iter().all(|pte| !pte.user));
}

#[test]
fn every_guest_cr3_write_and_invlpg_is_one_exit_in_both_vmm_modes() {
    let image = rom("kernel/kernel");
    let (te, _) = run(&image, TRAP);
    let (hw, _) = run(&image, NESTED);
    let count = |m: &Machine, r| exits(m).iter().filter(|(_, x)| *x == r).count();
    let cr3_te = count(&te, ExitReason::Cr3Write);
    assert!(cr3_te >= 3, "boot plus context switches load CR3");
    assert_eq!(cr3_te, count(&hw, ExitReason::Cr3Write));
    assert_eq!(
        count(&te, ExitReason::Invlpg),
        count(&hw, ExitReason::Invlpg)
    );
    assert!(exits(&te)
        .iter()
        .filter(|(_, r)| *r == ExitReason::Cr3Write)
        .all(|(i, _)| i.starts_with("mov cr3,")));
    let n = vmm(&hw).stats().nested.expect("nested statistics");
    assert!(
        n.walks > 0 && n.references >= 3 * n.native_references,
        "{n:?}"
    );
}

#[test]
fn privileged_instruction_tour_is_one_exit_each_with_the_right_reason() {
    let image = rom("vmm/privtour");
    let (m, out) = run(&image, TRAP);
    let (_, bare) = run(&image, BARE);
    assert_eq!(out, bare);
    let all = exits(&m);
    let expect: &[(&str, ExitReason)] = &[
        ("mov cr0,eax", ExitReason::ModeSwitch),
        ("sti", ExitReason::InterruptFlag),
        ("cli", ExitReason::InterruptFlag),
        ("lgdt ", ExitReason::DescriptorTable),
        ("lidt ", ExitReason::DescriptorTable),
        ("lldt ", ExitReason::DescriptorTable),
        ("ltr ", ExitReason::DescriptorTable),
        ("mov eax,cr0", ExitReason::CrRead),
        ("mov cr0,ebx", ExitReason::CrWrite),
        ("mov cr3,eax", ExitReason::Cr3Write),
        ("mov eax,cr4", ExitReason::CrRead),
        ("mov cr4,ebx", ExitReason::CrWrite),
        ("invlpg ", ExitReason::Invlpg),
        ("clts", ExitReason::CrWrite),
        ("lmsw ", ExitReason::CrWrite),
        ("wbinvd", ExitReason::Cache),
        ("mov eax,dr7", ExitReason::DrAccess),
        ("in al,80h", ExitReason::Io),
        ("out 80h,al", ExitReason::Io),
    ];
    for (text, reason) in expect {
        let hits: Vec<_> = all.iter().filter(|(i, _)| i.starts_with(text)).collect();
        assert_eq!(hits.len(), 1, "{text}: {hits:?}");
        assert_eq!(hits[0].1, *reason, "{text}");
    }
    // SMSW (to feed LMSW) is sensitive, not privileged: reported, not an exit
    let smsw: Vec<_> = vmm(&m)
        .reports()
        .iter()
        .filter(|r| r.instruction.starts_with("smsw"))
        .collect();
    assert_eq!(smsw.len(), 1);
    assert!(smsw[0].differs);
}

#[test]
fn popf_misbehaves_under_trap_emulate_and_the_report_says_why() {
    let image = rom("vmm/popf");
    let (_, bare) = run(&image, BARE);
    assert!(
        bare.contains("popf restored IF, the timer ticks again"),
        "{bare}"
    );
    assert!(bare.contains("pushf shows IF=0"), "{bare}");
    for mode in [NESTED, SHADOW] {
        assert_eq!(run(&image, mode).1, bare, "{mode:?} behaves like bare");
    }
    let (m, te) = run(&image, TRAP);
    assert_ne!(te, bare);
    assert!(te.contains("popf did not restore IF"), "{te}");
    assert!(
        te.contains("pushf shows IF=0"),
        "the virtual IF reads true: {te}"
    );
    let reports = vmm(&m).reports();
    let popf = reports
        .iter()
        .find(|r| r.instruction.starts_with("popf"))
        .expect("a POPF report");
    assert!(popf.differs);
    assert!(popf.real.contains("IF := 1"), "{popf:?}");
    assert!(popf.saw.contains("IF stays 0"), "{popf:?}");
    assert!(m.events().iter().any(|e| matches!(
        &e.kind,
        EventKind::SensitiveInstruction { differs: true, .. }
    )));
}

#[test]
fn paravirtual_guest_is_identical_in_every_mode() {
    let image = rom("vmm/paravirt");
    let (_, bare) = run(&image, BARE);
    assert!(
        bare.contains("interrupts restored, the timer ticks again"),
        "{bare}"
    );
    for mode in [TRAP, NESTED, SHADOW] {
        let (m, out) = run(&image, mode);
        assert_eq!(out, bare, "{mode:?}");
        let v = vmm(&m);
        assert!(v.exits.count(ExitReason::Hypercall) >= 4, "{mode:?}");
        assert!(v.reports().iter().all(|r| !r.differs), "{:?}", v.reports());
    }
}

#[test]
fn red_pill_sees_trap_emulate_but_not_hardware_assistance() {
    let image = rom("vmm/redpill");
    let (_, bare) = run(&image, BARE);
    assert!(bare.contains("verdict: no VMM detected"), "{bare}");
    let (m, te) = run(&image, TRAP);
    assert!(te.contains("verdict: running under a VMM"), "{te}");
    assert!(
        te.contains("redpill: cs 00000009, rpl 00000001: DIFFERS"),
        "CPL = CS.RPL: the kernel runs at ring 1: {te}"
    );
    assert!(
        bare.contains("redpill: cs 00000008, rpl 00000000: same"),
        "{bare}"
    );
    assert!(
        te.contains("redpill: str 00000019, loaded 00000018: DIFFERS"),
        "the TR selector carries the ring the kernel runs at: {te}"
    );
    assert!(
        bare.contains("redpill: str 00000018, loaded 00000018: same"),
        "{bare}"
    );
    for (what, insn) in [
        ("sidt", "sidt"),
        ("smsw", "smsw"),
        ("cs", "mov ax,cs"),
        ("str", "str"),
    ] {
        assert!(te.contains(&format!("redpill: {what} ")), "{te}");
        assert!(
            vmm(&m)
                .reports()
                .iter()
                .any(|r| r.instruction.starts_with(insn) && r.differs),
            "{insn}"
        );
    }
    assert_eq!(run(&image, NESTED).1, bare);
}

#[test]
fn snapshot_under_trap_emulate_continues_exactly() {
    let image = rom("kernel/kernel");
    let mut m = machine(TRAP);
    m.load_rom(&image).expect("ROM loads");
    assert_eq!(m.run(300_000), StopReason::BudgetExhausted);
    let snap = m.snapshot();
    assert_eq!(m.run(60_000_000), StopReason::DebugExit(0));
    let first = m.serial_output();
    let exits_first = vmm(&m).exits.total;
    let mut again = machine(TRAP);
    again.restore(&snap).expect("restore");
    assert_eq!(again.run(60_000_000), StopReason::DebugExit(0));
    let second = again.serial_output();
    assert_eq!(
        String::from_utf8_lossy(&first),
        String::from_utf8_lossy(&second)
    );
    assert_eq!(vmm(&again).exits.total, exits_first);
}

#[test]
fn a_guest_started_in_protected_mode_is_deprivileged_from_its_first_instruction() {
    let image = rom("vmm/flatpm");
    let expected = "flatpm: started in protected mode
flatpm: int 0x30 through the IDT
flatpm: paging on with a 4 MiB page
flatpm: page fault at 0x40000123 mapped
flatpm: the write went to the mapped frame
";
    for mode in ALL {
        let mut m = machine(mode);
        m.load_flat(0x10000, &image, FlatEntry::Protected32)
            .expect("loads");
        let stop = m.run(10_000_000);
        let out = String::from_utf8_lossy(&m.serial_output()).into_owned();
        assert_eq!(out, expected, "{mode:?}");
        assert_eq!(stop, StopReason::DebugExit(0), "{mode:?}");
        if mode == TRAP {
            let v = vmm(&m);
            assert_eq!(m.cpu().cpl, 1);
            assert_eq!(v.exits.count(ExitReason::SoftwareInterrupt), 1);
            assert_eq!(v.exits.count(ExitReason::PageFault), 1);
            assert_eq!(
                v.exits.count(ExitReason::Iret),
                2,
                "both IRETs return into the kernel"
            );
            assert!(v
                .shadow
                .directory(0x21000)
                .iter()
                .any(|p| p.from_large_page));
        }
    }
}

#[test]
fn hw_assist_exit_controls_switch_each_exit_off() {
    let image = rom("vmm/privtour");
    let (all_on, expected) = run(&image, NESTED);
    let on = &vmm(&all_on).exits;
    for reason in [
        ExitReason::Io,
        ExitReason::Cr3Write,
        ExitReason::CrWrite,
        ExitReason::Invlpg,
    ] {
        assert!(
            on.count(reason) > 0,
            "{reason:?} exits with the controls on"
        );
    }
    let mut m = machine(NESTED);
    m.load_rom(&image).expect("ROM loads");
    let c = &mut m.vmm_mut().expect("VMM").controls;
    c.io = false;
    c.cr3_write = false;
    c.cr0_cr4_write = false;
    c.invlpg = false;
    c.hlt = false;
    assert_eq!(m.run(60_000_000), StopReason::DebugExit(0));
    assert_eq!(String::from_utf8_lossy(&m.serial_output()), expected);
    let off = &vmm(&m).exits;
    for reason in [
        ExitReason::Io,
        ExitReason::Cr3Write,
        ExitReason::CrWrite,
        ExitReason::Invlpg,
        ExitReason::Hlt,
    ] {
        assert_eq!(off.count(reason), 0, "{reason:?} with its control off");
    }
}

#[test]
fn teaching_kernel_also_runs_deprivileged_to_ring_two() {
    let image = rom("kernel/kernel");
    let (m, out) = run(
        &image,
        ExecMode::TrapEmulate {
            guest_ring: GuestRing::Ring2,
        },
    );
    assert_eq!(out, KERNEL_OUTPUT);
    assert_eq!(m.cpu().cpl, 2);
}

#[test]
fn cpu_test_rom_passes_in_every_mode() {
    let image = rom("cputest/cputest");
    let (bare_machine, bare) = run(&image, BARE);
    assert!(bare.contains("cputest: all stages passed"), "{bare}");
    for mode in [TRAP, NESTED, SHADOW] {
        let (m, out) = run(&image, mode);
        assert_eq!(out, bare, "{mode:?}");
        assert_eq!(m.icount(), bare_machine.icount(), "{mode:?}");
    }
}

#[test]
fn run_to_the_next_trap_stops_after_each_exit_and_changes_nothing() {
    let image = rom("kernel/kernel");
    let (plain, expected) = run(&image, TRAP);
    let mut m = machine(TRAP);
    m.load_rom(&image).expect("ROM loads");
    m.vmm_mut().expect("VMM").stop_on_exit = true;
    let mut stops = 0u64;
    let last = loop {
        match m.run(60_000_000) {
            StopReason::VmExit => {
                stops += 1;
                let last = m.events().iter().next_back().map(|e| e.kind.clone());
                assert!(
                    matches!(last, Some(EventKind::VmExit { .. })),
                    "stopped right after an exit: {last:?}"
                );
            }
            other => break other,
        }
    };
    assert_eq!(last, StopReason::DebugExit(0));
    assert_eq!(String::from_utf8_lossy(&m.serial_output()), expected);
    assert_eq!(m.icount(), plain.icount());
    assert!(stops > 100 && stops <= vmm(&m).exits.total, "{stops}");
}

#[test]
fn multiboot_kernel_runs_the_same_under_every_vmm() {
    let text = std::fs::read_to_string(
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../guests/cputest/multiboot.asm"),
    )
    .expect("the Multiboot test kernel");
    let elf = vmlab_asm::assemble("multiboot.asm", &text, &vmlab_asm::Options::default())
        .expect("assembles")
        .bytes;
    let mut outputs = Vec::new();
    for mode in ALL {
        let mut m = machine(mode);
        m.load_multiboot(&elf, "hello").expect("loads");
        assert_eq!(m.run(10_000_000), StopReason::DebugExit(0), "{mode:?}");
        outputs.push(String::from_utf8_lossy(&m.serial_output()).into_owned());
        if mode == TRAP {
            assert_eq!(m.cpu().cpl, 1, "deprivileged from its entry point");
        }
    }
    assert!(outputs[0].contains("cmdline=hello"), "{}", outputs[0]);
    assert!(outputs.windows(2).all(|w| w[0] == w[1]), "{outputs:?}");
}

#[test]
fn each_exit_is_logged_at_the_instruction_that_caused_it() {
    let image = rom("vmm/privtour");
    let (m, _) = run(&image, TRAP);
    let mut checked = 0;
    for e in m.events().iter() {
        let EventKind::VmExit {
            reason,
            instruction,
            ..
        } = &e.kind
        else {
            continue;
        };
        if matches!(reason, ExitReason::ModeSwitch | ExitReason::FarTransfer) {
            continue; // 16-bit code, before the far jump into 32-bit code
        }
        let mut bytes = [0u8; 15];
        m.peek_phys(e.linear_eip, &mut bytes);
        let mut d = iced_x86::Decoder::with_ip(
            32,
            &bytes,
            e.linear_eip as u64,
            iced_x86::DecoderOptions::NONE,
        );
        let insn = d.decode();
        assert_eq!(
            &emulator_core::vmm::format_instruction(&insn),
            instruction,
            "exit at {:#x}",
            e.linear_eip
        );
        checked += 1;
    }
    assert!(checked > 20, "{checked}");
}

#[test]
fn nested_walk_probe_shows_eight_references_and_changes_nothing() {
    let image = rom("kernel/kernel");
    let mut m = machine(NESTED);
    m.load_rom(&image).expect("ROM loads");
    assert_eq!(m.run(400_000), StopReason::BudgetExhausted);
    assert!(m.cpu().paging(), "the kernel has paging on by now");
    let before = m.snapshot();
    let walk = m.nested_walk(0x0040_0000).expect("a nested walk");
    assert_eq!(walk.steps.len(), 8, "{walk:#?}");
    // the guest's walk gives guest-physical; the nested table moves it to its host frame
    let gpa = m.translate(0x0040_0000).physical;
    assert_eq!(
        walk.host_physical,
        gpa.map(emulator_core::vmm::p2m::host_of)
    );
    assert_eq!(walk.host_physical, m.host_physical(0x0040_0000));
    assert_ne!(walk.host_physical, gpa);
    let after = m.snapshot();
    assert_eq!(
        serde_json::to_string(&before).ok(),
        serde_json::to_string(&after).ok(),
        "a probe changes nothing"
    );
    assert!(machine(TRAP).nested_walk(0).is_none());
}

#[test]
fn the_page_walk_probe_sets_no_bits_and_fills_no_tlb_entry() {
    let image = rom("kernel/kernel");
    let mut m = machine(BARE);
    m.load_rom(&image).expect("ROM loads");
    assert_eq!(m.run(400_000), StopReason::BudgetExhausted);
    assert!(m.cpu().paging(), "the kernel has paging on by now");
    let before = m.snapshot();
    let tlb = m.tlb_entries();
    let mut mapped = 0;
    let mut untouched = 0;
    for linear in (0..0x0100_0000u32).step_by(0x1000) {
        let w = m.translate(linear);
        if w.physical.is_some() {
            mapped += 1;
            let mut b = [0u8; 4];
            m.peek_linear(linear, &mut b).expect("a mapped page reads");
        }
        if w.leaf().is_some_and(|s| s.present && !s.accessed) {
            untouched += 1;
        }
    }
    assert!(
        mapped > 100 && untouched > 10,
        "{mapped} mapped, {untouched} untouched"
    );
    assert_eq!(m.tlb_entries(), tlb, "a probe fills no TLB entry");
    assert_eq!(
        serde_json::to_string(&before).ok(),
        serde_json::to_string(&m.snapshot()).ok(),
        "a probe sets no accessed or dirty bit"
    );
}
