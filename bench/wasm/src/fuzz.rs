//! Random instruction streams for the translating tier's differential runs: loops of
//! ALU, move, shift and rotate, stack, branch and memory forms over flat 32-bit code, the same
//! programs natively (`emulator-core/tests/translate.rs`, regions through the IR
//! interpreter) and under Node.js (`fuzz.mjs`, regions compiled to Wasm).

/// A small deterministic generator (xorshift).
#[derive(Debug)]
pub struct Rng(pub u64);
impl Rng {
    /// The next 32-bit value.
    pub fn draw(&mut self) -> u32 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 >> 16) as u32
    }
    /// One of `xs`.
    pub fn pick<'a>(&mut self, xs: &[&'a str]) -> &'a str {
        xs[self.draw() as usize % xs.len()]
    }
}

/// A random loop body of `n` instructions over EAX, ECX, EDX, ESI, EDI, EBP, with
/// memory through EBX (the data area), forward conditional jumps (some over a logic
/// instruction after a shift) and short counted loops (a backward jump inside the
/// region).
pub fn random_body(rng: &mut Rng, n: usize) -> String {
    let regs = ["eax", "ecx", "edx", "esi", "edi", "ebp"];
    let alu = [
        "add", "adc", "sub", "sbb", "and", "or", "xor", "cmp", "test",
    ];
    let shifts = ["shl", "shr", "sar", "rol", "ror"];
    let conds = [
        "jo", "jno", "jb", "jae", "je", "jne", "jbe", "ja", "js", "jns", "jp", "jnp", "jl", "jge",
        "jle", "jg",
    ];
    let mut s = String::new();
    for i in 0..n {
        let r = rng.pick(&regs);
        let q = rng.pick(&regs);
        let imm = match rng.draw() % 4 {
            0 => 0,
            1 => 1,
            2 => 0xffff_ffff,
            _ => rng.draw(),
        };
        let disp = (rng.draw() % 64) * 4;
        let line = match rng.draw() % 24 {
            0 => format!("mov {r}, {q}"),
            1 => format!("mov {r}, {imm:#x}"),
            2 => format!("{} {r}, {q}", rng.pick(&alu)),
            3 => format!("{} {r}, {imm:#x}", rng.pick(&alu)),
            4 => format!("{} {r}, [ebx + {disp}]", rng.pick(&alu)),
            5 => format!("{} [ebx + {disp}], {r}", rng.pick(&alu)),
            6 => format!("{} {r}", rng.pick(&["inc", "dec", "neg", "not"])),
            7 => format!("{} {r}, {}", rng.pick(&shifts), rng.draw() % 33),
            8 => format!("lea {r}, [{q} + {r}*{} + {disp}]", 1 << (rng.draw() % 4)),
            9 => format!("mov {r}, [ebx + {disp}]"),
            10 => format!("mov [ebx + {disp}], {r}"),
            11 => format!("push {r}\npop {q}"),
            12 => format!("{} skip{i}\nmov {r}, {imm:#x}\nskip{i}:", rng.pick(&conds)),
            13 => format!("call fn{i}\njmp over{i}\nfn{i}: add {r}, {q}\nret\nover{i}:"),
            // Outside the translated subset: regions end before them.
            14 => format!("mov {}, [ebx + {disp}]", rng.pick(&["al", "bh", "cx"])),
            15 => format!("imul {r}, {q}"),
            16 => format!("imul {r}, [ebx + {disp}], {imm:#x}"),
            17 => format!(
                "{} {r}, {} [ebx + {disp}]",
                rng.pick(&["movzx", "movsx"]),
                rng.pick(&["byte", "word"])
            ),
            18 => format!(
                "{} {} [ebx + {}], {}",
                rng.pick(&alu),
                rng.pick(&["byte", "word"]),
                disp + rng.draw() % 3,
                rng.draw() % 256
            ),
            19 => format!(
                "mov {} [ebx + {}], {}",
                rng.pick(&["byte", "word"]),
                disp + rng.draw() % 3,
                rng.draw() % 256
            ),
            20 => format!("imul {r}, {q}, {imm:#x}"),
            21 => format!(
                "mov dword [ebx + {disp}], {}\nloop{i}: {} {r}, {q}\ndec dword [ebx + {disp}]\n\
                 jnz loop{i}",
                1 + rng.draw() % 5,
                rng.pick(&alu)
            ),
            // A branch over a logic instruction after a shift (the CRC's pattern), which
            // the Wasm backend runs as selects, then a flag reader.
            22 => format!(
                "{} {r}, {}\n{} skip{i}\n{} {r}, {imm:#x}\nskip{i}:\n{} {q}, {r}",
                rng.pick(&shifts),
                1 + rng.draw() % 31,
                rng.pick(&conds),
                rng.pick(&["xor", "and", "or"]),
                rng.pick(&["adc", "sbb", "add"])
            ),
            _ => format!(
                "{} {r}, {}\n{} skip{i}\ninc {q}\nskip{i}:",
                rng.pick(&["cmp", "test", "sub"]),
                rng.pick(&regs),
                rng.pick(&conds)
            ),
        };
        s.push_str(&line);
        s.push('\n');
    }
    s
}

/// The whole program of fuzz case `case`: a loop of 20 passes over a random body of 24
/// instructions, at 0x1000, ending in HLT.
pub fn program(case: u64) -> String {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15 ^ (case + 1).wrapping_mul(0x2545_f491));
    let body = random_body(&mut rng, 24);
    format!(
        "bits 32\norg 0x1000\nmov ebx, data\nmov dword [count], 20\ntop:\n{body}\
         dec dword [count]\njnz top\nhlt\nalign 4\ncount: dd 0\ndata: times 80 dd 0x{:08x}\n",
        rng.draw()
    )
}
