//! Assembling the editor's text with vmlab's assembler into a [`Program`].

use crate::program::{entry_for, Diag, Program};

/// Assembles `source` with vmlab's assembler; `%include "NAME"` reads the shared
/// guest include `guests/include/NAME` (embedded by crate `vmlab-demos`).
pub fn assemble(name: &str, source: &str) -> Result<Program, Vec<Diag>> {
    let include = |file: &str| vmlab_demos::include(file).map(str::to_string);
    let options = vmlab_asm::Options {
        include: Some(&include),
        ..vmlab_asm::Options::default()
    };
    let out = vmlab_asm::assemble(name, source, &options).map_err(|e| {
        e.0.into_iter()
            .map(|d| Diag {
                line: d.line as usize,
                col: d.col as usize,
                message: d.message,
            })
            .collect::<Vec<_>>()
    })?;
    let mut lines: Vec<(u32, u32, usize)> = out
        .listing
        .iter()
        .filter(|l| l.length > 0 && l.file == name)
        .map(|l| (l.address, l.address.wrapping_add(l.length), l.line as usize))
        .collect();
    lines.sort_unstable();
    Ok(Program {
        image: out.bytes,
        origin: out.origin,
        entry: Some(entry_for(source)),
        lines,
        symbols: out.symbols,
        source: source.to_string(),
        rom: false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_flat_demo_assembles_with_its_labels() {
        // ROM demos (`boot = "rom"`) start at the reset vector: `demos::tests` covers them.
        let flat = crate::demos::all()
            .iter()
            .filter(|d| d.manifest.boot == vmlab_demos::Boot::Flat)
            .filter(|d| !crate::demos_linux::is_linux(d));
        for d in flat {
            let p = assemble("demo.asm", d.source).unwrap_or_else(|e| panic!("{}: {:?}", d.id, e));
            assert_eq!(p.origin, 0x10000, "{}", d.id);
            assert!(p.symbol("start").is_some(), "{}", d.id);
            assert_eq!(
                p.line_of(p.origin),
                p.source
                    .lines()
                    .position(|l| l.starts_with("    mov esp"))
                    .map(|i| i + 1)
            );
        }
    }

    #[test]
    fn shared_includes_assemble_and_unknown_ones_are_errors() {
        let p = assemble("x.asm", "bits 32\norg 0x10000\nstart:\n    mov esi, 0\n    call puts\n    hlt\n%include \"pc.inc\"\n")
            .expect("assembles");
        let puts = p.symbol("puts").expect("the include's routine");
        assert!(puts > p.symbol("start").expect("start"));
        let e = assemble("x.asm", "bits 32\n%include \"nope.inc\"\n").unwrap_err();
        assert!(e[0].message.contains("nope.inc"), "{e:?}");
        assert_eq!(e[0].line, 2);
    }

    #[test]
    fn errors_come_back_on_their_lines() {
        let e = assemble("x.asm", "bits 32\nmov eax, 1\nfrobnicate eax\n").unwrap_err();
        assert_eq!(e.len(), 1, "{e:?}");
        assert_eq!(e[0].line, 3);
        assert!(!e[0].message.is_empty());
    }
}
