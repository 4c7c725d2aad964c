//! The trap log as files: CSV (one row per entry, RFC 4180 quoting) and JSON.

use crate::protocol::LogEntry;

/// The CSV header row.
pub const CSV_HEADER: &str = "icount,linear_eip,reason,text";

/// Quotes a CSV field when it holds a comma, a quote or a line break.
fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// The log as CSV: a header, then one row per entry, oldest first.
pub fn log_csv(entries: &[LogEntry]) -> String {
    let mut out = String::from(CSV_HEADER);
    out.push_str("\r\n");
    for e in entries {
        out.push_str(&format!(
            "{},{:08x},{},{}\r\n",
            e.icount,
            e.linear_eip,
            csv_field(&e.reason),
            csv_field(&e.text)
        ));
    }
    out
}

/// The log as a JSON array of entries, oldest first.
pub fn log_json(entries: &[LogEntry]) -> String {
    serde_json::to_string_pretty(entries).unwrap_or_else(|_| "[]".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(icount: u64, reason: &str, text: &str) -> LogEntry {
        LogEntry {
            icount,
            linear_eip: 0x1_0004 + icount as u32,
            reason: reason.into(),
            text: text.into(),
            page: None,
        }
    }

    /// Splits CSV text into records of fields, undoing the quoting.
    fn parse_csv(text: &str) -> Vec<Vec<String>> {
        let (mut rows, mut row, mut field) = (Vec::new(), Vec::new(), String::new());
        let mut chars = text.chars().peekable();
        let mut quoted = false;
        while let Some(c) = chars.next() {
            match (quoted, c) {
                (true, '"') if chars.peek() == Some(&'"') => {
                    chars.next();
                    field.push('"');
                }
                (true, '"') => quoted = false,
                (true, c) => field.push(c),
                (false, '"') => quoted = true,
                (false, ',') => row.push(std::mem::take(&mut field)),
                (false, '\r') => {}
                (false, '\n') => {
                    row.push(std::mem::take(&mut field));
                    rows.push(std::mem::take(&mut row));
                }
                (false, c) => field.push(c),
            }
        }
        rows
    }

    #[test]
    fn csv_rows_parse_back_to_the_entries() {
        let log = vec![
            entry(3, "io", "out 0x3f8, al = 0x41"),
            entry(9, "exception", "#GP(0x10) \"bad\" selector,\nthen halt"),
        ];
        let rows = parse_csv(&log_csv(&log));
        assert_eq!(rows.len(), 3);
        assert_eq!(rows[0].join(","), CSV_HEADER);
        for (row, e) in rows[1..].iter().zip(&log) {
            assert_eq!(row.len(), 4);
            assert_eq!(row[0].parse::<u64>().unwrap(), e.icount);
            assert_eq!(u32::from_str_radix(&row[1], 16).unwrap(), e.linear_eip);
            assert_eq!((&row[2], &row[3]), (&e.reason, &e.text));
        }
    }

    #[test]
    fn json_parses_back_to_the_entries() {
        let log = vec![entry(1, "vm-exit", "hlt"), entry(2, "interrupt", "irq 0")];
        let back: Vec<LogEntry> = serde_json::from_str(&log_json(&log)).unwrap();
        assert_eq!(back, log);
        assert_eq!(log_json(&[]), "[]");
    }
}
