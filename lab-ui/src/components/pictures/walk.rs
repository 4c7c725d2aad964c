//! The page-walk picture: the linear address split into its bit fields (10 | 10 |
//! 12), then CR3 → directory → table → frame as boxes with the arrows lit in order,
//! each entry's flags as badges, and a legend.

use super::svg::Svg;
use crate::protocol::{TableEntry, Walk};

/// The picture's width in user units.
const W: f64 = 800.0;
/// Where the chain of boxes starts.
const CHAIN_Y: f64 = 150.0;
/// A chain box's size.
const BOX_W: f64 = 176.0;
const BOX_H: f64 = 104.0;
/// The flag letters and their meanings, lowest bit first.
const FLAGS: [(char, &str); 9] = [
    ('P', "present"),
    ('W', "writable"),
    ('U', "user"),
    ('T', "write-through"),
    ('C', "cache off"),
    ('A', "accessed"),
    ('D', "dirty"),
    ('S', "4 MiB page"),
    ('G', "global"),
];

/// The bit fields of a linear address: (name, high bit, low bit, value, width in bits).
fn fields(linear: u32) -> [(&'static str, u32, u32, u32, u32); 3] {
    [
        ("directory index", 31, 22, linear >> 22, 10),
        ("table index", 21, 12, (linear >> 12) & 0x3ff, 10),
        ("offset", 11, 0, linear & 0xfff, 12),
    ]
}

/// The x of chain box `i` (0 CR3, 1 directory, 2 table, 3 frame).
fn box_x(i: usize) -> f64 {
    12.0 + i as f64 * (BOX_W + 22.0)
}

/// An entry's flag badges under its box.
fn badges(s: &mut Svg, x: f64, y: f64, raw: u32) {
    let letters = TableEntry { index: 0, raw }.flag_letters();
    for (i, ((c, meaning), shown)) in FLAGS.iter().zip(letters.chars()).enumerate() {
        let on = shown != '.';
        let bx = x + i as f64 * 19.5;
        s.raw(&format!(
            r#"<g class="flag{}" data-flag="{c}"><title>{c} {meaning}: {}</title>"#,
            if on { " on" } else { "" },
            if on { "set" } else { "clear" }
        ));
        s.rect(bx, y, 18.0, 26.0, "badge", "");
        s.text(bx + 9.0, y + 20.0, "middle", "mono", &c.to_string());
        s.group_close();
    }
}

/// One chain box with up to four lines.
fn chain_box(s: &mut Svg, i: usize, class: &str, lines: &[String]) {
    let x = box_x(i);
    s.rect(
        x,
        CHAIN_Y,
        BOX_W,
        BOX_H,
        class,
        &format!(r#"data-box="{i}""#),
    );
    for (j, line) in lines.iter().enumerate() {
        let cls = if j == 0 { "head" } else { "mono" };
        s.text(
            x + 8.0,
            CHAIN_Y + 24.0 + j as f64 * 25.0,
            "start",
            cls,
            line,
        );
    }
}

/// The picture of `walk`, or `None` when paging is off (no entries were read).
/// `host` adds the host-physical line of a walk under a VMM.
pub fn picture(walk: &Walk, host: bool) -> Option<String> {
    let pde = walk.steps.first()?;
    let pte = walk.steps.get(1);
    let linear = walk.linear;
    let f = fields(linear);
    let large = pte.is_none() && pde.entry & 0x81 == 0x81;
    let mut desc = format!(
        "Linear {linear:08x} = directory index {} | table index {} | offset {:03x}. CR3 {:08x} → PDE {} at {:08x} = {:08x}",
        f[0].3, f[1].3, f[2].3, walk.root, f[0].3, pde.entry_addr, pde.entry
    );
    if let Some(t) = pte {
        desc += &format!(
            " → PTE {} at {:08x} = {:08x}",
            f[1].3, t.entry_addr, t.entry
        );
    }
    match &walk.result {
        Ok(p) => desc += &format!(" → physical {p:08x}."),
        Err(e) => desc += &format!(": {e}."),
    }
    let mut s = Svg::new(
        "walk-picture",
        W,
        424.0,
        &format!("The page walk of {linear:08x}"),
        &desc,
    );
    // The address's bit fields, each as wide as its bits.
    let bit_w = (W - 24.0) / 32.0;
    let mut x = 12.0;
    let mut centres = [0.0; 3];
    for (i, (name, hi, lo, value, bits)) in f.iter().enumerate() {
        let w = f64::from(*bits) * bit_w;
        s.raw(&format!(r#"<g data-field="{i}" data-value="{value}">"#));
        s.text(x + 2.0, 22.0, "start", "dim", &hi.to_string());
        s.text(x + w - 2.0, 22.0, "end", "dim", &lo.to_string());
        s.rect(x, 30.0, w - 4.0, 34.0, &format!("field field-{i}"), "");
        let binary = format!("{:0width$b}", value, width = *bits as usize);
        s.text(x + (w - 4.0) / 2.0, 54.0, "middle", "mono", &binary);
        let label = if i == 2 {
            format!("{name} {value:03x}")
        } else {
            format!("{name} {value}")
        };
        s.text(x + (w - 4.0) / 2.0, 90.0, "middle", "", &label);
        s.group_close();
        centres[i] = x + (w - 4.0) / 2.0;
        x += w;
    }
    // The chain: CR3 → directory → table → frame.
    chain_box(
        &mut s,
        0,
        "box",
        &[
            "CR3".into(),
            format!("{:08x}", walk.root),
            "the directory".into(),
        ],
    );
    let pde_ok = pde.entry & 1 != 0;
    chain_box(
        &mut s,
        1,
        if pde_ok { "box" } else { "box missing" },
        &[
            format!("PDE {}", f[0].3),
            format!("at {:08x}", pde.entry_addr),
            format!("= {:08x}", pde.entry),
        ],
    );
    badges(&mut s, box_x(1), CHAIN_Y + BOX_H + 6.0, pde.entry);
    match (pte, large) {
        (Some(t), _) => {
            chain_box(
                &mut s,
                2,
                if t.entry & 1 != 0 {
                    "box"
                } else {
                    "box missing"
                },
                &[
                    format!("PTE {}", f[1].3),
                    format!("at {:08x}", t.entry_addr),
                    format!("= {:08x}", t.entry),
                ],
            );
            badges(&mut s, box_x(2), CHAIN_Y + BOX_H + 6.0, t.entry);
        }
        (None, true) => chain_box(
            &mut s,
            2,
            "box skipped",
            &["no table:".into(), "a 4 MiB".into(), "page".into()],
        ),
        (None, false) => chain_box(&mut s, 2, "box skipped", &["not read".into()]),
    }
    let mut frame = match &walk.result {
        Ok(p) => vec![
            "frame".to_string(),
            format!("{:08x}", p & !0xfff),
            format!("+ {:03x}", linear & 0xfff),
        ],
        Err(_) => vec!["#PF".to_string(), "not present".to_string()],
    };
    if let (true, Ok(_)) = (host, &walk.result) {
        frame.push(match walk.host {
            Some(h) => format!("host {h:08x}"),
            None => "host: none".into(),
        });
    }
    chain_box(
        &mut s,
        3,
        if walk.result.is_ok() {
            "box frame"
        } else {
            "box missing"
        },
        &frame,
    );
    // The arrows, lit in the order the walk reads: field → entry, entry → next.
    let mid = CHAIN_Y + BOX_H / 2.0;
    let mut order = 0;
    let mut next = || {
        order += 1;
        Some(order)
    };
    s.arrow((box_x(0) + BOX_W, mid), (box_x(1), mid), "edge", next());
    s.arrow(
        (centres[0], 98.0),
        (box_x(1) + BOX_W / 2.0, CHAIN_Y),
        "edge index",
        next(),
    );
    if pde_ok && !large {
        s.arrow((box_x(1) + BOX_W, mid), (box_x(2), mid), "edge", next());
        s.arrow(
            (centres[1], 98.0),
            (box_x(2) + BOX_W / 2.0, CHAIN_Y),
            "edge index",
            next(),
        );
        if pte.is_some_and(|t| t.entry & 1 != 0) {
            s.arrow((box_x(2) + BOX_W, mid), (box_x(3), mid), "edge", next());
        }
    } else if pde_ok {
        s.curve(
            &format!(
                "M {:.1} {:.1} C {:.1} {:.1}, {:.1} {:.1}, {:.1} {:.1}",
                box_x(1) + BOX_W / 2.0,
                CHAIN_Y + BOX_H,
                box_x(1) + BOX_W,
                CHAIN_Y + BOX_H + 60.0,
                box_x(3) - 40.0,
                CHAIN_Y + BOX_H + 40.0,
                box_x(3),
                CHAIN_Y + BOX_H - 10.0
            ),
            (box_x(3), CHAIN_Y + BOX_H - 10.0),
            (0.7, -0.7),
            "edge",
            next(),
        );
    }
    if walk.result.is_ok() {
        s.arrow(
            (centres[2], 98.0),
            (box_x(3) + BOX_W / 2.0, CHAIN_Y),
            "edge index",
            next(),
        );
    }
    // The legend of the badges.
    let legend: Vec<String> = FLAGS.iter().map(|(c, m)| format!("{c} {m}")).collect();
    s.text(12.0, 322.0, "start", "legend", "Flags, lit when set:");
    for (j, three) in legend.chunks(3).enumerate() {
        s.text(
            220.0,
            322.0 + j as f64 * 26.0,
            "start",
            "legend",
            &three.join(" · "),
        );
    }
    s.text(
        12.0,
        412.0,
        "start",
        "dim",
        &format!(
            "{} entries read; arrows light in the walk's order",
            walk.steps.len()
        ),
    );
    Some(s.finish())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::WalkStep;

    fn walk(linear: u32, steps: &[(u32, u32)], result: Result<u32, String>) -> Walk {
        Walk {
            linear,
            steps: steps
                .iter()
                .enumerate()
                .map(|(i, &(entry_addr, entry))| WalkStep {
                    level: if i == 0 { "PDE" } else { "PTE" }.into(),
                    entry_addr,
                    entry,
                })
                .collect(),
            result,
            detail: String::new(),
            root: 0x80000,
            host: None,
            nested: None,
        }
    }

    #[test]
    fn a_two_level_walk_lights_six_arrows_and_shows_the_fields() {
        let w = walk(
            0x0040_1234,
            &[(0x80004, 0x82067), (0x82004, 0xb8063)],
            Ok(0xb8234),
        );
        let svg = picture(&w, false).expect("paging on");
        assert!(svg.contains(r#"data-field="0" data-value="1""#));
        assert!(svg.contains(r#"data-field="1" data-value="1""#));
        assert!(svg.contains(r#"data-field="2" data-value="564""#), "0x234");
        assert!(svg.contains(">0000000001</text>") && svg.contains(">001000110100</text>"));
        assert_eq!(svg.matches(" lit\"").count(), 6);
        assert!(svg.contains(">= 00082067<") && svg.contains(">000b8000<"));
        // PDE 0x82067: P W U A D set; T C S G clear
        assert_eq!(svg.matches(r#"class="flag on""#).count(), 5 + 4);
        assert!(!svg.contains("host "));
        assert!(svg.contains("<desc id=\"walk-picture-desc\">Linear 00401234 = directory index 1 | table index 1 | offset 234."));
    }

    #[test]
    fn a_missing_table_ends_at_a_fault_and_paging_off_has_no_picture() {
        let w = walk(
            0x0080_0000,
            &[(0x80008, 0)],
            Err("the PDE is not present: a #PF".into()),
        );
        let svg = picture(&w, true).expect("a walk");
        assert_eq!(svg.matches(" lit\"").count(), 2, "CR3 → PDE, the index");
        assert!(svg.contains(">#PF<") && svg.contains("box missing"));
        assert!(picture(&walk(0x1000, &[], Ok(0x1000)), false).is_none());
        let large = walk(0x0040_5000, &[(0x80004, 0x0080_0083)], Ok(0x0080_5000));
        let svg = picture(&large, true).expect("a 4 MiB page");
        assert!(svg.contains(">a 4 MiB<") && svg.contains(">host: none<"));
        assert_eq!(svg.matches(" lit\"").count(), 4);
    }
}
