//! vmlab's lecture demos as data: each folder `demos/<id>/` holds a `demo.toml`
//! ([`manifest`]) and the guest it runs. The build script checks every folder and
//! embeds it; [`all`] gives the demos in lecture order to the browser lab and to
//! the native test that runs every step and checks its claims.

pub mod jit_player;
pub mod jvm_player;
pub mod kind_linux;
pub mod manifest;
pub mod pack;
pub mod served;

use std::sync::OnceLock;

pub use manifest::{
    kind_disk, kind_host, kind_jvm, Boot, CpuExpect, ExitControlsSet, Expect, Kind, Manifest,
    MemoryAt, Panel, Run, Space, Step,
};

/// One demo folder's files, embedded at build time.
#[derive(Debug)]
struct EmbeddedDemo {
    id: &'static str,
    manifest: &'static str,
    source: &'static str,
}

// The Wasm build leaves the text out: the lab fetches it ([`served`]).
#[cfg(not(target_arch = "wasm32"))]
include!(concat!(env!("OUT_DIR"), "/embedded_demos.rs"));

/// The shared guest includes: compiled in, or installed by the browser lab.
fn includes() -> &'static [(&'static str, &'static str)] {
    #[cfg(not(target_arch = "wasm32"))]
    {
        INCLUDES
    }
    #[cfg(target_arch = "wasm32")]
    {
        served::installed_includes()
    }
}

/// The other guests the lab's panels run, by path under `guests/` (the Linux panel's
/// examples, the migration workloads, the network scenarios' peer).
#[cfg(not(target_arch = "wasm32"))]
static GUESTS: &[(&str, &str)] = &[
    (
        "linux/fork.asm",
        include_str!("../../guests/linux/fork.asm"),
    ),
    (
        "linux/hello.asm",
        include_str!("../../guests/linux/hello.asm"),
    ),
    (
        "migrate/diabolical.asm",
        include_str!("../../guests/migrate/diabolical.asm"),
    ),
    (
        "migrate/idle.asm",
        include_str!("../../guests/migrate/idle.asm"),
    ),
    (
        "migrate/moderate.asm",
        include_str!("../../guests/migrate/moderate.asm"),
    ),
    (
        "migrate/workload.inc",
        include_str!("../../guests/migrate/workload.inc"),
    ),
    ("net/peer.asm", include_str!("../../guests/net/peer.asm")),
];

/// Those guests: compiled in, or installed by the browser lab.
fn guests() -> &'static [(&'static str, &'static str)] {
    #[cfg(not(target_arch = "wasm32"))]
    {
        GUESTS
    }
    #[cfg(target_arch = "wasm32")]
    {
        served::installed_guests()
    }
}

/// The demo folders: compiled in, or installed by the browser lab.
fn embedded() -> &'static [EmbeddedDemo] {
    #[cfg(not(target_arch = "wasm32"))]
    {
        EMBEDDED
    }
    #[cfg(target_arch = "wasm32")]
    {
        served::installed_demos()
    }
}

/// A lecture demo.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Demo {
    /// Its folder's name: stable, used in share links (`#demo=ID`) and test ids.
    pub id: &'static str,
    /// The guest's assembly source.
    pub source: &'static str,
    /// The manifest: title, mode and steps.
    pub manifest: Manifest,
}

impl Demo {
    /// The menu title.
    pub fn title(&self) -> &str {
        &self.manifest.title
    }

    /// The steps.
    pub fn steps(&self) -> &[Step] {
        &self.manifest.steps
    }
}

/// Every machine demo in lecture order (the build checked that each one parses): the
/// demos the lab's machine player runs.
pub fn all() -> &'static [Demo] {
    static MACHINE: OnceLock<Vec<Demo>> = OnceLock::new();
    MACHINE.get_or_init(|| of_kind(Kind::Machine).cloned().collect())
}

/// The demos of one kind, in lecture order.
pub fn of_kind(kind: Kind) -> impl Iterator<Item = &'static Demo> {
    every().iter().filter(move |d| d.manifest.kind == kind)
}

/// Every demo of every kind, in lecture order.
pub fn every() -> &'static [Demo] {
    static DEMOS: OnceLock<Vec<Demo>> = OnceLock::new();
    DEMOS.get_or_init(|| {
        let mut v: Vec<Demo> = embedded()
            .iter()
            .filter_map(|e| {
                Some(Demo {
                    id: e.id,
                    source: e.source,
                    manifest: Manifest::parse(e.manifest).ok()?,
                })
            })
            .collect();
        v.sort_by_key(|d| (d.manifest.order, d.id));
        v
    })
}

/// The text of the shared guest include `name` (`guests/include/NAME`), which demo
/// guests pull in with `%include "NAME"`.
pub fn include(name: &str) -> Option<&'static str> {
    includes().iter().find(|(n, _)| *n == name).map(|(_, t)| *t)
}

/// Whether a flat program starts in real mode, as the lab loads an editor's program or a
/// flat demo's guest: a `bits 16` directive comes before any `bits 32` (flat 32-bit
/// protected mode otherwise).
pub fn real_mode_program(source: &str) -> bool {
    for line in source.lines() {
        let code = line
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        match code.split_whitespace().collect::<Vec<_>>().as_slice() {
            ["bits", "16"] | ["[bits", "16]"] => return true,
            ["bits", "32"] | ["[bits", "32]"] => return false,
            _ => {}
        }
    }
    false
}

/// The source of a guest a lab panel runs, by its path under `guests/`
/// (`net/peer.asm`): one of [`GUESTS`].
pub fn guest(path: &str) -> Option<&'static str> {
    guests().iter().find(|(p, _)| *p == path).map(|(_, t)| *t)
}

/// The built-in demos the lab's main player opens, in lecture order: machine demos and
/// Linux demos (the Host view and the JVM panel play their own kinds).
pub(crate) fn played() -> impl Iterator<Item = &'static Demo> {
    every()
        .iter()
        .filter(|d| matches!(d.manifest.kind, Kind::Machine | Kind::Linux))
}

/// The demo with this id: a built-in one the main player opens or one a course pack
/// added.
pub fn find(id: &str) -> Option<&'static Demo> {
    played()
        .find(|d| d.id == id)
        .or_else(|| pack::added().into_iter().find(|d| d.id == id))
}

/// The demo menu: the built-in demos the main player opens in lecture order, then
/// those course packs added.
pub fn menu() -> Vec<&'static Demo> {
    played().chain(pack::added()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bits_16_directive_first_means_real_mode() {
        assert!(real_mode_program("; boot\n  BITS 16\norg 0x7c00"));
        assert!(!real_mode_program("[bits 32]\nbits 16"));
        assert!(!real_mode_program("org 0x10000\nnop"));
    }

    #[test]
    fn every_folder_is_a_valid_demo() {
        assert_eq!(every().len(), EMBEDDED.len(), "a manifest failed to parse");
        for e in EMBEDDED {
            let m = Manifest::parse(e.manifest).expect("parses");
            m.validate(&manifest::with_includes(e.source, include))
                .unwrap_or_else(|err| panic!("{}: {err}", e.id));
        }
        let orders: Vec<u32> = every().iter().map(|d| d.manifest.order).collect();
        let mut distinct = orders.clone();
        distinct.dedup();
        assert_eq!(orders, distinct, "two demos share a place in the menu");
        assert_eq!(find(all()[0].id), Some(&all()[0]));
        assert_eq!(find("no-such-demo"), None);
    }

    #[test]
    fn shared_includes_are_embedded_by_name() {
        let pc = include("pc.inc").expect("guests/include/pc.inc");
        assert!(pc.contains("puts:"), "{pc}");
        assert_eq!(include("missing.inc"), None);
        for d in all() {
            for name in manifest::includes(d.source) {
                assert!(include(&name).is_some(), "{}: {name}", d.id);
            }
        }
    }
}
