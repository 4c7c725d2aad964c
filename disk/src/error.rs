//! The error every image operation returns: what went wrong, in which file, at which byte.

use alloc::string::String;
use core::fmt;

/// An image refused or an access that failed, naming the file and the byte offset.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct DiskError {
    /// The image file (as the opener named it), empty when unknown.
    pub file: String,
    /// The byte offset in that file the message is about, when there is one.
    pub offset: Option<u64>,
    /// What is wrong.
    pub message: String,
}

impl DiskError {
    /// An error about the byte at `offset`.
    pub fn at(offset: u64, message: impl Into<String>) -> DiskError {
        DiskError {
            file: String::new(),
            offset: Some(offset),
            message: message.into(),
        }
    }

    /// An error about no particular byte.
    pub fn new(message: impl Into<String>) -> DiskError {
        DiskError {
            file: String::new(),
            offset: None,
            message: message.into(),
        }
    }

    /// The same error, naming `file` unless a file is named already.
    pub fn in_file(mut self, file: &str) -> DiskError {
        if self.file.is_empty() {
            self.file = file.into();
        }
        self
    }
}

impl fmt::Display for DiskError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if !self.file.is_empty() {
            write!(f, "{}: ", self.file)?;
        }
        if let Some(off) = self.offset {
            write!(f, "at byte {off} ({off:#x}): ")?;
        }
        f.write_str(&self.message)
    }
}

/// Results of image operations.
pub type Result<T> = core::result::Result<T, DiskError>;
