//! A compiled region as the lab and the JSON report show it: each bytecode beside
//! the x86 it became, disassembled with iced-x86 and the core's instruction
//! formatter, and the NASM listing it was assembled from.

use alloc::string::String;
use alloc::vec::Vec;
use serde::Serialize;

use iced_x86::{Decoder, DecoderOptions};

use super::Region;
use crate::classfile::disasm;
use crate::interp::Vm;

/// One x86 instruction.
#[derive(Clone, Debug, Serialize)]
pub struct X86Line {
    pub addr: u32,
    pub bytes: String,
    pub text: String,
}

/// One bytecode and its x86 (`pc` is `None` for the out-of-line exits at the end).
#[derive(Clone, Debug, Serialize)]
pub struct Row {
    pub pc: Option<usize>,
    pub bytecode: String,
    pub x86: Vec<X86Line>,
}

/// A compiled region side by side.
#[derive(Clone, Debug, Serialize)]
pub struct CompiledView {
    pub method: String,
    pub entry: usize,
    pub base: u32,
    pub code_bytes: usize,
    pub rows: Vec<Row>,
    /// The NASM text the code was assembled from.
    pub listing: String,
}

fn decode(region: &Region, from: u32, to: u32) -> Vec<X86Line> {
    let lo = from.saturating_sub(region.base) as usize;
    let hi = (to.saturating_sub(region.base) as usize).min(region.bytes.len());
    let Some(bytes) = region.bytes.get(lo..hi) else {
        return Vec::new();
    };
    let mut d = Decoder::with_ip(32, bytes, u64::from(from), DecoderOptions::NONE);
    let mut out = Vec::new();
    while d.can_decode() {
        let pos = d.position();
        let i = d.decode();
        let raw = bytes.get(pos..pos + i.len()).unwrap_or(&[]);
        out.push(X86Line {
            addr: i.ip32(),
            bytes: raw.iter().map(|b| alloc::format!("{b:02x}")).collect(),
            text: if i.is_invalid() {
                "(bad)".into()
            } else {
                emulator_core::vmm::format_instruction(&i)
            },
        });
    }
    out
}

/// The side-by-side view of `region`.
pub(crate) fn view(vm: &Vm, region: &Region) -> CompiledView {
    let lines = vm
        .classes
        .list
        .get(region.class as usize)
        .and_then(|c| c.file.as_ref())
        .and_then(|cf| {
            let code = cf.methods.get(region.method)?.code.as_ref()?;
            Some(disasm::disassemble(&code.code, &cf.pool))
        })
        .unwrap_or_default();
    let text_of = |pc: usize| {
        lines
            .iter()
            .find(|l| l.pc == pc)
            .map_or_else(String::new, |l| l.text.clone())
    };
    let pcs: Vec<(usize, u32)> = region.pcs.iter().map(|(&p, &a)| (p, a)).collect();
    let mut rows: Vec<Row> = pcs
        .iter()
        .enumerate()
        .map(|(i, &(pc, a))| {
            let next = pcs.get(i + 1).map_or(region.stubs, |&(_, b)| b);
            Row {
                pc: Some(pc),
                bytecode: alloc::format!("{pc:>4}: {}", text_of(pc)),
                x86: decode(region, a, next.min(region.stubs)),
            }
        })
        .collect();
    let end = region.base + region.bytes.len() as u32;
    if region.stubs < end {
        rows.push(Row {
            pc: None,
            bytecode: "out-of-line exits".into(),
            x86: decode(region, region.stubs, end),
        });
    }
    CompiledView {
        method: region.title.clone(),
        entry: region.entry,
        base: region.base,
        code_bytes: region.bytes.len(),
        rows,
        listing: region.text.clone(),
    }
}
