//! Register names as NASM spells them, mapped to iced-x86 registers.

use iced_x86::Register;

/// Looks up a register by its (case-insensitive) NASM name.
pub(crate) fn lookup(name: &str) -> Option<Register> {
    if name.len() > 5 {
        return None;
    }
    let mut buf = [0u8; 5];
    for (d, s) in buf.iter_mut().zip(name.bytes()) {
        *d = s.to_ascii_lowercase();
    }
    let n = &buf[..name.len()];
    use Register as R;
    Some(match n {
        b"al" => R::AL,
        b"cl" => R::CL,
        b"dl" => R::DL,
        b"bl" => R::BL,
        b"ah" => R::AH,
        b"ch" => R::CH,
        b"dh" => R::DH,
        b"bh" => R::BH,
        b"ax" => R::AX,
        b"cx" => R::CX,
        b"dx" => R::DX,
        b"bx" => R::BX,
        b"sp" => R::SP,
        b"bp" => R::BP,
        b"si" => R::SI,
        b"di" => R::DI,
        b"eax" => R::EAX,
        b"ecx" => R::ECX,
        b"edx" => R::EDX,
        b"ebx" => R::EBX,
        b"esp" => R::ESP,
        b"ebp" => R::EBP,
        b"esi" => R::ESI,
        b"edi" => R::EDI,
        b"es" => R::ES,
        b"cs" => R::CS,
        b"ss" => R::SS,
        b"ds" => R::DS,
        b"fs" => R::FS,
        b"gs" => R::GS,
        b"cr0" => R::CR0,
        b"cr2" => R::CR2,
        b"cr3" => R::CR3,
        b"cr4" => R::CR4,
        b"dr0" => R::DR0,
        b"dr1" => R::DR1,
        b"dr2" => R::DR2,
        b"dr3" => R::DR3,
        b"dr6" => R::DR6,
        b"dr7" => R::DR7,
        b"tr3" => R::TR3,
        b"tr4" => R::TR4,
        b"tr5" => R::TR5,
        b"tr6" => R::TR6,
        b"tr7" => R::TR7,
        b"st0" => R::ST0,
        b"st1" => R::ST1,
        b"st2" => R::ST2,
        b"st3" => R::ST3,
        b"st4" => R::ST4,
        b"st5" => R::ST5,
        b"st6" => R::ST6,
        b"st7" => R::ST7,
        _ => return None,
    })
}

/// Size in bits of a general-purpose register (8, 16 or 32), 0 for others.
pub(crate) fn gpr_bits(r: Register) -> u32 {
    if r.is_gpr8() {
        8
    } else if r.is_gpr16() {
        16
    } else if r.is_gpr32() {
        32
    } else {
        0
    }
}
