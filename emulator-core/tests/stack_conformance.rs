//! The stack instructions against a model written from the Intel SDM's pseudo-code:
//! ENTER at every nesting level, LEAVE, PUSH/POP of registers, segment registers,
//! immediates and memory, PUSHA/POPA, near and far CALL/RET, INT n and IRET, in every
//! combination of operand size, address size, code size and stack size (a 16-bit
//! stack under 32-bit code and the reverse), with a 16-bit stack pointer that wraps at
//! 64 KiB under an ESP whose upper half is set, and a #SS or #PF on the final write.
//! Every case runs with the fast tier on and off; both must end where the model says.

mod stack;

use stack::layout::{Mem, Op, FLAT, STACK16, STACK16_BASE};
use stack::layout::{STACK16_DOWN, STACK32_DOWN};
use stack::model::Fault;
use stack::{
    case, case_in, check, int_vectors, stacks, Case, Rng, Stack, FAR_TARGETS, MEMS, SIZES,
};

/// Runs every case of `ops` on every stack and size; returns how many cases faulted
/// (so a table cannot pass by faulting everywhere) and how many ran.
fn table(ops: &[Op], seed: u32) -> (usize, usize) {
    let mut rng = Rng::new(seed);
    let mut faulted = 0;
    let mut n = 0;
    for (k, &op) in ops.iter().enumerate() {
        for (code32, osize) in SIZES {
            for (j, stack) in stacks(&mut rng).into_iter().enumerate() {
                let c = case(op, code32, osize, stack, seed ^ (k * 64 + j) as u32);
                check(&c);
                faulted += c.expect().0.fault.is_some() as usize;
                n += 1;
            }
        }
    }
    (faulted, n)
}

#[test]
fn enter_at_every_nesting_level() {
    let mut ops = Vec::new();
    for level in (0..32).chain([33, 255]) {
        for alloc in [0, 0x10] {
            ops.push(Op::Enter(alloc, level));
        }
    }
    ops.extend([
        Op::Enter(0x1234, 0),
        Op::Enter(0x1234, 2),
        Op::Enter(0xffff, 1),
    ]);
    let (faulted, n) = table(&ops, 1);
    assert!(faulted > 0 && faulted < n / 4, "{faulted} of {n} faulted");
}

#[test]
fn enter_with_a_16_bit_stack_uses_sp_and_bp() {
    // ENTER 8, 3 with a 32-bit operand on a 16-bit stack, ESP = 0x1_0000, EBP above
    // it: the frame pointer is the whole ESP after the first push, the copies are
    // read through BP, and ESP keeps its upper half.
    let c = case(
        Op::Enter(8, 3),
        true,
        4,
        Stack {
            sel: STACK16,
            esp: 0x1_0000,
        },
        7,
    );
    let (out, _) = c.expect();
    assert_eq!(out.fault, None);
    assert_eq!(out.regs.gpr[5], 0x1_fffc, "EBP = FrameTemp = ESP");
    assert_eq!(
        out.regs.gpr[4],
        0x1_fffc - 12 - 8,
        "ESP = SP - pushes - alloc"
    );
    check(&c);
}

#[test]
fn leave() {
    let (faulted, n) = table(&[Op::Leave], 2);
    assert!(faulted > 0 && faulted < n, "{faulted} of {n} faulted");
}

#[test]
fn push_and_pop_registers_and_immediates() {
    let mut ops: Vec<Op> = (0..8).flat_map(|r| [Op::PushR(r), Op::PopR(r)]).collect();
    ops.extend([
        Op::PushI(0x8765_4321, false),
        Op::PushI(0x80, true),
        Op::PushI(0x7f, true),
    ]);
    table(&ops, 3);
}

#[test]
fn push_and_pop_memory_with_both_address_sizes() {
    let ops: Vec<Op> = MEMS
        .iter()
        .flat_map(|&m| [Op::PushM(m), Op::PopM(m)])
        .collect();
    let (faulted, n) = table(&ops, 4);
    assert!(faulted > 0 && faulted < n, "{faulted} of {n} faulted");
}

#[test]
fn push_and_pop_segment_registers() {
    let mut ops: Vec<Op> = (0..6).map(Op::PushS).collect();
    ops.extend([0, 2, 3, 4, 5].map(Op::PopS));
    table(&ops, 5);
}

#[test]
fn pusha_and_popa() {
    table(&[Op::Pusha, Op::Popa], 6);
}

#[test]
fn near_call_and_return() {
    let mut ops = vec![
        Op::CallRel(0),
        Op::CallR(0),
        Op::Ret(None),
        Op::Ret(Some(6)),
        Op::Ret(Some(0xfffe)),
    ];
    ops.extend(MEMS.iter().map(|&m| Op::CallM(m)));
    let (faulted, n) = table(&ops, 7);
    assert!(faulted > 0 && faulted < n, "{faulted} of {n} faulted");
}

#[test]
fn far_call_and_return() {
    let mut ops: Vec<Op> = FAR_TARGETS
        .iter()
        .map(|&(sel, off)| Op::CallFar(sel, off))
        .collect();
    ops.extend(MEMS[..4].iter().map(|&m| Op::CallFarM(m)));
    ops.extend([Op::Retf(None), Op::Retf(Some(8))]);
    table(&ops, 8);
}

#[test]
fn int_and_iret() {
    let mut ops: Vec<Op> = int_vectors().map(Op::Int).collect();
    ops.push(Op::Iret);
    table(&ops, 9);
}

#[test]
fn at_cpl_0() {
    // IRET loads IF and IOPL there (and VIF and VIP with a 32-bit operand); far
    // transfers and INT keep RPL 0. Only the cases that do not fault run: a fault
    // at CPL 0 is delivered on the same stack.
    let mut ops = vec![
        Op::Iret,
        Op::Retf(None),
        Op::Retf(Some(8)),
        Op::PushS(1),
        Op::PushS(2),
        Op::PopS(2),
        Op::PopS(3),
        Op::Enter(0x10, 3),
        Op::Pusha,
        Op::Popa,
    ];
    ops.extend(FAR_TARGETS.iter().map(|&(s, o)| Op::CallFar(s, o)));
    ops.extend(int_vectors().map(Op::Int));
    let mut rng = Rng::new(10);
    let mut n = 0;
    for (k, &op) in ops.iter().enumerate() {
        for (code32, osize) in SIZES {
            for (j, stack) in stacks(&mut rng).into_iter().enumerate() {
                let c = case_in(0, op, code32, osize, stack, (k * 64 + j) as u32);
                if c.expect().0.fault.is_none() {
                    check(&c);
                    n += 1;
                }
            }
        }
    }
    assert!(n > 300, "{n} cases");
}

/// The forms that write the stack, for the final-write faults.
fn writers() -> Vec<Op> {
    let mut ops = vec![
        Op::PushR(0),
        Op::PushR(4),
        Op::PushI(0x1234_5678, false),
        Op::PushM(Mem::A32Ebx(0x20)),
        Op::PushM(Mem::A16BxSi(8)),
        Op::PushS(3),
        Op::Pusha,
        Op::CallRel(0),
        Op::CallR(0),
        Op::CallM(Mem::A32Ebx(0x20)),
        Op::CallFarM(Mem::A16BxSi(8)),
    ];
    for level in [0, 1, 2, 5, 31] {
        ops.extend([Op::Enter(0x10, level), Op::Enter(0, level)]);
    }
    ops.extend(FAR_TARGETS.iter().map(|&(s, o)| Op::CallFar(s, o)));
    ops.extend(int_vectors().map(Op::Int));
    ops
}

/// The case with its final stack write faulting: through an expand-down stack whose
/// limit is at that write (#SS), or a page below the earlier writes left not present
/// (#PF). Returns the case, the fault the SDM gives, and the number of stack writes
/// before it.
fn final_write_fault(c: &Case, page: bool) -> (Case, Fault, usize) {
    let (out, model) = c.expect();
    assert_eq!(out.fault, None, "{}", c.name());
    let &(lin, size) = model.writes.last().expect("a stack write");
    let n = model.writes.len() - 1;
    let big = c.setup.sel[2] | 3 == FLAT;
    let base = if big { 0 } else { STACK16_BASE };
    if !page {
        let mut f = c.clone();
        f.setup.sel[2] = if big { STACK32_DOWN } else { STACK16_DOWN };
        f.setup.down_limit = lin - base;
        return (f, Fault::Stack, n);
    }
    // Shift the stack so that the final write ends at a page boundary.
    let end = lin + size as u32;
    let delta = end.next_multiple_of(0x1000) - end;
    let mut f = c.clone();
    f.setup.gpr[4] += delta;
    f.setup.gpr[5] += delta;
    f.setup.absent_page = Some((lin + delta) & !0xfff);
    (f, Fault::Page(lin + delta, 6), n)
}

#[test]
fn a_fault_on_the_final_write_leaves_the_registers_unchanged() {
    let mut count = 0;
    for (k, op) in writers().into_iter().enumerate() {
        for (code32, osize) in SIZES {
            for (sel, esp) in [(FLAT, 0x4_0000), (STACK16, 0x5a5a_8000)] {
                let c = case(op, code32, osize, Stack { sel, esp }, k as u32);
                if c.expect().0.fault.is_some() {
                    continue;
                }
                for page in [false, true] {
                    let (f, fault, before) = final_write_fault(&c, page);
                    let (out, model) = f.expect();
                    let name = f.name();
                    assert_eq!(out.fault, Some(fault), "{name}: the model's fault");
                    // ENTER with nothing to allocate probes where its last push wrote.
                    let probe_twice = matches!(op, Op::Enter(0, _));
                    if !probe_twice {
                        assert_eq!(
                            model.writes.len(),
                            before,
                            "{name}: faults on the final write"
                        );
                    }
                    assert_eq!(out.regs.gpr, f.setup.gpr, "{name}");
                    check(&f);
                    count += 1;
                }
            }
        }
    }
    assert!(count > 300);
}

#[test]
fn the_fast_tier_retires_the_stack_forms_it_handles() {
    // Flat 32-bit code on a flat 32-bit stack: PUSH r32/imm32, POP r32, CALL rel32 and
    // RET run in the tier; every other form goes to the interpreter.
    let handled = [
        Op::PushR(0),
        Op::PushR(4),
        Op::PopR(3),
        Op::PopR(4),
        Op::PushI(0x1234_5678, false),
        Op::PushI(0x80, true),
        Op::CallRel(0),
        Op::Ret(None),
        Op::Ret(Some(8)),
    ];
    for (k, op) in handled.into_iter().enumerate() {
        let c = case(
            op,
            true,
            4,
            Stack {
                sel: FLAT,
                esp: 0x4_0000,
            },
            k as u32 * 5 + 1,
        );
        assert_eq!(c.expect().0.fault, None, "{}", c.name());
        assert_eq!(
            check(&c),
            1,
            "{}: instructions the fast tier retired",
            c.name()
        );
    }
}
