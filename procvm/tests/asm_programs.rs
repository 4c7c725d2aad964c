//! The assembly Linux programs in `guests/linux/` (each with its own ELF header),
//! assembled by vmlab-asm and run under the process VM and under qemu-i386: the same
//! output and exit status.

use std::path::Path;
use std::process::Command;

use vmlab_procvm::{Process, ProcessConfig};

#[test]
fn every_assembly_program_runs_as_under_qemu() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../guests/linux");
    let mut seen = 0;
    for entry in std::fs::read_dir(&dir).expect("guests/linux") {
        let path = entry.expect("an entry").path();
        if path.extension().is_none_or(|e| e != "asm") {
            continue;
        }
        let src = std::fs::read_to_string(&path).expect("source");
        let elf = vmlab_asm::assemble("prog.asm", &src, &vmlab_asm::Options::default())
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
            .bytes;
        let out = Path::new(env!("CARGO_TARGET_TMPDIR")).join(path.file_stem().unwrap());
        std::fs::write(&out, &elf).expect("write the program");
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&out, std::fs::Permissions::from_mode(0o755))
            .expect("make it executable");
        let q = Command::new("qemu-i386")
            .arg(&out)
            .output()
            .expect("qemu-i386 runs (cargo xtask test installs qemu-user)");
        let cfg = ProcessConfig {
            hostname: "vm".into(),
            ..ProcessConfig::default()
        };
        let o = Process::load(&elf, cfg).expect("loads").run();
        assert_eq!(
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&q.stdout).replace(&format!("host {}", hostname()), "host vm"),
            "{}",
            path.display()
        );
        assert_eq!(
            Some(o.exit.status()),
            q.status.code(),
            "{}: {}",
            path.display(),
            String::from_utf8_lossy(&q.stderr)
        );
        seen += 1;
    }
    assert!(seen >= 1, "no programs in {}", dir.display());
}

/// The host name qemu-i386 passes through from this machine.
fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_owned())
        .unwrap_or_default()
}
