//! Submissions as students upload them: a file, a folder, a folder inside a folder
//! (a zipped folder unpacked), a zip archive, and uploads with several candidates.

use std::io::Write;
use std::path::{Path, PathBuf};

use assignments::native::Submission;

const EXT: &[&str] = &["asm", "s"];

fn scratch(name: &str) -> PathBuf {
    let d = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("uploads")
        .join(name);
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("scratch");
    d
}

fn write(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
    std::fs::write(path, text).expect("write");
}

fn zip(path: &Path, files: &[(&str, &str)]) {
    let mut z = zip::ZipWriter::new(std::fs::File::create(path).expect("create"));
    for (name, text) in files {
        z.start_file(*name, zip::write::SimpleFileOptions::default())
            .expect("entry");
        z.write_all(text.as_bytes()).expect("write");
    }
    z.finish().expect("finish");
}

#[test]
fn a_file_in_a_subfolder_is_found() {
    let up = scratch("subfolder");
    write(&up.join("lab1/src/mine.asm"), "hlt\n");
    write(&up.join("lab1/README.md"), "notes");
    write(&up.join("__MACOSX/lab1/._mine.asm"), "fork");
    write(&up.join("lab1/.hidden.asm"), "editor backup");
    let s = Submission::read(&up, EXT, 1000).expect("found");
    assert_eq!(s.file_name, "mine.asm");
    assert_eq!(s.bytes, b"hlt\n");
}

#[test]
fn a_file_in_a_zip_is_found_whether_the_zip_is_uploaded_or_inside_the_upload() {
    let up = scratch("zip");
    let z = up.join("upload.zip");
    zip(
        &z,
        &[
            ("lab1/mine.asm", "cli\nhlt\n"),
            ("lab1/notes.txt", "x"),
            ("__MACOSX/lab1/._mine.asm", "fork"),
        ],
    );
    let s = Submission::read(&z, EXT, 1000).expect("found in the zip");
    assert_eq!(
        (s.file_name.as_str(), s.bytes.as_slice()),
        ("mine.asm", &b"cli\nhlt\n"[..])
    );
    let s = Submission::read(&up, EXT, 1000).expect("found in the zip in the folder");
    assert_eq!(s.file_name, "mine.asm");
    // Too large once unpacked: refused, whatever the archive's header says.
    let big = "nop\n".repeat(1000);
    let zb = up.join("big/upload.zip");
    std::fs::create_dir_all(zb.parent().expect("parent")).expect("mkdir");
    zip(&zb, &[("big.asm", &big)]);
    let e = Submission::read(&zb, EXT, 1000).expect_err("too large");
    assert!(e.contains("at most 1000 bytes"), "{e}");
}

#[test]
fn several_candidates_get_the_clear_message() {
    let up = scratch("several");
    write(&up.join("a/first.asm"), "hlt");
    zip(&up.join("b.zip"), &[("second.s", "hlt")]);
    let e = Submission::read(&up, EXT, 1000).expect_err("ambiguous");
    assert!(e.contains("several candidate files"), "{e}");
    assert!(
        e.contains("a/first.asm") && e.contains("second.s in b.zip"),
        "{e}"
    );
    let empty = scratch("empty");
    write(&empty.join("notes.txt"), "x");
    let e = Submission::read(&empty, EXT, 1000).expect_err("none");
    assert!(e.contains("no submission file"), "{e}");
}

#[test]
fn a_pipe_is_refused_without_blocking() {
    let up = scratch("fifo");
    let fifo = up.join("sub.asm");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .expect("mkfifo runs");
    assert!(made.success());
    let e = Submission::read(&fifo, EXT, 1000).expect_err("refused");
    assert!(e.contains("not a regular file"), "{e}");
}
