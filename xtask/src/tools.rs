//! Host tools from Debian's archive: find them, install the missing ones with apt
//! when running as root, or name the packages a developer has to install.

use crate::step;
use anyhow::{bail, Result};
use std::path::Path;
use std::process::Command;

/// A Debian package and a file whose presence shows it is installed.
#[derive(Clone, Copy, Debug)]
pub struct Package {
    /// The package name for `apt-get install`.
    pub name: &'static str,
    /// A file the package installs.
    pub provides: &'static str,
}

/// The assembler the guest programs and the assembler's tests compare against.
pub const NASM: Package = Package {
    name: "nasm",
    provides: "/usr/bin/nasm",
};
/// The debugger the `vmlab run --gdb` tests attach.
pub const GDB: Package = Package {
    name: "gdb",
    provides: "/usr/bin/gdb",
};
/// `gcc -m32 -static`, which builds the process VM's C test programs.
pub const GCC_MULTILIB: Package = Package {
    name: "gcc-multilib",
    provides: "/usr/lib32/libc.a",
};
/// QEMU's user mode, the oracle the process VM's test programs are compared with.
pub const QEMU_USER: Package = Package {
    name: "qemu-user",
    provides: "/usr/bin/qemu-i386",
};
/// QEMU's image tools: the disk-image tests check vmlab's qcow2 against `qemu-img`
/// and write test data with `qemu-io`.
pub const QEMU_UTILS: Package = Package {
    name: "qemu-utils",
    provides: "/usr/bin/qemu-img",
};
/// The packet reader the network tests check vmlab's pcap captures with.
pub const TCPDUMP: Package = Package {
    name: "tcpdump",
    provides: "/usr/bin/tcpdump",
};
/// `javac` compiles the JVM's Java test programs and `java` runs them as the oracle.
pub const OPENJDK: Package = Package {
    name: "openjdk-17-jdk-headless",
    provides: "/usr/bin/javac",
};
/// The browser the browser tests drive.
pub const CHROMIUM: Package = Package {
    name: "chromium",
    provides: "/usr/bin/chromium",
};
/// The WebDriver server for Chromium.
pub const CHROMEDRIVER: Package = Package {
    name: "chromium-driver",
    provides: "/usr/bin/chromedriver",
};
/// Node.js, which runs the Wasm build with the translating tier in the differential
/// test (and the Wasm figures of the bench).
pub const NODEJS: Package = Package {
    name: "nodejs",
    provides: "/usr/bin/node",
};
/// Node's package manager, which fetches axe-core for the accessibility audit.
pub const NPM: Package = Package {
    name: "npm",
    provides: "/usr/bin/npm",
};
/// Debian's Rust compiler with the Wasm targets built in.
pub const RUSTC_WEB: Package = Package {
    name: "rustc-web",
    provides: "/usr/bin/rustc",
};
/// The standard library's source, for `-Zbuild-std` with `rustc-web`.
pub const RUST_WEB_SRC: Package = Package {
    name: "rust-web-src",
    provides: "/usr/lib/rustlib/src/rust/library/std/Cargo.toml",
};
/// LLVM's linkers, of which `wasm-ld-19` links the Wasm module.
pub const LLD: Package = Package {
    name: "lld-19",
    provides: "/usr/bin/wasm-ld-19",
};

/// Makes sure every package is installed: apt installs the missing ones when
/// running as root; otherwise the error names them.
pub fn ensure(packages: &[Package]) -> Result<()> {
    let missing: Vec<&str> = packages
        .iter()
        .filter(|p| !Path::new(p.provides).exists())
        .map(|p| p.name)
        .collect();
    let all: Vec<&str> = packages.iter().map(|p| p.name).collect();
    if missing.is_empty() {
        println!("present: {}", all.join(", "));
        return Ok(());
    }
    println!("missing: {}", missing.join(", "));
    if !is_root() {
        bail!(
            "these Debian packages are needed: {0}\n  install them with: sudo apt-get install -y {0}",
            missing.join(" ")
        );
    }
    if !Path::new("/usr/bin/apt-get").exists() {
        bail!(
            "these tools are needed and apt-get is not available to install them: {}",
            missing.join(", ")
        );
    }
    if !apt_lists_present() && !apt(&["update"])? {
        bail!("`apt-get update` failed");
    }
    let mut install = vec!["install", "-y"];
    install.extend(&missing);
    let installed = apt(&install)? || (apt(&["update"])? && apt(&install)?);
    if !installed {
        bail!("`apt-get install -y {}` failed", missing.join(" "));
    }
    let still: Vec<&str> = packages
        .iter()
        .filter(|p| !Path::new(p.provides).exists())
        .map(|p| p.provides)
        .collect();
    if !still.is_empty() {
        bail!("installed, but still not found: {}", still.join(", "));
    }
    Ok(())
}

fn apt(args: &[&str]) -> Result<bool> {
    step::run(
        Command::new("apt-get")
            .args(args)
            .env("DEBIAN_FRONTEND", "noninteractive"),
    )
}

/// Whether apt has package lists (on a fresh container it has none until `apt-get update`).
fn apt_lists_present() -> bool {
    std::fs::read_dir("/var/lib/apt/lists")
        .map(|entries| {
            entries
                .flatten()
                .any(|e| e.file_name().to_string_lossy().contains("_Packages"))
        })
        .unwrap_or(false)
}

fn is_root() -> bool {
    step::output(Command::new("id").arg("-u")).is_some_and(|uid| uid.trim() == "0")
}
