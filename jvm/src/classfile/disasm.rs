//! Bytecode as text: one line per instruction with its operands resolved through the
//! constant pool (`invokevirtual #7 Rect.area()I`), and each constant described, for
//! the lab's class and frame views.

use alloc::string::String;
use alloc::vec::Vec;

use super::{Constant, ConstantPool};
use crate::opcode;

/// One instruction.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Line {
    pub pc: usize,
    pub text: String,
}

impl ConstantPool {
    /// Constant `i` as text: `Methodref Rect.area()I`, `String "hi"`, `Integer 5`.
    pub fn describe(&self, i: u16) -> String {
        let Some(c) = self.get(i) else {
            return alloc::format!("#{i} out of range");
        };
        let member = |field: bool| {
            self.member(i, field)
                .map(|m| {
                    alloc::format!(
                        "{}.{}{}{}",
                        m.class,
                        m.name,
                        if field { ":" } else { "" },
                        m.descriptor
                    )
                })
                .unwrap_or_default()
        };
        let body = match c {
            Constant::Unusable => String::new(),
            Constant::Utf8(s) => alloc::format!("{s:?}"),
            Constant::Integer(n) => alloc::format!("{n}"),
            Constant::Float(x) => alloc::format!("{x}"),
            Constant::Long(n) => alloc::format!("{n}"),
            Constant::Double(x) => alloc::format!("{x}"),
            Constant::Class(_) => self.class_name(i).unwrap_or_default().into(),
            Constant::String(s) => alloc::format!("{:?}", self.utf8(*s).unwrap_or_default()),
            Constant::FieldRef { .. } => member(true),
            Constant::MethodRef { .. } | Constant::InterfaceMethodRef { .. } => member(false),
            Constant::NameAndType { .. } => self
                .name_and_type(i)
                .map(|(n, d)| alloc::format!("{n}:{d}"))
                .unwrap_or_default(),
            Constant::MethodHandle { kind, reference } => {
                alloc::format!("kind {kind} #{reference}")
            }
            Constant::MethodType(d) => self.utf8(*d).unwrap_or_default().into(),
            Constant::Dynamic {
                bootstrap,
                name_and_type,
            }
            | Constant::InvokeDynamic {
                bootstrap,
                name_and_type,
            } => {
                let (n, d) = self.name_and_type(*name_and_type).unwrap_or_default();
                alloc::format!("bootstrap {bootstrap} {n}{d}")
            }
            Constant::Module(n) | Constant::Package(n) => self.utf8(*n).unwrap_or_default().into(),
        };
        alloc::format!("{} {body}", c.kind())
    }
}

/// Disassembles `code`; stops at the first undecodable instruction.
pub fn disassemble(code: &[u8], pool: &ConstantPool) -> Vec<Line> {
    let mut out = Vec::new();
    let mut pc = 0;
    while pc < code.len() {
        let op = code[pc];
        let Some(len) = opcode::length(code, pc) else {
            out.push(Line {
                pc,
                text: alloc::format!("{} (undecodable)", opcode::name(op)),
            });
            break;
        };
        let b = |k: usize| code[pc + k];
        let u16_at = |k: usize| u16::from_be_bytes([b(k), b(k + 1)]);
        let i32_at = |k: usize| i32::from_be_bytes([b(k), b(k + 1), b(k + 2), b(k + 3)]);
        let name = opcode::name(op);
        let text = match op {
            16 => alloc::format!("{name} {}", b(1) as i8),
            17 => alloc::format!("{name} {}", u16_at(1) as i16),
            18 => alloc::format!("{name} #{} {}", b(1), pool.describe(b(1) as u16)),
            19 | 20 | 178..=187 | 189 | 192 | 193 | 197 => {
                alloc::format!("{name} #{} {}", u16_at(1), pool.describe(u16_at(1)))
            }
            21..=25 | 54..=58 | 169 => alloc::format!("{name} {}", b(1)),
            132 => alloc::format!("{name} {} {}", b(1), b(2) as i8),
            153..=168 | 198 | 199 => {
                alloc::format!("{name} {}", pc as i64 + u16_at(1) as i16 as i64)
            }
            200 | 201 => alloc::format!("{name} {}", pc as i64 + i32_at(1) as i64),
            188 => alloc::format!(
                "{name} {}",
                match b(1) {
                    4 => "boolean",
                    5 => "char",
                    6 => "float",
                    7 => "double",
                    8 => "byte",
                    9 => "short",
                    10 => "int",
                    _ => "long",
                }
            ),
            170 | 171 => {
                let base = 1 + (3 - pc % 4);
                let default = pc as i64 + i32_at(base) as i64;
                let mut arms = Vec::new();
                if op == 170 {
                    let low = i32_at(base + 4);
                    let mut k = base + 12;
                    let mut key = low as i64;
                    while k + 4 <= len {
                        arms.push(alloc::format!("{key}: {}", pc as i64 + i32_at(k) as i64));
                        k += 4;
                        key += 1;
                    }
                } else {
                    let mut k = base + 8;
                    while k + 8 <= len {
                        arms.push(alloc::format!(
                            "{}: {}",
                            i32_at(k),
                            pc as i64 + i32_at(k + 4) as i64
                        ));
                        k += 8;
                    }
                }
                alloc::format!("{name} {{ {}, default: {default} }}", arms.join(", "))
            }
            196 => alloc::format!("wide {} {}", opcode::name(b(1)), u16_at(2)),
            _ => name.into(),
        };
        out.push(Line { pc, text });
        pc += len;
    }
    out
}
