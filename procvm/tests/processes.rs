//! Several processes under hostile guests: a fork bomb stops at the process table's
//! size and the budget, a process that waits on itself is ended as a deadlock, and
//! random process system calls with random arguments never panic the process VM.

use vmlab_procvm::{Exit, Process, ProcessConfig};

/// A program of raw code at 0x08048054 (one writable PT_LOAD, a zeroed page after it).
fn program(code: &[u8]) -> Vec<u8> {
    let src = format!(
        "bits 32\norg 0x08048000\n\
         db 0x7f, 'ELF', 1, 1, 1, 0\ntimes 8 db 0\ndw 2, 3\ndd 1, start, 0x34, 0, 0\n\
         dw 0x34, 32, 1, 0, 0, 0\n\
         dd 1, 0, $$, $$, end - $$, end - $$ + 4096, 7, 0x1000\n\
         start:\ndb {}\nend:\n",
        code.iter()
            .map(|b| b.to_string())
            .collect::<Vec<_>>()
            .join(", ")
    );
    vmlab_asm::assemble("p.asm", &src, &vmlab_asm::Options::default())
        .expect("assembles")
        .bytes
}

fn asm(lines: &str) -> Vec<u8> {
    let src = format!("bits 32\norg 0x08048054\n{lines}\n");
    vmlab_asm::assemble("c.asm", &src, &vmlab_asm::Options::default())
        .expect("assembles")
        .bytes
}

#[test]
fn a_fork_bomb_fills_the_process_table_and_ends_at_the_budget() {
    let code = asm("again: mov eax, 2\nint 0x80\njmp again");
    let cfg = ProcessConfig {
        max_insns: 3_000_000,
        ..ProcessConfig::default()
    };
    let o = Process::load(&program(&code), cfg).expect("loads").run();
    assert_eq!(o.exit, Exit::Budget);
    assert_eq!(o.processes.len(), 64, "the table's size caps it");
    assert!(o.processes.iter().all(|p| p.exit == Some(Exit::Budget)));
}

#[test]
fn reading_a_pipe_only_the_reader_can_write_is_a_deadlock() {
    // pipe(fds) at 0x08049000; read(fds[0], buf, 1) waits for ever.
    let code = asm("mov eax, 42\nmov ebx, 0x08049000\nint 0x80\n\
                    mov eax, 3\nmov ebx, [0x08049000]\nmov ecx, 0x08049100\nmov edx, 1\nint 0x80\n\
                    mov eax, 252\nxor ebx, ebx\nint 0x80");
    let o = Process::load(&program(&code), ProcessConfig::default())
        .expect("loads")
        .run();
    match o.exit {
        Exit::Signal { signal: 9, reason } => assert!(reason.contains("deadlock"), "{reason}"),
        other => panic!("expected the deadlock to end it, got {other:?}"),
    }
}

#[test]
fn a_full_pipe_makes_the_writer_wait_and_a_parent_waiting_on_it_deadlocks() {
    // pipe; fork; the child writes 4 KiB blocks for ever; the parent waits for it.
    let code = asm("mov eax, 42\nmov ebx, 0x08049000\nint 0x80\n\
                    mov eax, 2\nint 0x80\ntest eax, eax\njz child\n\
                    mov ebx, eax\nmov eax, 114\nxor ecx, ecx\nxor edx, edx\nxor esi, esi\nint 0x80\n\
                    mov eax, 252\nxor ebx, ebx\nint 0x80\n\
                    child: mov eax, 4\nmov ebx, [0x08049004]\nmov ecx, 0x08048000\nmov edx, 4096\nint 0x80\njmp child");
    let cfg = ProcessConfig {
        trace: true,
        ..ProcessConfig::default()
    };
    let o = Process::load(&program(&code), cfg).expect("loads").run();
    match &o.exit {
        Exit::Signal { signal: 9, reason } => assert!(reason.contains("deadlock"), "{reason}"),
        other => panic!("expected the deadlock to end it, got {other:?}"),
    }
    // 64 KiB went in (16 writes of 4 KiB); the 17th waits and never completes.
    let child = o.processes[1].pid;
    let writes = o.trace.iter().filter(|t| t.pid == child && t.nr == 4);
    assert!(writes.clone().all(|t| t.ret == 4096));
    assert_eq!(writes.count(), 16);
    assert_eq!(o.processes[1].syscalls, 17);
}

#[test]
fn a_child_killed_with_sigkill_is_reported_to_its_waiting_parent() {
    // fork; the child spins; the parent kills it and exits with wait4's status byte.
    let code = asm("mov eax, 2\nint 0x80\ntest eax, eax\njz spin\n\
                    mov edi, eax\nmov eax, 37\nmov ebx, edi\nmov ecx, 9\nint 0x80\n\
                    mov eax, 114\nmov ebx, edi\nmov ecx, 0x08049000\nxor edx, edx\nxor esi, esi\nint 0x80\n\
                    mov eax, 252\nmov ebx, [0x08049000]\nint 0x80\n\
                    spin: jmp spin");
    let o = Process::load(&program(&code), ProcessConfig::default())
        .expect("loads")
        .run();
    assert_eq!(o.exit, Exit::Exited { status: 9 }, "WTERMSIG is 9");
    assert_eq!(
        o.processes[1].exit.as_ref().map(Exit::status),
        Some(128 + 9)
    );
}

#[test]
fn random_process_calls_never_panic() {
    const CALLS: [u32; 16] = [
        2, 7, 11, 37, 41, 42, 63, 114, 120, 190, 330, 331, 3, 4, 6, 20,
    ];
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    for _ in 0..40 {
        let mut code = Vec::new();
        for _ in 0..12 {
            let r = next();
            let nr = CALLS[(r % 16) as usize];
            code.push(0xb8);
            code.extend_from_slice(&nr.to_le_bytes());
            // ebx, ecx, edx, esi, edi: small numbers, addresses in the program's page,
            // or anything.
            for op in [0xbb, 0xb9, 0xba, 0xbe, 0xbf] {
                let r = next();
                let v = match r % 3 {
                    0 => (r >> 8) as u32 % 8,
                    1 => 0x0804_9000 + (r >> 8) as u32 % 4096,
                    _ => (r >> 16) as u32,
                };
                code.push(op);
                code.extend_from_slice(&v.to_le_bytes());
            }
            code.extend_from_slice(&[0xcd, 0x80]);
        }
        code.extend_from_slice(&[0xb8, 252, 0, 0, 0, 0xcd, 0x80]);
        let cfg = ProcessConfig {
            max_insns: 200_000,
            ..ProcessConfig::default()
        };
        let o = Process::load(&program(&code), cfg).expect("loads").run();
        assert!(!o.processes.is_empty());
        assert!(
            o.processes.iter().all(|p| p.exit.is_some()),
            "{:?}",
            o.processes
        );
    }
}
