//! `vmlab run --gdb 0` driven by Debian's gdb in batch mode, bare and under each
//! VMM mode: a breakpoint, continue, registers, memory, a write watchpoint, a
//! single step and register and memory writes, with the values gdb prints checked.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const GDB: &str = "/usr/bin/gdb";

/// A flat 32-bit guest: sets EAX and EBX, writes a byte, then from 0x10020 on
/// increments EBX around a write to 0x10044 and a read of 0x10040 and exits with BL
/// as its status.
const GUEST: &str = "
        bits 32
        org 0x10000
        mov eax, 0x1234abcd
        mov ebx, 0x55
        mov byte [data], 0x5a
        times 0x20-($-$$) nop
marker:                         ; 0x10020
        inc ebx
        inc ebx                 ; 0x10021
        mov dword [watched], 7  ; 0x10022
        mov ecx, [data]         ; 0x1002c
        inc ebx                 ; 0x10032
        mov al, bl
        out 0xf4, al
        hlt
        times 0x40-($-$$) db 0
data:   db 0x11, 0x22, 0x33, 0x44
watched: dd 0
";

fn build(mode: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    let src = dir.join(format!("vmlab-gdb-{mode}-{}.asm", std::process::id()));
    let bin = src.with_extension("bin");
    std::fs::write(&src, GUEST).expect("write the guest source");
    let st = Command::new(env!("CARGO_BIN_EXE_vmlab"))
        .arg("asm")
        .arg(&src)
        .arg("-o")
        .arg(&bin)
        .status()
        .expect("vmlab asm runs");
    assert!(st.success(), "vmlab asm of the gdb guest");
    bin
}

/// What gdb printed, what vmlab said on stderr, and vmlab's exit status.
struct Session {
    gdb: String,
    vmlab: String,
    status: Option<i32>,
}

/// Starts `vmlab run --gdb 0` on `bin` (a flat 32-bit binary at 0x10000): the
/// process, its stderr, the first line it wrote there and the address it listens on.
fn start(
    bin: &Path,
    mode: &str,
    max_insns: &str,
) -> (
    std::process::Child,
    BufReader<std::process::ChildStderr>,
    String,
    String,
) {
    let mut vmlab = Command::new(env!("CARGO_BIN_EXE_vmlab"))
        .args(["run", "--flat", "0x10000"])
        .arg(bin)
        .args([
            "--entry",
            "pm32",
            "--mode",
            mode,
            "--max-insns",
            max_insns,
            "--gdb",
            "0",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("vmlab run starts");
    let mut stderr = BufReader::new(vmlab.stderr.take().expect("piped stderr"));
    let mut first = String::new();
    stderr.read_line(&mut first).expect("vmlab's first line");
    let addr = first
        .split_whitespace()
        .find(|w| w.starts_with("127.0.0.1:"))
        .unwrap_or_else(|| panic!("no listening address in {first:?}"))
        .to_string();
    (vmlab, stderr, first, addr)
}

/// Runs `bin` (a flat 32-bit binary at 0x10000) under `vmlab run --gdb 0` in `mode`
/// and gdb in batch mode with `commands` after it attaches.
fn session(bin: &Path, mode: &str, commands: &[&str]) -> Session {
    assert!(
        Path::new(GDB).exists(),
        "{GDB} is missing: install Debian's gdb package (`cargo xtask test` installs it)"
    );
    let (mut vmlab, mut stderr, first, addr) = start(bin, mode, "100000");
    let out = Command::new("timeout")
        .arg("60")
        .arg(GDB)
        .args(["-batch", "-nx"])
        .args(
            ["set architecture i386", &format!("target remote {addr}")]
                .iter()
                .chain(commands)
                .flat_map(|c| ["-ex", c]),
        )
        .output()
        .expect("gdb runs");
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        match vmlab.try_wait().expect("vmlab's status") {
            Some(st) => break st.code(),
            None if Instant::now() > deadline => {
                let _ = vmlab.kill();
                break None;
            }
            None => std::thread::sleep(Duration::from_millis(20)),
        }
    };
    let mut rest = String::new();
    let _ = std::io::Read::read_to_string(&mut stderr, &mut rest);
    Session {
        gdb: String::from_utf8_lossy(&out.stdout).into_owned()
            + &String::from_utf8_lossy(&out.stderr),
        vmlab: first + &rest,
        status,
    }
}

/// The value column of `info registers` for `name`.
fn register(gdb: &str, name: &str) -> Option<String> {
    gdb.lines().find_map(|l| {
        let mut w = l.split_whitespace();
        (w.next() == Some(name)).then(|| w.next().unwrap_or("").to_string())
    })
}

fn check(mode: &str) {
    let bin = build(mode);
    let commands = [
        "break *0x10020",
        "continue",
        "info registers",
        "x/4xb 0x10040",
        "stepi",
        "p/x $eip",
        "p/x $ebx",
        "set var $ebx = 0x99",
        "set {char}0x10041 = 0x77",
        "x/2xb 0x10040",
        "watch *(int*)0x10044",
        "continue",
        "p/x $eip",
        "delete",
        "rwatch *(short*)0x10042",
        "continue",
        "p/x $eip",
        "p/x $ecx",
        "delete",
        "continue",
    ];
    let s = session(&bin, mode, &commands);
    let g = &s.gdb;
    let ctx = format!(
        "--mode {mode}\n--- gdb ---\n{g}\n--- vmlab ---\n{}",
        s.vmlab
    );
    assert!(g.contains("Breakpoint 1, 0x00010020"), "{ctx}");
    assert_eq!(register(g, "eax").as_deref(), Some("0x1234abcd"), "{ctx}");
    assert_eq!(register(g, "ebx").as_deref(), Some("0x55"), "{ctx}");
    assert_eq!(register(g, "eip").as_deref(), Some("0x10020"), "{ctx}");
    assert!(g.contains("0x10040:\t0x5a\t0x22\t0x33\t0x44"), "{ctx}");
    // stepi ran `inc ebx`: EIP moved one byte on and EBX counted.
    assert!(g.contains("$1 = 0x10021"), "{ctx}");
    assert!(g.contains("$2 = 0x56"), "{ctx}");
    assert!(g.contains("0x10040:\t0x5a\t0x77"), "{ctx}");
    // The watchpoint stops right after the write, before the read at 0x1002c.
    assert!(g.contains("Old value = 0\nNew value = 7"), "{ctx}");
    assert!(g.contains("$3 = 0x1002c"), "{ctx}");
    // The read watchpoint stops right after the 4-byte read that covers it.
    assert!(g.contains("Value = 17459"), "{ctx}"); // 0x4433
    assert!(g.contains("$4 = 0x10032"), "{ctx}");
    assert!(g.contains("$5 = 0x4433775a"), "{ctx}");
    // The guest exits with BL: gdb's 0x99, incremented twice.
    assert!(g.contains("exited with code 0233"), "{ctx}");
    assert_eq!(s.status, Some(0x9b), "{ctx}");
}

#[test]
fn gdb_debugs_a_bare_guest() {
    check("bare");
}

#[test]
fn gdb_sees_the_guest_under_trap_and_emulate() {
    check("trap-emulate");
}

#[test]
fn gdb_sees_the_guest_under_hardware_assistance() {
    check("hw-assist");
}

/// `$body#xx`.
fn packet(body: &str) -> Vec<u8> {
    let sum = body.bytes().fold(0u8, |a, b| a.wrapping_add(b));
    format!("${body}#{sum:02x}").into_bytes()
}

/// Reads from gdb's side of the connection until `want` has arrived.
fn expect(conn: &mut std::net::TcpStream, want: &[u8], seen: &mut Vec<u8>) {
    use std::io::Read;
    let deadline = Instant::now() + Duration::from_secs(20);
    while !seen.windows(want.len()).any(|w| w == want) {
        assert!(
            Instant::now() < deadline,
            "waited for {:?}, got {:?}",
            String::from_utf8_lossy(want),
            String::from_utf8_lossy(seen)
        );
        let mut chunk = [0u8; 512];
        let n = conn.read(&mut chunk).expect("read from vmlab");
        assert!(
            n > 0,
            "vmlab hung up; got {:?}",
            String::from_utf8_lossy(seen)
        );
        seen.extend_from_slice(&chunk[..n]);
    }
    seen.clear();
}

/// The raw protocol: a guest spinning forever stops on Ctrl-C with SIGINT at its
/// loop; a bad checksum is NAKed and a malformed packet answered `E01`.
#[test]
fn ctrl_c_stops_a_running_guest_and_bad_packets_get_errors() {
    use std::io::Write;
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    let bin = dir.join(format!("vmlab-gdb-spin-{}.bin", std::process::id()));
    std::fs::write(&bin, [0xeb, 0xfe]).expect("write the guest"); // jmp $
    let (mut vmlab, _stderr, _, addr) = start(&bin, "bare", "5000000000");
    let mut conn = std::net::TcpStream::connect(&addr).expect("connect to vmlab");
    conn.set_read_timeout(Some(Duration::from_secs(20)))
        .expect("a read timeout");
    let mut seen = Vec::new();
    conn.write_all(b"$g#00").unwrap();
    expect(&mut conn, b"-", &mut seen);
    conn.write_all(&packet("mzz,4")).unwrap();
    expect(&mut conn, &packet("E01"), &mut seen);
    conn.write_all(&packet("c")).unwrap();
    std::thread::sleep(Duration::from_millis(300));
    conn.write_all(&[0x03]).unwrap();
    expect(&mut conn, &packet("S02"), &mut seen);
    // EIP (register 8) is at the loop.
    conn.write_all(&packet("p8")).unwrap();
    expect(&mut conn, &packet("00000100"), &mut seen);
    conn.write_all(&packet("k")).unwrap();
    let st = vmlab.wait().expect("vmlab exits after k");
    assert!(st.success(), "{st:?}");
}

/// `guests/vmm/flatpm.asm` assembled, and the address of the instruction after its
/// write through the page its #PF handler maps (from the listing).
fn flatpm(mode: &str) -> (PathBuf, u32) {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    let bin = dir.join(format!(
        "vmlab-gdb-flatpm-{mode}-{}.bin",
        std::process::id()
    ));
    let lst = bin.with_extension("lst");
    let src = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../guests/vmm/flatpm.asm");
    let st = Command::new(env!("CARGO_BIN_EXE_vmlab"))
        .arg("asm")
        .arg(&src)
        .arg("-o")
        .arg(&bin)
        .arg("-l")
        .arg(&lst)
        .status()
        .expect("vmlab asm runs");
    assert!(st.success(), "vmlab asm flatpm");
    let listing = std::fs::read_to_string(&lst).expect("the listing");
    let line = listing
        .lines()
        .find(|l| l.contains("mov eax, [FRAME + 0x123]"))
        .expect("the read-back line in the listing");
    let offset = line
        .split_whitespace()
        .nth(1)
        .and_then(|w| u32::from_str_radix(w, 16).ok())
        .unwrap_or_else(|| panic!("no offset in {line:?}"));
    (bin, 0x10000 + offset)
}

/// With the guest's paging on, gdb reads through the guest's own page tables: the
/// page its #PF handler mapped at 0x40000000, and a page of its 4 MiB identity
/// mapping that it never touched.
fn check_paged(mode: &str) {
    let (bin, after) = flatpm(mode);
    let brk = format!("break *{after:#x}");
    let s = session(
        &bin,
        mode,
        &[
            &brk,
            "continue",
            "x/xw 0x40000123",
            "x/xw 0x3ff000",
            "p/x $cr3",
        ],
    );
    let g = &s.gdb;
    let ctx = format!(
        "--mode {mode}\n--- gdb ---\n{g}\n--- vmlab ---\n{}",
        s.vmlab
    );
    assert!(g.contains(&format!("Breakpoint 1, {after:#010x}")), "{ctx}");
    assert!(g.contains("0x40000123:\t0x2a2a2a2a"), "{ctx}");
    assert!(g.contains("0x3ff000:\t0x00000000"), "{ctx}");
    assert_eq!(s.status, Some(0), "{ctx}");
}

#[test]
fn gdb_reads_through_the_guest_page_tables() {
    for mode in ["bare", "trap-emulate", "hw-assist"] {
        check_paged(mode);
    }
}
