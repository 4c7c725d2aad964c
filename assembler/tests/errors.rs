//! Error messages: exact text, positions, carets, and every error of a run.

use vmlab_asm::{assemble, Options};

fn errors(src: &str) -> String {
    match assemble("t.asm", src, &Options::default()) {
        Ok(_) => panic!("expected errors for:\n{src}"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn one_error_prints_position_source_line_and_caret() {
    assert_eq!(
        errors("bits 16\n        mov ax, undefined_sym\n"),
        "t.asm:2:17: error: symbol `undefined_sym' not defined\n        mov ax, undefined_sym\n                ^\n"
    );
}

#[test]
fn every_error_of_a_run_is_reported_in_source_order() {
    let src = "\
bits 16
        mov [bx], 5
        foo ax
label:  nop
label:  nop
        mov ax, [bx+cx]
        jmp short far_away
        times 300 nop
far_away:
";
    let want = "\
t.asm:2:9: error: operation size not specified
        mov [bx], 5
        ^
t.asm:3:9: error: instruction expected, found `foo'
        foo ax
        ^
t.asm:5:1: error: label `label' redefined
label:  nop
^
t.asm:6:17: error: invalid effective address
        mov ax, [bx+cx]
                ^
t.asm:7:9: error: short jump is out of range
        jmp short far_away
        ^
";
    assert_eq!(errors(src).replace("\n\n", "\n"), want);
}

#[test]
fn diagnostics_carry_structured_fields() {
    let e = assemble("main.asm", "\tdb 1 +\n", &Options::default()).unwrap_err();
    assert_eq!(e.0.len(), 1);
    let d = &e.0[0];
    assert_eq!((d.file.as_str(), d.line, d.col), ("main.asm", 1, 8));
    assert_eq!(d.message, "expression expected");
    assert_eq!(d.source_line, "\tdb 1 +");
    // The caret line keeps tabs so it lines up under the source.
    assert_eq!(
        d.to_string(),
        "main.asm:1:8: error: expression expected\n\tdb 1 +\n\t      ^"
    );
}

#[test]
fn huge_times_is_refused_with_the_limit() {
    assert_eq!(
        errors("times 1<<40 db 0\n"),
        "t.asm:1:7: error: `times' count 1099511627776 exceeds the output limit of 16777216 bytes\ntimes 1<<40 db 0\n      ^\n"
    );
    assert_eq!(
        errors("times -1 db 0\n"),
        "t.asm:1:7: error: `times' count -1 is negative\ntimes -1 db 0\n      ^\n"
    );
}

#[test]
fn output_limit_applies_to_the_sum_of_statements() {
    let opts = Options {
        max_output_bytes: 1000,
        ..Options::default()
    };
    let e = assemble("t.asm", "times 600 db 0\ntimes 600 db 0\n", &opts).unwrap_err();
    assert_eq!(e.0.len(), 1);
    assert_eq!(e.0[0].line, 2);
    assert_eq!(
        e.0[0].message,
        "output would exceed the limit of 1000 bytes"
    );
}

#[test]
fn lexer_and_preprocessor_errors() {
    assert_eq!(
        errors("mov al, \"abc\n"),
        "t.asm:1:9: error: unterminated string\nmov al, \"abc\n        ^\n"
    );
    assert_eq!(
        errors("%error stop here\n"),
        "t.asm:1:1: error: %error: stop here\n%error stop here\n^\n"
    );
    assert_eq!(
        errors("%ifdef X\nnop\n"),
        "t.asm:1:1: error: `%if' without `%endif' at the end of the file\n%ifdef X\n^\n"
    );
    assert_eq!(
        errors("%include \"nope.inc\"\n"),
        "t.asm:1:10: error: unable to open include file `nope.inc': no include files are available\n%include \"nope.inc\"\n         ^\n"
    );
    assert_eq!(
        errors("bits 64\n"),
        "t.asm:1:6: error: 64-bit code is not supported\nbits 64\n     ^\n"
    );
}

#[test]
fn errors_inside_macro_expansions_point_at_the_macro_use() {
    assert_eq!(
        errors("%define BAD [bx+cx]\n        mov ax, BAD\n"),
        "t.asm:2:17: error: invalid effective address\n        mov ax, BAD\n                ^\n"
    );
}

#[test]
fn include_cycles_stop_at_the_nesting_limit() {
    let include = |name: &str| match name {
        "a.inc" => Some(String::from("%include \"b.inc\"\n")),
        "b.inc" => Some(String::from("%include \"a.inc\"\n")),
        _ => None,
    };
    let opts = Options {
        include: Some(&include),
        max_include_depth: 8,
        ..Options::default()
    };
    let e = assemble("t.asm", "%include \"a.inc\"\n", &opts).unwrap_err();
    assert_eq!(e.0.len(), 1);
    assert_eq!(
        e.0[0].message,
        "%include cycle: `b.inc' is already open (nesting limit 8)"
    );
    assert_eq!(e.0[0].file, "a.inc");
}

#[test]
fn error_count_is_capped() {
    let src: String = (0..50).map(|_| "foo ax\n").collect();
    let opts = Options {
        max_errors: 10,
        ..Options::default()
    };
    let e = assemble("t.asm", &src, &opts).unwrap_err();
    assert_eq!(e.0.len(), 11);
    assert_eq!(e.0[10].message, "too many errors; 40 more not shown");
}

#[test]
fn forward_reference_in_times_is_an_error_like_nasm() {
    assert_eq!(
        errors("times n db 0\nn equ 4\n"),
        "t.asm:1:7: error: `times' count uses a symbol defined later in the source\ntimes n db 0\n      ^\n"
    );
}

#[test]
fn struc_misuse() {
    assert_eq!(
        errors("struc s\n.a: resb 1\n"),
        "t.asm:1:1: error: `struc s' without `endstruc'\nstruc s\n^\n"
    );
    assert_eq!(
        errors("struc s\n  mov ax, 1\nendstruc\n"),
        "t.asm:2:1: error: only `resb'-style reservations and `alignb' can go inside `struc'\n  mov ax, 1\n^\n"
    );
}

#[test]
fn a_float_outside_dd_and_dq_is_refused_where_it_stands() {
    let e = errors("dw 1.5\nmov eax, 2.5\ndd 1.5\n");
    assert!(
        e.contains("1:4: error: floating-point constants need `dd' (single) or `dq' (double)"),
        "{e}"
    );
    assert!(
        e.contains("2:10: error: floating-point constant `2.5' in an expression"),
        "{e}"
    );
    assert!(!e.contains("3:"), "dd 1.5 is fine: {e}");
}
