//! A small SVG writer for the lab's pictures: boxes, text, arrows lit in order,
//! and the `<title>`/`<desc>` text alternative every picture carries.

use std::fmt::Write as _;

/// The type size of every label, in user units (the pictures are drawn so that a
/// user unit is about a pixel on a projector).
pub const FONT: f64 = 20.0;
/// The seconds between two lit elements' animations.
const LIGHT_STEP: f64 = 0.45;

/// `&`, `<`, `>` and `"` escaped for SVG text and attribute values.
pub fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            c => out.push(c),
        }
    }
    out
}

/// A colour legend: a swatch and a name per entry, laid out in rows that wrap at
/// the picture's width.
#[derive(Debug, Default)]
pub struct Legend<'a> {
    entries: Vec<(&'a str, &'a str)>,
}

impl<'a> Legend<'a> {
    /// The height of one row of the legend.
    pub const ROW: f64 = 32.0;

    /// Adds `name` in `colour` unless the legend already names it.
    pub fn add(&mut self, name: &'a str, colour: &'a str) {
        if !self.entries.iter().any(|e| e.0 == name) {
            self.entries.push((name, colour));
        }
    }

    /// Each entry's top-left corner, for a legend whose first baseline is `y`
    /// in a picture `width` wide.
    fn places(&self, width: f64, y: f64) -> Vec<(f64, f64)> {
        let (mut x, mut y) = (10.0, y);
        self.entries
            .iter()
            .map(|(name, _)| {
                let w = 34.0 + name.chars().count() as f64 * 10.5;
                if x + w > width && x > 10.0 {
                    x = 10.0;
                    y += Self::ROW;
                }
                let at = (x, y);
                x += w;
                at
            })
            .collect()
    }

    /// How many rows the legend takes in a picture `width` wide.
    pub fn rows(&self, width: f64) -> usize {
        let mut ys: Vec<u64> = self.places(width, 0.0).iter().map(|p| p.1 as u64).collect();
        ys.dedup();
        ys.len().max(1)
    }

    /// Draws the legend with its first baseline at `y`.
    pub fn draw(&self, s: &mut Svg, width: f64, y: f64) {
        for ((name, colour), (x, y)) in self.entries.iter().zip(self.places(width, y)) {
            s.raw(&format!(
                r#"<rect x="{x:.1}" y="{:.1}" width="20" height="20" fill="{colour}"/>"#,
                y - 16.0
            ));
            s.text(x + 26.0, y, "start", "legend", name);
        }
    }
}

/// An SVG picture being written.
#[derive(Debug)]
pub struct Svg {
    out: String,
}

impl Svg {
    /// Starts a `width` × `height` picture with test id `testid`, its title (also
    /// its accessible name) and a description that says in words what it shows.
    pub fn new(testid: &str, width: f64, height: f64, title: &str, desc: &str) -> Svg {
        let mut out = String::new();
        let _ = write!(
            out,
            r#"<svg xmlns="http://www.w3.org/2000/svg" class="picture" data-testid="{testid}" viewBox="0 0 {width} {height}" role="img" aria-labelledby="{testid}-title {testid}-desc" font-size="{FONT}"><title id="{testid}-title">{}</title><desc id="{testid}-desc">{}</desc>"#,
            esc(title),
            esc(desc)
        );
        Svg { out }
    }

    /// A rectangle of CSS class `class`, with extra attributes (already escaped).
    pub fn rect(&mut self, x: f64, y: f64, w: f64, h: f64, class: &str, extra: &str) {
        let _ = write!(
            self.out,
            r#"<rect x="{x:.1}" y="{y:.1}" width="{w:.1}" height="{h:.1}" rx="4" class="{class}" {extra}/>"#
        );
    }

    /// A line of text; `anchor` is `start`, `middle` or `end`.
    pub fn text(&mut self, x: f64, y: f64, anchor: &str, class: &str, text: &str) {
        let _ = write!(
            self.out,
            r#"<text x="{x:.1}" y="{y:.1}" text-anchor="{anchor}" class="{class}">{}</text>"#,
            esc(text)
        );
    }

    /// An arrow from (x1, y1) to (x2, y2). With `order`, it is lit in that place of
    /// the sequence (class `lit`, `data-order`, an animation delay).
    pub fn arrow(
        &mut self,
        (x1, y1): (f64, f64),
        (x2, y2): (f64, f64),
        class: &str,
        order: Option<usize>,
    ) {
        let (dx, dy) = (x2 - x1, y2 - y1);
        let len = (dx * dx + dy * dy).sqrt().max(1.0);
        let (ux, uy) = (dx / len, dy / len);
        let (bx, by) = (x2 - ux * 12.0, y2 - uy * 12.0);
        let (px, py) = (-uy * 6.0, ux * 6.0);
        let head = format!(
            "{x2:.1},{y2:.1} {:.1},{:.1} {:.1},{:.1}",
            bx + px,
            by + py,
            bx - px,
            by - py
        );
        self.group_open(class, order);
        let _ = write!(
            self.out,
            r#"<line x1="{x1:.1}" y1="{y1:.1}" x2="{bx:.1}" y2="{by:.1}"/><polygon points="{head}"/></g>"#
        );
    }

    /// A path (`d` in SVG syntax) ending in an arrowhead that points along
    /// (`ux`, `uy`) at its end (`x2`, `y2`).
    pub fn curve(
        &mut self,
        d: &str,
        (x2, y2): (f64, f64),
        (ux, uy): (f64, f64),
        class: &str,
        order: Option<usize>,
    ) {
        let (bx, by) = (x2 - ux * 12.0, y2 - uy * 12.0);
        let (px, py) = (-uy * 6.0, ux * 6.0);
        self.group_open(class, order);
        let _ = write!(
            self.out,
            r#"<path d="{d}" fill="none"/><polygon points="{x2:.1},{y2:.1} {:.1},{:.1} {:.1},{:.1}"/></g>"#,
            bx + px,
            by + py,
            bx - px,
            by - py
        );
    }

    /// Opens a `<g>` of class `class`, lit in place `order` when given.
    pub fn group_open(&mut self, class: &str, order: Option<usize>) {
        match order {
            Some(i) => {
                let _ = write!(
                    self.out,
                    r#"<g class="{class} lit" data-order="{i}" style="animation-delay: {:.2}s">"#,
                    i as f64 * LIGHT_STEP
                );
            }
            None => {
                let _ = write!(self.out, r#"<g class="{class}">"#);
            }
        }
    }

    /// Closes a `<g>`.
    pub fn group_close(&mut self) {
        self.out.push_str("</g>");
    }

    /// Raw SVG (the caller escapes).
    pub fn raw(&mut self, svg: &str) {
        self.out.push_str(svg);
    }

    /// The finished `<svg>` element.
    pub fn finish(mut self) -> String {
        self.out.push_str("</svg>");
        self.out
    }
}

/// Lines of at most `width` user units of `char_w`-wide characters, words kept whole.
pub fn wrap(text: &str, width: f64, char_w: f64) -> Vec<String> {
    let max = ((width / char_w) as usize).max(1);
    let mut lines: Vec<String> = Vec::new();
    let mut line = String::new();
    for word in text.split_whitespace() {
        if !line.is_empty() && line.chars().count() + 1 + word.chars().count() > max {
            lines.push(std::mem::take(&mut line));
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
    }
    if !line.is_empty() {
        lines.push(line);
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_legend_names_each_colour_once_and_wraps_at_the_width() {
        let mut legend = Legend::default();
        for name in ["guest", "exit", "guest", "emulate"] {
            legend.add(name, "#123456");
        }
        assert_eq!(legend.entries.len(), 3, "a repeated name is one entry");
        assert_eq!(legend.rows(1000.0), 1);
        assert_eq!(legend.rows(150.0), 3, "each entry needs a row of its own");
        let mut s = Svg::new("t", 150.0, 200.0, "t", "d");
        legend.draw(&mut s, 150.0, 40.0);
        let svg = s.finish();
        assert_eq!(svg.matches("class=\"legend\"").count(), 3);
        assert!(
            svg.contains("y=\"104.0\""),
            "the third row's baseline: {svg}"
        );
    }

    #[test]
    fn text_is_escaped_and_the_picture_has_a_text_alternative() {
        let mut s = Svg::new("pic", 100.0, 50.0, "a < b", "x & y");
        s.text(1.0, 2.0, "start", "label", "<b>");
        s.arrow((0.0, 0.0), (50.0, 0.0), "edge", Some(2));
        let out = s.finish();
        assert!(out.contains(r#"role="img""#));
        assert!(out.contains("<title id=\"pic-title\">a &lt; b</title>"));
        assert!(out.contains("<desc id=\"pic-desc\">x &amp; y</desc>"));
        assert!(out.contains("&lt;b&gt;</text>"));
        assert!(out.contains(r#"class="edge lit" data-order="2" style="animation-delay: 0.90s""#));
        assert!(out.ends_with("</g></svg>"));
    }

    #[test]
    fn wrapping_keeps_words_whole() {
        assert_eq!(wrap("aa bb cc", 5.0, 1.0), ["aa bb", "cc"]);
        assert_eq!(wrap("", 5.0, 1.0), Vec::<String>::new());
        assert_eq!(wrap("toolongword x", 3.0, 1.0), ["toolongword", "x"]);
    }
}
