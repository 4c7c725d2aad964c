//! Randomly generated programs, assembled by nasm and by vmlab-asm, must be identical.
//!
//! Two generators with fixed seeds: instruction soup (every operand shape, with the
//! lines nasm rejects commented out until it accepts the file) and jump/label layouts
//! whose sizes depend on each other (forward references, label differences).

use std::path::{Path, PathBuf};
use std::process::Command;

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
    fn pick<'a>(&mut self, xs: &[&'a str]) -> &'a str {
        xs[self.below(xs.len())]
    }
}

fn tmp(name: &str) -> PathBuf {
    let d = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("random-vs-nasm");
    std::fs::create_dir_all(&d).expect("tmp dir");
    d.join(name)
}

/// Runs nasm; returns the output or the line numbers it rejected.
fn nasm(src: &Path) -> Result<Vec<u8>, Vec<usize>> {
    let out = src.with_extension("bin");
    let r = Command::new("nasm").arg("-f").arg("bin").arg("-o").arg(&out).arg(src).output().unwrap_or_else(|e| {
        panic!("cannot run nasm ({e}): these tests compare against NASM; install it (apt-get install nasm)")
    });
    if r.status.success() {
        return Ok(std::fs::read(&out).expect("nasm output"));
    }
    let name = src.file_name().and_then(|n| n.to_str()).unwrap_or("");
    let lines = String::from_utf8_lossy(&r.stderr)
        .lines()
        .filter_map(|l| l.split_once(&format!("{name}:")).map(|(_, rest)| rest))
        .filter(|rest| rest.contains(": error:"))
        .filter_map(|rest| rest.split(':').next()?.parse().ok())
        .collect();
    Err(lines)
}

/// Comments out what nasm rejects, then compares the two assemblers.
fn compare(tag: &str, mut lines: Vec<String>) -> Result<(), String> {
    let path = tmp(&format!("{tag}.asm"));
    let want = loop {
        std::fs::write(&path, lines.join("\n") + "\n").expect("write source");
        match nasm(&path) {
            Ok(b) => break b,
            Err(bad) if bad.is_empty() => {
                // nasm gave up on the whole file (labels that never settle): nothing to
                // compare, but vmlab-asm must still come back with an answer.
                let src = lines.join("\n") + "\n";
                let _ = vmlab_asm::assemble("t.asm", &src, &vmlab_asm::Options::default());
                return Ok(());
            }
            Err(mut bad) => {
                bad.sort_unstable();
                bad.dedup();
                for n in bad {
                    if let Some(l) = lines.get_mut(n - 1) {
                        if l.starts_with(';') {
                            return Err(format!("{tag}: nasm keeps rejecting line {n}"));
                        }
                        *l = match l.split_once(':') {
                            Some((label, _)) if !label.contains(' ') => format!("{label}:"),
                            _ => format!("; {l}"),
                        };
                    }
                }
            }
        }
    };
    let src = lines.join("\n") + "\n";
    let got = vmlab_asm::assemble(&format!("{tag}.asm"), &src, &vmlab_asm::Options::default())
        .map_err(|e| format!("{tag}: nasm accepts it but vmlab-asm does not:\n{e}"))?;
    if got.bytes == want {
        return Ok(());
    }
    let at = want
        .iter()
        .zip(&got.bytes)
        .position(|(a, b)| a != b)
        .unwrap_or(want.len().min(got.bytes.len()));
    let line = got
        .listing
        .iter()
        .rev()
        .find(|l| l.offset as usize <= at)
        .map(|l| l.line)
        .unwrap_or(0);
    Err(format!(
        "{tag} ({}): first difference at offset {at:#x}, line {line}: {}",
        path.display(),
        lines
            .get(line.saturating_sub(1) as usize)
            .map_or("", |s| s.as_str())
    ))
}

const MNEMONICS: &[&str] = &[
    "add",
    "or",
    "adc",
    "sbb",
    "and",
    "sub",
    "xor",
    "cmp",
    "mov",
    "test",
    "xchg",
    "inc",
    "dec",
    "neg",
    "not",
    "mul",
    "imul",
    "div",
    "idiv",
    "rol",
    "ror",
    "rcl",
    "rcr",
    "shl",
    "sal",
    "shr",
    "sar",
    "shld",
    "shrd",
    "bt",
    "bts",
    "btr",
    "btc",
    "bsf",
    "bsr",
    "movzx",
    "movsx",
    "push",
    "pop",
    "lea",
    "les",
    "lds",
    "lss",
    "lfs",
    "lgs",
    "bound",
    "arpl",
    "cmpxchg",
    "xadd",
    "bswap",
    "cmpxchg8b",
    "jmp",
    "call",
    "ret",
    "retf",
    "int",
    "in",
    "out",
    "enter",
    "leave",
    "lgdt",
    "lidt",
    "sgdt",
    "sidt",
    "lldt",
    "sldt",
    "ltr",
    "str",
    "smsw",
    "lmsw",
    "lar",
    "lsl",
    "verr",
    "verw",
    "invlpg",
    "setz",
    "setnz",
    "cmovz",
    "cmovl",
    "jz",
    "jnz",
    "jcxz",
    "jecxz",
    "loop",
    "loope",
    "loopne",
    "nop",
    "hlt",
    "xlatb",
    "movsb",
    "movsw",
    "movsd",
    "lodsd",
    "stosw",
    "cmpsb",
    "scasd",
    "insb",
    "outsd",
    "aam",
    "aad",
    "pusha",
    "popa",
    "pushf",
    "popf",
    "iret",
    "cbw",
    "cwde",
    "cwd",
    "cdq",
];
const REGS: &[&str] = &[
    "al", "cl", "dl", "bl", "ah", "bh", "ax", "cx", "dx", "bx", "sp", "bp", "si", "di", "eax",
    "ecx", "edx", "ebx", "esp", "ebp", "esi", "edi", "es", "cs", "ss", "ds", "fs", "gs", "cr0",
    "cr3", "dr7",
];
const BASES: &[&str] = &[
    "bx",
    "bp",
    "si",
    "di",
    "bx+si",
    "bp+di",
    "eax",
    "ebp",
    "esp",
    "ebx+ecx*2",
    "esi*4",
    "edi+eax",
    "",
    "ecx*8+ebp",
    "edx+esi",
];
const DISPS: &[&str] = &[
    "",
    "+1",
    "-1",
    "+0x7f",
    "+0x80",
    "-0x80",
    "-0x81",
    "+0x1234",
    "+0x12345678",
    "+lbl",
    "+lbl-lbl2",
    "+N",
    "+4+4",
];
const IMMS: &[&str] = &[
    "0",
    "1",
    "-1",
    "2",
    "0x7f",
    "0x80",
    "-0x80",
    "-0x81",
    "0xff",
    "0x100",
    "0x7fff",
    "0x8000",
    "0xffff",
    "0x10000",
    "0x7fffffff",
    "0x80000000",
    "0xffffffff",
    "lbl",
    "lbl2-lbl",
    "N",
    "N*200",
    "$-$$",
    "$+2",
];
const IMM_KW: &[&str] = &[
    "",
    "",
    "",
    "byte ",
    "word ",
    "dword ",
    "strict byte ",
    "strict dword ",
    "short ",
    "near ",
];
const MEM_KW: &[&str] = &["", "", "byte ", "word ", "dword ", "qword ", "far "];
const SEGS: &[&str] = &["", "", "", "es:", "cs:", "fs:", "ss:"];

fn operand(r: &mut Rng) -> String {
    match r.below(10) {
        0..=3 => r.pick(REGS).to_string(),
        4..=6 => {
            let base = r.pick(BASES);
            let disp = r.pick(DISPS);
            let inner = if base.is_empty() {
                disp.trim_start_matches('+').to_string()
            } else {
                format!("{base}{disp}")
            };
            let inner = if inner.is_empty() {
                "0x10".to_string()
            } else {
                inner
            };
            format!("{}[{}{}]", r.pick(MEM_KW), r.pick(SEGS), inner)
        }
        7 | 8 => format!("{}{}", r.pick(IMM_KW), r.pick(IMMS)),
        _ => r
            .pick(&["0x08:0x1234", "word 0x10:lbl", "dword 0x18:lbl2"])
            .to_string(),
    }
}

#[test]
fn random_instruction_forms_match_nasm() {
    let mut failures = Vec::new();
    for seed in 0..24u64 {
        let mut r = Rng(0x9E37_79B9_7F4A_7C15 ^ seed.wrapping_mul(0x1000_0000_01B3));
        let bits = if seed % 2 == 0 { 16 } else { 32 };
        let mut lines = vec![format!("bits {bits}"), "N equ 5".to_string()];
        for i in 0..250 {
            let n = [0, 1, 1, 2, 2, 2, 3][r.below(7)];
            let ops: Vec<String> = (0..n).map(|_| operand(&mut r)).collect();
            let prefix = r.pick(&["", "", "", "", "", "", "a16 ", "a32 ", "lock ", "rep "]);
            lines.push(format!("{prefix}{} {}", r.pick(MNEMONICS), ops.join(", ")));
            if i == 80 {
                lines.push("lbl:".to_string());
            }
            if i == 170 {
                lines.push("lbl2: nop".to_string());
            }
        }
        if let Err(e) = compare(&format!("insn{seed}"), lines) {
            failures.push(e);
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn random_jump_layouts_match_nasm() {
    let mut failures = Vec::new();
    for seed in 0..60u64 {
        let mut r = Rng(0xD1B5_4A32_D192_ED03 ^ seed.wrapping_mul(0x9E37_79B9));
        let bits = if seed % 2 == 0 { 16 } else { 32 };
        let nl = 3 + r.below(22);
        let mut lines = vec![format!("bits {bits}")];
        if seed % 3 == 0 {
            lines.push(format!(
                "org {:#x}",
                [0x7c00, 0x10_0000, 0xf_0000][r.below(3)]
            ));
        }
        for i in 0..10 + r.below(70) {
            let (k, j) = (r.below(nl), r.below(nl));
            lines.push(match r.below(11) {
                0 => format!("jmp L{k}"),
                1 => format!("jnz L{k}"),
                2 => format!("times {} nop", 1 + r.below(90)),
                3 => format!("add eax, L{k} - L{j}"),
                4 => format!("mov al, [ebx + L{k} - L{j}]"),
                5 => format!("push L{k} - L{j}"),
                6 if r.below(3) == 0 => format!("loop L{k}"),
                6 => format!("call L{k}"),
                7 => format!("cmp word [bx+L{k}-L{j}], L{j}-L{k}"),
                8 => format!("times (L{k}-L{j}) & 3 db 1"),
                9 => format!("mov byte [bp+L{k}-L{j}], 1"),
                _ => format!("L{}_{i}: nop", r.below(nl)),
            });
        }
        for k in 0..nl {
            let at = 1 + r.below(lines.len());
            lines.insert(at, format!("L{k}:"));
        }
        if let Err(e) = compare(&format!("layout{seed}"), lines) {
            failures.push(e);
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
