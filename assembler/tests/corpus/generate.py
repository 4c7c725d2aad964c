#!/usr/bin/env python3
"""Writes the generated part of the assembler corpus (gen16_*.asm, gen32_*.asm).

Each file enumerates instruction forms of one family in 16- or 32-bit code; the
corpus test assembles them with nasm and vmlab-asm and compares the bytes.
Run from this directory: python3 generate.py
"""

R8 = ["al", "cl", "dl", "bl", "ah", "ch", "dh", "bh"]
R16 = ["ax", "cx", "dx", "bx", "sp", "bp", "si", "di"]
R32 = ["eax", "ecx", "edx", "ebx", "esp", "ebp", "esi", "edi"]
SREG = ["es", "cs", "ss", "ds", "fs", "gs"]
M16 = ["[bx]", "[bp]", "[si]", "[di]", "[bx+si]", "[bx+di]", "[bp+si]", "[bp+di]", "[bx+si+5]", "[bp+di-3]",
       "[bx+0x1234]", "[0x1234]", "[bp-2]", "[si+127]", "[di+128]", "[es:bx]", "ss:[si+4]"]
M32 = ["[eax]", "[ebp]", "[esp]", "[esp+4]", "[ebx+ecx*4+8]", "[0x12345678]", "[ebp+esi*2-0x80]", "[eax*8]",
       "[ecx*2]", "[edx+0x100]", "[esi+edi]", "[edi*4+0x10]", "[eax+eax*2]", "[ecx*3]", "[ebx-129]",
       "[fs:eax+4]", "gs:[ebx]", "[esp+ebp*1]", "[ebp*1]", "[eax+esp]"]
IMMS = ["0", "1", "5", "-1", "127", "128", "-128", "-129", "0x7fff", "0x1234", "255", "0xffff", "0x12345678", "-0x80000000"]
SZ = {8: "byte", 16: "word", 32: "dword"}


def regs(bits):
    return {8: R8, 16: R16, 32: R32}[bits]


def mems(mode):
    # both address sizes appear in both modes
    return (M16 + M32[:8]) if mode == 16 else (M32 + M16[:6])


def fits(v, bits):
    n = int(v, 0)
    return -(1 << (bits - 1)) <= n < (1 << bits)


def alu(mode):
    out = []
    for op in ["add", "or", "adc", "sbb", "and", "sub", "xor", "cmp", "mov"]:
        for b in (8, 16, 32):
            rs = regs(b)
            for a in rs[:4] + rs[6:]:
                for c in (rs[0], rs[3], rs[7]):
                    out.append(f"{op} {a}, {c}")
            for m in mems(mode)[::2]:
                out.append(f"{op} {rs[1]}, {m}")
                out.append(f"{op} {m}, {rs[2]}")
                out.append(f"{op} {SZ[b]} {m}, 3")
            for i in IMMS:
                if fits(i, b):
                    out.append(f"{op} {rs[0]}, {i}")
                    out.append(f"{op} {rs[3]}, {i}")
                    out.append(f"{op} {SZ[b]} {mems(mode)[5]}, {i}")
            out.append(f"{op} {rs[0]}, strict {SZ[b]} 5")
            if b > 8 and op != "mov":
                out.append(f"{op} {rs[1]}, byte 7")
                out.append(f"{op} {rs[1]}, byte -7")
                out.append(f"{op} {rs[1]}, {SZ[b]} 7")
    return out


def mov_special(mode):
    out = []
    for s in SREG:
        out += [f"mov ax, {s}", f"mov eax, {s}", f"mov [bx], {s}", f"mov [eax], {s}", f"mov word [si], {s}"]
        if s != "cs":
            out += [f"mov {s}, ax", f"mov {s}, eax", f"mov {s}, [bx]", f"mov {s}, word [ecx]"]
    for cr in ["cr0", "cr2", "cr3", "cr4"]:
        out += [f"mov eax, {cr}", f"mov {cr}, ebx", f"mov edi, {cr}"]
    for dr in ["dr0", "dr1", "dr2", "dr3", "dr6", "dr7"]:
        out += [f"mov ecx, {dr}", f"mov {dr}, edx"]
    for tr in ["tr3", "tr4", "tr5", "tr6", "tr7"]:
        out += [f"mov eax, {tr}", f"mov {tr}, esi"]
    for r in ["al", "ax", "eax"]:
        out += [f"mov {r}, [0x1234]", f"mov [0x1234], {r}", f"mov {r}, [es:0x10]", f"mov [fs:0x20], {r}"]
    for i in IMMS:
        out += [f"mov cl, {i}" if fits(i, 8) else "nop", f"mov dx, {i}" if fits(i, 16) else "nop", f"mov esi, {i}"]
    out += ["mov eax, strict dword 1", "mov byte [bx], 1", "mov word [ebx], 0x1234", "mov dword [esp+4], 0x12345678"]
    return out


def test_xchg(mode):
    out = []
    for b in (8, 16, 32):
        rs = regs(b)
        for a in rs[:4]:
            for c in rs[:4]:
                out += [f"test {a}, {c}", f"xchg {a}, {c}"]
        for m in mems(mode)[:6]:
            out += [f"test {m}, {rs[1]}", f"test {rs[2]}, {m}", f"xchg {m}, {rs[3]}", f"xchg {rs[5]}, {m}",
                    f"test {SZ[b]} {m}, 0x11"]
        for i in ["1", "0x7f", "0x80", "-1"]:
            out += [f"test {rs[0]}, {i}", f"test {rs[1]}, {i}"]
    return out


def unary(mode):
    out = []
    for op in ["inc", "dec", "neg", "not", "mul", "imul", "div", "idiv"]:
        for b in (8, 16, 32):
            for r in regs(b):
                out.append(f"{op} {r}")
            for m in mems(mode)[:: 3]:
                out.append(f"{op} {SZ[b]} {m}")
    return out


def shifts(mode):
    out = []
    for op in ["rol", "ror", "rcl", "rcr", "shl", "sal", "shr", "sar"]:
        for b in (8, 16, 32):
            rs = regs(b)
            for r in (rs[0], rs[3], rs[6]):
                out += [f"{op} {r}, 1", f"{op} {r}, cl", f"{op} {r}, 4", f"{op} {r}, 0"]
            for m in mems(mode)[:4]:
                out += [f"{op} {SZ[b]} {m}, 1", f"{op} {SZ[b]} {m}, cl", f"{op} {SZ[b]} {m}, 7"]
    for op in ["shld", "shrd"]:
        for b in (16, 32):
            rs = regs(b)
            out += [f"{op} {rs[0]}, {rs[3]}, 5", f"{op} {rs[1]}, {rs[2]}, cl", f"{op} {mems(mode)[1]}, {rs[6]}, 9",
                    f"{op} {mems(mode)[4]}, {rs[7]}, cl"]
    return out


def muldiv_bits(mode):
    out = []
    for b in (16, 32):
        rs = regs(b)
        for i in ["5", "-5", "127", "128", "1000", "-129"]:
            out += [f"imul {rs[0]}, {rs[3]}, {i}", f"imul {rs[1]}, {i}", f"imul {rs[2]}, {mems(mode)[2]}, {i}"]
        out += [f"imul {rs[0]}, {rs[1]}", f"imul {rs[5]}, {mems(mode)[7]}"]
        for op in ["bt", "bts", "btr", "btc"]:
            out += [f"{op} {rs[0]}, {rs[1]}", f"{op} {mems(mode)[0]}, {rs[2]}", f"{op} {rs[3]}, 7",
                    f"{op} {SZ[b]} {mems(mode)[3]}, 31"]
        for op in ["bsf", "bsr"]:
            out += [f"{op} {rs[0]}, {rs[1]}", f"{op} {rs[2]}, {mems(mode)[5]}"]
        for op in ["movzx", "movsx"]:
            out += [f"{op} {rs[0]}, bl", f"{op} {rs[1]}, byte {mems(mode)[1]}"]
            if b == 16:
                out.append(f"{op} {rs[2]}, {mems(mode)[2]}")
            if b == 32:
                out += [f"{op} {rs[0]}, bx", f"{op} {rs[3]}, word {mems(mode)[4]}"]
        out += [f"lea {rs[0]}, {m}" for m in mems(mode)]
        out += [f"bound {rs[1]}, {mems(mode)[0]}", f"arpl {mems(mode)[2]}, ax", "arpl cx, dx"]
        for op in ["les", "lds", "lss", "lfs", "lgs"]:
            out.append(f"{op} {rs[4]}, {mems(mode)[3]}")
        for op in ["cmpxchg", "xadd"]:
            out += [f"{op} {rs[0]}, {rs[1]}", f"{op} {mems(mode)[1]}, {rs[2]}", f"lock {op} {mems(mode)[3]}, {rs[3]}",
                    f"{op} cl, dl", f"{op} byte {mems(mode)[0]}, bh"]
    out += [f"bswap {r}" for r in R32]
    out += [f"cmpxchg8b {mems(mode)[0]}", f"lock cmpxchg8b {mems(mode)[5]}", "cmpxchg8b qword [ebx]"]
    for op in ["add", "sub", "and", "or", "xor", "adc", "sbb", "inc", "dec", "neg", "not"]:
        if op in ("inc", "dec", "neg", "not"):
            out.append(f"lock {op} dword {mems(mode)[1]}")
        else:
            out += [f"lock {op} {mems(mode)[1]}, eax", f"lock {op} word {mems(mode)[2]}, 5"]
    out += ["lock xchg [ebx], eax", "lock bts dword [ecx], 3", "lock btr [ebx], ax"]
    return out


def stack(mode):
    out = []
    for r in R16 + R32:
        out += [f"push {r}", f"pop {r}"]
    for s in SREG:
        out.append(f"push {s}")
        if s != "cs":
            out.append(f"pop {s}")
    for m in mems(mode)[:6]:
        out += [f"push word {m}", f"push dword {m}", f"pop word {m}", f"pop dword {m}"]
    for i in IMMS:
        out += [f"push {i}", f"push word {i}" if fits(i, 16) else "nop", f"push dword {i}"]
    out += ["push byte 5", "push strict byte 5", "push strict word 5", "push strict dword 5", "push byte -1",
            "pusha", "popa", "pushad", "popad", "pushaw", "popaw", "pushf", "popf", "pushfd", "popfd",
            "pushfw", "popfw", "enter 16, 0", "enter 0x1234, 3", "leave"]
    return out


def control(mode):
    out = ["top:", "jmp short top", "loop top", "loope top", "loopz top", "loopne top", "loopnz top",
           "loop top, cx", "loop top, ecx", "jcxz top", "jecxz top"]
    for cc in ["o", "no", "b", "c", "nae", "nb", "nc", "ae", "e", "z", "ne", "nz", "be", "na", "a", "nbe",
               "s", "ns", "p", "pe", "np", "po", "l", "nge", "ge", "nl", "le", "ng", "g", "nle"]:
        out += [f"j{cc} top", f"j{cc} near top", f"j{cc} bottom", f"j{cc} short $", f"set{cc} al",
                f"set{cc} byte {mems(mode)[1]}", f"cmov{cc} ax, bx", f"cmov{cc} ecx, [ebx]", f"cmov{cc} esi, edi"]
    out += ["jmp top", "jmp near top", "jmp strict near top", "jmp bottom", "call top",
            "call bottom", "jmp ax", "jmp eax", "call bx", "call ecx", "jmp [bx]", "jmp word [bx]",
            "jmp dword [ebx]", "call [ebx+4]", "call word [si]", "call dword [0x1234]",
            "jmp 0x08:0x1234", "jmp word 0x08:0x1234", "jmp dword 0x10:0x12345678", "call 0x18:top",
            "call dword 0x20:bottom", "jmp far [bx]", "jmp far word [bx]", "jmp far dword [ebx]", "call far [si+2]",
            "call far dword [eax]", "ret", "ret 8", "retn", "retn 4", "retf",
            "retf 2", "iret", "iretd", "iretw", "int 0x21", "int 3", "int3", "int1", "icebp", "into", "jmp $+2",
            "jmp $", "jz $+0x80", "jz $+0x81", "jmp top+0x7f", "call $+5"]
    out += ["times 130 nop", "bottom:", "nop"]
    return out


def strings_io(mode):
    out = []
    for s in ["movs", "cmps", "scas", "lods", "stos", "ins", "outs"]:
        for w in "bwd":
            out += [f"{s}{w}", f"rep {s}{w}", f"es {s}{w}", f"a32 {s}{w}", f"a16 {s}{w}"]
            if s in ("cmps", "scas"):
                out += [f"repe {s}{w}", f"repz {s}{w}", f"repne {s}{w}", f"repnz {s}{w}"]
            if s in ("movs", "lods", "outs", "cmps"):
                out += [f"fs {s}{w}", f"rep gs {s}{w}"]
    out += ["xlatb", "xlat", "es xlatb"]
    for p in ["0x60", "0x80", "0xff", "0"]:
        out += [f"in al, {p}", f"in ax, {p}", f"in eax, {p}", f"out {p}, al", f"out {p}, ax", f"out {p}, eax"]
    out += ["in al, dx", "in ax, dx", "in eax, dx", "out dx, al", "out dx, ax", "out dx, eax"]
    return out


def misc(mode):
    return ["nop", "hlt", "clc", "stc", "cmc", "cld", "std", "cli", "sti", "lahf", "sahf", "daa", "das", "aaa",
            "aas", "aam", "aad", "aam 16", "aad 7", "cbw", "cwde", "cwd", "cdq", "wait", "fwait", "ud2", "salc",
            "cpuid", "rdtsc", "rdmsr", "wrmsr", "wbinvd", "invd", "clts", "rsm", "pause", "vmcall",
            "lgdt [bx]", "lidt [ebx]", "sgdt [si]", "sidt [0x1234]", "o32 lgdt [bx]", "o16 lidt [eax]",
            "lgdt [cs:gdt]", "o32 lgdt [cs:gdt]", "lldt ax", "lldt [bx]", "ltr dx", "ltr word [si]", "sldt ax",
            "sldt eax", "sldt [bx]", "str ax", "str eax", "str [di]", "smsw ax", "smsw eax", "smsw [bx]", "lmsw ax",
            "lmsw [bx]", "invlpg [eax]", "invlpg [bx+si]", "lar ax, bx", "lar eax, ecx", "lar ax, [bx]",
            "lar eax, [ebx]", "lsl ax, bx", "lsl eax, [esi]", "verr ax", "verr [bx]", "verw cx", "verw [ebx]",
            "o16 nop", "o32 nop", "a32 nop", "gdt: dq 0"]


def data(mode):
    return ["db 1, 2, 3, 'a', 'bc', \"def\", 0", "dw 1, 0x1234, 'ab', 'abc', -1", "dd 1, 0x12345678, 'abcd', -2",
            "dq 0x123456789abcdef0, -1", "db 300 & 0xff, -128, 255", "dw $, $$, $-$$", "times 5 db 0x90",
            "times 3 dw $-$$", "align 4", "db 1", "align 16", "alignb 8", "db 2", "align 8, db 0xcc",
            "resb 3", "resw 2", "resd 1", "x equ 5", "y equ x*2+1", "dd x, y, x<<3, y>>1, x|y, x&y, x^y, ~x",
            "dd 17/5, 17 % 5, -17//5, -17 %% 5, (3+4)*2, -(5), +6", "dd 1 << 31, 0xffffffff >> 4",
            "db 0b1010, 1010b, 0x1f, 1fh, 0o17, 17q, 1_000 & 0xff", "db `a\\n\\t\\x41`", "dd 'a' + 1",
            "lab: dw lab, .loc", ".loc: dd lab.loc - lab", "jmp .loc", "z times 2 db 7", "dw fwd - $$", "fwd:"]


FAMILIES = {"alu": alu, "mov": mov_special, "testxchg": test_xchg, "unary": unary, "shift": shifts,
            "muldivbits": muldiv_bits, "stack": stack, "control": control, "stringio": strings_io, "misc": misc,
            "data": data}

if __name__ == "__main__":
    for mode in (16, 32):
        for name, fn in FAMILIES.items():
            lines = [f"; generated by generate.py: {name} forms in {mode}-bit code", f"        bits {mode}"]
            if mode == 16 and name == "control":
                pass
            lines += ["        " + l if not l.endswith(":") and ":" not in l.split()[0] else l for l in fn(mode)]
            with open(f"gen{mode}_{name}.asm", "w") as f:
                f.write("\n".join(lines) + "\n")
