//! Field and method descriptors: `I`, `J`, `[I`, `Ljava/lang/String;`,
//! `(IJ)V`, parsed into types and their sizes in stack slots.

use alloc::string::String;
use alloc::vec::Vec;

/// A field type.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FieldType {
    /// One of `B C D F I J S Z`.
    Base(u8),
    /// `L...;`: a class name.
    Object(String),
    /// `[`: an array of the element type.
    Array(alloc::boxed::Box<FieldType>),
}

impl FieldType {
    /// Stack slots: 2 for long and double, 1 otherwise.
    pub fn slots(&self) -> usize {
        match self {
            FieldType::Base(b'J' | b'D') => 2,
            _ => 1,
        }
    }

    /// Whether the value is a reference.
    pub fn is_reference(&self) -> bool {
        !matches!(self, FieldType::Base(_))
    }
}

/// Parses one field type at the front of `s`; returns it and the rest.
fn field(s: &str) -> Result<(FieldType, &str), String> {
    let b = s.as_bytes();
    match b.first() {
        Some(c @ (b'B' | b'C' | b'D' | b'F' | b'I' | b'J' | b'S' | b'Z')) => {
            Ok((FieldType::Base(*c), &s[1..]))
        }
        Some(b'L') => {
            let end = s
                .find(';')
                .ok_or_else(|| alloc::format!("{s:?}: a class type without ';'"))?;
            if end < 2 {
                return Err(alloc::format!("{s:?}: an empty class name"));
            }
            Ok((FieldType::Object(s[1..end].into()), &s[end + 1..]))
        }
        Some(b'[') => {
            let (t, rest) = field(&s[1..])?;
            Ok((FieldType::Array(alloc::boxed::Box::new(t)), rest))
        }
        _ => Err(alloc::format!("{s:?} does not start with a field type")),
    }
}

/// Parses a field descriptor.
pub fn parse_field(s: &str) -> Result<FieldType, String> {
    if s.len() > 1024 || s.bytes().take_while(|&c| c == b'[').count() > 255 {
        return Err(alloc::format!("field descriptor {s:?} is too long"));
    }
    match field(s)? {
        (t, "") => Ok(t),
        (_, rest) => Err(alloc::format!(
            "field descriptor {s:?} has {rest:?} after its type"
        )),
    }
}

/// Parses a method descriptor into argument types and the return type (`None` for V).
pub fn parse_method(s: &str) -> Result<(Vec<FieldType>, Option<FieldType>), String> {
    let inner = s
        .strip_prefix('(')
        .ok_or_else(|| alloc::format!("method descriptor {s:?} does not start with '('"))?;
    let close = inner
        .find(')')
        .ok_or_else(|| alloc::format!("method descriptor {s:?} has no ')'"))?;
    let (mut args_s, ret) = (&inner[..close], &inner[close + 1..]);
    let mut args = Vec::new();
    while !args_s.is_empty() {
        if args.len() > 255 || args_s.bytes().take_while(|&c| c == b'[').count() > 255 {
            return Err(alloc::format!(
                "method descriptor {s:?} has too many arguments"
            ));
        }
        let (t, rest) = field(args_s)?;
        args.push(t);
        args_s = rest;
    }
    let ret = if ret == "V" {
        None
    } else {
        Some(parse_field(ret)?)
    };
    Ok((args, ret))
}

/// Argument slots and return slots of a method descriptor.
pub fn method_slots(s: &str) -> Result<(usize, usize), String> {
    let (args, ret) = parse_method(s)?;
    Ok((
        args.iter().map(FieldType::slots).sum(),
        ret.map_or(0, |t| t.slots()),
    ))
}
