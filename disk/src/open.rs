//! Opening an image with its backing chain: the host names files through an
//! [`Opener`]; a chain that comes back to a file it already holds is refused.

use alloc::boxed::Box;
use alloc::format;
use alloc::string::String;
#[cfg(feature = "std")]
use alloc::string::ToString;
use alloc::vec::Vec;

use crate::error::{DiskError, Result};
use crate::qcow2::{Header, Qcow2};
use crate::store::ByteStore;
use crate::{Format, Image, RawImage};

/// The deepest backing chain vmlab follows.
pub const MAX_CHAIN: usize = 16;

/// How the host finds image files.
pub trait Opener {
    /// Opens `name` (as written in the image at `from`, or as given by the user when
    /// `from` is `None`); returns a name identifying the file (canonical, for cycle
    /// detection) and its bytes, writable when asked.
    fn open(
        &mut self,
        name: &str,
        from: Option<&str>,
        writable: bool,
    ) -> Result<(String, Box<dyn ByteStore>)>;
}

/// Opens `name` and its backing chain. The top image is writable when asked; backing
/// files are opened read-only. `format` forces the top image's format.
pub fn open_chain(
    opener: &mut dyn Opener,
    name: &str,
    format: Option<Format>,
    writable: bool,
) -> Result<Image> {
    let mut seen = Vec::new();
    open_one(opener, name, None, format, writable, &mut seen, true)
}

/// Opens `name` read-only with its backing chain, without refusing the top image for
/// refcount errors (its backing files are still checked): what a check needs.
pub fn open_chain_for_check(
    opener: &mut dyn Opener,
    name: &str,
    format: Option<Format>,
) -> Result<Image> {
    let mut seen = Vec::new();
    open_one(opener, name, None, format, false, &mut seen, false)
}

fn open_one(
    opener: &mut dyn Opener,
    name: &str,
    from: Option<&str>,
    format: Option<Format>,
    writable: bool,
    seen: &mut Vec<String>,
    verify: bool,
) -> Result<Image> {
    let (id, mut store) = opener.open(name, from, writable)?;
    if seen.contains(&id) {
        let mut chain = seen.join(" → ");
        chain.push_str(" → ");
        chain.push_str(&id);
        return Err(DiskError::at(8, format!("cyclic backing chain: {chain}"))
            .in_file(from.unwrap_or(name)));
    }
    if seen.len() >= MAX_CHAIN {
        return Err(
            DiskError::new(format!("backing chain deeper than {MAX_CHAIN} files")).in_file(&id),
        );
    }
    seen.push(id.clone());
    let format = match format {
        Some(f) => f,
        None => Format::probe(&mut *store).map_err(|e| e.in_file(&id))?,
    };
    match format {
        Format::Raw => Ok(Image::Raw(RawImage::new(store, writable))),
        Format::Qcow2 => {
            let h = Header::parse(&mut *store).map_err(|e| e.in_file(&id))?;
            let backing = match &h.backing_file {
                None => None,
                Some(b) => {
                    let bf = match h.backing_format.as_deref() {
                        Some(f) => Some(Format::parse(f).map_err(|e| e.in_file(&id))?),
                        None => None,
                    };
                    Some(open_one(opener, b, Some(&id), bf, false, seen, true)?)
                }
            };
            let q = if verify {
                Qcow2::open(store, backing, writable)
            } else {
                Qcow2::open_unchecked(store, backing, writable)
            };
            let q = q.map_err(|e| e.in_file(&id))?;
            Ok(Image::Qcow2(Box::new(q)))
        }
    }
}

/// Opens files on the host; a backing name is relative to its image's directory.
#[cfg(feature = "std")]
#[derive(Clone, Copy, Debug, Default)]
pub struct FsOpener;

#[cfg(feature = "std")]
impl Opener for FsOpener {
    fn open(
        &mut self,
        name: &str,
        from: Option<&str>,
        writable: bool,
    ) -> Result<(String, Box<dyn ByteStore>)> {
        use std::path::Path;
        let path = match from.and_then(|f| Path::new(f).parent()) {
            Some(dir) if !Path::new(name).is_absolute() => dir.join(name),
            _ => Path::new(name).to_path_buf(),
        };
        let shown = path.display().to_string();
        let canon = std::fs::canonicalize(&path)
            .map_err(|e| DiskError::new(format!("cannot open: {e}")).in_file(&shown))?;
        let store =
            crate::store::FileStore::open(&canon, writable).map_err(|e| e.in_file(&shown))?;
        Ok((canon.display().to_string(), Box::new(store)))
    }
}

/// Opens a host file and its backing chain.
#[cfg(feature = "std")]
pub fn open_path(path: &str, format: Option<Format>, writable: bool) -> Result<Image> {
    open_chain(&mut FsOpener, path, format, writable)
}

/// Opens a host file and its backing chain for a check (see [`open_chain_for_check`]).
#[cfg(feature = "std")]
pub fn open_path_for_check(path: &str, format: Option<Format>) -> Result<Image> {
    open_chain_for_check(&mut FsOpener, path, format)
}
