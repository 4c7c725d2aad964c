//! The `wasm32-unknown-unknown` toolchain: rustup's target when installed, otherwise
//! Debian's `rustc-web` with the standard library built from `rust-web-src`.

use crate::{step, tools};
use anyhow::{bail, Context, Result};
use std::path::PathBuf;
use std::process::Command;

/// The target triple the browser lab is built for.
pub const TARGET: &str = "wasm32-unknown-unknown";

/// The oldest Debian `rustc` that builds the workspace (its `rust-version`).
const MIN_RUSTC_MINOR: u32 = 85;

/// How to compile for [`TARGET`].
#[derive(Clone, Copy, Debug)]
pub enum Toolchain {
    /// rustup's toolchain with the target's prebuilt standard library.
    Rustup,
    /// Debian's `/usr/bin/rustc` (`rustc-web`), `-Zbuild-std` from `rust-web-src`, linked by `wasm-ld-19`.
    DebianWeb,
}

/// What the Debian toolchain needs.
const DEBIAN_PACKAGES: &[tools::Package] = &[tools::RUSTC_WEB, tools::RUST_WEB_SRC, tools::LLD];

impl Toolchain {
    /// The Debian packages the Wasm build will need here (none with rustup's target).
    pub fn packages_needed() -> &'static [tools::Package] {
        if rustup_has_target() {
            &[]
        } else {
            DEBIAN_PACKAGES
        }
    }

    /// Finds a toolchain that can build for [`TARGET`], installing Debian's when needed and allowed.
    pub fn ensure() -> Result<Toolchain> {
        step::heading("wasm toolchain");
        if rustup_has_target() {
            println!("using rustup's {TARGET} target");
            return Ok(Toolchain::Rustup);
        }
        println!("rustup has no {TARGET} target here; using Debian's rustc-web with -Zbuild-std");
        tools::ensure(DEBIAN_PACKAGES)?;
        let version = step::output(Command::new(tools::RUSTC_WEB.provides).arg("--version"))
            .context("/usr/bin/rustc --version failed")?;
        let minor = version
            .split_whitespace()
            .nth(1)
            .and_then(|v| v.split('.').nth(1))
            .and_then(|m| m.parse::<u32>().ok());
        match minor {
            Some(m) if m >= MIN_RUSTC_MINOR => {
                println!("{}", version.trim());
                Ok(Toolchain::DebianWeb)
            }
            _ => bail!(
                "/usr/bin/rustc is `{}`; the Wasm build needs rustc-web 1.{MIN_RUSTC_MINOR} or newer \
                 (apt-get install -y rustc-web rust-web-src lld-19)",
                version.trim()
            ),
        }
    }

    /// The directory the Wasm builds use, apart from the native build's fingerprints.
    pub fn target_dir() -> PathBuf {
        crate::target_dir().join("wasm")
    }

    /// Builds `package`'s cdylib for [`TARGET`] and returns the `.wasm` file.
    pub fn build(self, package: &str, release: bool) -> Result<PathBuf> {
        step::heading(&format!(
            "build {package} for {TARGET} ({})",
            if release { "release" } else { "debug" }
        ));
        let target_dir = Self::target_dir();
        let mut cmd = step::cargo();
        cmd.args([
            "build",
            "--package",
            package,
            "--target",
            TARGET,
            "--target-dir",
        ])
        .arg(&target_dir);
        if release {
            cmd.arg("--release");
        }
        if let Toolchain::DebianWeb = self {
            cmd.arg("-Zbuild-std=std,panic_abort")
                .env("RUSTC", tools::RUSTC_WEB.provides)
                .env("RUSTC_BOOTSTRAP", "1")
                .env("CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_LINKER", "wasm-ld-19");
        }
        if !step::run(&mut cmd)? {
            bail!("the Wasm build of {package} failed");
        }
        let wasm = target_dir
            .join(TARGET)
            .join(if release { "release" } else { "debug" })
            .join(format!("{}.wasm", package.replace('-', "_")));
        if !wasm.is_file() {
            bail!(
                "the build reported success but {} is missing",
                wasm.display()
            );
        }
        Ok(wasm)
    }
}

fn rustup_has_target() -> bool {
    step::output(Command::new("rustup").args(["target", "list", "--installed"]))
        .is_some_and(|list| list.lines().any(|l| l.trim() == TARGET))
}
