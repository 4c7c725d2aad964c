//! `vmlab asm`: assemble a NASM-syntax source file into a flat binary (and a listing).

use clap::Args;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// Arguments of `vmlab asm`.
#[derive(Args, Debug)]
pub struct AsmArgs {
    /// The assembly source file.
    pub input: PathBuf,
    /// Where to write the flat binary.
    #[arg(short = 'o', long = "output")]
    pub output: PathBuf,
    /// Also write a listing (line, offset, bytes, source) here.
    #[arg(short = 'l', long = "listing")]
    pub listing: Option<PathBuf>,
    /// Define a preprocessor macro: `-D NAME` or `-D NAME=VALUE`.
    #[arg(short = 'D', value_name = "NAME[=VALUE]")]
    pub defines: Vec<String>,
    /// Directory searched for `%include` files (after the source file's own directory;
    /// vmlab's shared guest includes, `guests/include/`, are found last).
    #[arg(short = 'I', value_name = "DIR")]
    pub include_dirs: Vec<PathBuf>,
}

/// Why a file did not assemble.
#[derive(Debug)]
pub enum AsmError {
    /// The file cannot be read.
    Read(String),
    /// The assembler's located messages.
    Source(vmlab_asm::Errors),
}

impl std::fmt::Display for AsmError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AsmError::Read(e) => f.write_str(e),
            AsmError::Source(e) => write!(f, "{}", e.to_string().trim_end()),
        }
    }
}

/// Assembles the file `input` with `defines` (`NAME` or `NAME=VALUE`), finding
/// `%include` files beside it, then in `include_dirs`, then among vmlab's shared guest
/// includes (`guests/include/`, embedded), as the lab's editor finds them.
pub fn assemble_file(
    input: &Path,
    defines: &[String],
    include_dirs: &[PathBuf],
) -> Result<vmlab_asm::Output, AsmError> {
    let source = std::fs::read(input)
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .map_err(|e| AsmError::Read(format!("cannot read {}: {e}", input.display())))?;
    let mut dirs: Vec<PathBuf> = vec![input.parent().map(Path::to_path_buf).unwrap_or_default()];
    dirs.extend(include_dirs.iter().cloned());
    let include = |name: &str| -> Option<String> {
        dirs.iter()
            .find_map(|d| std::fs::read(d.join(name)).ok())
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .or_else(|| vmlab_demos::include(name).map(str::to_string))
    };
    let opts = vmlab_asm::Options {
        defines: defines.iter().map(|d| vmlab_asm::parse_define(d)).collect(),
        include: Some(&include),
        ..Default::default()
    };
    vmlab_asm::assemble(&input.display().to_string(), &source, &opts).map_err(AsmError::Source)
}

/// Runs `vmlab asm`.
pub fn run(args: &AsmArgs) -> ExitCode {
    match assemble_file(&args.input, &args.defines, &args.include_dirs) {
        Ok(out) => {
            for w in &out.warnings {
                eprintln!("{w}");
            }
            if let Err(e) = std::fs::write(&args.output, &out.bytes) {
                eprintln!("vmlab asm: cannot write {}: {e}", args.output.display());
                return ExitCode::FAILURE;
            }
            if let Some(l) = &args.listing {
                if let Err(e) = std::fs::write(l, out.listing_text()) {
                    eprintln!("vmlab asm: cannot write {}: {e}", l.display());
                    return ExitCode::FAILURE;
                }
            }
            ExitCode::SUCCESS
        }
        Err(AsmError::Read(e)) => {
            eprintln!("vmlab asm: {e}");
            ExitCode::FAILURE
        }
        Err(AsmError::Source(errors)) => {
            eprint!("{errors}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("vmlab-asm-cli-{name}-{}", std::process::id()));
        std::fs::create_dir_all(d.join("inc")).unwrap();
        d
    }

    #[test]
    fn writes_binary_and_listing_with_defines_and_include_dirs() {
        let d = dir("ok");
        std::fs::write(d.join("inc/defs.inc"), "X equ 5\n").unwrap();
        std::fs::write(d.join("main.asm"), "%include \"defs.inc\"\ndb X, ITER\n").unwrap();
        let args = AsmArgs {
            input: d.join("main.asm"),
            output: d.join("main.bin"),
            listing: Some(d.join("main.lst")),
            defines: vec!["ITER=10".into(), "FLAG".into()],
            include_dirs: vec![d.join("inc")],
        };
        assert_eq!(
            format!("{:?}", run(&args)),
            format!("{:?}", ExitCode::SUCCESS)
        );
        assert_eq!(std::fs::read(d.join("main.bin")).unwrap(), [5, 10]);
        let lst = std::fs::read_to_string(d.join("main.lst")).unwrap();
        assert!(lst.contains("00000000 050A"), "{lst}");
        let _ = std::fs::remove_dir_all(d);
    }

    #[test]
    fn errors_fail_without_writing_output() {
        let d = dir("err");
        std::fs::write(d.join("bad.asm"), "mov ax, nowhere\n").unwrap();
        let args = AsmArgs {
            input: d.join("bad.asm"),
            output: d.join("bad.bin"),
            listing: None,
            defines: vec![],
            include_dirs: vec![],
        };
        assert_eq!(
            format!("{:?}", run(&args)),
            format!("{:?}", ExitCode::FAILURE)
        );
        assert!(!d.join("bad.bin").exists());
        let _ = std::fs::remove_dir_all(d);
    }
}
