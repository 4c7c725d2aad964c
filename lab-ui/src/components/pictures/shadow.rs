//! The shadow-paging picture: guest-virtual | guest-physical | host-physical pages
//! side by side, each guest entry linked to its shadow entry, and the hidden and
//! true faults marked on the pages where they happened.

use std::collections::BTreeSet;

use super::svg::Svg;
use crate::protocol::{LogEntry, TableTree};

/// The most pages the picture shows.
pub const MAX_ROWS: usize = 4;
const W: f64 = 800.0;
const COL_W: f64 = 214.0;
const COL_X: [f64; 3] = [10.0, 293.0, 576.0];
const ROW_H: f64 = 90.0;
/// What the arc and the badges mean.
const LEGEND: [&str; 3] = [
    "arc: the shadow entry, which the MMU uses",
    "true: the guest's tables forbid it; #PF injected",
    "hidden: the shadow lacked the entry; the VMM filled it",
];
const TOP: f64 = 84.0;

/// Where `linear` maps through a two-level tree: the frame of its 4 KiB page (or
/// of its place in a 4 MiB page), when present.
pub fn lookup(tree: &TableTree, linear: u32) -> Option<u32> {
    let (di, ti) = (linear >> 22, (linear >> 12) & 0x3ff);
    let pde = tree.directory.iter().find(|p| p.index == di)?;
    match tree.tables.iter().find(|(i, _)| *i == di) {
        Some((_, ptes)) => ptes.iter().find(|p| p.index == ti).map(|p| p.frame()),
        None if pde.large() => Some((pde.raw & 0xffc0_0000) | (ti << 12)),
        None => None,
    }
}

/// One page's row.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Row {
    /// The guest-virtual page.
    pub linear: u32,
    /// Its guest-physical frame by the guest's tables.
    pub guest: Option<u32>,
    /// Its host-physical frame by the shadow tables.
    pub shadow: Option<u32>,
    /// Shadow fills (hidden faults) on the page in the log.
    pub hidden: usize,
    /// Page faults injected into the guest (true faults) on the page in the log.
    pub true_faults: usize,
}

/// The pages to show: the walked page, pages with faults (newest first), then the
/// pages the shadow maps, at most [`MAX_ROWS`], in address order.
pub fn rows(
    guest: &TableTree,
    shadow: &TableTree,
    walked: Option<u32>,
    log: &[LogEntry],
) -> Vec<Row> {
    let faults = |reason: &str, page: u32| {
        log.iter()
            .filter(|e| e.reason == reason && e.page == Some(page))
            .count()
    };
    let mut pages: Vec<u32> = walked.map(|a| a & !0xfff).into_iter().collect();
    pages.extend(log.iter().rev().filter_map(|e| e.page));
    for (di, ptes) in &shadow.tables {
        pages.extend(ptes.iter().map(|p| (di << 22) | (p.index << 12)));
    }
    let mut seen = BTreeSet::new();
    pages.retain(|p| seen.insert(*p));
    pages.truncate(MAX_ROWS);
    pages.sort_unstable();
    pages
        .into_iter()
        .map(|linear| Row {
            linear,
            guest: lookup(guest, linear),
            shadow: lookup(shadow, linear),
            hidden: faults("exit:shadow-fill", linear),
            true_faults: faults("exit:page-fault", linear),
        })
        .collect()
}

fn cell(s: &mut Svg, col: usize, y: f64, class: &str, text: &str) {
    s.rect(
        COL_X[col],
        y,
        COL_W,
        36.0,
        class,
        &format!(r#"data-col="{col}""#),
    );
    s.text(COL_X[col] + COL_W / 2.0, y + 25.0, "middle", "mono", text);
}

/// A fault badge; returns its width.
fn badge(s: &mut Svg, x: f64, y: f64, class: &str, text: &str) -> f64 {
    let w = 16.0 + text.chars().count() as f64 * 12.5;
    s.rect(x, y, w, 26.0, class, "");
    s.text(x + w / 2.0, y + 20.0, "middle", "badge-text", text);
    w
}

/// The picture of `rows`.
pub fn picture(rows: &[Row]) -> String {
    let height = TOP + rows.len().max(1) as f64 * ROW_H + 96.0;
    let desc: Vec<String> = rows
        .iter()
        .map(|r| {
            format!(
                "{:08x} → {} → {}{}{}",
                r.linear,
                r.guest
                    .map_or("not mapped by the guest".into(), |g| format!(
                        "guest-physical {g:08x}"
                    )),
                r.shadow.map_or("not in the shadow yet".into(), |h| format!(
                    "host-physical {h:08x} (shadow entry)"
                )),
                if r.hidden > 0 {
                    format!(", {} hidden fault(s)", r.hidden)
                } else {
                    String::new()
                },
                if r.true_faults > 0 {
                    format!(", {} true fault(s)", r.true_faults)
                } else {
                    String::new()
                },
            )
        })
        .collect();
    let mut s = Svg::new(
        "shadow-picture",
        W,
        height,
        "Guest entries and their shadows",
        &format!(
            "Guest-virtual, guest-physical and host-physical pages: {}.",
            desc.join("; ")
        ),
    );
    for (col, name) in ["guest-virtual", "guest-physical", "host-physical"]
        .iter()
        .enumerate()
    {
        s.text(COL_X[col] + COL_W / 2.0, 26.0, "middle", "head", name);
    }
    s.text(COL_X[1] - 34.0, 56.0, "middle", "dim", "guest");
    s.text(COL_X[2] - 34.0, 56.0, "middle", "dim", "VMM");
    if rows.is_empty() {
        s.text(
            W / 2.0,
            TOP + 40.0,
            "middle",
            "dim",
            "no page mapped by the shadow yet",
        );
    }
    for (i, r) in rows.iter().enumerate() {
        let y = TOP + i as f64 * ROW_H + 18.0;
        s.raw(&format!(
            r#"<g class="row" data-row="{i}" data-linear="{:08x}">"#,
            r.linear
        ));
        cell(&mut s, 0, y, "box", &format!("{:08x}", r.linear));
        match r.guest {
            Some(g) => cell(&mut s, 1, y, "box", &format!("{g:08x}")),
            None => cell(&mut s, 1, y, "box missing", "not mapped"),
        }
        match r.shadow {
            Some(h) => cell(&mut s, 2, y, "box frame", &format!("{h:08x}")),
            None => cell(&mut s, 2, y, "box skipped", "not in shadow"),
        }
        let mid = y + 18.0;
        if r.guest.is_some() {
            s.arrow(
                (COL_X[0] + COL_W, mid),
                (COL_X[1], mid),
                "edge guest-entry",
                None,
            );
            s.arrow(
                (COL_X[1] + COL_W, mid),
                (COL_X[2], mid),
                "edge memory-map",
                None,
            );
        }
        if r.shadow.is_some() {
            // The shadow entry maps guest-virtual straight to host-physical, over the
            // guest-physical column.
            let (x1, x2) = (COL_X[0] + COL_W * 0.75, COL_X[2] + COL_W * 0.25);
            s.curve(
                &format!(
                    "M {x1:.1} {y:.1} C {x1:.1} {:.1}, {x2:.1} {:.1}, {x2:.1} {y:.1}",
                    y - 22.0,
                    y - 22.0
                ),
                (x2, y),
                (0.0, 1.0),
                "edge shadow-link",
                None,
            );
        }
        let mut bx = COL_X[1];
        for (count, kind) in [(r.true_faults, "true"), (r.hidden, "hidden")] {
            if count > 0 {
                s.raw(&format!(r#"<g class="fault {kind}-fault">"#));
                bx += 6.0
                    + badge(
                        &mut s,
                        bx,
                        y + 42.0,
                        &format!("badge-{kind}"),
                        &format!("{kind} ×{count}"),
                    );
                s.group_close();
            }
        }
        s.group_close();
    }
    for (j, line) in LEGEND.iter().enumerate() {
        s.text(
            10.0,
            height - 72.0 + j as f64 * 28.0,
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
    use crate::protocol::TableEntry;

    fn tree(entries: &[(u32, u32)], large: &[(u32, u32)]) -> TableTree {
        let mut t = TableTree::default();
        for &(linear, raw) in entries {
            let di = linear >> 22;
            if !t.directory.iter().any(|p| p.index == di) {
                t.directory.push(TableEntry {
                    index: di,
                    raw: 0x1000 | 1,
                });
                t.tables.push((di, vec![]));
            }
            let table = t.tables.iter_mut().find(|(i, _)| *i == di).expect("added");
            table.1.push(TableEntry {
                index: (linear >> 12) & 0x3ff,
                raw,
            });
        }
        for &(di, raw) in large {
            t.directory.push(TableEntry { index: di, raw });
        }
        t
    }

    fn entry(reason: &str, page: u32) -> LogEntry {
        LogEntry {
            icount: 1,
            linear_eip: 0,
            reason: reason.into(),
            text: String::new(),
            page: Some(page),
        }
    }

    #[test]
    fn rows_link_guest_and_shadow_entries_and_count_faults() {
        let guest = tree(
            &[(0x20000, 0x20007), (0x300000, 0x123007)],
            &[(2, 0x0080_0087)],
        );
        let shadow = tree(&[(0x20000, 0x1020007)], &[]);
        let log = [
            entry("exit:shadow-fill", 0x20000),
            entry("exit:page-fault", 0x30_0000),
            entry("exit:shadow-fill", 0x30_0000),
            entry("exit:shadow-fill", 0x30_0000),
        ];
        let rows = rows(&guest, &shadow, Some(0x0080_5123), &log);
        assert_eq!(
            rows,
            [
                Row {
                    linear: 0x20000,
                    guest: Some(0x20000),
                    shadow: Some(0x102_0000),
                    hidden: 1,
                    true_faults: 0
                },
                Row {
                    linear: 0x30_0000,
                    guest: Some(0x12_3000),
                    shadow: None,
                    hidden: 2,
                    true_faults: 1
                },
                Row {
                    linear: 0x80_5000,
                    guest: Some(0x80_5000),
                    shadow: None,
                    hidden: 0,
                    true_faults: 0
                },
            ]
        );
        let svg = picture(&rows);
        assert_eq!(svg.matches("class=\"row\"").count(), 3);
        assert_eq!(svg.matches("shadow-link").count(), 1);
        assert!(svg.contains(">true ×1<") && svg.contains(">hidden ×2<"));
        assert!(svg.contains(">01020000<"), "the shadow's host frame");
        assert!(svg.contains("00300000 → guest-physical 00123000 → not in the shadow yet, 2 hidden fault(s), 1 true fault(s)"));
    }

    #[test]
    fn at_most_four_rows_and_the_walked_page_stays() {
        let entries: Vec<(u32, u32)> = (0..20).map(|i| (i << 12, (i << 12) | 7)).collect();
        let t = tree(&entries, &[]);
        let rows = rows(&t, &t, Some(0x40_0000), &[]);
        assert_eq!(rows.len(), MAX_ROWS);
        assert!(rows
            .iter()
            .any(|r| r.linear == 0x40_0000 && r.guest.is_none()));
    }
}
