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
    /// Directory searched for `%include` files (after the source file's own directory).
    #[arg(short = 'I', value_name = "DIR")]
    pub include_dirs: Vec<PathBuf>,
}

/// Runs `vmlab asm`.
pub fn run(args: &AsmArgs) -> ExitCode {
    let source = match std::fs::read(&args.input) {
        Ok(b) => String::from_utf8_lossy(&b).into_owned(),
        Err(e) => {
            eprintln!("vmlab asm: cannot read {}: {e}", args.input.display());
            return ExitCode::FAILURE;
        }
    };
    let mut dirs: Vec<PathBuf> = vec![args
        .input
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default()];
    dirs.extend(args.include_dirs.iter().cloned());
    let include = |name: &str| -> Option<String> {
        dirs.iter()
            .find_map(|d| std::fs::read(d.join(name)).ok())
            .map(|b| String::from_utf8_lossy(&b).into_owned())
    };
    let defines = args
        .defines
        .iter()
        .map(|d| match d.split_once('=') {
            Some((k, v)) => (k.to_string(), Some(v.to_string())),
            None => (d.clone(), None),
        })
        .collect();
    let opts = vmlab_asm::Options {
        defines,
        include: Some(&include),
        ..Default::default()
    };
    let name = args.input.display().to_string();
    match vmlab_asm::assemble(&name, &source, &opts) {
        Ok(out) => {
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
        Err(errors) => {
            eprint!("{errors}");
            ExitCode::FAILURE
        }
    }
}
