//! A bounds-checked big-endian reader over a class file that knows its offset, so
//! every refusal names the byte where it happened.

use crate::JvmError;

/// A cursor over the bytes of one class file.
#[derive(Debug)]
pub struct Reader<'a> {
    file: &'a str,
    data: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    /// A reader at offset 0; `file` names the class file in errors.
    pub fn new(file: &'a str, data: &'a [u8]) -> Self {
        Reader { file, data, pos: 0 }
    }

    /// The offset of the next byte.
    pub fn pos(&self) -> usize {
        self.pos
    }

    /// Whether every byte was read.
    pub fn at_end(&self) -> bool {
        self.pos == self.data.len()
    }

    /// An error at `offset`.
    pub fn error(&self, offset: usize, message: impl core::fmt::Display) -> JvmError {
        JvmError::at_offset(self.file, offset, message)
    }

    /// The next `n` bytes; `what` names them in the truncation error.
    pub fn bytes(&mut self, n: usize, what: &str) -> Result<&'a [u8], JvmError> {
        let end = self.pos.checked_add(n).filter(|&e| e <= self.data.len());
        match end {
            Some(end) => {
                let s = &self.data[self.pos..end];
                self.pos = end;
                Ok(s)
            }
            None => Err(self.error(
                self.pos,
                alloc::format!(
                    "truncated: {what} needs {n} bytes, {} left",
                    self.data.len() - self.pos
                ),
            )),
        }
    }

    /// One byte.
    pub fn u1(&mut self, what: &str) -> Result<u8, JvmError> {
        Ok(self.bytes(1, what)?[0])
    }

    /// A big-endian u16.
    pub fn u2(&mut self, what: &str) -> Result<u16, JvmError> {
        let b = self.bytes(2, what)?;
        Ok(u16::from_be_bytes([b[0], b[1]]))
    }

    /// A big-endian u32.
    pub fn u4(&mut self, what: &str) -> Result<u32, JvmError> {
        let b = self.bytes(4, what)?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }
}
