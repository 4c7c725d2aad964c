//! The one error type of the JVM: a message that names the class, method and pc, or
//! the byte offset in the class file, where it went wrong.

use alloc::string::String;
use core::fmt;

/// A refused class file, a failed check or an interpreter error, with its location
/// already in the message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JvmError(pub String);

impl JvmError {
    /// An error at a byte offset of a class file.
    pub fn at_offset(file: &str, offset: usize, message: impl fmt::Display) -> Self {
        JvmError(alloc::format!("{file}: offset {offset}: {message}"))
    }

    /// An error at a pc of a method.
    pub fn at_pc(file: &str, method: &str, pc: usize, message: impl fmt::Display) -> Self {
        JvmError(alloc::format!(
            "{file}: method {method}, pc {pc}: {message}"
        ))
    }
}

impl fmt::Display for JvmError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}
