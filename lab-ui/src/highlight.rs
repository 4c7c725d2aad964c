//! Syntax highlighting for the editor: NASM lines split into coloured tokens.

/// What a piece of a line is.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Token {
    /// `; …`
    Comment,
    /// `name:`
    Label,
    /// The instruction.
    Mnemonic,
    /// `bits`, `org`, `db`, `equ`…
    Directive,
    /// `eax`, `cr3`…
    Register,
    /// `42`, `0x10`, `10h`
    Number,
    /// `"…"` or `'…'`
    String,
    /// Everything else (punctuation, symbols).
    Plain,
}

const DIRECTIVES: &[&str] = &[
    "bits", "org", "db", "dw", "dd", "dq", "times", "equ", "align", "section", "global", "extern",
    "resb", "resw", "resd", "incbin", "%include", "%define", "byte", "word", "dword", "qword",
    "ptr",
];

const REGISTERS: &[&str] = &[
    "eax", "ebx", "ecx", "edx", "esi", "edi", "esp", "ebp", "ax", "bx", "cx", "dx", "si", "di",
    "sp", "bp", "al", "ah", "bl", "bh", "cl", "ch", "dl", "dh", "cs", "ds", "es", "fs", "gs", "ss",
    "cr0", "cr2", "cr3", "cr4", "dr0", "dr1", "dr2", "dr3", "dr6", "dr7", "eip",
];

fn classify(word: &str, first: bool) -> Token {
    let lower = word.to_ascii_lowercase();
    let bare = lower
        .trim_start_matches(['[', '('])
        .trim_end_matches([']', ')', ',']);
    if DIRECTIVES.contains(&bare) {
        Token::Directive
    } else if REGISTERS.contains(&bare) {
        Token::Register
    } else if bare.starts_with(|c: char| c.is_ascii_digit()) {
        Token::Number
    } else if first {
        Token::Mnemonic
    } else {
        Token::Plain
    }
}

/// Splits one line into tokens whose texts concatenate back to the line.
pub fn highlight_line(line: &str) -> Vec<(Token, String)> {
    let mut out: Vec<(Token, String)> = Vec::new();
    let mut first = true;
    let mut rest = line;
    while !rest.is_empty() {
        let c = rest.chars().next().unwrap_or(' ');
        let (tok, len) = if c == ';' {
            (Token::Comment, rest.len())
        } else if c == '"' || c == '\'' {
            let end = rest[1..].find(c).map_or(rest.len(), |i| i + 2);
            (Token::String, end)
        } else if c.is_whitespace() || ",[]+-*:()".contains(c) {
            let end = rest
                .find(|ch: char| !(ch.is_whitespace() || ",[]+-*()".contains(ch)))
                .unwrap_or(rest.len())
                .max(c.len_utf8());
            (Token::Plain, end)
        } else {
            let end = rest
                .find(|ch: char| ch.is_whitespace() || ",[]+-*:();\"'".contains(ch))
                .unwrap_or(rest.len());
            let word = &rest[..end];
            if rest[end..].starts_with(':') && first {
                (Token::Label, end + 1)
            } else {
                let t = classify(word, first);
                first = false;
                (t, end)
            }
        };
        let (head, tail) = rest.split_at(len);
        out.push((tok, head.to_string()));
        rest = tail;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_cover_the_line_and_classify() {
        let line = "again:  mov eax, [ebx+0x10] ; \"loop\"";
        let toks = highlight_line(line);
        let joined: String = toks.iter().map(|(_, t)| t.as_str()).collect();
        assert_eq!(joined, line);
        let kinds: Vec<Token> = toks
            .iter()
            .filter(|(t, _)| *t != Token::Plain)
            .map(|(t, _)| *t)
            .collect();
        assert_eq!(
            kinds,
            [
                Token::Label,
                Token::Mnemonic,
                Token::Register,
                Token::Register,
                Token::Number,
                Token::Comment
            ]
        );
    }

    #[test]
    fn strings_and_directives() {
        let toks = highlight_line("msg: db 'hi; there', 10");
        assert!(toks.contains(&(Token::String, "'hi; there'".into())));
        assert!(toks.contains(&(Token::Directive, "db".into())));
        assert_eq!(highlight_line("").len(), 0);
        let unterminated = highlight_line("db \"abc");
        assert_eq!(unterminated.last(), Some(&(Token::String, "\"abc".into())));
    }
}
