//! The library API the browser and the CLI use: listing, address/line maps, symbols,
//! defines and includes.

use vmlab_asm::{assemble, ListingLine, Options};

const PROGRAM: &str = "\
        bits 16
        org 0x7c00
start:  mov ax, 1       ; line 3
        times 2 nop     ; line 4
.loop:  jmp .loop       ; line 5
msg:    db 'hi', 0      ; line 6
";

#[test]
fn listing_maps_each_byte_range_to_its_line() {
    let out = assemble("boot.asm", PROGRAM, &Options::default()).unwrap();
    assert_eq!(
        out.bytes,
        [0xB8, 0x01, 0x00, 0x90, 0x90, 0xEB, 0xFE, b'h', b'i', 0]
    );
    assert_eq!(out.origin, 0x7c00);
    let l = |line, offset, length| ListingLine {
        file: "boot.asm".into(),
        line,
        offset,
        address: 0x7c00 + offset,
        length,
    };
    assert_eq!(
        out.listing,
        vec![l(3, 0, 3), l(4, 3, 2), l(5, 5, 2), l(6, 7, 3)]
    );
}

#[test]
fn addresses_and_lines_map_both_ways() {
    let out = assemble("boot.asm", PROGRAM, &Options::default()).unwrap();
    assert_eq!(out.line_for_address(0x7c00), Some(("boot.asm", 3)));
    assert_eq!(out.line_for_address(0x7c02), Some(("boot.asm", 3)));
    assert_eq!(out.line_for_address(0x7c04), Some(("boot.asm", 4)));
    assert_eq!(out.line_for_address(0x7c06), Some(("boot.asm", 5)));
    assert_eq!(out.line_for_address(0x7c0a), None);
    assert_eq!(out.line_for_address(0x7bff), None);
    assert_eq!(out.addresses_for_line("boot.asm", 5), vec![0x7c05]);
    assert!(out.addresses_for_line("boot.asm", 1).is_empty());
    assert!(out.addresses_for_line("other.asm", 5).is_empty());
}

#[test]
fn symbols_include_locals_and_constants_sorted_by_value() {
    let src = "org 0x100\nfoo equ 3\nstart: nop\n.l: nop\n";
    let out = assemble("t.asm", src, &Options::default()).unwrap();
    assert_eq!(
        out.symbols,
        vec![
            ("foo".to_string(), 3),
            ("start".to_string(), 0x100),
            ("start.l".to_string(), 0x101)
        ]
    );
}

#[test]
fn listing_text_looks_like_nasm_l() {
    let out = assemble("boot.asm", PROGRAM, &Options::default()).unwrap();
    let text = out.listing_text();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 6);
    // The same columns as `nasm -l`: source text from column 41.
    assert_eq!(lines[0], format!("     1{}bits 16", " ".repeat(34)));
    assert_eq!(
        lines[2],
        "     3 00000000 B80100                  start:  mov ax, 1       ; line 3"
    );
    assert_eq!(
        lines[4],
        "     5 00000005 EBFE                    .loop:  jmp .loop       ; line 5"
    );
}

#[test]
fn defines_from_options_and_ifdef() {
    let src = "%ifdef FAST\ndb 1\n%else\ndb 2\n%endif\ndb N\n";
    let opts = Options {
        defines: vec![("FAST".into(), None), ("N".into(), Some("7".into()))],
        ..Options::default()
    };
    assert_eq!(assemble("t.asm", src, &opts).unwrap().bytes, [1, 7]);
    let opts = Options {
        defines: vec![("N".into(), Some("3*3".into()))],
        ..Options::default()
    };
    assert_eq!(assemble("t.asm", src, &opts).unwrap().bytes, [2, 9]);
}

#[test]
fn preprocessor_if_elif_assign_and_xdefine() {
    let src = "\
%assign A 2
%define B A+1
%xdefine C B
%undef B
%if A == 1
db 10
%elif A*2 = 4 && C > 2
db 20
%else
db 30
%endif
%ifndef B
db C
%endif
";
    assert_eq!(
        assemble("t.asm", src, &Options::default()).unwrap().bytes,
        [20, 3]
    );
}

#[test]
fn includes_come_from_the_callback_and_listing_names_them() {
    let include = |name: &str| match name {
        "lib/io.inc" => Some(String::from(
            "COM1 equ 0x3f8\nputc: mov dx, COM1\n       out dx, al\n       ret\n",
        )),
        _ => None,
    };
    let src = "bits 16\ncall putc\n%include \"lib/io.inc\"\n";
    let opts = Options {
        include: Some(&include),
        ..Options::default()
    };
    let out = assemble("main.asm", src, &opts).unwrap();
    assert_eq!(out.bytes, [0xE8, 0x00, 0x00, 0xBA, 0xF8, 0x03, 0xEE, 0xC3]);
    assert_eq!(out.line_for_address(3), Some(("lib/io.inc", 2)));
    assert_eq!(out.addresses_for_line("lib/io.inc", 4), vec![7]);
    assert!(out
        .listing_text()
        .contains("     2 00000003 BAF803                  putc: mov dx, COM1"));
}
