//! The keys of a `kind = "linux"` demo: the process VM's host files and named
//! container setups (`[linux]`), and each step's run in system calls, its setup
//! and its claims (`[step.linux]`), with the checks the build makes on them.

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::manifest::{Manifest, Panel, Run};

/// A Linux demo's `[linux]` table.
#[derive(Clone, PartialEq, Eq, Debug, Default, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct LinuxDemo {
    /// The program's arguments after argv[0].
    #[serde(default)]
    pub args: Vec<String>,
    /// The host's files (absolute path → text); a setup's root and mounts are
    /// folders of them.
    #[serde(default)]
    pub files: BTreeMap<String, String>,
    /// The ways the program is started, by name (`[linux.setup.container]`).
    #[serde(default)]
    pub setup: BTreeMap<String, Setup>,
}

/// How the program is started: on the host (every key left out) or in a container.
#[derive(Clone, PartialEq, Eq, Debug, Default, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct Setup {
    /// A folder of the host's files that becomes the program's root.
    pub root: Option<String>,
    /// chroot(2) as Linux has it (the current directory stays outside), not the
    /// strict root that moves it inside.
    #[serde(default)]
    pub naive_chroot: bool,
    /// The host name uname(2) reports (`vmlab` when left out).
    pub hostname: Option<String>,
    /// A new PID namespace: the program is pid 1.
    #[serde(default)]
    pub pid_ns: bool,
    /// Most bytes of memory all its processes may map.
    pub mem_limit: Option<u64>,
    /// A CPU share, `N/PERIOD`: N instructions in each PERIOD virtual nanoseconds.
    pub cpu_quota: Option<String>,
    /// Folders of the host bound into the program's file system.
    #[serde(default)]
    pub mounts: Vec<MountSpec>,
}

/// One bind mount of a setup.
#[derive(Clone, PartialEq, Eq, Debug, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct MountSpec {
    /// A folder of the host's files.
    pub source: String,
    /// Where the program sees it (inside its root).
    pub target: String,
    /// Changes under it are refused.
    #[serde(default)]
    pub read_only: bool,
}

/// How far a Linux step runs the program (from where the previous step left it).
#[derive(Clone, PartialEq, Eq, Debug, Default, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub enum LinuxRun {
    /// Nothing more runs (`run = "look"`, the default).
    #[default]
    Look,
    /// This many more system calls (`run = { syscalls = 3 }`).
    Syscalls(u32),
    /// Up to and including the next call of this name (`run = { to-syscall = "chroot" }`).
    ToSyscall(String),
    /// Until every process has ended (`run = "to-end"`).
    ToEnd,
}

/// What a Linux step claims; a native test checks each claim.
#[derive(Clone, PartialEq, Eq, Debug, Default, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct LinuxExpect {
    /// Text the program's standard output holds after the step.
    pub stdout: Option<String>,
    /// Text it does not hold.
    pub stdout_lacks: Option<String>,
    /// The first word of the status line: `paused`, `exited` or `killed`.
    pub state: Option<String>,
    /// The first process's exit status.
    pub status: Option<i32>,
    /// System calls made so far.
    pub syscalls: Option<u64>,
    /// The name of the newest call in the strace list.
    pub last_syscall: Option<String>,
    /// The pid the first process has inside its PID namespace (0: no namespace).
    pub pid_inside: Option<u32>,
    /// Processes in the table.
    pub processes: Option<usize>,
    /// Every way of the comparison printed what the process printed.
    pub same_output: Option<bool>,
    /// Ring switches of each way of the comparison (`{ unikernel = 0 }`).
    #[serde(default)]
    pub ring_switches: BTreeMap<String, u64>,
    /// The ways of the comparison the CPU quota held back.
    #[serde(default)]
    pub throttled: Vec<String>,
}

impl LinuxExpect {
    /// Whether the step claims nothing.
    pub fn is_empty(&self) -> bool {
        *self == LinuxExpect::default()
    }
}

/// A Linux demo step's `[step.linux]` table.
#[derive(Clone, PartialEq, Eq, Debug, Default, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct LinuxStep {
    /// Restarts the program in this setup (a name under `[linux.setup]`); later
    /// steps go on in it.
    pub setup: Option<String>,
    /// How far the program runs.
    #[serde(default)]
    pub run: LinuxRun,
    /// Also runs the program to its end as a process, in the setup's container and
    /// as a unikernel, for the three-way cost table.
    #[serde(default)]
    pub compare: bool,
    /// What the step claims.
    #[serde(default)]
    pub expect: LinuxExpect,
}

/// The panels a Linux step may focus.
pub const PANELS: [Panel; 5] = [
    Panel::Linux,
    Panel::LinuxContainer,
    Panel::LinuxProcesses,
    Panel::LinuxStrace,
    Panel::LinuxWays,
];

/// Parses a CPU share `N/PERIOD` into (quota, period), both at least 1.
pub fn parse_quota(text: &str) -> Result<(u64, u64), String> {
    let (n, p) = text
        .split_once('/')
        .ok_or_else(|| format!("{text:?} is not N/PERIOD"))?;
    let num = |s: &str| {
        s.trim()
            .replace('_', "")
            .parse::<u64>()
            .ok()
            .filter(|v| *v > 0)
            .ok_or_else(|| format!("{text:?}: {s:?} is not a positive number"))
    };
    Ok((num(n)?, num(p)?))
}

/// Whether `path` is an absolute path without `.` or `..` parts.
fn plain_path(path: &str) -> bool {
    path.starts_with('/') && !path.split('/').any(|c| c == "." || c == "..")
}

/// Whether the host's files hold `dir` as a folder (some file lies under it).
fn is_folder(files: &BTreeMap<String, String>, dir: &str) -> bool {
    let prefix = format!("{}/", dir.trim_end_matches('/'));
    dir == "/" || files.keys().any(|f| f.starts_with(&prefix))
}

fn check_setup(name: &str, s: &Setup, files: &BTreeMap<String, String>) -> Result<(), String> {
    let key = |k: &str| format!("linux.setup.{name}.{k}");
    let folder = |k: &str, dir: &str| {
        if !plain_path(dir) {
            Err(format!("{}: {dir:?} is not an absolute path", key(k)))
        } else if !is_folder(files, dir) {
            Err(format!(
                "{}: no file of linux.files lies under {dir:?}",
                key(k)
            ))
        } else {
            Ok(())
        }
    };
    if let Some(r) = &s.root {
        folder("root", r)?;
    }
    if s.naive_chroot && s.root.is_none() {
        return Err(key("naive-chroot: needs a root to be naive about"));
    }
    if let Some(h) = &s.hostname {
        if h.is_empty() || h.len() > 64 {
            return Err(key("hostname: 1 to 64 bytes"));
        }
    }
    if s.mem_limit == Some(0) {
        return Err(key("mem-limit: must be at least 1 byte"));
    }
    if let Some(q) = &s.cpu_quota {
        parse_quota(q).map_err(|e| format!("{}: {e}", key("cpu-quota")))?;
    }
    for (i, m) in s.mounts.iter().enumerate() {
        folder(&format!("mounts[{i}].source"), &m.source)?;
        if !plain_path(&m.target) || m.target == "/" {
            return Err(format!(
                "{}: {:?} is not an absolute folder below /",
                key(&format!("mounts[{i}].target")),
                m.target
            ));
        }
    }
    Ok(())
}

/// Checks a Linux demo: its `[linux]` table and setups, and steps that run in
/// system calls, name known setups (the first one names one), focus the Linux
/// panel's parts and claim something. The error starts with the key.
pub fn validate(m: &Manifest) -> Result<(), String> {
    let demo = m
        .linux
        .as_ref()
        .ok_or("linux: a Linux demo needs a [linux] table with its setups")?;
    for path in demo.files.keys() {
        if !plain_path(path) || path.ends_with('/') {
            return Err(format!(
                "linux.files: {path:?} is not an absolute file path"
            ));
        }
    }
    if demo.setup.is_empty() {
        return Err("linux.setup: name at least one setup".into());
    }
    for (name, s) in &demo.setup {
        check_setup(name, s, &demo.files)?;
    }
    for (i, s) in m.steps.iter().enumerate() {
        let key = |k: &str| format!("step[{i}].{k}");
        let l = s
            .linux
            .as_ref()
            .ok_or_else(|| key("linux: a Linux demo's step has a [step.linux] table"))?;
        if s.run != Run::Look || !s.expect.is_empty() || s.reruns() || s.compare {
            return Err(key(
                "run, expect, mode, exit-controls and compare drive a machine; a Linux step says them under [step.linux]",
            ));
        }
        if i == 0 && l.setup.is_none() {
            return Err(key(
                "linux.setup: the first step names the setup it starts in",
            ));
        }
        if let Some(name) = &l.setup {
            if !demo.setup.contains_key(name) {
                return Err(key(&format!(
                    "linux.setup: no [linux.setup.{name}] in the manifest"
                )));
            }
        }
        match &l.run {
            LinuxRun::Syscalls(0) => return Err(key("linux.run.syscalls: must be at least 1")),
            LinuxRun::ToSyscall(n) if n.is_empty() => {
                return Err(key("linux.run.to-syscall: name a system call"))
            }
            _ => {}
        }
        if l.expect.is_empty() {
            return Err(key("linux.expect: say what the step shows"));
        }
        if let Some(p) = s.focus.iter().find(|p| !PANELS.contains(p)) {
            return Err(key(&format!(
                "focus: {} is a machine panel; a Linux step shows the Linux panel's parts",
                p.testid()
            )));
        }
        let claims_ways = l.expect.same_output.is_some()
            || !l.expect.ring_switches.is_empty()
            || !l.expect.throttled.is_empty();
        if claims_ways && !l.compare {
            return Err(key(
                "linux.expect: claims about the ways need linux.compare = true",
            ));
        }
        if l.compare && !s.focus.contains(&Panel::LinuxWays) {
            return Err(key(
                "focus: a step with linux.compare = true shows panel-linux-ways",
            ));
        }
    }
    Ok(())
}

/// Refuses Linux keys in a demo of another kind.
pub fn refuse(m: &Manifest) -> Result<(), String> {
    if m.linux.is_some() {
        return Err("linux: only a kind = \"linux\" demo has a [linux] table".into());
    }
    if let Some(i) = m.steps.iter().position(|s| s.linux.is_some()) {
        return Err(format!(
            "step[{i}].linux: only a kind = \"linux\" demo's steps have one"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEAD: &str = "title = \"t\"\norder = 1\nguest = \"p.asm\"\nmode = \"bare\"\nkind = \"linux\"\n\
        [linux]\nfiles = { \"/jail/readme\" = \"in\\n\", \"/srv/data/motd\" = \"hi\\n\" }\n\
        [linux.setup.host]\n\
        [linux.setup.box]\nroot = \"/jail\"\npid-ns = true\nhostname = \"box1\"\ncpu-quota = \"25000/100000\"\n\
        mounts = [{ source = \"/srv/data\", target = \"/data\", read-only = true }]\n";

    fn manifest(steps: &str) -> Result<Manifest, String> {
        let m = Manifest::parse(&format!("{HEAD}{steps}"))?;
        m.validate("")?;
        Ok(m)
    }

    fn step(title: &str, body: &str) -> String {
        format!("[[step]]\ntitle = \"{title}\"\ntext = \"b\"\nfocus = [\"linux-strace\"]\n[step.linux]\n{body}\n")
    }

    #[test]
    fn a_linux_demo_parses_with_its_setups_and_runs() {
        let m = manifest(
            &[
                step(
                    "a",
                    "setup = \"host\"\nrun = { syscalls = 2 }\n[step.linux.expect]\nsyscalls = 2",
                ),
                step(
                    "b",
                    "setup = \"box\"\nrun = { to-syscall = \"chroot\" }\n[step.linux.expect]\nlast-syscall = \"chroot\"\npid-inside = 1",
                ),
                step(
                    "c",
                    "run = \"to-end\"\n[step.linux.expect]\nstate = \"exited\"\nstatus = 0",
                ),
            ]
            .concat(),
        )
        .expect("valid");
        let l = m.linux.as_ref().expect("the table");
        let bx = &l.setup["box"];
        assert_eq!(bx.root.as_deref(), Some("/jail"));
        assert!(bx.pid_ns && bx.mounts[0].read_only);
        let runs: Vec<_> = m
            .steps
            .iter()
            .map(|s| s.linux.as_ref().map(|l| l.run.clone()))
            .collect();
        assert_eq!(
            runs,
            [
                Some(LinuxRun::Syscalls(2)),
                Some(LinuxRun::ToSyscall("chroot".into())),
                Some(LinuxRun::ToEnd)
            ]
        );
        assert_eq!(parse_quota("25_000/100000"), Ok((25_000, 100_000)));
    }

    #[test]
    fn linux_errors_name_the_key() {
        let ok = "setup = \"host\"\n[step.linux.expect]\nsyscalls = 1";
        let cases = [
            (
                step("a", "setup = \"vm\"\n[step.linux.expect]\nsyscalls = 1"),
                "step[0].linux.setup: no [linux.setup.vm]",
            ),
            (
                step("a", "[step.linux.expect]\nsyscalls = 1"),
                "step[0].linux.setup: the first step",
            ),
            (
                step("a", "setup = \"host\""),
                "step[0].linux.expect: say what",
            ),
            (
                step(
                    "a",
                    "setup = \"host\"\nrun = { syscalls = 0 }\n[step.linux.expect]\nsyscalls = 0",
                ),
                "run.syscalls: must be at least 1",
            ),
            (
                step(
                    "a",
                    "setup = \"host\"\n[step.linux.expect]\nsame-output = true",
                ),
                "need linux.compare",
            ),
            (
                step(
                    "a",
                    "setup = \"host\"\ncompare = true\n[step.linux.expect]\nsame-output = true",
                ),
                "shows panel-linux-ways",
            ),
            (
                step("a", ok).replace("linux-strace", "registers"),
                "panel-registers is a machine panel",
            ),
            (
                step("a", ok).replace("[step.linux]", "run = \"to-end\"\n[step.linux]"),
                "step[0].run, expect",
            ),
            (
                "[[step]]\ntitle = \"a\"\ntext = \"b\"\nfocus = [\"linux\"]\n".into(),
                "step[0].linux: a Linux demo's step",
            ),
            (
                step("a", "setup = \"host\"\n[step.linux.expect]\nsyscals = 1"),
                "unknown field `syscals`",
            ),
        ];
        for (body, want) in cases {
            let e = manifest(&body).expect_err(want);
            assert!(e.contains(want), "{want:?} not in {e:?}");
        }
        let bad_setup = |s: &str| {
            Manifest::parse(&format!("{}[linux.setup.x]\n{s}\n{}", HEAD, step("a", ok)))
                .and_then(|m| m.validate(""))
                .expect_err(s)
        };
        assert!(bad_setup("root = \"/nowhere\"").contains("linux.setup.x.root: no file"));
        assert!(bad_setup("root = \"/jail/../srv\"").contains("not an absolute path"));
        assert!(bad_setup("naive-chroot = true").contains("naive-chroot: needs a root"));
        assert!(bad_setup("cpu-quota = \"fast\"").contains("cpu-quota: \"fast\" is not N/PERIOD"));
        assert!(bad_setup("cpu-quota = \"0/10\"").contains("not a positive number"));
        assert!(
            bad_setup("mounts = [{ source = \"/srv/data\", target = \"data\" }]")
                .contains("mounts[0].target")
        );
        let machine = Manifest::parse(
            "title = \"t\"\norder = 1\nguest = \"g\"\nmode = \"bare\"\n[[step]]\ntitle = \"a\"\ntext = \"b\"\nfocus = [\"log\"]\n[step.linux]\nsetup = \"x\"\n",
        )
        .expect("parses");
        let e = machine.validate("").expect_err("a machine demo");
        assert!(
            e.starts_with("step[0].linux: only a kind = \"linux\""),
            "{e}"
        );
    }
}
