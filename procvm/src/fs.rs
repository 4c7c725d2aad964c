//! The in-memory file system the process sees: preloaded files and directories,
//! a descriptor table with the console on 0, 1 and 2, and path resolution under the
//! process's root directory (chroot). A strict root moves the current directory
//! inside it and `..` stops at it; a naive one does what chroot(2) alone does, and
//! lets a process whose current directory is outside walk out. Each process has its
//! own view (descriptors, current and root directory); files, pipes and the mount
//! table are shared. A read-only mount refuses every change under it with EROFS.

use alloc::collections::BTreeMap;
use alloc::string::{String, ToString};
use alloc::vec::Vec;

/// Linux errors the file system returns.
pub mod errno {
    /// No such file or directory.
    pub const ENOENT: i32 = 2;
    /// Bad file descriptor.
    pub const EBADF: i32 = 9;
    /// Is a directory.
    pub const EISDIR: i32 = 21;
    /// Not a directory.
    pub const ENOTDIR: i32 = 20;
    /// Invalid argument.
    pub const EINVAL: i32 = 22;
    /// Too many open files.
    pub const EMFILE: i32 = 24;
    /// Not a typewriter.
    pub const ENOTTY: i32 = 25;
    /// Illegal seek.
    pub const ESPIPE: i32 = 29;
    /// Read-only file system.
    pub const EROFS: i32 = 30;
}

/// An open file.
#[derive(Clone, Debug)]
pub enum Open {
    /// Standard input (the bytes given to the process, read once).
    Stdin,
    /// Standard output.
    Stdout,
    /// Standard error.
    Stderr,
    /// A regular file at `path` (absolute inside the root), at offset `pos`.
    File {
        /// The file's path.
        path: String,
        /// The file offset.
        pos: u64,
        /// Opened with O_APPEND.
        append: bool,
        /// Opened for writing.
        write: bool,
        /// Opened for reading.
        read: bool,
    },
    /// One end of pipe `id`.
    Pipe {
        /// The pipe.
        id: u32,
        /// The write end (else the read end).
        write: bool,
    },
    /// A directory being listed; `pos` entries were returned.
    Dir {
        /// The directory's path.
        path: String,
        /// Entries returned so far.
        pos: usize,
    },
}

/// What one process sees of the file system: its descriptors and directories.
#[derive(Clone, Debug)]
pub struct View {
    /// Descriptors.
    pub fds: Vec<Option<Open>>,
    /// The current directory (a path in the whole tree).
    pub cwd: String,
    /// The process's root directory (a path in the whole tree).
    pub root: String,
}

/// A mount in the mount table.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Mount {
    /// Where it is mounted (a path in the whole tree).
    pub target: String,
    /// What was mounted there (for the table).
    pub source: String,
    /// Changes under it are refused (EROFS).
    pub read_only: bool,
}

/// Files and directories, pipes, the mount table, and the running process's view.
#[derive(Clone, Debug)]
pub struct Fs {
    /// Regular files by absolute path.
    pub files: BTreeMap<String, Vec<u8>>,
    /// Directories by absolute path ("/" always).
    pub dirs: BTreeMap<String, ()>,
    /// Bytes of standard input not yet read.
    pub stdin: Vec<u8>,
    /// chroot(2) as Linux has it: the current directory is left where it was.
    pub naive_chroot: bool,
    /// The running process's view.
    pub view: View,
    /// Bytes in each pipe not yet read.
    pub pipes: BTreeMap<u32, alloc::collections::VecDeque<u8>>,
    next_pipe: u32,
    /// The mount table (bind mounts over the tree).
    pub mounts: Vec<Mount>,
}

fn parent(path: &str) -> &str {
    match path.rfind('/') {
        Some(0) | None => "/",
        Some(i) => &path[..i],
    }
}

impl Fs {
    /// A file system holding `files` (absolute paths; their directories are created).
    pub fn new(files: &[(String, Vec<u8>)], stdin: Vec<u8>, naive_chroot: bool) -> Fs {
        let mut fs = Fs {
            files: BTreeMap::new(),
            dirs: BTreeMap::new(),
            stdin,
            naive_chroot,
            view: View {
                fds: alloc::vec![Some(Open::Stdin), Some(Open::Stdout), Some(Open::Stderr)],
                cwd: "/".to_string(),
                root: "/".to_string(),
            },
            pipes: BTreeMap::new(),
            next_pipe: 0,
            mounts: Vec::new(),
        };
        fs.dirs.insert("/".into(), ());
        for (p, data) in files {
            let p = fs.path(p);
            fs.make_parents(&p);
            fs.files.insert(p, data.clone());
        }
        fs
    }

    fn make_parents(&mut self, path: &str) {
        let mut d = parent(path);
        while d != "/" {
            self.dirs.insert(d.into(), ());
            d = parent(d);
        }
    }

    /// Where `path` leads in the whole tree. Absolute paths start at the root; `..`
    /// stops at the root, except on a walk that starts outside it (only possible
    /// after a naive chroot).
    pub fn path(&self, path: &str) -> String {
        let inside = |p: &str| {
            p == self.view.root
                || self.view.root == "/"
                || p.starts_with(&alloc::format!("{}/", self.view.root))
        };
        let start = if path.starts_with('/') {
            self.view.root.clone()
        } else {
            self.view.cwd.clone()
        };
        let clamp = inside(&start);
        let mut cur: Vec<String> = start
            .split('/')
            .filter(|c| !c.is_empty())
            .map(String::from)
            .collect();
        let floor = if clamp {
            self.view.root.split('/').filter(|c| !c.is_empty()).count()
        } else {
            0
        };
        for c in path.split('/') {
            match c {
                "" | "." => {}
                ".." => {
                    if cur.len() > floor {
                        cur.pop();
                    }
                }
                c => cur.push(c.into()),
            }
        }
        alloc::format!("/{}", cur.join("/"))
    }

    /// The current directory as the process names it (getcwd).
    pub fn getcwd(&self) -> String {
        if self.view.root == "/" {
            return self.view.cwd.clone();
        }
        match self.view.cwd.strip_prefix(&self.view.root) {
            Some("") => "/".into(),
            Some(rest) if rest.starts_with('/') => rest.into(),
            _ => alloc::format!("(unreachable){}", self.view.cwd),
        }
    }

    /// Where `path` leads, if it is a directory.
    fn dir_at(&self, path: &str) -> Result<String, i32> {
        let p = self.path(path);
        if self.dirs.contains_key(&p) {
            Ok(p)
        } else if self.files.contains_key(&p) {
            Err(errno::ENOTDIR)
        } else {
            Err(errno::ENOENT)
        }
    }

    /// Binds `files` (paths relative to the source) at `target`, read-only if asked.
    pub fn bind(&mut self, source: &str, target: &str, files: &[(String, Vec<u8>)], ro: bool) {
        let t = self.path(target);
        self.make_parents(&alloc::format!("{t}/x"));
        self.dirs.insert(t.clone(), ());
        for (p, data) in files {
            let at = self.path(&alloc::format!("{t}/{}", p.trim_start_matches('/')));
            self.make_parents(&at);
            self.files.insert(at, data.clone());
        }
        self.mounts.push(Mount {
            target: t,
            source: source.into(),
            read_only: ro,
        });
    }

    /// EROFS when `p` (a path in the whole tree) lies under a read-only mount.
    fn writable(&self, p: &str) -> Result<(), i32> {
        let under = |m: &Mount| p == m.target || p.starts_with(&alloc::format!("{}/", m.target));
        if self.mounts.iter().any(|m| m.read_only && under(m)) {
            Err(errno::EROFS)
        } else {
            Ok(())
        }
    }

    /// pipe(2): the read and write descriptors of a new pipe.
    pub fn pipe(&mut self) -> Result<(i32, i32), i32> {
        let id = self.next_pipe;
        let r = self.install(Open::Pipe { id, write: false })?;
        match self.install(Open::Pipe { id, write: true }) {
            Ok(w) => {
                self.next_pipe += 1;
                self.pipes.insert(id, Default::default());
                Ok((r, w))
            }
            Err(e) => {
                let _ = self.close(r as u32);
                Err(e)
            }
        }
    }

    /// dup2(2) (and dup(2) with `new` None: the lowest free descriptor).
    pub fn dup(&mut self, old: u32, new: Option<u32>) -> Result<i32, i32> {
        let o = self.get(old)?.clone();
        match new {
            None => self.install(o),
            Some(n) if n >= 256 => Err(errno::EBADF),
            Some(n) => {
                let n = n as usize;
                if self.view.fds.len() <= n {
                    self.view.fds.resize(n + 1, None);
                }
                self.view.fds[n] = Some(o);
                Ok(n as i32)
            }
        }
    }

    /// chdir(2).
    pub fn chdir(&mut self, path: &str) -> Result<(), i32> {
        self.view.cwd = self.dir_at(path)?;
        Ok(())
    }

    /// chroot(2): strict moves the current directory into the new root.
    pub fn chroot(&mut self, path: &str) -> Result<(), i32> {
        let p = self.dir_at(path)?;
        if !self.naive_chroot {
            self.view.cwd = p.clone();
        }
        self.view.root = p;
        Ok(())
    }

    /// mkdir(2).
    pub fn mkdir(&mut self, path: &str) -> Result<(), i32> {
        let p = self.path(path);
        self.writable(&p)?;
        if self.dirs.contains_key(&p) || self.files.contains_key(&p) {
            return Err(17); // EEXIST
        }
        if !self.dirs.contains_key(parent(&p)) {
            return Err(errno::ENOENT);
        }
        self.dirs.insert(p, ());
        Ok(())
    }

    /// unlink(2).
    pub fn unlink(&mut self, path: &str) -> Result<(), i32> {
        let p = self.path(path);
        self.writable(&p)?;
        if self.dirs.contains_key(&p) {
            return Err(errno::EISDIR);
        }
        self.files.remove(&p).map(|_| ()).ok_or(errno::ENOENT)
    }

    fn install(&mut self, o: Open) -> Result<i32, i32> {
        if let Some(i) = self.view.fds.iter().position(Option::is_none) {
            self.view.fds[i] = Some(o);
            return Ok(i as i32);
        }
        if self.view.fds.len() >= 256 {
            return Err(errno::EMFILE);
        }
        self.view.fds.push(Some(o));
        Ok(self.view.fds.len() as i32 - 1)
    }

    /// open(2) with Linux's flag bits.
    pub fn open(&mut self, path: &str, flags: u32) -> Result<i32, i32> {
        const O_WRONLY: u32 = 1;
        const O_RDWR: u32 = 2;
        const O_CREAT: u32 = 0o100;
        const O_TRUNC: u32 = 0o1000;
        const O_APPEND: u32 = 0o2000;
        const O_DIRECTORY: u32 = 0o200000;
        let p = self.path(path);
        if flags & (O_WRONLY | O_RDWR | O_CREAT | O_TRUNC) != 0 {
            self.writable(&p)?;
        }
        if self.dirs.contains_key(&p) {
            if flags & (O_WRONLY | O_RDWR) != 0 {
                return Err(errno::EISDIR);
            }
            return self.install(Open::Dir { path: p, pos: 0 });
        }
        if flags & O_DIRECTORY != 0 {
            return Err(if self.files.contains_key(&p) {
                errno::ENOTDIR
            } else {
                errno::ENOENT
            });
        }
        if !self.files.contains_key(&p) {
            if flags & O_CREAT == 0 {
                return Err(errno::ENOENT);
            }
            if !self.dirs.contains_key(parent(&p)) {
                return Err(errno::ENOENT);
            }
            self.files.insert(p.clone(), Vec::new());
        }
        if flags & O_TRUNC != 0 && flags & (O_WRONLY | O_RDWR) != 0 {
            if let Some(f) = self.files.get_mut(&p) {
                f.clear();
            }
        }
        let acc = flags & 3;
        self.install(Open::File {
            path: p,
            pos: 0,
            append: flags & O_APPEND != 0,
            write: acc == O_WRONLY || acc == O_RDWR,
            read: acc != O_WRONLY,
        })
    }

    /// The open file behind `fd`.
    pub fn get(&mut self, fd: u32) -> Result<&mut Open, i32> {
        self.view
            .fds
            .get_mut(fd as usize)
            .and_then(Option::as_mut)
            .ok_or(errno::EBADF)
    }

    /// close(2).
    pub fn close(&mut self, fd: u32) -> Result<(), i32> {
        match self.view.fds.get_mut(fd as usize) {
            Some(slot @ Some(_)) => {
                *slot = None;
                Ok(())
            }
            _ => Err(errno::EBADF),
        }
    }

    /// Reads up to `len` bytes from a file or standard input.
    pub fn read(&mut self, fd: u32, len: usize) -> Result<Vec<u8>, i32> {
        match self.get(fd)?.clone() {
            Open::Stdin => {
                let n = len.min(self.stdin.len());
                Ok(self.stdin.drain(..n).collect())
            }
            Open::Stdout | Open::Stderr => Err(errno::EBADF),
            Open::Dir { .. } => Err(errno::EISDIR),
            Open::Pipe { write: true, .. } => Err(errno::EBADF),
            Open::Pipe { id, .. } => {
                let buf = self.pipes.get_mut(&id).ok_or(errno::EBADF)?;
                let n = len.min(buf.len());
                Ok(buf.drain(..n).collect())
            }
            Open::File {
                path, pos, read, ..
            } => {
                if !read {
                    return Err(errno::EBADF);
                }
                let data = self.files.get(&path).ok_or(errno::ENOENT)?;
                let start = (pos as usize).min(data.len());
                let end = start.saturating_add(len).min(data.len());
                let out = data[start..end].to_vec();
                if let Ok(Open::File { pos, .. }) = self.get(fd) {
                    *pos += out.len() as u64;
                }
                Ok(out)
            }
        }
    }

    /// Writes `bytes` to a regular file; answers None for the console.
    pub fn write_file(&mut self, fd: u32, bytes: &[u8]) -> Result<Option<usize>, i32> {
        match self.get(fd)?.clone() {
            Open::Stdout | Open::Stderr => Ok(None),
            Open::Stdin | Open::Dir { .. } | Open::Pipe { write: false, .. } => Err(errno::EBADF),
            Open::Pipe { id, .. } => {
                let buf = self.pipes.get_mut(&id).ok_or(errno::EBADF)?;
                buf.extend(bytes.iter().copied());
                Ok(Some(bytes.len()))
            }
            Open::File {
                path,
                pos,
                append,
                write,
                ..
            } => {
                if !write {
                    return Err(errno::EBADF);
                }
                let data = self.files.get_mut(&path).ok_or(errno::ENOENT)?;
                let at = if append { data.len() } else { pos as usize };
                if at > (64 << 20) {
                    return Err(27); // EFBIG
                }
                if data.len() < at + bytes.len() {
                    data.resize(at + bytes.len(), 0);
                }
                data[at..at + bytes.len()].copy_from_slice(bytes);
                if let Ok(Open::File { pos, .. }) = self.get(fd) {
                    *pos = (at + bytes.len()) as u64;
                }
                Ok(Some(bytes.len()))
            }
        }
    }

    /// lseek(2).
    pub fn seek(&mut self, fd: u32, off: i64, whence: u32) -> Result<u64, i32> {
        let size = match self.get(fd)? {
            Open::File { path, .. } => {
                let p = path.clone();
                self.files.get(&p).map_or(0, Vec::len) as i64
            }
            _ => return Err(errno::ESPIPE),
        };
        let Open::File { pos, .. } = self.get(fd)? else {
            return Err(errno::ESPIPE);
        };
        let base = match whence {
            0 => 0,
            1 => *pos as i64,
            2 => size,
            _ => return Err(errno::EINVAL),
        };
        let new = base
            .checked_add(off)
            .filter(|n| *n >= 0)
            .ok_or(errno::EINVAL)?;
        *pos = new as u64;
        Ok(new as u64)
    }

    /// (mode, size) of what `path` leads to for the process (stat64, statx).
    pub fn stat(&self, path: &str) -> Result<(u32, u64), i32> {
        self.stat_path(&self.path(path))
    }

    /// (mode, size) at a path in the whole tree, Linux's st_mode bits.
    fn stat_path(&self, p: &str) -> Result<(u32, u64), i32> {
        if self.dirs.contains_key(p) {
            Ok((0o040755, 4096))
        } else if let Some(f) = self.files.get(p) {
            Ok((0o100644, f.len() as u64))
        } else {
            Err(errno::ENOENT)
        }
    }

    /// (mode, size) of what `fd` refers to: the console is a pipe.
    pub fn stat_fd(&mut self, fd: u32) -> Result<(u32, u64), i32> {
        match self.get(fd)?.clone() {
            Open::Stdin | Open::Stdout | Open::Stderr | Open::Pipe { .. } => Ok((0o010600, 0)),
            Open::File { path, .. } | Open::Dir { path, .. } => self.stat_path(&path),
        }
    }

    /// The entries of directory `dir`: (name, is a directory), "." and ".." first.
    pub fn list(&self, dir: &str) -> Vec<(String, bool)> {
        let mut out = alloc::vec![(".".into(), true), ("..".into(), true)];
        let prefix = if dir == "/" {
            String::from("/")
        } else {
            alloc::format!("{dir}/")
        };
        let child = |p: &str| {
            p.strip_prefix(&prefix)
                .filter(|rest| !rest.is_empty() && !rest.contains('/'))
                .map(String::from)
        };
        out.extend(self.dirs.keys().filter_map(|p| child(p)).map(|n| (n, true)));
        out.extend(
            self.files
                .keys()
                .filter_map(|p| child(p))
                .map(|n| (n, false)),
        );
        out
    }
}
