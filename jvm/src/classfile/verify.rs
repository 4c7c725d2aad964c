//! The structural verifier: instructions decoded to their boundaries, branch and
//! handler targets inside the code and on a boundary, constant-pool operands in range
//! and of the right kind, local indices under `max_locals`, and the operand-stack
//! depth followed by dataflow so that no path underflows or passes `max_stack`.

use alloc::vec;
use alloc::vec::Vec;

use super::descriptor;
use super::{ClassFile, Code, Constant, Method};
use crate::opcode::{self, SPECIAL};
use crate::JvmError;

/// Checks every method with code; `file` names the class file in errors.
pub fn verify(file: &str, class: &ClassFile) -> Result<(), JvmError> {
    for m in &class.methods {
        if let Some(code) = &m.code {
            verify_method(file, class, m, code)?;
        }
    }
    Ok(())
}

/// An instruction's branch targets (relative offsets resolved).
pub(crate) fn targets(code: &[u8], pc: usize, len: usize) -> Vec<i64> {
    let op = code[pc];
    let i16_at = |at: usize| i16::from_be_bytes([code[at], code[at + 1]]) as i64;
    let i32_at =
        |at: usize| i32::from_be_bytes([code[at], code[at + 1], code[at + 2], code[at + 3]]) as i64;
    let p = pc as i64;
    match op {
        153..=168 | 198 | 199 => vec![p + i16_at(pc + 1)],
        200 | 201 => vec![p + i32_at(pc + 1)],
        170 => {
            let base = pc + 1 + (3 - pc % 4);
            let mut t = vec![p + i32_at(base)];
            let mut at = base + 12;
            while at + 4 <= pc + len {
                t.push(p + i32_at(at));
                at += 4;
            }
            t
        }
        171 => {
            let base = pc + 1 + (3 - pc % 4);
            let mut t = vec![p + i32_at(base)];
            let mut at = base + 8;
            while at + 8 <= pc + len {
                t.push(p + i32_at(at + 4));
                at += 8;
            }
            t
        }
        _ => Vec::new(),
    }
}

/// Whether control never falls through to the next instruction.
pub(crate) fn ends_flow(op: u8) -> bool {
    matches!(op, 167 | 169 | 170 | 171 | 172..=177 | 191 | 200)
}

fn verify_method(file: &str, class: &ClassFile, m: &Method, code: &Code) -> Result<(), JvmError> {
    let label = m.label();
    let err = |pc: usize, msg: alloc::string::String| JvmError::at_pc(file, &label, pc, msg);
    let bytes = &code.code;
    let n = bytes.len();
    let pool = &class.pool;
    let max_locals = code.max_locals as usize;
    let (arg_slots, _) = descriptor::method_slots(&m.descriptor).map_err(|e| err(0, e))?;
    if arg_slots + usize::from(!m.is_static()) > max_locals {
        return Err(err(
            0,
            alloc::format!(
                "max_locals {max_locals} is below the arguments' {} slots",
                arg_slots + usize::from(!m.is_static())
            ),
        ));
    }
    // Pass 1: instruction boundaries and per-instruction operand checks.
    let mut start = vec![false; n];
    let mut pc = 0;
    while pc < n {
        let op = bytes[pc];
        let len = opcode::length(bytes, pc).ok_or_else(|| {
            if opcode::OPCODES[op as usize].is_none() {
                err(pc, alloc::format!("undefined opcode {op:#04x}"))
            } else {
                err(
                    pc,
                    alloc::format!(
                        "{} runs past the end of the code or has bad operands",
                        opcode::name(op)
                    ),
                )
            }
        })?;
        start[pc] = true;
        let u16_at = |at: usize| u16::from_be_bytes([bytes[at], bytes[at + 1]]);
        let kind_err = |idx: u16, want: &str| {
            let found = pool.get(idx).map_or("out of range", Constant::kind);
            err(
                pc,
                alloc::format!(
                    "{} refers to constant #{idx}, which is {found}, not {want}",
                    opcode::name(op)
                ),
            )
        };
        match op {
            18 | 19 => {
                let idx = if op == 18 {
                    bytes[pc + 1] as u16
                } else {
                    u16_at(pc + 1)
                };
                match pool.get(idx) {
                    Some(
                        Constant::Integer(_)
                        | Constant::Float(_)
                        | Constant::String(_)
                        | Constant::Class(_)
                        | Constant::MethodType(_)
                        | Constant::MethodHandle { .. }
                        | Constant::Dynamic { .. },
                    ) => {}
                    _ => return Err(kind_err(idx, "a loadable constant")),
                }
            }
            20 => match pool.get(u16_at(pc + 1)) {
                Some(Constant::Long(_) | Constant::Double(_)) => {}
                _ => return Err(kind_err(u16_at(pc + 1), "Long or Double")),
            },
            178..=181 => {
                pool.member(u16_at(pc + 1), true)
                    .map_err(|e| err(pc, alloc::format!("{}: {e}", opcode::name(op))))?;
            }
            182..=185 => {
                let r = pool
                    .member(u16_at(pc + 1), false)
                    .map_err(|e| err(pc, alloc::format!("{}: {e}", opcode::name(op))))?;
                descriptor::parse_method(&r.descriptor).map_err(|e| err(pc, e))?;
                if op == 185 && (bytes[pc + 3] == 0 || bytes[pc + 4] != 0) {
                    return Err(err(
                        pc,
                        "invokeinterface has a zero count or a nonzero fourth byte".into(),
                    ));
                }
            }
            186 => match pool.get(u16_at(pc + 1)) {
                Some(Constant::InvokeDynamic { bootstrap, .. })
                    if (*bootstrap as usize) < class.bootstrap.len() => {}
                Some(Constant::InvokeDynamic { bootstrap, .. }) => {
                    return Err(err(
                        pc,
                        alloc::format!(
                        "invokedynamic names bootstrap method {bootstrap}, but the class has {}",
                        class.bootstrap.len()
                    ),
                    ))
                }
                _ => return Err(kind_err(u16_at(pc + 1), "InvokeDynamic")),
            },
            187 | 189 | 192 | 193 | 197 => {
                pool.class_name(u16_at(pc + 1))
                    .map_err(|e| err(pc, alloc::format!("{}: {e}", opcode::name(op))))?;
                if op == 197 && bytes[pc + 3] == 0 {
                    return Err(err(pc, "multianewarray with 0 dimensions".into()));
                }
            }
            188 if !(4..=11).contains(&bytes[pc + 1]) => {
                return Err(err(
                    pc,
                    alloc::format!("newarray element type {} is not 4..11", bytes[pc + 1]),
                ))
            }
            168 | 169 | 201 => {
                return Err(err(
                    pc,
                    alloc::format!("{} (subroutines) is not allowed", opcode::name(op)),
                ))
            }
            _ => {}
        }
        // Local-variable indices.
        let local = match op {
            21..=25 | 54..=58 => Some((bytes[pc + 1] as usize, matches!(op, 22 | 24 | 55 | 57))),
            26..=45 => Some((((op - 26) % 4) as usize, matches!(op, 30..=33 | 38..=41))),
            59..=78 => Some((((op - 59) % 4) as usize, matches!(op, 63..=66 | 71..=74))),
            132 => Some((bytes[pc + 1] as usize, false)),
            196 => Some((
                u16_at(pc + 2) as usize,
                matches!(bytes[pc + 1], 22 | 24 | 55 | 57),
            )),
            _ => None,
        };
        if let Some((idx, wide)) = local {
            if idx + usize::from(wide) >= max_locals {
                return Err(err(
                    pc,
                    alloc::format!(
                        "{} uses local {idx}, but max_locals is {max_locals}",
                        opcode::name(op)
                    ),
                ));
            }
        }
        pc += len;
    }
    let on_boundary = |t: i64| t >= 0 && (t as usize) < n && start[t as usize];
    // Exception handlers.
    for h in &code.handlers {
        let (s, e, hp) = (h.start as usize, h.end as usize, h.handler as i64);
        if s >= e || e > n || !start[s] || (e < n && !start[e]) || !on_boundary(hp) {
            return Err(err(s.min(n.saturating_sub(1)), alloc::format!("exception handler [{s}, {e}) -> {hp} is not on instruction boundaries inside the code")));
        }
        if h.catch_type != 0 {
            pool.class_name(h.catch_type)
                .map_err(|e| err(hp as usize, alloc::format!("handler catch type: {e}")))?;
        }
    }
    // Pass 2: stack depth by dataflow.
    let max_stack = code.max_stack as i64;
    let mut depth: Vec<i64> = vec![-1; n];
    let mut work = vec![(0usize, 0i64)];
    for h in &code.handlers {
        work.push((h.handler as usize, 1));
    }
    while let Some((pc, d)) = work.pop() {
        if pc >= n {
            return Err(err(
                n.saturating_sub(1),
                "control falls off the end of the code".into(),
            ));
        }
        if depth[pc] >= 0 {
            if depth[pc] != d {
                return Err(err(
                    pc,
                    alloc::format!(
                        "the stack depth is {} on one path and {d} on another",
                        depth[pc]
                    ),
                ));
            }
            continue;
        }
        depth[pc] = d;
        let op = bytes[pc];
        let len = opcode::length(bytes, pc).unwrap_or(1);
        let info =
            opcode::OPCODES[op as usize].ok_or_else(|| err(pc, "undefined opcode".into()))?;
        let (pop, push) = if info.pop == SPECIAL || info.push == SPECIAL {
            special_effect(class, bytes, pc).map_err(|e| err(pc, e))?
        } else if op == 196 {
            let inner = opcode::OPCODES[bytes[pc + 1] as usize]
                .ok_or_else(|| err(pc, "wide with an undefined opcode".into()))?;
            (inner.pop as i64, inner.push as i64)
        } else {
            (info.pop as i64, info.push as i64)
        };
        if d < pop {
            return Err(err(
                pc,
                alloc::format!(
                    "stack underflow: {} pops {pop} slots, the stack has {d}",
                    opcode::name(op)
                ),
            ));
        }
        let nd = d - pop + push;
        if nd > max_stack {
            return Err(err(
                pc,
                alloc::format!(
                    "{} makes the stack {nd} slots deep, over max_stack {max_stack}",
                    opcode::name(op)
                ),
            ));
        }
        for t in targets(bytes, pc, len) {
            if !on_boundary(t) {
                return Err(err(
                    pc,
                    alloc::format!(
                        "{} branches to {t}, which is not an instruction of this code (length {n})",
                        opcode::name(op)
                    ),
                ));
            }
            work.push((t as usize, nd));
        }
        if !ends_flow(op) {
            work.push((pc + len, nd));
        }
    }
    Ok(())
}

/// (pop, push) slots of field access, invocation and multianewarray.
fn special_effect(
    class: &ClassFile,
    bytes: &[u8],
    pc: usize,
) -> Result<(i64, i64), alloc::string::String> {
    let op = bytes[pc];
    let idx = u16::from_be_bytes([bytes[pc + 1], bytes[pc + 2]]);
    let pool = &class.pool;
    Ok(match op {
        178..=181 => {
            let r = pool.member(idx, true)?;
            let s = descriptor::parse_field(&r.descriptor)?.slots() as i64;
            match op {
                178 => (0, s),
                179 => (s, 0),
                180 => (1, s),
                _ => (1 + s, 0),
            }
        }
        182..=185 => {
            let r = pool.member(idx, false)?;
            let (a, ret) = descriptor::method_slots(&r.descriptor)?;
            (a as i64 + i64::from(op != 184), ret as i64)
        }
        186 => {
            let Some(Constant::InvokeDynamic { name_and_type, .. }) = pool.get(idx) else {
                return Err("invokedynamic without an InvokeDynamic constant".into());
            };
            let (_, desc) = pool.name_and_type(*name_and_type)?;
            let (a, ret) = descriptor::method_slots(desc)?;
            (a as i64, ret as i64)
        }
        197 => (bytes[pc + 3] as i64, 1),
        _ => return Err(alloc::format!("{} has no stack effect", opcode::name(op))),
    })
}
