//! The translating tier against the general interpreter: every guest run with
//! translation on and off ends in the same machine state, serial output, POST writes
//! and instruction count, also in uneven slices; random instruction streams (a fuzz
//! harness) do too; and the passes shrink the IR as they claim.

mod common;
#[path = "../../bench/wasm/src/fuzz.rs"]
mod fuzz;

use emulator_core::translate::{ir::Op, translate_page};
use emulator_core::{ExecMode, FlatEntry, GuestPaging, Machine, MachineConfig, StopReason};

/// Runs a `load`ed machine in slices of `slices` (cycled) until a stop other than an
/// exhausted budget or `total` instructions; returns what it left and the instructions
/// retired in translated regions.
fn run(
    ram_mib: u32,
    mode: ExecMode,
    load: &dyn Fn(&mut Machine),
    slices: &[u64],
    total: u64,
    translate: Option<u32>,
) -> (common::Run, u64) {
    let mut m = Machine::new(MachineConfig {
        ram_mib,
        mode,
        ..MachineConfig::default()
    })
    .unwrap();
    m.set_fast_tier(false);
    m.set_translate(translate);
    load(&mut m);
    let stops = common::run_slices(&mut m, slices, total);
    let translated = m.translate_stats().instructions;
    (common::run_of(&m, stops), translated)
}

/// Runs with translation (threshold 2) and without; asserts both ended alike and that
/// regions retired at least `min_share` of the instructions.
fn same(
    what: &str,
    ram_mib: u32,
    mode: ExecMode,
    load: &dyn Fn(&mut Machine),
    slices: &[u64],
    total: u64,
    min_share: f64,
) -> common::Run {
    let (t, n) = run(ram_mib, mode, load, slices, total, Some(2));
    let (g, none) = run(ram_mib, mode, load, slices, total, None);
    assert_eq!(none, 0, "{what}: regions ran with translation off");
    assert!(
        n as f64 >= min_share * t.icount as f64,
        "{what}: regions retired {n} of {} instructions",
        t.icount
    );
    common::assert_same_run(what, &t, &g);
    t
}

fn rom(src: &str, defines: &[&str]) -> impl Fn(&mut Machine) {
    let image = common::assemble(src, defines);
    move |m: &mut Machine| m.load_rom(&image).unwrap()
}

#[test]
fn mix_benchmark_is_identical_with_and_without_translation() {
    for slices in [&[u64::MAX][..], &[1, 7, 1000, 3, 12345, 2][..]] {
        let t = same(
            "mix.asm",
            16,
            ExecMode::Bare,
            &rom("guests/bench/mix.asm", &["ITER=2"]),
            slices,
            u64::MAX,
            0.3,
        );
        assert_eq!(t.stops.last(), Some(&StopReason::Halted));
    }
}

#[test]
fn cpu_test_rom_is_identical_with_and_without_translation() {
    let t = same(
        "cputest.asm",
        8,
        ExecMode::Bare,
        &rom("guests/cputest/cputest.asm", &[]),
        &[u64::MAX],
        10_000_000,
        0.0,
    );
    assert!(
        t.serial.contains("cputest: all stages passed"),
        "{}",
        t.serial
    );
}

#[test]
fn teaching_kernel_bare_and_under_each_vmm_is_identical_with_and_without_translation() {
    for mode in [
        ExecMode::Bare,
        ExecMode::TRAP_EMULATE,
        ExecMode::HwAssist {
            paging: GuestPaging::Nested,
        },
        ExecMode::HwAssist {
            paging: GuestPaging::Shadow,
        },
    ] {
        let t = same(
            &format!("kernel.asm under {mode}"),
            16,
            mode,
            &rom("guests/kernel/kernel.asm", &[]),
            &[100_000, 77_777],
            20_000_000,
            0.0,
        );
        assert!(
            t.serial.contains("process B line 3 from ring 3"),
            "{mode}: {}",
            t.serial
        );
    }
}

#[test]
fn jcc_over_one_instruction_guest_is_identical_with_and_without_translation() {
    let image = common::assemble("emulator-core/tests/asm/skip.asm", &[]);
    let load = move |m: &mut Machine| {
        m.load_flat(0x1000, &image, FlatEntry::Protected32).unwrap();
    };
    // Slices of one to four instructions leave room only for the shortest regions.
    for (slices, share) in [(&[1u64, 2, 3, 4][..], 0.02), (&[u64::MAX][..], 0.1)] {
        same(
            "skip.asm",
            1,
            ExecMode::Bare,
            &load,
            slices,
            1_000_000,
            share,
        );
    }
}

/// The paging benchmark switches CR3 before each burst of page touches, so every touch
/// misses the TLB. Once a page's accessed and dirty bits are set, a region makes the
/// walk itself (it writes nothing) and goes on: regions retire most instructions, and
/// the run ends as the interpreter's, TLB included, also in uneven slices.
#[test]
fn regions_walk_clean_pages_on_a_tlb_miss_like_the_interpreter() {
    for slices in [&[u64::MAX][..], &[1, 7, 1000, 3, 12345, 2][..]] {
        let t = same(
            "paging.asm",
            16,
            ExecMode::Bare,
            &rom("guests/bench/paging.asm", &["ITER=50"]),
            slices,
            u64::MAX,
            0.85,
        );
        assert_eq!(t.stops.last(), Some(&StopReason::Halted));
    }
}

/// A loop that rewrites an immediate in its own body: the region holding it must be
/// dropped and translated again after each write.
#[test]
fn self_modifying_code_invalidates_its_region() {
    let mut c = vec![0xb9, 50, 0, 0, 0]; // mov ecx, 50
    let lp = 0x1000 + c.len() as u32;
    c.extend([0xb8, 0, 0, 0, 0]); // mov eax, 0   (imm32 rewritten)
    c.extend([0x01, 0xc3]); // add ebx, eax
    c.extend([0xff, 0x05]); // inc dword [lp+1]
    c.extend((lp + 1).to_le_bytes());
    c.push(0x49); // dec ecx
    let back = lp as i64 - (0x1000 + c.len() as i64 + 2);
    c.extend([0x75, back as i8 as u8]); // jnz loop
    c.push(0xf4); // hlt
    let load = move |m: &mut Machine| {
        m.load_flat(0x1000, &c, FlatEntry::Protected32).unwrap();
    };
    let t = same(
        "self-modifying loop",
        1,
        ExecMode::Bare,
        &load,
        &[u64::MAX],
        1_000_000,
        0.2,
    );
    assert_eq!(t.snapshot.cpu().gpr[3], 49 * 50 / 2);
    let mut m = Machine::new(MachineConfig {
        ram_mib: 1,
        ..MachineConfig::default()
    })
    .unwrap();
    m.set_fast_tier(false);
    m.set_translate(Some(1));
    load(&mut m);
    m.run(1_000_000);
    assert!(
        m.translate_stats().invalidated >= 40,
        "{:?}",
        m.translate_stats()
    );
}

/// Random instruction streams run with translation on and off; each ends in the same
/// state. `VMLAB_FUZZ_CASES` sets how many (default 40, a size that fits in CI).
#[test]
fn fuzz_random_streams_are_identical_with_and_without_translation() {
    let cases: u64 = std::env::var("VMLAB_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(40);
    let mut translated = 0;
    for case in 0..cases {
        let src = fuzz::program(case);
        let image = asm(&src);
        let load = move |m: &mut Machine| {
            m.load_flat(0x1000, &image, FlatEntry::Protected32).unwrap();
        };
        let (t, n) = run(1, ExecMode::Bare, &load, &[u64::MAX], 200_000, Some(1));
        let (g, _) = run(1, ExecMode::Bare, &load, &[u64::MAX], 200_000, None);
        translated += n;
        assert_eq!(t.icount, g.icount, "case {case}: instruction count\n{src}");
        assert_eq!(
            t.snapshot.cpu(),
            g.snapshot.cpu(),
            "case {case}: CPU\n{src}"
        );
        assert!(t.snapshot == g.snapshot, "case {case}: snapshot\n{src}");
    }
    assert!(
        translated > cases * 100,
        "regions retired only {translated}"
    );
}

/// Assembles a source text with vmlab-asm.
fn asm(src: &str) -> Vec<u8> {
    match vmlab_asm::assemble("case.asm", src, &vmlab_asm::Options::default()) {
        Ok(out) => out.bytes,
        Err(e) => panic!("vmlab-asm failed:\n{e}\n{src}"),
    }
}

/// Assembles 32-bit code at 0x1000 into a page image.
fn page_of(src: &str) -> Vec<u8> {
    let mut page = vec![0u8; 4096];
    let code = asm(&format!("bits 32\norg 0x1000\n{src}"));
    page[..code.len()].copy_from_slice(&code);
    page
}

#[test]
fn dead_flags_and_register_forwarding_shrink_the_ir() {
    let page = page_of(
        "top: add eax, ebx\nsub eax, 3\nxor ecx, ecx\nadd ecx, eax\nmov edx, ecx\ncmp edx, 7\njne top\nhlt",
    );
    let (before, after) = translate_page(&page, 0x1000).unwrap();
    let count = |r: &emulator_core::translate::ir::Region, f: fn(&Op) -> bool| {
        r.ops.iter().filter(|o| f(o)).count()
    };
    let flags = |o: &Op| matches!(o, Op::Flags { .. });
    let gets = |o: &Op| matches!(o, Op::Get { .. });
    let sets = |o: &Op| matches!(o, Op::Set { .. });
    // Five flag writes lowered; only the CMP's is read (by the JNE and at the exits).
    assert_eq!(count(&before, flags), 5, "{before}");
    assert_eq!(count(&after, flags), 1, "{after}");
    // EAX, EBX read once each; ECX's XOR folds to 0, so ECX = EAX.
    assert_eq!(count(&after, gets), 2, "{after}");
    assert!(count(&after, sets) <= 3, "{after}");
    assert_eq!(before.instructions(), 7);
    assert_eq!(after.instructions(), 7);
    let text = after.to_string();
    assert!(text.contains("flags = sub.32"), "{text}");
    assert!(text.contains("exit.if"), "{text}");
}

#[test]
fn constant_branches_fold_into_the_region_exit() {
    let page = page_of("mov eax, 5\ncmp eax, 5\nje there\nmov ebx, 1\nthere: hlt");
    let (_, after) = translate_page(&page, 0x1000).unwrap();
    // CMP of two constants: the JE is always taken, the region ends there.
    assert!(
        !after.ops.iter().any(|o| matches!(o, Op::ExitIf { .. })),
        "{after}"
    );
    assert_eq!(after.instructions(), 3, "{after}");
}

/// Every region the mix guest translates encodes to a module that a Wasm validator
/// accepts, with the imports and the export the hosts bind.
#[test]
fn every_region_of_the_mix_guest_encodes_to_a_valid_wasm_module() {
    let image = common::assemble("guests/bench/mix.asm", &["ITER=1"]);
    let mut m = Machine::new(MachineConfig {
        ram_mib: 16,
        ..MachineConfig::default()
    })
    .unwrap();
    m.set_fast_tier(false);
    m.set_translate(Some(2));
    m.load_rom(&image).unwrap();
    m.run(2_000_000);
    let regions = m.translated_regions();
    assert!(regions.len() >= 3, "{} regions", regions.len());
    for r in &regions {
        let bytes = emulator_core::translate::wasm::encode(&r.after);
        let mut v = wasmparser::Validator::new();
        if let Err(e) = v.validate_all(&bytes) {
            panic!("region {:#x}: {e}\n{}", r.entry, r.after);
        }
        let mut imports = Vec::new();
        let mut exports = Vec::new();
        for payload in wasmparser::Parser::new(0).parse_all(&bytes) {
            match payload.unwrap() {
                wasmparser::Payload::ImportSection(s) => {
                    for i in s.into_imports() {
                        let i = i.unwrap();
                        imports.push(format!("{}.{}", i.module, i.name));
                    }
                }
                wasmparser::Payload::ExportSection(s) => {
                    for e in s {
                        exports.push(e.unwrap().name.to_string());
                    }
                }
                _ => {}
            }
        }
        assert_eq!(
            imports,
            [
                "env.memory",
                "env.table",
                "vmlab.flags",
                "vmlab.cond",
                "vmlab.load",
                "vmlab.store"
            ]
        );
        assert_eq!(exports, ["run"]);
    }
}

/// The bitwise CRC's inner loop (a backward branch to an instruction inside the region,
/// with a forward branch in its body) becomes a loop inside the region; the outer loop,
/// which holds it, stays an exit. Runs in uneven slices end as the interpreter's.
#[test]
fn inner_loop_goes_round_inside_its_region_like_the_interpreter() {
    let src = "mov esi, data\nmov ecx, 16\nmov edx, 0xffffffff\n\
               next: movzx eax, byte [esi]\nxor edx, eax\nmov ebx, 8\n\
               bits8: shr edx, 1\njnc nox\nxor edx, 0xEDB88320\nnox: dec ebx\njnz bits8\n\
               inc esi\ndec ecx\njnz next\nnot edx\nmov [result], edx\nhlt\n\
               align 4\nresult: dd 0\ndata: dd 0x12345678, 0x9abcdef0, 0xff00ff00, 0x00000001\n";
    let page = page_of(src);
    let (before, after) = translate_page(&page, 0x1000).unwrap();
    let loops = |r: &emulator_core::translate::ir::Region| {
        r.ops
            .iter()
            .filter(|o| matches!(o, Op::LoopIf { .. }))
            .count()
    };
    assert_eq!(loops(&before), 1, "{before}");
    assert_eq!(loops(&after), 1, "{after}");
    assert!(after.to_string().contains("loop.if"), "{after}");
    let image = asm(&format!("bits 32\norg 0x1000\n{src}"));
    // The result word and the 16 data bytes end the image.
    let data = image[image.len() - 16..].to_vec();
    let result = 0x1000 + image.len() - 20;
    let mut crc = u32::MAX;
    for b in data {
        crc ^= b as u32;
        for _ in 0..8 {
            crc = (crc >> 1) ^ if crc & 1 != 0 { 0xEDB8_8320 } else { 0 };
        }
    }
    let load = move |m: &mut Machine| {
        m.load_flat(0x1000, &image, FlatEntry::Protected32).unwrap();
    };
    for (slices, share) in [
        (&[1u64, 2, 3, 5, 7, 11, 40][..], 0.1),
        (&[u64::MAX][..], 0.5),
    ] {
        let run = same("crc loop", 1, ExecMode::Bare, &load, slices, 100_000, share);
        assert!(run.icount > 16 * 8 * 5, "ran {} instructions", run.icount);
        let ram = run.snapshot.ram();
        let word = ram
            .get(result..result + 4)
            .expect("the result word is in RAM");
        assert_eq!(u32::from_le_bytes(word.try_into().unwrap()), !crc);
    }
}

/// The CRC's branch over one XOR (a result-only flags record) runs as selects in Wasm;
/// a branch over an instruction that can leave the region (a load) or records
/// arithmetic flags (INC) stays a branch. Every module validates.
#[test]
fn short_branches_over_register_operations_run_as_selects() {
    use emulator_core::translate::ifconv::{convertible, Skip};
    let cases = [
        (
            "shr edx, 1\njnc nox\nxor edx, 0xEDB88320\nnox: dec ebx\nhlt",
            Some(Skip {
                regs: 1 << 2,
                flags: true,
            }),
        ),
        (
            "cmp eax, ecx\njb skip\nmov eax, ecx\nlea esi, [esi+4]\nskip: add ebx, 1\nhlt",
            Some(Skip {
                regs: 1 | 1 << 6,
                flags: false,
            }),
        ),
        (
            "cmp eax, ecx\njb skip\nmov eax, [esi]\nskip: add ebx, 1\nhlt",
            None,
        ),
        (
            "cmp eax, ecx\njb skip\ninc edx\nskip: add ebx, 1\nhlt",
            None,
        ),
    ];
    for (src, want) in cases {
        let page = page_of(src);
        let (_, after) = translate_page(&page, 0x1000).unwrap();
        let got: Vec<Skip> = convertible(&after.ops).into_values().collect();
        assert_eq!(got, want.into_iter().collect::<Vec<_>>(), "{src}\n{after}");
        let bytes = emulator_core::translate::wasm::encode(&after);
        wasmparser::Validator::new()
            .validate_all(&bytes)
            .unwrap_or_else(|e| panic!("{src}: {e}\n{after}"));
        // `select` is opcode 0x1b; the modules without a convertible branch have none.
        let selects = wasmparser::Parser::new(0)
            .parse_all(&bytes)
            .filter_map(Result::ok)
            .filter_map(|p| match p {
                wasmparser::Payload::CodeSectionEntry(body) => Some(body),
                _ => None,
            })
            .flat_map(|body| {
                let mut ops = body.get_operators_reader().unwrap();
                let mut n = 0;
                while !ops.eof() {
                    if matches!(ops.read(), Ok(wasmparser::Operator::Select)) {
                        n += 1;
                    }
                }
                Some(n)
            })
            .sum::<usize>();
        assert_eq!(selects > 0, want.is_some(), "{src}: {selects} selects");
    }
}

/// ROL and ROR by one and by a count stay inside their region (three ALU operations and
/// a flags record that sets CF and OF and keeps SF, ZF, AF and PF); branches on the
/// kept flags and on the rotate's own go as in the interpreter.
#[test]
fn rotates_stay_in_their_region_and_keep_the_flags_they_do_not_set() {
    let src = "mov ecx, 40\nmov esi, 0x12345678\nxor ebx, ebx\n\
               top: add esi, ecx\nrol esi, 1\njs neg\ninc ebx\nneg: ror esi, 7\njc carry\n\
               add ebx, 3\ncarry: rol esi, 31\njo over\nsub ebx, 1\nover: cmp esi, 0\n\
               ror esi, 16\njz zero\nadd ebx, esi\nzero: dec ecx\njnz top\n\
               mov [result], ebx\nhlt\nalign 4\nresult: dd 0\n";
    let page = page_of(src);
    let (before, after) = translate_page(&page, 0x1000).unwrap();
    let text = before.to_string();
    assert!(text.contains("rol") && text.contains("ror"), "{text}");
    assert!(
        after.ops.iter().any(|o| matches!(o, Op::LoopIf { .. })),
        "the loop, rotates included, is one region:\n{after}"
    );
    let image = asm(&format!("bits 32\norg 0x1000\n{src}"));
    let load = move |m: &mut Machine| {
        m.load_flat(0x1000, &image, FlatEntry::Protected32).unwrap();
    };
    for slices in [&[1u64, 2, 3, 5, 7, 11, 40][..], &[u64::MAX][..]] {
        let run = same("rotates", 1, ExecMode::Bare, &load, slices, 100_000, 0.5);
        assert_eq!(run.stops.last(), Some(&StopReason::Halted));
    }
}
