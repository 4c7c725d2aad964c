//! Tokenizer for one source line: identifiers, numbers, strings, operators.

use alloc::string::String;
use alloc::vec::Vec;

/// A token with the byte offset where it starts in the line.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Token {
    pub kind: Tok,
    pub pos: usize,
}

/// Token kinds.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Tok {
    /// Identifier, keyword or register name (case kept).
    Ident(String),
    /// Integer literal.
    Num(i64),
    /// Floating-point literal (`1.5`, `6.02e23`), as written.
    Float(String),
    /// Quoted string or character constant (bytes, escapes resolved for backquotes).
    Str(Vec<u8>),
    /// `$`: the address of the current line.
    Here,
    /// `$$`: the start of the section.
    SectStart,
    /// Operator or punctuation (`+`, `<<`, `//`, `[`, `,` ...).
    Op(&'static str),
}

/// A lexing failure: byte position and message.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct LexError {
    pub pos: usize,
    pub message: String,
}

fn is_ident_start(c: u8) -> bool {
    c.is_ascii_alphabetic() || matches!(c, b'_' | b'.' | b'?' | b'@')
}

fn is_ident_char(c: u8) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, b'_' | b'.' | b'?' | b'@' | b'$' | b'#' | b'~')
}

const OPS: &[&str] = &[
    "<<", ">>", "//", "%%", "||", "&&", "^^", "==", "!=", "<>", "<=", ">=", "+", "-", "*", "/",
    "%", "&", "|", "^", "~", "!", "(", ")", "[", "]", ",", ":", "<", ">", "=",
];

/// Returns the byte offset of a `;` comment outside quotes, if any.
pub(crate) fn comment_start(line: &str) -> Option<usize> {
    let b = line.as_bytes();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b';' => return Some(i),
            q @ (b'\'' | b'"' | b'`') => {
                i += 1;
                while i < b.len() && b[i] != q {
                    if q == b'`' && b[i] == b'\\' {
                        i += 1;
                    }
                    i += 1;
                }
            }
            _ => {}
        }
        i += 1;
    }
    None
}

/// Parses a numeric literal in any of NASM's notations.
pub(crate) fn parse_number(text: &str) -> Option<i64> {
    let t: String = text
        .chars()
        .filter(|&c| c != '_')
        .collect::<String>()
        .to_ascii_lowercase();
    let (digits, radix) = if let Some(r) = t.strip_prefix("0x").or_else(|| t.strip_prefix("0h")) {
        (r, 16)
    } else if t.len() > 1 && t.ends_with('h') {
        (&t[..t.len() - 1], 16)
    } else if let Some(r) = t.strip_prefix("0b").or_else(|| t.strip_prefix("0y")) {
        (r, 2)
    } else if let Some(r) = t.strip_prefix("0o").or_else(|| t.strip_prefix("0q")) {
        (r, 8)
    } else if let Some(r) = t.strip_prefix("0d").or_else(|| t.strip_prefix("0t")) {
        (r, 10)
    } else if t.len() > 1 && (t.ends_with('b') || t.ends_with('y')) {
        (&t[..t.len() - 1], 2)
    } else if t.len() > 1 && (t.ends_with('o') || t.ends_with('q')) {
        (&t[..t.len() - 1], 8)
    } else if t.len() > 1 && (t.ends_with('d') || t.ends_with('t')) {
        (&t[..t.len() - 1], 10)
    } else {
        (t.as_str(), 10)
    };
    if digits.is_empty() {
        return None;
    }
    let mut v: u64 = 0;
    for c in digits.chars() {
        let d = c.to_digit(radix)?;
        v = v.checked_mul(radix as u64)?.checked_add(d as u64)?;
    }
    Some(v as i64)
}

/// Splits one line (without its comment) into tokens.
pub(crate) fn tokenize(line: &str) -> Result<Vec<Token>, LexError> {
    let b = line.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if c == b' ' || c == b'\t' || c == b'\r' || c == b'\x0c' || c == b'\x0b' {
            i += 1;
            continue;
        }
        let start = i;
        if c == b'$' {
            if b.get(i + 1) == Some(&b'$') {
                out.push(Token {
                    kind: Tok::SectStart,
                    pos: start,
                });
                i += 2;
                continue;
            }
            if b.get(i + 1).is_some_and(|n| n.is_ascii_digit()) {
                // `$0F`: hexadecimal.
                i += 1;
                let s = i;
                while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_') {
                    i += 1;
                }
                let mut text = String::from("0x");
                text.push_str(&line[s..i]);
                match parse_number(&text) {
                    Some(v) => out.push(Token {
                        kind: Tok::Num(v),
                        pos: start,
                    }),
                    None => {
                        return Err(LexError {
                            pos: start,
                            message: alloc::format!("invalid number `{}'", &line[start..i]),
                        });
                    }
                }
                continue;
            }
            if b.get(i + 1).is_some_and(|&n| is_ident_start(n)) {
                // `$name`: an identifier that is not a keyword.
                i += 1;
                let s = i;
                while i < b.len() && is_ident_char(b[i]) {
                    i += 1;
                }
                out.push(Token {
                    kind: Tok::Ident(String::from(&line[s..i])),
                    pos: start,
                });
                continue;
            }
            out.push(Token {
                kind: Tok::Here,
                pos: start,
            });
            i += 1;
            continue;
        }
        if c.is_ascii_digit() {
            while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_') {
                i += 1;
            }
            if i < b.len() && b[i] == b'.' && b.get(i + 1).is_some_and(|d| d.is_ascii_digit()) {
                // digits . digits [e [+-] digits]
                i += 1;
                while i < b.len() && b[i].is_ascii_digit() {
                    i += 1;
                }
                if i < b.len() && matches!(b[i], b'e' | b'E') {
                    let mut j = i + 1;
                    if j < b.len() && matches!(b[j], b'+' | b'-') {
                        j += 1;
                    }
                    if j < b.len() && b[j].is_ascii_digit() {
                        i = j;
                        while i < b.len() && b[i].is_ascii_digit() {
                            i += 1;
                        }
                    }
                }
                out.push(Token {
                    kind: Tok::Float(String::from(&line[start..i])),
                    pos: start,
                });
                continue;
            }
            let text = &line[start..i];
            match parse_number(text) {
                Some(v) => out.push(Token {
                    kind: Tok::Num(v),
                    pos: start,
                }),
                None => {
                    return Err(LexError {
                        pos: start,
                        message: alloc::format!("invalid number `{text}'"),
                    });
                }
            }
            continue;
        }
        if is_ident_start(c) {
            while i < b.len() && is_ident_char(b[i]) {
                i += 1;
            }
            out.push(Token {
                kind: Tok::Ident(String::from(&line[start..i])),
                pos: start,
            });
            continue;
        }
        if c == b'\'' || c == b'"' || c == b'`' {
            i += 1;
            let mut bytes = Vec::new();
            loop {
                if i >= b.len() {
                    return Err(LexError {
                        pos: start,
                        message: "unterminated string".into(),
                    });
                }
                if b[i] == c {
                    i += 1;
                    break;
                }
                if c == b'`' && b[i] == b'\\' && i + 1 < b.len() {
                    i += 1;
                    let e = b[i];
                    i += 1;
                    match e {
                        b'n' => bytes.push(b'\n'),
                        b't' => bytes.push(b'\t'),
                        b'r' => bytes.push(b'\r'),
                        b'0' => bytes.push(0),
                        b'a' => bytes.push(7),
                        b'b' => bytes.push(8),
                        b'e' => bytes.push(27),
                        b'f' => bytes.push(12),
                        b'v' => bytes.push(11),
                        b'x' => {
                            let mut v: u32 = 0;
                            let mut n = 0;
                            while n < 2 && i < b.len() && (b[i] as char).is_ascii_hexdigit() {
                                v = v * 16 + (b[i] as char).to_digit(16).unwrap_or(0);
                                i += 1;
                                n += 1;
                            }
                            bytes.push(v as u8);
                        }
                        other => bytes.push(other),
                    }
                    continue;
                }
                bytes.push(b[i]);
                i += 1;
            }
            out.push(Token {
                kind: Tok::Str(bytes),
                pos: start,
            });
            continue;
        }
        let rest = &line[i..];
        if let Some(op) = OPS.iter().find(|op| rest.starts_with(**op)) {
            out.push(Token {
                kind: Tok::Op(op),
                pos: start,
            });
            i += op.len();
            continue;
        }
        let ch = rest.chars().next().unwrap_or('?');
        return Err(LexError {
            pos: start,
            message: alloc::format!("unexpected character `{}'", ch.escape_default()),
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_in_every_notation() {
        assert_eq!(parse_number("0x1F"), Some(31));
        assert_eq!(parse_number("1Fh"), Some(31));
        assert_eq!(parse_number("0b101"), Some(5));
        assert_eq!(parse_number("101b"), Some(5));
        assert_eq!(parse_number("17o"), Some(15));
        assert_eq!(parse_number("0q17"), Some(15));
        assert_eq!(parse_number("1_000"), Some(1000));
        assert_eq!(parse_number("0bh"), Some(11));
        assert_eq!(parse_number("12x"), None);
    }

    #[test]
    fn comment_outside_quotes() {
        assert_eq!(comment_start("db ';', 1 ; hi"), Some(10));
        assert_eq!(comment_start("mov ax, 1"), None);
    }
}
