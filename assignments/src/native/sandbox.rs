//! The sandbox a component submission is compiled and run in: Landlock (files,
//! TCP, signals), a seccomp filter, rlimits and, under root, an unprivileged user.
//!
//! Everything is prepared in the grader before `fork`; the child only makes raw
//! system calls (`setrlimit`, `setuid`, `landlock_restrict_self`, `seccomp`) before
//! `exec`. What the kernel lacks is named in [`Confinement::missing`], never skipped
//! silently.
#![allow(unsafe_code)]

use std::collections::BTreeMap;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use landlock::{
    Access, AccessFs, AccessNet, BitFlags, CompatLevel, Compatible, PathBeneath, PathFd, Ruleset,
    RulesetAttr, RulesetCreatedAttr, Scope, ABI,
};
use seccompiler::{
    BpfProgram, SeccompAction, SeccompCmpArgLen, SeccompCmpOp, SeccompCondition, SeccompFilter,
    SeccompRule,
};

/// Which step of grading runs in the sandbox.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    /// `cargo build` of the submission: the toolchain may run, sockets and tracing may not.
    Compile,
    /// The submission's program: no new processes, no files but its own binary and libc.
    Run,
}

/// Resource limits of one sandboxed process tree.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// CPU seconds (RLIMIT_CPU).
    pub cpu_seconds: u64,
    /// Address space in bytes (RLIMIT_AS).
    pub memory_bytes: u64,
    /// Largest file written, in bytes (RLIMIT_FSIZE).
    pub file_bytes: u64,
    /// Processes and threads of the sandbox user (RLIMIT_NPROC; not enforced for root).
    pub processes: u64,
}

/// What a sandboxed process may reach.
#[derive(Clone, Debug)]
pub struct Policy {
    /// The step.
    pub step: Step,
    /// Files and folders it may read.
    pub read: Vec<PathBuf>,
    /// Files and folders it may read and execute.
    pub exec: Vec<PathBuf>,
    /// Folders it may read, write and execute in.
    pub write: Vec<PathBuf>,
    /// Folders that must stay out of reach (the lab folder): preparing fails when an
    /// allowed path contains one.
    pub secret: Vec<PathBuf>,
    /// Resource limits.
    pub limits: Limits,
}

/// The protections a sandboxed command got, and those the machine could not give.
#[derive(Clone, Debug, Default)]
pub struct Confinement {
    /// Plain descriptions of what is missing (empty when fully confined).
    pub missing: Vec<String>,
}

/// The running kernel's Landlock ABI version (0: no Landlock).
pub fn landlock_abi() -> i64 {
    // SAFETY: landlock_create_ruleset(NULL, 0, LANDLOCK_CREATE_RULESET_VERSION) only
    // returns the ABI version; it reads and writes no memory.
    let v = unsafe {
        libc::syscall(
            libc::SYS_landlock_create_ruleset,
            std::ptr::null::<u8>(),
            0usize,
            1u32,
        )
    };
    v.max(0)
}

/// What a kernel with Landlock ABI `abi` cannot enforce.
fn landlock_gaps(abi: i64) -> Vec<String> {
    if abi <= 0 {
        return vec!["Landlock (file-system confinement): this kernel does not offer it".into()];
    }
    let mut gaps = Vec::new();
    if abi < 4 {
        gaps.push(format!(
            "Landlock TCP rules (kernel Landlock ABI {abi} < 4)"
        ));
    }
    if abi < 6 {
        gaps.push(format!(
            "Landlock signal scoping (kernel Landlock ABI {abi} < 6)"
        ));
    }
    gaps
}

fn abi_enum(v: i64) -> ABI {
    match v {
        ..=0 => ABI::Unsupported,
        1 => ABI::V1,
        2 => ABI::V2,
        3 => ABI::V3,
        4 => ABI::V4,
        5 => ABI::V5,
        _ => ABI::V6,
    }
}

/// The user a sandboxed process runs as when the grader is root: `vmlab-sandbox`,
/// Gradescope's `student`, or `nobody`, whichever exists first (looked up once).
fn sandbox_user() -> Option<(u32, u32, &'static str)> {
    static USER: std::sync::OnceLock<Option<(u32, u32, &'static str)>> = std::sync::OnceLock::new();
    *USER.get_or_init(|| {
        ["vmlab-sandbox", "student", "nobody"]
            .into_iter()
            .find_map(|name| {
                let cname = std::ffi::CString::new(name).ok()?;
                // SAFETY: getpwnam reads a NUL-terminated name and returns a static
                // record or NULL; OnceLock runs this on one thread, and the record is
                // read before anything else can call getpwnam.
                let pw = unsafe { libc::getpwnam(cname.as_ptr()) };
                if pw.is_null() {
                    return None;
                }
                // SAFETY: `pw` is a valid passwd record, see above.
                let (uid, gid) = unsafe { ((*pw).pw_uid, (*pw).pw_gid) };
                (uid != 0).then_some((uid, gid, name))
            })
    })
}

fn is_root() -> bool {
    // SAFETY: geteuid has no arguments and cannot fail.
    unsafe { libc::geteuid() == 0 }
}

/// Every folder from `/` down to `path` can be searched by others (mode o+x), and
/// the path itself read: a dropped user can reach it.
fn reachable_by_others(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    let mut p = Some(path);
    while let Some(dir) = p {
        match std::fs::metadata(dir) {
            Ok(m)
                if m.permissions().mode() & 0o005 == 0o005
                    || (m.is_file() && m.permissions().mode() & 0o004 != 0) => {}
            _ => return false,
        }
        p = dir.parent();
    }
    true
}

fn landlock_ruleset(policy: &Policy, abi: ABI) -> Result<Option<OwnedFd>, String> {
    let fail = |e: landlock::RulesetError| format!("Landlock: {e}");
    let all = AccessFs::from_all(abi);
    let read = all & (AccessFs::ReadFile | AccessFs::ReadDir);
    let exec = read | AccessFs::Execute;
    let file_rights = all
        & (AccessFs::ReadFile
            | AccessFs::WriteFile
            | AccessFs::Execute
            | AccessFs::Truncate
            | AccessFs::IoctlDev);
    let mut ruleset = Ruleset::default()
        .set_compatibility(CompatLevel::HardRequirement)
        .handle_access(all)
        .map_err(fail)?;
    if abi >= ABI::V4 {
        // Handled with no rule: no TCP bind or connect at all.
        ruleset = ruleset
            .handle_access(AccessNet::BindTcp | AccessNet::ConnectTcp)
            .map_err(fail)?;
    }
    if abi >= ABI::V6 {
        ruleset = ruleset
            .scope(Scope::Signal | Scope::AbstractUnixSocket)
            .map_err(fail)?;
    }
    let mut created = ruleset.create().map_err(fail)?;
    let groups: [(&[PathBuf], BitFlags<AccessFs>); 3] = [
        (&policy.read, read),
        (&policy.exec, exec),
        (&policy.write, all),
    ];
    for (paths, access) in groups {
        for path in paths {
            let Ok(fd) = PathFd::new(path) else {
                continue; // a folder this machine does not have
            };
            // A file takes only file rights.
            let access = if path.is_dir() {
                access
            } else {
                access & file_rights
            };
            created = created
                .add_rule(PathBeneath::new(fd, access))
                .map_err(fail)?;
        }
    }
    Ok(created.into())
}

/// The system calls refused with EPERM at each step.
fn denied_syscalls(step: Step) -> Vec<(i64, Vec<SeccompRule>)> {
    let always = [
        libc::SYS_ptrace,
        libc::SYS_process_vm_readv,
        libc::SYS_process_vm_writev,
        libc::SYS_mount,
        libc::SYS_umount2,
        libc::SYS_pivot_root,
        libc::SYS_chroot,
        libc::SYS_unshare,
        libc::SYS_setns,
        libc::SYS_kexec_load,
        libc::SYS_init_module,
        libc::SYS_finit_module,
        libc::SYS_delete_module,
        libc::SYS_bpf,
        libc::SYS_perf_event_open,
        libc::SYS_keyctl,
        libc::SYS_add_key,
        libc::SYS_request_key,
        libc::SYS_userfaultfd,
        libc::SYS_io_uring_setup,
        libc::SYS_reboot,
        libc::SYS_swapon,
        libc::SYS_swapoff,
        libc::SYS_open_by_handle_at,
        libc::SYS_name_to_handle_at,
    ];
    let mut rules: Vec<(i64, Vec<SeccompRule>)> = always.iter().map(|&n| (n, Vec::new())).collect();
    let arg0_is = |v: u64| {
        SeccompRule::new(vec![SeccompCondition::new(
            0,
            SeccompCmpArgLen::Dword,
            SeccompCmpOp::Eq,
            v,
        )
        .expect("a valid condition")])
        .expect("a valid rule")
    };
    match step {
        Step::Compile => {
            // Cargo talks to rustc over pipes; no network family is needed.
            let families = [
                libc::AF_INET,
                libc::AF_INET6,
                libc::AF_NETLINK,
                libc::AF_PACKET,
            ];
            rules.push((
                libc::SYS_socket,
                families.iter().map(|&f| arg0_is(f as u64)).collect(),
            ));
        }
        Step::Run => {
            for n in [
                libc::SYS_socket,
                libc::SYS_socketpair,
                libc::SYS_connect,
                libc::SYS_bind,
                libc::SYS_listen,
                libc::SYS_accept,
                libc::SYS_accept4,
                libc::SYS_fork,
                libc::SYS_vfork,
                libc::SYS_execveat,
            ] {
                rules.push((n, Vec::new()));
            }
            // Threads may be created; processes may not.
            let no_thread = SeccompRule::new(vec![SeccompCondition::new(
                0,
                SeccompCmpArgLen::Qword,
                SeccompCmpOp::MaskedEq(libc::CLONE_THREAD as u64),
                0,
            )
            .expect("a valid condition")])
            .expect("a valid rule");
            rules.push((libc::SYS_clone, vec![no_thread]));
        }
    }
    // The same calls through the x32 numbering.
    let x32: Vec<_> = rules
        .iter()
        .map(|(n, r)| (n | 0x4000_0000, r.clone()))
        .collect();
    rules.extend(x32);
    rules
}

fn seccomp_programs(step: Step) -> Result<Vec<BpfProgram>, String> {
    let arch = std::env::consts::ARCH
        .try_into()
        .map_err(|_| format!("seccomp: no filter for {}", std::env::consts::ARCH))?;
    let compile = |rules: Vec<(i64, Vec<SeccompRule>)>, action: SeccompAction| {
        let map: BTreeMap<i64, Vec<SeccompRule>> = rules.into_iter().collect();
        SeccompFilter::new(map, SeccompAction::Allow, action, arch)
            .and_then(BpfProgram::try_from)
            .map_err(|e| format!("seccomp: {e}"))
    };
    let mut programs = vec![compile(
        denied_syscalls(step),
        SeccompAction::Errno(libc::EPERM as u32),
    )?];
    if step == Step::Run {
        // clone3's flags sit in memory a filter cannot read: ENOSYS makes the C
        // library fall back to clone, which the first filter judges.
        programs.push(compile(
            vec![(libc::SYS_clone3, Vec::new())],
            SeccompAction::Errno(libc::ENOSYS as u32),
        )?);
    }
    Ok(programs)
}

/// Confines `cmd` (which must lead its own process group) by `policy`: the rules
/// are built here, applied in the child just before `exec`. `answer_fd`, when given,
/// becomes the child's fd 3.
pub fn confine(
    cmd: &mut Command,
    policy: &Policy,
    answer_fd: Option<RawFd>,
) -> Result<Confinement, String> {
    let mut missing = Vec::new();
    let allowed = policy.read.iter().chain(&policy.exec).chain(&policy.write);
    for a in allowed {
        let a = std::fs::canonicalize(a).unwrap_or_else(|_| a.clone());
        for s in &policy.secret {
            let s = std::fs::canonicalize(s).unwrap_or_else(|_| s.clone());
            if s.starts_with(&a) {
                return Err(format!(
                    "the sandbox would expose {} through {}",
                    s.display(),
                    a.display()
                ));
            }
        }
    }
    let abi = landlock_abi();
    missing.extend(landlock_gaps(abi));
    let ruleset = if abi == 0 {
        None
    } else {
        landlock_ruleset(policy, abi_enum(abi))?
    };
    let programs = match seccomp_programs(policy.step) {
        Ok(p) => p,
        Err(e) => {
            missing.push(e);
            Vec::new()
        }
    };
    let mut drop_to = None;
    if is_root() {
        let tools_reachable = policy
            .exec
            .iter()
            .all(|p| !p.exists() || reachable_by_others(p));
        match sandbox_user() {
            Some((uid, gid, _)) if policy.step == Step::Run || tools_reachable => {
                // The folders it writes become its own (not the devices it may write).
                for w in policy.write.iter().filter(|w| w.is_dir()) {
                    chown_tree(w, uid, gid);
                }
                drop_to = Some((uid, gid));
            }
            Some((_, _, name)) => missing.push(format!(
                "an unprivileged user for the compile step (the toolchain is not readable by {name}; Landlock and seccomp still apply)"
            )),
            None => missing.push(
                "an unprivileged user (none of vmlab-sandbox, student, nobody exists)".into(),
            ),
        }
    }
    let l = policy.limits;
    let limits = [
        (libc::RLIMIT_CPU, l.cpu_seconds),
        (libc::RLIMIT_AS, l.memory_bytes),
        (libc::RLIMIT_FSIZE, l.file_bytes),
        (libc::RLIMIT_NPROC, l.processes),
        (libc::RLIMIT_CORE, 0),
    ];
    let ruleset_fd = ruleset.as_ref().map(AsRawFd::as_raw_fd);
    // SAFETY: the closure runs in the forked child before exec and only makes
    // async-signal-safe system calls on values prepared above (no allocation, no
    // locks); `ruleset` and `programs` outlive the spawn since `cmd` holds them.
    unsafe {
        cmd.pre_exec(move || {
            let check = |rc: libc::c_long| {
                if rc < 0 {
                    Err(std::io::Error::last_os_error())
                } else {
                    Ok(())
                }
            };
            for (res, value) in limits {
                let lim = libc::rlimit {
                    rlim_cur: value,
                    rlim_max: value,
                };
                check(libc::setrlimit(res, &lim) as libc::c_long)?;
            }
            if let Some((uid, gid)) = drop_to {
                check(libc::setgroups(0, std::ptr::null()) as libc::c_long)?;
                check(libc::setgid(gid) as libc::c_long)?;
                check(libc::setuid(uid) as libc::c_long)?;
            }
            check(libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) as libc::c_long)?;
            if let Some(fd) = ruleset_fd {
                check(libc::syscall(libc::SYS_landlock_restrict_self, fd, 0))?;
            }
            if let Some(fd) = answer_fd {
                if fd == 3 {
                    check(libc::fcntl(3, libc::F_SETFD, 0) as libc::c_long)?;
                } else {
                    check(libc::dup2(fd, 3) as libc::c_long)?;
                }
            }
            for p in &programs {
                seccompiler::apply_filter(p).map_err(|_| std::io::Error::last_os_error())?;
            }
            // Keep the ruleset alive until here (the closure owns it).
            let _ = &ruleset;
            Ok(())
        });
    }
    Ok(Confinement { missing })
}

fn chown_tree(path: &Path, uid: u32, gid: u32) {
    let _ = std::os::unix::fs::lchown(path, Some(uid), Some(gid));
    if let Ok(entries) = std::fs::read_dir(path) {
        for e in entries.flatten() {
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                chown_tree(&e.path(), uid, gid);
            } else {
                let _ = std::os::unix::fs::lchown(e.path(), Some(uid), Some(gid));
            }
        }
    }
}

/// Kills every process of the process group `pgid` (a sandboxed command leads its own).
pub fn kill_group(pgid: u32) {
    if let Ok(pgid) = libc::pid_t::try_from(pgid) {
        if pgid > 1 {
            // SAFETY: kill has no memory arguments; a negative pid names a process group.
            unsafe {
                libc::kill(-pgid, libc::SIGKILL);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_an_older_kernel_lacks_is_named() {
        assert!(landlock_gaps(0)[0].contains("Landlock (file-system confinement)"));
        let v3 = landlock_gaps(3);
        assert!(v3.iter().any(|g| g.contains("TCP")) && v3.iter().any(|g| g.contains("signal")));
        let v5 = landlock_gaps(5);
        assert_eq!(v5.len(), 1, "{v5:?}");
        assert!(landlock_gaps(6).is_empty());
    }

    #[test]
    fn a_policy_that_would_expose_the_lab_is_refused() {
        let policy = Policy {
            step: Step::Run,
            read: vec![PathBuf::from("/")],
            exec: Vec::new(),
            write: Vec::new(),
            secret: vec![std::env::temp_dir()],
            limits: Limits {
                cpu_seconds: 1,
                memory_bytes: 1 << 30,
                file_bytes: 1 << 20,
                processes: 1,
            },
        };
        let e = confine(&mut Command::new("true"), &policy, None).expect_err("refused");
        assert!(e.contains("would expose"), "{e}");
    }
}
