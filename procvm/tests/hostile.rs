//! Files that are not runnable programs are refused with the byte offset of the
//! problem, and never panic the process VM.

use vmlab_procvm::{LoadError, Process, ProcessConfig};

fn refused(bytes: &[u8]) -> vmlab_procvm::ElfError {
    match Process::load(bytes, ProcessConfig::default()) {
        Err(LoadError::Elf(e)) => e,
        Err(other) => panic!("expected an ELF error, got {other}"),
        Ok(_) => panic!("a bad file was accepted"),
    }
}

/// A minimal valid static executable: one PT_LOAD with `code` at 0x08048000 + 0x54.
fn tiny(code: &[u8]) -> Vec<u8> {
    let mut f = vec![0u8; 0x54];
    f[..4].copy_from_slice(b"\x7fELF");
    f[4] = 1; // ELFCLASS32
    f[5] = 1; // little-endian
    f[6] = 1;
    f[16..18].copy_from_slice(&2u16.to_le_bytes()); // ET_EXEC
    f[18..20].copy_from_slice(&3u16.to_le_bytes()); // EM_386
    f[20..24].copy_from_slice(&1u32.to_le_bytes());
    f[24..28].copy_from_slice(&(0x0804_8000u32 + 0x54).to_le_bytes()); // entry
    f[28..32].copy_from_slice(&0x34u32.to_le_bytes()); // phoff
    f[40..42].copy_from_slice(&0x34u16.to_le_bytes());
    f[42..44].copy_from_slice(&32u16.to_le_bytes());
    f[44..46].copy_from_slice(&1u16.to_le_bytes());
    let size = (0x54 + code.len()) as u32;
    let ph = [1u32, 0, 0x0804_8000, 0x0804_8000, size, size, 5, 0x1000];
    for (i, w) in ph.iter().enumerate() {
        f[0x34 + 4 * i..0x38 + 4 * i].copy_from_slice(&w.to_le_bytes());
    }
    f.extend_from_slice(code);
    f
}

#[test]
fn a_hand_made_program_runs_its_system_calls() {
    // write(1, msg, 3); exit_group(5); msg: "ok\n"
    let mut code = vec![
        0xb8, 4, 0, 0, 0, // mov eax, 4
        0xbb, 1, 0, 0, 0, // mov ebx, 1
        0xb9, 0, 0, 0, 0, // mov ecx, msg (patched)
        0xba, 3, 0, 0, 0, // mov edx, 3
        0xcd, 0x80, // int 0x80
        0xb8, 252, 0, 0, 0, // mov eax, 252
        0xbb, 5, 0, 0, 0, // mov ebx, 5
        0xcd, 0x80,
    ];
    let msg = 0x0804_8000u32 + 0x54 + code.len() as u32;
    code[11..15].copy_from_slice(&msg.to_le_bytes());
    code.extend_from_slice(b"ok\n");
    let o = Process::load(&tiny(&code), ProcessConfig::default())
        .expect("loads")
        .run();
    assert_eq!(o.stdout, b"ok\n");
    assert_eq!(o.exit, vmlab_procvm::Exit::Exited { status: 5 });
    assert_eq!(o.syscalls, 2);
}

#[test]
fn a_bad_pointer_is_efault_not_a_crash() {
    // write(1, 0xdead0000, 3) → EAX = -14; exit_group(EAX & 0xff)
    let code = [
        0xb8, 4, 0, 0, 0, 0xbb, 1, 0, 0, 0, 0xb9, 0, 0, 0xad, 0xde, 0xba, 3, 0, 0, 0, 0xcd, 0x80,
        0x89, 0xc3, // mov ebx, eax
        0xb8, 252, 0, 0, 0, 0xcd, 0x80,
    ];
    let o = Process::load(&tiny(&code), ProcessConfig::default())
        .expect("loads")
        .run();
    assert_eq!(
        o.exit,
        vmlab_procvm::Exit::Exited {
            status: (-14i32) as u8
        }
    );
}

#[test]
fn an_unknown_system_call_is_enosys() {
    // syscall 999 → -38; exit_group(EAX)
    let code = [
        0xb8, 0xe7, 3, 0, 0, 0xcd, 0x80, 0x89, 0xc3, 0xb8, 252, 0, 0, 0, 0xcd, 0x80,
    ];
    let cfg = ProcessConfig {
        trace: true,
        ..ProcessConfig::default()
    };
    let o = Process::load(&tiny(&code), cfg).expect("loads").run();
    assert_eq!(
        o.exit,
        vmlab_procvm::Exit::Exited {
            status: (-38i32) as u8
        }
    );
    assert_eq!(
        o.trace[0].to_string(),
        "syscall_999(0x0, 0x0, 0x0) = -1 ENOSYS"
    );
}

#[test]
fn an_endless_loop_ends_at_the_budget() {
    let cfg = ProcessConfig {
        max_insns: 10_000,
        ..ProcessConfig::default()
    };
    let o = Process::load(&tiny(&[0xeb, 0xfe]), cfg)
        .expect("loads")
        .run();
    assert_eq!(o.exit, vmlab_procvm::Exit::Budget);
    assert_eq!(o.instructions, 10_000);
}

#[test]
fn a_memory_limit_stops_brk_growth() {
    // brk(0) → ebx = eax + 64 MiB; brk(ebx); exit_group(eax == requested)
    let code = [
        0xb8, 45, 0, 0, 0, 0x31, 0xdb, 0xcd, 0x80, // mov eax,45; xor ebx,ebx; int 0x80
        0x8d, 0x98, 0, 0, 0, 4, // lea ebx, [eax + 0x4000000]
        0xb8, 45, 0, 0, 0, 0xcd, 0x80, // brk(ebx)
        0x39, 0xd8, // cmp eax, ebx
        0x0f, 0x94, 0xc3, // sete bl
        0x0f, 0xb6, 0xdb, // movzx ebx, bl
        0xb8, 252, 0, 0, 0, 0xcd, 0x80,
    ];
    let free = Process::load(&tiny(&code), ProcessConfig::default())
        .expect("loads")
        .run();
    assert_eq!(
        free.exit,
        vmlab_procvm::Exit::Exited { status: 1 },
        "64 MiB of heap without a limit"
    );
    let cfg = ProcessConfig {
        mem_limit: Some(16 << 20),
        ..ProcessConfig::default()
    };
    let capped = Process::load(&tiny(&code), cfg).expect("loads").run();
    assert_eq!(
        capped.exit,
        vmlab_procvm::Exit::Exited { status: 0 },
        "brk refused over a 16 MiB limit"
    );
    assert!(
        capped.peak_pages <= 4096,
        "{} pages mapped",
        capped.peak_pages
    );
}

#[test]
fn wrong_magic_names_byte_zero() {
    let e = refused(b"MZ\x90\x00 not an ELF file at all");
    assert_eq!(e.offset, 0);
    assert!(e.reason.contains("magic"), "{}", e.reason);
}

#[test]
fn every_truncation_is_refused_with_an_offset() {
    let good = tiny(&[0xeb, 0xfe]);
    for n in 0..good.len() - 2 {
        let e = refused(&good[..n]);
        assert!(
            e.offset <= good.len(),
            "truncated at {n}: offset {}",
            e.offset
        );
    }
}

#[test]
fn a_64_bit_or_foreign_file_is_named() {
    let mut f = tiny(&[0xeb, 0xfe]);
    f[4] = 2;
    assert_eq!(refused(&f).offset, 4);
    let mut f = tiny(&[0xeb, 0xfe]);
    f[18] = 0x3e; // EM_X86_64
    assert_eq!(refused(&f).offset, 18);
}

#[test]
fn a_dynamically_linked_program_is_told_to_use_static() {
    let mut f = tiny(&[0xeb, 0xfe]);
    f[0x34..0x38].copy_from_slice(&3u32.to_le_bytes()); // PT_INTERP
    let e = refused(&f);
    assert!(e.reason.contains("-static"), "{}", e.reason);
    assert_eq!(e.offset, 0x34);
}

#[test]
fn random_bytes_after_a_valid_header_never_panic() {
    let mut seed = 0x1234_5678u32;
    let good = tiny(&[0xeb, 0xfe]);
    for _ in 0..500 {
        let mut f = good.clone();
        for _ in 0..4 {
            seed ^= seed << 13;
            seed ^= seed >> 17;
            seed ^= seed << 5;
            let at = (seed as usize) % f.len();
            f[at] = (seed >> 24) as u8;
        }
        let cfg = ProcessConfig {
            max_insns: 1000,
            ..ProcessConfig::default()
        };
        if let Ok(p) = Process::load(&f, cfg) {
            let _ = p.run();
        }
    }
}
