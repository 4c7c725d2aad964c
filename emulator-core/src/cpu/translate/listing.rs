//! The Wasm backend's module as text: the operators of each function body in the
//! WebAssembly text format's names (`local.get 3`, `i32.add`, `i32.load offset=8`),
//! indented by block, for the lab's region detail and `vmlab translate`.

use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use wasmparser::{Operator, Parser, Payload};

/// `I32Add` → `i32.add`, `LocalGet` → `local.get`, `BrIf` → `br_if`.
fn op_name(debug_name: &str) -> String {
    let mut words: Vec<String> = Vec::new();
    for c in debug_name.chars() {
        if c.is_ascii_uppercase() || words.is_empty() {
            words.push(String::new());
        }
        if let Some(w) = words.last_mut() {
            w.push(c.to_ascii_lowercase());
        }
    }
    // Digits stay with the word before them (`I32` is one word).
    let Some((first, rest)) = words.split_first() else {
        return String::new();
    };
    let prefixed = matches!(
        first.as_str(),
        "i32" | "i64" | "f32" | "f64" | "local" | "global" | "memory" | "table" | "ref"
    );
    if prefixed && !rest.is_empty() {
        format!("{first}.{}", rest.join("_"))
    } else {
        words.join("_")
    }
}

/// The immediates of an operator's `Debug` text (`{ local_index: 3 }`): the numbers,
/// with a memory access's offset as `offset=N`.
fn immediates(fields: &str) -> String {
    let mut out = Vec::new();
    let mut offset = None;
    for part in fields.split([',', '{', '}']) {
        let Some((key, value)) = part.split_once(':') else {
            continue;
        };
        let (key, value) = (key.trim(), value.trim());
        if key == "offset" {
            offset = value.parse::<u64>().ok();
        } else if matches!(key, "align" | "max_align" | "memory" | "memarg") {
            continue;
        } else if value.starts_with(|c: char| c.is_ascii_digit() || c == '-') {
            out.push(value.to_string());
        }
    }
    if let Some(o) = offset.filter(|&o| o != 0) {
        out.push(format!("offset={o}"));
    }
    out.join(" ")
}

/// One operator in text form.
fn op_text(op: &Operator) -> String {
    let debug = format!("{op:?}");
    let (name, fields) = match debug.find([' ', '{', '(']) {
        Some(i) => debug.split_at(i),
        None => (debug.as_str(), ""),
    };
    let imm = immediates(fields);
    if imm.is_empty() {
        op_name(name)
    } else {
        format!("{} {imm}", op_name(name))
    }
}

/// The module's function bodies as text, one operator a line, indented by block; a
/// line saying where the module could not be read instead of the rest.
pub fn wasm_text(module: &[u8]) -> Vec<String> {
    let mut out = Vec::new();
    for payload in Parser::new(0).parse_all(module) {
        let body = match payload {
            Ok(Payload::CodeSectionEntry(body)) => body,
            Ok(_) => continue,
            Err(e) => {
                out.push(format!(";; unreadable: {e}"));
                break;
            }
        };
        out.push("(func".to_string());
        let ops = match body.get_operators_reader() {
            Ok(ops) => ops,
            Err(e) => {
                out.push(format!(";; unreadable: {e}"));
                break;
            }
        };
        let mut depth = 1usize;
        for op in ops {
            let op = match op {
                Ok(op) => op,
                Err(e) => {
                    out.push(format!(";; unreadable: {e}"));
                    break;
                }
            };
            if matches!(op, Operator::End | Operator::Else) {
                depth = depth.saturating_sub(1);
            }
            if !(depth == 0 && matches!(op, Operator::End)) {
                out.push(format!("{}{}", "  ".repeat(depth), op_text(&op)));
            }
            if matches!(
                op,
                Operator::If { .. }
                    | Operator::Block { .. }
                    | Operator::Loop { .. }
                    | Operator::Else
            ) {
                depth += 1;
            }
        }
        out.push(")".to_string());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_the_text_format() {
        assert_eq!(op_name("I32Add"), "i32.add");
        assert_eq!(op_name("LocalGet"), "local.get");
        assert_eq!(op_name("BrIf"), "br_if");
        assert_eq!(op_name("I64ExtendI32U"), "i64.extend_i32_u");
        assert_eq!(op_name("ReturnCallIndirect"), "return_call_indirect");
        assert_eq!(immediates(" { local_index: 3 }"), "3");
        assert_eq!(
            immediates(" { memarg: MemArg { align: 2, max_align: 2, offset: 8, memory: 0 } }"),
            "offset=8"
        );
    }
}
