//! A Linux run's container (root folder, chroot kind, mounts, memory cap, CPU quota)
//! and host files, turned into the process VM's configuration; how far a demo step
//! runs it (in system calls); and the container as the panel shows it.

use serde::{Deserialize, Serialize};
use vmlab_procvm::{BindMount, CpuQuota, Outcome, Process, ProcessConfig, SyscallRecord};

/// A folder of the host's files bound into the program's file system.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct LinuxMount {
    /// A folder of the host's files.
    pub source: String,
    /// Where the program sees it (inside its root).
    pub target: String,
    /// Changes under it are refused.
    pub read_only: bool,
}

/// The container a program runs in; every field left at its default is the host.
#[derive(Clone, PartialEq, Eq, Debug, Default, Serialize, Deserialize)]
pub struct Container {
    /// A folder of the host's files that becomes the program's root (empty: `/`).
    pub root: String,
    /// chroot(2) as Linux has it (the current directory stays where it was).
    pub naive_chroot: bool,
    /// Most bytes of memory all its processes may map.
    pub mem_limit: Option<u64>,
    /// A CPU share: (instructions, period in virtual nanoseconds).
    pub cpu_quota: Option<(u64, u64)>,
    /// Bind mounts.
    pub mounts: Vec<LinuxMount>,
}

/// The host's files the lab's own runs see (a demo brings its own).
pub fn lab_files() -> Vec<(String, Vec<u8>)> {
    [
        ("/secret.txt", "the host's secret\n"),
        ("/jail/readme", "inside the jail\n"),
        ("/srv/data/motd", "hello from the host\n"),
    ]
    .into_iter()
    .map(|(p, t)| (p.to_string(), t.as_bytes().to_vec()))
    .collect()
}

/// Parses the panel's `N/PERIOD` CPU share.
pub fn parse_quota(text: &str) -> Result<Option<(u64, u64)>, String> {
    if text.trim().is_empty() {
        return Ok(None);
    }
    vmlab_demos::kind_linux::parse_quota(text)
        .map(Some)
        .map_err(|e| format!("CPU quota: {e}"))
}

/// Parses the panel's `SRC:DST[:ro]` mounts, separated by spaces.
pub fn parse_mounts(text: &str) -> Result<Vec<LinuxMount>, String> {
    text.split_whitespace()
        .map(|m| {
            let (rest, read_only) = match m.strip_suffix(":ro") {
                Some(r) => (r, true),
                None => (m.strip_suffix(":rw").unwrap_or(m), false),
            };
            let (source, target) = rest
                .split_once(':')
                .filter(|(s, t)| s.starts_with('/') && t.starts_with('/') && t.len() > 1)
                .ok_or_else(|| format!("mount {m:?}: write SRC:DST or SRC:DST:ro"))?;
            Ok(LinuxMount {
                source: source.into(),
                target: target.into(),
                read_only,
            })
        })
        .collect()
}

/// Parses the panel's memory cap: bytes, or with a K, M or G suffix.
pub fn parse_size(text: &str) -> Result<Option<u64>, String> {
    let t = text.trim();
    if t.is_empty() {
        return Ok(None);
    }
    let (num, unit) = match t.char_indices().last() {
        Some((i, 'K' | 'k')) => (&t[..i], 1u64 << 10),
        Some((i, 'M' | 'm')) => (&t[..i], 1 << 20),
        Some((i, 'G' | 'g')) => (&t[..i], 1 << 30),
        _ => (t, 1),
    };
    num.trim()
        .parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(unit))
        .filter(|n| *n > 0)
        .map(Some)
        .ok_or_else(|| format!("memory cap {t:?}: give bytes, e.g. 4M"))
}

/// The files under `dir` of `files`, with paths relative to it.
fn under(files: &[(String, Vec<u8>)], dir: &str) -> Vec<(String, Vec<u8>)> {
    let prefix = format!("{}/", dir.trim_end_matches('/'));
    files
        .iter()
        .filter_map(|(p, d)| Some((format!("/{}", p.strip_prefix(&prefix)?), d.clone())))
        .collect()
}

/// Adds the container's limits and mounts to `cfg`; a mount's target lies inside
/// the root.
pub fn configure(cfg: &mut ProcessConfig, c: &Container, files: &[(String, Vec<u8>)]) {
    cfg.files = files.to_vec();
    cfg.naive_chroot = c.naive_chroot;
    cfg.mem_limit = c.mem_limit;
    cfg.cpu_quota = c
        .cpu_quota
        .map(|(quota, period)| CpuQuota { quota, period });
    let root = c.root.trim_end_matches('/');
    cfg.mounts = c
        .mounts
        .iter()
        .map(|m| BindMount {
            source: m.source.clone(),
            target: format!("{root}{}", m.target),
            files: under(files, &m.source),
            read_only: m.read_only,
        })
        .collect();
}

/// Loads the program and, in a container with a root, starts it there.
pub fn load(elf: &[u8], cfg: ProcessConfig, c: &Container) -> Result<Process, String> {
    let mut p = Process::load(elf, cfg).map_err(|e| e.to_string())?;
    if !c.root.is_empty() && c.root != "/" {
        p.enter_root(&c.root)?;
    }
    Ok(p)
}

/// How far one demo step runs the program.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub enum LinuxStop {
    /// This many more system calls (0: none).
    Syscalls(u64),
    /// Up to and including the next call of this name.
    ToSyscall(String),
    /// To the end.
    End,
}

/// After how many system calls the steps `stops` leave the program (`None`: at its
/// end); `trace` is the whole run's, of `total` calls.
pub fn pause_point(
    stops: &[LinuxStop],
    trace: &[SyscallRecord],
    total: u64,
) -> Result<Option<u64>, String> {
    let mut at = 0u64;
    for s in stops {
        match s {
            LinuxStop::Syscalls(n) => at = at.saturating_add(*n),
            LinuxStop::ToSyscall(name) => {
                let from = usize::try_from(at).unwrap_or(usize::MAX);
                let i = trace
                    .iter()
                    .enumerate()
                    .skip(from)
                    .find(|(_, t)| t.name == *name)
                    .map(|(i, _)| i)
                    .ok_or_else(|| {
                        format!("the program makes no {name} call after its call {at}")
                    })?;
                at = i as u64 + 1;
            }
            LinuxStop::End => return Ok(None),
        }
    }
    Ok((at < total).then_some(at))
}

/// The container as the panel shows it.
#[derive(Clone, PartialEq, Debug, Default, Serialize, Deserialize)]
pub struct ContainerView {
    /// The host name the program sees.
    pub hostname: String,
    /// Its root folder in the host's tree.
    pub root: String,
    /// `strict` or `naive`.
    pub chroot: String,
    /// In a PID namespace.
    pub pid_ns: bool,
    /// The first process's pid on the host and inside.
    pub pid: (u32, Option<u32>),
    /// The mount table: target, source, read-only.
    pub mounts: Vec<(String, String, bool)>,
    /// The memory cap, in bytes.
    pub mem_limit: Option<u64>,
    /// The most bytes mapped at once.
    pub peak_bytes: u64,
    /// The CPU share.
    pub cpu_quota: Option<(u64, u64)>,
    /// Virtual nanoseconds from start to where the run is.
    pub elapsed_ns: u64,
    /// Virtual nanoseconds the quota held it back, and in how many periods.
    pub throttled: (u64, u64),
}

/// What `o` shows of container `c`.
pub fn view(c: &Container, hostname: &str, pid_ns: bool, o: &Outcome) -> ContainerView {
    let root = if c.root.is_empty() { "/" } else { &c.root };
    ContainerView {
        hostname: hostname.to_string(),
        root: root.to_string(),
        chroot: if c.naive_chroot { "naive" } else { "strict" }.into(),
        pid_ns,
        pid: o.processes.first().map_or((0, None), |p| (p.pid, p.ns_pid)),
        mounts: o
            .mounts
            .iter()
            .map(|m| (m.target.clone(), m.source.clone(), m.read_only))
            .collect(),
        mem_limit: c.mem_limit,
        peak_bytes: u64::from(o.peak_pages) * 4096,
        cpu_quota: c.cpu_quota,
        elapsed_ns: o.elapsed_ns,
        throttled: (o.throttled_ns, o.throttled_periods),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call(name: &str) -> SyscallRecord {
        SyscallRecord {
            pid: 1,
            nr: 0,
            name: name.into(),
            args: String::new(),
            ret: 0,
            icount: 0,
        }
    }

    #[test]
    fn steps_become_a_pause_point() {
        let trace: Vec<_> = ["getpid", "uname", "write", "chroot", "write", "exit_group"]
            .into_iter()
            .map(call)
            .collect();
        let to = |n: &str| LinuxStop::ToSyscall(n.into());
        let p = |s: &[LinuxStop]| pause_point(s, &trace, 6);
        assert_eq!(p(&[]), Ok(Some(0)));
        assert_eq!(p(&[LinuxStop::Syscalls(2)]), Ok(Some(2)));
        assert_eq!(p(&[to("write")]), Ok(Some(3)));
        assert_eq!(p(&[to("write"), to("write")]), Ok(Some(5)));
        assert_eq!(p(&[LinuxStop::Syscalls(1), LinuxStop::End]), Ok(None));
        assert_eq!(p(&[LinuxStop::Syscalls(9)]), Ok(None), "past the end");
        let e = p(&[to("chroot"), to("chroot")]).expect_err("one chroot");
        assert_eq!(e, "the program makes no chroot call after its call 4");
    }

    #[test]
    fn the_panels_fields_parse_or_say_what_is_wrong() {
        assert_eq!(parse_quota(" "), Ok(None));
        assert_eq!(parse_quota("25000/100000"), Ok(Some((25_000, 100_000))));
        assert!(parse_quota("half")
            .expect_err("no slash")
            .starts_with("CPU quota"));
        assert_eq!(parse_size("4M"), Ok(Some(4 << 20)));
        assert_eq!(parse_size("512"), Ok(Some(512)));
        assert!(parse_size("lots").is_err());
        assert!(parse_size("0").is_err());
        let m = parse_mounts("/srv/data:/data:ro /tmp:/scratch").expect("two mounts");
        assert_eq!(
            m,
            [
                LinuxMount {
                    source: "/srv/data".into(),
                    target: "/data".into(),
                    read_only: true
                },
                LinuxMount {
                    source: "/tmp".into(),
                    target: "/scratch".into(),
                    read_only: false
                }
            ]
        );
        assert!(parse_mounts("data")
            .expect_err("no colon")
            .contains("SRC:DST"));
        assert!(parse_mounts("/a:/").is_err());
    }

    #[test]
    fn mounts_bind_the_files_under_their_source_inside_the_root() {
        let mut cfg = ProcessConfig::default();
        let c = Container {
            root: "/jail".into(),
            mounts: parse_mounts("/srv/data:/data:ro").expect("a mount"),
            cpu_quota: Some((10, 100)),
            ..Container::default()
        };
        configure(&mut cfg, &c, &lab_files());
        assert_eq!(cfg.mounts.len(), 1);
        assert_eq!(cfg.mounts[0].target, "/jail/data");
        assert_eq!(
            cfg.mounts[0].files,
            [("/motd".to_string(), b"hello from the host\n".to_vec())]
        );
        assert_eq!(cfg.cpu_quota.map(|q| (q.quota, q.period)), Some((10, 100)));
    }
}
