//! The nested-paging picture: the two-dimensional walk as a grid of guest levels ×
//! nested levels, each memory reference numbered and lit in the order the hardware
//! makes it, with the count and what it grows to with 4-level tables.

use emulator_core::vmm::nested::NestedWalk;

use super::svg::{wrap, Svg};

const W: f64 = 800.0;
const HEAD_W: f64 = 190.0;
const CELL_W: f64 = 194.0;
const CELL_H: f64 = 74.0;
const TOP: f64 = 40.0;

/// The references of a two-dimensional walk in grid places: (row, column, step
/// index). Row r is the r-th guest reference (the last row is the data); columns
/// 0..m are the nested levels, column m the guest entry itself.
pub fn places(walk: &NestedWalk) -> (Vec<(usize, usize, usize)>, usize) {
    let mut out = Vec::new();
    let (mut row, mut col, mut nested_levels) = (0, 0, 0);
    for (i, s) in walk.steps.iter().enumerate() {
        if s.what.starts_with("guest") {
            nested_levels = nested_levels.max(col);
            out.push((row, usize::MAX, i));
            row += 1;
            col = 0;
        } else {
            out.push((row, col, i));
            col += 1;
        }
    }
    let nested_levels = nested_levels.max(col);
    for p in &mut out {
        if p.1 == usize::MAX {
            p.1 = nested_levels;
        }
    }
    (out, nested_levels)
}

/// The textbook count of references: n guest levels, m nested levels.
pub const fn textbook(n: usize, m: usize) -> usize {
    (n + 1) * (m + 1) - 1
}

/// The picture of `walk`.
pub fn picture(walk: &NestedWalk) -> String {
    let (cells, m) = places(walk);
    let n = cells.iter().filter(|c| c.1 == m).count();
    let rows = n + 1;
    let refs = walk.steps.len();
    let note_y = TOP + rows as f64 * CELL_H + 40.0;
    let notes = [
        format!(
            "{refs} references for one TLB miss: {n} guest entries, and {} nested walks of {m} (one per guest entry, one for the data): ({n} + 1) × ({m} + 1) − 1 = {}. A native walk reads {n}.",
            n + 1,
            textbook(n, m)
        ),
        format!(
            "4-level guest tables on 4-level nested tables: (4 + 1) × (4 + 1) − 1 = {} references. Real EPT is 4-level: this {n}-level guest would need ({n} + 1) × (4 + 1) − 1 = {}.",
            textbook(4, 4),
            textbook(n, 4)
        ),
    ];
    let note_lines: Vec<String> = notes.iter().flat_map(|t| wrap(t, W - 20.0, 10.2)).collect();
    let height = note_y + note_lines.len() as f64 * 27.0 + 10.0;
    let mut desc = format!(
        "The two-dimensional walk of {:08x}, in order: ",
        walk.linear
    );
    desc += &walk
        .steps
        .iter()
        .enumerate()
        .map(|(i, s)| format!("{} {} at {:08x}", i + 1, s.what, s.host_address))
        .collect::<Vec<_>>()
        .join("; ");
    desc += &format!(". {}", notes.join(" "));
    let mut s = Svg::new(
        "nested-picture",
        W,
        height,
        &format!(
            "Two-dimensional walk of {:08x}: {refs} references",
            walk.linear
        ),
        &desc,
    );
    // Column heads: the nested levels, then the guest's own read.
    for c in 0..=m {
        let x = HEAD_W + c as f64 * CELL_W + CELL_W / 2.0;
        let name = if c == m {
            "guest read".to_string()
        } else {
            format!("nested L{}", m - c)
        };
        s.text(x, TOP - 10.0, "middle", "head", &name);
    }
    for r in 0..rows {
        let y = TOP + r as f64 * CELL_H;
        let name = match (r, r == n) {
            (_, true) => "the data".to_string(),
            (0, _) => "guest PDE".to_string(),
            (1, _) => "guest PTE".to_string(),
            _ => format!("guest level {}", r + 1),
        };
        s.text(8.0, y + CELL_H / 2.0 + 7.0, "start", "head", &name);
        for c in 0..=m {
            let x = HEAD_W + c as f64 * CELL_W;
            s.rect(x + 3.0, y + 3.0, CELL_W - 6.0, CELL_H - 6.0, "cell", "");
        }
    }
    for &(r, c, i) in &cells {
        let x = HEAD_W + c as f64 * CELL_W;
        let y = TOP + r as f64 * CELL_H;
        let step = &walk.steps[i];
        let class = if c == m {
            "ref guest-ref"
        } else {
            "ref nested-ref"
        };
        s.group_open(class, Some(i + 1));
        s.rect(
            x + 3.0,
            y + 3.0,
            CELL_W - 6.0,
            CELL_H - 6.0,
            "cell-lit",
            &format!(r#"data-row="{r}" data-col="{c}""#),
        );
        s.text(x + 14.0, y + 32.0, "start", "num", &format!("{}", i + 1));
        s.text(
            x + 44.0,
            y + 32.0,
            "start",
            "mono",
            &format!("{:08x}", step.host_address),
        );
        s.text(
            x + 44.0,
            y + 58.0,
            "start",
            "dim",
            if c == m {
                "guest entry"
            } else {
                "nested entry"
            },
        );
        s.group_close();
    }
    if let Some(h) = walk.host_physical {
        let x = HEAD_W + m as f64 * CELL_W;
        let y = TOP + n as f64 * CELL_H;
        s.text(x + 14.0, y + 32.0, "start", "mono", &format!("→ {h:08x}"));
        s.text(x + 14.0, y + 58.0, "start", "dim", "the access");
    }
    s.text(
        8.0,
        note_y - 8.0,
        "start",
        "count",
        &format!("{refs} references"),
    );
    for (j, line) in note_lines.iter().enumerate() {
        s.text(
            10.0,
            note_y + 20.0 + j as f64 * 27.0,
            "start",
            "legend",
            line,
        );
    }
    s.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use emulator_core::mmu::PagingRegs;
    use emulator_core::vmm::NestedPaging;

    /// A 2-level guest that maps linear 0x400000 to 0xb8000, walked by the core.
    fn core_walk() -> NestedWalk {
        let mut ram = vec![0u32; 0x30000 / 4];
        ram[(0x10000 + 4) / 4] = 0x11000 | 7; // PDE 1 → table at 0x11000
        ram[0x11000 / 4] = 0xb8000 | 7; // PTE 0 → frame 0xb8000
        let regs = PagingRegs {
            cr0: 0x8000_0001,
            cr3: 0x10000,
            cr4: 0,
        };
        let p2m = emulator_core::vmm::P2m::default();
        NestedPaging::probe(regs, 0x40_0000, &p2m, |a| {
            ram.get(a as usize / 4).copied().unwrap_or(0)
        })
    }

    #[test]
    fn the_grid_places_every_reference_of_the_cores_walk() {
        let w = core_walk();
        assert_eq!(
            w.host_physical,
            Some(emulator_core::vmm::p2m::host_of(0xb8000))
        );
        let (cells, m) = places(&w);
        assert_eq!(m, 2, "a two-level nested table");
        assert_eq!(cells.len(), w.steps.len());
        assert_eq!(cells.len(), textbook(2, m));
        assert_eq!(
            cells.iter().map(|&(r, c, _)| (r, c)).collect::<Vec<_>>(),
            [
                (0, 0),
                (0, 1),
                (0, 2),
                (1, 0),
                (1, 1),
                (1, 2),
                (2, 0),
                (2, 1)
            ]
        );
        let svg = picture(&w);
        assert_eq!(svg.matches(" lit\"").count(), w.steps.len());
        assert!(svg.contains(r#"data-order="8""#) && !svg.contains(r#"data-order="9""#));
        assert!(svg.contains("(2 + 1) × (2 + 1) − 1 = 8"));
        assert!(svg.contains("(4 + 1) × (4 + 1) − 1 = 24"));
        assert!(svg.contains("(2 + 1) × (4 + 1) − 1 = 14"));
        assert!(svg.contains(">→ 100b8000<"), "the host frame of the access");
    }

    #[test]
    fn the_textbook_counts() {
        assert_eq!(textbook(2, 2), 8);
        assert_eq!(textbook(4, 4), 24);
        assert_eq!(textbook(2, 4), 14);
        assert_eq!(textbook(1, 2), 5);
    }
}
