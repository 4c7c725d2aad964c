//! The disassembly (pc and mnemonic of every instruction of every method) is the
//! same as `javap -c` prints for the compiled test programs.

mod common;

use std::process::Command;

use vmlab_jvm::classfile::{disasm::disassemble, ClassFile};

#[test]
fn pcs_and_mnemonics_match_javap() {
    let dir = common::classes();
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| {
            e.ok()?
                .file_name()
                .to_str()?
                .strip_suffix(".class")
                .map(String::from)
        })
        .collect();
    names.sort();
    assert!(names.len() >= 10);
    let out = Command::new("javap")
        .arg("-c")
        .arg("-p")
        .arg("-cp")
        .arg(dir)
        .args(&names)
        .output()
        .expect("javap runs");
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    // javap's instruction lines: "      12: invokevirtual #7 ..."; switch arms are indented "  1: 34".
    let want: Vec<(usize, String)> = text
        .lines()
        .filter_map(|l| {
            let (pc, rest) = l.trim_start().split_once(": ")?;
            let pc: usize = pc.parse().ok()?;
            let word = rest.split_whitespace().next()?;
            if !word.chars().next()?.is_ascii_lowercase() {
                return None;
            }
            Some((pc, word.to_string()))
        })
        .collect();
    let mut got = Vec::new();
    for n in &names {
        let bytes = std::fs::read(dir.join(format!("{n}.class"))).unwrap();
        let cf = ClassFile::parse(n, &bytes).unwrap();
        for m in &cf.methods {
            if let Some(code) = &m.code {
                for l in disassemble(&code.code, &cf.pool) {
                    got.push((l.pc, l.text.split_whitespace().next().unwrap().to_string()));
                }
            }
        }
    }
    assert!(got.len() > 500);
    if let Some(i) = (0..got.len().min(want.len())).find(|&i| got[i] != want[i]) {
        panic!("instruction {i}: vmlab {:?}, javap {:?}", got[i], want[i]);
    }
    assert_eq!(got.len(), want.len());
}
