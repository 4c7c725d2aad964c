//! A lab's manifest (`lab.toml`): identity, kind, machine defaults, limits and grading policy.

use emulator_core::{FlatEntry, MachineConfig};
use serde::Deserialize;

/// What a student hands in for a lab.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum LabKind {
    /// Assembly source (or a flat binary) run as a guest on the machine; graded in the browser too.
    Guest,
    /// Rust source implementing one trait of the core; graded natively against the reference.
    Component,
}

impl LabKind {
    /// `guest` or `component`.
    pub const fn name(self) -> &'static str {
        match self {
            LabKind::Guest => "guest",
            LabKind::Component => "component",
        }
    }
}

/// Gradescope's `visibility` of a test result.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Visibility {
    /// Shown to the student at once.
    Visible,
    /// Never shown to the student.
    Hidden,
    /// Shown once the assignment's due date has passed.
    AfterDueDate,
    /// Shown once the instructor publishes the grades.
    AfterPublished,
}

impl Visibility {
    /// The string Gradescope expects.
    pub const fn name(self) -> &'static str {
        match self {
            Visibility::Visible => "visible",
            Visibility::Hidden => "hidden",
            Visibility::AfterDueDate => "after_due_date",
            Visibility::AfterPublished => "after_published",
        }
    }
}

/// Where a guest submission goes and what machine it runs on, unless a test says otherwise.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MachineDefaults {
    /// Guest RAM in MiB.
    #[serde(default = "default_ram")]
    pub ram_mib: u32,
    /// Physical address the flat image is loaded at (the source's `org`).
    #[serde(default = "default_load")]
    pub load: u32,
    /// How the program starts: `pm32` (the default), 32-bit protected mode at the load
    /// address with flat ring-0 segments (the loader's GDT: code 0x08, data 0x10), paging
    /// off, ESP = 0x90000; or `real`, real mode at 0:load like a boot sector, where the
    /// program switches to protected mode itself (under trap-and-emulate, that is when the
    /// VMM deprivileges it).
    #[serde(default = "default_entry")]
    pub entry: FlatEntry,
    /// Instructions a test may run before it counts as an endless loop.
    #[serde(default = "default_budget")]
    pub budget: u64,
    /// Serial output bytes kept; a flood beyond this is cut (and fails exact checks).
    #[serde(default = "default_serial")]
    pub serial_capacity: usize,
    /// Processors (CPU 0 starts, the others wait for INIT and SIPI; the MP table
    /// lists them).
    #[serde(default = "default_cpus")]
    pub cpus: u32,
    /// With several CPUs: instructions each runs before the next one's turn.
    #[serde(default = "default_quantum")]
    pub quantum: u64,
}

impl Default for MachineDefaults {
    fn default() -> Self {
        MachineDefaults {
            ram_mib: default_ram(),
            load: default_load(),
            entry: default_entry(),
            budget: default_budget(),
            serial_capacity: default_serial(),
            cpus: default_cpus(),
            quantum: default_quantum(),
        }
    }
}

fn default_cpus() -> u32 {
    1
}
fn default_quantum() -> u64 {
    MachineConfig::default().quantum
}

fn default_entry() -> FlatEntry {
    FlatEntry::Protected32
}
fn default_ram() -> u32 {
    4
}
fn default_load() -> u32 {
    0x10000
}
fn default_budget() -> u64 {
    1_000_000
}
fn default_serial() -> usize {
    64 * 1024
}

/// Grading policy: sizes accepted and when hidden results are shown.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GradingPolicy {
    /// Largest submission (source or binary) accepted, in bytes.
    #[serde(default = "default_max_submission")]
    pub max_submission_bytes: usize,
    /// Largest assembled image accepted, in bytes.
    #[serde(default = "default_max_image")]
    pub max_image_bytes: usize,
    /// When hidden tests' results are shown: `after_due_date` (the deadline) or `after_published`.
    #[serde(default = "default_hidden_visibility")]
    pub hidden_visibility: Visibility,
    /// Wall-clock seconds a component submission may take to build.
    #[serde(default = "default_build_seconds")]
    pub build_seconds: u64,
    /// Wall-clock seconds a component submission may run.
    #[serde(default = "default_run_seconds")]
    pub run_seconds: u64,
}

impl Default for GradingPolicy {
    fn default() -> Self {
        GradingPolicy {
            max_submission_bytes: default_max_submission(),
            max_image_bytes: default_max_image(),
            hidden_visibility: default_hidden_visibility(),
            build_seconds: default_build_seconds(),
            run_seconds: default_run_seconds(),
        }
    }
}

fn default_max_submission() -> usize {
    256 * 1024
}
fn default_max_image() -> usize {
    64 * 1024
}
fn default_hidden_visibility() -> Visibility {
    Visibility::AfterDueDate
}
fn default_build_seconds() -> u64 {
    300
}
fn default_run_seconds() -> u64 {
    20
}

/// The parsed `lab.toml`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LabManifest {
    /// Short identifier, the folder's name (`asm-warmup`).
    pub id: String,
    /// Title shown in the lab list.
    pub title: String,
    /// Position in the course (1, 2, …).
    pub order: u32,
    /// Guest or component lab.
    pub kind: LabKind,
    /// The component trait a component lab implements (`shift-rotate`, `shadow-fill`, `learning-switch`).
    #[serde(default)]
    pub component: Option<String>,
    /// Machine defaults for guest labs.
    #[serde(default)]
    pub machine: MachineDefaults,
    /// Grading policy.
    #[serde(default)]
    pub grading: GradingPolicy,
}

impl LabManifest {
    /// Parses a manifest; the error names the lab file and what is wrong.
    pub fn parse(text: &str) -> Result<LabManifest, String> {
        let m: LabManifest =
            vmlab_net::toml_de::from_str(text).map_err(|e| format!("lab.toml: {e}"))?;
        if m.id.is_empty() || !m.id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
            return Err(format!(
                "lab.toml: id {:?} must be letters, digits and '-'",
                m.id
            ));
        }
        match (m.kind, m.component.as_deref()) {
            (LabKind::Component, None) => {
                return Err("lab.toml: a component lab names its `component`".into())
            }
            (LabKind::Component, Some(c)) if !crate::component::COMPONENTS.contains(&c) => {
                return Err(format!(
                    "lab.toml: unknown component {c:?}; the components are {}",
                    crate::component::COMPONENTS.join(", ")
                ))
            }
            (LabKind::Guest, Some(_)) => {
                return Err("lab.toml: only a component lab names a `component`".into())
            }
            _ => {}
        }
        Ok(m)
    }

    /// The file extension of a source submission (`asm` or `rs`).
    pub fn source_extension(&self) -> &'static str {
        match self.kind {
            LabKind::Guest => "asm",
            LabKind::Component => "rs",
        }
    }
}
