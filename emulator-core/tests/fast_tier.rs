//! The pre-decoded fast tier against the general interpreter: the same guests run with
//! the tier on and off must end in the same machine state (registers, memory, devices,
//! TLB), with the same serial output, POST writes and instruction count, also when the
//! runs are cut into uneven time slices.

mod common;

use emulator_core::{ExecMode, FlatEntry, GuestPaging, Machine, MachineConfig, StopReason};

/// What a run leaves, and the instructions the fast tier retired in it.
#[derive(PartialEq, Debug)]
struct Outcome {
    run: common::Run,
    fast: u64,
}

impl std::ops::Deref for Outcome {
    type Target = common::Run;
    fn deref(&self) -> &common::Run {
        &self.run
    }
}

/// Runs `load`ed machines with the tier on and off, in slices of `slices` instructions
/// (cycled) until a stop other than an exhausted budget or `total` instructions.
fn run_both(
    ram_mib: u32,
    mode: ExecMode,
    load: &dyn Fn(&mut Machine),
    slices: &[u64],
    total: u64,
) -> (Outcome, Outcome) {
    let run = |fast: bool| {
        let mut m = Machine::new(MachineConfig {
            ram_mib,
            mode,
            ..MachineConfig::default()
        })
        .unwrap();
        m.set_fast_tier(fast);
        load(&mut m);
        let stops = common::run_slices(&mut m, slices, total);
        Outcome {
            run: common::run_of(&m, stops),
            fast: m.counters().fast_instructions,
        }
    };
    (run(true), run(false))
}

/// Asserts that both runs ended alike, that the general run retired nothing in the fast
/// tier, and that the fast tier retired at least `min_fast_share` of the fast run's
/// instructions (a differential test of a tier that never runs proves nothing).
fn assert_same(what: &str, fast: &Outcome, general: &Outcome, min_fast_share: f64) {
    assert_eq!(general.fast, 0, "{what}: the fast tier ran while off");
    assert!(
        fast.fast as f64 >= min_fast_share * fast.icount as f64,
        "{what}: the fast tier retired {} of {} instructions, under {:.0}%",
        fast.fast,
        fast.icount,
        min_fast_share * 100.0
    );
    common::assert_same_run(what, fast, general);
}

fn rom(src: &str, defines: &[&str]) -> impl Fn(&mut Machine) {
    let image = common::assemble(src, defines);
    move |m: &mut Machine| m.load_rom(&image).unwrap()
}

#[test]
fn mix_benchmark_is_identical_with_and_without_the_fast_tier() {
    let (f, g) = run_both(
        16,
        ExecMode::Bare,
        &rom("guests/bench/mix.asm", &["ITER=10"]),
        &[u64::MAX],
        u64::MAX,
    );
    assert_eq!(f.serial, "f46fd717\n");
    assert_same("mix.asm", &f, &g, 0.99);
    assert_eq!(f.stops.last(), Some(&StopReason::Halted));
}

#[test]
fn mix_benchmark_in_uneven_slices_is_identical() {
    let (f, g) = run_both(
        16,
        ExecMode::Bare,
        &rom("guests/bench/mix.asm", &["ITER=1"]),
        &[1, 7, 1000, 3, 12345, 2],
        u64::MAX,
    );
    assert_same("mix.asm in slices", &f, &g, 0.99);
    assert_eq!(f.stops.last(), Some(&StopReason::Halted));
}

#[test]
fn cpu_test_rom_is_identical_with_and_without_the_fast_tier() {
    let (f, g) = run_both(
        8,
        ExecMode::Bare,
        &rom("guests/cputest/cputest.asm", &[]),
        &[u64::MAX],
        10_000_000,
    );
    assert!(
        f.serial.contains("cputest: all stages passed"),
        "{}",
        f.serial
    );
    // The CPU test ROM runs in real mode or with changing segments, where the tier
    // stays off; it checks that the tier does not take over where it must not.
    assert_same("cputest.asm", &f, &g, 0.0);
}

#[test]
fn teaching_kernel_is_identical_with_and_without_the_fast_tier() {
    let (f, g) = run_both(
        16,
        ExecMode::Bare,
        &rom("guests/kernel/kernel.asm", &[]),
        &[100_000, 77_777],
        50_000_000,
    );
    assert!(
        f.serial.contains("process B line 3 from ring 3"),
        "{}",
        f.serial
    );
    assert_same("kernel.asm", &f, &g, 0.95);
}

/// Flat 32-bit code that rewrites an immediate in its own loop body (self-modifying
/// code on the page the fast tier is running from) and stores through a stack on the
/// same page.
#[test]
fn self_modifying_code_is_seen_by_the_fast_tier() {
    // 0x1000: mov ecx, 50
    // loop:   mov eax, 0           ; imm32 at loop+1 is rewritten below
    //         add ebx, eax
    //         inc dword [loop+1]   ; next pass loads one more
    //         dec ecx
    //         jnz loop
    //         hlt
    let code: Vec<u8> = {
        let mut c = vec![0xb9, 50, 0, 0, 0]; // mov ecx, 50
        let lp = 0x1000 + c.len() as u32;
        c.extend([0xb8, 0, 0, 0, 0]); // mov eax, 0
        c.extend([0x01, 0xc3]); // add ebx, eax
        c.extend([0xff, 0x05]); // inc dword [disp32]
        c.extend((lp + 1).to_le_bytes());
        c.push(0x49); // dec ecx
        let back = lp as i64 - (0x1000 + c.len() as i64 + 2);
        c.extend([0x75, back as i8 as u8]); // jnz loop
        c.push(0xf4); // hlt
        c
    };
    let load = move |m: &mut Machine| {
        m.load_flat(0x1000, &code, FlatEntry::Protected32).unwrap();
    };
    let (f, g) = run_both(1, ExecMode::Bare, &load, &[u64::MAX], 1_000_000);
    assert_same("self-modifying loop", &f, &g, 0.75);
    // EBX = 0 + 1 + ... + 49.
    assert_eq!(f.snapshot.cpu().gpr[3], 49 * 50 / 2);
}

#[test]
fn teaching_kernel_under_each_vmm_is_identical_with_and_without_the_fast_tier() {
    for mode in [
        ExecMode::TRAP_EMULATE,
        ExecMode::HwAssist {
            paging: GuestPaging::Nested,
        },
        ExecMode::HwAssist {
            paging: GuestPaging::Shadow,
        },
    ] {
        let (f, g) = run_both(
            16,
            mode,
            &rom("guests/kernel/kernel.asm", &[]),
            &[100_000, 77_777],
            50_000_000,
        );
        assert!(
            f.serial.contains("process B line 3 from ring 3"),
            "{mode}: {}",
            f.serial
        );
        assert_same(&format!("kernel.asm under {mode}"), &f, &g, 0.95);
    }
}

/// Flag-setting instructions followed by a Jcc are fused into one operation. Two loops
/// check the edges: one whose `dec ecx; jnz` ends on the last byte of a page (fused),
/// one whose `jnz` straddles the page boundary (not fused; its first byte is the last
/// of the page). A third loop crosses pages with every relative branch: a CALL and a
/// fused JNZ back to an earlier page, a RET and a JMP forward to a later one. All run
/// in one-, two- and three-instruction slices, so a pair meets the end of the budget at
/// every position.
#[test]
fn fused_compare_and_branch_at_page_edges_is_identical() {
    const BASE: u32 = 0x1000;
    let mut code = vec![0xccu8; 0x2013];
    let mut put = |at: u32, bytes: &[u8]| {
        let o = (at - BASE) as usize;
        code[o..o + bytes.len()].copy_from_slice(bytes);
    };
    let rel32 = |from_next: u32, to: u32| to.wrapping_sub(from_next).to_le_bytes();
    // 0x1000: mov ecx, 200; xor ebx, ebx; jmp 0x1ffb
    put(0x1000, &[0xb9, 200, 0, 0, 0, 0x31, 0xdb, 0xe9]);
    put(0x1008, &rel32(0x100c, 0x1ffb));
    // 0x1ffb: add ebx, ecx; dec ecx; jnz 0x1ffb   (the jnz ends at 0x1fff)
    put(0x1ffb, &[0x01, 0xcb, 0x49, 0x75, 0xfb]);
    // 0x2000: mov ecx, 100; jmp 0x2ffc
    put(0x2000, &[0xb9, 100, 0, 0, 0, 0xe9]);
    put(0x2006, &rel32(0x200a, 0x2ffc));
    // 0x2ffc: add ebx, ecx; dec ecx; jnz 0x2ffc   (the jnz is 0x2fff..0x3000)
    put(0x2ffc, &[0x01, 0xcb, 0x49, 0x75, 0xfb]);
    // 0x3001: mov edx, 3
    put(0x3001, &[0xba, 3, 0, 0, 0]);
    // 0x3006: call 0x1100
    put(0x3006, &[0xe8]);
    put(0x3007, &rel32(0x300b, 0x1100));
    // 0x300b: dec edx; jnz near 0x1ff0; hlt
    put(0x300b, &[0x4a, 0x0f, 0x85]);
    put(0x300e, &rel32(0x3012, 0x1ff0));
    put(0x3012, &[0xf4]);
    // 0x1100: inc ebx; ret
    put(0x1100, &[0x43, 0xc3]);
    // 0x1ff0: jmp 0x3006
    put(0x1ff0, &[0xe9]);
    put(0x1ff1, &rel32(0x1ff5, 0x3006));
    let load = move |m: &mut Machine| {
        m.load_flat(BASE, &code, FlatEntry::Protected32).unwrap();
    };
    for slices in [&[1u64, 2, 3][..], &[u64::MAX][..]] {
        let (f, g) = run_both(1, ExecMode::Bare, &load, slices, 1_000_000);
        assert_same(
            &format!("page-edge loops in slices {slices:?}"),
            &f,
            &g,
            0.55,
        );
        assert_eq!(f.stops.last(), Some(&StopReason::Halted));
        // EBX = (1 + ... + 200) + (1 + ... + 100) + one per call.
        assert_eq!(f.snapshot.cpu().gpr[3], 20_100 + 5_050 + 3);
        assert_eq!(f.icount, 3 + 3 * 200 + 2 + 3 * 100 + 1 + 3 * 5 + 2 + 1);
    }
}

/// A Jcc that jumps over one register-only instruction is run without a branch on the
/// condition: the instruction runs and is undone when the Jcc is taken. The guest takes
/// each such Jcc at random, over every kind of skipped instruction (and over a store,
/// which takes the ordinary path), in slices that end the budget at every position.
#[test]
fn jcc_over_one_instruction_is_identical() {
    let image = common::assemble("emulator-core/tests/asm/skip.asm", &[]);
    let load = move |m: &mut Machine| {
        m.load_flat(0x1000, &image, FlatEntry::Protected32).unwrap();
    };
    for slices in [&[1u64, 2, 3, 4][..], &[2, 3][..], &[u64::MAX][..]] {
        let (f, g) = run_both(1, ExecMode::Bare, &load, slices, 1_000_000);
        assert_same(&format!("skip.asm in slices {slices:?}"), &f, &g, 0.6);
        assert_eq!(f.stops.last(), Some(&StopReason::Halted));
        assert!(
            f.icount > 500 * 30,
            "the loop ran: {} instructions",
            f.icount
        );
    }
}
