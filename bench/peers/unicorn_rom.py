"""Peer benchmark: run a vmlab benchmark ROM on Unicorn (QEMU's TCG JIT).

The ROM is mapped at 0xF0000 and started at F000:FFF0 in 16-bit mode, as on a
PC; COM1 output goes to stdout. Instructions are counted once with a code hook
on small runs (ITER=1 and ITER=2 images given as --count-a/--count-b), so the
timed run has no hook. Prints one JSON line: seconds, instructions, mips.
"""
import argparse, json, sys, time
from unicorn import Uc, UcError, UC_ARCH_X86, UC_MODE_16, UC_HOOK_INSN, UC_HOOK_CODE
from unicorn.x86_const import (UC_X86_REG_CS, UC_X86_REG_EIP, UC_X86_INS_IN,
                               UC_X86_INS_OUT, UC_X86_REG_EAX)

LSR_THRE = 0x20


def run(rom, count=False):
    mu = Uc(UC_ARCH_X86, UC_MODE_16)
    mu.mem_map(0, 16 << 20)
    mu.mem_write(0x100000 - len(rom), rom)
    out = bytearray()
    insns = [0]

    def hook_in(uc, port, size, _):
        return LSR_THRE if port == 0x3FD else 0xFF

    def hook_out(uc, port, size, value, _):
        if port == 0x3F8:
            out.append(value & 0xFF)

    def hook_code(uc, addr, size, _):
        insns[0] += 1

    mu.hook_add(UC_HOOK_INSN, hook_in, None, 1, 0, UC_X86_INS_IN)
    mu.hook_add(UC_HOOK_INSN, hook_out, None, 1, 0, UC_X86_INS_OUT)
    if count:
        mu.hook_add(UC_HOOK_CODE, hook_code)
    mu.reg_write(UC_X86_REG_CS, 0xF000)
    mu.reg_write(UC_X86_REG_EIP, 0xFFF0)
    start = time.perf_counter()
    try:
        mu.emu_start(0xFFFF0, 0xFFFFFFFF)
    except UcError as e:  # HLT ends the run with UC_ERR_HLT-like errors on some versions
        if "HLT" not in str(e).upper() and not out.endswith(b"\n"):
            raise
    secs = time.perf_counter() - start
    return secs, insns[0], bytes(out)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("rom")
    ap.add_argument("--count-a", required=True, help="the same ROM built with ITER=1")
    ap.add_argument("--count-b", required=True, help="the same ROM built with ITER=2")
    ap.add_argument("--iter", type=int, required=True, help="ITER of the timed ROM")
    a = ap.parse_args()
    _, n1, _ = run(open(a.count_a, "rb").read(), count=True)
    _, n2, _ = run(open(a.count_b, "rb").read(), count=True)
    per_iter = n2 - n1
    total = n1 + per_iter * (a.iter - 1)
    secs, _, out = run(open(a.rom, "rb").read())
    print(json.dumps({"peer": "unicorn", "seconds": secs, "instructions": total,
                      "mips": total / secs / 1e6, "serial": out.decode("latin-1")}))


if __name__ == "__main__":
    sys.exit(main())
